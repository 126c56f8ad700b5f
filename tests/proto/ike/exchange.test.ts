import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { gcm } from '@noble/ciphers/aes.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { concat, equalBytes, fromHex, hex } from '../../../src/lib/bytes.ts';
import { parsePrefix, type Ipv4Prefix } from '../../../src/lib/addr.ts';
import { TsEspEngine } from '../../../src/dataplane/esp-ts.ts';
import { Pcg32 } from '../../../src/lib/rng.ts';
import type { EspSaParams } from '../../../src/dataplane/esp.ts';
import { encodeIpv4, encodeUdp, IP_PROTO_UDP } from '../../../src/proto/ip/index.ts';
import {
  aeadKeyFrom,
  CHILD_SAS_PER_IKE_SA_MAX,
  AUTH_METHOD,
  childOfferProposals,
  decodeMessage,
  DH_CURVE25519,
  DH_ECP_256,
  ED25519_ALGORITHM_IDENTIFIER,
  encodeEncryptedMessage,
  EXCHANGE,
  FLAG_INITIATOR,
  FLAG_RESPONSE,
  IKE_TIMING_DEFAULT,
  IkeEndpoint,
  IkeSa,
  NOTIFY,
  openEncryptedMessage,
  PAYLOAD,
  PRF_HMAC_SHA2_256,
  PROTOCOL_ID,
  spiBytes,
  standaloneContext,
  tsFromPrefix,
  type ChildSaParams,
  type IkeDatagram,
  type IkeEndpointConfig,
  type IkeEndpointEvent,
  type Payload,
} from '../../../src/proto/ike/index.ts';
import {
  ADDR_A,
  ADDR_B,
  childAtoB,
  ed25519Configs,
  ed25519Keys,
  ID_A,
  ID_B,
  LATENCY_US,
  NET_A,
  NET_B,
  Pair,
  pskConfigs,
  type Side,
} from './harness.ts';

type EvOf<K extends IkeEndpointEvent['kind']> = Extract<IkeEndpointEvent, { kind: K }>;
function evs<K extends IkeEndpointEvent['kind']>(p: Pair, side: Side, kind: K): EvOf<K>[] {
  return p.events.filter((e) => e.side === side && e.event.kind === kind).map((e) => e.event as EvOf<K>);
}
function saIdOf(p: Pair, side: Side): number {
  return p.events.find((e) => e.side === side && e.event.kind === 'ike-sa-created')!.saId;
}

/** The two ends of one direction agree, and a message sealed with one opens with the other (@noble). */
function expectPaired(out: ChildSaParams, inn: ChildSaParams): void {
  expect([out.spi, out.suite, out.esn, hex(out.key), hex(out.salt)]).toEqual([inn.spi, inn.suite, inn.esn, hex(inn.key), hex(inn.salt)]);
  const iv = fromHex('0000000000000001');
  const aad = fromHex('01020304 00000001');
  const msg = new TextEncoder().encode('a packet between trusted subnets');
  const aead = (p: ChildSaParams) => (p.suite === 'chacha20-poly1305' ? chacha20poly1305 : gcm)(p.key, concat(p.salt, iv), aad);
  const sealed = aead(out).encrypt(msg);
  expect(hex(aead(inn).decrypt(sealed))).toBe(hex(msg));
}

function establish(p: Pair, child = childAtoB()): void {
  p.command('a', { kind: 'request-child', peerAddr: ADDR_B, child });
  p.run();
}

const exchanges = (p: Pair) => p.captured.filter((c) => !c.dropped).map((c) => c.datagram.bytes[18]);

function innerPacket(src: number, dst: number, n: number): Uint8Array {
  const udp = encodeUdp({ srcPort: 4000, dstPort: 5000, payload: Uint8Array.of(n & 0xff, n >> 8) }, src, dst);
  return encodeIpv4({ dscp: 0, ecn: 0, identification: n & 0xffff, dontFragment: false, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: IP_PROTO_UDP, src, dst, options: new Uint8Array(0) }, udp);
}

