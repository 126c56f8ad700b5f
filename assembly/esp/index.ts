// The ESP engine in WASM: RFC 4303 tunnel mode with AES-GCM (RFC 4106) and ChaCha20-Poly1305
// (RFC 7634), anti-replay with ESN, an SA table and batch encapsulate/decapsulate over linear
// memory that JS owns. Never allocates (runtime "stub", no `new`), never imports, never calls JS.
// src/dataplane/esp-wasm.ts is its only caller; the wire format is the one in src/dataplane/esp.ts.
//
// Memory layout (byte addresses in the exported `memory`; all integers little-endian):
//
//   [0, arenaOffset())            static data: constants and crypto scratch (keystream, counter
//                                 blocks, AAD, nonce, the test key context); JS must not write here
//   [arenaOffset(), memory end)   the arena, owned by JS; the engine only follows addresses
//
// JS lays out in the arena:
//
//   SA table (saTableInit(base, capacity); saTableBytes(capacity) bytes, see sa.ts):
//     capacity records of saRecordBytes() bytes — handle h at base + h·saRecordBytes() — then the
//     SPI index. Record fields (offsets in sa.ts): state, suite, SPI, ESN, window, tunnel
//     addresses, salt, sequence number, packet/byte/drop counters, key, GHASH powers, bitsliced
//     AES schedule, anti-replay bitmap. JS reads the counters straight from the record.
//   descriptor table (per batch): `count` descriptors of 32 bytes:
//     +0  u32 in        address of the input packet (encapsulate: inner; decapsulate: outer)
//     +4  u32 inLen
//     +8  u32 out       encapsulate: where the outer packet goes (room for inLen + 57 bytes); the
//                       inner packet may already sit at out + 36 (then nothing is copied).
//                       decapsulate: where the inner packet goes (room for inLen), or 0 to decrypt
//                       in place; on return, the address of the inner packet. A packet that fails
//                       the ICV leaves no plaintext there (ChaCha20-Poly1305 zeroes what its
//                       stitched kernel decrypted, in place that is the ciphertext)
//     +12 u32 sa        encapsulate: outbound SA handle (in); decapsulate: the inbound SA found
//                       (out), 0xffffffff if none
//     +16 u32 outLen    (out) bytes written
//     +20 u32 verdict   (out) 0 delivered, else 1 + the index in ESP_DROP_REASONS (malformed 1 …
//                       too-big 9), 255 = the descriptor named no outbound SA (caller bug)
//     +24 u64 seq       (out) the full 64-bit sequence number
//   packet bytes: anywhere in the arena, named by the descriptors.
//
// ensureCapacity() may grow the memory; growing detaches every JS view of `memory.buffer`, so JS
// re-creates its views after calling it. Addresses (and the SA table) stay valid.
//
// Algorithms and why. Measured in this module on the project's 2-core AMD EPYC VM, node 20.20
// (V8 11.3), CPU time of the process, best of 15–25 runs, MB/s of data (/tmp micro-benchmarks
// that call the kernels in a loop; the ESP-level table comes from tests/bench/dataplane-esp.ts):
//
//   kernel                                                   MB/s   constant time
//   ChaCha20, 4 blocks per v128 pass (chacha20.ts)           1560   yes (ARX)
//   Poly1305, 26-bit limbs, i64 multiplies (poly1305.ts)     1780   yes
//   ChaCha20 + Poly1305 run one after the other               830   (computed)
//   ChaCha20 + Poly1305 stitched in one kernel                955   → chosen
//   AES-128, bitsliced, 8 blocks in 8 v128 (aes.ts)           490–520  yes (no tables)
//   AES-128, T-tables, one block at a time                    129   no (key/data-indexed loads)
//   GHASH, integer multiplies with holes, 4-block reduction   367–375  yes (no tables)
//   GHASH, 4-bit Shoup tables                                 222   no (nibble-indexed loads)
//   AES-128-CTR + GHASH stitched                              215   vs 215 one after the other:
//                                                                   no gain, so kept as two passes
//   AEAD, 1400 B: ChaCha20-Poly1305 ~780, AES-128-GCM ~200, AES-256-GCM ~175 (seal and open alike)
//
// Poly1305 uses 26-bit limbs because WASM has no 64×64→128 multiply (i64.mul keeps the low half),
// which the 44-bit-limb layout needs for each of its 9 limb products; emulating them costs about
// four multiplies each, more than the 25 of the 26-bit layout. V8 (node 20) rebuilds the mask of a
// constant byte shuffle from immediates at every use, so rotations are shifts where they can be.
// Stitching pays for ChaCha20-Poly1305 (vector units and the scalar multiplier overlap) but not for
// AES-GCM, where both halves are instruction-bound rather than port-bound.

import { aeadOpen, aeadSeal, keyInstall, KEYCTX_BYTES, SUITE_AES_GCM_128, SUITE_CHACHA20_POLY1305 } from './aead';
import { SA_BYTES, SA_ESN, SA_INBOUND, SA_KEYCTX, SA_OUTBOUND, SA_SALT, SA_SEQ, SA_SEQ_EXHAUSTED, SA_SUITE, SA_TUNNEL_DST, SA_TUNNEL_SRC, SA_WINDOW, saAddress, saClaim, saFree, REPLAY_WINDOW_MAX } from './sa';

import { espEncapsulateBatch, espDecapsulateBatch, espUnattributedDrops } from './esp';
import { saTableBytes, saTableInit, saTableGrow, saLookupInbound } from './sa';

// Batch calls and SA-table management, documented where they are defined (esp.ts, sa.ts).
export { espEncapsulateBatch, espDecapsulateBatch, espUnattributedDrops, saTableBytes, saTableInit, saTableGrow, saLookupInbound };

