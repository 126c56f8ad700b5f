// A host's tcp flows over the node's TcpApp: the client of each flow it sources (connect at the
// start, send the flow's deterministic stream, close) and a sink server on every port a flow
// targets at it (checks each byte against the stream, closes when the client closes). Owns the
// per-flow byte counts and times; never builds segments or touches the stack's state itself.
//
// The stream of flow i, `bytes` long: a 12-byte header (FLOW_MAGIC, i, bytes; big-endian u32), then
// byte k (k ≥ 12) = tcpFlowByte(i, k). The header names the flow to the server, so a server can
// sink several flows on one port and one address may be held by hosts of several customers.

import type { TcpCloseReason, TcpConnId, TcpConnectionView, TcpTuple } from '../proto/ip/tcp.ts';
import { FLOW_MAGIC } from './ip-node.ts';
import { LatencyHistogram } from './latency-histogram.ts';
import type { StreamUser, TcpApp } from './tcp-app.ts';
import type { FlowStats, NodeApp, NodeContext, NodeSnapshot, TcpFlowClientStats, TcpFlowConfig, TcpFlowServerStats } from './types.ts';

/** Bytes of the stream header: FLOW_MAGIC, flow index, stream length. */
export const TCP_FLOW_HEADER_BYTES = 12;
/** The longest stream a flow may send (the header's u32 length; the loader's limit too). */
export const TCP_FLOW_BYTES_MAX = 1 << 30;
/** Bytes offered to the send buffer per call; the stack takes what fits and says when there is room. */
const SEND_CHUNK_BYTES = 16_384;
/** Server connections tracked at once, and flows a server counts; past this new ones are refused. */
const SERVER_CONNS_MAX = 1_024;
const SERVED_FLOWS_MAX = 1_024;

/** Byte `pos` (≥ 12) of flow `index`'s stream. */
export function tcpFlowByte(index: number, pos: number): number {
  return (pos ^ (pos >>> 8) ^ (pos >>> 16) ^ Math.imul(index, 0x9d)) & 0xff;
}

/** Bytes [offset, offset + n) of flow `index`'s stream of `total` bytes. */
export function tcpFlowStream(index: number, total: number, offset: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  const header = new Uint8Array(TCP_FLOW_HEADER_BYTES);
  const dv = new DataView(header.buffer);
  dv.setUint32(0, FLOW_MAGIC);
  dv.setUint32(4, index >>> 0);
  dv.setUint32(8, total >>> 0);
  for (let k = 0; k < n; k++) {
    const pos = offset + k;
    out[k] = pos < TCP_FLOW_HEADER_BYTES ? header[pos]! : tcpFlowByte(index, pos);
  }
  return out;
}

interface Client {
  cfg: TcpFlowConfig;
  phase: 'pending' | 'connecting' | 'sending' | 'closing' | 'failed';
  conn?: TcpConnId;
  view?: TcpConnectionView;
  connectAtUs?: number;
  setupUs?: number;
  /** Stream bytes the send buffer took so far. */
  offset: number;
  closeReason?: TcpCloseReason;
  finReceived: boolean;
  hist: LatencyHistogram;
  noRoute: boolean;
}

interface ServerConn {
  /** Stream position of the next byte. */
  pos: number;
  header: Uint8Array;
  flow?: TcpFlowServerStats & { index: number };
  /** A byte did not match: everything after it counts as corrupt. */
  broken: boolean;
}

export class TcpFlowApp implements NodeApp, StreamUser {
  readonly name = 'tcp-flows';
  private readonly clients: Client[];
  private readonly clientByConn = new Map<TcpConnId, Client>();
  private readonly serverConns = new Map<TcpConnId, ServerConn>();
  private readonly served = new Map<number, TcpFlowServerStats & { index: number }>();
  private listening = false;
  /** Connections to our ports whose stream did not start with a flow header. */
  private unattributed = 0;

