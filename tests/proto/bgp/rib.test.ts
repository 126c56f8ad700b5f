// RIBs of one router (RFC 4271 §3.2, §9): Adj-RIB-In per peer, implicit and explicit withdraw, RFC 7606
// treat-as-withdraw and AFI/SAFI disable, peer down, eligibility checks, the change feed. UPDATEs go through the codec.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PathAttribute, UpdateMessage, VpnIpv4Nlri } from '../../../src/proto/bgp/index.ts';
import {
  AS4_CONTEXT,
  AS_SEQUENCE,
  AS_SET,
  attribute,
  decodeMessage,
  encodeMessage,
  parseRouteTarget,
  securityGatewayIdentity,
} from '../../../src/proto/bgp/index.ts';
import type { Decoded } from '../../../src/proto/bgp/message.ts';
import type { BgpRouterConfig, RouteChange } from '../../../src/proto/bgp/router.ts';
import { BgpRouter } from '../../../src/proto/bgp/router.ts';
import { Path, RouteAttributes, Table, pathFrom, pathsOf, removePath, setPath } from '../../../src/proto/bgp/rib.ts';
import { concat, fromHex } from '../../../src/lib/bytes.ts';
import { ip, pfx } from './router-harness.ts';

const LOCAL_AS = 65000;

function router(extra: Partial<BgpRouterConfig> = {}): BgpRouter {
  const r = new BgpRouter({
    localAs: LOCAL_AS,
    routerId: ip('1.1.1.1'),
    peers: [
      { id: 'e1', asNumber: 65001, address: ip('192.0.2.1') },
      { id: 'e2', asNumber: 65002, address: ip('192.0.2.2') },
      { id: 'i1', asNumber: LOCAL_AS, address: ip('10.0.0.2'), families: ['ipv4-unicast', 'vpn-ipv4'] },
      { id: 'i2', asNumber: LOCAL_AS, address: ip('10.0.0.3') },
    ],
    ...extra,
  });
  for (const [id, n] of [['e1', 1], ['e2', 2], ['i1', 3], ['i2', 4]] as const) {
    r.peerUp(id, { bgpIdentifier: ip(`9.9.9.${n}`), families: ['ipv4-unicast', 'vpn-ipv4'], as4: true });
  }
  return r;
}

function decoded(m: Omit<UpdateMessage, 'type'>): Decoded {
  const d = decodeMessage(encodeMessage({ type: 'UPDATE', ...m }, AS4_CONTEXT), AS4_CONTEXT);
  if (!d.ok) throw new Error(d.error.toString());
  return d.value;
}

function attrs(o: { path?: number[]; nh?: string; lp?: number; med?: number; origin?: number; extra?: PathAttribute[] } = {}): PathAttribute[] {
  const list: PathAttribute[] = [attribute('ORIGIN', o.origin ?? 0), attribute('AS_PATH', o.path?.length ? [{ type: AS_SEQUENCE, asNumbers: o.path }] : [])];
  if (o.nh) list.push(attribute('NEXT_HOP', ip(o.nh)));
  if (o.med !== undefined) list.push(attribute('MULTI_EXIT_DISC', o.med));
  if (o.lp !== undefined) list.push(attribute('LOCAL_PREF', o.lp));
  return [...list, ...(o.extra ?? [])];
}

const announce = (prefixes: string[], a: PathAttribute[]): Decoded => decoded({ withdrawnRoutes: [], pathAttributes: a, nlri: prefixes.map(pfx) });
const withdraw = (prefixes: string[]): Decoded => decoded({ withdrawnRoutes: prefixes.map(pfx), pathAttributes: [], nlri: [] });

function drainChanges(r: BgpRouter): RouteChange[] {
  const out: RouteChange[] = [];
  for (let c = r.pollRouteChange(); c; c = r.pollRouteChange()) out.push(c);
  return out;
}

