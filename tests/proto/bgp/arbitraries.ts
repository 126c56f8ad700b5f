// fast-check arbitraries of valid BGP values and messages, and hand-built framing for fixtures.
// Test support only: builds headers by hand so fixtures do not lean on the codec under test.

import fc from 'fast-check';
import type { Ipv4Prefix } from '../../../src/lib/addr.ts';
import { ipv4Mask } from '../../../src/lib/addr.ts';
import { concat, fromHex } from '../../../src/lib/bytes.ts';
import type {
  AsPathSegment,
  BgpMessage,
  Capability,
  CodecContext,
  ExtendedCommunity,
  MpReachNlri,
  MpUnreachNlri,
  PathAttribute,
  RouteDistinguisher,
  RtMembershipNlri,
  VpnIpv4Nlri,
} from '../../../src/proto/bgp/index.ts';
import { isInvalidNextHop } from '../../../src/proto/bgp/index.ts';

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });

export const prefixArb: fc.Arbitrary<Ipv4Prefix> = fc
  .record({ addr: u32, len: fc.integer({ min: 0, max: 32 }) })
  .map(({ addr, len }) => ({ family: 4 as const, addr: (addr & ipv4Mask(len)) >>> 0, len }));

export const hostAddrArb = u32.filter((a) => !isInvalidNextHop(a));

export const rdArb: fc.Arbitrary<RouteDistinguisher> = fc.oneof(
  fc.record({ type: fc.constant(0), administrator: u16, assignedNumber: u32 }),
  fc.record({ type: fc.constant(1), administrator: u32, assignedNumber: u16 }),
  fc.record({ type: fc.constant(2), administrator: u32, assignedNumber: u16 }),
);

export const vpnNlriArb = (withdraw = false): fc.Arbitrary<VpnIpv4Nlri> =>
  fc.record({
    labels: withdraw ? fc.constant([]) : fc.array(fc.integer({ min: 16, max: 0xfffff }), { minLength: 1, maxLength: 3 }).filter((l) => !(l.length > 1 && l[0] === 0x80000)),
    rd: rdArb,
    prefix: prefixArb,
  });

export const rtMembershipArb: fc.Arbitrary<RtMembershipNlri> = fc.oneof(
  fc.constant({ prefixLength: 0, originAs: 0, routeTarget: new Uint8Array(8) }),
  fc.record({ prefixLength: fc.integer({ min: 32, max: 96 }), originAs: u32, routeTarget: fc.uint8Array({ minLength: 8, maxLength: 8 }) }).map((m) => {
    const rt = m.routeTarget.slice();
    const bits = m.prefixLength - 32;
    for (let i = 0; i < 8; i++) {
      const keep = Math.max(0, Math.min(8, bits - 8 * i));
      rt[i] = rt[i]! & ((0xff00 >> keep) & 0xff);
    }
    return { ...m, routeTarget: rt };
  }),
);

export const extendedCommunityArb: fc.Arbitrary<ExtendedCommunity> = fc.oneof(
  fc.record({ type: fc.constant('ROUTE_TARGET' as const), format: fc.constant('two-octet-as' as const), globalAdministrator: u16, localAdministrator: u32 }),
  fc.record({ type: fc.constant('ROUTE_TARGET' as const), format: fc.constantFrom('ipv4-address' as const, 'four-octet-as' as const), globalAdministrator: u32, localAdministrator: u16 }),
  fc.record({ type: fc.constant('SECURITY_GATEWAY_IDENTITY' as const), transitive: fc.boolean(), gatewayAddress: u32, flags: u16 }),
  // Opaque color community (0x030b): a type this codec keeps raw.
  fc.uint8Array({ minLength: 6, maxLength: 6 }).map((v) => ({ type: 'UNRECOGNIZED' as const, bytes: concat(Uint8Array.of(0x03, 0x0b), v) })),
);

export const asPathArb = (ctx: CodecContext, confed = true): fc.Arbitrary<AsPathSegment[]> =>
  fc.array(
    fc.record({
      type: fc.integer({ min: 1, max: confed ? 4 : 2 }),
      asNumbers: fc.array(ctx.as4 ? fc.integer({ min: 1, max: 0xffffffff }) : fc.integer({ min: 1, max: 0xffff }), { minLength: 1, maxLength: 8 }),
    }),
    { maxLength: 4 },
  );

const aggregatorArb = (ctx: CodecContext) => fc.record({ asNumber: ctx.as4 ? u32 : u16, address: u32 });

