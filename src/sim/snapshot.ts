// The state of a run that the layers above read: per node, per link, per flow. Plain data, built
// by merging what each partition owns, so both runtimes produce equal snapshots.

import type { FlowDropReason, NodeSnapshot, TcpFlowClientStats, TcpFlowServerStats } from '../node/types.ts';
import { latencyPercentileUs, mergeLatency, type LatencySummary } from '../node/latency-histogram.ts';
import type { BackboneTapResult, ControlProtocol, PacketsBytes, TapCounts } from './backbone-tap.ts';
import { CONTROL_PROTOCOLS } from './backbone-tap.ts';
import { configItems, type ConfigItems } from './config-items.ts';
import { bgpSessions, ribSizes, saCounts, spdEntries, type ConvergenceCheck, type SaCounts } from './convergence.ts';
import type { LinkDirCounters } from './link.ts';
import type { Topology } from './topology/types.ts';

export interface LinkSnapshot {
  index: number;
  id: string;
  a: string;
  b: string;
  up: boolean;
  /** a→b then b→a. */
  dirs: [LinkDirCounters, LinkDirCounters];
  tapTruncated: boolean;
}

export interface FlowReport {
  index: number;
  kind: 'ping' | 'udp' | 'tcp';
  from: string;
  to: string;
  sent: number;
  received: number;
  lost: number;
  rttMinUs?: number;
  rttAvgUs?: number;
  rttMaxUs?: number;
  /** ping: round-trip times; udp: one-way latency measured at the receivers. Bounded histogram. */
  latency?: LatencySummary;
  /** Packets known dropped, by reason (see FlowStats.drops). */
  drops?: Partial<Record<FlowDropReason, number>>;
  /** tcp only: the transfer, from its client and its server (sent/received/lost are then bytes). */
  tcp?: TcpFlowReport;
}

/** A tcp flow: what the client sent, what the server received, and when. Times in virtual µs. */
export interface TcpFlowReport {
  /** Bytes the flow sends (configured). */
  bytes: number;
  /** Handed to TCP by the client / acknowledged by the server's TCP / received in order and intact. */
  bytesSent: number;
  bytesAcked: number;
  bytesReceived: number;
  /** Received bytes that did not match the flow's stream. */
  bytesCorrupt: number;
  /** SYN sent to ESTABLISHED at the client (the handshake round trip); null without a connection. */
  setupUs: number | null;
  /** Start to the last byte at the server; null until every byte arrived. */
  completionUs: number | null;
  /** bytes · 8 / completion time, bits per second; null until complete. */
  goodputBps: number | null;
  /** Segments the client sent again (any cause), of which fast retransmits; retransmission timeouts. */
  retransmits: number;
  fastRetransmits: number;
  timeouts: number;
  /** The client connection's RFC 9293 state, and why it closed once it has. */
  clientState: string;
  closeReason: string | null;
  /** Each end got the other's FIN (the client closes first, the server then closes). */
  finReceived: { server: boolean; client: boolean };
  /** Every byte received in order and intact, and the client's FIN seen by the server. */
  complete: boolean;
}

export interface LabSnapshot {
  nowUs: number;
  eventsProcessed: number;
  nodes: NodeSnapshot[];
  links: LinkSnapshot[];
  flows: FlowReport[];
}

export type DirCounters = LinkDirCounters & { up: boolean; tapTruncated: boolean };

const ZERO: LinkDirCounters = { frames: 0, bytes: 0, lost: 0, droppedDown: 0, droppedQueue: 0 };

/** Assembles a snapshot from node snapshots (by index) and link-direction counters (by direction). */
export function buildSnapshot(
  topology: Topology,
  nowUs: number,
  eventsProcessed: number,
  nodes: NodeSnapshot[],
  dirs: Map<number, DirCounters>,
): LabSnapshot {
  const strip = (d: DirCounters | undefined): LinkDirCounters =>
    d ? { frames: d.frames, bytes: d.bytes, lost: d.lost, droppedDown: d.droppedDown, droppedQueue: d.droppedQueue } : { ...ZERO };
  const links: LinkSnapshot[] = topology.links.map((l) => {
    const ab = dirs.get(2 * l.index);
    const ba = dirs.get(2 * l.index + 1);
    return {
      index: l.index,
      id: l.id,
      a: l.a.node,
      b: l.b.node,
      up: ab?.up ?? ba?.up ?? l.up,
      dirs: [strip(ab), strip(ba)],
      tapTruncated: Boolean(ab?.tapTruncated || ba?.tapTruncated),
    };
  });
  const flows: FlowReport[] = topology.traffic.map((t) => {
    const src = nodes[topology.nodes.findIndex((n) => n.id === t.from)];
    const sent = src?.flowsSent.find((f) => f.index === t.index);
    let received = sent?.received ?? 0;
    if (t.kind === 'udp' || t.kind === 'tcp') {
      received = 0;
      for (const n of nodes) received += n.flowsReceived.find((f) => f.index === t.index)?.received ?? 0;
    }
    // tcp: lost = bytes of the flow not (yet) received.
    const lost = t.kind === 'tcp' ? Math.max(0, t.bytes - received) : Math.max(0, (sent?.sent ?? 0) - received);
    const r: FlowReport = { index: t.index, kind: t.kind, from: t.from, to: t.toLabel, sent: sent?.sent ?? 0, received, lost };
    if (sent?.rttMinUs !== undefined) r.rttMinUs = sent.rttMinUs;
    if (sent?.rttAvgUs !== undefined) r.rttAvgUs = sent.rttAvgUs;
    if (sent?.rttMaxUs !== undefined) r.rttMaxUs = sent.rttMaxUs;
    if (t.kind === 'tcp') r.tcp = tcpFlowReport(t.bytes, t.startUs, sent?.tcp, nodes.flatMap((n) => n.flowsReceived.find((f) => f.index === t.index)?.tcp ?? []));
    const latency = t.kind !== 'udp' ? sent?.latency : mergeLatency(nodes.map((n) => n.flowsReceived.find((f) => f.index === t.index)?.latency));
    if (latency) r.latency = latency;
    if (sent?.drops) r.drops = { ...sent.drops };
    return r;
  });
  return { nowUs, eventsProcessed, nodes, links, flows };
}

