// BGP-4 messages (RFC 4271 §4): header and framing, OPEN, UPDATE, NOTIFICATION, KEEPALIVE and
// ROUTE-REFRESH (RFC 2918) with their RFC 4271 §6 errors. Never keeps session state, never does I/O.
//
// Length contract: `messageLength` looks at the first 19 octets of a byte stream; `decodeMessage`
// takes exactly one message and never throws on any bytes. Decoded messages share no memory with
// the input. `encodeMessage` asserts the 4096-octet limit (RFC 4271 §4.1): a larger message is our
// bug; UPDATEs built from many routes go through `packUpdates` (pack.ts), which splits them.

import type { Ipv4Prefix } from '../../lib/addr.ts';
import type { Result } from '../../lib/errors.ts';
import { assert, err, ok } from '../../lib/errors.ts';
import { Reader, Writer } from '../../lib/reader.ts';
import type { CodecContext, PathAttribute } from './attributes.ts';
import { AS_TRANS, decodePathAttributes, encodePathAttributes } from './attributes.ts';
import type { CapabilitiesParameter, Capability } from './capabilities.ts';
import { decodeOptionalParameters, encodeCapabilities, encodeOptionalParameters, sameCapability } from './capabilities.ts';
import type { BgpDecodeError } from './errors.ts';
import { ERROR_CODE, MESSAGE_HEADER_ERROR, OPEN_MESSAGE_ERROR, UPDATE_MESSAGE_ERROR, sessionReset } from './errors.ts';
import { decodeIpv4Prefixes, encodeIpv4Prefix } from './nlri.ts';

// --- Code points and sizes (RFC 4271 §4.1-§4.5, RFC 2918 §3). ---

export const MESSAGE_TYPE = {
  OPEN: 1,
  UPDATE: 2,
  NOTIFICATION: 3,
  KEEPALIVE: 4,
  ROUTE_REFRESH: 5,
} as const;

export const MARKER_LENGTH = 16;
/** RFC 4271 §4.1: the Marker is all ones. */
const MARKER = new Uint8Array(MARKER_LENGTH).fill(0xff);
export const HEADER_LENGTH = 19;
export const MAX_MESSAGE_LENGTH = 4096;
export const BGP_VERSION = 4;
/** Smallest message of each type, header included (RFC 4271 §4.2-§4.5, RFC 2918 §3). */
export const MIN_MESSAGE_LENGTH: Record<number, number> = {
  [MESSAGE_TYPE.OPEN]: 29,
  [MESSAGE_TYPE.UPDATE]: 23,
  [MESSAGE_TYPE.NOTIFICATION]: 21,
  [MESSAGE_TYPE.KEEPALIVE]: 19,
  [MESSAGE_TYPE.ROUTE_REFRESH]: 23,
};
/** Types whose length is fixed: KEEPALIVE (RFC 4271 §4.4) and ROUTE-REFRESH (RFC 2918 §3). */
const EXACT_LENGTH: Record<number, number> = { [MESSAGE_TYPE.KEEPALIVE]: 19, [MESSAGE_TYPE.ROUTE_REFRESH]: 23 };

// --- Messages. ---

export interface OpenMessage {
  type: 'OPEN';
  /** My Autonomous System: 2 octets; AS_TRANS when the real AS needs 4 (RFC 6793 §4.1). */
  myAutonomousSystem: number;
  holdTimeS: number;
  bgpIdentifier: number;
  optionalParameters: CapabilitiesParameter[];
}

export interface UpdateMessage {
  type: 'UPDATE';
  withdrawnRoutes: Ipv4Prefix[];
  pathAttributes: PathAttribute[];
  nlri: Ipv4Prefix[];
}

export interface NotificationMessage {
  type: 'NOTIFICATION';
  errorCode: number;
  errorSubcode: number;
  data: Uint8Array;
}

export interface KeepaliveMessage {
  type: 'KEEPALIVE';
}

export interface RouteRefreshMessage {
  type: 'ROUTE-REFRESH';
  afi: number;
  /** RFC 2918 §3 "Res.": sent 0, ignored on receipt, kept so the message round-trips. */
  reserved: number;
  safi: number;
}

export type BgpMessage = OpenMessage | UpdateMessage | NotificationMessage | KeepaliveMessage | RouteRefreshMessage;

export const KEEPALIVE: KeepaliveMessage = Object.freeze({ type: 'KEEPALIVE' });

/** A decoded message and, for an UPDATE, the errors RFC 7606 lets decoding go on after. */
export interface Decoded {
  message: BgpMessage;
  /** The strongest error seen (first of equals); undefined when none. Never `session-reset`. */
  error: BgpDecodeError | undefined;
  /** Every such error, in the order seen. */
  errors: BgpDecodeError[];
}

// --- Framing and header (RFC 4271 §4.1, §6.1). ---

