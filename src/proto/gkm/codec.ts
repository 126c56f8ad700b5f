// G-IKEv2 payload codecs (RFC 9838 §4): IDg, GSA (policies), KD (key bags, wrapped keys) and the
// private MEMBER_LIST notify of seed 001. Plain structures only; never encrypts, never throws on peer bytes.
//
// Length contract (once, smoltcp style): every decoder checks every length before reading (lib Reader
// + `need`), rejects bytes left over inside a structure, and returns copies. Round trip: for any bytes
// a decoder accepts, the encoder gives back the same bytes (RESERVED octets are kept when non-zero;
// lengths and Last Substruc are checked on decode and recomputed on encode). These bodies travel as
// IKEv2 payloads of types 50–52, which src/proto/ike/payloads.ts carries as opaque payloads.
//
// Wire formats (RFC 9838 as we read it; "unsure" = could not check against the RFC text):
//   IDg body (§4.2) = the IKEv2 ID payload body: ID Type (1) | RESERVED (3) | Group Identification.
//   GSA body (§4.4) = Group Policy substructures back to back; the first octet says which:
//     GSA policy (§4.4.1): Protocol (1: 6 GIKE_UPDATE, 3 ESP, 2 AH) | SPI Size (1) | Length (2) | SPI |
//       Source TS | Destination TS (one RFC 7296 §3.13.1 selector each) | Transforms (RFC 7296 §3.3.2,
//       Last Substruc 3 … 0, at least one) | GSA Attributes (RFC 7296 §3.3.5) to the end.
//     Group-Wide Policy (§4.4.3): Protocol = 0 | RESERVED (1) | Length (2) | GWP Attributes.
//   KD body (§4.5) = Key Bags back to back:
//     Group Key Bag: Protocol (≠ 0) | SPI Size | Length (2) | SPI | attributes (SA_KEY).
//     Member Key Bag: Protocol = 0 | RESERVED | Length (2) | attributes (WRAP_KEY, AUTH_KEY, GM_SENDER_ID).
//   Wrapped Key (§4.5.1; unsure): Key ID (4) | KWK ID (4) | output of the Key Wrap Algorithm
//     (RFC 5649 AES-KWP: a multiple of 8 octets, at least 16). Key ID 0 = SA keying material;
//     KWK ID 0 = the default key-wrap key GSK_w of the SA the message travels on.
//   GM_SENDER_ID value: 4 octets, unsigned (unsure of the RFC's width).
//   GROUP_SENDER notify data (§4.7.4): 4 octets, the number of Sender-IDs wanted (may be empty = 1).
//   MEMBER_LIST notify (type 40960, private use; ours, seed 001 FIG. 5 step 200), Protocol ID 0, no SPI:
//     Number of Entries (2) | RESERVED (2) | entries: ID Type (1, IKEv2 ID types: ID_IPV4_ADDR,
//     ID_FQDN, ID_KEY_ID, …) | ID Length (1) | ID Data (ID Length octets). At most 256 entries.

import type { Result } from '../../lib/errors.ts';
import { assert, err, ok } from '../../lib/errors.ts';
import { Reader, Writer } from '../../lib/reader.ts';
import { ATTRIBUTE_FORMAT_TV, TS_IPV4_ADDR_RANGE, type IkeId, type OpaquePayload, type Payload, type Transform, type TransformAttribute, type TrafficSelector } from '../ike/index.ts';
import { ESP_SPI_BYTES, GKM_PAYLOAD, GKM_PROTOCOL, MEMBER_LIST_ENTRIES_MAX, REKEY_SPI_BYTES } from './constants.ts';
import { gkmDecodeError, type GkmDecodeError, type GkmErrorCode } from './errors.ts';

/** Bounds on work per structure. */
export const POLICIES_PER_GSA_MAX = 32;
export const BAGS_PER_KD_MAX = 64;
export const ATTRIBUTES_PER_STRUCTURE_MAX = 1024;
export const TRANSFORMS_PER_POLICY_MAX = 32;
const LAST_SUBSTRUC_MORE_TRANSFORMS = 3;
const TS_IPV4_SELECTOR_BYTES = 16;
const WRAPPED_KEY_HEADER_BYTES = 8;
/** RFC 5649: the wrapped output is a multiple of 8 octets and at least 16. */
const KWP_OUTPUT_MIN = 16;

