// The schema of the JSON report (`vpnlab run --report`), as zod, and its JSON Schema text for
// public/report.schema.json. Each field's description says where its value comes from. Pure.

import { z } from 'zod';

const n = z.number();
const int = z.int().min(0);
const pb = z.object({ packets: int, bytes: int });
const control = z
  .object({ bgp: pb, ike: pb, gikev2: pb })
  .meta({ description: 'Control traffic seen by the backbone tap: BGP = TCP port 179 (segments, ACKs included), IKE = UDP 500/4500, G-IKEv2 = UDP 848; IP bytes.' });
const linkDir = z.object({ frames: int, bytes: int, lost: int, droppedDown: int, droppedQueue: int });
const tapCounts = {
  frames: int.meta({ description: 'Frames captured on the link (both directions).' }),
  clearPayloadBytes: int.meta({ description: 'ICMP/UDP/TCP payload bytes of packets whose source and destination are both customer addresses (CE trusted subnets, host LANs), also inside MPLS-in-IP (IP 137) or IP-in-IP: what a provider reads in clear.' }),
  clearPackets: int,
  espBytes: int.meta({ description: 'Bytes after the outer IPv4 header of ESP (IP 50) packets.' }),
  espPackets: int,
  control,
};
const convergenceCheck = z.object({
  sessions: z.object({ established: int, total: int }),
  routes: z.object({ present: int, expected: int }),
  sas: z.object({ present: int, expected: int }),
  ok: z.boolean(),
});

export const NodeSummarySchema = z
  .object({
    bgpSessions: z.array(z.object({ name: z.string(), peer: z.string().optional(), state: z.string() })).meta({ description: "Every `neighbors[]` entry with a `state` in any app snapshot (today the `bgp` app)." }),
    ribSizes: z.record(z.string(), int).meta({ description: 'Length of every array under an app snapshot\'s `rib`, by path, e.g. `bgp.rib.locRib.ipv4-unicast`, `bgp.rib.vrfs.blue`, `bgp.rib.adjRibIn.pe1`.' }),
    spdEntries: int.meta({ description: 'Sum of the lengths of every app snapshot\'s `spd` array.' }),
    sas: z
      .object({ installed: int, group: int, pairwise: int, byApp: z.record(z.string(), int) })
      .meta({ description: 'installed: the node\'s `espSas` (every ESP SA ever installed, one per direction); group: those with `*` as src or dst; byApp: length of each app snapshot\'s `sas` array.' }),
    configItems: z.object({ routing: int, security: int, total: int }).meta({ description: 'Configuration items an operator writes on this node, derived from the topology by the rule of docs/report.md.' }),
    control: control.nullable().meta({ description: 'Control packets this node originated (source address its own, counted on its own link); null without a tap.' }),
  })
  .meta({ title: 'NodeSummary' });

const tcpFlow = z
  .object({
    bytes: int.meta({ description: 'Bytes the flow sends (configured), its 12-byte stream header included.' }),
    bytesSent: int.meta({ description: 'Bytes the client handed to TCP.' }),
    bytesAcked: int.meta({ description: "Bytes the server's TCP acknowledged (client's count)." }),
    bytesReceived: int.meta({ description: "Bytes the server received in order that match the flow's deterministic stream." }),
    bytesCorrupt: int.meta({ description: 'Bytes received that did not match the stream.' }),
    setupUs: int.nullable().meta({ description: 'SYN sent to ESTABLISHED at the client: the handshake round trip (virtual µs).' }),
    completionUs: int.nullable().meta({ description: 'Flow start to the last byte at the server (virtual µs); null until every byte arrived.' }),
    goodputBps: int.nullable().meta({ description: 'bytes · 8 / completionUs, bits per second.' }),
    retransmits: int.meta({ description: 'Segments the client sent again (timeouts, fast retransmits, go-back-N).' }),
    fastRetransmits: int,
    timeouts: int,
    clientState: z.string().meta({ description: "The client connection's RFC 9293 state (TIME-WAIT after a normal close, CLOSED once gone)." }),
    closeReason: z.string().nullable().meta({ description: 'normal, reset, refused, timeout or aborted, once the client connection closed.' }),
    finReceived: z.object({ server: z.boolean(), client: z.boolean() }).meta({ description: "The client's FIN reached the server; the server's FIN reached the client." }),
    complete: z.boolean().meta({ description: 'Every byte received in order and intact, and the server saw the FIN.' }),
  })
  .meta({ title: 'TcpFlow' });

