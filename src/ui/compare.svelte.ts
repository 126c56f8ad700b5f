// The page's mode comparison: runs topology text in every mode on fresh labs (fixed virtual time,
// same seed), one after another, with progress and cancel, and keeps the rows as reactive state.
// The rows come from runtime/report-run.ts, the code `vpnlab run --report` uses; never computed here.
import { createBrowserLab } from '../runtime/browser.ts';
import type { RuntimeKind } from '../runtime/lab.ts';
import { compareRunRow } from '../runtime/report-run.ts';
import { COMPARE_SLICES_DEFAULT, COMPARE_UNTIL_S_DEFAULT, type CompareRow } from '../sim/compare.ts';
import { generateTopology } from '../sim/generate.ts';
import { MODES, type Mode } from '../sim/topology/types.ts';

/** Generated sizes the page runs for "as N grows": page-sized (the CLI goes to thousands). */
export const PAGE_SIZES: readonly number[] = [4, 8, 16, 32];
/** VPNs in the generated topologies (the `vpnlab compare` default). */
export const PAGE_VPNS = 1;
/** Workers per lab at most while comparing (a page shares its cores with the lab on screen). */
const COMPARE_WORKERS_MAX = 4;

export type ComparePhase = 'idle' | 'running' | 'done' | 'cancelled' | 'failed';

/** One job of a comparison: a topology text, in one mode, as `sites` in the row. */
interface Job {
  text: string;
  mode: Mode;
  sites?: number;
}

export interface CompareProgress {
  /** Runs finished. */
  done: number;
  total: number;
  /** The run under way. */
  mode?: Mode;
  sites?: number;
  /** Virtual time reached by the run under way (µs). */
  tUs: number;
}

/** One comparison (of the loaded topology, or of generated ones as N grows). */
export class Comparison {
  phase = $state<ComparePhase>('idle');
  rows = $state.raw<readonly CompareRow[]>([]);
  progress = $state.raw<CompareProgress>({ done: 0, total: 0, tUs: 0 });
  failure = $state<string | undefined>(undefined);
  /** What the rows are for: the topology text that was run (the loaded one), or a label. */
  ranFor = $state<string | undefined>(undefined);
  /** Wall seconds the whole comparison took. */
  wallS = $state<number | undefined>(undefined);
  readonly untilS = COMPARE_UNTIL_S_DEFAULT;
  readonly slices = COMPARE_SLICES_DEFAULT;
  readonly running = $derived(this.phase === 'running');
  /** Fraction of the whole comparison done, 0..1. */
  readonly fraction = $derived(this.progress.total ? (this.progress.done + this.progress.tUs / (this.untilS * 1e6)) / this.progress.total : 0);
  #abort: AbortController | undefined;

  constructor(private readonly runtime: () => RuntimeKind) {}

  /** The loaded topology, in each mode (sites: the report's count). */
  runTopology(text: string): Promise<void> {
    return this.#run(
      MODES.map((mode) => ({ text, mode })),
      text,
    );
  }

  /** Generated topologies of each size in PAGE_SIZES (`vpnlab compare --sites 4,8,16,32`), each in every mode. */
  runScale(sizes: readonly number[] = PAGE_SIZES): Promise<void> {
    const jobs: Job[] = [];
    for (const sites of sizes) {
      const text = generateTopology({ sites, vpns: PAGE_VPNS });
      for (const mode of MODES) jobs.push({ text, mode, sites });
    }
    return this.#run(jobs, `generated ${sizes.join(', ')}`);
  }

  cancel(): void {
    this.#abort?.abort(new Error('cancelled'));
  }

  async #run(jobs: Job[], ranFor: string): Promise<void> {
    if (this.running) return;
    const abort = new AbortController();
    this.#abort = abort;
    this.phase = 'running';
    this.failure = undefined;
    this.rows = [];
    this.ranFor = ranFor;
    this.wallS = undefined;
    this.progress = { done: 0, total: jobs.length, tUs: 0 };
    const started = performance.now();
    const runtime = this.runtime();
    try {
      for (const [k, job] of jobs.entries()) {
        this.progress = { done: k, total: jobs.length, mode: job.mode, ...(job.sites !== undefined ? { sites: job.sites } : {}), tUs: 0 };
        const row = await compareRunRow(job.text, (t, o) => createBrowserLab(t, { ...o, runtime, maxWorkers: COMPARE_WORKERS_MAX }), {
          mode: job.mode,
          untilS: this.untilS,
          slices: this.slices,
          ...(job.sites !== undefined ? { sites: job.sites } : {}),
          signal: abort.signal,
          onSlice: async (tUs) => {
            this.progress = { ...this.progress, tUs };
            // Let the page paint and take a click on Cancel between slices (the single-thread runtime runs here).
            await new Promise((resolve) => setTimeout(resolve, 0));
          },
        });
        this.rows = [...this.rows, row];
      }
      this.progress = { done: jobs.length, total: jobs.length, tUs: 0 };
      this.phase = 'done';
    } catch (e) {
      if (abort.signal.aborted) this.phase = 'cancelled';
      else {
        this.failure = e instanceof Error ? e.message : String(e);
        this.phase = 'failed';
      }
    } finally {
      this.wallS = (performance.now() - started) / 1000;
      this.#abort = undefined;
    }
  }
}
