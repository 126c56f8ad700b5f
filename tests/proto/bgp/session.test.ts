// Two BgpSessions back to back over an in-memory byte pipe with virtual time that jumps to the next
// deadline (quinn-proto's test pair): establishment, keepalives, hold timer, collision, stop, retries.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Pcg32 } from '../../../src/lib/rng.ts';
import type { Rng } from '../../../src/lib/rng.ts';
import { parseIpv4 } from '../../../src/lib/addr.ts';
import {
  AS4_CONTEXT,
  CEASE,
  ERROR_CODE,
  OPEN_MESSAGE_ERROR,
  attribute,
  decodeMessage,
  isKnownError,
  type BgpMessage,
  type UpdateMessage,
} from '../../../src/proto/bgp/index.ts';
import { BgpSession, type BgpSessionConfig, type BgpSessionInput, type BgpSessionOutput } from '../../../src/proto/bgp/session.ts';
import { FSM_TABLE, OTHERWISE, BGP_STATES, PEER_ACTIONS, isBaseState, transition, type BgpState } from '../../../src/proto/bgp/fsm.ts';

const S = 1_000_000;
const ip = (s: string): number => parseIpv4(s)!;

// --- The pipe. ---

type Side = 'a' | 'b';
const other = (s: Side): Side => (s === 'a' ? 'b' : 'a');

interface End {
  side: Side;
  connId: string;
  open: boolean;
  connected: boolean;
}
interface Link {
  ends: [End, End];
  /** Which side opened it (the TCP client). */
  initiator: Side;
}

interface Recorded {
  atUs: number;
  o: BgpSessionOutput;
}

/** Two sessions, a latency, and a scheduler over (time, sequence); time jumps to the next event or deadline. */
class Pair {
  nowUs = 0;
  readonly s: Record<Side, BgpSession>;
  readonly out: Record<Side, Recorded[]> = { a: [], b: [] };
  /** Whether a side's TCP accepts connections (false: the SYN gets a RST). */
  readonly listening: Record<Side, boolean> = { a: true, b: true };
  /** Whether a side's SYNs get no answer at all (a black hole). */
  readonly blackhole: Record<Side, boolean> = { a: false, b: false };
  /** Bytes sent by a muted side are lost (a silent peer). */
  readonly muted: Record<Side, boolean> = { a: false, b: false };
  readonly links: Link[] = [];
  private readonly ends = new Map<string, { link: Link; end: End }>();
  private queue: { atUs: number; seq: number; run: () => void }[] = [];
  private seq = 0;
  private inbound = 0;

  constructor(
    a: BgpSessionConfig,
    b: BgpSessionConfig,
    readonly latencyUs = 1_000,
    /** Splits every chunk at random points when given. */
    private readonly splitRng?: Rng,
  ) {
    this.s = { a: new BgpSession({ name: 'a', ...a }), b: new BgpSession({ name: 'b', ...b }) };
  }

  at(delayUs: number, run: () => void): void {
    const e = { atUs: this.nowUs + delayUs, seq: this.seq++, run };
    let i = this.queue.length;
    while (i > 0 && (this.queue[i - 1]!.atUs > e.atUs || (this.queue[i - 1]!.atUs === e.atUs && this.queue[i - 1]!.seq > e.seq))) i--;
    this.queue.splice(i, 0, e);
  }

  input(side: Side, input: BgpSessionInput): void {
    this.s[side].handle(input, this.nowUs);
    this.drain(side);
  }

  private drain(side: Side): void {
    for (let o = this.s[side].poll(); o; o = this.s[side].poll()) {
      this.out[side].push({ atUs: this.nowUs, o });
      this.wire(side, o);
    }
  }

  private key(side: Side, connId: string): string {
    return `${side}|${connId}`;
  }

