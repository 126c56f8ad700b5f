import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { fromHex, concat } from '../../../src/lib/bytes.ts';
import { internetChecksum, ipv4PseudoHeaderSum, onesComplementSum } from '../../../src/proto/ip/checksum.ts';

/** Independent reference: fold after every word (RFC 1071 §4.1 "C" loop, byte math, no DataView). */
function refSum(bytes: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < bytes.length; i += 2) {
    s += (bytes[i]! << 8) + (bytes[i + 1] ?? 0);
    s = (s & 0xffff) + (s >>> 16);
  }
  return s;
}

describe('onesComplementSum / internetChecksum', () => {
  it('matches the RFC 1071 §3 numerical example', () => {
    const bytes = fromHex(`
      00 01 f2 03  // words 0x0001 0xf203
      f4 f5 f6 f7  // words 0xf4f5 0xf6f7
    `);
    // RFC 1071: sum 0x2ddf0, folded 0xddf2; the checksum is its complement.
    expect(onesComplementSum(bytes)).toBe(0xddf2);
    expect(internetChecksum(bytes)).toBe(0x220d);
  });

  it('pads an odd trailing byte with zero', () => {
    expect(onesComplementSum(fromHex('01'))).toBe(0x0100);
    expect(onesComplementSum(fromHex('0001 02'))).toBe(0x0201);
  });

  it('is 0 over data that already holds its checksum', () => {
    // The classic IPv4 header with checksum 0xb861.
    expect(internetChecksum(fromHex('4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7'))).toBe(0);
  });

  it('empty input sums to the initial value', () => {
    expect(onesComplementSum(new Uint8Array(0))).toBe(0);
    expect(onesComplementSum(new Uint8Array(0), 0x1234)).toBe(0x1234);
    expect(internetChecksum(new Uint8Array(0))).toBe(0xffff);
  });

  it('folds an initial value wider than 16 bits', () => {
    expect(onesComplementSum(new Uint8Array(0), 0x1_0001)).toBe(0x0002);
  });

  it('handles large buffers without losing carries', () => {
    const ff = new Uint8Array(1 << 20).fill(0xff);
    expect(onesComplementSum(ff)).toBe(0xffff);
    const big = new Uint8Array((1 << 20) + 3);
    for (let i = 0; i < big.length; i++) big[i] = (i * 131 + 7) & 0xff;
    expect(onesComplementSum(big)).toBe(refSum(big));
  });

  it('equals the reference on random bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.integer({ min: 0, max: 0xffff }), (bytes, initial) => {
        const want = refSum(concat(new Uint8Array([initial >> 8, initial & 0xff]), bytes));
        expect(onesComplementSum(bytes, initial)).toBe(want);
        expect(internetChecksum(bytes, initial)).toBe(~want & 0xffff);
      }),
    );
  });

  it('chains partial sums over an even-length prefix (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }), (a0, b) => {
        const a = a0.length % 2 === 0 ? a0 : a0.subarray(1);
        expect(onesComplementSum(b, onesComplementSum(a))).toBe(onesComplementSum(concat(a, b)));
      }),
    );
  });

  it('verifies to 0 once the checksum is stored in the data (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 2, maxLength: 500 }), fc.nat(), (bytes0, at0) => {
        const bytes = bytes0.slice();
        const at = (at0 % (bytes.length >> 1)) * 2;
        bytes[at] = 0;
        bytes[at + 1] = 0;
        const c = internetChecksum(bytes);
        bytes[at] = c >> 8;
        bytes[at + 1] = c & 0xff;
        expect(internetChecksum(bytes)).toBe(0);
      }),
    );
  });

  it('ipv4PseudoHeaderSum sums the 12-byte pseudo-header', () => {
    const pseudo = fromHex(`
      c0a8 0001  // source 192.168.0.1
      c0a8 00c7  // destination 192.168.0.199
      00 11      // zero, protocol 17
      000d       // UDP length 13
    `);
    expect(onesComplementSum(new Uint8Array(0), ipv4PseudoHeaderSum(0xc0a80001, 0xc0a800c7, 17, 13))).toBe(refSum(pseudo));
  });
});
