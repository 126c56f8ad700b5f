// Seed 001 with several groups in the nodes: one S/R device serving two groups (GCKS + a route
// reflector per group), and a CE that is a member of both. Seed 5 (the topology's); reproduce with
// `npx vitest run tests/node/group-multi.test.ts`.
import { describe, expect, it } from 'vitest';
import { Kernel } from '../../src/sim/kernel.ts';
import { loadTopology } from '../../src/sim/topology/load.ts';
import { decodePcap } from '../../src/sim/pcap.ts';
import { decodeIpv4, IP_PROTO_ESP, IP_PROTO_UDP } from '../../src/proto/ip/index.ts';
import { formatIpv4 } from '../../src/lib/addr.ts';
import { groupPlan } from '../../src/sim/group-plan.ts';
import { checkConvergence, expectedState } from '../../src/sim/convergence.ts';
import type { Topology } from '../../src/sim/topology/types.ts';
import type { LabSnapshot } from '../../src/sim/snapshot.ts';

// Group 1 (red): ce-a, ce-b and ce-x. Group 2 (blue): ce-c, ce-d and ce-x. One S/R serves both.
const SITES = [
  ['a', 1, 'pe1'],
  ['b', 2, 'pe2'],
  ['c', 3, 'pe1'],
  ['d', 4, 'pe2'],
  ['x', 9, 'pe2'],
] as const;

function topology(opts: { groups?: string; traffic?: string; discovery?: 'member-list' | 'auto' } = {}): Topology {
  const discovery = opts.discovery ?? 'member-list';
  const nodes = [
    '  - { id: p1, role: p, asn: 65000, loopback: 10.255.0.3 }',
    '  - { id: pe1, role: pe, asn: 65000, loopback: 10.255.0.1 }',
    '  - { id: pe2, role: pe, asn: 65000, loopback: 10.255.0.2 }',
    '  - { id: sr, role: sr, asn: 65030, loopback: 10.255.0.30 }',
    '  - { id: sr2, role: sr, asn: 65030, loopback: 10.255.0.31 }',
  ];
  const links = ['  - { endpoints: [pe1, p1], latency: 5ms }', '  - { endpoints: [p1, pe2], latency: 5ms }', '  - { endpoints: [p1, sr] }', '  - { endpoints: [p1, sr2] }'];
  for (const [s, n, pe] of SITES) {
    nodes.push(`  - { id: ce-${s}, role: ce, asn: ${65100 + n}, trustedSubnets: [10.${n}.0.0/24] }`, `  - { id: h-${s}, role: host }`);
    links.push(`  - { endpoints: [ce-${s}, ${pe}], latency: 2ms }`, `  - { endpoints: [{ node: h-${s}, address: 10.${n}.0.10/24 }, { node: ce-${s}, address: 10.${n}.0.1/24 }] }`);
  }
  const groups =
    opts.groups ??
    [
      `  - { groupId: 1, name: red, sr: sr, members: [ce-a, ce-b, ce-x], discovery: ${discovery} }`,
      `  - { groupId: 2, name: blue, sr: sr, members: [ce-c, ce-d, ce-x], discovery: ${discovery} }`,
    ].join('\n');
  const traffic =
    opts.traffic ??
    [
      '  - { kind: ping, from: h-a, to: h-b, count: 4, interval: 500ms, start: 2s }',
      '  - { kind: ping, from: h-c, to: h-d, count: 4, interval: 500ms, start: 2s }',
      '  - { kind: ping, from: h-x, to: h-a, count: 4, interval: 500ms, start: 2s }',
      '  - { kind: ping, from: h-x, to: h-c, count: 4, interval: 500ms, start: 2s }',
      // Across groups: red's a has no route to blue's c (the DISCARD entry takes it).
      '  - { kind: ping, from: h-a, to: h-c, count: 4, interval: 500ms, start: 2s }',
    ].join('\n');
  const text = `name: two groups\nmode: group\nseed: 5\nnodes:\n${nodes.join('\n')}\nlinks:\n${links.join('\n')}\ngroups:\n${groups}\ntraffic:\n${traffic}\n`;
  const r = loadTopology(text, {});
  if (!r.ok) throw new Error(`topology does not load: ${JSON.stringify(r.errors).slice(0, 500)}`);
  return r.topology;
}

