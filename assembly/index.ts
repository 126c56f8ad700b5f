// Data-plane kernels compiled to WASM: batch operations over linear memory that JS owns.
// Never allocates (runtime "stub", no `new`), never imports anything, never calls back into JS.
//
// Memory layout (byte addresses in the exported `memory`; everything is little-endian, WASM's order):
//
//   [0, arenaOffset())              static data of this module; JS must not write here
//   [arenaOffset(), memory end)     the arena, arenaCapacity() bytes, owned by JS
//
// JS lays out one batch inside the arena as it likes; the kernels only follow addresses:
//
//   descriptor table at descOffset: `count` pairs of (offset: u32, length: u32), 8 bytes each;
//                                   `offset` is an absolute address of the bytes in memory
//   result array at outOffset:      `count` u16 values (checksumBatch only), 2 bytes each
//   the packet/header bytes:        anywhere in the arena, pointed to by the descriptors
//
// ensureCapacity() may grow the memory; growing detaches every JS view of `memory.buffer`,
// so JS must re-create its views after calling it. Addresses themselves stay valid.
//
// Checksum method (RFC 1071): the one's-complement sum does not depend on byte order
// (RFC 1071 section 2 B), so we add little-endian words as loaded and byte-swap once at the end.
// It is also indifferent to word width (section 2 C): we add 64-bit words with an end-around
// carry and fold to 16 bits at the end. IPv4 headers (20-60 bytes) are 3-8 such adds, where a
// SIMD set-up and horizontal fold would cost more than it saves; inputs of SIMD_MIN_BYTES or more
// (UDP/TCP payloads) go through a v128 loop that widens 16-bit lanes to 32-bit lane sums.

/** Inputs shorter than this use the scalar 64-bit loop; longer ones the v128 loop. */
const SIMD_MIN_BYTES: u32 = 128;
/** v128 iterations before the 32-bit lane sums must be folded (each adds at most 2 * 0xffff). */
const SIMD_BLOCK_ITERS: u32 = 16384;
/** Alignment of the arena start; a cache line. */
const ARENA_ALIGN: u32 = 64;
/** Minimum IPv4 header length (RFC 791: IHL >= 5 words). */
const IPV4_HEADER_MIN: u32 = 20;
/** Offset of the Header Checksum field in an IPv4 header (RFC 791 section 3.1). */
const IPV4_CHECKSUM_OFFSET: u32 = 10;

/** Adds with end-around carry (one's-complement addition on 64 bits). */
// @ts-ignore: decorator
@inline
function addCarry(acc: u64, w: u64): u64 {
  const s = acc + w;
  return s + u64(s < w);
}

/** Folds a 64-bit one's-complement sum to 16 bits. */
// @ts-ignore: decorator
@inline
function fold16(acc: u64): u32 {
  let s = (acc & 0xffffffff) + (acc >> 32); // <= 33 bits
  s = (s & 0xffffffff) + (s >> 32); // <= 32 bits
  let t = u32(s);
  t = (t & 0xffff) + (t >>> 16); // <= 17 bits
  t = (t & 0xffff) + (t >>> 16); // <= 16 bits
  return t;
}

/**
 * One's-complement sum of `len` bytes at `ptr`, folded to 16 bits, in little-endian word order
 * (byte-swap it to get the RFC's big-endian value). An odd last byte is padded with a zero on the
 * right in network order, i.e. it is the low byte of a little-endian word, as loaded.
 */
function sumLe(ptr: usize, len: u32): u32 {
  let acc: u64 = 0;
  let p = ptr;
  let n = len;
  if (n >= SIMD_MIN_BYTES) {
    while (n >= 16) {
      let iters = n >>> 4;
      if (iters > SIMD_BLOCK_ITERS) iters = SIMD_BLOCK_ITERS;
      let lanes = i32x4.splat(0);
      for (let i: u32 = 0; i < iters; i++) {
        lanes = i32x4.add(lanes, i32x4.extadd_pairwise_i16x8_u(v128.load(p)));
        p += 16;
      }
      n -= iters << 4;
      const lo = i64x2.extend_low_i32x4_u(lanes);
      const hi = i64x2.extend_high_i32x4_u(lanes);
      const both = i64x2.add(lo, hi); // each lane < 2^34: no overflow
      acc = addCarry(acc, u64(i64x2.extract_lane(both, 0)));
      acc = addCarry(acc, u64(i64x2.extract_lane(both, 1)));
    }
  }
  while (n >= 8) {
    acc = addCarry(acc, load<u64>(p));
    p += 8;
    n -= 8;
  }
  if (n >= 4) {
    acc = addCarry(acc, u64(load<u32>(p)));
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    acc = addCarry(acc, u64(load<u16>(p)));
    p += 2;
    n -= 2;
  }
  if (n != 0) acc = addCarry(acc, u64(load<u8>(p)));
  return fold16(acc);
}

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

/**
 * RFC 1071 Internet checksum of each of `count` byte strings named by the descriptor table at
 * `descOffset` ((offset u32, length u32) pairs), taken over the bytes exactly as they are, written
 * as u16 values (0xb861 for checksum bytes b8 61) to the result array at `outOffset`. A header with
 * a correct checksum field yields 0. Lengths may be odd and of any size.
 */
export function checksumBatch(descOffset: u32, count: u32, outOffset: u32): void {
  let d = usize(descOffset);
  let o = usize(outOffset);
  for (let i: u32 = 0; i < count; i++) {
    const ptr = usize(load<u32>(d));
    const len = load<u32>(d, 4);
    store<u16>(o, bswap<u16>(u16(~sumLe(ptr, len))));
    d += 8;
    o += 2;
  }
}

/**
 * For each of `count` IPv4 headers named by the descriptor table at `descOffset`, zeroes the
 * Header Checksum field (bytes 10-11), computes the RFC 1071 checksum over the descriptor's length
 * and stores it there in network byte order (RFC 791 section 3.1). Descriptors shorter than 20
 * bytes are left untouched (JS rejects them before the call; this guards memory only).
 */
export function fillIpv4ChecksumBatch(descOffset: u32, count: u32): void {
  let d = usize(descOffset);
  for (let i: u32 = 0; i < count; i++) {
    const ptr = usize(load<u32>(d));
    const len = load<u32>(d, 4);
    if (len >= IPV4_HEADER_MIN) {
      store<u16>(ptr, 0, IPV4_CHECKSUM_OFFSET);
      // ~sum in little-endian order stored little-endian gives the big-endian wire bytes.
      store<u16>(ptr, u16(~sumLe(ptr, len)), IPV4_CHECKSUM_OFFSET);
    }
    d += 8;
  }
}
