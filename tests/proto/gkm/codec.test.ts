// G-IKEv2 payload codecs: annotated fixtures, round-trip and mutation properties, typed views.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { fromHex, hex } from '../../../src/lib/bytes.ts';
import {
  buildGsa,
  buildKd,
  decodeGsa,
  decodeIdg,
  decodeKd,
  decodeMemberList,
  decodeSenderCount,
  decodeWrappedKey,
  encodeGsa,
  encodeIdg,
  encodeKd,
  encodeMemberList,
  encodeWrappedKey,
  GKM_PAYLOAD,
  GKM_PROTOCOL,
  readGkmPayloads,
  readGsa,
  readKd,
  type Attribute,
  type GroupPolicyBody,
  type KeyBagBody,
} from '../../../src/proto/gkm/index.ts';
import { decodePayloadChain, encodePayloadChain, PAYLOAD, type Payload, type TrafficSelector, type Transform } from '../../../src/proto/ike/index.ts';

function ok<T>(r: { ok: true; value: T } | { ok: false; error: { code: string; field: string; message: string } }): T {
  if (!r.ok) throw new Error(`${r.error.code} at ${r.error.field}: ${r.error.message}`);
  return r.value;
}

const IDG = fromHex(`
  0b 000000                 // ID Type ID_KEY_ID (11), RESERVED
  76706e2d626c7565          // "vpn-blue"
`);

/** A registration's GSA payload body: Rekey SA policy, one ESP policy, the Group-Wide Policy. */
const GSA = fromHex(`
  // --- GSA policy: the Rekey SA ---
  06 10 0073                // Protocol GIKE_UPDATE (6), SPI Size 16, Length 115
  0102030405060708 1112131415161718   // SPI = SPIi | SPIr of GSA_REKEY
  07 11 0010 0350 0350 c6336401 c6336401  // Source TS: UDP port 848 from 198.51.100.1
  07 11 0010 0350 0350 00000000 ffffffff  // Destination TS: UDP port 848, any address
  03 00 000c 01 00 0014 800e 0080         // Transform ENCR AES-GCM-16 (20), Key Length 128 (more)
  03 00 0008 02 00 0005                   // Transform PRF HMAC-SHA2-256 (5) (more)
  03 00 0008 0d 00 0001                   // Transform KWA (13) KW_5649_128 (1) (more)
  00 00 0013 0e 00 0002                   // Transform GCAUTH (14) Digital Signature (2) (last)
     0012 0007 300506032b6570             //   attribute 18 (TLV): AlgorithmIdentifier id-Ed25519
  0001 0004 00000e10                      // GSA_KEY_LIFETIME 3600 s
  0002 0004 00000005                      // GSA_INITIAL_MESSAGE_ID 5
  // --- GSA policy: an ESP Data-Security SA (TEK) ---
  03 04 0044                // Protocol ESP (3), SPI Size 4, Length 68
  a1b2c3d4                  // SPI
  07 00 0010 0000 ffff 00000000 ffffffff  // Source TS: any
  07 00 0010 0000 ffff 00000000 ffffffff  // Destination TS: any
  03 00 000c 01 00 0014 800e 0080         // ENCR AES-GCM-16, 128 (more)
  00 00 0008 05 00 0002                   // Sequence Numbers: 32-bit Unspecified (2) (last)
  0001 0004 0000003c                      // GSA_KEY_LIFETIME 60 s
  // --- Group-Wide Policy ---
  00 00 0010                // Protocol 0, RESERVED, Length 16
  8001 0001                 // GWP_ATD 1 s (TV)
  8002 0002                 // GWP_DTD 2 s (TV)
  8003 000c                 // GWP_SENDER_ID_BITS 12 (TV)
`);

const WRAPPED_24 = 'a6'.repeat(24);
const SPKI = '302a300506032b6570032100' + '11'.repeat(32);

