// `vpnlab compare`: for each number of sites, generates a topology and runs every mode on it in its
// own child process (`vpnlab run … --report --measure`, so wall time and peak memory are that run's
// alone and a crash fails one row only), then prints the table and writes compare.json and
// compare.svg. Owns processes and files; the numbers come from the runs' reports (sim/compare.ts).

import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { compareChartSvg } from '../sim/chart.ts';
import { COMPARE_SLICES_DEFAULT, COMPARE_UNTIL_S_DEFAULT, MESH_MAX_SAS_DEFAULT, failedRow, formatCompareTable, meshSas, rowFromReport, skippedRow, type CompareResult, type CompareRow, type RunMeasure } from '../sim/compare.ts';
import { checkGenerateOptions, generateTopology, GenerateError } from '../sim/generate.ts';
import type { Report } from '../sim/snapshot.ts';
import { MODES, type Mode } from '../sim/topology/types.ts';
import { intOption } from './generate.ts';

export const COMPARE_USAGE = `       vpnlab compare --sites N[,N…] [--modes l3vpn,mesh,gateway,group] [--vpns V] [--until SECONDS]
                      [--runtime single|workers] [--timeout SECONDS] [--slices K] [--mesh-max-sas N] [--out DIR]`;

/** At most this many sizes in one comparison. */
export const COMPARE_SIZES_MAX = 16;
/** Keeps only the tail of a child's stderr. */
const STDERR_TAIL_MAX = 4096;

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderrTail: string;
  timedOut: boolean;
}

function runChild(args: string[], timeoutS: number, onStderr: (s: string) => void): Promise<ChildResult> {
  const bin = fileURLToPath(new URL('./bin.js', import.meta.url));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let tail = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutS * 1000);
    child.stderr.on('data', (d: Buffer) => {
      const s = d.toString();
      onStderr(s);
      tail = (tail + s).slice(-STDERR_TAIL_MAX);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderrTail: tail, timedOut });
    });
  });
}

