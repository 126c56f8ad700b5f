// Seed 001 group mode through the CLI and both runtimes: pcaps tshark reads cleanly and decrypts with
// the --keys file (inner ICMP and BGP visible), and the same seed gives the same pcaps with workers.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { createLab } from '../../src/runtime/node.ts';
import { loadTopology } from '../../src/sim/topology/load.ts';

const FIG2 = 'public/topologies/seed001-figure2.yaml';

describe('seed 001 group mode: CLI, tshark and workers', () => {
  it('tshark reads every pcap with no malformed packet and decrypts the group ESP with --keys', async (ctx) => {
    if (!existsSync('/usr/bin/tshark')) ctx.skip();
    const dir = mkdtempSync(join(tmpdir(), 'vpnlab-group-'));
    const code = await main(['run', FIG2, '--until', '8', '--quiet', '--pcap', dir, '--keys', join(dir, 'esp_sa')], () => {}, () => {});
    expect(code).toBe(0);
    const lines = readFileSync(join(dir, 'esp_sa'), 'utf8').trim().split('\n');
    // Group SAs: any member to any member, one line per TEK the run used.
    expect(lines.length).toBeGreaterThanOrEqual(1);
    for (const l of lines) expect(l).toMatch(/^"IPv4","\*","\*","0x[0-9a-f]{8}","AES-GCM with 16 octet ICV \[RFC4106\]","0x[0-9a-f]{40}","NULL",""$/);
    const uat = lines.flatMap((l) => ['-o', `uat:esp_sa:${l}`]);
    const tshark = (file: string, ...args: string[]) =>
      execFileSync('tshark', ['-r', join(dir, file), '-n', '-d', 'udp.port==848,isakmp', '-o', 'esp.enable_encryption_decode:TRUE', '-o', 'esp.enable_authentication_check:TRUE', ...uat, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    for (const link of ['pe1--p1', 'p1--pe2', 'p1--sr', 'ce-a--pe1']) {
      expect(tshark(`${link}.pcap`, '-Y', '_ws.malformed || _ws.expert.severity == error').trim(), link).toBe('');
    }
    const core = tshark('pe1--p1.pcap', '-Y', 'esp', '-T', 'fields', '-e', 'frame.protocols', '-e', 'esp.icv_good').trim().split('\n');
    expect(core.length).toBeGreaterThan(10);
    expect(core.every((l) => l.endsWith('\t1'))).toBe(true);
    expect(core.some((l) => l.startsWith('raw:ip:esp:ip:icmp'))).toBe(true);
    const sr = tshark('p1--sr.pcap', '-Y', 'esp', '-T', 'fields', '-e', 'frame.protocols', '-e', 'esp.icv_good').trim().split('\n');
    expect(sr.every((l) => l.endsWith('\t1'))).toBe(true);
    expect(sr.some((l) => l.includes(':esp:ip:tcp:bgp'))).toBe(true);
    // G-IKEv2 on UDP 848 decodes as ISAKMP/IKEv2 (tshark 4.0 needs `-d udp.port==848,isakmp`).
    const gkm = tshark('p1--sr.pcap', '-Y', 'udp.port == 848', '-T', 'fields', '-e', 'frame.protocols').trim().split('\n');
    expect(gkm.length).toBeGreaterThan(8);
    expect(gkm.every((l) => l.includes('isakmp'))).toBe(true);
  });

  it('same seed, same pcaps in one thread and in workers', async () => {
    const r = loadTopology(readFileSync(FIG2, 'utf8'), {});
    if (!r.ok) throw new Error('example does not load');
    const t = r.topology;
    const run = async (runtime: 'single' | 'workers') => {
      const lab = await createLab(t, { runtime, maxWorkers: 2 });
      try {
        await lab.runUntil(8_000_000);
        return { pcaps: await Promise.all(t.links.map((l) => lab.pcap(l.index))), snap: await lab.snapshot() };
      } finally {
        await lab.close();
      }
    };
    const a = await run('single');
    const b = await run('workers');
    expect(b.pcaps).toEqual(a.pcaps);
    expect(b.snap.flows).toEqual(a.snap.flows);
    expect(a.snap.flows.every((f) => f.received === f.sent)).toBe(true);
  });
});
