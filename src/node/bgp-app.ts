// A node's BGP speaker: one BgpSession per neighbour on the node's TCP (port 179), feeding a route
// processor (the RIBs and decision process) and carrying its UPDATEs back out. Owns the plumbing
// between sessions, TCP and the processor; never decides routes itself.

import { concat } from '../lib/bytes.ts';
import { formatIpv4 } from '../lib/addr.ts';
import type { Rng } from '../lib/rng.ts';
import type { NodeCommand } from '../lib/sans-io.ts';
import { CEASE } from '../proto/bgp/errors.ts';
import type { Decoded, Family } from '../proto/bgp/index.ts';
import { BgpSession, type BgpSessionOutput, type ConnId, type PeerInfo } from '../proto/bgp/session.ts';
import { TCP_PORT_BGP } from '../proto/ip/tcp-segment.ts';
import type { TcpConnId, TcpTuple } from '../proto/ip/tcp.ts';
import type { TcpAuthConfig } from '../proto/ip/tcp-auth.ts';
import type { StreamUser, TcpApp } from './tcp-app.ts';
import type { NodeApp, NodeContext, SnapshotPurpose } from './types.ts';

/** Bytes one neighbour may have waiting for TCP send space before the session is reset. */
export const BGP_PENDING_BYTES_MAX = 4 * 1024 * 1024;

export interface BgpNeighborConfig {
  /** Unique per node; names the peer in the route processor. */
  name: string;
  peerAddr: number;
  localAddr: number;
  peerAs: number;
  families: Family[];
  passive?: boolean;
  holdTimeS?: number;
  connectRetryTimeS?: number;
  /**
   * Protects the session's TCP connection with TCP MD5 (RFC 2385) or TCP-AO (RFC 5925): the TCP
   * app signs and verifies every segment between localAddr and peerAddr. Both ends need it.
   */
  tcpAuth?: TcpAuthConfig;
}

export interface BgpSpeakerConfig {
  localAs: number;
  routerId: number;
  neighbors: BgpNeighborConfig[];
}

/** The RIB side: what the speaker hands routes to and takes UPDATEs from. */
export interface RouteProcessor {
  peerUp(peer: string, info: PeerInfo, nowUs: number): void;
  peerDown(peer: string, nowUs: number): void;
  /** A decoded UPDATE with its RFC 7606 outcome (the strongest error and all of them). */
  receiveUpdate(peer: string, decoded: Decoded, nowUs: number): void;
  /** Next encoded UPDATE for a peer, until undefined. */
  poll(): { peer: string; bytes: Uint8Array } | undefined;
  snapshot(purpose?: SnapshotPurpose): Record<string, unknown>;
  /** Grows whenever a RIB may have changed (BgpRouter.version); optional. */
  version?(): number;
}

interface Neighbor {
  cfg: BgpNeighborConfig;
  session: BgpSession;
  /** Session connection id ↔ TCP connection id. */
  tcpOf: Map<ConnId, TcpConnId>;
  sessionOf: Map<TcpConnId, ConnId>;
  /** Bytes waiting for TCP send space, per TCP connection. */
  pending: Map<TcpConnId, Uint8Array[]>;
  /** The session state `stateVersion` saw last. */
  seenState: string;
}

export class BgpApp implements NodeApp, StreamUser {
  readonly name = 'bgp';
  private readonly neighbors = new Map<string, Neighbor>();
  private readonly byTcp = new Map<TcpConnId, Neighbor>();
  private started = false;
  /** Inside flushUpdates: queue UPDATEs without writing them yet. */
  private corked = false;
  /** Each session's next deadline (sessions without one are absent) and their minimum. */
  private readonly deadlineOf = new Map<Neighbor, number>();
  private minDeadline: number | undefined;
  private minDirty = true;
  /** Neighbour state changes seen by `stateVersion`. */
  private stateChanges = 0;

