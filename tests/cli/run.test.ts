import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';

const FIG2 = 'public/topologies/seed001-figure2.yaml';

async function cli(args: string[]) {
  let out = '';
  let err = '';
  const code = await main(args, (s) => (out += s), (s) => (err += s));
  return { code, out, err };
}

function pcaps(dir: string): Map<string, Buffer> {
  return new Map(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f))]));
}

describe('vpnlab run', () => {
  it('writes the same pcap bytes twice in a row and with --runtime workers, and a report', async () => {
    const base = mkdtempSync(join(tmpdir(), 'vpnlab-cli-'));
    const runs = [
      ['--runtime', 'single'],
      ['--runtime', 'single'],
      ['--runtime', 'workers'],
      ['--runtime', 'single', '--dataplane', 'ts'],
    ].map((extra, i) => ({ dir: join(base, `run${i}`), extra }));
    for (const r of runs) {
      const res = await cli(['run', FIG2, '--until', '10', '--seed', '7', '--quiet', '--pcap', r.dir, '--report', `${r.dir}.json`, ...r.extra]);
      expect(res.err).toBe('');
      expect(res.code).toBe(0);
    }
    const [a, b, c, d] = runs.map((r) => pcaps(r.dir));
    expect(a!.size).toBeGreaterThan(5);
    expect([...b!.keys()]).toEqual([...a!.keys()]);
    for (const [name, bytes] of a!) {
      expect(b!.get(name)!.equals(bytes), `${name} differs between two single runs`).toBe(true);
      expect(c!.get(name)!.equals(bytes), `${name} differs between single and workers`).toBe(true);
      expect(d!.get(name)!.equals(bytes), `${name} differs between the WASM and TypeScript data planes`).toBe(true);
    }
    const report = JSON.parse(readFileSync(`${runs[0]!.dir}.json`, 'utf8'));
    expect(report.seed).toBe(7);
    expect(report.virtualTimeUs).toBe(10_000_000);
    const pings = report.flows.filter((f: { kind: string }) => f.kind === 'ping');
    expect(pings.length).toBeGreaterThan(0);
    for (const p of pings) expect(p.received).toBe(p.sent);
    const reportW = JSON.parse(readFileSync(`${runs[2]!.dir}.json`, 'utf8'));
    expect({ ...reportW, runtime: 'single' }).toEqual(report);
    expect(report.dataplane).toBe('wasm');
    expect(JSON.parse(readFileSync(`${runs[3]!.dir}.json`, 'utf8')).dataplane).toBe('ts');
  });

  it('tshark reads every pcap with no malformed packet and shows the pings', async (ctx) => {
    if (!existsSync('/usr/bin/tshark')) ctx.skip();
    const dir = mkdtempSync(join(tmpdir(), 'vpnlab-tshark-'));
    const res = await cli(['run', FIG2, '--until', '10', '--seed', '7', '--quiet', '--pcap', dir]);
    expect(res.code).toBe(0);
    let echoes = 0;
    for (const f of readdirSync(dir)) {
      const path = join(dir, f);
      const text = execFileSync('tshark', ['-r', path, '-n', '-T', 'fields', '-e', 'frame.protocols', '-e', 'icmp.type', '-e', '_ws.malformed'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      for (const line of text.split('\n').filter(Boolean)) {
        expect(line, `${f}: ${line}`).not.toMatch(/malformed|_ws\.malformed/);
        expect(line.startsWith('raw:ip:'), `${f}: ${line}`).toBe(true);
        if (/\t8\t?$|\t8$/.test(line) || line.split('\t')[1] === '8') echoes++;
      }
      const expert = spawnSync('tshark', ['-r', path, '-n', '-z', 'expert,error', '-q'], { encoding: 'utf8' });
      expect(expert.stdout, f).not.toMatch(/Malformed/i);
    }
    expect(echoes).toBeGreaterThan(0);
  });

  it('a broken topology gets all its errors with paths and exit code 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vpnlab-bad-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      ['name: broken', 'mode: sideways', 'nodes:', '  - { id: a, role: host }', '  - { id: b, role: router }', 'links:', '  - { endpoints: [a, c], latency: fast }', ''].join('\n'),
    );
    const res = await cli(['run', file]);
    expect(res.code).toBe(2);
    expect(res.err).toContain('mode:');
    expect(res.err).toContain('nodes[1].role:');
    expect(res.err).toContain('links[0].latency: expected a duration such as "2ms", got "fast"');
    expect(res.err).toContain('links[0].endpoints[1]');
  });

  it('rejects bad options with a clear message', async () => {
    const res = await cli(['run', FIG2, '--until', 'soon', '--runtime', 'gpu']);
    expect(res.code).toBe(2);
    expect(res.err).toContain('--until: expected seconds');
    expect(res.err).toContain('--runtime: expected single or workers, got "gpu"');
  });

  it('the installed bin runs (npx vpnlab validate)', () => {
    const r = spawnSync('npx', ['--no-install', 'vpnlab', 'validate', FIG2], { encoding: 'utf8' });
    expect(r.stdout).toContain(': ok (');
    expect(r.status).toBe(0);
  });
});
