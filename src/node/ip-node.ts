// An IPv4 router/host: forwards by longest-prefix match over its forwarding table (the underlay
// routes of its configuration plus routes learned from BGP), answers ICMP echo, sends ICMP errors,
// and sources the ping and UDP flows it is configured with (tcp flows run in a TcpFlowApp). On a
// PE, packets arriving on a VRF-attached interface are looked up in that VRF and cross the backbone
// as MPLS-in-IP (RFC 4364 §5, RFC 4023 §3). Sans-IO: time comes in with each input; never decides
// routes itself.

import { recordRtt } from './rtt.ts';
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
import { decodeLabelStack, encodeLabelStack, IP_PROTO_MPLS_IN_IP } from '../proto/mpls/label-stack.ts';
import type { VrfTables } from './vrf-forwarding.ts';
import { LatencyHistogram } from './latency-histogram.ts';
import { RuntimeProbes } from './probes.ts';
import type { FlowConfig, FlowDropReason, FlowStats, NodeApp, NodeConfig, NodeContext, NodeSnapshot, RouteConfig, SimNode, SnapshotPurpose } from './types.ts';

export const DEFAULT_TTL = 64;
/** UDP test payloads start with this magic, then flow index and sequence number (big-endian u32). */
export const FLOW_MAGIC = 0x564c4142; // "VLAB"
/** ICMP identifier of ping flow i is PING_ID_BASE + i. */
export const PING_ID_BASE = 0x5600;
/** Outputs waiting to be polled, at most; past this the node drops and counts. */
export const OUTPUT_QUEUE_MAX = 65_536;

/** The flows the node runs itself (tcp flows run in a TcpFlowApp). */
type OwnFlowConfig = Exclude<FlowConfig, { kind: 'tcp' }>;

interface FlowState {
  cfg: OwnFlowConfig;
  stats: FlowStats;
  nextSeq: number;
  nextUs: number | undefined;
  /** ping: send time per outstanding sequence number. */
  sentAtUs: Map<number, number>;
  rttSumUs: number;
  /** ping: round-trip times (bounded). */
  hist: LatencyHistogram;
}

