// The worker runtime's coordinator: splits the nodes over workers, wires a MessageChannel between
// every two partitions that share a link, and advances virtual time in windows no longer than the
// smallest latency of a link between partitions (conservative synchronisation), with a barrier
// after each. Works with Web Workers and with node:worker_threads; the spawner says which.

import * as Comlink from 'comlink';
import { assert } from '../lib/errors.ts';
import type { NodeCommand } from '../lib/sans-io.ts';
import type { NodeSnapshot } from '../node/types.ts';
import { encodePcap } from '../sim/pcap.ts';
import { mergeBackboneTaps, type BackboneTapResult } from '../sim/backbone-tap.ts';
import { checkFromShares, type ConvergenceCheck, type ConvergenceOptions } from '../sim/convergence.ts';
import { mergeTrace, sortTap } from '../sim/partition.ts';
import { buildSnapshot, type DirCounters, type LabSnapshot } from '../sim/snapshot.ts';
import type { Topology } from '../sim/topology/types.ts';
import type { Lab, LabOptions } from './lab.ts';
import { applyLinkParams, type FrameEvent, type LinkParams } from './link-control.ts';
import type { DataplaneKind } from './dataplane.ts';
import type { FramePort, PartitionHost } from './partition-host.ts';

/** Default upper bound on workers; more nodes than this are sharded over this many. */
export const WORKERS_MAX_DEFAULT = 16;

export interface SpawnedWorker {
  endpoint: Comlink.Endpoint;
  terminate(): void | Promise<unknown>;
  /** Registers a callback for the worker dying (an uncaught error, a failed load). */
  onError(cb: (e: Error) => void): void;
}

export interface WorkerLabOptions extends LabOptions {
  /** Most workers to start; nodes are sharded over them when there are more nodes. */
  maxWorkers?: number;
  spawn: () => SpawnedWorker;
  /** Called as each worker comes up (progress for long starts). */
  onProgress?: (started: number, total: number) => void;
}

/** Node index → partition: contiguous blocks, one node each while nodes ≤ workers. */
export function shard(nodeCount: number, workers: number): number[] {
  const p = Math.max(1, Math.min(nodeCount, workers));
  return Array.from({ length: nodeCount }, (_, i) => Math.floor((i * p) / nodeCount));
}

/**
 * Node index → partition for a topology: contiguous blocks of about equal work (nodeWeights), each
 * boundary then moved by up to BOUNDARY_SLACK nodes to where the links it cuts are slowest, since
 * the shortest cut link bounds every window (a site's CE–host link is short; a backbone link is
 * not). One node each while nodes ≤ workers. Deterministic: a pure function of the topology.
 */
export function shardTopology(topology: Topology, workers: number): number[] {
  const n = topology.nodes.length;
  const p = Math.max(1, Math.min(n, workers));
  if (p === n || p === 1) return shard(n, p);
  const weights = nodeWeights(topology);
  const total = weights.reduce((a, b) => a + b, 0);
  // starts[q]: first node of block q, where the running weight reaches q/p of the total.
  const starts: number[] = [0];
  let acc = 0;
  for (let i = 0; i < n && starts.length < p; i++) {
    const target = (total * starts.length) / p;
    if (acc > 0 && acc + weights[i]! / 2 > target) starts.push(i);
    acc += weights[i]!;
  }
  while (starts.length < p) starts.push(n);
  // Every block non-empty: strictly increasing starts, each leaving a node for every later block.
  for (let q = 1; q < p; q++) starts[q] = Math.max(starts[q]!, starts[q - 1]! + 1);
  for (let q = p - 1; q >= 1; q--) starts[q] = Math.min(starts[q]!, n - (p - q), q + 1 < p ? starts[q + 1]! - 1 : n - 1);
  // Slowest cut within the slack, nearest the balanced boundary on ties.
  const cutLatency = (b: number) => {
    let l = Infinity;
    for (const link of topology.links) {
      const lo = Math.min(link.a.nodeIndex, link.b.nodeIndex);
      const hi = Math.max(link.a.nodeIndex, link.b.nodeIndex);
      if (lo < b && b <= hi) l = Math.min(l, link.latencyUs);
    }
    return l;
  };
  for (let q = 1; q < p; q++) {
    const b0 = starts[q]!;
    const lo = Math.max(starts[q - 1]! + 1, b0 - BOUNDARY_SLACK);
    const hi = Math.min(q + 1 < p ? starts[q + 1]! - 1 : n - 1, b0 + BOUNDARY_SLACK);
    let best = b0;
    let bestL = cutLatency(b0);
    for (let d = 1; d <= BOUNDARY_SLACK; d++) {
      for (const b of [b0 - d, b0 + d]) {
        if (b < lo || b > hi) continue;
        const l = cutLatency(b);
        if (l > bestL) {
          best = b;
          bestL = l;
        }
      }
    }
    starts[q] = best;
  }
  const out = new Array<number>(n);
  for (let q = 0; q < p; q++) for (let i = starts[q]!; i < (q + 1 < p ? starts[q + 1]! : n); i++) out[i] = q;
  return out;
}

