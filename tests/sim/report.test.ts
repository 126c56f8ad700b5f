// The report on the shipped examples validates against its schema; the backbone tap reads payloads
// in clear in l3vpn and none in mesh; the committed public/report.schema.json is current.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { loadTopology } from '../../src/sim/topology/load.ts';
import { Kernel } from '../../src/sim/kernel.ts';
import { analyseBackbone, backboneLinks } from '../../src/sim/backbone-tap.ts';
import { ConvergenceTracker, checkConvergence } from '../../src/sim/convergence.ts';
import { decodePcap } from '../../src/sim/pcap.ts';
import { buildReport } from '../../src/sim/snapshot.ts';
import { ReportSchema, reportJsonSchemaText } from '../../src/sim/report-schema.ts';
import { configItems } from '../../src/sim/config-items.ts';
import type { Mode } from '../../src/sim/topology/types.ts';

const SEED = 3;
const EXAMPLES = ['public/topologies/seed001-figure2.yaml', 'public/topologies/seed002-figure1.yaml'];

function runReport(file: string, mode: Mode, untilUs = 8_000_000) {
  const loaded = loadTopology(readFileSync(file, 'utf8'), { mode, seed: SEED });
  if (!loaded.ok) throw new Error(`${file} does not load`);
  const t = loaded.topology;
  const tapped = backboneLinks(t).map((b) => b.link.index);
  const k = new Kernel(t, { taps: tapped });
  const tracker = new ConvergenceTracker(t);
  const slice = 100_000;
  for (let at = slice; at <= untilUs; at += slice) {
    k.runUntil(at);
    tracker.sample(k.snapshot());
  }
  const tap = analyseBackbone(t, (i) => decodePcap(k.pcap(i)).records);
  const report = buildReport(t, k.snapshot(), 'single', {
    tap,
    convergence: { convergedAtUs: tracker.convergedAtUs ?? null, sampleIntervalUs: slice, samples: tracker.samples, last: tracker.last ?? null },
  });
  return { t, report: JSON.parse(JSON.stringify(report)) as ReturnType<typeof buildReport> };
}

