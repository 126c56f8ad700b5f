// DESIGN.md's mesh mode: static pairwise CE–CE IPsec tunnels through the ESP engine in the nodes.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { decodeIpv4, IP_PROTO_ESP, IP_PROTO_TCP } from '../../src/proto/ip/index.ts';
import { createLab } from '../../src/runtime/node.ts';
import { decodePcap } from '../../src/sim/pcap.ts';
import { loadTopology } from '../../src/sim/topology/load.ts';

const FIG1 = 'public/topologies/seed002-figure1.yaml';

function topology() {
  const r = loadTopology(readFileSync(FIG1, 'utf8'), { mode: 'mesh' });
  if (!r.ok) throw new Error('example does not load');
  return r.topology;
}

async function run(runtime: 'single' | 'workers', dataplane: 'wasm' | 'ts') {
  const t = topology();
  const lab = await createLab(t, { runtime, dataplane, maxWorkers: 4 });
  try {
    await lab.runUntil(12_000_000);
    return { t, lab: lab.dataplane, snap: await lab.snapshot(), pcaps: await Promise.all(t.links.map((l) => lab.pcap(l.index))) };
  } finally {
    await lab.close();
  }
}

describe('mesh mode: static CE–CE tunnels (ESP tunnel mode in the nodes)', () => {
  it('every flow gets through and the backbone carries only ESP and BGP', async () => {
    const { t, snap, pcaps, lab } = await run('single', 'wasm');
    expect(lab).toBe('wasm');
    for (const f of snap.flows) expect(f.received, `${f.kind} ${f.from}->${f.to}`).toBe(f.sent);
    const core = t.links.findIndex((l) => l.id === 'pe1--p1');
    const protocols = new Set(decodePcap(pcaps[core]!).records.map((r) => (decodeIpv4(r.bytes) as { ok: true; value: { header: { protocol: number } } }).value.header.protocol));
    expect([...protocols].sort()).toEqual([IP_PROTO_TCP, IP_PROTO_ESP].sort());
    const ipsec = snap.nodes.find((n) => n.id === 'ce-a')!.apps.ipsec as { counters: { protected: number; delivered: number }; sas: unknown[] };
    expect(ipsec.sas.length).toBe(2); // N·(N−1)/2 = 3 tunnels in all, 2 at each CE
    expect(ipsec.counters.protected).toBeGreaterThan(400);
  });

  it('the WASM and TypeScript engines, one thread or workers: byte-identical captures', async () => {
    const a = await run('single', 'wasm');
    const b = await run('single', 'ts');
    const c = await run('workers', 'wasm');
    expect(b.lab).toBe('ts');
    expect(b.pcaps).toEqual(a.pcaps);
    expect(c.pcaps).toEqual(a.pcaps);
  });

  it('tshark decrypts the backbone capture with the keys from --keys (ICV correct)', async (ctx) => {
    if (!existsSync('/usr/bin/tshark')) ctx.skip();
    const dir = mkdtempSync(join(tmpdir(), 'vpnlab-mesh-'));
    const code = await main(['run', FIG1, '--mode', 'mesh', '--until', '12', '--quiet', '--pcap', dir, '--keys', join(dir, 'esp_sa')], () => {}, () => {});
    expect(code).toBe(0);
    const uat = readFileSync(join(dir, 'esp_sa'), 'utf8').trim().split('\n').flatMap((l) => ['-o', `uat:esp_sa:${l}`]);
    expect(uat.length).toBe(2 * 6); // 3 tunnels, 2 SAs each
    expect(readdirSync(dir)).toContain('pe1--p1.pcap');
    const out = execFileSync('tshark', ['-r', join(dir, 'pe1--p1.pcap'), '-n', '-o', 'esp.enable_encryption_decode:TRUE', '-o', 'esp.enable_authentication_check:TRUE', ...uat, '-Y', 'esp', '-T', 'fields', '-e', 'frame.protocols', '-e', 'esp.icv_good'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const lines = out.trim().split('\n');
    expect(lines.length).toBeGreaterThan(100);
    expect(lines.every((l) => l.endsWith('\t1'))).toBe(true);
    expect(lines.some((l) => l.startsWith('raw:ip:esp:ip:icmp'))).toBe(true);
  });
});
