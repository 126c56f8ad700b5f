// A small TCP (RFC 9293) as sans-IO machines: `TcpConnection` (one endpoint of one connection) and
// `TcpStack` (connections by 4-tuple, listeners by port, RSTs for strays) — enough to carry BGP on port 179.
// Never reads a clock, sets a timer, touches a socket or draws ambient randomness: time is `nowUs`,
// ISNs and ephemeral ports come from an injected Rng, segments go in and out as bytes without the IPv4 header.
//
// What it does: three-way handshake (and simultaneous open), 32-bit wrapping sequence space,
// in-order delivery with a bounded out-of-order queue, RFC 6298 retransmission timer with Karn's
// rule, exponential backoff and bounded retries, RFC 5681 congestion window with fast retransmit
// and RFC 6582 NewReno partial-ACK recovery, go-back-N after a timeout, zero-window probing, FIN
// handshake through every closing state with a short 2·MSL, RST per RFC 9293 with RFC 5961 challenge
// ACKs, the MSS option, a fixed receive window and a bounded send buffer with a backpressure signal.
// What it leaves out: window scaling, SACK, timestamps, urgent data, delayed ACKs, Nagle, keep-alives.

import type { SansIo } from '../../lib/sans-io.ts';
import type { Rng } from '../../lib/rng.ts';
import type { Result } from '../../lib/errors.ts';
import { assert, err, ok } from '../../lib/errors.ts';
import { formatIpv4 } from '../../lib/addr.ts';
import { ByteRing, ReassemblyQueue } from './tcp-buffers.ts';
import { findTcpAuthOptions } from './tcp-auth-option.ts';
import { type TcpAuthConfig, type TcpAuthFailure, type TcpAuthIsns, TcpAuthSession, checkTcpAuthConfig, tcpAuthSign, tcpAuthVerify } from './tcp-auth.ts';
import {
  TCP_FLAG_ACK,
  TCP_FLAG_FIN,
  TCP_FLAG_PSH,
  TCP_FLAG_RST,
  TCP_FLAG_SYN,
  type TcpOption,
  type TcpSegment,
  decodeTcpSegment,
  encodeTcpSegment,
  tcpMssOption,
  tcpSegmentLen,
} from './tcp-segment.ts';
import { seqAdd, seqDiff, seqGe, seqGt, seqInRange, seqLe, seqLt } from './tcp-seq.ts';
import {
  TCP_EVENT,
  TCP_STATE,
  type TcpEvent,
  type TcpState,
  tcpAcceptsSend,
  tcpAcceptsText,
  tcpIsSynchronized,
  tcpTransition,
} from './tcp-state.ts';

export { TCP_STATE, type TcpState } from './tcp-state.ts';

// --- Constants. ---

/** RFC 9293 §3.7.1 (MUST-15): the send MSS when the peer sent no MSS option. */
export const TCP_DEFAULT_SEND_MSS_BYTES = 536;
/** RFC 6298 §2: K, and the clock granularity G (our virtual clock is exact; 1 ms keeps RTO off SRTT). */
const RTO_K = 4;
const CLOCK_GRANULARITY_US = 1_000;
/** RFC 5681 §3.2: duplicate ACKs that trigger a fast retransmit. */
const DUPACK_THRESHOLD = 3;
/** RFC 6928: initial window of 10 segments. */
const INITIAL_WINDOW_SEGMENTS = 10;
/** A limit on the congestion window (bytes); the peer's 16-bit window binds long before this. */
const CWND_MAX_BYTES = 1 << 24;
/** Outputs a connection may hold before the caller polls; reaching it means the caller forgot to poll. */
const OUTPUT_EVENTS_MAX = 16_384;
/** Control segments (RSTs) waiting for poll; beyond this they are dropped and counted. */
const CONTROL_SEGMENTS_MAX = 64;
/** RFC 6335 §6: the dynamic (ephemeral) port range, drawn at random per RFC 6056 §3.3.1. */
export const TCP_EPHEMERAL_PORT_MIN = 49152;
export const TCP_EPHEMERAL_PORT_MAX = 65535;
const EPHEMERAL_PORT_TRIES = 64;

export interface TcpConfig {
  /** MSS we advertise in our SYN and the largest segment we send (RFC 9293 §3.7.1). */
  mssBytes: number;
  /** The fixed receive window we advertise (no window scaling, so at most 65535). */
  rcvWndBytes: number;
  /** Bound of the send buffer (unacknowledged plus unsent bytes). */
  sndBufBytes: number;
  /** RFC 6298 §2.1: RTO before the first RTT sample. */
  rtoInitialUs: number;
  /** RFC 6298 §2.4 says 1 s; 200 ms is plenty for an emulator. */
  rtoMinUs: number;
  /** Upper bound on the RTO (RFC 6298 §2.5 asks for at least 60 s; see the default). */
  rtoMaxUs: number;
  /** Consecutive timeouts without progress before giving up on a synchronized connection (RFC 9293 §3.8.3 R2). */
  retransmitsMax: number;
  /** The same for SYN and SYN,ACK (RFC 9293 §3.8.3 R2 for SYNs). */
  synRetransmitsMax: number;
  /**
   * TIME-WAIT lasts 2·MSL (RFC 9293 §3.10.8); short in the lab. Keep it above `rtoMaxUs`: then a
   * FIN the peer retransmits because our last ACK was lost always finds us still in TIME-WAIT.
   */
  timeWaitUs: number;
  /** Entries of the out-of-order queue. */
  oooSegmentsMax: number;
}

export const TCP_DEFAULT_CONFIG: Readonly<TcpConfig> = {
  mssBytes: 1460,
  rcvWndBytes: 65535,
  sndBufBytes: 131_072,
  rtoInitialUs: 1_000_000,
  rtoMinUs: 200_000,
  // Below RFC 6298 §2.5's 60 s on purpose: links in the lab heal and sessions should resume within
  // seconds of it, not a minute later.
  rtoMaxUs: 10_000_000,
  // From the 200 ms floor: 0.2 + 0.4 + … + 6.4 s, then 10 s steps: about 100 s before giving up,
  // RFC 9293 §3.8.3's R2 ("at least 100 seconds").
  retransmitsMax: 14,
  // 1 + 2 + 4 + 8 + 10 + 10 s: shorter than R2's 3 minutes for a SYN; BGP's ConnectRetry timer retries anyway.
  synRetransmitsMax: 6,
  // 2·MSL with MSL = 10 s (RFC 9293 says 2 minutes); above rtoMaxUs, see TcpConfig.timeWaitUs.
  timeWaitUs: 20_000_000,
  oooSegmentsMax: 64,
};

function checkConfig(c: TcpConfig): void {
  const int = (v: number, lo: number, hi: number, name: string): void =>
    assert(Number.isInteger(v) && v >= lo && v <= hi, `tcp config: ${name} ${v} not in [${lo}, ${hi}]`);
  int(c.mssBytes, 64, 65495, 'mssBytes');
  int(c.rcvWndBytes, 1, 65535, 'rcvWndBytes');
  int(c.sndBufBytes, 1, 1 << 30, 'sndBufBytes');
  int(c.rtoMinUs, 1, Number.MAX_SAFE_INTEGER, 'rtoMinUs');
  int(c.rtoMaxUs, c.rtoMinUs, Number.MAX_SAFE_INTEGER, 'rtoMaxUs');
  int(c.rtoInitialUs, c.rtoMinUs, c.rtoMaxUs, 'rtoInitialUs');
  int(c.retransmitsMax, 0, 64, 'retransmitsMax');
  int(c.synRetransmitsMax, 0, 64, 'synRetransmitsMax');
  int(c.timeWaitUs, 0, Number.MAX_SAFE_INTEGER, 'timeWaitUs');
  int(c.oooSegmentsMax, 1, 1 << 16, 'oooSegmentsMax');
}

// --- Types. ---

/** The connection's 4-tuple from our side: IPv4 addresses as unsigned 32-bit numbers. */
export interface TcpTuple {
  localAddr: number;
  localPort: number;
  remoteAddr: number;
  remotePort: number;
}

/** A connection's name, e.g. "10.0.0.1:179>10.0.0.2:50123" (local > remote). */
export type TcpConnId = string;

export function tcpConnId(t: TcpTuple): TcpConnId {
  return `${formatIpv4(t.localAddr)}:${t.localPort}>${formatIpv4(t.remoteAddr)}:${t.remotePort}`;
}

/**
 * Why a connection reached CLOSED: `normal` (FIN handshake done, or CLOSE before the SYN was
 * answered), `reset` (the peer's RST), `refused` (RST answering our SYN), `timeout` (retransmissions
 * exhausted), `aborted` (our ABORT).
 */
export type TcpCloseReason = 'normal' | 'reset' | 'refused' | 'timeout' | 'aborted';

/** SEND refused: `closing` — we already called close (or abort); `closed` — the connection is gone. */
export type TcpSendError = 'closing' | 'closed';

export type TcpInput =
  /** A TCP segment (IPv4 header already stripped) from `src` to `dst`. */
  | { kind: 'segment'; bytes: Uint8Array; src: number; dst: number }
  | { kind: 'timer' }
  /** RFC 9293 §3.10.4 CLOSE: no more data from us; FIN after what is queued. */
  | { kind: 'close' }
  /** RFC 9293 §3.10.5 ABORT: RST and forget. */
  | { kind: 'abort' };

