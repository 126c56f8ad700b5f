// A plain IPv4 router/host: forwards by longest-prefix match over its forwarding table, answers
// ICMP echo, sends ICMP errors, and sources the ping and UDP flows it is configured with. Every role
// starts from this until its protocol cores arrive. Sans-IO: time comes in with each input.

import { formatIpv4, ipv4Mask } from '../lib/addr.ts';
import type { NodeInput, NodeOutput } from '../lib/sans-io.ts';
import {
  decodeIpv4,
  encodeIpv4,
  decrementTtlInPlace,
  ipv4Dst,
  IP_PROTO_ICMP,
  IP_PROTO_UDP,
  decodeIcmp,
  encodeIcmp,
  decodeUdp,
  encodeUdp,
  icmpQuote,
  type IcmpMessage,
  type Ipv4Header,
} from '../proto/ip/index.ts';
import { tsLpm, type Ipv4LpmTable, type LpmEngine } from '../dataplane/lpm.ts';
import type { FlowConfig, FlowStats, NodeApp, NodeConfig, NodeContext, NodeSnapshot, RouteConfig, SimNode } from './types.ts';

export const DEFAULT_TTL = 64;
/** UDP test payloads start with this magic, then flow index and sequence number (big-endian u32). */
export const FLOW_MAGIC = 0x564c4142; // "VLAB"
/** ICMP identifier of ping flow i is PING_ID_BASE + i. */
export const PING_ID_BASE = 0x5600;
/** Outputs waiting to be polled, at most; past this the node drops and counts. */
export const OUTPUT_QUEUE_MAX = 65_536;

interface FlowState {
  cfg: FlowConfig;
  stats: FlowStats;
  nextSeq: number;
  nextUs: number | undefined;
  /** ping: send time per outstanding sequence number. */
  sentAtUs: Map<number, number>;
  rttSumUs: number;
}

interface IfState {
  up: boolean;
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
}

export class IpNode implements SimNode, NodeContext {
  private out: NodeOutput[] = [];
  /** Next output to hand out; the queue is reset when drained (no O(n) shift per poll). */
  private outHead = 0;
  private readonly local = new Set<number>();
  /** Forwarding table: per prefix length (longest first), network → route. */
  /** Forwarding table: longest-prefix match (the data plane's LPM engine) to an index in `routes`. */
  private readonly fib: Ipv4LpmTable;
  private readonly routes: RouteConfig[] = [];
  private readonly ifs: IfState[];
  private readonly flows: FlowState[];
  /** Flows by their topology-wide index (ping identifiers carry it). */
  private readonly flowByIndex = new Map<number, FlowState>();
  private readonly received = new Map<number, { received: number; bytes: number }>();
  private ipId = 0;
  private crashed = false;
  /** Protocol applications (TCP and what runs on it, IKE, …), offered local packets in order. */
  private readonly apps: NodeApp[] = [];
  private started = false;
  /** Time of the input being handled (locally originated packets are offered to apps with it). */
  private nowUs = 0;
  readonly counters = {
    rxFrames: 0,
    txFrames: 0,
    delivered: 0,
    forwarded: 0,
    dropNoRoute: 0,
    dropTtl: 0,
    dropMalformed: 0,
    dropInterfaceDown: 0,
    dropOutputQueue: 0,
    icmpErrorsSent: 0,
  };

  /** `lpm`: the data plane's longest-prefix-match engine (WASM or the TypeScript reference). */
  constructor(
    readonly config: NodeConfig,
    lpm: LpmEngine = tsLpm,
  ) {
    this.fib = lpm.ipv4({ directBits: 8 });
    for (const i of config.interfaces) this.local.add(i.addr);
    if (config.loopback !== undefined) this.local.add(config.loopback);
    for (const r of config.routes) this.addRoute(r);
    this.ifs = config.interfaces.map(() => ({ up: true, rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0 }));
    this.flows = config.flows.map((cfg) => ({
      cfg,
      stats: { index: cfg.index, kind: cfg.kind, sent: 0, received: 0 },
      nextSeq: 0,
      nextUs: cfg.startUs,
      sentAtUs: new Map(),
      rttSumUs: 0,
    }));
    for (const f of this.flows) this.flowByIndex.set(f.cfg.index, f);
  }

