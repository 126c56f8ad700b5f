import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { fromHex, hex, concat } from '../../../src/lib/bytes.ts';
import { AssertionError } from '../../../src/lib/errors.ts';
import { parseIpv4 } from '../../../src/lib/addr.ts';
import {
  decodeIpv4,
  decrementTtlInPlace,
  encodeIpv4,
  IP_ERROR,
  IP_PROTO_ICMP,
  IP_PROTO_UDP,
  ipv4Dst,
  ipv4Protocol,
  ipv4Src,
  type Ipv4Header,
} from '../../../src/proto/ip/ipv4.ts';

/** Independent reference checksum (fold every word). */
function refChecksum(bytes: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < bytes.length; i += 2) {
    s += (bytes[i]! << 8) + (bytes[i + 1] ?? 0);
    s = (s & 0xffff) + (s >>> 16);
  }
  return ~s & 0xffff;
}

/** Recomputes the header checksum of `bytes` in place with the reference (checksum field zeroed first). */
function fixChecksum(bytes: Uint8Array): Uint8Array {
  const ihl = (bytes[0]! & 0x0f) * 4;
  bytes[10] = 0;
  bytes[11] = 0;
  const c = refChecksum(bytes.subarray(0, ihl));
  bytes[10] = c >> 8;
  bytes[11] = c & 0xff;
  return bytes;
}

const ip = (s: string): number => parseIpv4(s)!;

// The classic example header (e.g. Wikipedia "IPv4 header checksum"): UDP, 192.168.0.1 → 192.168.0.199.
const CLASSIC_HEADER = `
  45        // version 4, IHL 5
  00        // DSCP 0, ECN 0
  0073      // total length 115
  0000      // identification 0
  4000      // flags DF, fragment offset 0
  40        // TTL 64
  11        // protocol 17 (UDP)
  b861      // header checksum
  c0a8 0001 // source 192.168.0.1
  c0a8 00c7 // destination 192.168.0.199
`;
const CLASSIC_PAYLOAD = new Uint8Array(95).map((_, i) => i);
const CLASSIC = concat(fromHex(CLASSIC_HEADER), CLASSIC_PAYLOAD);
const CLASSIC_PARSED: Ipv4Header = {
  dscp: 0,
  ecn: 0,
  identification: 0,
  dontFragment: true,
  moreFragments: false,
  fragmentOffset: 0,
  ttl: 64,
  protocol: IP_PROTO_UDP,
  src: ip('192.168.0.1'),
  dst: ip('192.168.0.199'),
  options: new Uint8Array(0),
};

// An echo request from 10.0.0.1 to 10.0.0.2 (checksum computed independently).
const PING = fromHex(`
  45 00 003c   // IHL 5, total length 60
  1c46 4000    // identification 0x1c46, DF
  40 01 0a79   // TTL 64, ICMP, checksum 0x0a79
  0a00 0001    // 10.0.0.1
  0a00 0002    // 10.0.0.2
  0800 4d5a 0001 0001                      // ICMP echo request id 1 seq 1
  6162636465666768696a6b6c6d6e6f7071727374 // "abcdefghijklmnopqrst"
  75767761626364656667 6869                // "uvwabcdefghi"
`);

// IHL 6 with a Router Alert option (RFC 2113), multicast 224.0.0.22, TTL 1 (checksum computed independently).
const ROUTER_ALERT = fromHex(`
  46 00 001c   // IHL 6, total length 28
  abcd 0000    // identification 0xabcd, no flags
  01 02 8ef7   // TTL 1, protocol 2 (IGMP), checksum 0x8ef7
  0a00 0001    // 10.0.0.1
  e000 0016    // 224.0.0.22
  9404 0000    // option: Router Alert, length 4, value 0
  deadbeef     // payload
`);

