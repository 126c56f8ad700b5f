// What a node is to the layers above: the sans-IO contract plus an inspectable snapshot, and the
// plain configuration it is built from. Types only.

import type { NodeCommand, NodeCore } from '../lib/sans-io.ts';
import type { EspEngine } from '../dataplane/esp.ts';
import type { LpmEngine } from '../dataplane/lpm.ts';
import type { LatencySummary } from './latency-histogram.ts';

/** The fast paths a node uses, chosen at start-up (WASM engines or the TypeScript reference). */
export interface NodeDataplane {
  lpm: LpmEngine;
  /** A fresh ESP engine (its own SA table) for one node. */
  newEsp(): EspEngine;
}

export type NodeRole = 'host' | 'ce' | 'pe' | 'p' | 'sr';

export interface InterfaceConfig {
  ifIndex: number;
  /** The node at the other end (interfaces are named after their neighbour). */
  peer: string;
  /** IPv4 interface address, unsigned 32-bit. */
  addr: number;
  len: number;
}

export interface RouteConfig {
  /** Network address, unsigned 32-bit. */
  prefix: number;
  len: number;
  ifIndex: number;
  /** Next-hop address; 0 for a connected route. */
  nextHop: number;
}

export interface PingFlowConfig {
  kind: 'ping';
  index: number;
  to: number;
  count: number;
  intervalUs: number;
  startUs: number;
  sizeBytes: number;
}

export interface UdpFlowConfig {
  kind: 'udp';
  index: number;
  to: number;
  rateBps: number;
  sizeBytes: number;
  startUs: number;
  durationUs: number;
  srcPort: number;
  dstPort: number;
}

/** A TCP transfer: connect at `startUs`, send `bytes` of the flow's deterministic stream, close. */
export interface TcpFlowConfig {
  kind: 'tcp';
  index: number;
  to: number;
  /** Bytes the client sends (the stream header included, see tcp-flow-app.ts). */
  bytes: number;
  startUs: number;
  srcPort: number;
  dstPort: number;
}

export type FlowConfig = PingFlowConfig | UdpFlowConfig | TcpFlowConfig;

export interface NodeConfig {
  index: number;
  id: string;
  role: NodeRole;
  loopback?: number;
  interfaces: InterfaceConfig[];
  routes: RouteConfig[];
  /** Flows this node sources. */
  flows: FlowConfig[];
  /** The run's seed: the node draws from stream RNG_STREAM.NODE_BASE + index of it. */
  seed: number;
}

export interface FlowStats {
  index: number;
  kind: 'ping' | 'udp' | 'tcp';
  /** At the source: datagrams / echo requests sent. */
  sent: number;
  /** ping: replies back at the source; udp: datagrams received at the destination. */
  received: number;
  /** ping only: round-trip times in microseconds of virtual time. */
  rttMinUs?: number;
  rttAvgUs?: number;
  rttMaxUs?: number;
  /** ping: every round-trip time, in a bounded log-scale histogram (latency-histogram.ts). */
  latency?: LatencySummary;
  /**
   * Packets of this flow known to be dropped, by reason: `noRouteAtSource` (the source had no route),
   * `unreachable` / `ttlExceeded` (an ICMP destination unreachable / time exceeded came back quoting
   * one of the flow's packets). Losses nobody reported are not here.
   */
  drops?: Partial<Record<FlowDropReason, number>>;
  /** tcp only: the client's side of the transfer. */
  tcp?: TcpFlowClientStats;
}

/** A tcp flow at its client (source host). Times are virtual microseconds. */
export interface TcpFlowClientStats {
  /** Bytes the client handed to TCP (its send buffer took them). */
  bytesSent: number;
  /** Bytes the server's TCP acknowledged. */
  bytesAcked: number;
  /** When the client sent its SYN; absent before the start or when the connect was refused locally. */
  connectAtUs?: number;
  /** SYN sent to ESTABLISHED: the handshake round trip. */
  setupUs?: number;
  /** Segments with sequence space sent before (timeouts, fast retransmits, go-back-N). */
  retransmits: number;
  fastRetransmits: number;
  timeouts: number;
  /** RFC 9293 state name of the client's connection (`CLOSED` once it is gone). */
  state: string;
  /** Why the connection closed, once it has. */
  closeReason?: string;
  /** The server's FIN reached the client (after the client's own FIN: the FIN exchange). */
  finReceived: boolean;
}

