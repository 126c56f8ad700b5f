// Scenarios over the test pair: two TcpStacks, in-memory links, virtual time (tcp-harness.ts).
// Every scenario names its seed; fast-check prints the seed and path of a failing property run.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { equalBytes } from '../../../src/lib/bytes.ts';
import { TCP_DEFAULT_CONFIG, TCP_STATE } from '../../../src/proto/ip/tcp.ts';
import { ADDR_A, ADDR_B, CLEAN, TcpPair, pattern, receivedBytes, streamApp, type LinkFaults } from './tcp-harness.ts';

const MB = 1 << 20;

/** Both apps got every byte the other sent, in order, and both connections closed normally. */
function expectCleanFinish(p: TcpPair, aBytes: Uint8Array, bBytes: Uint8Array): void {
  const ctx = `seed ${p.seed}, t=${p.nowUs}us`;
  const a = p.apps.a!;
  const b = p.apps.b!;
  expect(b.receivedBytes, `B received (${ctx})`).toBe(aBytes.length);
  expect(a.receivedBytes, `A received (${ctx})`).toBe(bBytes.length);
  expect(equalBytes(receivedBytes(b), aBytes), `A→B bytes (${ctx})`).toBe(true);
  expect(equalBytes(receivedBytes(a), bBytes), `B→A bytes (${ctx})`).toBe(true);
  expect(p.closedReasons(), ctx).toEqual({ a: 'normal', b: 'normal' });
  expect(p.a.connectionIds(), ctx).toEqual([]);
  expect(p.b.connectionIds(), ctx).toEqual([]);
  expect(p.a.nextDeadlineUs(), ctx).toBeUndefined();
  expect(p.b.nextDeadlineUs(), ctx).toBeUndefined();
}

function transfer(seed: number, aBytes: Uint8Array, bBytes: Uint8Array, faults?: { ab: LinkFaults; ba: LinkFaults }): TcpPair {
  const p = new TcpPair(seed, faults);
  p.apps.a = streamApp(aBytes, { closeAfterSend: true, closeOnEof: true });
  p.apps.b = streamApp(bBytes, { closeAfterSend: true, closeOnEof: true });
  p.open();
  p.run();
  return p;
}

