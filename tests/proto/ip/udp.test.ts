import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { fromHex, hex, concat } from '../../../src/lib/bytes.ts';
import { AssertionError } from '../../../src/lib/errors.ts';
import { parseIpv4 } from '../../../src/lib/addr.ts';
import { IP_ERROR } from '../../../src/proto/ip/ipv4.ts';
import { decodeUdp, encodeUdp, type UdpDatagram } from '../../../src/proto/ip/udp.ts';

const ip = (s: string): number => parseIpv4(s)!;

/** Independent reference: checksum over the RFC 768 pseudo-header (as bytes) + datagram, 0 sent as 0xffff. */
function refUdpChecksum(src: number, dst: number, datagram: Uint8Array): number {
  const pseudo = new Uint8Array(12);
  const dv = new DataView(pseudo.buffer);
  dv.setUint32(0, src);
  dv.setUint32(4, dst);
  pseudo[9] = 17;
  dv.setUint16(10, datagram.length);
  const all = concat(pseudo, datagram);
  let s = 0;
  for (let i = 0; i < all.length; i += 2) {
    s += (all[i]! << 8) + (all[i + 1] ?? 0);
    s = (s & 0xffff) + (s >>> 16);
  }
  const c = ~s & 0xffff;
  return c === 0 ? 0xffff : c;
}

const A = ip('192.168.0.1');
const B = ip('192.168.0.199');
const H1 = ip('10.0.0.1');
const H2 = ip('10.0.0.2');

// Sums worked by hand: pseudo c0a8+0001+c0a8+00c7+0011+000d = 0x18236, header 0400+0035+000d = 0x0442,
// data 6865+6c6c+6f00 = 0x143d1; total 0x2ca49 → fold 0xca4b → complement 0x35b4.
const HELLO = fromHex(`
  0400   // source port 1024
  0035   // destination port 53
  000d   // length 13
  35b4   // checksum
  68656c6c6f // "hello"
`);
const ODD = fromHex(`
  01f4 01f4 000b 238b  // 500 → 500, length 11, checksum 0x238b (10.0.0.1 → 10.0.0.2)
  616263               // "abc" (odd: padded with a zero byte for the sum only)
`);
// Payload chosen so the computed checksum is 0, which RFC 768 sends as all ones.
const ZERO_SUM = fromHex(`
  1194 1194 000a ffff  // 4500 → 4500, length 10, checksum computed 0x0000 sent as 0xffff
  c8af
`);

const datagramArb: fc.Arbitrary<UdpDatagram> = fc.record({
  srcPort: fc.integer({ min: 0, max: 0xffff }),
  dstPort: fc.integer({ min: 0, max: 0xffff }),
  payload: fc.uint8Array({ maxLength: 300 }),
});
const addrArb = fc.integer({ min: 0, max: 0xffffffff });

describe('decodeUdp', () => {
  it('decodes the hand-computed fixture', () => {
    const r = decodeUdp(HELLO, A, B);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.srcPort).toBe(1024);
    expect(r.value.dstPort).toBe(53);
    expect(new TextDecoder().decode(r.value.payload)).toBe('hello');
  });

  it('decodes odd lengths and an all-ones checksum', () => {
    expect(decodeUdp(ODD, H1, H2).ok).toBe(true);
    const r = decodeUdp(ZERO_SUM, H1, H2);
    expect(r.ok && hex(r.value.payload)).toBe('c8af');
  });

  it('accepts checksum 0 as "none" without verifying', () => {
    const none = concat(fromHex('0400 0035 000d 0000'), HELLO.subarray(8));
    expect(decodeUdp(none, A, B).ok).toBe(true);
    expect(decodeUdp(none, H1, H2).ok).toBe(true);
  });

  it('ignores bytes beyond Length', () => {
    const r = decodeUdp(concat(HELLO, fromHex('0000')), A, B);
    expect(r.ok && hex(r.value.payload)).toBe('68656c6c6f');
  });

  const malformed: Array<[string, Uint8Array, number, number, string, string]> = [
    ['empty', new Uint8Array(0), A, B, IP_ERROR.TRUNCATED, 'udp.header'],
    ['7 bytes', HELLO.subarray(0, 7), A, B, IP_ERROR.TRUNCATED, 'udp.header'],
    ['length 7', fromHex('0400 0035 0007 0000'), A, B, IP_ERROR.BAD_LENGTH, 'udp.length'],
    ['length 0', fromHex('0400 0035 0000 0000'), A, B, IP_ERROR.BAD_LENGTH, 'udp.length'],
    ['length beyond bytes', HELLO.subarray(0, 12), A, B, IP_ERROR.TRUNCATED, 'udp.length'],
    ['bad checksum', concat(fromHex('0400 0035 000d 35b5'), HELLO.subarray(8)), A, B, IP_ERROR.BAD_CHECKSUM, 'udp.checksum'],
    ['wrong source address (pseudo-header)', HELLO, ip('192.168.0.2'), B, IP_ERROR.BAD_CHECKSUM, 'udp.checksum'],
    ['wrong destination address (pseudo-header)', HELLO, A, ip('192.168.1.199'), IP_ERROR.BAD_CHECKSUM, 'udp.checksum'],
    ['corrupted payload', concat(HELLO.subarray(0, 12), fromHex('70')), A, B, IP_ERROR.BAD_CHECKSUM, 'udp.checksum'],
  ];
  for (const [name, bytes, src, dst, code, field] of malformed) {
    it(`rejects ${name} naming ${field}`, () => {
      const r = decodeUdp(bytes, src, dst);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.error.code).toBe(code);
      expect(r.error.field).toBe(field);
    });
  }

  it('never throws on arbitrary bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), addrArb, addrArb, (bytes, s, d) => {
        const r = decodeUdp(bytes, s, d);
        if (!r.ok) expect(r.error.field).toMatch(/^udp\./);
      }),
    );
  });

  it('detects any single-bit flip in ports or payload (property)', () => {
    fc.assert(
      fc.property(datagramArb, addrArb, addrArb, fc.nat(), (d, s, t, bit0) => {
        const bytes = encodeUdp(d, s, t).slice();
        const bits = [...Array(bytes.length * 8).keys()].filter((b) => b < 32 || b >= 64);
        const bit = bits[bit0 % bits.length]!;
        bytes[bit >> 3]! ^= 0x80 >> (bit & 7);
        expect(decodeUdp(bytes, s, t).ok).toBe(false);
      }),
    );
  });
});