/** A tcp flow at its server (destination host): bytes checked against the flow's stream. */
export interface TcpFlowServerStats {
  /** Connections of this flow the server accepted. */
  connections: number;
  /** Bytes received in order that match the flow's stream (the header included). */
  bytesReceived: number;
  /** Bytes that did not match the stream (0 unless something corrupted it). */
  bytesCorrupt: number;
  /** The stream's length as its header announces it. */
  bytesExpected: number;
  /** When the last expected byte arrived. */
  lastByteAtUs?: number;
  /** The client's FIN reached the server. */
  finReceived: boolean;
}

export type FlowDropReason = 'noRouteAtSource' | 'unreachable' | 'ttlExceeded';

export interface InterfaceSnapshot {
  ifIndex: number;
  peer: string;
  addr: string;
  up: boolean;
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
}

export interface NodeSnapshot {
  id: string;
  role: NodeRole;
  counters: Record<string, number>;
  interfaces: InterfaceSnapshot[];
  /** Flows this node sources (sent, and ping replies). */
  flowsSent: FlowStats[];
  /** UDP datagrams this node received, per flow index. */
  flowsReceived: { index: number; received: number; bytes: number; latency?: LatencySummary; tcp?: TcpFlowServerStats }[];
  routes: number;
  /** Per hosted application (by name), its own inspection data. */
  apps: Record<string, Record<string, unknown>>;
  /** Every ESP SA this node has ever installed (for Wireshark's esp_sa table, `--keys`). */
  espSas: EspSaExport[];
  /** Pings and traceroutes an operator started at run time (console commands); absent when none. */
  runtimeFlows?: RuntimeFlowReport[];
}

/** An ICMP error that came back about a run-time probe: time exceeded, or unreachable with its code (RFC 792). */
export type ProbeAnswer = 'time-exceeded' | 'port-unreachable' | 'net-unreachable' | 'host-unreachable' | 'unreachable';

/** A ping started by a NodeCommand: what `ping` prints, line by line. */
export interface RuntimePingReport {
  kind: 'ping';
  /** Per node, counting from 1. */
  id: number;
  dst: string;
  src: string;
  count: number;
  sizeBytes: number;
  intervalUs: number;
  startUs: number;
  sent: number;
  received: number;
  rttMinUs?: number;
  rttAvgUs?: number;
  rttMaxUs?: number;
  /** Echo replies and ICMP errors, in the order they arrived. */
  events: ({ kind: 'reply'; seq: number; from: string; ttl: number; bytes: number; rttUs: number } | { kind: ProbeAnswer; seq: number; from: string })[];
  /** Every request sent and answered, or the last one's wait is over. */
  done: boolean;
  /** Why it could not start (a bad address, no route at the source). */
  error?: string;
}

/** One traceroute probe: who answered and how, after how long; no `from` when it timed out. */
export interface TracerouteProbe {
  from?: string;
  answer?: ProbeAnswer;
  rttUs?: number;
}

/** A traceroute started by a NodeCommand. */
export interface RuntimeTracerouteReport {
  kind: 'traceroute';
  id: number;
  dst: string;
  src: string;
  maxHops: number;
  startUs: number;
  /** Hop n (TTL n) at index n−1, with its probes in order; the last hop may still be under way. */
  hops: { ttl: number; probes: TracerouteProbe[] }[];
  /** The destination answered (port unreachable from `dst`). */
  reached: boolean;
  done: boolean;
  error?: string;
}

export type RuntimeFlowReport = RuntimePingReport | RuntimeTracerouteReport;

/**
 * One ESP SA as Wireshark needs it to decrypt (tunnel addresses of the outer header, SPI, suite,
 * key then salt). Apps that install SAs (static, IKE, group) report every one they ever installed,
 * expired ones included, so a capture of the whole run decrypts.
 */
