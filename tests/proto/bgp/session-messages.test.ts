// One BgpSession fed hand-built peer bytes: OPEN negotiation errors, header, UPDATE and FSM errors
// (RFC 4271 §6, RFC 7606, RFC 6608), ROUTE-REFRESH, framing in any split, and fuzzing that never throws.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { concat, fromHex, hex } from '../../../src/lib/bytes.ts';
import { parseIpv4 } from '../../../src/lib/addr.ts';
import { AssertionError } from '../../../src/lib/errors.ts';
import {
  AS2_CONTEXT,
  AS4_CONTEXT,
  CEASE,
  ERROR_CODE,
  FINITE_STATE_MACHINE_ERROR,
  KEEPALIVE,
  MESSAGE_HEADER_ERROR,
  OPEN_MESSAGE_ERROR,
  UPDATE_MESSAGE_ERROR,
  attribute,
  decodeMessage,
  encodeCapabilities,
  encodeMessage,
  isKnownError,
  messageLength,
  multiprotocol,
  openMessage,
  type BgpMessage,
  type Capability,
  type UpdateMessage,
} from '../../../src/proto/bgp/index.ts';
import { BgpSession, checkSessionConfig, type BgpSessionConfig, type BgpSessionInput, type BgpSessionOutput } from '../../../src/proto/bgp/session.ts';
import { frame, messageArb, updateArb, updateBytes } from './arbitraries.ts';

const S = 1_000_000;
const ip = (s: string): number => parseIpv4(s)!;
const PEER = 'peer';

const LOCAL: BgpSessionConfig = {
  name: 'r1',
  localAs: 65001,
  bgpIdentifier: ip('10.0.0.1'),
  peerAs: 65002,
  passive: true,
  automaticRestart: false,
  families: ['ipv4-unicast', 'vpn-ipv4'],
};

const PEER_CAPS: Capability[] = [multiprotocol('ipv4-unicast'), multiprotocol('vpn-ipv4'), { type: 'ROUTE_REFRESH' }, { type: 'FOUR_OCTET_AS', asNumber: 65002 }];

function peerOpen(o: Partial<{ asNumber: number; holdTimeS: number; bgpIdentifier: number; capabilities: Capability[] }> = {}): Uint8Array {
  return encodeMessage(openMessage({ asNumber: 65002, holdTimeS: 90, bgpIdentifier: ip('10.0.0.2'), capabilities: PEER_CAPS, ...o }), AS4_CONTEXT);
}
const KEEPALIVE_BYTES = encodeMessage(KEEPALIVE, AS4_CONTEXT);

/** Drives one session: inputs at a virtual time, outputs collected. */
class Driver {
  readonly s: BgpSession;
  nowUs = 0;
  readonly outs: BgpSessionOutput[] = [];

  constructor(cfg: Partial<BgpSessionConfig> = {}) {
    this.s = new BgpSession({ ...LOCAL, ...cfg });
  }

  feed(input: BgpSessionInput, atUs = this.nowUs): BgpSessionOutput[] {
    this.nowUs = atUs;
    this.s.handle(input, atUs);
    const got: BgpSessionOutput[] = [];
    for (let o = this.s.poll(); o; o = this.s.poll()) got.push(o);
    this.outs.push(...got);
    return got;
  }

  bytes(b: Uint8Array | string, atUs = this.nowUs): BgpSessionOutput[] {
    return this.feed({ kind: 'bytes', connId: PEER, bytes: typeof b === 'string' ? fromHex(b) : b }, atUs);
  }

  /** Fires every deadline up to `toUs`. */
  advance(toUs: number): BgpSessionOutput[] {
    const got: BgpSessionOutput[] = [];
    for (let i = 0; i < 100_000; i++) {
      const d = this.s.nextDeadlineUs();
      if (d === undefined || d > toUs) {
        this.nowUs = toUs;
        return got;
      }
      got.push(...this.feed({ kind: 'timer' }, d));
    }
    throw new Error('livelock');
  }
}

/** A session with the peer's connection up and our OPEN sent. */
function openSent(cfg: Partial<BgpSessionConfig> = {}): Driver {
  const d = new Driver(cfg);
  d.feed({ kind: 'start' });
  const got = d.feed({ kind: 'transport-connected', connId: PEER });
  expect(sentMessages(got).map((m) => m.type)).toEqual(['OPEN']);
  expect(d.s.state).toBe('OpenSent');
  return d;
}