/** How far shardTopology may move a block boundary looking for slower cut links. */
export const BOUNDARY_SLACK = 8;

/**
 * Relative work of a node by role, for shardTopology (measured at 1000 sites in group mode): a CE
 * 1, its host 0.1, a P/PE/RR 10 (they forward or reflect for many sites), and the S/R 0.45 of the CEs,
 * since it registers every member and reflects every route to each (with 0.3 the worker holding the
 * S/R and the core was busy 9.7 s against 7.4 s; a CE costs about 11 ms there, so some 200 CEs move).
 */
export function nodeWeights(topology: Topology): number[] {
  const ces = topology.nodes.filter((x) => x.role === 'ce').length;
  const sr = 0.45 * ces;
  return topology.nodes.map((x) => (x.role === 'sr' ? sr : x.role === 'host' ? 0.1 : x.role === 'ce' ? 1 : 10));
}

/** Smallest latency of a link whose ends lie in different partitions (Infinity when none). */
export function lookaheadUs(topology: Topology, partitionOf: readonly number[]): number {
  let l = Infinity;
  for (const link of topology.links) {
    if (partitionOf[link.a.nodeIndex] !== partitionOf[link.b.nodeIndex]) l = Math.min(l, link.latencyUs);
  }
  assert(l > 0, 'a link between partitions has zero latency: no lookahead');
  return l;
}

export class WorkerLab implements Lab {
  readonly runtime = 'workers' as const;
  /** What the workers chose at start-up ('ts' if any of them fell back). */
  dataplane: DataplaneKind = 'ts';
  private window = 0;
  /** Every event before this time has been processed. */
  private doneBeforeUs = 0;
  /** Earliest pending event anywhere, as of the last barrier (undefined: none). */
  private pendingUs: number | undefined = 0;
  private closed = false;
  /** Rejects as soon as any worker dies, so no call waits forever on a dead worker. */
  private readonly died: Promise<never>;

  private constructor(
    readonly topology: Topology,
    private readonly workers: SpawnedWorker[],
    private readonly hosts: Comlink.Remote<PartitionHost>[],
    private readonly partitionOf: number[],
    private readonly lookahead: number,
  ) {
    this.died = new Promise<never>((_, reject) => {
      workers.forEach((w, p) => w.onError((e) => reject(new Error(`worker ${p} died: ${e.message}`, { cause: e }))));
    });
    this.died.catch(() => {}); // observed through guard(); never an unhandled rejection
  }

  /** Awaits the calls, or fails with the first worker's death. */
  private guard<T>(calls: Promise<T>[]): Promise<T[]> {
    return Promise.race([Promise.all(calls), this.died]);
  }

  static async create(topology: Topology, options: WorkerLabOptions): Promise<WorkerLab> {
    const partitionOf = shardTopology(topology, options.maxWorkers ?? WORKERS_MAX_DEFAULT);
    const count = Math.max(0, ...partitionOf) + 1;
    const lookahead = lookaheadUs(topology, partitionOf);
    const workers: SpawnedWorker[] = [];
    const hosts: Comlink.Remote<PartitionHost>[] = [];
    for (let p = 0; p < count; p++) {
      const w = options.spawn();
      workers.push(w);
      hosts.push(Comlink.wrap<PartitionHost>(w.endpoint));
    }
    // One channel for each pair of partitions joined by a link.
    const peers: { partition: number; port: FramePort }[][] = hosts.map(() => []);
    const paired = new Set<string>();
    for (const link of topology.links) {
      const pa = partitionOf[link.a.nodeIndex]!;
      const pb = partitionOf[link.b.nodeIndex]!;
      const key = `${Math.min(pa, pb)}:${Math.max(pa, pb)}`;
      if (pa === pb || paired.has(key)) continue;
      paired.add(key);
      const ch = new MessageChannel();
      peers[pa]!.push({ partition: pb, port: ch.port1 as unknown as FramePort });
      peers[pb]!.push({ partition: pa, port: ch.port2 as unknown as FramePort });
    }
    const lab = new WorkerLab(topology, workers, hosts, partitionOf, lookahead);
    try {
      let started = 0;
      const kinds = await lab.guard(
        hosts.map(async (h, p) => {
          const owned = partitionOf.flatMap((q, i) => (q === p ? [i] : []));
          const ports = peers[p]!.map((x) => x.port as unknown as Transferable);
          const kind = await h.init(
            Comlink.transfer(
              { topology, owned, trace: options.trace ?? false, taps: options.taps === undefined || options.taps === 'all' ? 'all' : [...options.taps], partitionOf, self: p, peers: peers[p]!, dataplane: options.dataplane ?? 'wasm', backboneTap: options.backboneTap ?? false },
              ports,
            ),
          );
          options.onProgress?.(++started, count);
          return kind;
        }),
      );
      lab.dataplane = kinds.every((k) => k === 'wasm') ? 'wasm' : 'ts';
    } catch (e) {
      await lab.close();
      throw e;
    }
    return lab;
  }

  get workerCount(): number {
    return this.workers.length;
  }

  get nowUs(): number {
    return Math.max(0, this.doneBeforeUs - 1);
  }