export interface EspSaExport {
  /** Outer source and destination, dotted quad; `*` for a group SA any member may send on. */
  src: string;
  dst: string;
  spi: number;
  suite: 'aes-gcm-128' | 'aes-gcm-256' | 'chacha20-poly1305';
  /** Key followed by the 4-octet salt, lower-case hex, no prefix. */
  keyHex: string;
}

/**
 * What a snapshot is for: `full` (the UI, the report), or `convergence` — only what the convergence
 * check reads (sim/convergence.ts), so apps may leave out the rest (a member's adj-RIB-In, route
 * details): the check must count the same either way; or `sessions` — the check of a node it
 * expects no routes or SAs of (a PE, P, S/R): BGP neighbours and their states, no RIB at all.
 * An app that does not tell them apart may answer any purpose with more.
 */
export type SnapshotPurpose = 'full' | 'convergence' | 'sessions';

export interface SimNode extends NodeCore {
  snapshot(purpose?: SnapshotPurpose): NodeSnapshot;
  /** Grows whenever the state part of `snapshot()` may have changed (see NodeApp.stateVersion); undefined: unknown, read every time. */
  stateVersion?(): number | undefined;
}

/** What a node offers the applications it hosts (TCP, BGP, IKE, …): sending and logging. */
export interface NodeContext {
  readonly config: NodeConfig;
  /** Sends an IPv4 packet; the source defaults to the outgoing interface's address. */
  sendIp(dst: number, protocol: number, payload: Uint8Array, src?: number): void;
  log(topic: string, text: string): void;
  /** True when `addr` is one of this node's addresses. */
  isLocal(addr: number): boolean;
  /** Forwards a whole IPv4 packet as if it had just arrived (a decapsulated inner packet). */
  forwardPacket(bytes: Uint8Array, nowUs: number): void;
}

/**
 * A protocol application hosted by a node, sans-IO like everything else: it sees the packets
 * addressed to the node, is woken at its deadline, and sends through the context.
 */
export interface NodeApp {
  readonly name: string;
  /**
   * Offered every locally delivered packet the node itself does not consume; true if taken.
   * `payload` is a view into `packet`, the whole IPv4 packet as it arrived.
   */
  receive(src: number, dst: number, protocol: number, payload: Uint8Array, nowUs: number, packet: Uint8Array): boolean;
  /** Offered every packet about to be forwarded (before the route lookup); true if it took it. */
  transit?(bytes: Uint8Array, nowUs: number): boolean;
  /**
   * Offered every packet the node itself originates (before the route lookup); true if it took it
   * (RFC 4301 §5.1: outbound IPsec processing covers locally generated traffic too).
   */
  originate?(bytes: Uint8Array, nowUs: number): boolean;
  /** Called when the node wakes at or after this app's deadline (and once at start). */
  timer(nowUs: number): void;
  nextDeadlineUs(): number | undefined;
  /** Inspection data for the UI and the report (see SnapshotPurpose). */
  snapshot(purpose?: SnapshotPurpose): Record<string, unknown>;
  /** Every ESP SA the app has installed so far (see EspSaExport). */
  espSas?(): EspSaExport[];
  /**
   * A number that never decreases and grows whenever what `snapshot()` and `espSas()` say about BGP
   * neighbours and their states, routes and prefixes, SPD entries or SAs may have changed (counters
   * and statistics excepted). While it stands still, convergence sampling reuses what it read of the
   * node last time instead of building the snapshot again (sim/convergence.ts). Optional: a node with
   * an app without one is read at every sample.
   */
  stateVersion?(): number | undefined;
  /** Flows the app runs (tcp flows): their stats at the source and at the destination. */
  flowStats?(): { sent: FlowStats[]; received: NodeSnapshot['flowsReceived'] };
  /** An operator command the node does not handle itself (e.g. `clear-bgp`); true if the app took it. */
  operatorCommand?(command: NodeCommand, nowUs: number): boolean;
}
