import { describe, it, expect } from 'vitest';
import { fromHex, hex } from '../../../src/lib/bytes.ts';
import { Writer } from '../../../src/lib/reader.ts';
import {
  AS2_CONTEXT,
  AS4_CONTEXT,
  AS_CONFED_SEQUENCE,
  AS_SEQUENCE,
  AS_SET,
  AS_TRANS,
  ATTR_FLAG,
  NO_EXPORT,
  ORIGIN_INCOMPLETE,
  UPDATE_MESSAGE_ERROR as U,
  asPathLength,
  attribute,
  attributeDescriptor,
  attributesForAs2Peer,
  attributesForPropagation,
  attributesFromAs2Peer,
  decodeMessage,
  encodeMessage,
  encodePathAttribute,
  getAttribute,
  prependAs,
  type BgpDecodeError,
  type CodecContext,
  type Decoded,
  type PathAttribute,
  type UpdateMessage,
} from '../../../src/proto/bgp/index.ts';
import { show, updateBytes } from './arbitraries.ts';

const A = 0x0a000001; // 10.0.0.1
const B = 0x0a000002;

function decodeUpdate(bytes: Uint8Array, ctx: CodecContext = AS4_CONTEXT): Decoded & { message: UpdateMessage } {
  const r = decodeMessage(bytes, ctx);
  if (!r.ok) throw new Error(`expected ok, got ${r.error}`);
  expect(r.value.message.type).toBe('UPDATE');
  return r.value as Decoded & { message: UpdateMessage };
}

function decodeFatal(bytes: Uint8Array, ctx: CodecContext = AS4_CONTEXT): BgpDecodeError {
  const r = decodeMessage(bytes, ctx);
  if (r.ok) throw new Error(`expected session reset, got ${show(r.value)}`);
  expect(r.error.severity).toBe('session-reset');
  return r.error;
}

// A whole UPDATE (RFC 4271 §4.3) carrying IPv4 unicast routes the classic way.
const UPDATE_IPV4 = fromHex(`
  ffffffffffffffffffffffffffffffff  // Marker
  0044                              // Length 68
  02                                // Type 2: UPDATE
  0003                              // Withdrawn Routes Length 3
    10 0a0a                         //   10.10.0.0/16
  0026                              // Total Path Attribute Length 38
    40 01 01 00                     //   ORIGIN (well-known, transitive): IGP
    40 02 0a                        //   AS_PATH, length 10
       02 02 0000fde9 0000fdea      //     AS_SEQUENCE of 2: 65001 65002 (4-octet ASes)
    40 03 04 0a000001               //   NEXT_HOP 10.0.0.1
    80 04 04 00000005               //   MULTI_EXIT_DISC (optional, non-transitive): 5
    40 05 04 00000064               //   LOCAL_PREF 100
  18 c0a801                         // NLRI: 192.168.1.0/24
`);

describe('UPDATE fixture, both ways', () => {
  it('IPv4 unicast in the NLRI field with withdrawn routes', () => {
    const expected: UpdateMessage = {
      type: 'UPDATE',
      withdrawnRoutes: [{ family: 4, addr: 0x0a0a0000, len: 16 }],
      pathAttributes: [
        { type: 'ORIGIN', flags: 0x40, value: 0 },
        { type: 'AS_PATH', flags: 0x40, value: [{ type: AS_SEQUENCE, asNumbers: [65001, 65002] }] },
        { type: 'NEXT_HOP', flags: 0x40, value: A },
        { type: 'MULTI_EXIT_DISC', flags: 0x80, value: 5 },
        { type: 'LOCAL_PREF', flags: 0x40, value: 100 },
      ],
      nlri: [{ family: 4, addr: 0xc0a80100, len: 24 }],
    };
    const d = decodeUpdate(UPDATE_IPV4);
    expect(d.error).toBeUndefined();
    expect(show(d.message)).toBe(show(expected));
    expect(hex(encodeMessage(expected, AS4_CONTEXT))).toBe(hex(UPDATE_IPV4));
    // Without stored flags the row's flags are used: the same bytes.
    const bare = { ...expected, pathAttributes: expected.pathAttributes.map((a) => ({ ...a, flags: undefined })) } as UpdateMessage;
    expect(hex(encodeMessage(bare, AS4_CONTEXT))).toBe(hex(UPDATE_IPV4));
  });

  it('an empty UPDATE (End-of-RIB for IPv4 unicast, RFC 4724 §2)', () => {
    const d = decodeUpdate(fromHex('ffffffffffffffffffffffffffffffff 0017 02 0000 0000'));
    expect(d.message).toEqual({ type: 'UPDATE', withdrawnRoutes: [], pathAttributes: [], nlri: [] });
  });
});