  constructor(
    private readonly ctx: NodeContext,
    private readonly tcp: TcpApp,
    readonly config: BgpSpeakerConfig,
    readonly processor: RouteProcessor,
    rng: Rng,
  ) {
    for (const n of config.neighbors) {
      const session = new BgpSession({
        name: n.name,
        localAs: config.localAs,
        bgpIdentifier: config.routerId,
        peerAs: n.peerAs,
        families: n.families,
        passive: n.passive ?? false,
        rng,
        ...(n.holdTimeS !== undefined ? { holdTimeS: n.holdTimeS } : {}),
        connectRetryTimeS: n.connectRetryTimeS ?? 5,
        idleHoldTimeS: 1,
        idleHoldTimeMaxS: 30,
      });
      this.neighbors.set(n.name, { cfg: n, session, tcpOf: new Map(), sessionOf: new Map(), pending: new Map(), seenState: session.state });
      if (n.tcpAuth) tcp.setAuth(n.localAddr, n.peerAddr, n.tcpAuth);
    }
  }

  receive(): boolean {
    return false; // BGP arrives through the TCP app
  }

  timer(nowUs: number): void {
    if (!this.started) {
      this.started = true;
      this.tcp.listen(TCP_PORT_BGP, this, nowUs);
      for (const n of this.neighbors.values()) this.input(n, { kind: 'start' }, nowUs);
      return;
    }
    const due: Neighbor[] = [];
    for (const [n, d] of this.deadlineOf) if (d <= nowUs) due.push(n);
    for (const n of due) this.input(n, { kind: 'timer' }, nowUs);
  }

  nextDeadlineUs(): number | undefined {
    if (!this.started) return 0;
    if (this.minDirty) {
      let t: number | undefined;
      for (const d of this.deadlineOf.values()) if (t === undefined || d < t) t = d;
      this.minDeadline = t;
      this.minDirty = false;
    }
    return this.minDeadline;
  }

  /**
   * Keeps each session's deadline and their minimum without asking every session at every wake-up
   * (a route reflector with N clients would pay O(N) per event). Called after each session input.
   */
  private noteDeadline(n: Neighbor): void {
    const d = n.session.nextDeadlineUs();
    const old = this.deadlineOf.get(n);
    if (d === old) return;
    if (d === undefined) this.deadlineOf.delete(n);
    else this.deadlineOf.set(n, d);
    if (this.minDirty) return;
    if (old !== undefined && old === this.minDeadline) this.minDirty = true;
    else if (d !== undefined && (this.minDeadline === undefined || d < this.minDeadline)) this.minDeadline = d;
  }

  snapshot(purpose?: SnapshotPurpose): Record<string, unknown> {
    return {
      localAs: this.config.localAs,
      routerId: formatIpv4(this.config.routerId),
      neighbors: [...this.neighbors.values()].map((n) => ({ name: n.cfg.name, peer: formatIpv4(n.cfg.peerAddr), peerAs: n.cfg.peerAs, state: n.session.state, stats: n.session.stats })),
      rib: this.processor.snapshot(purpose),
    };
  }

  /** NodeApp.stateVersion: the processor's RIB version plus the neighbour state changes seen. */
  stateVersion(): number | undefined {
    const rib = this.processor.version?.();
    if (rib === undefined) return undefined;
    for (const n of this.neighbors.values()) {
      const s = n.session.state;
      if (s !== n.seenState) {
        n.seenState = s;
        this.stateChanges++;
      }
    }
    return rib + this.stateChanges;
  }

  /** Hands the route processor's pending UPDATEs to the sessions now (a processor that batches them). */
  flushUpdates(nowUs: number): void {
    // Corked: the UPDATEs of one flush reach TCP as one write per neighbour, so they leave in full
    // segments instead of one segment each (our TCP has no Nagle, RFC 9293 §3.7.4).
    this.corked = true;
    try {
      this.pump(nowUs);
    } finally {
      this.corked = false;
    }
    for (const n of this.neighbors.values()) {
      for (const [conn, q] of n.pending) {
        if (q.length > 1) {
          const all = concat(...q);
          q.length = 0;
          q.push(all);
        }
        this.flush(n, conn, nowUs);
      }
    }
  }

