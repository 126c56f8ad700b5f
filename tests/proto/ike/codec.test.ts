import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { createCipheriv } from 'node:crypto';
import { concat, fromHex, hex } from '../../../src/lib/bytes.ts';
import {
  AUTH_METHOD,
  decodeHeader,
  decodeMessage,
  decodePayloadChain,
  encodeEncryptedMessage,
  encodeMessage,
  encodePayloadChain,
  EXCHANGE,
  FLAG_INITIATOR,
  ID_TYPE,
  NOTIFY,
  openEncryptedMessage,
  PAYLOAD,
  PROTOCOL_ID,
  RECOGNISED_PAYLOADS,
  TRANSFORM_TYPE,
  unsupportedCritical,
  type IkeMessage,
  type Payload,
  type Proposal,
  type TrafficSelector,
  type Transform,
  type TransformAttribute,
} from '../../../src/proto/ike/index.ts';

/** Decodes a chain fixture and checks that encoding gives the very same bytes back. */
function roundTrip(bytes: Uint8Array, firstType: number): Payload[] {
  const r = decodePayloadChain(bytes, firstType, true);
  if (!r.ok) throw new Error(`${r.error.code} at ${r.error.field}: ${r.error.message}`);
  expect(hex(encodePayloadChain(r.value))).toBe(hex(bytes));
  return r.value;
}

const SPI_ESP_1 = fromHex('a1b2c3d4');
const SPI_ESP_2 = fromHex('0000f00d');

