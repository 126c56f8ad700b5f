// Path attributes (RFC 4271 §4.3, §5): one descriptor row per type code (BIRD's attrs.c table), the
// attribute-list walk with RFC 7606 error handling, RFC 6793 AS4 helpers. Never applies route policy.
//
// Length contract: `decodePathAttributes` reads a Reader bounded to the Path Attributes field; each
// row's `decode` gets a Reader bounded to exactly one attribute's value and must consume it all.
// Decoded values share nothing with the input bytes (raw values are copied), so a caller may reuse
// its receive buffer. Canonical form: see nlri.ts (prefix padding); everything else round-trips
// byte for byte, including each attribute's flags octet (kept in `flags`).

import type { Result } from '../../lib/errors.ts';
import { assert, err, ok } from '../../lib/errors.ts';
import type { Reader } from '../../lib/reader.ts';
import { Writer } from '../../lib/reader.ts';
import type { ExtendedCommunity } from './communities.ts';
import { EXTENDED_COMMUNITY_LENGTH, decodeExtendedCommunity, encodeExtendedCommunity } from './communities.ts';
import type { BgpDecodeError, Severity } from './errors.ts';
import { ERROR_CODE, UPDATE_MESSAGE_ERROR, sessionReset, updateError } from './errors.ts';
import type { Family, NlriOf } from './nlri.ts';
import { FAMILY_CODECS, decodeNlriList, familyOf } from './nlri.ts';

/** What the session negotiated that changes encodings. */
export interface CodecContext {
  /** Both speakers sent the 4-octet AS capability (RFC 6793 §3): AS_PATH and AGGREGATOR carry 4-octet ASes. */
  as4: boolean;
}

export const AS4_CONTEXT: CodecContext = Object.freeze({ as4: true });
export const AS2_CONTEXT: CodecContext = Object.freeze({ as4: false });

// --- Code points (RFC 4271 §4.3, §5; RFC 4456 §8; RFC 4760 §3-4; RFC 4360 §2; RFC 6793 §3). ---

export const ATTR_FLAG = {
  OPTIONAL: 0x80,
  TRANSITIVE: 0x40,
  PARTIAL: 0x20,
  EXTENDED_LENGTH: 0x10,
} as const;

export const ATTR_TYPE = {
  ORIGIN: 1,
  AS_PATH: 2,
  NEXT_HOP: 3,
  MULTI_EXIT_DISC: 4,
  LOCAL_PREF: 5,
  ATOMIC_AGGREGATE: 6,
  AGGREGATOR: 7,
  COMMUNITIES: 8,
  ORIGINATOR_ID: 9,
  CLUSTER_LIST: 10,
  MP_REACH_NLRI: 14,
  MP_UNREACH_NLRI: 15,
  EXTENDED_COMMUNITIES: 16,
  AS4_PATH: 17,
  AS4_AGGREGATOR: 18,
} as const;
export type KnownAttributeName = keyof typeof ATTR_TYPE;

export const ORIGIN_IGP = 0;
export const ORIGIN_EGP = 1;
export const ORIGIN_INCOMPLETE = 2;

/** AS_PATH segment types (RFC 4271 §4.3; confederation types RFC 5065 §3). */
export const AS_SET = 1;
export const AS_SEQUENCE = 2;
export const AS_CONFED_SEQUENCE = 3;
export const AS_CONFED_SET = 4;
export const MAX_SEGMENT_ASES = 255;

/** RFC 6793 §9: the 2-octet AS that stands for a 4-octet one towards an OLD speaker. */
export const AS_TRANS = 23456;

// --- Values. ---

export interface AsPathSegment {
  /** AS_SET, AS_SEQUENCE, AS_CONFED_SEQUENCE or AS_CONFED_SET. */
  type: number;
  /** Path segment value: 1..255 AS numbers. */
  asNumbers: number[];
}

export interface Aggregator {
  /** The last AS that formed the aggregate route. */
  asNumber: number;
  /** IP address of the speaker that formed it. */
  address: number;
}

export type MpReachNlri =
  | { family: 'ipv4-unicast'; nextHop: number; nlri: NlriOf['ipv4-unicast'][] }
  | { family: 'vpn-ipv4'; nextHop: number; nlri: NlriOf['vpn-ipv4'][] }
  | { family: 'rt-membership'; nextHop: number; nlri: NlriOf['rt-membership'][] }
  /** Any other AFI/SAFI: next hop and NLRI as raw bytes. */
  | { family: 'other'; afi: number; safi: number; nextHop: Uint8Array; nlri: Uint8Array };

export type MpUnreachNlri =
  | { family: 'ipv4-unicast'; withdrawnRoutes: NlriOf['ipv4-unicast'][] }
  | { family: 'vpn-ipv4'; withdrawnRoutes: NlriOf['vpn-ipv4'][] }
  | { family: 'rt-membership'; withdrawnRoutes: NlriOf['rt-membership'][] }
  | { family: 'other'; afi: number; safi: number; withdrawnRoutes: Uint8Array };