  /** Stops one neighbour's session (Cease, RFC 4486 §4 subcode 3 "Peer De-configured"); it stays Idle. */
  stopNeighbor(name: string, nowUs: number, communication?: string): void {
    const n = this.neighbors.get(name);
    if (n) this.input(n, { kind: 'stop', subcode: 3, ...(communication !== undefined ? { communication } : {}) }, nowUs);
  }

  /**
   * `clear-bgp`: resets the sessions with every neighbour or the one named (name or address, `*` for
   * all). Each gets a Cease NOTIFICATION, Administrative Reset (RFC 4486 §4 subcode 4), its routes
   * are withdrawn, and it starts again at once (ManualStart, RFC 4271 §8.1.2 Event 1).
   */
  operatorCommand(c: NodeCommand, nowUs: number): boolean {
    if (c.kind !== 'clear-bgp') return false;
    const want = c.neighbor === undefined || c.neighbor === '*' ? undefined : c.neighbor;
    const list = [...this.neighbors.values()].filter((n) => want === undefined || n.cfg.name === want || formatIpv4(n.cfg.peerAddr) === want);
    if (!list.length) {
      this.ctx.log('bgp', `clear bgp: no neighbour ${want}`);
      return true;
    }
    if (!this.started) this.timer(nowUs); // listen and start first, as at the node's first wake-up
    for (const n of list) {
      this.ctx.log('bgp', `${n.cfg.name}: clear bgp (Administrative Reset)`);
      this.input(n, { kind: 'stop', subcode: CEASE.ADMINISTRATIVE_RESET }, nowUs);
      this.input(n, { kind: 'start' }, nowUs);
    }
    return true;
  }

  /** The session state of a neighbour (for tests and the inspector). */
  sessionState(name: string): string | undefined {
    return this.neighbors.get(name)?.session.state;
  }

  // --- StreamUser (TCP) -----------------------------------------------------------------------

  connected(conn: TcpConnId, tuple: TcpTuple, passive: boolean, nowUs: number): void {
    let n = this.byTcp.get(conn);
    if (!n && passive) {
      n = [...this.neighbors.values()].find((x) => x.cfg.peerAddr === tuple.remoteAddr && x.cfg.localAddr === tuple.localAddr);
      if (!n) {
        this.ctx.log('bgp', `connection from unconfigured peer ${formatIpv4(tuple.remoteAddr)} refused`);
        this.tcp.abort(conn, nowUs);
        return;
      }
      const id = `passive:${conn}`;
      this.byTcp.set(conn, n);
      n.tcpOf.set(id, conn);
      n.sessionOf.set(conn, id);
    }
    if (!n) return;
    this.input(n, { kind: 'transport-connected', connId: n.sessionOf.get(conn)! }, nowUs);
  }

  data(conn: TcpConnId, bytes: Uint8Array, nowUs: number): void {
    const n = this.byTcp.get(conn);
    const id = n?.sessionOf.get(conn);
    if (n && id !== undefined) this.input(n, { kind: 'bytes', connId: id, bytes }, nowUs);
  }

  closed(conn: TcpConnId, reason: string, nowUs: number): void {
    const n = this.byTcp.get(conn);
    const id = n?.sessionOf.get(conn);
    if (!n || id === undefined) return;
    if (reason !== 'eof') this.forget(n, conn);
    this.input(n, { kind: reason === 'refused' || reason === 'timeout' ? 'transport-failed' : 'transport-closed', connId: id }, nowUs);
  }

  writable(conn: TcpConnId, nowUs: number): void {
    const n = this.byTcp.get(conn);
    if (n) this.flush(n, conn, nowUs);
  }

  // --- plumbing -------------------------------------------------------------------------------