// --- Decoding plumbing: `reject` aborts, `decoding` turns it into a Result. ---

class Abort {
  constructor(readonly error: GkmDecodeError) {}
}

export function reject(code: GkmErrorCode, field: string, message: string): never {
  throw new Abort(gkmDecodeError(code, field, message));
}

export function decoding<T>(fn: () => T): Result<T, GkmDecodeError> {
  try {
    return ok(fn());
  } catch (e) {
    if (e instanceof Abort) return err(e.error);
    throw e;
  }
}

/** Field-naming reads over lib's Reader; every read checks its length first. */
class Dec {
  constructor(private readonly r: Reader) {}

  static of(bytes: Uint8Array): Dec {
    return new Dec(new Reader(bytes));
  }

  get left(): number {
    return this.r.left;
  }

  private need(n: number, field: string): void {
    if (this.r.left < n) reject('TRUNCATED', field, `needs ${n} bytes, ${this.r.left} left`);
  }

  u8(field: string): number {
    this.need(1, field);
    return this.r.u8();
  }

  u16(field: string): number {
    this.need(2, field);
    return this.r.u16();
  }

  u32(field: string): number {
    this.need(4, field);
    return this.r.u32();
  }

  take(n: number, field: string): Uint8Array {
    this.need(n, field);
    return this.r.take(n)!.slice();
  }

  sub(n: number, field: string): Dec {
    this.need(n, field);
    return new Dec(this.r.sub(n)!);
  }

  rest(): Uint8Array {
    return this.r.rest().slice();
  }

  end(field: string): void {
    if (this.r.left !== 0) reject('TRAILING_BYTES', field, `${this.r.left} bytes left over`);
  }
}

const isUint = (v: number, bits: number): boolean => Number.isInteger(v) && v >= 0 && v < 2 ** bits;

// --- Attributes (RFC 7296 §3.3.5): TV when the value is a number (AF = 1), else TLV. ---

export type Attribute = TransformAttribute;

function encodeAttributes(w: Writer, attrs: readonly Attribute[]): void {
  for (const a of attrs) {
    assert(isUint(a.type, 15), `attribute type ${a.type}`);
    if (typeof a.value === 'number') {
      assert(isUint(a.value, 16), `TV attribute value ${a.value}`);
      w.u16(ATTRIBUTE_FORMAT_TV | a.type).u16(a.value);
    } else {
      assert(a.value.length <= 0xffff, 'TLV attribute too long');
      w.u16(a.type).u16(a.value.length).bytes(a.value);
    }
  }
}

function decodeAttributes(d: Dec, field: string): Attribute[] {
  const out: Attribute[] = [];
  while (d.left > 0) {
    const f = `${field}.attribute[${out.length}]`;
    if (out.length >= ATTRIBUTES_PER_STRUCTURE_MAX) reject('BAD_COUNT', f, `more than ${ATTRIBUTES_PER_STRUCTURE_MAX} attributes`);
    const word = d.u16(`${f}.type`);
    const type = word & 0x7fff;
    if (word & ATTRIBUTE_FORMAT_TV) out.push({ type, value: d.u16(`${f}.value`) });
    else out.push({ type, value: d.take(d.u16(`${f}.length`), `${f}.value`) });
  }
  return out;
}

// --- Transforms (RFC 7296 §3.3.2) and traffic selectors (§3.13.1), as in GSA policies. ---

function encodeTransforms(w: Writer, ts: readonly Transform[]): void {
  assert(ts.length > 0 && ts.length <= TRANSFORMS_PER_POLICY_MAX, 'a GSA policy has 1..32 transforms');
  ts.forEach((t, i) => {
    const attrs = new Writer();
    encodeAttributes(attrs, t.attributes);
    const reserved = t.reserved ?? 0;
    assert(isUint(t.type, 8) && isUint(t.id, 16) && isUint(reserved, 16), `transform ${t.type}/${t.id}`);
    w.u8(i === ts.length - 1 ? 0 : LAST_SUBSTRUC_MORE_TRANSFORMS)
      .u8(reserved >>> 8)
      .u16(8 + attrs.length)
      .u8(t.type)
      .u8(reserved & 0xff)
      .u16(t.id)
      .bytes(attrs.finish());
  });
}

