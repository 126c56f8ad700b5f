import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { fromHex, hex, concat } from '../../../src/lib/bytes.ts';
import { AssertionError } from '../../../src/lib/errors.ts';
import { decodeIpv4, IP_ERROR } from '../../../src/proto/ip/ipv4.ts';
import {
  decodeIcmp,
  encodeIcmp,
  icmpQuote,
  ICMP_TIME_EXCEEDED_TTL,
  ICMP_UNREACH_FRAGMENTATION_NEEDED,
  ICMP_UNREACH_PORT,
  type IcmpMessage,
} from '../../../src/proto/ip/icmp.ts';

/** Independent reference checksum (fold every word). */
function refChecksum(bytes: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < bytes.length; i += 2) {
    s += (bytes[i]! << 8) + (bytes[i + 1] ?? 0);
    s = (s & 0xffff) + (s >>> 16);
  }
  return ~s & 0xffff;
}

/** Sets the ICMP checksum of `bytes` in place with the reference. */
function fixChecksum(bytes: Uint8Array): Uint8Array {
  bytes[2] = 0;
  bytes[3] = 0;
  const c = refChecksum(bytes);
  bytes[2] = c >> 8;
  bytes[3] = c & 0xff;
  return bytes;
}

// The data Windows ping sends: 32 bytes "abcdefghijklmnopqrstuvwabcdefghi".
const PING_DATA = new TextEncoder().encode('abcdefghijklmnopqrstuvwabcdefghi');

const ECHO_REQUEST = fromHex(`
  08 00 4d5a   // type 8 echo request, code 0, checksum 0x4d5a
  0001 0001    // identifier 1, sequence 1
  6162636465666768696a6b6c6d6e6f70 7172737475767761626364656667 6869 // data
`);
const ECHO_REPLY = fromHex(`
  00 00 555a   // type 0 echo reply, code 0, checksum 0x555a (0x4d5a + 0x0800)
  0001 0001
  6162636465666768696a6b6c6d6e6f70 7172737475767761626364656667 6869
`);

// Quote of the classic IPv4 header (UDP 192.168.0.1:1024 → 192.168.0.199:53) + its first 8 data bytes.
const QUOTE = fromHex(`
  4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7 // original IPv4 header
  0400 0035 005f 0000                               // original UDP header: 1024 → 53, length 95
`);
const TIME_EXCEEDED = concat(
  fromHex(`
    0b 00 f06b   // type 11 time exceeded, code 0 (TTL exceeded in transit), checksum 0xf06b
    0000 0000    // unused
  `),
  QUOTE,
);
const FRAG_NEEDED = concat(
  fromHex(`
    03 04 f2ef   // type 3 destination unreachable, code 4 (fragmentation needed), checksum 0xf2ef
    0000 0578    // unused, next-hop MTU 1400 (RFC 1191)
  `),
  QUOTE,
);

const u16 = fc.integer({ min: 0, max: 0xffff });
const originalArb = fc.uint8Array({ minLength: 20, maxLength: 80 });
const messageArb: fc.Arbitrary<IcmpMessage> = fc.oneof(
  fc.record({
    type: fc.constantFrom('echo-request' as const, 'echo-reply' as const),
    identifier: u16,
    sequence: u16,
    data: fc.uint8Array({ maxLength: 200 }),
  }),
  fc.integer({ min: 0, max: 15 }).chain((code) =>
    fc.record({
      type: fc.constant('destination-unreachable' as const),
      code: fc.constant(code),
      nextHopMtu: code === ICMP_UNREACH_FRAGMENTATION_NEEDED ? u16 : fc.constant(0),
      original: originalArb,
    }),
  ),
  fc.record({ type: fc.constant('time-exceeded' as const), code: fc.integer({ min: 0, max: 1 }), original: originalArb }),
);