function established(cfg: Partial<BgpSessionConfig> = {}, open: Parameters<typeof peerOpen>[0] = {}): Driver {
  const d = openSent(cfg);
  d.bytes(concat(peerOpen(open), KEEPALIVE_BYTES), 1_000);
  expect(d.s.state).toBe('Established');
  return d;
}

function sentMessages(outs: readonly BgpSessionOutput[]): BgpMessage[] {
  return outs.flatMap((o) => {
    if (o.kind !== 'send') return [];
    const r = decodeMessage(o.bytes, AS4_CONTEXT);
    if (!r.ok) throw new Error(`session sent undecodable bytes: ${r.error}`);
    return [r.value.message];
  });
}

function notifications(outs: readonly BgpSessionOutput[]): { code: number; subcode: number; data: string }[] {
  return sentMessages(outs).flatMap((m) => (m.type === 'NOTIFICATION' ? [{ code: m.errorCode, subcode: m.errorSubcode, data: hex(m.data) }] : []));
}

function of<K extends BgpSessionOutput['kind']>(outs: readonly BgpSessionOutput[], kind: K): Extract<BgpSessionOutput, { kind: K }>[] {
  return outs.filter((o) => o.kind === kind) as Extract<BgpSessionOutput, { kind: K }>[];
}

/** The reset shape: one NOTIFICATION, the connection closed, one `down`, and Idle. */
function expectReset(d: Driver, outs: BgpSessionOutput[], code: number, subcode: number, data = ''): void {
  expect(notifications(outs)).toEqual([{ code, subcode, data }]);
  expect(of(outs, 'close').map((c) => c.connId)).toEqual([PEER]);
  const downs = of(outs, 'down');
  expect(downs).toHaveLength(1);
  expect(downs[0]!.notification).toMatchObject({ direction: 'sent', errorCode: code, errorSubcode: subcode });
  expect(d.s.state).toBe('Idle');
  // The close comes after the NOTIFICATION, so the peer reads it before the FIN.
  const sendAt = outs.findIndex((o) => o.kind === 'send');
  const closeAt = outs.findIndex((o) => o.kind === 'close');
  expect(sendAt).toBeLessThan(closeAt);
}

const ORIGIN_IGP = '40010100';
const AS_PATH_65002 = '40020602010000fdea'; // AS_SEQUENCE [65002], 4-octet
const NEXT_HOP = '4003040a000002';
const NLRI_24 = '18c00002'; // 192.0.2.0/24

const validUpdate: UpdateMessage = {
  type: 'UPDATE',
  withdrawnRoutes: [],
  pathAttributes: [attribute('ORIGIN', 0), attribute('AS_PATH', [{ type: 2, asNumbers: [65002] }]), attribute('NEXT_HOP', ip('10.0.0.2'))],
  nlri: [{ family: 4, addr: ip('192.0.2.0'), len: 24 }],
};

describe('configuration (RFC 4271 §4.2, §6.2)', () => {
  it('hold time 1 or 2 is rejected, 0 and 3 accepted', () => {
    expect(() => new BgpSession({ ...LOCAL, holdTimeS: 1 })).toThrow(RangeError);
    expect(() => new BgpSession({ ...LOCAL, holdTimeS: 2 })).toThrow(RangeError);
    expect(checkSessionConfig({ ...LOCAL, holdTimeS: 0 })).toBeUndefined();
    expect(checkSessionConfig({ ...LOCAL, holdTimeS: 3 })).toBeUndefined();
    expect(checkSessionConfig({ ...LOCAL, bgpIdentifier: 0 })).toMatch(/RFC 6286/);
    expect(checkSessionConfig({ ...LOCAL, localAs: 4200000000, fourOctetAs: false })).toMatch(/4-octet/);
  });

  it('time never runs backwards (an assertion: a bug in the caller)', () => {
    const d = new Driver();
    d.feed({ kind: 'timer' }, 10);
    expect(() => d.s.handle({ kind: 'timer' }, 9)).toThrow(AssertionError);
  });
});

