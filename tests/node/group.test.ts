// Seed 001 end to end in the nodes (group mode): the S/R device (GCKS + route reflector) and the
// member CEs, over the deterministic kernel. Seed 1 (the topology's); reproduce with
// `npx vitest run tests/node/group.test.ts`.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { Kernel } from '../../src/sim/kernel.ts';
import { loadTopology } from '../../src/sim/topology/load.ts';
import { decodePcap } from '../../src/sim/pcap.ts';
import { decodeIpv4, IP_PROTO_ESP, IP_PROTO_UDP } from '../../src/proto/ip/index.ts';
import { nodeConfig, REFERENCE_DATAPLANE, createSimNode } from '../../src/sim/node-config.ts';
import { IpNode } from '../../src/node/ip-node.ts';
import { addGroupApps, groupPlan } from '../../src/sim/group-plan.ts';
import { TsEspEngine } from '../../src/dataplane/esp-ts.ts';
import type { Topology } from '../../src/sim/topology/types.ts';
import type { LabSnapshot } from '../../src/sim/snapshot.ts';

const FIG2 = 'public/topologies/seed001-figure2.yaml';
const BACKBONE = ['pe1--p1', 'p1--pe2', 'p1--sr'];

function load(edit: (text: string) => string = (t) => t): Topology {
  const r = loadTopology(edit(readFileSync(FIG2, 'utf8')), {});
  if (!r.ok) throw new Error(`topology does not load: ${JSON.stringify(r).slice(0, 500)}`);
  return r.topology;
}

type Esp = { counters: { protected: number; delivered: number; drops: Record<string, number> }; sas: { inbound: number; outbound: number }; teks: string[]; outboundSpi?: string; routes: number };
type Gkm = { state: string; excluded: boolean; teks: string[]; events: string[] };
const esp = (s: LabSnapshot, id: string) => s.nodes.find((n) => n.id === id)!.apps['group-esp'] as Esp;
const gkm = (s: LabSnapshot, id: string) => s.nodes.find((n) => n.id === id)!.apps.gkm as Gkm;
const gcks = (s: LabSnapshot) => s.nodes.find((n) => n.id === 'sr')!.apps.gcks as { registrationTable: { member: string; memberList?: string[] }[]; members: number; counters: Record<string, number> };

/** IP protocol (and UDP destination port) of every packet on the backbone links. */
function backboneProtocols(k: Kernel, t: Topology): Set<string> {
  const seen = new Set<string>();
  for (const id of BACKBONE) {
    const link = t.links.find((l) => l.id === id)!;
    for (const r of decodePcap(k.pcap(link.index)).records) {
      const d = decodeIpv4(r.bytes);
      if (!d.ok) {
        seen.add('malformed');
        continue;
      }
      const p = d.value.header.protocol;
      const port = p === IP_PROTO_UDP ? `/${(d.value.payload[2]! << 8) | d.value.payload[3]!}` : '';
      seen.add(`${p}${port}`);
    }
  }
  return seen;
}

function checkConverged(s: LabSnapshot, members: string[]): void {
  for (const m of members) {
    expect(gkm(s, m).state, m).toBe('registered');
    expect(esp(s, m).routes, `${m} holds every other member's routes`).toBe(members.length - 1);
    // One group SA set whatever N: one outbound SA, the TEK(s) of the GSA inbound (two while a rekey overlaps).
    expect(esp(s, m).sas.outbound, m).toBe(1);
    expect(esp(s, m).sas.inbound, m).toBeLessThanOrEqual(2);
  }
}

