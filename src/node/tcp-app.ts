// A node's TCP: the sans-IO TcpStack of proto/ip hosted as a NodeApp, with the applications that use
// streams (BGP on port 179, …) attached by port or by the connection they opened. Owns the
// plumbing between IPv4 and the stack; never parses what the streams carry.

import type { Rng } from '../lib/rng.ts';
import { IP_PROTO_TCP } from '../proto/ip/index.ts';
import type { TcpAuthConfig } from '../proto/ip/tcp-auth.ts';
import { TcpStack, type TcpCloseReason, type TcpConnectRequest, type TcpConnId, type TcpStackConfig, type TcpTuple } from '../proto/ip/tcp.ts';
import type { NodeApp, NodeContext } from './types.ts';

/** What an application using TCP streams is told. */
export interface StreamUser {
  connected(conn: TcpConnId, tuple: TcpTuple, passive: boolean, nowUs: number): void;
  data(conn: TcpConnId, bytes: Uint8Array, nowUs: number): void;
  closed(conn: TcpConnId, reason: TcpCloseReason | 'eof', nowUs: number): void;
  /** The send buffer has room again after a short send. */
  writable?(conn: TcpConnId, nowUs: number): void;
}

export class TcpApp implements NodeApp {
  readonly name = 'tcp';
  readonly stack: TcpStack;
  private readonly byPort = new Map<number, StreamUser>();
  private readonly byConn = new Map<TcpConnId, StreamUser>();
  private draining = false;

  constructor(
    private readonly ctx: NodeContext,
    rng: Rng,
    config: Partial<TcpStackConfig> = {},
  ) {
    this.stack = new TcpStack({ rng, config });
  }

  /**
   * Protects every connection between `localAddr` and `remoteAddr` with TCP MD5 or TCP-AO (both
   * directions, listeners included); `undefined` removes the key. Set it before connecting.
   */
  setAuth(localAddr: number, remoteAddr: number, config: TcpAuthConfig | undefined): void {
    this.stack.setAuth(localAddr, remoteAddr, config);
  }

  listen(port: number, user: StreamUser, nowUs: number): void {
    this.byPort.set(port, user);
    this.stack.handle({ kind: 'listen', port }, nowUs);
    this.drain(nowUs);
  }

  /** Active open; the user hears `connected` or `closed` later. Undefined when the stack refuses. */
  connect(req: TcpConnectRequest, user: StreamUser, nowUs: number): TcpConnId | undefined {
    const r = this.stack.connect(req, nowUs);
    if (!r.ok) {
      this.ctx.log('tcp', `connect to ${req.remoteAddr}:${req.remotePort} refused locally: ${r.error}`);
      return undefined;
    }
    this.byConn.set(r.value, user);
    this.drain(nowUs);
    return r.value;
  }

  /** Queues bytes; returns how many the send buffer took. */
  send(conn: TcpConnId, bytes: Uint8Array, nowUs: number): number {
    const r = this.stack.send(conn, bytes, nowUs);
    this.drain(nowUs);
    return r.ok ? r.value : 0;
  }

  close(conn: TcpConnId, nowUs: number): void {
    this.stack.close(conn, nowUs);
    this.drain(nowUs);
  }

  abort(conn: TcpConnId, nowUs: number): void {
    this.stack.abort(conn, nowUs);
    this.drain(nowUs);
  }

  receive(src: number, dst: number, protocol: number, payload: Uint8Array, nowUs: number): boolean {
    if (protocol !== IP_PROTO_TCP) return false;
    this.stack.handle({ kind: 'segment', bytes: payload, src, dst }, nowUs);
    this.drain(nowUs);
    return true;
  }

  timer(nowUs: number): void {
    this.stack.handle({ kind: 'timer' }, nowUs);
    this.drain(nowUs);
  }

  nextDeadlineUs(): number | undefined {
    return this.stack.nextDeadlineUs();
  }

  /** NodeApp.stateVersion: statistics and a count only. */
  stateVersion(): number {
    return 0;
  }

  snapshot(): Record<string, unknown> {
    return { stats: { ...this.stack.stats }, connections: this.stack.connectionIds().length };
  }

  /**
   * Hands the stack's outputs out. Not re-entrant: a user that sends from inside a callback only
   * queues; the outer loop delivers what that produced, so callbacks never nest.
   */
  private drain(nowUs: number): void {
    if (this.draining) return;
    this.draining = true;
    try {
      this.drainOnce(nowUs);
    } finally {
      this.draining = false;
    }
  }

  private drainOnce(nowUs: number): void {
    for (let out = this.stack.poll(); out !== undefined; out = this.stack.poll()) {
      switch (out.kind) {
        case 'segment':
          this.ctx.sendIp(out.dst, IP_PROTO_TCP, out.bytes, out.src);
          break;
        case 'connected': {
          let user = this.byConn.get(out.conn);
          if (!user && out.passive) {
            user = this.byPort.get(out.tuple.localPort);
            if (user) this.byConn.set(out.conn, user);
          }
          user?.connected(out.conn, out.tuple, out.passive, nowUs);
          break;
        }
        case 'data':
          this.byConn.get(out.conn)?.data(out.conn, out.bytes, nowUs);
          break;
        case 'eof':
          this.byConn.get(out.conn)?.closed(out.conn, 'eof', nowUs);
          break;
        case 'closed': {
          const user = this.byConn.get(out.conn);
          this.byConn.delete(out.conn);
          user?.closed(out.conn, out.reason, nowUs);
          break;
        }
        case 'writable':
          this.byConn.get(out.conn)?.writable?.(out.conn, nowUs);
          break;
        case 'connect-failed':
          this.ctx.log('tcp', `connect to ${out.remoteAddr}:${out.remotePort} failed: ${out.error}`);
          break;
        case 'state':
          break;
      }
    }
  }
}