  /** Hosts an application on this node (before the run starts). */
  addApp(app: NodeApp): void {
    this.apps.push(app);
  }

  isLocal(addr: number): boolean {
    return this.local.has(addr >>> 0);
  }

  addRoute(r: RouteConfig): void {
    const prefix = (r.prefix & ipv4Mask(r.len)) >>> 0;
    const at = this.fib.get(prefix, r.len);
    if (at !== undefined) {
      this.routes[at] = r;
      return;
    }
    this.routes.push(r);
    this.fib.insert(prefix, r.len, this.routes.length - 1);
  }

  lookup(dst: number): RouteConfig | undefined {
    const at = this.fib.lookup(dst >>> 0);
    return at === undefined ? undefined : this.routes[at];
  }

  handle(input: NodeInput, nowUs: number): void {
    this.nowUs = nowUs;
    switch (input.kind) {
      case 'rx':
        if (this.crashed) return;
        this.receive(input.ifIndex, input.bytes, nowUs);
        break;
      case 'timer':
        if (this.crashed) return;
        this.runFlows(nowUs);
        for (const app of this.apps) {
          const d = app.nextDeadlineUs();
          if (!this.started || (d !== undefined && d <= nowUs)) app.timer(nowUs);
        }
        this.started = true;
        break;
      case 'command': {
        const c = input.command;
        if (c.kind === 'interface-up') {
          const st = this.ifs[c.ifIndex];
          if (st) st.up = c.up;
          this.log('interface', `if${c.ifIndex} (${this.config.interfaces[c.ifIndex]?.peer ?? '?'}) ${c.up ? 'up' : 'down'}`);
        } else if (c.kind === 'crash') {
          this.crashed = true;
          this.out = [];
          this.outHead = 0;
          this.log('node', 'crashed');
        } else if (c.kind === 'restart') {
          this.crashed = false;
          this.log('node', 'restarted');
        }
        break;
      }
    }
  }

  poll(): NodeOutput | undefined {
    if (this.outHead < this.out.length) return this.out[this.outHead++];
    this.out = [];
    this.outHead = 0;
    return undefined;
  }

  nextDeadlineUs(): number | undefined {
    if (this.crashed) return undefined;
    if (!this.started && this.apps.length > 0) return 0;
    let t: number | undefined;
    for (const f of this.flows) if (f.nextUs !== undefined && (t === undefined || f.nextUs < t)) t = f.nextUs;
    for (const app of this.apps) {
      const d = app.nextDeadlineUs();
      if (d !== undefined && (t === undefined || d < t)) t = d;
    }
    return t;
  }

  snapshot(): NodeSnapshot {
    return {
      id: this.config.id,
      role: this.config.role,
      counters: { ...this.counters },
      interfaces: this.config.interfaces.map((i, k) => ({
        ifIndex: i.ifIndex,
        peer: i.peer,
        addr: `${formatIpv4(i.addr)}/${i.len}`,
        ...this.ifs[k]!,
      })),
      flowsSent: this.flows.map((f) => ({ ...f.stats })),
      flowsReceived: [...this.received.entries()].sort((a, b) => a[0] - b[0]).map(([index, v]) => ({ index, ...v })),
      routes: this.config.routes.length,
      apps: Object.fromEntries(this.apps.map((a) => [a.name, a.snapshot()])),
      espSas: this.apps.flatMap((a) => a.espSas?.() ?? []),
    };
  }

  // --- receive path -------------------------------------------------------------------------

  private receive(ifIndex: number, bytes: Uint8Array, nowUs: number): void {
    const st = this.ifs[ifIndex];
    if (!st || !st.up) {
      this.counters.dropInterfaceDown++;
      return;
    }
    st.rxFrames++;
    st.rxBytes += bytes.length;
    this.counters.rxFrames++;
    const dst = bytes.length >= 20 ? ipv4Dst(bytes) : undefined;
    if (dst !== undefined && this.local.has(dst)) {
      this.deliverLocal(bytes, nowUs);
      return;
    }
    this.forward(bytes, nowUs);
  }