describe('IKE_SA_INIT + IKE_AUTH', () => {
  it('PSK: both sides install the same Child SA keys; the data plane carries ESP both ways', () => {
    const { a, b } = pskConfigs();
    const p = new Pair(a, b);
    establish(p);
    expect(exchanges(p)).toEqual([EXCHANGE.IKE_SA_INIT, EXCHANGE.IKE_SA_INIT, EXCHANGE.IKE_AUTH, EXCHANGE.IKE_AUTH]);
    const [ea] = evs(p, 'a', 'ike-sa-established');
    const [eb] = evs(p, 'b', 'ike-sa-established');
    expect(ea?.peerId).toEqual(ID_B);
    expect(eb?.peerId).toEqual(ID_A);
    expect(ea?.suite).toEqual({ encr: 'aes-gcm-128', prf: PRF_HMAC_SHA2_256, dhGroup: DH_CURVE25519 });
    const ia = evs(p, 'a', 'child-sa-installed');
    const ib = evs(p, 'b', 'child-sa-installed');
    expect([ia.length, ib.length]).toEqual([1, 1]);
    const ca = ia[0]!.child;
    const cb = ib[0]!.child;
    // Initiator's outbound = responder's inbound and vice versa.
    expectPaired(ca.outbound, cb.inbound);
    expectPaired(cb.outbound, ca.inbound);
    expect([ca.outbound.tunnelSrc, ca.outbound.tunnelDst, ca.inbound.tunnelSrc, ca.inbound.tunnelDst]).toEqual([ADDR_A, ADDR_B, ADDR_B, ADDR_A]);
    expect(ca.tsLocal).toEqual([tsFromPrefix(NET_A)]);
    expect(ca.tsRemote).toEqual([tsFromPrefix(NET_B)]);
    expect(cb.tsLocal).toEqual([tsFromPrefix(NET_B)]);
    expect(cb.tsRemote).toEqual([tsFromPrefix(NET_A)]);
    expect(ca.mode).toBe('tunnel');

    // The event's parameters are what the data plane's ESP engine takes, as they are.
    const outA: EspSaParams = ca.outbound;
    const inB: EspSaParams = cb.inbound;
    const engA = new TsEspEngine();
    const engB = new TsEspEngine();
    const hOut = engA.addSa('outbound', outA);
    engB.addSa('inbound', inB);
    const inner = innerPacket(NET_A.addr + 5, NET_B.addr + 7, 1);
    const [enc] = engA.encapsulate(hOut, [inner]);
    expect(enc?.ok).toBe(true);
    const [dec] = engB.decapsulate([enc!.ok ? enc!.bytes : new Uint8Array(0)]);
    expect(dec?.ok && hex(dec.bytes)).toBe(hex(inner));
  });

  it('Ed25519 (RFC 8420): AUTH method 14 with the Ed25519 AlgorithmIdentifier, and matching keys', () => {
    const { a, b } = ed25519Configs();
    const p = new Pair(a, b);
    establish(p);
    const ca = evs(p, 'a', 'child-sa-installed')[0]!.child;
    const cb = evs(p, 'b', 'child-sa-installed')[0]!.child;
    expectPaired(ca.outbound, cb.inbound);
    expectPaired(cb.outbound, ca.inbound);
    // Open the captured IKE_AUTH request with the exported SK_ei and look at its AUTH payload.
    const keys = p.a.sa(saIdOf(p, 'a'))!.exportKeys()!;
    const authReq = p.captured[2]!.datagram.bytes;
    const m = decodeMessage(authReq);
    const inner = m.ok ? openEncryptedMessage(authReq, m.value, aeadKeyFrom(keys.encr, keys.skEi)) : undefined;
    const auth = inner?.ok ? inner.value.find((x) => x.kind === 'auth') : undefined;
    expect(auth?.kind === 'auth' && auth.method).toBe(AUTH_METHOD.DIGITAL_SIGNATURE);
    expect(auth?.kind === 'auth' && hex(auth.data.subarray(0, 8))).toBe(`07${hex(ED25519_ALGORITHM_IDENTIFIER)}`);
  });

  for (const [suite, esn] of [
    ['aes-gcm-256', true],
    ['chacha20-poly1305', false],
    ['chacha20-poly1305', true],
  ] as const)
    it(`Child SA suite ${suite}${esn ? ' with ESN' : ''}`, () => {
      const { a, b } = pskConfigs({
        a: { childSuites: [{ encr: suite, esn }] },
        b: { childSuites: [{ encr: 'aes-gcm-128', esn: false }, { encr: 'aes-gcm-256', esn: true }, { encr: 'chacha20-poly1305', esn: false }, { encr: 'chacha20-poly1305', esn: true }] },
      });
      const p = new Pair(a, b);
      establish(p);
      const ca = evs(p, 'a', 'child-sa-installed')[0]!.child;
      const cb = evs(p, 'b', 'child-sa-installed')[0]!.child;
      expect(ca.suite).toEqual({ encr: suite, esn });
      expect([ca.outbound.esn, ca.outbound.key.length]).toEqual([esn, 32]);
      expectPaired(ca.outbound, cb.inbound);
      expectPaired(cb.outbound, ca.inbound);
    });

  it('D-H group 19 end to end, and INVALID_KE_PAYLOAD makes the initiator retry with the group asked for', () => {
    const only19 = pskConfigs({
      a: { ikeProposal: { encrs: ['aes-gcm-128'], prfs: [PRF_HMAC_SHA2_256], dhGroups: [DH_ECP_256] } },
      b: { ikeProposal: { encrs: ['aes-gcm-128'], prfs: [PRF_HMAC_SHA2_256], dhGroups: [DH_CURVE25519, DH_ECP_256] } },
    });
    const p19 = new Pair(only19.a, only19.b);
    establish(p19);
    expect(exchanges(p19)).toEqual([34, 34, 35, 35]);
    expect(evs(p19, 'a', 'ike-sa-established')[0]?.suite.dhGroup).toBe(DH_ECP_256);

    const { a, b } = pskConfigs({
      a: { ikeProposal: { encrs: ['aes-gcm-128'], prfs: [PRF_HMAC_SHA2_256], dhGroups: [DH_ECP_256, DH_CURVE25519] } },
      b: { ikeProposal: { encrs: ['aes-gcm-128'], prfs: [PRF_HMAC_SHA2_256], dhGroups: [DH_CURVE25519] } },
    });
    const p = new Pair(a, b);
    establish(p);
    expect(exchanges(p)).toEqual([34, 34, 34, 34, 35, 35]);
    const firstAnswer = decodeMessage(p.captured[1]!.datagram.bytes);
    const n = firstAnswer.ok ? firstAnswer.value.payloads[0] : undefined;
    expect(n?.kind === 'notify' && [n.notifyType, hex(n.data)]).toEqual([NOTIFY.INVALID_KE_PAYLOAD, '001f']);
    // The retry keeps SPIi (RFC 7296 §1.2) and gets a fresh responder SA.
    expect(hex(p.captured[2]!.datagram.bytes.subarray(0, 8))).toBe(hex(p.captured[0]!.datagram.bytes.subarray(0, 8)));
    expect(evs(p, 'a', 'ike-sa-established')[0]?.suite.dhGroup).toBe(DH_CURVE25519);
    expect(evs(p, 'b', 'ike-sa-failed').map((e) => e.failure.code)).toEqual(['INVALID_KE']);
    expectPaired(evs(p, 'a', 'child-sa-installed')[0]!.child.outbound, evs(p, 'b', 'child-sa-installed')[0]!.child.inbound);
  });

  it('wrong PSK → AUTHENTICATION_FAILED on both sides, no Child SA', () => {
    const { a, b } = pskConfigs({ pskB: new TextEncoder().encode('not the same secret') });
    const p = new Pair(a, b);
    establish(p);
    expect(evs(p, 'a', 'ike-sa-failed').map((e) => e.failure)).toEqual([
      { code: 'AUTHENTICATION_FAILED', detectedBy: 'remote', notify: NOTIFY.AUTHENTICATION_FAILED, message: expect.any(String) },
    ]);
    expect(evs(p, 'b', 'ike-sa-failed').map((e) => [e.failure.code, e.failure.detectedBy, e.failure.notify])).toEqual([
      ['AUTHENTICATION_FAILED', 'local', NOTIFY.AUTHENTICATION_FAILED],
    ]);
    expect(evs(p, 'a', 'child-sa-installed').length + evs(p, 'b', 'child-sa-installed').length).toBe(0);
    expect(evs(p, 'a', 'ike-sa-established').length + evs(p, 'b', 'ike-sa-established').length).toBe(0);
  });

  it('an initiator that cannot verify the responder sends AUTHENTICATION_FAILED in an INFORMATIONAL (§2.21.2)', () => {
    const { a, b } = ed25519Configs();
    a.peers = a.peers.map((x) => ({ ...x, credential: { method: 'ed25519', publicKey: ed25519Keys(0x77).publicKey } }));
    const p = new Pair(a, b);
    establish(p);
    // The responder answers the INFORMATIONAL (empty) before it lets the IKE SA go.
    expect(exchanges(p)).toEqual([34, 34, 35, 35, 37, 37]);
    expect(evs(p, 'a', 'ike-sa-failed').map((e) => [e.failure.code, e.failure.detectedBy])).toEqual([['AUTHENTICATION_FAILED', 'local']]);
    expect(evs(p, 'b', 'ike-sa-failed').map((e) => [e.failure.code, e.failure.detectedBy])).toEqual([['AUTHENTICATION_FAILED', 'remote']]);
    // b had installed the Child SA; it goes away with the IKE SA.
    expect(evs(p, 'b', 'child-sa-deleted').map((e) => e.reason)).toEqual(['ike-sa-gone']);
  });

  it('an identity the responder does not know → AUTHENTICATION_FAILED', () => {
    const { a, b } = pskConfigs();
    b.peers = [{ ...b.peers[0]!, id: ID_B }];
    const p = new Pair(a, b);
    establish(p);
    expect(evs(p, 'b', 'ike-sa-failed').map((e) => e.failure.code)).toEqual(['UNKNOWN_PEER']);
    expect(evs(p, 'a', 'ike-sa-failed').map((e) => [e.failure.code, e.failure.notify])).toEqual([['AUTHENTICATION_FAILED', NOTIFY.AUTHENTICATION_FAILED]]);
  });

  it('no common IKE proposal → NO_PROPOSAL_CHOSEN; the responder keeps no state', () => {
    const { a, b } = pskConfigs({ a: { ikeProposal: { encrs: ['aes-gcm-256'], prfs: [PRF_HMAC_SHA2_256], dhGroups: [DH_CURVE25519] } } });
    const p = new Pair(a, b);
    establish(p);
    expect(exchanges(p)).toEqual([34, 34]);
    expect(evs(p, 'a', 'ike-sa-failed').map((e) => [e.failure.code, e.failure.detectedBy, e.failure.notify])).toEqual([
      ['NO_PROPOSAL_CHOSEN', 'remote', NOTIFY.NO_PROPOSAL_CHOSEN],
    ]);
    expect(evs(p, 'b', 'ike-sa-failed').map((e) => [e.failure.code, e.failure.detectedBy])).toEqual([['NO_PROPOSAL_CHOSEN', 'local']]);
    expect(p.b.saIds()).toEqual([]);
  });

  it('no common Child SA proposal → the IKE SA stands, the Child SA fails with NO_PROPOSAL_CHOSEN', () => {
    const { a, b } = pskConfigs({ a: { childSuites: [{ encr: 'chacha20-poly1305', esn: false }] } });
    const p = new Pair(a, b);
    establish(p);
    expect(evs(p, 'a', 'ike-sa-established').length).toBe(1);
    expect(evs(p, 'a', 'child-sa-failed').map((e) => [e.failure.code, e.failure.detectedBy, e.failure.notify])).toEqual([
      ['NO_PROPOSAL_CHOSEN', 'remote', NOTIFY.NO_PROPOSAL_CHOSEN],
    ]);
    expect(evs(p, 'b', 'child-sa-failed').length).toBe(1);
  });

  it('disjoint traffic selectors → TS_UNACCEPTABLE (§2.9)', () => {
    const { a, b } = pskConfigs();
    const p = new Pair(a, b);
    establish(p, { tsLocal: [tsFromPrefix(NET_A)], tsRemote: [tsFromPrefix(parsePrefix('10.99.0.0/16') as Ipv4Prefix)] });
    expect(evs(p, 'a', 'ike-sa-established').length).toBe(1);
    expect(evs(p, 'a', 'child-sa-failed').map((e) => [e.failure.code, e.failure.detectedBy, e.failure.notify])).toEqual([
      ['TS_UNACCEPTABLE', 'remote', NOTIFY.TS_UNACCEPTABLE],
    ]);
    expect(evs(p, 'b', 'child-sa-failed').map((e) => e.failure.code)).toEqual(['TS_UNACCEPTABLE']);
    expect(evs(p, 'a', 'child-sa-installed').length).toBe(0);
  });

  it('the responder narrows to the intersection with its policy (§2.9)', () => {
    const { a, b } = pskConfigs();
    const narrow = tsFromPrefix(parsePrefix('10.2.1.0/24') as Ipv4Prefix);
    b.peers = [{ ...b.peers[0]!, trafficPolicy: { local: [narrow], remote: [tsFromPrefix(NET_A)] } }];
    const p = new Pair(a, b);
    establish(p);
    expect(evs(p, 'a', 'child-sa-installed')[0]?.child.tsRemote).toEqual([narrow]);
    expect(evs(p, 'b', 'child-sa-installed')[0]?.child.tsLocal).toEqual([narrow]);
  });
});