  private wire(side: Side, o: BgpSessionOutput): void {
    const lat = this.latencyUs;
    switch (o.kind) {
      case 'connect': {
        const peer = other(side);
        const link: Link = {
          initiator: side,
          ends: [
            { side, connId: o.connId, open: true, connected: false },
            { side: peer, connId: `${peer}<${o.connId}#${++this.inbound}`, open: true, connected: false },
          ],
        };
        const [mine, theirs] = link.ends;
        this.links.push(link);
        this.ends.set(this.key(side, mine.connId), { link, end: mine });
        this.ends.set(this.key(peer, theirs.connId), { link, end: theirs });
        if (this.blackhole[peer]) return;
        this.at(2 * lat, () => {
          if (!mine.open) return;
          if (!this.listening[peer]) {
            mine.open = theirs.open = false;
            this.input(side, { kind: 'transport-failed', connId: mine.connId });
            return;
          }
          mine.connected = true;
          this.input(side, { kind: 'transport-connected', connId: mine.connId });
        });
        this.at(3 * lat, () => {
          if (!mine.open || !theirs.open) return;
          theirs.connected = true;
          this.input(peer, { kind: 'transport-connected', connId: theirs.connId });
        });
        return;
      }
      case 'send': {
        const found = this.ends.get(this.key(side, o.connId));
        expect(found, `send on unknown ${o.connId}`).toBeDefined();
        const { link, end } = found!;
        expect(end.open && end.connected, `send on ${o.connId} that is not open`).toBe(true);
        if (this.muted[side]) return;
        const far = link.ends[0] === end ? link.ends[1] : link.ends[0];
        for (const chunk of this.split(o.bytes)) {
          this.at(lat, () => {
            if (far.open && far.connected) this.input(far.side, { kind: 'bytes', connId: far.connId, bytes: chunk });
          });
        }
        return;
      }
      case 'close': {
        const found = this.ends.get(this.key(side, o.connId));
        if (!found || !found.end.open) return;
        const { link, end } = found;
        end.open = false;
        const far = link.ends[0] === end ? link.ends[1] : link.ends[0];
        this.at(lat, () => {
          if (!far.open) return;
          far.open = false;
          if (far.connected) this.input(far.side, { kind: 'transport-closed', connId: far.connId });
        });
        return;
      }
      default:
        return;
    }
  }

  private split(bytes: Uint8Array): Uint8Array[] {
    const rng = this.splitRng;
    if (!rng) return [bytes.slice()];
    const parts: Uint8Array[] = [];
    let i = 0;
    while (i < bytes.length) {
      const n = 1 + rng.nextInt(Math.min(40, bytes.length - i));
      parts.push(bytes.slice(i, i + n));
      i += n;
    }
    return parts;
  }

  /** Runs until `untilUs`, jumping from event to deadline; a bound on steps catches livelock. */
  run(untilUs: number, maxSteps = 200_000): void {
    for (let step = 0; step < maxSteps; step++) {
      const ev = this.queue[0]?.atUs;
      const da = this.s.a.nextDeadlineUs();
      const db = this.s.b.nextDeadlineUs();
      const t = Math.min(ev ?? Infinity, da ?? Infinity, db ?? Infinity);
      if (t === Infinity || t > untilUs) {
        this.nowUs = Math.max(this.nowUs, untilUs);
        return;
      }
      this.nowUs = Math.max(this.nowUs, t);
      if (ev !== undefined && ev <= t) this.queue.shift()!.run();
      else if (da !== undefined && da <= t) this.input('a', { kind: 'timer' });
      else this.input('b', { kind: 'timer' });
    }
    throw new Error(`livelock: ${maxSteps} steps before ${untilUs} µs`);
  }

  kinds<K extends BgpSessionOutput['kind']>(side: Side, kind: K): (Recorded & { o: Extract<BgpSessionOutput, { kind: K }> })[] {
    return this.out[side].filter((r) => r.o.kind === kind) as (Recorded & { o: Extract<BgpSessionOutput, { kind: K }> })[];
  }

