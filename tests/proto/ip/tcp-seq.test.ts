import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { seqAdd, seqDiff, seqGe, seqGt, seqInRange, seqLe, seqLt, seqMax } from '../../../src/proto/ip/tcp-seq.ts';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const near = fc.integer({ min: -(2 ** 31) + 1, max: 2 ** 31 - 1 });

describe('sequence arithmetic modulo 2^32 (RFC 9293 §3.4)', () => {
  it('wraps', () => {
    expect(seqAdd(0xffffffff, 1)).toBe(0);
    expect(seqAdd(0xfffffff0, 0x20)).toBe(0x10);
    expect(seqAdd(5, -10)).toBe(0xfffffffb);
    expect(seqDiff(0x10, 0xfffffff0)).toBe(0x20);
    expect(seqDiff(0xfffffff0, 0x10)).toBe(-0x20);
    expect(seqLt(0xfffffff0, 0x10)).toBe(true);
    expect(seqGt(0x10, 0xfffffff0)).toBe(true);
    expect(seqMax(0xfffffff0, 0x10)).toBe(0x10);
    expect(seqInRange(2, 0xfffffffe, 5)).toBe(true);
    expect(seqInRange(5, 0xfffffffe, 5)).toBe(false);
    expect(seqInRange(0xfffffffe, 0xfffffffe, 5)).toBe(true);
  });

  it('a + d compares to a as d compares to 0 (property)', () => {
    fc.assert(
      fc.property(u32, near, (a, d) => {
        const b = seqAdd(a, d);
        expect(b).toBeGreaterThanOrEqual(0);
        expect(b).toBeLessThanOrEqual(0xffffffff);
        expect(seqDiff(b, a)).toBe(d);
        expect(seqLt(a, b)).toBe(d > 0);
        expect(seqLe(a, b)).toBe(d >= 0);
        expect(seqGt(a, b)).toBe(d < 0);
        expect(seqGe(a, b)).toBe(d <= 0);
      }),
    );
  });
});
