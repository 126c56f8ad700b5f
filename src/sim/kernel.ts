// The single-thread deterministic kernel: one partition holding every node, driven to a time.
// Owns the virtual clock of a run; never reads the wall clock.

import type { TapRecord } from './link.ts';
import { assert } from '../lib/errors.ts';
import type { NodeCommand } from '../lib/sans-io.ts';
import { encodePcap } from './pcap.ts';
import { Partition, mergeTrace, sortTap, type NodeFactory } from './partition.ts';
import { createSimNode } from './node-config.ts';
import type { NodeDataplane } from '../node/types.ts';
import { buildSnapshot, type LabSnapshot } from './snapshot.ts';
import type { Topology } from './topology/types.ts';
import { mergeBackboneTaps, type BackboneTapResult } from './backbone-tap.ts';
import { ConvergenceProbe, checkFromShares, type ConvergenceCheck, type ConvergenceOptions } from './convergence.ts';

export interface KernelOptions {
  trace?: boolean;
  /** Links to record for pcap: 'all' (default) or indices. */
  taps?: 'all' | readonly number[];
  factory?: NodeFactory;
  /** The data plane for the default factory (default: the TypeScript reference engines). */
  dataplane?: NodeDataplane;
  /** Count the report's backbone tap as frames are sent (see `backboneTap()`). */
  backboneTap?: boolean;
}

export class Kernel {
  private readonly part: Partition;
  private probe: ConvergenceProbe | undefined;
  /** Every event at or before this time has been processed. */
  nowUs = 0;

  constructor(
    readonly topology: Topology,
    options: KernelOptions = {},
  ) {
    const all = topology.nodes.map((n) => n.index);
    const dataplane = options.dataplane;
    this.part = new Partition(topology, all, options.factory ?? ((t, i) => createSimNode(t, i, dataplane)), { trace: options.trace ?? false, taps: options.taps ?? 'all', backboneTap: options.backboneTap ?? false });
    // Events at t=0 are not yet processed: the clock reads 0 with the t=0 events pending.
    this.part.runWindow(0);
  }

  /** Processes every event at or before `tUs`; the clock then reads `tUs`. */
  runUntil(tUs: number): void {
    assert(Number.isInteger(tUs) && tUs >= this.nowUs, `runUntil(${tUs}): time must be an integer >= now (${this.nowUs})`);
    this.part.runWindow(tUs + 1);
    this.nowUs = tUs;
  }

  nextEventUs(): number | undefined {
    return this.part.nextEventUs();
  }

  /** Runs to the time of the next event (all events at that time). Returns the new time. */
  step(): number | undefined {
    const t = this.nextEventUs();
    if (t === undefined) return undefined;
    this.runUntil(Math.max(t, this.nowUs));
    return this.nowUs;
  }

  command(nodeIndex: number, command: NodeCommand): void {
    this.part.command(nodeIndex, command, this.nowUs + 1);
  }

  setLinkUp(linkIndex: number, up: boolean): void {
    this.part.setLinkUp(linkIndex, up);
  }

  snapshot(): LabSnapshot {
    const nodes = this.topology.nodes.map((n) => this.part.nodeSnapshot(n.index));
    return buildSnapshot(this.topology, this.nowUs, this.part.eventsProcessed, nodes, this.part.linkCounters());
  }

  /** The convergence check now, as `checkConvergence(topology, snapshot())` gives it, reading only nodes that changed. */
  convergence(opts: ConvergenceOptions = {}): ConvergenceCheck {
    this.probe ??= new ConvergenceProbe(this.topology);
    return checkFromShares([this.part.convergence(this.probe, opts)]);
  }

  /** The backbone tap counted so far (equal to analyseBackbone over the backbone captures), if enabled. */
  backboneTap(): BackboneTapResult | undefined {
    const parts = this.part.backboneTapParts();
    return parts ? mergeBackboneTaps(this.topology, [parts]) : undefined;
  }

  /** The link's tap records as recorded (both directions; `dir` says which way). */
  tapRecords(linkIndex: number): TapRecord[] {
    return this.part.tapRecords(linkIndex);
  }

  pcap(linkIndex: number): Uint8Array {
    return encodePcap(sortTap(this.part.tapRecords(linkIndex)));
  }

  trace(): string[] {
    return mergeTrace([this.part.trace()], this.topology);
  }
}