  /** Every message a side sent, decoded, with its time. */
  sent(side: Side): { atUs: number; connId: string; m: BgpMessage }[] {
    return this.kinds(side, 'send').map((r) => {
      const d = decodeMessage(r.o.bytes, AS4_CONTEXT);
      if (!d.ok) throw new Error(`${side} sent undecodable bytes: ${d.error}`);
      return { atUs: r.atUs, connId: r.o.connId, m: d.value.message };
    });
  }

  notificationsSent(side: Side): { atUs: number; connId: string; errorCode: number; errorSubcode: number; data: Uint8Array }[] {
    return this.sent(side).flatMap((x) => (x.m.type === 'NOTIFICATION' ? [{ atUs: x.atUs, connId: x.connId, errorCode: x.m.errorCode, errorSubcode: x.m.errorSubcode, data: x.m.data }] : []));
  }

  states(side: Side): BgpState[] {
    return [this.kinds(side, 'state')[0]?.o.from ?? 'Idle', ...this.kinds(side, 'state').map((r) => r.o.to)];
  }

  /** Links whose both ends are still open. */
  openLinks(): Link[] {
    return this.links.filter((l) => l.ends[0].open && l.ends[1].open && l.ends[0].connected && l.ends[1].connected);
  }
}

const A: BgpSessionConfig = { localAs: 65001, bgpIdentifier: ip('10.0.0.1'), peerAs: 65002 };
const B: BgpSessionConfig = { localAs: 65002, bgpIdentifier: ip('10.0.0.2'), peerAs: 65001 };

function established(p: Pair): void {
  expect(p.s.a.state, 'a').toBe('Established');
  expect(p.s.b.state, 'b').toBe('Established');
}

const sampleUpdate: UpdateMessage = {
  type: 'UPDATE',
  withdrawnRoutes: [],
  pathAttributes: [attribute('ORIGIN', 0), attribute('AS_PATH', [{ type: 2, asNumbers: [65001, 4200000000] }]), attribute('NEXT_HOP', ip('10.0.0.1'))],
  nlri: [{ family: 4, addr: ip('192.0.2.0'), len: 24 }],
};

