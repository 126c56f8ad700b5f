import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { Kernel } from '../../src/sim/kernel.ts';
import { decodePcap } from '../../src/sim/pcap.ts';
import { buildReport } from '../../src/sim/snapshot.ts';
import { loadTopology } from '../../src/sim/topology/load.ts';
import { classifyFrame, customerPrefixes, evaluateLab, parseLab, summarizeTap, type LabState } from '../../src/sim/lab-checks.ts';

/** IPv4 header (20 bytes) + 4 bytes of ports, protocol and addresses given. */
function frame(protocol: number, src: number[], dst: number[], sport = 0, dport = 0): Uint8Array {
  const b = new Uint8Array(28);
  b[0] = 0x45;
  b[3] = 28;
  b[9] = protocol;
  b.set(src, 12);
  b.set(dst, 16);
  b[20] = sport >> 8;
  b[21] = sport & 0xff;
  b[22] = dport >> 8;
  b[23] = dport & 0xff;
  return b;
}

describe('classifyFrame', () => {
  it('names BGP, IKE, G-IKEv2, ESP, ICMP and plain IP by protocol and ports', () => {
    const a = [10, 1, 0, 1];
    const b = [10, 2, 0, 1];
    expect(classifyFrame(frame(6, a, b, 40000, 179))?.kind).toBe('bgp');
    expect(classifyFrame(frame(6, a, b, 179, 40000))?.kind).toBe('bgp');
    expect(classifyFrame(frame(6, a, b, 80, 40000))?.kind).toBe('ip');
    expect(classifyFrame(frame(17, a, b, 500, 500))?.kind).toBe('ike');
    expect(classifyFrame(frame(17, a, b, 4500, 4500))?.kind).toBe('ike');
    expect(classifyFrame(frame(17, a, b, 848, 848))?.kind).toBe('gikev2');
    expect(classifyFrame(frame(17, a, b, 5000, 5001))?.kind).toBe('ip');
    expect(classifyFrame(frame(50, a, b))?.kind).toBe('esp');
    expect(classifyFrame(frame(1, a, b))?.kind).toBe('icmp');
    expect(classifyFrame(new Uint8Array(10))).toBeUndefined();
    expect(classifyFrame(new Uint8Array([0x60, ...new Array(39).fill(0)]))).toBeUndefined();
  });
});

const LAB = parseLab(`
lab: test
topology: t.yaml
until: 7s
tasks:
  - title: reach
    checks: [{ reaches: { from: h-a, to: h-c } }, { flowDelivered: { flow: 0 } }]
  - title: protected
    checks: [{ clearBytes: { link: p1--pe2 } }, { espSeen: { link: p1--pe2 } }, { sas: { node: ce-a, min: 6, max: 6 } }]
  - title: no SA to ce-d
    checks: [{ noSaTo: { node: ce-d } }]
  - title: group
    checks: [{ registeredMembers: { node: sr, count: 4 } }]
  - title: mode
    checks: [{ mode: mesh }]
`);

function stateOf(text: string): LabState {
  const r = loadTopology(text);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  const k = new Kernel(r.topology);
  k.runUntil(7_000_000);
  const snapshot = k.snapshot();
  const link = r.topology.links.find((l) => l.id === 'p1--pe2')!;
  const frames = decodePcap(k.pcap(link.index)).records.map((x) => x.bytes);
  return { topology: r.topology, snapshot, report: buildReport(r.topology, snapshot, 'single'), taps: { 'p1--pe2': summarizeTap(frames, customerPrefixes(r.topology)) } };
}

describe('evaluateLab over real runs', () => {
  const shipped = readFileSync('public/labs/unprotected-host.topology.yaml', 'utf8');
  if (!LAB.ok) throw new Error(JSON.stringify(LAB.errors));
  const lab = LAB.lab;

  it('sees no SAs for the CE that protects nothing (and ce-a with tunnels to two sites only)', () => {
    const res = evaluateLab(lab, stateOf(shipped));
    expect(res.map((t) => t.pass)).toEqual([true, false, true, false, true]);
    expect(res[1]!.checks[2]!.detail).toBe('4 SA(s) installed');
    expect(res[2]!.checks[0]!.detail).toBe('ce-d holds 0 SA(s)');
    expect(res[3]!.checks[0]!.detail).toBe('sr runs no group key server (no gcks state in its snapshot)');
  });

  it('passes protection once ce-d has its trusted subnet, and then ce-d has SAs', () => {
    const res = evaluateLab(lab, stateOf(shipped.replace('trustedSubnets: []', 'trustedSubnets: [10.4.0.0/24]')));
    expect(res.map((t) => t.pass)).toEqual([true, true, false, false, true]);
    expect(res[1]!.checks[0]!.detail).toMatch(/^0 clear bytes, [1-9]\d* ESP bytes$/);
    expect(res[2]!.checks[0]!.detail).toMatch(/^ce-d holds 6 SA\(s\); SAs to it at ce-a, ce-b, ce-c$/);
  });

  it('evaluates the same state to the same results (pure)', () => {
    const s = stateOf(shipped);
    expect(evaluateLab(lab, s)).toEqual(evaluateLab(lab, s));
  });

  it('reads the S/R registration count from its gcks state', () => {
    const s = stateOf(shipped);
    const sr = s.snapshot.nodes.find((n) => n.id === 'sr')!;
    const withGcks = { ...s, snapshot: { ...s.snapshot, nodes: s.snapshot.nodes.map((n) => (n === sr ? { ...sr, apps: { ...sr.apps, gcks: { members: ['registered', 'registered', 'registered', 'init-responded'].map((state) => ({ state })) } } } : n)) } };
    expect(evaluateLab(lab, withGcks)[3]!.checks[0]).toMatchObject({ pass: false, detail: '3 registered' });
    const four = { ...s, snapshot: { ...s.snapshot, nodes: s.snapshot.nodes.map((n) => (n === sr ? { ...sr, apps: { gcks: { registered: 4 } } } : n)) } };
    expect(evaluateLab(lab, four)[3]!.pass).toBe(true);
  });
});

describe('parseLab', () => {
  it('reports every error with its path and accepts the shipped labs', () => {
    const bad = parseLab('lab: x\ntopology: 3\nuntil: soon\ntasks: []\n');
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.errors.map((e) => e.path).sort()).toEqual(['tasks', 'topology', 'until']);
    for (const f of ['join-group', 'unprotected-host', 'mesh-vs-group']) {
      const r = parseLab(readFileSync(`public/labs/${f}.yaml`, 'utf8'));
      expect(r.ok, f).toBe(true);
    }
    expect(parseLab('lab: x\ntopology: t.yaml\nuntil: 1.5s\ntasks: [{ title: a, checks: [{ mode: group }] }]').ok && true).toBe(true);
  });
});