describe('OPEN negotiation and OPEN Message Errors (RFC 4271 §6.2)', () => {
  it('Established: hold time is the smaller, keepalive a third, families and capabilities intersected', () => {
    const d = established({ holdTimeS: 180 }, { holdTimeS: 60, capabilities: [multiprotocol('vpn-ipv4'), multiprotocol('rt-membership'), { type: 'FOUR_OCTET_AS', asNumber: 65002 }] });
    const e = of(d.outs, 'established');
    expect(e).toHaveLength(1);
    expect(e[0]!.peer).toMatchObject({ holdTimeS: 60, keepaliveTimeS: 20, peerHoldTimeS: 60, families: ['vpn-ipv4'], routeRefresh: false, as4: true, asNumber: 65002 });
    // OpenSent → OpenConfirm sends one KEEPALIVE; the Hold Timer now runs at 60 s from the KEEPALIVE.
    expect(sentMessages(d.outs).map((m) => m.type)).toEqual(['OPEN', 'KEEPALIVE']);
    expect(d.s.snapshot().connections[0]!.holdDeadlineUs).toBe(1_000 + 60 * S);
  });

  it('a peer without the 4-octet AS capability: 2-octet AS_PATH decoding (RFC 6793 §4.1)', () => {
    const d = established({}, { capabilities: [multiprotocol('ipv4-unicast')] });
    expect(d.s.peer).toMatchObject({ as4: false, families: ['ipv4-unicast'] });
    const got = d.bytes(encodeMessage(validUpdate, AS2_CONTEXT));
    expect(of(got, 'update')[0]!.message).toMatchObject(validUpdate);
  });

  it('bad peer AS, 2-octet: subcode 2, data = the My Autonomous System field', () => {
    const d = openSent();
    expectReset(d, d.bytes(peerOpen({ asNumber: 65003, capabilities: [] })), ERROR_CODE.OPEN_MESSAGE_ERROR, OPEN_MESSAGE_ERROR.BAD_PEER_AS, 'fdeb');
    expect(of(d.outs, 'down')[0]).toMatchObject({ reason: 'message-error', fault: 'remote', wasEstablished: false });
  });

  it('bad peer AS, 4-octet: subcode 2, data = the AS of the capability', () => {
    const d = openSent({ peerAs: 4200000000 });
    expectReset(d, d.bytes(peerOpen({ asNumber: 4200000001, capabilities: [{ type: 'FOUR_OCTET_AS', asNumber: 4200000001 }] })), 2, 2, 'fa56ea01');
  });

  it('unsupported version: subcode 1, data = the version we speak (2 octets)', () => {
    const d = openSent();
    expectReset(d, d.bytes(frame(1, fromHex('03fdea005a0a00000200'))), 2, OPEN_MESSAGE_ERROR.UNSUPPORTED_VERSION_NUMBER, '0004');
  });

  it('hold time 1 or 2: Unacceptable Hold Time (subcode 6)', () => {
    for (const h of [1, 2]) {
      const d = openSent();
      expectReset(d, d.bytes(frame(1, fromHex(`04fdea000${h}0a00000200`))), 2, OPEN_MESSAGE_ERROR.UNACCEPTABLE_HOLD_TIME);
    }
    const d = openSent({ minHoldTimeS: 30 });
    expectReset(d, d.bytes(peerOpen({ holdTimeS: 10 })), 2, 6);
  });

  it('BGP Identifier 0, or ours from an internal peer: Bad BGP Identifier (RFC 6286 §2.2)', () => {
    const d = openSent();
    expectReset(d, d.bytes(frame(1, fromHex('04fdea005a0000000000'))), 2, OPEN_MESSAGE_ERROR.BAD_BGP_IDENTIFIER);
    const ibgp = openSent({ peerAs: 65001 });
    expectReset(ibgp, ibgp.bytes(peerOpen({ asNumber: 65001, bgpIdentifier: ip('10.0.0.1'), capabilities: [] })), 2, 3);
    // The same identifier from an external peer is allowed.
    const ebgp = established({}, { bgpIdentifier: ip('10.0.0.1') });
    expect(ebgp.s.peer?.internal).toBe(false);
  });

  it('an unknown optional parameter: subcode 4', () => {
    const d = openSent();
    expectReset(d, d.bytes(frame(1, fromHex('04fdea005a0a00000203' + '0101ff'))), 2, OPEN_MESSAGE_ERROR.UNSUPPORTED_OPTIONAL_PARAMETER);
  });

  it('a required capability missing: Unsupported Capability (RFC 5492 §3) with the capability as data', () => {
    const need: Capability[] = [multiprotocol('rt-membership')];
    const d = openSent({ requiredCapabilities: need });
    expectReset(d, d.bytes(peerOpen()), 2, OPEN_MESSAGE_ERROR.UNSUPPORTED_CAPABILITY, hex(encodeCapabilities(need)));
  });

  it('no OPEN within the OpenSent hold time (4 minutes): Hold Timer Expired', () => {
    const d = openSent();
    expect(d.advance(239 * S)).toEqual([]);
    expectReset(d, d.advance(240 * S), ERROR_CODE.HOLD_TIMER_EXPIRED, 0);
  });

  it('no KEEPALIVE in OpenConfirm within the negotiated hold time: Hold Timer Expired, with KEEPALIVEs sent meanwhile', () => {
    const d = openSent({ holdTimeS: 9 });
    d.bytes(peerOpen(), 0);
    expect(d.s.state).toBe('OpenConfirm');
    const outs = d.advance(9 * S);
    expect(sentMessages(outs).map((m) => m.type)).toEqual(['KEEPALIVE', 'KEEPALIVE', 'NOTIFICATION']);
    expect(d.s.state).toBe('Idle');
  });
});