describe('seed 001 group mode in the nodes (FIG. 2, 4, 5)', () => {
  it('member list: every CE gets the GSA and the others\' routes; traffic crosses the backbone only as ESP', () => {
    const t = load();
    const k = new Kernel(t);
    k.runUntil(8_000_000);
    const s = k.snapshot();
    checkConverged(s, ['ce-a', 'ce-b', 'ce-c', 'ce-d']);
    for (const f of s.flows) expect(f.received, `${f.kind} ${f.from}->${f.to}`).toBe(f.sent);
    // The GCKS recorded each member's list of the others (FIG. 3 registration table 34).
    const table = gcks(s).registrationTable;
    expect(table.map((r) => r.member).sort()).toEqual(['ce-a', 'ce-b', 'ce-c', 'ce-d']);
    for (const r of table) expect(r.memberList?.length).toBe(3);
    // Only ESP (50) and G-IKEv2 (UDP 848) on the provider links: no clear BGP, no clear ICMP.
    expect([...backboneProtocols(k, t)].sort()).toEqual([`${IP_PROTO_ESP}`, `${IP_PROTO_UDP}/848`].sort());
    // The S/R reflected in paced batches (group-rr.ts).
    expect((s.nodes.find((n) => n.id === 'sr')!.apps['rr-pacing'] as { flushes: number }).flushes).toBeGreaterThanOrEqual(1);
    // The BGP channel went through the group SA on both ends.
    expect((s.nodes.find((n) => n.id === 'sr')!.apps['group-esp'] as { counters: { bgpProtected: number; bgpDelivered: number } }).counters.bgpDelivered).toBeGreaterThan(8);
  });

  it('auto-discovery: registration names only the group; routes carry the group route target', () => {
    const t = load((x) => x.replace('discovery: member-list', 'discovery: auto'));
    const k = new Kernel(t);
    k.runUntil(8_000_000);
    const s = k.snapshot();
    checkConverged(s, ['ce-a', 'ce-b', 'ce-c', 'ce-d']);
    for (const r of gcks(s).registrationTable) expect(r.memberList).toBeUndefined();
    for (const f of s.flows) expect(f.received, `${f.kind} ${f.from}->${f.to}`).toBe(f.sent);
    expect([...backboneProtocols(k, t)].sort()).toEqual([`${IP_PROTO_ESP}`, `${IP_PROTO_UDP}/848`].sort());
  });

  it('rekeys, a late joiner and a leaver while traffic flows: nothing lost between the members that stay', () => {
    const t = load((x) =>
      x
        .replace('rekeyOnMembershipChange: true', 'rekeyOnMembershipChange: true\n    tekLifetime: 12s\n    schedule: [{ at: 4s, join: ce-d }, { at: 9s, leave: ce-c }]')
        .replace(/traffic:[\s\S]*$/, 'traffic:\n  - { kind: ping, from: h-a, to: h-b, count: 70, interval: 200ms, start: 2s }\n  - { kind: udp, from: h-b, to: h-a, rate: 200kbps, size: 200, start: 2s, duration: 14s }\n'),
    );
    const k = new Kernel(t);
    k.runUntil(3_500_000);
    expect(gkm(k.snapshot(), 'ce-d').state).toBe('idle'); // not joined yet
    k.runUntil(8_500_000);
    let s = k.snapshot();
    checkConverged(s, ['ce-a', 'ce-b', 'ce-c', 'ce-d']);
    const tekBeforeLeave = esp(s, 'ce-a').outboundSpi!;
    k.runUntil(17_000_000);
    s = k.snapshot();
    // Zero loss between the members that stayed, across scheduled rekeys, the join and the leave.
    for (const f of s.flows) expect(f.received, `${f.kind} ${f.from}->${f.to}`).toBe(f.sent);
    // Several TEKs came and went (scheduled rekeys every ~9 s, the join, the leave).
    expect(gkm(s, 'ce-a').events.filter((e) => e.includes('installed (rekey)')).length).toBeGreaterThanOrEqual(2);
    // The leaver: excluded, holds none of the TEKs the others use now, its routes withdrawn.
    // (The GCKS sends the leaver nothing more: it keeps only the TEKs it had, which the others no longer use.)
    const now = esp(s, 'ce-a').outboundSpi!;
    expect(now).not.toBe(tekBeforeLeave);
    expect(esp(s, 'ce-c').teks).not.toContain(now);
    for (const m of ['ce-a', 'ce-b', 'ce-d']) {
      expect(esp(s, m).routes, m).toBe(2);
      expect(esp(s, m).teks).toContain(now);
    }
    expect(gcks(s).members).toBe(3);
  });

  it('an evicted member cannot decrypt what the others send after the rekey that removes it', () => {
    const t = load((x) =>
      x
        .replace('rekeyOnMembershipChange: true', 'rekeyOnMembershipChange: true\n    schedule: [{ at: 3s, leave: ce-b }]')
        .replace(/traffic:[\s\S]*$/, 'traffic:\n  - { kind: ping, from: h-a, to: h-c, count: 20, interval: 250ms, start: 2s }\n'),
    );
    const k = new Kernel(t);
    k.runUntil(7_500_000);
    const s = k.snapshot();
    const aSpi = esp(s, 'ce-a').outboundSpi!;
    expect(esp(s, 'ce-b').teks).not.toContain(aSpi);
    // Everything ce-b ever held (every TEK it installed, as --keys exports them) opens nothing that
    // crossed the backbone once the others moved to the new TEK (leave at 3 s + GWP_ATD 1 s).
    const engine = new TsEspEngine();
    const held = s.nodes.find((n) => n.id === 'ce-b')!.espSas;
    expect(held.length).toBeGreaterThan(0);
    for (const sa of held) {
      const key = Uint8Array.from(sa.keyHex.match(/../g)!.map((h) => parseInt(h, 16)));
      engine.addSa('inbound', { spi: sa.spi, suite: sa.suite, key: key.subarray(0, key.length - 4), salt: key.subarray(key.length - 4), esn: false, replayWindow: 0, tunnelSrc: 0, tunnelDst: 0 });
    }
    const pe1 = t.links.find((l) => l.id === 'pe1--p1')!;
    const all = decodePcap(k.pcap(pe1.index)).records.filter((r) => r.bytes[9] === IP_PROTO_ESP);
    const before = all.filter((r) => r.tUs < 2_900_000).map((r) => r.bytes);
    // (What the evicted ce-b itself still sends — BGP reconnects on its old TEK, which the S/R drops — is its own.)
    const fromB = (b: Uint8Array) => b[12] === 172 && b[13] === 16 && b[14] === 2 && b[15] === 1;
    const after = all.filter((r) => r.tUs > 4_500_000 && !fromB(r.bytes)).map((r) => r.bytes);
    expect(after.length).toBeGreaterThan(10);
    // Control: before the leave, ce-b's keys do open the group's traffic.
    expect(engine.decapsulate(before).some((r) => r.ok)).toBe(true);
    expect(engine.decapsulate(after).filter((r) => r.ok)).toEqual([]);
    for (const f of s.flows) expect(f.received).toBe(f.sent);
  });

  it('a wrong pre-shared key and an unauthorised member are refused with the right notify; the group carries on', () => {
    const t = load();
    const ceC = t.nodes.find((n) => n.id === 'ce-c')!.index;
    const ceD = t.nodes.find((n) => n.id === 'ce-d')!.index;
    const sr = t.nodes.find((n) => n.id === 'sr')!.index;
    const k = new Kernel(t, {
      factory: (topo, i) => {
        if (i !== ceC && i !== sr) return createSimNode(topo, i);
        const node = new IpNode(nodeConfig(topo, i), REFERENCE_DATAPLANE.lpm);
        const plan = groupPlan(topo, i)!;
        if (plan.kind === 'member') plan.member.credential = { method: 'psk', psk: new TextEncoder().encode('not the key the S/R holds') };
        // ce-d authenticates fine but the policy does not let it into the group (RFC 9838 §2.3.2).
        if (plan.kind === 'sr') plan.gcks.groups[0]!.authorized = plan.gcks.groups[0]!.authorized.filter((id) => new TextDecoder().decode(id.data) !== 'ce-d');
        addGroupApps(node, plan, topo, i, () => REFERENCE_DATAPLANE.newEsp());
        return node;
      },
    });
    k.runUntil(6_000_000);
    const s = k.snapshot();
    expect(gkm(s, 'ce-c').events.some((e) => e.startsWith('registration failed: AUTHENTICATION_FAILED'))).toBe(true);
    expect(gkm(s, 'ce-d').events.some((e) => e.startsWith('registration failed: AUTHORIZATION_FAILED'))).toBe(true);
    for (const m of ['ce-c', 'ce-d']) {
      expect(gkm(s, m).state, m).not.toBe('registered');
      expect(esp(s, m).routes, m).toBe(0);
    }
    expect(esp(s, 'ce-a').routes).toBe(1);
    expect(esp(s, 'ce-b').routes).toBe(1);
    expect(gcks(s).counters.refused).toBeGreaterThanOrEqual(2);
    expect(ceD).toBeGreaterThan(0);
  });

  it('one group SA set per member whatever N (12 sites)', () => {
    const sites = 12;
    const nodes = ['  - { id: p1, role: p, asn: 65000, loopback: 10.255.0.3 }', '  - { id: sr, role: sr, asn: 65030, loopback: 10.255.0.30 }', '  - { id: pe1, role: pe, asn: 65000, loopback: 10.255.0.1 }'];
    const links = ['  - { endpoints: [p1, sr] }', '  - { endpoints: [pe1, p1] }'];
    for (let i = 0; i < sites; i++) {
      nodes.push(`  - { id: ce${i}, role: ce, asn: ${64600 + i}, trustedSubnets: [10.9.${i}.0/24] }`);
      links.push(`  - { endpoints: [ce${i}, pe1] }`);
    }
    const text = `name: twelve\nmode: group\nseed: 3\nnodes:\n${nodes.join('\n')}\nlinks:\n${links.join('\n')}\ngroups:\n  - { groupId: 7, members: [${Array.from({ length: sites }, (_, i) => `ce${i}`).join(', ')}], discovery: auto, rekeyOnMembershipChange: false }\n`;
    const r = loadTopology(text, {});
    if (!r.ok) throw new Error(JSON.stringify(r).slice(0, 400));
    const k = new Kernel(r.topology);
    k.runUntil(4_000_000);
    const s = k.snapshot();
    checkConverged(s, Array.from({ length: sites }, (_, i) => `ce${i}`));
    for (let i = 0; i < sites; i++) expect(esp(s, `ce${i}`).sas).toEqual({ inbound: 1, outbound: 1 });
  });
});
