// IKEv2 payloads (RFC 7296 §3.2–§3.14): plain representations, the payload-body codecs and the
// generic payload chain. Never encrypts, never decides what a message must contain; never throws on peer bytes.
//
// Length contract (stated once): every decoder checks every length before reading (Reader), so any
// byte string is safe to pass, and rejects bytes left over inside a structure. Decoded values are
// copies. Round trip: for any bytes a decoder accepts, the encoder gives back the same bytes; the
// RESERVED fields that RFC 7296 says to ignore on receipt are therefore kept (`reserved`,
// `headerReserved`, present only when non-zero), and derived fields (lengths, counts, Last Substruc,
// Next Payload) are checked on decode and recomputed on encode.

import type { Result } from '../../lib/errors.ts';
import { assert } from '../../lib/errors.ts';
import {
  ATTRIBUTE_FORMAT_TV,
  ID_TYPE,
  PAYLOAD,
  PAYLOAD_HEADER_BYTES,
  PROTOCOL_ID,
  TS_IPV4_ADDR_RANGE,
} from './constants.ts';
import type { IkeDecodeError } from './errors.ts';
import { decoding, Reader, reject, Writer } from './reader.ts';

/** At most this many payloads in one chain (a bound on work per message). */
export const PAYLOADS_PER_MESSAGE_MAX = 64;
/** RFC 7296 §3.9: Nonce Data is 16 to 256 octets. */
export const NONCE_BYTES_MIN = 16;
export const NONCE_BYTES_MAX = 256;
const LAST_SUBSTRUC_MORE_PROPOSALS = 2;
const LAST_SUBSTRUC_MORE_TRANSFORMS = 3;
const TS_IPV4_SELECTOR_BYTES = 16;

interface PayloadBits {
  /** The critical bit of the generic payload header (RFC 7296 §3.2, §2.5); absent means clear. */
  critical?: boolean;
  /** The seven RESERVED bits after the critical bit, kept only when a peer set them. */
  headerReserved?: number;
}

/** Transform attribute (RFC 7296 §3.3.5): TV when `value` is a number (AF = 1), else TLV. */
export interface TransformAttribute {
  type: number;
  value: number | Uint8Array;
}

export interface Transform {
  /** Transform Type (TRANSFORM_TYPE.*). */
  type: number;
  /** Transform ID (ENCR_*, PRF_*, AUTH_*, DH_*, ESN_*). */
  id: number;
  attributes: TransformAttribute[];
  /** The two RESERVED octets as one 16-bit number, kept only when non-zero. */
  reserved?: number;
}

export interface Proposal {
  /** Proposal Num (RFC 7296 §3.3.1). */
  number: number;
  protocolId: number;
  /** The sender's SPI: empty in IKE_SA_INIT, 8 octets when rekeying an IKE SA, 4 for ESP and AH. */
  spi: Uint8Array;
  transforms: Transform[];
  reserved?: number;
}

export interface SaPayload extends PayloadBits {
  kind: 'sa';
  proposals: Proposal[];
}

export interface KePayload extends PayloadBits {
  kind: 'ke';
  /** Diffie-Hellman Group Num (DH_*). */
  dhGroup: number;
  data: Uint8Array;
  reserved?: number;
}

export interface IdPayload extends PayloadBits {
  kind: 'id';
  type: typeof PAYLOAD.IDI | typeof PAYLOAD.IDR;
  idType: number;
  data: Uint8Array;
  reserved?: number;
}

export interface AuthPayload extends PayloadBits {
  kind: 'auth';
  /** Auth Method (AUTH_METHOD.*). */
  method: number;
  data: Uint8Array;
  reserved?: number;
}

export interface NoncePayload extends PayloadBits {
  kind: 'nonce';
  nonce: Uint8Array;
}

export interface NotifyPayload extends PayloadBits {
  kind: 'notify';
  /** Protocol ID; 0 when the notification is not about a particular SA. */
  protocolId: number;
  spi: Uint8Array;
  notifyType: number;
  data: Uint8Array;
}

