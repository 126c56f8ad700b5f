// One lab in the page: loads a topology file, starts the runtime (Web Workers by default), drives
// virtual time (play / pause / step / reset) and keeps the latest LabSnapshot as reactive state.
// It only forwards to the runtime's Lab API: it never computes protocol state, and it never lets
// two calls into the lab overlap (every call goes through one queue).
import { createBrowserLab } from '../runtime/browser.ts';
import type { FrameEvent, Lab, LinkParams, RuntimeKind } from '../runtime/lab.ts';
import type { NodeCommand } from '../lib/sans-io.ts';
import type { LabSnapshot } from '../sim/snapshot.ts';
import { loadTopology, type TopologyError } from '../sim/topology/load.ts';
import type { Topology } from '../sim/topology/types.ts';

/** Virtual seconds per wall-clock second that the speed selector offers; 0 = as fast as it goes. */
export const SPEEDS = [0.01, 0.1, 1, 10, 100, 0] as const;
export type Speed = (typeof SPEEDS)[number];
/** Speed 0: each frame runs as much virtual time as fits in this wall-clock budget. */
const MAX_SPEED_BUDGET_MS = 30;
/** Most frames animated per frame of the page. */
const FRAMES_MAX = 300;

/** An operator action on the run, kept so a re-run (step back) replays it at the same time. */
export type Fault =
  | { kind: 'link-up'; link: number; up: boolean }
  | { kind: 'link-params'; link: number; params: LinkParams }
  | { kind: 'node'; node: number; command: NodeCommand };
interface JournalEntry {
  atUs: number;
  fault: Fault;
}

/**
 * loading: fetching / parsing the file; invalid: the file has errors (see `errors`);
 * starting: workers coming up (see `progress`); ready: the lab runs; failed: see `failure`.
 */
export type SessionPhase = 'loading' | 'invalid' | 'starting' | 'ready' | 'failed';

/** Wall-clock time one animation frame may account for at most (a hidden tab, a slow call). */
const FRAME_WALL_MAX_MS = 100;

export interface LabSessionOptions {
  runtime?: RuntimeKind;
  maxWorkers?: number;
}

export class LabSession {
  /** Where the topology came from (a file name). */
  source = $state('');
  phase = $state<SessionPhase>('loading');
  topology = $state.raw<Topology | undefined>(undefined);
  /** Errors of the topology file, when phase is 'invalid'. */
  errors = $state.raw<readonly TopologyError[]>([]);
  /** What went wrong, when phase is 'failed' (or a run call failed while ready). */
  failure = $state<string | undefined>(undefined);
  /** Workers started of total while phase is 'starting'. */
  progress = $state.raw<{ started: number; total: number }>({ started: 0, total: 0 });
  /** The latest snapshot, fetched after every advance of virtual time. */
  snapshot = $state.raw<LabSnapshot | undefined>(undefined);
  playing = $state(false);
  speed = $state<Speed>(1);
  /** True once Step found no pending event. */
  idle = $state(false);
  /** Frames put on links during the last advance (for the animation), and that window. */
  frames = $state.raw<readonly FrameEvent[]>([]);
  framesWindow = $state.raw<{ fromUs: number; toUs: number }>({ fromUs: 0, toUs: 0 });
  /** Per link, bits per second of virtual time over the last advance (from the snapshots' byte counters). */
  throughputBps = $state.raw<readonly number[]>([]);
  /** Operator actions of this run, in order (replayed by step back). */
  journal = $state.raw<readonly JournalEntry[]>([]);
  /** Virtual times this run has stopped at (steps, play frames), ascending: where step back can go. */
  #stops: number[] = [0];

