import { describe, it, expect } from 'vitest';
import { concat, fromHex, hex } from '../../../src/lib/bytes.ts';
import {
  AS4_CONTEXT,
  AS_TRANS,
  CEASE,
  ERROR_CODE,
  KEEPALIVE,
  MESSAGE_HEADER_ERROR,
  OPEN_MESSAGE_ERROR,
  UPDATE_MESSAGE_ERROR,
  checkOpen,
  decodeMessage,
  encodeMessage,
  errorName,
  messageLength,
  multiprotocol,
  notificationFor,
  openCapabilities,
  openMessage,
  peerAsOf,
  announcedFamilies,
  type BgpDecodeError,
  type BgpMessage,
  type OpenMessage,
} from '../../../src/proto/bgp/index.ts';
import { frame, show } from './arbitraries.ts';

const ctx = AS4_CONTEXT;

function decodeOk(bytes: Uint8Array): BgpMessage {
  const r = decodeMessage(bytes, ctx);
  if (!r.ok) throw new Error(`expected ok, got ${r.error}`);
  expect(r.value.errors).toEqual([]);
  return r.value.message;
}

function decodeErr(bytes: Uint8Array): BgpDecodeError {
  const r = decodeMessage(bytes, ctx);
  if (r.ok) throw new Error(`expected an error, got ${show(r.value.message)}`);
  return r.error;
}

/** Decodes, compares with the expected value, and encodes back to the very same bytes. */
function bothWays(bytes: Uint8Array, expected: BgpMessage): void {
  expect(show(decodeOk(bytes))).toBe(show(expected));
  expect(hex(encodeMessage(expected, ctx))).toBe(hex(bytes));
}

// RFC 4271 §4.2 OPEN with one Capabilities parameter (RFC 5492 §4).
const OPEN = fromHex(`
  ffffffffffffffffffffffffffffffff  // Marker
  0035                              // Length 53
  01                                // Type 1: OPEN
  04                                // Version 4
  fde9                              // My Autonomous System 65001
  005a                              // Hold Time 90 s
  0a000001                          // BGP Identifier 10.0.0.1
  18                                // Optional Parameters Length 24
  02 16                             // Parameter Type 2 (Capabilities), Length 22
     01 04 0001 00 80               //   Multiprotocol (RFC 4760 §8): AFI 1, Reserved, SAFI 128 (VPN-IPv4)
     01 04 0001 00 84               //   Multiprotocol: AFI 1, SAFI 132 (route target membership)
     02 00                          //   Route Refresh (RFC 2918 §2)
     41 04 0000fde9                 //   4-octet AS (RFC 6793 §3): 65001
     46 00                          //   code 70 (enhanced route refresh): unknown here, kept raw
`);

// One capability per parameter (as some implementations send), 4-octet AS behind AS_TRANS.
const OPEN_AS4 = fromHex(`
  ffffffffffffffffffffffffffffffff  // Marker
  002d                              // Length 45
  01                                // OPEN
  04                                // Version 4
  5ba0                              // My Autonomous System: AS_TRANS 23456
  00b4                              // Hold Time 180 s
  c0000201                          // BGP Identifier 192.0.2.1
  10                                // Optional Parameters Length 16
  02 06 41 04 fa56ea00              // Capabilities: 4-octet AS 4200000000
  02 06 01 04 0001 00 01            // Capabilities: Multiprotocol IPv4 unicast
`);

const OPEN_BARE = fromHex(`
  ffffffffffffffffffffffffffffffff 001d 01  // Marker, Length 29, OPEN
  04 fde9 0000 0a000001 00                  // Version 4, AS 65001, Hold Time 0 (no keepalives), id, no parameters
`);

const KEEPALIVE_BYTES = fromHex(`ffffffffffffffffffffffffffffffff 0013 04  // Marker, Length 19, KEEPALIVE`);

const NOTIFICATION_VERSION = fromHex(`
  ffffffffffffffffffffffffffffffff 0017 03  // Marker, Length 23, NOTIFICATION
  02 01                                     // OPEN Message Error / Unsupported Version Number
  0004                                      // Data: largest supported version, 4 (RFC 4271 §6.2)
`);