/** The value each known attribute carries. */
export interface AttributeValues {
  ORIGIN: number;
  AS_PATH: AsPathSegment[];
  NEXT_HOP: number;
  MULTI_EXIT_DISC: number;
  LOCAL_PREF: number;
  ATOMIC_AGGREGATE: null;
  AGGREGATOR: Aggregator;
  COMMUNITIES: number[];
  ORIGINATOR_ID: number;
  CLUSTER_LIST: number[];
  MP_REACH_NLRI: MpReachNlri;
  MP_UNREACH_NLRI: MpUnreachNlri;
  EXTENDED_COMMUNITIES: ExtendedCommunity[];
  AS4_PATH: AsPathSegment[];
  AS4_AGGREGATOR: Aggregator;
}

/**
 * A known attribute. `flags` is the Attribute Flags octet as received; when absent, encode uses the
 * row's flags. Either way Extended Length is set when the value is longer than 255 octets.
 */
export type KnownAttribute = { [K in KnownAttributeName]: { type: K; value: AttributeValues[K]; flags?: number } }[KnownAttributeName];

/** An attribute this codec does not know (RFC 4271 §5: optional ones are kept and may be passed on). */
export interface UnrecognizedAttribute {
  type: 'UNRECOGNIZED';
  typeCode: number;
  flags: number;
  value: Uint8Array;
}

export type PathAttribute = KnownAttribute | UnrecognizedAttribute;

export type AttributeOf<K extends KnownAttributeName> = Extract<KnownAttribute, { type: K }>;

/** The first attribute of that type in a list (decoding keeps only the first of each type). */
export function getAttribute<K extends KnownAttributeName>(attrs: readonly PathAttribute[], type: K): AttributeOf<K> | undefined {
  for (const a of attrs) if (a.type === type) return a as AttributeOf<K>;
  return undefined;
}

export function attribute<K extends KnownAttributeName>(type: K, value: AttributeValues[K]): AttributeOf<K> {
  return { type, value } as AttributeOf<K>;
}

// --- The descriptor table (BIRD attrs.c style): one row per attribute. ---

/** Why one attribute is malformed; the walk turns it into a BgpDecodeError. */
interface Fault {
  subcode: number;
  message: string;
  /** Overrides the row's `malformed` approach. */
  severity?: Severity;
  afi?: number;
  safi?: number;
}

interface AttributeDescriptor<K extends KnownAttributeName> {
  name: K;
  typeCode: number;
  /** The Optional and Transitive bits the defining RFC specifies. */
  flags: number;
  /** RFC 7606 approach when the attribute is malformed (flags or value), and where that is decided. */
  malformed: Severity;
  rfc: string;
  decode(r: Reader, ctx: CodecContext): Result<AttributeValues[K], Fault>;
  encode(w: Writer, v: AttributeValues[K], ctx: CodecContext): void;
}

const WELL_KNOWN = ATTR_FLAG.TRANSITIVE;
const OPTIONAL_TRANSITIVE = ATTR_FLAG.OPTIONAL | ATTR_FLAG.TRANSITIVE;
const OPTIONAL_NON_TRANSITIVE = ATTR_FLAG.OPTIONAL;

const fault = (subcode: number, message: string, extra: Partial<Fault> = {}): Result<never, Fault> => err({ subcode, message, ...extra });
const lengthFault = (r: Reader, want: string): Result<never, Fault> =>
  fault(UPDATE_MESSAGE_ERROR.ATTRIBUTE_LENGTH_ERROR, `length ${r.left}, expected ${want}`);

function decodeU32(r: Reader): Result<number, Fault> {
  if (r.left !== 4) return lengthFault(r, '4');
  return ok(r.u32());
}

function decodeU32List(r: Reader): Result<number[], Fault> {
  if (r.left === 0 || r.left % 4 !== 0) return lengthFault(r, 'a non-zero multiple of 4');
  // Sized up front: decoded lists live in every RIB entry, and a pushed-into array keeps spare slots.
  const out = new Array<number>(r.left / 4);
  for (let i = 0; i < out.length; i++) out[i] = r.u32();
  return ok(out);
}

function malformed(m: string): Result<never, Fault> {
  return fault(UPDATE_MESSAGE_ERROR.MALFORMED_AS_PATH, m);
}

/** The empty AS_PATH (iBGP-learned routes), one shared frozen value: RIBs hold a million of them. */
const NO_SEGMENTS: AsPathSegment[] = Object.freeze([]) as unknown as AsPathSegment[];

function decodeAsPath(r: Reader, asSize: 2 | 4): Result<AsPathSegment[], Fault> {
  if (r.left === 0) return ok(NO_SEGMENTS);
  const segments: AsPathSegment[] = [];
  while (r.left > 0) {
    // RFC 7606 §7.2: underrun (one octet left), unrecognized segment type, zero length, overrun.
    if (r.left < 2) return malformed('a single octet left after the last segment');
    const type = r.u8();
    const count = r.u8();
    if (type < AS_SET || type > AS_CONFED_SET) return malformed(`unrecognized segment type ${type}`);
    if (count === 0) return malformed('segment of length zero');
    if (r.left < count * asSize) return malformed(`segment of ${count} ASes overruns the attribute`);
    const asNumbers = new Array<number>(count);
    for (let i = 0; i < count; i++) asNumbers[i] = asSize === 4 ? r.u32() : r.u16();
    segments.push({ type, asNumbers });
  }
  return ok(segments.length === 1 ? [segments[0]!] : segments);
}