/** A registration's KD payload body: Rekey SA key, TEK key, the member's own bag. */
const KD = fromHex(`
  06 10 0038                // Group Key Bag: GIKE_UPDATE, SPI Size 16, Length 56
  0102030405060708 1112131415161718
  0001 0020                 // SA_KEY (TLV, 32 octets)
    00000000 00000007       //   Key ID 0 (SA keying material), KWK ID 7 (the key tree's root)
    ${WRAPPED_24}           //   RFC 5649 output
  03 04 002c                // Group Key Bag: ESP, SPI Size 4, Length 44
  a1b2c3d4
  0001 0020 00000000 00000000 ${WRAPPED_24}   // SA_KEY under the default KWK (GSK_w)
  00 00 0060                // Member Key Bag: Protocol 0, RESERVED, Length 96
  0001 0020 00000007 00000000 ${WRAPPED_24}   // WRAP_KEY: key 7 under GSK_w
  0002 002c ${SPKI}                           // AUTH_KEY: Ed25519 SubjectPublicKeyInfo
  0003 0004 00000002                          // GM_SENDER_ID 2
`);

const MEMBER_LIST = fromHex(`
  0002 0000                 // Number of Entries 2, RESERVED
  01 04 c000020b            // ID_IPV4_ADDR 192.0.2.11
  02 0c 63652d322e6578616d706c65  // ID_FQDN "ce-2.example"
`);

describe('fixtures', () => {
  it('IDg', () => {
    const id = ok(decodeIdg(IDG));
    expect(id).toEqual({ idType: 11, data: new TextEncoder().encode('vpn-blue') });
    expect(hex(encodeIdg(id))).toBe(hex(IDG));
  });

  it('GSA: Rekey SA, ESP TEK and Group-Wide Policy', () => {
    const policies = ok(decodeGsa(GSA));
    expect(hex(encodeGsa(policies))).toBe(hex(GSA));
    expect(policies.map((p) => (p.kind === 'sa' ? p.protocol : 'gwp'))).toEqual([6, 3, 'gwp']);
    const view = ok(readGsa(policies));
    expect(view.kek).toMatchObject({ suite: 'aes-gcm-128', kwa: 1, lifetimeS: 3600, initialMessageId: 5, auth: 'ed25519' });
    expect(view.teks).toEqual([
      {
        spi: 0xa1b2c3d4,
        suite: 'aes-gcm-128',
        lifetimeS: 60,
        sn: 2,
        src: { kind: 'ipv4-range', ipProtocolId: 0, startPort: 0, endPort: 0xffff, startAddr: 0, endAddr: 0xffffffff },
        dst: { kind: 'ipv4-range', ipProtocolId: 0, startPort: 0, endPort: 0xffff, startAddr: 0, endAddr: 0xffffffff },
      },
    ]);
    expect(view.gwp).toEqual({ atdS: 1, dtdS: 2, senderIdBits: 12 });
    // The typed view builds the very same bytes.
    expect(hex(encodeGsa(buildGsa(view)))).toBe(hex(GSA));
  });

  it('KD: group key bags and the member key bag', () => {
    const bags = ok(decodeKd(KD));
    expect(hex(encodeKd(bags))).toBe(hex(KD));
    const view = ok(readKd(bags));
    expect(view.saKeys.map((s) => [s.protocol, hex(s.spi), s.keys.map((k) => [k.keyId, k.kwkId])])).toEqual([
      [6, '01020304050607081112131415161718', [[0, 7]]],
      [3, 'a1b2c3d4', [[0, 0]]],
    ]);
    expect(view.wrapKeys.map((k) => [k.keyId, k.kwkId, hex(k.wrapped)])).toEqual([[7, 0, WRAPPED_24]]);
    expect(hex(view.authKey!)).toBe(SPKI);
    expect(view.senderIds).toEqual([2]);
    expect(hex(encodeKd(buildKd(view)))).toBe(hex(KD));
  });

  it('MEMBER_LIST notify data (private use, seed 001)', () => {
    const ml = ok(decodeMemberList(MEMBER_LIST));
    expect(ml.entries.map((e) => e.idType)).toEqual([1, 2]);
    expect(new TextDecoder().decode(ml.entries[1]!.data)).toBe('ce-2.example');
    expect(hex(encodeMemberList(ml))).toBe(hex(MEMBER_LIST));
  });

  it('GROUP_SENDER count', () => {
    expect(ok(decodeSenderCount(fromHex('00000003')))).toBe(3);
    expect(ok(decodeSenderCount(new Uint8Array(0)))).toBe(1);
    expect(decodeSenderCount(fromHex('000003'))).toMatchObject({ ok: false, error: { code: 'TRUNCATED' } });
  });

  it('as payloads in an IKEv2 chain: types 50, 51, 52 ride through the IKE codec as opaque bodies', () => {
    const chain: Payload[] = [
      { kind: 'opaque', type: GKM_PAYLOAD.IDG, body: IDG },
      { kind: 'opaque', type: GKM_PAYLOAD.GSA, body: GSA },
      { kind: 'opaque', type: GKM_PAYLOAD.KD, body: KD },
    ];
    const bytes = encodePayloadChain(chain);
    const back = ok(decodePayloadChain(bytes, GKM_PAYLOAD.IDG, false));
    const gkm = ok(readGkmPayloads(back));
    expect(gkm.idg?.idType).toBe(11);
    expect(gkm.gsa).toHaveLength(3);
    expect(gkm.kd).toHaveLength(3);
    expect(readGkmPayloads([...back, back[0]!])).toMatchObject({ ok: false, error: { code: 'BAD_COUNT', field: 'payload.idg' } });
  });
});

