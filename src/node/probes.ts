// A node's run-time probes: the pings and traceroutes an operator starts from a console (NodeCommand
// `ping` / `traceroute`), their timers and the ICMP answers that belong to them. Owns only their
// state; sends through the node, never touches configured flows (their reports must not change).

import { recordRtt } from './rtt.ts';
import { formatIpv4, parseIpv4 } from '../lib/addr.ts';
import { assert } from '../lib/errors.ts';
import type { NodeCommand } from '../lib/sans-io.ts';
import { encodeIcmp, encodeUdp, IP_PROTO_ICMP, IP_PROTO_UDP, type IcmpMessage } from '../proto/ip/index.ts';
import type { ProbeAnswer, RuntimeFlowReport, RuntimePingReport, RuntimeTracerouteReport, TracerouteProbe } from './types.ts';

/** ICMP identifier of run-time ping n is RUNTIME_PING_ID_BASE + (n mod 4096), apart from configured ones. */
export const RUNTIME_PING_ID_BASE = 0xe000;
/** Traceroute's first UDP destination port (the classic one); probe k goes to port + k. */
export const TRACEROUTE_PORT_BASE = 33434;
/** Probes per hop (classic traceroute's default). */
export const TRACEROUTE_PROBES_PER_HOP = 3;
/** How long a probe (echo request, traceroute probe) waits for its answer, in virtual µs. */
export const PROBE_WAIT_US = 3_000_000;
/** Run-time probes a node keeps at most; the oldest go first. */
export const RUNTIME_FLOWS_MAX = 16;
/** Limits of the commands (bad values are refused with an error in the report). */
export const PING_COUNT_MAX = 1000;
export const PING_SIZE_MAX = 65_507;
export const PING_INTERVAL_MIN_US = 1000;
export const TRACEROUTE_HOPS_MAX = 64;
/** Bytes of a traceroute probe's UDP payload. */
const TRACEROUTE_PAYLOAD_BYTES = 32;

/** What the probes need from their node. */
export interface ProbeHost {
  /** The address of the interface a packet to `dst` leaves by; undefined without a route. */
  sourceFor(dst: number): number | undefined;
  /** Sends an IPv4 packet with this TTL. */
  sendProbe(dst: number, protocol: number, payload: Uint8Array, src: number, ttl: number): void;
  log(topic: string, text: string): void;
}

interface PingRun {
  report: RuntimePingReport;
  dst: number;
  src: number;
  identifier: number;
  nextUs: number | undefined;
  /** Send time per outstanding sequence number. */
  sentAtUs: Map<number, number>;
  rttSumUs: number;
  lastSentUs: number;
}

interface TraceRun {
  report: RuntimeTracerouteReport;
  dst: number;
  src: number;
  srcPort: number;
  /** The probe waiting for its answer (index from 0: TTL k/3+1, port base + k). */
  probe: number;
  sentAtUs: number;
  waitUntilUs: number | undefined;
}

type Run = { kind: 'ping'; p: PingRun } | { kind: 'traceroute'; t: TraceRun };

export class RuntimeProbes {
  private readonly runs: Run[] = [];
  private nextId = 1;

  constructor(private readonly host: ProbeHost) {}

  /** Starts a ping or a traceroute; false for any other command. */
  start(c: NodeCommand, nowUs: number): boolean {
    if (c.kind === 'ping') this.startPing(c, nowUs);
    else if (c.kind === 'traceroute') this.startTraceroute(c, nowUs);
    else return false;
    return true;
  }

  nextDeadlineUs(): number | undefined {
    // A plain loop, no closure: this runs after every event of a node with probes.
    let t: number | undefined;
    for (const r of this.runs) {
      let d: number | undefined;
      if (r.kind === 'ping') {
        if (r.p.report.done) continue;
        d = r.p.nextUs ?? r.p.lastSentUs + PROBE_WAIT_US;
      } else d = r.t.waitUntilUs;
      if (d !== undefined && (t === undefined || d < t)) t = d;
    }
    return t;
  }

  timer(nowUs: number): void {
    for (const r of this.runs) {
      if (r.kind === 'ping') this.pingTimer(r.p, nowUs);
      else if (r.t.waitUntilUs !== undefined && r.t.waitUntilUs <= nowUs) this.traceAnswer(r.t, {}, nowUs);
    }
  }

  /** An echo reply: true if it answers one of our pings. */
  echoReply(identifier: number, sequence: number, from: number, ttl: number, icmpLen: number, nowUs: number): boolean {
    const p = this.pingByIdentifier(identifier);
    if (!p) return false;
    const sent = p.sentAtUs.get(sequence);
    if (sent === undefined) {
      this.host.log('ping', `duplicate or late echo reply seq=${sequence} from ${formatIpv4(from)}`);
      return true;
    }
    p.sentAtUs.delete(sequence);
    const rtt = nowUs - sent;
    const r = p.report;
    recordRtt(r, p, rtt);
    r.events.push({ kind: 'reply', seq: sequence, from: formatIpv4(from), ttl, bytes: icmpLen, rttUs: rtt });
    this.pingCheckDone(p, nowUs);
    return true;
  }