const u16Bytes = (v: number): Uint8Array => Uint8Array.of(v >>> 8, v & 0xff);

// RFC 4271 §6.1: Bad Message Length, Data = the erroneous Length field.
function badLength(length: number, why: string): Result<never, BgpDecodeError> {
  return err(sessionReset(ERROR_CODE.MESSAGE_HEADER_ERROR, MESSAGE_HEADER_ERROR.BAD_MESSAGE_LENGTH, 'header.length', why, u16Bytes(length)));
}

/**
 * The length of the message at the start of a byte stream, from its header: `undefined` until 19
 * octets are there; an error for a bad marker, length or type (RFC 4271 §6.1). The message is
 * complete once the stream holds that many octets.
 */
export function messageLength(stream: Uint8Array): Result<number | undefined, BgpDecodeError> {
  if (stream.length < HEADER_LENGTH) return ok(undefined);
  for (let i = 0; i < MARKER_LENGTH; i++) {
    // RFC 4271 §6.1: a Marker that is not all ones → Connection Not Synchronized.
    if (stream[i] !== 0xff) {
      return err(sessionReset(ERROR_CODE.MESSAGE_HEADER_ERROR, MESSAGE_HEADER_ERROR.CONNECTION_NOT_SYNCHRONIZED, 'header.marker', 'marker is not all ones'));
    }
  }
  const length = (stream[16]! << 8) | stream[17]!;
  const type = stream[18]!;
  if (length < HEADER_LENGTH || length > MAX_MESSAGE_LENGTH) return badLength(length, `length ${length} outside ${HEADER_LENGTH}..${MAX_MESSAGE_LENGTH}`);
  const min = MIN_MESSAGE_LENGTH[type];
  if (min === undefined) {
    // RFC 4271 §6.1: Bad Message Type, Data = the erroneous Type field.
    return err(sessionReset(ERROR_CODE.MESSAGE_HEADER_ERROR, MESSAGE_HEADER_ERROR.BAD_MESSAGE_TYPE, 'header.type', `type ${type}`, Uint8Array.of(type)));
  }
  if (length < min) return badLength(length, `length ${length} below the minimum ${min} of type ${type}`);
  const exact = EXACT_LENGTH[type];
  if (exact !== undefined && length !== exact) return badLength(length, `length ${length}, type ${type} is always ${exact}`);
  return ok(length);
}

function plain(message: BgpMessage): Result<Decoded, never> {
  return ok({ message, error: undefined, errors: [] });
}

/** Decodes exactly one message. Bytes from the peer never throw: every fault is a BgpDecodeError. */
export function decodeMessage(bytes: Uint8Array, ctx: CodecContext): Result<Decoded, BgpDecodeError> {
  const framed = messageLength(bytes);
  if (!framed.ok) return framed;
  const length = framed.value;
  if (length === undefined || length !== bytes.length) {
    const got = bytes.length >= HEADER_LENGTH ? u16Bytes(length ?? 0) : new Uint8Array(0);
    return err(sessionReset(ERROR_CODE.MESSAGE_HEADER_ERROR, MESSAGE_HEADER_ERROR.BAD_MESSAGE_LENGTH, 'header.length', `length field ${length ?? '(none)'} but ${bytes.length} octets`, got));
  }
  const body = new Reader(bytes, HEADER_LENGTH, length);
  switch (bytes[18]) {
    case MESSAGE_TYPE.OPEN: {
      const open = decodeOpen(body, bytes);
      return open.ok ? plain(open.value) : open;
    }
    case MESSAGE_TYPE.UPDATE:
      return decodeUpdate(body, ctx);
    case MESSAGE_TYPE.NOTIFICATION:
      return plain({ type: 'NOTIFICATION', errorCode: body.u8(), errorSubcode: body.u8(), data: body.rest().slice() });
    case MESSAGE_TYPE.KEEPALIVE:
      return plain(KEEPALIVE);
    default:
      return plain({ type: 'ROUTE-REFRESH', afi: body.u16(), reserved: body.u8(), safi: body.u8() });
  }
}

function openErr(subcode: number, field: string, message: string, data?: Uint8Array): Result<never, BgpDecodeError> {
  return err(sessionReset(ERROR_CODE.OPEN_MESSAGE_ERROR, subcode, `open.${field}`, message, data));
}