/** One attribute per row: annotated bytes, the value they mean, the context they need. */
const ROWS: { name: string; hex: string; attr: PathAttribute; ctx?: CodecContext }[] = [
  { name: 'ORIGIN INCOMPLETE', hex: '40 01 01 02  // well-known transitive, type 1, length 1, INCOMPLETE', attr: { type: 'ORIGIN', flags: 0x40, value: ORIGIN_INCOMPLETE } },
  {
    name: 'AS_PATH, 4-octet: AS_SEQUENCE + AS_SET',
    hex: `40 02 10                  // AS_PATH, length 16
          02 02 0000fde9 fa56ea00   // AS_SEQUENCE: 65001 4200000000
          01 01 00000001            // AS_SET: {1}`,
    attr: { type: 'AS_PATH', flags: 0x40, value: [{ type: AS_SEQUENCE, asNumbers: [65001, 4200000000] }, { type: AS_SET, asNumbers: [1] }] },
  },
  {
    name: 'AS_PATH, 2-octet (no 4-octet AS capability)',
    hex: `40 02 06 02 02 fde9 fdea  // AS_PATH, length 6, AS_SEQUENCE: 65001 65002`,
    attr: { type: 'AS_PATH', flags: 0x40, value: [{ type: AS_SEQUENCE, asNumbers: [65001, 65002] }] },
    ctx: AS2_CONTEXT,
  },
  { name: 'AS_PATH with a confederation segment', hex: '40 02 06 03 01 0000fde9  // AS_CONFED_SEQUENCE: 65001', attr: { type: 'AS_PATH', flags: 0x40, value: [{ type: AS_CONFED_SEQUENCE, asNumbers: [65001] }] } },
  { name: 'AS_PATH empty (iBGP-originated)', hex: '40 02 00', attr: { type: 'AS_PATH', flags: 0x40, value: [] } },
  { name: 'NEXT_HOP', hex: '40 03 04 0a000001  // 10.0.0.1', attr: { type: 'NEXT_HOP', flags: 0x40, value: A } },
  { name: 'MULTI_EXIT_DISC', hex: '80 04 04 00000005  // optional non-transitive, 5', attr: { type: 'MULTI_EXIT_DISC', flags: 0x80, value: 5 } },
  { name: 'LOCAL_PREF', hex: '40 05 04 00000064  // 100', attr: { type: 'LOCAL_PREF', flags: 0x40, value: 100 } },
  { name: 'ATOMIC_AGGREGATE', hex: '40 06 00  // length 0', attr: { type: 'ATOMIC_AGGREGATE', flags: 0x40, value: null } },
  { name: 'AGGREGATOR, 4-octet AS', hex: 'c0 07 08 0000fde9 0a000001  // optional transitive: AS 65001, 10.0.0.1', attr: { type: 'AGGREGATOR', flags: 0xc0, value: { asNumber: 65001, address: A } } },
  { name: 'AGGREGATOR, 2-octet AS', hex: 'c0 07 06 fde9 0a000001', attr: { type: 'AGGREGATOR', flags: 0xc0, value: { asNumber: 65001, address: A } }, ctx: AS2_CONTEXT },
  { name: 'COMMUNITIES (RFC 1997)', hex: 'c0 08 08 ffffff01 fde80064  // NO_EXPORT, 65000:100', attr: { type: 'COMMUNITIES', flags: 0xc0, value: [NO_EXPORT, 0xfde80064] } },
  { name: 'ORIGINATOR_ID (RFC 4456)', hex: '80 09 04 0a000001', attr: { type: 'ORIGINATOR_ID', flags: 0x80, value: A } },
  { name: 'CLUSTER_LIST (RFC 4456)', hex: '80 0a 08 0a000002 0a000003', attr: { type: 'CLUSTER_LIST', flags: 0x80, value: [B, 0x0a000003] } },
  {
    name: 'MP_REACH_NLRI, IPv4 unicast',
    hex: `80 0e 10          // optional non-transitive, type 14, length 16
          0001 01          // AFI 1, SAFI 1
          04 0a000001      // next hop length 4: 10.0.0.1
          00               // Reserved
          18 c0a801        // 192.168.1.0/24
          10 0a0b          // 10.11.0.0/16`,
    attr: { type: 'MP_REACH_NLRI', flags: 0x80, value: { family: 'ipv4-unicast', nextHop: A, nlri: [{ family: 4, addr: 0xc0a80100, len: 24 }, { family: 4, addr: 0x0a0b0000, len: 16 }] } },
  },
  {
    name: 'MP_REACH_NLRI, VPN-IPv4 (RFC 4364): RD types 0, 1, 2, one and two labels',
    hex: `80 0e 42                              // length 66
          0001 80                             // AFI 1, SAFI 128
          0c 0000000000000000 0a000001        // next hop: RD 0 + 10.0.0.1 (RFC 4364 §4.3.2)
          00                                  // Reserved
          70                                  // 112 bits = label 24 + RD 64 + prefix 24
            000101                            //   label 16, bottom of stack
            0000 fde8 00000001                //   RD type 0: 65000:1
            c0a801                            //   192.168.1.0/24
          87                                  // 135 bits = 2 labels 48 + RD 64 + prefix 23
            000110 000121                     //   labels 17, 18 (bottom)
            0001 0a000001 0007                //   RD type 1: 10.0.0.1:7
            c0a802                            //   192.168.2.0/23
          78                                  // 120 bits = 24 + 64 + 32
            000141                            //   label 20, bottom
            0002 fa56ea00 0001                //   RD type 2: 4200000000:1
            0a000063                          //   10.0.0.99/32`,
    attr: {
      type: 'MP_REACH_NLRI',
      flags: 0x80,
      value: {
        family: 'vpn-ipv4',
        nextHop: A,
        nlri: [
          { labels: [16], rd: { type: 0, administrator: 65000, assignedNumber: 1 }, prefix: { family: 4, addr: 0xc0a80100, len: 24 } },
          { labels: [17, 18], rd: { type: 1, administrator: A, assignedNumber: 7 }, prefix: { family: 4, addr: 0xc0a80200, len: 23 } },
          { labels: [20], rd: { type: 2, administrator: 4200000000, assignedNumber: 1 }, prefix: { family: 4, addr: 0x0a000063, len: 32 } },
        ],
      },
    },
  },
  {
    name: 'MP_REACH_NLRI, route target membership (RFC 4684): default, 32 and 96 bits',
    hex: `80 0e 1c                  // length 28
          0001 84                 // AFI 1, SAFI 132
          04 0a000001 00          // next hop 10.0.0.1, Reserved
          00                      // default route target membership: prefix length 0
          20 0000fde9             // 32 bits: origin AS 65001, any route target
          60 0000fde9             // 96 bits: origin AS 65001
             0002fde800000001     //   route target 65000:1`,
    attr: {
      type: 'MP_REACH_NLRI',
      flags: 0x80,
      value: {
        family: 'rt-membership',
        nextHop: A,
        nlri: [
          { prefixLength: 0, originAs: 0, routeTarget: new Uint8Array(8) },
          { prefixLength: 32, originAs: 65001, routeTarget: new Uint8Array(8) },
          { prefixLength: 96, originAs: 65001, routeTarget: fromHex('0002fde800000001') },
        ],
      },
    },
  },
  {
    name: 'MP_REACH_NLRI of another family kept raw (IPv6 unicast)',
    hex: `80 0e 1a 0002 01 10 20010db8000000000000000000000001 00 20 20010db8  // AFI 2 SAFI 1, next hop 2001:db8::1, 2001:db8::/32`,
    attr: { type: 'MP_REACH_NLRI', flags: 0x80, value: { family: 'other', afi: 2, safi: 1, nextHop: fromHex('20010db8000000000000000000000001'), nlri: fromHex('20 20010db8') } },
  },
  {
    name: 'MP_UNREACH_NLRI, IPv4 unicast',
    hex: '80 0f 06 0001 01 10 0a0a  // AFI 1, SAFI 1, 10.10.0.0/16',
    attr: { type: 'MP_UNREACH_NLRI', flags: 0x80, value: { family: 'ipv4-unicast', withdrawnRoutes: [{ family: 4, addr: 0x0a0a0000, len: 16 }] } },
  },
  {
    name: 'MP_UNREACH_NLRI, VPN-IPv4 with the 0x800000 withdraw label (RFC 3107 §3)',
    hex: `80 0f 12 0001 80            // length 18, AFI 1, SAFI 128
          70 800000                 // 112 bits, compatibility label field
             0002 fa56ea00 0001     // RD type 2: 4200000000:1
             c0a801                 // 192.168.1.0/24`,
    attr: { type: 'MP_UNREACH_NLRI', flags: 0x80, value: { family: 'vpn-ipv4', withdrawnRoutes: [{ labels: [], rd: { type: 2, administrator: 4200000000, assignedNumber: 1 }, prefix: { family: 4, addr: 0xc0a80100, len: 24 } }] } },
  },
  {
    name: 'MP_UNREACH_NLRI, route target membership',
    hex: '80 0f 09 0001 84 20 0000fde9 00  // 65001/32 and the default',
    attr: { type: 'MP_UNREACH_NLRI', flags: 0x80, value: { family: 'rt-membership', withdrawnRoutes: [{ prefixLength: 32, originAs: 65001, routeTarget: new Uint8Array(8) }, { prefixLength: 0, originAs: 0, routeTarget: new Uint8Array(8) }] } },
  },
  { name: 'MP_UNREACH_NLRI, End-of-RIB for VPN-IPv4', hex: '80 0f 03 0001 80', attr: { type: 'MP_UNREACH_NLRI', flags: 0x80, value: { family: 'vpn-ipv4', withdrawnRoutes: [] } } },
  {
    name: 'EXTENDED_COMMUNITIES: route targets in three forms, Security Gateway Identity both ways, one unknown',
    hex: `c0 10 30                    // optional transitive, type 16, length 48
          0002 fde8 00000001        // route target, two-octet AS: 65000:1
          0102 0a000001 0005        // route target, IPv4 address: 10.0.0.1:5
          0202 fa56ea00 0009        // route target, four-octet AS: 4200000000:9
          0350 0a000001 8000        // Security Gateway Identity, transitive: 10.0.0.1, P (pre-establish)
          4350 0a000002 0000        // Security Gateway Identity, non-transitive: 10.0.0.2, on demand
          030b 0000 00000064        // opaque color 100 (RFC 9012): unknown here, kept raw`,
    attr: {
      type: 'EXTENDED_COMMUNITIES',
      flags: 0xc0,
      value: [
        { type: 'ROUTE_TARGET', format: 'two-octet-as', globalAdministrator: 65000, localAdministrator: 1 },
        { type: 'ROUTE_TARGET', format: 'ipv4-address', globalAdministrator: A, localAdministrator: 5 },
        { type: 'ROUTE_TARGET', format: 'four-octet-as', globalAdministrator: 4200000000, localAdministrator: 9 },
        { type: 'SECURITY_GATEWAY_IDENTITY', transitive: true, gatewayAddress: A, flags: 0x8000 },
        { type: 'SECURITY_GATEWAY_IDENTITY', transitive: false, gatewayAddress: B, flags: 0 },
        { type: 'UNRECOGNIZED', bytes: fromHex('030b000000000064') },
      ],
    },
  },
  {
    name: 'AS4_PATH between 2-octet speakers (RFC 6793)',
    hex: 'c0 11 0a 02 02 0000fde9 fa56ea00  // AS_SEQUENCE: 65001 4200000000',
    attr: { type: 'AS4_PATH', flags: 0xc0, value: [{ type: AS_SEQUENCE, asNumbers: [65001, 4200000000] }] },
    ctx: AS2_CONTEXT,
  },
  { name: 'AS4_AGGREGATOR', hex: 'c0 12 08 fa56ea00 0a000001', attr: { type: 'AS4_AGGREGATOR', flags: 0xc0, value: { asNumber: 4200000000, address: A } }, ctx: AS2_CONTEXT },
  { name: 'unknown optional transitive attribute, Partial set, kept raw', hex: 'e0 63 03 010203  // flags O T P, type 99', attr: { type: 'UNRECOGNIZED', typeCode: 99, flags: 0xe0, value: fromHex('010203') } },
  { name: 'unknown optional non-transitive attribute', hex: '80 c8 00  // type 200, empty', attr: { type: 'UNRECOGNIZED', typeCode: 200, flags: 0x80, value: new Uint8Array(0) } },
  { name: 'Extended Length on a short attribute is kept', hex: 'd0 08 0004 fde80064  // COMMUNITIES, 2-octet length 4', attr: { type: 'COMMUNITIES', flags: 0xd0, value: [0xfde80064] } },
];

