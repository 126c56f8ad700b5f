// DESIGN.md's l3vpn mode end to end (RFC 4364): BGP routes in the forwarding tables, PE VRFs, the
// VPN label across the backbone as MPLS-in-IP (RFC 4023), and two customers with the same addresses.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { parseIpv4, formatIpv4, ipv4Mask } from '../../src/lib/addr.ts';
import { tsLpm } from '../../src/dataplane/lpm.ts';
import { decodeIcmp, decodeIpv4, decodeUdp, encodeIpv4, encodeIcmp, IP_PROTO_ICMP, IP_PROTO_UDP, type Ipv4Header } from '../../src/proto/ip/index.ts';
import { decodeLabelStack, encodeLabelStack, IP_PROTO_MPLS_IN_IP } from '../../src/proto/mpls/label-stack.ts';
import { FLOW_MAGIC, IpNode, PING_ID_BASE } from '../../src/node/ip-node.ts';
import { VrfTables } from '../../src/node/vrf-forwarding.ts';
import { createLab } from '../../src/runtime/node.ts';
import { Kernel } from '../../src/sim/kernel.ts';
import { nodeConfig } from '../../src/sim/node-config.ts';
import { decodePcap } from '../../src/sim/pcap.ts';
import { loadTopology, formatTopologyErrors } from '../../src/sim/topology/load.ts';
import type { Topology } from '../../src/sim/topology/types.ts';
import type { LabSnapshot } from '../../src/sim/snapshot.ts';
import type { NodeOutput } from '../../src/lib/sans-io.ts';

const FIG2 = 'public/topologies/seed001-figure2.yaml';
const FIG1 = 'public/topologies/seed002-figure1.yaml';
const TWO = 'public/topologies/two-customers.yaml';

function load(file: string, mode?: 'l3vpn'): Topology {
  const r = loadTopology(readFileSync(file, 'utf8'), mode ? { mode } : {});
  if (!r.ok) throw new Error(formatTopologyErrors(r.errors));
  return r.topology;
}

function run(t: Topology, untilUs = 10_000_000) {
  console.log(`seed ${t.seed}: ${t.name} (${t.mode})`);
  const k = new Kernel(t);
  k.runUntil(untilUs);
  return { snap: k.snapshot(), pcaps: t.links.map((l) => k.pcap(l.index)) };
}

/** What a captured packet is: plain IP or MPLS-in-IP, and the test flow it belongs to, if any. */
interface Seen {
  outer: Ipv4Header;
  mpls?: { labels: number[]; bottom: boolean; ttl: number };
  inner: Ipv4Header;
  flow?: number;
}

function classify(bytes: Uint8Array): Seen {
  const o = decodeIpv4(bytes);
  if (!o.ok) throw new Error(`malformed capture: ${o.error.message}`);
  let inner = o.value;
  let mpls: Seen['mpls'];
  if (o.value.header.protocol === IP_PROTO_MPLS_IN_IP) {
    const s = decodeLabelStack(o.value.payload);
    if (!s.ok) throw new Error(s.error.message);
    mpls = { labels: s.value.entries.map((e) => e.label), bottom: true, ttl: s.value.entries[0]!.ttl };
    const i = decodeIpv4(s.value.payload);
    if (!i.ok) throw new Error(i.error.message);
    inner = i.value;
  }
  const seen: Seen = { outer: o.value.header, inner: inner.header, ...(mpls ? { mpls } : {}) };
  if (inner.header.protocol === IP_PROTO_ICMP) {
    const m = decodeIcmp(inner.payload);
    if (m.ok && (m.value.type === 'echo-request' || m.value.type === 'echo-reply')) seen.flow = m.value.identifier - PING_ID_BASE;
  } else if (inner.header.protocol === IP_PROTO_UDP) {
    const u = decodeUdp(inner.payload, inner.header.src, inner.header.dst);
    if (u.ok && u.value.payload.length >= 12) {
      const dv = new DataView(u.value.payload.buffer, u.value.payload.byteOffset);
      if (dv.getUint32(0) === FLOW_MAGIC) seen.flow = dv.getUint32(4);
    }
  }
  return seen;
}

