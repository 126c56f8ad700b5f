// Kernel scenarios for the BGP control plane running in nodes over the emulated TCP (issue 3).
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kernel } from '../../src/sim/kernel.ts';
import { loadTopology, formatTopologyErrors } from '../../src/sim/topology/load.ts';
import type { Topology } from '../../src/sim/topology/types.ts';
import type { LabSnapshot } from '../../src/sim/snapshot.ts';

/** Two customers (red, blue) with the same prefixes at two sites each, PEs through a reflector. */
const TWO_VPNS = `
name: two VPNs with overlapping prefixes
mode: l3vpn
seed: SEED
defaults: { link: { latency: 2ms, bandwidth: 100Mbps, loss: LOSS } }
nodes:
  - { id: red1, role: ce, asn: 65101, trustedSubnets: [10.1.0.0/24] }
  - { id: red2, role: ce, asn: 65102, trustedSubnets: [10.2.0.0/24] }
  - { id: blue1, role: ce, asn: 65201, trustedSubnets: [10.1.0.0/24] }
  - { id: blue2, role: ce, asn: 65202, trustedSubnets: [10.2.0.0/24] }
  - id: pe1
    role: pe
    asn: 65000
    loopback: 10.255.0.1
    vrfs:
      - { name: red, rd: "65000:1", import: ["65000:100"], export: ["65000:100"], attachments: [red1] }
      - { name: blue, rd: "65000:2", import: ["65000:200"], export: ["65000:200"], attachments: [blue1] }
  - id: pe2
    role: pe
    asn: 65000
    loopback: 10.255.0.2
    vrfs:
      - { name: red, rd: "65000:11", import: ["65000:100"], export: ["65000:100"], attachments: [red2] }
      - { name: blue, rd: "65000:12", import: ["65000:200"], export: ["65000:200"], attachments: [blue2] }
  - { id: rr, role: p, asn: 65000, loopback: 10.255.0.9, routeReflector: true }
links:
  - { endpoints: [red1, pe1] }
  - { endpoints: [blue1, pe1] }
  - { endpoints: [pe1, rr] }
  - { endpoints: [rr, pe2] }
  - { endpoints: [pe2, red2] }
  - { endpoints: [pe2, blue2] }
`;

function topo(text: string, vars: Record<string, string> = {}): Topology {
  const filled = text.replace(/SEED|LOSS/g, (k) => vars[k] ?? (k === 'SEED' ? '1' : '0'));
  const r = loadTopology(filled);
  if (!r.ok) throw new Error(formatTopologyErrors(r.errors));
  return r.topology;
}

type Rib = { nlri: string; nextHop: string; from: string; best: boolean }[];
const bgp = (s: LabSnapshot, id: string) => s.nodes.find((n) => n.id === id)!.apps.bgp as { neighbors: { name: string; state: string }[]; rib: { locRib: Record<string, Rib>; vrfs: Record<string, Rib> } };
const routes = (s: LabSnapshot, id: string) => bgp(s, id).rib.locRib['ipv4-unicast']!.filter((r) => r.best).map((r) => `${r.nlri} via ${r.nextHop} from ${r.from}`).sort();
const established = (s: LabSnapshot, id: string) => bgp(s, id).neighbors.every((n) => n.state === 'Established');