describe('decodeIcmp', () => {
  it('decodes an echo request', () => {
    const r = decodeIcmp(ECHO_REQUEST);
    expect(r.ok).toBe(true);
    if (!r.ok || r.value.type !== 'echo-request') throw new Error('not an echo request');
    expect(r.value.identifier).toBe(1);
    expect(r.value.sequence).toBe(1);
    expect(hex(r.value.data)).toBe(hex(PING_DATA));
  });

  it('decodes an echo reply', () => {
    const r = decodeIcmp(ECHO_REPLY);
    expect(r.ok && r.value.type).toBe('echo-reply');
  });

  it('decodes an echo request carried in IPv4', () => {
    const packet = fromHex(`
      4500 003c 1c46 4000 4001 0a79 0a00 0001 0a00 0002 // IPv4 10.0.0.1 → 10.0.0.2, ICMP
      0800 4d5a 0001 0001 6162636465666768696a6b6c6d6e6f70 7172737475767761626364656667 6869
    `);
    const ip = decodeIpv4(packet);
    expect(ip.ok).toBe(true);
    if (!ip.ok) return;
    const r = decodeIcmp(ip.value.payload);
    expect(r.ok && r.value.type).toBe('echo-request');
  });

  it('decodes time exceeded with its quote', () => {
    const r = decodeIcmp(TIME_EXCEEDED);
    expect(r.ok).toBe(true);
    if (!r.ok || r.value.type !== 'time-exceeded') throw new Error('not time exceeded');
    expect(r.value.code).toBe(ICMP_TIME_EXCEEDED_TTL);
    expect(hex(r.value.original)).toBe(hex(QUOTE));
  });

  it('decodes fragmentation needed with next-hop MTU', () => {
    const r = decodeIcmp(FRAG_NEEDED);
    expect(r.ok && r.value).toMatchObject({ type: 'destination-unreachable', code: 4, nextHopMtu: 1400 });
  });

  const malformed: Array<[string, Uint8Array, string, string]> = [
    ['empty', new Uint8Array(0), IP_ERROR.TRUNCATED, 'icmp.header'],
    ['7 bytes', ECHO_REQUEST.subarray(0, 7), IP_ERROR.TRUNCATED, 'icmp.header'],
    ['bad checksum', concat(fromHex('0800 4d5b'), ECHO_REQUEST.subarray(4)), IP_ERROR.BAD_CHECKSUM, 'icmp.checksum'],
    ['truncated data (checksum no longer verifies)', ECHO_REQUEST.subarray(0, 39), IP_ERROR.BAD_CHECKSUM, 'icmp.checksum'],
    ['unknown type 13 (timestamp)', fixChecksum(fromHex('0d00 0000 0001 0001 00000000 00000000 00000000')), IP_ERROR.UNKNOWN_TYPE, 'icmp.type'],
    ['echo with code 1', fixChecksum(fromHex('0801 0000 0001 0001')), IP_ERROR.BAD_CODE, 'icmp.code'],
    ['unreachable code 16', fixChecksum(concat(fromHex('0310 0000 0000 0000'), QUOTE)), IP_ERROR.BAD_CODE, 'icmp.code'],
    ['time exceeded code 2', fixChecksum(concat(fromHex('0b02 0000 0000 0000'), QUOTE)), IP_ERROR.BAD_CODE, 'icmp.code'],
    ['time exceeded unused not zero', fixChecksum(concat(fromHex('0b00 0000 0000 0001'), QUOTE)), IP_ERROR.BAD_RESERVED, 'icmp.unused'],
    ['unreachable unused high bits', fixChecksum(concat(fromHex('0304 0000 0100 0578'), QUOTE)), IP_ERROR.BAD_RESERVED, 'icmp.unused'],
    ['next-hop MTU with port unreachable', fixChecksum(concat(fromHex('0303 0000 0000 0578'), QUOTE)), IP_ERROR.BAD_RESERVED, 'icmp.unused'],
    ['unreachable quoting 19 bytes', fixChecksum(concat(fromHex('0303 0000 0000 0000'), QUOTE.subarray(0, 19))), IP_ERROR.TRUNCATED, 'icmp.original'],
    ['time exceeded quoting nothing', fixChecksum(fromHex('0b00 0000 0000 0000')), IP_ERROR.TRUNCATED, 'icmp.original'],
  ];
  for (const [name, bytes, code, field] of malformed) {
    it(`rejects ${name} naming ${field}`, () => {
      const r = decodeIcmp(bytes);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.error.code).toBe(code);
      expect(r.error.field).toBe(field);
    });
  }

  it('never throws on arbitrary bytes, checksummed or not (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.boolean(), (bytes, fix) => {
        const r = decodeIcmp(fix && bytes.length >= 8 ? fixChecksum(bytes.slice()) : bytes);
        if (!r.ok) expect(r.error.field).toMatch(/^icmp\./);
      }),
    );
  });

  it('detects any single-bit flip (property)', () => {
    fc.assert(
      fc.property(messageArb, fc.nat(), (m, bit0) => {
        const bad = encodeIcmp(m).slice();
        const bit = bit0 % (bad.length * 8);
        bad[bit >> 3]! ^= 0x80 >> (bit & 7);
        expect(decodeIcmp(bad).ok).toBe(false);
      }),
    );
  });
});

