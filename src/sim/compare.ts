// The scaling comparison of seed 001's background: for each number of sites and each mode, the state
// per site, SAs in the network, operator configuration, convergence time, control messages, wall
// time and memory, taken from run reports (never computed from formulas). Pure: building rows and
// the text table; running the modes is the CLI's job.

import type { Report } from './snapshot.ts';
import { layout } from './generate.ts';
import type { Mode } from './topology/types.ts';

/** What `vpnlab run --measure` writes. */
export interface RunMeasure {
  wallS: number;
  runWallS: number;
  maxRssBytes: number;
  nodes: number;
  links: number;
  runtime: string;
  events: number;
}

export type RowStatus = 'converged' | 'not-converged' | 'failed' | 'skipped';

export interface CompareRow {
  sites: number;
  mode: Mode;
  status: RowStatus;
  /** Why a run failed (exit code and the last lines of its stderr), or what was missing at the end. */
  note?: string;
  /** Each field null when the run failed. */
  sasPerSite: number | null;
  sasTotal: number | null;
  groupSas: number | null;
  spdPerSite: number | null;
  ribPerSite: number | null;
  configPerSite: number | null;
  configTotal: number | null;
  convergedS: number | null;
  controlPackets: number | null;
  controlBytes: number | null;
  clearPayloadBytes: number | null;
  /** The first ping flow (the generator's farthest pair): delivered all, and protected on the backbone. */
  pingDelivered: string | null;
  pingProtected: boolean | null;
  wallS: number | null;
  runWallS: number | null;
  peakRssMb: number | null;
  events: number | null;
}

export interface CompareResult {
  runtime: string;
  untilS: number;
  rows: CompareRow[];
}

const EMPTY = {
  sasPerSite: null, sasTotal: null, groupSas: null, spdPerSite: null, ribPerSite: null, configPerSite: null, configTotal: null, convergedS: null,
  controlPackets: null, controlBytes: null, clearPayloadBytes: null, pingDelivered: null, pingProtected: null, wallS: null, runWallS: null, peakRssMb: null, events: null,
} as const;

/** Virtual seconds per run and slices per run of `vpnlab compare` and of the page's comparison panel. */
export const COMPARE_UNTIL_S_DEFAULT = 10;
export const COMPARE_SLICES_DEFAULT = 50;

/** What is known of a run's cost: all of RunMeasure from `vpnlab run --measure`, wall times only in the page. */
export type PartialMeasure = Pick<RunMeasure, 'wallS'> & Partial<RunMeasure>;

const peakMb = (measure: PartialMeasure | undefined): number | null => (measure?.maxRssBytes !== undefined ? measure.maxRssBytes / 2 ** 20 : null);

export function failedRow(sites: number, mode: Mode, note: string, measure?: PartialMeasure): CompareRow {
  return { sites, mode, status: 'failed', note, ...EMPTY, ...(measure ? { wallS: measure.wallS, peakRssMb: peakMb(measure) } : {}) };
}

/** A run not started (e.g. over the mesh SA budget), with the reason. */
export function skippedRow(sites: number, mode: Mode, note: string): CompareRow {
  return { sites, mode, status: 'skipped', note, ...EMPTY };
}

/**
 * Pairwise SAs a mesh of the generated topology (`sites` CEs over `vpns` VPNs, generate.ts's layout)
 * installs, counted as the report counts them (each CE holds an inbound and an outbound SA per peer):
 * 2·N·(N−1) for one VPN. Measured: about 13 KB of peak memory each (300 sites: 179,400 SAs, 2.4 GB),
 * so a thousand sites in one VPN (1,998,000 SAs) would need some 26 GB.
 */
export function meshSas(sites: number, vpns = 1): number {
  const per = new Array<number>(vpns).fill(0);
  for (const v of layout(sites, vpns).vpnOf) per[v]!++;
  return per.reduce((t, s) => t + 2 * s * (s - 1), 0);
}

