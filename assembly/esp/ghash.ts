// GHASH (NIST SP 800-38D §6.4) without tables and without carry-less multiply instructions.
// Owns the layout of a key's precomputed powers H^1..H^4; never allocates.
//
// Method: a 64×64 carry-less product from four ordinary 64-bit multiplies per operand part
// ("integer multiplication with holes", as in BearSSL's ghash_ctmul64): split each operand into
// the bits at positions ≡ 0, 1, 2, 3 (mod 4); an ordinary product of two such parts has its terms
// 4 bits apart, at most 15 of them in any position below bit 60, so no carry ever reaches the next
// position of the same class and bit j of the product is the XOR of the terms. WASM's i64.mul only
// gives the low 64 bits, so the high half of each 64×64 product is the low half of the product of
// the bit-reversed operands, reversed back. A 128×128 product is three such products (Karatsuba),
// each needed low and high: 6 × 16 = 96 multiplies per block.
//
// Aggregated reduction: four blocks are multiplied by H^4, H^3, H^2, H and their unreduced
// 256-bit products summed before one reduction (every step after the multiplies is GF(2)-linear),
// so the bit reversals of the results and the reduction are paid once per four blocks.
//
// Constant time: only AND, XOR, shifts and integer multiplies (constant-time on x86-64 and
// AArch64); no secret-dependent branch or address. A 4-bit Shoup table GHASH looks up multiples
// of H by message nibble and leaks those indices through the cache; measured here it was also
// slower: 222 MB/s against 367–375 for this one (index.ts has the table). The 96 multiplies per
// block bound it: one 64-bit multiplier port.

/** Bytes of one precomputed power: six 64-bit halves (h0, h1, h0^h1 and their bit reversals), each as four masked parts. */
export const GHASH_POWER_BYTES: u32 = 6 * 4 * 8;
/** Powers kept per key (H^1..H^4). */
export const GHASH_POWERS: u32 = 4;
/** Bytes of a key's power table. */
export const GHASH_TABLE_BYTES: u32 = GHASH_POWERS * GHASH_POWER_BYTES;

const M0: u64 = 0x1111111111111111;
const M1: u64 = 0x2222222222222222;
const M2: u64 = 0x4444444444444444;
const M3: u64 = 0x8888888888888888;

/** Scratch for the power computation (a block and a state). */
const SCRATCH: usize = memory.data(32, 16);

/** Low 64 bits of the carry-less product of x and the operand whose four masked parts are at `y`. */
// @ts-ignore: decorator
@inline
export function bmul(x: u64, y: usize): u64 {
  const x0 = x & M0;
  const x1 = x & M1;
  const x2 = x & M2;
  const x3 = x & M3;
  const y0 = load<u64>(y, 0);
  const y1 = load<u64>(y, 8);
  const y2 = load<u64>(y, 16);
  const y3 = load<u64>(y, 24);
  const z0 = ((x0 * y0) ^ (x1 * y3) ^ (x2 * y2) ^ (x3 * y1)) & M0;
  const z1 = ((x0 * y1) ^ (x1 * y0) ^ (x2 * y3) ^ (x3 * y2)) & M1;
  const z2 = ((x0 * y2) ^ (x1 * y1) ^ (x2 * y0) ^ (x3 * y3)) & M2;
  const z3 = ((x0 * y3) ^ (x1 * y2) ^ (x2 * y1) ^ (x3 * y0)) & M3;
  return z0 | z1 | z2 | z3;
}

/** Reverses the 64 bits of x. */
// @ts-ignore: decorator
@inline
function rev64(x: u64): u64 {
  let v = x;
  v = ((v & 0x5555555555555555) << 1) | ((v >> 1) & 0x5555555555555555);
  v = ((v & 0x3333333333333333) << 2) | ((v >> 2) & 0x3333333333333333);
  v = ((v & 0x0f0f0f0f0f0f0f0f) << 4) | ((v >> 4) & 0x0f0f0f0f0f0f0f0f);
  return bswap<u64>(v);
}

/** Big-endian 64-bit halves of 16 wire bytes: lane 0 = bytes 0..7, lane 1 = bytes 8..15. */
// @ts-ignore: decorator
@inline
export function beHalves(v: v128): v128 {
  return i8x16.shuffle(v, v, 7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8);
}

/** The bit reversal of each 64-bit big-endian half of 16 wire bytes: reverse the bits of every byte. */
// @ts-ignore: decorator
@inline
export function revHalves(v: v128): v128 {
  const nib = i8x16(0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15);
  const m = i8x16.splat(0x0f);
  const lo = i8x16.swizzle(nib, v128.and(v, m)); // reversed low nibble, ≤ 15
  const hi = i8x16.swizzle(nib, v128.and(i16x8.shr_u(v, 4), m));
  return v128.or(i16x8.shl(lo, 4), hi);
}

function storeParts(dst: usize, x: u64): void {
  store<u64>(dst, x & M0, 0);
  store<u64>(dst, x & M1, 8);
  store<u64>(dst, x & M2, 16);
  store<u64>(dst, x & M3, 24);
}