export interface DeletePayload extends PayloadBits {
  kind: 'delete';
  protocolId: number;
  /** 0 for the IKE SA, 4 for ESP and AH (RFC 7296 §3.11). */
  spiSize: number;
  spis: Uint8Array[];
}

/** TS_IPV4_ADDR_RANGE (RFC 7296 §3.13.1); addresses are unsigned 32-bit numbers. */
export interface Ipv4RangeSelector {
  kind: 'ipv4-range';
  /** 0 means any protocol. */
  ipProtocolId: number;
  startPort: number;
  endPort: number;
  startAddr: number;
  endAddr: number;
}

/** A selector of another TS Type (e.g. TS_IPV6_ADDR_RANGE), carried but never matched. */
export interface OpaqueSelector {
  kind: 'opaque';
  tsType: number;
  /** The octet after TS Type (IP Protocol ID for the types of RFC 7296). */
  ipProtocolId: number;
  /** Everything after Selector Length. */
  body: Uint8Array;
}

export type TrafficSelector = Ipv4RangeSelector | OpaqueSelector;

export interface TsPayload extends PayloadBits {
  kind: 'ts';
  type: typeof PAYLOAD.TSI | typeof PAYLOAD.TSR;
  selectors: TrafficSelector[];
  reserved?: number;
}

/**
 * The Encrypted and Authenticated payload as it sits in the outer message (RFC 7296 §3.14): `body`
 * is IV | ciphertext | ICV, opened by message.ts. `firstPayload` is its Next Payload field, the type
 * of the first payload inside.
 */
export interface SkPayload extends PayloadBits {
  kind: 'sk';
  firstPayload: number;
  body: Uint8Array;
}

/** Any other payload type: recognised ones we skip (CERT, CERTREQ, V, CP, EAP) and unknown ones. */
export interface OpaquePayload extends PayloadBits {
  kind: 'opaque';
  type: number;
  body: Uint8Array;
}

export type Payload =
  | SaPayload
  | KePayload
  | IdPayload
  | AuthPayload
  | NoncePayload
  | NotifyPayload
  | DeletePayload
  | TsPayload
  | SkPayload
  | OpaquePayload;

/** The Payload Type of a payload (RFC 7296 §3.2). */
export function payloadType(p: Payload): number {
  switch (p.kind) {
    case 'sa':
      return PAYLOAD.SA;
    case 'ke':
      return PAYLOAD.KE;
    case 'auth':
      return PAYLOAD.AUTH;
    case 'nonce':
      return PAYLOAD.NONCE;
    case 'notify':
      return PAYLOAD.NOTIFY;
    case 'delete':
      return PAYLOAD.DELETE;
    case 'sk':
      return PAYLOAD.SK;
    case 'id':
    case 'ts':
    case 'opaque':
      return p.type;
  }
}

const isUint = (v: number, bits: number): boolean => Number.isInteger(v) && v >= 0 && v < 2 ** bits;

// --- Encoders: our own values; `assert` catches our bugs. ---

function encodeAttribute(w: Writer, a: TransformAttribute): void {
  assert(isUint(a.type, 15), `attribute type ${a.type}`);
  if (typeof a.value === 'number') {
    assert(isUint(a.value, 16), `TV attribute value ${a.value}`);
    w.u16(ATTRIBUTE_FORMAT_TV | a.type).u16(a.value);
  } else {
    assert(a.value.length <= 0xffff, 'TLV attribute too long');
    w.u16(a.type).u16(a.value.length).bytes(a.value);
  }
}

function encodeTransform(w: Writer, t: Transform, last: boolean): void {
  const attrs = new Writer();
  for (const a of t.attributes) encodeAttribute(attrs, a);
  const reserved = t.reserved ?? 0;
  assert(isUint(t.type, 8) && isUint(t.id, 16) && isUint(reserved, 16), `transform ${t.type}/${t.id}`);
  w.u8(last ? 0 : LAST_SUBSTRUC_MORE_TRANSFORMS)
    .u8(reserved >>> 8)
    .u16(8 + attrs.length)
    .u8(t.type)
    .u8(reserved & 0xff)
    .u16(t.id)
    .bytes(attrs.finish());
}

