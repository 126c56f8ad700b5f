// The two ESP AEADs over a key context in linear memory: ChaCha20-Poly1305 (RFC 8439 §2.8) and
// AES-GCM (SP 800-38D) with a 12-byte nonce and a 16-byte tag. Owns the key-context layout and the
// module's crypto scratch; never allocates, never releases plaintext before the tag verifies.
//
// Key context (KEYCTX_BYTES, inside an SA record; see sa.ts):
//   +0     key, 32 bytes (an AES-128 key uses the first 16)
//   +32    u32 AES rounds (10 or 14)                           AES-GCM only
//   +64    GHASH power table H^1..H^4 (GHASH_TABLE_BYTES)     AES-GCM only
//   +832   bitsliced AES key schedule (AES_SCHEDULE_BYTES)    AES-GCM only
//
// Keystream layout per packet: ChaCha20's first four blocks (counters 0..3) give the Poly1305 key
// (block 0) and the first 192 bytes of data; AES-GCM's first eight counter blocks (1..8) give the
// tag mask E(J0) and the first 112 bytes. The rest follows in whole batches, so no keystream is
// computed twice and none is thrown away except the tail of the last batch. Poly1305 runs stitched
// into the ChaCha20 kernel (chacha20.ts): the vector units encrypt while the scalar multiplier
// authenticates. Sealing, each chunk absorbs the ciphertext of the one before; opening, each chunk
// absorbs its own ciphertext before decrypting it, and a failed tag wipes what was decrypted.

import { aesCtr, aesExpandKey, AES_BATCH_BYTES, AES_SCHEDULE_BYTES } from './aes';
import { chachaPolyChunks, chachaXorChunks, CHACHA_CHUNK_BYTES } from './chacha20';
import { ghashBlocks, ghashPrepare, GHASH_TABLE_BYTES } from './ghash';
import { polyBlocks, polyFinish, polyInit } from './poly1305';

/** Suite codes, in the order of ESP_SUITES in src/dataplane/esp.ts. */
export const SUITE_AES_GCM_128: u32 = 0;
export const SUITE_AES_GCM_256: u32 = 1;
export const SUITE_CHACHA20_POLY1305: u32 = 2;

export const KEYCTX_KEY: u32 = 0;
export const KEYCTX_GHASH: u32 = 64;
export const KEYCTX_AES_RK: u32 = KEYCTX_GHASH + GHASH_TABLE_BYTES;
export const KEYCTX_AES_ROUNDS: u32 = 32; // u32 at +32: 10 or 14
export const KEYCTX_BYTES: u32 = KEYCTX_AES_RK + AES_SCHEDULE_BYTES;

const TAG_BYTES: u32 = 16;

// Scratch (static data, below the arena). Wiped of key-derived bytes after each use.
const ZERO: usize = memory.data(256, 16); // stays all-zero: ChaCha20 input for raw keystream
const KS: usize = memory.data(256, 16); // keystream of one batch
const BLOCK: usize = memory.data(16, 16); // a zero-padded partial block / lengths block
const MACKEY: usize = memory.data(32, 16); // Poly1305 one-time key, or GCM tag mask E(J0)
const MAC: usize = memory.data(16, 16); // computed tag / GHASH state

/** dst[i] = src[i] ^ ks[i] for n bytes; src == dst allowed. */
function xorInto(dst: usize, src: usize, ks: usize, n: u32): void {
  let i: u32 = 0;
  for (; i + 16 <= n; i += 16) v128.store(dst + i, v128.xor(v128.load(src + i), v128.load(ks + i)));
  for (; i < n; i++) store<u8>(dst + i, load<u8>(src + i) ^ load<u8>(ks + i));
}

/** Constant-time comparison of two 16-byte tags. */
function tagsEqual(a: usize, b: usize): bool {
  const d = (load<u64>(a, 0) ^ load<u64>(b, 0)) | (load<u64>(a, 8) ^ load<u64>(b, 8));
  return d == 0;
}