/** Default budget of `vpnlab compare --mesh-max-sas`: about 3 GB at the measured cost (up to ~350 sites in one VPN). */
export const MESH_MAX_SAS_DEFAULT = 250_000;

export function rowFromReport(sites: number, mode: Mode, report: Report, measure: PartialMeasure | undefined): CompareRow {
  const t = report.totals;
  const conv = report.convergence;
  const convergedS = conv?.convergedAtUs != null ? conv.convergedAtUs / 1e6 : null;
  const ping = report.flows.find((f) => f.kind === 'ping');
  const ctl = t.control;
  let note: string | undefined;
  if (convergedS === null && conv?.last) {
    const l = conv.last;
    note = `at the end: sessions ${l.sessions.established}/${l.sessions.total}, routes ${l.routes.present}/${l.routes.expected}, SAs ${l.sas.present}/${l.sas.expected}`;
  }
  return {
    sites,
    mode,
    status: convergedS === null ? 'not-converged' : 'converged',
    ...(note ? { note } : {}),
    sasPerSite: t.perSite.sas,
    sasTotal: t.sas.installed,
    groupSas: t.sas.group,
    spdPerSite: t.perSite.spdEntries,
    ribPerSite: t.perSite.ribEntries,
    configPerSite: t.perSite.configItems,
    configTotal: t.configItems.total,
    convergedS,
    controlPackets: ctl ? ctl.bgp.packets + ctl.ike.packets + ctl.gikev2.packets : null,
    controlBytes: ctl ? ctl.bgp.bytes + ctl.ike.bytes + ctl.gikev2.bytes : null,
    clearPayloadBytes: t.clearPayloadBytes,
    pingDelivered: ping ? `${ping.delivered}/${ping.sent}` : null,
    pingProtected: ping?.backbone ? ping.backbone.protected : null,
    wallS: measure?.wallS ?? null,
    runWallS: measure?.runWallS ?? null,
    peakRssMb: peakMb(measure),
    events: report.eventsProcessed,
  };
}

const num = (v: number | null, digits = 0): string => (v === null ? '—' : digits === 0 && Number.isInteger(v) ? String(v) : v.toFixed(digits || 1));

/** The table as text, one row per (sites, mode); failed and unconverged runs say so. */
export function formatCompareTable(result: CompareResult): string {
  const head = ['sites', 'mode', 'SAs/site', 'SAs total', 'group SAs', 'SPD/site', 'RIB/site', 'config/site', 'config total', 'converged s', 'ctl pkts', 'ctl KB', 'clear B', 'ping', 'wall s', 'peak MB'];
  const rows = result.rows.map((r) => [
    String(r.sites),
    r.mode,
    num(r.sasPerSite, 1),
    num(r.sasTotal),
    num(r.groupSas),
    num(r.spdPerSite, 1),
    num(r.ribPerSite, 1),
    num(r.configPerSite, 1),
    num(r.configTotal),
    r.status === 'failed' ? 'FAILED' : r.status === 'skipped' ? 'SKIPPED' : r.convergedS === null ? 'no' : r.convergedS.toFixed(2),
    num(r.controlPackets),
    r.controlBytes === null ? '—' : (r.controlBytes / 1024).toFixed(1),
    num(r.clearPayloadBytes),
    r.pingDelivered === null ? '—' : `${r.pingDelivered}${r.pingProtected ? ' enc' : r.pingProtected === false ? ' clear' : ''}`,
    r.wallS === null ? '—' : r.wallS.toFixed(2),
    r.peakRssMb === null ? '—' : r.peakRssMb.toFixed(0),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [`runtime ${result.runtime}, ${result.untilS} s of virtual time per run`, line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
  const notes = result.rows.filter((r) => r.note).map((r) => `  ${r.sites} sites, ${r.mode}: ${r.status}: ${r.note}`);
  if (notes.length) out.push('', 'notes:', ...notes);
  return `${out.join('\n')}\n`;
}