describe('Message Header Errors (RFC 4271 §6.1)', () => {
  const keepalive = hex(KEEPALIVE_BYTES);
  const cases: [string, string, number, string][] = [
    ['marker not all ones', `00${keepalive.slice(2)}`, MESSAGE_HEADER_ERROR.CONNECTION_NOT_SYNCHRONIZED, ''],
    ['length 5000', `${'ff'.repeat(16)}138804`, MESSAGE_HEADER_ERROR.BAD_MESSAGE_LENGTH, '1388'],
    ['length 18', `${'ff'.repeat(16)}001204`, MESSAGE_HEADER_ERROR.BAD_MESSAGE_LENGTH, '0012'],
    ['KEEPALIVE of 20 octets', `${'ff'.repeat(16)}001404aa`, MESSAGE_HEADER_ERROR.BAD_MESSAGE_LENGTH, '0014'],
    ['type 9', `${'ff'.repeat(16)}001309`, MESSAGE_HEADER_ERROR.BAD_MESSAGE_TYPE, '09'],
    ['UPDATE shorter than 23', `${'ff'.repeat(16)}00150200 00`.replace(' ', ''), MESSAGE_HEADER_ERROR.BAD_MESSAGE_LENGTH, '0015'],
  ];
  for (const [name, bytes, subcode, data] of cases) {
    it(`${name} → 1/${subcode} in Established, and in OpenSent`, () => {
      const d = established();
      expectReset(d, d.bytes(bytes), ERROR_CODE.MESSAGE_HEADER_ERROR, subcode, data);
      expect(of(d.outs, 'down')[0]).toMatchObject({ reason: 'message-error', fault: 'remote', wasEstablished: true });
      const o = openSent();
      expectReset(o, o.bytes(bytes), ERROR_CODE.MESSAGE_HEADER_ERROR, subcode, data);
    });
  }

  it('a bad header after good messages in the same chunk: the good ones are handled first', () => {
    const d = established();
    const got = d.bytes(concat(encodeMessage(validUpdate, AS4_CONTEXT), KEEPALIVE_BYTES, fromHex(`${'ff'.repeat(16)}001309`), encodeMessage(validUpdate, AS4_CONTEXT)));
    expect(of(got, 'update')).toHaveLength(1);
    expect(notifications(got)).toEqual([{ code: 1, subcode: 3, data: '09' }]);
  });
});