describe('encodeIcmp', () => {
  it('reproduces the echo fixtures', () => {
    expect(hex(encodeIcmp({ type: 'echo-request', identifier: 1, sequence: 1, data: PING_DATA }))).toBe(hex(ECHO_REQUEST));
    expect(hex(encodeIcmp({ type: 'echo-reply', identifier: 1, sequence: 1, data: PING_DATA }))).toBe(hex(ECHO_REPLY));
  });

  it('reproduces the error fixtures', () => {
    expect(hex(encodeIcmp({ type: 'time-exceeded', code: ICMP_TIME_EXCEEDED_TTL, original: QUOTE }))).toBe(hex(TIME_EXCEEDED));
    expect(hex(encodeIcmp({ type: 'destination-unreachable', code: ICMP_UNREACH_FRAGMENTATION_NEEDED, nextHopMtu: 1400, original: QUOTE }))).toBe(
      hex(FRAG_NEEDED),
    );
  });

  it('round-trips: decode(encode(m)) = m (property)', () => {
    fc.assert(
      fc.property(messageArb, (m) => {
        const r = decodeIcmp(encodeIcmp(m));
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        expect({ ...r.value }).toEqual(m);
      }),
    );
  });

  it('round-trips: encode(decode(bytes)) = bytes whenever decode accepts (property)', () => {
    let accepted = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(0, 3, 8, 11),
        fc.oneof(fc.constant(0), fc.constant(4), fc.integer({ min: 0, max: 16 })),
        fc.oneof(
          fc.constant(new Uint8Array(4)),
          u16.map((mtu) => new Uint8Array([0, 0, mtu >> 8, mtu & 0xff])),
          fc.uint8Array({ minLength: 4, maxLength: 4 }),
        ),
        fc.uint8Array({ maxLength: 60 }),
        (type, code, rest, body) => {
          const bytes = fixChecksum(concat(new Uint8Array([type, code, 0, 0]), rest, body));
          const r = decodeIcmp(bytes);
          if (r.ok) {
            accepted++;
            expect(hex(encodeIcmp(r.value))).toBe(hex(bytes));
          }
        },
      ),
      { numRuns: 500 },
    );
    expect(accepted).toBeGreaterThan(50);
  });

  it('asserts on our own bad input', () => {
    expect(() => encodeIcmp({ type: 'echo-request', identifier: 0x10000, sequence: 0, data: new Uint8Array(0) })).toThrow(AssertionError);
    expect(() => encodeIcmp({ type: 'echo-reply', identifier: 0, sequence: -1, data: new Uint8Array(0) })).toThrow(AssertionError);
    expect(() => encodeIcmp({ type: 'destination-unreachable', code: 16, nextHopMtu: 0, original: QUOTE })).toThrow(AssertionError);
    expect(() => encodeIcmp({ type: 'destination-unreachable', code: ICMP_UNREACH_PORT, nextHopMtu: 1400, original: QUOTE })).toThrow(AssertionError);
    expect(() => encodeIcmp({ type: 'destination-unreachable', code: 4, nextHopMtu: 0x10000, original: QUOTE })).toThrow(AssertionError);
    expect(() => encodeIcmp({ type: 'time-exceeded', code: 2, original: QUOTE })).toThrow(AssertionError);
    expect(() => encodeIcmp({ type: 'time-exceeded', code: 0, original: QUOTE.subarray(0, 19) })).toThrow(AssertionError);
  });
});

describe('icmpQuote', () => {
  it('takes the IP header plus 8 bytes of data', () => {
    const packet = concat(QUOTE, new Uint8Array(87));
    expect(hex(icmpQuote(packet))).toBe(hex(QUOTE));
  });

  it('honours options (IHL 6) and short packets', () => {
    const withOptions = fromHex('4600001c abcd0000 01028ef7 0a000001 e0000016 94040000 deadbeef');
    expect(icmpQuote(withOptions).length).toBe(28);
    expect(icmpQuote(withOptions.subarray(0, 26)).length).toBe(26);
  });
});
