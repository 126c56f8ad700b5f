import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { fromHex, hex } from '../../src/lib/bytes.ts';
import { Reader, Writer } from '../../src/lib/reader.ts';

describe('Reader', () => {
  it('reads big-endian fields and length-prefixed blocks with sub(len)', () => {
    const r = new Reader(fromHex('01 0203 040506 0708090a 03 aabbcc dd'));
    expect([r.u8(), r.u16(), r.u24(), r.u32()]).toEqual([0x01, 0x0203, 0x040506, 0x0708090a]);
    const block = r.sub(r.u8())!;
    expect(hex(block.rest())).toBe('aabbcc');
    expect(block.done).toBe(true);
    expect(r.left).toBe(1);
    expect(r.done).toBe(false); // a trailing byte
    expect(r.u8()).toBe(0xdd);
    expect(r.done).toBe(true);
  });

  it('sub and take past the end return undefined and consume nothing', () => {
    const r = new Reader(fromHex('0102'));
    expect(r.sub(3)).toBeUndefined();
    expect(r.take(3)).toBeUndefined();
    expect(r.left).toBe(2);
    expect(r.sub(-1)).toBeUndefined();
  });

  it('fixed reads past the end return 0 and set the sticky overrun flag, never throw', () => {
    const r = new Reader(fromHex('01'));
    expect(r.u16()).toBe(0);
    expect(r.overrun).toBe(true);
    expect(r.done).toBe(false);
    expect(r.u8()).toBe(0);
    expect(r.overrun).toBe(true);
  });

  it('a sub-reader is bounded to its block', () => {
    const r = new Reader(fromHex('aa bb cc dd'), 1, 3);
    const s = r.sub(2)!;
    expect(s.u16()).toBe(0xbbcc);
    expect(s.u8()).toBe(0);
    expect(s.overrun).toBe(true);
    expect(hex(r.span(0, 4))).toBe('aabbccdd');
  });

  it('never throws on any input and any read sequence', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 20 }), fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 20 }), (bytes, ops) => {
        const r = new Reader(bytes);
        for (const op of ops) [() => r.u8(), () => r.u16(), () => r.u24(), () => r.u32(), () => r.take(3), () => r.sub(2), () => r.rest()][op]!();
        expect(r.left).toBeGreaterThanOrEqual(0);
      }),
    );
  });
});

describe('Writer', () => {
  it('writes fields, fills in length prefixes, widens a length field in place', () => {
    const w = new Writer(16);
    w.u8(1).u16(0x0203).u24(0x040506).u32(0x0708090a);
    w.lengthPrefixed(2, () => w.bytes(fromHex('aabb')));
    w.lengthPrefixed(1, () => {});
    const at = w.length;
    w.u8(0x11).u8(0x22);
    w.insert(at + 1, 1);
    expect(hex(w.finish())).toBe('0102030405060708090a0002aabb00' + '110022');
  });

  it('grows past its initial capacity', () => {
    const w = new Writer(16);
    for (let i = 0; i < 1000; i++) w.u32(i);
    const out = w.finish();
    expect(out.length).toBe(4000);
    expect(new Reader(out, 3996).u32()).toBe(999);
  });

  it('a value that does not fit its width is the caller bug: RangeError', () => {
    expect(() => new Writer().u8(256)).toThrow(RangeError);
    expect(() => new Writer().u16(-1)).toThrow(RangeError);
    expect(() => new Writer().u32(2 ** 32)).toThrow(RangeError);
    expect(() => new Writer().u8(1.5)).toThrow(RangeError);
    expect(() => new Writer().lengthPrefixed(1, (w) => w.bytes(new Uint8Array(256)))).toThrow(RangeError);
  });
});
