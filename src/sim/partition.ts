// The event loop over a set of nodes: the one loop that both runtimes drive. The single-thread
// kernel runs one partition holding every node; the worker runtime runs one per worker and carries
// the frames that cross partitions. Owns event order, link directions leaving its nodes, taps and
// the trace; never reads a clock or does I/O.

import { assert } from '../lib/errors.ts';
import type { NodeCommand, NodeInput } from '../lib/sans-io.ts';
import { compareKeys, EVENT_CLASS, EventQueue, type EventKey } from './event-queue.ts';
import { LinkDirection, dirIndex, type LinkDirCounters, type TapRecord } from './link.ts';
import type { SimNode, NodeSnapshot } from '../node/types.ts';
import type { Topology } from './topology/types.ts';
import type { ConvergenceOptions, ConvergenceProbe, ConvergenceShare } from './convergence.ts';
import { BackboneTap, backboneLinks, type BackboneTapParts } from './backbone-tap.ts';

/** Builds the node with this index (the same function runs in every worker). */
export type NodeFactory = (topology: Topology, nodeIndex: number) => SimNode;

/** A node that keeps asking to be woken at the time it is already at is a bug; stop it here. */
export const SAME_TIME_WAKEUPS_MAX = 100_000;

interface SimEvent extends EventKey {
  input: NodeInput;
}

/** A frame on its way to a node in another partition. */
export interface RemoteFrame {
  tUs: number;
  node: number;
  dir: number;
  seq: number;
  ifIndex: number;
  bytes: Uint8Array;
}

/** One processed event and what it produced, keyed for merging across partitions. */
export interface TraceEntry {
  key: EventKey;
  lines: string[];
}

export interface PartitionOptions {
  trace: boolean;
  /** Link indices to record (both directions), or 'all'. */
  taps: 'all' | readonly number[];
  /** Count the report's backbone tap as frames are sent (BackboneTap), without recording them. */
  backboneTap?: boolean;
}

interface Attachment {
  dir: number;
  peerNode: number;
  peerIf: number;
}

export class Partition {
  private readonly queue = new EventQueue<SimEvent>();
  private readonly nodes = new Map<number, SimNode>();
  /** Per owned node, per interface: the link direction leaving it. */
  private readonly attach = new Map<number, Attachment[]>();
  private readonly dirs = new Map<number, LinkDirection>();
  private readonly scheduledTimer = new Map<number, number>();
  private readonly timerSeq = new Map<number, number>();
  private readonly commandSeq = new Map<number, number>();
  private readonly outbox: RemoteFrame[] = [];
  private readonly backbone: BackboneTap | undefined;
  private readonly traceEntries: TraceEntry[] = [];
  private sameTimeWakeups = 0;
  private lastKey: EventKey | undefined;
  /** All events before this time are processed. */
  private doneBeforeUs = 0;
  eventsProcessed = 0;

  constructor(
    readonly topology: Topology,
    readonly owned: readonly number[],
    factory: NodeFactory,
    private readonly options: PartitionOptions,
  ) {
    const mine = new Set(owned);
    const tapped = options.backboneTap ? new Set(backboneLinks(topology).map((b) => b.link.index)) : undefined;
    const backbone = tapped ? new BackboneTap(topology) : undefined;
    this.backbone = backbone;
    for (const link of topology.links) {
      for (const [from, to, fromA] of [
        [link.a, link.b, true],
        [link.b, link.a, false],
      ] as const) {
        if (!mine.has(from.nodeIndex)) continue;
        const dir = dirIndex(link.index, fromA);
        const ld = new LinkDirection(dir, link, topology.seed);
        ld.tapping = options.taps === 'all' || options.taps.includes(link.index);
        if (backbone && tapped!.has(link.index)) ld.observer = (bytes) => backbone.frame(link.index, bytes);
        this.dirs.set(dir, ld);
        const list = this.attach.get(from.nodeIndex) ?? [];
        list[from.ifIndex] = { dir, peerNode: to.nodeIndex, peerIf: to.ifIndex };
        this.attach.set(from.nodeIndex, list);
      }
    }
    for (const i of owned) {
      const node = factory(topology, i);
      this.nodes.set(i, node);
      this.scheduleTimer(i, node, 0);
    }
  }

