import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { loadTopology } from '../../src/sim/topology/load.ts';

async function cli(args: string[]) {
  let out = '';
  let err = '';
  const code = await main(args, (s) => (out += s), (s) => (err += s));
  return { code, out, err };
}

describe('vpnlab generate', () => {
  it('writes a topology that loads, to stdout or --out', async () => {
    const r = await cli(['generate', '--sites', '6', '--vpns', '2', '--mode', 'mesh', '--seed', '4']);
    expect(r.code).toBe(0);
    const t = loadTopology(r.out);
    expect(t.ok && t.topology.mode === 'mesh' && t.topology.seed === 4).toBe(true);
    const file = join(mkdtempSync(join(tmpdir(), 'vpnlab-gen-')), 'g.yaml');
    const w = await cli(['generate', '--sites', '6', '--vpns', '2', '--mode', 'mesh', '--seed', '4', '--out', file]);
    expect(w.code).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(r.out);
  });

  it('exits 2 with a clear message on bad arguments', async () => {
    const cases: [string[], RegExp][] = [
      [['generate'], /--sites: required/],
      [['generate', '--sites', 'ten'], /--sites: expected an integer >= 2, got "ten"/],
      [['generate', '--sites', '1'], /--sites: expected an integer >= 2/],
      [['generate', '--sites', '10', '--vpns', '9'], /--vpns: each VPN needs at least 2 sites/],
      [['generate', '--sites', '10', '--mode', 'sideways'], /--mode: expected one of l3vpn, mesh, gateway, group/],
      [['generate', '--sites', '10', '--bogus'], /Unknown option/],
    ];
    for (const [args, msg] of cases) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(msg);
    }
  });
});

describe('vpnlab compare', () => {
  it('exits 2 on bad arguments', async () => {
    const cases: [string[], RegExp][] = [
      [['compare'], /--sites: required/],
      [['compare', '--sites', '4,x'], /--sites: expected an integer >= 2, got "x"/],
      [['compare', '--sites', '4', '--modes', 'mesh,warp'], /--modes: expected a list of l3vpn, mesh, gateway, group, got "warp"/],
      [['compare', '--sites', '4', '--runtime', 'gpu'], /--runtime: expected single or workers/],
      [['compare', '--sites', '4', '--until', '-1'], /--until/],
      [['compare', '--sites', '4', '--mesh-max-sas', 'lots'], /--mesh-max-sas: expected an integer >= 0, got "lots"/],
    ];
    for (const [args, msg] of cases) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(msg);
    }
    expect((await cli(['run', 'x.yaml', '--report-detail', 'all'])).code).toBe(2);
    expect((await cli(['run', 'x.yaml', '--slices', '0'])).code).toBe(2);
  });

  it('runs every mode on tiny N and writes compare.json and an SVG that parses', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vpnlab-compare-'));
    const r = await cli(['compare', '--sites', '4,8', '--until', '3', '--slices', '30', '--out', dir]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/\[compare\] 8\/8: 8 sites, group/);
    const result = JSON.parse(readFileSync(join(dir, 'compare.json'), 'utf8'));
    expect(result.rows).toHaveLength(8);
    const row = (n: number, m: string) => result.rows.find((x: { sites: number; mode: string }) => x.sites === n && x.mode === m);
    for (const n of [4, 8]) {
      expect(row(n, 'mesh').status).toBe('converged');
      expect(row(n, 'mesh').sasTotal).toBe(n * 2 * (n - 1));
      expect(row(n, 'mesh').clearPayloadBytes).toBe(0);
      expect(row(n, 'mesh').pingProtected).toBe(true);
      expect(row(n, 'l3vpn').status).toBe('converged');
      expect(row(n, 'l3vpn').clearPayloadBytes).toBeGreaterThan(0);
      expect(row(n, 'l3vpn').controlPackets).toBeGreaterThan(0);
      for (const m of ['l3vpn', 'mesh', 'gateway', 'group']) {
        const x = row(n, m);
        expect(x.wallS).toBeGreaterThan(0);
        expect(x.peakRssMb).toBeGreaterThan(10);
        // Not converged is said, never a made-up time.
        if (x.status !== 'converged') expect(x.convergedS).toBeNull();
      }
    }
    expect(row(8, 'mesh').configTotal).toBeGreaterThan(row(4, 'mesh').configTotal);
    expect(r.out).toMatch(/sites\s+mode\s+SAs\/site/);
    const svg = readFileSync(join(dir, 'compare.svg'), 'utf8');
    // Minimal XML sanity: one root, balanced tags, paths drawn.
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    const stack: string[] = [];
    for (const m of svg.matchAll(/<(\/?)([a-z]+)[^>]*?(\/?)>/g)) {
      if (m[3]) continue;
      if (m[1]) expect(stack.pop()).toBe(m[2]);
      else stack.push(m[2]!);
    }
    expect(stack).toEqual([]);
    expect(svg).toMatch(/<path d="M[\d.]+,[\d.]+L/);
  }, 120_000);

  it('does not start a mesh over --mesh-max-sas: the row says skipped and why, and the others run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vpnlab-compare-'));
    // 6 sites in one VPN: 2·6·5 = 60 SAs installed; 4 sites: 24.
    const r = await cli(['compare', '--sites', '4,6', '--modes', 'mesh,group', '--mesh-max-sas', '40', '--until', '2', '--slices', '20', '--out', dir]);
    expect(r.code, r.err).toBe(0);
    const rows = JSON.parse(readFileSync(join(dir, 'compare.json'), 'utf8')).rows as { sites: number; mode: string; status: string; note?: string; sasTotal: number | null; wallS: number | null }[];
    const row = (n: number, m: string) => rows.find((x) => x.sites === n && x.mode === m)!;
    expect(row(4, 'mesh').status).toBe('converged');
    expect(row(4, 'mesh').sasTotal).toBe(4 * 3 * 2);
    expect(row(6, 'mesh').status).toBe('skipped');
    expect(row(6, 'mesh').note).toMatch(/60 pairwise SAs .* over --mesh-max-sas 40/);
    expect(row(6, 'mesh').sasTotal).toBeNull();
    expect(row(6, 'mesh').wallS).toBeNull();
    expect(row(6, 'group').status).toBe('converged');
    expect(r.out).toMatch(/6\s+mesh\s.*SKIPPED/);
    expect(r.err).toMatch(/6 sites, mesh: skipped/);
  }, 120_000);
});