/** Exit codes: 0 the table was written (rows may show failures), 1 could not write, 2 bad arguments. */
export async function compareCommand(argv: string[], out: (s: string) => void, errOut: (s: string) => void): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        sites: { type: 'string' },
        modes: { type: 'string' },
        vpns: { type: 'string' },
        until: { type: 'string' },
        runtime: { type: 'string' },
        timeout: { type: 'string' },
        'mesh-max-sas': { type: 'string' },
        slices: { type: 'string' },
        out: { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    errOut(`vpnlab compare: ${(e as Error).message}\nusage:\n${COMPARE_USAGE}\n`);
    return 2;
  }
  const v = parsed.values;
  if (v.help) {
    out(`usage:\n${COMPARE_USAGE}\n`);
    return 0;
  }
  const problems: string[] = [];
  const sizes: number[] = [];
  if (v.sites === undefined) problems.push('--sites: required, e.g. --sites 10,100,1000');
  else {
    for (const part of v.sites.split(',')) {
      const n = intOption('sites', part, problems, 2);
      if (n !== undefined) sizes.push(n);
    }
    if (sizes.length > COMPARE_SIZES_MAX) problems.push(`--sites: at most ${COMPARE_SIZES_MAX} sizes, got ${sizes.length}`);
  }
  const modes = (v.modes ?? MODES.join(',')).split(',').map((m) => m.trim()) as Mode[];
  for (const m of modes) if (!(MODES as readonly string[]).includes(m)) problems.push(`--modes: expected a list of ${MODES.join(', ')}, got "${m}"`);
  const vpns = intOption('vpns', v.vpns, problems, 1) ?? 1;
  const untilS = v.until === undefined ? COMPARE_UNTIL_S_DEFAULT : Number(v.until);
  if (!(Number.isFinite(untilS) && untilS > 0)) problems.push(`--until: expected seconds (a number > 0), got "${v.until}"`);
  const runtime = v.runtime ?? 'single';
  if (runtime !== 'single' && runtime !== 'workers') problems.push(`--runtime: expected single or workers, got "${v.runtime}"`);
  const timeoutS = v.timeout === undefined ? 900 : Number(v.timeout);
  if (!(Number.isFinite(timeoutS) && timeoutS > 0)) problems.push(`--timeout: expected seconds (a number > 0), got "${v.timeout}"`);
  const slices = intOption('slices', v.slices, problems, 1) ?? COMPARE_SLICES_DEFAULT;
  const meshMaxSas = intOption('mesh-max-sas', v['mesh-max-sas'], problems, 0) ?? MESH_MAX_SAS_DEFAULT;
  for (const n of sizes) {
    try {
      checkGenerateOptions({ sites: n, vpns });
    } catch (e) {
      if (e instanceof GenerateError) problems.push(`--${e.message}`);
      else throw e;
    }
  }
  if (problems.length) {
    errOut(`${[...new Set(problems)].map((p) => `vpnlab compare: ${p}`).join('\n')}\n`);
    return 2;
  }

  const dir = v.out ?? 'compare-out';
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    errOut(`vpnlab compare: cannot create ${dir}: ${(e as Error).message}\n`);
    return 1;
  }
  const quiet = v.quiet ?? false;
  const rows: CompareRow[] = [];
  const total = sizes.length * modes.length;
  let k = 0;
  for (const n of sizes) {
    const file = join(dir, `generated-${n}.yaml`);
    await writeFile(file, generateTopology({ sites: n, vpns }));
    for (const mode of modes) {
      k++;
      const base = join(dir, `run-${n}-${mode}`);
      if (mode === 'mesh' && meshSas(n, vpns) > meshMaxSas) {
        // Not started: the state alone would not fit (see meshSas); say so instead of a timeout or an OOM.
        const row = skippedRow(n, mode, `a mesh of ${n} sites installs ${meshSas(n, vpns).toLocaleString('en-US')} pairwise SAs (an inbound and an outbound per CE and peer), over --mesh-max-sas ${meshMaxSas.toLocaleString('en-US')} (about 13 KB each measured)`);
        rows.push(row);
        if (!quiet) errOut(`[compare] ${k}/${total}: ${n} sites, ${mode}: skipped (${meshSas(n, vpns).toLocaleString('en-US')} SAs over --mesh-max-sas)\n`);
        continue;
      }
      if (!quiet) errOut(`[compare] ${k}/${total}: ${n} sites, ${mode}, ${runtime} …\n`);
      const started = performance.now();
      const res = await runChild(
        ['run', file, '--mode', mode, '--until', String(untilS), '--runtime', runtime, '--report', `${base}.report.json`, '--report-detail', 'summary', '--slices', String(slices), '--measure', `${base}.measure.json`, '--quiet'],
        timeoutS,
        () => {},
      );
      let measure: RunMeasure | undefined;
      try {
        measure = JSON.parse(await readFile(`${base}.measure.json`, 'utf8')) as RunMeasure;
      } catch {
        measure = undefined;
      }
      let row: CompareRow;
      if (res.code !== 0) {
        const why = res.timedOut ? `timed out after ${timeoutS} s` : `exit ${res.code ?? res.signal}`;
        const last = res.stderrTail.trim().split('\n').slice(-2).join(' | ').slice(0, 300);
        row = failedRow(n, mode, `${why}${last ? `: ${last}` : ''}`, measure);
      } else {
        try {
          const report = JSON.parse(await readFile(`${base}.report.json`, 'utf8')) as Report;
          row = rowFromReport(n, mode, report, measure);
        } catch (e) {
          row = failedRow(n, mode, `no readable report: ${(e as Error).message}`, measure);
        }
      }
      rows.push(row);
      if (!quiet) {
        const took = ((performance.now() - started) / 1000).toFixed(1);
        errOut(`[compare] ${k}/${total}: ${n} sites, ${mode}: ${row.status}${row.convergedS !== null ? ` at ${row.convergedS.toFixed(2)} s` : ''} (${took} s wall${row.peakRssMb !== null ? `, ${row.peakRssMb.toFixed(0)} MB` : ''})\n`);
      }
    }
  }
  const result: CompareResult = { runtime, untilS, rows };
  const table = formatCompareTable(result);
  out(table);
  try {
    await writeFile(join(dir, 'compare.json'), `${JSON.stringify(result, null, 2)}\n`);
    await writeFile(join(dir, 'compare.svg'), compareChartSvg(rows));
    await writeFile(join(dir, 'compare.txt'), table);
  } catch (e) {
    errOut(`vpnlab compare: cannot write into ${dir}: ${(e as Error).message}\n`);
    return 1;
  }
  out(`wrote ${join(dir, 'compare.json')}, ${join(dir, 'compare.svg')}\n`);
  return 0;
}