function encodeAsPath(w: Writer, segments: readonly AsPathSegment[], asSize: 2 | 4): void {
  for (const s of segments) {
    if (!(s.asNumbers.length >= 1 && s.asNumbers.length <= MAX_SEGMENT_ASES)) assert(false, `encodeAsPath: segment of ${s.asNumbers.length} ASes`);
    w.u8(s.type).u8(s.asNumbers.length);
    // RFC 6793 §4.2.2: towards an OLD speaker, an AS that needs 4 octets becomes AS_TRANS.
    for (const as of s.asNumbers) asSize === 4 ? w.u32(as) : w.u16(as > 0xffff ? AS_TRANS : as);
  }
}

function decodeAggregator(r: Reader, asSize: 2 | 4): Result<Aggregator, Fault> {
  if (r.left !== asSize + 4) return lengthFault(r, String(asSize + 4));
  const asNumber = asSize === 4 ? r.u32() : r.u16();
  return ok({ asNumber, address: r.u32() });
}

function encodeAggregator(w: Writer, v: Aggregator, asSize: 2 | 4): void {
  if (asSize === 4) w.u32(v.asNumber);
  else w.u16(v.asNumber > 0xffff ? AS_TRANS : v.asNumber); // RFC 6793 §4.2.2
  w.u32(v.address);
}

/** A NEXT_HOP that is no IP host address at all: 0/8, loopback 127/8, multicast and class E (RFC 1122 §3.2.1.3). */
export function isInvalidNextHop(addr: number): boolean {
  const first = addr >>> 24;
  return first === 0 || first === 127 || first >= 224;
}

/** Reads AFI (2) and SAFI (1); a fault of the session-reset kind when the attribute is too short for them. */
function readFamily(r: Reader): Result<{ afi: number; safi: number }, Fault> {
  if (r.left < 3) {
    // RFC 7606 §5.3, §7.11: without AFI/SAFI, AFI/SAFI disable is impossible: session reset.
    return fault(UPDATE_MESSAGE_ERROR.OPTIONAL_ATTRIBUTE_ERROR, `length ${r.left} cannot hold AFI and SAFI`, { severity: 'session-reset' });
  }
  return ok({ afi: r.u16(), safi: r.u8() });
}

function decodeMpReach(r: Reader): Result<MpReachNlri, Fault> {
  const fam = readFamily(r);
  if (!fam.ok) return fam;
  const { afi, safi } = fam.value;
  const ctx = { afi, safi };
  const nhLen = r.u8();
  const nh = r.sub(nhLen);
  r.u8(); // RFC 4760 §3: Reserved, "SHOULD be ignored upon receipt"
  if (!nh || r.overrun) return fault(UPDATE_MESSAGE_ERROR.OPTIONAL_ATTRIBUTE_ERROR, 'next hop runs past the attribute', ctx);
  const family = familyOf(afi, safi);
  if (family === undefined) return ok({ family: 'other', afi, safi, nextHop: nh.rest().slice(), nlri: r.rest().slice() });
  const codec = FAMILY_CODECS[family];
  // RFC 7606 §7.11: a next hop length inconsistent with the AFI/SAFI hides the NLRI: AFI/SAFI disable.
  if (nhLen !== codec.nextHopLength) {
    return fault(UPDATE_MESSAGE_ERROR.OPTIONAL_ATTRIBUTE_ERROR, `next hop length ${nhLen}, ${family} needs ${codec.nextHopLength}`, ctx);
  }
  const nextHop = codec.decodeNextHop(nh);
  const nlri = decodeNlriList(family, r);
  // RFC 7606 §5.3: NLRI that cannot be parsed → session reset or AFI/SAFI disable.
  if (!nlri.ok) return fault(UPDATE_MESSAGE_ERROR.INVALID_NETWORK_FIELD, `${family} NLRI: ${nlri.error}`, ctx);
  return ok({ family, nextHop, nlri: nlri.value } as MpReachNlri);
}

function encodeMpReach(w: Writer, v: MpReachNlri): void {
  if (v.family === 'other') {
    w.u16(v.afi).u8(v.safi).u8(v.nextHop.length).bytes(v.nextHop).u8(0).bytes(v.nlri);
    return;
  }
  const codec = FAMILY_CODECS[v.family] as (typeof FAMILY_CODECS)[Family];
  w.u16(codec.afi).u8(codec.safi).u8(codec.nextHopLength);
  codec.encodeNextHop(w, v.nextHop);
  w.u8(0);
  for (const n of v.nlri) (codec.encode as (w: Writer, n: unknown) => void)(w, n);
}

function decodeMpUnreach(r: Reader): Result<MpUnreachNlri, Fault> {
  const fam = readFamily(r);
  if (!fam.ok) return fam;
  const { afi, safi } = fam.value;
  const family = familyOf(afi, safi);
  if (family === undefined) return ok({ family: 'other', afi, safi, withdrawnRoutes: r.rest().slice() });
  const routes = decodeNlriList(family, r);
  // RFC 7606 §7.12 (and §5.3): unparseable withdrawn routes → AFI/SAFI disable.
  if (!routes.ok) return fault(UPDATE_MESSAGE_ERROR.INVALID_NETWORK_FIELD, `${family} withdrawn routes: ${routes.error}`, { afi, safi });
  return ok({ family, withdrawnRoutes: routes.value } as MpUnreachNlri);
}

