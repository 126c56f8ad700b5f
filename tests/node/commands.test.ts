// Operator commands at run time (NodeCommand ping, traceroute, clear-bgp) on seed 001 Figure 2 in
// l3vpn mode: a ping that crosses the VPN, a traceroute that names every hop that answers (ICMP
// time exceeded, RFC 792; port unreachable at the end), a BGP reset with Cease / Administrative
// Reset (RFC 4486) that goes down and comes back, and the same results in the worker runtime.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { NodeCommand } from '../../src/lib/sans-io.ts';
import { IpNode } from '../../src/node/ip-node.ts';
import { PROBE_WAIT_US, TRACEROUTE_PORT_BASE } from '../../src/node/probes.ts';
import type { RuntimePingReport, RuntimeTracerouteReport } from '../../src/node/types.ts';
import { decodeIcmp, decodeIpv4, encodeIpv4, encodeUdp, IP_PROTO_ICMP, IP_PROTO_UDP } from '../../src/proto/ip/index.ts';
import { parseIpv4 } from '../../src/lib/addr.ts';
import { createLab } from '../../src/runtime/node.ts';
import { Kernel } from '../../src/sim/kernel.ts';
import { decodePcap } from '../../src/sim/pcap.ts';
import { loadTopology, formatTopologyErrors } from '../../src/sim/topology/load.ts';
import type { Topology } from '../../src/sim/topology/types.ts';

const FIG2 = 'public/topologies/seed001-figure2.yaml';

function fig2(mode: 'l3vpn' | 'group' = 'l3vpn'): Topology {
  const r = loadTopology(readFileSync(FIG2, 'utf8'), { mode });
  if (!r.ok) throw new Error(formatTopologyErrors(r.errors));
  console.log(`seed ${r.topology.seed}: ${r.topology.name} (${r.topology.mode})`);
  return r.topology;
}

const idx = (t: Topology, id: string) => t.nodes.findIndex((n) => n.id === id);

function started(t: Topology): Kernel {
  const k = new Kernel(t);
  k.runUntil(10_000_000); // BGP converged, configured flows done
  return k;
}

function runtimeFlows(k: Kernel, t: Topology, id: string) {
  return k.snapshot().nodes[idx(t, id)]!.runtimeFlows ?? [];
}

describe('ping at run time', () => {
  it('crosses the l3vpn backbone from h-a to h-c; configured flows do not change', () => {
    const t = fig2();
    const k = started(t);
    const before = k.snapshot().flows;
    k.command(idx(t, 'h-a'), { kind: 'ping', dst: '10.3.0.10', count: 3, sizeBytes: 100, intervalUs: 1_000_000 });
    k.runUntil(11_000_001);
    const mid = runtimeFlows(k, t, 'h-a')[0] as RuntimePingReport;
    expect(mid).toMatchObject({ kind: 'ping', id: 1, dst: '10.3.0.10', src: '10.1.0.10', sent: 2, done: false });
    k.runUntil(20_000_000);
    const p = runtimeFlows(k, t, 'h-a')[0] as RuntimePingReport;
    expect(p).toMatchObject({ sent: 3, received: 3, done: true, startUs: 10_000_001 });
    expect(p.error).toBeUndefined();
    expect(p.events.map((e) => [e.kind, e.seq, e.from])).toEqual([
      ['reply', 1, '10.3.0.10'],
      ['reply', 2, '10.3.0.10'],
      ['reply', 3, '10.3.0.10'],
    ]);
    // Two 2 ms access links and two 5 ms backbone links each way, plus the site LANs: > 28 ms.
    expect(p.rttMinUs!).toBeGreaterThan(28_000);
    expect(p.rttMaxUs!).toBeLessThan(40_000);
    const reply = p.events[0]!;
    expect(reply.kind === 'reply' && reply.bytes).toBe(108); // 8 ICMP header + 100 data
    expect(k.snapshot().flows).toEqual(before);
    expect(runtimeFlows(k, t, 'h-c')).toEqual([]); // the echoing side has no run-time flow
  });

  it('reports an address without a route, and a destination that never answers', () => {
    const t = fig2();
    const k = started(t);
    const toHost = t.links.find((l) => [l.a.node, l.b.node].sort().join() === 'ce-c,h-c')!;
    k.setLinkUp(toHost.index, false);
    k.command(idx(t, 'p1'), { kind: 'ping', dst: '10.3.0.10', count: 2, sizeBytes: 56, intervalUs: 1_000_000 });
    k.command(idx(t, 'h-a'), { kind: 'ping', dst: '10.3.0.10', count: 2, sizeBytes: 56, intervalUs: 1_000_000 });
    k.command(idx(t, 'h-a'), { kind: 'ping', dst: 'nope', count: 2, sizeBytes: 56, intervalUs: 1_000_000 });
    k.runUntil(10_000_000 + 1_000_000 + PROBE_WAIT_US);
    expect(runtimeFlows(k, t, 'p1')[0]).toMatchObject({ error: 'no route to 10.3.0.10', done: true, sent: 0 });
    const silent = runtimeFlows(k, t, 'h-a');
    expect(silent[0]).toMatchObject({ sent: 2, received: 0, events: [], done: false });
    expect(silent[1]).toMatchObject({ error: 'bad address nope', done: true });
    k.runUntil(10_000_000 + 1_000_001 + PROBE_WAIT_US);
    expect(runtimeFlows(k, t, 'h-a')[0]).toMatchObject({ sent: 2, received: 0, done: true });
  });
});

