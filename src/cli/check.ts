// `vpnlab check LAB`: runs a lab file's topology headless for the lab's `until`, evaluates its tasks
// with the same evaluator the page uses (sim/lab-checks.ts), prints them, and writes JUnit XML and
// JSON on request. Owns argument parsing and files only. Exit: 0 all pass, 1 a task fails, 2 bad input.

import { readFile, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createLab } from '../runtime/node.ts';
import { decodePcap } from '../sim/pcap.ts';
import { buildReport } from '../sim/snapshot.ts';
import { customerPrefixes, evaluateLab, junitXml, labReferenceErrors, parseLab, summarizeTap, tapLinksOf, type TapSummary } from '../sim/lab-checks.ts';
import { formatTopologyErrors, loadTopology } from '../sim/topology/load.ts';
import { parseDurationUs } from '../sim/topology/schema.ts';

export const CHECK_USAGE = `usage: vpnlab check LAB [--junit FILE] [--json FILE] [--until DURATION] [--runtime single|workers]

  check     run a lab file's topology for its 'until' time and evaluate its tasks;
            exit 0 when every task passes, 1 when one fails, 2 on bad input`;

export async function checkMain(argv: string[], out: (s: string) => void, errOut: (s: string) => void): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { junit: { type: 'string' }, json: { type: 'string' }, until: { type: 'string' }, runtime: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  } catch (e) {
    errOut(`vpnlab check: ${(e as Error).message}\n${CHECK_USAGE}\n`);
    return 2;
  }
  const { values: v, positionals } = parsed;
  if (v.help) {
    out(`${CHECK_USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 1) {
    errOut(`vpnlab check: expected one LAB file\n${CHECK_USAGE}\n`);
    return 2;
  }
  const file = positionals[0]!;
  const runtime = v.runtime ?? 'single';
  if (runtime !== 'single' && runtime !== 'workers') {
    errOut(`vpnlab check: --runtime: expected single or workers, got "${runtime}"\n`);
    return 2;
  }
  const untilOverride = v.until === undefined ? undefined : parseDurationUs(v.until);
  if (v.until !== undefined && untilOverride === undefined) {
    errOut(`vpnlab check: --until: expected a duration such as "12s", got "${v.until}"\n`);
    return 2;
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    errOut(`vpnlab check: cannot read ${file}: ${(e as Error).message}\n`);
    return 2;
  }
  const parsedLab = parseLab(text);
  if (!parsedLab.ok) {
    errOut(`${file}: ${parsedLab.errors.length} error(s)\n${parsedLab.errors.map((e) => `  ${e.path}: ${e.message}`).join('\n')}\n`);
    return 2;
  }
  const lab = parsedLab.lab;
  let topoText: string;
  let topoName: string;
  let format: 'yaml' | 'json' = 'yaml';
  if (typeof lab.topology === 'string') {
    topoName = resolve(dirname(file), lab.topology);
    try {
      topoText = await readFile(topoName, 'utf8');
    } catch (e) {
      errOut(`vpnlab check: ${file}: cannot read topology ${topoName}: ${(e as Error).message}\n`);
      return 2;
    }
    if (topoName.endsWith('.json')) format = 'json';
  } else {
    topoName = `${file} (inline topology)`;
    topoText = JSON.stringify(lab.topology);
    format = 'json';
  }
  const loaded = loadTopology(topoText, { format });
  if (!loaded.ok) {
    errOut(`${topoName}: ${loaded.errors.length} error(s)\n${formatTopologyErrors(loaded.errors)}\n`);
    return 2;
  }
  const topology = loaded.topology;
  const refErrors = labReferenceErrors(lab, topology);
  if (refErrors.length) {
    errOut(`${file}: ${refErrors.length} error(s)\n${refErrors.map((e) => `  ${e}`).join('\n')}\n`);
    return 2;
  }
  const untilUs = untilOverride ?? lab.untilUs;
  const tapLinks = tapLinksOf(lab);
  const tapIndices = tapLinks.map((lid) => topology.links.find((l) => l.id === lid)!.index);
  const instance = await createLab(topology, { runtime, taps: tapIndices });
  try {
    await instance.runUntil(untilUs);
    const snapshot = await instance.snapshot();
    const report = buildReport(topology, snapshot, runtime);
    const customer = customerPrefixes(topology);
    const taps: Record<string, TapSummary> = {};
    for (let k = 0; k < tapLinks.length; k++) {
      taps[tapLinks[k]!] = summarizeTap(decodePcap(await instance.pcap(tapIndices[k]!)).records.map((r) => r.bytes), customer);
    }
    const results = evaluateLab(lab, { topology, snapshot, report, taps });
    out(`${lab.lab}: ${topology.name}, mode ${topology.mode}, seed ${topology.seed}, ran ${untilUs / 1e6} s\n`);
    for (const r of results) {
      out(`  ${r.pass ? 'PASS' : 'FAIL'} ${r.number}. ${r.title}\n`);
      for (const c of r.checks) out(`       ${c.pass ? '✓' : '✗'} ${c.label}: ${c.detail}\n`);
    }
    const failed = results.filter((r) => !r.pass).length;
    out(`${results.length - failed} of ${results.length} tasks pass\n`);
    if (v.junit) await writeFile(v.junit, junitXml(lab, results));
    if (v.json) await writeFile(v.json, `${JSON.stringify({ lab: lab.lab, topology: topology.name, mode: topology.mode, seed: topology.seed, virtualTimeUs: untilUs, passed: failed === 0, tasks: results }, null, 2)}\n`);
    return failed === 0 ? 0 : 1;
  } finally {
    await instance.close();
  }
}
