// Several BgpRouters wired back to back (router-harness.ts): EBGP/IBGP attribute rules, route reflection
// (RFC 4456), RFC 4364 PEs with overlapping customers, the Security Gateway Identity end to end, RFC 4684, update groups.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hex } from '../../../src/lib/bytes.ts';
import type { ExtendedCommunity, Family, PathAttribute, RtMembershipNlri, UpdateMessage } from '../../../src/proto/bgp/index.ts';
import { formatIpv4 } from '../../../src/lib/addr.ts';
import {
  ATTR_FLAG,
  AS4_CONTEXT,
  AS_SEQUENCE,
  AS_TRANS,
  attribute,
  decodeMessage,
  encodeMessage,
  getAttribute,
  parseRouteTarget,
  pathAttributesBytes,
  securityGatewayIdentity,
} from '../../../src/proto/bgp/index.ts';
import type { BgpRouterConfig, PeerConfig, RouteChange, RouteView } from '../../../src/proto/bgp/router.ts';
import { BgpRouter } from '../../../src/proto/bgp/router.ts';
import { RtFilter, membershipFor } from '../../../src/proto/bgp/rtc.ts';
import { routeTargetKey } from '../../../src/proto/bgp/rib.ts';
import { Fabric, ip, pfx } from './router-harness.ts';

const AS = 65000;

function attr<T extends PathAttribute['type']>(attrs: readonly PathAttribute[], type: T): Extract<PathAttribute, { type: T }> | undefined {
  return attrs.find((a) => a.type === type) as Extract<PathAttribute, { type: T }> | undefined;
}

/** The UPDATEs `to` received (from `from`, if given), announcing `prefix` in the NLRI field or in MP_REACH_NLRI. */
function received(f: Fabric, to: string, prefix: string, from?: string): UpdateMessage[] {
  const p = pfx(prefix);
  return f.log
    .filter((d) => d.to === to && (from === undefined || d.from === from))
    .map((d) => d.message)
    .filter((m) => {
      if (m.nlri.some((n) => n.addr === p.addr && n.len === p.len)) return true;
      const mp = getAttribute(m.pathAttributes, 'MP_REACH_NLRI')?.value;
      return mp?.family === 'vpn-ipv4' && mp.nlri.some((n) => n.prefix.addr === p.addr && n.prefix.len === p.len);
    });
}

function best(r: BgpRouter, prefix: string, table: Parameters<BgpRouter['locRib']>[0] = 'ipv4-unicast'): RouteView | undefined {
  return r.locRib(table).find((v) => v.nlri.endsWith(prefix));
}

const prefixesOf = (r: BgpRouter, table: Parameters<BgpRouter['locRib']>[0] = 'ipv4-unicast'): string[] => r.locRib(table).map((v) => v.nlri).sort();

function changes(r: BgpRouter): RouteChange[] {
  const out: RouteChange[] = [];
  for (let c = r.pollRouteChange(); c; c = r.pollRouteChange()) out.push(c);
  return out;
}

const peer = (id: string, asNumber: number, o: Partial<PeerConfig> = {}): PeerConfig => ({ id, asNumber, address: addr[id] ?? 0, ...o });
/** Loopback of every router in these tests: the router id, the session address and NEXT_HOP self. */
const addr: Record<string, number> = {};
function router(name: string, id: string, localAs: number, peers: PeerConfig[], extra: Partial<BgpRouterConfig> = {}): BgpRouter {
  addr[name] = ip(id);
  return new BgpRouter({ localAs, routerId: ip(id), peers, ...extra });
}
// Fill addresses first so peer() can read them.
for (const [n, a] of Object.entries({ x: '192.0.2.1', a: '10.0.0.1', b: '10.0.0.2', y: '198.51.100.1' })) addr[n] = ip(a);