type Esp = { counters: { protected: number; delivered: number; drops: Record<string, number> }; teks: string[]; outboundSpi?: string; routes: number; prefixes: string[]; spd: string[] | number; groups?: { group: number; teks: string[]; outboundSpi?: string; routes: number }[] };
type GkmGroup = { group: number; state: string; teks: string[]; outboundSpi?: number };
type Gkm = { state: string; teks: string[]; groups?: GkmGroup[] };
type Gcks = { registrationTable: { group: number; member: string }[] | number; saTable: { group: number; kek: string; teks: { spi: string; retiring: boolean }[] }[]; members: number };
type Bgp = { neighbors: { name: string; state: string; stats: { establishedTransitions: number } }[]; rib: { locRib: Record<string, { nlri: string; group?: number; from?: string }[]> } };

const app = <T,>(s: LabSnapshot, id: string, name: string) => s.nodes.find((n) => n.id === id)!.apps[name] as T;
const esp = (s: LabSnapshot, id: string) => app<Esp>(s, id, 'group-esp');
const gkm = (s: LabSnapshot, id: string) => app<Gkm>(s, id, 'gkm');
const gcks = (s: LabSnapshot) => app<Gcks>(s, 'sr', 'gcks');
const bgp = (s: LabSnapshot, id: string) => app<Bgp>(s, id, 'bgp');
const learned = (s: LabSnapshot, id: string) => bgp(s, id).rib.locRib['ipv4-unicast']!.filter((r) => r.from !== 'local').map((r) => r.nlri).sort();
const spiHex = (n: number) => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
/** The SPIs a group's TEKs have now, as the S/R's SA table lists them. */
const groupSpis = (s: LabSnapshot, group: number) => new Set(gcks(s).saTable.find((r) => r.group === group)!.teks.map((t) => t.spi));
/** Every TEK SPI these (single-group) members ever installed: their group's, since the start. */
const everSpis = (s: LabSnapshot, ids: string[]) => new Set(s.nodes.filter((n) => ids.includes(n.id)).flatMap((n) => n.espSas.map((a) => spiHex(a.spi))));

