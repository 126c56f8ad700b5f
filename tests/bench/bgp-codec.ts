// BGP codec speed: UPDATE decode and encode rates (messages/s, prefixes/s) for realistic IPv4 unicast
// and VPN-IPv4 UPDATEs, and packUpdates. Measures only; targets are checked by the bench runner.
import type { Ipv4Prefix } from '../../src/lib/addr.ts';
import {
  AS4_CONTEXT,
  AS_SEQUENCE,
  attribute,
  decodeMessage,
  encodeMessage,
  getAttribute,
  packUpdates,
  parseRouteTarget,
  securityGatewayIdentity,
  type BgpMessage,
  type PathAttribute,
  type UpdateMessage,
  type VpnIpv4Nlri,
} from '../../src/proto/bgp/index.ts';

type Row = Record<string, string | number>;
const ctx = AS4_CONTEXT;

/** Best of `runs` timings of `fn` repeated until at least `minMs` passed; returns seconds per call. */
function timePerCall(fn: () => void, runs = 5, minMs = 150): number {
  let best = Infinity;
  for (let r = 0; r < runs; r++) {
    let n = 0;
    const t0 = performance.now();
    let t = t0;
    do {
      fn();
      n++;
      t = performance.now();
    } while (t - t0 < minMs);
    best = Math.min(best, (t - t0) / 1000 / n);
  }
  return best;
}

const prefix = (i: number, len = 24): Ipv4Prefix => ({ family: 4, addr: (0x0a000000 + i * 256) >>> 0, len });

/** An eBGP Internet-style route: 4-AS path, MED, three communities. */
function ipv4Update(nPrefixes: number): UpdateMessage {
  return {
    type: 'UPDATE',
    withdrawnRoutes: [],
    nlri: Array.from({ length: nPrefixes }, (_, i) => prefix(i, 20 + (i % 5))),
    pathAttributes: [
      attribute('ORIGIN', 0),
      attribute('AS_PATH', [{ type: AS_SEQUENCE, asNumbers: [65001, 3356, 174, 4200000001] }]),
      attribute('NEXT_HOP', 0x0a000001),
      attribute('MULTI_EXIT_DISC', 10),
      attribute('COMMUNITIES', [0xfde80064, 0xfde800c8, 0xffffff01]),
    ],
  };
}

const vpnNlri = (i: number): VpnIpv4Nlri => ({ labels: [16 + i], rd: { type: 0, administrator: 65000, assignedNumber: 1 + (i % 4) }, prefix: prefix(i) });

/** A PE's VPN-IPv4 route via a reflector: route target, Security Gateway Identity, RFC 4456 attributes. */
const vpnAttrs: PathAttribute[] = [
  attribute('ORIGIN', 0),
  attribute('AS_PATH', [{ type: AS_SEQUENCE, asNumbers: [65101] }]),
  attribute('LOCAL_PREF', 100),
  attribute('EXTENDED_COMMUNITIES', [parseRouteTarget('65000:1')!, securityGatewayIdentity(0xc0a80a01, { preEstablish: true })]),
  attribute('ORIGINATOR_ID', 0x0a000002),
  attribute('CLUSTER_LIST', [0x0a0000fe]),
];

function vpnUpdate(nRoutes: number): UpdateMessage {
  return {
    type: 'UPDATE',
    withdrawnRoutes: [],
    nlri: [],
    pathAttributes: [{ type: 'MP_REACH_NLRI', value: { family: 'vpn-ipv4', nextHop: 0x0a000002, nlri: Array.from({ length: nRoutes }, (_, i) => vpnNlri(i)) } }, ...vpnAttrs],
  };
}

function prefixesOf(m: BgpMessage): number {
  if (m.type !== 'UPDATE') return 0;
  const mp = getAttribute(m.pathAttributes, 'MP_REACH_NLRI');
  return m.nlri.length + (mp && mp.value.family !== 'other' ? mp.value.nlri.length : 0);
}

function codecRow(name: string, m: UpdateMessage): Row {
  const bytes = encodeMessage(m, ctx);
  const check = decodeMessage(bytes, ctx);
  if (!check.ok || check.value.error) throw new Error(`bench fixture ${name} does not decode cleanly`);
  const prefixes = prefixesOf(m);
  const decodeS = timePerCall(() => {
    decodeMessage(bytes, ctx);
  });
  const decoded = check.value.message;
  const encodeS = timePerCall(() => {
    encodeMessage(decoded, ctx);
  });
  return {
    bench: 'bgp-codec',
    case: name,
    octets: bytes.length,
    prefixesPerMessage: prefixes,
    decodeMessagesPerS: Math.round(1 / decodeS),
    decodePrefixesPerS: Math.round(prefixes / decodeS),
    encodeMessagesPerS: Math.round(1 / encodeS),
    encodePrefixesPerS: Math.round(prefixes / encodeS),
  };
}

export async function bgpCodecBench(): Promise<Record<string, string | number>[]> {
  const rows: Row[] = [
    codecRow('IPv4 unicast UPDATE, 1 prefix', ipv4Update(1)),
    codecRow('IPv4 unicast UPDATE, 10 prefixes', ipv4Update(10)),
    codecRow('IPv4 unicast UPDATE, full (900 prefixes)', ipv4Update(900)),
    codecRow('VPN-IPv4 UPDATE, 1 route', vpnUpdate(1)),
    codecRow('VPN-IPv4 UPDATE, 10 routes', vpnUpdate(10)),
    codecRow('VPN-IPv4 UPDATE, full (265 routes)', vpnUpdate(265)),
  ];
  // packUpdates: 10 000 VPN-IPv4 routes sharing one attribute set, as a reflector sends them.
  const routes = Array.from({ length: 10_000 }, (_, i) => vpnNlri(i));
  let messages = 0;
  const packS = timePerCall(() => {
    const r = packUpdates(vpnAttrs, { family: 'vpn-ipv4', nextHop: 0x0a000002, nlri: routes }, ctx);
    if (!r.ok) throw new Error(r.error.message);
    messages = r.value.length;
  }, 3);
  rows.push({ bench: 'bgp-codec', case: 'packUpdates, 10000 VPN-IPv4 routes, one attribute set', messages, packMessagesPerS: Math.round(messages / packS), packPrefixesPerS: Math.round(routes.length / packS) });
  return rows;
}

// `npx tsx tests/bench/bgp-codec.ts` runs it alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await bgpCodecBench();
  for (const r of rows) console.error(Object.entries(r).map(([k, v]) => `${k}=${v}`).join('  '));
  console.log(JSON.stringify({ node: process.version, results: rows }, null, 2));
}
