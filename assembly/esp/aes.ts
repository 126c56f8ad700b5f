// AES-128/256 encryption (FIPS 197), bitsliced over eight blocks in eight v128 registers, in CTR
// mode for GCM. Owns the key schedule layout and the cipher; never allocates. Only encryption
// exists here: CTR and GHASH never need the inverse cipher.
//
// Constant time, by construction: no table lookups at all. The eight blocks are transposed
// ("orthogonalised") so that register i holds bit i of every byte of all eight blocks — in byte
// lane p of register i, bit k is bit i of byte p of block k. SubBytes is then the 113-gate
// Boyar–Peralta circuit (32 AND, 81 XOR/XNOR; https://eprint.iacr.org/2009/191) on whole
// registers, ShiftRows is a constant byte shuffle, the column rotations of MixColumns are 32-bit
// lane rotations (shifts, and a 16-bit word swap), and the key is applied with XOR. The key schedule's SubWord uses a scalar S-box
// computed as x^254 in GF(2^8) with masked (branch-free) multiplies, so installing a key leaks
// nothing through the cache either. The circuit's four NOTs (the 0x63 of the affine map) are
// folded into round keys 1..Nr: MixColumns maps a column of four equal bytes c to itself, so the
// missing constant reaches the round key unchanged.
//
// Why bitsliced and not T-tables: measured here (node 20, this 2-core EPYC; index.ts has the table)
// the bitsliced kernel makes 490–520 MB/s of AES-128 keystream, a straightforward T-table AES 129:
// the tables need 16 loads, 16 byte extracts and 16 XORs per round per block, all scalar, and they
// leak key- and data-dependent indices through the cache. Cost of bitslicing: eight blocks are
// always computed together (a 64-byte packet uses six of them).

/** Bytes of one bitsliced round key: eight v128 planes. */
export const AES_RK_BYTES: u32 = 128;
/** Bytes of the largest bitsliced key schedule (AES-256: 15 round keys). */
export const AES_SCHEDULE_BYTES: u32 = 15 * AES_RK_BYTES;
/** Bytes the eight-block kernel reads and writes per batch. */
export const AES_BATCH_BYTES: u32 = 128;

/** Expanded key words (at most 60) for the key schedule; scratch, wiped after use. */
const KEY_WORDS: usize = memory.data(256, 16);

// @ts-ignore: decorator
@inline
function shiftRows(x: v128): v128 {
  return i8x16.shuffle(x, x, 0, 5, 10, 15, 4, 9, 14, 3, 8, 13, 2, 7, 12, 1, 6, 11);
}

/**
 * Rotates each column up by one byte (lane 4c+r takes lane 4c+(r+1)%4): a 32-bit rotate, as shifts,
 * because V8 (node 20) rebuilds the mask of every byte shuffle from immediates (4 extra instructions).
 */
// @ts-ignore: decorator
@inline
function rot1(x: v128): v128 {
  return v128.or(i32x4.shr_u(x, 8), i32x4.shl(x, 24));
}