describe('retransmission (RFC 7296 §2.1, §2.4)', () => {
  it('loss of the first three datagrams: retransmission with backoff succeeds', () => {
    const { a, b } = pskConfigs();
    const p = new Pair(a, b);
    p.lose = (n) => n < 3;
    establish(p);
    expect(p.captured.slice(0, 4).map((c) => [c.tUs, c.dropped])).toEqual([
      [0, true],
      [500_000, true],
      [1_500_000, true],
      [3_500_000, false],
    ]);
    expect(p.a.sa(saIdOf(p, 'a'))!.counters.requestsRetransmitted).toBe(3);
    expectPaired(evs(p, 'a', 'child-sa-installed')[0]!.child.outbound, evs(p, 'b', 'child-sa-installed')[0]!.child.inbound);
  });

  it('a lost IKE_AUTH response is answered again from the cache, with no second Child SA', () => {
    const { a, b } = pskConfigs();
    const p = new Pair(a, b);
    let lostOnce = false;
    p.lose = (_n, from, d) => {
      if (from === 'b' && d.bytes[18] === EXCHANGE.IKE_AUTH && !lostOnce) return (lostOnce = true);
      return false;
    };
    establish(p);
    expect(p.b.sa(saIdOf(p, 'b'))!.counters.responsesRetransmitted).toBe(1);
    expect(evs(p, 'b', 'child-sa-installed').length).toBe(1);
    expect(evs(p, 'a', 'child-sa-installed').length).toBe(1);
    expectPaired(evs(p, 'b', 'child-sa-installed')[0]!.child.outbound, evs(p, 'a', 'child-sa-installed')[0]!.child.inbound);
  });

  it('a peer that never answers: 5 tries at 0, 0.5, 1.5, 3.5, 7.5 s, then TIMEOUT at 15.5 s', () => {
    const { a, b } = pskConfigs();
    const p = new Pair(a, b);
    p.deaf = 'b';
    establish(p);
    expect(p.captured.map((c) => c.tUs)).toEqual([0, 500_000, 1_500_000, 3_500_000, 7_500_000]);
    const failed = p.events.filter((e) => e.side === 'a' && e.event.kind === 'ike-sa-failed');
    expect(failed.map((e) => [e.tUs, (e.event as EvOf<'ike-sa-failed'>).failure.code, (e.event as EvOf<'ike-sa-failed'>).failure.detectedBy])).toEqual([
      [15_500_000, 'TIMEOUT', 'remote'],
    ]);
  });

  it('the interval is capped and the number of tries is bounded as configured', () => {
    const { a, b } = pskConfigs({ a: { timing: { retransmitBaseUs: 1_000_000, retransmitIntervalMaxUs: 1_500_000, retransmitTriesMax: 3 } } });
    const p = new Pair(a, b);
    p.deaf = 'b';
    establish(p);
    expect(p.captured.map((c) => c.tUs)).toEqual([0, 1_000_000, 2_500_000]);
    expect(p.events.find((e) => e.event.kind === 'ike-sa-failed')?.tUs).toBe(4_000_000);
  });

  it('a peer that goes silent after establishment: the next exchange fails the IKE SA and its Child SAs go', () => {
    const { a, b } = pskConfigs();
    const p = new Pair(a, b);
    establish(p);
    p.deaf = 'b';
    const spi = evs(p, 'a', 'child-sa-installed')[0]!.child.inbound.spi;
    p.command('a', { kind: 'sa', saId: saIdOf(p, 'a'), command: { kind: 'rekey-child', spi } });
    p.run();
    expect(evs(p, 'a', 'ike-sa-failed').map((e) => e.failure.code)).toEqual(['TIMEOUT']);
    expect(evs(p, 'a', 'child-sa-deleted').map((e) => [e.inboundSpi, e.reason])).toEqual([[spi, 'ike-sa-gone']]);
  });
});