function decodeTransforms(d: Dec, field: string): Transform[] {
  const out: Transform[] = [];
  for (;;) {
    const f = `${field}.transform[${out.length}]`;
    if (out.length >= TRANSFORMS_PER_POLICY_MAX) reject('BAD_COUNT', f, `more than ${TRANSFORMS_PER_POLICY_MAX} transforms`);
    const last = d.u8(`${f}.lastSubstruc`);
    if (last !== 0 && last !== LAST_SUBSTRUC_MORE_TRANSFORMS) reject('BAD_LAST_SUBSTRUC', `${f}.lastSubstruc`, `${last}, expected 0 or 3`);
    const r1 = d.u8(`${f}.reserved`);
    const len = d.u16(`${f}.length`);
    if (len < 8) reject('BAD_LENGTH', `${f}.length`, `${len} < 8`);
    const body = d.sub(len - 4, `${f}.length`);
    const type = body.u8(`${f}.type`);
    const r2 = body.u8(`${f}.reserved`);
    const id = body.u16(`${f}.id`);
    const t: Transform = { type, id, attributes: decodeAttributes(body, f) };
    const reserved = (r1 << 8) | r2;
    if (reserved) t.reserved = reserved;
    out.push(t);
    if (last === 0) return out;
  }
}

function encodeSelector(w: Writer, s: TrafficSelector): void {
  if (s.kind === 'ipv4-range') {
    assert(isUint(s.ipProtocolId, 8) && isUint(s.startPort, 16) && isUint(s.endPort, 16) && isUint(s.startAddr, 32) && isUint(s.endAddr, 32), 'selector fields');
    w.u8(TS_IPV4_ADDR_RANGE).u8(s.ipProtocolId).u16(TS_IPV4_SELECTOR_BYTES).u16(s.startPort).u16(s.endPort).u32(s.startAddr).u32(s.endAddr);
  } else {
    assert(isUint(s.tsType, 8) && isUint(s.ipProtocolId, 8) && s.body.length + 4 <= 0xffff, 'opaque selector');
    w.u8(s.tsType).u8(s.ipProtocolId).u16(4 + s.body.length).bytes(s.body);
  }
}

function decodeSelector(d: Dec, field: string): TrafficSelector {
  const tsType = d.u8(`${field}.tsType`);
  const ipProtocolId = d.u8(`${field}.ipProtocolId`);
  const len = d.u16(`${field}.selectorLength`);
  if (len < 4) reject('BAD_LENGTH', `${field}.selectorLength`, `${len} < 4`);
  const body = d.sub(len - 4, `${field}.selectorLength`);
  if (tsType !== TS_IPV4_ADDR_RANGE) return { kind: 'opaque', tsType, ipProtocolId, body: body.rest() };
  if (len !== TS_IPV4_SELECTOR_BYTES) reject('BAD_LENGTH', `${field}.selectorLength`, `${len}, TS_IPV4_ADDR_RANGE is ${TS_IPV4_SELECTOR_BYTES}`);
  return {
    kind: 'ipv4-range',
    ipProtocolId,
    startPort: body.u16(`${field}.startPort`),
    endPort: body.u16(`${field}.endPort`),
    startAddr: body.u32(`${field}.startAddr`),
    endAddr: body.u32(`${field}.endAddr`),
  };
}

/** The SPI Size a protocol requires (RFC 9838 §4.4.1), or undefined for one we do not know. */
export function spiSizeFor(protocol: number): number | undefined {
  if (protocol === GKM_PROTOCOL.GIKE_UPDATE) return REKEY_SPI_BYTES;
  if (protocol === GKM_PROTOCOL.ESP || protocol === GKM_PROTOCOL.AH) return ESP_SPI_BYTES;
  return undefined;
}

function checkSpi(protocol: number, spiSize: number, field: string): void {
  const want = spiSizeFor(protocol);
  if (want !== undefined && spiSize !== want) reject('BAD_SPI_SIZE', field, `${spiSize} for protocol ${protocol}, expected ${want}`);
}

// --- IDg (RFC 9838 §4.2). ---

export interface IdgBody extends IkeId {
  reserved?: number;
}

export function encodeIdg(id: IdgBody): Uint8Array {
  assert(isUint(id.idType, 8) && isUint(id.reserved ?? 0, 24), 'IDg fields');
  return new Writer(4 + id.data.length).u8(id.idType).u24(id.reserved ?? 0).bytes(id.data).finish();
}