describe('traceroute at run time', () => {
  it('lists CE, ingress PE, egress PE, CE and the host across the l3vpn (the P router is hidden by MPLS-in-IP)', () => {
    const t = fig2();
    const k = started(t);
    k.command(idx(t, 'h-a'), { kind: 'traceroute', dst: '10.3.0.10', maxHops: 30 });
    k.runUntil(12_000_000);
    const tr = runtimeFlows(k, t, 'h-a')[0] as RuntimeTracerouteReport;
    expect(tr).toMatchObject({ kind: 'traceroute', src: '10.1.0.10', reached: true, done: true });
    expect(tr.hops.map((h) => [h.ttl, h.probes.map((p) => p.from)])).toEqual([
      [1, ['10.1.0.1', '10.1.0.1', '10.1.0.1']],
      [2, ['172.16.1.2', '172.16.1.2', '172.16.1.2']],
      [3, ['172.16.3.2', '172.16.3.2', '172.16.3.2']],
      [4, ['172.16.3.1', '172.16.3.1', '172.16.3.1']],
      [5, ['10.3.0.10', '10.3.0.10', '10.3.0.10']],
    ]);
    expect(tr.hops.slice(0, 4).every((h) => h.probes.every((p) => p.answer === 'time-exceeded'))).toBe(true);
    expect(tr.hops[4]!.probes.every((p) => p.answer === 'port-unreachable')).toBe(true);
    const rtts = tr.hops.map((h) => h.probes[0]!.rttUs!);
    for (let i = 1; i < rtts.length; i++) expect(rtts[i]!).toBeGreaterThan(rtts[i - 1]!);
  });

  it('stops at the hop limit and marks hops that never answer', () => {
    const t = fig2();
    const k = started(t);
    k.command(idx(t, 'h-a'), { kind: 'traceroute', dst: '10.3.0.10', maxHops: 2 });
    // 10.9.9.9: h-a's default route takes it to ce-a, which has no route: net unreachable (!N).
    k.command(idx(t, 'h-a'), { kind: 'traceroute', dst: '10.9.9.9', maxHops: 5 });
    k.runUntil(12_000_000);
    const [short, lost] = runtimeFlows(k, t, 'h-a') as RuntimeTracerouteReport[];
    expect(short!.hops.map((h) => h.probes[0]!.from)).toEqual(['10.1.0.1', '172.16.1.2']);
    expect(short).toMatchObject({ reached: false, done: true });
    // TTL 1 runs out at ce-a; TTL 2 finds no route there: !N, and the trace stops.
    expect(lost!.hops.map((h) => [h.ttl, h.probes.map((p) => `${p.from} ${p.answer}`)])).toEqual([
      [1, Array(3).fill('10.1.0.1 time-exceeded')],
      [2, Array(3).fill('10.1.0.1 net-unreachable')],
    ]);
    expect(lost).toMatchObject({ reached: false, done: true });
  });

  it('a lost probe waits PROBE_WAIT_US and is recorded without an address', () => {
    const t = fig2();
    const k = started(t);
    const ceC = idx(t, 'ce-c');
    const toHost = t.links.find((l) => [l.a.node, l.b.node].sort().join() === 'ce-c,h-c')!;
    k.setLinkUp(toHost.index, false);
    k.command(ceC, { kind: 'traceroute', dst: '10.3.0.10', maxHops: 1 });
    k.runUntil(10_000_000 + 3 * PROBE_WAIT_US);
    const tr = runtimeFlows(k, t, 'ce-c')[0] as RuntimeTracerouteReport;
    expect(tr.hops).toEqual([{ ttl: 1, probes: [{}, {}] }]);
    expect(tr.done).toBe(false);
    k.runUntil(10_000_001 + 3 * PROBE_WAIT_US);
    expect((runtimeFlows(k, t, 'ce-c')[0] as RuntimeTracerouteReport).hops[0]!.probes).toEqual([{}, {}, {}]);
  });
});