function encodeMpUnreach(w: Writer, v: MpUnreachNlri): void {
  if (v.family === 'other') {
    w.u16(v.afi).u8(v.safi).bytes(v.withdrawnRoutes);
    return;
  }
  const codec = FAMILY_CODECS[v.family] as (typeof FAMILY_CODECS)[Family];
  w.u16(codec.afi).u8(codec.safi);
  for (const n of v.withdrawnRoutes) (codec.encode as (w: Writer, n: unknown) => void)(w, n);
}

const asSize = (ctx: CodecContext): 2 | 4 => (ctx.as4 ? 4 : 2);

const DESCRIPTORS: { [K in KnownAttributeName]: AttributeDescriptor<K> } = {
  ORIGIN: {
    name: 'ORIGIN',
    typeCode: ATTR_TYPE.ORIGIN,
    flags: WELL_KNOWN,
    malformed: 'treat-as-withdraw',
    rfc: 'RFC 7606 §7.1',
    decode: (r) => {
      if (r.left !== 1) return lengthFault(r, '1');
      const v = r.u8();
      // RFC 4271 §6.3: an undefined ORIGIN value → Invalid ORIGIN Attribute.
      return v <= ORIGIN_INCOMPLETE ? ok(v) : fault(UPDATE_MESSAGE_ERROR.INVALID_ORIGIN_ATTRIBUTE, `ORIGIN value ${v}`);
    },
    encode: (w, v) => void w.u8(v),
  },
  AS_PATH: {
    name: 'AS_PATH',
    typeCode: ATTR_TYPE.AS_PATH,
    flags: WELL_KNOWN,
    malformed: 'treat-as-withdraw',
    rfc: 'RFC 7606 §7.2',
    decode: (r, ctx) => decodeAsPath(r, asSize(ctx)),
    encode: (w, v, ctx) => encodeAsPath(w, v, asSize(ctx)),
  },
  NEXT_HOP: {
    name: 'NEXT_HOP',
    typeCode: ATTR_TYPE.NEXT_HOP,
    flags: WELL_KNOWN,
    malformed: 'treat-as-withdraw',
    rfc: 'RFC 7606 §7.3',
    decode: (r) => {
      if (r.left !== 4) return lengthFault(r, '4');
      const v = r.u32();
      // RFC 4271 §6.3: a syntactically incorrect NEXT_HOP → Invalid NEXT_HOP Attribute.
      return isInvalidNextHop(v) ? fault(UPDATE_MESSAGE_ERROR.INVALID_NEXT_HOP_ATTRIBUTE, 'NEXT_HOP is not an IP host address') : ok(v);
    },
    encode: (w, v) => void w.u32(v),
  },
  MULTI_EXIT_DISC: {
    name: 'MULTI_EXIT_DISC',
    typeCode: ATTR_TYPE.MULTI_EXIT_DISC,
    flags: OPTIONAL_NON_TRANSITIVE,
    malformed: 'treat-as-withdraw',
    rfc: 'RFC 7606 §7.4',
    decode: decodeU32,
    encode: (w, v) => void w.u32(v),
  },
  LOCAL_PREF: {
    name: 'LOCAL_PREF',
    typeCode: ATTR_TYPE.LOCAL_PREF,
    flags: WELL_KNOWN,
    malformed: 'treat-as-withdraw',
    rfc: 'RFC 7606 §7.5',
    decode: decodeU32,
    encode: (w, v) => void w.u32(v),
  },
  ATOMIC_AGGREGATE: {
    name: 'ATOMIC_AGGREGATE',
    typeCode: ATTR_TYPE.ATOMIC_AGGREGATE,
    flags: WELL_KNOWN,
    malformed: 'attribute-discard',
    rfc: 'RFC 7606 §7.6',
    decode: (r) => (r.left === 0 ? ok(null) : lengthFault(r, '0')),
    encode: () => {},
  },
  AGGREGATOR: {
    name: 'AGGREGATOR',
    typeCode: ATTR_TYPE.AGGREGATOR,
    flags: OPTIONAL_TRANSITIVE,
    malformed: 'attribute-discard',
    rfc: 'RFC 7606 §7.7',
    decode: (r, ctx) => decodeAggregator(r, asSize(ctx)),
    encode: (w, v, ctx) => encodeAggregator(w, v, asSize(ctx)),
  },
  COMMUNITIES: {
    name: 'COMMUNITIES',
    typeCode: ATTR_TYPE.COMMUNITIES,
    flags: OPTIONAL_TRANSITIVE,
    malformed: 'treat-as-withdraw',
    rfc: 'RFC 7606 §7.8',
    decode: decodeU32List,
    encode: (w, v) => {
      for (const c of v) w.u32(c);
    },
  },
  ORIGINATOR_ID: {
    name: 'ORIGINATOR_ID',
    typeCode: ATTR_TYPE.ORIGINATOR_ID,
    flags: OPTIONAL_NON_TRANSITIVE,
    malformed: 'treat-as-withdraw',
    rfc: 'RFC 7606 §7.9',
    decode: decodeU32,
    encode: (w, v) => void w.u32(v),
  },
  CLUSTER_LIST: {
    name: 'CLUSTER_LIST',
    typeCode: ATTR_TYPE.CLUSTER_LIST,
    flags: OPTIONAL_NON_TRANSITIVE,
    malformed: 'treat-as-withdraw',
    rfc: 'RFC 7606 §7.10',
    decode: decodeU32List,
    encode: (w, v) => {
      for (const c of v) w.u32(c);
    },
  },
  MP_REACH_NLRI: {
    name: 'MP_REACH_NLRI',
    typeCode: ATTR_TYPE.MP_REACH_NLRI,
    flags: OPTIONAL_NON_TRANSITIVE,
    malformed: 'af-disable',
    rfc: 'RFC 7606 §7.11',
    decode: decodeMpReach,
    encode: encodeMpReach,
  },
  MP_UNREACH_NLRI: {
    name: 'MP_UNREACH_NLRI',
    typeCode: ATTR_TYPE.MP_UNREACH_NLRI,
    flags: OPTIONAL_NON_TRANSITIVE,
    malformed: 'af-disable',
    rfc: 'RFC 7606 §7.12',
    decode: decodeMpUnreach,
    encode: encodeMpUnreach,
  },
  EXTENDED_COMMUNITIES: {
    name: 'EXTENDED_COMMUNITIES',
    typeCode: ATTR_TYPE.EXTENDED_COMMUNITIES,
    flags: OPTIONAL_TRANSITIVE,
    malformed: 'treat-as-withdraw',
    rfc: 'RFC 7606 §7.14',
    decode: (r) => {
      if (r.left === 0 || r.left % EXTENDED_COMMUNITY_LENGTH !== 0) return lengthFault(r, 'a non-zero multiple of 8');
      const out = new Array<ExtendedCommunity>(r.left / EXTENDED_COMMUNITY_LENGTH);
      for (let i = 0; i < out.length; i++) out[i] = decodeExtendedCommunity(r);
      return ok(out);
    },
    encode: (w, v) => {
      for (const ec of v) encodeExtendedCommunity(w, ec);
    },
  },
  AS4_PATH: {
    name: 'AS4_PATH',
    typeCode: ATTR_TYPE.AS4_PATH,
    flags: OPTIONAL_TRANSITIVE,
    malformed: 'attribute-discard',
    rfc: 'RFC 6793 §6',
    decode: (r) => decodeAsPath(r, 4),
    encode: (w, v) => encodeAsPath(w, v, 4),
  },
  AS4_AGGREGATOR: {
    name: 'AS4_AGGREGATOR',
    typeCode: ATTR_TYPE.AS4_AGGREGATOR,
    flags: OPTIONAL_TRANSITIVE,
    malformed: 'attribute-discard',
    rfc: 'RFC 6793 §6',
    decode: (r) => decodeAggregator(r, 4),
    encode: (w, v) => encodeAggregator(w, v, 4),
  },
};

