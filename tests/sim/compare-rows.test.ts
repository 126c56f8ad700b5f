// The comparison rows the page builds (runtime/report-run.ts compareRunRow on a fresh lab) equal the
// rows `vpnlab compare` builds from `vpnlab run … --report --report-detail summary` (rowFromReport
// over the JSON file), field for field, except the cost of the run (wall time, memory).
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { createLab } from '../../src/runtime/node.ts';
import { compareRunRow } from '../../src/runtime/report-run.ts';
import { COMPARE_SLICES_DEFAULT, COMPARE_UNTIL_S_DEFAULT, meshSas, rowFromReport, type CompareRow } from '../../src/sim/compare.ts';
import { generateTopology, layout } from '../../src/sim/generate.ts';
import type { Report } from '../../src/sim/snapshot.ts';
import type { Mode } from '../../src/sim/topology/types.ts';

const dir = mkdtempSync(join(tmpdir(), 'vpnlab-compare-rows-'));
const untilS = COMPARE_UNTIL_S_DEFAULT;
const slices = COMPARE_SLICES_DEFAULT;

/** The CLI's path: `vpnlab run` writes the report, compare reads it back. */
async function cliRow(file: string, mode: Mode, sites?: number): Promise<CompareRow> {
  const report = join(dir, `${mode}-${sites ?? 'file'}.report.json`);
  let err = '';
  const code = await main(['run', file, '--mode', mode, '--until', String(untilS), '--report', report, '--report-detail', 'summary', '--slices', String(slices), '--quiet'], () => {}, (s) => (err += s));
  expect(code, err).toBe(0);
  const r = JSON.parse(readFileSync(report, 'utf8')) as Report;
  return rowFromReport(sites ?? r.totals.sites, mode, r, undefined);
}

/** The page's path, on the single-thread runtime in Node. */
function pageRow(text: string, mode: Mode, sites?: number): Promise<CompareRow> {
  return compareRunRow(text, (t, o) => createLab(t, { ...o, runtime: 'single' }), { mode, untilS, slices, ...(sites !== undefined ? { sites } : {}) });
}

const withoutCost = (r: CompareRow) => ({ ...r, wallS: null, runWallS: null, peakRssMb: null });

describe('compare rows: CLI and page agree', () => {
  const example = 'public/topologies/seed001-figure2.yaml';
  const exampleText = readFileSync(example, 'utf8');

  for (const mode of ['l3vpn', 'mesh', 'gateway', 'group'] as Mode[]) {
    it(`seed001-figure2 in ${mode}`, async () => {
      const cli = await cliRow(example, mode);
      const page = await pageRow(exampleText, mode);
      expect(withoutCost(page)).toEqual(withoutCost(cli));
      expect(page.sites).toBe(4);
      expect(page.status).not.toBe('failed');
      // The page measures its wall time; it cannot know peak memory.
      expect(page.wallS).toBeGreaterThan(0);
      expect(page.peakRssMb).toBeNull();
    }, 60_000);
  }

  it('a generated topology of 4 sites, l3vpn and mesh: mesh has SAs, l3vpn none and clear payload', async () => {
    const file = join(dir, 'generated-4.yaml');
    const text = generateTopology({ sites: 4, vpns: 1 });
    writeFileSync(file, text);
    const rows: CompareRow[] = [];
    for (const mode of ['l3vpn', 'mesh'] as Mode[]) {
      const cli = await cliRow(file, mode, 4);
      const page = await pageRow(text, mode, 4);
      expect(withoutCost(page)).toEqual(withoutCost(cli));
      rows.push(page);
    }
    const [l3vpn, mesh] = rows as [CompareRow, CompareRow];
    expect(l3vpn.status).toBe('converged');
    expect(l3vpn.sasTotal).toBe(0);
    expect(l3vpn.clearPayloadBytes).toBeGreaterThan(0);
    expect(mesh.status).toBe('converged');
    expect(mesh.sasTotal).toBeGreaterThan(0);
    expect(mesh.clearPayloadBytes).toBe(0);
  }, 60_000);

  it('an aborted run rejects and closes its lab; a topology that does not load gives a failed row', async () => {
    const ac = new AbortController();
    let slicesSeen = 0;
    const run = compareRunRow(exampleText, (t, o) => createLab(t, { ...o, runtime: 'single' }), {
      mode: 'mesh',
      untilS,
      slices,
      signal: ac.signal,
      onSlice: () => {
        if (++slicesSeen === 3) ac.abort(new Error('cancelled by the test'));
      },
    });
    await expect(run).rejects.toThrow('cancelled by the test');
    expect(slicesSeen).toBe(3);

    const bad = await compareRunRow('name: x\nnodes: 3\n', (t, o) => createLab(t, o), { mode: 'mesh', untilS, slices });
    expect(bad.status).toBe('failed');
    expect(bad.note).toMatch(/does not load in mesh/);
    expect(bad.sasTotal).toBeNull();
  });
});

describe('meshSas (the budget check of compare --mesh-max-sas)', () => {
  it('counts the SAs a generated mesh installs: 2·N·(N−1) per VPN, as the report counts them', () => {
    expect(meshSas(300)).toBe(179_400); // the 300-site mesh run reported 179,400 SAs
    expect(meshSas(1000)).toBe(1_998_000);
    // Two VPNs: the generator's own split of the sites, pairs only within a VPN.
    const { vpnOf } = layout(100, 2);
    const sizes = [0, 1].map((v) => vpnOf.filter((x) => x === v).length);
    expect(sizes[0]! + sizes[1]!).toBe(100);
    expect(meshSas(100, 2)).toBe(sizes.reduce((t, s) => t + 2 * s * (s - 1), 0));
    expect(meshSas(100, 2)).toBeLessThan(meshSas(100));
  });
});