function encodeProposal(w: Writer, p: Proposal, last: boolean): void {
  const ts = new Writer();
  p.transforms.forEach((t, i) => encodeTransform(ts, t, i === p.transforms.length - 1));
  assert(isUint(p.number, 8) && isUint(p.protocolId, 8) && p.spi.length <= 0xff && p.transforms.length <= 0xff, 'proposal fields');
  w.u8(last ? 0 : LAST_SUBSTRUC_MORE_PROPOSALS)
    .u8(p.reserved ?? 0)
    .u16(8 + p.spi.length + ts.length)
    .u8(p.number)
    .u8(p.protocolId)
    .u8(p.spi.length)
    .u8(p.transforms.length)
    .bytes(p.spi)
    .bytes(ts.finish());
}

function encodeSelector(w: Writer, s: TrafficSelector): void {
  if (s.kind === 'ipv4-range') {
    assert(isUint(s.ipProtocolId, 8) && isUint(s.startPort, 16) && isUint(s.endPort, 16), 'selector fields');
    assert(isUint(s.startAddr, 32) && isUint(s.endAddr, 32), 'selector addresses');
    w.u8(TS_IPV4_ADDR_RANGE).u8(s.ipProtocolId).u16(TS_IPV4_SELECTOR_BYTES).u16(s.startPort).u16(s.endPort).u32(s.startAddr).u32(s.endAddr);
  } else {
    assert(isUint(s.tsType, 8) && isUint(s.ipProtocolId, 8) && s.body.length + 4 <= 0xffff, 'opaque selector');
    w.u8(s.tsType).u8(s.ipProtocolId).u16(4 + s.body.length).bytes(s.body);
  }
}

/** The payload body: everything after the generic payload header. */
export function encodePayloadBody(p: Payload): Uint8Array {
  const w = new Writer();
  switch (p.kind) {
    case 'sa':
      p.proposals.forEach((pr, i) => encodeProposal(w, pr, i === p.proposals.length - 1));
      break;
    case 'ke':
      assert(isUint(p.dhGroup, 16), `dhGroup ${p.dhGroup}`);
      w.u16(p.dhGroup).u16(p.reserved ?? 0).bytes(p.data);
      break;
    case 'id':
      assert(isUint(p.idType, 8), `idType ${p.idType}`);
      w.u8(p.idType).u24(p.reserved ?? 0).bytes(p.data);
      break;
    case 'auth':
      assert(isUint(p.method, 8), `auth method ${p.method}`);
      w.u8(p.method).u24(p.reserved ?? 0).bytes(p.data);
      break;
    case 'nonce':
      w.bytes(p.nonce);
      break;
    case 'notify':
      assert(isUint(p.protocolId, 8) && p.spi.length <= 0xff && isUint(p.notifyType, 16), 'notify fields');
      w.u8(p.protocolId).u8(p.spi.length).u16(p.notifyType).bytes(p.spi).bytes(p.data);
      break;
    case 'delete':
      assert(isUint(p.protocolId, 8) && isUint(p.spiSize, 8) && p.spis.length <= 0xffff, 'delete fields');
      w.u8(p.protocolId).u8(p.spiSize).u16(p.spis.length);
      for (const spi of p.spis) {
        assert(spi.length === p.spiSize, 'delete SPI size');
        w.bytes(spi);
      }
      break;
    case 'ts':
      assert(p.selectors.length <= 0xff, 'too many selectors');
      w.u8(p.selectors.length).u24(p.reserved ?? 0);
      for (const s of p.selectors) encodeSelector(w, s);
      break;
    case 'sk':
    case 'opaque':
      w.bytes(p.body);
      break;
  }
  return w.finish();
}

/**
 * Encodes a payload chain. Each Next Payload field names the following payload's type, the last
 * one 0 — except an Encrypted payload, which must be last and names the first payload inside it.
 */