describe('BgpSession pair: establishment (RFC 4271 §8.2.2, §4.2)', () => {
  it('active meets passive: Established with the smaller hold time and the intersected capabilities', () => {
    const p = new Pair(
      { ...A, holdTimeS: 90, families: ['ipv4-unicast', 'vpn-ipv4', 'rt-membership'] },
      { ...B, holdTimeS: 30, passive: true, families: ['vpn-ipv4', 'ipv4-unicast'], routeRefresh: true },
    );
    p.input('a', { kind: 'start' });
    p.input('b', { kind: 'start' });
    p.run(1 * S);
    established(p);
    expect(p.states('a')).toEqual(['Idle', 'Connect', 'OpenSent', 'OpenConfirm', 'Established']);
    expect(p.states('b')).toEqual(['Idle', 'Active', 'OpenSent', 'OpenConfirm', 'Established']);
    const ea = p.kinds('a', 'established');
    const eb = p.kinds('b', 'established');
    expect(ea).toHaveLength(1);
    expect(eb).toHaveLength(1);
    const pa = ea[0]!.o.peer;
    expect(pa).toMatchObject({ asNumber: 65002, bgpIdentifier: ip('10.0.0.2'), holdTimeS: 30, keepaliveTimeS: 10, peerHoldTimeS: 30, as4: true, routeRefresh: true, internal: false });
    expect(pa.families).toEqual(['ipv4-unicast', 'vpn-ipv4']);
    expect(eb[0]!.o.peer).toMatchObject({ asNumber: 65001, holdTimeS: 30, keepaliveTimeS: 10, peerHoldTimeS: 90 });
    expect(eb[0]!.o.peer.families).toEqual(['vpn-ipv4', 'ipv4-unicast']);
    // The OPEN a sent, as the codec reads it back.
    const open = p.sent('a')[0]!.m;
    expect(open).toMatchObject({ type: 'OPEN', myAutonomousSystem: 65001, holdTimeS: 90, bgpIdentifier: ip('10.0.0.1') });
    expect(open.type === 'OPEN' && open.optionalParameters[0]!.capabilities).toEqual([
      { type: 'MULTIPROTOCOL', afi: 1, safi: 1 },
      { type: 'MULTIPROTOCOL', afi: 1, safi: 128 },
      { type: 'MULTIPROTOCOL', afi: 1, safi: 132 },
      { type: 'ROUTE_REFRESH' },
      { type: 'FOUR_OCTET_AS', asNumber: 65001 },
    ]);
    expect(p.openLinks()).toHaveLength(1);
    expect(p.kinds('a', 'down')).toHaveLength(0);
  });

  it('a 4-octet local AS goes out as AS_TRANS with the capability; a peer without Multiprotocol means IPv4 unicast', () => {
    const p = new Pair({ ...A, localAs: 4200000001, families: ['ipv4-unicast', 'vpn-ipv4'] }, { ...B, peerAs: 4200000001, passive: true, routeRefresh: false, families: ['ipv4-unicast'] });
    p.input('b', { kind: 'start' });
    p.input('a', { kind: 'start' });
    p.run(1 * S);
    established(p);
    const open = p.sent('a')[0]!.m;
    expect(open.type === 'OPEN' && open.myAutonomousSystem).toBe(23456);
    expect(p.s.b.peer).toMatchObject({ asNumber: 4200000001, as4: true, routeRefresh: false });
    expect(p.s.a.peer?.families).toEqual(['ipv4-unicast']);
  });

  it('hold time 0 on one side: no KEEPALIVEs and no Hold Timer, up for a day of silence (RFC 4271 §4.4)', () => {
    const p = new Pair({ ...A, holdTimeS: 0 }, { ...B, passive: true });
    p.input('b', { kind: 'start' });
    p.input('a', { kind: 'start' });
    p.run(1 * S);
    established(p);
    expect(p.s.a.nextDeadlineUs()).toBeUndefined();
    const before = p.sent('a').length + p.sent('b').length;
    p.run(24 * 3600 * S);
    established(p);
    expect(p.sent('a').length + p.sent('b').length).toBe(before);
  });

  it('UPDATEs cross in both directions and arrive identical whatever the chunking (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 }), (seed) => {
        const p = new Pair(A, { ...B, passive: true }, 700, new Pcg32(seed, 7));
        p.input('b', { kind: 'start' });
        p.input('a', { kind: 'start' });
        p.run(2 * S);
        established(p);
        p.input('a', { kind: 'send-update', message: sampleUpdate });
        p.input('b', { kind: 'send-update', message: { ...sampleUpdate, nlri: [{ family: 4, addr: ip('198.51.100.0'), len: 25 }] } });
        p.run(3 * S);
        const atB = p.kinds('b', 'update');
        const atA = p.kinds('a', 'update');
        expect(atB).toHaveLength(1);
        expect(atA).toHaveLength(1);
        expect(atB[0]!.o.message).toMatchObject(sampleUpdate);
        expect(atB[0]!.o.treatAsWithdraw).toBe(false);
        expect(atA[0]!.o.message.nlri).toEqual([{ family: 4, addr: ip('198.51.100.0'), len: 25 }]);
      }),
      { numRuns: 40 },
    );
  });
});