describe('path attribute fixtures, both ways (alone in an UPDATE without NLRI)', () => {
  for (const row of ROWS) {
    it(row.name, () => {
      const ctx = row.ctx ?? AS4_CONTEXT;
      // Reachability in MP_REACH_NLRI needs ORIGIN and AS_PATH beside it (RFC 4271 §5, RFC 7606 §3 d).
      const mandatory: PathAttribute[] = row.attr.type === 'MP_REACH_NLRI' ? [{ type: 'ORIGIN', flags: 0x40, value: 0 }, { type: 'AS_PATH', flags: 0x40, value: [] }] : [];
      const bytes = updateBytes('', `${row.hex}\n${mandatory.length ? '40 01 01 00 40 02 00' : ''}`);
      const d = decodeUpdate(bytes, ctx);
      expect(d.errors.map(String)).toEqual([]);
      expect(show(d.message.pathAttributes)).toBe(show([row.attr, ...mandatory]));
      expect(hex(encodeMessage({ type: 'UPDATE', withdrawnRoutes: [], pathAttributes: [row.attr, ...mandatory], nlri: [] }, ctx))).toBe(hex(bytes));
    });
  }

  it('a value over 255 octets gets the Extended Length bit and a 2-octet length', () => {
    const communities = Array.from({ length: 70 }, (_, i) => (65000 * 65536 + i) >>> 0);
    const w = new Writer();
    encodePathAttribute(w, attribute('COMMUNITIES', communities), AS4_CONTEXT);
    const out = w.finish();
    expect(hex(out.subarray(0, 4))).toBe('d0080118'); // flags O T + Extended Length, type 8, length 280
    const d = decodeUpdate(updateBytes('', out));
    expect(getAttribute(d.message.pathAttributes, 'COMMUNITIES')?.value).toEqual(communities);
  });

  it('towards a 2-octet speaker, a 4-octet AS is written as AS_TRANS (RFC 6793 §4.2.2)', () => {
    const w = new Writer();
    encodePathAttribute(w, attribute('AS_PATH', [{ type: AS_SEQUENCE, asNumbers: [4200000000, 65001] }]), AS2_CONTEXT);
    expect(hex(w.finish())).toBe('40020602025ba0fde9');
  });
});

