import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { hex } from '../../../src/lib/bytes.ts';
import { AssertionError } from '../../../src/lib/errors.ts';
import { ByteRing, ReassemblyQueue } from '../../../src/proto/ip/tcp-buffers.ts';
import { seqAdd, seqDiff } from '../../../src/proto/ip/tcp-seq.ts';

describe('ByteRing', () => {
  it('is a bounded FIFO with reads across the wrap', () => {
    const r = new ByteRing(6);
    expect(r.push(Uint8Array.of(1, 2, 3, 4))).toBe(4);
    r.drop(3);
    expect(r.push(Uint8Array.of(5, 6, 7, 8, 9, 10))).toBe(5);
    expect(r.length).toBe(6);
    expect(r.freeBytes).toBe(0);
    expect(hex(r.read(0, 6))).toBe('04050607080' + '9');
    expect(hex(r.read(2, 3))).toBe('060708');
    expect(() => r.read(4, 3)).toThrow(AssertionError);
    expect(() => r.drop(7)).toThrow(AssertionError);
  });

  it('behaves like an array with a cap (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20_000 }),
        fc.array(fc.oneof(fc.uint8Array({ maxLength: 9000 }).map((b) => ({ push: b })), fc.nat().map((n) => ({ drop: n }))), { maxLength: 40 }),
        (cap, ops) => {
          const r = new ByteRing(cap);
          let model: number[] = [];
          for (const op of ops) {
            if ('push' in op) {
              const n = r.push(op.push);
              expect(n).toBe(Math.min(op.push.length, cap - model.length));
              model = model.concat([...op.push.subarray(0, n)]);
            } else {
              const n = model.length === 0 ? 0 : op.drop % (model.length + 1);
              r.drop(n);
              model = model.slice(n);
            }
            expect(r.length).toBe(model.length);
            expect([...r.read(0, r.length)]).toEqual(model);
          }
        },
      ),
    );
  });
});

describe('ReassemblyQueue', () => {
  const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
  const text = (chunks: Uint8Array[]): string => chunks.map((c) => new TextDecoder().decode(c)).join('');

  it('fills holes, trims overlaps, keeps the FIN', () => {
    const q = new ReassemblyQueue(8);
    q.insert(105, bytes('fgh'), false);
    q.insert(103, bytes('defgh'), false); // overlaps the held range
    q.insert(110, bytes(''), true); // bare FIN after 'ij'
    expect(q.size).toBe(3);
    expect(q.take(100)).toEqual({ chunks: [], rcvNxt: 100, fin: false });
    const r = q.take(103);
    expect(text(r.chunks)).toBe('defgh');
    expect(r.rcvNxt).toBe(108);
    expect(r.fin).toBe(false);
    q.insert(108, bytes('ij'), false);
    const s = q.take(108);
    expect([text(s.chunks), s.rcvNxt, s.fin]).toEqual(['ij', 110, true]);
    expect(q.size).toBe(0);
  });

  it('matches a naive byte map for any arrival order, wrapping included (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 1, max: 300 }),
        fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 80 }),
        (base, total, cuts, entriesMax) => {
          const stream = Uint8Array.from({ length: total }, (_, i) => (i * 7 + 3) & 0xff);
          const q = new ReassemblyQueue(entriesMax);
          let rcvNxt = base;
          let got: number[] = [];
          let finSeen = false;
          for (const [a, b] of cuts) {
            const start = a % total;
            const end = Math.min(total, start + 1 + (b % 40));
            const fin = end === total;
            const seq = seqAdd(base, start);
            // The connection hands over only data at or beyond RCV.NXT, in-order data directly.
            const off = seqDiff(rcvNxt, seq);
            if (off >= end - start) continue;
            const data = stream.subarray(start + Math.max(0, off), end);
            const at = seqAdd(seq, Math.max(0, off));
            if (at === rcvNxt) {
              got = got.concat([...data]);
              rcvNxt = seqAdd(rcvNxt, data.length);
              if (fin) finSeen = true;
              if (!fin) {
                const r = q.take(rcvNxt);
                for (const c of r.chunks) got = got.concat([...c]);
                rcvNxt = r.rcvNxt;
                finSeen ||= r.fin;
              }
            } else {
              q.insert(at, data, fin);
            }
            expect(got).toEqual([...stream.subarray(0, got.length)]);
            expect(q.size).toBeLessThanOrEqual(entriesMax);
            expect(q.bytes).toBeLessThanOrEqual(total);
            if (finSeen) break;
          }
          if (finSeen) expect(got.length).toBe(total);
        },
      ),
    );
  });
});