describe('tcp pair: handshake', () => {
  it('completes the three-way handshake with MSS negotiated', () => {
    const p = new TcpPair(1);
    p.apps.a = streamApp(new Uint8Array(0));
    p.apps.b = streamApp(new Uint8Array(0));
    const id = p.open();
    p.run({ done: () => !!p.apps.a!.connected && !!p.apps.b!.connected, maxSteps: 100 });
    expect(p.apps.a!.states).toEqual([TCP_STATE.SYN_SENT, TCP_STATE.ESTABLISHED]);
    expect(p.apps.b!.states).toEqual([TCP_STATE.SYN_RECEIVED, TCP_STATE.ESTABLISHED]);
    expect(p.ab.sent + p.ba.sent).toBe(3);
    expect(p.nowUs).toBe(3_000); // SYN → SYN,ACK → ACK over 1 ms links, B connected on the ACK
    const conn = p.a.connection(id)!;
    expect(conn.sendMssBytes).toBe(1460);
    expect(conn.srttUs).toBe(2_000);
    const passive = p.log.find((e) => e.side === 'b' && e.out.kind === 'connected')!.out;
    expect(passive).toMatchObject({ kind: 'connected', passive: true, tuple: { localAddr: ADDR_B, localPort: 179, remoteAddr: ADDR_A } });
  });

  it('negotiates the smaller MSS and sizes segments by it', () => {
    const p = new TcpPair(2, undefined, { mssBytes: 536 });
    p.apps.a = streamApp(pattern(10_000, 2), { closeAfterSend: true, closeOnEof: true });
    p.apps.b = streamApp(new Uint8Array(0), { closeAfterSend: true, closeOnEof: true });
    p.open();
    p.run();
    expectCleanFinish(p, p.apps.a.toSend, new Uint8Array(0));
    expect(Math.max(...p.apps.b.received.map((c) => c.length))).toBeLessThanOrEqual(536);
  });

  it('simultaneous open (RFC 9293 Figure 8) reaches ESTABLISHED on both sides', () => {
    const p = new TcpPair(3);
    p.apps.a = streamApp(pattern(3000, 1), { closeAfterSend: true, closeOnEof: true });
    p.apps.b = streamApp(pattern(2000, 2), { closeAfterSend: true, closeOnEof: true });
    const ra = p.a.connect({ localAddr: ADDR_A, localPort: 5000, remoteAddr: ADDR_B, remotePort: 6000 }, 0);
    const rb = p.b.connect({ localAddr: ADDR_B, localPort: 6000, remoteAddr: ADDR_A, remotePort: 5000 }, 0);
    expect(ra.ok && rb.ok).toBe(true);
    p.apps.a.conn = ra.ok ? ra.value : undefined;
    p.apps.b.conn = rb.ok ? rb.value : undefined;
    p.run({ maxSteps: 10_000 });
    expect(p.apps.a.states.slice(0, 3)).toEqual([TCP_STATE.SYN_SENT, TCP_STATE.SYN_RECEIVED, TCP_STATE.ESTABLISHED]);
    expect(p.apps.b.states.slice(0, 3)).toEqual([TCP_STATE.SYN_SENT, TCP_STATE.SYN_RECEIVED, TCP_STATE.ESTABLISHED]);
    expectCleanFinish(p, p.apps.a.toSend, p.apps.b.toSend);
  });

  it('retransmits a lost SYN and a lost SYN,ACK', () => {
    for (const [dir, seed] of [
      ['ab', 4],
      ['ba', 5],
    ] as const) {
      const p = new TcpPair(seed);
      p.apps.a = streamApp(pattern(100, 1), { closeAfterSend: true, closeOnEof: true });
      p.apps.b = streamApp(pattern(100, 2), { closeAfterSend: true, closeOnEof: true });
      p[dir].down = true;
      p.open();
      p.run({ done: () => p[dir].sent >= 1 });
      p[dir].down = false;
      p.run();
      expectCleanFinish(p, p.apps.a.toSend, p.apps.b.toSend);
      expect(p.nowUs, `seed ${seed}`).toBeGreaterThanOrEqual(1_000_000); // waited one initial RTO (RFC 6298 §2.1)
    }
  });
});

describe('tcp pair: bulk transfer', () => {
  it('moves 1 MB each way at once, byte-exact, across the sequence wrap', () => {
    const aBytes = pattern(MB, 10);
    const bBytes = pattern(MB, 11);
    const p = new TcpPair(10);
    p.apps.a = streamApp(aBytes, { closeAfterSend: true, closeOnEof: true });
    p.apps.b = streamApp(bBytes, { closeAfterSend: true, closeOnEof: true });
    // An ISS 100 kB below 2^32 puts the wrap in the middle of A's stream.
    p.open(179, { iss: 0xffffffff - 100_000 });
    p.run();
    expectCleanFinish(p, aBytes, bBytes);
  });

  it('moves 1 MB each way over 5 % loss, reordering and duplication', () => {
    const faults: LinkFaults = { latencyUs: 2_000, jitterUs: 3_000, lossRate: 0.05, dupRate: 0.02, reorderRate: 0.05 };
    const aBytes = pattern(MB, 12);
    const bBytes = pattern(MB, 13);
    const p = transfer(12, aBytes, bBytes, { ab: faults, ba: faults });
    expectCleanFinish(p, aBytes, bBytes);
    expect(p.ab.lost + p.ba.lost).toBeGreaterThan(0);
  });

  it('holds the send buffer to its bound and signals writable', () => {
    const p = new TcpPair(14, undefined, { sndBufBytes: 8192 });
    p.apps.a = streamApp(pattern(200_000, 14), { closeAfterSend: true, closeOnEof: true, chunkBytes: 100_000 });
    p.apps.b = streamApp(new Uint8Array(0), { closeAfterSend: true, closeOnEof: true });
    const id = p.open();
    p.run({ done: () => p.apps.a!.connected });
    expect(p.apps.a.sentOffset).toBe(8192);
    expect(p.a.connection(id)!.sendSpaceBytes()).toBe(0);
    p.run();
    expectCleanFinish(p, p.apps.a.toSend, new Uint8Array(0));
    expect(p.log.filter((e) => e.side === 'a' && e.out.kind === 'writable').length).toBeGreaterThan(10);
  });
});