const NOTIFICATION_CEASE = fromHex(`
  ffffffffffffffffffffffffffffffff 0015 03  // Marker, Length 21, NOTIFICATION
  06 02                                     // Cease / Administrative Shutdown (RFC 4486), no data
`);

const ROUTE_REFRESH = fromHex(`
  ffffffffffffffffffffffffffffffff 0017 05  // Marker, Length 23, ROUTE-REFRESH (RFC 2918 §3)
  0001 00 80                                // AFI 1, Reserved, SAFI 128
`);

describe('message fixtures, both ways', () => {
  it('OPEN with capabilities', () => {
    const open: OpenMessage = {
      type: 'OPEN',
      myAutonomousSystem: 65001,
      holdTimeS: 90,
      bgpIdentifier: 0x0a000001,
      optionalParameters: [
        {
          type: 'CAPABILITIES',
          capabilities: [
            { type: 'MULTIPROTOCOL', afi: 1, safi: 128 },
            { type: 'MULTIPROTOCOL', afi: 1, safi: 132 },
            { type: 'ROUTE_REFRESH' },
            { type: 'FOUR_OCTET_AS', asNumber: 65001 },
            { type: 'UNRECOGNIZED', code: 70, value: new Uint8Array(0) },
          ],
        },
      ],
    };
    bothWays(OPEN, open);
    expect(announcedFamilies(openCapabilities(open))).toEqual(['vpn-ipv4', 'rt-membership']);
  });

  it('OPEN with one capability per parameter and a 4-octet AS', () => {
    const open: OpenMessage = {
      type: 'OPEN',
      myAutonomousSystem: AS_TRANS,
      holdTimeS: 180,
      bgpIdentifier: 0xc0000201,
      optionalParameters: [
        { type: 'CAPABILITIES', capabilities: [{ type: 'FOUR_OCTET_AS', asNumber: 4200000000 }] },
        { type: 'CAPABILITIES', capabilities: [{ type: 'MULTIPROTOCOL', afi: 1, safi: 1 }] },
      ],
    };
    bothWays(OPEN_AS4, open);
    expect(peerAsOf(open)).toBe(4200000000);
  });

  it('OPEN without optional parameters', () => {
    bothWays(OPEN_BARE, { type: 'OPEN', myAutonomousSystem: 65001, holdTimeS: 0, bgpIdentifier: 0x0a000001, optionalParameters: [] });
  });

  it('openMessage puts AS_TRANS in My Autonomous System for a 4-octet AS', () => {
    const o = openMessage({ asNumber: 4200000000, holdTimeS: 180, bgpIdentifier: 0xc0000201, capabilities: [{ type: 'FOUR_OCTET_AS', asNumber: 4200000000 }, multiprotocol('ipv4-unicast')] });
    expect(o.myAutonomousSystem).toBe(AS_TRANS);
    expect(o.optionalParameters).toHaveLength(1);
  });

  it('KEEPALIVE', () => bothWays(KEEPALIVE_BYTES, KEEPALIVE));

  it('NOTIFICATION with and without data', () => {
    bothWays(NOTIFICATION_VERSION, { type: 'NOTIFICATION', errorCode: 2, errorSubcode: 1, data: Uint8Array.of(0, 4) });
    bothWays(NOTIFICATION_CEASE, { type: 'NOTIFICATION', errorCode: ERROR_CODE.CEASE, errorSubcode: CEASE.ADMINISTRATIVE_SHUTDOWN, data: new Uint8Array(0) });
  });

  it('ROUTE-REFRESH', () => bothWays(ROUTE_REFRESH, { type: 'ROUTE-REFRESH', afi: 1, reserved: 0, safi: 128 }));
});

describe('framing: messageLength on a byte stream', () => {
  it('waits for 19 octets, then reports the length', () => {
    expect(messageLength(OPEN.subarray(0, 18))).toEqual({ ok: true, value: undefined });
    expect(messageLength(OPEN.subarray(0, 19))).toEqual({ ok: true, value: 53 });
    expect(messageLength(concat(OPEN, KEEPALIVE_BYTES))).toEqual({ ok: true, value: 53 });
  });
});