describe('malformed input is rejected with a typed error naming the field', () => {
  const cases: [string, () => { ok: boolean; error?: { code: string; field: string } }, string, string][] = [
    ['GSA truncated in the first policy', () => decodeGsa(GSA.subarray(0, 40)), 'TRUNCATED', 'gsa.policy[0].length'],
    ['GSA with a wrong SPI size', () => decodeGsa(fromHex('06 04 0008 01020304')), 'BAD_SPI_SIZE', 'gsa.policy[0].spiSize'],
    ['GSA with Last Substruc 2 in a transform', () => decodeGsa(patched(GSA, 4 + 16 + 32, 0x02)), 'BAD_LAST_SUBSTRUC', 'gsa.policy[0].transform[0].lastSubstruc'],
    ['GSA empty', () => decodeGsa(new Uint8Array(0)), 'BAD_LENGTH', 'gsa'],
    ['GSA with a length below its header', () => decodeGsa(fromHex('00 00 0002')), 'BAD_LENGTH', 'gsa.policy[0].length'],
    ['KD with a short wrapped key', () => readKdBytes(fromHex('03 04 0014 a1b2c3d4 0001 0008 00000000 00000000')), 'BAD_LENGTH', 'kd.bag[0].attribute[0].wrapped'],
    ['KD whose SA_KEY has a Key ID', () => readKdBytes(fromHex(`03 04 002c a1b2c3d4 0001 0020 00000001 00000000 ${WRAPPED_24}`)), 'BAD_VALUE', 'kd.bag[0].attribute[0].keyId'],
    ['KD with an unknown member attribute', () => readKdBytes(fromHex('00 00 0008 0009 0000')), 'BAD_ATTRIBUTE', 'kd.bag[0].attribute[0]'],
    ['KD with a TLV attribute running past the bag', () => decodeKd(fromHex('00 00 0008 0001 0010')), 'TRUNCATED', 'kd.bag[0].attribute[0].value'],
    ['member list with trailing bytes', () => decodeMemberList(fromHex('0001 0000 01 04 c000020b ff')), 'TRAILING_BYTES', 'memberList'],
    ['member list with an empty identity', () => decodeMemberList(fromHex('0001 0000 01 00')), 'BAD_LENGTH', 'memberList.entry[0].length'],
    ['member list over the bound', () => decodeMemberList(fromHex('0101 0000')), 'BAD_COUNT', 'memberList.count'],
    ['IDg with no identification', () => decodeIdg(fromHex('0b000000')), 'BAD_LENGTH', 'idg.data'],
  ];
  for (const [name, run, code, field] of cases)
    it(name, () => {
      const r = run();
      expect(r.ok).toBe(false);
      expect(r.error).toMatchObject({ code, field });
    });

  it('policies we do not implement are POLICY_UNACCEPTABLE, not a crash', () => {
    const policies = ok(decodeGsa(GSA));
    const tek = policies[1] as Extract<GroupPolicyBody, { kind: 'sa' }>;
    const esn: Transform = { type: 5, id: 1, attributes: [] };
    expect(readGsa([{ ...tek, transforms: [tek.transforms[0]!, esn] }])).toMatchObject({ ok: false, error: { code: 'POLICY_UNACCEPTABLE', field: 'gsa.policy[0].sn' } });
    expect(readGsa([{ ...tek, transforms: [{ type: 1, id: 12, attributes: [{ type: 14, value: 128 }] }] }])).toMatchObject({ ok: false, error: { code: 'POLICY_UNACCEPTABLE' } });
    expect(readGsa([{ ...tek, attributes: [] }])).toMatchObject({ ok: false, error: { code: 'BAD_ATTRIBUTE', field: 'gsa.policy[0].lifetime' } });
    expect(readGsa([policies[2]!, policies[2]!])).toMatchObject({ ok: false, error: { code: 'BAD_COUNT' } });
  });
});