describe('payload fixtures (RFC 7296 §3 layouts)', () => {
  it('SA with an IKE proposal: ENCR AES-GCM-16/128, PRF HMAC-SHA2-256, D-H 31 (§3.3)', () => {
    const bytes = fromHex(`
      00 00 0028        // generic header: next NONE, not critical, length 40
      00 00 0024        // proposal: last (0), RESERVED, length 36
      01 01 00 03       // proposal #1, protocol IKE, SPI size 0, 3 transforms
      03 00 000c        // transform: more (3), RESERVED, length 12
      01 00 0014        //   type ENCR, RESERVED, ENCR_AES_GCM_16 (20)
      800e 0080         //   attribute TV Key Length (14) = 128
      03 00 0008        // transform: more, length 8
      02 00 0005        //   type PRF, PRF_HMAC_SHA2_256 (5)
      00 00 0008        // transform: last, length 8
      04 00 001f        //   type D-H, Curve25519 (31)
    `);
    const [sa] = roundTrip(bytes, PAYLOAD.SA);
    expect(sa).toEqual({
      kind: 'sa',
      proposals: [
        {
          number: 1,
          protocolId: PROTOCOL_ID.IKE,
          spi: new Uint8Array(0),
          transforms: [
            { type: TRANSFORM_TYPE.ENCR, id: 20, attributes: [{ type: 14, value: 128 }] },
            { type: TRANSFORM_TYPE.PRF, id: 5, attributes: [] },
            { type: TRANSFORM_TYPE.DH, id: 31, attributes: [] },
          ],
        },
      ],
    });
  });

  it('SA with two ESP proposals carrying SPIs: AES-GCM-256 + ESN, ChaCha20-Poly1305 + no ESN (§3.3.1)', () => {
    const bytes = fromHex(`
      00 00 0040        // generic header, length 64
      02 00 0020        // proposal: more (2), length 32
      01 03 04 02       // #1, ESP (3), SPI size 4, 2 transforms
      a1b2c3d4          // SPI
      03 00 000c 01 00 0014 800e 0100   // ENCR_AES_GCM_16, Key Length 256
      00 00 0008 05 00 0001             // ESN: Extended Sequence Numbers (1)
      00 00 001c        // proposal: last, length 28
      02 03 04 02       // #2, ESP, SPI size 4, 2 transforms
      a1b2c3d4
      03 00 0008 01 00 001c             // ENCR_CHACHA20_POLY1305 (28)
      00 00 0008 05 00 0000             // ESN: No Extended Sequence Numbers (0)
    `);
    const [sa] = roundTrip(bytes, PAYLOAD.SA);
    expect(sa?.kind === 'sa' && sa.proposals.map((p) => [p.number, hex(p.spi), p.transforms.map((t) => `${t.type}/${t.id}`).join(',')])).toEqual([
      [1, 'a1b2c3d4', '1/20,5/1'],
      [2, 'a1b2c3d4', '1/28,5/0'],
    ]);
  });

  it('a TLV transform attribute (AF = 0) round-trips (§3.3.5)', () => {
    const bytes = fromHex(`
      00 00 001a        // generic header, length 26
      00 00 0016        // proposal: last, length 22
      01 01 00 01       // #1, IKE, SPI size 0, 1 transform
      00 00 000e        // transform: last, length 14
      01 00 0014        //   ENCR_AES_GCM_16
      0063 0002 abcd    //   attribute type 99, TLV (AF = 0), length 2, value abcd
    `);
    const [sa] = roundTrip(bytes, PAYLOAD.SA);
    expect(sa?.kind === 'sa' && sa.proposals[0]!.transforms[0]!.attributes).toEqual([{ type: 99, value: fromHex('abcd') }]);
    // The same transform claiming length 12 leaves two bytes of the attribute outside it.
    const short = bytes.slice();
    short[15] = 0x0c;
    const r = decodePayloadChain(short, PAYLOAD.SA, false);
    expect(r.ok).toBe(false);
  });

  it('KE for Curve25519 (§3.4, RFC 8031)', () => {
    const data = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a';
    const bytes = fromHex(`
      00 00 0028   // length 40
      001f 0000    // D-H Group Num 31, RESERVED
      ${data}      // Key Exchange Data (32 octets)
    `);
    expect(roundTrip(bytes, PAYLOAD.KE)).toEqual([{ kind: 'ke', dhGroup: 31, data: fromHex(data) }]);
  });

  it('IDi ID_FQDN, IDr ID_IPV4_ADDR, ID_KEY_ID (§3.5)', () => {
    const chain = fromHex(`
      24 00 0014 02 000000 63652d612e6578616d706c65  // IDi (next IDr): ID_FQDN "ce-a.example"
      23 00 000c 01 000000 c0000201                  // IDr (next IDi): ID_IPV4_ADDR 192.0.2.1
      00 00 000c 0b 000000 deadbeef                  // IDi (next NONE): ID_KEY_ID deadbeef
    `);
    const ids = roundTrip(chain, PAYLOAD.IDI);
    expect(ids).toEqual([
      { kind: 'id', type: PAYLOAD.IDI, idType: ID_TYPE.ID_FQDN, data: new TextEncoder().encode('ce-a.example') },
      { kind: 'id', type: PAYLOAD.IDR, idType: ID_TYPE.ID_IPV4_ADDR, data: fromHex('c0000201') },
      { kind: 'id', type: PAYLOAD.IDI, idType: ID_TYPE.ID_KEY_ID, data: fromHex('deadbeef') },
    ]);
  });

  it('AUTH with a shared key MIC and with an RFC 7427 Ed25519 signature (§3.8, RFC 8420)', () => {
    const mic = '00'.repeat(32);
    const sig = 'ab'.repeat(64);
    const bytes = fromHex(`
      27 00 0028 02 000000 ${mic}                    // AUTH (next AUTH): Shared Key MIC (2), 32 octets
      00 00 0050 0e 000000                           // AUTH: Digital Signature (14), length 80
      07                                             //   ASN.1 Length 7
      30 05 06 03 2b 65 70                           //   AlgorithmIdentifier id-Ed25519 (1.3.101.112)
      ${sig}                                         //   signature (64 octets)
    `);
    const [a, b] = roundTrip(bytes, PAYLOAD.AUTH);
    expect(a).toEqual({ kind: 'auth', method: AUTH_METHOD.SHARED_KEY_MIC, data: fromHex(mic) });
    expect(b?.kind === 'auth' && b.method).toBe(AUTH_METHOD.DIGITAL_SIGNATURE);
  });

  it('Nonce of 16 octets, the minimum (§3.9)', () => {
    const bytes = fromHex(`00 00 0014 000102030405060708090a0b0c0d0e0f`);
    expect(roundTrip(bytes, PAYLOAD.NONCE)).toEqual([{ kind: 'nonce', nonce: fromHex('000102030405060708090a0b0c0d0e0f') }]);
  });

  it('Notify: error and status types (§3.10, RFC 7427 §4)', () => {
    const bytes = fromHex(`
      29 00 0008 00 00 000e                  // NO_PROPOSAL_CHOSEN (14)
      29 00 000a 00 00 0011 001f             // INVALID_KE_PAYLOAD (17), data: group 31
      29 00 0008 00 00 0007                  // INVALID_SYNTAX (7)
      29 00 0008 00 00 0018                  // AUTHENTICATION_FAILED (24)
      29 00 0008 00 00 0026                  // TS_UNACCEPTABLE (38)
      29 00 000c 00 00 0009 00000007         // INVALID_MESSAGE_ID (9), data: message ID 7
      29 00 000c 03 04 000b a1b2c3d4         // INVALID_SPI (11), ESP, SPI a1b2c3d4
      29 00 000c 03 04 002c a1b2c3d4         // CHILD_SA_NOT_FOUND (44), ESP, SPI
      29 00 000c 03 04 4009 a1b2c3d4         // REKEY_SA (16393), ESP, SPI of the SA being rekeyed
      29 00 0008 00 00 4007                  // USE_TRANSPORT_MODE (16391)
      00 00 000c 00 00 402f 0002 0005        // SIGNATURE_HASH_ALGORITHMS (16431): SHA2-256, Identity
    `);
    const ns = roundTrip(bytes, PAYLOAD.NOTIFY);
    expect(ns.map((n) => (n.kind === 'notify' ? n.notifyType : -1))).toEqual([
      NOTIFY.NO_PROPOSAL_CHOSEN,
      NOTIFY.INVALID_KE_PAYLOAD,
      NOTIFY.INVALID_SYNTAX,
      NOTIFY.AUTHENTICATION_FAILED,
      NOTIFY.TS_UNACCEPTABLE,
      NOTIFY.INVALID_MESSAGE_ID,
      NOTIFY.INVALID_SPI,
      NOTIFY.CHILD_SA_NOT_FOUND,
      NOTIFY.REKEY_SA,
      NOTIFY.USE_TRANSPORT_MODE,
      NOTIFY.SIGNATURE_HASH_ALGORITHMS,
    ]);
    expect(ns[8]).toEqual({ kind: 'notify', protocolId: PROTOCOL_ID.ESP, spi: SPI_ESP_1, notifyType: NOTIFY.REKEY_SA, data: new Uint8Array(0) });
  });

  it('Delete of two ESP SAs and of the IKE SA (§3.11)', () => {
    const bytes = fromHex(`
      2a 00 0010 03 04 0002 a1b2c3d4 0000f00d  // ESP, SPI size 4, 2 SPIs
      00 00 0008 01 00 0000                    // IKE, SPI size 0, no SPIs
    `);
    expect(roundTrip(bytes, PAYLOAD.DELETE)).toEqual([
      { kind: 'delete', protocolId: PROTOCOL_ID.ESP, spiSize: 4, spis: [SPI_ESP_1, SPI_ESP_2] },
      { kind: 'delete', protocolId: PROTOCOL_ID.IKE, spiSize: 0, spis: [] },
    ]);
  });

  it('TSi and TSr with TS_IPV4_ADDR_RANGE (§3.13)', () => {
    const bytes = fromHex(`
      2d 00 0018 01 000000         // TSi (next TSr), 1 selector
      07 00 0010 0000 ffff         //   TS_IPV4_ADDR_RANGE, any protocol, length 16, ports 0-65535
      0a010000 0a01ffff            //   10.1.0.0 - 10.1.255.255
      00 00 0028 02 000000         // TSr, 2 selectors
      07 06 0010 00b3 00b3         //   TCP (6), port 179 only
      0a020000 0a02ffff            //   10.2.0.0 - 10.2.255.255
      07 00 0010 0000 ffff c6336402 c6336402  // the host 198.51.100.2
    `);
    const [tsi, tsr] = roundTrip(bytes, PAYLOAD.TSI);
    const sel: TrafficSelector = { kind: 'ipv4-range', ipProtocolId: 0, startPort: 0, endPort: 0xffff, startAddr: 0x0a010000, endAddr: 0x0a01ffff };
    expect(tsi).toEqual({ kind: 'ts', type: PAYLOAD.TSI, selectors: [sel] });
    expect(tsr?.kind === 'ts' && tsr.selectors[0]).toEqual({ kind: 'ipv4-range', ipProtocolId: 6, startPort: 179, endPort: 179, startAddr: 0x0a020000, endAddr: 0x0a02ffff });
  });

  it('a TS_IPV6_ADDR_RANGE selector is carried opaquely', () => {
    const bytes = fromHex(`00 00 0030 01 000000 08 00 0028 0000 ffff ${'20010db8'.padEnd(32, '0')} ${'20010db8'.padEnd(32, 'f')}`);
    const [ts] = roundTrip(bytes, PAYLOAD.TSI);
    expect(ts?.kind === 'ts' && ts.selectors[0]?.kind).toBe('opaque');
  });

  it('unknown payloads: skipped when not critical, reported when critical (§2.5)', () => {
    const bytes = fromHex(`
      c8 00 0008 01020304   // Vendor ID (43, recognised, carried opaquely); next: unassigned type 200
      00 80 0008 05060708   // type 200 with the critical bit set
    `);
    const payloads = roundTrip(bytes, PAYLOAD.VENDOR_ID);
    expect(payloads).toEqual([
      { kind: 'opaque', type: PAYLOAD.VENDOR_ID, body: fromHex('01020304') },
      { kind: 'opaque', type: 200, critical: true, body: fromHex('05060708') },
    ]);
    expect(unsupportedCritical(payloads, RECOGNISED_PAYLOADS)).toBe(200);
    expect(unsupportedCritical([payloads[0]!, { ...payloads[1]!, critical: false }], RECOGNISED_PAYLOADS)).toBeUndefined();
  });

  it('RESERVED bits a peer set are kept, so the bytes come back unchanged (§3.2: ignored on receipt)', () => {
    const bytes = fromHex(`
      28 7f 0008 0000 0000   // KE (next Nonce), flags 0x7f: reserved bits set; group 0, RESERVED 0
      00 00 0014 000102030405060708090a0b0c0d0e0f
    `);
    // KE's RESERVED field non-zero too:
    bytes[6] = 0x12;
    bytes[7] = 0x34;
    const [ke] = roundTrip(bytes, PAYLOAD.KE);
    expect(ke).toEqual({ kind: 'ke', dhGroup: 0, data: new Uint8Array(0), headerReserved: 0x7f, reserved: 0x1234 });
  });
});

