// Issue 6 item 1: tcp traffic flows. A host connects to a sink server on another host, sends its
// flow's deterministic stream and closes; the report says what was sent, acknowledged and received,
// with the handshake time, completion time, goodput and retransmissions. Scenarios on seed 001
// Figure 2 in l3vpn and mesh mode, with and without loss on the backbone.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { formatIpv4 } from '../../src/lib/addr.ts';
import { decodeIpv4, IP_PROTO_ESP, IP_PROTO_TCP } from '../../src/proto/ip/index.ts';
import { decodeTcpSegment, TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_SYN, type TcpSegment } from '../../src/proto/ip/tcp-segment.ts';
import { decodeLabelStack, IP_PROTO_MPLS_IN_IP } from '../../src/proto/mpls/label-stack.ts';
import { TCP_EPHEMERAL_PORT_MAX, TCP_EPHEMERAL_PORT_MIN } from '../../src/proto/ip/tcp.ts';
import { tcpFlowStream } from '../../src/node/tcp-flow-app.ts';
import { createLab } from '../../src/runtime/node.ts';
import { Kernel } from '../../src/sim/kernel.ts';
import { decodePcap } from '../../src/sim/pcap.ts';
import { ReportSchema } from '../../src/sim/report-schema.ts';
import { buildReport, type FlowReport, type LabSnapshot } from '../../src/sim/snapshot.ts';
import { formatTopologyErrors, loadTopology } from '../../src/sim/topology/load.ts';
import type { Mode, Topology } from '../../src/sim/topology/types.ts';

const FIG2 = 'public/topologies/seed001-figure2.yaml';
const TWO = 'public/topologies/two-customers.yaml';
const MB = 1_000_000;

/** Figure 2 with one tcp flow appended (h-a → h-c, station 23 to station 21), optionally 2% loss on pe1--p1. */
function fig2Text(opts: { loss?: boolean; bytes?: string } = {}): string {
  let text = `${readFileSync(FIG2, 'utf8')}  - { kind: tcp, from: h-a, to: h-c, bytes: ${opts.bytes ?? '1MB'}, start: 3s }\n`;
  if (opts.loss) {
    const link = '- { endpoints: [pe1, p1], latency: 5ms }';
    expect(text).toContain(link);
    text = text.replace(link, '- { endpoints: [pe1, p1], latency: 5ms, loss: 2% }');
  }
  return text;
}

function load(text: string, mode?: Mode): Topology {
  const r = loadTopology(text, mode ? { mode } : {});
  if (!r.ok) throw new Error(formatTopologyErrors(r.errors));
  return r.topology;
}

function run(t: Topology, untilUs = 8_000_000) {
  console.log(`seed ${t.seed}: ${t.name} (${t.mode}), run to ${untilUs} us`);
  const k = new Kernel(t);
  k.runUntil(untilUs);
  const snap = k.snapshot();
  return { snap, pcaps: t.links.map((l) => k.pcap(l.index)) };
}

const tcpFlow = (snap: LabSnapshot): FlowReport => {
  const f = snap.flows.find((x) => x.kind === 'tcp');
  expect(f).toBeDefined();
  return f!;
};

interface Seg extends TcpSegment {
  tUs: number;
  src: number;
  dst: number;
}

/** The TCP segments of one link's capture in plain IPv4 (a host LAN), between ports `a` and `b`. */
function segments(t: Topology, pcaps: Uint8Array[], linkId: string, ports: [number, number]): Seg[] {
  const link = t.links.find((l) => l.id === linkId)!;
  const out: Seg[] = [];
  for (const r of decodePcap(pcaps[link.index]!).records) {
    const ip = decodeIpv4(r.bytes);
    if (!ip.ok) throw new Error(`${linkId}: malformed IPv4`);
    if (ip.value.header.protocol !== IP_PROTO_TCP) continue;
    const s = decodeTcpSegment(ip.value.payload, ip.value.header.src, ip.value.header.dst);
    if (!s.ok) throw new Error(`${linkId}: malformed TCP (${s.error.message})`);
    const p = [s.value.srcPort, s.value.dstPort];
    if (!(p.includes(ports[0]) && p.includes(ports[1]))) continue;
    out.push({ ...s.value, tUs: Number(r.tUs), src: ip.value.header.src, dst: ip.value.header.dst });
  }
  return out;
}