function patched(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const out = bytes.slice();
  out[at] = value;
  return out;
}

function readKdBytes(bytes: Uint8Array) {
  const bags = decodeKd(bytes);
  return bags.ok ? readKd(bags.value) : bags;
}

// --- Properties ---

const bytesArb = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
const attributeArb: fc.Arbitrary<Attribute> = fc.oneof(
  fc.record({ type: fc.integer({ min: 0, max: 0x7fff }), value: fc.integer({ min: 0, max: 0xffff }) }),
  fc.record({ type: fc.integer({ min: 0, max: 0x7fff }), value: bytesArb(0, 40) }),
);
const transformArb: fc.Arbitrary<Transform> = fc
  .record({ type: fc.integer({ min: 0, max: 255 }), id: fc.integer({ min: 0, max: 0xffff }), attributes: fc.array(attributeArb, { maxLength: 3 }), reserved: fc.option(fc.integer({ min: 1, max: 0xffff }), { nil: undefined }) })
  .map(({ reserved, ...t }) => (reserved === undefined ? t : { ...t, reserved }));
const selectorArb: fc.Arbitrary<TrafficSelector> = fc.oneof(
  fc.record({
    kind: fc.constant('ipv4-range' as const),
    ipProtocolId: fc.integer({ min: 0, max: 255 }),
    startPort: fc.integer({ min: 0, max: 0xffff }),
    endPort: fc.integer({ min: 0, max: 0xffff }),
    startAddr: fc.integer({ min: 0, max: 0xffffffff }),
    endAddr: fc.integer({ min: 0, max: 0xffffffff }),
  }),
  fc.record({ kind: fc.constant('opaque' as const), tsType: fc.integer({ min: 8, max: 255 }), ipProtocolId: fc.integer({ min: 0, max: 255 }), body: bytesArb(0, 36) }),
);
const spiFor = (protocol: number) => (protocol === 6 ? bytesArb(16, 16) : protocol === 2 || protocol === 3 ? bytesArb(4, 4) : bytesArb(0, 20));
const protocolArb = fc.oneof(fc.constantFrom(2, 3, 6), fc.integer({ min: 1, max: 255 }));
const policyArb: fc.Arbitrary<GroupPolicyBody> = fc.oneof(
  protocolArb.chain((protocol) =>
    fc.record({
      kind: fc.constant('sa' as const),
      protocol: fc.constant(protocol),
      spi: spiFor(protocol),
      src: selectorArb,
      dst: selectorArb,
      transforms: fc.array(transformArb, { minLength: 1, maxLength: 5 }),
      attributes: fc.array(attributeArb, { maxLength: 4 }),
    }),
  ),
  fc
    .record({ kind: fc.constant('gwp' as const), attributes: fc.array(attributeArb, { maxLength: 4 }), reserved: fc.option(fc.integer({ min: 1, max: 255 }), { nil: undefined }) })
    .map(({ reserved, ...g }) => (reserved === undefined ? g : { ...g, reserved })),
);
const bagArb: fc.Arbitrary<KeyBagBody> = fc.oneof(
  protocolArb.chain((protocol) => fc.record({ kind: fc.constant('group' as const), protocol: fc.constant(protocol), spi: spiFor(protocol), attributes: fc.array(attributeArb, { maxLength: 4 }) })),
  fc
    .record({ kind: fc.constant('member' as const), attributes: fc.array(attributeArb, { maxLength: 6 }), reserved: fc.option(fc.integer({ min: 1, max: 255 }), { nil: undefined }) })
    .map(({ reserved, ...b }) => (reserved === undefined ? b : { ...b, reserved })),
);