const provider = (t: Topology, id: string) => ['pe', 'p', 'sr'].includes(t.nodes.find((n) => n.id === id)!.role);
const vrfApp = (s: LabSnapshot, id: string) => s.nodes.find((n) => n.id === id)!.apps.vrf as { vrfs: Record<string, { label: number; routes: string[] }> };

/** Every flow delivered, the payload in clear inside MPLS-in-IP on every backbone link. */
function checkL3vpn(t: Topology, snap: LabSnapshot, pcaps: Uint8Array[]) {
  for (const f of snap.flows) expect(f.received, `${f.kind} ${f.from}->${f.to}`).toBe(f.sent);
  for (const f of snap.flows) expect(f.sent).toBeGreaterThan(0);
  // UDP datagrams arrive at the flow's destination host and nowhere else.
  for (const def of t.traffic.filter((d) => d.kind === 'udp')) {
    const at = snap.nodes.filter((n) => n.flowsReceived.some((r) => r.index === def.index)).map((n) => n.id);
    // (With overlapping customers several hosts hold the address; the two-customers test says which.)
    const dst = t.nodes.filter((n) => n.role === 'host' && t.links.some((l) => (l.a.node === n.id && l.a.addr === def.to) || (l.b.node === n.id && l.b.addr === def.to))).map((n) => n.id);
    expect(at).toHaveLength(1);
    expect(dst).toContain(at[0]);
  }
  const loopbackOf = new Map(t.nodes.filter((n) => n.role === 'pe').map((n) => [n.loopback!, n.id]));
  let clear = 0;
  for (const l of t.links) {
    if (!provider(t, l.a.node) || !provider(t, l.b.node)) continue;
    for (const r of decodePcap(pcaps[l.index]!).records) {
      const s = classify(r.bytes);
      if (s.flow === undefined) continue;
      // RFC 4023 §3: PE loopback to PE loopback, one label, bottom of stack; the label is the
      // egress PE's label for the VRF (RFC 4364 §5).
      expect(s.mpls, `${l.id}: flow ${s.flow} in plain IP`).toBeDefined();
      expect(loopbackOf.has(s.outer.src) && loopbackOf.has(s.outer.dst), `${l.id}: ${formatIpv4(s.outer.src)} -> ${formatIpv4(s.outer.dst)}`).toBe(true);
      expect(s.mpls!.labels).toHaveLength(1);
      const egress = loopbackOf.get(s.outer.dst)!;
      expect(Object.values(vrfApp(snap, egress).vrfs).map((v) => v.label)).toContain(s.mpls!.labels[0]);
      expect(s.mpls!.ttl).toBe(s.inner.ttl); // uniform model at the push: the label TTL is the IP TTL
      clear++;
    }
  }
  expect(clear, 'customer packets readable on the backbone').toBeGreaterThan(20);
  // P routers and the S/R know no customer prefix: their underlay holds none of the hosts' subnets.
  const hostAddrs = t.links.flatMap((l) => [l.a, l.b]).filter((e) => t.nodes[e.nodeIndex]!.role === 'host').map((e) => e.addr);
  for (const n of t.nodes.filter((x) => x.role === 'p' || x.role === 'sr')) {
    const routes = nodeConfig(t, n.index).routes;
    for (const a of hostAddrs) expect(routes.some((r) => ((a & ipv4Mask(r.len)) >>> 0) === r.prefix), `${n.id} routes ${formatIpv4(a)}`).toBe(false);
  }
}