describe('UPDATE Message Errors (RFC 4271 §6.3, RFC 7606)', () => {
  it('withdrawn routes length overrunning the message: Malformed Attribute List, reset', () => {
    const d = established();
    expectReset(d, d.bytes(frame(2, fromHex('ffff0000'))), ERROR_CODE.UPDATE_MESSAGE_ERROR, UPDATE_MESSAGE_ERROR.MALFORMED_ATTRIBUTE_LIST);
  });

  it('an NLRI prefix of length 33: Invalid Network Field, reset (RFC 7606 §5.3)', () => {
    const d = established();
    expectReset(d, d.bytes(updateBytes('', ORIGIN_IGP + AS_PATH_65002 + NEXT_HOP, '21c0000201')), 3, UPDATE_MESSAGE_ERROR.INVALID_NETWORK_FIELD);
  });

  it('an unrecognized well-known attribute: subcode 2 with the attribute as data, reset', () => {
    const d = established();
    expectReset(d, d.bytes(updateBytes('', ORIGIN_IGP + AS_PATH_65002 + NEXT_HOP + '40630100', NLRI_24)), 3, UPDATE_MESSAGE_ERROR.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE, '40630100');
  });

  it('MP_REACH_NLRI twice: Malformed Attribute List, reset (RFC 7606 §3 g)', () => {
    const mp = '800e11000180' + '0c' + '0000000000000000' + '0a000001' + '00';
    const d = established();
    expectReset(d, d.bytes(updateBytes('', ORIGIN_IGP + AS_PATH_65002 + mp + mp)), 3, UPDATE_MESSAGE_ERROR.MALFORMED_ATTRIBUTE_LIST);
  });

  it('an invalid ORIGIN: handed up as treat-as-withdraw, the session stays up and the Hold Timer restarts', () => {
    const d = established();
    const got = d.bytes(updateBytes('', '40010105' + AS_PATH_65002 + NEXT_HOP, NLRI_24), 30 * S);
    expect(notifications(got)).toEqual([]);
    const u = of(got, 'update');
    expect(u).toHaveLength(1);
    expect(u[0]!.treatAsWithdraw).toBe(true);
    expect(u[0]!.error).toMatchObject({ errorCode: 3, errorSubcode: UPDATE_MESSAGE_ERROR.INVALID_ORIGIN_ATTRIBUTE, severity: 'treat-as-withdraw' });
    expect(u[0]!.message.nlri).toEqual([{ family: 4, addr: ip('192.0.2.0'), len: 24 }]);
    expect(d.s.state).toBe('Established');
    expect(d.s.snapshot().connections[0]!.holdDeadlineUs).toBe(30 * S + 90 * S);
    expect(d.s.stats.updatesTreatedAsWithdraw).toBe(1);
  });

  it('a missing well-known mandatory attribute: treat-as-withdraw (RFC 7606 §3 d)', () => {
    const d = established();
    const u = of(d.bytes(updateBytes('', AS_PATH_65002 + NEXT_HOP, NLRI_24)), 'update');
    expect(u[0]).toMatchObject({ treatAsWithdraw: true, error: { errorSubcode: UPDATE_MESSAGE_ERROR.MISSING_WELL_KNOWN_ATTRIBUTE } });
    expect(d.s.state).toBe('Established');
  });

  it('a malformed ATOMIC_AGGREGATE: attribute discard, the routes stay (RFC 7606 §7.6)', () => {
    const d = established();
    const u = of(d.bytes(updateBytes('', ORIGIN_IGP + AS_PATH_65002 + NEXT_HOP + '40060100', NLRI_24)), 'update');
    expect(u).toHaveLength(1);
    expect(u[0]!.treatAsWithdraw).toBe(false);
    expect(u[0]!.errors.map((e) => e.severity)).toEqual(['attribute-discard']);
    expect(u[0]!.message.pathAttributes.map((a) => a.type)).toEqual(['ORIGIN', 'AS_PATH', 'NEXT_HOP']);
    expect(d.s.state).toBe('Established');
  });

  it('a bad MP_REACH_NLRI next hop length: AFI/SAFI disable, later routes of that family stripped (RFC 7606 §7.11, RFC 4760 §7)', () => {
    const d = established();
    const badMp = '800e09000180' + '04' + '0a000001' + '00';
    const got = d.bytes(updateBytes('', ORIGIN_IGP + AS_PATH_65002 + badMp));
    const disabled = of(got, 'family-disabled');
    expect(disabled).toHaveLength(1);
    expect(disabled[0]).toMatchObject({ afi: 1, safi: 128, family: 'vpn-ipv4' });
    expect(notifications(got)).toEqual([]);
    const vpnUpdate: UpdateMessage = {
      type: 'UPDATE',
      withdrawnRoutes: [],
      pathAttributes: [
        attribute('MP_REACH_NLRI', { family: 'vpn-ipv4', nextHop: ip('10.0.0.2'), nlri: [{ labels: [16], rd: { type: 0, administrator: 65002, assignedNumber: 1 }, prefix: { family: 4, addr: ip('10.1.1.0'), len: 24 } }] }),
        attribute('ORIGIN', 0),
        attribute('AS_PATH', [{ type: 2, asNumbers: [65002] }]),
      ],
      nlri: [],
    };
    // Only VPN-IPv4 reachability: nothing left to hand up.
    expect(of(d.bytes(encodeMessage(vpnUpdate, AS4_CONTEXT)), 'update')).toEqual([]);
    // VPN-IPv4 alongside IPv4 NLRI: the IPv4 part goes up without the MP attribute.
    const mixed = of(d.bytes(encodeMessage({ ...vpnUpdate, pathAttributes: [...vpnUpdate.pathAttributes, attribute('NEXT_HOP', ip('10.0.0.2'))], nlri: validUpdate.nlri }, AS4_CONTEXT)), 'update');
    expect(mixed).toHaveLength(1);
    expect(mixed[0]!.message.pathAttributes.map((a) => a.type)).toEqual(['ORIGIN', 'AS_PATH', 'NEXT_HOP']);
    expect(d.s.state).toBe('Established');
  });
});

