// The Internet checksum (RFC 1071): the 16-bit one's-complement sum and its complement.
// Pure arithmetic over bytes; never allocates, never mutates its input, never throws on peer bytes.

import { assert } from '../../lib/errors.ts';

/** Words summed between folds: 16384 · 0xffff stays below 2^30, so the sum stays a small integer. */
const FOLD_EVERY_WORDS = 16384;

function fold(sum: number): number {
  // `sum & 0xffff` is exact for any safe integer (ToInt32 keeps the low 32 bits).
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/**
 * The folded 16-bit one's-complement sum of `bytes` read as big-endian 16-bit words (RFC 1071 §4.1),
 * added to `initial` (a previous partial sum, e.g. over a pseudo-header). An odd trailing byte is
 * padded with a zero byte, so when chaining partial sums every chunk but the last must be of even
 * length. Not complemented: use `internetChecksum` for the value that goes on the wire.
 */
export function onesComplementSum(bytes: Uint8Array, initial = 0): number {
  assert(Number.isSafeInteger(initial) && initial >= 0, `onesComplementSum: bad initial ${initial}`);
  let sum = fold(initial);
  const n = bytes.length;
  const even = n & ~1;
  let i = 0;
  while (i < even) {
    const end = Math.min(even, i + 2 * FOLD_EVERY_WORDS);
    for (; i < end; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
    sum = fold(sum);
  }
  if (n & 1) sum = fold(sum + (bytes[n - 1]! << 8));
  return sum;
}

/**
 * The Internet checksum of `bytes` (plus an `initial` partial sum): the complement of the
 * one's-complement sum, ready to store in a header. Over bytes that already contain a correct
 * checksum field the result is 0, which is how receivers verify.
 */
export function internetChecksum(bytes: Uint8Array, initial = 0): number {
  return ~onesComplementSum(bytes, initial) & 0xffff;
}

/**
 * Partial sum over the IPv4 pseudo-header of UDP (RFC 768) and TCP (RFC 9293 §3.1): source address,
 * destination address, a zero byte, the protocol, and the transport length. Feed it as `initial`.
 */
export function ipv4PseudoHeaderSum(srcAddr: number, dstAddr: number, protocol: number, length: number): number {
  const src = srcAddr >>> 0;
  const dst = dstAddr >>> 0;
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + (protocol & 0xff) + (length & 0xffff);
}
