import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { fromHex, hex } from '../../../src/lib/bytes.ts';
import { AssertionError } from '../../../src/lib/errors.ts';
import { Reader, Writer } from '../../../src/lib/reader.ts';
import {
  AS4_CONTEXT,
  DEFAULT_RT_MEMBERSHIP,
  decodeIpv4Prefix,
  decodeMessage,
  decodeRtMembershipNlri,
  decodeVpnIpv4Nlri,
  encodeRtMembershipNlri,
  encodeVpnIpv4Nlri,
  extendedCommunityBytes,
  familyOf,
  formatRouteDistinguisher,
  formatVpnIpv4Nlri,
  parseRouteDistinguisher,
  parseRouteTarget,
  rtMembershipCovers,
  type VpnIpv4Nlri,
} from '../../../src/proto/bgp/index.ts';
import { rdArb, updateBytes } from './arbitraries.ts';

const read = <T>(f: (r: Reader) => T, h: string): T => f(new Reader(fromHex(h)));

describe('IPv4 prefixes (RFC 4271 §4.3)', () => {
  it('reads length and the octets the length needs; /0 has none', () => {
    expect(read(decodeIpv4Prefix, '00')).toEqual({ ok: true, value: { family: 4, addr: 0, len: 0 } });
    expect(read(decodeIpv4Prefix, '19 c0a80180')).toEqual({ ok: true, value: { family: 4, addr: 0xc0a80180, len: 25 } });
  });

  it('padding bits are irrelevant (RFC 4271 §4.3) and cleared, so a prefix has one form', () => {
    expect(read(decodeIpv4Prefix, '17 c0a8ff')).toEqual({ ok: true, value: { family: 4, addr: 0xc0a8fe00, len: 23 } });
    const d = decodeMessage(updateBytes('', '40 01 01 00 40 02 00 40 03 04 0a000001', '17 c0a8ff'), AS4_CONTEXT);
    expect(d.ok && d.value.message.type === 'UPDATE' && d.value.message.nlri[0]?.addr).toBe(0xc0a8fe00);
  });

  it('rejects lengths above 32 and truncated prefixes', () => {
    expect(read(decodeIpv4Prefix, '21 00000000 00').ok).toBe(false);
    expect(read(decodeIpv4Prefix, '18 c0a8').ok).toBe(false);
    expect(read(decodeIpv4Prefix, '').ok).toBe(false);
  });
});

describe('route distinguishers (RFC 4364 §4.2)', () => {
  it('parses and formats the three types', () => {
    expect(parseRouteDistinguisher('65000:1')).toEqual({ type: 0, administrator: 65000, assignedNumber: 1 });
    expect(parseRouteDistinguisher('10.0.0.1:7')).toEqual({ type: 1, administrator: 0x0a000001, assignedNumber: 7 });
    expect(parseRouteDistinguisher('4200000000:1')).toEqual({ type: 2, administrator: 4200000000, assignedNumber: 1 });
    expect(parseRouteDistinguisher('65000:4294967296')).toBeUndefined();
    expect(parseRouteDistinguisher('10.0.0.1:65536')).toBeUndefined();
    expect(parseRouteDistinguisher('nope')).toBeUndefined();
    fc.assert(
      fc.property(rdArb, (rd) => {
        expect(parseRouteDistinguisher(formatRouteDistinguisher(rd))).toEqual(rd.type === 2 && rd.administrator <= 0xffff ? { ...rd, type: 0 } : rd);
      }),
    );
  });
});