/** The client's stream as the capture carries it: payloads placed by sequence number from the ISN. */
function streamOf(segs: Seg[], clientPort: number): Uint8Array {
  const syn = segs.find((s) => s.srcPort === clientPort && s.flags & TCP_FLAG_SYN)!;
  const data = segs.filter((s) => s.srcPort === clientPort && s.payload.length > 0);
  const end = Math.max(...data.map((s) => ((s.seq - syn.seq - 1) >>> 0) + s.payload.length));
  const out = new Uint8Array(end);
  for (const s of data) out.set(s.payload, (s.seq - syn.seq - 1) >>> 0);
  return out;
}

/** Data segments that repeat sequence space already sent (what the client counts as retransmits). */
function resent(segs: Seg[], clientPort: number): number {
  let high: number | undefined;
  let n = 0;
  for (const s of segs.filter((x) => x.srcPort === clientPort)) {
    const len = s.payload.length + (s.flags & TCP_FLAG_FIN ? 1 : 0) + (s.flags & TCP_FLAG_SYN ? 1 : 0);
    if (len === 0) continue;
    if (high !== undefined && ((s.seq - high) | 0) < 0) n++;
    const end = (s.seq + len) >>> 0;
    if (high === undefined || ((end - high) | 0) > 0) high = end;
  }
  return n;
}

describe('tcp flows: the topology file', () => {
  it('resolves defaults: port 80, 1MB, a source port from the ephemeral range drawn from the seed', () => {
    const base = readFileSync(FIG2, 'utf8');
    const t = load(`${base}  - { kind: tcp, from: h-a, to: h-c }\n  - { kind: tcp, from: h-b, to: 10.4.0.10, bytes: 64KiB, start: 2.5s, dstPort: 8080, srcPort: 40000 }\n`);
    const [a, b] = t.traffic.filter((d) => d.kind === 'tcp');
    expect(a).toMatchObject({ kind: 'tcp', from: 'h-a', toLabel: 'h-c', bytes: MB, startUs: 1_000_000, dstPort: 80 });
    expect(b).toMatchObject({ bytes: 65_536, startUs: 2_500_000, dstPort: 8080, srcPort: 40_000, to: 0x0a04000a });
    const port = a!.kind === 'tcp' ? a!.srcPort : -1;
    expect(port).toBeGreaterThanOrEqual(TCP_EPHEMERAL_PORT_MIN);
    expect(port).toBeLessThanOrEqual(TCP_EPHEMERAL_PORT_MAX);
    // The same seed gives the same port; another seed (here --seed) draws again.
    const again = load(`${base}  - { kind: tcp, from: h-a, to: h-c }\n`).traffic.at(-1)!;
    expect(again.kind === 'tcp' && again.srcPort).toBe(port);
    const other = loadTopology(`${base}  - { kind: tcp, from: h-a, to: h-c }\n`, { seed: 7 });
    expect(other.ok && other.topology.traffic.at(-1)!.kind === 'tcp' && (other.topology.traffic.at(-1) as { srcPort: number }).srcPort).not.toBe(port);
  });

  it('rejects a stream shorter than its header, port 179 and unknown units, naming the field', () => {
    const base = readFileSync(FIG2, 'utf8');
    const errors = (flow: string) => {
      const r = loadTopology(`${base}  - ${flow}\n`);
      expect(r.ok).toBe(false);
      return r.ok ? '' : formatTopologyErrors(r.errors);
    };
    expect(errors('{ kind: tcp, from: h-a, to: h-c, bytes: 4 }')).toMatch(/traffic\[4\]\.bytes.*expected a byte count from 12 to 1GiB/);
    expect(errors('{ kind: tcp, from: h-a, to: h-c, bytes: 2MiB, dstPort: 179 }')).toMatch(/traffic\[4\]\.dstPort.*other than 179/);
    expect(errors('{ kind: tcp, from: h-a, to: h-c, bytes: 1.5Mb }')).toMatch(/traffic\[4\]\.bytes/);
    expect(errors('{ kind: tcp, from: h-a, to: h-c, bytes: 2GiB }')).toMatch(/traffic\[4\]\.bytes/);
    expect(errors('{ kind: tcpx, from: h-a, to: h-c }')).toMatch(/expected kind "ping", "udp" or "tcp", got "tcpx"/);
  });
});