/** Merges a tcp flow's client stats with its server's (normally one; several hosts may hold the address). */
function tcpFlowReport(bytes: number, startUs: number, client: TcpFlowClientStats | undefined, servers: TcpFlowServerStats[]): TcpFlowReport {
  const server = servers.reduce<TcpFlowServerStats | undefined>((best, s) => (best === undefined || s.bytesReceived > best.bytesReceived ? s : best), undefined);
  const bytesReceived = servers.reduce((a, s) => a + s.bytesReceived, 0);
  const done = server?.lastByteAtUs;
  const completionUs = done !== undefined ? done - startUs : null;
  return {
    bytes,
    bytesSent: client?.bytesSent ?? 0,
    bytesAcked: client?.bytesAcked ?? 0,
    bytesReceived,
    bytesCorrupt: servers.reduce((a, s) => a + s.bytesCorrupt, 0),
    setupUs: client?.setupUs ?? null,
    completionUs,
    goodputBps: completionUs !== null && completionUs > 0 ? Math.round((bytes * 8 * 1_000_000) / completionUs) : null,
    retransmits: client?.retransmits ?? 0,
    fastRetransmits: client?.fastRetransmits ?? 0,
    timeouts: client?.timeouts ?? 0,
    clientState: client?.state ?? 'CLOSED',
    closeReason: client?.closeReason ?? null,
    finReceived: { server: server?.finReceived ?? false, client: client?.finReceived ?? false },
    complete: server !== undefined && server.bytesReceived === bytes && server.bytesCorrupt === 0 && server.finReceived,
  };
}

/** Version of the report shape (public/report.schema.json); bumped when a field changes meaning. */
export const REPORT_SCHEMA_VERSION = 1;

export interface LatencyVerdict {
  /** `rtt` for ping (echo round trip) and tcp (handshake), `one-way` for UDP (send time carried in the payload). */
  kind: 'rtt' | 'one-way';
  samples: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  maxUs: number;
}

export interface FlowVerdict extends FlowReport {
  /** Packets that reached the destination (ping: replies back at the source; tcp: bytes in order). */
  delivered: number;
  /** Packets known dropped, by reason; `unaccounted` is lost minus the known ones. */
  dropped: Partial<Record<FlowDropReason | 'unaccounted', number>>;
  latencyPercentiles: LatencyVerdict | null;
  /** Backbone tap: the flow's packets seen in clear on provider links; protected = delivered and none in clear. */
  backbone: { clearPackets: number; protected: boolean } | null;
}

export interface NodeSummary {
  bgpSessions: { name: string; peer?: string; state: string }[];
  ribSizes: Record<string, number>;
  spdEntries: number;
  sas: SaCounts;
  configItems: ConfigItems;
  /** Control packets this node originated, seen by the backbone tap (null without captures). */
  control: Record<ControlProtocol, PacketsBytes> | null;
}

export interface ConvergenceReport {
  /** Virtual time from which every sample met the mode's condition; null when it never settled. */
  convergedAtUs: number | null;
  sampleIntervalUs: number;
  samples: number;
  /** The condition at the last sample. */
  last: ConvergenceCheck | null;
}

export interface ReportExtras {
  tap?: BackboneTapResult;
  /** `summary` leaves out each node's app snapshots and interfaces (big runs); default `full`. */
  detail?: 'full' | 'summary';
  convergence?: ConvergenceReport;
}