describe('EBGP and IBGP attribute rules (RFC 4271 §5)', () => {
  function chain(): Fabric {
    // x (AS 65001) --EBGP-- a --IBGP-- b --EBGP-- y (AS 65002)
    const f = new Fabric();
    f.add('x', router('x', '192.0.2.1', 65001, [peer('a', AS)]));
    f.add('a', router('a', '10.0.0.1', AS, [peer('x', 65001), peer('b', AS)]));
    f.add('b', router('b', '10.0.0.2', AS, [peer('a', AS), peer('y', 65002)]));
    f.add('y', router('y', '198.51.100.1', 65002, [peer('b', AS)]));
    f.connect('x', 'a', 'a', 'x');
    f.connect('a', 'b', 'b', 'a');
    f.connect('b', 'y', 'y', 'b');
    f.run();
    return f;
  }

  it('AS_PATH prepend and NEXT_HOP self on EBGP; both unchanged on IBGP; LOCAL_PREF only on IBGP', () => {
    const f = chain();
    f.get('x').originate(pfx('10.1.0.0/16'));
    f.run();
    const atB = received(f, 'b', '10.1.0.0/16')[0]!.pathAttributes;
    expect(attr(atB, 'AS_PATH')?.value).toEqual([{ type: AS_SEQUENCE, asNumbers: [65001] }]);
    expect(attr(atB, 'NEXT_HOP')?.value).toBe(ip('192.0.2.1'));
    expect(attr(atB, 'LOCAL_PREF')?.value).toBe(100);
    const atY = received(f, 'y', '10.1.0.0/16')[0]!.pathAttributes;
    expect(attr(atY, 'AS_PATH')?.value).toEqual([{ type: AS_SEQUENCE, asNumbers: [65000, 65001] }]);
    expect(attr(atY, 'NEXT_HOP')?.value).toBe(ip('10.0.0.2'));
    expect(attr(atY, 'LOCAL_PREF')).toBeUndefined();
    expect(best(f.get('y'), '10.1.0.0/16')?.from).toBe('b');
    // Split horizon: x never gets its own route back; a never gets it back from b (IBGP to IBGP).
    expect(received(f, 'x', '10.1.0.0/16')).toEqual([]);
    expect(received(f, 'a', '10.1.0.0/16', 'b')).toEqual([]);
  });

  it('MED goes to internal peers but not beyond the neighbouring AS; a MED we set ourselves does', () => {
    const f = chain();
    f.get('x').originate(pfx('10.1.0.0/16'), { med: 50 });
    f.get('a').originate(pfx('10.9.0.0/16'), { med: 7 });
    f.run();
    expect(attr(received(f, 'a', '10.1.0.0/16')[0]!.pathAttributes, 'MULTI_EXIT_DISC')?.value).toBe(50);
    expect(attr(received(f, 'b', '10.1.0.0/16')[0]!.pathAttributes, 'MULTI_EXIT_DISC')?.value).toBe(50);
    expect(attr(received(f, 'y', '10.1.0.0/16')[0]!.pathAttributes, 'MULTI_EXIT_DISC')).toBeUndefined();
    expect(attr(received(f, 'x', '10.9.0.0/16')[0]!.pathAttributes, 'MULTI_EXIT_DISC')?.value).toBe(7);
  });

  it('non-transitive attributes: unknown optional non-transitive dropped, unknown transitive passed with Partial, non-transitive extended communities kept inside the AS only', () => {
    const f = chain();
    const ec: ExtendedCommunity[] = [securityGatewayIdentity(ip('192.0.2.9'), { transitive: false }), securityGatewayIdentity(ip('192.0.2.10'))];
    const update = encodeMessage(
      {
        type: 'UPDATE',
        withdrawnRoutes: [],
        nlri: [pfx('10.7.0.0/16')],
        pathAttributes: [
          attribute('ORIGIN', 0),
          attribute('AS_PATH', [{ type: AS_SEQUENCE, asNumbers: [65001] }]),
          attribute('NEXT_HOP', ip('192.0.2.1')),
          attribute('EXTENDED_COMMUNITIES', ec),
          { type: 'UNRECOGNIZED', typeCode: 200, flags: ATTR_FLAG.OPTIONAL | ATTR_FLAG.TRANSITIVE, value: Uint8Array.of(1, 2) },
          { type: 'UNRECOGNIZED', typeCode: 201, flags: ATTR_FLAG.OPTIONAL, value: Uint8Array.of(3) },
        ],
      },
      AS4_CONTEXT,
    );
    const d = decodeMessage(update, AS4_CONTEXT);
    if (!d.ok) throw new Error(d.error.toString());
    f.get('a').receiveUpdate('x', d.value);
    f.run();
    const atB = received(f, 'b', '10.7.0.0/16')[0]!.pathAttributes;
    expect(atB.filter((a) => a.type === 'UNRECOGNIZED').map((a) => [a.type === 'UNRECOGNIZED' && a.typeCode, a.flags! & ATTR_FLAG.PARTIAL])).toEqual([[200, ATTR_FLAG.PARTIAL]]);
    expect(attr(atB, 'EXTENDED_COMMUNITIES')?.value).toEqual(ec);
    const atY = received(f, 'y', '10.7.0.0/16')[0]!.pathAttributes;
    expect(atY.filter((a) => a.type === 'UNRECOGNIZED').map((a) => a.type === 'UNRECOGNIZED' && a.typeCode)).toEqual([200]);
    // RFC 4360 §2: the non-transitive (0x43) community stops at the AS border; the transitive one goes on.
    expect(attr(atY, 'EXTENDED_COMMUNITIES')?.value).toEqual([ec[1]]);
  });

  it('RFC 4271 §9.1.2: a route carrying our AS comes back as a loop and is not used', () => {
    const f = chain();
    // y advertises a path that already went through AS 65000.
    const d = decodeMessage(
      encodeMessage({ type: 'UPDATE', withdrawnRoutes: [], nlri: [pfx('10.8.0.0/16')], pathAttributes: [attribute('ORIGIN', 0), attribute('AS_PATH', [{ type: AS_SEQUENCE, asNumbers: [65002, AS, 65001] }]), attribute('NEXT_HOP', ip('198.51.100.1'))] }, AS4_CONTEXT),
      AS4_CONTEXT,
    );
    if (!d.ok) throw new Error(d.error.toString());
    f.get('b').receiveUpdate('y', d.value);
    f.run();
    expect(f.get('b').adjRibIn('y').map((v) => v.ineligible)).toEqual(['as-path-loop']);
    expect(best(f.get('b'), '10.8.0.0/16')).toBeUndefined();
    expect(received(f, 'a', '10.8.0.0/16')).toEqual([]);
  });

  it('RFC 6793: towards a 2-octet-AS speaker a 4-octet AS travels in AS4_PATH and is rebuilt on receipt', () => {
    const f = new Fabric();
    f.add('big', router('big', '10.9.9.9', 4200000001, [peer('old', 65010)]));
    f.add('old', router('old', '10.9.9.10', 65010, [{ id: 'big', asNumber: 4200000001, address: ip('10.9.9.9') }]));
    addr['old'] = ip('10.9.9.10');
    f.connect('big', 'old', 'old', 'big', { as4: false });
    f.get('big').originate(pfx('10.5.0.0/16'));
    f.run();
    const wire = received(f, 'old', '10.5.0.0/16')[0]!.pathAttributes;
    expect(attr(wire, 'AS_PATH')?.value).toEqual([{ type: AS_SEQUENCE, asNumbers: [AS_TRANS] }]);
    expect(attr(wire, 'AS4_PATH')?.value).toEqual([{ type: AS_SEQUENCE, asNumbers: [4200000001] }]);
    const v = best(f.get('old'), '10.5.0.0/16')!;
    expect(attr(v.attributes, 'AS_PATH')?.value).toEqual([{ type: AS_SEQUENCE, asNumbers: [4200000001] }]);
  });
});

// --- Route reflection. ---

/**
 * rr (cluster 10.0.0.100) with clients c1, c2, c3, non-clients n1, n2, and an EBGP peer e (AS 65001).
 */