export type TcpOutput =
  /** A TCP segment for the caller to wrap in IPv4 from `src` to `dst`. */
  | { kind: 'segment'; bytes: Uint8Array; src: number; dst: number }
  /** In-order bytes for the application (a copy it may keep). */
  | { kind: 'data'; bytes: Uint8Array }
  /** The peer's FIN arrived in sequence: no more data will come (RFC 9293 §3.10.7.4 eighth). */
  | { kind: 'eof' }
  /** After a short `send`, the send buffer is at least half free again. */
  | { kind: 'writable' }
  | { kind: 'state'; state: TcpState }
  /** The handshake completed (entered ESTABLISHED). */
  | { kind: 'connected' }
  | { kind: 'closed'; reason: TcpCloseReason };

export interface TcpStats {
  segmentsSent: number;
  segmentsReceived: number;
  /** Segments carrying sequence space we had sent before (timeouts, fast retransmits, go-back-N). */
  retransmits: number;
  fastRetransmits: number;
  timeouts: number;
  dupAcks: number;
  challengeAcks: number;
  rstsSent: number;
  /** Bytes the peer acknowledged / bytes delivered to the application. */
  bytesAcked: number;
  bytesDelivered: number;
  /** Out-of-order pieces refused or evicted because the queue was full. */
  oooDropped: number;
  /** Segments handed to `handle` that did not decode or were not for this connection. */
  segmentsDiscarded: number;
  controlDropped: number;
}

/** What callers may read of a connection (the stack drives it; nobody else should). */
export interface TcpConnectionView {
  readonly id: TcpConnId;
  readonly tuple: Readonly<TcpTuple>;
  readonly state: TcpState;
  readonly stats: Readonly<TcpStats>;
  readonly closeReason: TcpCloseReason | undefined;
  readonly rtoUs: number;
  readonly srttUs: number | undefined;
  readonly sendMssBytes: number;
  readonly cwndBytes: number;
  sendSpaceBytes(): number;
  nextDeadlineUs(): number | undefined;
}

export interface TcpConnectionParams {
  tuple: TcpTuple;
  /** Initial send sequence number (RFC 9293 §3.4.1): the stack draws it from its Rng. */
  iss: number;
  config?: Partial<TcpConfig>;
  /** Signs every segment sent and verifies every one received (TCP MD5 or TCP-AO). */
  auth?: TcpAuthSession;
}

// --- The connection. ---

export class TcpConnection implements SansIo<TcpInput, TcpOutput>, TcpConnectionView {
  readonly id: TcpConnId;
  readonly tuple: Readonly<TcpTuple>;
  readonly config: Readonly<TcpConfig>;
  readonly stats: TcpStats = {
    segmentsSent: 0,
    segmentsReceived: 0,
    retransmits: 0,
    fastRetransmits: 0,
    timeouts: 0,
    dupAcks: 0,
    challengeAcks: 0,
    rstsSent: 0,
    bytesAcked: 0,
    bytesDelivered: 0,
    oooDropped: 0,
    segmentsDiscarded: 0,
    controlDropped: 0,
  };
  /** True for connections spawned by a listener (passive OPEN). */
  readonly passive: boolean;
  /** The connection's TCP MD5 / TCP-AO signer and verifier, when its peer has a key. */
  readonly auth: TcpAuthSession | undefined;

  private stateNow: TcpState = TCP_STATE.CLOSED;
  private reason: TcpCloseReason | undefined;
  private nowUs: number;

  // Send sequence space (RFC 9293 §3.3.1). sndMax is the highest SND.NXT ever reached: SND.NXT
  // itself is wound back to SND.UNA after a timeout (go-back-N).
  private readonly iss: number;
  private sndUna: number;
  private sndNxt: number;
  private sndMax: number;
  private sndWnd = 0;
  private sndWl1 = 0;
  private sndWl2 = 0;
  private maxSndWnd = 0;
  private sendMss: number;

  // Receive sequence space.
  private irs = 0;
  private rcvNxt = 0;

  // Send buffer: stream bytes from sequence number bufSeq (the oldest unacknowledged data byte).
  private readonly sndBuf: ByteRing;
  private bufSeq: number;
  private finQueued = false;
  private finSeq = 0;
  private closeQueued = false;
  private writableWanted = false;

  private readonly ooo: ReassemblyQueue;

  // RFC 6298 state.
  private rto: number;
  private srtt: number | undefined;
  private rttvar = 0;
  private rttTiming: { seqEnd: number; startUs: number } | undefined;
  private rtxDeadlineUs: number | undefined;
  private retries = 0;
  private timeWaitDeadlineUs: number | undefined;

  // RFC 5681 / RFC 6582 state.
  private cwnd: number;
  private ssthresh = 65535;
  private dupAcks = 0;
  private inRecovery = false;
  private recover: number;

  // Things poll() must send.
  private ackNow = false;
  private retransmitUna = false;
  private probe = false;

  private readonly out: TcpOutput[] = [];
  private outHead = 0;

  private constructor(p: TcpConnectionParams, passive: boolean, nowUs: number) {
    const config = { ...TCP_DEFAULT_CONFIG, ...p.config };
    checkConfig(config);
    assert(Number.isInteger(p.iss) && p.iss >= 0 && p.iss <= 0xffffffff, `tcp: iss ${p.iss}`);
    assert(Number.isSafeInteger(nowUs) && nowUs >= 0, `tcp: nowUs ${nowUs}`);
    this.config = config;
    this.tuple = { ...p.tuple };
    this.id = tcpConnId(p.tuple);
    this.passive = passive;
    this.auth = p.auth;
    this.nowUs = nowUs;
    this.iss = p.iss;
    this.sndUna = p.iss;
    this.sndNxt = p.iss;
    this.sndMax = p.iss;
    this.recover = p.iss;
    this.bufSeq = seqAdd(p.iss, 1);
    this.sndBuf = new ByteRing(config.sndBufBytes);
    this.ooo = new ReassemblyQueue(config.oooSegmentsMax);
    this.rto = config.rtoInitialUs;
    this.sendMss = this.effectiveMss(Math.min(config.mssBytes, TCP_DEFAULT_SEND_MSS_BYTES));
    this.cwnd = INITIAL_WINDOW_SEGMENTS * this.sendMss;
  }

  /** Active OPEN (RFC 9293 §3.10.1): SYN-SENT; the SYN comes out of the next poll(). */
  static connect(p: TcpConnectionParams, nowUs: number): TcpConnection {
    const c = new TcpConnection(p, false, nowUs);
    c.setState(TCP_STATE.SYN_SENT);
    return c;
  }

  /**
   * Passive OPEN answering `syn` (RFC 9293 §3.10.7.2, LISTEN state, third check): SYN-RECEIVED;
   * the SYN,ACK comes out of the next poll(). `syn` must be a decoded, checksum-verified SYN.
   */
  static accept(p: TcpConnectionParams, syn: TcpSegment, nowUs: number): TcpConnection {
    assert(syn.flags & TCP_FLAG_SYN && !(syn.flags & (TCP_FLAG_RST | TCP_FLAG_ACK)), 'TcpConnection.accept: not a bare SYN');
    const c = new TcpConnection(p, true, nowUs);
    c.irs = syn.seq;
    c.rcvNxt = seqAdd(syn.seq, 1);
    c.takePeerMss(syn);
    c.sndWnd = syn.window;
    c.maxSndWnd = syn.window;
    c.sndWl1 = syn.seq;
    // Text in a SYN is not queued (a MAY of RFC 9293 §3.10.7.2): the peer sends it again once acknowledged.
    c.setState(TCP_STATE.SYN_RECEIVED);
    return c;
  }

  get state(): TcpState {
    return this.stateNow;
  }
  get closeReason(): TcpCloseReason | undefined {
    return this.reason;
  }
  get rtoUs(): number {
    return this.rto;
  }
  get srttUs(): number | undefined {
    return this.srtt;
  }
  get sendMssBytes(): number {
    return this.sendMss;
  }
  get cwndBytes(): number {
    return this.cwnd;
  }
  /** Bytes `send` would accept now. */
  sendSpaceBytes(): number {
    return this.finQueued || this.closeQueued || !tcpAcceptsSend(this.stateNow) ? 0 : this.sndBuf.freeBytes;
  }

  handle(input: TcpInput, nowUs: number): void {
    this.advance(nowUs);
    switch (input.kind) {
      case 'segment': {
        const t = this.tuple;
        const r = decodeTcpSegment(input.bytes, input.src, input.dst);
        if (
          !r.ok ||
          input.src !== t.remoteAddr ||
          input.dst !== t.localAddr ||
          r.value.srcPort !== t.remotePort ||
          r.value.dstPort !== t.localPort ||
          this.verifyAuth(input.bytes, r.value) !== undefined
        ) {
          this.stats.segmentsDiscarded++;
          return;
        }
        this.receive(r.value);
        return;
      }
      case 'timer':
        this.onTimer();
        return;
      case 'close':
        this.close(nowUs);
        return;
      case 'abort':
        this.abort(nowUs);
        return;
    }
  }

