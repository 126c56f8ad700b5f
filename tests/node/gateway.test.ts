// DESIGN.md's gateway mode (seed 002) in the deterministic kernel: CEs fill their SPD from BGP and
// local policy, build pairwise SAs with IKEv2 on demand or pre-established, rekey under traffic.
import { tamper } from './fixtures/tamper.ts';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseIpv4 } from '../../src/lib/addr.ts';
import { decodeIpv4, ipv4Dst, ipv4Protocol, ipv4Src, IP_PROTO_ESP, IP_PROTO_ICMP, IP_PROTO_UDP } from '../../src/proto/ip/index.ts';
import { Kernel } from '../../src/sim/kernel.ts';
import { createSimNode } from '../../src/sim/node-config.ts';
import { decodePcap } from '../../src/sim/pcap.ts';
import { loadTopology } from '../../src/sim/topology/load.ts';
import type { Topology } from '../../src/sim/topology/types.ts';
import type { NodeSnapshot, SimNode } from '../../src/node/types.ts';
import { createLab } from '../../src/runtime/node.ts';

const FIG1 = 'public/topologies/seed002-figure1.yaml';
const SEED = 5;

interface IpsecSnap {
  counters: { protected: number; delivered: number; bypassed: number; queued: number; rekeys: number; childSasInstalled: number; drops: Record<string, number> };
  spd: { name: string; action: string; gateway?: string; establish?: string; sa?: string }[];
  sas: { peer: string; inboundSpi: string; outboundSpi: string; rekeys: number; outbound: { packets: number }; inbound: { packets: number } }[];
}
interface IkeSnap {
  sas: { peer: string; role: string; state: string; failure?: string; rekeys: number; childFailures: Record<string, number>; messages: { tx: number; rx: number } }[];
}

const ipsecOf = (n: NodeSnapshot) => n.apps.ipsec as unknown as IpsecSnap;
const ikeOf = (n: NodeSnapshot) => n.apps.ike as unknown as IkeSnap;

function load(text: string, mode?: 'gateway'): Topology {
  const r = loadTopology(text, mode ? { mode } : {});
  if (!r.ok) throw new Error(`topology does not load: ${JSON.stringify(r.errors)}`);
  return r.topology;
}

/** Two CEs on one PE (RFC 4364 VRF with both attachments), a host behind each. */
function twoCes(o: { ceA?: string; ceB?: string; traffic?: string; psk?: string } = {}): Topology {
  return load(`
name: two CEs
mode: gateway
seed: ${SEED}
nodes:
  - { id: h-a, role: host }
  - { id: ce-a, role: ce, asn: 65001, trustedSubnets: [10.1.0.0/24]${o.ceA ? `, ${o.ceA}` : ''} }
  - { id: pe1, role: pe, asn: 65000, loopback: 10.255.0.1, vrfs: [{ name: v, rd: "65000:1", import: ["65000:1"], export: ["65000:1"], attachments: [ce-a, ce-b] }] }
  - { id: ce-b, role: ce, asn: 65002, trustedSubnets: [10.2.0.0/24]${o.ceB ? `, ${o.ceB}` : ''} }
  - { id: h-b, role: host }
links:
  - { endpoints: [{ node: h-a, address: 10.1.0.10/24 }, { node: ce-a, address: 10.1.0.1/24 }], latency: 100us }
  - { endpoints: [{ node: ce-a, address: 172.16.1.1/30 }, { node: pe1, address: 172.16.1.2/30 }], latency: 2ms }
  - { endpoints: [{ node: pe1, address: 172.16.2.2/30 }, { node: ce-b, address: 172.16.2.1/30 }], latency: 2ms }
  - { endpoints: [{ node: ce-b, address: 10.2.0.1/24 }, { node: h-b, address: 10.2.0.10/24 }], latency: 100us }
vpns:
  - { id: v, routeTarget: "65000:1", sites: [ce-a, ce-b], psk: "${o.psk ?? 'vpn-v-key'}" }
traffic:
${o.traffic ?? '  - { kind: udp, from: h-a, to: h-b, rate: 400kbps, size: 200, start: 2s, duration: 8s }'}
`);
}

const node = (k: Kernel, id: string) => k.snapshot().nodes.find((n) => n.id === id)!;
const linkIndex = (t: Topology, id: string) => t.links.find((l) => l.id === id)!.index;
const records = (k: Kernel, t: Topology, id: string) => decodePcap(k.pcap(linkIndex(t, id))).records.map((r) => r.bytes);