  /** Time of the earliest pending event, if any. */
  nextEventUs(): number | undefined {
    return this.queue.peek()?.tUs;
  }

  /** Processes every event with time < endUs. Returns the frames bound for other partitions. */
  runWindow(endUs: number): RemoteFrame[] {
    assert(endUs >= this.doneBeforeUs, `time runs backwards: window end ${endUs} < ${this.doneBeforeUs}`);
    for (;;) {
      const head = this.queue.peek();
      if (head === undefined || head.tUs >= endUs) break;
      this.queue.pop();
      this.process(head);
    }
    this.doneBeforeUs = endUs;
    return this.outbox.splice(0, this.outbox.length);
  }

  /** Accepts frames from other partitions; they must lie in the future of this partition. */
  ingest(frames: readonly RemoteFrame[]): void {
    for (const f of frames) {
      assert(f.tUs >= this.doneBeforeUs, `frame for t=${f.tUs} arrived after window ${this.doneBeforeUs} (lookahead violated)`);
      this.queue.push({ tUs: f.tUs, node: f.node, cls: EVENT_CLASS.RX, src: f.dir, seq: f.seq, input: { kind: 'rx', ifIndex: f.ifIndex, bytes: f.bytes } });
    }
  }

  /** An operator command to an owned node, taking effect at `tUs` (not before the current window). */
  command(node: number, command: NodeCommand, tUs: number): void {
    assert(this.nodes.has(node), `node ${node} is not in this partition`);
    assert(tUs >= this.doneBeforeUs, `command in the past: ${tUs} < ${this.doneBeforeUs}`);
    const seq = this.commandSeq.get(node) ?? 0;
    this.commandSeq.set(node, seq + 1);
    this.queue.push({ tUs, node, cls: EVENT_CLASS.COMMAND, src: 0, seq, input: { kind: 'command', command } });
  }

  /** Sets the state of the link's directions that this partition owns. */
  setLinkUp(link: number, up: boolean): void {
    for (const d of [dirIndex(link, true), dirIndex(link, false)]) {
      const ld = this.dirs.get(d);
      if (ld) ld.up = up;
    }
  }

  ownsNode(node: number): boolean {
    return this.nodes.has(node);
  }

  nodeSnapshot(node: number): NodeSnapshot {
    const n = this.nodes.get(node);
    assert(n, `node ${node} is not in this partition`);
    return n.snapshot();
  }

  /** What this partition's backbone tap counted (undefined without the `backboneTap` option). */
  backboneTapParts(): BackboneTapParts | undefined {
    return this.backbone?.parts();
  }

  /** This partition's share of the convergence check (see ConvergenceProbe). */
  convergence(probe: ConvergenceProbe, opts: ConvergenceOptions = {}): ConvergenceShare {
    return probe.share(this.nodes, opts);
  }

  /** Counters of the link directions this partition owns, by direction index. */
  linkCounters(): Map<number, LinkDirCounters & { up: boolean; tapTruncated: boolean }> {
    const out = new Map<number, LinkDirCounters & { up: boolean; tapTruncated: boolean }>();
    for (const [d, ld] of this.dirs) out.set(d, { ...ld.counters, up: ld.up, tapTruncated: ld.tapTruncated });
    return out;
  }

  tapRecords(link: number): TapRecord[] {
    const out: TapRecord[] = [];
    for (const d of [dirIndex(link, true), dirIndex(link, false)]) out.push(...(this.dirs.get(d)?.tap ?? []));
    return out;
  }

  trace(): readonly TraceEntry[] {
    return this.traceEntries;
  }