describe('Finite State Machine Errors (RFC 4271 §6.6, RFC 6608)', () => {
  it('KEEPALIVE in OpenSent: subcode 1', () => {
    const d = openSent();
    expectReset(d, d.bytes(KEEPALIVE_BYTES), ERROR_CODE.FINITE_STATE_MACHINE_ERROR, FINITE_STATE_MACHINE_ERROR.RECEIVE_UNEXPECTED_MESSAGE_IN_OPENSENT);
    expect(of(d.outs, 'down')[0]).toMatchObject({ reason: 'fsm-error', fault: 'remote' });
  });

  it('UPDATE or ROUTE-REFRESH in OpenConfirm: subcode 2', () => {
    for (const m of [encodeMessage(validUpdate, AS4_CONTEXT), frame(5, fromHex('00010001'))]) {
      const d = openSent();
      d.bytes(peerOpen());
      expect(d.s.state).toBe('OpenConfirm');
      expectReset(d, d.bytes(m), 5, FINITE_STATE_MACHINE_ERROR.RECEIVE_UNEXPECTED_MESSAGE_IN_OPENCONFIRM);
    }
  });

  it('OPEN in Established, valid or not: subcode 3', () => {
    const d = established();
    expectReset(d, d.bytes(peerOpen()), 5, FINITE_STATE_MACHINE_ERROR.RECEIVE_UNEXPECTED_MESSAGE_IN_ESTABLISHED);
    const e = established();
    expectReset(e, e.bytes(frame(1, fromHex('03fdea005a0a00000200'))), 5, 3);
    // Fuzz-found: an OPEN whose Optional Parameters Length disagrees with its Length reads as a
    // header error to the codec, but in Established any OPEN is the FSM error.
    const f = established();
    expectReset(f, f.bytes(frame(1, fromHex('04000100000000000100ff'))), 5, 3);
  });
});

describe('NOTIFICATION received', () => {
  it('in Established: down, no NOTIFICATION back, the peer blamed for a Cease', () => {
    const d = established();
    const got = d.bytes(frame(3, fromHex('0604')));
    expect(notifications(got)).toEqual([]);
    expect(of(got, 'close').map((c) => c.connId)).toEqual([PEER]);
    expect(of(got, 'down')[0]).toMatchObject({ reason: 'notification-received', fault: 'remote', wasEstablished: true, notification: { direction: 'received', errorCode: 6, errorSubcode: CEASE.ADMINISTRATIVE_RESET } });
    expect(d.s.state).toBe('Idle');
  });

  it('in OpenSent: a version error does not count against ConnectRetryCounter (Event 24), others do (Event 25)', () => {
    const v = openSent();
    v.bytes(frame(3, fromHex('02010004')));
    expect(v.s.state).toBe('Idle');
    expect(v.s.connectRetryCounter).toBe(0);
    const n = openSent();
    n.bytes(frame(3, fromHex('0203')));
    expect(n.s.connectRetryCounter).toBe(1);
    expect(notifications(n.outs)).toEqual([]);
  });
});

describe('ROUTE-REFRESH (RFC 2918)', () => {
  it('for a family we advertised: handed up, Hold Timer restarted; for another: ignored', () => {
    const d = established();
    const got = d.bytes(frame(5, fromHex('00010080')), 5 * S);
    expect(of(got, 'route-refresh')).toEqual([{ kind: 'route-refresh', afi: 1, safi: 128, family: 'vpn-ipv4' }]);
    expect(d.s.snapshot().connections[0]!.holdDeadlineUs).toBe(95 * S);
    expect(of(d.bytes(frame(5, fromHex('00010084'))), 'route-refresh')).toEqual([]);
    expect(d.s.state).toBe('Established');
  });

  it('our request goes out only when the peer offered the capability and the family', () => {
    const d = established();
    expect(sentMessages(d.feed({ kind: 'route-refresh', afi: 1, safi: 128 }))).toEqual([{ type: 'ROUTE-REFRESH', afi: 1, reserved: 0, safi: 128 }]);
    expect(sentMessages(d.feed({ kind: 'route-refresh', afi: 1, safi: 132 }))).toEqual([]);
    const n = established({}, { capabilities: [multiprotocol('vpn-ipv4'), { type: 'FOUR_OCTET_AS', asNumber: 65002 }] });
    expect(sentMessages(n.feed({ kind: 'route-refresh', afi: 1, safi: 128 }))).toEqual([]);
    expect(n.s.stats.requestsDropped).toBe(1);
  });
});