  private input(n: Neighbor, input: Parameters<BgpSession['handle']>[0], nowUs: number): void {
    n.session.handle(input, nowUs);
    this.drain(n, nowUs);
    this.pump(nowUs);
  }

  /** UPDATEs from the route processor to their sessions. */
  private pump(nowUs: number): void {
    for (let u = this.processor.poll(); u !== undefined; u = this.processor.poll()) {
      const n = this.neighbors.get(u.peer);
      if (!n) continue;
      n.session.handle({ kind: 'send-update', bytes: u.bytes }, nowUs);
      this.drain(n, nowUs);
    }
  }

  private drain(n: Neighbor, nowUs: number): void {
    for (let out = n.session.poll(); out !== undefined; out = n.session.poll()) this.output(n, out, nowUs);
    this.noteDeadline(n);
  }

  private output(n: Neighbor, out: BgpSessionOutput, nowUs: number): void {
    switch (out.kind) {
      case 'connect': {
        const conn = this.tcp.connect({ localAddr: n.cfg.localAddr, remoteAddr: n.cfg.peerAddr, remotePort: TCP_PORT_BGP }, this, nowUs);
        if (conn === undefined) {
          n.session.handle({ kind: 'transport-failed', connId: out.connId }, nowUs);
          return;
        }
        this.byTcp.set(conn, n);
        n.tcpOf.set(out.connId, conn);
        n.sessionOf.set(conn, out.connId);
        return;
      }
      case 'send': {
        const conn = n.tcpOf.get(out.connId);
        if (conn === undefined) return;
        const q = n.pending.get(conn) ?? [];
        q.push(out.bytes);
        n.pending.set(conn, q);
        if (!this.corked) this.flush(n, conn, nowUs);
        return;
      }
      case 'close': {
        const conn = n.tcpOf.get(out.connId);
        if (conn !== undefined) {
          this.flush(n, conn, nowUs);
          this.tcp.close(conn, nowUs);
        }
        return;
      }
      case 'established':
        this.ctx.log('bgp', `${n.cfg.name}: Established (AS ${out.peer.asNumber}, hold ${out.peer.holdTimeS} s, ${out.peer.families.join(' ')})`);
        this.processor.peerUp(n.cfg.name, out.peer, nowUs);
        return;
      case 'update':
        this.processor.receiveUpdate(n.cfg.name, { message: out.message, error: out.error, errors: out.errors }, nowUs);
        return;
      case 'down':
        this.ctx.log('bgp', `${n.cfg.name}: down (${out.text})`);
        if (out.wasEstablished) this.processor.peerDown(n.cfg.name, nowUs);
        return;
      case 'state':
        this.ctx.log('bgp', `${n.cfg.name}: ${out.from} -> ${out.to}`);
        return;
      case 'log':
        this.ctx.log('bgp', `${n.cfg.name}: ${out.text}`);
        return;
      case 'route-refresh':
      case 'family-disabled':
        this.ctx.log('bgp', `${n.cfg.name}: ${out.kind} ${out.family ?? ''}`);
        return;
    }
  }

  private flush(n: Neighbor, conn: TcpConnId, nowUs: number): void {
    const q = n.pending.get(conn);
    if (!q) return;
    let queued = 0;
    while (q.length > 0) {
      const head = q[0]!;
      const took = this.tcp.send(conn, head, nowUs);
      if (took === head.length) q.shift();
      else {
        q[0] = head.subarray(took);
        break;
      }
    }
    for (const b of q) queued += b.length;
    if (queued > BGP_PENDING_BYTES_MAX) {
      this.ctx.log('bgp', `${n.cfg.name}: ${queued} bytes waiting for TCP; resetting the connection`);
      this.tcp.abort(conn, nowUs);
    }
  }

  private forget(n: Neighbor, conn: TcpConnId): void {
    this.byTcp.delete(conn);
    n.pending.delete(conn);
  }
}