describe('tcp pair: closing', () => {
  it('A closes first: A goes FIN-WAIT-1 → FIN-WAIT-2 → TIME-WAIT, B goes CLOSE-WAIT → LAST-ACK', () => {
    const p = new TcpPair(20);
    p.apps.a = streamApp(pattern(5000, 20), { closeAfterSend: true });
    p.apps.b = streamApp(pattern(7000, 21), { closeOnEof: true });
    p.open();
    p.run();
    expectCleanFinish(p, p.apps.a.toSend, p.apps.b.toSend);
    expect(p.apps.a.states.slice(-4)).toEqual([TCP_STATE.FIN_WAIT_1, TCP_STATE.FIN_WAIT_2, TCP_STATE.TIME_WAIT, TCP_STATE.CLOSED]);
    expect(p.apps.b.states.slice(-3)).toEqual([TCP_STATE.CLOSE_WAIT, TCP_STATE.LAST_ACK, TCP_STATE.CLOSED]);
    // TIME-WAIT lasted 2·MSL after B's FIN arrived (B closed one link latency later, on the last ACK).
    const bClosed = p.log.find((e) => e.side === 'b' && e.out.kind === 'closed')!.atUs;
    const aClosed = p.log.find((e) => e.side === 'a' && e.out.kind === 'closed')!.atUs;
    expect(aClosed - bClosed).toBe(TCP_DEFAULT_CONFIG.timeWaitUs - 1_000);
  });

  it('B closes first, the mirror image', () => {
    const p = new TcpPair(21);
    p.apps.a = streamApp(pattern(7000, 22), { closeOnEof: true });
    p.apps.b = streamApp(pattern(5000, 23), { closeAfterSend: true });
    p.open();
    p.run();
    expectCleanFinish(p, p.apps.a.toSend, p.apps.b.toSend);
    expect(p.apps.b.states).toContain(TCP_STATE.TIME_WAIT);
    expect(p.apps.a.states).toContain(TCP_STATE.LAST_ACK);
  });

  it('half-close: B keeps sending after A has closed (CLOSE-WAIT carries data)', () => {
    const p = new TcpPair(22);
    p.apps.a = streamApp(pattern(100, 24), { closeAfterSend: true });
    p.apps.b = streamApp(new Uint8Array(0));
    p.open();
    p.run({ done: () => p.apps.b!.eof });
    expect(p.b.connection(p.apps.b.conn!)!.state).toBe(TCP_STATE.CLOSE_WAIT);
    p.apps.b.toSend = pattern(300_000, 25);
    p.apps.b.closeAfterSend = true;
    p.pump('b');
    p.run();
    expectCleanFinish(p, p.apps.a.toSend, p.apps.b.toSend);
    expect(p.apps.a.states).toEqual([TCP_STATE.SYN_SENT, TCP_STATE.ESTABLISHED, TCP_STATE.FIN_WAIT_1, TCP_STATE.FIN_WAIT_2, TCP_STATE.TIME_WAIT, TCP_STATE.CLOSED]);
  });

  it('simultaneous close goes through CLOSING on both sides', () => {
    const p = new TcpPair(23);
    p.apps.a = streamApp(pattern(2000, 26));
    p.apps.b = streamApp(pattern(2000, 27));
    p.open();
    p.run({ done: () => p.apps.a!.receivedBytes === 2000 && p.apps.b!.receivedBytes === 2000 });
    p.run({ done: () => p.ab.inFlight === 0 && p.ba.inFlight === 0 && p.a.nextDeadlineUs() === undefined && p.b.nextDeadlineUs() === undefined });
    p.a.close(p.apps.a.conn!, p.nowUs);
    p.b.close(p.apps.b.conn!, p.nowUs);
    p.run();
    expectCleanFinish(p, p.apps.a.toSend, p.apps.b.toSend);
    for (const app of [p.apps.a, p.apps.b]) {
      expect(app.states.slice(-4)).toEqual([TCP_STATE.FIN_WAIT_1, TCP_STATE.CLOSING, TCP_STATE.TIME_WAIT, TCP_STATE.CLOSED]);
    }
  });

  it('abort sends RST: the peer closes with reason reset', () => {
    const p = new TcpPair(24);
    p.apps.a = streamApp(pattern(50_000, 28));
    p.apps.b = streamApp(new Uint8Array(0));
    p.open();
    p.run({ done: () => p.apps.b!.receivedBytes > 10_000 });
    p.a.abort(p.apps.a.conn!, p.nowUs);
    p.run();
    expect(p.closedReasons()).toEqual({ a: 'aborted', b: 'reset' });
    expect(p.a.connectionIds()).toEqual([]);
    expect(p.b.connectionIds()).toEqual([]);
  });

  it('a new SYN reopens a 4-tuple in TIME-WAIT (RFC 9293 §3.6.1)', () => {
    const p = new TcpPair(25);
    p.apps.a = streamApp(pattern(1000, 29), { closeOnEof: true });
    p.apps.b = streamApp(pattern(1000, 30), { closeAfterSend: true });
    const first = p.open(179, { localPort: 40000, iss: 1000 });
    p.run({ done: () => p.apps.a!.closed !== undefined });
    const bConn = p.apps.b.conn!;
    expect(p.b.connection(bConn)!.state).toBe(TCP_STATE.TIME_WAIT);
    p.apps.a = streamApp(pattern(500, 31), { closeAfterSend: true, closeOnEof: true });
    p.apps.b = streamApp(pattern(600, 32), { closeAfterSend: true, closeOnEof: true });
    const second = p.open(179, { localPort: 40000, iss: 5_000_000, listen: false });
    expect(second).toBe(first);
    p.run();
    expectCleanFinish(p, p.apps.a.toSend, p.apps.b.toSend);
    expect(p.log.filter((e) => e.side === 'b' && e.out.kind === 'closed').map((e) => e.out.kind === 'closed' && e.out.reason)).toEqual(['normal', 'normal']);
  });
});