  /**
   * The ISNs of this connection for a TCP-AO traffic key (RFC 5925 §5.2), from our side: the
   * peer's ISN is the segment's own sequence number on a SYN, unknown (zero) before SYN-SENT learns it.
   */
  authIsns(flags: number, seq?: number): TcpAuthIsns {
    const remote = seq !== undefined && flags & TCP_FLAG_SYN ? seq : this.stateNow === TCP_STATE.SYN_SENT ? 0 : this.irs;
    return { local: this.iss, remote };
  }

  /**
   * Checks a received segment's MD5 digest or TCP-AO MAC (RFC 2385 §3, RFC 5925 §7.3); undefined
   * when it verifies or the connection has no key. `bytes` are the segment as received.
   */
  verifyAuth(bytes: Uint8Array, seg: TcpSegment): TcpAuthFailure | undefined {
    const found = findTcpAuthOptions(seg.options);
    if (!found.ok) return 'bad-mac';
    const t = this.tuple;
    if (!this.auth) return found.value.md5 || found.value.ao ? 'unexpected' : undefined;
    return this.auth.verify(bytes, seg, found.value, t.remoteAddr, t.localAddr, this.authIsns(seg.flags, seg.seq));
  }

  /** A segment the stack already decoded, matched to this connection's 4-tuple and authenticated. */
  receiveSegment(seg: TcpSegment, nowUs: number): void {
    this.advance(nowUs);
    this.receive(seg);
  }

  /**
   * RFC 9293 §3.10.2 SEND: queues as much of `bytes` as the send buffer takes and returns that count
   * (less than `bytes.length` is backpressure: a `writable` output follows when space frees up).
   */
  send(bytes: Uint8Array, nowUs: number): Result<number, TcpSendError> {
    this.advance(nowUs);
    if (this.stateNow === TCP_STATE.CLOSED) return err('closed');
    if (this.finQueued || this.closeQueued || !tcpAcceptsSend(this.stateNow)) return err('closing');
    const n = this.sndBuf.push(bytes);
    if (n < bytes.length) this.writableWanted = true;
    return ok(n);
  }

  /** RFC 9293 §3.10.4 CLOSE. Idempotent once closing. */
  close(nowUs: number): void {
    this.advance(nowUs);
    switch (this.stateNow) {
      case TCP_STATE.SYN_SENT:
        // "Delete the TCB": nothing was synchronized, nothing to say to the peer.
        this.setState(tcpTransition(this.stateNow, TCP_EVENT.CLOSE));
        this.finish('normal');
        return;
      case TCP_STATE.SYN_RECEIVED:
        // "Queue for processing after entering ESTABLISHED state."
        this.closeQueued = true;
        return;
      case TCP_STATE.ESTABLISHED:
      case TCP_STATE.CLOSE_WAIT:
        this.finQueued = true;
        this.finSeq = seqAdd(this.bufSeq, this.sndBuf.length);
        this.fire(TCP_EVENT.CLOSE);
        return;
      default:
        // "error: connection closing" — already closing or closed.
        return;
    }
  }

  /** RFC 9293 §3.10.5 ABORT: RST to the peer in the states that have one, then CLOSED. */
  abort(nowUs: number): void {
    this.advance(nowUs);
    switch (this.stateNow) {
      case TCP_STATE.CLOSED:
        return;
      case TCP_STATE.SYN_RECEIVED:
      case TCP_STATE.ESTABLISHED:
      case TCP_STATE.FIN_WAIT_1:
      case TCP_STATE.FIN_WAIT_2:
      case TCP_STATE.CLOSE_WAIT:
        this.sendRst(this.sndMax, undefined);
        break;
      default:
        break;
    }
    this.terminate('aborted');
  }

  poll(): TcpOutput | undefined {
    if (this.outHead < this.out.length) {
      const o = this.out[this.outHead]!;
      this.outHead++;
      if (this.outHead === this.out.length) {
        this.out.length = 0;
        this.outHead = 0;
      }
      return o;
    }
    if (this.stateNow === TCP_STATE.CLOSED) return undefined;
    const seg = this.transmit();
    if (seg) return seg;
    this.armPersist();
    if (this.ackNow) {
      this.ackNow = false;
      if (this.stateNow !== TCP_STATE.SYN_SENT) return this.segment(this.sndMax, TCP_FLAG_ACK, new Uint8Array(0), []);
    }
    return undefined;
  }

  nextDeadlineUs(): number | undefined {
    if (this.stateNow === TCP_STATE.CLOSED) return undefined;
    const a = this.rtxDeadlineUs;
    const b = this.timeWaitDeadlineUs;
    if (a === undefined) return b;
    if (b === undefined) return a;
    return Math.min(a, b);
  }

  // --- Internals: bookkeeping. ---

  private advance(nowUs: number): void {
    assert(Number.isSafeInteger(nowUs) && nowUs >= this.nowUs, `tcp ${this.id}: time ran backwards (${nowUs} < ${this.nowUs})`);
    this.nowUs = nowUs;
  }

  private emit(o: TcpOutput): void {
    assert(this.out.length - this.outHead < OUTPUT_EVENTS_MAX, `tcp ${this.id}: ${OUTPUT_EVENTS_MAX} outputs unpolled (caller must poll after handle)`);
    this.out.push(o);
  }

  private setState(s: TcpState): void {
    if (s === this.stateNow) return;
    this.stateNow = s;
    this.emit({ kind: 'state', state: s });
  }

  /** Applies a row of the transition table (tcp-state.ts) and its entry actions. */
  private fire(event: TcpEvent): void {
    const next = tcpTransition(this.stateNow, event);
    this.setState(next);
    if (next === TCP_STATE.ESTABLISHED) {
      this.emit({ kind: 'connected' });
      if (this.closeQueued) {
        this.closeQueued = false;
        this.finQueued = true;
        this.finSeq = seqAdd(this.bufSeq, this.sndBuf.length);
        this.fire(TCP_EVENT.CLOSE);
      }
    } else if (next === TCP_STATE.TIME_WAIT) {
      this.rtxDeadlineUs = undefined;
      this.timeWaitDeadlineUs = this.nowUs + this.config.timeWaitUs;
    } else if (next === TCP_STATE.CLOSED) {
      this.finish('normal');
    }
  }

  /** Enters CLOSED from anywhere (RST, ABORT, give-up) and says why. */
  private terminate(reason: TcpCloseReason): void {
    if (this.stateNow === TCP_STATE.CLOSED) return;
    this.setState(TCP_STATE.CLOSED);
    this.finish(reason);
  }

  private finish(reason: TcpCloseReason): void {
    this.reason = reason;
    this.rtxDeadlineUs = undefined;
    this.timeWaitDeadlineUs = undefined;
    this.ackNow = false;
    this.retransmitUna = false;
    this.probe = false;
    this.ooo.clear();
    this.emit({ kind: 'closed', reason });
  }

  private takePeerMss(seg: TcpSegment): void {
    // RFC 9293 §3.7.1: Eff.snd.MSS = min(SendMSS, what we can carry); 536 when no option came.
    const peer = tcpMssOption(seg) ?? TCP_DEFAULT_SEND_MSS_BYTES;
    this.sendMss = this.effectiveMss(Math.min(this.config.mssBytes, peer));
    this.cwnd = INITIAL_WINDOW_SEGMENTS * this.sendMss;
  }

  /**
   * RFC 9293 §3.7.1: Eff.snd.MSS subtracts the TCP options sent on every segment; an MD5 or TCP-AO
   * option is on all of them.
   */
  private effectiveMss(mss: number): number {
    return Math.max(1, mss - (this.auth?.optionBytes ?? 0));
  }

  private segment(seq: number, flags: number, payload: Uint8Array, options: TcpOption[]): TcpOutput {
    const t = this.tuple;
    const ackFlag = flags & TCP_FLAG_ACK;
    const seg: TcpSegment = {
      srcPort: t.localPort,
      dstPort: t.remotePort,
      seq,
      ack: ackFlag ? this.rcvNxt : 0,
      flags,
      reserved: 0,
      window: flags & TCP_FLAG_RST ? 0 : this.config.rcvWndBytes,
      urgentPointer: 0,
      options,
      payload,
    };
    // RFC 2385 §2 / RFC 5925 §7.1: with a key for the peer, every segment carries the option.
    const bytes = this.auth ? this.auth.sign(seg, t.localAddr, t.remoteAddr, this.authIsns(flags)) : encodeTcpSegment(seg, t.localAddr, t.remoteAddr);
    this.stats.segmentsSent++;
    return { kind: 'segment', bytes, src: t.localAddr, dst: t.remoteAddr };
  }

  /** Queues an RST: <SEQ=seq><CTL=RST>, or <SEQ=seq><ACK=RCV.NXT><CTL=RST,ACK> when `withAck`. */
  private sendRst(seq: number, withAck: true | undefined): void {
    if (this.out.length - this.outHead >= CONTROL_SEGMENTS_MAX) {
      this.stats.controlDropped++;
      return;
    }
    this.stats.rstsSent++;
    this.emit(this.segment(seq, TCP_FLAG_RST | (withAck ? TCP_FLAG_ACK : 0), new Uint8Array(0), []));
  }