export const mpReachArb: fc.Arbitrary<MpReachNlri> = fc.oneof(
  fc.record({ family: fc.constant('ipv4-unicast' as const), nextHop: u32, nlri: fc.array(prefixArb, { maxLength: 10 }) }),
  fc.record({ family: fc.constant('vpn-ipv4' as const), nextHop: u32, nlri: fc.array(vpnNlriArb(), { maxLength: 10 }) }),
  fc.record({ family: fc.constant('rt-membership' as const), nextHop: u32, nlri: fc.array(rtMembershipArb, { maxLength: 10 }) }),
  fc.record({ family: fc.constant('other' as const), afi: fc.constant(2), safi: fc.constant(1), nextHop: fc.uint8Array({ minLength: 16, maxLength: 16 }), nlri: fc.uint8Array({ maxLength: 20 }) }),
);

export const mpUnreachArb: fc.Arbitrary<MpUnreachNlri> = fc.oneof(
  fc.record({ family: fc.constant('ipv4-unicast' as const), withdrawnRoutes: fc.array(prefixArb, { maxLength: 10 }) }),
  fc.record({ family: fc.constant('vpn-ipv4' as const), withdrawnRoutes: fc.array(vpnNlriArb(true), { maxLength: 10 }) }),
  fc.record({ family: fc.constant('rt-membership' as const), withdrawnRoutes: fc.array(rtMembershipArb, { maxLength: 10 }) }),
  fc.record({ family: fc.constant('other' as const), afi: fc.constant(2), safi: fc.constant(1), withdrawnRoutes: fc.uint8Array({ maxLength: 20 }) }),
);

/** Every known attribute type once at most, plus unrecognized optional ones, in random order. */
export const pathAttributesArb = (ctx: CodecContext): fc.Arbitrary<PathAttribute[]> => {
  const pieces: fc.Arbitrary<PathAttribute>[] = [
    fc.integer({ min: 0, max: 2 }).map((v) => ({ type: 'ORIGIN' as const, value: v })),
    asPathArb(ctx).map((v) => ({ type: 'AS_PATH' as const, value: v })),
    hostAddrArb.map((v) => ({ type: 'NEXT_HOP' as const, value: v })),
    u32.map((v) => ({ type: 'MULTI_EXIT_DISC' as const, value: v })),
    u32.map((v) => ({ type: 'LOCAL_PREF' as const, value: v })),
    fc.constant({ type: 'ATOMIC_AGGREGATE' as const, value: null }),
    aggregatorArb(ctx).map((v) => ({ type: 'AGGREGATOR' as const, value: v })),
    fc.array(u32, { minLength: 1, maxLength: 80 }).map((v) => ({ type: 'COMMUNITIES' as const, value: v })),
    u32.map((v) => ({ type: 'ORIGINATOR_ID' as const, value: v })),
    fc.array(u32, { minLength: 1, maxLength: 6 }).map((v) => ({ type: 'CLUSTER_LIST' as const, value: v })),
    mpReachArb.map((v) => ({ type: 'MP_REACH_NLRI' as const, value: v })),
    mpUnreachArb.map((v) => ({ type: 'MP_UNREACH_NLRI' as const, value: v })),
    fc.array(extendedCommunityArb, { minLength: 1, maxLength: 40 }).map((v) => ({ type: 'EXTENDED_COMMUNITIES' as const, value: v })),
    fc.record({ typeCode: fc.constantFrom(32, 99, 200), transitive: fc.boolean(), partial: fc.boolean(), value: fc.uint8Array({ maxLength: 300 }) }).map(
      (u): PathAttribute => ({ type: 'UNRECOGNIZED', typeCode: u.typeCode, flags: 0x80 | (u.transitive ? 0x40 : 0) | (u.partial && u.transitive ? 0x20 : 0), value: u.value }),
    ),
  ];
  if (!ctx.as4) {
    pieces.push(asPathArb({ as4: true }, false).filter((p) => p.length > 0).map((v) => ({ type: 'AS4_PATH' as const, value: v })));
    pieces.push(aggregatorArb({ as4: true }).map((v) => ({ type: 'AS4_AGGREGATOR' as const, value: v })));
  }
  return fc
    .subarray(pieces.map((_, i) => i))
    .chain((idx) => fc.tuple(...idx.map((i) => pieces[i]!)))
    .chain((attrs) => fc.shuffledSubarray(attrs, { minLength: attrs.length, maxLength: attrs.length }))
    .map((attrs) => attrs as PathAttribute[]);
};