function reflectorTopology(): Fabric {
  const f = new Fabric();
  const ids: Record<string, string> = { rr: '10.0.0.100', c1: '10.0.0.11', c2: '10.0.0.12', c3: '10.0.0.13', n1: '10.0.0.21', n2: '10.0.0.22', e: '192.0.2.50' };
  for (const [n, a] of Object.entries(ids)) addr[n] = ip(a);
  const clients = ['c1', 'c2', 'c3'];
  f.add(
    'rr',
    router('rr', ids.rr!, AS, [...clients.map((c) => peer(c, AS, { routeReflectorClient: true })), peer('n1', AS), peer('n2', AS), peer('e', 65001)]),
  );
  for (const c of [...clients, 'n1', 'n2']) f.add(c, router(c, ids[c]!, AS, [peer('rr', AS)]));
  f.add('e', router('e', ids.e!, 65001, [peer('rr', AS)]));
  for (const c of [...clients, 'n1', 'n2', 'e']) f.connect('rr', c, c, 'rr');
  f.run();
  return f;
}

describe('route reflection (RFC 4456)', () => {
  it('a route from a client goes to every other client and every non-client, with ORIGINATOR_ID and CLUSTER_LIST', () => {
    const f = reflectorTopology();
    f.get('c1').originate(pfx('10.11.0.0/16'));
    f.run();
    for (const r of ['c2', 'c3', 'n1', 'n2', 'e']) expect(best(f.get(r), '10.11.0.0/16')?.from, r).toBe('rr');
    expect(received(f, 'c1', '10.11.0.0/16')).toEqual([]);
    const atC2 = received(f, 'c2', '10.11.0.0/16')[0]!.pathAttributes;
    expect(attr(atC2, 'ORIGINATOR_ID')?.value).toBe(ip('10.0.0.11'));
    expect(attr(atC2, 'CLUSTER_LIST')?.value).toEqual([ip('10.0.0.100')]);
    // RFC 4456 §10: NEXT_HOP, AS_PATH and LOCAL_PREF are not changed by reflection.
    expect(attr(atC2, 'NEXT_HOP')?.value).toBe(ip('10.0.0.11'));
    expect(attr(atC2, 'AS_PATH')?.value).toEqual([]);
    expect(attr(atC2, 'LOCAL_PREF')?.value).toBe(100);
    // To the EBGP peer: no reflection attributes, our AS prepended.
    const atE = received(f, 'e', '10.11.0.0/16')[0]!.pathAttributes;
    expect(attr(atE, 'ORIGINATOR_ID')).toBeUndefined();
    expect(attr(atE, 'CLUSTER_LIST')).toBeUndefined();
    expect(attr(atE, 'AS_PATH')?.value).toEqual([{ type: AS_SEQUENCE, asNumbers: [AS] }]);
  });

  it('a route from a non-client goes to clients only', () => {
    const f = reflectorTopology();
    f.get('n1').originate(pfx('10.21.0.0/16'));
    f.run();
    for (const r of ['c1', 'c2', 'c3', 'e']) expect(best(f.get(r), '10.21.0.0/16')?.from, r).toBe('rr');
    expect(best(f.get('n2'), '10.21.0.0/16')).toBeUndefined();
    expect(received(f, 'n2', '10.21.0.0/16')).toEqual([]);
    expect(attr(received(f, 'c3', '10.21.0.0/16')[0]!.pathAttributes, 'ORIGINATOR_ID')?.value).toBe(ip('10.0.0.21'));
  });

  it('a route from an EBGP peer goes to clients and non-clients, without reflection attributes', () => {
    const f = reflectorTopology();
    f.get('e').originate(pfx('10.50.0.0/16'));
    f.run();
    for (const r of ['c1', 'c2', 'c3', 'n1', 'n2']) expect(best(f.get(r), '10.50.0.0/16')?.from, r).toBe('rr');
    const atN1 = received(f, 'n1', '10.50.0.0/16')[0]!.pathAttributes;
    expect(attr(atN1, 'ORIGINATOR_ID')).toBeUndefined();
    expect(attr(atN1, 'AS_PATH')?.value).toEqual([{ type: AS_SEQUENCE, asNumbers: [65001] }]);
  });

  it('who sees what: the whole table at every router', () => {
    const f = reflectorTopology();
    const origin: Record<string, string> = { c1: '10.11.0.0/16', c2: '10.12.0.0/16', c3: '10.13.0.0/16', n1: '10.21.0.0/16', n2: '10.22.0.0/16', e: '10.50.0.0/16' };
    for (const [r, p] of Object.entries(origin)) f.get(r).originate(pfx(p));
    f.run();
    const all = Object.values(origin).sort();
    expect(prefixesOf(f.get('rr'))).toEqual(all);
    for (const c of ['c1', 'c2', 'c3', 'e']) expect(prefixesOf(f.get(c)), c).toEqual(all);
    // A non-client does not see the other non-client's route (it would need the IBGP full mesh).
    expect(prefixesOf(f.get('n1'))).toEqual(all.filter((p) => p !== '10.22.0.0/16'));
    expect(prefixesOf(f.get('n2'))).toEqual(all.filter((p) => p !== '10.21.0.0/16'));
  });

  it('peerDown: the reflector withdraws the lost client\'s routes from everyone', () => {
    const f = reflectorTopology();
    f.get('c1').originate(pfx('10.11.0.0/16'));
    f.run();
    f.clearLog();
    f.disconnect('rr', 'c1');
    f.run();
    for (const r of ['c2', 'c3', 'n1', 'n2', 'e']) expect(best(f.get(r), '10.11.0.0/16'), r).toBeUndefined();
    expect(f.log.every((d) => d.message.withdrawnRoutes.length === 1 && d.message.nlri.length === 0)).toBe(true);
  });

  it('RFC 2918 route refresh: the peer gets its whole Adj-RIB-Out again, nobody else gets anything', () => {
    const f = reflectorTopology();
    for (const [r, p] of [['c1', '10.11.0.0/16'], ['n1', '10.21.0.0/16'], ['e', '10.50.0.0/16']] as const) f.get(r).originate(pfx(p));
    f.run();
    f.clearLog();
    f.get('rr').routeRefresh('c2', 'ipv4-unicast');
    f.run();
    expect(new Set(f.log.map((d) => d.to))).toEqual(new Set(['c2']));
    expect(f.log.flatMap((d) => d.message.nlri.map((n) => `${n.addr}/${n.len}`)).length).toBe(3);
    expect(prefixesOf(f.get('c2'))).toEqual(['10.11.0.0/16', '10.21.0.0/16', '10.50.0.0/16']);
  });

  it('update groups: an UPDATE for several peers with the same outbound policy is encoded once', () => {
    const f = reflectorTopology();
    expect(f.get('rr').updateGroups().map((g) => g.members)).toEqual([['c1', 'c2', 'c3'], ['n1', 'n2'], ['e']]);
    const before = f.get('rr').stats();
    f.clearLog();
    f.get('c1').originate(pfx('10.11.0.0/16'));
    f.get('c1').originate(pfx('10.11.1.0/24'));
    f.run();
    const after = f.get('rr').stats();
    // One UPDATE for the clients (c2, c3), one for the non-clients (n1, n2), one for e.
    expect(after.updatesEncoded - before.updatesEncoded).toBe(3);
    expect(after.updatesSent - before.updatesSent).toBe(5);
    const fromRr = f.log.filter((d) => d.from === 'rr');
    const toClients = fromRr.filter((d) => d.to === 'c2' || d.to === 'c3');
    expect(toClients).toHaveLength(2);
    expect(toClients[0]!.bytes).toBe(toClients[1]!.bytes); // the same encoding, not a copy
    expect(toClients[0]!.message.nlri).toHaveLength(2); // both prefixes packed in one UPDATE
  });
});

