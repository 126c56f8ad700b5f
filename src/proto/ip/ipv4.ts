// IPv4 (RFC 791): the header codec, the protocol-number registry, the ip error catalog, and the
// in-place helpers of the forwarding fast path. Never does routing, fragmentation or I/O; never throws on peer bytes.
//
// Length contract (stated once, smoltcp style): `decodeIpv4` checks every length before reading, so
// any byte string is safe to pass. Decoded `payload` is a view sharing the input's buffer (no copy);
// `options` is a copy. The fast-path helpers (`ipv4Src`, `ipv4Dst`, `ipv4Protocol`,
// `decrementTtlInPlace`) assume bytes that `decodeIpv4` already accepted, and assert at least the
// fixed header is there.

import type { DecodeError, Result } from '../../lib/errors.ts';
import { assert, err, ok } from '../../lib/errors.ts';
import { internetChecksum } from './checksum.ts';

// --- Error catalog of the ip codecs (ipv4, ipv6, icmp, udp). ---

export const IP_ERROR = {
  /** The bytes end before a field, or before the length a length field announces. */
  TRUNCATED: 'TRUNCATED',
  /** IP version nibble is not the one this decoder handles. */
  BAD_VERSION: 'BAD_VERSION',
  /** IPv4 Internet Header Length below 5 words. */
  BAD_IHL: 'BAD_IHL',
  /** A length field is inconsistent with the header it belongs to (e.g. shorter than the header). */
  BAD_LENGTH: 'BAD_LENGTH',
  /** Checksum does not verify. */
  BAD_CHECKSUM: 'BAD_CHECKSUM',
  /** A reserved bit or field that must be zero is not. */
  BAD_RESERVED: 'BAD_RESERVED',
  /** An ICMP code that the type does not allow. */
  BAD_CODE: 'BAD_CODE',
  /** An ICMP type this codec does not handle (RFC 1122 §3.2.2: silently discard). */
  UNKNOWN_TYPE: 'UNKNOWN_TYPE',
} as const;

export type IpErrorCode = (typeof IP_ERROR)[keyof typeof IP_ERROR];

export function ipDecodeError(code: IpErrorCode, field: string, message: string): DecodeError {
  return { code, field, message };
}

// --- Assigned Internet Protocol Numbers (IANA; shared by IPv4 Protocol and IPv6 Next Header). ---

export const IP_PROTO_HOPOPT = 0;
export const IP_PROTO_ICMP = 1;
export const IP_PROTO_IPV4 = 4;
export const IP_PROTO_TCP = 6;
export const IP_PROTO_UDP = 17;
export const IP_PROTO_IPV6 = 41;
export const IP_PROTO_IPV6_ROUTE = 43;
export const IP_PROTO_IPV6_FRAG = 44;
export const IP_PROTO_GRE = 47;
export const IP_PROTO_ESP = 50;
export const IP_PROTO_AH = 51;
export const IP_PROTO_IPV6_ICMP = 58;
export const IP_PROTO_IPV6_NONXT = 59;
export const IP_PROTO_IPV6_OPTS = 60;

// --- Header layout (RFC 791 §3.1). ---

export const IPV4_VERSION = 4;
/** Fixed header length in bytes (IHL = 5). */
export const IPV4_HEADER_LEN = 20;
/** IHL is 4 bits of 32-bit words: at most 60 bytes of header, 40 of options. */
export const IPV4_MAX_HEADER_LEN = 60;
export const IPV4_MAX_OPTIONS_LEN = IPV4_MAX_HEADER_LEN - IPV4_HEADER_LEN;
export const IPV4_MAX_TOTAL_LEN = 0xffff;
export const IPV4_MIN_IHL = 5;

export const IPV4_OFFSET_VERSION_IHL = 0;
export const IPV4_OFFSET_TOS = 1;
export const IPV4_OFFSET_TOTAL_LENGTH = 2;
export const IPV4_OFFSET_IDENTIFICATION = 4;
export const IPV4_OFFSET_FLAGS_FRAGMENT = 6;
export const IPV4_OFFSET_TTL = 8;
export const IPV4_OFFSET_PROTOCOL = 9;
export const IPV4_OFFSET_CHECKSUM = 10;
export const IPV4_OFFSET_SRC = 12;
export const IPV4_OFFSET_DST = 16;

/** Flags are the top 3 bits of the 16-bit flags/fragment-offset word. */
export const IPV4_FLAG_RESERVED = 0x8000;
export const IPV4_FLAG_DF = 0x4000;
export const IPV4_FLAG_MF = 0x2000;
/** Fragment offset, in units of 8 bytes. */
export const IPV4_FRAGMENT_OFFSET_MASK = 0x1fff;

