// The CLI on the seed 002 example in gateway mode: tshark reads every capture with no malformed
// packet, decodes the IKEv2 exchanges, and decrypts every ESP packet with the --keys file.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';

const FIG1 = 'public/topologies/seed002-figure1.yaml';

describe('gateway mode captures in tshark', () => {
  it('no malformed packet, IKEv2 decoded, every ESP packet decrypted to inner ICMP/UDP (ICV correct)', async (ctx) => {
    if (!existsSync('/usr/bin/tshark')) ctx.skip();
    const dir = mkdtempSync(join(tmpdir(), 'vpnlab-gateway-'));
    const code = await main(['run', FIG1, '--mode', 'gateway', '--until', '12', '--quiet', '--pcap', dir, '--keys', join(dir, 'esp_sa')], () => {}, () => {});
    expect(code).toBe(0);
    const lines = readFileSync(join(dir, 'esp_sa'), 'utf8').trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(8); // 4 Child SAs, 2 directions each
    expect(lines.every((l) => l.includes('AES-GCM with 16 octet ICV [RFC4106]'))).toBe(true);
    const uat = lines.flatMap((l) => ['-o', `uat:esp_sa:${l}`]);
    const tshark = (file: string, ...args: string[]) =>
      execFileSync('tshark', ['-r', join(dir, file), '-n', '-o', 'esp.enable_encryption_decode:TRUE', '-o', 'esp.enable_authentication_check:TRUE', ...uat, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const pcaps = readdirSync(dir).filter((f) => f.endsWith('.pcap'));
    expect(pcaps.length).toBe(12); // every link, the idle S/R's included
    for (const f of pcaps) expect(tshark(f, '-Y', '_ws.malformed || _ws.expert.severity == error'), f).toBe('');
    // CE 140-3's uplink: IKE_SA_INIT (34) and IKE_AUTH (35) with three peers, ESP to each, the bypass in clear.
    const exch = tshark('ce-c--pe3.pcap', '-Y', 'isakmp', '-T', 'fields', '-e', 'isakmp.exchangetype').split('\n');
    expect(exch.filter((x) => x === '34').length).toBe(6);
    expect(exch.filter((x) => x === '35').length).toBe(6);
    for (const f of ['ce-c--pe3.pcap', 'pe1--p1.pcap', 'h-z--ce-a.pcap']) {
      const esp = tshark(f, '-Y', 'esp', '-T', 'fields', '-e', 'frame.protocols', '-e', 'esp.icv_good').split('\n');
      expect(esp.length, f).toBeGreaterThan(2);
      expect(esp.every((l) => l.endsWith('\t1')), f).toBe(true);
      // Between PEs a packet for a customer address (the tunnel to host 160-Z) rides MPLS-in-IP (RFC 4023).
      expect(esp.every((l) => /^raw:ip:(mpls:ip:)?esp:ip:(icmp|udp)/.test(l)), f).toBe(true);
    }
    const backbone = tshark('pe1--p1.pcap', '-Y', 'esp', '-T', 'fields', '-e', 'frame.protocols').split('\n');
    expect(backbone.some((l) => l.startsWith('raw:ip:esp:ip:udp'))).toBe(true);
    expect(backbone.some((l) => l.startsWith('raw:ip:esp:ip:icmp'))).toBe(true);
    expect(backbone.some((l) => l.startsWith('raw:ip:mpls:ip:esp:ip:icmp'))).toBe(true);
  });
});