  /** RFC 5961 §3.2 / §4.2: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>; coalesced with any pending ACK (§7 throttling). */
  private challengeAck(): void {
    this.stats.challengeAcks++;
    this.ackNow = true;
  }

  // --- Internals: sending. ---

  /** The next segment that sequence space, windows and flags allow, or undefined. */
  private transmit(): TcpOutput | undefined {
    const s = this.stateNow;
    if (s === TCP_STATE.SYN_SENT || s === TCP_STATE.SYN_RECEIVED) {
      if (this.sndNxt !== this.iss) return undefined;
      // RFC 9293 §3.10.1 / §3.10.7.2: <SEQ=ISS><CTL=SYN> or <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>, with our MSS (§3.7.1).
      const flags = s === TCP_STATE.SYN_SENT ? TCP_FLAG_SYN : TCP_FLAG_SYN | TCP_FLAG_ACK;
      const o = this.segment(this.iss, flags, new Uint8Array(0), [{ kind: 'mss', mssBytes: this.config.mssBytes }]);
      this.sndNxt = seqAdd(this.iss, 1);
      this.onSent(this.iss, 1);
      if (flags & TCP_FLAG_ACK) this.ackNow = false;
      return o;
    }
    if (s === TCP_STATE.TIME_WAIT || s === TCP_STATE.FIN_WAIT_2) return undefined;

    if (this.retransmitUna) {
      // RFC 5681 §3.2 step 2 / RFC 6582 §3.2 step 5: resend the first unacknowledged segment now.
      this.retransmitUna = false;
      const o = this.dataSegment(this.sndUna, Number.MAX_SAFE_INTEGER, true);
      if (o) {
        this.stats.fastRetransmits++;
        return o;
      }
    }
    const inFlight = seqDiff(this.sndNxt, this.sndUna);
    let room = Math.min(this.sndWnd, this.cwnd) - inFlight;
    if (this.probe) {
      // RFC 9293 §3.8.6.1: a zero-window probe of one octet (or the FIN) past the window.
      this.probe = false;
      room = Math.max(room, 1);
      const o = this.dataSegment(this.sndNxt, room, true);
      if (o) return o;
    }
    if (room <= 0) return undefined;
    return this.dataSegment(this.sndNxt, room, inFlight === 0);
  }

  /**
   * Builds the segment starting at `seq` (data up to the send MSS and `room`, FIN when it is the
   * last thing queued) and advances SND.NXT if it goes beyond it. `force` skips sender-side silly
   * window avoidance.
   */
  private dataSegment(seq: number, room: number, force: boolean): TcpOutput | undefined {
    const offset = seqDiff(seq, this.bufSeq);
    const avail = Math.max(0, this.sndBuf.length - offset);
    const want = Math.min(this.sendMss, avail);
    let len = Math.min(want, Math.max(0, room));
    // RFC 9293 §3.8.6.2.1 (sender SWS avoidance): a segment cut short by the window waits for an ACK
    // unless it is at least half the largest window the peer offered.
    if (len < want && !force && len < this.maxSndWnd / 2) len = 0;
    const end = seqAdd(seq, len);
    // The FIN follows the last data byte and needs one octet of the peer's window (cwnd does not bind it).
    const finFits = seqLt(end, seqAdd(this.sndUna, Math.max(this.sndWnd, force ? 1 : 0)));
    const fin = this.finQueued && end === this.finSeq && finFits;
    if (len === 0 && !fin) return undefined;
    const payload = this.sndBuf.read(offset, len);
    let flags = TCP_FLAG_ACK;
    if (len > 0 && offset + len === this.sndBuf.length) flags |= TCP_FLAG_PSH;
    if (fin) flags |= TCP_FLAG_FIN;
    const o = this.segment(seq, flags, payload, []);
    const segEnd = seqAdd(end, fin ? 1 : 0);
    const isNew = seqGe(seq, this.sndMax);
    if (seqGt(segEnd, this.sndNxt)) this.sndNxt = segEnd;
    this.onSent(seq, len + (fin ? 1 : 0));
    // An ACK riding on new data reaches the peer; one riding on a retransmission may be dropped by
    // its acceptability test, so a pure ACK follows in that case.
    if (isNew) this.ackNow = false;
    return o;
  }

  /** Retransmission bookkeeping for `len` octets of sequence space sent at `seq`. */
  private onSent(seq: number, len: number): void {
    const end = seqAdd(seq, len);
    if (seqLt(seq, this.sndMax)) {
      this.stats.retransmits++;
      // Karn: never time a segment that was sent more than once (RFC 6298 §3).
      if (this.rttTiming && seqLt(seq, this.rttTiming.seqEnd)) this.rttTiming = undefined;
    } else if (!this.rttTiming) {
      this.rttTiming = { seqEnd: end, startUs: this.nowUs };
    }
    if (seqGt(end, this.sndMax)) this.sndMax = end;
    // RFC 6298 §5.1: start the timer when sending data if it is not running.
    if (this.rtxDeadlineUs === undefined) this.rtxDeadlineUs = this.nowUs + this.rto;
  }

  // --- Internals: timers. ---

  private onTimer(): void {
    const now = this.nowUs;
    if (this.timeWaitDeadlineUs !== undefined && now >= this.timeWaitDeadlineUs) {
      this.timeWaitDeadlineUs = undefined;
      this.fire(TCP_EVENT.TIME_WAIT_EXPIRED);
      return;
    }
    if (this.rtxDeadlineUs !== undefined && now >= this.rtxDeadlineUs) this.onRto();
  }

  /** RFC 6298 §5.4–5.6 with RFC 5681 §3.1 (loss window) and go-back-N. */
  private onRto(): void {
    this.rtxDeadlineUs = undefined;
    this.stats.timeouts++;
    this.retries++;
    const limit = tcpIsSynchronized(this.stateNow) ? this.config.retransmitsMax : this.config.synRetransmitsMax;
    if (this.retries > limit) {
      // RFC 9293 §3.8.3: past R2 the connection is closed.
      this.terminate('timeout');
      return;
    }
    this.rto = Math.min(this.rto * 2, this.config.rtoMaxUs); // §5.5
    this.rttTiming = undefined;
    if (!tcpIsSynchronized(this.stateNow)) {
      this.sndNxt = this.iss;
    } else if (this.sndWnd === 0) {
      // Persist timeout (RFC 9293 §3.8.6.1): probe again; a closed window is not congestion.
      this.sndNxt = this.sndUna;
      this.probe = true;
    } else {
      const flight = seqDiff(this.sndMax, this.sndUna);
      if (flight > 0) {
        this.ssthresh = Math.max(Math.floor(flight / 2), 2 * this.sendMss); // RFC 5681 eq. (4)
        this.cwnd = this.sendMss; // loss window
      }
      this.recover = this.sndMax; // RFC 6582 §3.2 step 1 guard
      this.inRecovery = false;
      this.dupAcks = 0;
      this.sndNxt = this.sndUna;
    }
    this.rtxDeadlineUs = this.nowUs + this.rto; // §5.6
  }

  private get hasUnsent(): boolean {
    const unsentData = seqLt(this.sndNxt, seqAdd(this.bufSeq, this.sndBuf.length));
    return unsentData || (this.finQueued && seqLe(this.sndNxt, this.finSeq));
  }

  // --- Internals: receiving (RFC 9293 §3.10.7). ---

  private receive(seg: TcpSegment): void {
    this.stats.segmentsReceived++;
    switch (this.stateNow) {
      case TCP_STATE.CLOSED:
        return;
      case TCP_STATE.SYN_SENT:
        this.receiveInSynSent(seg);
        return;
      default:
        this.receiveOther(seg);
    }
  }

  /** RFC 9293 §3.10.7.3. */
  private receiveInSynSent(seg: TcpSegment): void {
    const hasAck = (seg.flags & TCP_FLAG_ACK) !== 0;
    // First: "If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset (unless the RST bit is set)".
    if (hasAck && (seqLe(seg.ack, this.iss) || seqGt(seg.ack, this.sndMax))) {
      if (!(seg.flags & TCP_FLAG_RST)) this.sendRst(seg.ack, undefined);
      return;
    }
    // Second: an RST is acceptable only if its ACK acknowledges our SYN (RFC 5961 §3.2 keeps this).
    if (seg.flags & TCP_FLAG_RST) {
      if (hasAck) this.terminate('refused');
      return;
    }
    // Fourth: the SYN.
    if (!(seg.flags & TCP_FLAG_SYN)) return;
    this.irs = seg.seq;
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.takePeerMss(seg);
    this.sndWnd = seg.window;
    this.maxSndWnd = Math.max(this.maxSndWnd, seg.window);
    this.sndWl1 = seg.seq;
    if (hasAck) {
      this.sndWl2 = seg.ack;
      this.onNewAck(seg.ack);
      this.ackNow = true;
      this.fire(TCP_EVENT.RCV_SYN_ACK);
      // "If there are other controls or text in the segment, then continue processing at the sixth step."
      this.receiveText(seqAdd(seg.seq, 1), seg.payload, (seg.flags & TCP_FLAG_FIN) !== 0);
    } else {
      // Simultaneous open (Figure 8): <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>, i.e. resend our SYN with an ACK.
      this.fire(TCP_EVENT.RCV_SYN);
      this.sndNxt = this.iss;
    }
  }