type AnyDescriptor = AttributeDescriptor<KnownAttributeName>;
const BY_CODE: (AnyDescriptor | undefined)[] = new Array(256).fill(undefined);
for (const d of Object.values(DESCRIPTORS) as AnyDescriptor[]) BY_CODE[d.typeCode] = d;

/** The row for a type code: name, flags, RFC 7606 approach. */
export function attributeDescriptor(typeCode: number): Readonly<Pick<AnyDescriptor, 'name' | 'typeCode' | 'flags' | 'malformed' | 'rfc'>> | undefined {
  return BY_CODE[typeCode];
}

// --- The attribute-list walk (RFC 4271 §6.3 as revised by RFC 7606 §3-§4). ---

/** Subcodes whose NOTIFICATION Data is the erroneous attribute, type + length + value (RFC 4271 §6.3). */
const DATA_IS_ATTRIBUTE = new Set<number>([
  UPDATE_MESSAGE_ERROR.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
  UPDATE_MESSAGE_ERROR.ATTRIBUTE_FLAGS_ERROR,
  UPDATE_MESSAGE_ERROR.ATTRIBUTE_LENGTH_ERROR,
  UPDATE_MESSAGE_ERROR.INVALID_ORIGIN_ATTRIBUTE,
  UPDATE_MESSAGE_ERROR.INVALID_NEXT_HOP_ATTRIBUTE,
  UPDATE_MESSAGE_ERROR.OPTIONAL_ATTRIBUTE_ERROR,
]);

export interface DecodedAttributes {
  attributes: PathAttribute[];
  /** Errors below session-reset, in the order seen. */
  errors: BgpDecodeError[];
}

/**
 * Walks the Path Attributes field. Returns `err` only for session-reset errors; every weaker error
 * is collected and the walk goes on (RFC 7606 §3). Attributes that are malformed or discarded are
 * left out of `attributes`. `nlriFieldPresent`: the UPDATE's own NLRI field is not empty (NEXT_HOP
 * is then mandatory, RFC 4760 §3, and otherwise ignored).
 */
export function decodePathAttributes(r: Reader, ctx: CodecContext, nlriFieldPresent: boolean): Result<DecodedAttributes, BgpDecodeError> {
  const field = r.span(r.offset, r.offset + r.left);
  const known = attributeMemo.get(field, ctx.as4, nlriFieldPresent);
  if (known) {
    r.rest();
    return ok(known);
  }
  const res = walkPathAttributes(r, ctx, nlriFieldPresent);
  if (res.ok && res.value.errors.length === 0) return ok(attributeMemo.put(field.slice(), ctx.as4, nlriFieldPresent, res.value));
  return res;
}