export function encodePayloadChain(payloads: readonly Payload[]): Uint8Array {
  const w = new Writer();
  payloads.forEach((p, i) => {
    const next = payloads[i + 1];
    let nextType: number = next === undefined ? PAYLOAD.NONE : payloadType(next);
    if (p.kind === 'sk') {
      assert(next === undefined, 'the Encrypted payload must be the last payload (RFC 7296 §3.14)');
      nextType = p.firstPayload;
    }
    const body = encodePayloadBody(p);
    const flags = (p.critical ? 0x80 : 0) | (p.headerReserved ?? 0);
    assert(isUint(flags, 8) && body.length + PAYLOAD_HEADER_BYTES <= 0xffff, 'payload header');
    w.u8(nextType).u8(flags).u16(PAYLOAD_HEADER_BYTES + body.length).bytes(body);
  });
  return w.finish();
}

/** The type of the first payload of a chain (the Next Payload of the header before it). */
export function firstPayloadType(payloads: readonly Payload[]): number {
  const first = payloads[0];
  return first === undefined ? PAYLOAD.NONE : payloadType(first);
}

// --- Decoders: peer bytes. ---

function decodeAttribute(r: Reader, field: string): TransformAttribute {
  const word = r.u16(`${field}.type`);
  const type = word & 0x7fff;
  if (word & ATTRIBUTE_FORMAT_TV) return { type, value: r.u16(`${field}.value`) };
  const len = r.u16(`${field}.length`);
  return { type, value: r.take(len, `${field}.value`) };
}

function decodeTransform(r: Reader, field: string): { t: Transform; last: boolean } {
  const lastByte = r.u8(`${field}.lastSubstruc`);
  if (lastByte !== 0 && lastByte !== LAST_SUBSTRUC_MORE_TRANSFORMS)
    reject('BAD_LAST_SUBSTRUC', `${field}.lastSubstruc`, `${lastByte}, expected 0 or ${LAST_SUBSTRUC_MORE_TRANSFORMS}`);
  const r1 = r.u8(`${field}.reserved`);
  const len = r.u16(`${field}.length`);
  if (len < 8) reject('BAD_LENGTH', `${field}.length`, `${len} < 8`);
  const body = r.sub(len - 4, `${field}.length`);
  const type = body.u8(`${field}.type`);
  const r2 = body.u8(`${field}.reserved`);
  const id = body.u16(`${field}.id`);
  const attributes: TransformAttribute[] = [];
  while (body.remaining > 0) attributes.push(decodeAttribute(body, `${field}.attribute[${attributes.length}]`));
  const t: Transform = { type, id, attributes };
  const reserved = (r1 << 8) | r2;
  if (reserved) t.reserved = reserved;
  return { t, last: lastByte === 0 };
}

function decodeProposal(r: Reader, field: string): { p: Proposal; last: boolean } {
  const lastByte = r.u8(`${field}.lastSubstruc`);
  if (lastByte !== 0 && lastByte !== LAST_SUBSTRUC_MORE_PROPOSALS)
    reject('BAD_LAST_SUBSTRUC', `${field}.lastSubstruc`, `${lastByte}, expected 0 or ${LAST_SUBSTRUC_MORE_PROPOSALS}`);
  const reserved = r.u8(`${field}.reserved`);
  const len = r.u16(`${field}.length`);
  if (len < 8) reject('BAD_LENGTH', `${field}.length`, `${len} < 8`);
  const body = r.sub(len - 4, `${field}.length`);
  const number = body.u8(`${field}.number`);
  const protocolId = body.u8(`${field}.protocolId`);
  const spiSize = body.u8(`${field}.spiSize`);
  const count = body.u8(`${field}.numTransforms`);
  const spi = body.take(spiSize, `${field}.spi`);
  const transforms: Transform[] = [];
  for (;;) {
    if (body.remaining === 0) {
      if (transforms.length === 0 && count === 0) break;
      reject('TRUNCATED', `${field}.transform[${transforms.length}]`, 'the proposal ends before its last transform');
    }
    const { t, last } = decodeTransform(body, `${field}.transform[${transforms.length}]`);
    transforms.push(t);
    if (last) break;
  }
  body.expectEnd(field);
  if (transforms.length !== count) reject('BAD_COUNT', `${field}.numTransforms`, `says ${count}, found ${transforms.length}`);
  const p: Proposal = { number, protocolId, spi, transforms };
  if (reserved) p.reserved = reserved;
  return { p, last: lastByte === 0 };
}