export function decodeIdg(body: Uint8Array): Result<IdgBody, GkmDecodeError> {
  return decoding(() => {
    const d = Dec.of(body);
    const idType = d.u8('idg.idType');
    const hi = d.u8('idg.reserved');
    const reserved = (hi << 16) | d.u16('idg.reserved');
    const out: IdgBody = { idType, data: d.rest() };
    if (out.data.length === 0) reject('BAD_LENGTH', 'idg.data', 'empty Group Identification');
    if (reserved) out.reserved = reserved;
    return out;
  });
}

// --- GSA payload (RFC 9838 §4.4). ---

/** A GSA policy substructure: a Rekey SA (GIKE_UPDATE) or a Data-Security SA (ESP/AH). */
export interface GsaPolicyBody {
  kind: 'sa';
  protocol: number;
  spi: Uint8Array;
  src: TrafficSelector;
  dst: TrafficSelector;
  transforms: Transform[];
  attributes: Attribute[];
}

/** The Group-Wide Policy substructure (Protocol 0). */
export interface GwpBody {
  kind: 'gwp';
  attributes: Attribute[];
  reserved?: number;
}

export type GroupPolicyBody = GsaPolicyBody | GwpBody;

/**
 * RFC 9838 §4.4.1 and §4.5: GSA policies and KD key bags share one framing — Protocol, SPI Size
 * (RESERVED when Protocol is 0, the group-wide variant), Length, body.
 */
function writeSubstructure(w: Writer, protocol: number, second: number, body: Writer, what: string): void {
  assert(isUint(second, 8) && body.length + 4 <= 0xffff, `${what} fields`);
  w.u8(protocol).u8(second).u16(4 + body.length).bytes(body.finish());
}

/** Reads the substructures of one payload; `read` turns each (protocol, second octet, body) into a value. */
function readSubstructures<T>(
  bytes: Uint8Array,
  names: { payload: 'gsa' | 'kd'; field: string; one: string; many: string },
  max: number,
  read: (protocol: number, second: number, body: Dec, field: string) => T,
): Result<T[], GkmDecodeError> {
  return decoding(() => {
    const d = Dec.of(bytes);
    const out: T[] = [];
    if (d.left === 0) reject('BAD_LENGTH', names.payload, `a ${names.payload.toUpperCase()} payload holds at least one ${names.one}`);
    while (d.left > 0) {
      const f = `${names.payload}.${names.field}[${out.length}]`;
      if (out.length >= max) reject('BAD_COUNT', f, `more than ${max} ${names.many}`);
      const protocol = d.u8(`${f}.protocol`);
      const second = d.u8(`${f}.spiSize`);
      const len = d.u16(`${f}.length`);
      if (len < 4) reject('BAD_LENGTH', `${f}.length`, `${len} < 4`);
      out.push(read(protocol, second, d.sub(len - 4, `${f}.length`), f));
    }
    return out;
  });
}

export function encodeGsa(policies: readonly GroupPolicyBody[]): Uint8Array {
  assert(policies.length > 0 && policies.length <= POLICIES_PER_GSA_MAX, 'a GSA payload has 1..32 policies');
  const w = new Writer();
  for (const p of policies) {
    const body = new Writer();
    if (p.kind === 'gwp') {
      encodeAttributes(body, p.attributes);
      writeSubstructure(w, GKM_PROTOCOL.NONE, p.reserved ?? 0, body, 'GWP');
      continue;
    }
    assert(p.protocol !== GKM_PROTOCOL.NONE && isUint(p.protocol, 8) && p.spi.length <= 0xff, 'GSA policy protocol and SPI');
    body.bytes(p.spi);
    encodeSelector(body, p.src);
    encodeSelector(body, p.dst);
    encodeTransforms(body, p.transforms);
    encodeAttributes(body, p.attributes);
    writeSubstructure(w, p.protocol, p.spi.length, body, 'GSA policy');
  }
  return w.finish();
}