describe('BgpSession pair: timers (RFC 4271 §10, §6.5)', () => {
  it('keepalives keep the session up for three hours of virtual time', () => {
    const p = new Pair(A, { ...B, passive: true });
    p.input('b', { kind: 'start' });
    p.input('a', { kind: 'start' });
    p.run(3 * 3600 * S);
    established(p);
    expect(p.kinds('a', 'down')).toHaveLength(0);
    expect(p.kinds('b', 'down')).toHaveLength(0);
    const ka = p.sent('a').filter((x) => x.m.type === 'KEEPALIVE');
    // One on OPEN (OpenConfirm), then every 30 s.
    expect(ka.length).toBeGreaterThanOrEqual(360);
    expect(ka.length).toBeLessThanOrEqual(362);
    const gaps = ka.slice(2).map((x, i) => x.atUs - ka[i + 1]!.atUs);
    expect(new Set(gaps)).toEqual(new Set([30 * S]));
  });

  it('with an Rng the keepalive interval is jittered within 0.75..1 of hold/3 (RFC 4271 §10)', () => {
    const p = new Pair({ ...A, rng: new Pcg32(42, 1) }, { ...B, passive: true, rng: new Pcg32(42, 2) });
    p.input('b', { kind: 'start' });
    p.input('a', { kind: 'start' });
    p.run(3600 * S);
    established(p);
    const ka = p.sent('a').filter((x) => x.m.type === 'KEEPALIVE');
    const gaps = ka.slice(1).map((x, i) => x.atUs - ka[i]!.atUs);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(22.5 * S);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(30 * S);
    expect(new Set(gaps).size).toBeGreaterThan(10);
  });

  it('a silent peer: Hold Timer Expired NOTIFICATION (code 4) exactly a hold time after its last message', () => {
    const p = new Pair({ ...A, holdTimeS: 9 }, { ...B, passive: true, automaticRestart: false });
    p.input('b', { kind: 'start' });
    p.input('a', { kind: 'start' });
    p.run(100 * S);
    established(p);
    p.muted.b = true;
    const mutedAt = p.nowUs;
    p.run(mutedAt + 20 * S);
    const lastFromB = Math.max(...p.out.b.filter((r) => r.o.kind === 'send' && r.atUs <= mutedAt).map((r) => r.atUs)) + p.latencyUs;
    const n = p.notificationsSent('a');
    expect(n).toHaveLength(1);
    expect(n[0]).toMatchObject({ errorCode: ERROR_CODE.HOLD_TIMER_EXPIRED, errorSubcode: 0 });
    expect(n[0]!.atUs).toBe(lastFromB + 9 * S);
    // (a then restarts by itself and b, stopped for good, refuses it: later downs are from OpenSent.)
    const downA = p.kinds('a', 'down');
    expect(downA.filter((d) => d.o.wasEstablished)).toHaveLength(1);
    expect(downA[0]!.o).toMatchObject({ reason: 'hold-timer-expired', fault: 'remote', wasEstablished: true, notification: { direction: 'sent', errorCode: 4, errorSubcode: 0 } });
    expect(downA[0]!.atUs).toBe(n[0]!.atUs);
    // b hears it: the peer's hold timer expired on our KEEPALIVEs, our side's fault.
    const downB = p.kinds('b', 'down');
    expect(downB[0]!.o).toMatchObject({ reason: 'notification-received', fault: 'local', notification: { direction: 'received', errorCode: 4 } });
    expect(p.s.b.state).toBe('Idle');
  });

  it('after a hold timer reset the session comes back by itself (IdleHoldTimer, AutomaticStart)', () => {
    const p = new Pair({ ...A, holdTimeS: 9, connectRetryTimeS: 3 }, { ...B, passive: true, holdTimeS: 9 });
    p.input('b', { kind: 'start' });
    p.input('a', { kind: 'start' });
    p.run(10 * S);
    established(p);
    p.muted.b = true;
    p.run(30 * S);
    expect(p.kinds('a', 'down')).toHaveLength(1);
    p.muted.b = false;
    p.run(120 * S);
    established(p);
    expect(p.kinds('a', 'established')).toHaveLength(2);
    expect(p.openLinks()).toHaveLength(1);
  });
});

