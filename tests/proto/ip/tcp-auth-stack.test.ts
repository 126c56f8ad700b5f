// TCP MD5 and TCP-AO in the TcpStack over the test pair: every segment signed, data intact, and
// missing, wrong or unexpected MACs dropped and counted (RFC 2385 §3, RFC 5925 §7.3).
import { describe, expect, it } from 'vitest';
import { equalBytes } from '../../../src/lib/bytes.ts';
import { decodeIpv4, encodeIpv4, IP_PROTO_TCP } from '../../../src/proto/ip/ipv4.ts';
import { findTcpAuthOptions } from '../../../src/proto/ip/tcp-auth-option.ts';
import type { TcpAuthConfig } from '../../../src/proto/ip/tcp-auth.ts';
import { TCP_FLAG_ACK, TCP_FLAG_RST, TCP_FLAG_SYN, decodeTcpSegment, encodeTcpSegment, tcpRewriteChecksum, tcpSegmentLen, type TcpSegment } from '../../../src/proto/ip/tcp-segment.ts';
import { tcpAuthSign } from '../../../src/proto/ip/tcp-auth.ts';
import { TCP_STATE } from '../../../src/proto/ip/tcp.ts';
import { ADDR_A, ADDR_B, TcpPair, pattern, receivedBytes, streamApp, type Link } from './tcp-harness.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const md5 = (key: string): TcpAuthConfig => ({ kind: 'md5', key: enc(key) });
const ao = (keyId: number, rnextKeyId: number, key: string, algorithm: 'hmac-sha1-96' | 'aes-128-cmac-96' = 'hmac-sha1-96'): TcpAuthConfig => ({ kind: 'ao', keyId, rnextKeyId, algorithm, masterKey: enc(key) });

/** Records every TCP segment a link carries (decoded), and lets a test rewrite one in flight. */
function watch(link: Link, rewrite?: (tcp: Uint8Array, seg: TcpSegment) => Uint8Array | undefined) {
  const seen: { seg: TcpSegment; ipLen: number }[] = [];
  const send = link.send.bind(link);
  link.send = (packet: Uint8Array, nowUs: number) => {
    const ip = decodeIpv4(packet);
    if (!ip.ok) throw new Error('bad IPv4');
    const h = ip.value.header;
    const d = decodeTcpSegment(ip.value.payload, h.src, h.dst);
    if (!d.ok) throw new Error(`bad TCP: ${d.error.message}`);
    seen.push({ seg: d.value, ipLen: packet.length });
    const changed = rewrite?.(ip.value.payload.slice(), d.value);
    send(changed ? encodeIpv4({ ...h, protocol: IP_PROTO_TCP }, changed) : packet, nowUs);
  };
  return seen;
}

function pair(seed: number, authA: TcpAuthConfig | undefined, authB: TcpAuthConfig | undefined, aBytes: Uint8Array, bBytes: Uint8Array): TcpPair {
  const p = new TcpPair(seed);
  p.a.setAuth(ADDR_A, ADDR_B, authA);
  p.b.setAuth(0, ADDR_A, authB); // any local address
  p.apps.a = streamApp(aBytes, { closeAfterSend: true, closeOnEof: true });
  p.apps.b = streamApp(bBytes, { closeAfterSend: true, closeOnEof: true });
  return p;
}

