// The S/R's big RIB in the report: past SNAPSHOT_ROUTES_MAX Loc-RIB routes the RIB snapshot is
// summarised (group-rr.ts), and its sizes must still read right (`ribSizes`, `totals.ribEntries`).
// 100 generated sites in group mode, seed 1; reproduce with `npx vitest run tests/node/group-report.test.ts`.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { generateTopology } from '../../src/sim/generate.ts';
import { SNAPSHOT_ROUTES_MAX } from '../../src/node/group-rr.ts';

type Report = {
  nodes: Record<string, { summary: { ribSizes: Record<string, number> }; bgp?: { rib: { summarized?: boolean; locRib: Record<string, unknown> } } }>;
  convergence?: { convergedAtUs: number | null };
};

async function run(sites: number, vpns: number): Promise<Report> {
  const dir = mkdtempSync(join(tmpdir(), 'vpnlab-group-report-'));
  const file = join(dir, 'lab.yaml');
  writeFileSync(file, generateTopology({ sites, vpns, mode: 'group', seed: 1 }));
  const out = join(dir, 'report.json');
  const code = await main(['run', file, '--until', '4', '--quiet', '--report', out], () => {}, () => {});
  expect(code).toBe(0);
  return JSON.parse(readFileSync(out, 'utf8')) as Report;
}

describe('the report reads the summarised RIB sizes right', () => {
  it('100 sites, one group: the S/R holds 100 routes, listed by prefix', async () => {
    expect(100).toBeGreaterThan(SNAPSHOT_ROUTES_MAX);
    const r = await run(100, 1);
    expect(r.convergence?.convergedAtUs).not.toBeNull();
    const sr = r.nodes['sr']!;
    expect(sr.bgp!.rib.summarized).toBe(true);
    expect(sr.summary.ribSizes['bgp.rib.locRib.ipv4-unicast']).toBe(100);
    // A member's big RIB stays a count (N members × N routes would cost O(N²) per snapshot).
    const ce = r.nodes['ce1']!;
    expect(ce.bgp!.rib.summarized).toBe(true);
    expect(ce.bgp!.rib.locRib['ipv4-unicast']).toBe(100);
    // …which the report reads as the RIB's size.
    expect(ce.summary.ribSizes['bgp.rib.locRib.ipv4-unicast']).toBe(100);
    // The summary lists the prefixes themselves: every site's LAN once.
    const loc = sr.bgp!.rib.locRib['ipv4-unicast'] as string[];
    expect(new Set(loc).size).toBe(100);
    expect(loc).toContain('10.0.1.0/24');
    expect(loc).toContain('10.0.100.0/24');
  }, 120_000);

  it('100 sites, two groups on one S/R: its Loc-RIB counts both groups\' routes', async () => {
    const r = await run(100, 2);
    expect(r.convergence?.convergedAtUs).not.toBeNull();
    expect(r.nodes['sr']!.summary.ribSizes['bgp.rib.locRib.ipv4-unicast']).toBe(100);
    const loc = r.nodes['sr']!.bgp!.rib.locRib['ipv4-unicast'] as string[];
    expect(new Set(loc).size).toBe(100);
    // A member of group 1 (51 sites) holds its group's routes only (in full: 64 routes or fewer).
    expect(r.nodes['ce1']!.summary.ribSizes['bgp.rib.locRib.ipv4-unicast']).toBe(51);
  }, 120_000);
});
