// The state of a run that the layers above read: per node, per link, per flow. Plain data, built
// by merging what each partition owns, so both runtimes produce equal snapshots.

import type { NodeSnapshot } from '../node/types.ts';
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
  kind: 'ping' | 'udp';
  from: string;
  to: string;
  sent: number;
  received: number;
  lost: number;
  rttMinUs?: number;
  rttAvgUs?: number;
  rttMaxUs?: number;
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
    if (t.kind === 'udp') {
      received = 0;
      for (const n of nodes) received += n.flowsReceived.find((f) => f.index === t.index)?.received ?? 0;
    }
    const r: FlowReport = { index: t.index, kind: t.kind, from: t.from, to: t.toLabel, sent: sent?.sent ?? 0, received, lost: Math.max(0, (sent?.sent ?? 0) - received) };
    if (sent?.rttMinUs !== undefined) r.rttMinUs = sent.rttMinUs;
    if (sent?.rttAvgUs !== undefined) r.rttAvgUs = sent.rttAvgUs;
    if (sent?.rttMaxUs !== undefined) r.rttMaxUs = sent.rttMaxUs;
    return r;
  });
  return { nowUs, eventsProcessed, nodes, links, flows };
}

/** The JSON report the CLI writes: per node counters, per link frames and bytes, per flow results. */
export function buildReport(topology: Topology, snap: LabSnapshot, runtime: string) {
  return {
    topology: topology.name,
    mode: topology.mode,
    seed: topology.seed,
    runtime,
    virtualTimeUs: snap.nowUs,
    eventsProcessed: snap.eventsProcessed,
    nodes: Object.fromEntries(snap.nodes.map((n) => [n.id, { role: n.role, counters: n.counters, interfaces: n.interfaces, ...n.apps }])),
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
    flows: snap.flows,
  };
}