describe('loop prevention (RFC 4456 §8)', () => {
  it('a route carrying our router id as ORIGINATOR_ID, or our cluster id in CLUSTER_LIST, is ignored', () => {
    const f = reflectorTopology();
    const mk = (extra: PathAttribute[]) => {
      const d = decodeMessage(
        encodeMessage({ type: 'UPDATE', withdrawnRoutes: [], nlri: [pfx('10.99.0.0/16')], pathAttributes: [attribute('ORIGIN', 0), attribute('AS_PATH', []), attribute('NEXT_HOP', ip('10.0.0.77')), attribute('LOCAL_PREF', 100), ...extra] }, AS4_CONTEXT),
        AS4_CONTEXT,
      );
      if (!d.ok) throw new Error(d.error.toString());
      return d.value;
    };
    f.get('c1').receiveUpdate('rr', mk([attribute('ORIGINATOR_ID', ip('10.0.0.11')), attribute('CLUSTER_LIST', [ip('10.0.0.200')])]));
    expect(f.get('c1').adjRibIn('rr').map((v) => v.ineligible)).toEqual(['originator-id-loop']);
    f.get('rr').receiveUpdate('n1', mk([attribute('ORIGINATOR_ID', ip('10.0.0.55')), attribute('CLUSTER_LIST', [ip('10.0.0.200'), ip('10.0.0.100')])]));
    expect(f.get('rr').adjRibIn('n1').map((v) => v.ineligible)).toEqual(['cluster-list-loop']);
    f.run();
    expect(best(f.get('rr'), '10.99.0.0/16')).toBeUndefined();
    expect(received(f, 'c2', '10.99.0.0/16')).toEqual([]);
  });

  it('two reflectors in one cluster: each drops the other\'s reflection; clients keep a path through either', () => {
    const f = new Fabric();
    const ids: Record<string, string> = { r1: '10.0.1.1', r2: '10.0.1.2', k1: '10.0.1.11', k2: '10.0.1.12' };
    for (const [n, a] of Object.entries(ids)) addr[n] = ip(a);
    const cluster = ip('10.0.1.100');
    for (const r of ['r1', 'r2']) {
      const other = r === 'r1' ? 'r2' : 'r1';
      f.add(r, router(r, ids[r]!, AS, [peer('k1', AS, { routeReflectorClient: true }), peer('k2', AS, { routeReflectorClient: true }), peer(other, AS)], { clusterId: cluster }));
    }
    for (const k of ['k1', 'k2']) f.add(k, router(k, ids[k]!, AS, [peer('r1', AS), peer('r2', AS)]));
    f.connect('r1', 'r2', 'r2', 'r1');
    for (const r of ['r1', 'r2']) for (const k of ['k1', 'k2']) f.connect(r, k, k, r);
    f.run();
    f.get('k1').originate(pfx('10.61.0.0/16'));
    f.run();
    // r2 got k1's route from r1 with the shared cluster id in CLUSTER_LIST: a loop, ignored.
    expect(f.get('r2').adjRibIn('r1').map((v) => [v.nlri, v.ineligible])).toEqual([['10.61.0.0/16', 'cluster-list-loop']]);
    expect(best(f.get('r2'), '10.61.0.0/16')?.from).toBe('k1');
    // k2 has two paths, one per reflector: same ORIGINATOR_ID and CLUSTER_LIST length; peer address decides.
    const paths = f.get('k2').explain('ipv4-unicast', pfx('10.61.0.0/16'));
    expect(paths.map((v) => [v.from, v.best])).toEqual(expect.arrayContaining([['r1', true], ['r2', false]]));
    expect(best(f.get('k2'), '10.61.0.0/16')?.reason).toBe('peer-address');
    // k1 loses its session to r1: r1 has no path any more (r2's reflection is a loop for it); k2 keeps r2's.
    f.disconnect('r1', 'k1');
    f.run();
    expect(best(f.get('r1'), '10.61.0.0/16')).toBeUndefined();
    expect(best(f.get('k2'), '10.61.0.0/16')?.from).toBe('r2');
  });
});

// --- RFC 4364: PEs, VRFs, a VPN route reflector. ---

const RT_A = parseRouteTarget('65000:100')!;
const RT_B = parseRouteTarget('65000:200')!;

/**
 * Customers A and B, both using 10.1.0.0/16 at site 1 and 10.2.0.0/16 at site 2:
 *   ce1a (AS 65101), ce1b (AS 65201) -- pe1 -- rr -- pe2 -- ce2a (AS 65102), ce2b (AS 65202)
 * pe3 has only VRF B (RFC 4684 filters A's routes away from it); pe4 does not speak RFC 4684.
 */