describe('BgpSession pair: OPEN errors (RFC 4271 §6.2)', () => {
  it('bad peer AS: OPEN Message Error / Bad Peer AS with the announced AS as data, both sides down', () => {
    const p = new Pair({ ...A, peerAs: 65099, automaticRestart: false }, { ...B, passive: true, automaticRestart: false });
    p.input('b', { kind: 'start' });
    p.input('a', { kind: 'start' });
    p.run(10 * S);
    const n = p.notificationsSent('a');
    expect(n).toHaveLength(1);
    expect(n[0]).toMatchObject({ errorCode: ERROR_CODE.OPEN_MESSAGE_ERROR, errorSubcode: OPEN_MESSAGE_ERROR.BAD_PEER_AS });
    // 4-octet AS capability present: the data is the 4-octet AS 65002.
    expect(Array.from(n[0]!.data)).toEqual([0, 0, 0xfd, 0xea]);
    expect(p.s.a.state).toBe('Idle');
    expect(p.s.b.state).toBe('Idle');
    expect(p.kinds('a', 'down')[0]!.o).toMatchObject({ reason: 'message-error', fault: 'remote', wasEstablished: false });
    expect(p.kinds('b', 'down')[0]!.o).toMatchObject({ reason: 'notification-received', fault: 'local', notification: { errorCode: 2, errorSubcode: 2 } });
    expect(p.kinds('a', 'established')).toHaveLength(0);
  });

  it('hold time below our minimum: Unacceptable Hold Time (subcode 6)', () => {
    const p = new Pair({ ...A, minHoldTimeS: 10, automaticRestart: false }, { ...B, holdTimeS: 5, passive: true, automaticRestart: false });
    p.input('b', { kind: 'start' });
    p.input('a', { kind: 'start' });
    p.run(10 * S);
    expect(p.notificationsSent('a').map((x) => [x.errorCode, x.errorSubcode])).toEqual([[2, 6]]);
    expect(p.s.a.state).toBe('Idle');
  });
});