function decodeOpen(r: Reader, bytes: Uint8Array): Result<OpenMessage, BgpDecodeError> {
  const version = r.u8();
  const myAutonomousSystem = r.u16();
  const holdTimeS = r.u16();
  const bgpIdentifier = r.u32();
  const optLen = r.u8();
  // RFC 4271 §6.2: Data = the largest locally supported version below the bid, else the smallest: 4.
  if (version !== BGP_VERSION) return openErr(OPEN_MESSAGE_ERROR.UNSUPPORTED_VERSION_NUMBER, 'version', `version ${version}`, u16Bytes(BGP_VERSION));
  if (r.left !== optLen) {
    // The Optional Parameters Length disagrees with the message Length (BIRD answers the same way).
    return err(sessionReset(ERROR_CODE.MESSAGE_HEADER_ERROR, MESSAGE_HEADER_ERROR.BAD_MESSAGE_LENGTH, 'open.optionalParametersLength', `optional parameters length ${optLen}, ${r.left} octets follow`, bytes.slice(16, 18)));
  }
  // RFC 7607 §2: AS 0 as the peer AS → Bad Peer AS.
  if (myAutonomousSystem === 0) return openErr(OPEN_MESSAGE_ERROR.BAD_PEER_AS, 'myAutonomousSystem', 'AS 0');
  // RFC 4271 §6.2: Hold Time of one or two seconds MUST be rejected.
  if (holdTimeS === 1 || holdTimeS === 2) return openErr(OPEN_MESSAGE_ERROR.UNACCEPTABLE_HOLD_TIME, 'holdTimeS', `hold time ${holdTimeS} s`);
  // RFC 6286 §2.2: a BGP Identifier of zero → Bad BGP Identifier.
  if (bgpIdentifier === 0) return openErr(OPEN_MESSAGE_ERROR.BAD_BGP_IDENTIFIER, 'bgpIdentifier', 'BGP Identifier 0');
  const params = decodeOptionalParameters(r);
  if (!params.ok) return params;
  return ok({ type: 'OPEN', myAutonomousSystem, holdTimeS, bgpIdentifier, optionalParameters: params.value });
}

// RFC 4271 §6.3: Withdrawn Routes Length + Total Path Attribute Length + 23 > Length → Malformed Attribute List.
function malformed(field: string, why: string): Result<never, BgpDecodeError> {
  return err(sessionReset(ERROR_CODE.UPDATE_MESSAGE_ERROR, UPDATE_MESSAGE_ERROR.MALFORMED_ATTRIBUTE_LIST, field, why));
}

function invalid(field: string, why: string): Result<never, BgpDecodeError> {
  return err(sessionReset(ERROR_CODE.UPDATE_MESSAGE_ERROR, UPDATE_MESSAGE_ERROR.INVALID_NETWORK_FIELD, field, why));
}

function decodeUpdate(r: Reader, ctx: CodecContext): Result<Decoded, BgpDecodeError> {
  const withdrawnLen = r.u16();
  const withdrawnField = r.sub(withdrawnLen);
  if (!withdrawnField) return malformed('update.withdrawnRoutesLength', `withdrawn routes length ${withdrawnLen} overruns the message`);
  const attrLen = r.u16();
  if (r.overrun) return malformed('update.totalPathAttributeLength', 'no room for the total path attribute length');
  const attrField = r.sub(attrLen);
  if (!attrField) return malformed('update.totalPathAttributeLength', `total path attribute length ${attrLen} overruns the message`);
  // RFC 7606 §5.3: Withdrawn Routes or NLRI that cannot be parsed → session reset (Invalid Network Field).
  const withdrawnRoutes = decodeIpv4Prefixes(withdrawnField);
  if (!withdrawnRoutes.ok) return invalid('update.withdrawnRoutes', withdrawnRoutes.error);
  const nlri = decodeIpv4Prefixes(r);
  if (!nlri.ok) return invalid('update.nlri', nlri.error);
  const attrs = decodePathAttributes(attrField, ctx, nlri.value.length > 0);
  if (!attrs.ok) return attrs;
  const errors = attrs.value.errors;
  let strongest: BgpDecodeError | undefined;
  for (const e of errors) if (e.strongerThan(strongest)) strongest = e;
  const message: UpdateMessage = { type: 'UPDATE', withdrawnRoutes: withdrawnRoutes.value, pathAttributes: attrs.value.attributes, nlri: nlri.value };
  return ok({ message, error: strongest, errors });
}

// --- Encoding. ---

/** Encodes one message; asserts it stays within 4096 octets (RFC 4271 §4.1). */
export function encodeMessage(m: BgpMessage, ctx: CodecContext): Uint8Array {
  const w = new Writer(m.type === 'UPDATE' ? 512 : 64);
  writeMessage(w, m, ctx);
  return w.finish();
}