const headerArb: fc.Arbitrary<Ipv4Header> = fc.record({
  dscp: fc.integer({ min: 0, max: 63 }),
  ecn: fc.integer({ min: 0, max: 3 }),
  identification: fc.integer({ min: 0, max: 0xffff }),
  dontFragment: fc.boolean(),
  moreFragments: fc.boolean(),
  fragmentOffset: fc.integer({ min: 0, max: 0x1fff }),
  ttl: fc.integer({ min: 0, max: 255 }),
  protocol: fc.integer({ min: 0, max: 255 }),
  src: fc.integer({ min: 0, max: 0xffffffff }),
  dst: fc.integer({ min: 0, max: 0xffffffff }),
  options: fc.integer({ min: 0, max: 10 }).chain((words) => fc.uint8Array({ minLength: 4 * words, maxLength: 4 * words })),
});

/** Valid packets built without the code under test: random header bytes with the fields fixed up. */
const validPacketArb = fc
  .tuple(
    fc.integer({ min: 5, max: 15 }),
    fc.uint8Array({ minLength: 60, maxLength: 60 }),
    fc.uint8Array({ maxLength: 200 }),
    fc.uint8Array({ maxLength: 8 }),
  )
  .map(([ihl, headerBytes, payload, trailer]) => {
    const header = headerBytes.slice(0, ihl * 4);
    header[0] = 0x40 | ihl;
    header[6]! &= 0x7f; // reserved flag clear
    const total = header.length + payload.length;
    header[2] = total >> 8;
    header[3] = total & 0xff;
    fixChecksum(header);
    return { packet: concat(header, payload), trailer };
  });

describe('decodeIpv4', () => {
  it('decodes the classic example header', () => {
    const r = decodeIpv4(CLASSIC);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.header).toEqual(CLASSIC_PARSED);
    expect(r.value.headerLength).toBe(20);
    expect(hex(r.value.payload)).toBe(hex(CLASSIC_PAYLOAD));
  });

  it('decodes an echo request packet', () => {
    const r = decodeIpv4(PING);
    expect(r.ok && r.value.header).toMatchObject({ protocol: IP_PROTO_ICMP, identification: 0x1c46, ttl: 64, src: ip('10.0.0.1'), dst: ip('10.0.0.2') });
    expect(r.ok && r.value.payload.length).toBe(40);
  });

  it('decodes options and IHL 6', () => {
    const r = decodeIpv4(ROUTER_ALERT);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.headerLength).toBe(24);
    expect(hex(r.value.header.options)).toBe('94040000');
    expect(hex(r.value.payload)).toBe('deadbeef');
    expect(r.value.header).toMatchObject({ ttl: 1, protocol: 2, dst: ip('224.0.0.22'), dontFragment: false });
  });

  it('ignores bytes beyond Total Length (link padding)', () => {
    const r = decodeIpv4(concat(ROUTER_ALERT, fromHex('00000000 00000000')));
    expect(r.ok && hex(r.value.payload)).toBe('deadbeef');
  });

  it('decodes DSCP, ECN, MF and fragment offset', () => {
    const bytes = fixChecksum(fromHex('45 b9 0014 0102 3fff 08 32 0000 01020304 05060708'));
    const r = decodeIpv4(bytes);
    expect(r.ok && r.value.header).toMatchObject({
      dscp: 46, // 0xb9 >> 2 (EF)
      ecn: 1,
      identification: 0x0102,
      dontFragment: false,
      moreFragments: true,
      fragmentOffset: 0x1fff,
      ttl: 8,
      protocol: 50,
    });
  });

  const malformed: Array<[string, Uint8Array, string, string]> = [
    ['empty', new Uint8Array(0), IP_ERROR.TRUNCATED, 'ipv4.header'],
    ['19 bytes', CLASSIC.subarray(0, 19), IP_ERROR.TRUNCATED, 'ipv4.header'],
    ['version 6', fixChecksum(concat(fromHex('65'), CLASSIC.subarray(1))), IP_ERROR.BAD_VERSION, 'ipv4.version'],
    ['version 0', fixChecksum(concat(fromHex('05'), CLASSIC.subarray(1))), IP_ERROR.BAD_VERSION, 'ipv4.version'],
    ['IHL 4', fixChecksum(concat(fromHex('44'), CLASSIC.subarray(1))), IP_ERROR.BAD_IHL, 'ipv4.ihl'],
    ['IHL 0', concat(fromHex('40'), CLASSIC.subarray(1)), IP_ERROR.BAD_IHL, 'ipv4.ihl'],
    ['IHL 15 in 40 bytes', concat(fromHex('4f'), CLASSIC.subarray(1, 40)), IP_ERROR.TRUNCATED, 'ipv4.ihl'],
    ['total length 19', fixChecksum(fromHex('45 00 0013 0000 0000 40 11 0000 0a000001 0a000002')), IP_ERROR.BAD_LENGTH, 'ipv4.totalLength'],
    ['total length 23 with IHL 6', fixChecksum(fromHex('46 00 0017 0000 0000 40 11 0000 0a000001 0a000002 01010100')), IP_ERROR.BAD_LENGTH, 'ipv4.totalLength'],
    ['total length beyond buffer', CLASSIC.subarray(0, 114), IP_ERROR.TRUNCATED, 'ipv4.totalLength'],
    ['bad checksum', concat(fromHex('4500 0073 0000 4000 4011 b862 c0a8 0001 c0a8 00c7'), CLASSIC_PAYLOAD), IP_ERROR.BAD_CHECKSUM, 'ipv4.checksum'],
    ['zero checksum', concat(fromHex('4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7'), CLASSIC_PAYLOAD), IP_ERROR.BAD_CHECKSUM, 'ipv4.checksum'],
    ['reserved flag', fixChecksum(fromHex('45 00 0014 0000 8000 40 11 0000 0a000001 0a000002')), IP_ERROR.BAD_RESERVED, 'ipv4.flags'],
  ];
  for (const [name, bytes, code, field] of malformed) {
    it(`rejects ${name} naming ${field}`, () => {
      const r = decodeIpv4(bytes);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.error.code).toBe(code);
      expect(r.error.field).toBe(field);
      expect(r.error.message).not.toBe('');
    });
  }

  it('never throws on arbitrary bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const r = decodeIpv4(bytes);
        if (!r.ok) expect(r.error.field).toMatch(/^ipv4\./);
      }),
    );
  });

  it('detects any single-bit flip in the header (property)', () => {
    fc.assert(
      fc.property(validPacketArb, fc.nat(), ({ packet }, bit0) => {
        const headerBits = (packet[0]! & 0x0f) * 32;
        const bit = bit0 % headerBits;
        const bad = packet.slice();
        bad[bit >> 3]! ^= 0x80 >> (bit & 7);
        expect(decodeIpv4(bad).ok).toBe(false);
      }),
    );
  });

  it('decodes a sub-array at a nonzero offset', () => {
    const buf = concat(fromHex('ffffff'), PING);
    const r = decodeIpv4(buf.subarray(3));
    expect(r.ok && r.value.header.src).toBe(ip('10.0.0.1'));
  });
});