describe('RFC 4271 §6.1 message header errors', () => {
  const expectError = (e: BgpDecodeError, code: number, subcode: number, data: string): void => {
    expect([e.errorCode, e.errorSubcode, hex(e.data)]).toEqual([code, subcode, data]);
    expect(e.severity).toBe('session-reset');
  };

  it('a marker that is not all ones: Connection Not Synchronized', () => {
    const bad = KEEPALIVE_BYTES.slice();
    bad[3] = 0xfe;
    expectError(decodeErr(bad), 1, MESSAGE_HEADER_ERROR.CONNECTION_NOT_SYNCHRONIZED, '');
    expect(messageLength(bad).ok).toBe(false);
  });

  it('length below 19 or above 4096: Bad Message Length with the Length field as data', () => {
    expectError(decodeErr(fromHex('ffffffffffffffffffffffffffffffff 0012 04')), 1, 2, '0012');
    const big = new Uint8Array(4097).fill(0xff);
    big.set([0x10, 0x01, 0x02], 16);
    expectError(decodeErr(big), 1, 2, '1001');
  });

  it('type-specific lengths: KEEPALIVE ≠ 19, OPEN < 29, UPDATE < 23, NOTIFICATION < 21, ROUTE-REFRESH ≠ 23', () => {
    expectError(decodeErr(frame(4, Uint8Array.of(0))), 1, 2, '0014');
    expectError(decodeErr(frame(1, new Uint8Array(9))), 1, 2, '001c');
    expectError(decodeErr(frame(2, new Uint8Array(3))), 1, 2, '0016');
    expectError(decodeErr(frame(3, new Uint8Array(1))), 1, 2, '0014');
    expectError(decodeErr(frame(5, new Uint8Array(5))), 1, 2, '0018');
  });

  it('an unknown type: Bad Message Type with the Type field as data', () => {
    expectError(decodeErr(frame(6, new Uint8Array(0))), 1, MESSAGE_HEADER_ERROR.BAD_MESSAGE_TYPE, '06');
  });

  it('bytes beyond the Length field: Bad Message Length', () => {
    expectError(decodeErr(concat(KEEPALIVE_BYTES, Uint8Array.of(0))), 1, 2, '0013');
  });
});