  /** Forwards a whole IPv4 packet as if it had just arrived (e.g. a decapsulated inner packet). */
  forwardPacket(bytes: Uint8Array, nowUs: number): void {
    if (this.crashed) return;
    // A decapsulated packet for this node itself (a host that ends a tunnel, seed 002 FIG. 3 #4).
    if (bytes.length >= 20 && this.local.has(ipv4Dst(bytes))) {
      this.deliverLocal(bytes, nowUs);
      return;
    }
    this.forward(bytes, nowUs);
  }

  private forward(bytes: Uint8Array, nowUs: number): void {
    const dec = decodeIpv4(bytes);
    if (!dec.ok) {
      this.counters.dropMalformed++;
      return;
    }
    if (!decrementTtlInPlace(bytes)) {
      this.counters.dropTtl++;
      this.icmpError(dec.value.header, bytes, 11, 0); // RFC 792: time exceeded in transit
      return;
    }
    // An application may take the packet (the IPsec of a security gateway protecting it).
    for (const app of this.apps) if (app.transit?.(bytes, nowUs)) return;
    const route = this.lookup(dec.value.header.dst);
    if (!route) {
      this.counters.dropNoRoute++;
      this.icmpError(dec.value.header, bytes, 3, 0); // RFC 792: destination (net) unreachable
      return;
    }
    this.counters.forwarded++;
    this.send(route.ifIndex, bytes);
  }

  private deliverLocal(bytes: Uint8Array, nowUs: number): void {
    const dec = decodeIpv4(bytes);
    if (!dec.ok) {
      this.counters.dropMalformed++;
      return;
    }
    const { header, payload } = dec.value;
    this.counters.delivered++;
    if (header.protocol === IP_PROTO_ICMP) {
      const icmp = decodeIcmp(payload);
      if (!icmp.ok) {
        this.counters.dropMalformed++;
        return;
      }
      const m = icmp.value;
      if (m.type === 'echo-request') {
        this.sendIp(header.src, IP_PROTO_ICMP, encodeIcmp({ type: 'echo-reply', identifier: m.identifier, sequence: m.sequence, data: m.data }), header.dst);
      } else if (m.type === 'echo-reply') {
        this.pingReply(m.identifier, m.sequence, header, nowUs, payload.length);
      } else {
        this.log('icmp', `${m.type} from ${formatIpv4(header.src)}`);
      }
    } else if (this.apps.some((a) => a.receive(header.src, header.dst, header.protocol, payload, nowUs, bytes))) {
      // taken by an application (TCP, IKE, …)
    } else if (header.protocol === IP_PROTO_UDP) {
      const udp = decodeUdp(payload, header.src, header.dst);
      if (!udp.ok) {
        this.counters.dropMalformed++;
        return;
      }
      const p = udp.value.payload;
      if (p.length >= 12) {
        const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
        if (dv.getUint32(0) === FLOW_MAGIC) {
          const index = dv.getUint32(4);
          const r = this.received.get(index) ?? { received: 0, bytes: 0 };
          r.received++;
          r.bytes += p.length;
          this.received.set(index, r);
        }
      }
    }
  }

  private pingReply(identifier: number, sequence: number, header: Ipv4Header, nowUs: number, icmpLen: number): void {
    const f = this.flowByIndex.get(identifier - PING_ID_BASE);
    const sentAt = f?.sentAtUs.get(sequence);
    if (!f || f.cfg.kind !== 'ping' || sentAt === undefined) {
      this.log('ping', `unexpected echo reply id=${identifier} seq=${sequence}`);
      return;
    }
    f.sentAtUs.delete(sequence);
    const rtt = nowUs - sentAt;
    const s = f.stats;
    s.received++;
    f.rttSumUs += rtt;
    s.rttMinUs = s.rttMinUs === undefined ? rtt : Math.min(s.rttMinUs, rtt);
    s.rttMaxUs = s.rttMaxUs === undefined ? rtt : Math.max(s.rttMaxUs, rtt);
    s.rttAvgUs = Math.round(f.rttSumUs / s.received);
    this.log('ping', `${icmpLen} bytes from ${formatIpv4(header.src)}: icmp_seq=${sequence} ttl=${header.ttl} time=${(rtt / 1000).toFixed(3)} ms`);
  }