export const FlowVerdictSchema = z
  .object({
    index: int,
    kind: z.enum(['ping', 'udp', 'tcp']),
    from: z.string(),
    to: z.string(),
    sent: int.meta({ description: 'Echo requests / datagrams sent by the source host; tcp: bytes handed to TCP.' }),
    received: int,
    delivered: int.meta({ description: 'ping: echo replies back at the source; udp: datagrams counted at the receivers; tcp: bytes received in order at the server.' }),
    lost: int.meta({ description: 'sent - received; tcp: bytes of the flow not received.' }),
    rttMinUs: n.optional(),
    rttAvgUs: n.optional(),
    rttMaxUs: n.optional(),
    latency: z.object({ count: int, minUs: n, maxUs: n, sumUs: n, bins: z.array(z.tuple([int, n])) }).optional().meta({ description: 'Raw bounded histogram (8 log bins per octave, src/node/latency-histogram.ts).' }),
    drops: z.record(z.string(), int).optional(),
    dropped: z.record(z.string(), int).meta({ description: 'noRouteAtSource (source host had no route), unreachable / ttlExceeded (ICMP errors quoting the flow came back), unaccounted (lost minus the known ones: link loss, queue drops, drops nobody reported).' }),
    latencyPercentiles: z
      .object({ kind: z.enum(['rtt', 'one-way']), samples: int, p50Us: n, p90Us: n, p99Us: n, maxUs: n })
      .nullable()
      .meta({ description: 'ping: round trip; udp: one way (send time carried in the payload); tcp: the handshake round trip. A percentile is its bin\'s upper bound (within ~9%), capped by the exact max.' }),
    backbone: z
      .object({ clearPackets: int, protected: z.boolean() })
      .nullable()
      .meta({ description: 'clearPackets: the flow\'s packets (echo id / UDP flow magic) seen in clear on backbone and access links; protected: delivered > 0 and clearPackets = 0. Null without a tap, and for tcp flows (the tap does not attribute TCP segments).' }),
    tcp: tcpFlow.optional().meta({ description: 'tcp flows only: the transfer from its client and its server.' }),
  })
  .meta({ title: 'FlowVerdict' });

export const ReportSchema = z
  .object({
    schemaVersion: z.literal(1),
    topology: z.string(),
    mode: z.enum(['l3vpn', 'mesh', 'gateway', 'group']),
    seed: int,
    runtime: z.string(),
    dataplane: z.string().optional(),
    virtualTimeUs: int,
    eventsProcessed: int,
    nodes: z.record(
      z.string(),
      z
        .looseObject({ role: z.enum(['host', 'ce', 'pe', 'p', 'sr']), counters: z.record(z.string(), n), interfaces: z.array(z.looseObject({ ifIndex: int, peer: z.string(), addr: z.string() })).optional(), summary: NodeSummarySchema })
        .meta({ description: 'Per node: counters, interfaces and every app snapshot by app name (bgp, ipsec, tcp, …; left out with --report-detail summary), and the summary.' }),
    ),
    links: z.record(z.string(), z.object({ a: z.string(), b: z.string(), up: z.boolean(), frames: int, bytes: int, aToB: linkDir, bToA: linkDir })),
    flows: z.array(FlowVerdictSchema),
    backbone: z
      .object({ links: z.array(z.object({ link: z.string(), kind: z.enum(['backbone', 'access']), ...tapCounts })), total: z.object(tapCounts) })
      .nullable()
      .meta({ description: 'The backbone tap: links with both ends pe/p/sr (backbone) or a CE and a provider node (access), parsed from the same captures as the pcaps.' }),
    convergence: z
      .object({
        convergedAtUs: int.nullable().meta({ description: 'Virtual time of the first sample from which every later sample met the condition (the time is an upper bound, within one sample interval); null if the last sample did not.' }),
        sampleIntervalUs: int,
        samples: int,
        last: convergenceCheck.nullable(),
      })
      .nullable()
      .meta({ description: 'Condition (src/sim/convergence.ts): every BGP session reported is Established; every CE learned the trusted subnets of every other CE of its VPNs (group mode: groups); mesh: 2(n-1) pairwise SAs per CE; gateway: one SPD entry per remote trusted subnet; group: one group SA per group.' }),
    totals: z.object({
      sites: int,
      bgpSessions: z.object({ established: int, total: int }),
      sas: z.object({ installed: int, pairwise: int, group: int }),
      spdEntries: int,
      ribEntries: int.meta({ description: 'Sum of ribSizes over nodes, Adj-RIB-In left out.' }),
      configItems: z.object({ routing: int, security: int, total: int }),
      control: control.nullable(),
      perSite: z.object({ sas: n, spdEntries: n, ribEntries: n, configItems: n, securityConfigItems: n }).meta({ description: 'Averages over the CEs with trusted subnets.' }),
      clearPayloadBytes: int.nullable(),
      espBytes: int.nullable(),
    }),
  })
  .meta({ title: 'VPN Lab run report', description: 'What `vpnlab run --report FILE.json` writes.' });

export function reportJsonSchemaText(): string {
  return `${JSON.stringify(z.toJSONSchema(ReportSchema, { target: 'draft-2020-12', io: 'output' }), null, 2)}\n`;
}