describe('properties', () => {
  it('GSA: decode(encode(x)) = x', () => {
    fc.assert(fc.property(fc.array(policyArb, { minLength: 1, maxLength: 6 }), (ps) => {
        expect(ok(decodeGsa(encodeGsa(ps)))).toEqual(ps);
      }),
    );
  });

  it('KD: decode(encode(x)) = x', () => {
    fc.assert(fc.property(fc.array(bagArb, { minLength: 1, maxLength: 6 }), (bs) => {
        expect(ok(decodeKd(encodeKd(bs)))).toEqual(bs);
      }),
    );
  });

  it('wrapped keys and member lists: decode(encode(x)) = x', () => {
    fc.assert(
      fc.property(
        fc.record({ keyId: fc.integer({ min: 0, max: 0xffffffff }), kwkId: fc.integer({ min: 0, max: 0xffffffff }), wrapped: fc.integer({ min: 2, max: 8 }).chain((n) => bytesArb(8 * n, 8 * n)) }),
        (k) => {
          expect(ok(decodeWrappedKey(encodeWrappedKey(k)))).toEqual(k);
        },
      ),
    );
    fc.assert(
      fc.property(fc.array(fc.record({ idType: fc.integer({ min: 0, max: 255 }), data: bytesArb(1, 40) }), { maxLength: 20 }), (entries) => {
        expect(ok(decodeMemberList(encodeMemberList({ entries })))).toEqual({ entries });
      }),
    );
  });

  it('mutated bytes never throw; whatever decodes encodes back to the same bytes', () => {
    const mutate = (base: Uint8Array) =>
      fc.oneof(
        fc.record({ at: fc.nat(base.length - 1), v: fc.integer({ min: 0, max: 255 }) }).map(({ at, v }) => patched(base, at, v)),
        fc.nat(base.length).map((n) => base.slice(0, n)),
        bytesArb(1, 8).map((extra) => Uint8Array.from([...base, ...extra])),
        fc.array(fc.record({ at: fc.nat(base.length - 1), v: fc.integer({ min: 0, max: 255 }) }), { maxLength: 6 }).map((ps) => ps.reduce((b, p) => patched(b, p.at, p.v), base)),
      );
    const check = <T>(decode: (b: Uint8Array) => { ok: true; value: T } | { ok: false }, encode: (v: T) => Uint8Array) => (b: Uint8Array) => {
      const r = decode(b);
      if (r.ok) expect(hex(encode(r.value))).toBe(hex(b));
    };
    fc.assert(fc.property(mutate(GSA), check(decodeGsa, encodeGsa)), { numRuns: 2000 });
    fc.assert(fc.property(mutate(KD), check(decodeKd, encodeKd)), { numRuns: 2000 });
    fc.assert(fc.property(mutate(MEMBER_LIST), check(decodeMemberList, encodeMemberList)), { numRuns: 1000 });
    fc.assert(fc.property(mutate(IDG), check(decodeIdg, encodeIdg)), { numRuns: 500 });
    // The typed views never throw either.
    fc.assert(
      fc.property(mutate(GSA), (b) => {
        const r = decodeGsa(b);
        if (r.ok) readGsa(r.value);
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(mutate(KD), (b) => {
        const r = decodeKd(b);
        if (r.ok) readKd(r.value);
      }),
      { numRuns: 1000 },
    );
  });

  it('random bytes never throw', () => {
    fc.assert(
      fc.property(bytesArb(0, 200), (b) => {
        decodeGsa(b);
        decodeKd(b);
        decodeMemberList(b);
        decodeIdg(b);
        decodeWrappedKey(b);
        readGkmPayloads([{ kind: 'opaque', type: GKM_PAYLOAD.GSA, body: b }, { kind: 'opaque', type: GKM_PAYLOAD.KD, body: b }]);
      }),
      { numRuns: 3000 },
    );
  });
});

// Constants the fixtures spell out by number.
it('code points', () => {
  expect([GKM_PAYLOAD.IDG, GKM_PAYLOAD.GSA, GKM_PAYLOAD.KD, PAYLOAD.SK]).toEqual([50, 51, 52, 46]);
  expect([GKM_PROTOCOL.GIKE_UPDATE, GKM_PROTOCOL.ESP]).toEqual([6, 3]);
});