  /**
   * `clients`: the tcp flows this node sources; `serverPorts`: ports to sink flows on;
   * `sourceFor(dst)`: the address of the interface a packet to `dst` leaves by (undefined: no route).
   */
  constructor(
    private readonly ctx: NodeContext,
    private readonly tcp: TcpApp,
    clients: readonly TcpFlowConfig[],
    private readonly serverPorts: readonly number[],
    private readonly sourceFor: (dst: number) => number | undefined,
  ) {
    this.clients = clients.map((cfg) => ({ cfg, phase: 'pending', offset: 0, finReceived: false, hist: new LatencyHistogram(), noRoute: false }));
  }

  // --- NodeApp ------------------------------------------------------------------------------

  receive(): boolean {
    return false; // segments reach us through the TcpApp
  }

  timer(nowUs: number): void {
    if (!this.listening) {
      this.listening = true;
      for (const port of this.serverPorts) this.tcp.listen(port, this, nowUs);
    }
    for (const c of this.clients) if (c.phase === 'pending' && c.cfg.startUs <= nowUs) this.start(c, nowUs);
  }

  nextDeadlineUs(): number | undefined {
    let t: number | undefined;
    for (const c of this.clients) if (c.phase === 'pending' && (t === undefined || c.cfg.startUs < t)) t = c.cfg.startUs;
    return t;
  }

  snapshot(): Record<string, unknown> {
    return {
      listening: [...this.serverPorts],
      clients: this.clients.map((c) => ({ index: c.cfg.index, phase: c.phase, conn: c.conn ?? null })),
      serverConnections: this.serverConns.size,
      unattributed: this.unattributed,
    };
  }

  flowStats(): { sent: FlowStats[]; received: NodeSnapshot['flowsReceived'] } {
    const sent = this.clients.map((c): FlowStats => {
      const st = c.view?.stats;
      const tcp: TcpFlowClientStats = {
        bytesSent: c.offset,
        bytesAcked: st?.bytesAcked ?? 0,
        retransmits: st?.retransmits ?? 0,
        fastRetransmits: st?.fastRetransmits ?? 0,
        timeouts: st?.timeouts ?? 0,
        state: c.view?.state ?? 'CLOSED',
        finReceived: c.finReceived,
      };
      if (c.connectAtUs !== undefined) tcp.connectAtUs = c.connectAtUs;
      if (c.setupUs !== undefined) tcp.setupUs = c.setupUs;
      if (c.closeReason !== undefined) tcp.closeReason = c.closeReason;
      const s: FlowStats = { index: c.cfg.index, kind: 'tcp', sent: c.offset, received: tcp.bytesAcked, tcp };
      const latency = c.hist.summary();
      if (latency) s.latency = latency;
      if (c.noRoute) s.drops = { noRouteAtSource: 1 };
      return s;
    });
    const received = [...this.served.values()]
      .sort((a, b) => a.index - b.index)
      .map(({ index, ...tcp }) => ({ index, received: tcp.bytesReceived, bytes: tcp.bytesReceived, tcp }));
    return { sent, received };
  }

  // --- client -------------------------------------------------------------------------------

  private start(c: Client, nowUs: number): void {
    const src = this.sourceFor(c.cfg.to);
    if (src === undefined) {
      c.phase = 'failed';
      c.noRoute = true;
      this.ctx.log('tcp-flow', `flow ${c.cfg.index}: no route to the destination`);
      return;
    }
    c.connectAtUs = nowUs;
    c.phase = 'connecting';
    const conn = this.tcp.connect({ localAddr: src, localPort: c.cfg.srcPort, remoteAddr: c.cfg.to, remotePort: c.cfg.dstPort }, this, nowUs);
    if (conn === undefined) {
      c.phase = 'failed';
      return;
    }
    c.conn = conn;
    c.view = this.tcp.stack.connection(conn);
    this.clientByConn.set(conn, c);
  }

