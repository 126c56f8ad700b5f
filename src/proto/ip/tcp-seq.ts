// TCP sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4, RFC 1982 style comparison).
// Pure functions over unsigned 32-bit numbers; never allocates, never throws on peer values.
//
// Comparison is by signed distance: a < b when (a − b) mod 2^32, read as an int32, is negative.
// That is meaningful only for numbers less than 2^31 apart, which TCP windows guarantee.

/** a + n modulo 2^32 (n may be negative). */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/** Signed distance a − b in [−2^31, 2^31). */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

export const seqLt = (a: number, b: number): boolean => seqDiff(a, b) < 0;
export const seqLe = (a: number, b: number): boolean => seqDiff(a, b) <= 0;
export const seqGt = (a: number, b: number): boolean => seqDiff(a, b) > 0;
export const seqGe = (a: number, b: number): boolean => seqDiff(a, b) >= 0;

/** The larger of two sequence numbers under wraparound. */
export const seqMax = (a: number, b: number): number => (seqGe(a, b) ? a : b);

/** lo <= x < hi under wraparound (the window test of RFC 9293 §3.4). */
export function seqInRange(x: number, lo: number, hi: number): boolean {
  return seqLe(lo, x) && seqLt(x, hi);
}