describe('encodeIpv4', () => {
  it('reproduces the classic example bytes, checksum 0xb861', () => {
    expect(hex(encodeIpv4(CLASSIC_PARSED, CLASSIC_PAYLOAD))).toBe(hex(CLASSIC));
  });

  it('reproduces the options fixture (IHL 6)', () => {
    const h: Ipv4Header = {
      dscp: 0,
      ecn: 0,
      identification: 0xabcd,
      dontFragment: false,
      moreFragments: false,
      fragmentOffset: 0,
      ttl: 1,
      protocol: 2,
      src: ip('10.0.0.1'),
      dst: ip('224.0.0.22'),
      options: fromHex('94040000'),
    };
    expect(hex(encodeIpv4(h, fromHex('deadbeef')))).toBe(hex(ROUTER_ALERT));
  });

  it('round-trips: decode(encode(h, p)) = { h, p } (property)', () => {
    fc.assert(
      fc.property(headerArb, fc.uint8Array({ maxLength: 300 }), (h, payload) => {
        const bytes = encodeIpv4(h, payload);
        const r = decodeIpv4(bytes);
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        expect(r.value.header).toEqual(h);
        expect(hex(r.value.payload)).toBe(hex(payload));
        expect(r.value.headerLength).toBe(20 + h.options.length);
      }),
    );
  });

  it('round-trips: encode(decode(bytes)) = bytes up to Total Length (property)', () => {
    fc.assert(
      fc.property(validPacketArb, ({ packet, trailer }) => {
        const r = decodeIpv4(concat(packet, trailer));
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        expect(hex(encodeIpv4(r.value.header, r.value.payload))).toBe(hex(packet));
      }),
    );
  });

  it('asserts on our own bad input', () => {
    const bad = (patch: Partial<Ipv4Header>, payload = new Uint8Array(0)) => () => encodeIpv4({ ...CLASSIC_PARSED, ...patch }, payload);
    expect(bad({ ttl: 256 })).toThrow(AssertionError);
    expect(bad({ dscp: 64 })).toThrow(AssertionError);
    expect(bad({ ecn: 4 })).toThrow(AssertionError);
    expect(bad({ fragmentOffset: 0x2000 })).toThrow(AssertionError);
    expect(bad({ src: -1 })).toThrow(AssertionError);
    expect(bad({ dst: 2 ** 32 })).toThrow(AssertionError);
    expect(bad({ options: new Uint8Array(3) })).toThrow(AssertionError);
    expect(bad({ options: new Uint8Array(44) })).toThrow(AssertionError);
    expect(bad({}, new Uint8Array(65516))).toThrow(AssertionError);
    expect(bad({}, new Uint8Array(65515))).not.toThrow();
  });
});