describe(`report (seed ${SEED})`, () => {
  for (const file of EXAMPLES) {
    for (const mode of ['l3vpn', 'mesh', 'gateway', 'group'] as const) {
      it(`${file} in ${mode} validates against the report schema`, () => {
        const { report } = runReport(file, mode, 3_000_000);
        const r = ReportSchema.safeParse(report);
        expect(r.success, r.success ? '' : JSON.stringify(r.error.issues.slice(0, 5))).toBe(true);
      });
    }
  }

  it('l3vpn: the tap reads customer payload in clear, flows are not protected, BGP converges', () => {
    const { report } = runReport(EXAMPLES[0]!, 'l3vpn');
    expect(report.totals.clearPayloadBytes).toBeGreaterThan(0);
    expect(report.totals.espBytes).toBe(0);
    for (const f of report.flows) {
      expect(f.delivered).toBe(f.sent);
      expect(f.backbone?.protected).toBe(false);
      expect(f.backbone!.clearPackets).toBeGreaterThan(0);
    }
    expect(report.convergence?.convergedAtUs).not.toBeNull();
    expect(report.totals.bgpSessions.established).toBe(report.totals.bgpSessions.total);
    expect(report.totals.bgpSessions.total).toBeGreaterThan(0);
    expect(report.totals.control!.bgp.packets).toBeGreaterThan(0);
    // Every BGP packet the tap saw on its first hop is attributed to exactly one originator.
    const byNode = Object.values(report.nodes).reduce((s, n) => s + (n.summary.control?.bgp.packets ?? 0), 0);
    expect(byNode).toBeGreaterThan(0);
    expect(byNode).toBeLessThanOrEqual(report.totals.control!.bgp.packets);
  });

  it('mesh: no customer payload byte in clear, every flow protected, N-1 tunnels per site', () => {
    const { t, report } = runReport(EXAMPLES[0]!, 'mesh');
    expect(report.totals.clearPayloadBytes).toBe(0);
    expect(report.totals.espBytes).toBeGreaterThan(0);
    for (const f of report.flows) {
      expect(f.delivered).toBe(f.sent);
      expect(f.backbone).toEqual({ clearPackets: 0, protected: true });
    }
    const ces = t.nodes.filter((n) => n.role === 'ce');
    for (const ce of ces) expect(report.nodes[ce.id]!.summary.sas.pairwise).toBe(2 * (ces.length - 1));
    expect(report.convergence?.convergedAtUs).not.toBeNull();
    expect(report.convergence!.last!.sas).toEqual({ present: ces.length * 2 * (ces.length - 1), expected: ces.length * 2 * (ces.length - 1) });
  });

  it('flow latency percentiles are ordered and match the RTTs, UDP gets one-way latency', () => {
    const { report } = runReport(EXAMPLES[0]!, 'l3vpn');
    const ping = report.flows.find((f) => f.kind === 'ping')!;
    const lp = ping.latencyPercentiles!;
    expect(lp.kind).toBe('rtt');
    expect(lp.samples).toBe(ping.delivered);
    expect(lp.p50Us).toBeLessThanOrEqual(lp.p90Us);
    expect(lp.p99Us).toBeLessThanOrEqual(lp.maxUs);
    expect(lp.maxUs).toBe(ping.rttMaxUs);
    expect(lp.p50Us).toBeGreaterThanOrEqual(ping.rttMinUs!);
    const udp = report.flows.find((f) => f.kind === 'udp')!;
    expect(udp.latencyPercentiles?.kind).toBe('one-way');
    // One way is about half the round trip over the same path.
    expect(udp.latencyPercentiles!.p50Us).toBeGreaterThan(lp.p50Us / 3);
    expect(udp.latencyPercentiles!.p50Us).toBeLessThan(lp.p50Us);
  });

  it('group and gateway do not claim convergence they do not have (no group SA yet means no)', () => {
    const { report } = runReport(EXAMPLES[0]!, 'group', 2_000_000);
    const last = report.convergence!.last!;
    if (report.totals.sas.group === 0) {
      expect(last.ok).toBe(false);
      expect(report.convergence!.convergedAtUs).toBeNull();
    }
  });

  it('the kernel\'s convergence check (reads only nodes whose state version moved) equals the one from a full snapshot', () => {
    // A join, a leave (routes withdrawn), rekeys and a crash/restart, so cached shares must be dropped.
    for (const mode of ['group', 'gateway', 'mesh'] as const) {
      const text = readFileSync(EXAMPLES[0]!, 'utf8').replace('rekeyOnMembershipChange: true', 'rekeyOnMembershipChange: true\n    tekLifetime: 10s\n    schedule: [{ at: 2s, join: ce-d }, { at: 4s, leave: ce-c }]');
      const loaded = loadTopology(text, { mode, seed: SEED });
      if (!loaded.ok) throw new Error(`does not load: ${JSON.stringify(loaded).slice(0, 400)}`);
      const t = loaded.topology;
      const k = new Kernel(t, { taps: [] });
      const ceA = t.nodes.find((n) => n.id === 'ce-a')!.index;
      let oks = 0;
      for (let at = 50_000; at <= 12_000_000; at += 50_000) {
        k.runUntil(at);
        if (at === 5_000_000) k.command(ceA, { kind: 'crash' });
        if (at === 5_500_000) k.command(ceA, { kind: 'restart' });
        // Probe first (it must not rely on the snapshot having been built), then the full check.
        const early = k.convergence({ untilMiss: true });
        const fast = k.convergence();
        expect(fast, `${mode} at ${at} µs`).toEqual(checkConvergence(t, k.snapshot()));
        // Stopping at the first node not in place gives the same verdict; full counts when converged.
        expect(early.ok, `${mode} at ${at} µs (untilMiss)`).toBe(fast.ok);
        if (fast.ok) expect(early).toEqual(fast);
        else expect(early.partial).toBe(true);
        if (fast.ok) oks++;
      }
      expect(oks, mode).toBeGreaterThan(0);
    }
  });

  it('config items follow the documented rule per mode', () => {
    const load = (mode: Mode) => {
      const r = loadTopology(readFileSync(EXAMPLES[0]!, 'utf8'), { mode });
      if (!r.ok) throw new Error('load');
      return { t: r.topology, items: configItems(r.topology) };
    };
    const at = (x: ReturnType<typeof load>, id: string) => x.items[x.t.nodes.findIndex((n) => n.id === id)]!;
    // 4 CEs with one trusted subnet each.
    expect(at(load('l3vpn'), 'ce-a')).toEqual({ routing: 2, security: 0, total: 2 });
    expect(at(load('mesh'), 'ce-a').security).toBe(3 + 3); // 3 tunnels + 3 selector pairs
    expect(at(load('gateway'), 'ce-a').security).toBe(2);
    expect(at(load('group'), 'ce-a').security).toBe(1 + 3); // registration + member list (member-list discovery)
    expect(at(load('group'), 'sr').security).toBe(1);
    expect(at(load('l3vpn'), 'pe1')).toEqual({ routing: 1 + 2 + 1, security: 0, total: 4 }); // VRF + 2 CEs + iBGP to pe2
  });

  it('public/report.schema.json is current (npx tsx src/sim/write-report-schema.ts)', () => {
    expect(readFileSync('public/report.schema.json', 'utf8')).toBe(reportJsonSchemaText());
  });
});
