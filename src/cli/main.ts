// The headless entry: `vpnlab run FILE …` loads and validates a topology, runs it on the chosen
// runtime, writes one pcap per link and a JSON report. Owns argument parsing, files and the
// progress line; all simulation happens in runtime/ and below.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLab } from '../runtime/node.ts';
import type { RuntimeKind } from '../runtime/lab.ts';
import type { DataplaneKind } from '../runtime/dataplane.ts';
import { runForReport } from '../runtime/report-run.ts';
import { generateCommand, GENERATE_USAGE } from './generate.ts';
import { compareCommand, COMPARE_USAGE } from './compare.ts';
import { espSaLines } from '../sim/esp-keys.ts';
import { loadTopology, formatTopologyErrors } from '../sim/topology/load.ts';
import { MODES, type Mode } from '../sim/topology/types.ts';

export const USAGE = `usage: vpnlab run FILE [--until SECONDS] [--seed N] [--mode l3vpn|mesh|gateway|group]
                  [--runtime single|workers] [--workers N] [--dataplane wasm|ts]
                  [--pcap DIR] [--keys FILE] [--report FILE.json] [--report-detail full|summary]
                  [--slices K] [--measure FILE.json] [--quiet]
       vpnlab validate FILE
${GENERATE_USAGE}
${COMPARE_USAGE}
       vpnlab check LAB [--junit FILE] [--json FILE]   (lab files with automatic checks; see public/labs)

  run       load, validate and run a topology (YAML or JSON); --until defaults to 10 s of virtual time
  validate  check a topology file and print every error with its path
  generate  write a topology of N sites (see below)
  compare   run every mode on generated topologies and print the scaling table
  --keys    write the run's ESP keys in Wireshark's esp_sa format (one line per SA)
  --report  the JSON report (public/report.schema.json): taps the backbone and samples convergence
  --report-detail  summary leaves out the per-node app snapshots (RIBs, SA lists): for big runs
  --slices  the run advances in K slices (default ${100}): progress and convergence sampling resolution
  --measure wall time and peak memory of this run as JSON (what compare reads)`;

/** `run` advances in this many slices (progress line; with --report, one convergence sample each). */
export const RUN_SLICES = 100;