describe('Destination and Table', () => {
  const t = new Table('vpn-ipv4', undefined);
  const src = (id: string) => ({ kind: 'peer' as const, id, internal: true, routeReflectorClient: false, address: 1, bgpIdentifier: 1, order: 0 });
  const a = new RouteAttributes([], 1);

  it('one path per source: setPath replaces (implicit withdraw), removePath takes it out', () => {
    const d = t.getOrCreate({ labels: [16], rd: { type: 0, administrator: 65000, assignedNumber: 1 }, prefix: pfx('10.0.0.0/8') });
    const s1 = src('a');
    const s2 = src('b');
    const p1 = new Path(s1, a, [16], undefined);
    expect(setPath(d, p1)).toBeUndefined();
    setPath(d, new Path(s2, a, [17], undefined));
    const p1b = new Path(s1, a, [18], undefined);
    expect(setPath(d, p1b)).toBe(p1);
    expect(pathsOf(d).map((p) => p.labels![0])).toEqual([18, 17]); // replaced in place
    expect(pathFrom(d, s1)).toBe(p1b);
    expect(removePath(d, s2)?.labels).toEqual([17]);
    expect(pathsOf(d)).toEqual([p1b]);
    expect(d.paths).toBe(p1b); // back to a single path, no array
  });

  it('VPN-IPv4 keys are RD + prefix; the label is not part of a route\'s identity (RFC 4364 §4.3.4)', () => {
    const n = (labels: number[], assigned: number): VpnIpv4Nlri => ({ labels, rd: { type: 0, administrator: 65000, assignedNumber: assigned }, prefix: pfx('10.1.0.0/16') });
    const d = t.getOrCreate(n([16], 1));
    expect(t.get(n([99], 1))).toBe(d);
    expect(t.get(n([16], 2))).toBeUndefined();
  });
});

describe('RouteAttributes', () => {
  it('reads what the decision process needs: AS_SET counts 1, neighbouring AS, route targets, Security Gateway Identity', () => {
    const sgi = securityGatewayIdentity(ip('198.51.100.1'));
    const a = new RouteAttributes(
      [
        attribute('ORIGIN', 1),
        attribute('AS_PATH', [
          { type: AS_SEQUENCE, asNumbers: [65001, 65002] },
          { type: AS_SET, asNumbers: [1, 2, 3] },
        ]),
        attribute('MULTI_EXIT_DISC', 7),
        attribute('EXTENDED_COMMUNITIES', [parseRouteTarget('65000:1')!, sgi]),
      ],
      ip('192.0.2.1'),
    );
    expect(a.asPathLength).toBe(3);
    expect(a.neighborAs).toBe(65001);
    expect(a.med).toBe(7);
    expect(a.routeTargetKeys).toEqual(['0002fde800000001']);
    expect(a.securityGatewayIdentity).toEqual(sgi);
    expect(a.asPathContains(3)).toBe(true);
    expect(new RouteAttributes([], 1).neighborAs).toBe(0);
  });
});