/** RFC 7606 handling: one row per error kind. `attrs` is the Path Attributes field, `nlri` the NLRI field. */
const VALID = '40 01 01 00  40 02 00  40 03 04 0a000001'; // ORIGIN, AS_PATH, NEXT_HOP
const NLRI = '18 c0a801';
const ERROR_ROWS: { name: string; attrs: string; nlri?: string; subcode: number; severity: string; data?: string; ctx?: CodecContext }[] = [
  { name: 'ORIGIN of length 2', attrs: `40 01 02 0000 40 02 00 40 03 04 0a000001`, subcode: U.ATTRIBUTE_LENGTH_ERROR, severity: 'treat-as-withdraw', data: '4001020000' },
  { name: 'ORIGIN value 3', attrs: `40 01 01 03 40 02 00 40 03 04 0a000001`, subcode: U.INVALID_ORIGIN_ATTRIBUTE, severity: 'treat-as-withdraw', data: '40010103' },
  { name: 'ORIGIN flagged optional', attrs: `c0 01 01 00 40 02 00 40 03 04 0a000001`, subcode: U.ATTRIBUTE_FLAGS_ERROR, severity: 'treat-as-withdraw', data: 'c0010100' },
  { name: 'AS_PATH with segment type 5', attrs: `40 01 01 00 40 02 06 05 01 0000fde9 40 03 04 0a000001`, subcode: U.MALFORMED_AS_PATH, severity: 'treat-as-withdraw' },
  { name: 'AS_PATH with a zero-length segment', attrs: `40 01 01 00 40 02 02 02 00 40 03 04 0a000001`, subcode: U.MALFORMED_AS_PATH, severity: 'treat-as-withdraw' },
  { name: 'AS_PATH segment overrun', attrs: `40 01 01 00 40 02 06 02 02 0000fde9 40 03 04 0a000001`, subcode: U.MALFORMED_AS_PATH, severity: 'treat-as-withdraw' },
  { name: 'AS_PATH single-octet underrun', attrs: `40 01 01 00 40 02 07 02 01 0000fde9 02 40 03 04 0a000001`, subcode: U.MALFORMED_AS_PATH, severity: 'treat-as-withdraw' },
  { name: 'AS_PATH of 2-octet ASes read as 4-octet (odd length)', attrs: `40 01 01 00 40 02 04 02 01 fde9 40 03 04 0a000001`, subcode: U.MALFORMED_AS_PATH, severity: 'treat-as-withdraw' },
  { name: 'NEXT_HOP of length 3', attrs: `40 01 01 00 40 02 00 40 03 03 0a0000`, subcode: U.ATTRIBUTE_LENGTH_ERROR, severity: 'treat-as-withdraw', data: '4003030a0000' },
  { name: 'NEXT_HOP 0.0.0.0', attrs: `40 01 01 00 40 02 00 40 03 04 00000000`, subcode: U.INVALID_NEXT_HOP_ATTRIBUTE, severity: 'treat-as-withdraw', data: '40030400000000' },
  { name: 'NEXT_HOP multicast without NLRI field: only discarded (RFC 4760 §3)', attrs: `40 03 04 e0000001`, nlri: '', subcode: U.INVALID_NEXT_HOP_ATTRIBUTE, severity: 'attribute-discard', data: '400304e0000001' },
  { name: 'MULTI_EXIT_DISC of length 3', attrs: `${VALID} 80 04 03 000005`, subcode: U.ATTRIBUTE_LENGTH_ERROR, severity: 'treat-as-withdraw', data: '800403000005' },
  { name: 'LOCAL_PREF of length 5', attrs: `${VALID} 40 05 05 0000006400`, subcode: U.ATTRIBUTE_LENGTH_ERROR, severity: 'treat-as-withdraw', data: '4005050000006400' },
  { name: 'ATOMIC_AGGREGATE of length 1', attrs: `${VALID} 40 06 01 00`, subcode: U.ATTRIBUTE_LENGTH_ERROR, severity: 'attribute-discard', data: '40060100' },
  { name: 'ATOMIC_AGGREGATE flagged optional', attrs: `${VALID} c0 06 00`, subcode: U.ATTRIBUTE_FLAGS_ERROR, severity: 'attribute-discard', data: 'c00600' },
  { name: 'AGGREGATOR of length 6 in a 4-octet session', attrs: `${VALID} c0 07 06 fde9 0a000001`, subcode: U.ATTRIBUTE_LENGTH_ERROR, severity: 'attribute-discard', data: 'c00706fde90a000001' },
  { name: 'AGGREGATOR flagged well-known', attrs: `${VALID} 40 07 08 0000fde9 0a000001`, subcode: U.ATTRIBUTE_FLAGS_ERROR, severity: 'attribute-discard', data: '4007080000fde90a000001' },
  { name: 'COMMUNITIES of length 6', attrs: `${VALID} c0 08 06 fde80064 0001`, subcode: U.ATTRIBUTE_LENGTH_ERROR, severity: 'treat-as-withdraw', data: 'c00806fde800640001' },
  { name: 'COMMUNITIES of length 0', attrs: `${VALID} c0 08 00`, subcode: U.ATTRIBUTE_LENGTH_ERROR, severity: 'treat-as-withdraw', data: 'c00800' },
  { name: 'ORIGINATOR_ID of length 5', attrs: `${VALID} 80 09 05 0a00000100`, subcode: U.ATTRIBUTE_LENGTH_ERROR, severity: 'treat-as-withdraw', data: '8009050a00000100' },
  { name: 'CLUSTER_LIST of length 0', attrs: `${VALID} 80 0a 00`, subcode: U.ATTRIBUTE_LENGTH_ERROR, severity: 'treat-as-withdraw', data: '800a00' },
  { name: 'CLUSTER_LIST flagged transitive', attrs: `${VALID} c0 0a 04 0a000002`, subcode: U.ATTRIBUTE_FLAGS_ERROR, severity: 'treat-as-withdraw', data: 'c00a040a000002' },
  { name: 'EXTENDED_COMMUNITIES of length 12', attrs: `${VALID} c0 10 0c 0002fde800000001 00000000`, subcode: U.ATTRIBUTE_LENGTH_ERROR, severity: 'treat-as-withdraw', data: 'c0100c0002fde80000000100000000' },
  { name: 'MP_REACH_NLRI VPN-IPv4 with a 4-octet next hop', attrs: `40 01 01 00 40 02 00 80 0e 0a 0001 80 04 0a000001 00 00`, nlri: '', subcode: U.OPTIONAL_ATTRIBUTE_ERROR, severity: 'af-disable', data: '800e0a000180040a0000010000' },
  { name: 'MP_REACH_NLRI VPN-IPv4 NLRI shorter than its label stack', attrs: `40 01 01 00 40 02 00 80 0e 14 0001 80 0c 0000000000000000 0a000001 00 10 0001`, nlri: '', subcode: U.INVALID_NETWORK_FIELD, severity: 'af-disable' },
  { name: 'MP_REACH_NLRI IPv4 prefix of 33 bits', attrs: `40 01 01 00 40 02 00 80 0e 0b 0001 01 04 0a000001 00 21 0a`, nlri: '', subcode: U.INVALID_NETWORK_FIELD, severity: 'af-disable' },
  { name: 'MP_REACH_NLRI route target membership of 16 bits', attrs: `40 01 01 00 40 02 00 80 0e 0c 0001 84 04 0a000001 00 10 0000`, nlri: '', subcode: U.INVALID_NETWORK_FIELD, severity: 'af-disable' },
  { name: 'MP_REACH_NLRI next hop overrunning the attribute', attrs: `40 01 01 00 40 02 00 80 0e 05 0001 01 08 00`, nlri: '', subcode: U.OPTIONAL_ATTRIBUTE_ERROR, severity: 'af-disable', data: '800e050001010800' },
  { name: 'MP_REACH_NLRI flagged transitive', attrs: `40 01 01 00 40 02 00 c0 0e 0a 0001 01 04 0a000001 00 00`, nlri: '', subcode: U.ATTRIBUTE_FLAGS_ERROR, severity: 'af-disable', data: 'c00e0a000101040a0000010000' },
  { name: 'MP_UNREACH_NLRI with an IPv4 prefix overrun', attrs: `80 0f 05 0001 01 18 0a`, nlri: '', subcode: U.INVALID_NETWORK_FIELD, severity: 'af-disable' },
  { name: 'a second COMMUNITIES is discarded', attrs: `${VALID} c0 08 04 fde80064 c0 08 04 fde80065`, subcode: U.MALFORMED_ATTRIBUTE_LIST, severity: 'attribute-discard' },
  { name: 'ORIGIN missing', attrs: `40 02 00 40 03 04 0a000001`, subcode: U.MISSING_WELL_KNOWN_ATTRIBUTE, severity: 'treat-as-withdraw', data: '01' },
  { name: 'AS_PATH missing', attrs: `40 01 01 00 40 03 04 0a000001`, subcode: U.MISSING_WELL_KNOWN_ATTRIBUTE, severity: 'treat-as-withdraw', data: '02' },
  { name: 'NEXT_HOP missing with NLRI', attrs: `40 01 01 00 40 02 00`, subcode: U.MISSING_WELL_KNOWN_ATTRIBUTE, severity: 'treat-as-withdraw', data: '03' },
  { name: 'AS_PATH missing with MP_REACH_NLRI', attrs: `80 0e 0a 0001 01 04 0a000001 00 00 40 01 01 00`, nlri: '', subcode: U.MISSING_WELL_KNOWN_ATTRIBUTE, severity: 'treat-as-withdraw', data: '02' },
  { name: 'an attribute overrunning the path attributes (RFC 7606 §4)', attrs: `${VALID} c0 08 08 fde80064`, subcode: U.ATTRIBUTE_LENGTH_ERROR, severity: 'treat-as-withdraw', data: 'c00808fde80064' },
  { name: 'two octets left: no room for an attribute header (RFC 7606 §4)', attrs: `${VALID} c0 08`, subcode: U.MALFORMED_ATTRIBUTE_LIST, severity: 'treat-as-withdraw' },
  { name: 'AS4_PATH from a 4-octet speaker is discarded (RFC 6793 §4.1)', attrs: `${VALID} c0 11 06 02 01 0000fde9`, subcode: U.OPTIONAL_ATTRIBUTE_ERROR, severity: 'attribute-discard', data: 'c0110602010000fde9' },
  { name: 'a malformed AS4_PATH is discarded (RFC 6793 §6)', attrs: `40 01 01 00 40 02 00 40 03 04 0a000001 c0 11 02 02 00`, subcode: U.MALFORMED_AS_PATH, severity: 'attribute-discard', ctx: AS2_CONTEXT },
  { name: 'a malformed AS4_AGGREGATOR is discarded', attrs: `${VALID} c0 12 06 fde9 0a000001`, subcode: U.ATTRIBUTE_LENGTH_ERROR, severity: 'attribute-discard', data: 'c01206fde90a000001', ctx: AS2_CONTEXT },
];