describe('forwarding fast path', () => {
  it('reads src, dst and protocol in place', () => {
    expect(ipv4Src(CLASSIC)).toBe(ip('192.168.0.1'));
    expect(ipv4Dst(CLASSIC)).toBe(ip('192.168.0.199'));
    expect(ipv4Protocol(CLASSIC)).toBe(IP_PROTO_UDP);
    expect(ipv4Dst(fromHex('45000014 00000000 40110000 ffffffff feffffff'))).toBe(0xfeffffff);
    expect(() => ipv4Dst(new Uint8Array(19))).toThrow(AssertionError);
  });

  it('decrements TTL 64 → 63 and patches the checksum 0xb861 → 0xb961', () => {
    const bytes = CLASSIC.slice();
    expect(decrementTtlInPlace(bytes)).toBe(true);
    expect(hex(bytes.subarray(0, 20))).toBe(hex(fromHex('4500 0073 0000 4000 3f11 b961 c0a8 0001 c0a8 00c7')));
    expect(decodeIpv4(bytes).ok).toBe(true);
  });

  it('refuses to take TTL to 0 and leaves the bytes untouched', () => {
    for (const ttl of [0, 1]) {
      const bytes = fixChecksum(fromHex(`45000014 00000000 ${ttl.toString(16).padStart(2, '0')}110000 0a000001 0a000002`));
      const before = hex(bytes);
      expect(decrementTtlInPlace(bytes)).toBe(false);
      expect(hex(bytes)).toBe(before);
    }
  });

  it('incremental checksum equals a full recompute (property)', () => {
    fc.assert(
      fc.property(headerArb, fc.uint8Array({ maxLength: 16 }), (h, payload) => {
        const bytes = encodeIpv4(h, payload);
        const ok = decrementTtlInPlace(bytes);
        expect(ok).toBe(h.ttl > 1);
        if (!ok) return;
        const incremental = (bytes[10]! << 8) | bytes[11]!;
        expect(bytes[8]).toBe(h.ttl - 1);
        expect(incremental).toBe(fixChecksum(bytes.slice()).subarray(10, 12).reduce((a, b) => (a << 8) | b, 0));
        expect(hex(bytes)).toBe(hex(encodeIpv4({ ...h, ttl: h.ttl - 1 }, payload)));
      }),
    );
  });

  it('incremental checksum stays valid over repeated decrements down to TTL 1 (property)', () => {
    fc.assert(
      fc.property(headerArb, (h) => {
        const bytes = encodeIpv4(h, new Uint8Array(0));
        let hops = 0;
        while (decrementTtlInPlace(bytes)) hops++;
        expect(hops).toBe(Math.max(0, h.ttl - 1));
        expect(hex(bytes)).toBe(hex(encodeIpv4({ ...h, ttl: Math.min(h.ttl, 1) }, new Uint8Array(0))));
      }),
    );
  });
});