  /** RFC 9293 §3.10.7.4 for SYN-RECEIVED and the synchronized states. */
  private receiveOther(seg: TcpSegment): void {
    const f = seg.flags;
    // The peer's SYN again while we are in SYN-RECEIVED: our SYN,ACK was lost; send it again now.
    if (this.stateNow === TCP_STATE.SYN_RECEIVED && f & TCP_FLAG_SYN && !(f & (TCP_FLAG_ACK | TCP_FLAG_RST)) && seg.seq === this.irs) {
      this.sndNxt = this.iss;
      return;
    }
    // First: sequence number acceptable?
    if (!this.acceptable(seg.seq, tcpSegmentLen(seg))) {
      if (!(f & TCP_FLAG_RST)) {
        this.ackNow = true; // "send an acknowledgment ... drop"
        if (this.stateNow === TCP_STATE.TIME_WAIT && f & TCP_FLAG_FIN) this.restartTimeWait();
      }
      return;
    }
    // Second: RST. RFC 5961 §3.2: reset only on an exact match with RCV.NXT, else a challenge ACK.
    if (f & TCP_FLAG_RST) {
      // RFC 1337 §3 (fix for TIME-WAIT assassination): ignore RSTs in TIME-WAIT. A duplicated final
      // ACK reaching a peer that already closed draws exactly such an RST.
      if (this.stateNow === TCP_STATE.TIME_WAIT) return;
      if (seg.seq === this.rcvNxt) {
        // SYN-RECEIVED from a passive OPEN "returns to LISTEN": the stack's listener is still there.
        // CLOSING and LAST-ACK give the user no "connection reset" signal (RFC 9293 §3.10.7.4
        // second check): the peer is gone — typically out of TIME-WAIT after our FIN's
        // retransmission was lost. With all our data acknowledged nothing was lost, so it is 'normal'.
        const closingSide = this.stateNow === TCP_STATE.CLOSING || this.stateNow === TCP_STATE.LAST_ACK;
        this.terminate(closingSide && this.sndUna === this.finSeq ? 'normal' : 'reset');
      } else {
        this.challengeAck();
      }
      return;
    }
    // Fourth: a SYN in a synchronized state gets a challenge ACK whatever its sequence number (RFC 5961 §4.2).
    if (f & TCP_FLAG_SYN) {
      this.challengeAck();
      return;
    }
    // Fifth: ACK.
    if (!(f & TCP_FLAG_ACK)) return;
    if (this.stateNow === TCP_STATE.SYN_RECEIVED) {
      if (!(seqLt(this.sndUna, seg.ack) && seqLe(seg.ack, this.sndMax))) {
        this.sendRst(seg.ack, undefined); // "<SEQ=SEG.ACK><CTL=RST>"
        return;
      }
      this.sndWnd = seg.window;
      this.maxSndWnd = Math.max(this.maxSndWnd, seg.window);
      this.sndWl1 = seg.seq;
      this.sndWl2 = seg.ack;
      this.onNewAck(seg.ack);
      this.fire(TCP_EVENT.SYN_ACKED);
    }
    // RFC 5961 §5.2: acceptable ACKs lie in [SND.UNA − MAX.SND.WND, SND.NXT]; others get an ACK and are dropped.
    if (seqGt(seg.ack, this.sndMax) || seqLt(seg.ack, seqAdd(this.sndUna, -this.maxSndWnd))) {
      this.ackNow = true;
      return;
    }
    if (seqGt(seg.ack, this.sndUna)) {
      this.onNewAck(seg.ack);
    } else if (
      // RFC 5681 §2 "duplicate acknowledgment": outstanding data, no data or SYN/FIN, same ACK, same window.
      seg.ack === this.sndUna &&
      seg.payload.length === 0 &&
      !(f & (TCP_FLAG_SYN | TCP_FLAG_FIN)) &&
      seg.window === this.sndWnd &&
      seqGt(this.sndMax, this.sndUna)
    ) {
      this.onDupAck();
    }
    // Window update (RFC 9293 §3.10.7.4 fifth, ESTABLISHED): only from a segment newer than the last one used.
    if (seqLe(this.sndUna, seg.ack) && (seqLt(this.sndWl1, seg.seq) || (this.sndWl1 === seg.seq && seqLe(this.sndWl2, seg.ack)))) {
      this.sndWnd = seg.window;
      this.sndWl1 = seg.seq;
      this.sndWl2 = seg.ack;
      this.maxSndWnd = Math.max(this.maxSndWnd, seg.window);
    }
    // A peer that answers our window probes is alive (RFC 9293 §3.8.6.1: keep probing, do not give up).
    if (this.sndWnd === 0) this.retries = 0;
    this.armPersist();
    const finAcked = this.finQueued && seqGt(this.sndUna, this.finSeq);
    if (finAcked) {
      const s = this.stateNow;
      if (s === TCP_STATE.FIN_WAIT_1 || s === TCP_STATE.CLOSING) this.fire(TCP_EVENT.FIN_ACKED);
      else if (s === TCP_STATE.LAST_ACK) {
        this.fire(TCP_EVENT.FIN_ACKED);
        return;
      }
    }
    // Seventh and eighth: text and FIN.
    this.receiveText(seg.seq, seg.payload, (f & TCP_FLAG_FIN) !== 0);
  }

  /** RFC 9293 §3.10.7.4 first check, the four cases of the acceptability table. */
  private acceptable(seq: number, segLen: number): boolean {
    const wnd = this.config.rcvWndBytes;
    const wndEnd = seqAdd(this.rcvNxt, wnd);
    if (segLen === 0) return seqInRange(seq, this.rcvNxt, wndEnd);
    return seqInRange(seq, this.rcvNxt, wndEnd) || seqInRange(seqAdd(seq, segLen - 1), this.rcvNxt, wndEnd);
  }

  /** Our SND.UNA moves up to `ack` (RFC 9293 §3.10.7.4 fifth; RFC 6298 §5.2–5.3; RFC 5681; RFC 6582). */
  private onNewAck(ack: number): void {
    const acked = seqDiff(ack, this.sndUna);
    const bufEnd = seqAdd(this.bufSeq, this.sndBuf.length);
    const dataAckEnd = seqLt(ack, bufEnd) ? ack : bufEnd;
    const dataAcked = Math.max(0, seqDiff(dataAckEnd, this.bufSeq));
    if (dataAcked > 0) {
      this.sndBuf.drop(dataAcked);
      this.bufSeq = dataAckEnd;
      this.stats.bytesAcked += dataAcked;
    }
    this.sndUna = ack;
    if (seqLt(this.sndNxt, ack)) this.sndNxt = ack;
    this.retries = 0;
    this.dupAcks = 0;

    // RTT sample (RFC 6298 §2.2–2.3), only from a segment sent once (Karn).
    if (this.rttTiming && seqGe(ack, this.rttTiming.seqEnd)) {
      this.sampleRtt(this.nowUs - this.rttTiming.startUs);
      this.rttTiming = undefined;
    }

    const mss = this.sendMss;
    if (this.inRecovery) {
      if (seqGe(ack, this.recover)) {
        // RFC 6582 §3.2 step 3, full acknowledgment: deflate and leave fast recovery.
        this.cwnd = Math.min(this.ssthresh, Math.max(seqDiff(this.sndMax, ack), 0) + mss);
        this.inRecovery = false;
      } else {
        // Step 4, partial acknowledgment: resend the next hole, deflate by what was acknowledged.
        this.retransmitUna = true;
        this.cwnd = Math.max(mss, this.cwnd - acked + (acked >= mss ? mss : 0));
      }
    } else if (dataAcked > 0) {
      if (this.cwnd < this.ssthresh) this.cwnd += Math.min(dataAcked, mss); // slow start, RFC 5681 eq. (2)
      else this.cwnd += Math.max(1, Math.floor((mss * mss) / this.cwnd)); // congestion avoidance, eq. (3)
      this.cwnd = Math.min(this.cwnd, CWND_MAX_BYTES);
    }

    // RFC 6298 §5.2: all acknowledged → stop the timer; §5.3: otherwise restart it.
    this.rtxDeadlineUs = this.sndUna === this.sndMax ? undefined : this.nowUs + this.rto;

    if (this.writableWanted && this.sndBuf.freeBytes * 2 >= this.sndBuf.capacityBytes && tcpAcceptsSend(this.stateNow)) {
      this.writableWanted = false;
      this.emit({ kind: 'writable' });
    }
  }