// The messages used by several tests below.
const HEADER_INIT = `
  c9828f911592e274   // IKE SA Initiator's SPI
  0000000000000000   // IKE SA Responder's SPI (zero in the first message)
  21                 // Next Payload: SA (33)
  20                 // Major Version 2, Minor Version 0
  22                 // Exchange Type: IKE_SA_INIT (34)
  08                 // Flags: Initiator
  00000000           // Message ID 0
`;
const INIT_BODY = `
  22 00 0028 00 00 0024 01 01 00 03 03 00 000c 01 00 0014 800e 0080 03 00 0008 02 00 0005 00 00 0008 04 00 001f // SA (next KE)
  28 00 0028 001f 0000 8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a                    // KE (next Nonce)
  29 00 0014 000102030405060708090a0b0c0d0e0f                                                                // Nonce (next Notify)
  00 00 000a 00 00 402f 0005                                                                                  // N(SIGNATURE_HASH_ALGORITHMS: Identity)
`;
const INIT_MESSAGE = fromHex(`${HEADER_INIT} 0000008a ${INIT_BODY}`); // Length 138

describe('IKE header and messages (§3.1)', () => {
  it('decodes an IKE_SA_INIT request and encodes it back byte for byte', () => {
    const r = decodeMessage(INIT_MESSAGE);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.header).toEqual({
      spiI: fromHex('c9828f911592e274'),
      spiR: new Uint8Array(8),
      exchangeType: EXCHANGE.IKE_SA_INIT,
      flags: FLAG_INITIATOR,
      messageId: 0,
    });
    expect(r.value.payloads.map((p) => p.kind)).toEqual(['sa', 'ke', 'nonce', 'notify']);
    expect(hex(encodeMessage(r.value))).toBe(hex(INIT_MESSAGE));
    const h = decodeHeader(INIT_MESSAGE);
    expect(h.ok && [h.value.nextPayload, h.value.length]).toEqual([PAYLOAD.SA, 138]);
  });

  it('keeps a non-zero minor version (ignored on receipt, §3.1)', () => {
    const m = INIT_MESSAGE.slice();
    m[17] = 0x21;
    const r = decodeMessage(m);
    expect(r.ok && r.value.header.minorVersion).toBe(1);
    expect(r.ok && hex(encodeMessage(r.value))).toBe(hex(m));
  });

  const cases: [string, (m: Uint8Array) => Uint8Array, string, string][] = [
    ['header cut short', (m) => m.slice(0, 20), 'TRUNCATED', 'header.messageId'],
    ['major version 1', (m) => ((m[17] = 0x10), m), 'BAD_VERSION', 'header.version'],
    ['Length beyond the datagram', (m) => ((m[27] = 0xff), m), 'TRUNCATED', 'header.length'],
    ['bytes after Length', (m) => concat(m, fromHex('00')), 'TRAILING_BYTES', 'header.length'],
    ['payload length below 4', (m) => ((m[31] = 3), m), 'BAD_LENGTH', 'payload[0].length'],
    ['Last Substruc 1 in a proposal', (m) => ((m[32] = 1), m), 'BAD_LAST_SUBSTRUC', 'payload[0].proposal[0].lastSubstruc'],
    ['Num Transforms wrong', (m) => ((m[39] = 4), m), 'BAD_COUNT', 'payload[0].proposal[0].numTransforms'],
    ['Nonce of 15 octets', (m) => shrinkNonce(m), 'BAD_LENGTH', 'payload[2].nonce'],
    ['chain announces a payload past the end', (m) => ((m[128] = 0x29), m), 'TRUNCATED', 'payload[4]'],
  ];
  for (const [name, mutate, code, field] of cases)
    it(`rejects ${name} with ${code} at ${field}`, () => {
      const r = decodeMessage(mutate(INIT_MESSAGE.slice()));
      expect(r.ok).toBe(false);
      if (!r.ok) expect([r.error.code, r.error.field]).toEqual([code, field]);
    });

  it('rejects an SK payload that is not last, and an SK inside an SK', () => {
    const skNotLast = fromHex(`
      2e 00 0020 ${'00'.repeat(28)}   // SK (next would be inner type 46?), then more bytes follow
      00 00 0008 01020304
    `);
    const r1 = decodePayloadChain(skNotLast, PAYLOAD.SK, true);
    expect(!r1.ok && r1.error.code).toBe('SK_NOT_LAST');
    const r2 = decodePayloadChain(fromHex(`00 00 0020 ${'00'.repeat(28)}`), PAYLOAD.SK, false);
    expect(!r2.ok && r2.error.code).toBe('NESTED_SK');
  });

  it('rejects other malformed payload bodies naming the field', () => {
    const expectErr = (bytes: string, first: number, code: string, field: string) => {
      const r = decodePayloadChain(fromHex(bytes), first, false);
      expect(r.ok ? 'ok' : [r.error.code, r.error.field]).toEqual([code, field]);
    };
    expectErr('00 00 000d 01 000000 c000020102', PAYLOAD.IDI, 'BAD_LENGTH', 'payload[0].data'); // ID_IPV4_ADDR of 5 octets
    expectErr('00 00 000c 01 04 0000 a1b2c3d4', PAYLOAD.DELETE, 'BAD_SPI_SIZE', 'payload[0].spiSize'); // IKE with SPI size 4
    expectErr('00 00 000c 03 04 0002 a1b2c3d4', PAYLOAD.DELETE, 'BAD_COUNT', 'payload[0].numSpis'); // 2 SPIs, room for 1
    expectErr('00 00 0014 01 000000 07 00 000c 0000 ffff 0a010000', PAYLOAD.TSI, 'BAD_LENGTH', 'payload[0].selector[0].selectorLength');
    expectErr('00 00 0010 02 000000 07 00 0010 0000 ffff', PAYLOAD.TSI, 'TRUNCATED', 'payload[0].selector[0].selectorLength');
    expectErr('00 00 000c 00 00 0004 01 01 00 00', PAYLOAD.SA, 'BAD_LENGTH', 'payload[0].proposal[0].length');
  });
});

