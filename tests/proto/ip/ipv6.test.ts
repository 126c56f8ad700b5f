import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { fromHex, hex, concat } from '../../../src/lib/bytes.ts';
import { AssertionError } from '../../../src/lib/errors.ts';
import { parseIpv6 } from '../../../src/lib/addr.ts';
import { IP_ERROR, IP_PROTO_UDP } from '../../../src/proto/ip/ipv4.ts';
import { decodeIpv6, encodeIpv6, type Ipv6Header } from '../../../src/proto/ip/ipv6.ts';

const ip6 = (s: string): Uint8Array => parseIpv6(s)!;

// RFC 8200 §3 fixed header, hand-assembled.
const PACKET = fromHex(`
  6 b8 12345                         // version 6, traffic class 0xb8 (DSCP EF), flow label 0x12345
  0008                               // payload length 8
  11                                 // next header 17 (UDP)
  40                                 // hop limit 64
  2001 0db8 0000 0000 0000 0000 0000 0001  // source 2001:db8::1
  2001 0db8 0000 0000 0000 0000 0000 0002  // destination 2001:db8::2
  0035 0035 0008 0000                // payload: 8 bytes
`);
const PARSED: Ipv6Header = {
  trafficClass: 0xb8,
  flowLabel: 0x12345,
  nextHeader: IP_PROTO_UDP,
  hopLimit: 64,
  src: ip6('2001:db8::1'),
  dst: ip6('2001:db8::2'),
};

const headerArb: fc.Arbitrary<Ipv6Header> = fc.record({
  trafficClass: fc.integer({ min: 0, max: 255 }),
  flowLabel: fc.integer({ min: 0, max: 0xfffff }),
  nextHeader: fc.integer({ min: 0, max: 255 }),
  hopLimit: fc.integer({ min: 0, max: 255 }),
  src: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  dst: fc.uint8Array({ minLength: 16, maxLength: 16 }),
});

describe('decodeIpv6', () => {
  it('decodes the fixture', () => {
    const r = decodeIpv6(PACKET);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.header).toEqual(PARSED);
    expect(hex(r.value.payload)).toBe('0035003500080000');
  });

  it('ignores bytes beyond Payload Length', () => {
    const r = decodeIpv6(concat(PACKET, fromHex('aabbcc')));
    expect(r.ok && hex(r.value.payload)).toBe('0035003500080000');
  });

  it('accepts an empty payload', () => {
    const bytes = concat(fromHex('60000000 0000 3b 01'), new Uint8Array(32)); // next header 59: no next header
    const r = decodeIpv6(bytes);
    expect(r.ok && r.value.payload.length).toBe(0);
    expect(r.ok && r.value.header.nextHeader).toBe(59);
  });

  const malformed: Array<[string, Uint8Array, string, string]> = [
    ['empty', new Uint8Array(0), IP_ERROR.TRUNCATED, 'ipv6.header'],
    ['39 bytes', PACKET.subarray(0, 39), IP_ERROR.TRUNCATED, 'ipv6.header'],
    ['version 4', concat(fromHex('4b'), PACKET.subarray(1)), IP_ERROR.BAD_VERSION, 'ipv6.version'],
    ['version 7', concat(fromHex('7b'), PACKET.subarray(1)), IP_ERROR.BAD_VERSION, 'ipv6.version'],
    ['payload length beyond buffer', PACKET.subarray(0, 47), IP_ERROR.TRUNCATED, 'ipv6.payloadLength'],
    ['payload length 0xffff', concat(PACKET.subarray(0, 4), fromHex('ffff'), PACKET.subarray(6)), IP_ERROR.TRUNCATED, 'ipv6.payloadLength'],
  ];
  for (const [name, bytes, code, field] of malformed) {
    it(`rejects ${name} naming ${field}`, () => {
      const r = decodeIpv6(bytes);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.error.code).toBe(code);
      expect(r.error.field).toBe(field);
    });
  }

  it('never throws on arbitrary bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
        const r = decodeIpv6(bytes);
        if (!r.ok) expect(r.error.field).toMatch(/^ipv6\./);
      }),
    );
  });
});

describe('encodeIpv6', () => {
  it('reproduces the fixture', () => {
    expect(hex(encodeIpv6(PARSED, fromHex('0035003500080000')))).toBe(hex(PACKET));
  });

  it('round-trips: decode(encode(h, p)) = { h, p } (property)', () => {
    fc.assert(
      fc.property(headerArb, fc.uint8Array({ maxLength: 300 }), (h, payload) => {
        const r = decodeIpv6(encodeIpv6(h, payload));
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        expect(r.value.header).toEqual(h);
        expect(hex(r.value.payload)).toBe(hex(payload));
      }),
    );
  });

  it('round-trips: encode(decode(bytes)) = bytes up to Payload Length (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 40, maxLength: 40 }), fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 8 }), (h0, payload, trailer) => {
        const h = h0.slice();
        h[0] = 0x60 | (h[0]! & 0x0f);
        h[4] = payload.length >> 8;
        h[5] = payload.length & 0xff;
        const packet = concat(h, payload);
        const r = decodeIpv6(concat(packet, trailer));
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        expect(hex(encodeIpv6(r.value.header, r.value.payload))).toBe(hex(packet));
      }),
    );
  });

  it('asserts on our own bad input', () => {
    const bad = (patch: Partial<Ipv6Header>, payload = new Uint8Array(0)) => () => encodeIpv6({ ...PARSED, ...patch }, payload);
    expect(bad({ trafficClass: 256 })).toThrow(AssertionError);
    expect(bad({ flowLabel: 0x100000 })).toThrow(AssertionError);
    expect(bad({ hopLimit: -1 })).toThrow(AssertionError);
    expect(bad({ nextHeader: 1.5 })).toThrow(AssertionError);
    expect(bad({ src: new Uint8Array(4) })).toThrow(AssertionError);
    expect(bad({ dst: new Uint8Array(17) })).toThrow(AssertionError);
    expect(bad({}, new Uint8Array(0x10000))).toThrow(AssertionError);
  });
});
