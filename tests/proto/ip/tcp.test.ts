// One TcpConnection (or TcpStack) against a scripted peer: every segment in and out is checked by hand.
import { describe, it, expect } from 'vitest';
import { parseIpv4 } from '../../../src/lib/addr.ts';
import { AssertionError } from '../../../src/lib/errors.ts';
import { Pcg32 } from '../../../src/lib/rng.ts';
import {
  TCP_FLAG_ACK,
  TCP_FLAG_FIN,
  TCP_FLAG_PSH,
  TCP_FLAG_RST,
  TCP_FLAG_SYN,
  type TcpSegment,
  decodeTcpSegment,
  encodeTcpSegment,
  tcpMssOption,
} from '../../../src/proto/ip/tcp-segment.ts';
import {
  TCP_DEFAULT_CONFIG,
  TCP_EPHEMERAL_PORT_MAX,
  TCP_EPHEMERAL_PORT_MIN,
  TCP_STATE,
  TcpConnection,
  TcpStack,
  type TcpConfig,
  type TcpOutput,
  type TcpStackOutput,
  tcpConnId,
} from '../../../src/proto/ip/tcp.ts';

const A = parseIpv4('10.0.0.1')!;
const B = parseIpv4('10.0.0.2')!;
const TUPLE = { localAddr: A, localPort: 40000, remoteAddr: B, remotePort: 179 };
const ISS = 1000;
const PEER_ISS = 5000;

interface Drained {
  segs: TcpSegment[];
  events: Exclude<TcpOutput, { kind: 'segment' }>[];
  data: string;
}

function drain(c: TcpConnection): Drained {
  const out: Drained = { segs: [], events: [], data: '' };
  for (let o = c.poll(); o; o = c.poll()) {
    if (o.kind === 'segment') {
      expect(o.src).toBe(A);
      expect(o.dst).toBe(B);
      const r = decodeTcpSegment(o.bytes, o.src, o.dst);
      if (!r.ok) throw new Error(`we sent a bad segment: ${r.error.message}`);
      out.segs.push(r.value);
    } else {
      if (o.kind === 'data') out.data += new TextDecoder().decode(o.bytes);
      out.events.push(o);
    }
  }
  return out;
}

/** The scripted peer sends a segment (defaults: ACK, window 65535, no options, no data). */
function peer(c: TcpConnection, nowUs: number, s: Partial<TcpSegment> & { data?: string }): void {
  const seg: TcpSegment = {
    srcPort: 179,
    dstPort: 40000,
    seq: 0,
    ack: 0,
    flags: TCP_FLAG_ACK,
    reserved: 0,
    window: 65535,
    urgentPointer: 0,
    options: [],
    payload: s.data !== undefined ? new TextEncoder().encode(s.data) : new Uint8Array(0),
    ...s,
  };
  c.handle({ kind: 'segment', bytes: encodeTcpSegment(seg, B, A), src: B, dst: A }, nowUs);
}

/** A connection through its handshake at t = 10 ms (RTT sample 10 ms); the peer's next sequence number is PEER_ISS + 1. */
function established(config: Partial<TcpConfig> = {}, peerMss: number | null = 1460, window = 65535): TcpConnection {
  const c = TcpConnection.connect({ tuple: TUPLE, iss: ISS, config }, 0);
  const syn = drain(c).segs;
  expect(syn.length).toBe(1);
  peer(c, 10_000, {
    seq: PEER_ISS,
    ack: ISS + 1,
    flags: TCP_FLAG_SYN | TCP_FLAG_ACK,
    window,
    options: peerMss === null ? [] : [{ kind: 'mss', mssBytes: peerMss }],
  });
  const d = drain(c);
  expect(c.state).toBe(TCP_STATE.ESTABLISHED);
  expect(d.segs.map((s) => [s.flags, s.seq, s.ack])).toEqual([[TCP_FLAG_ACK, ISS + 1, PEER_ISS + 1]]);
  return c;
}

const text = (n: number, ch = 'x'): Uint8Array => new TextEncoder().encode(ch.repeat(n));