/** Installs a key in the context at `ctx` (expanding AES keys and their GHASH table). */
export function keyInstall(ctx: usize, suite: u32, key: usize): void {
  memory.fill(ctx, 0, KEYCTX_BYTES);
  const keyBytes: u32 = suite == SUITE_AES_GCM_128 ? 16 : 32;
  memory.copy(ctx + KEYCTX_KEY, key, keyBytes);
  if (suite == SUITE_CHACHA20_POLY1305) return;
  const rk = ctx + KEYCTX_AES_RK;
  const nr = aesExpandKey(key, keyBytes, rk);
  store<u32>(ctx + KEYCTX_AES_ROUNDS, nr);
  // H = E_K(0^128): the keystream block of the all-zero counter block (nonce 0, counter 0).
  aesCtr(rk, nr, ZERO, 0, ZERO, KS, 1);
  ghashPrepare(ctx + KEYCTX_GHASH, KS);
  memory.fill(KS, 0, AES_BATCH_BYTES);
}

// ---- ChaCha20-Poly1305 -------------------------------------------------------------------------

/** Poly1305 over `len` bytes at `p`, zero-padded to a multiple of 16 (the AEAD's pad16). */
function polyPadded(p: usize, len: u32): void {
  const full = len >> 4;
  polyBlocks(p, full);
  const rest = len & 15;
  if (rest != 0) {
    v128.store(BLOCK, i64x2.splat(0));
    memory.copy(BLOCK, p + (full << 4), rest);
    polyBlocks(BLOCK, 1);
  }
}

/** The lengths block of RFC 8439 §2.8 and the final tag into MAC. */
function chachaFinish(aadLen: u32, len: u32): void {
  store<u64>(BLOCK, u64(aadLen), 0);
  store<u64>(BLOCK, u64(len), 8);
  polyBlocks(BLOCK, 1);
  polyFinish(MACKEY, MAC);
}

/** Keystream block 0 → Poly1305 key (kept in MACKEY), blocks 1..3 in KS + 64; MAC over the AAD. */
function chachaStart(key: usize, nonce: usize, aad: usize, aadLen: u32): void {
  chachaXorChunks(key, nonce, 0, ZERO, KS, 1);
  memory.copy(MACKEY, KS, 32);
  polyInit(MACKEY);
  polyPadded(aad, aadLen);
}

// The first FIRST_BYTES of data use the keystream of chachaStart; the rest goes through the
// stitched kernel in whole 256-byte chunks, and a tail through one more keystream chunk in KS.
const FIRST_BYTES: u32 = 192;
const FIRST_BLOCKS: u32 = FIRST_BYTES >> 4;

function chachaSeal(ctx: usize, nonce: usize, aad: usize, aadLen: u32, src: usize, len: u32, dst: usize): void {
  const key = ctx + KEYCTX_KEY;
  chachaStart(key, nonce, aad, aadLen);
  xorInto(dst, src, KS + 64, min<u32>(len, FIRST_BYTES));
  let hashed: u32 = 0; // ciphertext bytes absorbed so far
  if (len > FIRST_BYTES) {
    const chunks = (len - FIRST_BYTES) / CHACHA_CHUNK_BYTES;
    const tailAt = FIRST_BYTES + chunks * CHACHA_CHUNK_BYTES;
    // Each chunk absorbs the ciphertext written before it: the first 192 bytes, then the previous chunk.
    if (chunks > 0) {
      chachaPolyChunks(key, nonce, 4, src + FIRST_BYTES, dst + FIRST_BYTES, chunks, dst, FIRST_BLOCKS + 16 * (chunks - 1), FIRST_BLOCKS);
      hashed = tailAt - CHACHA_CHUNK_BYTES;
    }
    if (tailAt < len) {
      const blocks = (tailAt - hashed) >> 4;
      chachaPolyChunks(key, nonce, 4 + 4 * chunks, ZERO, KS, 1, dst + hashed, blocks, blocks);
      hashed = tailAt;
      xorInto(dst + tailAt, src + tailAt, KS, len - tailAt);
    }
  }
  polyPadded(dst + hashed, len - hashed);
  chachaFinish(aadLen, len);
  memory.copy(dst + len, MAC, TAG_BYTES);
}