describe('tcp pair: resets', () => {
  it('a SYN to a port nobody listens on is refused with RST,ACK', () => {
    const p = new TcpPair(30);
    p.apps.a = streamApp(new Uint8Array(0));
    p.open(180, { listen: false });
    p.run({ maxSteps: 100 });
    expect(p.apps.a.closed).toBe('refused');
    expect(p.b.stats.rstsSent).toBe(1);
    expect(p.b.stats.segmentsUnmatched).toBe(1);
    expect(p.nowUs).toBe(2_000);
  });

  it('after a peer restart, the stale side gets RST for its data and closes', () => {
    const p = new TcpPair(31);
    p.apps.a = streamApp(pattern(1000, 33));
    p.apps.b = streamApp(new Uint8Array(0));
    p.open();
    p.run({ done: () => p.apps.b!.receivedBytes === 1000 });
    p.run({ done: () => p.a.nextDeadlineUs() === undefined });
    // B "reboots": its stack forgets the connection (same seed: new stack, still listening).
    const fresh = new TcpPair(31);
    (p as unknown as { b: unknown }).b = fresh.b;
    p.b.listen(179);
    p.apps.a.toSend = pattern(2000, 34);
    p.pump('a');
    p.run({ maxSteps: 1000 });
    expect(p.apps.a.closed).toBe('reset');
    expect(p.b.stats.rstsSent).toBeGreaterThanOrEqual(1);
  });
});

describe('tcp pair: a peer that disappears', () => {
  it('the sender gives up after the bounded retries with reason timeout', () => {
    const p = new TcpPair(40);
    p.apps.a = streamApp(pattern(100_000, 40));
    p.apps.b = streamApp(new Uint8Array(0));
    const id = p.open();
    p.run({ done: () => p.apps.b!.receivedBytes > 20_000 });
    p.ab.down = true;
    p.ba.down = true;
    const cutAt = p.nowUs;
    p.run();
    expect(p.apps.a.closed).toBe('timeout');
    // 15 timeouts (retransmitsMax 14, then give up), the RTO doubling from 200 ms up to 10 s:
    // 0.2 + 0.4 + … + 6.4 + 9 · 10 s = 102.6 s after the timer (re)started, give or take the first step.
    const gaveUpAfterUs = p.nowUs - cutAt;
    expect(p.a.connection(id)).toBeUndefined();
    expect(gaveUpAfterUs).toBeGreaterThan(102_400_000);
    expect(gaveUpAfterUs).toBeLessThanOrEqual(102_700_000);
    // B never hears anything again and, with nothing to send, stays ESTABLISHED (no keep-alives).
    expect(p.b.connection(p.apps.b.conn!)!.state).toBe(TCP_STATE.ESTABLISHED);
  });

  it('a SYN that is never answered gives up after the SYN retries', () => {
    const p = new TcpPair(41);
    p.apps.a = streamApp(new Uint8Array(0));
    p.ab.down = true;
    p.open();
    p.run();
    expect(p.apps.a.closed).toBe('timeout');
    expect(p.ab.sent).toBe(7); // 1 + synRetransmitsMax
    expect(p.nowUs).toBe(1_000_000 * (1 + 2 + 4 + 8 + 10 + 10 + 10)); // 1 s doubling, capped at rtoMaxUs
  });
});