describe('BgpSession pair: collision detection (RFC 4271 §6.8)', () => {
  for (const [name, idA, idB] of [
    ['a has the higher identifier', '10.0.0.9', '10.0.0.2'],
    ['b has the higher identifier', '10.0.0.1', '10.0.0.2'],
    ['identifiers compare unsigned', '200.0.0.1', '10.0.0.2'],
  ] as const) {
    it(`both connect at once, ${name}: one connection survives, the one the higher identifier initiated`, () => {
      const p = new Pair({ ...A, bgpIdentifier: ip(idA) }, { ...B, bgpIdentifier: ip(idB) });
      p.input('a', { kind: 'start' });
      p.input('b', { kind: 'start' });
      p.run(60 * S);
      established(p);
      expect(p.links).toHaveLength(2);
      const alive = p.openLinks();
      expect(alive).toHaveLength(1);
      const higher: Side = ip(idA) >>> 0 > ip(idB) >>> 0 ? 'a' : 'b';
      expect(alive[0]!.initiator).toBe(higher);
      // The loser was closed with Cease / Connection Collision Resolution, by one side or both.
      const ceases = [...p.notificationsSent('a'), ...p.notificationsSent('b')];
      expect(ceases.length).toBeGreaterThanOrEqual(1);
      for (const c of ceases) expect([c.errorCode, c.errorSubcode]).toEqual([ERROR_CODE.CEASE, CEASE.CONNECTION_COLLISION_RESOLUTION]);
      const losing = p.links.find((l) => l !== alive[0])!;
      for (const c of ceases) expect(losing.ends.map((e) => e.connId)).toContain(c.connId);
      // Each side went Established once and never down.
      expect(p.kinds('a', 'established')).toHaveLength(1);
      expect(p.kinds('b', 'established')).toHaveLength(1);
      expect(p.kinds('a', 'down')).toHaveLength(0);
      expect(p.kinds('b', 'down')).toHaveLength(0);
      // Established on the surviving link's ends.
      expect(alive[0]!.ends.map((e) => e.connId)).toContain(p.kinds('a', 'established')[0]!.o.connId);
      expect(p.s.a.snapshot().connections).toHaveLength(1);
      expect(p.s.b.snapshot().connections).toHaveLength(1);
      p.run(3 * 3600 * S);
      established(p);
    });
  }

  it('equal identifiers between external peers: the larger AS keeps its connection (RFC 6286 §2.3)', () => {
    const p = new Pair({ ...A, bgpIdentifier: ip('10.0.0.7') }, { ...B, bgpIdentifier: ip('10.0.0.7') });
    p.input('a', { kind: 'start' });
    p.input('b', { kind: 'start' });
    p.run(60 * S);
    established(p);
    const alive = p.openLinks();
    expect(alive).toHaveLength(1);
    expect(alive[0]!.initiator).toBe('b'); // AS 65002 > 65001
  });

  it('collisions with random latencies and start offsets always end with exactly one connection (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 50_000 }), fc.integer({ min: 0, max: 20_000 }), fc.boolean(), (latencyUs, offsetUs, higherA) => {
        const p = new Pair({ ...A, bgpIdentifier: ip(higherA ? '10.0.0.3' : '10.0.0.1') }, { ...B, bgpIdentifier: ip('10.0.0.2') }, latencyUs);
        p.input('a', { kind: 'start' });
        p.run(offsetUs);
        p.input('b', { kind: 'start' });
        p.run(600 * S);
        established(p);
        expect(p.openLinks()).toHaveLength(1);
        expect(p.s.a.snapshot().connections).toHaveLength(1);
        for (const side of ['a', 'b'] as const) for (const n of p.notificationsSent(side)) expect(isKnownError(n.errorCode, n.errorSubcode)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('Established refuses a new connection from the peer (RFC 4271 §6.8)', () => {
    const p = new Pair(A, { ...B, passive: true });
    p.input('b', { kind: 'start' });
    p.input('a', { kind: 'start' });
    p.run(1 * S);
    established(p);
    p.input('b', { kind: 'transport-connected', connId: 'stray' });
    const closes = p.kinds('b', 'close');
    expect(closes.at(-1)!.o.connId).toBe('stray');
    established(p);
  });
});

describe('BgpSession pair: ManualStop and ConnectRetry', () => {
  it('ManualStop sends Cease / Administrative Shutdown with the RFC 9003 communication and stays Idle', () => {
    const p = new Pair(A, { ...B, passive: true });
    p.input('b', { kind: 'start' });
    p.input('a', { kind: 'start' });
    p.run(1 * S);
    established(p);
    p.input('a', { kind: 'stop', communication: 'maintenance window ☕' });
    p.run(600 * S);
    const n = p.notificationsSent('a');
    expect(n).toHaveLength(1);
    expect([n[0]!.errorCode, n[0]!.errorSubcode]).toEqual([ERROR_CODE.CEASE, CEASE.ADMINISTRATIVE_SHUTDOWN]);
    const text = new TextEncoder().encode('maintenance window ☕');
    expect(Array.from(n[0]!.data)).toEqual([text.length, ...text]);
    expect(p.kinds('a', 'down')[0]!.o).toMatchObject({ reason: 'manual-stop', fault: 'local', wasEstablished: true });
    expect(p.kinds('b', 'down')[0]!.o).toMatchObject({ reason: 'notification-received', fault: 'remote', wasEstablished: true });
    expect(p.out.b.some((r) => r.o.kind === 'log' && r.o.text.includes('"maintenance window ☕"'))).toBe(true);
    // a stays stopped; b (passive) restarts and waits in Active.
    expect(p.s.a.state).toBe('Idle');
    expect(p.kinds('a', 'connect')).toHaveLength(1);
    expect(p.s.b.state).toBe('Active');
    // ManualStart brings it back.
    p.input('a', { kind: 'start' });
    p.run(601 * S);
    established(p);
  });

  it('ConnectRetry: after a refused connection, retry every ConnectRetryTime until the peer listens', () => {
    const p = new Pair({ ...A, connectRetryTimeS: 5 }, { ...B, passive: true });
    p.listening.b = false;
    p.input('a', { kind: 'start' });
    p.run(12 * S);
    const connects = p.kinds('a', 'connect').map((r) => r.atUs);
    // Refused at 2 ms (SYN, RST); ConnectRetryTimer restarted there (RFC 4271 §8.2.2 Connect, Event 18 → Active).
    expect(connects).toEqual([0, 2_000 + 5 * S, 2 * (2_000 + 5 * S)]);
    expect(p.states('a').slice(0, 5)).toEqual(['Idle', 'Connect', 'Active', 'Connect', 'Active']);
    expect(p.s.a.state).toBe('Active');
    p.listening.b = true;
    p.input('b', { kind: 'start' });
    p.run(20 * S);
    established(p);
    expect(p.kinds('a', 'connect')).toHaveLength(4);
    expect(p.kinds('a', 'down')).toHaveLength(0);
  });

  it('ConnectRetry in Connect: an unanswered attempt is abandoned and a new one made (RFC 4271 §8.2.2 Connect, Event 9)', () => {
    const p = new Pair({ ...A, connectRetryTimeS: 4 }, { ...B, passive: true });
    p.blackhole.b = true;
    p.input('b', { kind: 'start' });
    p.input('a', { kind: 'start' });
    p.run(9 * S);
    const connects = p.kinds('a', 'connect');
    expect(connects.map((r) => r.atUs)).toEqual([0, 4 * S, 8 * S]);
    const closes = p.kinds('a', 'close');
    expect(closes.map((r) => r.o.connId)).toEqual([connects[0]!.o.connId, connects[1]!.o.connId]);
    expect(p.s.a.state).toBe('Connect');
    p.blackhole.b = false;
    p.run(20 * S);
    established(p);
  });
});

describe('the FSM table (fsm.ts)', () => {
  it('every row that leaves a connection state for a base state drops the connection', () => {
    for (const state of ['OpenSent', 'OpenConfirm', 'Established'] as const) {
      const rows = [...Object.entries(FSM_TABLE[state]), ['otherwise', OTHERWISE[state]] as const];
      for (const [event, tr] of rows) {
        if (tr === undefined || tr.next === 'same' || !isBaseState(tr.next)) continue;
        expect(tr.actions, `${state} ${event}`).toContain('dropConnection');
      }
    }
  });

  it('base states act on a connection only after accepting one, and every row cites its RFC', () => {
    for (const state of BGP_STATES) {
      for (const [event, tr] of [...Object.entries(FSM_TABLE[state]), ['otherwise', OTHERWISE[state]] as const]) {
        if (!tr) continue;
        expect(tr.rfc, `${state} ${event}`).toMatch(/RFC \d+/);
        if (!isBaseState(state)) continue;
        let accepted = false;
        for (const a of tr.actions) {
          if (a === 'acceptConnection') accepted = true;
          else if (!PEER_ACTIONS.has(a) && a !== 'refuseConnection') expect(accepted, `${state} ${event} ${a}`).toBe(true);
        }
      }
    }
    expect(PEER_ACTIONS.has('dropConnection')).toBe(false);
  });

  it('unexpected messages in OpenSent, OpenConfirm, Established are FSM errors; Idle ignores them', () => {
    expect(transition('OpenSent', 'UpdateMsg').actions).toContain('sendFsmError');
    expect(transition('OpenConfirm', 'UpdateMsg').actions).toContain('sendFsmError');
    expect(transition('Established', 'BGPOpen').actions).toContain('sendFsmError');
    expect(transition('Idle', 'UpdateMsg')).toMatchObject({ next: 'same', actions: [] });
    expect(transition('OpenConfirm', 'KeepAliveMsg').next).toBe('Established');
  });
});