export function decodeGsa(bytes: Uint8Array): Result<GroupPolicyBody[], GkmDecodeError> {
  return readSubstructures<GroupPolicyBody>(bytes, { payload: 'gsa', field: 'policy', one: 'policy', many: 'policies' }, POLICIES_PER_GSA_MAX, (protocol, second, body, f) => {
    if (protocol === GKM_PROTOCOL.NONE) {
      // RFC 9838 §4.4.1: the first octet is 0 only for the Group-Wide Policy.
      const g: GwpBody = { kind: 'gwp', attributes: decodeAttributes(body, f) };
      if (second) g.reserved = second;
      return g;
    }
    checkSpi(protocol, second, `${f}.spiSize`);
    const spi = body.take(second, `${f}.spi`);
    const src = decodeSelector(body, `${f}.src`);
    const dst = decodeSelector(body, `${f}.dst`);
    const transforms = decodeTransforms(body, f);
    return { kind: 'sa', protocol, spi, src, dst, transforms, attributes: decodeAttributes(body, f) };
  });
}

// --- KD payload (RFC 9838 §4.5) and the Wrapped Key format (§4.5.1). ---

export interface GroupKeyBagBody {
  kind: 'group';
  protocol: number;
  spi: Uint8Array;
  attributes: Attribute[];
}

export interface MemberKeyBagBody {
  kind: 'member';
  attributes: Attribute[];
  reserved?: number;
}

export type KeyBagBody = GroupKeyBagBody | MemberKeyBagBody;

export function encodeKd(bags: readonly KeyBagBody[]): Uint8Array {
  assert(bags.length > 0 && bags.length <= BAGS_PER_KD_MAX, 'a KD payload has 1..64 key bags');
  const w = new Writer();
  for (const b of bags) {
    const body = new Writer();
    if (b.kind === 'member') {
      encodeAttributes(body, b.attributes);
      writeSubstructure(w, GKM_PROTOCOL.NONE, b.reserved ?? 0, body, 'member key bag');
      continue;
    }
    assert(b.protocol !== GKM_PROTOCOL.NONE && isUint(b.protocol, 8) && b.spi.length <= 0xff, 'group key bag protocol and SPI');
    body.bytes(b.spi);
    encodeAttributes(body, b.attributes);
    writeSubstructure(w, b.protocol, b.spi.length, body, 'group key bag');
  }
  return w.finish();
}

export function decodeKd(bytes: Uint8Array): Result<KeyBagBody[], GkmDecodeError> {
  return readSubstructures<KeyBagBody>(bytes, { payload: 'kd', field: 'bag', one: 'key bag', many: 'key bags' }, BAGS_PER_KD_MAX, (protocol, second, body, f) => {
    if (protocol === GKM_PROTOCOL.NONE) {
      const m: MemberKeyBagBody = { kind: 'member', attributes: decodeAttributes(body, f) };
      if (second) m.reserved = second;
      return m;
    }
    checkSpi(protocol, second, `${f}.spiSize`);
    return { kind: 'group', protocol, spi: body.take(second, `${f}.spi`), attributes: decodeAttributes(body, f) };
  });
}

export interface WrappedKey {
  /** 0: SA keying material (SA_KEY); otherwise the ID of a key-wrap key (WRAP_KEY). */
  keyId: number;
  /** 0: the default key-wrap key GSK_w of the SA the message travels on. */
  kwkId: number;
  /** RFC 5649 output. */
  wrapped: Uint8Array;
}

export function encodeWrappedKey(k: WrappedKey): Uint8Array {
  assert(isUint(k.keyId, 32) && isUint(k.kwkId, 32) && k.wrapped.length >= KWP_OUTPUT_MIN && k.wrapped.length % 8 === 0, 'wrapped key fields');
  return new Writer(WRAPPED_KEY_HEADER_BYTES + k.wrapped.length).u32(k.keyId).u32(k.kwkId).bytes(k.wrapped).finish();
}

export function decodeWrappedKey(bytes: Uint8Array, field = 'wrappedKey'): Result<WrappedKey, GkmDecodeError> {
  return decoding(() => {
    const d = Dec.of(bytes);
    const keyId = d.u32(`${field}.keyId`);
    const kwkId = d.u32(`${field}.kwkId`);
    const wrapped = d.rest();
    if (wrapped.length < KWP_OUTPUT_MIN || wrapped.length % 8 !== 0) reject('BAD_LENGTH', `${field}.wrapped`, `${wrapped.length} octets is not an RFC 5649 output`);
    return { keyId, kwkId, wrapped };
  });
}