  private onDupAck(): void {
    this.stats.dupAcks++;
    this.dupAcks++;
    const mss = this.sendMss;
    if (this.inRecovery) {
      this.cwnd = Math.min(this.cwnd + mss, CWND_MAX_BYTES); // RFC 5681 §3.2 step 4: inflate
      return;
    }
    // RFC 6582 §3.2 step 1: only when the ACK covers more than `recover` (no fast retransmit for
    // duplicates that our own go-back-N retransmissions provoked).
    if (this.dupAcks === DUPACK_THRESHOLD && seqGt(this.sndUna, this.recover)) {
      const flight = seqDiff(this.sndMax, this.sndUna);
      this.ssthresh = Math.max(Math.floor(flight / 2), 2 * mss); // RFC 5681 eq. (4)
      this.recover = this.sndMax;
      this.inRecovery = true;
      this.retransmitUna = true;
      this.cwnd = this.ssthresh + DUPACK_THRESHOLD * mss; // step 3
    }
  }

  /** Keeps a timer running while a zero window holds back data with nothing in flight (persist). */
  private armPersist(): void {
    if (this.rtxDeadlineUs === undefined && this.sndWnd === 0 && this.sndUna === this.sndMax && this.hasUnsent && tcpIsSynchronized(this.stateNow)) {
      this.rtxDeadlineUs = this.nowUs + this.rto;
    }
  }

  private sampleRtt(r: number): void {
    // RFC 6298 §2.2 (first) and §2.3 (subsequent), alpha = 1/8, beta = 1/4.
    if (this.srtt === undefined) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    const rto = Math.round(this.srtt + Math.max(CLOCK_GRANULARITY_US, RTO_K * this.rttvar));
    this.rto = Math.min(Math.max(rto, this.config.rtoMinUs), this.config.rtoMaxUs); // §2.4, §2.5
  }

  /** Seventh (segment text) and eighth (FIN) steps; `seq` is the sequence number of the first data octet. */
  private receiveText(seq: number, payload: Uint8Array, fin: boolean): void {
    if (payload.length === 0 && !fin) return;
    if (!tcpAcceptsText(this.stateNow)) {
      // CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: the peer's FIN came already; text is ignored,
      // a FIN retransmission is acknowledged (and restarts 2·MSL in TIME-WAIT).
      if (fin) {
        this.ackNow = true;
        if (this.stateNow === TCP_STATE.TIME_WAIT) this.restartTimeWait();
      }
      return;
    }
    const peerFinSeq = seqAdd(seq, payload.length);
    let data = payload;
    let start = seq;
    let hasFin = fin;
    // Trim what we already have (RFC 9293 §3.10.7.4: "segments with higher beginning sequence numbers ... trimmed").
    const before = seqDiff(this.rcvNxt, start);
    if (before > 0) {
      const cut = Math.min(before, data.length);
      data = data.subarray(cut);
      start = seqAdd(start, cut);
      if (hasFin && seqLt(peerFinSeq, this.rcvNxt)) hasFin = false;
    }
    // Trim what lies beyond the window (and a FIN that does not fit).
    const wndEnd = seqAdd(this.rcvNxt, this.config.rcvWndBytes);
    const over = seqDiff(seqAdd(start, data.length), wndEnd);
    if (over > 0) {
      data = data.subarray(0, data.length - over);
      hasFin = false;
    } else if (hasFin && !seqLt(peerFinSeq, wndEnd)) {
      hasFin = false;
    }
    // RFC 5681 §4.2: acknowledge every data segment at once (no delayed ACKs), out-of-order ones included.
    this.ackNow = true;
    if (data.length === 0 && !hasFin) return;
    if (start !== this.rcvNxt) {
      this.ooo.insert(start, data, hasFin);
      this.stats.oooDropped = this.ooo.dropped;
      return;
    }
    this.deliver(data);
    this.rcvNxt = seqAdd(this.rcvNxt, data.length);
    if (!hasFin) {
      const r = this.ooo.take(this.rcvNxt);
      for (const c of r.chunks) this.deliver(c);
      this.rcvNxt = r.rcvNxt;
      hasFin = r.fin;
    }
    if (hasFin) this.receiveFin();
  }

  private deliver(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.stats.bytesDelivered += bytes.length;
    this.emit({ kind: 'data', bytes: bytes.slice() });
  }

  /** Eighth step: the FIN is in sequence. */
  private receiveFin(): void {
    this.rcvNxt = seqAdd(this.rcvNxt, 1);
    this.ooo.clear();
    this.ackNow = true;
    this.emit({ kind: 'eof' });
    this.fire(TCP_EVENT.RCV_FIN);
  }

  private restartTimeWait(): void {
    this.timeWaitDeadlineUs = this.nowUs + this.config.timeWaitUs;
  }

  /** For the stack's TIME-WAIT reuse rule (RFC 9293 §3.6.1, MAY-2). */
  canReopenWith(seg: TcpSegment): boolean {
    return this.stateNow === TCP_STATE.TIME_WAIT && seqGt(seg.seq, this.rcvNxt);
  }

  /** An ISS beyond every sequence number this incarnation used (RFC 9293 §3.6.1, MAY-2 condition 1). */
  nextIncarnationIss(): number {
    return seqAdd(this.sndMax, 1 << 17);
  }

  /** Ends TIME-WAIT early because the stack reopens the 4-tuple. */
  closeForReuse(nowUs: number): void {
    this.advance(nowUs);
    if (this.stateNow === TCP_STATE.TIME_WAIT) this.fire(TCP_EVENT.TIME_WAIT_EXPIRED);
  }
}

// --- The stack: demultiplexing, listeners, RSTs for segments that match nothing. ---

export interface TcpStackConfig extends TcpConfig {
  /** Connections (all states) a stack holds at once. */
  connectionsMax: number;
  /** Half-open (SYN-RECEIVED) connections per listener. */
  listenBacklog: number;
}

export const TCP_DEFAULT_STACK_CONFIG: Readonly<TcpStackConfig> = {
  ...TCP_DEFAULT_CONFIG,
  connectionsMax: 4096,
  listenBacklog: 128,
};

export interface TcpConnectRequest {
  localAddr: number;
  /** Chosen from the ephemeral range when absent (RFC 6056 §3.3.1). */
  localPort?: number;
  remoteAddr: number;
  remotePort: number;
  /** Drawn from the stack's Rng when absent. */
  iss?: number;
}

export type TcpConnectError = 'connections-max' | 'tuple-in-use' | 'no-ephemeral-port';

export type TcpStackInput =
  | { kind: 'segment'; bytes: Uint8Array; src: number; dst: number }
  | { kind: 'timer' }
  /** Passive OPEN on `port`, for local address `addr` or any (0 / absent). */
  | { kind: 'listen'; port: number; addr?: number }
  | { kind: 'unlisten'; port: number; addr?: number }
  | ({ kind: 'connect' } & TcpConnectRequest)
  | { kind: 'close'; conn: TcpConnId }
  | { kind: 'abort'; conn: TcpConnId };

export type TcpStackOutput =
  | { kind: 'segment'; bytes: Uint8Array; src: number; dst: number }
  | { kind: 'data'; conn: TcpConnId; bytes: Uint8Array }
  | { kind: 'eof'; conn: TcpConnId }
  | { kind: 'writable'; conn: TcpConnId }
  | { kind: 'state'; conn: TcpConnId; state: TcpState }
  | { kind: 'connected'; conn: TcpConnId; tuple: TcpTuple; passive: boolean }
  | { kind: 'closed'; conn: TcpConnId; reason: TcpCloseReason }
  /** A `connect` input that could not open a connection (the `connect()` method returns this instead). */
  | { kind: 'connect-failed'; error: TcpConnectError; remoteAddr: number; remotePort: number };

export interface TcpStackStats {
  segmentsIn: number;
  /** Segments that failed to decode (bad checksum, bad header): silently discarded (RFC 9293 §3.1). */
  segmentsMalformed: number;
  /** Segments for no connection and no listener. */
  segmentsUnmatched: number;
  rstsSent: number;
  /** SYNs dropped because of connectionsMax or listenBacklog. */
  synsDropped: number;
  /** RSTs not sent because the control queue was full. */
  controlDropped: number;
  // Segments silently discarded by TCP MD5 / TCP-AO (RFC 2385 §3, RFC 5925 §7.3), by reason:
  /** A key is configured for the peer and the segment has no option of its kind. */
  authMissing: number;
  /** An MD5 or TCP-AO option nothing configured expects (or both options at once). */
  authUnexpected: number;
  /** A TCP-AO KeyID that names no MKT of ours. */
  authBadKeyId: number;
  /** A digest or MAC that does not verify. */
  authBadMac: number;
  /** TCP-AO on a non-SYN segment for no connection: no ISNs to derive a traffic key from. */
  authNoState: number;
  /** RSTs for segments without a connection not sent to a TCP-AO peer: they could not be signed (RFC 5925 §7.7). */
  authRstsSuppressed: number;
}

/** The stack counter of each authentication failure. */
const AUTH_FAILURE_STAT: Record<TcpAuthFailure, keyof TcpStackStats> = {
  missing: 'authMissing',
  unexpected: 'authUnexpected',
  'bad-key-id': 'authBadKeyId',
  'bad-mac': 'authBadMac',
  'no-state': 'authNoState',
};

/** Peers with a key, by (local, remote) address; local 0 means any of ours. A limit, like every table. */
const AUTH_PEERS_MAX = 4096;

interface Listener {
  addr: number;
  port: number;
}

