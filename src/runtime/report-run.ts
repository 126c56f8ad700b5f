// One run for a report, the way `vpnlab run --report` does it and the page's comparison panel too:
// advance a fresh lab to T in slices, sample convergence after each slice, tap the backbone from the
// captures, build the report; and (for `compare`) turn it into a row. Owns no files, no clock of its
// own and no way of starting a lab: the caller creates the lab (Node or browser) and passes it in.

import { analyseBackbone, backboneLinks } from '../sim/backbone-tap.ts';
import { failedRow, rowFromReport, type CompareRow, type RunMeasure } from '../sim/compare.ts';
import { ConvergenceTracker } from '../sim/convergence.ts';
import { decodePcap } from '../sim/pcap.ts';
import { buildReport, type LabSnapshot } from '../sim/snapshot.ts';
import { loadTopology } from '../sim/topology/load.ts';
import type { Mode, Topology } from '../sim/topology/types.ts';
import type { Lab, LabOptions } from './lab.ts';

/** The links a report run reads the backbone tap from (captured, for a lab made without `backboneTap`). */
export function reportTaps(topology: Topology): number[] {
  return backboneLinks(topology).map((b) => b.link.index);
}

export interface ReportRunOptions {
  untilUs: number;
  /** The run advances in this many slices; with `report`, one convergence sample after each. */
  slices: number;
  /** Tap the backbone and follow convergence (the lab must capture `reportTaps`); default true. */
  report?: boolean;
  detail?: 'full' | 'summary';
  /** After each slice, with the time reached (progress; the page also yields to the browser here). */
  onSlice?: (tUs: number) => void | Promise<void>;
  /** Checked after each slice: an aborted run stops there and rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface ReportRun {
  snapshot: LabSnapshot;
  report: ReturnType<typeof buildReport> & { dataplane: Lab['dataplane'] };
  /** Wall seconds spent advancing virtual time (slices and samples), not starting or reporting. */
  runWallS: number;
  sliceUs: number;
}

/** Runs `lab` (fresh, at time 0) to `untilUs` and builds its report (see the file comment). */
export async function runForReport(lab: Lab, opts: ReportRunOptions): Promise<ReportRun> {
  const topology = lab.topology;
  const withReport = opts.report ?? true;
  const { untilUs } = opts;
  const sliceUs = Math.max(1, Math.ceil(untilUs / opts.slices));
  const tracker = withReport ? new ConvergenceTracker(topology) : undefined;
  const runStart = performance.now();
  for (let t = Math.min(sliceUs, untilUs); ; t = Math.min(t + sliceUs, untilUs)) {
    opts.signal?.throwIfAborted();
    await lab.runUntil(t);
    // Full counts only for the last sample (the report's); before it, whether all is in place is enough.
    if (tracker) tracker.record(t, await lab.convergence({ untilMiss: t < untilUs }));
    await opts.onSlice?.(t);
    if (t >= untilUs) break;
  }
  opts.signal?.throwIfAborted();
  const runWallS = (performance.now() - runStart) / 1000;
  const snapshot = await lab.snapshot();
  let extras = {};
  if (tracker) {
    // Counted as the frames were sent when the lab was made with `backboneTap`; else from the captures.
    let tap = await lab.backboneTap();
    if (!tap) {
      const captures = new Map<number, ReturnType<typeof decodePcap>['records']>();
      for (const i of reportTaps(topology)) captures.set(i, decodePcap(await lab.pcap(i)).records);
      tap = analyseBackbone(topology, (i) => captures.get(i) ?? []);
    }
    extras = {
      tap,
      convergence: { convergedAtUs: tracker.convergedAtUs ?? null, sampleIntervalUs: sliceUs, samples: tracker.samples, last: tracker.last ?? null },
    };
  }
  const report = { ...buildReport(topology, snapshot, lab.runtime, { ...extras, detail: opts.detail ?? 'full' }), dataplane: lab.dataplane };
  return { snapshot, report, runWallS, sliceUs };
}

/** Starts a lab on a topology (createLab in Node, createBrowserLab in the page). */
export type LabFactory = (topology: Topology, options: LabOptions) => Promise<Lab>;

export interface CompareRunOptions {
  mode: Mode;
  /** Virtual seconds per run. */
  untilS: number;
  slices: number;
  /** The row's `sites` (the generated N); default: the report's count of sites. */
  sites?: number;
  seed?: number;
  onSlice?: (tUs: number) => void | Promise<void>;
  signal?: AbortSignal;
}

/**
 * One comparison row from topology text run in one mode on a fresh lab, as `vpnlab compare` gets it
 * from `vpnlab run … --report --report-detail summary`; a run that throws gives a failed row, an
 * aborted one rejects. `wallS` and `runWallS` are this run's; peak memory is unknown here (null).
 */
export async function compareRunRow(text: string, makeLab: LabFactory, opts: CompareRunOptions): Promise<CompareRow> {
  const loaded = loadTopology(text, { mode: opts.mode, ...(opts.seed !== undefined ? { seed: opts.seed } : {}) });
  if (!loaded.ok) return failedRow(opts.sites ?? 0, opts.mode, `the topology does not load in ${opts.mode}: ${loaded.errors.map((e) => `${e.path}: ${e.message}`).join('; ').slice(0, 300)}`);
  const topology = loaded.topology;
  // The report's count of sites (buildReport): CEs with trusted subnets.
  const sites = opts.sites ?? topology.nodes.filter((n) => n.role === 'ce' && n.trustedSubnets.length > 0).length;
  const started = performance.now();
  let lab: Lab | undefined;
  try {
    lab = await makeLab(topology, { taps: [], backboneTap: true });
    const run = await runForReport(lab, { untilUs: Math.round(opts.untilS * 1_000_000), slices: opts.slices, detail: 'summary', ...(opts.onSlice ? { onSlice: opts.onSlice } : {}), ...(opts.signal ? { signal: opts.signal } : {}) });
    const measure: Pick<RunMeasure, 'wallS' | 'runWallS'> = { wallS: (performance.now() - started) / 1000, runWallS: run.runWallS };
    return rowFromReport(sites, opts.mode, run.report, measure);
  } catch (e) {
    if (opts.signal?.aborted) throw e;
    return failedRow(sites, opts.mode, `run failed: ${e instanceof Error ? e.message : String(e)}`.slice(0, 300), { wallS: (performance.now() - started) / 1000 });
  } finally {
    await lab?.close();
  }
}