describe('VPN-IPv4 NLRI (RFC 4364 §4.3.4, RFC 3107 §3)', () => {
  const vpn: VpnIpv4Nlri = { labels: [16], rd: { type: 0, administrator: 65000, assignedNumber: 1 }, prefix: { family: 4, addr: 0xc0a80100, len: 24 } };

  it('encodes label, bottom-of-stack bit, RD and prefix under one bit length', () => {
    const w = new Writer();
    encodeVpnIpv4Nlri(w, vpn);
    expect(hex(w.finish())).toBe('70000101' + '0000fde800000001' + 'c0a801');
    expect(formatVpnIpv4Nlri(vpn)).toBe('65000:1:192.168.1.0/24 label 16');
  });

  it('reads the stack to the bottom-of-stack bit; 0x800000 or 0 first is the withdrawal field', () => {
    const two = read(decodeVpnIpv4Nlri, '87 000110 000121 0001 0a000001 0007 c0a802');
    expect(two.ok && two.value.labels).toEqual([17, 18]);
    for (const marker of ['800000', '000000']) {
      const r = read(decodeVpnIpv4Nlri, `70 ${marker} 0000fde800000001 c0a801`);
      expect(r.ok && r.value.labels).toEqual([]);
    }
  });

  it('rejects stacks and RDs that run past the length, and prefixes above 32 bits', () => {
    expect(read(decodeVpnIpv4Nlri, '10 0001').ok).toBe(false); // 16 bits: no room for a label
    expect(read(decodeVpnIpv4Nlri, '30 000100 000000').ok).toBe(false); // label without bottom bit fills the length
    expect(read(decodeVpnIpv4Nlri, '40 000101 0000fde800').ok).toBe(false); // RD cut short
    expect(read(decodeVpnIpv4Nlri, '79 000101 0000fde800000001 c0a80101 00').ok).toBe(false); // 33-bit prefix
    expect(read(decodeVpnIpv4Nlri, '70 000101 0000fde800000001').ok).toBe(false); // octets missing
  });

  it('refuses to encode what the wire cannot say (our bug, asserted)', () => {
    expect(() => encodeVpnIpv4Nlri(new Writer(), { ...vpn, labels: [0x100000] })).toThrow(AssertionError);
    expect(() => encodeVpnIpv4Nlri(new Writer(), { ...vpn, labels: [0x80000, 5] })).toThrow(AssertionError);
    expect(() => encodeVpnIpv4Nlri(new Writer(), { ...vpn, labels: [1, 2, 3, 4, 5, 6, 7] })).toThrow(AssertionError);
  });
});

describe('route target membership NLRI (RFC 4684 §4)', () => {
  const rt = extendedCommunityBytes(parseRouteTarget('65000:1')!);

  it('default, 32 bits, 96 bits, and partial route targets with cleared trailing bits', () => {
    expect(read(decodeRtMembershipNlri, '00')).toEqual({ ok: true, value: { prefixLength: 0, originAs: 0, routeTarget: new Uint8Array(8) } });
    const partial = read(decodeRtMembershipNlri, '2c 0000fde9 00 ff'); // 44 bits: origin AS + 12 bits of route target
    expect(partial.ok && hex(partial.value.routeTarget)).toBe('00f0000000000000');
    const w = new Writer();
    encodeRtMembershipNlri(w, { prefixLength: 96, originAs: 65001, routeTarget: rt });
    encodeRtMembershipNlri(w, DEFAULT_RT_MEMBERSHIP);
    expect(hex(w.finish())).toBe('600000fde90002fde80000000100');
  });

  it('rejects lengths 1..31 and above 96', () => {
    expect(read(decodeRtMembershipNlri, '10 0000').ok).toBe(false);
    expect(read(decodeRtMembershipNlri, '61 0000fde9 0002fde800000001 00').ok).toBe(false);
  });

  it('membership covers route targets by prefix', () => {
    expect(rtMembershipCovers(DEFAULT_RT_MEMBERSHIP, 65001, rt)).toBe(true);
    expect(rtMembershipCovers({ prefixLength: 96, originAs: 65001, routeTarget: rt }, 65001, rt)).toBe(true);
    expect(rtMembershipCovers({ prefixLength: 96, originAs: 65001, routeTarget: rt }, 65002, rt)).toBe(false);
    expect(rtMembershipCovers({ prefixLength: 32, originAs: 65001, routeTarget: new Uint8Array(8) }, 65001, rt)).toBe(true);
    const other = extendedCommunityBytes(parseRouteTarget('65000:2')!);
    expect(rtMembershipCovers({ prefixLength: 96, originAs: 65001, routeTarget: rt }, 65001, other)).toBe(false);
    expect(rtMembershipCovers({ prefixLength: 88, originAs: 65001, routeTarget: rt }, 65001, other)).toBe(true);
  });
});

describe('families', () => {
  it('maps AFI/SAFI to the families this codec parses', () => {
    expect([familyOf(1, 1), familyOf(1, 128), familyOf(1, 132), familyOf(2, 1), familyOf(1, 2)]).toEqual(['ipv4-unicast', 'vpn-ipv4', 'rt-membership', undefined, undefined]);
  });
});