// --- Notify data: GROUP_SENDER count (RFC 9838 §4.7.4) and MEMBER_LIST (private, seed 001). ---

export function encodeSenderCount(count: number): Uint8Array {
  assert(isUint(count, 32), `sender-ID count ${count}`);
  return new Writer(4).u32(count).finish();
}

/** The count of Sender-IDs a GROUP_SENDER notify asks for; empty data means one. */
export function decodeSenderCount(data: Uint8Array): Result<number, GkmDecodeError> {
  if (data.length === 0) return ok(1);
  return decoding(() => {
    const d = Dec.of(data);
    const n = d.u32('groupSender.count');
    d.end('groupSender');
    return n;
  });
}

export interface MemberListBody {
  entries: IkeId[];
  reserved?: number;
}

export function encodeMemberList(m: MemberListBody): Uint8Array {
  assert(m.entries.length <= MEMBER_LIST_ENTRIES_MAX && isUint(m.reserved ?? 0, 16), 'member list size');
  const w = new Writer().u16(m.entries.length).u16(m.reserved ?? 0);
  for (const e of m.entries) {
    assert(isUint(e.idType, 8) && e.data.length > 0 && e.data.length <= 0xff, 'member list entry');
    w.u8(e.idType).u8(e.data.length).bytes(e.data);
  }
  return w.finish();
}

export function decodeMemberList(data: Uint8Array): Result<MemberListBody, GkmDecodeError> {
  return decoding(() => {
    const d = Dec.of(data);
    const count = d.u16('memberList.count');
    const reserved = d.u16('memberList.reserved');
    if (count > MEMBER_LIST_ENTRIES_MAX) reject('BAD_COUNT', 'memberList.count', `${count} > ${MEMBER_LIST_ENTRIES_MAX}`);
    const entries: IkeId[] = [];
    for (let i = 0; i < count; i++) {
      const idType = d.u8(`memberList.entry[${i}].idType`);
      const len = d.u8(`memberList.entry[${i}].length`);
      if (len === 0) reject('BAD_LENGTH', `memberList.entry[${i}].length`, 'empty identity');
      entries.push({ idType, data: d.take(len, `memberList.entry[${i}].data`) });
    }
    d.end('memberList');
    const out: MemberListBody = { entries };
    if (reserved) out.reserved = reserved;
    return out;
  });
}

// --- As IKEv2 payloads (the IKE chain codec carries types 50–52 as opaque bodies). ---

export const idgPayload = (id: IdgBody): OpaquePayload => ({ kind: 'opaque', type: GKM_PAYLOAD.IDG, body: encodeIdg(id) });
export const gsaPayload = (policies: readonly GroupPolicyBody[]): OpaquePayload => ({ kind: 'opaque', type: GKM_PAYLOAD.GSA, body: encodeGsa(policies) });
export const kdPayload = (bags: readonly KeyBagBody[]): OpaquePayload => ({ kind: 'opaque', type: GKM_PAYLOAD.KD, body: encodeKd(bags) });

/** The G-IKEv2 payloads of a decoded chain, decoded; the first error wins. At most one of each. */
export interface GkmPayloads {
  idg?: IdgBody;
  gsa?: GroupPolicyBody[];
  kd?: KeyBagBody[];
}

export function readGkmPayloads(payloads: readonly Payload[]): Result<GkmPayloads, GkmDecodeError> {
  const out: GkmPayloads = {};
  for (const p of payloads) {
    if (p.kind !== 'opaque') continue;
    const dup = (name: string) => err(gkmDecodeError('BAD_COUNT', `payload.${name}`, `more than one ${name} payload`));
    if (p.type === GKM_PAYLOAD.IDG) {
      if (out.idg) return dup('idg');
      const r = decodeIdg(p.body);
      if (!r.ok) return r;
      out.idg = r.value;
    } else if (p.type === GKM_PAYLOAD.GSA) {
      if (out.gsa) return dup('gsa');
      const r = decodeGsa(p.body);
      if (!r.ok) return r;
      out.gsa = r.value;
    } else if (p.type === GKM_PAYLOAD.KD) {
      if (out.kd) return dup('kd');
      const r = decodeKd(p.body);
      if (!r.ok) return r;
      out.kd = r.value;
    }
  }
  return ok(out);
}