describe('RFC 7606 handling of malformed attributes', () => {
  for (const row of ERROR_ROWS) {
    it(`${row.name}: ${row.severity}`, () => {
      const d = decodeUpdate(updateBytes('', row.attrs, row.nlri ?? NLRI), row.ctx);
      expect(d.error, 'an error').toBeDefined();
      const e = d.error!;
      expect([e.errorCode, e.errorSubcode, e.severity]).toEqual([3, row.subcode, row.severity]);
      if (row.data !== undefined) expect(hex(e.data)).toBe(row.data);
      // The NLRI field is still located and decoded, whatever happened to the attributes.
      expect(d.message.nlri.length).toBe(row.nlri === '' ? 0 : 1);
    });
  }

  it('MP attribute errors name the family to disable', () => {
    const d = decodeUpdate(updateBytes('', `40 01 01 00 40 02 00 80 0e 0a 0001 80 04 0a000001 00 00`));
    expect([d.error?.afi, d.error?.safi]).toEqual([1, 128]);
  });

  it('decoding goes on after an error and keeps the strongest (GoBGP order)', () => {
    // ATOMIC_AGGREGATE bad (discard), then ORIGIN bad (treat-as-withdraw), then a good COMMUNITIES.
    const d = decodeUpdate(updateBytes('', `40 06 01 00  40 01 01 07  40 02 00  40 03 04 0a000001  c0 08 04 fde80064`, NLRI));
    expect(d.errors.map((e) => e.severity)).toEqual(['attribute-discard', 'treat-as-withdraw']);
    expect(d.error?.errorSubcode).toBe(U.INVALID_ORIGIN_ATTRIBUTE);
    expect(d.message.pathAttributes.map((a) => a.type)).toEqual(['AS_PATH', 'NEXT_HOP', 'COMMUNITIES']);
  });

  it('a discarded duplicate leaves the first copy', () => {
    const d = decodeUpdate(updateBytes('', `${VALID} c0 08 04 fde80064 c0 08 04 fde80065`, NLRI));
    expect(getAttribute(d.message.pathAttributes, 'COMMUNITIES')?.value).toEqual([0xfde80064]);
  });

  it('no reachability, no mandatory attributes needed', () => {
    expect(decodeUpdate(updateBytes('10 0a0a', '')).error).toBeUndefined();
    expect(decodeUpdate(updateBytes('', '80 0f 03 0001 80')).error).toBeUndefined();
  });
});