/** A data plane per side on the TypeScript ESP engine, driven by the IKE events. */
class DataPlane {
  readonly engine = new TsEspEngine();
  readonly sas = new Map<number, { inH: number; outH: number; outSpi: number }>();
  current: number | undefined;
  received = 0;
  readonly dropped: string[] = [];
  readonly receivedBySpi = new Map<number, number>();

  onEvent(e: IkeEndpointEvent): void {
    if (e.kind === 'child-sa-installed') {
      const inH = this.engine.addSa('inbound', e.child.inbound);
      const outH = this.engine.addSa('outbound', e.child.outbound);
      this.sas.set(e.child.inbound.spi, { inH, outH, outSpi: e.child.outbound.spi });
      if (e.outboundActive) this.current = e.child.inbound.spi;
    } else if (e.kind === 'child-sa-outbound-active') {
      this.current = e.inboundSpi;
    } else if (e.kind === 'child-sa-deleted') {
      const s = this.sas.get(e.inboundSpi);
      if (!s) return;
      this.engine.removeSa(s.inH);
      this.engine.removeSa(s.outH);
      this.sas.delete(e.inboundSpi);
      if (this.current === e.inboundSpi) this.current = [...this.sas.keys()].pop();
    }
  }

  send(packet: Uint8Array): Uint8Array | undefined {
    const s = this.current !== undefined ? this.sas.get(this.current) : undefined;
    if (!s) return undefined;
    const [r] = this.engine.encapsulate(s.outH, [packet]);
    return r?.ok ? r.bytes : undefined;
  }

  receive(bytes: Uint8Array): void {
    const [r] = this.engine.decapsulate([bytes]);
    const spi = new DataView(bytes.buffer, bytes.byteOffset + 20).getUint32(0);
    if (r?.ok) {
      this.received++;
      this.receivedBySpi.set(spi, (this.receivedBySpi.get(spi) ?? 0) + 1);
    } else this.dropped.push(`${r?.ok === false ? r.reason : '?'} spi ${spi.toString(16)}`);
  }
}

/** Runs IKE and steady traffic both ways (one packet per side every `gapUs`) until `untilUs`. */
function withTraffic(p: Pair, untilUs: number, gapUs: number, at: Record<number, () => void> = {}) {
  const dp = { a: new DataPlane(), b: new DataPlane() };
  p.onEvent = (e) => dp[e.side].onEvent(e.event);
  for (const e of p.events) dp[e.side].onEvent(e.event);
  let wire: { atUs: number; to: Side; bytes: Uint8Array }[] = [];
  let sent = 0;
  for (let t = p.nowUs; t <= untilUs; t += gapUs) {
    p.run(t);
    at[t]?.();
    for (const w of wire.filter((x) => x.atUs <= t)) dp[w.to].receive(w.bytes);
    wire = wire.filter((x) => x.atUs > t);
    for (const side of ['a', 'b'] as const) {
      const src = side === 'a' ? NET_A.addr + 5 : NET_B.addr + 7;
      const dst = side === 'a' ? NET_B.addr + 7 : NET_A.addr + 5;
      const bytes = dp[side].send(innerPacket(src, dst, sent++));
      if (bytes) wire.push({ atUs: t + LATENCY_US, to: side === 'a' ? 'b' : 'a', bytes });
      else throw new Error(`${side} has no outbound SA at ${t}`);
    }
  }
  p.run(untilUs + 10 * LATENCY_US);
  for (const w of wire) dp[w.to].receive(w.bytes);
  return { dp, sent };
}