export interface Ipv4Header {
  /** Differentiated Services code point (RFC 2474), 6 bits. */
  dscp: number;
  /** Explicit Congestion Notification (RFC 3168), 2 bits. */
  ecn: number;
  identification: number;
  dontFragment: boolean;
  moreFragments: boolean;
  /** In units of 8 bytes, 13 bits. */
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  /** Unsigned 32-bit address. */
  src: number;
  dst: number;
  /** Raw option bytes (including any end-of-list padding), a multiple of 4 long, at most 40. */
  options: Uint8Array;
}

export interface DecodedIpv4 {
  header: Ipv4Header;
  /** View of the bytes after the header up to Total Length. */
  payload: Uint8Array;
  headerLength: number;
}

const isUint = (v: number, bits: number): boolean => Number.isInteger(v) && v >= 0 && v < 2 ** bits;

/** Encodes header + payload, computing IHL, Total Length and Header Checksum. Asserts on our own bad input. */
export function encodeIpv4(h: Ipv4Header, payload: Uint8Array): Uint8Array {
  assert(isUint(h.dscp, 6), `encodeIpv4: dscp ${h.dscp}`);
  assert(isUint(h.ecn, 2), `encodeIpv4: ecn ${h.ecn}`);
  assert(isUint(h.identification, 16), `encodeIpv4: identification ${h.identification}`);
  assert(isUint(h.fragmentOffset, 13), `encodeIpv4: fragmentOffset ${h.fragmentOffset}`);
  assert(isUint(h.ttl, 8), `encodeIpv4: ttl ${h.ttl}`);
  assert(isUint(h.protocol, 8), `encodeIpv4: protocol ${h.protocol}`);
  assert(isUint(h.src, 32), `encodeIpv4: src ${h.src}`);
  assert(isUint(h.dst, 32), `encodeIpv4: dst ${h.dst}`);
  assert(
    h.options.length % 4 === 0 && h.options.length <= IPV4_MAX_OPTIONS_LEN,
    `encodeIpv4: options length ${h.options.length} (must be a multiple of 4, at most ${IPV4_MAX_OPTIONS_LEN})`,
  );
  const headerLength = IPV4_HEADER_LEN + h.options.length;
  const totalLength = headerLength + payload.length;
  assert(totalLength <= IPV4_MAX_TOTAL_LEN, `encodeIpv4: total length ${totalLength} > ${IPV4_MAX_TOTAL_LEN}`);

  const out = new Uint8Array(totalLength);
  const dv = new DataView(out.buffer);
  out[IPV4_OFFSET_VERSION_IHL] = (IPV4_VERSION << 4) | (headerLength >> 2);
  out[IPV4_OFFSET_TOS] = (h.dscp << 2) | h.ecn;
  dv.setUint16(IPV4_OFFSET_TOTAL_LENGTH, totalLength);
  dv.setUint16(IPV4_OFFSET_IDENTIFICATION, h.identification);
  dv.setUint16(
    IPV4_OFFSET_FLAGS_FRAGMENT,
    (h.dontFragment ? IPV4_FLAG_DF : 0) | (h.moreFragments ? IPV4_FLAG_MF : 0) | h.fragmentOffset,
  );
  out[IPV4_OFFSET_TTL] = h.ttl;
  out[IPV4_OFFSET_PROTOCOL] = h.protocol;
  dv.setUint32(IPV4_OFFSET_SRC, h.src);
  dv.setUint32(IPV4_OFFSET_DST, h.dst);
  out.set(h.options, IPV4_HEADER_LEN);
  // RFC 791 §3.1: checksum over the header only, computed with the checksum field zero.
  dv.setUint16(IPV4_OFFSET_CHECKSUM, internetChecksum(out.subarray(0, headerLength)));
  out.set(payload, headerLength);
  return out;
}

/**
 * Decodes an IPv4 packet. Bytes beyond Total Length are ignored (link-layer padding).
 * Rejects: short buffers, version ≠ 4, IHL < 5, Total Length < IHL·4 or beyond the buffer,
 * the reserved flag set, and a header checksum that does not verify.
 */