describe('l3vpn mode: BGP in the forwarding tables, VPN labels across the backbone', () => {
  it('seed 001 Figure 2 in l3vpn mode: every flow delivered, payloads in clear inside MPLS-in-IP', () => {
    const t = load(FIG2, 'l3vpn');
    const { snap, pcaps } = run(t);
    checkL3vpn(t, snap, pcaps);
    // Both sites of pe1 share one VRF: h-a -> h-b never crosses the backbone (no such flow here), but
    // pe1's VRF holds every site, local ones via the CE and remote ones via pe2 with its label.
    expect(vrfApp(snap, 'pe1').vrfs.sites!.routes).toEqual([
      '10.1.0.0/24 via 172.16.1.1 if0',
      '10.2.0.0/24 via 172.16.2.1 if1',
      '10.3.0.0/24 via 10.255.0.2 label 16',
      '10.4.0.0/24 via 10.255.0.2 label 16',
    ]);
  });

  it('seed 002 Figure 1 in l3vpn mode: every flow delivered across three PEs', () => {
    const t = load(FIG1, 'l3vpn');
    const { snap, pcaps } = run(t);
    checkL3vpn(t, snap, pcaps);
    const ceA = snap.nodes.find((n) => n.id === 'ce-a')!;
    expect(ceA.counters.dropNoRoute).toBe(0);
  });

  it('the underlay: hosts default to their CE; CEs and PEs know the access subnets, not the customer LANs', () => {
    const t = load(FIG2, 'l3vpn');
    const idx = (id: string) => t.nodes.find((n) => n.id === id)!.index;
    const text = (id: string) => nodeConfig(t, idx(id)).routes.map((r) => `${formatIpv4(r.prefix)}/${r.len} ${r.nextHop ? formatIpv4(r.nextHop) : 'connected'}`).sort();
    expect(text('h-a')).toEqual(['0.0.0.0/0 10.1.0.1', '10.1.0.0/24 connected']);
    const ce = text('ce-a');
    expect(ce).toContain('172.16.3.0/30 172.16.1.2'); // a remote access subnet (ESP in the protected modes)
    expect(ce).toContain('10.255.0.30/32 172.16.1.2'); // the S/R device
    expect(ce.filter((r) => r.startsWith('10.3.') || r.startsWith('10.4.'))).toEqual([]);
    expect(text('pe1').filter((r) => /^10\.[1-4]\./.test(r))).toEqual([]);
    // Group mode: no customer LAN in the provider's tables either (the group SA carries them), and a
    // member CE routes by its connected subnets and a default route to its PE.
    const g = load(FIG2);
    expect(nodeConfig(g, idx('p1')).routes.some((r) => r.prefix === parseIpv4('10.3.0.0'))).toBe(false);
    expect(nodeConfig(g, idx('ce-a')).routes.filter((r) => r.len === 0).map((r) => r.nextHop)).toEqual([parseIpv4('172.16.1.2')]);
  });
});