/** UDP flow payloads of at least this many bytes carry the send time (float64 µs at offset 12). */
export const FLOW_TIMESTAMP_MIN_BYTES = 20;

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
  /** Forwarding table: longest-prefix match (the data plane's LPM engine) to a slot in `routes`. */
  private readonly fib: Ipv4LpmTable;
  private readonly routes: (RouteConfig | undefined)[] = [];
  private readonly freeSlots: number[] = [];
  /**
   * Underlay routes hidden by a learned route for the same prefix, by `net/len` (restored when it
   * goes). Any other underlay route is the one installed in the FIB: the configuration's N routes
   * are not kept a second time (a 1000-site lab holds ~4 M of them).
   */
  private readonly shadowed = new Map<string, RouteConfig>();
  /** Routes learned from BGP, by `net/len`. */
  private readonly learnedRoutes = new Map<string, RouteConfig>();
  /** A PE's VRFs (RFC 4364 §5), when it has any. */
  private vrfs: VrfTables | undefined;
  private readonly ifs: IfState[];
  private readonly flows: FlowState[];
  /** Flows by their topology-wide index (ping identifiers carry it). */
  private readonly flowByIndex = new Map<number, FlowState>();
  private readonly received = new Map<number, { received: number; bytes: number; hist: LatencyHistogram }>();
  private ipId = 0;
  private crashed = false;
  /** Operator commands taken (any may change app state: part of stateVersion). */
  private commandsHandled = 0;
  /** Protocol applications (TCP and what runs on it, IKE, …), offered local packets in order. */
  private readonly apps: NodeApp[] = [];
  private started = false;
  /** Pings and traceroutes started by operator commands (run-time flows). */
  private readonly probes = new RuntimeProbes({
    sourceFor: (dst) => this.sourceFor(dst),
    sendProbe: (dst, protocol, payload, src, ttl) => this.sendIp(dst, protocol, payload, src, ttl),
    log: (topic, text) => this.log(topic, text),
  });
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
    /** PE: customer packets sent across the backbone with a VPN label / received and popped. */
    mplsEncapsulated: 0,
    mplsDecapsulated: 0,
    /** PE: MPLS-in-IP packets whose label names none of our VRFs. */
    dropMplsLabel: 0,
    /** PE: a labelled packet whose VRF has no route to an attached CE for it. */
    dropVrfNoRoute: 0,
  };

  /** `lpm`: the data plane's longest-prefix-match engine (WASM or the TypeScript reference). */
  constructor(
    readonly config: NodeConfig,
    lpm: LpmEngine = tsLpm,
  ) {
    this.fib = lpm.ipv4({ directBits: 8 });
    for (const i of config.interfaces) this.local.add(i.addr);
    if (config.loopback !== undefined) this.local.add(config.loopback);
    for (const r of config.routes) this.installRoute(r);
    this.ifs = config.interfaces.map(() => ({ up: true, rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0 }));
    const own = config.flows.filter((cfg): cfg is OwnFlowConfig => cfg.kind !== 'tcp');
    this.flows = own.map((cfg) => ({
      cfg,
      stats: { index: cfg.index, kind: cfg.kind, sent: 0, received: 0 },
      nextSeq: 0,
      nextUs: cfg.startUs,
      sentAtUs: new Map(),
      rttSumUs: 0,
      hist: new LatencyHistogram(),
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

  /** Adds (or replaces) an underlay route, as if it had been in the configuration. */
  addRoute(r: RouteConfig): void {
    const key = routeKey(r.prefix, r.len);
    if (this.learnedRoutes.has(key)) this.shadowed.set(key, r);
    else this.installRoute(r);
  }

  /**
   * Sets (or with `route` undefined removes) a route learned from BGP. A learned route replaces an
   * underlay route for the same prefix except a connected one (a directly attached subnet always
   * wins, as its administrative distance does on a real router); removing it restores the underlay.
   */
  setLearnedRoute(prefix: number, len: number, route: RouteConfig | undefined): void {
    const key = routeKey(prefix, len);
    const learned = this.learnedRoutes.has(key);
    // While a learned route is installed the underlay one waits in `shadowed`; else it is installed.
    const underlay = learned ? this.shadowed.get(key) : this.installed(prefix, len);
    if (route === undefined) {
      if (!learned) return;
      this.learnedRoutes.delete(key);
      if (underlay) {
        this.shadowed.delete(key);
        this.installRoute(underlay);
      } else this.uninstallRoute(prefix, len);
      return;
    }
    if (underlay && underlay.nextHop === 0) return;
    if (!learned && underlay) this.shadowed.set(key, underlay);
    this.learnedRoutes.set(key, route);
    this.installRoute(route);
  }

  /** Hands this node its VRF tables (a PE); packets from attached interfaces are looked up there. */
  useVrfs(vrfs: VrfTables): void {
    this.vrfs = vrfs;
  }

  /** The PE's VRF tables, if any. */
  get vrfTables(): VrfTables | undefined {
    return this.vrfs;
  }

  private installRoute(r: RouteConfig): void {
    const prefix = (r.prefix & ipv4Mask(r.len)) >>> 0;
    const at = this.fib.get(prefix, r.len);
    if (at !== undefined) {
      this.routes[at] = r;
      return;
    }
    const slot = this.freeSlots.pop() ?? this.routes.length;
    this.routes[slot] = r;
    this.fib.insert(prefix, r.len, slot);
  }

  private installed(prefix: number, len: number): RouteConfig | undefined {
    const at = this.fib.get((prefix & ipv4Mask(len)) >>> 0, len);
    return at === undefined ? undefined : this.routes[at];
  }

  private uninstallRoute(prefix: number, len: number): void {
    const net = (prefix & ipv4Mask(len)) >>> 0;
    const at = this.fib.get(net, len);
    if (at === undefined) return;
    this.fib.delete(net, len);
    this.routes[at] = undefined;
    this.freeSlots.push(at);
  }

  /** The global table's route to `dst`. */
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
        this.probes.timer(nowUs);
        for (const app of this.apps) {
          const d = app.nextDeadlineUs();
          if (!this.started || (d !== undefined && d <= nowUs)) app.timer(nowUs);
        }
        this.started = true;
        break;
      case 'command': {
        this.commandsHandled++;
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
        } else if (this.crashed) {
          this.log('node', `${c.kind}: the node is down`);
        } else if (!this.probes.start(c, nowUs) && !this.apps.some((a) => a.operatorCommand?.(c, nowUs))) {
          this.log('node', `${c.kind}: nothing on this node runs it${c.kind === 'clear-bgp' ? ' (no BGP)' : ''}`);
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
    const p = this.probes.nextDeadlineUs();
    if (p !== undefined && (t === undefined || p < t)) t = p;
    return t;
  }

  /** SimNode.stateVersion: the sum of the apps' (each never decreases), undefined if one has none. */
  stateVersion(): number | undefined {
    let v = this.commandsHandled;
    for (const a of this.apps) {
      const x = a.stateVersion?.();
      if (x === undefined) return undefined;
      v += x;
    }
    return v;
  }

  snapshot(purpose: SnapshotPurpose = 'full'): NodeSnapshot {
    const appFlows = this.apps.flatMap((a) => (a.flowStats ? [a.flowStats()] : []));
    const runtimeFlows = this.probes.snapshot();
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
      flowsSent: this.flows
        .map((f) => {
          const s: FlowStats = { ...f.stats };
          if (f.stats.drops) s.drops = { ...f.stats.drops };
          const latency = f.hist.summary();
          if (latency) s.latency = latency;
          return s;
        })
        .concat(appFlows.flatMap((a) => a.sent))
        .sort((a, b) => a.index - b.index),
      flowsReceived: [...this.received.entries()]
        .map(([index, v]): NodeSnapshot['flowsReceived'][number] => {
          const latency = v.hist.summary();
          return { index, received: v.received, bytes: v.bytes, ...(latency ? { latency } : {}) };
        })
        .concat(appFlows.flatMap((a) => a.received))
        .sort((a, b) => a.index - b.index),
      routes: this.fib.size,
      apps: Object.fromEntries(this.apps.map((a) => [a.name, a.snapshot(purpose)])),
      espSas: this.apps.flatMap((a) => a.espSas?.() ?? []),
      ...(runtimeFlows.length ? { runtimeFlows } : {}),
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
    this.forward(bytes, nowUs, ifIndex);
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

  /** `inIf`: the interface the packet arrived on (undefined for packets an application hands back). */
  private forward(bytes: Uint8Array, nowUs: number, inIf?: number): void {
    const dec = decodeIpv4(bytes);
    if (!dec.ok) {
      this.counters.dropMalformed++;
      return;
    }
    // RFC 4364 §5: a packet from a CE is looked up in the VRF of the interface it came in on. A miss
    // falls back to the global table: the provider-assigned access addresses (CE tunnel endpoints,
    // the S/R device) and the provider's own addresses are routed there, never customer prefixes.
    const vrf = inIf === undefined ? undefined : this.vrfs?.vrfOfInterface(inIf);
    if (!decrementTtlInPlace(bytes)) {
      this.counters.dropTtl++;
      this.icmpError(dec.value.header, bytes, 11, 0, vrf, inIf); // RFC 792: time exceeded in transit
      return;
    }
    // An application may take the packet (the IPsec of a security gateway protecting it).
    for (const app of this.apps) if (app.transit?.(bytes, nowUs)) return;
    if (vrf !== undefined && this.forwardInVrf(vrf, bytes, dec.value.header)) return;
    const route = this.lookup(dec.value.header.dst);
    if (!route) {
      this.counters.dropNoRoute++;
      this.icmpError(dec.value.header, bytes, 3, 0, vrf, inIf); // RFC 792: destination (net) unreachable
      return;
    }
    this.counters.forwarded++;
    this.send(route.ifIndex, bytes);
  }

  /** Forwards a customer packet (TTL already decremented) by VRF `vrf`; false on a miss. */
  private forwardInVrf(vrf: number, bytes: Uint8Array, inner: Ipv4Header): boolean {
    const vrfs = this.vrfs!;
    const route = vrfs.lookup(vrf, inner.dst);
    if (!route) return false;
    if (route.kind === 'attached') {
      this.counters.forwarded++;
      this.send(route.ifIndex, bytes);
      return true;
    }
    if (this.local.has(route.egress)) {
      // Another VRF of this PE exports the route (an extranet): the label names it; no backbone trip.
      const other = vrfs.vrfOfLabel(route.label);
      const r = other === undefined ? undefined : vrfs.lookup(other, inner.dst);
      if (r?.kind === 'attached') {
        this.counters.forwarded++;
        this.send(r.ifIndex, bytes);
      } else this.counters.dropVrfNoRoute++;
      return true;
    }
    // RFC 4023 §3: MPLS-in-IP, the VPN label (RFC 4364 §5) as the only label stack entry (bottom of
    // stack set), PE loopback to PE loopback. RFC 3032 §2.4.3 and RFC 3443's uniform model at the
    // push: the label TTL is the IP TTL after this hop; the traffic class takes the IP precedence.
    const outer = this.lookup(route.egress);
    if (!outer) {
      this.counters.dropNoRoute++;
      return true;
    }
    const payload = encodeLabelStack([{ label: route.label, tc: inner.dscp >>> 3, ttl: bytes[8]! }], bytes);
    this.counters.mplsEncapsulated++;
    this.counters.forwarded++;
    this.sendIp(route.egress, IP_PROTO_MPLS_IN_IP, payload, this.config.loopback ?? this.config.interfaces[outer.ifIndex]!.addr);
    return true;
  }

  /**
   * An MPLS-in-IP packet addressed to us (RFC 4023 §3): pop the VPN label, forward the customer's
   * packet by the VRF the label names (RFC 4364 §5). RFC 3443's short pipe model: the label TTL is
   * not copied back; the inner IP TTL is decremented for this hop as for any forwarded packet.
   */
  private mplsReceive(payload: Uint8Array): void {
    const stack = decodeLabelStack(payload);
    if (!stack.ok) {
      this.counters.dropMalformed++;
      return;
    }
    const top = stack.value.entries[0]!;
    const vrf = stack.value.entries.length === 1 ? this.vrfs?.vrfOfLabel(top.label) : undefined;
    if (vrf === undefined) {
      this.counters.dropMplsLabel++;
      return;
    }
    const bytes = stack.value.payload.slice();
    const dec = decodeIpv4(bytes);
    if (!dec.ok) {
      this.counters.dropMalformed++;
      return;
    }
    this.counters.mplsDecapsulated++;
    if (!decrementTtlInPlace(bytes)) {
      this.counters.dropTtl++;
      this.icmpError(dec.value.header, bytes, 11, 0, vrf); // RFC 792, answered within the VRF (as traceroute across a VPN shows the egress PE)
      return;
    }
    const route = this.vrfs!.lookup(vrf, dec.value.header.dst);
    // Only an attached CE is a valid egress: sending it back into the backbone could loop.
    if (route?.kind !== 'attached') {
      this.counters.dropVrfNoRoute++;
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
        if (!this.probes.echoReply(m.identifier, m.sequence, header.src, header.ttl, payload.length, nowUs)) this.pingReply(m.identifier, m.sequence, header, nowUs, payload.length);
      } else if (m.type === 'destination-unreachable' || m.type === 'time-exceeded') {
        if (this.probes.icmpError(m, header.src, nowUs)) return;
        this.flowIcmpError(m.type === 'time-exceeded' ? 'ttlExceeded' : 'unreachable', m.original);
        this.log('icmp', `${m.type} from ${formatIpv4(header.src)}`);
      }
    } else if (header.protocol === IP_PROTO_MPLS_IN_IP && this.vrfs) {
      this.mplsReceive(payload);
    } else if (this.apps.some((a) => a.receive(header.src, header.dst, header.protocol, payload, nowUs, bytes))) {
      // taken by an application (TCP, IKE, …)
    } else if (header.protocol === IP_PROTO_UDP) {
      const udp = decodeUdp(payload, header.src, header.dst);
      if (!udp.ok) {
        this.counters.dropMalformed++;
        return;
      }
      const p = udp.value.payload;
      const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
      if (p.length < 12 || dv.getUint32(0) !== FLOW_MAGIC) {
        // Nothing listens on that port (test flows' datagrams are taken by their sink, whatever
        // the port): RFC 792 / RFC 1122 3.2.2.1 destination unreachable, port unreachable.
        this.icmpError(header, bytes, 3, 3);
        return;
      }
      const index = dv.getUint32(4);
      let r = this.received.get(index);
      if (!r) this.received.set(index, (r = { received: 0, bytes: 0, hist: new LatencyHistogram() }));
      r.received++;
      r.bytes += p.length;
      if (p.length >= FLOW_TIMESTAMP_MIN_BYTES) {
        const sentUs = dv.getFloat64(12);
        if (Number.isFinite(sentUs) && sentUs >= 0 && sentUs <= nowUs) r.hist.record(nowUs - sentUs);
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
    recordRtt(f.stats, f, rtt);
    f.hist.record(rtt);
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
          if (!this.lookup(c.to)) this.flowDrop(f, 'noRouteAtSource');
          this.sendIp(c.to, IP_PROTO_ICMP, encodeIcmp({ type: 'echo-request', identifier: PING_ID_BASE + c.index, sequence: seq & 0xffff, data }));
          f.nextUs = seq + 1 < c.count ? c.startUs + (seq + 1) * c.intervalUs : undefined;
        } else {
          const payload = new Uint8Array(Math.max(12, c.sizeBytes));
          const dv = new DataView(payload.buffer);
          dv.setUint32(0, FLOW_MAGIC);
          dv.setUint32(4, c.index);
          dv.setUint32(8, seq >>> 0);
          if (payload.length >= FLOW_TIMESTAMP_MIN_BYTES) dv.setFloat64(12, nowUs);
          const src = this.sourceFor(c.to);
          if (src !== undefined) this.sendIp(c.to, IP_PROTO_UDP, encodeUdp({ srcPort: c.srcPort, dstPort: c.dstPort, payload }, src, c.to), src);
          else {
            this.counters.dropNoRoute++;
            this.flowDrop(f, 'noRouteAtSource');
          }
          const bitsPerPacket = payload.length * 8;
          const next = c.startUs + Math.round(((seq + 1) * bitsPerPacket * 1_000_000) / c.rateBps);
          f.nextUs = next < c.startUs + c.durationUs ? next : undefined;
        }
        f.stats.sent++;
      }
    }
  }

  private flowDrop(f: FlowState, reason: FlowDropReason): void {
    const d = (f.stats.drops ??= {});
    d[reason] = (d[reason] ?? 0) + 1;
  }

  /** An ICMP error quoting one of this node's flow packets: count it against the flow. */
  private flowIcmpError(reason: FlowDropReason, quote: Uint8Array): void {
    if (quote.length < 28 || quote[0]! >> 4 !== 4) return;
    const ihl = (quote[0]! & 0x0f) * 4;
    if (quote.length < ihl + 8) return;
    const dv = new DataView(quote.buffer, quote.byteOffset, quote.byteLength);
    const proto = quote[9]!;
    const dst = dv.getUint32(16);
    let flow: FlowState | undefined;
    if (proto === IP_PROTO_ICMP && quote[ihl] === 8) {
      const g = this.flowByIndex.get(dv.getUint16(ihl + 4) - PING_ID_BASE);
      if (g?.cfg.kind === 'ping' && g.cfg.to === dst) flow = g;
    }
    else if (proto === IP_PROTO_UDP) {
      const sp = dv.getUint16(ihl);
      const dp = dv.getUint16(ihl + 2);
      flow = this.flows.find((x) => x.cfg.kind === 'udp' && x.cfg.to === dst && x.cfg.srcPort === sp && x.cfg.dstPort === dp);
    }
    if (flow) this.flowDrop(flow, reason);
  }

  /** The address of the interface a packet to `dst` leaves by. */
  private sourceFor(dst: number): number | undefined {
    const r = this.lookup(dst);
    return r ? this.config.interfaces[r.ifIndex]?.addr : undefined;
  }

  sendIp(dst: number, protocol: number, payload: Uint8Array, src?: number, ttl = DEFAULT_TTL): void {
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
      ttl,
      protocol,
      src: src ?? this.config.interfaces[route.ifIndex]!.addr,
      dst,
      options: new Uint8Array(0),
    };
    const bytes = encodeIpv4(header, payload);
    for (const app of this.apps) if (app.originate?.(bytes, this.nowUs)) return;
    this.send(route.ifIndex, bytes);
  }

  /**
   * Sends an ICMP error about `bytes` to its source (RFC 792). `vrf`: the packet belongs to that VRF
   * of ours (a PE), so the error is routed there too, from our address in it (`inIf`'s, or the first
   * interface attached to the VRF) — a customer's source is not in the global table.
   */
  private icmpError(orig: Ipv4Header, bytes: Uint8Array, type: 3 | 11, code: number, vrf?: number, inIf?: number): void {
    // RFC 1122 3.2.2: never send an ICMP error about an ICMP error.
    const ihl = (bytes[0]! & 0x0f) * 4;
    if (orig.protocol === IP_PROTO_ICMP && bytes.length > ihl && bytes[ihl]! !== 8 && bytes[ihl]! !== 0) return;
    const original = icmpQuote(bytes).slice();
    this.counters.icmpErrorsSent++;
    const msg: IcmpMessage = type === 11 ? { type: 'time-exceeded', code, original } : { type: 'destination-unreachable', code, nextHopMtu: 0, original };
    const icmp = encodeIcmp(msg);
    const vrfs = this.vrfs;
    if (vrf === undefined || !vrfs) {
      this.sendIp(orig.src, IP_PROTO_ICMP, icmp);
      return;
    }
    const srcIf = (inIf !== undefined ? this.config.interfaces.find((i) => i.ifIndex === inIf) : undefined) ?? this.config.interfaces.find((i) => vrfs.vrfOfInterface(i.ifIndex) === vrf);
    if (!srcIf) return;
    const header: Ipv4Header = { dscp: 0, ecn: 0, identification: this.ipId++ & 0xffff, dontFragment: false, moreFragments: false, fragmentOffset: 0, ttl: DEFAULT_TTL, protocol: IP_PROTO_ICMP, src: srcIf.addr, dst: orig.src, options: new Uint8Array(0) };
    if (!this.forwardInVrf(vrf, encodeIpv4(header, icmp), header)) this.counters.dropNoRoute++;
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

function routeKey(prefix: number, len: number): string {
  return `${(prefix & ipv4Mask(len)) >>> 0}/${len}`;
}