export function decodeIpv4(bytes: Uint8Array): Result<DecodedIpv4, DecodeError> {
  if (bytes.length < IPV4_HEADER_LEN) {
    return err(ipDecodeError(IP_ERROR.TRUNCATED, 'ipv4.header', `${bytes.length} bytes, fixed header needs ${IPV4_HEADER_LEN}`));
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const versionIhl = bytes[IPV4_OFFSET_VERSION_IHL]!;
  const version = versionIhl >> 4;
  if (version !== IPV4_VERSION) {
    return err(ipDecodeError(IP_ERROR.BAD_VERSION, 'ipv4.version', `version ${version}, expected ${IPV4_VERSION}`));
  }
  const ihl = versionIhl & 0x0f;
  if (ihl < IPV4_MIN_IHL) {
    return err(ipDecodeError(IP_ERROR.BAD_IHL, 'ipv4.ihl', `IHL ${ihl} < ${IPV4_MIN_IHL}`));
  }
  const headerLength = ihl * 4;
  if (bytes.length < headerLength) {
    return err(ipDecodeError(IP_ERROR.TRUNCATED, 'ipv4.ihl', `IHL says ${headerLength} header bytes, only ${bytes.length} present`));
  }
  const totalLength = dv.getUint16(IPV4_OFFSET_TOTAL_LENGTH);
  if (totalLength < headerLength) {
    return err(ipDecodeError(IP_ERROR.BAD_LENGTH, 'ipv4.totalLength', `total length ${totalLength} < header length ${headerLength}`));
  }
  if (totalLength > bytes.length) {
    return err(ipDecodeError(IP_ERROR.TRUNCATED, 'ipv4.totalLength', `total length ${totalLength} > ${bytes.length} bytes present`));
  }
  if (internetChecksum(bytes.subarray(0, headerLength)) !== 0) {
    const got = dv.getUint16(IPV4_OFFSET_CHECKSUM);
    return err(ipDecodeError(IP_ERROR.BAD_CHECKSUM, 'ipv4.checksum', `header checksum 0x${got.toString(16).padStart(4, '0')} does not verify`));
  }
  const flagsFragment = dv.getUint16(IPV4_OFFSET_FLAGS_FRAGMENT);
  // RFC 791 §3.1: "Bit 0: reserved, must be zero".
  if (flagsFragment & IPV4_FLAG_RESERVED) {
    return err(ipDecodeError(IP_ERROR.BAD_RESERVED, 'ipv4.flags', 'reserved flag bit set'));
  }
  const tos = bytes[IPV4_OFFSET_TOS]!;
  const header: Ipv4Header = {
    dscp: tos >> 2,
    ecn: tos & 0x03,
    identification: dv.getUint16(IPV4_OFFSET_IDENTIFICATION),
    dontFragment: (flagsFragment & IPV4_FLAG_DF) !== 0,
    moreFragments: (flagsFragment & IPV4_FLAG_MF) !== 0,
    fragmentOffset: flagsFragment & IPV4_FRAGMENT_OFFSET_MASK,
    ttl: bytes[IPV4_OFFSET_TTL]!,
    protocol: bytes[IPV4_OFFSET_PROTOCOL]!,
    src: dv.getUint32(IPV4_OFFSET_SRC),
    dst: dv.getUint32(IPV4_OFFSET_DST),
    options: bytes.slice(IPV4_HEADER_LEN, headerLength),
  };
  return ok({ header, payload: bytes.subarray(headerLength, totalLength), headerLength });
}

// --- Forwarding fast path: no allocation, no full decode. ---

function assertFixedHeader(bytes: Uint8Array, fn: string): void {
  assert(bytes.length >= IPV4_HEADER_LEN, `${fn}: ${bytes.length} bytes, not a decoded IPv4 packet`);
}

const readUint32 = (bytes: Uint8Array, at: number): number =>
  ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;

/** Destination address of an already-validated IPv4 packet. */
export function ipv4Dst(bytes: Uint8Array): number {
  assertFixedHeader(bytes, 'ipv4Dst');
  return readUint32(bytes, IPV4_OFFSET_DST);
}

/** Source address of an already-validated IPv4 packet. */
export function ipv4Src(bytes: Uint8Array): number {
  assertFixedHeader(bytes, 'ipv4Src');
  return readUint32(bytes, IPV4_OFFSET_SRC);
}

/** Protocol field of an already-validated IPv4 packet. */
export function ipv4Protocol(bytes: Uint8Array): number {
  assertFixedHeader(bytes, 'ipv4Protocol');
  return bytes[IPV4_OFFSET_PROTOCOL]!;
}

/**
 * Decrements TTL in place and patches the header checksum incrementally (RFC 1624 eqn. 3:
 * HC' = ~(~HC + ~m + m'), m the 16-bit word holding TTL and Protocol). Returns false, leaving the
 * bytes untouched, when the TTL would reach 0 (RFC 1812 §5.3.1: the packet must be discarded and
 * an ICMP Time Exceeded sent).
 */
export function decrementTtlInPlace(bytes: Uint8Array): boolean {
  assertFixedHeader(bytes, 'decrementTtlInPlace');
  const ttl = bytes[IPV4_OFFSET_TTL]!;
  if (ttl <= 1) return false;
  const m = (ttl << 8) | bytes[IPV4_OFFSET_PROTOCOL]!;
  const mNew = m - 0x100;
  const hc = (bytes[IPV4_OFFSET_CHECKSUM]! << 8) | bytes[IPV4_OFFSET_CHECKSUM + 1]!;
  let sum = (~hc & 0xffff) + (~m & 0xffff) + mNew;
  sum = (sum & 0xffff) + (sum >>> 16); // end-around carry; a second fold keeps it general
  sum = (sum & 0xffff) + (sum >>> 16);
  const hcNew = ~sum & 0xffff;
  bytes[IPV4_OFFSET_TTL] = ttl - 1;
  bytes[IPV4_OFFSET_CHECKSUM] = hcNew >> 8;
  bytes[IPV4_OFFSET_CHECKSUM + 1] = hcNew & 0xff;
  return true;
}