describe('active open', () => {
  it('sends SYN with our MSS, answers SYN,ACK with ACK, measures the RTT', () => {
    const c = TcpConnection.connect({ tuple: TUPLE, iss: ISS }, 0);
    const d = drain(c);
    expect(d.events).toEqual([{ kind: 'state', state: TCP_STATE.SYN_SENT }]);
    expect(d.segs).toHaveLength(1);
    const syn = d.segs[0]!;
    expect([syn.flags, syn.seq, syn.window, tcpMssOption(syn)]).toEqual([TCP_FLAG_SYN, ISS, 65535, 1460]);
    expect(c.nextDeadlineUs()).toBe(1_000_000); // RFC 6298 §2.1: initial RTO 1 s
    peer(c, 50_000, { seq: PEER_ISS, ack: ISS + 1, flags: TCP_FLAG_SYN | TCP_FLAG_ACK, options: [{ kind: 'mss', mssBytes: 1200 }] });
    const e = drain(c);
    expect(e.events).toEqual([{ kind: 'state', state: TCP_STATE.ESTABLISHED }, { kind: 'connected' }]);
    expect(c.sendMssBytes).toBe(1200);
    expect(c.srttUs).toBe(50_000);
    // RFC 6298 §2.2: RTO = SRTT + 4·(SRTT/2) = 150 ms, raised to the 200 ms floor.
    expect(c.rtoUs).toBe(200_000);
    expect(c.nextDeadlineUs()).toBeUndefined();
  });

  it('uses 536 as the send MSS when the peer sends no MSS option (RFC 9293 §3.7.1)', () => {
    const c = established({}, null);
    expect(c.sendMssBytes).toBe(536);
    c.send(text(2000), 20_000);
    expect(drain(c).segs.map((s) => s.payload.length)).toEqual([536, 536, 536, 392]);
  });

  it('SYN-SENT: a bad ACK draws <SEQ=SEG.ACK><CTL=RST>; an RST without ACK is ignored; an RST acking our SYN refuses', () => {
    const c = TcpConnection.connect({ tuple: TUPLE, iss: ISS }, 0);
    drain(c);
    peer(c, 1, { seq: 77, ack: ISS + 5, flags: TCP_FLAG_SYN | TCP_FLAG_ACK });
    expect(drain(c).segs.map((s) => [s.flags, s.seq])).toEqual([[TCP_FLAG_RST, ISS + 5]]);
    peer(c, 2, { seq: 77, flags: TCP_FLAG_RST });
    expect(drain(c).segs).toEqual([]);
    expect(c.state).toBe(TCP_STATE.SYN_SENT);
    peer(c, 3, { seq: 0, ack: ISS + 1, flags: TCP_FLAG_RST | TCP_FLAG_ACK });
    expect(drain(c).events).toEqual([{ kind: 'state', state: TCP_STATE.CLOSED }, { kind: 'closed', reason: 'refused' }]);
  });

  it('retransmits the SYN with backoff and gives up after synRetransmitsMax', () => {
    const c = TcpConnection.connect({ tuple: TUPLE, iss: ISS, config: { synRetransmitsMax: 2 } }, 0);
    drain(c);
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t = c.nextDeadlineUs()!;
      times.push(t);
      c.handle({ kind: 'timer' }, t);
      const d = drain(c);
      if (i < 2) expect(d.segs.map((s) => [s.flags, s.seq])).toEqual([[TCP_FLAG_SYN, ISS]]);
      else expect(d.events.at(-1)).toEqual({ kind: 'closed', reason: 'timeout' });
    }
    expect(times).toEqual([1_000_000, 3_000_000, 7_000_000]);
    expect(c.stats.retransmits).toBe(2);
  });

  it('close in SYN-SENT deletes the connection without a word to the peer', () => {
    const c = TcpConnection.connect({ tuple: TUPLE, iss: ISS }, 0);
    drain(c);
    c.handle({ kind: 'close' }, 5);
    const d = drain(c);
    expect(d.segs).toEqual([]);
    expect(d.events.at(-1)).toEqual({ kind: 'closed', reason: 'normal' });
  });
});