describe('sending, framing, connections', () => {
  it('send-update before Established is dropped; in Established it goes out and restarts the KeepaliveTimer', () => {
    const o = openSent();
    expect(o.feed({ kind: 'send-update', message: validUpdate })).toEqual([expect.objectContaining({ kind: 'log' })]);
    const d = established();
    const before = d.s.snapshot().connections[0]!.keepaliveDeadlineUs!;
    const got = d.feed({ kind: 'send-update', message: validUpdate }, 20 * S);
    expect(sentMessages(got)).toEqual([expect.objectContaining({ type: 'UPDATE', nlri: validUpdate.nlri })]);
    expect(d.s.snapshot().connections[0]!.keepaliveDeadlineUs).toBe(20 * S + 30 * S);
    expect(before).toBe(1_000 + 30 * S);
    const raw = encodeMessage(validUpdate, AS4_CONTEXT);
    expect(of(d.feed({ kind: 'send-update', bytes: raw }), 'send')[0]!.bytes).toBe(raw);
    expect(() => d.s.handle({ kind: 'send-update', bytes: KEEPALIVE_BYTES }, d.nowUs)).toThrow(AssertionError);
  });

  it('a stream split at every byte gives the same outputs as one chunk', () => {
    const stream = concat(peerOpen(), KEEPALIVE_BYTES, encodeMessage(validUpdate, AS4_CONTEXT), frame(5, fromHex('00010001')), KEEPALIVE_BYTES, encodeMessage(validUpdate, AS4_CONTEXT));
    const whole = openSent();
    whole.bytes(stream);
    const split = openSent();
    for (const b of stream) split.bytes(Uint8Array.of(b));
    const shape = (outs: BgpSessionOutput[]): unknown[] => outs.filter((o) => o.kind !== 'log').map((o) => (o.kind === 'send' ? hex(o.bytes) : o));
    expect(shape(split.outs)).toEqual(shape(whole.outs));
    expect(of(whole.outs, 'update')).toHaveLength(2);
    expect(of(whole.outs, 'route-refresh')).toHaveLength(1);
  });

  it('bytes after a reset, for a closed connection, are ignored', () => {
    const d = established();
    expectReset(d, d.bytes(new Uint8Array(19)), 1, 1);
    d.bytes(encodeMessage(validUpdate, AS4_CONTEXT));
    expect(of(d.outs, 'update')).toEqual([]);
    expect(d.s.stats.staleInputs).toBeGreaterThanOrEqual(1);
  });

  it('a third connection is refused; Idle refuses connections', () => {
    const d = new Driver();
    expect(d.feed({ kind: 'transport-connected', connId: 'x' })).toContainEqual({ kind: 'close', connId: 'x' });
    d.feed({ kind: 'start' });
    d.feed({ kind: 'transport-connected', connId: 'one' });
    d.feed({ kind: 'transport-connected', connId: 'two' });
    expect(d.s.snapshot().connections.map((c) => c.connId)).toEqual(['one', 'two']);
    expect(d.feed({ kind: 'transport-connected', connId: 'three' })).toContainEqual({ kind: 'close', connId: 'three' });
  });

  it('transport closed in OpenSent: back to Active, listening (RFC 4271 §8.2.2 OpenSent, Event 18)', () => {
    const d = openSent();
    const got = d.feed({ kind: 'transport-closed', connId: PEER });
    expect(d.s.state).toBe('Active');
    expect(of(got, 'down')[0]).toMatchObject({ reason: 'transport-closed', wasEstablished: false });
  });
});

// --- Fuzzing: random and mutated bytes into an Established session. ---

/**
 * What the codec alone says should happen to a byte stream fed to an Established session: the
 * NOTIFICATION (first fatal error), or a received NOTIFICATION, and how many UPDATEs go up once
 * families disabled by RFC 7606 AFI/SAFI disable are stripped.
 */