function vpnTopology(): Fabric {
  const f = new Fabric();
  const ids: Record<string, string> = {
    rr: '10.255.0.100',
    pe1: '10.255.0.1',
    pe2: '10.255.0.2',
    pe3: '10.255.0.3',
    pe4: '10.255.0.4',
    ce1a: '172.16.1.1',
    ce1b: '172.16.1.2',
    ce2a: '172.16.2.1',
    ce2b: '172.16.2.2',
    ce3b: '172.16.3.2',
  };
  for (const [n, a] of Object.entries(ids)) addr[n] = ip(a);
  const vpnFamilies = ['vpn-ipv4', 'rt-membership'] as const;
  addr['probe'] = ip('10.255.0.9');
  // `probe` is configured but only connected by the test that needs it.
  f.add('rr', router('rr', ids.rr!, AS, ['pe1', 'pe2', 'pe3', 'pe4', 'probe'].map((p) => peer(p, AS, { routeReflectorClient: true, families: [...vpnFamilies] }))));
  const pe = (name: string, n: number, vrfs: ('A' | 'B')[], families: readonly ('vpn-ipv4' | 'rt-membership')[] = vpnFamilies): BgpRouter =>
    router(
      name,
      ids[name]!,
      AS,
      [peer('rr', AS, { families: [...families] }), ...vrfs.map((v) => peer(`ce${n}${v.toLowerCase()}`, v === 'A' ? 65100 + n : 65200 + n, { vrf: v }))],
      {
        vrfs: vrfs.map((v) => ({
          name: v,
          rd: { type: 0, administrator: AS, assignedNumber: n * 10 + (v === 'A' ? 1 : 2) },
          importRouteTargets: [v === 'A' ? RT_A : RT_B],
          exportRouteTargets: [v === 'A' ? RT_A : RT_B],
        })),
      },
    );
  f.add('pe1', pe('pe1', 1, ['A', 'B']));
  f.add('pe2', pe('pe2', 2, ['A', 'B']));
  f.add('pe3', pe('pe3', 3, ['B']));
  f.add('pe4', pe('pe4', 4, [], ['vpn-ipv4']));
  for (const [ce, n, v] of [['ce1a', 1, 'A'], ['ce1b', 1, 'B'], ['ce2a', 2, 'A'], ['ce2b', 2, 'B'], ['ce3b', 3, 'B']] as const) {
    f.add(ce, router(ce, ids[ce]!, v === 'A' ? 65100 + n : 65200 + n, [peer(`pe${n}`, AS)]));
  }
  for (const p of ['pe1', 'pe2', 'pe3', 'pe4']) f.connect('rr', p, p, 'rr');
  for (const [ce, p] of [['ce1a', 'pe1'], ['ce1b', 'pe1'], ['ce2a', 'pe2'], ['ce2b', 'pe2'], ['ce3b', 'pe3']] as const) f.connect(ce, p, p, ce);
  f.run();
  return f;
}