interface HeapEntry {
  deadlineUs: number;
  id: TcpConnId;
}

/**
 * Holds connections by 4-tuple and listeners by (address, port); answers segments that match
 * neither with an RST (RFC 9293 §3.10.7.1). Outputs of all connections come out of one `poll()`,
 * tagged with the connection's id.
 */
export class TcpStack implements SansIo<TcpStackInput, TcpStackOutput> {
  readonly config: Readonly<TcpStackConfig>;
  readonly stats: TcpStackStats = {
    segmentsIn: 0,
    segmentsMalformed: 0,
    segmentsUnmatched: 0,
    rstsSent: 0,
    synsDropped: 0,
    controlDropped: 0,
    authMissing: 0,
    authUnexpected: 0,
    authBadKeyId: 0,
    authBadMac: 0,
    authNoState: 0,
    authRstsSuppressed: 0,
  };

  private readonly rng: Rng;
  private readonly conns = new Map<TcpConnId, TcpConnection>();
  private readonly listeners = new Map<string, Listener>();
  private readonly authPeers = new Map<string, TcpAuthConfig>();
  /** Connections that may have outputs; drained in insertion order by poll(). */
  private readonly ready = new Set<TcpConnId>();
  /** Connections whose deadline may have changed since the heap last saw them. */
  private readonly touched = new Set<TcpConnId>();
  private heap: HeapEntry[] = [];
  private readonly control: TcpStackOutput[] = [];
  private nowUs = 0;

  constructor(opts: { rng: Rng; config?: Partial<TcpStackConfig> }) {
    const config = { ...TCP_DEFAULT_STACK_CONFIG, ...opts.config };
    checkConfig(config);
    assert(Number.isInteger(config.connectionsMax) && config.connectionsMax > 0, `tcp stack: connectionsMax ${config.connectionsMax}`);
    assert(Number.isInteger(config.listenBacklog) && config.listenBacklog > 0, `tcp stack: listenBacklog ${config.listenBacklog}`);
    this.config = config;
    this.rng = opts.rng;
  }

  handle(input: TcpStackInput, nowUs: number): void {
    this.advance(nowUs);
    switch (input.kind) {
      case 'segment':
        this.onSegment(input.bytes, input.src, input.dst);
        return;
      case 'timer':
        this.onTimer();
        return;
      case 'listen':
        this.listen(input.port, input.addr);
        return;
      case 'unlisten':
        this.unlisten(input.port, input.addr);
        return;
      case 'connect': {
        const r = this.connect(input, nowUs);
        if (!r.ok) this.control.push({ kind: 'connect-failed', error: r.error, remoteAddr: input.remoteAddr, remotePort: input.remotePort });
        return;
      }
      case 'close':
        this.close(input.conn, nowUs);
        return;
      case 'abort':
        this.abort(input.conn, nowUs);
        return;
    }
  }

  /** Passive OPEN (RFC 9293 §3.10.1): SYNs to `port` (on `addr`, or any local address) spawn connections. */
  listen(port: number, addr = 0): void {
    assert(Number.isInteger(port) && port > 0 && port <= 0xffff, `tcp stack: listen port ${port}`);
    this.listeners.set(listenerKey(addr, port), { addr, port });
  }

  /**
   * Sets (or with `undefined` clears) the TCP MD5 / TCP-AO key for segments between `localAddr`
   * (0: any of ours) and `remoteAddr`, like a router's per-neighbour password. Connections opened
   * afterwards sign and verify with it; every segment from that peer must then carry a valid option.
   */
  setAuth(localAddr: number, remoteAddr: number, config: TcpAuthConfig | undefined): void {
    const key = listenerKey(localAddr, remoteAddr);
    if (config === undefined) {
      this.authPeers.delete(key);
      return;
    }
    checkTcpAuthConfig(config);
    assert(this.authPeers.has(key) || this.authPeers.size < AUTH_PEERS_MAX, `tcp stack: more than ${AUTH_PEERS_MAX} peers with keys`);
    this.authPeers.set(key, config);
  }

  /** The key configured for a peer, if any (exact local address first, then any). */
  authFor(localAddr: number, remoteAddr: number): TcpAuthConfig | undefined {
    return this.authPeers.get(listenerKey(localAddr, remoteAddr)) ?? this.authPeers.get(listenerKey(0, remoteAddr));
  }

  private authSession(localAddr: number, remoteAddr: number): { auth: TcpAuthSession } | Record<string, never> {
    const c = this.authFor(localAddr, remoteAddr);
    return c ? { auth: new TcpAuthSession(c) } : {};
  }

  /** Stops accepting; connections already spawned carry on. */
  unlisten(port: number, addr = 0): void {
    this.listeners.delete(listenerKey(addr, port));
  }

  /** Active OPEN. The connection's outputs (its SYN first) come out of poll(). */
  connect(req: TcpConnectRequest, nowUs: number): Result<TcpConnId, TcpConnectError> {
    this.advance(nowUs);
    if (this.conns.size >= this.config.connectionsMax) return err('connections-max');
    let localPort = req.localPort;
    const tupleFor = (port: number): TcpTuple => ({ localAddr: req.localAddr, localPort: port, remoteAddr: req.remoteAddr, remotePort: req.remotePort });
    if (localPort === undefined) {
      // RFC 6056 §3.3.1 (Algorithm 1): a random port from the dynamic range, retried a bounded number of times.
      for (let i = 0; i < EPHEMERAL_PORT_TRIES && localPort === undefined; i++) {
        const p = TCP_EPHEMERAL_PORT_MIN + this.rng.nextInt(TCP_EPHEMERAL_PORT_MAX - TCP_EPHEMERAL_PORT_MIN + 1);
        if (!this.conns.has(tcpConnId(tupleFor(p)))) localPort = p;
      }
      if (localPort === undefined) return err('no-ephemeral-port');
    }
    const tuple = tupleFor(localPort);
    const id = tcpConnId(tuple);
    if (this.conns.has(id)) return err('tuple-in-use');
    // RFC 9293 §3.4.1 / RFC 6528: an unpredictable ISN; here from the injected Rng.
    const conn = TcpConnection.connect({ tuple, iss: req.iss ?? this.rng.nextU32(), config: this.config, ...this.authSession(tuple.localAddr, tuple.remoteAddr) }, this.nowUs);
    this.conns.set(id, conn);
    this.touch(id);
    return ok(id);
  }

  /** RFC 9293 §3.10.2 SEND on a connection; see TcpConnection.send. */
  send(conn: TcpConnId, bytes: Uint8Array, nowUs: number): Result<number, TcpSendError> {
    this.advance(nowUs);
    const c = this.conns.get(conn);
    if (!c) return err('closed');
    const r = c.send(bytes, this.nowUs);
    this.touch(conn);
    return r;
  }

  close(conn: TcpConnId, nowUs: number): void {
    this.advance(nowUs);
    const c = this.conns.get(conn);
    if (!c) return;
    c.close(this.nowUs);
    this.touch(conn);
  }

  abort(conn: TcpConnId, nowUs: number): void {
    this.advance(nowUs);
    const c = this.conns.get(conn);
    if (!c) return;
    c.abort(this.nowUs);
    this.touch(conn);
  }

  /** Read-only view of a connection (drive it through the stack only). */
  connection(conn: TcpConnId): TcpConnectionView | undefined {
    return this.conns.get(conn);
  }

  connectionIds(): TcpConnId[] {
    return [...this.conns.keys()];
  }

  poll(): TcpStackOutput | undefined {
    const c = this.control.shift();
    if (c) return c;
    for (const id of this.ready) {
      const conn = this.conns.get(id);
      if (!conn) {
        this.ready.delete(id);
        continue;
      }
      const o = conn.poll();
      // Sending can start a retransmission timer, so the deadline heap must look again.
      this.touched.add(id);
      if (o) return tagOutput(o, conn);
      this.ready.delete(id);
      if (conn.state === TCP_STATE.CLOSED) this.conns.delete(id);
    }
    return undefined;
  }

  nextDeadlineUs(): number | undefined {
    this.refreshHeap();
    const top = this.heap[0];
    return top?.deadlineUs;
  }

  // --- Internals. ---

  private advance(nowUs: number): void {
    assert(Number.isSafeInteger(nowUs) && nowUs >= this.nowUs, `tcp stack: time ran backwards (${nowUs} < ${this.nowUs})`);
    this.nowUs = nowUs;
  }

  private touch(id: TcpConnId): void {
    this.ready.add(id);
    this.touched.add(id);
  }

  private onTimer(): void {
    this.refreshHeap();
    const due = new Set<TcpConnId>();
    while (this.heap.length > 0 && this.heap[0]!.deadlineUs <= this.nowUs) {
      const e = heapPop(this.heap)!;
      const conn = this.conns.get(e.id);
      if (conn && conn.nextDeadlineUs() === e.deadlineUs) due.add(e.id);
    }
    for (const id of due) {
      this.conns.get(id)?.handle({ kind: 'timer' }, this.nowUs);
      this.touch(id);
    }
  }