function shrinkNonce(m: Uint8Array): Uint8Array {
  // Nonce payload at offset 28 + 40 + 40 = 108: length 0x14 → 0x13, drop one octet, fix lengths.
  const out = concat(m.subarray(0, 108 + 4 + 15), m.subarray(108 + 4 + 16));
  out[108 + 3] = 0x13;
  out[27] = out.length;
  return out;
}

describe('Encrypted payload with AES-GCM-16 (§3.14, RFC 5282)', () => {
  const key = fromHex('000102030405060708090a0b0c0d0e0f');
  const salt = fromHex('a0a1a2a3');
  const iv = fromHex('0000000000000001');
  const header = { spiI: fromHex('c9828f911592e274'), spiR: fromHex('3aefda872a228132'), exchangeType: EXCHANGE.INFORMATIONAL, flags: FLAG_INITIATOR, messageId: 3 };
  const inner: Payload[] = [{ kind: 'delete', protocolId: PROTOCOL_ID.ESP, spiSize: 4, spis: [SPI_ESP_1] }];

  it('matches an independent encoder on node:crypto (AAD = header + SK header, nonce = salt | IV)', () => {
    const innerBytes = fromHex('00 00 000c 03 04 0001 a1b2c3d4'); // D(ESP, a1b2c3d4)
    const plaintext = concat(innerBytes, fromHex('00')); // Pad Length 0
    const skLength = 4 + 8 + plaintext.length + 16;
    const aad = fromHex(`
      c9828f911592e274 3aefda872a228132  // SPIs
      2e 20 25 08 00000003               // next SK, v2.0, INFORMATIONAL (37), Initiator, Message ID 3
      ${(28 + skLength).toString(16).padStart(8, '0')}
      2a 00 ${skLength.toString(16).padStart(4, '0')}  // SK header: next Delete (42), length
    `);
    const c = createCipheriv('aes-128-gcm', key, concat(salt, iv));
    c.setAAD(aad);
    const ct = concat(c.update(plaintext), c.final(), c.getAuthTag());
    const want = concat(aad, iv, ct);
    const got = encodeEncryptedMessage(header, inner, { suite: 'aes-gcm-128', key, salt }, iv);
    expect(hex(got)).toBe(hex(want));

    const msg = decodeMessage(got);
    expect(msg.ok).toBe(true);
    if (!msg.ok) return;
    expect(hex(encodeMessage(msg.value))).toBe(hex(got));
    const opened = openEncryptedMessage(got, msg.value, { suite: 'aes-gcm-128', key, salt });
    expect(opened.ok && opened.value).toEqual(inner);
  });

  it('accepts padding a peer added, and rejects any flipped bit as INTEGRITY', () => {
    const good = encodeEncryptedMessage(header, inner, { suite: 'aes-gcm-128', key, salt }, iv);
    const m = decodeMessage(good);
    if (!m.ok) throw new Error('decode');
    for (let i = 0; i < good.length; i++) {
      const bad = good.slice();
      bad[i]! ^= 0x01;
      const d = decodeMessage(bad);
      if (!d.ok) continue; // broke the outer framing instead
      const r = openEncryptedMessage(bad, d.value, { suite: 'aes-gcm-128', key, salt });
      expect(r.ok).toBe(false);
    }
    // A peer's padding: 3 bytes of padding, Pad Length 3, built with node:crypto.
    const plaintext = fromHex('00 00 000c 03 04 0001 a1b2c3d4 ffffff 03');
    const skLength = 4 + 8 + plaintext.length + 16;
    const aad = fromHex(`c9828f911592e274 3aefda872a228132 2e 20 25 08 00000003 ${(28 + skLength).toString(16).padStart(8, '0')} 2a 00 ${skLength.toString(16).padStart(4, '0')}`);
    const c = createCipheriv('aes-128-gcm', key, concat(salt, iv));
    c.setAAD(aad);
    const bytes = concat(aad, iv, c.update(plaintext), c.final(), c.getAuthTag());
    const d = decodeMessage(bytes);
    const r = d.ok ? openEncryptedMessage(bytes, d.value, { suite: 'aes-gcm-128', key, salt }) : undefined;
    expect(r?.ok && r.value).toEqual(inner);
  });
});

