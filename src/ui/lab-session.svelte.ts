// One lab in the page: loads a topology file, starts the runtime (Web Workers by default), drives
// virtual time (play / pause / step / reset) and keeps the latest LabSnapshot as reactive state.
// It only forwards to the runtime's Lab API: it never computes protocol state, and it never lets
// two calls into the lab overlap (every call goes through one queue).
import { createBrowserLab } from '../runtime/browser.ts';
import type { Lab, RuntimeKind } from '../runtime/lab.ts';
import type { LabSnapshot } from '../sim/snapshot.ts';
import { loadTopology, type TopologyError } from '../sim/topology/load.ts';
import type { Topology } from '../sim/topology/types.ts';

/** Virtual seconds per wall-clock second that the speed selector offers. */
export const SPEEDS = [0.1, 1, 10, 100] as const;
export type Speed = (typeof SPEEDS)[number];

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
      const t = await lab.step();
      this.idle = t === undefined;
      this.snapshot = await lab.snapshot();
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
      this.#owedUs = Math.min(this.#owedUs + elapsedMs * 1000 * this.speed, FRAME_WALL_MAX_MS * 1000 * this.speed);
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
      await lab.runUntil(lab.nowUs + deltaUs);
      this.snapshot = await lab.snapshot();
    });
  }

  async #startLab(): Promise<void> {
    const topology = this.topology;
    if (!topology) return;
    this.phase = 'starting';
    this.failure = undefined;
    this.idle = false;
    this.snapshot = undefined;
    this.progress = { started: 0, total: 0 };
    try {
      const lab = await createBrowserLab(topology, {
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

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
