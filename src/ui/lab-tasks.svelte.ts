// A lab in the page: the lab file's tasks, evaluated live by sim/lab-checks.ts over the session's
// snapshots (throttled), with the taps the checks need read from the runtime. A task ticks when it
// passes now; `done` keeps the tasks that have passed once this session (labs whose tasks describe
// successive states). Computes nothing itself: the evaluator and the runtime do.
import { stringify } from 'yaml';
import { decodePcap } from '../sim/pcap.ts';
import { buildReport } from '../sim/snapshot.ts';
import { customerPrefixes, evaluateLab, parseLab, summarizeTap, tapLinksOf, type LabDef, type TapSummary, type TaskResult } from '../sim/lab-checks.ts';
import type { LabSession } from './lab-session.svelte.ts';

export class LabTasks {
  lab = $state.raw<LabDef | undefined>(undefined);
  /** Where the lab file came from (its topology path is relative to it). */
  url = '';
  results = $state.raw<readonly TaskResult[]>([]);
  done = $state.raw<ReadonlySet<number>>(new Set());
  error = $state<string | undefined>(undefined);
  #evaluatedAt = -1;
  #running = false;

  /** Fetches a lab file and its topology; returns the topology text for the editor. */
  async open(url: string): Promise<string | undefined> {
    this.error = undefined;
    try {
      const text = await (await fetch(url)).text();
      const parsed = parseLab(text);
      if (!parsed.ok) throw new Error(parsed.errors.map((e) => `${e.path}: ${e.message}`).join('; '));
      this.lab = parsed.lab;
      this.url = url;
      this.results = [];
      this.done = new Set();
      this.#evaluatedAt = -1;
      if (typeof parsed.lab.topology !== 'string') return stringify(parsed.lab.topology);
      const r = await fetch(new URL(parsed.lab.topology, new URL(url, location.href)));
      if (!r.ok) throw new Error(`topology ${parsed.lab.topology}: HTTP ${r.status}`);
      return await r.text();
    } catch (e) {
      this.error = `cannot open lab ${url}: ${(e as Error).message}`;
      return undefined;
    }
  }

  close(): void {
    this.lab = undefined;
    this.results = [];
  }

  /** Evaluates the tasks on the session's current state (once per virtual time). */
  async evaluate(session: LabSession): Promise<void> {
    const lab = this.lab;
    const snap = session.snapshot;
    const topology = session.topology;
    if (!lab || !snap || !topology || this.#running || snap.nowUs === this.#evaluatedAt) return;
    this.#running = true;
    try {
      const taps: Record<string, TapSummary> = {};
      const customer = customerPrefixes(topology);
      for (const id of tapLinksOf(lab)) {
        const link = topology.links.find((l) => l.id === id);
        if (!link) continue;
        const pcap = await session.withLab((l) => l.pcap(link.index));
        if (pcap) taps[id] = summarizeTap(decodePcap(pcap).records.map((r) => r.bytes), customer);
      }
      const results = evaluateLab(lab, { topology, snapshot: snap, report: buildReport(topology, snap, session.runtime), taps });
      this.results = results;
      const done = new Set(this.done);
      for (const r of results) if (r.pass) done.add(r.number);
      if (done.size !== this.done.size) this.done = done;
      this.#evaluatedAt = snap.nowUs;
    } finally {
      this.#running = false;
    }
  }

  /** The lab file again with the topology being edited inlined and `until` at the current time. */
  exportWith(topologyDoc: unknown, nowUs: number): string {
    if (!this.lab) return '';
    const { untilUs: _u, ...file } = this.lab;
    void _u;
    const until = `${Math.max(1, Math.ceil(nowUs))}us`;
    return stringify({ ...file, topology: topologyDoc, until }, { lineWidth: 0 });
  }
}
