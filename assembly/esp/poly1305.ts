// Poly1305 (RFC 8439 §2.5) with five 26-bit limbs and 64-bit multiplies (the "donna-32" layout).
// Owns one running MAC state in static memory (the module is single-threaded and non-reentrant);
// never allocates. chacha20.ts absorbs blocks into the same state while it generates keystream.
//
// Why 26-bit limbs: WASM's i64.mul returns only the low 64 bits of a product, so the 44-bit-limb
// layout (which needs 88-bit products, i.e. a 64×64→128 multiply) would have to split every
// product into several partial multiplies; with 26-bit limbs each of the 25 limb products per
// block fits in 64 bits as it stands. Constant time: no branch or address depends on the key or
// the message; the final reduction selects with a mask.

const MASK26: u64 = 0x3ffffff;

/**
 * The running state, ten u64: key r (clamped) at POLY_R + 8·i and accumulator h at POLY_H + 8·i,
 * i = 0..4, 26-bit limbs (h limbs may exceed 26 bits by a little between blocks).
 */
export const POLY_STATE: usize = memory.data(80, 16);
export const POLY_R: u32 = 0;
export const POLY_H: u32 = 40;

/** Starts a MAC with the 32-byte one-time key at `key` (r = first 16 bytes, clamped; s = last 16). */
export function polyInit(key: usize): void {
  const st = POLY_STATE;
  store<u64>(st, u64(load<u32>(key, 0)) & 0x3ffffff, 0);
  store<u64>(st, u64(load<u32>(key, 3) >>> 2) & 0x3ffff03, 8);
  store<u64>(st, u64(load<u32>(key, 6) >>> 4) & 0x3ffc0ff, 16);
  store<u64>(st, u64(load<u32>(key, 9) >>> 6) & 0x3f03fff, 24);
  store<u64>(st, u64(load<u32>(key, 12) >>> 8) & 0x00fffff, 32);
  memory.fill(st + POLY_H, 0, 40);
}

/** Absorbs `nblocks` full 16-byte blocks at `m`, each with the 2^128 bit set (RFC 8439 §2.5.1). */
export function polyBlocks(m: usize, nblocks: u32): void {
  const st = POLY_STATE;
  const R0 = load<u64>(st, 0), R1 = load<u64>(st, 8), R2 = load<u64>(st, 16), R3 = load<u64>(st, 24), R4 = load<u64>(st, 32);
  const S1 = R1 * 5, S2 = R2 * 5, S3 = R3 * 5, S4 = R4 * 5;
  let a0 = load<u64>(st, 40), a1 = load<u64>(st, 48), a2 = load<u64>(st, 56), a3 = load<u64>(st, 64), a4 = load<u64>(st, 72);
  let p = m;
  for (let i: u32 = 0; i < nblocks; i++) {
    a0 += u64(load<u32>(p, 0)) & MASK26;
    a1 += u64(load<u32>(p, 3) >>> 2) & MASK26;
    a2 += u64(load<u32>(p, 6) >>> 4) & MASK26;
    a3 += u64(load<u32>(p, 9) >>> 6);
    a4 += u64(load<u32>(p, 12) >>> 8) | (1 << 24); // (p, 9) >>> 6 above is exactly 26 bits
    const d0 = a0 * R0 + a1 * S4 + a2 * S3 + a3 * S2 + a4 * S1;
    let d1 = a0 * R1 + a1 * R0 + a2 * S4 + a3 * S3 + a4 * S2;
    let d2 = a0 * R2 + a1 * R1 + a2 * R0 + a3 * S4 + a4 * S3;
    let d3 = a0 * R3 + a1 * R2 + a2 * R1 + a3 * R0 + a4 * S4;
    let d4 = a0 * R4 + a1 * R3 + a2 * R2 + a3 * R1 + a4 * R0;
    d1 += d0 >> 26;
    a0 = d0 & MASK26;
    d2 += d1 >> 26;
    a1 = d1 & MASK26;
    d3 += d2 >> 26;
    a2 = d2 & MASK26;
    d4 += d3 >> 26;
    a3 = d3 & MASK26;
    a0 += (d4 >> 26) * 5;
    a4 = d4 & MASK26;
    a1 += a0 >> 26;
    a0 &= MASK26;
    p += 16;
  }
  store<u64>(st, a0, 40);
  store<u64>(st, a1, 48);
  store<u64>(st, a2, 56);
  store<u64>(st, a3, 64);
  store<u64>(st, a4, 72);
}

/** Finishes the MAC: tag = (h mod 2^130 − 5) + s mod 2^128, 16 bytes little-endian to `out`. */
export function polyFinish(key: usize, out: usize): void {
  const st = POLY_STATE;
  let a0 = load<u64>(st, 40), a1 = load<u64>(st, 48), a2 = load<u64>(st, 56), a3 = load<u64>(st, 64), a4 = load<u64>(st, 72);
  // Full carry, twice: after one pass a1 may still be exactly 2^26.
  for (let pass = 0; pass < 2; pass++) {
    a2 += a1 >> 26; a1 &= MASK26;
    a3 += a2 >> 26; a2 &= MASK26;
    a4 += a3 >> 26; a3 &= MASK26;
    a0 += (a4 >> 26) * 5; a4 &= MASK26;
    a1 += a0 >> 26; a0 &= MASK26;
  }
  // g = h + 5 − 2^130; use it if it did not go negative (h ≥ p).
  let g0 = a0 + 5;
  let g1 = a1 + (g0 >> 26); g0 &= MASK26;
  let g2 = a2 + (g1 >> 26); g1 &= MASK26;
  let g3 = a3 + (g2 >> 26); g2 &= MASK26;
  let g4 = a4 + (g3 >> 26) - (u64(1) << 26); g3 &= MASK26;
  const useG = (g4 >> 63) - 1; // all ones when g4 ≥ 0
  const keepH = ~useG;
  a0 = (a0 & keepH) | (g0 & useG);
  a1 = (a1 & keepH) | (g1 & useG);
  a2 = (a2 & keepH) | (g2 & useG);
  a3 = (a3 & keepH) | (g3 & useG);
  a4 = (a4 & keepH) | ((g4 & MASK26) & useG);
  // h mod 2^128 as four 32-bit words, plus s.
  const w0 = (a0 | (a1 << 26)) & 0xffffffff;
  const w1 = ((a1 >> 6) | (a2 << 20)) & 0xffffffff;
  const w2 = ((a2 >> 12) | (a3 << 14)) & 0xffffffff;
  const w3 = ((a3 >> 18) | (a4 << 8)) & 0xffffffff;
  let f = w0 + u64(load<u32>(key, 16));
  store<u32>(out, u32(f), 0);
  f = w1 + u64(load<u32>(key, 20)) + (f >> 32);
  store<u32>(out, u32(f), 4);
  f = w2 + u64(load<u32>(key, 24)) + (f >> 32);
  store<u32>(out, u32(f), 8);
  f = w3 + u64(load<u32>(key, 28)) + (f >> 32);
  store<u32>(out, u32(f), 12);
  memory.fill(st, 0, 80); // r and h are key-derived
}