describe('ICMP errors (RFC 792) the probes rely on', () => {
  const node = () => {
    const t = fig2();
    return { t, n: new IpNode({ index: 0, id: 'r', role: 'host', interfaces: [{ ifIndex: 0, peer: 'x', addr: parseIpv4('10.0.0.1')!, len: 24 }], routes: [{ prefix: 0, len: 0, ifIndex: 0, nextHop: parseIpv4('10.0.0.254')! }], flows: [], seed: t.seed }) };
  };
  const udpTo = (dstPort: number, ttl: number, dst = '10.0.0.1') => {
    const src = parseIpv4('10.5.0.5')!;
    const d = parseIpv4(dst)!;
    const udp = encodeUdp({ srcPort: 40000, dstPort, payload: new Uint8Array(4) }, src, d);
    return encodeIpv4({ dscp: 0, ecn: 0, identification: 7, dontFragment: false, moreFragments: false, fragmentOffset: 0, ttl, protocol: IP_PROTO_UDP, src, dst: d, options: new Uint8Array(0) }, udp);
  };
  const icmpOut = (n: IpNode) => {
    const out = [];
    for (let o = n.poll(); o; o = n.poll()) if (o.kind === 'tx') out.push(o.bytes);
    return out.map((b) => {
      const ip = decodeIpv4(b);
      if (!ip.ok || ip.value.header.protocol !== IP_PROTO_ICMP) throw new Error('not ICMP');
      const m = decodeIcmp(ip.value.payload);
      if (!m.ok) throw new Error(m.error.message);
      return { dst: ip.value.header.dst, m: m.value };
    });
  };

  it('a UDP datagram to a closed port gets port unreachable quoting it', () => {
    const { n } = node();
    n.handle({ kind: 'rx', ifIndex: 0, bytes: udpTo(TRACEROUTE_PORT_BASE, 9) }, 5);
    const [e] = icmpOut(n);
    expect(e!.dst).toBe(parseIpv4('10.5.0.5'));
    expect(e!.m).toMatchObject({ type: 'destination-unreachable', code: 3 });
    const q = e!.m.type === 'destination-unreachable' ? e!.m.original : new Uint8Array();
    expect(q.length).toBe(28);
    expect((q[22]! << 8) | q[23]!).toBe(TRACEROUTE_PORT_BASE);
  });

  it('a packet whose TTL runs out gets time exceeded from the router, not forwarded', () => {
    const { n } = node();
    n.handle({ kind: 'rx', ifIndex: 0, bytes: udpTo(9, 1, '10.7.0.7') }, 5);
    const out = icmpOut(n);
    expect(out).toHaveLength(1);
    expect(out[0]!.m).toMatchObject({ type: 'time-exceeded', code: 0 });
    expect(n.counters.dropTtl).toBe(1);
  });
});