describe('errors that reset the session', () => {
  const expectFatal = (bytes: Uint8Array, subcode: number, data = ''): void => {
    const e = decodeFatal(bytes);
    expect([e.errorCode, e.errorSubcode, hex(e.data)]).toEqual([3, subcode, data]);
  };

  it('MP_REACH_NLRI twice (RFC 7606 §3 g)', () => {
    expectFatal(updateBytes('', `40 01 01 00 40 02 00 80 0e 0a 0001 01 04 0a000001 00 00 80 0e 0a 0001 01 04 0a000001 00 00`, ''), U.MALFORMED_ATTRIBUTE_LIST);
  });

  it('MP_UNREACH_NLRI too short to name its family', () => {
    expectFatal(updateBytes('', `80 0f 02 0001`, ''), U.OPTIONAL_ATTRIBUTE_ERROR, '800f020001');
  });

  it('an unrecognized well-known attribute, data = the attribute', () => {
    expectFatal(updateBytes('', `${VALID} 40 63 02 abcd`, NLRI), U.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE, '406302abcd');
  });

  it('Withdrawn Routes Length or Total Path Attribute Length past the message: Malformed Attribute List', () => {
    expectFatal(fromHex('ffffffffffffffffffffffffffffffff 0017 02 0001 0000'), U.MALFORMED_ATTRIBUTE_LIST);
    expectFatal(fromHex('ffffffffffffffffffffffffffffffff 0018 02 0000 0002 00'), U.MALFORMED_ATTRIBUTE_LIST);
    expectFatal(fromHex('ffffffffffffffffffffffffffffffff 0018 02 0002 0000 00'), U.MALFORMED_ATTRIBUTE_LIST);
  });

  it('NLRI or withdrawn routes that cannot be parsed: Invalid Network Field (RFC 7606 §5.3)', () => {
    expectFatal(updateBytes('', VALID, '21 0a000000 00'), U.INVALID_NETWORK_FIELD);
    expectFatal(updateBytes('', VALID, '18 c0a8'), U.INVALID_NETWORK_FIELD);
    expectFatal(updateBytes('20 0a00', ''), U.INVALID_NETWORK_FIELD);
  });
});

