// Test pair for the TCP stack (quinn-proto's tests/util.rs style): two TcpStacks joined by in-memory
// links with seeded faults, virtual time that jumps to the next wake-up, and a step bound against livelock.
// Never used by src/; the fault RNG is its own seeded stream (smoltcp's FaultInjector).

import { Pcg32 } from '../../../src/lib/rng.ts';
import { parseIpv4 } from '../../../src/lib/addr.ts';
import { decodeIpv4, encodeIpv4, IP_PROTO_TCP } from '../../../src/proto/ip/ipv4.ts';
import { TcpStack, type TcpCloseReason, type TcpConnId, type TcpStackConfig, type TcpStackOutput, type TcpState } from '../../../src/proto/ip/tcp.ts';

export const ADDR_A = parseIpv4('10.0.0.1')!;
export const ADDR_B = parseIpv4('10.0.0.2')!;

export interface LinkFaults {
  /** One-way latency. */
  latencyUs: number;
  /** Extra delay uniform in [0, jitterUs): reorders segments that leave close together. */
  jitterUs: number;
  lossRate: number;
  dupRate: number;
  /** Probability that a packet is held back an extra 0–4 latencies (reordering beyond jitter). */
  reorderRate: number;
}

export const CLEAN: LinkFaults = { latencyUs: 1_000, jitterUs: 0, lossRate: 0, dupRate: 0, reorderRate: 0 };

/** Packets a link holds in flight before the test fails (a limit on the queue). */
const LINK_QUEUE_MAX = 20_000;

interface InFlight {
  atUs: number;
  order: number;
  packet: Uint8Array;
}

/** One direction: IPv4 packets with delivery times; faults drawn from its own Pcg32 stream. */
export class Link {
  private q: InFlight[] = [];
  private order = 0;
  private readonly rng: Pcg32;
  /** When down, every packet is lost. */
  down = false;
  sent = 0;
  lost = 0;
  duplicated = 0;

  constructor(
    seed: number,
    stream: number,
    public faults: LinkFaults,
  ) {
    this.rng = new Pcg32(BigInt(seed), BigInt(stream));
  }

  send(packet: Uint8Array, nowUs: number): void {
    this.sent++;
    const f = this.faults;
    if (this.down || this.rng.nextFloat() < f.lossRate) {
      this.lost++;
      return;
    }
    const copies = this.rng.nextFloat() < f.dupRate ? 2 : 1;
    if (copies === 2) this.duplicated++;
    for (let i = 0; i < copies; i++) {
      let delay = f.latencyUs + (f.jitterUs > 0 ? this.rng.nextInt(f.jitterUs) : 0);
      if (this.rng.nextFloat() < f.reorderRate) delay += this.rng.nextInt(4 * f.latencyUs + 1);
      if (this.q.length >= LINK_QUEUE_MAX) throw new Error(`link queue over ${LINK_QUEUE_MAX}`);
      this.q.push({ atUs: nowUs + delay, order: this.order++, packet });
    }
  }

  nextAtUs(): number | undefined {
    let m: number | undefined;
    for (const p of this.q) if (m === undefined || p.atUs < m) m = p.atUs;
    return m;
  }

  /** Packets due at `nowUs`, in (time, send order). */
  takeDue(nowUs: number): Uint8Array[] {
    const due = this.q.filter((p) => p.atUs <= nowUs).sort((x, y) => x.atUs - y.atUs || x.order - y.order);
    if (due.length === 0) return [];
    this.q = this.q.filter((p) => p.atUs > nowUs);
    return due.map((p) => p.packet);
  }

  get inFlight(): number {
    return this.q.length;
  }
}

export type Side = 'a' | 'b';

/** What one side's application does with its connection(s). */
export interface StreamApp {
  /** Bytes to send once connected. */
  toSend: Uint8Array;
  /** Largest chunk handed to `send` at once. */
  chunkBytes: number;
  closeAfterSend: boolean;
  closeOnEof: boolean;
  // Observed:
  conn?: TcpConnId;
  sentOffset: number;
  received: Uint8Array[];
  receivedBytes: number;
  eof: boolean;
  connected: boolean;
  closed?: TcpCloseReason;
  states: TcpState[];
  closeCalled: boolean;
}