describe.each([
  { name: 'TCP-AO HMAC-SHA-1-96', a: ao(3, 7, 'bgp-key'), b: ao(7, 3, 'bgp-key'), kind: 'ao', optionBytes: 16 },
  { name: 'TCP-AO AES-128-CMAC-96', a: ao(3, 7, 'bgp-key', 'aes-128-cmac-96'), b: ao(7, 3, 'bgp-key', 'aes-128-cmac-96'), kind: 'ao', optionBytes: 16 },
  { name: 'TCP MD5', a: md5('bgp-key'), b: md5('bgp-key'), kind: 'md5', optionBytes: 20 },
])('$name between two stacks', ({ a, b, kind, optionBytes }) => {
  it('carries 100 KB each way with every segment signed, MSS shrunk by the option, no drops', () => {
    const aBytes = pattern(100_000, 1);
    const bBytes = pattern(100_000, 2);
    const p = pair(11, a, b, aBytes, bBytes);
    const ab = watch(p.ab);
    const ba = watch(p.ba);
    const id = p.open();
    p.run({ done: () => !!p.apps.a!.connected, maxSteps: 100 });
    expect(p.a.connection(id)!.sendMssBytes).toBe(1460 - optionBytes);
    p.run();
    expect(equalBytes(receivedBytes(p.apps.b!), aBytes)).toBe(true);
    expect(equalBytes(receivedBytes(p.apps.a!), bBytes)).toBe(true);
    expect(p.closedReasons()).toEqual({ a: 'normal', b: 'normal' });
    for (const { seg, ipLen } of [...ab, ...ba]) {
      const f = findTcpAuthOptions(seg.options);
      expect(f.ok && (kind === 'ao' ? f.value.ao !== undefined : f.value.md5 !== undefined)).toBe(true);
      expect(ipLen).toBeLessThanOrEqual(1500);
    }
    expect(Math.max(...ab.map((x) => x.ipLen))).toBe(1500); // full-sized segments still fill the MTU
    for (const s of [p.a, p.b]) expect([s.stats.authMissing, s.stats.authBadMac, s.stats.authBadKeyId, s.stats.authUnexpected, s.stats.authNoState]).toEqual([0, 0, 0, 0, 0]);
  });

  it('a segment altered in flight is dropped and counted; the retransmission gets through', () => {
    const aBytes = pattern(20_000, 3);
    const p = pair(12, a, b, aBytes, new Uint8Array(0));
    let altered = 0;
    watch(p.ab, (tcp, seg) => {
      if (altered > 0 || seg.payload.length < 100) return undefined;
      altered++;
      tcp[tcp.length - 50]! ^= 0x40; // a bit of the data, checksum fixed so only the MAC can tell
      tcpRewriteChecksum(tcp, ADDR_A, ADDR_B);
      return tcp;
    });
    p.open();
    p.run();
    expect(altered).toBe(1);
    expect(p.b.stats.authBadMac).toBe(1);
    expect(equalBytes(receivedBytes(p.apps.b!), aBytes)).toBe(true);
  });

  it('a forged RST at the exact next sequence number is dropped; without a key it would have reset the connection', () => {
    for (const keyed of [true, false]) {
      const p = pair(13, keyed ? a : undefined, keyed ? b : undefined, new Uint8Array(0), new Uint8Array(0));
      p.apps.a!.closeAfterSend = false;
      p.apps.b!.closeAfterSend = false;
      p.apps.a!.closeOnEof = false;
      const ab = watch(p.ab);
      p.open();
      p.run({ done: () => !!p.apps.b!.connected, maxSteps: 100 });
      // An on-path attacker saw A's last segment, so it knows B's RCV.NXT exactly (RFC 5961 §3.2 cannot help).
      const last = ab[ab.length - 1]!.seg;
      const rst: TcpSegment = { srcPort: last.srcPort, dstPort: last.dstPort, seq: last.seq + tcpSegmentLen(last), ack: 0, flags: TCP_FLAG_RST, reserved: 0, window: 0, urgentPointer: 0, options: [], payload: new Uint8Array(0) };
      p.b.handle({ kind: 'segment', bytes: encodeTcpSegment(rst, ADDR_A, ADDR_B), src: ADDR_A, dst: ADDR_B }, p.nowUs);
      // And one signed with a guessed key.
      const guessed: TcpAuthConfig = kind === 'ao' ? { ...(a as Extract<TcpAuthConfig, { kind: 'ao' }>), masterKey: enc('guess') } : md5('guess');
      p.b.handle({ kind: 'segment', bytes: tcpAuthSign(guessed, rst, ADDR_A, ADDR_B, { local: 1, remote: 2 }, 0), src: ADDR_A, dst: ADDR_B }, p.nowUs);
      p.run({ maxTimeUs: p.nowUs + 1_000_000 });
      if (keyed) {
        expect(p.apps.b!.closed).toBeUndefined();
        expect(p.b.connection(p.apps.b!.conn!)!.state).toBe(TCP_STATE.ESTABLISHED);
        expect(p.b.stats.authMissing).toBe(1);
        expect(p.b.stats.authBadMac).toBe(1);
      } else {
        expect(p.apps.b!.closed).toBe('reset'); // the control: the same RST works on an unprotected connection
      }
    }
  });
});