/** Alignment of the arena start; a cache line. */
const ARENA_ALIGN: u32 = 64;

/** Start address of the arena that JS owns: the first 64-byte boundary after static data. */
export function arenaOffset(): u32 {
  return (u32(__heap_base) + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
}

/** Bytes available in the arena with the memory's current size. */
export function arenaCapacity(): u32 {
  const end = u64(memory.size()) << 16;
  const start = u64(arenaOffset());
  return end > start ? u32(min<u64>(end - start, 0xffffffff)) : 0;
}

/**
 * Grows the memory so that the arena holds at least `bytes` bytes. Returns the arena capacity
 * afterwards, which is less than `bytes` if the host refused to grow. Growth detaches JS views.
 */
export function ensureCapacity(bytes: u32): u32 {
  const needEnd = u64(arenaOffset()) + u64(bytes);
  const haveEnd = u64(memory.size()) << 16;
  if (needEnd > haveEnd) {
    const pages = i32((needEnd - haveEnd + 0xffff) >> 16);
    memory.grow(pages); // -1 on failure: the capacity we return then tells the caller
  }
  return arenaCapacity();
}

/** Bytes of one SA record in the SA table. */
export function saRecordBytes(): u32 {
  return SA_BYTES;
}

/** Address of SA handle `h`'s record (to read its counters), or 0 if `h` is outside the table. */
export function saRecordAddress(h: u32): u32 {
  return u32(saAddress(h));
}

/** saInstall results. */
const INSTALL_OK: i32 = 0;
const INSTALL_SLOT_TAKEN: i32 = 1;
const INSTALL_SPI_TAKEN: i32 = 2;
const INSTALL_BAD_PARAMS: i32 = 3;

/**
 * Installs an SA in the free slot `h`: `inbound` 1 or 0, `suite` in ESP_SUITES order, the key
 * (16 or 32 bytes) at `key`, the 4-byte salt at `salt`, `window` in bits (inbound; 0 = none,
 * else a multiple of 32 up to 4096), tunnel addresses as numbers. The next outbound sequence
 * number starts at 1. Returns 0, or 1 (slot taken or outside the table), 2 (inbound SPI already
 * installed), 3 (parameters out of range). JS validates first; these guard memory only.
 */
export function saInstall(h: u32, inbound: u32, suite: u32, spi: u32, esn: u32, window: u32, tunnelSrc: u32, tunnelDst: u32, key: u32, salt: u32): i32 {
  if (suite > SUITE_CHACHA20_POLY1305 || window > REPLAY_WINDOW_MAX || (window & 31) != 0 || spi == 0) return INSTALL_BAD_PARAMS;
  const sa = saAddress(h);
  if (sa == 0) return INSTALL_SLOT_TAKEN;
  if (!saClaim(h, inbound != 0 ? SA_INBOUND : SA_OUTBOUND, spi)) {
    return inbound != 0 && load<u32>(sa) == 0 ? INSTALL_SPI_TAKEN : INSTALL_SLOT_TAKEN;
  }
  store<u32>(sa + SA_SUITE, suite);
  store<u32>(sa + SA_ESN, esn != 0 ? 1 : 0);
  store<u32>(sa + SA_WINDOW, inbound != 0 ? window : 0);
  store<u32>(sa + SA_TUNNEL_SRC, tunnelSrc);
  store<u32>(sa + SA_TUNNEL_DST, tunnelDst);
  store<u32>(sa + SA_SALT, load<u32>(usize(salt)));
  store<u64>(sa + SA_SEQ, inbound != 0 ? 0 : 1);
  keyInstall(sa + SA_KEYCTX, suite, usize(key));
  return INSTALL_OK;
}

/** Removes SA `h`: wipes its record, keys included, and its SPI from the index. */
export function saRemove(h: u32): void {
  saFree(h);
}

/**
 * Sets the next outbound sequence number of SA `h` to `seq`, or marks the space exhausted when
 * `exhausted` is 1 (a next number ≥ 2^64).
 */
export function saSetNextSeq(h: u32, seq: u64, exhausted: u32): void {
  const sa = saAddress(h);
  if (sa == 0) return;
  store<u64>(sa + SA_SEQ, seq);
  store<u32>(sa + SA_SEQ_EXHAUSTED, exhausted != 0 ? 1 : 0);
}

// ---- Raw AEAD access for the test vectors (Wycheproof, RFC 8439) -------------------------------

/** A key context outside the SA table, for the raw AEAD exports. */
const TEST_CTX: usize = memory.data(KEYCTX_BYTES, 64);

/** Installs a raw AEAD key (16 or 32 bytes at `key`) for aeadTestSeal/aeadTestOpen; `suite` as in saInstall. */
export function aeadTestKey(suite: u32, key: u32): void {
  keyInstall(TEST_CTX, suite <= SUITE_CHACHA20_POLY1305 ? suite : SUITE_AES_GCM_128, usize(key));
}

/** AEAD seal with the test key: `len` bytes at `src` → ciphertext at `dst`, 16-byte tag at dst + len; 12-byte nonce. */
export function aeadTestSeal(suite: u32, nonce: u32, aad: u32, aadLen: u32, src: u32, len: u32, dst: u32): void {
  aeadSeal(TEST_CTX, suite, usize(nonce), usize(aad), aadLen, usize(src), len, usize(dst));
}

/** AEAD open with the test key: 1 and the plaintext at `dst` if the tag at `tag` verifies, else 0 and no plaintext at `dst`. */
export function aeadTestOpen(suite: u32, nonce: u32, aad: u32, aadLen: u32, src: u32, len: u32, tag: u32, dst: u32): u32 {
  return aeadOpen(TEST_CTX, suite, usize(nonce), usize(aad), aadLen, usize(src), len, usize(tag), usize(dst)) ? 1 : 0;
}