describe('BGP in the kernel (RFC 4271, 4456, 4364)', () => {
  it('CE–PE–RR–PE–CE: two VPNs with overlapping prefixes stay apart', () => {
    const k = new Kernel(topo(TWO_VPNS));
    k.runUntil(60_000_000);
    const s = k.snapshot();
    for (const id of ['red1', 'red2', 'blue1', 'blue2', 'pe1', 'pe2', 'rr']) expect(established(s, id), id).toBe(true);
    // Each CE learns the other site of its own VPN only (next hop: its PE's address on the link).
    expect(routes(s, 'red1')).toEqual(['10.1.0.0/24 via 100.64.0.1 from local', '10.2.0.0/24 via 100.64.0.2 from pe1']);
    expect(routes(s, 'blue1')).toEqual(['10.1.0.0/24 via 100.64.0.5 from local', '10.2.0.0/24 via 100.64.0.6 from pe1']);
    // The PE keeps the customers in separate VRFs; the reflector holds all four VPN-IPv4 routes, told apart by RD.
    const pe1 = bgp(s, 'pe1').rib.vrfs;
    expect(pe1.red!.map((r) => r.nlri).sort()).toEqual(['10.1.0.0/24', '10.2.0.0/24']);
    expect(pe1.blue!.map((r) => r.nlri).sort()).toEqual(['10.1.0.0/24', '10.2.0.0/24']);
    expect(bgp(s, 'rr').rib.locRib['vpn-ipv4']!.map((r) => r.nlri).sort()).toEqual(['65000:11:10.2.0.0/24', '65000:12:10.2.0.0/24', '65000:1:10.1.0.0/24', '65000:2:10.1.0.0/24']);
  });

  it('converges to the same RIBs with 5% loss on every link, sessions staying up', () => {
    const clean = new Kernel(topo(TWO_VPNS));
    clean.runUntil(120_000_000);
    const lossy = new Kernel(topo(TWO_VPNS, { LOSS: '0.05', SEED: '9' }));
    lossy.runUntil(120_000_000);
    const a = clean.snapshot();
    const b = lossy.snapshot();
    for (const id of ['red1', 'red2', 'blue1', 'blue2']) {
      expect(routes(b, id), id).toEqual(routes(a, id));
      expect(established(b, id)).toBe(true);
    }
    const lost = b.links.reduce((n, l) => n + l.dirs[0].lost + l.dirs[1].lost, 0);
    expect(lost).toBeGreaterThan(0);
  });

  it('a flapping CE–PE link: routes withdrawn within the hold time, back after it heals', () => {
    const t = topo(TWO_VPNS);
    const k = new Kernel(t);
    k.runUntil(30_000_000);
    expect(routes(k.snapshot(), 'red1')).toContain('10.2.0.0/24 via 100.64.0.2 from pe1');
    const edge = t.links.find((l) => l.id === 'pe2--red2')!.index;
    k.setLinkUp(edge, false);
    k.runUntil(30_000_000 + 95_000_000); // hold time 90 s
    expect(routes(k.snapshot(), 'red1')).toEqual(['10.1.0.0/24 via 100.64.0.1 from local']);
    k.setLinkUp(edge, true);
    k.runUntil(30_000_000 + 95_000_000 + 60_000_000);
    expect(routes(k.snapshot(), 'red1')).toContain('10.2.0.0/24 via 100.64.0.2 from pe1');
  });

  it('tshark decodes the PE–reflector session: OPEN, UPDATE with VPN-IPv4 and extended communities, KEEPALIVE', (ctx) => {
    if (!existsSync('/usr/bin/tshark')) ctx.skip();
    const t = topo(TWO_VPNS);
    const k = new Kernel(t);
    k.runUntil(70_000_000);
    const file = join(mkdtempSync(join(tmpdir(), 'vpnlab-bgp-')), 'pe1-rr.pcap');
    writeFileSync(file, k.pcap(t.links.find((l) => l.id === 'pe1--rr')!.index));
    const out = execFileSync('tshark', ['-r', file, '-n', '-Y', 'bgp', '-T', 'fields', '-E', 'separator=;', '-e', 'bgp.type', '-e', 'bgp.mp_reach_nlri_ipv4_prefix', '-e', 'bgp.rd', '-e', 'bgp.ext_com.type', '-e', '_ws.malformed'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(out).not.toMatch(/malformed/i);
    const types = new Set(out.split('\n').flatMap((l) => (l.split(';')[0] ?? '').split(',')).filter(Boolean));
    expect([...types].sort()).toEqual(expect.arrayContaining(['1', '2', '4'])); // OPEN, UPDATE, KEEPALIVE
    expect(out).toContain('10.1.0.0');
    expect(out).toMatch(/65000:1/);
  });
});

/** Three PEs, clients of two reflectors (each the other's non-client), one CE each. */
const TWO_REFLECTORS = `
name: reflectors
mode: l3vpn
nodes:
  - { id: ce1, role: ce, asn: 65101, trustedSubnets: [10.1.0.0/24] }
  - { id: ce2, role: ce, asn: 65102, trustedSubnets: [10.2.0.0/24] }
  - { id: ce3, role: ce, asn: 65103, trustedSubnets: [10.3.0.0/24] }
  - { id: pe1, role: pe, asn: 65000, loopback: 10.255.0.1, vrfs: [{ name: v, rd: "65000:1", import: ["65000:1"], export: ["65000:1"], attachments: [ce1] }] }
  - { id: pe2, role: pe, asn: 65000, loopback: 10.255.0.2, vrfs: [{ name: v, rd: "65000:2", import: ["65000:1"], export: ["65000:1"], attachments: [ce2] }] }
  - { id: pe3, role: pe, asn: 65000, loopback: 10.255.0.3, vrfs: [{ name: v, rd: "65000:3", import: ["65000:1"], export: ["65000:1"], attachments: [ce3] }] }
  - { id: rr1, role: p, asn: 65000, loopback: 10.255.0.101, routeReflector: true }
  - { id: rr2, role: p, asn: 65000, loopback: 10.255.0.102, routeReflector: true }
links:
  - { endpoints: [ce1, pe1] }
  - { endpoints: [ce2, pe2] }
  - { endpoints: [ce3, pe3] }
  - { endpoints: [pe1, rr1] }
  - { endpoints: [pe2, rr1] }
  - { endpoints: [pe3, rr1] }
  - { endpoints: [rr1, rr2] }
  - { endpoints: [pe1, rr2] }
`;

describe('route reflection in the kernel (RFC 4456)', () => {
  it('a reflector with 3 clients and a non-client: every client gets every route, stamped with ORIGINATOR_ID and CLUSTER_LIST', () => {
    const k = new Kernel(topo(TWO_REFLECTORS));
    k.runUntil(60_000_000);
    const s = k.snapshot();
    for (const id of ['pe1', 'pe2', 'pe3', 'rr1', 'rr2']) expect(established(s, id), id).toBe(true);
    for (const ce of ['ce1', 'ce2', 'ce3']) expect(routes(s, ce).map((r) => r.split(' ')[0])).toEqual(['10.1.0.0/24', '10.2.0.0/24', '10.3.0.0/24']);
    // pe2 hears pe3's route from rr1 (client to client) with rr1's cluster id and pe3 as originator.
    const fromRr1 = (bgp(s, 'pe2').rib as unknown as { adjRibIn: Record<string, (Rib[number] & { originatorId?: string; clusterList?: string[] })[]> }).adjRibIn.rr1!;
    const r3 = fromRr1.find((r) => r.nlri === '65000:3:10.3.0.0/24')!;
    expect(r3.originatorId).toBe('10.255.0.3');
    expect(r3.clusterList).toEqual(['10.255.0.101']);
    // rr2, rr1's non-client, gets the clients' routes; pe1 (a client of both) hears pe2's route twice.
    expect(bgp(s, 'rr2').rib.locRib['vpn-ipv4']!.map((r) => r.nlri).sort()).toEqual(['65000:1:10.1.0.0/24', '65000:2:10.2.0.0/24', '65000:3:10.3.0.0/24']);
    const pe1In = (bgp(s, 'pe1').rib as unknown as { adjRibIn: Record<string, Rib> }).adjRibIn;
    expect(pe1In.rr1!.some((r) => r.nlri === '65000:2:10.2.0.0/24')).toBe(true);
    expect(pe1In.rr2!.some((r) => r.nlri === '65000:2:10.2.0.0/24')).toBe(true);
  });
});
