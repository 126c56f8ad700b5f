// ChaCha20 (RFC 8439 §2.3–2.4), four blocks at a time in v128: lane i of every state vector belongs
// to block counter+i, stitched with Poly1305: while the vector units run a chunk's 20 rounds, the
// scalar multiplier absorbs up to 16 Poly1305 blocks into the state of poly1305.ts (two per double
// round), so the two halves of the AEAD overlap instead of running one after the other. Owns only
// the kernel; never allocates, never branches or indexes on secrets.
//
// Constant time: additions, rotations and XORs only (ARX); no table, no secret-dependent address.
// Rotation by 16 is a 16-bit word swap (pshuflw + pshufhw on x86); by 12, 8 and 7 shift-shift-or.
// After the 20 rounds the 4×4 word blocks are transposed with constant shuffles (unpack
// instructions) so that each block's 64 bytes come out contiguous.

import { polyBlocks, POLY_H, POLY_STATE } from './poly1305';

/** "expand 32-byte k", RFC 8439 §2.3. */
const SIGMA0: u32 = 0x61707865;
const SIGMA1: u32 = 0x3320646e;
const SIGMA2: u32 = 0x79622d32;
const SIGMA3: u32 = 0x6b206574;

/** Bytes produced per pass of the four-block kernel. */
export const CHACHA_CHUNK_BYTES: u32 = 256;
/** Poly1305 blocks absorbed per chunk at most (two per double round leaves room to spare). */
export const CHACHA_MAC_BLOCKS_PER_CHUNK: u32 = 16;
const MASK26: u64 = 0x3ffffff;

