import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { fromHex, hex } from '../../../src/lib/bytes.ts';
import { Reader, Writer } from '../../../src/lib/reader.ts';
import {
  EXT_SUBTYPE_SECURITY_GATEWAY_IDENTITY,
  NO_ADVERTISE,
  NO_EXPORT,
  SGI_FLAG_PRE_ESTABLISH,
  decodeExtendedCommunity,
  encodeExtendedCommunity,
  extendedCommunityBytes,
  formatCommunity,
  formatExtendedCommunity,
  isTransitiveExtendedCommunity,
  parseCommunity,
  parseRouteTarget,
  routeTarget,
  securityGatewayIdentity,
} from '../../../src/proto/bgp/index.ts';
import { extendedCommunityArb } from './arbitraries.ts';

describe('COMMUNITIES (RFC 1997)', () => {
  it('formats and parses AS:value and the well-known names', () => {
    expect(formatCommunity(0xfde80064)).toBe('65000:100');
    expect(formatCommunity(NO_EXPORT)).toBe('NO_EXPORT');
    expect(parseCommunity('65000:100')).toBe(0xfde80064);
    expect(parseCommunity('NO_ADVERTISE')).toBe(NO_ADVERTISE);
    expect(parseCommunity('65536:1')).toBeUndefined();
  });
});

describe('extended communities (RFC 4360)', () => {
  it('route targets: two-octet AS, IPv4 address, four-octet AS (Junos "L" for a small four-octet AS)', () => {
    expect(parseRouteTarget('65000:1')).toEqual(routeTarget('two-octet-as', 65000, 1));
    expect(parseRouteTarget('10.0.0.1:5')).toEqual(routeTarget('ipv4-address', 0x0a000001, 5));
    expect(parseRouteTarget('4200000000:9')).toEqual(routeTarget('four-octet-as', 4200000000, 9));
    expect(parseRouteTarget('65000L:9')).toEqual(routeTarget('four-octet-as', 65000, 9));
    expect(parseRouteTarget('4200000000:70000')).toBeUndefined();
    expect(hex(extendedCommunityBytes(parseRouteTarget('65000:1')!))).toBe('0002fde800000001');
    expect(formatExtendedCommunity(routeTarget('four-octet-as', 65000, 9))).toBe('rt 65000L:9');
  });

  it(`Security Gateway Identity: opaque type 0x03/0x43, sub-type 0x${EXT_SUBTYPE_SECURITY_GATEWAY_IDENTITY.toString(16)}, IPv4 + flags`, () => {
    const sgi = securityGatewayIdentity(0x0a000001, { preEstablish: true });
    expect(hex(extendedCommunityBytes(sgi))).toBe('03500a0000018000');
    expect(hex(extendedCommunityBytes(securityGatewayIdentity(0xc0000201, { transitive: false })))).toBe('4350c00002010000');
    expect(sgi.flags & SGI_FLAG_PRE_ESTABLISH).toBeTruthy();
    expect(formatExtendedCommunity(sgi)).toBe('security-gateway 10.0.0.1 pre-establish');
    // Reserved flag bits are kept so a route passes through unchanged.
    expect(decodeExtendedCommunity(new Reader(fromHex('03500a0000018001')))).toEqual({ type: 'SECURITY_GATEWAY_IDENTITY', transitive: true, gatewayAddress: 0x0a000001, flags: 0x8001 });
  });

  it('other sub-types of the same types stay raw', () => {
    for (const h of ['0003fde800000001', '03510a0000018000', '43060a0000018000', '0602000000000000']) {
      expect(decodeExtendedCommunity(new Reader(fromHex(h)))).toEqual({ type: 'UNRECOGNIZED', bytes: fromHex(h) });
    }
  });

  it('transitivity follows bit 0x40 of the high type', () => {
    expect(isTransitiveExtendedCommunity(parseRouteTarget('65000:1')!)).toBe(true);
    expect(isTransitiveExtendedCommunity(securityGatewayIdentity(1, { transitive: false }))).toBe(false);
    expect(isTransitiveExtendedCommunity({ type: 'UNRECOGNIZED', bytes: fromHex('4300000000000000') })).toBe(false);
  });

  it('any community round-trips, and extendedCommunityBytes is its encoding', () => {
    fc.assert(
      fc.property(extendedCommunityArb, (ec) => {
        const w = new Writer();
        encodeExtendedCommunity(w, ec);
        const bytes = w.finish();
        expect(hex(bytes)).toBe(hex(extendedCommunityBytes(ec)));
        expect(decodeExtendedCommunity(new Reader(bytes))).toEqual(ec);
      }),
    );
  });
});