describe('RFC 4364 PEs through a VPN route reflector', () => {
  it('two customers with the same prefixes stay apart: different RDs, per-VRF labels, each CE sees only its VPN', () => {
    const f = vpnTopology();
    f.get('ce1a').originate(pfx('10.1.0.0/16'));
    f.get('ce1b').originate(pfx('10.1.0.0/16'));
    f.get('ce2a').originate(pfx('10.2.0.0/16'));
    f.get('ce2b').originate(pfx('10.2.0.0/16'));
    f.run();
    // The reflector holds four distinct VPN-IPv4 routes.
    expect(prefixesOf(f.get('rr'), 'vpn-ipv4')).toEqual(['65000:11:10.1.0.0/16', '65000:12:10.1.0.0/16', '65000:21:10.2.0.0/16', '65000:22:10.2.0.0/16']);
    // pe2's VRFs: the imported route carries pe1's label for that VRF and pe1 as next hop.
    const a = best(f.get('pe2'), '10.1.0.0/16', { vrf: 'A' })!;
    const b = best(f.get('pe2'), '10.1.0.0/16', { vrf: 'B' })!;
    expect([a.from, a.nextHop, a.labels]).toEqual(['import rr', ip('10.255.0.1'), [16]]);
    expect([b.from, b.nextHop, b.labels]).toEqual(['import rr', ip('10.255.0.1'), [17]]);
    expect(f.get('pe1').vrfs().map((v) => [v.name, v.label, v.attachments])).toEqual([
      ['A', 16, ['ce1a']],
      ['B', 17, ['ce1b']],
    ]);
    // Each CE learns the other site of its own customer, through its PE.
    const ce2a = best(f.get('ce2a'), '10.1.0.0/16')!;
    const ce2b = best(f.get('ce2b'), '10.1.0.0/16')!;
    expect(attr(ce2a.attributes, 'AS_PATH')?.value).toEqual([{ type: AS_SEQUENCE, asNumbers: [AS, 65101] }]);
    expect(attr(ce2b.attributes, 'AS_PATH')?.value).toEqual([{ type: AS_SEQUENCE, asNumbers: [AS, 65201] }]);
    expect(ce2a.nextHop).toBe(ip('10.255.0.2'));
    expect(prefixesOf(f.get('ce1a'))).toEqual(['10.1.0.0/16', '10.2.0.0/16']);
    // A withdrawal in customer A leaves customer B untouched.
    f.get('ce1a').withdrawOriginated(pfx('10.1.0.0/16'));
    f.run();
    expect(best(f.get('ce2a'), '10.1.0.0/16')).toBeUndefined();
    expect(attr(best(f.get('ce2b'), '10.1.0.0/16')!.attributes, 'AS_PATH')?.value).toEqual([{ type: AS_SEQUENCE, asNumbers: [AS, 65201] }]);
    expect(prefixesOf(f.get('rr'), 'vpn-ipv4')).toEqual(['65000:12:10.1.0.0/16', '65000:21:10.2.0.0/16', '65000:22:10.2.0.0/16']);
  });

  it('seed 002: the Security Gateway Identity goes CE -> PE -> VPN-IPv4 -> PE -> CE, next to the route target', () => {
    const f = vpnTopology();
    const sgi = securityGatewayIdentity(ip('172.16.1.1'), { preEstablish: true });
    f.get('ce1a').originate(pfx('10.1.0.0/16'), { extendedCommunities: [sgi] });
    f.get('ce2a').originate(pfx('10.2.0.0/16'));
    f.run();
    // pe1: the VPN-IPv4 route carries the export route target and the CE's Security Gateway Identity.
    const vpn = best(f.get('pe1'), '10.1.0.0/16', 'vpn-ipv4')!;
    expect(attr(vpn.attributes, 'EXTENDED_COMMUNITIES')?.value).toEqual([RT_A, sgi]);
    expect(vpn.labels).toEqual([16]);
    // On the wire to the reflector and from it to pe2: MP_REACH_NLRI with label and RD, communities kept.
    const toPe2 = received(f, 'pe2', '10.1.0.0/16')[0]!;
    const mp = getAttribute(toPe2.pathAttributes, 'MP_REACH_NLRI')!.value;
    expect(mp.family === 'vpn-ipv4' && mp.nlri[0]).toMatchObject({ labels: [16], rd: { type: 0, administrator: AS, assignedNumber: 11 } });
    expect(attr(toPe2.pathAttributes, 'EXTENDED_COMMUNITIES')?.value).toEqual([RT_A, sgi]);
    // pe2's VRF A and the CE of customer A at site 2 see it; customer B does not.
    expect(best(f.get('pe2'), '10.1.0.0/16', { vrf: 'A' })?.securityGatewayIdentity).toEqual(sgi);
    const atCe = received(f, 'ce2a', '10.1.0.0/16')[0]!;
    expect(attr(atCe.pathAttributes, 'EXTENDED_COMMUNITIES')?.value).toEqual([RT_A, sgi]);
    const feed = changes(f.get('ce2a')).find((c) => c.nlri === '10.1.0.0/16')!;
    expect(feed.best?.securityGatewayIdentity).toEqual(sgi);
    expect(feed.best?.nextHop).toBe(ip('10.255.0.2'));
    expect(best(f.get('ce2b'), '10.1.0.0/16')).toBeUndefined();
    // The change feed of pe2 gives forwarding what it needs: VRF, prefix, remote PE, label.
    const pe2 = changes(f.get('pe2')).find((c) => c.vrf === 'A' && c.nlri === '10.1.0.0/16')!;
    expect([pe2.best?.nextHop, pe2.best?.labels, pe2.best?.securityGatewayIdentity?.gatewayAddress]).toEqual([ip('10.255.0.1'), [16], ip('172.16.1.1')]);
  });

  it('a CE cannot set route targets: they are replaced by the VRF\'s export route targets', () => {
    const f = vpnTopology();
    f.get('ce1a').originate(pfx('10.1.0.0/16'), { extendedCommunities: [RT_B] });
    f.run();
    expect(attr(best(f.get('pe1'), '10.1.0.0/16', 'vpn-ipv4')!.attributes, 'EXTENDED_COMMUNITIES')?.value).toEqual([RT_A]);
    expect(best(f.get('ce2b'), '10.1.0.0/16')).toBeUndefined();
  });
});

describe('RFC 4684 route target constraint', () => {
  it('each PE advertises the route targets it imports; the reflector sends clients the default', () => {
    const f = vpnTopology();
    const rr = f.get('rr');
    const fromPe1 = rr.adjRibIn('pe1').filter((v) => v.family === 'rt-membership').map((v) => v.nlri).sort();
    expect(fromPe1).toEqual([`${AS}:0002fde800000064/96`, `${AS}:0002fde8000000c8/96`]);
    expect(rr.adjRibIn('pe3').filter((v) => v.family === 'rt-membership').map((v) => v.nlri)).toEqual([`${AS}:0002fde8000000c8/96`]);
    expect(f.get('pe1').adjRibIn('rr').filter((v) => v.family === 'rt-membership').map((v) => v.nlri)).toContain('default');
  });

  it('the reflector sends each PE only the VPN routes whose route targets it asked for; a PE without the family gets all', () => {
    const f = vpnTopology();
    f.get('ce1a').originate(pfx('10.1.0.0/16'));
    f.get('ce1b').originate(pfx('10.1.0.0/16'));
    f.run();
    expect(prefixesOf(f.get('pe3'), 'vpn-ipv4')).toEqual(['65000:12:10.1.0.0/16']);
    expect(prefixesOf(f.get('pe3'), { vrf: 'B' })).toEqual(['10.1.0.0/16']);
    expect(f.get('rr').adjRibOut('pe3').filter((v) => v.family === 'vpn-ipv4').map((v) => v.nlri)).toEqual(['65000:12:10.1.0.0/16']);
    expect(received(f, 'pe3', '10.1.0.0/16').flatMap((m) => attr(m.pathAttributes, 'EXTENDED_COMMUNITIES')?.value ?? [])).toEqual([RT_B]);
    // RFC 4684 §4: pe4 did not negotiate route target membership, so nothing is filtered for it.
    expect(prefixesOf(f.get('pe4'), 'vpn-ipv4')).toEqual(['65000:11:10.1.0.0/16', '65000:12:10.1.0.0/16']);
    expect(best(f.get('ce3b'), '10.1.0.0/16')?.from).toBe('pe3');
  });

  it('membership changes: asking for a route target brings its routes, withdrawing it takes them back, the default brings all', () => {
    const f = vpnTopology();
    f.get('ce1a').originate(pfx('10.1.0.0/16'));
    f.get('ce1b').originate(pfx('10.1.0.0/16'));
    f.run();
    // A client with no VRF: it negotiates RFC 4684, asks for nothing and gets no VPN route.
    const probe = f.add('probe', router('probe', '10.255.0.9', AS, [peer('rr', AS, { families: ['vpn-ipv4', 'rt-membership'] })]));
    f.connect('rr', 'probe', 'probe', 'rr');
    f.run();
    expect(prefixesOf(probe, 'vpn-ipv4')).toEqual([]);
    // What probe would send if it had VRFs importing these route targets.
    const ask = (nlri: RtMembershipNlri[], withdraw = false): void => {
      const pathAttributes: PathAttribute[] = withdraw
        ? [attribute('MP_UNREACH_NLRI', { family: 'rt-membership', withdrawnRoutes: nlri })]
        : [attribute('MP_REACH_NLRI', { family: 'rt-membership', nextHop: ip('10.255.0.9'), nlri }), attribute('ORIGIN', 0), attribute('AS_PATH', []), attribute('LOCAL_PREF', 100)];
      const d = decodeMessage(encodeMessage({ type: 'UPDATE', withdrawnRoutes: [], nlri: [], pathAttributes }, AS4_CONTEXT), AS4_CONTEXT);
      if (!d.ok) throw new Error(d.error.toString());
      f.get('rr').receiveUpdate('probe', d.value);
      f.run();
    };
    ask([membershipFor(AS, RT_A)]);
    expect(prefixesOf(probe, 'vpn-ipv4')).toEqual(['65000:11:10.1.0.0/16']);
    ask([membershipFor(AS, RT_A)], true);
    expect(prefixesOf(probe, 'vpn-ipv4')).toEqual([]);
    ask([{ prefixLength: 0, originAs: 0, routeTarget: new Uint8Array(8) }]);
    expect(prefixesOf(probe, 'vpn-ipv4')).toEqual(['65000:11:10.1.0.0/16', '65000:12:10.1.0.0/16']);
  });

  it('RtFilter: exact, partial and default memberships', () => {
    const a = routeTargetKey(RT_A);
    const b = routeTargetKey(RT_B);
    expect(new RtFilter([]).passes([a])).toBe(false);
    expect(new RtFilter([membershipFor(AS, RT_A)]).passes([b, a])).toBe(true);
    expect(new RtFilter([membershipFor(AS, RT_A)]).passes([b])).toBe(false);
    // 32 + 48 bits: type, sub-type and the AS 65000 of a two-octet-AS route target: matches both.
    const partial = { ...membershipFor(AS, RT_A), prefixLength: 80 };
    partial.routeTarget = partial.routeTarget.map((x, i) => (i < 6 ? x : 0));
    expect(new RtFilter([partial]).passes([b])).toBe(true);
    expect(new RtFilter([partial]).passes([routeTargetKey(parseRouteTarget('65001:100')!)])).toBe(false);
    expect(new RtFilter([{ prefixLength: 0, originAs: 0, routeTarget: new Uint8Array(8) }]).passes([])).toBe(true);
  });
});