  // --- transmit path ------------------------------------------------------------------------

  private runFlows(nowUs: number): void {
    for (const f of this.flows) {
      while (f.nextUs !== undefined && f.nextUs <= nowUs) {
        const seq = f.nextSeq++;
        const c = f.cfg;
        if (c.kind === 'ping') {
          const data = new Uint8Array(c.sizeBytes);
          for (let i = 0; i < data.length; i++) data[i] = (i + 0x10) & 0xff;
          f.sentAtUs.set(seq, nowUs);
          this.sendIp(c.to, IP_PROTO_ICMP, encodeIcmp({ type: 'echo-request', identifier: PING_ID_BASE + c.index, sequence: seq & 0xffff, data }));
          f.nextUs = seq + 1 < c.count ? c.startUs + (seq + 1) * c.intervalUs : undefined;
        } else {
          const payload = new Uint8Array(Math.max(12, c.sizeBytes));
          const dv = new DataView(payload.buffer);
          dv.setUint32(0, FLOW_MAGIC);
          dv.setUint32(4, c.index);
          dv.setUint32(8, seq >>> 0);
          const src = this.sourceFor(c.to);
          if (src !== undefined) this.sendIp(c.to, IP_PROTO_UDP, encodeUdp({ srcPort: c.srcPort, dstPort: c.dstPort, payload }, src, c.to), src);
          else this.counters.dropNoRoute++;
          const bitsPerPacket = payload.length * 8;
          const next = c.startUs + Math.round(((seq + 1) * bitsPerPacket * 1_000_000) / c.rateBps);
          f.nextUs = next < c.startUs + c.durationUs ? next : undefined;
        }
        f.stats.sent++;
      }
    }
  }

  /** The address of the interface a packet to `dst` leaves by. */
  private sourceFor(dst: number): number | undefined {
    const r = this.lookup(dst);
    return r ? this.config.interfaces[r.ifIndex]?.addr : undefined;
  }

  sendIp(dst: number, protocol: number, payload: Uint8Array, src?: number): void {
    const route = this.lookup(dst);
    if (!route) {
      this.counters.dropNoRoute++;
      return;
    }
    const header: Ipv4Header = {
      dscp: 0,
      ecn: 0,
      identification: this.ipId++ & 0xffff,
      dontFragment: false,
      moreFragments: false,
      fragmentOffset: 0,
      ttl: DEFAULT_TTL,
      protocol,
      src: src ?? this.config.interfaces[route.ifIndex]!.addr,
      dst,
      options: new Uint8Array(0),
    };
    const bytes = encodeIpv4(header, payload);
    for (const app of this.apps) if (app.originate?.(bytes, this.nowUs)) return;
    this.send(route.ifIndex, bytes);
  }

  private icmpError(orig: Ipv4Header, bytes: Uint8Array, type: 3 | 11, code: number): void {
    // RFC 1122 3.2.2: never send an ICMP error about an ICMP error.
    if (orig.protocol === IP_PROTO_ICMP && bytes.length > 20 && bytes[20]! !== 8 && bytes[20]! !== 0) return;
    const original = icmpQuote(bytes).slice();
    this.counters.icmpErrorsSent++;
    const msg: IcmpMessage = type === 11 ? { type: 'time-exceeded', code, original } : { type: 'destination-unreachable', code, nextHopMtu: 0, original };
    this.sendIp(orig.src, IP_PROTO_ICMP, encodeIcmp(msg));
  }

  private send(ifIndex: number, bytes: Uint8Array): void {
    const st = this.ifs[ifIndex];
    if (!st || !st.up) {
      this.counters.dropInterfaceDown++;
      return;
    }
    if (this.out.length - this.outHead >= OUTPUT_QUEUE_MAX) {
      this.counters.dropOutputQueue++;
      return;
    }
    st.txFrames++;
    st.txBytes += bytes.length;
    this.counters.txFrames++;
    this.out.push({ kind: 'tx', ifIndex, bytes });
  }

  log(topic: string, text: string): void {
    this.out.push({ kind: 'log', topic, text });
  }
}