/**
 * The error-free attribute walks seen lately, by their octets (and the context that shaped them). A
 * route reflector sends the same UPDATE to every client, so a thousand members in one thread decode
 * the same fields a thousand times: they get one decoded value, and the RIB can share the attributes
 * built from it (router.ts; `isSharedAttributeList`). Pure memoisation: the result is what the walk
 * would give. The shared values are read-only by contract (every consumer builds new lists); they are
 * not frozen, since V8 iterates frozen arrays on a slow path that allocates per element.
 */
class AttributeMemo {
  private readonly buckets = new Map<number, { bytes: Uint8Array; as4: boolean; nlri: boolean; value: DecodedAttributes }[]>();
  private size = 0;

  constructor(private readonly max: number) {}

  get(bytes: Uint8Array, as4: boolean, nlri: boolean): DecodedAttributes | undefined {
    const list = this.buckets.get(fnv1a(bytes));
    if (!list) return undefined;
    for (const e of list) if (e.as4 === as4 && e.nlri === nlri && equalOctets(e.bytes, bytes)) return e.value;
    return undefined;
  }

  put(bytes: Uint8Array, as4: boolean, nlri: boolean, value: DecodedAttributes): DecodedAttributes {
    if (this.size >= this.max) {
      this.buckets.clear();
      this.size = 0;
    }
    sharedLists.add(value.attributes);
    const h = fnv1a(bytes);
    const list = this.buckets.get(h);
    if (list) list.push({ bytes, as4, nlri, value });
    else this.buckets.set(h, [{ bytes, as4, nlri, value }]);
    this.size++;
    return value;
  }
}

const sharedLists = new WeakSet<readonly PathAttribute[]>();

/** True for an attribute list the memo hands to every receiver of the same octets (never to be changed). */
export function isSharedAttributeList(list: readonly PathAttribute[]): boolean {
  return sharedLists.has(list);
}

/** Distinct attribute fields kept (a thread's share of a 1000-member group's reflected routes fits). */
const ATTRIBUTE_MEMO_MAX = 8192;
const attributeMemo = new AttributeMemo(ATTRIBUTE_MEMO_MAX);

function fnv1a(b: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h >>> 0;
}