describe('RFC 4271 §6.2 OPEN errors', () => {
  const open = (version: number, as: number, hold: number, id: number, params: string): Uint8Array => {
    const p = fromHex(params);
    return frame(1, concat(Uint8Array.of(version, as >> 8, as & 0xff, hold >> 8, hold & 0xff, id >>> 24, (id >> 16) & 0xff, (id >> 8) & 0xff, id & 0xff, p.length), p));
  };
  const expectOpenError = (bytes: Uint8Array, subcode: number, data = ''): BgpDecodeError => {
    const e = decodeErr(bytes);
    expect([e.errorCode, e.errorSubcode, hex(e.data), e.severity]).toEqual([ERROR_CODE.OPEN_MESSAGE_ERROR, subcode, data, 'session-reset']);
    return e;
  };

  it('unsupported version: data is the version we support, 4', () => {
    expectOpenError(open(3, 65001, 90, 1, ''), OPEN_MESSAGE_ERROR.UNSUPPORTED_VERSION_NUMBER, '0004');
    expectOpenError(open(5, 65001, 90, 1, ''), OPEN_MESSAGE_ERROR.UNSUPPORTED_VERSION_NUMBER, '0004');
  });

  it('bad peer AS: AS 0 (RFC 7607), in My Autonomous System or the 4-octet AS capability', () => {
    expectOpenError(open(4, 0, 90, 1, ''), OPEN_MESSAGE_ERROR.BAD_PEER_AS);
    expectOpenError(open(4, AS_TRANS, 90, 1, '02 06 41 04 00000000'), OPEN_MESSAGE_ERROR.BAD_PEER_AS);
  });

  it('bad BGP identifier: zero (RFC 6286 §2.2)', () => {
    expectOpenError(open(4, 65001, 90, 0, ''), OPEN_MESSAGE_ERROR.BAD_BGP_IDENTIFIER);
  });

  it('unacceptable hold time: 1 and 2 s; 0 and 3 s are fine', () => {
    expectOpenError(open(4, 65001, 1, 1, ''), OPEN_MESSAGE_ERROR.UNACCEPTABLE_HOLD_TIME);
    expectOpenError(open(4, 65001, 2, 1, ''), OPEN_MESSAGE_ERROR.UNACCEPTABLE_HOLD_TIME);
    expect(decodeMessage(open(4, 65001, 0, 1, ''), ctx).ok).toBe(true);
    expect(decodeMessage(open(4, 65001, 3, 1, ''), ctx).ok).toBe(true);
  });

  it('unsupported optional parameter: anything but Capabilities (e.g. type 1, authentication)', () => {
    expectOpenError(open(4, 65001, 90, 1, '01 02 0000'), OPEN_MESSAGE_ERROR.UNSUPPORTED_OPTIONAL_PARAMETER);
  });

  it('malformed parameters and capabilities: OPEN Message Error, unspecific', () => {
    expectOpenError(open(4, 65001, 90, 1, '02 08 0104000100'), 0); // parameter overruns the field
    expectOpenError(open(4, 65001, 90, 1, '02 05 01 04 0001 00'), 0); // capability overruns the parameter
    expectOpenError(open(4, 65001, 90, 1, '02 05 01 03 0001 01'), 0); // multiprotocol of length 3
    expectOpenError(open(4, 65001, 90, 1, '02 03 02 01 00'), 0); // route refresh with a value
    expectOpenError(open(4, 65001, 90, 1, '02'), 0); // parameter header cut short
  });

  it('Optional Parameters Length disagreeing with the message: Bad Message Length', () => {
    const bytes = open(4, 65001, 90, 1, '02 00');
    bytes[28] = 5;
    const e = decodeErr(bytes);
    expect([e.errorCode, e.errorSubcode, hex(e.data)]).toEqual([1, 2, '001f']);
  });

  it('checkOpen: bad peer AS, our own identifier from an internal peer, unsupported capability', () => {
    const o = decodeOk(OPEN) as OpenMessage;
    expect(checkOpen(o, { peerAs: 65001 })).toBeUndefined();
    const badAs = checkOpen(o, { peerAs: 65002 });
    expect([badAs?.errorCode, badAs?.errorSubcode]).toEqual([2, OPEN_MESSAGE_ERROR.BAD_PEER_AS]);
    const badId = checkOpen(o, { internal: true, localBgpIdentifier: 0x0a000001 });
    expect([badId?.errorCode, badId?.errorSubcode]).toEqual([2, OPEN_MESSAGE_ERROR.BAD_BGP_IDENTIFIER]);
    expect(checkOpen(o, { internal: false, localBgpIdentifier: 0x0a000001 })).toBeUndefined();
    // RFC 5492 §3: Data lists the capabilities we needed, encoded as in an OPEN.
    const noCap = checkOpen(o, { requiredCapabilities: [multiprotocol('vpn-ipv4'), multiprotocol('ipv4-unicast')] });
    expect([noCap?.errorCode, noCap?.errorSubcode, hex(noCap!.data)]).toEqual([2, OPEN_MESSAGE_ERROR.UNSUPPORTED_CAPABILITY, '010400010001']);
  });
});

describe('errors become NOTIFICATIONs', () => {
  it('notificationFor carries code, subcode and data', () => {
    const e = decodeErr(fromHex('ffffffffffffffffffffffffffffffff 0012 04'));
    expect(hex(encodeMessage(notificationFor(e), ctx))).toBe(hex(fromHex('ffffffffffffffffffffffffffffffff 0017 03 01 02 0012')));
  });

  it('every catalog pair has a name', () => {
    expect(errorName(3, UPDATE_MESSAGE_ERROR.MALFORMED_AS_PATH)).toBe('UPDATE_MESSAGE_ERROR/MALFORMED_AS_PATH');
    expect(errorName(6, CEASE.OUT_OF_RESOURCES)).toBe('CEASE/OUT_OF_RESOURCES');
    expect(errorName(4, 0)).toBe('HOLD_TIMER_EXPIRED/UNSPECIFIC');
    expect(errorName(3, 7)).toBeUndefined(); // AS Routing Loop: deprecated
    expect(errorName(9, 0)).toBeUndefined();
  });
});