describe('passive open', () => {
  const SYN: TcpSegment = {
    srcPort: 179,
    dstPort: 40000,
    seq: PEER_ISS,
    ack: 0,
    flags: TCP_FLAG_SYN,
    reserved: 0,
    window: 65535,
    urgentPointer: 0,
    options: [{ kind: 'mss', mssBytes: 1000 }],
    payload: new Uint8Array(0),
  };

  it('answers a SYN with SYN,ACK, again on a duplicate SYN, and resets on a bad ACK', () => {
    const c = TcpConnection.accept({ tuple: TUPLE, iss: ISS }, SYN, 0);
    const d = drain(c);
    expect(d.segs.map((s) => [s.flags, s.seq, s.ack, tcpMssOption(s)])).toEqual([[TCP_FLAG_SYN | TCP_FLAG_ACK, ISS, PEER_ISS + 1, 1460]]);
    expect(c.sendMssBytes).toBe(1000);
    peer(c, 100, { ...SYN, payload: new Uint8Array(0) });
    expect(drain(c).segs.map((s) => s.flags)).toEqual([TCP_FLAG_SYN | TCP_FLAG_ACK]);
    peer(c, 200, { seq: PEER_ISS + 1, ack: ISS + 7 });
    expect(drain(c).segs.map((s) => [s.flags, s.seq])).toEqual([[TCP_FLAG_RST, ISS + 7]]);
    expect(c.state).toBe(TCP_STATE.SYN_RECEIVED);
    peer(c, 300, { seq: PEER_ISS + 1, ack: ISS + 1, data: 'hello' });
    const e = drain(c);
    expect(c.state).toBe(TCP_STATE.ESTABLISHED);
    expect(e.data).toBe('hello');
    expect(e.segs.map((s) => [s.flags, s.ack])).toEqual([[TCP_FLAG_ACK, PEER_ISS + 6]]);
  });

  it('close in SYN-RECEIVED waits for ESTABLISHED, then sends FIN', () => {
    const c = TcpConnection.accept({ tuple: TUPLE, iss: ISS }, SYN, 0);
    drain(c);
    c.handle({ kind: 'close' }, 1);
    expect(drain(c).segs).toEqual([]);
    peer(c, 2, { seq: PEER_ISS + 1, ack: ISS + 1 });
    const d = drain(c);
    expect(d.events.filter((e) => e.kind === 'state').map((e) => e.kind === 'state' && e.state)).toEqual([TCP_STATE.ESTABLISHED, TCP_STATE.FIN_WAIT_1]);
    expect(d.segs.map((s) => [s.flags, s.seq])).toEqual([[TCP_FLAG_ACK | TCP_FLAG_FIN, ISS + 1]]);
  });

  it('an RST with the exact sequence number in SYN-RECEIVED closes the half-open connection', () => {
    const c = TcpConnection.accept({ tuple: TUPLE, iss: ISS }, SYN, 0);
    drain(c);
    peer(c, 1, { seq: PEER_ISS + 1, flags: TCP_FLAG_RST });
    expect(drain(c).events.at(-1)).toEqual({ kind: 'closed', reason: 'reset' });
  });
});

describe('RST and SYN in synchronized states (RFC 9293 §3.10.7.4, RFC 5961)', () => {
  it('an RST at exactly RCV.NXT resets', () => {
    const c = established();
    peer(c, 20_000, { seq: PEER_ISS + 1, flags: TCP_FLAG_RST });
    expect(drain(c).events).toEqual([{ kind: 'state', state: TCP_STATE.CLOSED }, { kind: 'closed', reason: 'reset' }]);
    expect(c.send(text(1), 20_001)).toEqual({ ok: false, error: 'closed' });
  });

  it('an in-window RST that is not exact draws a challenge ACK and changes nothing', () => {
    const c = established();
    peer(c, 20_000, { seq: PEER_ISS + 100, flags: TCP_FLAG_RST });
    const d = drain(c);
    expect(d.segs.map((s) => [s.flags, s.seq, s.ack])).toEqual([[TCP_FLAG_ACK, ISS + 1, PEER_ISS + 1]]);
    expect(c.state).toBe(TCP_STATE.ESTABLISHED);
    expect(c.stats.challengeAcks).toBe(1);
  });

  it('an RST outside the window is dropped silently', () => {
    const c = established();
    peer(c, 20_000, { seq: PEER_ISS + 1 + 70_000, flags: TCP_FLAG_RST });
    peer(c, 20_000, { seq: PEER_ISS - 10, flags: TCP_FLAG_RST });
    expect(drain(c).segs).toEqual([]);
    expect(c.state).toBe(TCP_STATE.ESTABLISHED);
  });

  it('a SYN in ESTABLISHED draws a challenge ACK whatever its sequence number', () => {
    const c = established();
    peer(c, 20_000, { seq: PEER_ISS + 1, flags: TCP_FLAG_SYN });
    peer(c, 20_000, { seq: 12345, flags: TCP_FLAG_SYN });
    const d = drain(c);
    expect(d.segs.map((s) => [s.flags, s.ack])).toEqual([[TCP_FLAG_ACK, PEER_ISS + 1]]);
    expect(c.state).toBe(TCP_STATE.ESTABLISHED);
  });

  it('an ACK for data never sent draws an ACK and is dropped (RFC 9293, RFC 5961 §5.2)', () => {
    const c = established();
    peer(c, 20_000, { seq: PEER_ISS + 1, ack: ISS + 500, data: 'ignored' });
    const d = drain(c);
    expect(d.data).toBe('');
    expect(d.segs.map((s) => [s.flags, s.ack])).toEqual([[TCP_FLAG_ACK, PEER_ISS + 1]]);
  });

  it('abort sends <SEQ=SND.NXT><CTL=RST>', () => {
    const c = established();
    c.send(text(10), 20_000);
    drain(c);
    c.handle({ kind: 'abort' }, 20_001);
    const d = drain(c);
    expect(d.segs.map((s) => [s.flags, s.seq])).toEqual([[TCP_FLAG_RST, ISS + 11]]);
    expect(d.events.at(-1)).toEqual({ kind: 'closed', reason: 'aborted' });
  });
});