function flowVerdict(f: FlowReport, tap: BackboneTapResult | undefined): FlowVerdict {
  const dropped: FlowVerdict['dropped'] = { ...(f.drops ?? {}) };
  const known = Object.values(f.drops ?? {}).reduce((s, v) => s + (v ?? 0), 0);
  if (f.lost > known) dropped.unaccounted = f.lost - known;
  const l = f.latency;
  const latencyPercentiles: LatencyVerdict | null = l
    ? { kind: f.kind === 'udp' ? 'one-way' : 'rtt', samples: l.count, p50Us: latencyPercentileUs(l, 0.5), p90Us: latencyPercentileUs(l, 0.9), p99Us: latencyPercentileUs(l, 0.99), maxUs: l.maxUs }
    : null;
  const clearPackets = tap?.flowClearPackets[f.index] ?? 0;
  const backbone = tap ? { clearPackets, protected: f.received > 0 && clearPackets === 0 } : null;
  return { ...f, delivered: f.received, dropped, latencyPercentiles, backbone };
}

const sumControl = (parts: Record<ControlProtocol, PacketsBytes>[]): Record<ControlProtocol, PacketsBytes> => {
  const out = Object.fromEntries(CONTROL_PROTOCOLS.map((p) => [p, { packets: 0, bytes: 0 }])) as Record<ControlProtocol, PacketsBytes>;
  for (const c of parts) for (const p of CONTROL_PROTOCOLS) {
    out[p].packets += c[p].packets;
    out[p].bytes += c[p].bytes;
  }
  return out;
};

/**
 * The JSON report the CLI writes (public/report.schema.json, docs/report.md): per node counters, app
 * snapshots and a summary (sessions, RIBs, SPD, SAs, config items, control traffic), per link frames
 * and bytes, per flow verdicts, the backbone tap, convergence and network-wide totals.
 */
export function buildReport(topology: Topology, snap: LabSnapshot, runtime: string, extras: ReportExtras = {}) {
  const { tap, convergence } = extras;
  const config = configItems(topology);
  const summaries: NodeSummary[] = snap.nodes.map((n, i) => ({
    bgpSessions: bgpSessions(n).map(({ name, peer, state }) => ({ name, ...(peer !== undefined ? { peer } : {}), state })),
    ribSizes: ribSizes(n),
    spdEntries: spdEntries(n),
    sas: saCounts(n),
    configItems: config[i]!,
    control: tap ? (tap.controlByNode[n.id] ?? sumControl([])) : null,
  }));
  const sites = topology.nodes.filter((n) => n.role === 'ce' && n.trustedSubnets.length > 0).map((n) => n.index);
  const avg = (f: (i: number) => number) => (sites.length ? sites.reduce((s, i) => s + f(i), 0) / sites.length : 0);
  const sum = (f: (s: NodeSummary) => number) => summaries.reduce((s, x) => s + f(x), 0);
  const sessions = summaries.flatMap((s) => s.bgpSessions);
  const ribOf = (s: NodeSummary) => Object.entries(s.ribSizes).filter(([k]) => !k.includes('.adjRibIn')).reduce((a, [, v]) => a + v, 0);
  const tapTotal: TapCounts | null = tap ? tap.total : null;
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    topology: topology.name,
    mode: topology.mode,
    seed: topology.seed,
    runtime,
    virtualTimeUs: snap.nowUs,
    eventsProcessed: snap.eventsProcessed,
    nodes: Object.fromEntries(
      snap.nodes.map((n, i) => [n.id, extras.detail === 'summary' ? { role: n.role, counters: n.counters, summary: summaries[i]! } : { role: n.role, counters: n.counters, interfaces: n.interfaces, ...n.apps, summary: summaries[i]! }]),
    ),
    links: Object.fromEntries(
      snap.links.map((l) => [
        l.id,
        {
          a: l.a,
          b: l.b,
          up: l.up,
          frames: l.dirs[0].frames + l.dirs[1].frames,
          bytes: l.dirs[0].bytes + l.dirs[1].bytes,
          aToB: l.dirs[0],
          bToA: l.dirs[1],
        },
      ]),
    ),
    flows: snap.flows.map((f) => flowVerdict(f, tap)),
    backbone: tap ? { links: tap.links, total: tap.total } : null,
    convergence: convergence ?? null,
    totals: {
      sites: sites.length,
      bgpSessions: { established: sessions.filter((s) => s.state === 'Established').length, total: sessions.length },
      sas: { installed: sum((s) => s.sas.installed), pairwise: sum((s) => s.sas.pairwise), group: sum((s) => s.sas.group) },
      spdEntries: sum((s) => s.spdEntries),
      ribEntries: sum(ribOf),
      configItems: { routing: sum((s) => s.configItems.routing), security: sum((s) => s.configItems.security), total: sum((s) => s.configItems.total) },
      control: tapTotal ? tapTotal.control : null,
      perSite: {
        sas: avg((i) => summaries[i]!.sas.installed),
        spdEntries: avg((i) => summaries[i]!.spdEntries),
        ribEntries: avg((i) => ribOf(summaries[i]!)),
        configItems: avg((i) => summaries[i]!.configItems.total),
        securityConfigItems: avg((i) => summaries[i]!.configItems.security),
      },
      clearPayloadBytes: tapTotal ? tapTotal.clearPayloadBytes : null,
      espBytes: tapTotal ? tapTotal.espBytes : null,
    },
  };
}

export type Report = ReturnType<typeof buildReport>;