describe('CREATE_CHILD_SA and INFORMATIONAL', () => {
  for (const pfs of [false, true])
    it(`rekey${pfs ? ' with a PFS KE' : ''} under traffic: new SA before the old one is deleted, no packet lost`, () => {
      const suites = [{ encr: 'aes-gcm-128' as const, esn: false, ...(pfs ? { pfsGroup: DH_CURVE25519 } : {}) }];
      const { a, b } = pskConfigs({ a: { childSuites: suites }, b: { childSuites: suites } });
      const p = new Pair(a, b);
      establish(p);
      const old = evs(p, 'a', 'child-sa-installed')[0]!.child;
      const start = p.nowUs;
      const { dp, sent } = withTraffic(p, start + 40_000, 200, {
        [start + 10_000]: () => p.command('a', { kind: 'sa', saId: saIdOf(p, 'a'), command: { kind: 'rekey-child', spi: old.inbound.spi } }),
      });
      expect(dp.a.dropped).toEqual([]);
      expect(dp.b.dropped).toEqual([]);
      expect(dp.a.received + dp.b.received).toBe(sent);
      // Both SAs carried traffic in both directions.
      expect(dp.b.receivedBySpi.size).toBe(2);
      expect(dp.a.receivedBySpi.size).toBe(2);

      const ia = evs(p, 'a', 'child-sa-installed');
      const ib = evs(p, 'b', 'child-sa-installed');
      expect([ia.length, ib.length]).toEqual([2, 2]);
      const na = ia[1]!;
      const nb = ib[1]!;
      expect([na.rekeyOf, na.outboundActive, nb.rekeyOf, nb.outboundActive]).toEqual([old.inbound.spi, true, old.outbound.spi, false]);
      expectPaired(na.child.outbound, nb.child.inbound);
      expectPaired(nb.child.outbound, na.child.inbound);
      expect(hex(na.child.outbound.key)).not.toBe(hex(old.outbound.key));
      // On each side: installed(new) comes before deleted(old, 'rekeyed').
      for (const side of ['a', 'b'] as const) {
        const kinds = p.events.filter((e) => e.side === side && e.event.kind.startsWith('child-sa')).map((e) => e.event.kind + ('reason' in e.event ? `:${e.event.reason}` : ''));
        expect(kinds.slice(0, 3)).toEqual(['child-sa-installed', 'child-sa-installed', side === 'a' ? 'child-sa-deleted:rekeyed' : 'child-sa-deleted:rekeyed']);
      }
      expect(evs(p, 'b', 'child-sa-outbound-active').map((e) => e.inboundSpi)).toEqual([nb.child.inbound.spi]);
      expect(exchanges(p).slice(4)).toEqual([36, 36, 37, 37]);
      // The CREATE_CHILD_SA request carries REKEY_SA and, with PFS, a KE payload.
      const keys = p.a.sa(saIdOf(p, 'a'))!.exportKeys()!;
      const req = p.captured.filter((c) => c.datagram.bytes[18] === EXCHANGE.CREATE_CHILD_SA)[0]!.datagram.bytes;
      const m = decodeMessage(req);
      const inner = m.ok ? openEncryptedMessage(req, m.value, aeadKeyFrom(keys.encr, keys.skEi)) : undefined;
      const kinds = inner?.ok ? inner.value.map((x) => (x.kind === 'notify' ? `N(${x.notifyType})` : x.kind)) : [];
      expect(kinds).toEqual([`N(${NOTIFY.REKEY_SA})`, 'sa', 'nonce', ...(pfs ? ['ke'] : []), 'ts', 'ts']);
      const rekeyN = inner?.ok ? inner.value[0] : undefined;
      expect(rekeyN?.kind === 'notify' && hex(rekeyN.spi)).toBe(hex(spiBytes(old.inbound.spi)));
    });

  it('the responder can rekey too, and Child SA lifetimes rekey automatically with no loss', () => {
    const life = { softUs: 100_000, hardUs: 200_000 };
    const { a, b } = pskConfigs({ a: { childLifetime: life }, b: { childLifetime: life } });
    const p = new Pair(a, b);
    establish(p);
    const first = evs(p, 'b', 'child-sa-installed')[0]!.child;
    p.command('b', { kind: 'sa', saId: saIdOf(p, 'b'), command: { kind: 'rekey-child', spi: first.inbound.spi } });
    const { dp, sent } = withTraffic(p, p.nowUs + 450_000, 1_000);
    expect(dp.a.dropped).toEqual([]);
    expect(dp.b.dropped).toEqual([]);
    expect(dp.a.received + dp.b.received).toBe(sent);
    const ia = evs(p, 'a', 'child-sa-installed');
    expect(ia.length).toBeGreaterThanOrEqual(4);
    expect(evs(p, 'a', 'child-sa-deleted').every((e) => e.reason === 'rekeyed')).toBe(true);
    const last = ia[ia.length - 1]!.child;
    const lastB = evs(p, 'b', 'child-sa-installed').find((e) => e.child.outbound.spi === last.inbound.spi)!.child;
    expectPaired(last.outbound, lastB.inbound);
    // At most the current SA and the one it replaces are alive at a time.
    expect(dp.a.sas.size).toBeLessThanOrEqual(2);
  });

  it('a Child SA past its hard lifetime is deleted', () => {
    const { a, b } = pskConfigs({ a: { childLifetime: { softUs: 5_000_000, hardUs: 1_000_000 } } });
    const p = new Pair(a, b);
    establish(p);
    p.run(p.nowUs + 2_000_000);
    expect(evs(p, 'a', 'child-sa-deleted').map((e) => e.reason)).toEqual(['expired']);
    expect(evs(p, 'b', 'child-sa-deleted').map((e) => e.reason)).toEqual(['deleted-remote']);
  });

  it('a second Child SA on the same IKE SA, then Delete of one Child SA and of the IKE SA', () => {
    const { a, b } = pskConfigs();
    b.peers = [{ ...b.peers[0]!, trafficPolicy: { local: [tsFromPrefix(NET_B)], remote: [tsFromPrefix(NET_A)] } }];
    const p = new Pair(a, b);
    establish(p);
    const tcp = { tsLocal: [tsFromPrefix(parsePrefix('10.1.5.0/24') as Ipv4Prefix, { ipProtocolId: 6 })], tsRemote: [tsFromPrefix(parsePrefix('10.2.9.0/24') as Ipv4Prefix, { ipProtocolId: 6, startPort: 179, endPort: 179 })] };
    p.command('a', { kind: 'request-child', peerAddr: ADDR_B, child: tcp });
    p.run();
    expect([p.a.saIds().length, p.b.saIds().length]).toEqual([1, 1]);
    const [c1, c2] = evs(p, 'a', 'child-sa-installed');
    const b2 = evs(p, 'b', 'child-sa-installed')[1]!;
    expect(c2?.child.tsRemote).toEqual(tcp.tsRemote);
    expectPaired(c2!.child.outbound, b2.child.inbound);
    expectPaired(b2.child.outbound, c2!.child.inbound);

    p.command('a', { kind: 'sa', saId: saIdOf(p, 'a'), command: { kind: 'delete-child', spi: c1!.child.inbound.spi } });
    p.run();
    expect(evs(p, 'a', 'child-sa-deleted').map((e) => [e.inboundSpi, e.reason])).toEqual([[c1!.child.inbound.spi, 'deleted-local']]);
    expect(evs(p, 'b', 'child-sa-deleted').map((e) => [e.outboundSpi, e.reason])).toEqual([[c1!.child.inbound.spi, 'deleted-remote']]);

    p.command('b', { kind: 'sa', saId: saIdOf(p, 'b'), command: { kind: 'delete-ike' } });
    p.run();
    expect(evs(p, 'b', 'ike-sa-closed').map((e) => e.by)).toEqual(['local']);
    expect(evs(p, 'a', 'ike-sa-closed').map((e) => e.by)).toEqual(['remote']);
    expect(evs(p, 'a', 'child-sa-deleted').map((e) => e.reason)).toEqual(['deleted-local', 'ike-sa-gone']);
    expect(exchanges(p)).toEqual([34, 34, 35, 35, 36, 36, 37, 37, 37, 37]);
    p.run(p.nowUs + 60_000_000);
    expect([p.a.saIds(), p.b.saIds()]).toEqual([[], []]);
  });

  it('report-invalid-spi sends N(INVALID_SPI); the peer reports it', () => {
    const { a, b } = pskConfigs();
    const p = new Pair(a, b);
    establish(p);
    p.command('a', { kind: 'sa', saId: saIdOf(p, 'a'), command: { kind: 'report-invalid-spi', spi: 0xdeadbeef } });
    p.run();
    expect(evs(p, 'b', 'invalid-spi-reported')).toEqual([{ kind: 'invalid-spi-reported', protocolId: PROTOCOL_ID.ESP, spi: 0xdeadbeef }]);
  });

  it('commands that do not fit are rejected: unknown Child SA, queue full', () => {
    const { a, b } = pskConfigs({ a: { commandQueueMax: 2 } });
    const p = new Pair(a, b);
    for (let i = 0; i < 4; i++) p.command('a', { kind: 'request-child', peerAddr: ADDR_B, child: childAtoB() });
    expect(evs(p, 'a', 'command-rejected').map((e) => e.failure.code)).toEqual(['QUEUE_FULL']);
    p.run();
    expect(evs(p, 'a', 'child-sa-installed').length).toBe(3);
    p.command('a', { kind: 'sa', saId: saIdOf(p, 'a'), command: { kind: 'rekey-child', spi: 12345 } });
    expect(evs(p, 'a', 'command-rejected').map((e) => e.failure.code)).toEqual(['QUEUE_FULL', 'BAD_COMMAND']);
  });
});