describe('receiving', () => {
  it('delivers in order through the out-of-order queue and ACKs every segment', () => {
    const c = established();
    const base = PEER_ISS + 1;
    peer(c, 20_000, { seq: base + 5, ack: ISS + 1, data: 'world' });
    let d = drain(c);
    expect(d.data).toBe('');
    expect(d.segs.map((s) => s.ack)).toEqual([base]); // duplicate ACK at once (RFC 5681 §4.2)
    peer(c, 20_001, { seq: base + 10, ack: ISS + 1, data: '!' });
    peer(c, 20_002, { seq: base + 5, ack: ISS + 1, data: 'world' }); // duplicate of held data
    drain(c);
    peer(c, 20_003, { seq: base, ack: ISS + 1, data: 'hello' });
    d = drain(c);
    expect(d.data).toBe('helloworld!');
    expect(d.segs.map((s) => s.ack)).toEqual([base + 11]);
  });

  it('trims overlapping and beyond-window data', () => {
    const c = established({ rcvWndBytes: 10 });
    const base = PEER_ISS + 1;
    peer(c, 20_000, { seq: base, ack: ISS + 1, data: 'abcdefghijKLMN' }); // 4 octets beyond the window
    let d = drain(c);
    expect(d.data).toBe('abcdefghij');
    peer(c, 20_001, { seq: base + 8, ack: ISS + 1, data: 'ijKLMN' }); // 2 old octets
    d = drain(c);
    expect(d.data).toBe('KLMN');
    expect(d.segs.at(-1)!.ack).toBe(base + 14);
    peer(c, 20_002, { seq: base, ack: ISS + 1, data: 'abc' }); // all old: not acceptable, ACK
    d = drain(c);
    expect(d.data).toBe('');
    expect(d.segs.map((s) => s.ack)).toEqual([base + 14]);
  });

  it('bounds the out-of-order queue and recovers once the peer resends', () => {
    const c = established({ oooSegmentsMax: 2 });
    const base = PEER_ISS + 1;
    peer(c, 20_000, { seq: base + 2, ack: ISS + 1, data: 'cc' });
    peer(c, 20_000, { seq: base + 6, ack: ISS + 1, data: 'ee' });
    peer(c, 20_000, { seq: base + 4, ack: ISS + 1, data: 'dd' }); // evicts 'ee', the farthest
    peer(c, 20_000, { seq: base + 8, ack: ISS + 1, data: 'ff' }); // refused: queue full of nearer data
    expect(c.stats.oooDropped).toBe(2);
    peer(c, 20_001, { seq: base, ack: ISS + 1, data: 'bb' });
    expect(drain(c).data).toBe('bbccdd');
    peer(c, 20_002, { seq: base + 6, ack: ISS + 1, data: 'eeff' });
    expect(drain(c).data).toBe('eeff');
  });

  it('an out-of-order FIN waits for the data before it', () => {
    const c = established();
    const base = PEER_ISS + 1;
    peer(c, 20_000, { seq: base + 3, ack: ISS + 1, data: 'def', flags: TCP_FLAG_ACK | TCP_FLAG_FIN });
    let d = drain(c);
    expect(d.events.some((e) => e.kind === 'eof')).toBe(false);
    peer(c, 20_001, { seq: base, ack: ISS + 1, data: 'abc' });
    d = drain(c);
    expect(d.data).toBe('abcdef');
    expect(d.events.filter((e) => e.kind !== 'data')).toEqual([{ kind: 'eof' }, { kind: 'state', state: TCP_STATE.CLOSE_WAIT }]);
    expect(d.segs.at(-1)!.ack).toBe(base + 7);
  });

  it('TIME-WAIT acknowledges a retransmitted FIN and restarts 2·MSL', () => {
    const c = established({ timeWaitUs: 1_000_000 });
    c.handle({ kind: 'close' }, 20_000);
    const fin = drain(c).segs[0]!;
    expect(fin.flags).toBe(TCP_FLAG_ACK | TCP_FLAG_FIN);
    peer(c, 30_000, { seq: PEER_ISS + 1, ack: ISS + 2, flags: TCP_FLAG_ACK | TCP_FLAG_FIN });
    drain(c);
    expect(c.state).toBe(TCP_STATE.TIME_WAIT);
    expect(c.nextDeadlineUs()).toBe(1_030_000);
    peer(c, 500_000, { seq: PEER_ISS + 1, ack: ISS + 2, flags: TCP_FLAG_ACK | TCP_FLAG_FIN });
    expect(drain(c).segs.map((s) => [s.flags, s.ack])).toEqual([[TCP_FLAG_ACK, PEER_ISS + 2]]);
    expect(c.nextDeadlineUs()).toBe(1_500_000);
    // RFC 1337: an RST does not cut TIME-WAIT short.
    peer(c, 600_000, { seq: PEER_ISS + 2, flags: TCP_FLAG_RST });
    expect(c.state).toBe(TCP_STATE.TIME_WAIT);
    c.handle({ kind: 'timer' }, 1_500_000);
    expect(drain(c).events).toEqual([{ kind: 'state', state: TCP_STATE.CLOSED }, { kind: 'closed', reason: 'normal' }]);
  });
});