  /**
   * An ICMP error (time exceeded, destination unreachable) from `from` quoting `quote` (the
   * original IP header and its first 8 octets): true if it answers one of our probes.
   */
  icmpError(m: Extract<IcmpMessage, { type: 'time-exceeded' | 'destination-unreachable' }>, from: number, nowUs: number): boolean {
    const q = m.original;
    if (q.length < 20 || q[0]! >> 4 !== 4) return false;
    const ihl = (q[0]! & 0x0f) * 4;
    if (q.length < ihl + 8) return false;
    const dv = new DataView(q.buffer, q.byteOffset, q.byteLength);
    const dst = dv.getUint32(16);
    const answer = answerOf(m);
    if (q[9] === IP_PROTO_ICMP && q[ihl] === 8) {
      const p = this.pingByIdentifier(dv.getUint16(ihl + 4));
      if (!p || p.dst !== dst) return false;
      const seq = dv.getUint16(ihl + 6);
      if (!p.sentAtUs.delete(seq)) return true;
      p.report.events.push({ kind: answer, seq, from: formatIpv4(from) });
      this.pingCheckDone(p, nowUs);
      return true;
    }
    if (q[9] === IP_PROTO_UDP) {
      const srcPort = dv.getUint16(ihl);
      const probe = dv.getUint16(ihl + 2) - TRACEROUTE_PORT_BASE;
      const t = this.runs.find((r): r is Extract<Run, { kind: 'traceroute' }> => r.kind === 'traceroute' && r.t.srcPort === srcPort && r.t.dst === dst)?.t;
      if (!t) return false;
      // Answers to probes we stopped waiting for are too late to place.
      if (probe === t.probe && t.waitUntilUs !== undefined) this.traceAnswer(t, { from: formatIpv4(from), answer, rttUs: nowUs - t.sentAtUs }, nowUs);
      return true;
    }
    return false;
  }

  snapshot(): RuntimeFlowReport[] {
    return this.runs.map((r) => structuredClone(r.kind === 'ping' ? r.p.report : r.t.report));
  }

  // --- ping ----------------------------------------------------------------------------------

  private startPing(c: Extract<NodeCommand, { kind: 'ping' }>, nowUs: number): void {
    const id = this.nextId++;
    const report: RuntimePingReport = {
      kind: 'ping',
      id,
      dst: c.dst,
      src: '',
      count: c.count,
      sizeBytes: c.sizeBytes,
      intervalUs: c.intervalUs,
      startUs: nowUs,
      sent: 0,
      received: 0,
      events: [],
      done: false,
    };
    const dst = parseIpv4(c.dst);
    const src = dst === undefined ? undefined : this.host.sourceFor(dst);
    const error =
      dst === undefined
        ? `bad address ${c.dst}`
        : !Number.isInteger(c.count) || c.count < 1 || c.count > PING_COUNT_MAX
          ? `count must be 1..${PING_COUNT_MAX}`
          : !Number.isInteger(c.sizeBytes) || c.sizeBytes < 0 || c.sizeBytes > PING_SIZE_MAX
            ? `size must be 0..${PING_SIZE_MAX} bytes`
            : !Number.isInteger(c.intervalUs) || c.intervalUs < PING_INTERVAL_MIN_US
              ? `interval must be at least ${PING_INTERVAL_MIN_US} µs`
              : src === undefined
                ? `no route to ${c.dst}`
                : undefined;
    const p: PingRun = { report, dst: dst ?? 0, src: src ?? 0, identifier: RUNTIME_PING_ID_BASE + (id & 0x0fff), nextUs: nowUs, sentAtUs: new Map(), rttSumUs: 0, lastSentUs: nowUs };
    if (error !== undefined) {
      report.error = error;
      report.done = true;
      p.nextUs = undefined;
    } else report.src = formatIpv4(p.src);
    this.add({ kind: 'ping', p });
    this.host.log('ping', error !== undefined ? `ping ${c.dst}: ${error}` : `ping ${c.dst} from ${report.src}: ${c.count} × ${c.sizeBytes} data bytes`);
    if (error === undefined) this.pingTimer(p, nowUs);
  }

  private pingTimer(p: PingRun, nowUs: number): void {
    const r = p.report;
    while (p.nextUs !== undefined && p.nextUs <= nowUs) {
      const seq = r.sent + 1; // icmp_seq counts from 1, as iputils' ping does
      const data = new Uint8Array(r.sizeBytes);
      for (let i = 0; i < data.length; i++) data[i] = (i + 0x10) & 0xff;
      p.sentAtUs.set(seq, nowUs);
      this.host.sendProbe(p.dst, IP_PROTO_ICMP, encodeIcmp({ type: 'echo-request', identifier: p.identifier, sequence: seq, data }), p.src, 64);
      r.sent++;
      p.lastSentUs = nowUs;
      p.nextUs = r.sent < r.count ? r.startUs + r.sent * r.intervalUs : undefined;
    }
    this.pingCheckDone(p, nowUs);
  }