describe('bad input and the notifies it earns (RFC 7296 §2.21)', () => {
  /** Establishes a pair, then lets the test speak for `a` with a's keys, straight to b. */
  function crafted() {
    const { a, b } = pskConfigs();
    const p = new Pair(a, b);
    establish(p);
    const keys = p.a.sa(saIdOf(p, 'a'))!.exportKeys()!;
    let iv = 0xf000n;
    const send = (exchangeType: number, messageId: number, inner: Payload[], mutate?: (b: Uint8Array) => void): { tx: IkeDatagram[]; inner: Payload[][] } => {
      const ivBytes = new Uint8Array(8);
      new DataView(ivBytes.buffer).setBigUint64(0, iv++);
      const bytes = encodeEncryptedMessage({ spiI: keys.spiI, spiR: keys.spiR, exchangeType, flags: FLAG_INITIATOR, messageId }, inner, aeadKeyFrom(keys.encr, keys.skEi), ivBytes);
      mutate?.(bytes);
      p.b.handle({ kind: 'rx', datagram: { srcAddr: ADDR_A, srcPort: 500, dstAddr: ADDR_B, dstPort: 500, bytes } }, p.nowUs);
      const tx: IkeDatagram[] = [];
      for (let o = p.b.poll(); o; o = p.b.poll()) {
        if (o.kind === 'tx') tx.push(o.datagram);
        if (o.kind === 'event') p.events.push({ tUs: p.nowUs, side: 'b', saId: o.saId, event: o.event });
      }
      const opened = tx.map((d) => {
        const m = decodeMessage(d.bytes);
        const r = m.ok ? openEncryptedMessage(d.bytes, m.value, aeadKeyFrom(keys.encr, keys.skEr)) : undefined;
        return r?.ok ? r.value : [];
      });
      return { tx, inner: opened };
    };
    return { p, send };
  }
  const ts = (type: typeof PAYLOAD.TSI | typeof PAYLOAD.TSR, prefix: Ipv4Prefix): Payload => ({ kind: 'ts', type, selectors: [tsFromPrefix(prefix)] });
  const nonce = (n: number): Payload => ({ kind: 'nonce', nonce: new Uint8Array(n).fill(7) });
  const notifyTypes = (ps: Payload[]) => ps.filter((x) => x.kind === 'notify').map((x) => (x.kind === 'notify' ? x.notifyType : 0));

  it('REKEY_SA for an unknown Child SA → CHILD_SA_NOT_FOUND, the IKE SA stands', () => {
    const { p, send } = crafted();
    const r = send(EXCHANGE.CREATE_CHILD_SA, 2, [
      { kind: 'notify', protocolId: PROTOCOL_ID.ESP, spi: spiBytes(0x01020304), notifyType: NOTIFY.REKEY_SA, data: new Uint8Array(0) },
      { kind: 'sa', proposals: childOfferProposals([{ encr: 'aes-gcm-128', esn: false }], 0x11112222, true) },
      nonce(32),
      ts(PAYLOAD.TSI, NET_A),
      ts(PAYLOAD.TSR, NET_B),
    ]);
    expect(r.inner.map(notifyTypes)).toEqual([[NOTIFY.CHILD_SA_NOT_FOUND]]);
    expect(p.b.sa(saIdOf(p, 'b'))!.state).toBe('established');
  });

  it('Child SAs per IKE SA are bounded: the one too many gets NO_ADDITIONAL_SAS', () => {
    const { p, send } = crafted();
    const create = (id: number) =>
      send(EXCHANGE.CREATE_CHILD_SA, id, [
        { kind: 'sa', proposals: childOfferProposals([{ encr: 'aes-gcm-128', esn: false }], 0x1000 + id, true) },
        nonce(32),
        ts(PAYLOAD.TSI, NET_A),
        ts(PAYLOAD.TSR, NET_B),
      ]);
    for (let id = 2; id < 2 + CHILD_SAS_PER_IKE_SA_MAX - 1; id++) expect(notifyTypes(create(id).inner[0]!)).toEqual([]);
    expect(create(2 + CHILD_SAS_PER_IKE_SA_MAX - 1).inner.map(notifyTypes)).toEqual([[NOTIFY.NO_ADDITIONAL_SAS]]);
    expect(p.b.sa(saIdOf(p, 'b'))!.childSas().length).toBe(CHILD_SAS_PER_IKE_SA_MAX);
  });

  it('USE_TRANSPORT_MODE is not granted: the Child SA is tunnel mode and the answer does not echo it', () => {
    const { p, send } = crafted();
    const r = send(EXCHANGE.CREATE_CHILD_SA, 2, [
      { kind: 'notify', protocolId: 0, spi: new Uint8Array(0), notifyType: NOTIFY.USE_TRANSPORT_MODE, data: new Uint8Array(0) },
      { kind: 'sa', proposals: childOfferProposals([{ encr: 'aes-gcm-128', esn: false }], 0x11112222, true) },
      nonce(32),
      ts(PAYLOAD.TSI, NET_A),
      ts(PAYLOAD.TSR, NET_B),
    ]);
    expect(r.inner[0]!.map((x) => x.kind)).toEqual(['sa', 'nonce', 'ts', 'ts']);
    const installed = p.events.filter((e) => e.side === 'b' && e.event.kind === 'child-sa-installed');
    expect(installed.length).toBe(2);
    expect((installed[1]!.event as EvOf<'child-sa-installed'>).child.mode).toBe('tunnel');
  });

  it('a request to rekey the IKE SA is refused with NO_PROPOSAL_CHOSEN, not fatal', () => {
    const { p, send } = crafted();
    const r = send(EXCHANGE.CREATE_CHILD_SA, 2, [{ kind: 'sa', proposals: [{ number: 1, protocolId: PROTOCOL_ID.IKE, spi: new Uint8Array(8).fill(9), transforms: [] }] }, nonce(32)]);
    expect(r.inner.map(notifyTypes)).toEqual([[NOTIFY.NO_PROPOSAL_CHOSEN]]);
    expect(p.b.sa(saIdOf(p, 'b'))!.state).toBe('established');
  });

  it('an authentic but malformed request → INVALID_SYNTAX, and the IKE SA is closed', () => {
    const { p, send } = crafted();
    const r = send(EXCHANGE.INFORMATIONAL, 2, [nonce(5)]); // Nonce below 16 octets
    expect(r.inner.map(notifyTypes)).toEqual([[NOTIFY.INVALID_SYNTAX]]);
    const failed = evs(p, 'b', 'ike-sa-failed');
    expect(failed.map((e) => [e.failure.code, e.failure.notify])).toEqual([['BAD_LENGTH', NOTIFY.INVALID_SYNTAX]]);
    expect(evs(p, 'b', 'child-sa-deleted').map((e) => e.reason)).toEqual(['ike-sa-gone']);
  });

  it('an unrecognised critical payload → UNSUPPORTED_CRITICAL_PAYLOAD naming its type (§2.5)', () => {
    const { send } = crafted();
    const r = send(EXCHANGE.INFORMATIONAL, 2, [{ kind: 'opaque', type: 200, critical: true, body: fromHex('0102') }]);
    const n = r.inner[0]![0];
    expect(n?.kind === 'notify' && [n.notifyType, hex(n.data)]).toEqual([NOTIFY.UNSUPPORTED_CRITICAL_PAYLOAD, 'c8']);
    // A non-critical unknown payload is skipped: the answer is an empty INFORMATIONAL.
    expect(send(EXCHANGE.INFORMATIONAL, 3, [{ kind: 'opaque', type: 200, body: fromHex('0102') }]).inner).toEqual([[]]);
  });

  it('a request beyond the window is not answered; an INVALID_MESSAGE_ID notification goes out instead (§2.3)', () => {
    const { send } = crafted();
    const r = send(EXCHANGE.INFORMATIONAL, 7, []);
    expect(r.tx.length).toBe(1);
    const h = r.tx[0]!.bytes;
    expect([h[18], h[19]! & FLAG_RESPONSE]).toEqual([EXCHANGE.INFORMATIONAL, 0]);
    const n = r.inner[0]![0];
    expect(n?.kind === 'notify' && [n.notifyType, hex(n.data)]).toEqual([NOTIFY.INVALID_MESSAGE_ID, '00000007']);
    // Rate limited: a second one right away gets nothing.
    expect(send(EXCHANGE.INFORMATIONAL, 8, []).tx.length).toBe(0);
  });

  it('a forged message (bad ICV) is dropped without an answer and counted', () => {
    const { p, send } = crafted();
    const r = send(EXCHANGE.INFORMATIONAL, 2, [], (b) => {
      b[b.length - 1]! ^= 0x80;
    });
    expect(r.tx).toEqual([]);
    expect(p.b.sa(saIdOf(p, 'b'))!.counters.rxDropped.INTEGRITY).toBe(1);
  });

  it('datagrams with unknown SPIs or broken headers are counted by the endpoint', () => {
    const { a, b } = pskConfigs();
    const p = new Pair(a, b);
    const junk = fromHex(`0102030405060708 1112131415161718 00 20 25 08 00000000 0000001c`);
    p.b.handle({ kind: 'rx', datagram: { srcAddr: ADDR_A, srcPort: 500, dstAddr: ADDR_B, dstPort: 500, bytes: junk } }, 0);
    p.b.handle({ kind: 'rx', datagram: { srcAddr: ADDR_A, srcPort: 500, dstAddr: ADDR_B, dstPort: 500, bytes: junk.subarray(0, 10) } }, 0);
    expect(p.b.counters.rxDropped).toEqual({ UNKNOWN_SPI: 1, TRUNCATED: 1 });
  });

  it('half-open SAs are bounded and time out', () => {
    const { a, b } = pskConfigs({ b: { halfOpenMax: 2 } });
    const p = new Pair(a, b);
    p.command('a', { kind: 'request-child', peerAddr: ADDR_B, child: childAtoB() });
    const init = p.captured[0]!.datagram;
    for (let i = 1; i <= 3; i++) {
      const bytes = init.bytes.slice();
      bytes[7] = i; // another SPIi: another initiator
      p.b.handle({ kind: 'rx', datagram: { ...init, bytes } }, 0);
    }
    expect(p.b.counters.rxDropped.HALF_OPEN_FULL).toBe(1);
    expect(p.b.saIds().length).toBe(2);
    p.a.handle({ kind: 'command', command: { kind: 'sa', saId: saIdOf(p, 'a'), command: { kind: 'delete-ike' } } }, 0);
    p.run();
    expect(p.b.saIds()).toEqual([]);
    expect(p.events.filter((e) => e.side === 'b' && e.event.kind === 'ike-sa-failed').length).toBe(2);
  });

  it('mutated datagrams from a real run never make either endpoint throw (property)', () => {
    const { a, b } = pskConfigs();
    const ref = new Pair(a, b, 9);
    establish(ref);
    ref.command('a', { kind: 'sa', saId: saIdOf(ref, 'a'), command: { kind: 'rekey-child', spi: evs(ref, 'a', 'child-sa-installed')[0]!.child.inbound.spi } });
    ref.run();
    const corpus = ref.captured.map((c) => c);
    fc.assert(
      fc.property(fc.nat({ max: corpus.length - 1 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }), fc.boolean(), (i, flips, cut) => {
        const c = corpus[i]!;
        let bytes = c.datagram.bytes.slice();
        for (const [at, v] of flips) bytes[at % bytes.length] = v;
        if (cut) bytes = bytes.slice(0, flips[0]![0] % bytes.length);
        const fresh = new Pair(a, b, 9);
        establish(fresh);
        const to = c.from === 'a' ? fresh.b : fresh.a;
        to.handle({ kind: 'rx', datagram: { ...c.datagram, bytes } }, fresh.nowUs);
        fresh.run();
        const untouched = new Pair(a, b, 10);
        untouched.b.handle({ kind: 'rx', datagram: { ...c.datagram, bytes } }, 0);
        untouched.run();
      }),
      { numRuns: 150 },
    );
  });
});