describe('update groups against the receivers (randomized)', () => {
  const POOL = ['10.1.0.0/16', '10.2.0.0/16', '10.3.0.0/24', '10.4.0.0/24'];
  const SPEAKERS = ['c1', 'c2', 'c3', 'c4', 'n1', 'e1'] as const;
  type Op = { kind: 'originate' | 'withdraw'; at: (typeof SPEAKERS)[number]; prefix: string; med: number } | { kind: 'bounce'; at: (typeof SPEAKERS)[number] };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constantFrom('originate' as const, 'withdraw' as const), at: fc.constantFrom(...SPEAKERS), prefix: fc.constantFrom(...POOL), med: fc.constantFrom(0, 5) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('bounce' as const), at: fc.constantFrom(...SPEAKERS) }) },
  );
  const wire = (v: RouteView): string => `${v.nextHop}|${hex(pathAttributesBytes([...v.attributes], AS4_CONTEXT))}`;

  it('what each peer received is exactly the Adj-RIB-Out the reflector derives for it, and everyone converges', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 25 }), (ops) => {
        const f = new Fabric(false);
        const ids: Record<string, string> = { rr: '10.7.0.100', c1: '10.7.0.1', c2: '10.7.0.2', c3: '10.7.0.3', c4: '10.7.0.4', n1: '10.7.0.5', e1: '192.0.2.77' };
        for (const [n, a] of Object.entries(ids)) addr[n] = ip(a);
        f.add('rr', router('rr', ids.rr!, AS, [...['c1', 'c2', 'c3', 'c4'].map((c) => peer(c, AS, { routeReflectorClient: true })), peer('n1', AS), peer('e1', 65001)]));
        for (const s of SPEAKERS) f.add(s, router(s, ids[s]!, s === 'e1' ? 65001 : AS, [peer('rr', AS)]));
        for (const s of SPEAKERS) f.connect('rr', s, s, 'rr');
        const originated = new Map<string, Set<string>>(SPEAKERS.map((s) => [s, new Set()]));
        for (const op of ops) {
          if (op.kind === 'bounce') {
            f.disconnect(op.at, 'rr');
            f.connect('rr', op.at, op.at, 'rr');
          } else if (op.kind === 'originate') {
            f.get(op.at).originate(pfx(op.prefix), { med: op.med });
            originated.get(op.at)!.add(op.prefix);
          } else {
            f.get(op.at).withdrawOriginated(pfx(op.prefix));
            originated.get(op.at)!.delete(op.prefix);
          }
          f.run();
          const rr = f.get('rr');
          for (const s of SPEAKERS) {
            const sent = new Map(rr.adjRibOut(s).map((v) => [v.nlri, wire(v)]));
            const got = new Map(f.get(s).adjRibIn('rr').map((v) => [v.nlri, wire(v)]));
            expect(got, `${s} after ${JSON.stringify(op)}`).toEqual(sent);
          }
          // One non-client only, so every speaker ends up with every prefix anyone originates.
          const all = [...new Set([...originated.values()].flatMap((x) => [...x]))].sort();
          for (const s of ['rr', ...SPEAKERS]) expect(prefixesOf(f.get(s)), s).toEqual(all);
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe('RFC 4684 filtering against the receivers (randomized)', () => {
  const POOL = ['10.1.0.0/16', '10.2.0.0/16'];
  const SITES = [
    ['pe1', 'A'],
    ['pe1', 'B'],
    ['pe2', 'A'],
    ['pe3', 'B'],
    ['pe4', 'A'],
  ] as const;
  type Op =
    | { kind: 'originate' | 'withdraw'; site: number; prefix: string }
    | { kind: 'ask'; rts: ('A' | 'B' | 'default')[] };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constantFrom('originate' as const, 'withdraw' as const), site: fc.integer({ min: 0, max: SITES.length - 1 }), prefix: fc.constantFrom(...POOL) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('ask' as const), rts: fc.subarray(['A', 'B', 'default'] as ('A' | 'B' | 'default')[]) }) },
  );
  const wire = (v: RouteView): string => `${v.nextHop}|${v.labels?.join('/')}|${hex(pathAttributesBytes([...v.attributes], AS4_CONTEXT))}`;

  it('each PE gets exactly the VPN routes whose route targets it imports (all of them without RFC 4684)', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 20 }), (ops) => {
        const f = new Fabric(false);
        const ids: Record<string, string> = { rr: '10.8.0.100', pe1: '10.8.0.1', pe2: '10.8.0.2', pe3: '10.8.0.3', pe4: '10.8.0.4', probe: '10.8.0.9' };
        for (const [n, a] of Object.entries(ids)) addr[n] = ip(a);
        const both = ['vpn-ipv4', 'rt-membership'] as Family[];
        f.add('rr', router('rr', ids.rr!, AS, ['pe1', 'pe2', 'pe3', 'pe4', 'probe'].map((p) => peer(p, AS, { routeReflectorClient: true, families: both }))));
        const vrfsOf = (pe: string) => SITES.filter(([p]) => p === pe).map(([, v]) => v);
        for (const pe of ['pe1', 'pe2', 'pe3', 'pe4']) {
          const vrfs = vrfsOf(pe).map((v, i) => ({ name: v, rd: { type: 1, administrator: ip(ids[pe]!), assignedNumber: i + 1 }, importRouteTargets: [v === 'A' ? RT_A : RT_B], exportRouteTargets: [v === 'A' ? RT_A : RT_B] }));
          f.add(pe, router(pe, ids[pe]!, AS, [peer('rr', AS, { families: pe === 'pe4' ? ['vpn-ipv4'] : both })], { vrfs }));
          f.connect('rr', pe, pe, 'rr');
        }
        f.add('probe', router('probe', ids.probe!, AS, [peer('rr', AS, { families: both })]));
        f.connect('rr', 'probe', 'probe', 'rr');
        f.run();
        const live = new Set<string>(); // `${site}|${prefix}`
        let asked: RtMembershipNlri[] = [];
        for (const op of ops) {
          if (op.kind === 'ask') {
            const next = op.rts.map((r) => (r === 'default' ? { prefixLength: 0, originAs: 0, routeTarget: new Uint8Array(8) } : membershipFor(AS, r === 'A' ? RT_A : RT_B)));
            const pathAttributes: PathAttribute[] = [attribute('MP_REACH_NLRI', { family: 'rt-membership', nextHop: ip(ids.probe!), nlri: next }), attribute('ORIGIN', 0), attribute('AS_PATH', []), attribute('LOCAL_PREF', 100)];
            const unreach: PathAttribute[] = [attribute('MP_UNREACH_NLRI', { family: 'rt-membership', withdrawnRoutes: asked })];
            for (const pa of [asked.length ? unreach : [], next.length ? pathAttributes : []]) {
              if (!pa.length) continue;
              const d = decodeMessage(encodeMessage({ type: 'UPDATE', withdrawnRoutes: [], nlri: [], pathAttributes: pa }, AS4_CONTEXT), AS4_CONTEXT);
              if (!d.ok) throw new Error(d.error.toString());
              f.get('rr').receiveUpdate('probe', d.value);
            }
            asked = next;
          } else {
            const [pe, vrf] = SITES[op.site]!;
            if (op.kind === 'originate') f.get(pe).originate(pfx(op.prefix), {}, vrf);
            else f.get(pe).withdrawOriginated(pfx(op.prefix), vrf);
            (op.kind === 'originate' ? live.add(`${op.site}|${op.prefix}`) : live.delete(`${op.site}|${op.prefix}`));
          }
          f.run();
          const rr = f.get('rr');
          const vpnOnly = (vs: RouteView[]) => new Map(vs.filter((v) => v.family === 'vpn-ipv4').map((v) => [v.nlri, wire(v)]));
          for (const pe of ['pe1', 'pe2', 'pe3', 'pe4', 'probe']) {
            expect(vpnOnly(f.get(pe).adjRibIn('rr')), `${pe} after ${JSON.stringify(op)}`).toEqual(vpnOnly(rr.adjRibOut(pe)));
          }
          // Expected VPN routes from the reflector: other PEs' sites whose VRF the receiver imports.
          const wants = (pe: string, vrf: string): boolean => {
            if (pe === 'pe4') return true;
            if (pe === 'probe') return asked.some((m) => m.prefixLength === 0 || m.routeTarget[7] === (vrf === 'A' ? 100 : 200));
            return vrfsOf(pe).includes(vrf as 'A' | 'B');
          };
          for (const pe of ['pe1', 'pe2', 'pe3', 'pe4', 'probe']) {
            const expected = [...live]
              .map((k) => k.split('|') as [string, string])
              .filter(([site]) => SITES[Number(site)]![0] !== pe && wants(pe, SITES[Number(site)]![1]))
              .map(([site, prefix]) => `${SITES[Number(site)]![0]}/${SITES[Number(site)]![1]} ${prefix}`)
              .sort();
            const got = f
              .get(pe)
              .adjRibIn('rr')
              .filter((v) => v.family === 'vpn-ipv4')
              .map((v) => {
                const owner = Object.entries(ids).find(([, a]) => ip(a) === v.rd!.administrator)![0];
                return `${owner}/${vrfsOf(owner)[v.rd!.assignedNumber - 1]} ${formatIpv4(v.prefix!.addr)}/${v.prefix!.len}`;
              })
              .sort();
            expect(got, `${pe} after ${JSON.stringify(op)}`).toEqual(expected);
          }
        }
      }),
      { numRuns: 100 },
    );
  });
});