/** Appends one message to a Writer (several messages may share one buffer, e.g. one TCP segment). */
export function writeMessage(w: Writer, m: BgpMessage, ctx: CodecContext): void {
  const start = w.length;
  w.bytes(MARKER);
  const lenAt = w.length;
  w.u16(0).u8(MESSAGE_TYPE[m.type === 'ROUTE-REFRESH' ? 'ROUTE_REFRESH' : m.type]);
  switch (m.type) {
    case 'OPEN':
      w.u8(BGP_VERSION).u16(m.myAutonomousSystem).u16(m.holdTimeS).u32(m.bgpIdentifier);
      w.lengthPrefixed(1, () => encodeOptionalParameters(w, m.optionalParameters));
      break;
    case 'UPDATE':
      w.lengthPrefixed(2, () => {
        for (const p of m.withdrawnRoutes) encodeIpv4Prefix(w, p);
      });
      w.lengthPrefixed(2, () => encodePathAttributes(w, m.pathAttributes, ctx));
      for (const p of m.nlri) encodeIpv4Prefix(w, p);
      break;
    case 'NOTIFICATION':
      w.u8(m.errorCode).u8(m.errorSubcode).bytes(m.data);
      break;
    case 'KEEPALIVE':
      break;
    case 'ROUTE-REFRESH':
      w.u16(m.afi).u8(m.reserved).u8(m.safi);
      break;
  }
  const length = w.length - start;
  assert(length <= MAX_MESSAGE_LENGTH, `encodeMessage: ${m.type} of ${length} octets exceeds ${MAX_MESSAGE_LENGTH} (use packUpdates)`);
  w.patch(lenAt, 2, length);
}

// --- OPEN helpers for the session. ---

/** Every capability of an OPEN, in order. */
export function openCapabilities(open: OpenMessage): Capability[] {
  return open.optionalParameters.flatMap((p) => p.capabilities);
}

/** The peer's AS: the 4-octet AS capability when present (RFC 6793 §4.1), else My Autonomous System. */
export function peerAsOf(open: OpenMessage): number {
  for (const c of openCapabilities(open)) if (c.type === 'FOUR_OCTET_AS') return c.asNumber;
  return open.myAutonomousSystem;
}

/** Builds an OPEN with all capabilities in one Capabilities parameter (RFC 5492 §4). */
export function openMessage(o: { asNumber: number; holdTimeS: number; bgpIdentifier: number; capabilities: readonly Capability[] }): OpenMessage {
  return {
    type: 'OPEN',
    myAutonomousSystem: o.asNumber > 0xffff ? AS_TRANS : o.asNumber,
    holdTimeS: o.holdTimeS,
    bgpIdentifier: o.bgpIdentifier,
    optionalParameters: o.capabilities.length ? [{ type: 'CAPABILITIES', capabilities: [...o.capabilities] }] : [],
  };
}

/** What the local configuration expects of a peer's OPEN (checks that need more than the bytes). */
export interface OpenExpectations {
  /** The configured peer AS. */
  peerAs?: number;
  /** Our BGP Identifier and whether the peer is internal (RFC 6286 §2.2). */
  localBgpIdentifier?: number;
  internal?: boolean;
  /** Capabilities we will not run without (RFC 5492 §3). */
  requiredCapabilities?: readonly Capability[];
}

/** The OPEN Message Error a received OPEN calls for under local configuration, if any (RFC 4271 §6.2). */
export function checkOpen(open: OpenMessage, expect: OpenExpectations): BgpDecodeError | undefined {
  const peerAs = peerAsOf(open);
  if (expect.peerAs !== undefined && peerAs !== expect.peerAs) {
    return sessionReset(ERROR_CODE.OPEN_MESSAGE_ERROR, OPEN_MESSAGE_ERROR.BAD_PEER_AS, 'open.myAutonomousSystem', `peer AS ${peerAs}, expected ${expect.peerAs}`);
  }
  // RFC 6286 §2.2: from an internal peer, our own BGP Identifier → Bad BGP Identifier.
  if (expect.internal && expect.localBgpIdentifier !== undefined && open.bgpIdentifier === expect.localBgpIdentifier) {
    return sessionReset(ERROR_CODE.OPEN_MESSAGE_ERROR, OPEN_MESSAGE_ERROR.BAD_BGP_IDENTIFIER, 'open.bgpIdentifier', 'same BGP Identifier as ours on an internal session');
  }
  const offered = openCapabilities(open);
  const missing = (expect.requiredCapabilities ?? []).filter((need) => !offered.some((c) => sameCapability(c, need)));
  if (missing.length) {
    // RFC 5492 §3: Unsupported Capability, Data = the capabilities that caused it, encoded as in an OPEN.
    return sessionReset(ERROR_CODE.OPEN_MESSAGE_ERROR, OPEN_MESSAGE_ERROR.UNSUPPORTED_CAPABILITY, 'open.capabilities', `peer lacks ${missing.map((c) => c.type).join(', ')}`, encodeCapabilities(missing));
  }
  return undefined;
}

/** The NOTIFICATION that answers a session-reset error (RFC 4271 §6). */
export function notificationFor(e: BgpDecodeError): NotificationMessage {
  return { type: 'NOTIFICATION', errorCode: e.errorCode, errorSubcode: e.errorSubcode, data: e.data.slice() };
}