// @ts-ignore: decorator
@inline
function rotl16(x: v128): v128 {
  return i8x16.shuffle(x, x, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
}

/**
 * By 8 with shifts, not a byte shuffle: V8 (node 20) rebuilds a pshufb mask from immediates at every
 * use (4 extra instructions), so shl/shr/or is cheaper; rotation by 16 becomes pshuflw+pshufhw.
 */
// @ts-ignore: decorator
@inline
function rotl8(x: v128): v128 {
  return v128.or(i32x4.shl(x, 8), i32x4.shr_u(x, 24));
}

// @ts-ignore: decorator
@inline
function rotl12(x: v128): v128 {
  return v128.or(i32x4.shl(x, 12), i32x4.shr_u(x, 20));
}

// @ts-ignore: decorator
@inline
function rotl7(x: v128): v128 {
  return v128.or(i32x4.shl(x, 7), i32x4.shr_u(x, 25));
}

/**
 * Transposes four word-vectors (word w of blocks 0..3) into four 16-byte rows (words w..w+3 of one
 * block) and XORs them into dst at `off` within each 64-byte block: dst = src ^ keystream.
 */
// @ts-ignore: decorator
@inline
function emit4(a: v128, b: v128, c: v128, d: v128, src: usize, dst: usize, off: usize): void {
  const t0 = v128.shuffle<u32>(a, b, 0, 4, 1, 5);
  const t1 = v128.shuffle<u32>(c, d, 0, 4, 1, 5);
  const t2 = v128.shuffle<u32>(a, b, 2, 6, 3, 7);
  const t3 = v128.shuffle<u32>(c, d, 2, 6, 3, 7);
  const r0 = v128.shuffle<u64>(t0, t1, 0, 2);
  const r1 = v128.shuffle<u64>(t0, t1, 1, 3);
  const r2 = v128.shuffle<u64>(t2, t3, 0, 2);
  const r3 = v128.shuffle<u64>(t2, t3, 1, 3);
  // Load all four inputs before any store: src == dst (in place) is allowed.
  const s0 = v128.load(src + off);
  const s1 = v128.load(src + off, 64);
  const s2 = v128.load(src + off, 128);
  const s3 = v128.load(src + off, 192);
  v128.store(dst + off, v128.xor(s0, r0));
  v128.store(dst + off, v128.xor(s1, r1), 64);
  v128.store(dst + off, v128.xor(s2, r2), 128);
  v128.store(dst + off, v128.xor(s3, r3), 192);
}

/**
 * XORs `chunks` × 256 bytes at `src` with the ChaCha20 keystream for the 32-byte key at `key`, the
 * 12-byte nonce at `nonce` and block counters counter, counter+1, … and writes them to `dst`.
 * `src == dst` is allowed; otherwise the ranges must not overlap. Pass an all-zero `src` to get
 * the raw keystream. The counter wraps modulo 2^32 (callers stay far below: ESP packets < 2^16 B).
 *
 * Meanwhile absorbs `macBlocks` 16-byte Poly1305 blocks from `mac` into the running MAC state:
 * `firstBlocks` (≤ 16) during the first chunk, then up to 16 per chunk, each chunk's before its
 * own output is stored (so `mac` may be the ciphertext being decrypted in place); any left over
 * are absorbed after the last chunk.
 */
export function chachaPolyChunks(key: usize, nonce: usize, counter: u32, src: usize, dst: usize, chunks: u32, mac: usize, macBlocks: u32, firstBlocks: u32): void {
  const k0 = v128.load32_splat(key, 0);
  const k1 = v128.load32_splat(key, 4);
  const k2 = v128.load32_splat(key, 8);
  const k3 = v128.load32_splat(key, 12);
  const k4 = v128.load32_splat(key, 16);
  const k5 = v128.load32_splat(key, 20);
  const k6 = v128.load32_splat(key, 24);
  const k7 = v128.load32_splat(key, 28);
  const n0 = v128.load32_splat(nonce, 0);
  const n1 = v128.load32_splat(nonce, 4);
  const n2 = v128.load32_splat(nonce, 8);
  const c0 = i32x4.splat(SIGMA0);
  const c1 = i32x4.splat(SIGMA1);
  const c2 = i32x4.splat(SIGMA2);
  const c3 = i32x4.splat(SIGMA3);
  let ctr = i32x4.add(i32x4.splat(counter), i32x4(0, 1, 2, 3));
  const four = i32x4.splat(4);
  // Poly1305 state (poly1305.ts), in locals for the whole call.
  const st = POLY_STATE;
  const R0 = load<u64>(st, 0), R1 = load<u64>(st, 8), R2 = load<u64>(st, 16), R3 = load<u64>(st, 24), R4 = load<u64>(st, 32);
  const S1 = R1 * 5, S2 = R2 * 5, S3 = R3 * 5, S4 = R4 * 5;
  let a0 = load<u64>(st, POLY_H), a1 = load<u64>(st, POLY_H + 8), a2 = load<u64>(st, POLY_H + 16), a3 = load<u64>(st, POLY_H + 24), a4 = load<u64>(st, POLY_H + 32);
  let m = mac;
  let macLeft = macBlocks;
  let quota = min<u32>(firstBlocks, CHACHA_MAC_BLOCKS_PER_CHUNK);
  let s = src;
  let d = dst;
  for (let n: u32 = 0; n < chunks; n++) {
    let pending = min<u32>(macLeft, quota);
    macLeft -= pending;
    quota = CHACHA_MAC_BLOCKS_PER_CHUNK;
    let x0 = c0, x1 = c1, x2 = c2, x3 = c3;
    let x4 = k0, x5 = k1, x6 = k2, x7 = k3;
    let x8 = k4, x9 = k5, x10 = k6, x11 = k7;
    let x12 = ctr, x13 = n0, x14 = n1, x15 = n2;
    for (let i = 0; i < 10; i++) {
      // Column round.
      x0 = i32x4.add(x0, x4); x12 = rotl16(v128.xor(x12, x0));
      x1 = i32x4.add(x1, x5); x13 = rotl16(v128.xor(x13, x1));
      x2 = i32x4.add(x2, x6); x14 = rotl16(v128.xor(x14, x2));
      x3 = i32x4.add(x3, x7); x15 = rotl16(v128.xor(x15, x3));
      x8 = i32x4.add(x8, x12); x4 = rotl12(v128.xor(x4, x8));
      x9 = i32x4.add(x9, x13); x5 = rotl12(v128.xor(x5, x9));
      x10 = i32x4.add(x10, x14); x6 = rotl12(v128.xor(x6, x10));
      x11 = i32x4.add(x11, x15); x7 = rotl12(v128.xor(x7, x11));
      x0 = i32x4.add(x0, x4); x12 = rotl8(v128.xor(x12, x0));
      x1 = i32x4.add(x1, x5); x13 = rotl8(v128.xor(x13, x1));
      x2 = i32x4.add(x2, x6); x14 = rotl8(v128.xor(x14, x2));
      x3 = i32x4.add(x3, x7); x15 = rotl8(v128.xor(x15, x3));
      x8 = i32x4.add(x8, x12); x4 = rotl7(v128.xor(x4, x8));
      x9 = i32x4.add(x9, x13); x5 = rotl7(v128.xor(x5, x9));
      x10 = i32x4.add(x10, x14); x6 = rotl7(v128.xor(x6, x10));
      x11 = i32x4.add(x11, x15); x7 = rotl7(v128.xor(x7, x11));
      // Diagonal round.
      x0 = i32x4.add(x0, x5); x15 = rotl16(v128.xor(x15, x0));
      x1 = i32x4.add(x1, x6); x12 = rotl16(v128.xor(x12, x1));
      x2 = i32x4.add(x2, x7); x13 = rotl16(v128.xor(x13, x2));
      x3 = i32x4.add(x3, x4); x14 = rotl16(v128.xor(x14, x3));
      x10 = i32x4.add(x10, x15); x5 = rotl12(v128.xor(x5, x10));
      x11 = i32x4.add(x11, x12); x6 = rotl12(v128.xor(x6, x11));
      x8 = i32x4.add(x8, x13); x7 = rotl12(v128.xor(x7, x8));
      x9 = i32x4.add(x9, x14); x4 = rotl12(v128.xor(x4, x9));
      x0 = i32x4.add(x0, x5); x15 = rotl8(v128.xor(x15, x0));
      x1 = i32x4.add(x1, x6); x12 = rotl8(v128.xor(x12, x1));
      x2 = i32x4.add(x2, x7); x13 = rotl8(v128.xor(x13, x2));
      x3 = i32x4.add(x3, x4); x14 = rotl8(v128.xor(x14, x3));
      x10 = i32x4.add(x10, x15); x5 = rotl7(v128.xor(x5, x10));
      x11 = i32x4.add(x11, x12); x6 = rotl7(v128.xor(x6, x11));
      x8 = i32x4.add(x8, x13); x7 = rotl7(v128.xor(x7, x8));
      x9 = i32x4.add(x9, x14); x4 = rotl7(v128.xor(x4, x9));
      // Two Poly1305 blocks on the scalar units while the vector units work (RFC 8439 §2.5.1).
      for (let b = 0; b < 2 && pending > 0; b++) {
        a0 += u64(load<u32>(m, 0)) & MASK26;
        a1 += u64(load<u32>(m, 3) >>> 2) & MASK26;
        a2 += u64(load<u32>(m, 6) >>> 4) & MASK26;
        a3 += u64(load<u32>(m, 9) >>> 6);
        a4 += u64(load<u32>(m, 12) >>> 8) | (1 << 24);
        const d0 = a0 * R0 + a1 * S4 + a2 * S3 + a3 * S2 + a4 * S1;
        let d1 = a0 * R1 + a1 * R0 + a2 * S4 + a3 * S3 + a4 * S2;
        let d2 = a0 * R2 + a1 * R1 + a2 * R0 + a3 * S4 + a4 * S3;
        let d3 = a0 * R3 + a1 * R2 + a2 * R1 + a3 * R0 + a4 * S4;
        let d4 = a0 * R4 + a1 * R3 + a2 * R2 + a3 * R1 + a4 * R0;
        d1 += d0 >> 26; a0 = d0 & MASK26;
        d2 += d1 >> 26; a1 = d1 & MASK26;
        d3 += d2 >> 26; a2 = d2 & MASK26;
        d4 += d3 >> 26; a3 = d3 & MASK26;
        a0 += (d4 >> 26) * 5; a4 = d4 & MASK26;
        a1 += a0 >> 26; a0 &= MASK26;
        m += 16;
        pending--;
      }
    }
    x0 = i32x4.add(x0, c0); x1 = i32x4.add(x1, c1); x2 = i32x4.add(x2, c2); x3 = i32x4.add(x3, c3);
    x4 = i32x4.add(x4, k0); x5 = i32x4.add(x5, k1); x6 = i32x4.add(x6, k2); x7 = i32x4.add(x7, k3);
    x8 = i32x4.add(x8, k4); x9 = i32x4.add(x9, k5); x10 = i32x4.add(x10, k6); x11 = i32x4.add(x11, k7);
    x12 = i32x4.add(x12, ctr); x13 = i32x4.add(x13, n0); x14 = i32x4.add(x14, n1); x15 = i32x4.add(x15, n2);
    emit4(x0, x1, x2, x3, s, d, 0);
    emit4(x4, x5, x6, x7, s, d, 16);
    emit4(x8, x9, x10, x11, s, d, 32);
    emit4(x12, x13, x14, x15, s, d, 48);
    ctr = i32x4.add(ctr, four);
    s += CHACHA_CHUNK_BYTES;
    d += CHACHA_CHUNK_BYTES;
  }
  store<u64>(st, a0, POLY_H);
  store<u64>(st, a1, POLY_H + 8);
  store<u64>(st, a2, POLY_H + 16);
  store<u64>(st, a3, POLY_H + 24);
  store<u64>(st, a4, POLY_H + 32);
  if (macLeft > 0) polyBlocks(m, macLeft);
}

/** ChaCha20 alone: chachaPolyChunks without MAC blocks. */
export function chachaXorChunks(key: usize, nonce: usize, counter: u32, src: usize, dst: usize, chunks: u32): void {
  chachaPolyChunks(key, nonce, counter, src, dst, chunks, 0, 0, 0);
}