describe('tcp flows: seed 001 Figure 2 (h-a → h-c)', () => {
  it('l3vpn: every byte delivered in order, FIN exchange, counts that match the capture', () => {
    const t = load(fig2Text(), 'l3vpn');
    const def = t.traffic.at(-1)!;
    if (def.kind !== 'tcp') throw new Error('no tcp flow');
    const { snap, pcaps } = run(t);
    const f = tcpFlow(snap);
    const x = f.tcp!;
    expect(f).toMatchObject({ sent: MB, received: MB, lost: 0 });
    expect(x).toMatchObject({ bytes: MB, bytesSent: MB, bytesAcked: MB, bytesReceived: MB, bytesCorrupt: 0, retransmits: 0, timeouts: 0, complete: true });
    expect(x.finReceived).toEqual({ server: true, client: true });
    expect(x.clientState).toBe('TIME-WAIT'); // the active closer waits 2·MSL
    expect(x.closeReason).toBeNull();

    // The capture on the client's LAN: handshake, the stream, FIN each way and the last ACK.
    const segs = segments(t, pcaps, 'h-a--ce-a', [def.srcPort, def.dstPort]);
    const fromClient = segs.filter((s) => s.srcPort === def.srcPort);
    const fromServer = segs.filter((s) => s.srcPort === def.dstPort);
    expect(fromClient[0]!.flags).toBe(TCP_FLAG_SYN);
    // Sent at the start (on the wire a few µs later: h-a's two pings leave at 3 s too).
    expect(fromClient[0]!.tUs - def.startUs).toBeGreaterThanOrEqual(0);
    expect(fromClient[0]!.tUs - def.startUs).toBeLessThan(10);
    expect(formatIpv4(fromClient[0]!.src)).toBe('10.1.0.10');
    expect(formatIpv4(fromClient[0]!.dst)).toBe('10.3.0.10');
    const synAck = fromServer[0]!;
    expect(synAck.flags).toBe(TCP_FLAG_SYN | TCP_FLAG_ACK);
    // setupUs: SYN sent to SYN,ACK received; the capture stamps the SYN,ACK as ce-a sends it, 100 µs before.
    expect(x.setupUs! - (synAck.tUs - def.startUs)).toBeGreaterThanOrEqual(100);
    expect(x.setupUs! - (synAck.tUs - def.startUs)).toBeLessThan(110);
    expect(f.latency).toMatchObject({ count: 1, minUs: x.setupUs });
    expect(Buffer.from(streamOf(segs, def.srcPort)).equals(Buffer.from(tcpFlowStream(def.index, MB, 0, MB)))).toBe(true);
    const fins = (ss: Seg[]) => ss.filter((s) => s.flags & TCP_FLAG_FIN);
    expect(fins(fromClient)).toHaveLength(1);
    expect(fins(fromServer)).toHaveLength(1);
    const clientFin = fins(fromClient)[0]!;
    const serverFin = fins(fromServer)[0]!;
    expect(serverFin.tUs).toBeGreaterThan(clientFin.tUs); // the sink closes after the client
    expect(serverFin.ack).toBe((clientFin.seq + clientFin.payload.length + 1) >>> 0); // the FIN may ride on the last data
    const last = fromClient.at(-1)!;
    expect(last.flags).toBe(TCP_FLAG_ACK);
    expect(last.ack).toBe((serverFin.seq + 1) >>> 0);
    expect(resent(segs, def.srcPort)).toBe(0);

    // Completion: the last byte at h-c, from the capture on its LAN (+100 µs link latency, 1 Gb/s).
    const atServer = segments(t, pcaps, 'h-c--ce-c', [def.srcPort, def.dstPort]).filter((s) => s.srcPort === def.srcPort && s.payload.length > 0);
    const lastData = atServer.reduce((a, s) => (s.tUs > a.tUs ? s : a));
    const done = x.completionUs! + def.startUs;
    expect(done - lastData.tUs).toBeGreaterThanOrEqual(100);
    expect(done - lastData.tUs).toBeLessThan(150);
    expect(x.goodputBps).toBe(Math.round((MB * 8 * 1e6) / x.completionUs!));
    // No window scaling: at most one 65535-byte window per round trip.
    expect(x.goodputBps!).toBeLessThan((65_535 * 8 * 1e6) / x.setupUs!);
    expect(x.goodputBps!).toBeGreaterThan(5_000_000);

    // l3vpn carries the flow in clear inside MPLS-in-IP on the backbone.
    const core = t.links.find((l) => l.id === 'pe1--p1')!;
    let clear = 0;
    for (const r of decodePcap(pcaps[core.index]!).records) {
      const o = decodeIpv4(r.bytes);
      if (!o.ok || o.value.header.protocol !== IP_PROTO_MPLS_IN_IP) continue;
      const inner = decodeIpv4(decodeLabelStack(o.value.payload).ok ? (decodeLabelStack(o.value.payload) as { ok: true; value: { payload: Uint8Array } }).value.payload : new Uint8Array());
      if (inner.ok && inner.value.header.protocol === IP_PROTO_TCP && (inner.value.payload[2]! << 8 | inner.value.payload[3]!) === 80) clear++;
    }
    expect(clear).toBeGreaterThan(MB / 1460);

    // The report: the verdict carries the tcp block, the handshake as its rtt, and stays in its schema.
    const report = buildReport(t, snap, 'single');
    const v = report.flows.find((y) => y.kind === 'tcp')!;
    expect(v.delivered).toBe(MB);
    expect(v.latencyPercentiles).toMatchObject({ kind: 'rtt', samples: 1 });
    expect(v.tcp).toEqual(x);
    expect(ReportSchema.safeParse(JSON.parse(JSON.stringify(report))).success).toBe(true);
  });

  it('l3vpn with 2% loss on pe1--p1: segments retransmitted, every byte still delivered in order', () => {
    const t = load(fig2Text({ loss: true }), 'l3vpn');
    const def = t.traffic.at(-1)!;
    if (def.kind !== 'tcp') throw new Error('no tcp flow');
    const { snap, pcaps } = run(t, 12_000_000);
    const core = snap.links.find((l) => l.id === 'pe1--p1')!;
    expect(core.dirs[0].lost + core.dirs[1].lost).toBeGreaterThan(0);
    const x = tcpFlow(snap).tcp!;
    expect(x).toMatchObject({ bytesSent: MB, bytesAcked: MB, bytesReceived: MB, bytesCorrupt: 0, complete: true });
    expect(x.finReceived).toEqual({ server: true, client: true });
    expect(x.retransmits).toBeGreaterThan(0);
    expect(x.retransmits).toBeGreaterThanOrEqual(x.fastRetransmits);
    // Every retransmission leaves the client: its LAN capture shows exactly as many.
    const segs = segments(t, pcaps, 'h-a--ce-a', [def.srcPort, def.dstPort]);
    expect(resent(segs, def.srcPort)).toBe(x.retransmits);
    // What reached h-c is the stream, byte for byte.
    const atServer = segments(t, pcaps, 'h-c--ce-c', [def.srcPort, def.dstPort]);
    expect(Buffer.from(streamOf(atServer, def.srcPort)).equals(Buffer.from(tcpFlowStream(def.index, MB, 0, MB)))).toBe(true);
    // Slower than without loss.
    const clean = tcpFlow(run(load(fig2Text(), 'l3vpn')).snap).tcp!;
    expect(x.completionUs!).toBeGreaterThan(clean.completionUs!);
  });

  it('mesh: the flow crosses the backbone inside ESP and still arrives whole', () => {
    const t = load(fig2Text(), 'mesh');
    const def = t.traffic.at(-1)!;
    if (def.kind !== 'tcp') throw new Error('no tcp flow');
    const { snap, pcaps } = run(t);
    const x = tcpFlow(snap).tcp!;
    expect(x).toMatchObject({ bytesAcked: MB, bytesReceived: MB, bytesCorrupt: 0, retransmits: 0, complete: true });
    expect(x.finReceived).toEqual({ server: true, client: true });
    const core = t.links.find((l) => l.id === 'pe1--p1')!;
    let esp = 0;
    for (const r of decodePcap(pcaps[core.index]!).records) {
      const o = decodeIpv4(r.bytes);
      if (!o.ok) throw new Error('malformed');
      if (o.value.header.protocol === IP_PROTO_ESP) esp++;
      else if (o.value.header.protocol === IP_PROTO_TCP) expect([o.value.payload[0]! << 8 | o.value.payload[1]!, o.value.payload[2]! << 8 | o.value.payload[3]!]).toContain(179);
      else throw new Error(`protocol ${o.value.header.protocol} on the backbone`);
    }
    expect(esp).toBeGreaterThan(MB / 1460);
    // The LANs carry it in clear, the same stream.
    const segs = segments(t, pcaps, 'h-c--ce-c', [def.srcPort, def.dstPort]);
    expect(Buffer.from(streamOf(segs, def.srcPort)).equals(Buffer.from(tcpFlowStream(def.index, MB, 0, MB)))).toBe(true);
  });

  it('same seed: byte-identical captures in one thread and in workers (with loss)', async () => {
    const t = load(fig2Text({ loss: true, bytes: '256kB' }), 'l3vpn');
    const go = async (runtime: 'single' | 'workers') => {
      const lab = await createLab(t, { runtime, dataplane: 'ts', maxWorkers: 2 });
      try {
        await lab.runUntil(5_000_000);
        return { pcaps: await Promise.all(t.links.map((l) => lab.pcap(l.index))), snap: await lab.snapshot() };
      } finally {
        await lab.close();
      }
    };
    const a = await go('single');
    const b = await go('workers');
    expect(tcpFlow(a.snap).tcp!.complete).toBe(true);
    expect(b.pcaps).toEqual(a.pcaps);
    expect(tcpFlow(b.snap)).toEqual(tcpFlow(a.snap));
  });

  it('tshark reads the captures with no malformed packet and follows the stream', async (ctx) => {
    if (!existsSync('/usr/bin/tshark')) ctx.skip();
    const dir = mkdtempSync(join(tmpdir(), 'vpnlab-tcpflow-'));
    const file = join(dir, 'fig2-tcp.yaml');
    writeFileSync(file, fig2Text({ bytes: '256kB' }));
    const t = load(fig2Text({ bytes: '256kB' }), 'l3vpn');
    const def = t.traffic.at(-1)!;
    if (def.kind !== 'tcp') throw new Error('no tcp flow');
    expect(await main(['run', file, '--mode', 'l3vpn', '--until', '5', '--quiet', '--pcap', dir], () => {}, () => {})).toBe(0);
    const tshark = (args: string[]) => execFileSync('tshark', ['-n', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    for (const f of ['h-a--ce-a.pcap', 'pe1--p1.pcap', 'h-c--ce-c.pcap']) {
      const out = tshark(['-r', join(dir, f), '-T', 'fields', '-e', '_ws.malformed', '-e', 'tcp.checksum.status', '-z', 'expert,error']);
      expect(out, f).not.toMatch(/malformed/i);
    }
    // conv,tcp: one conversation h-a:srcPort <-> h-c:80.
    const conv = tshark(['-r', join(dir, 'h-a--ce-a.pcap'), '-q', '-z', 'conv,tcp']);
    const line = conv.split('\n').find((l) => l.includes(`10.1.0.10:${def.srcPort}`) && l.includes('10.3.0.10:80'));
    expect(line, conv).toBeDefined();
    // follow: the client's half of the stream, byte for byte.
    const follow = tshark(['-r', join(dir, 'h-a--ce-a.pcap'), '-q', '-z', 'follow,tcp,raw,0']);
    expect(follow).toContain(`Node 0: 10.1.0.10:${def.srcPort}`);
    expect(follow).toContain('Node 1: 10.3.0.10:80');
    const body = follow.split('\n').filter((l) => /^[0-9a-f]+$/.test(l) && !l.startsWith('\t')).join('');
    expect(body).toBe(Buffer.from(tcpFlowStream(def.index, 256_000, 0, 256_000)).toString('hex'));
  });
});

describe('tcp flows: two customers with the same addresses', () => {
  it('the blue flow to 10.2.0.10 reaches blue\'s host only, though red\'s host holds the address and listens too', () => {
    const t = load(readFileSync(TWO, 'utf8'));
    const def = t.traffic.find((d) => d.kind === 'tcp')!;
    expect(def.from).toBe('h-blue1');
    const { snap } = run(t, 6_000_000);
    const f = snap.flows[def.index]!;
    expect(f.tcp).toMatchObject({ complete: true, bytesCorrupt: 0 });
    const at = snap.nodes.filter((n) => n.flowsReceived.some((r) => r.index === def.index)).map((n) => n.id);
    expect(at).toEqual(['h-blue2']);
    expect(snap.nodes.find((n) => n.id === 'h-red2')!.apps['tcp-flows']).toMatchObject({ listening: [def.kind === 'tcp' ? def.dstPort : 0] });
  });
});