describe('sending and retransmission', () => {
  it('RFC 6298: RTO from the RTT samples, doubled per timeout, go-back-N, give-up after retransmitsMax', () => {
    const c = established({ retransmitsMax: 3, rtoMinUs: 1_000 });
    // handshake sample R = 10 ms: SRTT 10 ms, RTTVAR 5 ms, RTO = 10 + 4·5 = 30 ms.
    expect(c.rtoUs).toBe(30_000);
    c.send(text(3000), 20_000);
    const first = drain(c).segs;
    expect(first.map((s) => [s.seq, s.payload.length])).toEqual([
      [ISS + 1, 1460],
      [ISS + 1461, 1460],
      [ISS + 2921, 80],
    ]);
    expect(first[2]!.flags).toBe(TCP_FLAG_ACK | TCP_FLAG_PSH);
    expect(c.nextDeadlineUs()).toBe(50_000);
    // An ACK after 20 ms for the first segment: R' = 20 ms → RTTVAR = 3/4·5 + 1/4·10 = 6.25, SRTT = 11.25 → RTO 36.25 ms.
    peer(c, 40_000, { seq: PEER_ISS + 1, ack: ISS + 1461 });
    expect(c.rtoUs).toBe(36_250);
    expect(c.nextDeadlineUs()).toBe(76_250); // §5.3: restarted
    drain(c);
    const deadlines: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t = c.nextDeadlineUs()!;
      deadlines.push(t);
      c.handle({ kind: 'timer' }, t);
      const d = drain(c);
      // Loss window of one segment, from SND.UNA (go-back-N).
      expect(d.segs.map((s) => [s.seq, s.payload.length])).toEqual([[ISS + 1461, 1460]]);
    }
    expect(deadlines).toEqual([76_250, 76_250 + 72_500, 76_250 + 72_500 + 145_000]);
    c.handle({ kind: 'timer' }, c.nextDeadlineUs()!);
    expect(drain(c).events.at(-1)).toEqual({ kind: 'closed', reason: 'timeout' });
    expect(c.stats.timeouts).toBe(4);
  });

  it('fast retransmit on the third duplicate ACK, NewReno partial ACK resends the next hole', () => {
    const c = established();
    c.send(text(1000 * 6), 20_000);
    const segs = drain(c).segs;
    expect(segs).toHaveLength(5);
    const ackOf = (i: number): number => segs[i]!.seq;
    // Segments 1 and 3 lost: segment 0 acknowledged, then three duplicate ACKs (for 2, 3 and 4).
    for (let i = 0; i < 4; i++) peer(c, 30_000 + i, { seq: PEER_ISS + 1, ack: ackOf(1) });
    let d = drain(c);
    expect(d.segs.map((s) => s.seq)).toEqual([ackOf(1)]);
    expect(c.stats.fastRetransmits).toBe(1);
    // Partial ACK up to segment 3: resend segment 3 at once.
    peer(c, 40_000, { seq: PEER_ISS + 1, ack: ackOf(3) });
    d = drain(c);
    expect(d.segs[0]!.seq).toBe(ackOf(3));
    expect(c.stats.fastRetransmits).toBe(2);
    expect(c.stats.timeouts).toBe(0);
  });

  it('the send buffer is bounded: send returns what it took, writable follows', () => {
    const c = established({ sndBufBytes: 4000 });
    expect(c.send(text(10_000), 20_000)).toEqual({ ok: true, value: 4000 });
    expect(c.send(text(1), 20_000)).toEqual({ ok: true, value: 0 });
    expect(c.sendSpaceBytes()).toBe(0);
    const segs = drain(c).segs;
    peer(c, 30_000, { seq: PEER_ISS + 1, ack: segs[1]!.seq }); // 1460 acked: not yet half free
    expect(drain(c).events).toEqual([]);
    peer(c, 30_001, { seq: PEER_ISS + 1, ack: segs[2]!.seq });
    expect(drain(c).events).toEqual([{ kind: 'writable' }]);
    expect(c.sendSpaceBytes()).toBe(2920);
  });

  it('send after close is refused as closing', () => {
    const c = established();
    c.handle({ kind: 'close' }, 20_000);
    expect(c.send(text(1), 20_000)).toEqual({ ok: false, error: 'closing' });
  });

  it('a zero window stops data; the persist timer sends a one-octet probe; an opened window resumes', () => {
    const c = established({}, 1460, 0);
    c.send(text(3000), 20_000);
    expect(drain(c).segs).toEqual([]);
    const t = c.nextDeadlineUs();
    expect(t).toBeDefined();
    c.handle({ kind: 'timer' }, t!);
    let d = drain(c);
    expect(d.segs.map((s) => [s.seq, s.payload.length])).toEqual([[ISS + 1, 1]]);
    // The peer still has no room: it answers the probe without taking it, and we keep probing.
    peer(c, t! + 1000, { seq: PEER_ISS + 1, ack: ISS + 1, window: 0 });
    expect(drain(c).segs).toEqual([]);
    c.handle({ kind: 'timer' }, c.nextDeadlineUs()!);
    expect(drain(c).segs.map((s) => s.payload.length)).toEqual([1]);
    // Now it opens.
    peer(c, c.nextDeadlineUs()! - 1, { seq: PEER_ISS + 1, ack: ISS + 2, window: 65535 });
    d = drain(c);
    expect(d.segs.map((s) => s.payload.length)).toEqual([1460, 1460, 79]);
    expect(c.state).toBe(TCP_STATE.ESTABLISHED);
  });

  it('the FIN rides on the last data segment', () => {
    const c = established();
    c.send(text(100), 20_000);
    c.handle({ kind: 'close' }, 20_000);
    const segs = drain(c).segs;
    expect(segs.map((s) => [s.flags, s.payload.length])).toEqual([[TCP_FLAG_ACK | TCP_FLAG_PSH | TCP_FLAG_FIN, 100]]);
    peer(c, 30_000, { seq: PEER_ISS + 1, ack: ISS + 102 });
    expect(c.state).toBe(TCP_STATE.FIN_WAIT_2);
  });

  it('segments that do not decode or are for another 4-tuple are discarded', () => {
    const c = established();
    c.handle({ kind: 'segment', bytes: new Uint8Array(5), src: B, dst: A }, 20_000);
    const other = encodeTcpSegment(
      { srcPort: 180, dstPort: 40000, seq: PEER_ISS + 1, ack: ISS + 1, flags: TCP_FLAG_RST, reserved: 0, window: 0, urgentPointer: 0, options: [], payload: new Uint8Array(0) },
      B,
      A,
    );
    c.handle({ kind: 'segment', bytes: other, src: B, dst: A }, 20_000);
    expect(c.stats.segmentsDiscarded).toBe(2);
    expect(c.state).toBe(TCP_STATE.ESTABLISHED);
  });

  it('asserts when time runs backwards (our bug, not the peer\'s)', () => {
    const c = established();
    expect(() => c.handle({ kind: 'timer' }, 5)).toThrow(AssertionError);
  });

  it('asserts on a bad configuration', () => {
    expect(() => TcpConnection.connect({ tuple: TUPLE, iss: ISS, config: { rcvWndBytes: 70_000 } }, 0)).toThrow(AssertionError);
    expect(() => TcpConnection.connect({ tuple: TUPLE, iss: 2 ** 32 }, 0)).toThrow(AssertionError);
    expect(TCP_DEFAULT_CONFIG.rtoMinUs).toBe(200_000);
  });
});