function decodeSelector(r: Reader, field: string): TrafficSelector {
  const tsType = r.u8(`${field}.tsType`);
  const ipProtocolId = r.u8(`${field}.ipProtocolId`);
  const len = r.u16(`${field}.selectorLength`);
  if (len < 4) reject('BAD_LENGTH', `${field}.selectorLength`, `${len} < 4`);
  const body = r.sub(len - 4, `${field}.selectorLength`);
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

function withReserved<T extends { reserved?: number }>(p: T, reserved: number): T {
  if (reserved) p.reserved = reserved;
  return p;
}

/** Decodes one payload body of the given type (the generic header already read). */
function decodeBody(type: number, r: Reader, field: string): Payload {
  switch (type) {
    case PAYLOAD.SA: {
      const proposals: Proposal[] = [];
      for (;;) {
        if (proposals.length > 0xff) reject('BAD_COUNT', `${field}.proposal`, 'more than 255 proposals');
        const { p, last } = decodeProposal(r, `${field}.proposal[${proposals.length}]`);
        proposals.push(p);
        if (last) break;
        if (r.remaining === 0) reject('TRUNCATED', `${field}.proposal[${proposals.length}]`, 'the SA payload ends before its last proposal');
      }
      r.expectEnd(field);
      return { kind: 'sa', proposals };
    }
    case PAYLOAD.KE: {
      const dhGroup = r.u16(`${field}.dhGroup`);
      const reserved = r.u16(`${field}.reserved`);
      return withReserved<KePayload>({ kind: 'ke', dhGroup, data: r.rest() }, reserved);
    }
    case PAYLOAD.IDI:
    case PAYLOAD.IDR: {
      const idType = r.u8(`${field}.idType`);
      const reserved = r.u24(`${field}.reserved`);
      const data = r.rest();
      if (idType === ID_TYPE.ID_IPV4_ADDR && data.length !== 4) reject('BAD_LENGTH', `${field}.data`, `ID_IPV4_ADDR of ${data.length} bytes`);
      return withReserved<IdPayload>({ kind: 'id', type, idType, data }, reserved);
    }
    case PAYLOAD.AUTH: {
      const method = r.u8(`${field}.method`);
      const reserved = r.u24(`${field}.reserved`);
      return withReserved<AuthPayload>({ kind: 'auth', method, data: r.rest() }, reserved);
    }
    case PAYLOAD.NONCE: {
      const nonce = r.rest();
      if (nonce.length < NONCE_BYTES_MIN || nonce.length > NONCE_BYTES_MAX)
        reject('BAD_LENGTH', `${field}.nonce`, `${nonce.length} bytes, RFC 7296 §3.9 allows ${NONCE_BYTES_MIN}..${NONCE_BYTES_MAX}`);
      return { kind: 'nonce', nonce };
    }
    case PAYLOAD.NOTIFY: {
      const protocolId = r.u8(`${field}.protocolId`);
      const spiSize = r.u8(`${field}.spiSize`);
      const notifyType = r.u16(`${field}.notifyType`);
      const spi = r.take(spiSize, `${field}.spi`);
      return { kind: 'notify', protocolId, spi, notifyType, data: r.rest() };
    }
    case PAYLOAD.DELETE: {
      const protocolId = r.u8(`${field}.protocolId`);
      const spiSize = r.u8(`${field}.spiSize`);
      const count = r.u16(`${field}.numSpis`);
      // RFC 7296 §3.11: SPI Size is zero for the IKE SA, four for ESP and AH.
      if (protocolId === PROTOCOL_ID.IKE && spiSize !== 0) reject('BAD_SPI_SIZE', `${field}.spiSize`, `${spiSize} for the IKE SA`);
      if ((protocolId === PROTOCOL_ID.ESP || protocolId === PROTOCOL_ID.AH) && spiSize !== 4)
        reject('BAD_SPI_SIZE', `${field}.spiSize`, `${spiSize} for ESP/AH`);
      if (r.remaining !== count * spiSize) reject('BAD_COUNT', `${field}.numSpis`, `${count} SPIs of ${spiSize} bytes in ${r.remaining} bytes`);
      const spis: Uint8Array[] = [];
      for (let i = 0; i < count; i++) spis.push(r.take(spiSize, `${field}.spi[${i}]`));
      return { kind: 'delete', protocolId, spiSize, spis };
    }
    case PAYLOAD.TSI:
    case PAYLOAD.TSR: {
      const count = r.u8(`${field}.numTs`);
      const reserved = r.u24(`${field}.reserved`);
      const selectors: TrafficSelector[] = [];
      for (let i = 0; i < count; i++) selectors.push(decodeSelector(r, `${field}.selector[${i}]`));
      r.expectEnd(field);
      return withReserved<TsPayload>({ kind: 'ts', type, selectors }, reserved);
    }
    default:
      return { kind: 'opaque', type, body: r.rest() };
  }
}

/**
 * Decodes a payload chain that starts with a payload of type `firstType` and fills `bytes` exactly.
 * An Encrypted payload (SK) is allowed only when `allowSk` (the outer message) and must be last.
 */
export function decodePayloadChain(bytes: Uint8Array, firstType: number, allowSk: boolean, field = 'payload'): Result<Payload[], IkeDecodeError> {
  return decoding(() => readChain(new Reader(bytes), firstType, allowSk, field));
}

/** The chain reader, for callers already inside `decoding`. */
export function readChain(r: Reader, firstType: number, allowSk: boolean, field: string): Payload[] {
  const payloads: Payload[] = [];
  let type = firstType;
  while (type !== PAYLOAD.NONE) {
    const f = `${field}[${payloads.length}]`;
    if (payloads.length >= PAYLOADS_PER_MESSAGE_MAX) reject('BAD_COUNT', f, `more than ${PAYLOADS_PER_MESSAGE_MAX} payloads`);
    if (r.remaining === 0) reject('TRUNCATED', f, `Next Payload announces type ${type} but the message ends`);
    const next = r.u8(`${f}.nextPayload`);
    const flags = r.u8(`${f}.flags`);
    const len = r.u16(`${f}.length`);
    if (len < PAYLOAD_HEADER_BYTES) reject('BAD_LENGTH', `${f}.length`, `${len} < ${PAYLOAD_HEADER_BYTES}`);
    const body = r.sub(len - PAYLOAD_HEADER_BYTES, `${f}.length`);
    let p: Payload;
    if (type === PAYLOAD.SK) {
      if (!allowSk) reject('NESTED_SK', f, 'an Encrypted payload inside an Encrypted payload');
      // RFC 7296 §3.14: the Encrypted payload is the last; its Next Payload names the first inner payload.
      if (r.remaining !== 0) reject('SK_NOT_LAST', f, `${r.remaining} bytes after the Encrypted payload`);
      p = { kind: 'sk', firstPayload: next, body: body.rest() };
    } else {
      p = decodeBody(type, body, f);
    }
    if (flags & 0x80) p.critical = true;
    if (flags & 0x7f) p.headerReserved = flags & 0x7f;
    payloads.push(p);
    if (p.kind === 'sk') return payloads;
    type = next;
  }
  r.expectEnd(`${field}[${payloads.length}]`);
  return payloads;
}

/** The first payload of an unrecognised type with the critical bit set (RFC 7296 §2.5), if any. */
export function unsupportedCritical(payloads: readonly Payload[], recognised: ReadonlySet<number>): number | undefined {
  for (const p of payloads) if (p.critical && !recognised.has(payloadType(p))) return payloadType(p);
  return undefined;
}