describe('attribute table and helpers', () => {
  it('each row says its flags and RFC 7606 approach', () => {
    expect(attributeDescriptor(1)).toMatchObject({ name: 'ORIGIN', flags: ATTR_FLAG.TRANSITIVE, malformed: 'treat-as-withdraw' });
    expect(attributeDescriptor(7)).toMatchObject({ name: 'AGGREGATOR', flags: 0xc0, malformed: 'attribute-discard' });
    expect(attributeDescriptor(14)).toMatchObject({ name: 'MP_REACH_NLRI', malformed: 'af-disable' });
    expect(attributeDescriptor(99)).toBeUndefined();
  });

  it('propagation drops unknown non-transitive attributes and marks unknown transitive ones Partial', () => {
    const attrs: PathAttribute[] = [
      attribute('ORIGIN', 0),
      { type: 'UNRECOGNIZED', typeCode: 99, flags: 0xc0, value: Uint8Array.of(1) },
      { type: 'UNRECOGNIZED', typeCode: 100, flags: 0x80, value: Uint8Array.of(2) },
    ];
    expect(attributesForPropagation(attrs)).toEqual([attrs[0], { ...attrs[1], flags: 0xe0 }]);
  });

  it('AS_PATH length: a set counts one, confederation segments none; prepend', () => {
    const path = [
      { type: AS_CONFED_SEQUENCE, asNumbers: [64512] },
      { type: AS_SEQUENCE, asNumbers: [1, 2, 3] },
      { type: AS_SET, asNumbers: [4, 5] },
    ];
    expect(asPathLength(path)).toBe(4);
    expect(prependAs([{ type: AS_SEQUENCE, asNumbers: [2] }], 1)).toEqual([{ type: AS_SEQUENCE, asNumbers: [1, 2] }]);
    expect(prependAs([{ type: AS_SET, asNumbers: [2] }], 1)).toEqual([{ type: AS_SEQUENCE, asNumbers: [1] }, { type: AS_SET, asNumbers: [2] }]);
  });

  it('AS4_PATH out to a 2-octet speaker and back (RFC 6793 §4.2)', () => {
    const attrs: PathAttribute[] = [
      attribute('ORIGIN', 0),
      attribute('AS_PATH', [{ type: AS_SEQUENCE, asNumbers: [65001, 4200000000, 65003] }]),
      attribute('AGGREGATOR', { asNumber: 4200000001, address: A }),
    ];
    const out = attributesForAs2Peer(attrs);
    expect(out.map((a) => a.type)).toEqual(['ORIGIN', 'AS_PATH', 'AGGREGATOR', 'AS4_PATH', 'AS4_AGGREGATOR']);
    const wire = encodeMessage({ type: 'UPDATE', withdrawnRoutes: [], pathAttributes: out, nlri: [] }, AS2_CONTEXT);
    const received = decodeUpdate(wire, AS2_CONTEXT).message.pathAttributes;
    expect(getAttribute(received, 'AS_PATH')?.value[0]?.asNumbers).toEqual([65001, AS_TRANS, 65003]);
    const merged = attributesFromAs2Peer(received);
    expect(getAttribute(merged, 'AS_PATH')?.value).toEqual([{ type: AS_SEQUENCE, asNumbers: [65001, 4200000000, 65003] }]);
    expect(getAttribute(merged, 'AGGREGATOR')?.value).toEqual({ asNumber: 4200000001, address: A });
    expect(merged.some((a) => a.type === 'AS4_PATH' || a.type === 'AS4_AGGREGATOR')).toBe(false);
  });

  it('an AS4_PATH longer than the AS_PATH is ignored (RFC 6793 §4.2.3)', () => {
    const attrs: PathAttribute[] = [attribute('AS_PATH', [{ type: AS_SEQUENCE, asNumbers: [AS_TRANS] }]), attribute('AS4_PATH', [{ type: AS_SEQUENCE, asNumbers: [1, 2] }])];
    expect(getAttribute(attributesFromAs2Peer(attrs), 'AS_PATH')?.value).toEqual([{ type: AS_SEQUENCE, asNumbers: [AS_TRANS] }]);
  });
});