describe('TcpStack', () => {
  const seg = (s: Partial<TcpSegment>): TcpSegment => ({
    srcPort: 50000,
    dstPort: 179,
    seq: 100,
    ack: 0,
    flags: TCP_FLAG_ACK,
    reserved: 0,
    window: 65535,
    urgentPointer: 0,
    options: [],
    payload: new Uint8Array(0),
    ...s,
  });
  /** The stack lives on B; the remote is A. */
  const deliver = (st: TcpStack, s: TcpSegment, nowUs = 0): void => st.handle({ kind: 'segment', bytes: encodeTcpSegment(s, A, B), src: A, dst: B }, nowUs);
  const drainStack = (st: TcpStack): TcpStackOutput[] => {
    const out: TcpStackOutput[] = [];
    for (let o = st.poll(); o; o = st.poll()) out.push(o);
    return out;
  };
  const segsOf = (outs: TcpStackOutput[]): TcpSegment[] =>
    outs.flatMap((o) => {
      if (o.kind !== 'segment') return [];
      const r = decodeTcpSegment(o.bytes, o.src, o.dst);
      return r.ok ? [r.value] : [];
    });

  it('answers segments for no connection per RFC 9293 §3.10.7.1', () => {
    const st = new TcpStack({ rng: new Pcg32(1n) });
    deliver(st, seg({ flags: TCP_FLAG_ACK, seq: 100, ack: 777 }));
    deliver(st, seg({ flags: TCP_FLAG_SYN, seq: 100 }));
    deliver(st, seg({ flags: TCP_FLAG_ACK | TCP_FLAG_PSH, seq: 100, ack: 5, payload: new Uint8Array(10) }));
    deliver(st, seg({ flags: TCP_FLAG_RST, seq: 100 }));
    const out = drainStack(st);
    expect(out.every((o) => o.kind === 'segment' && o.src === B && o.dst === A)).toBe(true);
    expect(segsOf(out).map((s) => [s.flags, s.seq, s.ack, s.srcPort, s.dstPort])).toEqual([
      [TCP_FLAG_RST, 777, 0, 179, 50000],
      [TCP_FLAG_RST | TCP_FLAG_ACK, 0, 101, 179, 50000],
      [TCP_FLAG_RST, 5, 0, 179, 50000],
    ]);
    expect(st.stats.rstsSent).toBe(3);
    expect(st.stats.segmentsUnmatched).toBe(4);
  });

  it('a listener ignores RST, resets a stray ACK, accepts a SYN', () => {
    const st = new TcpStack({ rng: new Pcg32(2n) });
    st.handle({ kind: 'listen', port: 179 }, 0);
    deliver(st, seg({ flags: TCP_FLAG_RST }));
    deliver(st, seg({ flags: TCP_FLAG_ACK, ack: 42 }));
    deliver(st, seg({ flags: TCP_FLAG_SYN, seq: 900 }));
    const out = drainStack(st);
    const segs = segsOf(out);
    expect(segs.map((s) => s.flags)).toEqual([TCP_FLAG_RST, TCP_FLAG_SYN | TCP_FLAG_ACK]);
    expect(segs[1]!.ack).toBe(901);
    const id = tcpConnId({ localAddr: B, localPort: 179, remoteAddr: A, remotePort: 50000 });
    expect(out).toContainEqual({ kind: 'state', conn: id, state: TCP_STATE.SYN_RECEIVED });
    expect(st.connection(id)?.state).toBe(TCP_STATE.SYN_RECEIVED);
    expect(id).toBe('10.0.0.2:179>10.0.0.1:50000');
  });

  it('limits half-open connections per listener and connections overall', () => {
    const st = new TcpStack({ rng: new Pcg32(3n), config: { listenBacklog: 2, connectionsMax: 3 } });
    st.listen(179);
    for (let p = 1; p <= 4; p++) deliver(st, seg({ flags: TCP_FLAG_SYN, srcPort: p }));
    expect(st.connectionIds()).toHaveLength(2);
    expect(st.stats.synsDropped).toBe(2);
    expect(st.connect({ localAddr: B, remoteAddr: A, remotePort: 9 }, 0).ok).toBe(true);
    expect(st.connect({ localAddr: B, remoteAddr: A, remotePort: 10 }, 0)).toEqual({ ok: false, error: 'connections-max' });
  });

  it('drops malformed segments and counts them', () => {
    const st = new TcpStack({ rng: new Pcg32(4n) });
    const bytes = encodeTcpSegment(seg({}), A, B);
    bytes[19]! ^= 1;
    st.handle({ kind: 'segment', bytes, src: A, dst: B }, 0);
    st.handle({ kind: 'segment', bytes: new Uint8Array(3), src: A, dst: B }, 0);
    expect(drainStack(st)).toEqual([]);
    expect(st.stats.segmentsMalformed).toBe(2);
  });

  it('draws ephemeral ports and ISNs from its Rng: the same seed gives the same choices', () => {
    const pick = (seed: bigint): [string, number] => {
      const st = new TcpStack({ rng: new Pcg32(seed) });
      const r = st.connect({ localAddr: B, remoteAddr: A, remotePort: 179 }, 0);
      if (!r.ok) throw new Error(r.error);
      const syn = segsOf(drainStack(st))[0]!;
      return [r.value, syn.seq];
    };
    expect(pick(7n)).toEqual(pick(7n));
    expect(pick(7n)).not.toEqual(pick(8n));
    const port = Number(pick(9n)[0].split(':')[1]!.split('>')[0]);
    expect(port).toBeGreaterThanOrEqual(TCP_EPHEMERAL_PORT_MIN);
    expect(port).toBeLessThanOrEqual(TCP_EPHEMERAL_PORT_MAX);
  });

  it('refuses a 4-tuple already in use (as a result, or as an output for the connect input)', () => {
    const st = new TcpStack({ rng: new Pcg32(5n) });
    const req = { localAddr: B, localPort: 1234, remoteAddr: A, remotePort: 179 };
    expect(st.connect(req, 0).ok).toBe(true);
    expect(st.connect(req, 0)).toEqual({ ok: false, error: 'tuple-in-use' });
    drainStack(st);
    st.handle({ kind: 'connect', ...req }, 1);
    expect(drainStack(st)).toEqual([{ kind: 'connect-failed', error: 'tuple-in-use', remoteAddr: A, remotePort: 179 }]);
  });

  it('wakes only the connections whose deadline passed', () => {
    const st = new TcpStack({ rng: new Pcg32(6n) });
    for (let i = 0; i < 50; i++) st.connect({ localAddr: B, localPort: 1000 + i, remoteAddr: A, remotePort: 179 }, i * 1000);
    expect(segsOf(drainStack(st))).toHaveLength(50);
    expect(st.nextDeadlineUs()).toBe(1_000_000);
    st.handle({ kind: 'timer' }, 1_010_500);
    expect(segsOf(drainStack(st)).map((s) => s.srcPort)).toEqual(Array.from({ length: 11 }, (_, i) => 1000 + i));
    expect(st.nextDeadlineUs()).toBe(1_011_000);
  });
});
