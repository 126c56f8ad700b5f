// The 1000-site target of issue 6: `vpnlab generate --sites N --vpns 1 --mode group`, then
// `vpnlab run` to 6 s of virtual time with the report, in a child process per runtime (workers, the
// target's, and single thread). Wall is the whole command, spawn to exit (start-up, run, report);
// memory the child's peak resident set (worker threads included: they share the process).
// Converged = every member holds the GSA and every other member's routes and every session is up
// (the report's convergence check), and the farthest-pair ping is delivered and crosses the
// backbone protected.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchRow } from './util.ts';

const BIN = fileURLToPath(new URL('../../src/cli/bin.js', import.meta.url));
/** Issue 6: converge in under 15 s of wall time and 2 GB of memory with `--runtime workers`. */
export const SCALE_TARGET = { wallS: 15, rssBytes: 2e9 };

function run(args: string[]): Promise<{ code: number; wallS: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, wallS: (performance.now() - t0) / 1000, stderr }));
  });
}

interface Measure {
  maxRssBytes: number;
  runWallS: number;
  events: number;
}

export async function scaleBench(sites = Number(process.env['SCALE_SITES'] ?? 1000)): Promise<BenchRow[]> {
  const dir = await mkdtemp(join(tmpdir(), 'vpnlab-scale-'));
  try {
    const file = join(dir, `group-${sites}.yaml`);
    const gen = await run(['generate', '--sites', String(sites), '--vpns', '1', '--mode', 'group', '--out', file]);
    if (gen.code !== 0) throw new Error(`generate failed: ${gen.stderr}`);
    const rows: BenchRow[] = [];
    for (const runtime of ['workers', 'single'] as const) {
      const report = join(dir, `report-${runtime}.json`);
      const measure = join(dir, `measure-${runtime}.json`);
      const r = await run(['run', file, '--until', '6', '--quiet', '--runtime', runtime, '--report', report, '--report-detail', 'summary', '--measure', measure]);
      if (r.code !== 0) throw new Error(`run (${runtime}) failed: ${r.stderr}`);
      const m = JSON.parse(await readFile(measure, 'utf8')) as Measure;
      const rep = JSON.parse(await readFile(report, 'utf8')) as {
        convergence: { convergedAtUs: number | null; last: { ok: boolean; routes: { present: number; expected: number }; sas: { present: number; expected: number } } };
        flows: { kind: string; sent: number; delivered?: number; received?: number; backbone?: { protected: boolean } }[];
      };
      const ping = rep.flows.find((f) => f.kind === 'ping');
      const converged = rep.convergence.last.ok && rep.convergence.convergedAtUs !== null && (ping?.delivered ?? ping?.received ?? 0) > 0 && ping?.backbone?.protected === true;
      rows.push({
        bench: 'scale',
        case: `${sites} sites, group mode, 6 s virtual, --runtime ${runtime}`,
        wallS: +r.wallS.toFixed(2),
        runWallS: +m.runWallS.toFixed(2),
        peakRssMiB: Math.round(m.maxRssBytes / 2 ** 20),
        events: m.events,
        convergedAtS: rep.convergence.convergedAtUs === null ? 'never' : rep.convergence.convergedAtUs / 1e6,
        routes: `${rep.convergence.last.routes.present}/${rep.convergence.last.routes.expected}`,
        groupSas: `${rep.convergence.last.sas.present}/${rep.convergence.last.sas.expected}`,
        farthestPing: ping ? `${ping.delivered ?? ping.received}/${ping.sent}${ping.backbone?.protected ? ' protected' : ' CLEAR'}` : 'none',
        target: runtime === 'workers' ? (converged && r.wallS < SCALE_TARGET.wallS && m.maxRssBytes < SCALE_TARGET.rssBytes ? 'met (<15 s, <2 GB)' : 'MISSED (<15 s, <2 GB)') : 'reported',
      });
    }
    return rows;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