// --- Properties with seeded faults: safety (faults on), then liveness (heal, converge within a bound). ---

const faultsArb: fc.Arbitrary<LinkFaults> = fc.record({
  latencyUs: fc.integer({ min: 100, max: 20_000 }),
  jitterUs: fc.integer({ min: 0, max: 20_000 }),
  lossRate: fc.double({ min: 0, max: 0.2, noNaN: true }),
  dupRate: fc.double({ min: 0, max: 0.1, noNaN: true }),
  reorderRate: fc.double({ min: 0, max: 0.2, noNaN: true }),
});

describe('tcp pair: properties under faults', () => {
  it('the byte streams arrive complete and in order, and the connection closes cleanly', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        faultsArb,
        faultsArb,
        fc.integer({ min: 0, max: 150_000 }),
        fc.integer({ min: 0, max: 150_000 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.constantFrom(536, 1000, 1460),
        (seed, ab, ba, aLen, bLen, iss, mssBytes) => {
          const p = new TcpPair(seed, { ab, ba }, { mssBytes });
          const aBytes = pattern(aLen, seed);
          const bBytes = pattern(bLen, seed + 1);
          p.apps.a = streamApp(aBytes, { closeAfterSend: true, closeOnEof: true, chunkBytes: 1 + (seed % 20_000) });
          p.apps.b = streamApp(bBytes, { closeAfterSend: true, closeOnEof: true, chunkBytes: 1 + ((seed >> 3) % 20_000) });
          p.open(179, { iss });
          p.run({ maxSteps: 500_000 });
          expectCleanFinish(p, aBytes, bBytes);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('a closing connection survives faults from either side closing first', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), faultsArb, fc.boolean(), (seed, f, aFirst) => {
        const p = new TcpPair(seed, { ab: f, ba: f });
        const aBytes = pattern(20_000, seed);
        const bBytes = pattern(30_000, seed + 7);
        p.apps.a = streamApp(aBytes, aFirst ? { closeAfterSend: true } : { closeOnEof: true });
        p.apps.b = streamApp(bBytes, aFirst ? { closeOnEof: true } : { closeAfterSend: true });
        p.open();
        p.run({ maxSteps: 200_000 });
        expectCleanFinish(p, aBytes, bBytes);
      }),
      { numRuns: 30 },
    );
  });

  it('safety then liveness: a link that drops everything for a while, then heals', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), faultsArb, fc.integer({ min: 100_000, max: 20_000_000 }), (seed, f, outageUs) => {
        const p = new TcpPair(seed, { ab: f, ba: f });
        const aBytes = pattern(60_000, seed);
        const bBytes = pattern(60_000, seed + 3);
        p.apps.a = streamApp(aBytes, { closeAfterSend: true, closeOnEof: true });
        p.apps.b = streamApp(bBytes, { closeAfterSend: true, closeOnEof: true });
        p.open();
        p.run({ done: () => p.apps.b!.receivedBytes > 10_000 || p.apps.b!.closed !== undefined, maxSteps: 100_000 });
        p.ab.down = true;
        p.ba.down = true;
        const healAt = p.nowUs + outageUs;
        p.run({ done: () => p.nowUs >= healAt, maxSteps: 100_000 });
        p.ab.down = false;
        p.ba.down = false;
        p.ab.faults = CLEAN;
        p.ba.faults = CLEAN;
        p.run({ maxSteps: 200_000 });
        expectCleanFinish(p, aBytes, bBytes);
      }),
      { numRuns: 20 },
    );
  });
});