/** Exit codes: 0 ok, 1 run failed, 2 bad usage or bad topology. */
export async function main(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s), errOut: (s: string) => void = (s) => process.stderr.write(s)): Promise<number> {
  if (argv[0] === 'check') return (await import('./check.ts')).checkMain(argv.slice(1), out, errOut); // vpnlab check LAB (src/cli/check.ts)
  if (argv[0] === 'generate') return generateCommand(argv.slice(1), out, errOut);
  if (argv[0] === 'compare') return compareCommand(argv.slice(1), out, errOut);
  const wallStart = performance.now();
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        until: { type: 'string' },
        seed: { type: 'string' },
        mode: { type: 'string' },
        runtime: { type: 'string' },
        workers: { type: 'string' },
        dataplane: { type: 'string' },
        pcap: { type: 'string' },
        report: { type: 'string' },
        keys: { type: 'string' },
        measure: { type: 'string' },
        'report-detail': { type: 'string' },
        slices: { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    errOut(`vpnlab: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values: v, positionals } = parsed;
  const [command, file, ...rest] = positionals;
  if (v.help || command === undefined) {
    out(`${USAGE}\n`);
    return v.help ? 0 : 2;
  }
  if ((command !== 'run' && command !== 'validate') || file === undefined || rest.length > 0) {
    errOut(`vpnlab: expected 'run FILE', 'validate FILE', 'generate …' or 'compare …'\n${USAGE}\n`);
    return 2;
  }

  const problems: string[] = [];
  const untilS = v.until === undefined ? 10 : Number(v.until);
  if (!(Number.isFinite(untilS) && untilS >= 0)) problems.push(`--until: expected seconds (a number >= 0), got "${v.until}"`);
  const seed = v.seed === undefined ? undefined : Number(v.seed);
  if (seed !== undefined && !(Number.isInteger(seed) && seed >= 0)) problems.push(`--seed: expected a non-negative integer, got "${v.seed}"`);
  if (v.mode !== undefined && !(MODES as readonly string[]).includes(v.mode)) problems.push(`--mode: expected one of ${MODES.join(', ')}, got "${v.mode}"`);
  const runtime = (v.runtime ?? 'single') as RuntimeKind;
  if (runtime !== 'single' && runtime !== 'workers') problems.push(`--runtime: expected single or workers, got "${v.runtime}"`);
  const maxWorkers = v.workers === undefined ? undefined : Number(v.workers);
  if (maxWorkers !== undefined && !(Number.isInteger(maxWorkers) && maxWorkers >= 1)) problems.push(`--workers: expected a positive integer, got "${v.workers}"`);
  const dataplane = (v.dataplane ?? 'wasm') as DataplaneKind;
  if (dataplane !== 'wasm' && dataplane !== 'ts') problems.push(`--dataplane: expected wasm or ts, got "${v.dataplane}"`);
  const detail = v['report-detail'] ?? 'full';
  if (detail !== 'full' && detail !== 'summary') problems.push(`--report-detail: expected full or summary, got "${detail}"`);
  const slices = v.slices === undefined ? RUN_SLICES : Number(v.slices);
  if (!(Number.isInteger(slices) && slices >= 1 && slices <= 100_000)) problems.push(`--slices: expected an integer from 1 to 100000, got "${v.slices}"`);
  if (problems.length) {
    errOut(`${problems.map((p) => `vpnlab: ${p}`).join('\n')}\n`);
    return 2;
  }

  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    errOut(`vpnlab: cannot read ${file}: ${(e as Error).message}\n`);
    return 2;
  }
  const loaded = loadTopology(text, { format: file.endsWith('.json') ? 'json' : 'yaml', ...(v.mode ? { mode: v.mode as Mode } : {}), ...(seed !== undefined ? { seed } : {}) });
  if (!loaded.ok) {
    errOut(`${file}: ${loaded.errors.length} error(s)\n${formatTopologyErrors(loaded.errors)}\n`);
    return 2;
  }
  const topology = loaded.topology;
  if (command === 'validate') {
    out(`${file}: ok (${topology.nodes.length} nodes, ${topology.links.length} links, mode ${topology.mode}, seed ${topology.seed})\n`);
    return 0;
  }

  const untilUs = Math.round(untilS * 1_000_000);
  const quiet = v.quiet ?? false;
  // The report's backbone tap is counted as frames are sent on the provider links: nothing is
  // captured for it (only --pcap records frames).
  const lab = await createLab(topology, {
    runtime,
    dataplane,
    ...(maxWorkers ? { maxWorkers } : {}),
    taps: v.pcap ? 'all' : [],
    backboneTap: Boolean(v.report),
    onProgress: (n, total) => {
      if (!quiet && total > 1) errOut(`\r[vpnlab] starting workers ${n}/${total}`);
    },
  });
  try {
    // Run in slices so a long run shows where it is.
    // With --report, a snapshot after every slice follows convergence (resolution: one slice).
    let lastPrint = performance.now();
    let printed = false;
    const { snapshot: snap, report, runWallS } = await runForReport(lab, {
      untilUs,
      slices,
      report: Boolean(v.report),
      detail: detail as 'full' | 'summary',
      onSlice: (t) => {
        const now = performance.now();
        if (!quiet && now - lastPrint > 500) {
          errOut(`\r[vpnlab] t=${(t / 1e6).toFixed(3)} s of ${untilS} s (${Math.round((100 * t) / Math.max(1, untilUs))}%)`);
          lastPrint = now;
          printed = true;
        }
      },
    });
    if (printed) errOut('\n');
    if (v.pcap) {
      await mkdir(v.pcap, { recursive: true });
      for (const link of topology.links) {
        await writeFile(join(v.pcap, `${link.id.replace(/[^A-Za-z0-9_.-]/g, '_')}.pcap`), await lab.pcap(link.index));
      }
    }
    if (v.keys) await writeFile(v.keys, espSaLines(snap.nodes.flatMap((n) => n.espSas)).map((l) => `${l}\n`).join(''));
    if (v.report) await writeFile(v.report, `${JSON.stringify(report, null, 2)}\n`);
    const wallS = (performance.now() - wallStart) / 1000;
    if (v.measure) {
      const measure = { wallS, runWallS, maxRssBytes: process.resourceUsage().maxRSS * 1024, nodes: topology.nodes.length, links: topology.links.length, runtime, events: snap.eventsProcessed };
      await writeFile(v.measure, `${JSON.stringify(measure)}\n`);
    }
    out(`${topology.name}: ran ${untilS} s of virtual time in ${wallS.toFixed(2)} s (${runtime}, ${lab.dataplane} data plane, seed ${topology.seed}, ${snap.eventsProcessed} events)\n`);
    for (const f of snap.flows) {
      const rtt = f.rttAvgUs !== undefined ? ` rtt avg ${(f.rttAvgUs / 1000).toFixed(3)} ms` : '';
      out(`  ${f.kind} ${f.from} -> ${f.to}: sent ${f.sent}, received ${f.received}, lost ${f.lost}${rtt}\n`);
    }
    if (v.report) {
      const r = report;
      const c = r.convergence;
      out(`  converged: ${c?.convergedAtUs != null ? `at ${(c.convergedAtUs / 1e6).toFixed(3)} s` : 'no'}; SAs ${r.totals.sas.installed} (group ${r.totals.sas.group}); backbone: ${r.totals.clearPayloadBytes} customer payload bytes in clear, ${r.totals.espBytes} bytes in ESP\n`);
    }
    if (v.pcap) out(`  pcaps: ${topology.links.length} files in ${v.pcap}\n`);
    if (v.report) out(`  report: ${v.report}\n`);
    if (v.keys) out(`  ESP keys (Wireshark esp_sa): ${v.keys}\n`);
    return 0;
  } catch (e) {
    errOut(`vpnlab: run failed: ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  } finally {
    await lab.close();
  }
}