/** Rotates each column by two bytes (a 16-bit word swap: pshuflw + pshufhw). */
// @ts-ignore: decorator
@inline
function rot2(x: v128): v128 {
  return i8x16.shuffle(x, x, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
}

/**
 * AES-CTR over `batches` × 128 bytes (eight counter blocks per batch: the 12 bytes at `noncePtr`,
 * then counter, counter+1, … big-endian, SP 800-38D's inc32) with the bitsliced schedule at `rk`
 * (`nr` rounds: 10 or 14): dst = src ^ keystream (src == dst allowed, else no overlap; an
 * all-zero src gives the raw keystream).
 */
export function aesCtr(rk: usize, nr: u32, noncePtr: usize, counter: u32, src: usize, dst: usize, batches: u32): void {
  const m55 = i8x16.splat(0x55);
  const m33 = i8x16.splat(0x33);
  const m0f = i8x16.splat(0x0f);
  const nonce = i32x4.replace_lane(v128.load64_zero(noncePtr), 2, load<u32>(noncePtr, 8));
  let ctr = counter;
  let s = src;
  let d = dst;
  for (let b: u32 = 0; b < batches; b++) {
    let q0 = i32x4.replace_lane(nonce, 3, bswap<u32>(ctr));
    let q1 = i32x4.replace_lane(nonce, 3, bswap<u32>(ctr + 1));
    let q2 = i32x4.replace_lane(nonce, 3, bswap<u32>(ctr + 2));
    let q3 = i32x4.replace_lane(nonce, 3, bswap<u32>(ctr + 3));
    let q4 = i32x4.replace_lane(nonce, 3, bswap<u32>(ctr + 4));
    let q5 = i32x4.replace_lane(nonce, 3, bswap<u32>(ctr + 5));
    let q6 = i32x4.replace_lane(nonce, 3, bswap<u32>(ctr + 6));
    let q7 = i32x4.replace_lane(nonce, 3, bswap<u32>(ctr + 7));
    let t: v128;
    // Orthogonalise: an 8×8 bit transpose in every byte lane (swap-moves at distances 1, 2, 4).
    t = v128.and(v128.xor(i64x2.shr_u(q0, 1), q1), m55); q1 = v128.xor(q1, t); q0 = v128.xor(q0, i64x2.shl(t, 1));
    t = v128.and(v128.xor(i64x2.shr_u(q2, 1), q3), m55); q3 = v128.xor(q3, t); q2 = v128.xor(q2, i64x2.shl(t, 1));
    t = v128.and(v128.xor(i64x2.shr_u(q4, 1), q5), m55); q5 = v128.xor(q5, t); q4 = v128.xor(q4, i64x2.shl(t, 1));
    t = v128.and(v128.xor(i64x2.shr_u(q6, 1), q7), m55); q7 = v128.xor(q7, t); q6 = v128.xor(q6, i64x2.shl(t, 1));
    t = v128.and(v128.xor(i64x2.shr_u(q0, 2), q2), m33); q2 = v128.xor(q2, t); q0 = v128.xor(q0, i64x2.shl(t, 2));
    t = v128.and(v128.xor(i64x2.shr_u(q1, 2), q3), m33); q3 = v128.xor(q3, t); q1 = v128.xor(q1, i64x2.shl(t, 2));
    t = v128.and(v128.xor(i64x2.shr_u(q4, 2), q6), m33); q6 = v128.xor(q6, t); q4 = v128.xor(q4, i64x2.shl(t, 2));
    t = v128.and(v128.xor(i64x2.shr_u(q5, 2), q7), m33); q7 = v128.xor(q7, t); q5 = v128.xor(q5, i64x2.shl(t, 2));
    t = v128.and(v128.xor(i64x2.shr_u(q0, 4), q4), m0f); q4 = v128.xor(q4, t); q0 = v128.xor(q0, i64x2.shl(t, 4));
    t = v128.and(v128.xor(i64x2.shr_u(q1, 4), q5), m0f); q5 = v128.xor(q5, t); q1 = v128.xor(q1, i64x2.shl(t, 4));
    t = v128.and(v128.xor(i64x2.shr_u(q2, 4), q6), m0f); q6 = v128.xor(q6, t); q2 = v128.xor(q2, i64x2.shl(t, 4));
    t = v128.and(v128.xor(i64x2.shr_u(q3, 4), q7), m0f); q7 = v128.xor(q7, t); q3 = v128.xor(q3, i64x2.shl(t, 4));
    // AddRoundKey 0.
    q0 = v128.xor(q0, v128.load(rk, 0));
    q1 = v128.xor(q1, v128.load(rk, 16));
    q2 = v128.xor(q2, v128.load(rk, 32));
    q3 = v128.xor(q3, v128.load(rk, 48));
    q4 = v128.xor(q4, v128.load(rk, 64));
    q5 = v128.xor(q5, v128.load(rk, 80));
    q6 = v128.xor(q6, v128.load(rk, 96));
    q7 = v128.xor(q7, v128.load(rk, 112));
    let k = rk + AES_RK_BYTES;
    for (let r: u32 = 1; r <= nr; r++) {
      {
        // SubBytes: Boyar–Peralta, inputs u0 = bit 7 … u7 = bit 0, outputs s0 = bit 7 … s7 = bit 0,
        // without the NOTs on s1, s2, s6, s7 (folded into the round keys).
        const u0 = q7, u1 = q6, u2 = q5, u3 = q4, u4 = q3, u5 = q2, u6 = q1, u7 = q0;
        const y14 = v128.xor(u3, u5);
        const y13 = v128.xor(u0, u6);
        const y9 = v128.xor(u0, u3);
        const y8 = v128.xor(u0, u5);
        const t0 = v128.xor(u1, u2);
        const y1 = v128.xor(t0, u7);
        const y4 = v128.xor(y1, u3);
        const y12 = v128.xor(y13, y14);
        const y2 = v128.xor(y1, u0);
        const y5 = v128.xor(y1, u6);
        const y3 = v128.xor(y5, y8);
        const t1 = v128.xor(u4, y12);
        const y15 = v128.xor(t1, u5);
        const y20 = v128.xor(t1, u1);
        const y6 = v128.xor(y15, u7);
        const y10 = v128.xor(y15, t0);
        const y11 = v128.xor(y20, y9);
        const y7 = v128.xor(u7, y11);
        const y17 = v128.xor(y10, y11);
        const y19 = v128.xor(y10, y8);
        const y16 = v128.xor(t0, y11);
        const y21 = v128.xor(y13, y16);
        const y18 = v128.xor(u0, y16);
        const t2 = v128.and(y12, y15);
        const t3 = v128.and(y3, y6);
        const t4 = v128.xor(t3, t2);
        const t5 = v128.and(y4, u7);
        const t6 = v128.xor(t5, t2);
        const t7 = v128.and(y13, y16);
        const t8 = v128.and(y5, y1);
        const t9 = v128.xor(t8, t7);
        const t10 = v128.and(y2, y7);
        const t11 = v128.xor(t10, t7);
        const t12 = v128.and(y9, y11);
        const t13 = v128.and(y14, y17);
        const t14 = v128.xor(t13, t12);
        const t15 = v128.and(y8, y10);
        const t16 = v128.xor(t15, t12);
        const t17 = v128.xor(t4, t14);
        const t18 = v128.xor(t6, t16);
        const t19 = v128.xor(t9, t14);
        const t20 = v128.xor(t11, t16);
        const t21 = v128.xor(t17, y20);
        const t22 = v128.xor(t18, y19);
        const t23 = v128.xor(t19, y21);
        const t24 = v128.xor(t20, y18);
        const t25 = v128.xor(t21, t22);
        const t26 = v128.and(t21, t23);
        const t27 = v128.xor(t24, t26);
        const t28 = v128.and(t25, t27);
        const t29 = v128.xor(t28, t22);
        const t30 = v128.xor(t23, t24);
        const t31 = v128.xor(t22, t26);
        const t32 = v128.and(t31, t30);
        const t33 = v128.xor(t32, t24);
        const t34 = v128.xor(t23, t33);
        const t35 = v128.xor(t27, t33);
        const t36 = v128.and(t24, t35);
        const t37 = v128.xor(t36, t34);
        const t38 = v128.xor(t27, t36);
        const t39 = v128.and(t29, t38);
        const t40 = v128.xor(t25, t39);
        const t41 = v128.xor(t40, t37);
        const t42 = v128.xor(t29, t33);
        const t43 = v128.xor(t29, t40);
        const t44 = v128.xor(t33, t37);
        const t45 = v128.xor(t42, t41);
        const z0 = v128.and(t44, y15);
        const z1 = v128.and(t37, y6);
        const z2 = v128.and(t33, u7);
        const z3 = v128.and(t43, y16);
        const z4 = v128.and(t40, y1);
        const z5 = v128.and(t29, y7);
        const z6 = v128.and(t42, y11);
        const z7 = v128.and(t45, y17);
        const z8 = v128.and(t41, y10);
        const z9 = v128.and(t44, y12);
        const z10 = v128.and(t37, y3);
        const z11 = v128.and(t33, y4);
        const z12 = v128.and(t43, y13);
        const z13 = v128.and(t40, y5);
        const z14 = v128.and(t29, y2);
        const z15 = v128.and(t42, y9);
        const z16 = v128.and(t45, y14);
        const z17 = v128.and(t41, y8);
        const t46 = v128.xor(z15, z16);
        const t47 = v128.xor(z10, z11);
        const t48 = v128.xor(z5, z13);
        const t49 = v128.xor(z9, z10);
        const t50 = v128.xor(z2, z12);
        const t51 = v128.xor(z2, z5);
        const t52 = v128.xor(z7, z8);
        const t53 = v128.xor(z0, z3);
        const t54 = v128.xor(z6, z7);
        const t55 = v128.xor(z16, z17);
        const t56 = v128.xor(z12, t48);
        const t57 = v128.xor(t50, t53);
        const t58 = v128.xor(z4, t46);
        const t59 = v128.xor(z3, t54);
        const t60 = v128.xor(t46, t57);
        const t61 = v128.xor(z14, t57);
        const t62 = v128.xor(t52, t58);
        const t63 = v128.xor(t49, t58);
        const t64 = v128.xor(z4, t59);
        const t65 = v128.xor(t61, t62);
        const t66 = v128.xor(z1, t63);
        const s0 = v128.xor(t59, t63);
        const s6 = v128.xor(t56, t62);
        const s7 = v128.xor(t48, t60);
        const t67 = v128.xor(t64, t65);
        const s3 = v128.xor(t53, t66);
        const s4 = v128.xor(t51, t66);
        const s5 = v128.xor(t47, t65);
        const s1 = v128.xor(t64, s3);
        const s2 = v128.xor(t55, t67);
        q7 = s0; q6 = s1; q5 = s2; q4 = s3; q3 = s4; q2 = s5; q1 = s6; q0 = s7;
      }
      if (r < nr) {
        // ShiftRows and MixColumns: out = rot1(a) ^ rot2(a ^ rot1(a)) ^ xtime(a ^ rot1(a)), a = ShiftRows(q).
        const a0 = shiftRows(q0), a1 = shiftRows(q1), a2 = shiftRows(q2), a3 = shiftRows(q3);
        const a4 = shiftRows(q4), a5 = shiftRows(q5), a6 = shiftRows(q6), a7 = shiftRows(q7);
        const c0 = rot1(a0), c1 = rot1(a1), c2 = rot1(a2), c3 = rot1(a3);
        const c4 = rot1(a4), c5 = rot1(a5), c6 = rot1(a6), c7 = rot1(a7);
        const t0 = v128.xor(a0, c0), t1 = v128.xor(a1, c1), t2 = v128.xor(a2, c2), t3 = v128.xor(a3, c3);
        const t4 = v128.xor(a4, c4), t5 = v128.xor(a5, c5), t6 = v128.xor(a6, c6), t7 = v128.xor(a7, c7);
        // xtime on bit planes: x^8 = x^4 + x^3 + x + 1 (0x11b).
        q0 = v128.xor(v128.xor(c0, rot2(t0)), t7);
        q1 = v128.xor(v128.xor(c1, rot2(t1)), v128.xor(t0, t7));
        q2 = v128.xor(v128.xor(c2, rot2(t2)), t1);
        q3 = v128.xor(v128.xor(c3, rot2(t3)), v128.xor(t2, t7));
        q4 = v128.xor(v128.xor(c4, rot2(t4)), v128.xor(t3, t7));
        q5 = v128.xor(v128.xor(c5, rot2(t5)), t4);
        q6 = v128.xor(v128.xor(c6, rot2(t6)), t5);
        q7 = v128.xor(v128.xor(c7, rot2(t7)), t6);
      } else {
        q0 = shiftRows(q0); q1 = shiftRows(q1); q2 = shiftRows(q2); q3 = shiftRows(q3);
        q4 = shiftRows(q4); q5 = shiftRows(q5); q6 = shiftRows(q6); q7 = shiftRows(q7);
      }
      q0 = v128.xor(q0, v128.load(k, 0));
      q1 = v128.xor(q1, v128.load(k, 16));
      q2 = v128.xor(q2, v128.load(k, 32));
      q3 = v128.xor(q3, v128.load(k, 48));
      q4 = v128.xor(q4, v128.load(k, 64));
      q5 = v128.xor(q5, v128.load(k, 80));
      q6 = v128.xor(q6, v128.load(k, 96));
      q7 = v128.xor(q7, v128.load(k, 112));
      k += AES_RK_BYTES;
    }
    // Back to eight blocks: the transpose is its own inverse.
    t = v128.and(v128.xor(i64x2.shr_u(q0, 1), q1), m55); q1 = v128.xor(q1, t); q0 = v128.xor(q0, i64x2.shl(t, 1));
    t = v128.and(v128.xor(i64x2.shr_u(q2, 1), q3), m55); q3 = v128.xor(q3, t); q2 = v128.xor(q2, i64x2.shl(t, 1));
    t = v128.and(v128.xor(i64x2.shr_u(q4, 1), q5), m55); q5 = v128.xor(q5, t); q4 = v128.xor(q4, i64x2.shl(t, 1));
    t = v128.and(v128.xor(i64x2.shr_u(q6, 1), q7), m55); q7 = v128.xor(q7, t); q6 = v128.xor(q6, i64x2.shl(t, 1));
    t = v128.and(v128.xor(i64x2.shr_u(q0, 2), q2), m33); q2 = v128.xor(q2, t); q0 = v128.xor(q0, i64x2.shl(t, 2));
    t = v128.and(v128.xor(i64x2.shr_u(q1, 2), q3), m33); q3 = v128.xor(q3, t); q1 = v128.xor(q1, i64x2.shl(t, 2));
    t = v128.and(v128.xor(i64x2.shr_u(q4, 2), q6), m33); q6 = v128.xor(q6, t); q4 = v128.xor(q4, i64x2.shl(t, 2));
    t = v128.and(v128.xor(i64x2.shr_u(q5, 2), q7), m33); q7 = v128.xor(q7, t); q5 = v128.xor(q5, i64x2.shl(t, 2));
    t = v128.and(v128.xor(i64x2.shr_u(q0, 4), q4), m0f); q4 = v128.xor(q4, t); q0 = v128.xor(q0, i64x2.shl(t, 4));
    t = v128.and(v128.xor(i64x2.shr_u(q1, 4), q5), m0f); q5 = v128.xor(q5, t); q1 = v128.xor(q1, i64x2.shl(t, 4));
    t = v128.and(v128.xor(i64x2.shr_u(q2, 4), q6), m0f); q6 = v128.xor(q6, t); q2 = v128.xor(q2, i64x2.shl(t, 4));
    t = v128.and(v128.xor(i64x2.shr_u(q3, 4), q7), m0f); q7 = v128.xor(q7, t); q3 = v128.xor(q3, i64x2.shl(t, 4));
    // Load the whole batch before storing any of it: src == dst is allowed.
    const i0 = v128.load(s, 0), i1 = v128.load(s, 16), i2 = v128.load(s, 32), i3 = v128.load(s, 48);
    const i4 = v128.load(s, 64), i5 = v128.load(s, 80), i6 = v128.load(s, 96), i7 = v128.load(s, 112);
    v128.store(d, v128.xor(i0, q0), 0);
    v128.store(d, v128.xor(i1, q1), 16);
    v128.store(d, v128.xor(i2, q2), 32);
    v128.store(d, v128.xor(i3, q3), 48);
    v128.store(d, v128.xor(i4, q4), 64);
    v128.store(d, v128.xor(i5, q5), 80);
    v128.store(d, v128.xor(i6, q6), 96);
    v128.store(d, v128.xor(i7, q7), 112);
    ctr += 8;
    s += AES_BATCH_BYTES;
    d += AES_BATCH_BYTES;
  }
}

/** GF(2^8) product modulo x^8 + x^4 + x^3 + x + 1, branch-free (masks instead of ifs). */
function gfMul(a: u32, b: u32): u32 {
  let p: u32 = 0;
  let x = a;
  let y = b;
  for (let i = 0; i < 8; i++) {
    p ^= x & (0 - (y & 1));
    x = ((x << 1) ^ (0x1b & (0 - (x >> 7)))) & 0xff;
    y >>= 1;
  }
  return p;
}

// @ts-ignore: decorator
@inline
function rotl8(x: u32, n: u32): u32 {
  return ((x << n) | (x >> (8 - n))) & 0xff;
}

/** The AES S-box without tables: inverse as x^254 (0 ↦ 0), then the affine map (FIPS 197 §5.1.1). */
function sboxScalar(x: u32): u32 {
  let sq = gfMul(x, x); // x^2
  let inv = sq;
  for (let i = 0; i < 6; i++) {
    sq = gfMul(sq, sq); // x^4, x^8, …, x^128
    inv = gfMul(inv, sq);
  }
  return inv ^ rotl8(inv, 1) ^ rotl8(inv, 2) ^ rotl8(inv, 3) ^ rotl8(inv, 4) ^ 0x63;
}

/** SubWord on a word whose byte 0 is the first byte (little-endian load of four key bytes). */
function subWord(w: u32): u32 {
  return sboxScalar(w & 0xff) | (sboxScalar((w >> 8) & 0xff) << 8) | (sboxScalar((w >> 16) & 0xff) << 16) | (sboxScalar(w >>> 24) << 24);
}

/**
 * Expands the `keyBytes`-byte key (16 or 32) at `key` into the bitsliced schedule at `rk`
 * (AES_SCHEDULE_BYTES bytes; round key r at rk + 128·r, plane i = 0x00/0xff bytes from bit i of
 * each key byte; planes 0, 1, 5, 6 of rounds ≥ 1 inverted, see the header). Returns the rounds.
 */
export function aesExpandKey(key: usize, keyBytes: u32, rk: usize): u32 {
  const nk = keyBytes >> 2;
  const nr: u32 = nk == 8 ? 14 : 10;
  const words = (nr + 1) << 2;
  for (let i: u32 = 0; i < nk; i++) store<u32>(KEY_WORDS + (i << 2), load<u32>(key + (i << 2)));
  let rcon: u32 = 1;
  for (let i = nk; i < words; i++) {
    let w = load<u32>(KEY_WORDS + ((i - 1) << 2));
    if (i % nk == 0) {
      w = subWord(rotr<u32>(w, 8)) ^ rcon; // RotWord: bytes [1,2,3,0]
      rcon = ((rcon << 1) ^ (0x1b & (0 - (rcon >> 7)))) & 0xff;
    } else if (nk > 6 && i % nk == 4) {
      w = subWord(w);
    }
    store<u32>(KEY_WORDS + (i << 2), w ^ load<u32>(KEY_WORDS + ((i - nk) << 2)));
  }
  const zero = i8x16.splat(0);
  const ones = i8x16.splat(-1);
  for (let r: u32 = 0; r <= nr; r++) {
    const v = v128.load(KEY_WORDS + (r << 4));
    const out = rk + r * AES_RK_BYTES;
    for (let i: u32 = 0; i < 8; i++) {
      let plane = i8x16.ne(v128.and(v, i32x4.splat(0x01010101 << i)), zero);
      // The S-box's affine constant 0x63 (bits 0, 1, 5, 6) moves into the keys of rounds 1..Nr.
      if (r > 0 && ((0x63 >> i) & 1) != 0) plane = v128.xor(plane, ones);
      v128.store(out + (i << 4), plane);
    }
  }
  memory.fill(KEY_WORDS, 0, 256);
  return nr;
}