/** Writes the precomputed form of the field element given as 16 wire bytes at `h` to `dst`. */
function preparePower(dst: usize, h: usize): void {
  const be = beHalves(v128.load(h));
  const h1 = i64x2.extract_lane(be, 0);
  const h0 = i64x2.extract_lane(be, 1);
  const h0r = rev64(u64(h0));
  const h1r = rev64(u64(h1));
  storeParts(dst, h0);
  storeParts(dst + 32, h1);
  storeParts(dst + 64, h0 ^ h1);
  storeParts(dst + 96, h0r);
  storeParts(dst + 128, h1r);
  storeParts(dst + 160, h0r ^ h1r);
}

/**
 * The new GHASH state (16 wire bytes) from the accumulated partial products of a group: Karatsuba
 * middle terms, high halves back from the bit-reversed domain, then the 255-bit product
 * (bit-reflected, so shifted left by one) reduced modulo x^128 + x^7 + x^2 + x + 1.
 */
// @ts-ignore: decorator
@inline
export function ghashReduce(z0: u64, z1: u64, z2: u64, z0h: u64, z1h: u64, z2h: u64): v128 {
  const m2 = z2 ^ z0 ^ z1;
  const m2h = z2h ^ z0h ^ z1h;
  const hi0 = rev64(z0h) >> 1;
  const hi1 = rev64(z1h) >> 1;
  const hi2 = rev64(m2h) >> 1;
  let v0 = z0;
  let v1 = hi0 ^ m2;
  let v2 = z1 ^ hi2;
  let v3 = hi1;
  v3 = (v3 << 1) | (v2 >> 63);
  v2 = (v2 << 1) | (v1 >> 63);
  v1 = (v1 << 1) | (v0 >> 63);
  v0 = v0 << 1;
  v2 ^= v0 ^ (v0 >> 1) ^ (v0 >> 2) ^ (v0 >> 7);
  v1 ^= (v0 << 63) ^ (v0 << 62) ^ (v0 << 57);
  v3 ^= v1 ^ (v1 >> 1) ^ (v1 >> 2) ^ (v1 >> 7);
  v2 ^= (v1 << 63) ^ (v1 << 62) ^ (v1 << 57);
  return beHalves(i64x2.replace_lane(i64x2.splat(i64(v3)), 1, i64(v2)));
}

/**
 * Y ← (Y ⊕ X_1)·H^n ⊕ X_2·H^(n−1) ⊕ … ⊕ X_n·H for each group of up to four 16-byte blocks at `m`:
 * the GHASH update over `nblocks` blocks. `y` holds the 16-byte state in wire order; `table` is a
 * key's power table.
 */
export function ghashBlocks(table: usize, y: usize, m: usize, nblocks: u32): void {
  let state = v128.load(y);
  let p = m;
  let left = nblocks;
  while (left > 0) {
    const n = left < GHASH_POWERS ? left : GHASH_POWERS;
    let z0: u64 = 0, z1: u64 = 0, z2: u64 = 0, z0h: u64 = 0, z1h: u64 = 0, z2h: u64 = 0;
    let hp = table + (n - 1) * GHASH_POWER_BYTES;
    let v = v128.xor(v128.load(p), state);
    for (let j: u32 = 0; j < n; j++) {
      const be = beHalves(v);
      const rv = revHalves(v);
      const x1 = u64(i64x2.extract_lane(be, 0));
      const x0 = u64(i64x2.extract_lane(be, 1));
      const x1r = u64(i64x2.extract_lane(rv, 0));
      const x0r = u64(i64x2.extract_lane(rv, 1));
      z0 ^= bmul(x0, hp);
      z1 ^= bmul(x1, hp + 32);
      z2 ^= bmul(x0 ^ x1, hp + 64);
      z0h ^= bmul(x0r, hp + 96);
      z1h ^= bmul(x1r, hp + 128);
      z2h ^= bmul(x0r ^ x1r, hp + 160);
      hp -= GHASH_POWER_BYTES;
      p += 16;
      if (j + 1 < n) v = v128.load(p);
    }
    left -= n;
    state = ghashReduce(z0, z1, z2, z0h, z1h, z2h);
  }
  v128.store(y, state);
}

/**
 * Fills the power table at `table` from H given as 16 wire bytes at `h` (H = AES_K(0^128)):
 * H^1 at table, H^2 at table + GHASH_POWER_BYTES, and so on.
 */
export function ghashPrepare(table: usize, h: usize): void {
  preparePower(table, h);
  memory.copy(SCRATCH, h, 16); // current power, wire order
  for (let i: u32 = 1; i < GHASH_POWERS; i++) {
    // power ← (0 ⊕ power)·H
    v128.store(SCRATCH + 16, i64x2.splat(0));
    ghashBlocks(table, SCRATCH + 16, SCRATCH, 1);
    memory.copy(SCRATCH, SCRATCH + 16, 16);
    preparePower(table + i * GHASH_POWER_BYTES, SCRATCH);
  }
  memory.fill(SCRATCH, 0, 32);
}