  /** Calls queued or running against the lab. */
  #pending = $state(0);
  readonly busy = $derived(this.#pending > 0);
  readonly nowUs = $derived(this.snapshot?.nowUs ?? 0);
  readonly ready = $derived(this.phase === 'ready');
  readonly canPlay = $derived(this.ready && !this.playing);
  readonly canStep = $derived(this.ready && !this.playing && !this.busy);

  readonly runtime: RuntimeKind;
  /** The data plane the runtime chose at start-up ('wasm', or 'ts' when the WASM engine did not load). */
  dataplane = $state<'wasm' | 'ts' | undefined>(undefined);
  readonly #maxWorkers: number | undefined;
  #lab: Lab | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #raf: number | undefined;
  #lastFrameMs: number | undefined;
  /** Virtual microseconds owed to the play loop (fractions kept, so ×0.1 does not drift). */
  #owedUs = 0;
  #advancing = false;

  constructor(options: LabSessionOptions = {}) {
    this.runtime = options.runtime ?? 'workers';
    this.#maxWorkers = options.maxWorkers;
  }

  /** Fetches a topology file (relative to the page) and loads it. */
  async open(url: string): Promise<void> {
    const name = url.slice(url.lastIndexOf('/') + 1);
    this.#enter('loading', name);
    let text: string;
    try {
      const response = await fetch(url);
      if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`.trim());
      // A static server that falls back to index.html for unknown paths answers 200 with HTML.
      if (response.headers.get('content-type')?.startsWith('text/html')) throw new Error('no such file (the server sent an HTML page)');
      text = await response.text();
    } catch (e) {
      this.failure = `cannot fetch ${url}: ${message(e)}`;
      this.phase = 'failed';
      return;
    }
    await this.load(text, name);
  }

  /** Parses topology text and starts a lab on it; errors in the file are shown, not thrown. */
  async load(text: string, source: string): Promise<void> {
    this.#enter('loading', source);
    await this.#exclusive(() => this.#closeLab());
    const result = loadTopology(text);
    if (!result.ok) {
      this.topology = undefined;
      this.errors = result.errors;
      this.phase = 'invalid';
      return;
    }
    this.topology = result.topology;
    await this.#exclusive(() => this.#startLab());
  }

  play(): void {
    if (!this.canPlay) return;
    this.playing = true;
    this.idle = false;
    this.#lastFrameMs = undefined;
    this.#owedUs = 0;
    this.#raf = requestAnimationFrame(this.#frame);
  }

  pause(): void {
    this.playing = false;
    if (this.#raf !== undefined) cancelAnimationFrame(this.#raf);
    this.#raf = undefined;
  }

  /** Runs to the time of the next event (lab.step). */
  async step(): Promise<void> {
    if (!this.canStep) return;
    await this.#exclusive(async () => {
      const lab = this.#lab;
      if (!lab) return;
      const before = lab.nowUs;
      const t = await lab.step();
      this.idle = t === undefined;
      await this.#observe(lab, before);
    });
  }

  /** Closes the lab and starts the same topology again from time 0. */
  async reset(): Promise<void> {
    if (!this.topology || this.phase === 'loading') return;
    this.pause();
    await this.#exclusive(async () => {
      await this.#closeLab();
      await this.#startLab();
    });
  }

  setSpeed(speed: Speed): void {
    this.speed = speed;
  }

  /** Takes a link down or brings it back up, then refreshes the snapshot. */
  async setLinkUp(linkIndex: number, up: boolean): Promise<void> {
    if (!this.ready) return;
    await this.#exclusive(async () => {
      const lab = this.#lab;
      if (!lab) return;
      await lab.setLinkUp(linkIndex, up);
      this.journal = [...this.journal, { atUs: lab.nowUs, fault: { kind: 'link-up', link: linkIndex, up } }];
      this.snapshot = await lab.snapshot();
    });
  }

  /** The lab, for downloads (pcap) and lab checks; undefined when not ready. */
  get lab(): Lab | undefined {
    return this.ready ? this.#lab : undefined;
  }

  /** Runs `fn` against the lab between other calls (never overlapping a step). */
  async withLab<T>(fn: (lab: Lab) => Promise<T>): Promise<T | undefined> {
    let out: T | undefined;
    await this.#exclusive(async () => {
      if (this.#lab) out = await fn(this.#lab);
    });
    return out;
  }

  /** The capture of one link so far (the inspecting panels read it); empty before a lab runs. */
  async pcap(linkIndex: number): Promise<Uint8Array> {
    return (await this.withLab((lab) => lab.pcap(linkIndex))) ?? new Uint8Array(0);
  }

  /** A node command from a console (crash, restart, …), journaled like any fault. */
  async command(nodeIndex: number, command: NodeCommand): Promise<void> {
    await this.nodeCommand(nodeIndex, command);
  }

  /** Changes a link's latency / loss from now on (journaled, so step back replays it). */
  async setLinkParams(linkIndex: number, params: LinkParams): Promise<void> {
    await this.#fault({ kind: 'link-params', link: linkIndex, params });
  }

  /** Crashes or restarts a node (journaled). */
  async nodeCommand(nodeIndex: number, command: NodeCommand): Promise<void> {
    await this.#fault({ kind: 'node', node: nodeIndex, command });
  }

  get canStepBack(): boolean {
    return this.canStep && this.nowUs > 0;
  }

  /**
   * Back to the previous event: a fresh lab re-runs from time 0 (determinism makes it exact) to
   * the latest time this run stopped at before now, replaying the journal of faults at their
   * times, then steps forward while the next event is still before now.
   */
  async stepBack(): Promise<void> {
    if (!this.canStepBack || !this.topology) return;
    const target = this.nowUs;
    const journal = this.journal.filter((j) => j.atUs < target);
    await this.#exclusive(async () => {
      await this.#closeLab();
      await this.#startLab();
      const lab = this.#lab;
      if (!lab) return;
      const stops = this.#stops.filter((t) => t < target);
      const base = stops[stops.length - 1] ?? 0;
      let last = 0;
      const runTo = async (t: number) => {
        for (const j of journal) if (j.atUs <= t && j.atUs >= lab.nowUs && !done.has(j)) {
          if (j.atUs > lab.nowUs) await lab.runUntil(j.atUs);
          await applyFault(lab, j.fault);
          done.add(j);
        }
        // `>=`: a fresh lab's clock reads 0 before the events at 0 have run.
        if (t >= lab.nowUs) await lab.runUntil(t);
      };
      const done = new Set<JournalEntry>();
      await runTo(base);
      last = base;
      for (;;) {
        const next = await lab.nextEventUs();
        if (next === undefined || next >= target) break;
        await runTo(next);
        last = next;
      }
      this.journal = journal;
      this.#stops = [...stops.filter((t) => t <= last)];
      if (this.#stops[this.#stops.length - 1] !== last) this.#stops.push(last);
      this.frames = [];
      this.throughputBps = [];
      this.snapshot = await lab.snapshot();
    });
  }

  /** Stops the loop and the workers (page teardown). */
  async close(): Promise<void> {
    this.pause();
    await this.#exclusive(() => this.#closeLab());
  }

  // --- internals -------------------------------------------------------------------------------

  #enter(phase: SessionPhase, source: string): void {
    this.pause();
    this.source = source;
    this.phase = phase;
    this.errors = [];
    this.failure = undefined;
    this.idle = false;
  }

  /** The play loop: one frame owes speed × elapsed wall time; one advance runs at a time. */
  #frame = (wallMs: number): void => {
    if (!this.playing) return;
    if (this.#lastFrameMs !== undefined) {
      const elapsedMs = Math.min(Math.max(0, wallMs - this.#lastFrameMs), FRAME_WALL_MAX_MS);
      const speed = this.speed === 0 ? 1 : this.speed;
      this.#owedUs = Math.min(this.#owedUs + elapsedMs * 1000 * speed, FRAME_WALL_MAX_MS * 1000 * speed);
    }
    this.#lastFrameMs = wallMs;
    const deltaUs = Math.floor(this.#owedUs);
    if (!this.#advancing && deltaUs >= 1) {
      this.#owedUs -= deltaUs;
      this.#advancing = true;
      void this.#advance(deltaUs).finally(() => {
        this.#advancing = false;
      });
    }
    this.#raf = requestAnimationFrame(this.#frame);
  };

  async #advance(deltaUs: number): Promise<void> {
    await this.#exclusive(async () => {
      const lab = this.#lab;
      if (!lab || !this.playing) return;
      const before = lab.nowUs;
      if (this.speed === 0) {
        // As fast as it goes: grow the slice while a frame's budget allows.
        const wall0 = performance.now();
        let slice = 1000;
        while (performance.now() - wall0 < MAX_SPEED_BUDGET_MS && this.playing) {
          await lab.runUntil(lab.nowUs + slice);
          slice *= 2;
        }
      } else {
        await lab.runUntil(lab.nowUs + deltaUs);
      }
      await this.#observe(lab, before);
    });
  }

  async #fault(fault: Fault): Promise<void> {
    if (!this.ready) return;
    await this.#exclusive(async () => {
      const lab = this.#lab;
      if (!lab) return;
      await applyFault(lab, fault);
      this.journal = [...this.journal, { atUs: lab.nowUs, fault }];
      this.snapshot = await lab.snapshot();
    });
  }

  /** After an advance from `beforeUs`: the new snapshot, the frames of the window, throughput. */
  async #observe(lab: Lab, beforeUs: number): Promise<void> {
    const prev = this.snapshot;
    const snap = await lab.snapshot();
    const now = snap.nowUs;
    if (this.#stops[this.#stops.length - 1]! < now) this.#stops.push(now);
    if (this.#framesOk) {
      try {
        // Everything on the wire at `now`: frames that started within the longest latency before it.
        const maxLatencyUs = Math.max(1, ...(this.topology?.links.map((l) => l.latencyUs) ?? [1]));
        this.frames = (await lab.frames(Math.max(0, now - maxLatencyUs), now + 1, FRAMES_MAX * 4)).filter((f) => f.arriveUs > now).slice(0, FRAMES_MAX);
      } catch {
        this.#framesOk = false;
        this.frames = [];
      }
    }
    this.framesWindow = { fromUs: beforeUs, toUs: now };
    const dt = now - (prev?.nowUs ?? 0);
    this.throughputBps = prev && dt > 0 ? snap.links.map((l, i) => {
      const p = prev.links[i];
      const bytes = l.dirs[0].bytes + l.dirs[1].bytes - (p ? p.dirs[0].bytes + p.dirs[1].bytes : 0);
      return (bytes * 8 * 1e6) / dt;
    }) : [];
    this.snapshot = snap;
  }

  #framesOk = true;

  async #startLab(): Promise<void> {
    const topology = this.topology;
    if (!topology) return;
    this.phase = 'starting';
    this.failure = undefined;
    this.idle = false;
    this.snapshot = undefined;
    this.frames = [];
    this.throughputBps = [];
    this.journal = [];
    this.#stops = [0];
    this.#framesOk = true;
    this.progress = { started: 0, total: 0 };
    try {
      // A copy: run-time link changes mutate the lab's links, and a re-run must start from the file.
      const lab = await createBrowserLab(structuredClone($state.snapshot(topology)), {
        runtime: this.runtime,
        ...(this.#maxWorkers !== undefined ? { maxWorkers: this.#maxWorkers } : {}),
        onProgress: (started, total) => {
          this.progress = { started, total };
        },
      });
      this.#lab = lab;
      this.dataplane = lab.dataplane;
      this.snapshot = await lab.snapshot();
      this.phase = 'ready';
    } catch (e) {
      this.failure = `cannot start the lab: ${message(e)}`;
      this.phase = 'failed';
    }
  }

  async #closeLab(): Promise<void> {
    const lab = this.#lab;
    this.#lab = undefined;
    if (lab) await lab.close();
  }

  /**
   * Runs `fn` after every call queued before it: calls into the lab never overlap. A failure of
   * a call stops the play loop and is shown as `failure`; it does not reject.
   */
  #exclusive(fn: () => Promise<void>): Promise<void> {
    this.#pending++;
    const run = this.#queue.then(fn).catch((e: unknown) => {
      this.pause();
      this.failure = message(e);
    });
    this.#queue = run;
    return run.finally(() => {
      this.#pending--;
    });
  }
}

async function applyFault(lab: Lab, f: Fault): Promise<void> {
  if (f.kind === 'link-up') await lab.setLinkUp(f.link, f.up);
  else if (f.kind === 'link-params') await lab.setLinkParams(f.link, f.params);
  else await lab.command(f.node, f.command);
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
