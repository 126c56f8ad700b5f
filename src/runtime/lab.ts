// The runtime API the UI and the CLI use: one interface, two places for the nodes to live (this
// thread, or workers). Owns no protocol state; it forwards to the kernel or the worker pool.

import type { NodeCommand } from '../lib/sans-io.ts';
import { Kernel } from '../sim/kernel.ts';
import type { ChosenDataplane, DataplaneKind } from './dataplane.ts';
import type { LabSnapshot } from '../sim/snapshot.ts';
import type { ConvergenceCheck, ConvergenceOptions } from '../sim/convergence.ts';
import type { BackboneTapResult } from '../sim/backbone-tap.ts';
import type { Topology } from '../sim/topology/types.ts';
import { applyLinkParams, windowFrames, type FrameEvent, type LinkParams } from './link-control.ts';

export type { FrameEvent, LinkParams } from './link-control.ts';

export type RuntimeKind = 'single' | 'workers';

export interface LabOptions {
  /** Record the event trace (tests, step-by-step views). Off by default: it grows with the run. */
  trace?: boolean;
  /** Links to record for pcap: 'all' (default) or indices. */
  taps?: 'all' | readonly number[];
  /** Count the report's backbone tap as frames are sent, so `backboneTap()` needs no captures. */
  backboneTap?: boolean;
  /** The data plane to use: the WASM engines (default; the TypeScript reference if they fail to load) or the reference. */
  dataplane?: DataplaneKind;
}

export interface Lab {
  readonly topology: Topology;
  readonly runtime: RuntimeKind;
  /** The data plane the nodes use (chosen at start-up). */
  readonly dataplane: DataplaneKind;
  /** Every event at or before this virtual time (µs) has been processed. */
  readonly nowUs: number;
  runUntil(tUs: number): Promise<void>;
  /** Runs to the time of the next event; resolves to the new time, or undefined when idle. */
  step(): Promise<number | undefined>;
  nextEventUs(): Promise<number | undefined>;
  command(nodeIndex: number, command: NodeCommand): Promise<void>;
  setLinkUp(linkIndex: number, up: boolean): Promise<void>;
  /** Changes a link's latency and/or loss for the frames offered from now on; rejects bad values, changing nothing. */
  setLinkParams(linkIndex: number, params: LinkParams): Promise<void>;
  /** The earliest `max` frames put on any link in [fromUs, toUs), classified (needs taps on). */
  frames(fromUs: number, toUs: number, max: number): Promise<FrameEvent[]>;
  snapshot(): Promise<LabSnapshot>;
  /** The backbone tap counted as frames were sent (LabOptions.backboneTap), else undefined. */
  backboneTap(): Promise<BackboneTapResult | undefined>;
  /** The mode's convergence check now (equal to `checkConvergence` on `snapshot()`, far cheaper). */
  convergence(opts?: ConvergenceOptions): Promise<ConvergenceCheck>;
  pcap(linkIndex: number): Promise<Uint8Array>;
  trace(): Promise<string[]>;
  close(): Promise<void>;
}

/** Nodes in this thread, on the deterministic kernel. */
export class SingleThreadLab implements Lab {
  readonly runtime = 'single' as const;
  readonly dataplane: DataplaneKind;
  private readonly kernel: Kernel;

  /** `engines`: a data plane already chosen (see chooseDataplane); the TypeScript reference without one. */
  constructor(
    readonly topology: Topology,
    options: LabOptions & { engines?: ChosenDataplane } = {},
  ) {
    this.dataplane = options.engines?.kind ?? 'ts';
    this.kernel = new Kernel(topology, { trace: options.trace ?? false, taps: options.taps ?? 'all', backboneTap: options.backboneTap ?? false, ...(options.engines ? { dataplane: options.engines } : {}) });
  }

  get nowUs(): number {
    return this.kernel.nowUs;
  }

  async runUntil(tUs: number): Promise<void> {
    this.kernel.runUntil(tUs);
  }

  async step(): Promise<number | undefined> {
    return this.kernel.step();
  }

  async nextEventUs(): Promise<number | undefined> {
    return this.kernel.nextEventUs();
  }

  async command(nodeIndex: number, command: NodeCommand): Promise<void> {
    this.kernel.command(nodeIndex, command);
  }

  async setLinkUp(linkIndex: number, up: boolean): Promise<void> {
    this.kernel.setLinkUp(linkIndex, up);
  }

  async setLinkParams(linkIndex: number, params: LinkParams): Promise<void> {
    const link = this.topology.links[linkIndex];
    if (!link) throw new Error(`no link ${linkIndex}`);
    applyLinkParams(link, params);
  }

  async frames(fromUs: number, toUs: number, max: number): Promise<FrameEvent[]> {
    const out: FrameEvent[] = [];
    for (const l of this.topology.links) windowFrames(l, this.kernel.tapRecords(l.index), fromUs, toUs, out, max);
    return out;
  }

  async snapshot(): Promise<LabSnapshot> {
    return this.kernel.snapshot();
  }

  async convergence(opts: ConvergenceOptions = {}): Promise<ConvergenceCheck> {
    return this.kernel.convergence(opts);
  }

  async backboneTap(): Promise<BackboneTapResult | undefined> {
    return this.kernel.backboneTap();
  }

  async pcap(linkIndex: number): Promise<Uint8Array> {
    return this.kernel.pcap(linkIndex);
  }

  async trace(): Promise<string[]> {
    return this.kernel.trace();
  }

  async close(): Promise<void> {}
}