  private process(ev: SimEvent): void {
    if (this.lastKey) assert(compareKeys(this.lastKey, ev) < 0, `event order violated at t=${ev.tUs}`);
    this.lastKey = ev;
    const node = this.nodes.get(ev.node);
    assert(node, `event for node ${ev.node} outside this partition`);
    if (ev.cls === EVENT_CLASS.TIMER) {
      if (this.scheduledTimer.get(ev.node) !== ev.tUs) return; // superseded wake-up
      this.scheduledTimer.delete(ev.node);
    }
    this.eventsProcessed++;
    const lines: string[] | undefined = this.options.trace ? [describeInput(ev.input)] : undefined;
    node.handle(ev.input, ev.tUs);
    for (let out = node.poll(); out !== undefined; out = node.poll()) {
      if (out.kind === 'log') {
        lines?.push(`log ${out.topic}: ${out.text}`);
        continue;
      }
      const att = this.attach.get(ev.node)?.[out.ifIndex];
      assert(att, `node ${ev.node} sent on unknown interface ${out.ifIndex}`);
      const ld = this.dirs.get(att.dir)!;
      const r = ld.transmit(out.bytes, ev.tUs);
      lines?.push(`tx if${out.ifIndex} ${out.bytes.length}B ${r.fate}`);
      if (r.fate !== 'deliver') continue;
      if (this.nodes.has(att.peerNode)) {
        this.queue.push({ tUs: r.arrivalUs, node: att.peerNode, cls: EVENT_CLASS.RX, src: att.dir, seq: r.seq, input: { kind: 'rx', ifIndex: att.peerIf, bytes: out.bytes } });
      } else {
        this.outbox.push({ tUs: r.arrivalUs, node: att.peerNode, dir: att.dir, seq: r.seq, ifIndex: att.peerIf, bytes: out.bytes });
      }
    }
    if (lines) this.traceEntries.push({ key: { tUs: ev.tUs, node: ev.node, cls: ev.cls, src: ev.src, seq: ev.seq }, lines });
    this.scheduleTimer(ev.node, node, ev.tUs);
  }

  private scheduleTimer(index: number, node: SimNode, nowUs: number): void {
    const wanted = node.nextDeadlineUs();
    if (wanted === undefined) {
      this.scheduledTimer.delete(index);
      return;
    }
    const at = Math.max(Math.ceil(wanted), nowUs);
    if (at === nowUs && this.lastKey?.tUs === nowUs) {
      this.sameTimeWakeups++;
      assert(this.sameTimeWakeups < SAME_TIME_WAKEUPS_MAX, `node ${index} keeps waking at t=${nowUs} (livelock)`);
    } else {
      this.sameTimeWakeups = 0;
    }
    if (this.scheduledTimer.get(index) === at) return;
    this.scheduledTimer.set(index, at);
    const seq = this.timerSeq.get(index) ?? 0;
    this.timerSeq.set(index, seq + 1);
    this.queue.push({ tUs: at, node: index, cls: EVENT_CLASS.TIMER, src: 0, seq, input: { kind: 'timer' } });
  }
}

function describeInput(input: NodeInput): string {
  switch (input.kind) {
    case 'rx':
      return `rx if${input.ifIndex} ${input.bytes.length}B`;
    case 'timer':
      return 'timer';
    case 'command':
      return `command ${JSON.stringify(input.command)}`;
  }
}

/** Merges trace entries from any number of partitions into the one canonical order. */
export function mergeTrace(parts: readonly (readonly TraceEntry[])[], topology: Topology): string[] {
  const all = parts.flat().slice().sort((a, b) => compareKeys(a.key, b.key));
  const out: string[] = [];
  for (const e of all) {
    const id = topology.nodes[e.key.node]?.id ?? `#${e.key.node}`;
    for (const line of e.lines) out.push(`${e.key.tUs} ${id} ${line}`);
  }
  return out;
}

/** Tap records of one link from any number of partitions, in wire order. */
export function sortTap(records: TapRecord[]): TapRecord[] {
  return records.sort((a, b) => a.tUs - b.tUs || a.dir - b.dir || a.seq - b.seq);
}