function equalOctets(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function walkPathAttributes(r: Reader, ctx: CodecContext, nlriFieldPresent: boolean): Result<DecodedAttributes, BgpDecodeError> {
  const attributes: PathAttribute[] = [];
  const errors: BgpDecodeError[] = [];
  const seen = new Uint32Array(8); // a bit per type code
  while (r.left > 0) {
    const start = r.offset;
    const flags = r.u8();
    const typeCode = r.u8();
    const extended = (flags & ATTR_FLAG.EXTENDED_LENGTH) !== 0;
    const len = extended ? r.u16() : r.u8();
    if (r.overrun) {
      // RFC 7606 §4: too few octets left for an attribute header: treat-as-withdraw; the Total
      // Path Attribute Length still locates the NLRI.
      errors.push(updateError(UPDATE_MESSAGE_ERROR.MALFORMED_ATTRIBUTE_LIST, 'treat-as-withdraw', 'update.pathAttributes', 'too few octets left for an attribute header'));
      break;
    }
    const body = r.sub(len);
    if (!body) {
      // RFC 7606 §4: the attribute's length overruns the Path Attributes field: treat-as-withdraw.
      errors.push(updateError(UPDATE_MESSAGE_ERROR.ATTRIBUTE_LENGTH_ERROR, 'treat-as-withdraw', fieldOf(typeCode), `length ${len} overruns the path attributes by ${len - r.left}`, rawAttribute(r, start, r.offset + r.left)));
      break;
    }
    const end = r.offset;
    const word = typeCode >>> 5;
    const bit = 1 << (typeCode & 31);
    if (seen[word]! & bit) {
      // RFC 7606 §3 g: MP_REACH_NLRI or MP_UNREACH_NLRI twice → session reset; any other
      // attribute twice → all but the first are discarded.
      if (typeCode === ATTR_TYPE.MP_REACH_NLRI || typeCode === ATTR_TYPE.MP_UNREACH_NLRI) {
        return err(sessionReset(ERROR_CODE.UPDATE_MESSAGE_ERROR, UPDATE_MESSAGE_ERROR.MALFORMED_ATTRIBUTE_LIST, fieldOf(typeCode), 'appears more than once'));
      }
      errors.push(updateError(UPDATE_MESSAGE_ERROR.MALFORMED_ATTRIBUTE_LIST, 'attribute-discard', fieldOf(typeCode), 'appears more than once; later copies discarded'));
      continue;
    }
    seen[word] = seen[word]! | bit;
    const desc = BY_CODE[typeCode];
    if (!desc) {
      // RFC 4271 §6.3 (not revised by RFC 7606): an unrecognized well-known attribute → session reset.
      if ((flags & ATTR_FLAG.OPTIONAL) === 0) {
        return err(sessionReset(ERROR_CODE.UPDATE_MESSAGE_ERROR, UPDATE_MESSAGE_ERROR.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE, fieldOf(typeCode), `well-known flags on unknown type ${typeCode}`, rawAttribute(r, start, end)));
      }
      // RFC 4271 §5: an unrecognized optional attribute is kept (and passed on if transitive).
      attributes.push({ type: 'UNRECOGNIZED', typeCode, flags, value: body.rest().slice() });
      continue;
    }
    // RFC 6793 §4.1: AS4_PATH / AS4_AGGREGATOR between NEW speakers are discarded.
    if (ctx.as4 && (typeCode === ATTR_TYPE.AS4_PATH || typeCode === ATTR_TYPE.AS4_AGGREGATOR)) {
      errors.push(updateError(UPDATE_MESSAGE_ERROR.OPTIONAL_ATTRIBUTE_ERROR, 'attribute-discard', fieldOf(typeCode), 'sent by a 4-octet AS speaker', rawAttribute(r, start, end)));
      continue;
    }
    let failure: Fault | undefined;
    let value: unknown;
    // RFC 7606 §3 c: Optional or Transitive bits in conflict → malformed, with the attribute's approach.
    if ((flags & OPTIONAL_TRANSITIVE) !== desc.flags) {
      failure = { subcode: UPDATE_MESSAGE_ERROR.ATTRIBUTE_FLAGS_ERROR, message: `flags 0x${flags.toString(16)}, expected 0x${desc.flags.toString(16)}` };
      if (desc.malformed === 'af-disable') {
        // The family of an MP attribute with bad flags is still readable for AFI/SAFI disable.
        const fam = readFamily(body);
        failure = fam.ok ? { ...failure, ...fam.value } : { ...failure, severity: 'session-reset' };
      }
    } else {
      const res = desc.decode(body, ctx);
      if (!res.ok) failure = res.error;
      else if (!body.done) failure = { subcode: UPDATE_MESSAGE_ERROR.ATTRIBUTE_LENGTH_ERROR, message: 'trailing octets in the attribute' };
      else value = res.value;
    }
    if (failure) {
      let severity = failure.severity ?? desc.malformed;
      // RFC 4760 §3: without an NLRI field a NEXT_HOP is ignored, so its errors only discard it.
      if (typeCode === ATTR_TYPE.NEXT_HOP && !nlriFieldPresent) severity = 'attribute-discard';
      const data = DATA_IS_ATTRIBUTE.has(failure.subcode) ? rawAttribute(r, start, end) : undefined;
      const e = updateError(failure.subcode, severity, fieldOf(typeCode), `${failure.message} (${desc.rfc}: ${severity})`, data, failure.afi, failure.safi);
      if (severity === 'session-reset') return err(e);
      errors.push(e);
      continue;
    }
    attributes.push({ type: desc.name, flags, value } as PathAttribute);
  }
  // RFC 7606 §3 d: a missing well-known mandatory attribute → treat-as-withdraw. ORIGIN and AS_PATH
  // go with any reachability; NEXT_HOP only with the NLRI field (RFC 4760 §3).
  if (nlriFieldPresent || has(seen, ATTR_TYPE.MP_REACH_NLRI)) {
    const mandatory: number[] = [ATTR_TYPE.ORIGIN, ATTR_TYPE.AS_PATH];
    if (nlriFieldPresent) mandatory.push(ATTR_TYPE.NEXT_HOP);
    for (const code of mandatory) {
      if (!has(seen, code)) {
        errors.push(updateError(UPDATE_MESSAGE_ERROR.MISSING_WELL_KNOWN_ATTRIBUTE, 'treat-as-withdraw', fieldOf(code), 'well-known mandatory attribute missing', Uint8Array.of(code)));
      }
    }
  }
  return ok({ attributes, errors });
}

function has(seen: Uint32Array, code: number): boolean {
  return (seen[code >>> 5]! & (1 << (code & 31))) !== 0;
}

const fieldOf = (typeCode: number): string => `update.pathAttributes.${BY_CODE[typeCode]?.name ?? typeCode}`;

/** A copy of one whole attribute (flags, type, length, value) for NOTIFICATION Data. */
function rawAttribute(r: Reader, start: number, end: number): Uint8Array {
  return r.span(start, end).slice();
}

// --- Encoding. ---

/** Appends one attribute: flags, type code, length (1 or 2 octets), value. */
export function encodePathAttribute(w: Writer, a: PathAttribute, ctx: CodecContext): void {
  const desc = a.type === 'UNRECOGNIZED' ? undefined : DESCRIPTORS[a.type];
  const typeCode = desc ? desc.typeCode : (a as UnrecognizedAttribute).typeCode;
  let flags = a.flags ?? desc!.flags;
  const flagsAt = w.length;
  w.u8(flags).u8(typeCode);
  const lenAt = w.length;
  const extended = (flags & ATTR_FLAG.EXTENDED_LENGTH) !== 0;
  if (extended) w.u16(0);
  else w.u8(0);
  const start = w.length;
  if (desc) (desc.encode as (w: Writer, v: unknown, ctx: CodecContext) => void)(w, a.value, ctx);
  else w.bytes((a as UnrecognizedAttribute).value);
  const len = w.length - start;
  if (extended) {
    w.patch(lenAt, 2, len);
  } else if (len <= 0xff) {
    w.patch(lenAt, 1, len);
  } else {
    // RFC 4271 §4.3: a value longer than 255 octets needs the Extended Length bit and 2 length octets.
    w.insert(lenAt, 1);
    flags |= ATTR_FLAG.EXTENDED_LENGTH;
    w.patch(flagsAt, 1, flags);
    w.patch(lenAt, 2, len);
  }
}

export function encodePathAttributes(w: Writer, attrs: readonly PathAttribute[], ctx: CodecContext): void {
  for (const a of attrs) encodePathAttribute(w, a, ctx);
}

/** The encoded Path Attributes field of `attrs` (for size accounting and update groups). */
export function pathAttributesBytes(attrs: readonly PathAttribute[], ctx: CodecContext): Uint8Array {
  const w = new Writer(256);
  encodePathAttributes(w, attrs, ctx);
  return w.finish();
}

// --- Propagation and AS_PATH helpers. ---

/**
 * The attributes as they go to another peer, for unrecognized ones (RFC 4271 §5): optional
 * non-transitive ones are dropped, optional transitive ones get the Partial bit.
 */
export function attributesForPropagation(attrs: readonly PathAttribute[]): PathAttribute[] {
  const out: PathAttribute[] = [];
  for (const a of attrs) {
    if (a.type !== 'UNRECOGNIZED') out.push(a);
    else if (a.flags & ATTR_FLAG.TRANSITIVE) out.push({ ...a, flags: a.flags | ATTR_FLAG.PARTIAL });
  }
  return out;
}

/** AS_PATH length for the decision process: an AS_SET counts 1, confederation segments 0 (RFC 4271 §9.1.2.2 a, RFC 5065 §5.3). */
export function asPathLength(segments: readonly AsPathSegment[]): number {
  let n = 0;
  for (const s of segments) {
    if (s.type === AS_SEQUENCE) n += s.asNumbers.length;
    else if (s.type === AS_SET) n += 1;
  }
  return n;
}

/** Prepends our AS when advertising to an external peer (RFC 4271 §5.1.2). */
export function prependAs(segments: readonly AsPathSegment[], asNumber: number): AsPathSegment[] {
  const first = segments[0];
  if (first && first.type === AS_SEQUENCE && first.asNumbers.length < MAX_SEGMENT_ASES) {
    return [{ type: AS_SEQUENCE, asNumbers: [asNumber, ...first.asNumbers] }, ...segments.slice(1)];
  }
  return [{ type: AS_SEQUENCE, asNumbers: [asNumber] }, ...segments];
}

/**
 * Towards an OLD (2-octet) speaker (RFC 6793 §4.2.2): adds AS4_PATH / AS4_AGGREGATOR when the path or
 * aggregator needs 4 octets; the 2-octet encoding then writes AS_TRANS in their place.
 */
export function attributesForAs2Peer(attrs: readonly PathAttribute[]): PathAttribute[] {
  const out: PathAttribute[] = attrs.filter((a) => a.type !== 'AS4_PATH' && a.type !== 'AS4_AGGREGATOR');
  const asPath = getAttribute(attrs, 'AS_PATH');
  const aggregator = getAttribute(attrs, 'AGGREGATOR');
  if (asPath && asPath.value.some((s) => s.asNumbers.some((as) => as > 0xffff))) {
    // RFC 6793 §4.2.2: AS4_PATH carries no confederation segments.
    const as4 = asPath.value.filter((s) => s.type === AS_SEQUENCE || s.type === AS_SET);
    if (as4.length) out.push(attribute('AS4_PATH', as4));
  }
  if (aggregator && aggregator.value.asNumber > 0xffff) out.push(attribute('AS4_AGGREGATOR', aggregator.value));
  return out;
}

/** From an OLD speaker (RFC 6793 §4.2.3): rebuilds AS_PATH and AGGREGATOR from AS4_PATH / AS4_AGGREGATOR. */
export function attributesFromAs2Peer(attrs: readonly PathAttribute[]): PathAttribute[] {
  const asPath = getAttribute(attrs, 'AS_PATH');
  const as4Path = getAttribute(attrs, 'AS4_PATH');
  const aggregator = getAttribute(attrs, 'AGGREGATOR');
  const as4Aggregator = getAttribute(attrs, 'AS4_AGGREGATOR');
  let useAs4Path = as4Path !== undefined;
  let newAggregator: Aggregator | undefined;
  if (aggregator && as4Aggregator) {
    // RFC 6793 §4.2.3: AGGREGATOR not AS_TRANS → ignore both AS4_AGGREGATOR and AS4_PATH.
    if (aggregator.value.asNumber !== AS_TRANS) useAs4Path = false;
    else newAggregator = as4Aggregator.value;
  }
  let newPath: AsPathSegment[] | undefined;
  if (useAs4Path && asPath && as4Path) {
    const n = asPathLength(asPath.value) - asPathLength(as4Path.value);
    // RFC 6793 §4.2.3: AS_PATH shorter than AS4_PATH → AS4_PATH ignored.
    if (n >= 0) {
      const lead: AsPathSegment[] = [];
      let need = n;
      for (const s of asPath.value) {
        if (need === 0) break;
        if (s.type === AS_SEQUENCE) {
          const take = s.asNumbers.slice(0, need);
          lead.push({ type: AS_SEQUENCE, asNumbers: take });
          need -= take.length;
        } else {
          lead.push(s);
          if (s.type === AS_SET) need -= 1;
        }
      }
      newPath = [...lead, ...as4Path.value];
    }
  }
  const out: PathAttribute[] = [];
  for (const a of attrs) {
    if (a.type === 'AS4_PATH' || a.type === 'AS4_AGGREGATOR') continue;
    if (a.type === 'AS_PATH' && newPath) out.push({ ...a, value: newPath });
    else if (a.type === 'AGGREGATOR' && newAggregator) out.push({ ...a, value: newAggregator });
    else out.push(a);
  }
  return out;
}