describe('IkeSa on its own, and API misuse', () => {
  it('two IkeSa machines talk without an endpoint (standalone context)', () => {
    const base = {
      localPort: 500,
      remotePort: 500,
      ikeProposal: { encrs: ['aes-gcm-128' as const], prfs: [PRF_HMAC_SHA2_256], dhGroups: [DH_CURVE25519] },
      childSuites: [{ encr: 'aes-gcm-128' as const, esn: false }],
      timing: IKE_TIMING_DEFAULT,
      replayWindow: 64,
      commandQueueMax: 4,
    };
    const { a: ca, b: cb } = pskConfigs();
    const init = new IkeSa({ ...base, role: 'initiator', localAddr: ADDR_A, remoteAddr: ADDR_B, localId: ID_A, peer: ca.peers[0]! }, standaloneContext(new Pcg32(1n, 1n)));
    const resp = new IkeSa({ ...base, role: 'responder', localAddr: ADDR_B, remoteAddr: ADDR_A, localId: ID_B, findPeer: () => cb.peers[0]! }, standaloneContext(new Pcg32(1n, 2n)));
    init.handle({ kind: 'command', command: { kind: 'create-child', child: childAtoB() } }, 0);
    const states: string[] = [];
    for (let i = 0, t = 0; i < 10; i++, t += 1000) {
      for (const [from, to] of [[init, resp], [resp, init]] as const)
        for (let o = from.poll(); o; o = from.poll()) if (o.kind === 'tx') to.handle({ kind: 'rx', datagram: o.datagram }, t);
      states.push(`${init.state}/${resp.state}`);
    }
    expect(states[states.length - 1]).toBe('established/established');
    expect(init.childSas()[0]!.outbound.spi).toBe(resp.childSas()[0]!.inbound.spi);
    expect(() => init.handle({ kind: 'timer' }, 5)).toThrow(/time ran backwards/);
  });

  it('the endpoint refuses configurations it cannot honour', () => {
    const { a } = pskConfigs();
    const make = (over: Partial<IkeEndpointConfig>) => () => new IkeEndpoint({ ...a, ...over }, new Pcg32(1n));
    expect(make({ ikeProposal: { encrs: ['aes-gcm-128'], prfs: [2], dhGroups: [DH_CURVE25519] } })).toThrow(RangeError);
    expect(make({ ikeProposal: { encrs: ['aes-gcm-128'], prfs: [PRF_HMAC_SHA2_256], dhGroups: [14] } })).toThrow(RangeError);
    expect(make({ childSuites: [{ encr: 'aes-gcm-128', esn: false, pfsGroup: 14 }] })).toThrow(RangeError);
    expect(make({ peers: [{ ...a.peers[0]!, credential: { method: 'ed25519', publicKey: new Uint8Array(32) } }] })).toThrow(RangeError);
    expect(make({})).not.toThrow();
  });
});

describe('determinism', () => {
  it('the same seed gives byte-identical datagrams; another seed does not', () => {
    const run = (seed: number) => {
      const { a, b } = pskConfigs();
      const p = new Pair(a, b, seed);
      establish(p);
      return p.captured.map((c) => hex(c.datagram.bytes)).join('|');
    };
    expect(run(5)).toBe(run(5));
    expect(run(5)).not.toBe(run(6));
    expect(equalBytes(fromHex('00'), fromHex('00'))).toBe(true);
  });
});
