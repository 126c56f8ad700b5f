import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import type { Ipv4Prefix } from '../../../src/lib/addr.ts';
import { hex } from '../../../src/lib/bytes.ts';
import {
  AS4_CONTEXT,
  MAX_MESSAGE_LENGTH,
  attribute,
  decodeMessage,
  endOfRib,
  endOfRibFamily,
  getAttribute,
  packUpdates,
  packWithdrawals,
  parseRouteTarget,
  securityGatewayIdentity,
  type MpReach,
  type PathAttribute,
  type UpdateMessage,
} from '../../../src/proto/bgp/index.ts';
import { asPathArb, prefixArb, rtMembershipArb, show, vpnNlriArb } from './arbitraries.ts';

const ctx = AS4_CONTEXT;

function decodeAll(messages: Uint8Array[]): UpdateMessage[] {
  return messages.map((b) => {
    expect(b.length).toBeLessThanOrEqual(MAX_MESSAGE_LENGTH);
    const r = decodeMessage(b, ctx);
    if (!r.ok) throw new Error(String(r.error));
    expect(r.value.errors.map(String)).toEqual([]);
    return r.value.message as UpdateMessage;
  });
}

/** Greedy is maximal: no message could have taken the first NLRI of the next one. */
function expectMaximal(messages: Uint8Array[], firstSizes: number[]): void {
  for (let i = 0; i + 1 < messages.length; i++) expect(messages[i]!.length + firstSizes[i + 1]!).toBeGreaterThan(MAX_MESSAGE_LENGTH);
}

const baseAttrs = (asPath: PathAttribute['value']): PathAttribute[] => [
  attribute('ORIGIN', 0),
  { type: 'AS_PATH', value: asPath } as PathAttribute,
  attribute('NEXT_HOP', 0x0a000001),
  attribute('EXTENDED_COMMUNITIES', [parseRouteTarget('65000:1')!, securityGatewayIdentity(0x0a000001, { preEstablish: true })]),
];

const prefixSize = (p: Ipv4Prefix): number => 1 + ((p.len + 7) >> 3);