/**
 * Stitched open: chunks are decrypted while their ciphertext is absorbed (each chunk's MAC blocks
 * before its own output is stored, so in place works). Plaintext reaches `dst` before the tag is
 * checked; on a mismatch it is wiped before returning, so none is ever released.
 */
function chachaOpen(ctx: usize, nonce: usize, aad: usize, aadLen: u32, src: usize, len: u32, tag: usize, dst: usize): bool {
  const key = ctx + KEYCTX_KEY;
  chachaStart(key, nonce, aad, aadLen);
  if (len <= FIRST_BYTES) {
    polyPadded(src, len);
    chachaFinish(aadLen, len);
    if (!tagsEqual(MAC, tag)) return false;
    xorInto(dst, src, KS + 64, len);
    return true;
  }
  polyBlocks(src, FIRST_BLOCKS);
  xorInto(dst, src, KS + 64, FIRST_BYTES);
  const chunks = (len - FIRST_BYTES) / CHACHA_CHUNK_BYTES;
  const tailAt = FIRST_BYTES + chunks * CHACHA_CHUNK_BYTES;
  if (chunks > 0) {
    chachaPolyChunks(key, nonce, 4, src + FIRST_BYTES, dst + FIRST_BYTES, chunks, src + FIRST_BYTES, 16 * chunks, 16);
  }
  if (tailAt < len) {
    const blocks = (len - tailAt) >> 4;
    chachaPolyChunks(key, nonce, 4 + 4 * chunks, ZERO, KS, 1, src + tailAt, blocks, blocks);
    polyPadded(src + tailAt + (blocks << 4), (len - tailAt) & 15);
  }
  chachaFinish(aadLen, len);
  if (!tagsEqual(MAC, tag)) {
    memory.fill(dst, 0, tailAt);
    return false;
  }
  if (tailAt < len) xorInto(dst + tailAt, src + tailAt, KS, len - tailAt);
  return true;
}

// ---- AES-GCM -----------------------------------------------------------------------------------

/** GHASH over `len` bytes at `p`, zero-padded to whole blocks, into the state at MAC. */
function ghashPadded(table: usize, p: usize, len: u32): void {
  const full = len >> 4;
  ghashBlocks(table, MAC, p, full);
  const rest = len & 15;
  if (rest != 0) {
    v128.store(BLOCK, i64x2.splat(0));
    memory.copy(BLOCK, p + (full << 4), rest);
    ghashBlocks(table, MAC, BLOCK, 1);
  }
}

// The first GCM_FIRST_BYTES of data use the keystream of gcmStart (counter blocks 2..8, after
// E(J0)); the rest follows in 128-byte batches from counter 9, and a tail through one more batch of
// keystream in KS. GHASH runs as its own pass: stitched into the AES rounds (as ChaCha20 is with
// Poly1305) it measured no faster here, both halves being instruction-bound.
const GCM_FIRST_BYTES: u32 = 112;
const GCM_FIRST_COUNTER: u32 = 9;

/** E(J0) (the tag mask) into MACKEY and counter blocks 2..8 in KS + 16. */
function gcmStart(ctx: usize, nonce: usize): void {
  aesCtr(ctx + KEYCTX_AES_RK, load<u32>(ctx + KEYCTX_AES_ROUNDS), nonce, 1, ZERO, KS, 1);
  memory.copy(MACKEY, KS, 16);
}

/** The GCM tag into MAC: GHASH(A, C) ⊕ E(J0) (SP 800-38D §7.1), E(J0) in MACKEY. */
function gcmTag(ctx: usize, aad: usize, aadLen: u32, ct: usize, len: u32): void {
  const table = ctx + KEYCTX_GHASH;
  v128.store(MAC, i64x2.splat(0));
  ghashPadded(table, aad, aadLen);
  ghashPadded(table, ct, len);
  store<u64>(BLOCK, bswap<u64>(u64(aadLen) << 3), 0);
  store<u64>(BLOCK, bswap<u64>(u64(len) << 3), 8);
  ghashBlocks(table, MAC, BLOCK, 1);
  v128.store(MAC, v128.xor(v128.load(MAC), v128.load(MACKEY)));
}