describe('two customers with overlapping addresses on the same PEs', () => {
  const red = new Set(['h-red1', 'h-red2', 'ce-red1', 'ce-red2']);
  const blue = new Set(['h-blue1', 'h-blue2', 'ce-blue1', 'ce-blue2']);

  it('each customer\'s packets reach its own sites only, under its own VPN label', () => {
    const t = load(TWO);
    const { snap, pcaps } = run(t);
    checkL3vpn(t, snap, pcaps);
    const flowsOf = (members: Set<string>) => new Set(t.traffic.filter((d) => members.has(d.from)).map((d) => d.index));
    const redFlows = flowsOf(red);
    const blueFlows = flowsOf(blue);
    expect(redFlows.size).toBe(2);
    expect(blueFlows.size).toBe(3); // ping, udp and a tcp transfer (tests/node/tcp-flow.test.ts)
    // The same prefixes in both VRFs of each PE, told apart by their labels.
    const pe1 = vrfApp(snap, 'pe1').vrfs;
    expect(pe1.red!.routes.map((r) => r.split(' ')[0])).toEqual(pe1.blue!.routes.map((r) => r.split(' ')[0]));
    expect(pe1.red!.label).not.toBe(pe1.blue!.label);
    const labelOf = (customer: 'red' | 'blue') => new Set(['pe1', 'pe2'].map((pe) => vrfApp(snap, pe).vrfs[customer]!.label));
    let customerLinks = 0;
    for (const l of t.links) {
      const ends = [l.a.node, l.b.node];
      const customer = ends.some((e) => red.has(e)) ? 'red' : ends.some((e) => blue.has(e)) ? 'blue' : undefined;
      for (const r of decodePcap(pcaps[l.index]!).records) {
        const s = classify(r.bytes);
        if (s.flow === undefined) continue;
        const owner = redFlows.has(s.flow) ? 'red' : 'blue';
        if (customer) {
          customerLinks++;
          expect(owner, `${l.id} carries ${owner}'s flow ${s.flow}`).toBe(customer);
        } else {
          expect(labelOf(owner).has(s.mpls!.labels[0]!), `${l.id}: ${owner} flow ${s.flow} under label ${s.mpls!.labels[0]}`).toBe(true);
        }
      }
    }
    expect(customerLinks).toBeGreaterThan(100);
    // Each UDP flow counted at its own customer's host only (the other customer has the same address).
    const received = (id: string) => snap.nodes.find((n) => n.id === id)!.flowsReceived.map((f) => f.index);
    expect(received('h-red2')).toEqual([...redFlows].filter((i) => t.traffic[i]!.kind === 'udp'));
    expect(received('h-blue1')).toEqual([...blueFlows].filter((i) => t.traffic[i]!.kind === 'udp'));
    expect(received('h-red1')).toEqual([]);
    expect(received('h-blue2')).toEqual([...blueFlows].filter((i) => t.traffic[i]!.kind === 'tcp')); // blue's tcp sink
  });

  it('the loader lets two VPNs reuse a LAN address, never one VPN twice or a VPN and the provider', () => {
    const text = readFileSync(TWO, 'utf8');
    expect(loadTopology(text).ok).toBe(true);
    const sameVpn = text.replace('sites: [ce-blue1, ce-blue2]', 'sites: [ce-red1, ce-red2, ce-blue1, ce-blue2]').replace(/- \{ id: red, routeTarget: "65000:100", sites: \[ce-red1, ce-red2\] \}\n/, '');
    const r = loadTopology(sameVpn);
    expect(r.ok).toBe(false);
    expect(!r.ok && formatTopologyErrors(r.errors)).toMatch(/expected an address not used elsewhere, got "10\.1\.0\.10\/24"/);
    const clash = text.replace('{ node: h-red1, address: 10.1.0.10/24 }, { node: ce-red1, address: 10.1.0.1/24 }', '{ node: h-red1, address: 172.16.1.9/24 }, { node: ce-red1, address: 172.16.1.10/24 }');
    expect(loadTopology(clash).ok).toBe(true);
    const clash2 = text.replace('{ node: h-red1, address: 10.1.0.10/24 }, { node: ce-red1, address: 10.1.0.1/24 }', '{ node: h-red1, address: 172.16.1.5/24 }, { node: ce-red1, address: 172.16.1.20/24 }');
    expect(loadTopology(clash2).ok).toBe(false); // 172.16.1.5 is blue's provider-assigned access address
  });

  it('same seed: byte-identical captures in one thread, in workers, and with the TypeScript data plane', async () => {
    const t = load(TWO);
    const go = async (runtime: 'single' | 'workers', dataplane: 'wasm' | 'ts') => {
      const lab = await createLab(t, { runtime, dataplane, maxWorkers: 2 });
      try {
        await lab.runUntil(3_000_000);
        return await Promise.all(t.links.map((l) => lab.pcap(l.index)));
      } finally {
        await lab.close();
      }
    };
    const a = await go('single', 'wasm');
    expect(await go('workers', 'wasm')).toEqual(a);
    expect(await go('single', 'ts')).toEqual(a);
  });

  it('tshark reads every capture with no malformed packet and shows MPLS with the inner IP', async (ctx) => {
    if (!existsSync('/usr/bin/tshark')) ctx.skip();
    const dir = mkdtempSync(join(tmpdir(), 'vpnlab-l3vpn-'));
    expect(await main(['run', TWO, '--until', '6', '--quiet', '--pcap', dir], () => {}, () => {})).toBe(0);
    const protocols = new Set<string>();
    for (const f of readdirSync(dir)) {
      const path = join(dir, f);
      // One tshark per file: the packets' fields, then the expert summary of errors.
      const out = execFileSync('tshark', ['-r', path, '-n', '-T', 'fields', '-e', 'frame.protocols', '-e', 'mpls.label', '-e', '_ws.malformed', '-z', 'expert,error'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const summary = out.search(/^=+$/m); // printed only when there is an error to list
      const cut = summary < 0 ? out.length : summary;
      expect(out.slice(cut), f).not.toMatch(/Malformed/i);
      for (const line of out.slice(0, cut).split('\n').filter(Boolean)) {
        expect(line, `${f}: ${line}`).not.toMatch(/malformed/);
        expect(line.startsWith('raw:ip:'), `${f}: ${line}`).toBe(true);
        if (f === 'pe1--p1.pcap') protocols.add(line);
      }
    }
    expect([...protocols]).toEqual(expect.arrayContaining(['raw:ip:mpls:ip:icmp:data\t16\t', 'raw:ip:mpls:ip:icmp:data\t17\t', 'raw:ip:mpls:ip:udp:data\t16\t', 'raw:ip:mpls:ip:udp:data\t17\t']));
  });
});

describe('a PE forwarding by VRF (RFC 4364 §5) in isolation', () => {
  const a = (s: string) => parseIpv4(s)!;
  // if0: red CE (172.16.1.1), if1: blue CE (172.16.1.5), if2: the core (P at 100.64.0.2).
  function pe() {
    const node = new IpNode({
      index: 0,
      id: 'pe1',
      role: 'pe',
      loopback: a('10.255.0.1'),
      interfaces: [
        { ifIndex: 0, peer: 'ce-red1', addr: a('172.16.1.2'), len: 30 },
        { ifIndex: 1, peer: 'ce-blue1', addr: a('172.16.1.6'), len: 30 },
        { ifIndex: 2, peer: 'p1', addr: a('100.64.0.1'), len: 30 },
      ],
      routes: [
        { prefix: a('172.16.1.0'), len: 30, ifIndex: 0, nextHop: 0 },
        { prefix: a('172.16.1.4'), len: 30, ifIndex: 1, nextHop: 0 },
        { prefix: a('100.64.0.0'), len: 30, ifIndex: 2, nextHop: 0 },
        { prefix: a('10.255.0.2'), len: 32, ifIndex: 2, nextHop: a('100.64.0.2') },
        { prefix: a('172.16.2.0'), len: 30, ifIndex: 2, nextHop: a('100.64.0.2') },
      ],
      flows: [],
      seed: 1,
    });
    const vrfs = new VrfTables(
      [
        { name: 'red', label: 16, ifIndexes: [0] },
        { name: 'blue', label: 17, ifIndexes: [1] },
      ],
      tsLpm,
    );
    vrfs.set(0, a('10.1.0.0'), 24, { kind: 'attached', ifIndex: 0, nextHop: a('172.16.1.1') });
    vrfs.set(0, a('10.2.0.0'), 24, { kind: 'remote', egress: a('10.255.0.2'), label: 16 });
    vrfs.set(1, a('10.1.0.0'), 24, { kind: 'attached', ifIndex: 1, nextHop: a('172.16.1.5') });
    vrfs.set(1, a('10.2.0.0'), 24, { kind: 'remote', egress: a('10.255.0.2'), label: 17 });
    node.useVrfs(vrfs);
    return node;
  }
  const packet = (src: string, dst: string, ttl = 64) =>
    encodeIpv4(
      { dscp: 0x28, ecn: 0, identification: 7, dontFragment: false, moreFragments: false, fragmentOffset: 0, ttl, protocol: IP_PROTO_ICMP, src: a(src), dst: a(dst), options: new Uint8Array(0) },
      encodeIcmp({ type: 'echo-request', identifier: 1, sequence: 1, data: new Uint8Array(8) }),
    );
  const drain = (n: IpNode) => {
    const out: NodeOutput[] = [];
    for (let o = n.poll(); o; o = n.poll()) out.push(o);
    return out.filter((o): o is Extract<NodeOutput, { kind: 'tx' }> => o.kind === 'tx');
  };

  it('a packet from red\'s CE to a remote red prefix leaves as MPLS-in-IP with red\'s remote label', () => {
    const n = pe();
    const p = packet('10.1.0.10', '10.2.0.10', 63);
    n.handle({ kind: 'rx', ifIndex: 0, bytes: p.slice() }, 0);
    const [tx] = drain(n);
    expect(tx!.ifIndex).toBe(2);
    const outer = decodeIpv4(tx!.bytes);
    expect(outer.ok && outer.value.header).toMatchObject({ protocol: 137, src: a('10.255.0.1'), dst: a('10.255.0.2'), ttl: 64 });
    // Payload: one label stack entry 00010 | TC 5 (from DSCP 0x28 = CS5) | S 1 | TTL 62, then the
    // customer's packet with its TTL decremented by this hop.
    const payload = outer.ok ? outer.value.payload : new Uint8Array(0);
    expect([...payload.subarray(0, 4)]).toEqual([0x00, 0x01, 0x0b, 0x3e]);
    const fixed = decodeIpv4(payload.subarray(4));
    expect(fixed.ok && fixed.value.header).toMatchObject({ ttl: 62, src: a('10.1.0.10'), dst: a('10.2.0.10') });
    expect(fixed.ok && [...fixed.value.payload]).toEqual([...p.subarray(20)]);
    expect(n.counters.mplsEncapsulated).toBe(1);
  });

  it('the same destination from blue\'s CE takes blue\'s label', () => {
    const n = pe();
    n.handle({ kind: 'rx', ifIndex: 1, bytes: packet('10.1.0.10', '10.2.0.10') }, 0);
    const [tx] = drain(n);
    const outer = decodeIpv4(tx!.bytes);
    const s = outer.ok ? decodeLabelStack(outer.value.payload) : undefined;
    expect(s?.ok && s.value.entries[0]!.label).toBe(17);
  });

  it('the egress pops the label and forwards by the VRF it names; an unknown label is dropped', () => {
    const n = pe();
    const wrap = (label: number) =>
      encodeIpv4(
        { dscp: 0, ecn: 0, identification: 1, dontFragment: false, moreFragments: false, fragmentOffset: 0, ttl: 62, protocol: IP_PROTO_MPLS_IN_IP, src: a('10.255.0.2'), dst: a('10.255.0.1'), options: new Uint8Array(0) },
        encodeLabelStack([{ label, tc: 0, ttl: 61 }], packet('10.2.0.10', '10.1.0.10', 62)),
      );
    n.handle({ kind: 'rx', ifIndex: 2, bytes: wrap(17) }, 0);
    let [tx] = drain(n);
    expect(tx!.ifIndex).toBe(1); // blue's CE
    const d = decodeIpv4(tx!.bytes);
    expect(d.ok && d.value.header).toMatchObject({ src: a('10.2.0.10'), dst: a('10.1.0.10'), ttl: 61 });
    n.handle({ kind: 'rx', ifIndex: 2, bytes: wrap(16) }, 0);
    [tx] = drain(n);
    expect(tx!.ifIndex).toBe(0); // red's CE
    n.handle({ kind: 'rx', ifIndex: 2, bytes: wrap(99) }, 0);
    expect(drain(n)).toEqual([]);
    expect(n.counters.dropMplsLabel).toBe(1);
    expect(n.counters.mplsDecapsulated).toBe(2);
  });

  it('a VRF miss falls back to the global table; the global table never reaches a customer prefix', () => {
    const n = pe();
    // A CE's ESP to another CE's access address (the protected modes): not in the VRF, global.
    n.handle({ kind: 'rx', ifIndex: 0, bytes: packet('172.16.1.1', '172.16.2.1') }, 0);
    const [tx] = drain(n);
    expect(tx!.ifIndex).toBe(2);
    expect(decodeIpv4(tx!.bytes).ok && tx!.bytes[9]).toBe(IP_PROTO_ICMP); // forwarded as it was, no label
    // From the core, unlabelled, to a customer prefix: no route in the global table.
    n.handle({ kind: 'rx', ifIndex: 2, bytes: packet('100.64.0.2', '10.1.0.10') }, 0);
    expect(drain(n).every((o) => o.ifIndex !== 0 && o.ifIndex !== 1)).toBe(true);
    expect(n.counters.dropNoRoute).toBeGreaterThan(0);
    expect(n.counters.mplsEncapsulated).toBe(0);
  });
});