function reference(stream: Uint8Array): { sent?: [number, number]; received?: boolean; updates: number } {
  let off = 0;
  let updates = 0;
  const disabled = new Set<string>();
  for (;;) {
    const rest = stream.subarray(off);
    const f = messageLength(rest);
    if (!f.ok) return { sent: [f.error.errorCode, f.error.errorSubcode], updates };
    if (f.value === undefined || rest.length < f.value) return { updates };
    const m = rest.subarray(0, f.value);
    off += f.value;
    // RFC 6608: any OPEN in Established is an FSM error, however it decodes.
    if (m[18] === 1) return { sent: [5, 3], updates };
    const d = decodeMessage(m, AS4_CONTEXT);
    if (!d.ok) return { sent: [d.error.errorCode, d.error.errorSubcode], updates };
    const msg = d.value.message;
    if (msg.type === 'NOTIFICATION') return { received: true, updates };
    if (msg.type !== 'UPDATE') continue;
    for (const e of d.value.errors) if (e.severity === 'af-disable') disabled.add(`${e.afi}/${e.safi}`);
    const mp = msg.pathAttributes.flatMap((a) => (a.type === 'MP_REACH_NLRI' || a.type === 'MP_UNREACH_NLRI' ? [a.value] : []));
    const key = (v: (typeof mp)[number]): string => (v.family === 'other' ? `${v.afi}/${v.safi}` : v.family === 'ipv4-unicast' ? '1/1' : v.family === 'vpn-ipv4' ? '1/128' : '1/132');
    const mpLeft = mp.filter((v) => !disabled.has(key(v)));
    const ipv4Dropped = disabled.has('1/1') && (msg.nlri.length > 0 || msg.withdrawnRoutes.length > 0);
    const removed = mpLeft.length < mp.length || ipv4Dropped;
    const emptyAfter = mpLeft.length === 0 && (ipv4Dropped || (msg.nlri.length === 0 && msg.withdrawnRoutes.length === 0));
    if (!(removed && emptyAfter)) updates++;
  }
}

const validStream = fc
  .array(fc.oneof({ weight: 5, arbitrary: updateArb(AS4_CONTEXT) }, { weight: 1, arbitrary: messageArb(AS4_CONTEXT) }), { minLength: 1, maxLength: 4 })
  .map((ms) => concat(...ms.map((m) => encodeMessage(m, AS4_CONTEXT))));

const mutated = fc
  .tuple(validStream, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), fc.option(fc.nat()))
  .map(([bytes, edits, cut]) => {
    const b = bytes.slice();
    for (const [at, v] of edits) b[at % b.length] = v;
    return cut === null ? b : b.subarray(0, cut % (b.length + 1));
  });

const markerThenNoise = fc.uint8Array({ maxLength: 300 }).map((tail) => concat(new Uint8Array(16).fill(0xff), tail));

const streams = fc.oneof(fc.uint8Array({ maxLength: 300 }), markerThenNoise, mutated, validStream);

describe('fuzzing an Established session (property)', () => {
  it('never throws; every outcome is an UPDATE handed up or an RFC-conformant NOTIFICATION and Idle', () => {
    fc.assert(
      fc.property(streams, fc.array(fc.nat(), { maxLength: 8 }), (stream, cuts) => {
        const d = established();
        const start = d.outs.length;
        // Feed in pieces cut at random points.
        const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((x, y) => x - y);
        let prev = 0;
        for (const p of [...points, stream.length]) {
          d.bytes(stream.slice(prev, p), 2_000);
          prev = p;
        }
        const outs = d.outs.slice(start);
        const ref = reference(stream);
        const sent = notifications(outs);
        const ups = of(outs, 'update').length;
        const downs = of(outs, 'down');
        for (const n of sent) expect(isKnownError(n.code, n.subcode), `${n.code}/${n.subcode}`).toBe(true);
        if (ref.sent) {
          expect(sent.map((n) => [n.code, n.subcode])).toEqual([ref.sent]);
          expect(d.s.state).toBe('Idle');
          expect(downs).toHaveLength(1);
          expect(downs[0]!.wasEstablished).toBe(true);
          expect(of(outs, 'close').map((c) => c.connId)).toEqual([PEER]);
        } else if (ref.received) {
          expect(sent).toEqual([]);
          expect(d.s.state).toBe('Idle');
          expect(downs[0]!.reason).toBe('notification-received');
        } else {
          expect(sent).toEqual([]);
          expect(d.s.state).toBe('Established');
          expect(downs).toEqual([]);
        }
        expect(ups).toBe(ref.updates);
        // Silence from here on: an Established session always ends with Hold Timer Expired.
        if (d.s.state === 'Established') {
          const later = d.advance(2_000 + 91 * S);
          expect(notifications(later).map((n) => [n.code, n.subcode])).toEqual([[4, 0]]);
          expect(d.s.state).toBe('Idle');
        }
      }),
      { numRuns: 600 },
    );
  });

  it('mutated streams into OpenSent and OpenConfirm never throw and end in a known NOTIFICATION or a live state', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.oneof(mutated, markerThenNoise), (confirm, stream) => {
        const d = openSent();
        if (confirm) d.bytes(peerOpen());
        const start = d.outs.length;
        d.bytes(stream);
        const sent = notifications(d.outs.slice(start));
        for (const n of sent) expect(isKnownError(n.code, n.subcode)).toBe(true);
        if (sent.length) expect(d.s.state).toBe('Idle');
      }),
      { numRuns: 300 },
    );
  });
});
