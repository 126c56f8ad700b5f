// The object a worker exposes through comlink: one partition of the nodes, its frame channels to
// the partitions it shares links with, and the barrier protocol. Control calls only go through
// comlink; frames go over raw MessagePorts, one transferred ArrayBuffer per peer per window.

import { assert } from '../lib/errors.ts';
import type { NodeCommand } from '../lib/sans-io.ts';
import type { NodeSnapshot } from '../node/types.ts';
import type { TapRecord } from '../sim/link.ts';
import { createSimNode } from '../sim/node-config.ts';
import { Partition, type TraceEntry, type RemoteFrame } from '../sim/partition.ts';
import type { DirCounters } from '../sim/snapshot.ts';
import { ConvergenceProbe, type ConvergenceOptions, type ConvergenceShare } from '../sim/convergence.ts';
import type { BackboneTapParts } from '../sim/backbone-tap.ts';
import type { Topology } from '../sim/topology/types.ts';
import { decodeBatch, encodeBatch } from './frame-batch.ts';
import { chooseDataplane, type DataplaneKind } from './dataplane.ts';
import { applyLinkParams, windowFrames, type FrameEvent, type LinkParams } from './link-control.ts';

/** The part of MessagePort both the DOM and node:worker_threads provide. */
export interface FramePort {
  postMessage(message: unknown, transfer: Transferable[]): void;
  addEventListener(type: 'message', listener: (ev: { data: unknown }) => void): void;
  start?(): void;
  close(): void;
}

export interface PartitionInit {
  topology: Topology;
  owned: number[];
  trace: boolean;
  taps: 'all' | number[];
  /** Partition index of each node. */
  partitionOf: number[];
  self: number;
  peers: { partition: number; port: FramePort }[];
  dataplane: DataplaneKind;
  /** Count the report's backbone tap as frames are sent (Partition option). */
  backboneTap?: boolean;
}

export interface PartitionParts {
  eventsProcessed: number;
  nodes: [number, NodeSnapshot][];
  dirs: [number, DirCounters][];
}

export class PartitionHost {
  private part: Partition | undefined;
  private probe: ConvergenceProbe | undefined;
  private partitionOf: number[] = [];
  private readonly ports = new Map<number, FramePort>();
  /** Batches received, by window then peer. */
  private readonly inbox = new Map<number, Map<number, RemoteFrame[]>>();
  private waiter: (() => void) | undefined;
  /** Windows whose inbound batches have been taken in: all below this. */
  private ingestedBelow = 0;

  /** Sets the partition up; resolves to the data plane its nodes use (chosen here, at start-up). */
  async init(init: PartitionInit): Promise<DataplaneKind> {
    assert(!this.part, 'partition already initialised');
    const dp = await chooseDataplane(init.dataplane);
    this.partitionOf = init.partitionOf;
    for (const { partition, port } of init.peers) {
      this.ports.set(partition, port);
      port.addEventListener('message', (ev) => {
        const { window, frames } = decodeBatch(ev.data as ArrayBuffer);
        let w = this.inbox.get(window);
        if (!w) this.inbox.set(window, (w = new Map()));
        w.set(partition, frames);
        this.waiter?.();
      });
      port.start?.();
    }
    this.part = new Partition(init.topology, init.owned, (t, i) => createSimNode(t, i, dp), { trace: init.trace, taps: init.taps, backboneTap: init.backboneTap ?? false });
    return dp.kind;
  }

  /**
   * Runs window `window` (events with time < endUs) after taking in every batch of the earlier
   * windows. Returns the earliest time of anything this partition knows is pending (its own queue
   * and the frames it just sent), so the coordinator can skip empty stretches.
   */
  async runWindow(window: number, endUs: number): Promise<number | undefined> {
    const part = this.partition();
    await this.ingestBelow(window);
    const out = part.runWindow(endUs);
    const byPeer = new Map<number, RemoteFrame[]>();
    for (const p of this.ports.keys()) byPeer.set(p, []);
    let earliest = part.nextEventUs();
    for (const f of out) {
      const p = this.partitionOf[f.node]!;
      const list = byPeer.get(p);
      assert(list, `frame for partition ${p} without a channel`);
      list.push(f);
      if (earliest === undefined || f.tUs < earliest) earliest = f.tUs;
    }
    for (const [p, frames] of byPeer) {
      const buf = encodeBatch(window, frames);
      this.ports.get(p)!.postMessage(buf, [buf]);
    }
    return earliest;
  }

  /** Pending event time after taking in every batch of windows below `window`. */
  async nextEventUs(window: number): Promise<number | undefined> {
    await this.ingestBelow(window);
    return this.partition().nextEventUs();
  }

  async command(window: number, node: number, command: NodeCommand, tUs: number): Promise<void> {
    await this.ingestBelow(window);
    this.partition().command(node, command, tUs);
  }

  setLinkUp(link: number, up: boolean): void {
    this.partition().setLinkUp(link, up);
  }

  parts(): PartitionParts {
    const part = this.partition();
    const nodes: [number, NodeSnapshot][] = [];
    for (let i = 0; i < this.partitionOf.length; i++) if (part.ownsNode(i)) nodes.push([i, part.nodeSnapshot(i)]);
    return { eventsProcessed: part.eventsProcessed, nodes, dirs: [...part.linkCounters().entries()] };
  }

  /** This partition's share of the convergence check (kept between calls: see ConvergenceProbe). */
  convergence(opts: ConvergenceOptions = {}): ConvergenceShare {
    const part = this.partition();
    this.probe ??= new ConvergenceProbe(part.topology);
    return part.convergence(this.probe, opts);
  }

  backboneTapParts(): BackboneTapParts | undefined {
    return this.partition().backboneTapParts();
  }

  tapRecords(link: number): TapRecord[] {
    return this.partition().tapRecords(link);
  }

  /** Applies to this partition's copy of the link (its link directions read it per frame). */
  setLinkParams(link: number, params: LinkParams, minLatencyUs: number): void {
    const l = this.partition().topology.links[link];
    assert(l, `no link ${link}`);
    applyLinkParams(l, params, minLatencyUs);
  }

  /** Frames this partition put on links in [fromUs, toUs), at most `max`. */
  frames(fromUs: number, toUs: number, max: number): FrameEvent[] {
    const part = this.partition();
    const out: FrameEvent[] = [];
    for (const l of part.topology.links) windowFrames(l, part.tapRecords(l.index), fromUs, toUs, out, max);
    return out;
  }

  trace(): readonly TraceEntry[] {
    return this.partition().trace();
  }

  close(): void {
    for (const p of this.ports.values()) p.close();
  }

  private partition(): Partition {
    assert(this.part, 'partition not initialised');
    return this.part;
  }

  private async ingestBelow(window: number): Promise<void> {
    const part = this.partition();
    while (this.ingestedBelow < window) {
      const w = this.ingestedBelow;
      for (;;) {
        const got = this.inbox.get(w);
        if (this.ports.size === 0 || (got && got.size === this.ports.size)) break;
        await new Promise<void>((resolve) => (this.waiter = resolve));
        this.waiter = undefined;
      }
      const got = this.inbox.get(w);
      this.inbox.delete(w);
      // Peers in index order, so the queue sees the same insertions whatever the arrival order.
      for (const p of [...(got?.keys() ?? [])].sort((a, b) => a - b)) part.ingest(got!.get(p)!);
      this.ingestedBelow = w + 1;
    }
  }
}