describe('Adj-RIB-In and Loc-RIB', () => {
  it('an announcement lands in the Adj-RIB-In of its peer and, as the only route, in the Loc-RIB', () => {
    const r = router();
    const res = r.receiveUpdate('e1', announce(['10.1.0.0/16', '10.2.0.0/16'], attrs({ path: [65001], nh: '192.0.2.1' })));
    expect(res).toEqual({ announced: 2, withdrawn: 0, ignored: 0, maxPrefixesExceeded: false });
    expect(r.adjRibIn('e1').map((v) => v.nlri)).toEqual(['10.1.0.0/16', '10.2.0.0/16']);
    expect(r.adjRibIn('e2')).toEqual([]);
    const loc = r.locRib();
    expect(loc.map((v) => [v.nlri, v.from, v.reason])).toEqual([
      ['10.1.0.0/16', 'e1', 'only-candidate'],
      ['10.2.0.0/16', 'e1', 'only-candidate'],
    ]);
  });

  it('implicit withdraw: a new announcement of the same prefix from the same peer replaces the old route', () => {
    const r = router();
    r.receiveUpdate('e1', announce(['10.1.0.0/16'], attrs({ path: [65001, 65010], nh: '192.0.2.1' })));
    r.receiveUpdate('e2', announce(['10.1.0.0/16'], attrs({ path: [65002, 65020], nh: '192.0.2.2' })));
    expect(r.locRib()[0]!.from).toBe('e1'); // equal length: lower BGP Identifier (9.9.9.1)
    r.receiveUpdate('e1', announce(['10.1.0.0/16'], attrs({ path: [65001, 65010, 65011], nh: '192.0.2.1' })));
    const inE1 = r.adjRibIn('e1');
    expect(inE1).toHaveLength(1);
    expect(inE1[0]!.attributes.find((a) => a.type === 'AS_PATH')?.value).toEqual([{ type: AS_SEQUENCE, asNumbers: [65001, 65010, 65011] }]);
    expect(r.locRib()[0]).toMatchObject({ from: 'e2', reason: 'as-path-length' });
  });

  it('explicit withdraw in Withdrawn Routes removes the route; the next best takes over', () => {
    const r = router();
    r.receiveUpdate('e1', announce(['10.1.0.0/16'], attrs({ path: [65001], nh: '192.0.2.1' })));
    r.receiveUpdate('e2', announce(['10.1.0.0/16'], attrs({ path: [65002, 65020], nh: '192.0.2.2' })));
    expect(r.locRib()[0]!.from).toBe('e1');
    expect(r.receiveUpdate('e1', withdraw(['10.1.0.0/16']))).toMatchObject({ withdrawn: 1 });
    expect(r.adjRibIn('e1')).toEqual([]);
    expect(r.locRib()[0]!.from).toBe('e2');
    r.receiveUpdate('e2', withdraw(['10.1.0.0/16', '10.99.0.0/16']));
    expect(r.locRib()).toEqual([]);
  });

  it('explicit withdraw of VPN-IPv4 in MP_UNREACH_NLRI', () => {
    const r = router();
    const nlri: VpnIpv4Nlri = { labels: [100], rd: { type: 0, administrator: 65000, assignedNumber: 7 }, prefix: pfx('10.1.0.0/16') };
    r.receiveUpdate('i1', decoded({ withdrawnRoutes: [], nlri: [], pathAttributes: [attribute('MP_REACH_NLRI', { family: 'vpn-ipv4', nextHop: ip('10.0.0.2'), nlri: [nlri] }), ...attrs({ lp: 100 })] }));
    expect(r.locRib('vpn-ipv4').map((v) => [v.nlri, v.labels])).toEqual([['65000:7:10.1.0.0/16', [100]]]);
    r.receiveUpdate('i1', decoded({ withdrawnRoutes: [], nlri: [], pathAttributes: [attribute('MP_UNREACH_NLRI', { family: 'vpn-ipv4', withdrawnRoutes: [{ ...nlri, labels: [] }] })] }));
    expect(r.locRib('vpn-ipv4')).toEqual([]);
  });

  it('RFC 7606 treat-as-withdraw: a malformed attribute withdraws every NLRI of the UPDATE', () => {
    const r = router();
    r.receiveUpdate('e1', announce(['10.1.0.0/16'], attrs({ path: [65001], nh: '192.0.2.1' })));
    // ORIGIN value 7 is invalid (RFC 7606 §7.1: treat-as-withdraw).
    const bad = announce(['10.1.0.0/16'], attrs({ path: [65001], nh: '192.0.2.1', origin: 7 }));
    expect(bad.error?.severity).toBe('treat-as-withdraw');
    expect(r.receiveUpdate('e1', bad)).toMatchObject({ announced: 0, withdrawn: 1 });
    expect(r.locRib()).toEqual([]);
    expect(r.stats().treatAsWithdraw).toBe(1);
  });

  it('RFC 4271 §6.3 leftmost AS check: an EBGP route not starting with the peer AS is treated as withdrawn', () => {
    const r = router();
    r.receiveUpdate('e1', announce(['10.1.0.0/16'], attrs({ path: [65001], nh: '192.0.2.1' })));
    r.receiveUpdate('e1', announce(['10.1.0.0/16'], attrs({ path: [65099], nh: '192.0.2.1' })));
    expect(r.adjRibIn('e1')).toEqual([]);
  });

  it('RFC 7606 AFI/SAFI disable: a malformed MP_REACH_NLRI drops the family from the session', () => {
    const r = router();
    const good: VpnIpv4Nlri = { labels: [100], rd: { type: 0, administrator: 65000, assignedNumber: 7 }, prefix: pfx('10.1.0.0/16') };
    r.receiveUpdate('i1', decoded({ withdrawnRoutes: [], nlri: [], pathAttributes: [attribute('MP_REACH_NLRI', { family: 'vpn-ipv4', nextHop: ip('10.0.0.2'), nlri: [good] }), ...attrs({ lp: 100 })] }));
    expect(r.locRib('vpn-ipv4')).toHaveLength(1);
    // MP_REACH_NLRI for AFI 1 / SAFI 128 with a 4-octet next hop (VPN-IPv4 needs 12): RFC 7606 §7.11.
    const mp = fromHex('0001800400000001000000');
    // Withdrawn Routes Length 0; attributes: ORIGIN IGP, empty AS_PATH, MP_REACH_NLRI (flags 0x80, type 14).
    const body = concat(fromHex('0000'), Uint8Array.of(0, 4 + 3 + 3 + mp.length), fromHex('40010100400200800e'), Uint8Array.of(mp.length), mp);
    const header = concat(new Uint8Array(16).fill(0xff), Uint8Array.of(0, 19 + body.length, 2));
    const d = decodeMessage(concat(header, body), AS4_CONTEXT);
    if (!d.ok) throw new Error(d.error.toString());
    expect(d.value.error?.severity).toBe('af-disable');
    r.receiveUpdate('i1', d.value);
    expect(r.locRib('vpn-ipv4')).toEqual([]);
    const again = r.receiveUpdate('i1', decoded({ withdrawnRoutes: [], nlri: [], pathAttributes: [attribute('MP_REACH_NLRI', { family: 'vpn-ipv4', nextHop: ip('10.0.0.2'), nlri: [good] }), ...attrs({ lp: 100 })] }));
    expect(again).toMatchObject({ announced: 0, ignored: 1 });
  });

  it('NLRI of a family the session did not negotiate are ignored', () => {
    const r = router();
    const nlri: VpnIpv4Nlri = { labels: [100], rd: { type: 0, administrator: 65000, assignedNumber: 7 }, prefix: pfx('10.1.0.0/16') };
    const res = r.receiveUpdate('e1', decoded({ withdrawnRoutes: [], nlri: [], pathAttributes: [attribute('MP_REACH_NLRI', { family: 'vpn-ipv4', nextHop: ip('192.0.2.1'), nlri: [nlri] }), ...attrs({ path: [65001] })] }));
    expect(res).toMatchObject({ announced: 0, ignored: 1 });
  });

  it('peerDown withdraws everything the peer sent, in every family', () => {
    const r = router();
    r.receiveUpdate('i1', announce(['10.1.0.0/16', '10.2.0.0/16'], attrs({ nh: '10.0.0.2', lp: 100 })));
    r.receiveUpdate('i2', announce(['10.2.0.0/16'], attrs({ nh: '10.0.0.3', lp: 50 })));
    const nlri: VpnIpv4Nlri = { labels: [100], rd: { type: 0, administrator: 65000, assignedNumber: 7 }, prefix: pfx('10.1.0.0/16') };
    r.receiveUpdate('i1', decoded({ withdrawnRoutes: [], nlri: [], pathAttributes: [attribute('MP_REACH_NLRI', { family: 'vpn-ipv4', nextHop: ip('10.0.0.2'), nlri: [nlri] }), ...attrs({ lp: 100 })] }));
    drainChanges(r);
    r.peerDown('i1');
    expect(r.adjRibIn('i1')).toEqual([]);
    expect(r.locRib().map((v) => [v.nlri, v.from])).toEqual([['10.2.0.0/16', 'i2']]);
    expect(r.locRib('vpn-ipv4')).toEqual([]);
    const changes = drainChanges(r);
    expect(changes.map((c) => [c.nlri, c.best?.from])).toEqual([
      ['10.1.0.0/16', undefined],
      ['10.2.0.0/16', 'i2'],
      ['65000:7:10.1.0.0/16', undefined],
    ]);
  });

  it('RFC 4271 §9.1.2: a route with our own AS in its AS_PATH stays in the Adj-RIB-In but is never selected', () => {
    const r = router();
    r.receiveUpdate('e1', announce(['10.1.0.0/16'], attrs({ path: [65001, LOCAL_AS, 65005], nh: '192.0.2.1' })));
    expect(r.adjRibIn('e1')[0]!.ineligible).toBe('as-path-loop');
    expect(r.locRib()).toEqual([]);
  });

  it('RFC 4271 §5.1.5: LOCAL_PREF from an external peer is ignored (policy value 100 used)', () => {
    const r = router();
    r.receiveUpdate('e1', announce(['10.1.0.0/16'], attrs({ path: [65001], nh: '192.0.2.1', lp: 500 })));
    r.receiveUpdate('i1', announce(['10.1.0.0/16'], attrs({ path: [65009, 65010], nh: '10.0.0.2', lp: 150 })));
    expect(r.adjRibIn('e1')[0]!.attributes.some((a) => a.type === 'LOCAL_PREF')).toBe(false);
    expect(r.locRib()[0]).toMatchObject({ from: 'i1', reason: 'local-pref' });
  });

  it('RFC 4271 §9.1.2: an unreachable NEXT_HOP keeps a route out until the IGP says otherwise', () => {
    const reachable = new Set([ip('10.0.0.3')]);
    const r = router({ nextHopReachable: (nh) => reachable.has(nh) });
    r.receiveUpdate('i1', announce(['10.1.0.0/16'], attrs({ nh: '10.0.0.2', lp: 200 })));
    r.receiveUpdate('i2', announce(['10.1.0.0/16'], attrs({ nh: '10.0.0.3', lp: 100 })));
    expect(r.locRib()[0]!.from).toBe('i2');
    expect(r.explain('ipv4-unicast', pfx('10.1.0.0/16')).map((v) => [v.from, v.ineligible, v.best])).toEqual([
      ['i1', 'next-hop-unreachable', false],
      ['i2', undefined, true],
    ]);
    reachable.add(ip('10.0.0.2'));
    r.nextHopsChanged();
    expect(r.locRib()[0]).toMatchObject({ from: 'i1', reason: 'local-pref' });
  });

  it('RFC 4271 9.1.2.2 e through the router: the IGP cost callback picks between IBGP routes', () => {
    const cost = new Map([
      [ip('10.0.0.2'), 20],
      [ip('10.0.0.3'), 10],
    ]);
    const r = router({ igpCost: (nh) => cost.get(nh) ?? 0 });
    r.receiveUpdate('i1', announce(['10.1.0.0/16'], attrs({ nh: '10.0.0.2', lp: 100 })));
    r.receiveUpdate('i2', announce(['10.1.0.0/16'], attrs({ nh: '10.0.0.3', lp: 100 })));
    expect(r.locRib()[0]).toMatchObject({ from: 'i2', reason: 'igp-cost' });
  });

  it('RFC 4456 §9 through the router: ORIGINATOR_ID is compared in place of the BGP Identifier', () => {
    const r = router();
    // i1's own identifier is 9.9.9.3 < 9.9.9.4 (i2), but its route carries ORIGINATOR_ID 9.9.9.200.
    r.receiveUpdate('i1', announce(['10.1.0.0/16'], attrs({ nh: '10.0.0.9', lp: 100, extra: [attribute('ORIGINATOR_ID', ip('9.9.9.200')), attribute('CLUSTER_LIST', [1])] })));
    r.receiveUpdate('i2', announce(['10.1.0.0/16'], attrs({ nh: '10.0.0.3', lp: 100 })));
    expect(r.locRib()[0]).toMatchObject({ from: 'i2', reason: 'bgp-identifier' });
  });

  it('maxPrefixes: routes beyond the limit are not accepted and the caller is told to Cease', () => {
    const r = new BgpRouter({ localAs: LOCAL_AS, routerId: ip('1.1.1.1'), peers: [{ id: 'e1', asNumber: 65001, address: ip('192.0.2.1'), maxPrefixes: 2 }] });
    r.peerUp('e1', { bgpIdentifier: 9, families: ['ipv4-unicast'], as4: true });
    const res = r.receiveUpdate('e1', announce(['10.1.0.0/16', '10.2.0.0/16', '10.3.0.0/16'], attrs({ path: [65001], nh: '192.0.2.1' })));
    expect(res).toMatchObject({ announced: 2, maxPrefixesExceeded: true });
    expect(r.locRibSize()).toBe(2);
    // Replacing an existing route is not a new prefix.
    expect(r.receiveUpdate('e1', announce(['10.1.0.0/16'], attrs({ path: [65001, 1], nh: '192.0.2.1' })))).toMatchObject({ announced: 1, maxPrefixesExceeded: false });
  });

  it('originate / withdrawOriginated, and the change feed reports each destination once with its latest state', () => {
    const r = router();
    r.originate(pfx('172.16.0.0/12'), { med: 5 });
    r.originate(pfx('172.16.0.0/12'), { med: 6 });
    const c = drainChanges(r);
    expect(c.map((x) => [x.nlri, x.best?.from])).toEqual([['172.16.0.0/12', 'local']]);
    expect(c[0]!.best!.attributes.find((a) => a.type === 'MULTI_EXIT_DISC')?.value).toBe(6);
    r.withdrawOriginated(pfx('172.16.0.0/12'));
    expect(drainChanges(r).map((x) => [x.nlri, x.best])).toEqual([['172.16.0.0/12', undefined]]);
    expect(r.locRib()).toEqual([]);
  });
});