describe('encodeUdp', () => {
  it('reproduces the hand-computed fixtures', () => {
    expect(hex(encodeUdp({ srcPort: 1024, dstPort: 53, payload: new TextEncoder().encode('hello') }, A, B))).toBe(hex(HELLO));
    expect(hex(encodeUdp({ srcPort: 500, dstPort: 500, payload: fromHex('616263') }, H1, H2))).toBe(hex(ODD));
  });

  it('sends a computed checksum of 0 as 0xffff', () => {
    expect(hex(encodeUdp({ srcPort: 4500, dstPort: 4500, payload: fromHex('c8af') }, H1, H2))).toBe(hex(ZERO_SUM));
  });

  it('matches the reference checksum (property)', () => {
    fc.assert(
      fc.property(datagramArb, addrArb, addrArb, (d, s, t) => {
        const bytes = encodeUdp(d, s, t);
        const zeroed = bytes.slice();
        zeroed[6] = 0;
        zeroed[7] = 0;
        expect((bytes[6]! << 8) | bytes[7]!).toBe(refUdpChecksum(s, t, zeroed));
      }),
    );
  });

  it('round-trips: decode(encode(d)) = d (property)', () => {
    fc.assert(
      fc.property(datagramArb, addrArb, addrArb, (d, s, t) => {
        const r = decodeUdp(encodeUdp(d, s, t), s, t);
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        expect(r.value.srcPort).toBe(d.srcPort);
        expect(r.value.dstPort).toBe(d.dstPort);
        expect(hex(r.value.payload)).toBe(hex(d.payload));
      }),
    );
  });

  it('round-trips: encode(decode(bytes)) = bytes for checksummed datagrams built independently (property)', () => {
    fc.assert(
      fc.property(datagramArb, addrArb, addrArb, fc.uint8Array({ maxLength: 6 }), (d, s, t, trailer) => {
        const bytes = new Uint8Array(8 + d.payload.length);
        const dv = new DataView(bytes.buffer);
        dv.setUint16(0, d.srcPort);
        dv.setUint16(2, d.dstPort);
        dv.setUint16(4, bytes.length);
        bytes.set(d.payload, 8);
        dv.setUint16(6, refUdpChecksum(s, t, bytes));
        const r = decodeUdp(concat(bytes, trailer), s, t);
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        expect(hex(encodeUdp(r.value, s, t))).toBe(hex(bytes));
      }),
    );
  });

  it('asserts on our own bad input', () => {
    const p = new Uint8Array(0);
    expect(() => encodeUdp({ srcPort: 0x10000, dstPort: 1, payload: p }, A, B)).toThrow(AssertionError);
    expect(() => encodeUdp({ srcPort: 1, dstPort: -1, payload: p }, A, B)).toThrow(AssertionError);
    expect(() => encodeUdp({ srcPort: 1, dstPort: 1, payload: p }, -1, B)).toThrow(AssertionError);
    expect(() => encodeUdp({ srcPort: 1, dstPort: 1, payload: new Uint8Array(65528) }, A, B)).toThrow(AssertionError);
    expect(() => encodeUdp({ srcPort: 1, dstPort: 1, payload: new Uint8Array(65527) }, A, B)).not.toThrow();
  });
});