/** Every ESP packet on the provider links: outer source, outer destination, SPI. */
function backboneEsp(k: Kernel, t: Topology): { src: string; dst: string; spi: string; tUs: number }[] {
  const out: { src: string; dst: string; spi: string; tUs: number }[] = [];
  for (const l of t.links.filter((x) => ['pe1--p1', 'p1--pe2', 'p1--sr', 'p1--sr2'].includes(x.id))) {
    for (const r of decodePcap(k.pcap(l.index)).records) {
      const d = decodeIpv4(r.bytes);
      if (!d.ok || d.value.header.protocol !== IP_PROTO_ESP) continue;
      const p = d.value.payload;
      out.push({ src: formatIpv4(d.value.header.src), dst: formatIpv4(d.value.header.dst), spi: spiHex((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!), tUs: r.tUs });
    }
  }
  return out;
}

const tunnelOf = (t: Topology, id: string) => {
  const plan = groupPlan(t, t.nodes.find((n) => n.id === id)!.index);
  if (plan?.kind !== 'member') throw new Error(`${id} is not a member`);
  return formatIpv4(plan.tunnelAddr);
};

describe('one S/R serving two groups, a CE in both (seed 001 with several groups)', () => {
  for (const discovery of ['member-list', 'auto'] as const) {
    it(`${discovery}: each group its own GSA, routes kept apart, traffic on the right group's TEK`, () => {
      const t = topology({ discovery });
      const k = new Kernel(t);
      k.runUntil(6_000_000);
      const s = k.snapshot();

      // The S/R's FIG. 3 tables list both groups, each row naming its group.
      const table = gcks(s).registrationTable;
      if (typeof table === 'number') throw new Error('registration table summarised');
      expect(table.map((r) => `${r.group}:${r.member}`).sort()).toEqual(['1:ce-a', '1:ce-b', '1:ce-x', '2:ce-c', '2:ce-d', '2:ce-x']);
      expect(gcks(s).saTable.map((r) => r.group)).toEqual([1, 2]);
      expect(gcks(s).members).toBe(5);
      const red = groupSpis(s, 1);
      const blue = groupSpis(s, 2);
      expect([...red].some((x) => blue.has(x))).toBe(false);
      expect(gcks(s).saTable[0]!.kek).not.toBe(gcks(s).saTable[1]!.kek);

      // Each single-group member holds its group's TEKs only; ce-x holds one GSA per group.
      for (const [id, mine, other] of [['ce-a', red, blue], ['ce-b', red, blue], ['ce-c', blue, red], ['ce-d', blue, red]] as const) {
        expect(gkm(s, id).state, id).toBe('registered');
        expect(esp(s, id).teks.length, id).toBeGreaterThan(0);
        for (const spi of esp(s, id).teks) {
          expect(mine.has(spi), `${id} ${spi}`).toBe(true);
          expect(other.has(spi), `${id} ${spi}`).toBe(false);
        }
      }
      const x = gkm(s, 'ce-x');
      expect(x.state).toBe('registered');
      expect(x.groups!.map((g) => [g.group, g.state])).toEqual([[1, 'registered'], [2, 'registered']]);
      expect(red.has(spiHex(x.groups![0]!.outboundSpi!))).toBe(true);
      expect(blue.has(spiHex(x.groups![1]!.outboundSpi!))).toBe(true);
      expect(s.nodes.find((n) => n.id === 'ce-x')!.espSas.filter((a) => a.src === '*').length).toBeGreaterThanOrEqual(2);
      // The run's convergence condition: one group SA per group of each CE (2 for ce-x), every route of its groups.
      const x9 = expectedState(t).find((e) => t.nodes[e.nodeIndex]!.id === 'ce-x')!;
      expect(x9.sasNeeded).toBe(2);
      expect(x9.remotePrefixes.sort()).toEqual(['10.1.0.0/24', '10.2.0.0/24', '10.3.0.0/24', '10.4.0.0/24']);
      expect(checkConvergence(t, s).ok).toBe(true);

      // Routes of one group never reach the other's members: BGP RIBs and SPDs.
      expect(learned(s, 'ce-a')).toEqual(['10.2.0.0/24', '10.9.0.0/24']);
      expect(learned(s, 'ce-b')).toEqual(['10.1.0.0/24', '10.9.0.0/24']);
      expect(learned(s, 'ce-c')).toEqual(['10.4.0.0/24', '10.9.0.0/24']);
      expect(learned(s, 'ce-d')).toEqual(['10.3.0.0/24', '10.9.0.0/24']);
      expect(learned(s, 'ce-x')).toEqual(['10.1.0.0/24', '10.2.0.0/24', '10.3.0.0/24', '10.4.0.0/24']);
      expect(esp(s, 'ce-a').prefixes.sort()).toEqual(['10.2.0.0/24', '10.9.0.0/24']);
      expect(esp(s, 'ce-c').prefixes.sort()).toEqual(['10.4.0.0/24', '10.9.0.0/24']);
      for (const id of ['ce-a', 'ce-b']) expect(JSON.stringify(esp(s, id).spd), id).not.toMatch(/10\.[34]\.0\.0/);
      for (const id of ['ce-c', 'ce-d']) expect(JSON.stringify(esp(s, id).spd), id).not.toMatch(/10\.[12]\.0\.0/);
      // ce-x files each route under the group it was learned in.
      expect(esp(s, 'ce-x').groups!.map((g) => [g.group, g.routes])).toEqual([[1, 2], [2, 2]]);
      // The S/R's RIB: every group's routes, each naming its group.
      const srRib = bgp(s, 'sr').rib.locRib['ipv4-unicast']!.map((r) => `${r.group} ${r.nlri}`).sort();
      expect(srRib).toEqual(['1 10.1.0.0/24', '1 10.2.0.0/24', '1 10.9.0.0/24', '2 10.3.0.0/24', '2 10.4.0.0/24', '2 10.9.0.0/24']);

      // Traffic inside a group arrives; across groups it does not leave the site.
      const flow = (from: string, to: string) => s.flows.find((f) => f.from === from && f.to === to)!;
      for (const [from, to] of [['h-a', 'h-b'], ['h-c', 'h-d'], ['h-x', 'h-a'], ['h-x', 'h-c']] as const) {
        const f = flow(from, to);
        expect(f.sent, `${from}->${to}`).toBe(4);
        expect(f.received, `${from}->${to}`).toBe(4);
      }
      expect(flow('h-a', 'h-c').received).toBe(0);
      expect(esp(s, 'ce-a').counters.drops.discard).toBeGreaterThanOrEqual(4);

      // On the backbone only ESP and G-IKEv2, and each member-to-member packet on its group's SPI.
      const a = tunnelOf(t, 'ce-a');
      const b = tunnelOf(t, 'ce-b');
      const c = tunnelOf(t, 'ce-c');
      const d = tunnelOf(t, 'ce-d');
      const xa = tunnelOf(t, 'ce-x');
      const esps = backboneEsp(k, t);
      const between = (src: string, dst: string) => esps.filter((e) => e.src === src && e.dst === dst);
      const redEver = everSpis(s, ['ce-a', 'ce-b']);
      const blueEver = everSpis(s, ['ce-c', 'ce-d']);
      expect([...redEver].some((x) => blueEver.has(x))).toBe(false);
      for (const [src, dst, group] of [[a, b, redEver], [b, a, redEver], [xa, a, redEver], [a, xa, redEver], [c, d, blueEver], [xa, c, blueEver], [c, xa, blueEver]] as const) {
        const pkts = between(src, dst);
        expect(pkts.length, `${src} -> ${dst}`).toBeGreaterThan(0);
        for (const p of pkts) expect(group.has(p.spi), `${src} -> ${dst} on ${p.spi}`).toBe(true);
      }
      for (const l of t.links.filter((x) => ['pe1--p1', 'p1--pe2', 'p1--sr', 'p1--sr2'].includes(x.id))) {
        for (const r of decodePcap(k.pcap(l.index)).records) {
          const dec = decodeIpv4(r.bytes);
          expect(dec.ok).toBe(true);
          if (!dec.ok) continue;
          const p = dec.value.header.protocol;
          expect(p === IP_PROTO_ESP || (p === IP_PROTO_UDP && ((dec.value.payload[2]! << 8) | dec.value.payload[3]!) === 848), `${l.id} protocol ${p}`).toBe(true);
        }
      }
    });
  }

  it('a rekey of one group leaves the other group SA alone; a CE leaving one group keeps the other', () => {
    const t = topology({
      groups: [
        '  - { groupId: 1, name: red, sr: sr, members: [ce-a, ce-b, ce-x], tekLifetime: 12s }',
        '  - { groupId: 2, name: blue, sr: sr, members: [ce-c, ce-d, ce-x], schedule: [{ at: 16s, leave: ce-x }] }',
      ].join('\n'),
      traffic: [
        '  - { kind: ping, from: h-a, to: h-x, count: 80, interval: 250ms, start: 2s }',
        '  - { kind: ping, from: h-c, to: h-d, count: 80, interval: 250ms, start: 2s }',
        '  - { kind: ping, from: h-d, to: h-x, count: 10, interval: 250ms, start: 22s }',
      ].join('\n'),
    });
    const k = new Kernel(t);
    k.runUntil(5_000_000);
    let s = k.snapshot();
    const redBefore = esp(s, 'ce-a').outboundSpi!;
    const blueBefore = esp(s, 'ce-c').outboundSpi!;
    const xBefore = gkm(s, 'ce-x').groups!.map((g) => spiHex(g.outboundSpi!));
    expect(xBefore).toEqual([redBefore, blueBefore]);

    // Group 1's TEK lives 12 s: it is rekeyed (lead 3 s), group 2's is not.
    k.runUntil(14_000_000);
    s = k.snapshot();
    const redAfter = esp(s, 'ce-a').outboundSpi!;
    expect(redAfter).not.toBe(redBefore);
    expect(esp(s, 'ce-b').outboundSpi).toBe(redAfter);
    expect(esp(s, 'ce-c').outboundSpi).toBe(blueBefore);
    expect(esp(s, 'ce-d').outboundSpi).toBe(blueBefore);
    expect(gkm(s, 'ce-x').groups!.map((g) => spiHex(g.outboundSpi!))).toEqual([redAfter, blueBefore]);
    expect(gcks(s).saTable.find((r) => r.group === 2)!.teks.map((x) => x.spi)).toEqual([blueBefore]);

    // ce-x leaves group 2 at 16 s: blue rekeys without it, its route leaves blue's members; it
    // keeps group 1 (its session with the S/R restarts and comes back in group 1 only).
    k.runUntil(26_000_000);
    s = k.snapshot();
    expect(esp(s, 'ce-c').outboundSpi).not.toBe(blueBefore);
    expect(learned(s, 'ce-c')).toEqual(['10.4.0.0/24']);
    expect(learned(s, 'ce-d')).toEqual(['10.3.0.0/24']);
    expect(learned(s, 'ce-x')).toEqual(['10.1.0.0/24', '10.2.0.0/24']);
    expect(learned(s, 'ce-a')).toEqual(['10.2.0.0/24', '10.9.0.0/24']);
    // Its one session with the S/R stayed up throughout (no restart: the reflector withdrew blue's routes in place).
    expect(bgp(s, 'ce-x').neighbors.map((n) => [n.name, n.state, n.stats.establishedTransitions])).toEqual([['sr', 'Established', 1]]);
    const table = gcks(s).registrationTable;
    if (typeof table === 'number') throw new Error('registration table summarised');
    expect(table.map((r) => `${r.group}:${r.member}`).sort()).toEqual(['1:ce-a', '1:ce-b', '1:ce-x', '2:ce-c', '2:ce-d']);
    const flow = (from: string, to: string) => s.flows.find((f) => f.from === from && f.to === to)!;
    // Red's traffic to ce-x and blue's own ran through both rekeys and the leave without a loss.
    expect(flow('h-a', 'h-x').received).toBe(80);
    expect(flow('h-c', 'h-d').received).toBe(80);
    // Blue can no longer reach ce-x's site.
    expect(flow('h-d', 'h-x').received).toBe(0);
  });

  it('a CE in two groups served by two S/R devices: one session with each, each group on its own TEK', () => {
    const t = topology({
      groups: ['  - { groupId: 1, name: red, sr: sr, members: [ce-a, ce-b, ce-x] }', '  - { groupId: 2, name: blue, sr: sr2, members: [ce-c, ce-d, ce-x], discovery: auto }'].join('\n'),
    });
    const k = new Kernel(t);
    k.runUntil(6_000_000);
    const s = k.snapshot();
    expect(bgp(s, 'ce-x').neighbors.map((n) => [n.name, n.state])).toEqual([['sr', 'Established'], ['sr2', 'Established']]);
    expect(gkm(s, 'ce-x').groups!.map((g) => [g.group, g.state])).toEqual([[1, 'registered'], [2, 'registered']]);
    expect(learned(s, 'ce-x')).toEqual(['10.1.0.0/24', '10.2.0.0/24', '10.3.0.0/24', '10.4.0.0/24']);
    expect(learned(s, 'ce-a')).toEqual(['10.2.0.0/24', '10.9.0.0/24']);
    expect(learned(s, 'ce-c')).toEqual(['10.4.0.0/24', '10.9.0.0/24']);
    const red = everSpis(s, ['ce-a', 'ce-b']);
    const blue = everSpis(s, ['ce-c', 'ce-d']);
    expect(app<Gcks>(s, 'sr', 'gcks').saTable.map((r) => r.group)).toEqual([1]);
    expect(app<Gcks>(s, 'sr2', 'gcks').saTable.map((r) => r.group)).toEqual([2]);
    const esps = backboneEsp(k, t);
    const xa = tunnelOf(t, 'ce-x');
    for (const [dst, group] of [[tunnelOf(t, 'ce-a'), red], [tunnelOf(t, 'ce-c'), blue], ['10.255.0.30', red], ['10.255.0.31', blue]] as const) {
      const pkts = esps.filter((e) => e.src === xa && e.dst === dst);
      expect(pkts.length, `ce-x -> ${dst}`).toBeGreaterThan(0);
      for (const p of pkts) expect(group.has(p.spi), `ce-x -> ${dst} on ${p.spi}`).toBe(true);
    }
    for (const f of s.flows) expect(f.received, `${f.from}->${f.to}`).toBe(f.from === 'h-a' && f.to === 'h-c' ? 0 : f.sent);
  });

  it('a CE joining a second group of its S/R while its session is up: the group\'s routes reach it, its own reach the group, no restart', () => {
    const t = topology({
      groups: ['  - { groupId: 1, name: red, sr: sr, members: [ce-a, ce-b, ce-x] }', '  - { groupId: 2, name: blue, sr: sr, members: [ce-c, ce-d, ce-x], schedule: [{ at: 4s, join: ce-x }] }'].join('\n'),
      traffic: ['  - { kind: ping, from: h-x, to: h-a, count: 30, interval: 250ms, start: 2s }', '  - { kind: ping, from: h-x, to: h-d, count: 8, interval: 250ms, start: 6s }'].join('\n'),
    });
    const k = new Kernel(t);
    k.runUntil(3_500_000);
    let s = k.snapshot();
    expect(gkm(s, 'ce-x').groups!.map((g) => g.state)).toEqual(['registered', 'idle']);
    expect(learned(s, 'ce-x')).toEqual(['10.1.0.0/24', '10.2.0.0/24']);
    expect(learned(s, 'ce-c')).toEqual(['10.4.0.0/24']);
    k.runUntil(10_000_000); // the last ping leaves at 9.25 s
    s = k.snapshot();
    expect(gkm(s, 'ce-x').groups!.map((g) => g.state)).toEqual(['registered', 'registered']);
    expect(learned(s, 'ce-x')).toEqual(['10.1.0.0/24', '10.2.0.0/24', '10.3.0.0/24', '10.4.0.0/24']);
    expect(learned(s, 'ce-c')).toEqual(['10.4.0.0/24', '10.9.0.0/24']);
    expect(learned(s, 'ce-a')).toEqual(['10.2.0.0/24', '10.9.0.0/24']);
    expect(bgp(s, 'ce-x').neighbors.map((n) => [n.name, n.state, n.stats.establishedTransitions])).toEqual([['sr', 'Established', 1]]);
    for (const f of s.flows) expect(f.received, `${f.from}->${f.to}`).toBe(f.sent);
  });
});