// --- Properties ---

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
const nonzero = (bits: number) => fc.option(fc.integer({ min: 1, max: 2 ** bits - 1 }), { nil: undefined });
const withOpt = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== false)) as T;

const arbAttribute: fc.Arbitrary<TransformAttribute> = fc.oneof(
  fc.record({ type: fc.integer({ min: 0, max: 0x7fff }), value: u16 }),
  fc.record({ type: fc.integer({ min: 0, max: 0x7fff }), value: bytes(0, 6) }),
);
const arbTransform: fc.Arbitrary<Transform> = fc
  .record({ type: u8, id: u16, attributes: fc.array(arbAttribute, { maxLength: 3 }), reserved: nonzero(16) })
  .map(withOpt);
const arbProposal: fc.Arbitrary<Proposal> = fc
  .record({ number: u8, protocolId: u8, spi: bytes(0, 8), transforms: fc.array(arbTransform, { maxLength: 5 }), reserved: nonzero(8) })
  .map(withOpt);
const arbSelector: fc.Arbitrary<TrafficSelector> = fc.oneof(
  fc.record({
    kind: fc.constant('ipv4-range' as const),
    ipProtocolId: u8,
    startPort: u16,
    endPort: u16,
    startAddr: fc.integer({ min: 0, max: 0xffffffff }),
    endAddr: fc.integer({ min: 0, max: 0xffffffff }),
  }),
  fc.record({ kind: fc.constant('opaque' as const), tsType: u8.filter((t) => t !== 7), ipProtocolId: u8, body: bytes(0, 20) }),
);
const bits = fc.record({ critical: fc.boolean(), headerReserved: nonzero(7) });
const OPAQUE_TYPES = [37, 38, 43, 47, 48, 49, 53, 99, 200, 255];
const arbBody: fc.Arbitrary<Payload> = fc.oneof(
  fc.record({ kind: fc.constant('sa' as const), proposals: fc.array(arbProposal, { minLength: 1, maxLength: 3 }) }),
  fc.record({ kind: fc.constant('ke' as const), dhGroup: u16, data: bytes(0, 70), reserved: nonzero(16) }),
  fc.oneof(
    fc.record({ idType: u8.filter((t) => t !== ID_TYPE.ID_IPV4_ADDR), data: bytes(0, 30) }),
    fc.record({ idType: fc.constant(ID_TYPE.ID_IPV4_ADDR), data: bytes(4, 4) }),
  ).chain((id) => fc.record({ kind: fc.constant('id' as const), type: fc.constantFrom(PAYLOAD.IDI, PAYLOAD.IDR), idType: fc.constant(id.idType), data: fc.constant(id.data), reserved: nonzero(24) })),
  fc.record({ kind: fc.constant('auth' as const), method: u8, data: bytes(0, 80), reserved: nonzero(24) }),
  fc.record({ kind: fc.constant('nonce' as const), nonce: bytes(16, 256) }),
  fc.record({ kind: fc.constant('notify' as const), protocolId: u8, spi: bytes(0, 8), notifyType: u16, data: bytes(0, 16) }),
  fc.oneof(
    fc.record({ kind: fc.constant('delete' as const), protocolId: fc.constant(PROTOCOL_ID.ESP), spiSize: fc.constant(4), spis: fc.array(bytes(4, 4), { maxLength: 4 }) }),
    fc.record({ kind: fc.constant('delete' as const), protocolId: fc.constant(PROTOCOL_ID.IKE), spiSize: fc.constant(0), spis: fc.constant([]) }),
  ),
  fc.record({ kind: fc.constant('ts' as const), type: fc.constantFrom(PAYLOAD.TSI, PAYLOAD.TSR), selectors: fc.array(arbSelector, { maxLength: 4 }), reserved: nonzero(24) }),
  fc.record({ kind: fc.constant('opaque' as const), type: fc.constantFrom(...OPAQUE_TYPES), body: bytes(0, 20) }),
) as fc.Arbitrary<Payload>;
const arbPayload: fc.Arbitrary<Payload> = fc.tuple(arbBody, bits).map(([p, b]) => withOpt({ ...p, ...b }) as Payload);
const arbSk: fc.Arbitrary<Payload> = fc.record({ kind: fc.constant('sk' as const), firstPayload: u8, body: bytes(0, 64) });
const arbMessage: fc.Arbitrary<IkeMessage> = fc.record({
  header: fc
    .record({
      spiI: bytes(8, 8),
      spiR: bytes(8, 8),
      exchangeType: u8,
      flags: u8,
      messageId: fc.integer({ min: 0, max: 0xffffffff }),
      minorVersion: nonzero(4),
    })
    .map(withOpt),
  payloads: fc.tuple(fc.array(arbPayload, { maxLength: 6 }), fc.option(arbSk, { nil: undefined })).map(([ps, sk]) => (sk ? [...ps, sk] : ps)),
});