export function streamApp(toSend: Uint8Array, opts: Partial<Pick<StreamApp, 'chunkBytes' | 'closeAfterSend' | 'closeOnEof'>> = {}): StreamApp {
  return {
    toSend,
    chunkBytes: opts.chunkBytes ?? 16_384,
    closeAfterSend: opts.closeAfterSend ?? false,
    closeOnEof: opts.closeOnEof ?? false,
    sentOffset: 0,
    received: [],
    receivedBytes: 0,
    eof: false,
    connected: false,
    states: [],
    closeCalled: false,
  };
}

export function receivedBytes(app: StreamApp): Uint8Array {
  const out = new Uint8Array(app.receivedBytes);
  let o = 0;
  for (const c of app.received) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

export class TcpPair {
  nowUs = 0;
  steps = 0;
  readonly a: TcpStack;
  readonly b: TcpStack;
  readonly ab: Link;
  readonly ba: Link;
  readonly apps: Record<Side, StreamApp | undefined> = { a: undefined, b: undefined };
  /** Every non-segment output, for assertions. */
  readonly log: Array<{ side: Side; atUs: number; out: Exclude<TcpStackOutput, { kind: 'segment' | 'data' }> }> = [];
  private ipId = 0;

  constructor(
    readonly seed: number,
    faults: { ab: LinkFaults; ba: LinkFaults } = { ab: CLEAN, ba: CLEAN },
    config: Partial<TcpStackConfig> = {},
  ) {
    this.a = new TcpStack({ rng: new Pcg32(BigInt(seed), 1n), config });
    this.b = new TcpStack({ rng: new Pcg32(BigInt(seed), 2n), config });
    this.ab = new Link(seed, 10, faults.ab);
    this.ba = new Link(seed, 11, faults.ba);
  }

  stack(side: Side): TcpStack {
    return side === 'a' ? this.a : this.b;
  }

  /** A connects to B:port (B listens on port first unless `listen` is false). */
  open(port = 179, opts: { listen?: boolean; iss?: number; localPort?: number } = {}): TcpConnId {
    if (opts.listen !== false) this.b.listen(port);
    const r = this.a.connect(
      { localAddr: ADDR_A, remoteAddr: ADDR_B, remotePort: port, ...(opts.iss !== undefined ? { iss: opts.iss } : {}), ...(opts.localPort !== undefined ? { localPort: opts.localPort } : {}) },
      this.nowUs,
    );
    if (!r.ok) throw new Error(`connect: ${r.error}`);
    if (this.apps.a) this.apps.a.conn = r.value;
    return r.value;
  }

  /** Runs until `done()` holds after a step, or everything is idle; throws past `maxSteps` (livelock). */
  run(opts: { done?: () => boolean; maxSteps?: number; maxTimeUs?: number } = {}): void {
    const maxSteps = opts.maxSteps ?? 2_000_000;
    const maxTimeUs = opts.maxTimeUs ?? 3_600_000_000;
    for (;;) {
      if (opts.done?.()) return;
      if (!this.step()) return;
      if (++this.steps > maxSteps) throw new Error(`livelock? ${maxSteps} steps, t=${this.nowUs}us (seed ${this.seed})`);
      if (this.nowUs > maxTimeUs) throw new Error(`ran past ${maxTimeUs}us of virtual time (seed ${this.seed})`);
    }
  }

  /** One step: drain outputs, deliver what is due, else jump to the next wake-up. False when idle. */
  step(): boolean {
    let progressed = this.drain('a') || false;
    progressed = this.drain('b') || progressed;
    for (const [link, to] of [
      [this.ab, this.b],
      [this.ba, this.a],
    ] as const) {
      for (const packet of link.takeDue(this.nowUs)) {
        const ip = decodeIpv4(packet);
        if (!ip.ok || ip.value.header.protocol !== IP_PROTO_TCP) throw new Error('link carried a bad IPv4 packet');
        to.handle({ kind: 'segment', bytes: ip.value.payload, src: ip.value.header.src, dst: ip.value.header.dst }, this.nowUs);
        progressed = true;
      }
    }
    if (progressed) return true;
    const candidates = [this.ab.nextAtUs(), this.ba.nextAtUs(), this.a.nextDeadlineUs(), this.b.nextDeadlineUs()].filter((t): t is number => t !== undefined);
    if (candidates.length === 0) return false;
    const next = Math.min(...candidates);
    this.nowUs = Math.max(this.nowUs, next);
    for (const s of [this.a, this.b]) {
      const d = s.nextDeadlineUs();
      if (d !== undefined && d <= this.nowUs) s.handle({ kind: 'timer' }, this.nowUs);
    }
    return true;
  }

  private drain(side: Side): boolean {
    const stack = this.stack(side);
    const link = side === 'a' ? this.ab : this.ba;
    let any = false;
    for (let o = stack.poll(); o; o = stack.poll()) {
      any = true;
      if (o.kind === 'segment') {
        const packet = encodeIpv4(
          { dscp: 48, ecn: 0, identification: this.ipId++ & 0xffff, dontFragment: true, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: IP_PROTO_TCP, src: o.src, dst: o.dst, options: new Uint8Array(0) },
          o.bytes,
        );
        link.send(packet, this.nowUs);
        continue;
      }
      const app = this.apps[side];
      if (o.kind === 'data') {
        if (app) {
          app.received.push(o.bytes);
          app.receivedBytes += o.bytes.length;
        }
        continue;
      }
      this.log.push({ side, atUs: this.nowUs, out: o });
      if (!app || o.kind === 'connect-failed') continue;
      // A passive side's app adopts the connection its listener spawns.
      if (app.conn === undefined && o.kind === 'state' && o.state === 'SYN-RECEIVED') app.conn = o.conn;
      if (o.kind === 'connected') {
        app.conn ??= o.conn;
        if (o.conn !== app.conn) continue;
        app.connected = true;
        this.pump(side);
      } else if (o.conn !== app.conn) {
        continue;
      } else if (o.kind === 'writable') {
        this.pump(side);
      } else if (o.kind === 'eof') {
        app.eof = true;
        if (app.closeOnEof) this.closeWhenSent(side);
      } else if (o.kind === 'state') {
        app.states.push(o.state);
      } else if (o.kind === 'closed') {
        app.closed = o.reason;
      }
    }
    return any;
  }

  /** Hands the app's remaining bytes to the stack until it pushes back. */
  pump(side: Side): void {
    const app = this.apps[side];
    if (!app?.conn || !app.connected || app.closed) return;
    const stack = this.stack(side);
    while (app.sentOffset < app.toSend.length) {
      const chunk = app.toSend.subarray(app.sentOffset, Math.min(app.toSend.length, app.sentOffset + app.chunkBytes));
      const r = stack.send(app.conn, chunk, this.nowUs);
      if (!r.ok || r.value === 0) break;
      app.sentOffset += r.value;
      if (r.value < chunk.length) break;
    }
    if (app.sentOffset === app.toSend.length && (app.closeAfterSend || (app.closeOnEof && app.eof))) this.closeWhenSent(side);
  }

  private closeWhenSent(side: Side): void {
    const app = this.apps[side];
    if (!app?.conn || app.closeCalled || app.sentOffset < app.toSend.length) return;
    app.closeCalled = true;
    this.stack(side).close(app.conn, this.nowUs);
  }

  closedReasons(): Record<Side, TcpCloseReason | undefined> {
    return { a: this.apps.a?.closed, b: this.apps.b?.closed };
  }
}

/** Deterministic test bytes (a cheap LCG), so a mismatch shows up as wrong bytes, not just wrong length. */
export function pattern(n: number, salt: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = (salt * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}