describe(`gateway mode, two CEs (seed ${SEED})`, () => {
  it('the first packet triggers IKE, later packets use the SA, Child SAs rekey under traffic with zero loss', () => {
    const t = twoCes({ ceA: 'ike: { rekey: 2s, lifetime: 3s }', ceB: 'ike: { rekey: 2s, lifetime: 3s }' });
    const k = new Kernel(t);
    k.runUntil(1_999_000);
    // BGP has filled the SPDs (destination from BGP, source local), but no SA exists before traffic.
    const a0 = ipsecOf(node(k, 'ce-a'));
    expect(a0.spd.map((e) => [e.name, e.action, e.gateway, e.establish])).toEqual([['bgp:10.2.0.0/24:10.1.0.0/24', 'protect', '172.16.2.1', 'on-demand']]);
    expect(a0.sas).toEqual([]);
    expect(ikeOf(node(k, 'ce-a')).sas).toEqual([]);
    k.runUntil(12_000_000);
    const s = k.snapshot();
    const flow = s.flows[0]!;
    expect(flow.sent).toBe(2000);
    expect(flow.received).toBe(flow.sent); // zero loss, through the first IKE exchange and every rekey
    const a = ipsecOf(s.nodes.find((n) => n.id === 'ce-a')!);
    const b = ipsecOf(s.nodes.find((n) => n.id === 'ce-b')!);
    expect(a.counters.queued).toBeGreaterThan(0); // the packets that waited for the first SA
    expect(a.counters.protected).toBe(2000);
    expect(b.counters.delivered).toBe(2000);
    expect(a.counters.drops).toEqual({});
    expect(b.counters.drops).toEqual({});
    // 10 s of SAs living 2–2.5 s: several rekeys; old SAs are gone after their Delete.
    expect(a.counters.rekeys + b.counters.rekeys).toBeGreaterThanOrEqual(4);
    expect(a.sas.length).toBeLessThanOrEqual(2);
    const ike = ikeOf(s.nodes.find((n) => n.id === 'ce-a')!);
    expect(ike.sas).toHaveLength(1); // one IKE SA, every Child SA on it
    expect(ike.sas[0]!.role).toBe('initiator');
    expect(ike.sas[0]!.state).toBe('established');
    // The backbone saw the flow only as ESP.
    const wire = records(k, t, 'pe1--ce-b');
    expect(wire.some((p) => ipv4Protocol(p) === IP_PROTO_UDP && ipv4Dst(p) === parseIpv4('10.2.0.10'))).toBe(false);
    expect(wire.filter((p) => ipv4Protocol(p) === IP_PROTO_ESP).length).toBeGreaterThanOrEqual(2000);
    // The first ESP packet leaves after the IKE exchange the first packet started (at 2 s).
    const firstEsp = decodePcap(k.pcap(linkIndex(t, 'ce-a--pe1'))).records.find((r) => ipv4Protocol(r.bytes) === IP_PROTO_ESP)!;
    expect(firstEsp.tUs).toBeGreaterThan(2_000_000);
    expect(firstEsp.tUs).toBeLessThan(2_100_000);
  });

  it('pre-established: a CE that announces it (SGI flag 0x8000) gets its SAs with no traffic', () => {
    const t = twoCes({ ceB: 'ike: { announce: pre-established }', traffic: '  []' });
    const k = new Kernel(t);
    k.runUntil(1_000_000);
    const a = ipsecOf(node(k, 'ce-a'));
    expect(a.spd[0]!.establish).toBe('pre-established');
    expect(a.sas).toHaveLength(1);
    expect(a.sas[0]!.peer).toBe('172.16.2.1');
    expect(a.spd[0]!.sa).toBe(a.sas[0]!.inboundSpi);
    // ce-b's own entry (towards ce-a, on demand) is bound to the SA ce-a initiated: one pair, not two.
    const b = ipsecOf(node(k, 'ce-b'));
    expect(b.sas).toHaveLength(1);
    expect(b.spd[0]!.sa).toBe(b.sas[0]!.inboundSpi);
    expect(a.counters.protected + b.counters.protected).toBe(0);
  });

  it('pre-established by local setting (ike.establish) too', () => {
    const k = new Kernel(twoCes({ ceA: 'ike: { establish: pre-established }', traffic: '  []' }));
    k.runUntil(1_000_000);
    expect(ipsecOf(node(k, 'ce-a')).sas).toHaveLength(1);
  });

  it('a wrong pre-shared key is refused with AUTHENTICATION_FAILED and no SA', () => {
    const k = new Kernel(twoCes({ ceB: 'ike: { psk: "not-the-vpn-key" }', traffic: '  - { kind: ping, from: h-a, to: h-b, count: 3, interval: 1s, start: 2s }' }));
    k.runUntil(6_000_000);
    const s = k.snapshot();
    const a = s.nodes.find((n) => n.id === 'ce-a')!;
    const b = s.nodes.find((n) => n.id === 'ce-b')!;
    expect(ikeOf(a).sas.length).toBeGreaterThan(0);
    for (const sa of [...ikeOf(a).sas, ...ikeOf(b).sas]) expect(sa.failure).toBe('AUTHENTICATION_FAILED');
    expect(ipsecOf(a).sas).toEqual([]);
    expect(ipsecOf(b).sas).toEqual([]);
    expect(a.espSas).toEqual([]);
    expect(ipsecOf(a).counters.drops['sa-failed']).toBe(3); // each echo request waited, then was dropped
    expect(s.flows[0]!.received).toBe(0);
  });

  it("TS_UNACCEPTABLE when the peer's policy does not cover the proposal", () => {
    const k = new Kernel(
      twoCes({
        ceA: 'policy: [{ action: protect, destination: 10.2.0.0/24, gateway: ce-b }]',
        // ce-b protects only towards another subnet through ce-a: nothing covers 10.1.0.0/24 <-> 10.2.0.0/24
        ceB: 'policy: [{ action: protect, destination: 10.9.0.0/24, gateway: ce-a }]',
        traffic: '  - { kind: ping, from: h-a, to: h-b, count: 2, interval: 1s, start: 2s }',
      }),
    );
    k.runUntil(5_000_000);
    const a = node(k, 'ce-a');
    const ike = ikeOf(a).sas[0]!;
    expect(ike.state).toBe('established'); // the IKE SA is fine; only the Child SA is refused
    expect(ike.childFailures.TS_UNACCEPTABLE).toBeGreaterThanOrEqual(1);
    expect(ipsecOf(a).sas).toEqual([]);
    expect(ipsecOf(a).counters.drops['sa-failed']).toBeGreaterThanOrEqual(1);
    expect(k.snapshot().flows[0]!.received).toBe(0);
  });

  it('replayed, altered and unknown-SPI ESP packets are dropped and counted per reason, never delivered', () => {
    const t = twoCes();
    const victim = parseIpv4('172.16.2.1')!;
    // A provider edge that replays one ESP packet, alters one and rewrites the SPI of one (each
    // also delivered intact, so the flow itself loses nothing).
    let n = 0;
    const attacker = (inner: SimNode) =>
      tamper(inner, (o) => {
        if (ipv4Protocol(o.bytes) !== IP_PROTO_ESP || ipv4Dst(o.bytes) !== victim) return undefined;
        n++;
        if (n === 10) return [o, { ...o, bytes: o.bytes.slice() }]; // replay
        if (n === 20 || n === 30) {
          const bad = o.bytes.slice();
          if (n === 20) bad[bad.length - 20] = bad[bad.length - 20]! ^ 1; // ciphertext bit flip: ICV fails
          else bad[20] = bad[20]! ^ 0xff; // SPI no SA has
          return [{ ...o, bytes: bad }, o];
        }
        return undefined;
      });
    const k = new Kernel(t, { factory: (topo, i) => (topo.nodes[i]!.id === 'pe1' ? attacker(createSimNode(topo, i)) : createSimNode(topo, i)) });
    k.runUntil(11_000_000);
    const s = k.snapshot();
    const b = ipsecOf(s.nodes.find((x) => x.id === 'ce-b')!);
    expect(b.counters.drops).toEqual({ replay: 1, icv: 1, 'unknown-spi': 1 });
    expect(s.flows[0]!.received).toBe(s.flows[0]!.sent);
    expect(b.counters.delivered).toBe(s.flows[0]!.sent);
  });

  it('same seed, same captures: single thread and workers (SAs rekeying)', async () => {
    const t = twoCes({ ceA: 'ike: { rekey: 1s, lifetime: 1500ms }', traffic: '  - { kind: udp, from: h-a, to: h-b, rate: 200kbps, size: 200, start: 1s, duration: 3s }' });
    const run = async (runtime: 'single' | 'workers') => {
      const lab = await createLab(t, { runtime, maxWorkers: 3 });
      try {
        await lab.runUntil(5_000_000);
        return { pcaps: await Promise.all(t.links.map((l) => lab.pcap(l.index))), snap: await lab.snapshot() };
      } finally {
        await lab.close();
      }
    };
    const a = await run('single');
    const b = await run('workers');
    expect(ipsecOf(a.snap.nodes.find((n) => n.id === 'ce-a')!).counters.rekeys).toBeGreaterThan(0);
    expect(b.pcaps).toEqual(a.pcaps);
  });
});