  /** Offers the rest of the stream to the send buffer; closes once all of it is queued. */
  private pump(c: Client, nowUs: number): void {
    const total = c.cfg.bytes;
    while (c.phase === 'sending' && c.offset < total) {
      const n = Math.min(SEND_CHUNK_BYTES, total - c.offset);
      const took = this.tcp.send(c.conn!, tcpFlowStream(c.cfg.index, total, c.offset, n), nowUs);
      c.offset += took;
      if (took < n) return; // `writable` brings us back
    }
    if (c.phase === 'sending' && c.offset === total) {
      c.phase = 'closing';
      this.tcp.close(c.conn!, nowUs);
    }
  }

  // --- StreamUser ---------------------------------------------------------------------------

  connected(conn: TcpConnId, _tuple: TcpTuple, passive: boolean, nowUs: number): void {
    if (passive) {
      if (this.serverConns.size >= SERVER_CONNS_MAX) {
        this.tcp.abort(conn, nowUs);
        return;
      }
      this.serverConns.set(conn, { pos: 0, header: new Uint8Array(TCP_FLOW_HEADER_BYTES), broken: false });
      return;
    }
    const c = this.clientByConn.get(conn);
    if (!c || c.phase !== 'connecting') return;
    c.setupUs = nowUs - c.connectAtUs!;
    c.hist.record(c.setupUs);
    c.phase = 'sending';
    this.pump(c, nowUs);
  }

  writable(conn: TcpConnId, nowUs: number): void {
    const c = this.clientByConn.get(conn);
    if (c) this.pump(c, nowUs);
  }

  data(conn: TcpConnId, bytes: Uint8Array, nowUs: number): void {
    const s = this.serverConns.get(conn);
    if (!s) return; // the server sends nothing to a client
    for (let k = 0; k < bytes.length; k++) {
      const b = bytes[k]!;
      const pos = s.pos++;
      if (pos < TCP_FLOW_HEADER_BYTES) {
        s.header[pos] = b;
        if (pos === TCP_FLOW_HEADER_BYTES - 1) this.attribute(s);
        continue;
      }
      const f = s.flow;
      if (!f) continue;
      if (!s.broken && pos < f.bytesExpected && b === tcpFlowByte(f.index, pos)) f.bytesReceived++;
      else {
        s.broken = true;
        f.bytesCorrupt++;
      }
    }
    const f = s.flow;
    if (f && !s.broken && f.bytesReceived === f.bytesExpected && f.lastByteAtUs === undefined) f.lastByteAtUs = nowUs;
  }

  closed(conn: TcpConnId, reason: TcpCloseReason | 'eof', nowUs: number): void {
    const s = this.serverConns.get(conn);
    if (s) {
      if (reason === 'eof') {
        if (s.flow) s.flow.finReceived = true;
        this.tcp.close(conn, nowUs); // the sink closes when the client does
      } else this.serverConns.delete(conn);
      return;
    }
    const c = this.clientByConn.get(conn);
    if (!c) return;
    if (reason === 'eof') {
      c.finReceived = true;
      return;
    }
    c.closeReason = reason;
    this.clientByConn.delete(conn);
    if (c.phase === 'connecting' || c.phase === 'sending') c.phase = 'failed';
  }

  /** The header is complete: which flow this connection carries. */
  private attribute(s: ServerConn): void {
    const dv = new DataView(s.header.buffer);
    if (dv.getUint32(0) !== FLOW_MAGIC) {
      this.unattributed++;
      s.broken = true;
      return;
    }
    const index = dv.getUint32(4);
    const expected = dv.getUint32(8);
    let f = this.served.get(index);
    if (!f && this.served.size >= SERVED_FLOWS_MAX) {
      this.unattributed++;
      s.broken = true;
      return;
    }
    if (!f) {
      f = { index, connections: 0, bytesReceived: 0, bytesCorrupt: 0, bytesExpected: expected, finReceived: false };
      this.served.set(index, f);
    }
    f.connections++;
    f.bytesReceived += TCP_FLOW_HEADER_BYTES;
    s.flow = f;
  }
}