describe('Adj-RIB-In and Loc-RIB against a model (randomized)', () => {
  const PEERS = ['e1', 'e2', 'i1', 'i2'] as const;
  const PEER_INFO: Record<(typeof PEERS)[number], { internal: boolean; as: number; id: number; address: number }> = {
    e1: { internal: false, as: 65001, id: ip('9.9.9.1'), address: ip('192.0.2.1') },
    e2: { internal: false, as: 65002, id: ip('9.9.9.2'), address: ip('192.0.2.2') },
    i1: { internal: true, as: LOCAL_AS, id: ip('9.9.9.3'), address: ip('10.0.0.2') },
    i2: { internal: true, as: LOCAL_AS, id: ip('9.9.9.4'), address: ip('10.0.0.3') },
  };
  const POOL = ['10.1.0.0/16', '10.2.0.0/16', '10.3.0.0/24', '10.3.0.0/25'];
  type Spec = { pathLen: number; lp: number; med: number };
  type Op =
    | { kind: 'announce'; peer: (typeof PEERS)[number]; prefixes: string[]; spec: Spec }
    | { kind: 'withdraw'; peer: (typeof PEERS)[number]; prefixes: string[] }
    | { kind: 'bounce'; peer: (typeof PEERS)[number] };
  const peerArb = fc.constantFrom(...PEERS);
  const prefixesArb = fc.subarray(POOL, { minLength: 1 });
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('announce' as const), peer: peerArb, prefixes: prefixesArb, spec: fc.record({ pathLen: fc.integer({ min: 1, max: 3 }), lp: fc.constantFrom(50, 100, 200), med: fc.constantFrom(0, 10) }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('withdraw' as const), peer: peerArb, prefixes: prefixesArb }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('bounce' as const), peer: peerArb }) },
  );

  /** The naive Loc-RIB: for each prefix, every peer's current route, the RFC steps as list filters. */
  function naiveBest(model: Map<string, Map<string, Spec>>, prefix: string): string | undefined {
    let l = PEERS.filter((p) => model.get(p)?.has(prefix)).map((p) => {
      const s = model.get(p)!.get(prefix)!;
      const info = PEER_INFO[p];
      return { p, lp: info.internal ? s.lp : 100, len: s.pathLen, med: s.med, nas: info.internal ? 65009 : info.as, internal: info.internal, id: info.id, addr: info.address };
    });
    const keepMin = (f: (c: (typeof l)[number]) => number): void => {
      const m = Math.min(...l.map(f));
      l = l.filter((c) => f(c) === m);
    };
    keepMin((c) => -c.lp);
    keepMin((c) => c.len);
    l = l.filter((m) => !l.some((n) => n.nas === m.nas && n.med < m.med));
    if (l.some((c) => !c.internal)) l = l.filter((c) => !c.internal);
    keepMin((c) => c.id);
    return l[0]?.p;
  }

  it('implicit and explicit withdraws, peer down: the Loc-RIB always equals the model\'s', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 40 }), (ops) => {
        const r = router();
        const model = new Map<string, Map<string, Spec>>(PEERS.map((p) => [p, new Map()]));
        for (const op of ops) {
          const info = PEER_INFO[op.peer];
          if (op.kind === 'announce') {
            // Internal routes come from AS 65009 behind i1/i2; external ones start with the peer's AS.
            const path = [info.internal ? 65009 : info.as, ...Array.from({ length: op.spec.pathLen - 1 }, (_, i) => 64512 + i)];
            r.receiveUpdate(op.peer, announce(op.prefixes, attrs({ path, nh: '172.31.0.1', lp: info.internal ? op.spec.lp : undefined, med: op.spec.med })));
            for (const p of op.prefixes) model.get(op.peer)!.set(p, op.spec);
          } else if (op.kind === 'withdraw') {
            r.receiveUpdate(op.peer, withdraw(op.prefixes));
            for (const p of op.prefixes) model.get(op.peer)!.delete(p);
          } else {
            r.peerDown(op.peer);
            r.peerUp(op.peer, { bgpIdentifier: info.id, families: ['ipv4-unicast', 'vpn-ipv4'], as4: true });
            model.get(op.peer)!.clear();
          }
          const got = new Map(r.locRib().map((v) => [v.nlri, v.from]));
          for (const p of POOL) expect(got.get(p), `${p} after ${JSON.stringify(op)}`).toBe(naiveBest(model, p));
          for (const peer of PEERS) expect(r.adjRibIn(peer).map((v) => v.nlri).sort()).toEqual([...model.get(peer)!.keys()].sort());
        }
        // Once the UPDATEs went out and the change feed was read, everything that left the tables is
        // forgotten: only destinations some peer still sends remain.
        while (r.poll());
        drainChanges(r);
        expect(r.stats().destinations).toBe(POOL.filter((p) => PEERS.some((peer) => model.get(peer)!.has(p))).length);
      }),
      { numRuns: 300 },
    );
  });
});