describe('seed 002 FIG. 1 example: FIG. 3 configuration data 310 in CE 140-3', () => {
  const t = load(readFileSync(FIG1, 'utf8'), 'gateway');
  const k = new Kernel(t);

  it('CE 140-2 asks for pre-established SAs: the others build them before any traffic', () => {
    k.runUntil(900_000); // flows start at 1 s
    for (const id of ['ce-a', 'ce-c']) {
      const peers = ipsecOf(node(k, id)).sas.map((x) => x.peer);
      expect(peers, id).toEqual(['172.16.2.1']);
    }
    expect(k.snapshot().flows.every((f) => f.sent === 0)).toBe(true);
  });

  it('every flow is delivered; each kind of entry sends where FIG. 3 says', () => {
    k.runUntil(12_000_000);
    const s = k.snapshot();
    for (const f of s.flows) expect(f.received, `${f.kind} ${f.from}->${f.to}`).toBe(f.sent);
    const c = ipsecOf(s.nodes.find((n) => n.id === 'ce-c')!);
    expect(c.spd.map((e) => [e.name, e.action, e.gateway ?? '-'])).toEqual([
      ['policy1:10.3.0.0/24>10.1.0.99/32', 'protect', '10.1.0.99'], // #4 tunnel ending at host 160-Z
      ['policy2:10.3.0.0/24>10.1.0.128/25', 'bypass', '-'], // #2
      ['policy3:10.3.0.0/24>10.2.0.0/24', 'protect', '172.16.2.1'], // #3 via CE 140-2, named
      ['bgp:10.1.0.0/24:10.3.0.0/24', 'protect', '172.16.1.1'], // #1 from BGP
      ['bgp:10.2.0.0/24:10.3.0.0/24', 'protect', '172.16.2.1'],
    ]);
    expect(c.counters.bypassed).toBe(3);
    // On CE 140-3's uplink: the bypassed pings in clear, everything else of the hosts in ESP to the right gateway.
    const up = records(k, t, 'ce-c--pe3');
    const a2 = parseIpv4('10.1.0.130')!;
    const ike = (p: Uint8Array) => ipv4Protocol(p) === IP_PROTO_UDP && ((p[22]! << 8) | p[23]!) === 500;
    expect(up.filter(ike).length).toBe(12); // IKE_SA_INIT + IKE_AUTH with CE 140-1, CE 140-2 and host 160-Z
    const clear = up.filter((p) => (ipv4Protocol(p) === IP_PROTO_ICMP || ipv4Protocol(p) === IP_PROTO_UDP) && !ike(p));
    expect(clear.length).toBe(6);
    expect(clear.every((p) => ipv4Dst(p) === a2 || ipv4Src(p) === a2)).toBe(true);
    const espTo = (dst: string) => up.filter((p) => ipv4Protocol(p) === IP_PROTO_ESP && ipv4Src(p) === parseIpv4('172.16.3.1') && ipv4Dst(p) === parseIpv4(dst)).length;
    expect(espTo('10.1.0.99')).toBe(3); // #4: the echo requests to h-z, tunnelled to the host itself
    expect(espTo('172.16.2.1')).toBe(5); // #3: replies to h-b
    expect(espTo('172.16.1.1')).toBe(5); // #1: replies to h-a
    const z = ipsecOf(s.nodes.find((n) => n.id === 'h-z')!);
    expect(z.counters.delivered).toBe(3);
    expect(z.counters.protected).toBe(3); // its replies go back through the tunnel
    // The tunnel to the host crosses CE 140-1 as ESP: h-z's LAN link carries no clear ICMP.
    const zl = records(k, t, 'h-z--ce-a');
    expect(zl.filter((p) => ipv4Protocol(p) === IP_PROTO_ICMP)).toEqual([]);
    expect(decodeIpv4(zl.find((p) => ipv4Protocol(p) === IP_PROTO_ESP)!).ok).toBe(true);
  });
});