  async runUntil(tUs: number): Promise<void> {
    assert(Number.isInteger(tUs) && tUs >= this.nowUs, `runUntil(${tUs}): time must be an integer >= now (${this.nowUs})`);
    const endAll = tUs + 1;
    while (this.doneBeforeUs < endAll) {
      // Nothing happens before the earliest pending event: start the window there.
      const start = this.pendingUs === undefined ? endAll : Math.max(this.doneBeforeUs, Math.min(this.pendingUs, endAll));
      const end = Math.min(start + this.lookahead, endAll);
      const w = this.window++;
      const earliest = await this.guard(this.hosts.map((h) => h.runWindow(w, end)));
      this.doneBeforeUs = end;
      this.pendingUs = minDefined(earliest);
    }
  }

  async nextEventUs(): Promise<number | undefined> {
    const all = await this.guard(this.hosts.map((h) => h.nextEventUs(this.window)));
    return minDefined(all);
  }

  async step(): Promise<number | undefined> {
    const t = await this.nextEventUs();
    if (t === undefined) return undefined;
    await this.runUntil(Math.max(t, this.nowUs));
    return this.nowUs;
  }

  async command(nodeIndex: number, command: NodeCommand): Promise<void> {
    const p = this.partitionOf[nodeIndex];
    assert(p !== undefined, `no node ${nodeIndex}`);
    const at = this.doneBeforeUs === 0 ? 1 : this.doneBeforeUs;
    await this.guard([this.hosts[p]!.command(this.window, nodeIndex, command, at)]);
    this.pendingUs = this.pendingUs === undefined ? at : Math.min(this.pendingUs, at);
  }

  async setLinkUp(linkIndex: number, up: boolean): Promise<void> {
    await this.guard(this.hosts.map((h) => h.setLinkUp(linkIndex, up)));
  }

  /**
   * Every partition applies the change to its copy of the link. A link between partitions keeps
   * a latency ≥ the lookahead the windows were sized for (else a frame could arrive in a window
   * already run); the values are checked here first so that no partition half-applies them.
   */
  async setLinkParams(linkIndex: number, params: LinkParams): Promise<void> {
    const link = this.topology.links[linkIndex];
    if (!link) throw new Error(`no link ${linkIndex}`);
    const crosses = this.partitionOf[link.a.nodeIndex] !== this.partitionOf[link.b.nodeIndex];
    const minLatencyUs = crosses ? this.lookahead : 1;
    applyLinkParams({ ...link }, params, minLatencyUs);
    await this.guard(this.hosts.map((h) => h.setLinkParams(linkIndex, params, minLatencyUs)));
    applyLinkParams(link, params, minLatencyUs);
  }

  async frames(fromUs: number, toUs: number, max: number): Promise<FrameEvent[]> {
    const parts = await this.guard(this.hosts.map((h) => h.frames(fromUs, toUs, max)));
    return parts.flat().sort((x, y) => x.tUs - y.tUs || x.link - y.link).slice(0, max);
  }

  async snapshot(): Promise<LabSnapshot> {
    const parts = await this.guard(this.hosts.map((h) => h.parts()));
    const nodes: NodeSnapshot[] = new Array(this.topology.nodes.length);
    const dirs = new Map<number, DirCounters>();
    let events = 0;
    for (const p of parts) {
      events += p.eventsProcessed;
      for (const [i, s] of p.nodes) nodes[i] = s;
      for (const [d, c] of p.dirs) dirs.set(d, c);
    }
    return buildSnapshot(this.topology, this.nowUs, events, nodes, dirs);
  }

  async convergence(opts: ConvergenceOptions = {}): Promise<ConvergenceCheck> {
    return checkFromShares(await this.guard(this.hosts.map((h) => h.convergence(opts))));
  }

  async backboneTap(): Promise<BackboneTapResult | undefined> {
    const parts = await this.guard(this.hosts.map((h) => h.backboneTapParts()));
    return parts.every((p) => p !== undefined) ? mergeBackboneTaps(this.topology, parts) : undefined;
  }

  async pcap(linkIndex: number): Promise<Uint8Array> {
    const parts = await this.guard(this.hosts.map((h) => h.tapRecords(linkIndex)));
    return encodePcap(sortTap(parts.flat()));
  }

  async trace(): Promise<string[]> {
    const parts = await this.guard(this.hosts.map((h) => h.trace()));
    return mergeTrace(parts, this.topology);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // A dead worker never answers: give the others a moment, then terminate all.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([Promise.allSettled(this.hosts.map((h) => h.close())), new Promise((r) => (timer = setTimeout(r, 1000)))]);
    // (Cleared: a pending timer would hold a Node process open for the rest of the second.)
    clearTimeout(timer);
    for (const h of this.hosts) h[Comlink.releaseProxy]();
    await Promise.allSettled(this.workers.map((w) => w.terminate()));
  }
}

function minDefined(xs: readonly (number | undefined)[]): number | undefined {
  let m: number | undefined;
  for (const x of xs) if (x !== undefined && (m === undefined || x < m)) m = x;
  return m;
}