describe('TCP authentication failures keep the connection from opening', () => {
  const run = (authA: TcpAuthConfig | undefined, authB: TcpAuthConfig | undefined) => {
    const p = pair(21, authA, authB, new Uint8Array(10), new Uint8Array(0));
    p.open();
    p.run({ maxTimeUs: 120_000_000 });
    return p;
  };

  it('different MD5 keys: every SYN dropped as a bad MAC, the connect times out', () => {
    const p = run(md5('alpha'), md5('bravo'));
    expect(p.apps.a!.connected).toBe(false);
    expect(p.apps.a!.closed).toBe('timeout');
    expect(p.b.stats.authBadMac).toBe(7); // the SYN and its 6 retransmissions
    expect(p.ba.sent).toBe(0); // silently: no RST, no SYN,ACK
  });

  it('different TCP-AO master keys: bad MAC; a KeyID that names no MKT: bad KeyID', () => {
    expect(run(ao(1, 2, 'alpha'), ao(2, 1, 'bravo')).b.stats.authBadMac).toBe(7);
    const p = run(ao(1, 2, 'alpha'), ao(2, 9, 'alpha'));
    expect(p.b.stats.authBadKeyId).toBe(7);
    expect(p.apps.a!.closed).toBe('timeout');
  });

  it('a key on one side only: missing on the keyed side, unexpected on the other', () => {
    expect(run(undefined, ao(2, 1, 'k')).b.stats.authMissing).toBe(7);
    expect(run(md5('k'), undefined).b.stats.authUnexpected).toBe(7);
    expect(run(ao(1, 2, 'k'), md5('k')).b.stats.authUnexpected).toBe(7);
  });

  it('no listener: TCP MD5 answers with a signed RST the client accepts; TCP-AO cannot sign one and stays silent', () => {
    const m = pair(22, md5('k'), md5('k'), new Uint8Array(0), new Uint8Array(0));
    const mb = watch(m.ba);
    m.open(179, { listen: false });
    m.run({ maxTimeUs: 60_000_000 });
    expect(m.apps.a!.closed).toBe('refused');
    expect(mb).toHaveLength(1);
    expect(mb[0]!.seg.flags & TCP_FLAG_RST).toBeTruthy();
    const a = pair(23, ao(1, 2, 'k'), ao(2, 1, 'k'), new Uint8Array(0), new Uint8Array(0));
    a.open(179, { listen: false });
    a.run({ maxTimeUs: 120_000_000 });
    expect(a.apps.a!.closed).toBe('timeout');
    expect(a.b.stats.authRstsSuppressed).toBe(7);
    expect(a.ba.sent).toBe(0);
  });

  it('a non-SYN TCP-AO segment for no connection cannot be verified: dropped as no-state, no RST', () => {
    const p = pair(24, ao(1, 2, 'k'), ao(2, 1, 'k'), new Uint8Array(0), new Uint8Array(0));
    p.b.listen(179);
    const ack: TcpSegment = { srcPort: 40000, dstPort: 179, seq: 5, ack: 9, flags: TCP_FLAG_ACK, reserved: 0, window: 100, urgentPointer: 0, options: [], payload: new Uint8Array(0) };
    p.b.handle({ kind: 'segment', bytes: tcpAuthSign(ao(1, 2, 'k'), ack, ADDR_A, ADDR_B, { local: 5, remote: 9 }, 0), src: ADDR_A, dst: ADDR_B }, 0);
    expect(p.b.stats.authNoState).toBe(1);
    expect(p.b.poll()).toBeUndefined();
    // A bare SYN needs no state: it is verified and accepted.
    const syn: TcpSegment = { ...ack, flags: TCP_FLAG_SYN, ack: 0 };
    p.b.handle({ kind: 'segment', bytes: tcpAuthSign(ao(1, 2, 'k'), syn, ADDR_A, ADDR_B, { local: 5, remote: 0 }, 0), src: ADDR_A, dst: ADDR_B }, 0);
    expect(p.b.connectionIds()).toHaveLength(1);
  });
});