/** An UPDATE that decodes with no error: mandatory attributes are present whenever there is reachability. */
export const updateArb = (ctx: CodecContext): fc.Arbitrary<BgpMessage> =>
  fc
    .record({
      withdrawnRoutes: fc.array(prefixArb, { maxLength: 20 }),
      nlri: fc.array(prefixArb, { maxLength: 20 }),
      pathAttributes: pathAttributesArb(ctx),
      origin: fc.integer({ min: 0, max: 2 }),
      asPath: asPathArb(ctx),
      nextHop: hostAddrArb,
    })
    .map((u) => {
      const attrs = [...u.pathAttributes];
      const has = (t: string): boolean => attrs.some((a) => a.type === t);
      if (u.nlri.length || has('MP_REACH_NLRI')) {
        if (!has('ORIGIN')) attrs.push({ type: 'ORIGIN', value: u.origin });
        if (!has('AS_PATH')) attrs.push({ type: 'AS_PATH', value: u.asPath });
      }
      if (u.nlri.length && !has('NEXT_HOP')) attrs.push({ type: 'NEXT_HOP', value: u.nextHop });
      return { type: 'UPDATE' as const, withdrawnRoutes: u.withdrawnRoutes, nlri: u.nlri, pathAttributes: attrs };
    })
    .filter((m) => updateSize(m) <= 4096);

/** Rough upper bound of an UPDATE's size, to keep generated ones within 4096 octets. */
function updateSize(m: { withdrawnRoutes: Ipv4Prefix[]; nlri: Ipv4Prefix[]; pathAttributes: PathAttribute[] }): number {
  let n = 23 + 5 * (m.withdrawnRoutes.length + m.nlri.length);
  for (const a of m.pathAttributes) n += 4 + JSON.stringify(a, (_k, v) => (v instanceof Uint8Array ? Array.from(v) : v)).length;
  return n;
}

export const capabilityArb: fc.Arbitrary<Capability> = fc.oneof(
  fc.record({ type: fc.constant('MULTIPROTOCOL' as const), afi: u16, safi: u8 }),
  fc.constant({ type: 'ROUTE_REFRESH' as const }),
  fc.record({ type: fc.constant('FOUR_OCTET_AS' as const), asNumber: fc.integer({ min: 1, max: 0xffffffff }) }),
  fc.record({ type: fc.constant('UNRECOGNIZED' as const), code: fc.constantFrom(5, 64, 69, 70, 73, 128), value: fc.uint8Array({ maxLength: 20 }) }),
);

export const openArb: fc.Arbitrary<BgpMessage> = fc.record({
  type: fc.constant('OPEN' as const),
  myAutonomousSystem: fc.integer({ min: 1, max: 0xffff }),
  holdTimeS: fc.oneof(fc.constant(0), fc.integer({ min: 3, max: 0xffff })),
  bgpIdentifier: fc.integer({ min: 1, max: 0xffffffff }),
  optionalParameters: fc.array(fc.record({ type: fc.constant('CAPABILITIES' as const), capabilities: fc.array(capabilityArb, { maxLength: 5 }) }), { maxLength: 3 }),
});

export const messageArb = (ctx: CodecContext): fc.Arbitrary<BgpMessage> =>
  fc.oneof(
    openArb,
    updateArb(ctx),
    fc.record({ type: fc.constant('NOTIFICATION' as const), errorCode: u8, errorSubcode: u8, data: fc.uint8Array({ maxLength: 40 }) }),
    fc.constant({ type: 'KEEPALIVE' as const }),
    fc.record({ type: fc.constant('ROUTE-REFRESH' as const), afi: u16, reserved: u8, safi: u8 }),
  );

// --- Hand-built framing for fixtures (independent of the codec). ---

const MARKER = 'ffffffffffffffffffffffffffffffff';

/** A whole message: marker, length, type, body. */
export function frame(type: number, body: Uint8Array): Uint8Array {
  const len = 19 + body.length;
  return concat(fromHex(MARKER), Uint8Array.of(len >> 8, len & 0xff, type), body);
}

/** An UPDATE from its three fields, lengths filled in. */
export function updateBytes(withdrawn: string | Uint8Array, attrs: string | Uint8Array, nlri: string | Uint8Array = ''): Uint8Array {
  const w = typeof withdrawn === 'string' ? fromHex(withdrawn) : withdrawn;
  const a = typeof attrs === 'string' ? fromHex(attrs) : attrs;
  const n = typeof nlri === 'string' ? fromHex(nlri) : nlri;
  return frame(2, concat(Uint8Array.of(w.length >> 8, w.length & 0xff), w, Uint8Array.of(a.length >> 8, a.length & 0xff), a, n));
}

/** JSON with bytes as hex and keys sorted, for deep comparisons and failure messages. */
export function show(v: unknown): string {
  return JSON.stringify(v, (_k, x) => {
    if (x instanceof Uint8Array) return `0x${Array.from(x, (b) => b.toString(16).padStart(2, '0')).join('')}`;
    if (x && typeof x === 'object' && !Array.isArray(x)) return Object.fromEntries(Object.entries(x).filter(([, y]) => y !== undefined).sort(([a], [b]) => (a < b ? -1 : 1)));
    return x;
  });
}