  private pingCheckDone(p: PingRun, nowUs: number): void {
    if (p.report.done || p.nextUs !== undefined) return;
    if (p.sentAtUs.size === 0 || nowUs >= p.lastSentUs + PROBE_WAIT_US) {
      p.report.done = true;
      p.sentAtUs.clear();
    }
  }

  private pingByIdentifier(identifier: number): PingRun | undefined {
    if (identifier < RUNTIME_PING_ID_BASE || identifier > RUNTIME_PING_ID_BASE + 0x0fff) return undefined;
    for (let i = this.runs.length - 1; i >= 0; i--) {
      const r = this.runs[i]!;
      if (r.kind === 'ping' && r.p.identifier === identifier && !r.p.report.done) return r.p;
    }
    return undefined;
  }

  // --- traceroute ----------------------------------------------------------------------------

  private startTraceroute(c: Extract<NodeCommand, { kind: 'traceroute' }>, nowUs: number): void {
    const id = this.nextId++;
    const report: RuntimeTracerouteReport = { kind: 'traceroute', id, dst: c.dst, src: '', maxHops: c.maxHops, startUs: nowUs, hops: [], reached: false, done: false };
    const dst = parseIpv4(c.dst);
    const src = dst === undefined ? undefined : this.host.sourceFor(dst);
    const error =
      dst === undefined
        ? `bad address ${c.dst}`
        : !Number.isInteger(c.maxHops) || c.maxHops < 1 || c.maxHops > TRACEROUTE_HOPS_MAX
          ? `max hops must be 1..${TRACEROUTE_HOPS_MAX}`
          : src === undefined
            ? `no route to ${c.dst}`
            : undefined;
    const t: TraceRun = { report, dst: dst ?? 0, src: src ?? 0, srcPort: 0x8000 | (id & 0x7fff), probe: 0, sentAtUs: nowUs, waitUntilUs: undefined };
    if (error !== undefined) {
      report.error = error;
      report.done = true;
    } else report.src = formatIpv4(t.src);
    this.add({ kind: 'traceroute', t });
    this.host.log('traceroute', error !== undefined ? `traceroute ${c.dst}: ${error}` : `traceroute to ${c.dst} from ${report.src}, ${c.maxHops} hops max`);
    if (error === undefined) this.sendTraceProbe(t, nowUs);
  }

  private sendTraceProbe(t: TraceRun, nowUs: number): void {
    const ttl = Math.floor(t.probe / TRACEROUTE_PROBES_PER_HOP) + 1;
    if (t.report.hops.length < ttl) t.report.hops.push({ ttl, probes: [] });
    const payload = new Uint8Array(TRACEROUTE_PAYLOAD_BYTES);
    const udp = encodeUdp({ srcPort: t.srcPort, dstPort: TRACEROUTE_PORT_BASE + t.probe, payload }, t.src, t.dst);
    t.sentAtUs = nowUs;
    t.waitUntilUs = nowUs + PROBE_WAIT_US;
    this.host.sendProbe(t.dst, IP_PROTO_UDP, udp, t.src, ttl);
  }

  /** The waiting probe got `probe` (an answer, or `{}` on timeout): record it, go on or finish. */
  private traceAnswer(t: TraceRun, probe: TracerouteProbe, nowUs: number): void {
    const hop = t.report.hops[t.report.hops.length - 1];
    assert(hop !== undefined, 'traceroute: answer before any probe');
    hop.probes.push(probe);
    t.waitUntilUs = undefined;
    t.probe++;
    if (t.probe % TRACEROUTE_PROBES_PER_HOP === 0) {
      // The hop is complete: stop at the destination, at an unreachable, or at the hop limit.
      const reached = hop.probes.some((p) => p.answer === 'port-unreachable' && p.from === t.report.dst);
      const blocked = hop.probes.some((p) => p.answer !== undefined && p.answer !== 'time-exceeded');
      if (reached || blocked || hop.ttl >= t.report.maxHops) {
        t.report.reached = reached;
        t.report.done = true;
        return;
      }
    }
    this.sendTraceProbe(t, nowUs);
  }

  private add(r: Run): void {
    this.runs.push(r);
    if (this.runs.length > RUNTIME_FLOWS_MAX) this.runs.shift();
  }
}

function answerOf(m: Extract<IcmpMessage, { type: 'time-exceeded' | 'destination-unreachable' }>): ProbeAnswer {
  if (m.type === 'time-exceeded') return 'time-exceeded';
  // RFC 792 destination unreachable codes: 0 net, 1 host, 3 port.
  return m.code === 3 ? 'port-unreachable' : m.code === 0 ? 'net-unreachable' : m.code === 1 ? 'host-unreachable' : 'unreachable';
}