describe('codec properties', () => {
  it('decode(encode(m)) == m and encode(decode(x)) == x for generated messages', () => {
    fc.assert(
      fc.property(arbMessage, (m) => {
        const bytes = encodeMessage(m);
        const d = decodeMessage(bytes);
        if (!d.ok) throw new Error(`${d.error.code} at ${d.error.field}: ${d.error.message}`);
        expect(d.value).toEqual(m);
        expect(hex(encodeMessage(d.value))).toBe(hex(bytes));
      }),
      { numRuns: 400 },
    );
  });

  it('mutated messages never throw, and whatever decodes re-encodes to the same bytes', () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: u8 }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), value: u8 }),
    );
    fc.assert(
      fc.property(fc.oneof(arbMessage.map(encodeMessage), fc.constant(INIT_MESSAGE)), fc.array(mutation, { minLength: 1, maxLength: 4 }), (base, muts) => {
        let b: Uint8Array = base.slice();
        for (const m of muts) {
          const at = b.length === 0 ? 0 : m.at % b.length;
          if (m.kind === 'flip') b[at] = m.value;
          else if (m.kind === 'cut') b = b.slice(0, at);
          else b = concat(b.subarray(0, at), Uint8Array.of(m.value), b.subarray(at));
        }
        const d = decodeMessage(b);
        if (d.ok) expect(hex(encodeMessage(d.value))).toBe(hex(b));
        const h = decodeHeader(b);
        expect(typeof h.ok).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
  });

  it('random bytes never throw from any decoder', () => {
    fc.assert(
      fc.property(bytes(0, 300), u8, (b, first) => {
        decodeMessage(b);
        decodeHeader(b);
        decodePayloadChain(b, first, true);
        decodePayloadChain(b, first, false);
      }),
      { numRuns: 2000 },
    );
  });
});