describe('clear bgp', () => {
  it('resets ce-a with pe1 (Cease, Administrative Reset), the session comes back and routes are re-learned', () => {
    const t = fig2();
    const k = started(t);
    const ceA = idx(t, 'ce-a');
    const bgpOf = () => k.snapshot().nodes[ceA]!.apps.bgp as { neighbors: { name: string; state: string }[]; rib: { locRib: Record<string, { nlri: string }[]> } };
    const learned = () => (bgpOf().rib.locRib['ipv4-unicast'] ?? []).map((r) => r.nlri).sort();
    const routesBefore = learned();
    expect(routesBefore).toContain('10.3.0.0/24');
    expect(bgpOf().neighbors.map((n) => n.state)).toEqual(['Established']);
    k.command(ceA, { kind: 'clear-bgp' });
    k.runUntil(10_000_100);
    expect(bgpOf().neighbors[0]!.state).not.toBe('Established');
    expect(learned()).not.toContain('10.3.0.0/24');
    k.runUntil(20_000_000);
    expect(bgpOf().neighbors[0]!.state).toBe('Established');
    expect(learned()).toEqual(routesBefore);
    // The NOTIFICATION on the wire: Cease (6), Administrative Reset (4).
    const access = t.links.find((l) => [l.a.node, l.b.node].sort().join() === 'ce-a,pe1')!;
    const notes = decodePcap(k.pcap(access.index))
      .records.filter((r) => r.tUs > 10_000_000)
      .map((r) => decodeIpv4(r.bytes))
      .filter((d) => d.ok && d.value.header.protocol === 6)
      .map((d) => (d.ok ? d.value.payload : new Uint8Array()))
      .map((tcp) => tcp.subarray((tcp[12]! >> 4) * 4))
      .filter((p) => p.length >= 21 && p.subarray(0, 16).every((b) => b === 0xff) && p[18] === 3) // RFC 4271 §4.1: type 3 NOTIFICATION
      .map((p) => [p[19], p[20]]);
    expect(notes).toEqual([[6, 4]]);
    // And the data plane follows: a ping crosses again.
    k.command(idx(t, 'h-a'), { kind: 'ping', dst: '10.3.0.10', count: 1, sizeBytes: 56, intervalUs: 1_000_000 });
    k.runUntil(21_000_000);
    expect(runtimeFlows(k, t, 'h-a')[0]).toMatchObject({ received: 1, done: true });
  });

  it('clear bgp NEIGHBOR resets only that one; an unknown name or a BGP-less node changes nothing', () => {
    const t = fig2();
    const k = started(t);
    const pe1 = idx(t, 'pe1');
    const states = () => Object.fromEntries((k.snapshot().nodes[pe1]!.apps.bgp as { neighbors: { name: string; state: string }[] }).neighbors.map((n) => [n.name, n.state]));
    const all = states();
    expect(Object.values(all).every((s) => s === 'Established')).toBe(true);
    k.command(pe1, { kind: 'clear-bgp', neighbor: '172.16.2.1' }); // ce-b, by address
    k.command(pe1, { kind: 'clear-bgp', neighbor: 'nobody' });
    k.command(idx(t, 'h-a'), { kind: 'clear-bgp' });
    k.runUntil(10_000_100);
    const after = states();
    const changed = Object.keys(all).filter((n) => after[n] !== 'Established');
    expect(changed).toEqual(['ce-b']);
  });
});

describe('run-time commands in the worker runtime', () => {
  it('give the same snapshots and trace as the kernel', async () => {
    const t = fig2();
    const cmds: [number, string, NodeCommand][] = [
      [9_000_000, 'h-a', { kind: 'ping', dst: '10.3.0.10', count: 3, sizeBytes: 64, intervalUs: 500_000 }],
      [9_000_000, 'h-b', { kind: 'traceroute', dst: '10.4.0.10', maxHops: 8 }],
      [10_000_000, 'ce-c', { kind: 'clear-bgp', neighbor: '*' }],
    ];
    async function record(runtime: 'single' | 'workers') {
      const lab = await createLab(t, { runtime, trace: true, dataplane: 'ts', ...(runtime === 'workers' ? { maxWorkers: 2 } : {}) });
      try {
        for (const [at, id, c] of cmds) {
          await lab.runUntil(at);
          await lab.command(idx(t, id), c);
        }
        await lab.runUntil(16_000_000);
        return { snapshot: await lab.snapshot(), trace: await lab.trace() };
      } finally {
        await lab.close();
      }
    }
    const single = await record('single');
    const workers = await record('workers');
    const flows = single.snapshot.nodes.flatMap((n) => n.runtimeFlows ?? []);
    expect(flows.map((f) => [f.kind, f.done])).toEqual([
      ['ping', true],
      ['traceroute', true],
    ]);
    expect(workers.snapshot).toEqual(single.snapshot);
    expect(workers.trace).toEqual(single.trace);
  }, 60_000);
});