describe('packUpdates: ≤ 4096 octets each, no prefix lost, as few messages as fit', () => {
  it('IPv4 prefixes in the NLRI field', () => {
    fc.assert(
      fc.property(asPathArb(ctx), fc.array(prefixArb, { maxLength: 3000, size: 'max' }), (asPath, prefixes) => {
        const r = packUpdates(baseAttrs(asPath), prefixes, ctx);
        if (!r.ok) throw new Error(r.error.message);
        const updates = decodeAll(r.value);
        expect(show(updates.flatMap((u) => u.nlri))).toBe(show(prefixes));
        for (const u of updates) expect(u.pathAttributes.map((a) => a.type)).toEqual(['ORIGIN', 'AS_PATH', 'NEXT_HOP', 'EXTENDED_COMMUNITIES']);
        const firsts: number[] = [];
        let k = 0;
        for (const u of updates) {
          firsts.push(prefixSize(prefixes[k]!));
          k += u.nlri.length;
        }
        expectMaximal(r.value, firsts);
        if (prefixes.length === 0) expect(r.value).toEqual([]);
      }),
      { numRuns: 60 },
    );
  });

  it('VPN-IPv4 and route target membership in MP_REACH_NLRI, placed first (RFC 7606 §5.1)', () => {
    const reachArb: fc.Arbitrary<MpReach> = fc.oneof(
      fc.record({ family: fc.constant('vpn-ipv4' as const), nextHop: fc.constant(0x0a000001), nlri: fc.array(vpnNlriArb(), { maxLength: 1500, size: 'max' }) }),
      fc.record({ family: fc.constant('rt-membership' as const), nextHop: fc.constant(0x0a000001), nlri: fc.array(rtMembershipArb, { maxLength: 1500, size: 'max' }) }),
      fc.record({ family: fc.constant('ipv4-unicast' as const), nextHop: fc.constant(0x0a000001), nlri: fc.array(prefixArb, { maxLength: 1500, size: 'max' }) }),
    );
    fc.assert(
      fc.property(asPathArb(ctx), reachArb, (asPath, reach) => {
        const attrs = baseAttrs(asPath).filter((a) => a.type !== 'NEXT_HOP');
        const r = packUpdates(attrs, reach, ctx);
        if (!r.ok) throw new Error(r.error.message);
        const updates = decodeAll(r.value);
        const got = updates.flatMap((u) => {
          expect(u.pathAttributes[0]?.type).toBe('MP_REACH_NLRI');
          const mp = getAttribute(u.pathAttributes, 'MP_REACH_NLRI')!.value;
          expect(mp.family).toBe(reach.family);
          return mp.family === 'other' ? [] : (mp.nlri as unknown[]);
        });
        expect(show(got)).toBe(show(reach.nlri));
      }),
      { numRuns: 60 },
    );
  });

  it('3000 VPN-IPv4 routes take the fewest messages the room allows', () => {
    const nlri = Array.from({ length: 3000 }, (_, i) => ({ labels: [100 + i], rd: { type: 0, administrator: 65000, assignedNumber: 1 }, prefix: { family: 4 as const, addr: (0x0a000000 + i * 256) >>> 0, len: 24 } }));
    const r = packUpdates(baseAttrs([]).filter((a) => a.type !== 'NEXT_HOP'), { family: 'vpn-ipv4', nextHop: 0x0a000001, nlri }, ctx);
    if (!r.ok) throw new Error(r.error.message);
    // Each NLRI is 15 octets; the fixed part is 23 + MP header 21 + other attributes 30.
    const room = 4096 - 23 - 21 - 30;
    expect(r.value.length).toBe(Math.ceil(3000 / Math.floor(room / 15)));
    expect(r.value.slice(0, -1).every((m) => m.length > 4096 - 15)).toBe(true);
  });

  it('attributes that leave no room for one NLRI are a typed error, not a throw', () => {
    const huge = attribute('COMMUNITIES', Array.from({ length: 1020 }, (_, i) => i));
    const r = packUpdates([attribute('ORIGIN', 0), attribute('AS_PATH', []), attribute('NEXT_HOP', 0x0a000001), huge], [{ family: 4, addr: 0x0a000000, len: 8 }], ctx);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('ATTRIBUTES_TOO_LONG');
  });
});

describe('packWithdrawals and End-of-RIB', () => {
  it('withdrawn routes and MP_UNREACH_NLRI, each message ≤ 4096, nothing lost', () => {
    fc.assert(
      fc.property(fc.array(prefixArb, { maxLength: 3000, size: 'max' }), fc.array(vpnNlriArb(true), { maxLength: 1500, size: 'max' }), (prefixes, vpn) => {
        const classic = decodeAll(packWithdrawals(prefixes));
        expect(show(classic.flatMap((u) => u.withdrawnRoutes))).toBe(show(prefixes));
        const mp = decodeAll(packWithdrawals({ family: 'vpn-ipv4', withdrawnRoutes: vpn }));
        expect(show(mp.flatMap((u) => getAttribute(u.pathAttributes, 'MP_UNREACH_NLRI')!.value.withdrawnRoutes as unknown[]))).toBe(show(vpn));
      }),
      { numRuns: 40 },
    );
  });

  it('End-of-RIB markers (RFC 4724 §2)', () => {
    expect(hex(endOfRib('ipv4-unicast', ctx))).toBe('ffffffffffffffffffffffffffffffff' + '0017' + '02' + '0000' + '0000');
    expect(hex(endOfRib('vpn-ipv4', ctx))).toBe('ffffffffffffffffffffffffffffffff' + '001d' + '02' + '0000' + '0006' + '800f03000180');
    for (const f of ['ipv4-unicast', 'vpn-ipv4', 'rt-membership'] as const) {
      expect(endOfRibFamily(decodeAll([endOfRib(f, ctx)])[0]!)).toBe(f);
    }
    expect(endOfRibFamily(decodeAll(packWithdrawals([{ family: 4, addr: 0, len: 0 }]))[0]!)).toBeUndefined();
  });
});