/** XORs the keystream into data; KS holds counter blocks 1..8 from gcmStart. */
function gcmCrypt(ctx: usize, nonce: usize, src: usize, dst: usize, len: u32): void {
  xorInto(dst, src, KS + 16, min<u32>(len, GCM_FIRST_BYTES));
  if (len <= GCM_FIRST_BYTES) return;
  const rk = ctx + KEYCTX_AES_RK;
  const nr = load<u32>(ctx + KEYCTX_AES_ROUNDS);
  const batches = (len - GCM_FIRST_BYTES) / AES_BATCH_BYTES;
  aesCtr(rk, nr, nonce, GCM_FIRST_COUNTER, src + GCM_FIRST_BYTES, dst + GCM_FIRST_BYTES, batches);
  const tailAt = GCM_FIRST_BYTES + batches * AES_BATCH_BYTES;
  if (tailAt < len) {
    aesCtr(rk, nr, nonce, GCM_FIRST_COUNTER + 8 * batches, ZERO, KS, 1);
    xorInto(dst + tailAt, src + tailAt, KS, len - tailAt);
  }
}

function gcmSeal(ctx: usize, nonce: usize, aad: usize, aadLen: u32, src: usize, len: u32, dst: usize): void {
  gcmStart(ctx, nonce);
  gcmCrypt(ctx, nonce, src, dst, len);
  gcmTag(ctx, aad, aadLen, dst, len);
  memory.copy(dst + len, MAC, TAG_BYTES);
}

/** Verifies first, then decrypts: no plaintext is written unless the tag matches. */
function gcmOpen(ctx: usize, nonce: usize, aad: usize, aadLen: u32, src: usize, len: u32, tag: usize, dst: usize): bool {
  gcmStart(ctx, nonce);
  gcmTag(ctx, aad, aadLen, src, len);
  if (!tagsEqual(MAC, tag)) return false;
  gcmCrypt(ctx, nonce, src, dst, len);
  return true;
}

// ---- Both --------------------------------------------------------------------------------------

/** Zeroes the key-derived scratch (keystream, MAC key or tag mask, MAC state, partial block). */
function wipeScratch(): void {
  memory.fill(KS, 0, 256);
  memory.fill(MACKEY, 0, 32);
  memory.fill(MAC, 0, 16);
  memory.fill(BLOCK, 0, 16);
}

/**
 * Seals `len` bytes at `src` into `dst` (ciphertext, then the 16-byte tag at dst + len) with the
 * key context at `ctx`, the 12-byte nonce at `nonce` and `aadLen` bytes of AAD at `aad`.
 * `src == dst` is allowed; otherwise the ranges must not overlap.
 */
export function aeadSeal(ctx: usize, suite: u32, nonce: usize, aad: usize, aadLen: u32, src: usize, len: u32, dst: usize): void {
  if (suite == SUITE_CHACHA20_POLY1305) chachaSeal(ctx, nonce, aad, aadLen, src, len, dst);
  else gcmSeal(ctx, nonce, aad, aadLen, src, len, dst);
  wipeScratch();
}

/**
 * Verifies the 16-byte tag at `tag` over the AAD and the `len` ciphertext bytes at `src` and
 * decrypts them to `dst` (`src == dst` allowed); returns true only if the tag matches. On a
 * mismatch `dst` holds no plaintext: either nothing was written or what was written is zeroed.
 */
export function aeadOpen(ctx: usize, suite: u32, nonce: usize, aad: usize, aadLen: u32, src: usize, len: u32, tag: usize, dst: usize): bool {
  const ok = suite == SUITE_CHACHA20_POLY1305 ? chachaOpen(ctx, nonce, aad, aadLen, src, len, tag, dst) : gcmOpen(ctx, nonce, aad, aadLen, src, len, tag, dst);
  wipeScratch();
  return ok;
}