  /** Pushes the current deadline of every touched connection; drops stale entries at the top. */
  private refreshHeap(): void {
    for (const id of this.touched) {
      const d = this.conns.get(id)?.nextDeadlineUs();
      if (d !== undefined) heapPush(this.heap, { deadlineUs: d, id });
    }
    this.touched.clear();
    while (this.heap.length > 0) {
      const top = this.heap[0]!;
      const conn = this.conns.get(top.id);
      if (conn && conn.nextDeadlineUs() === top.deadlineUs) break;
      heapPop(this.heap);
    }
    // Stale entries below the top: rebuild when they outnumber the live ones (a limit on the heap).
    if (this.heap.length > 4 * this.conns.size + 64) {
      this.heap = [];
      for (const [id, conn] of this.conns) {
        const d = conn.nextDeadlineUs();
        if (d !== undefined) heapPush(this.heap, { deadlineUs: d, id });
      }
    }
  }

  private onSegment(bytes: Uint8Array, src: number, dst: number): void {
    this.stats.segmentsIn++;
    const r = decodeTcpSegment(bytes, src, dst);
    if (!r.ok) {
      this.stats.segmentsMalformed++;
      return;
    }
    const seg = r.value;
    const tuple: TcpTuple = { localAddr: dst, localPort: seg.dstPort, remoteAddr: src, remotePort: seg.srcPort };
    const id = tcpConnId(tuple);
    let conn = this.conns.get(id);
    const authFailure = this.checkAuth(bytes, seg, src, dst, conn);
    if (authFailure !== undefined) {
      // RFC 5925 §7.3 / RFC 2385 §3: discarded silently (no RST, no ACK), only counted.
      this.stats[AUTH_FAILURE_STAT[authFailure]]++;
      return;
    }
    let reuseIss: number | undefined;
    const bareSyn = (seg.flags & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST)) === TCP_FLAG_SYN;
    if (conn && bareSyn && conn.canReopenWith(seg) && this.findListener(dst, seg.dstPort)) {
      // RFC 9293 §3.6.1 (MAY-2): a new SYN may reopen a connection in TIME-WAIT, with a larger ISS.
      reuseIss = conn.nextIncarnationIss();
      conn.closeForReuse(this.nowUs);
      this.drainNow(id, conn);
      conn = undefined;
    }
    if (conn && conn.state !== TCP_STATE.CLOSED) {
      conn.receiveSegment(seg, this.nowUs);
      this.touch(id);
      return;
    }
    if (conn) {
      // CLOSED but not yet drained: finish it so the 4-tuple is free.
      this.drainNow(id, conn);
    }
    const listener = this.findListener(dst, seg.dstPort);
    if (listener) this.onListen(tuple, seg, reuseIss);
    else {
      this.stats.segmentsUnmatched++;
      this.rstForClosed(tuple, seg);
    }
  }

  /**
   * Authenticates a decoded segment before it reaches a connection or a listener. A bare SYN is
   * checked statelessly (its traffic key needs only its own ISN, RFC 5925 §5.2); anything else by
   * its connection, which knows both ISNs and the receive SNE. MD5 needs no state at all.
   */
  private checkAuth(bytes: Uint8Array, seg: TcpSegment, src: number, dst: number, conn: TcpConnection | undefined): TcpAuthFailure | undefined {
    const config = this.authFor(dst, src);
    const found = findTcpAuthOptions(seg.options);
    if (!found.ok) return 'bad-mac';
    if (!config) {
      // A segment signed for a peer we hold no key for: "unexpected" (RFC 5925 §7.3 leaves this
      // configurable, accepting by default; the lab refuses it, as Linux does for TCP MD5).
      return found.value.md5 || found.value.ao ? 'unexpected' : undefined;
    }
    const bareSyn = (seg.flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) === TCP_FLAG_SYN;
    if (!bareSyn && conn && conn.state !== TCP_STATE.CLOSED && conn.auth) return conn.verifyAuth(bytes, seg);
    if (config.kind === 'ao' && !bareSyn) return found.value.ao ? 'no-state' : found.value.md5 ? 'unexpected' : 'missing';
    return tcpAuthVerify(config, bytes, seg, found.value, src, dst, { local: 0, remote: seg.seq }, 0);
  }

  /** Moves a connection's pending outputs to the control queue and forgets it. */
  private drainNow(id: TcpConnId, conn: TcpConnection): void {
    for (let o = conn.poll(); o; o = conn.poll()) this.control.push(tagOutput(o, conn));
    this.conns.delete(id);
    this.ready.delete(id);
  }

  private findListener(addr: number, port: number): Listener | undefined {
    return this.listeners.get(listenerKey(addr, port)) ?? this.listeners.get(listenerKey(0, port));
  }

  /** RFC 9293 §3.10.7.2, LISTEN state. */
  private onListen(tuple: TcpTuple, seg: TcpSegment, reuseIss: number | undefined): void {
    const f = seg.flags;
    if (f & TCP_FLAG_RST) return; // first: ignore an RST
    if (f & TCP_FLAG_ACK) {
      this.rstForClosed(tuple, seg); // second: <SEQ=SEG.ACK><CTL=RST>
      return;
    }
    if (!(f & TCP_FLAG_SYN)) return; // fourth: drop anything else
    let halfOpen = 0;
    for (const c of this.conns.values()) {
      if (c.passive && c.state === TCP_STATE.SYN_RECEIVED && c.tuple.localPort === tuple.localPort) halfOpen++;
    }
    if (this.conns.size >= this.config.connectionsMax || halfOpen >= this.config.listenBacklog) {
      this.stats.synsDropped++;
      return;
    }
    const conn = TcpConnection.accept({ tuple, iss: reuseIss ?? this.rng.nextU32(), config: this.config, ...this.authSession(tuple.localAddr, tuple.remoteAddr) }, seg, this.nowUs);
    this.conns.set(conn.id, conn);
    this.touch(conn.id);
  }

  /** RFC 9293 §3.10.7.1, CLOSED state (no TCB): answer everything but an RST with an RST. */
  private rstForClosed(tuple: TcpTuple, seg: TcpSegment): void {
    if (seg.flags & TCP_FLAG_RST) return;
    if (this.control.length >= CONTROL_SEGMENTS_MAX) {
      this.stats.controlDropped++;
      return;
    }
    const auth = this.authFor(tuple.localAddr, tuple.remoteAddr);
    if (auth?.kind === 'ao') {
      // RFC 5925 §7.7: without a connection there are no ISNs, so no traffic key the peer would accept.
      this.stats.authRstsSuppressed++;
      return;
    }
    const ackFlag = (seg.flags & TCP_FLAG_ACK) !== 0;
    const rst: TcpSegment = {
      srcPort: tuple.localPort,
      dstPort: tuple.remotePort,
      // "If the ACK bit is off, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; if on, <SEQ=SEG.ACK><CTL=RST>".
      seq: ackFlag ? seg.ack : 0,
      ack: ackFlag ? 0 : seqAdd(seg.seq, tcpSegmentLen(seg)),
      flags: ackFlag ? TCP_FLAG_RST : TCP_FLAG_RST | TCP_FLAG_ACK,
      reserved: 0,
      window: 0,
      urgentPointer: 0,
      options: [],
      payload: new Uint8Array(0),
    };
    // RFC 2385 §2: the MD5 digest needs only the key, so an RST from no connection is signed too.
    const bytes = auth ? tcpAuthSign(auth, rst, tuple.localAddr, tuple.remoteAddr, { local: 0, remote: 0 }, 0) : encodeTcpSegment(rst, tuple.localAddr, tuple.remoteAddr);
    this.stats.rstsSent++;
    this.control.push({ kind: 'segment', bytes, src: tuple.localAddr, dst: tuple.remoteAddr });
  }
}

function listenerKey(addr: number, port: number): string {
  return `${addr >>> 0}:${port}`;
}

function tagOutput(o: TcpOutput, conn: TcpConnection): TcpStackOutput {
  const id = conn.id;
  switch (o.kind) {
    case 'segment':
      return o;
    case 'data':
      return { kind: 'data', conn: id, bytes: o.bytes };
    case 'eof':
      return { kind: 'eof', conn: id };
    case 'writable':
      return { kind: 'writable', conn: id };
    case 'state':
      return { kind: 'state', conn: id, state: o.state };
    case 'connected':
      return { kind: 'connected', conn: id, tuple: { ...conn.tuple }, passive: conn.passive };
    case 'closed':
      return { kind: 'closed', conn: id, reason: o.reason };
  }
}

// A binary min-heap on (deadlineUs, id) — ties broken by id so the order never depends on history.
function heapLess(a: HeapEntry, b: HeapEntry): boolean {
  return a.deadlineUs < b.deadlineUs || (a.deadlineUs === b.deadlineUs && a.id < b.id);
}

function heapPush(h: HeapEntry[], e: HeapEntry): void {
  h.push(e);
  let i = h.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (!heapLess(h[i]!, h[p]!)) break;
    [h[i], h[p]] = [h[p]!, h[i]!];
    i = p;
  }
}

function heapPop(h: HeapEntry[]): HeapEntry | undefined {
  const top = h[0];
  const last = h.pop();
  if (h.length > 0 && last) {
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && heapLess(h[l]!, h[m]!)) m = l;
      if (r < h.length && heapLess(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
  return top;
}
