// BGP NLRI encodings: address families (AFI/SAFI), IPv4 prefixes (RFC 4271 §4.3), VPN-IPv4 (RFC 4364
// with RFC 3107 labels), route target membership (RFC 4684), route distinguishers. Never decides routing.
//
// Length contract: every decoder reads from a Reader bounded to its field and returns a Result whose
// error is a short reason string; the caller (attributes.ts, message.ts) turns it into the
// BgpDecodeError with the subcode and RFC 7606 approach of the place the NLRI came from.
// Canonical form: prefix padding bits (RFC 4271 §4.3 "irrelevant") are cleared on decode, so a
// prefix has one representation; bytes with non-zero padding do not round-trip bit for bit.

import type { Ipv4Prefix } from '../../lib/addr.ts';
import { formatIpv4, ipv4Mask, parseIpv4 } from '../../lib/addr.ts';
import type { Result } from '../../lib/errors.ts';
import { assert, err, ok } from '../../lib/errors.ts';
import type { Reader, Writer } from '../../lib/reader.ts';

// --- Address Family Identifiers and Subsequent AFIs (IANA; RFC 4760 §3). ---

export const AFI_IPV4 = 1;
export const SAFI_UNICAST = 1;
/** RFC 4364 §4.3.4: labeled VPN-IPv4 routes. */
export const SAFI_MPLS_VPN = 128;
/** RFC 4684 §4: route target membership. */
export const SAFI_ROUTE_TARGET = 132;

/** The address families this codec parses; any other AFI/SAFI is carried as raw bytes. */
export type Family = 'ipv4-unicast' | 'vpn-ipv4' | 'rt-membership';

export const FAMILY_AFI_SAFI: Record<Family, { afi: number; safi: number }> = {
  'ipv4-unicast': { afi: AFI_IPV4, safi: SAFI_UNICAST },
  'vpn-ipv4': { afi: AFI_IPV4, safi: SAFI_MPLS_VPN },
  'rt-membership': { afi: AFI_IPV4, safi: SAFI_ROUTE_TARGET },
};

export function familyOf(afi: number, safi: number): Family | undefined {
  if (afi !== AFI_IPV4) return undefined;
  if (safi === SAFI_UNICAST) return 'ipv4-unicast';
  if (safi === SAFI_MPLS_VPN) return 'vpn-ipv4';
  if (safi === SAFI_ROUTE_TARGET) return 'rt-membership';
  return undefined;
}

// --- IPv4 prefixes: <length in bits, prefix padded to an octet boundary> (RFC 4271 §4.3). ---

const prefixBytes = (bits: number): number => (bits + 7) >>> 3;

/** Reads `nbytes` (0..4) big-endian bytes as the top bytes of an IPv4 address. */
function readAddrBytes(r: Reader, nbytes: number): number {
  let v = 0;
  for (let i = 0; i < 4; i++) v = v * 256 + (i < nbytes ? r.u8() : 0);
  return v;
}

function writeAddrBytes(w: Writer, addr: number, nbytes: number): void {
  for (let i = 0; i < nbytes; i++) w.u8((addr >>> (24 - 8 * i)) & 0xff);
}

export function decodeIpv4Prefix(r: Reader): Result<Ipv4Prefix, string> {
  const len = r.u8();
  if (r.overrun) return err('prefix length octet missing');
  if (len > 32) return err(`prefix length ${len} > 32`);
  const n = prefixBytes(len);
  if (r.left < n) return err(`prefix /${len} needs ${n} octets, ${r.left} left`);
  const addr = (readAddrBytes(r, n) & ipv4Mask(len)) >>> 0;
  return ok({ family: 4, addr, len });
}

export function encodeIpv4Prefix(w: Writer, p: Ipv4Prefix): void {
  const len = p.len;
  if (!(len >= 0 && len <= 32)) assert(false, `encodeIpv4Prefix: length ${len}`);
  w.u8(len);
  writeAddrBytes(w, (p.addr & ipv4Mask(len)) >>> 0, prefixBytes(len));
}

export const ipv4PrefixSize = (p: Ipv4Prefix): number => 1 + prefixBytes(p.len);

/** Decodes a whole field of IPv4 prefixes (Withdrawn Routes, NLRI). */
export function decodeIpv4Prefixes(r: Reader): Result<Ipv4Prefix[], string> {
  const out: Ipv4Prefix[] = [];
  // decodeIpv4Prefix inlined: this loop is the hot path of every IPv4 UPDATE.
  while (r.left > 0) {
    const len = r.u8();
    if (len > 32) return err(`prefix length ${len} > 32`);
    const n = prefixBytes(len);
    if (r.left < n) return err(`prefix /${len} needs ${n} octets, ${r.left} left`);
    out.push({ family: 4, addr: (readAddrBytes(r, n) & ipv4Mask(len)) >>> 0, len });
  }
  return ok(out);
}

// --- Route distinguisher (RFC 4364 §4.2): 2-octet Type, 6-octet Value. ---

export const RD_TYPE_AS2 = 0;
export const RD_TYPE_IPV4 = 1;
export const RD_TYPE_AS4 = 2;

/**
 * Type 0: Administrator = 2-octet AS, Assigned Number 4 octets. Type 1: Administrator = IPv4
 * address, Assigned Number 2 octets. Type 2: Administrator = 4-octet AS, Assigned Number 2 octets.
 * RFC 4364 §4.2 defines no other type; any other is read with the 4 + 2 layout so it round-trips.
 */
export interface RouteDistinguisher {
  type: number;
  administrator: number;
  assignedNumber: number;
}

export function decodeRouteDistinguisher(r: Reader): RouteDistinguisher {
  const type = r.u16();
  if (type === RD_TYPE_AS2) return { type, administrator: r.u16(), assignedNumber: r.u32() };
  return { type, administrator: r.u32(), assignedNumber: r.u16() };
}

export function encodeRouteDistinguisher(w: Writer, rd: RouteDistinguisher): void {
  w.u16(rd.type);
  if (rd.type === RD_TYPE_AS2) w.u16(rd.administrator).u32(rd.assignedNumber);
  else w.u32(rd.administrator).u16(rd.assignedNumber);
}

/** `65000:1` (type 0), `192.0.2.1:1` (type 1), `4200000000:1` (type 2), `type5:…` otherwise. */
export function formatRouteDistinguisher(rd: RouteDistinguisher): string {
  if (rd.type === RD_TYPE_IPV4) return `${formatIpv4(rd.administrator)}:${rd.assignedNumber}`;
  if (rd.type === RD_TYPE_AS2 || rd.type === RD_TYPE_AS4) return `${rd.administrator}:${rd.assignedNumber}`;
  return `type${rd.type}:${rd.administrator}:${rd.assignedNumber}`;
}

/** Parses `asn:n` (type 0 when asn fits 16 bits and n 32, else type 2) or `a.b.c.d:n` (type 1). */
export function parseRouteDistinguisher(text: string): RouteDistinguisher | undefined {
  const colon = text.lastIndexOf(':');
  if (colon < 0) return undefined;
  const head = text.slice(0, colon);
  const tail = text.slice(colon + 1);
  if (!/^\d+$/.test(tail)) return undefined;
  const n = Number(tail);
  const ip = parseIpv4(head);
  if (ip !== undefined) return n <= 0xffff ? { type: RD_TYPE_IPV4, administrator: ip, assignedNumber: n } : undefined;
  if (!/^\d+$/.test(head)) return undefined;
  const asn = Number(head);
  if (asn <= 0xffff && n <= 0xffffffff) return { type: RD_TYPE_AS2, administrator: asn, assignedNumber: n };
  if (asn <= 0xffffffff && n <= 0xffff) return { type: RD_TYPE_AS4, administrator: asn, assignedNumber: n };
  return undefined;
}

// --- VPN-IPv4 NLRI (RFC 4364 §4.3.4): <length, label stack, RD, IPv4 prefix>; labels per RFC 3107 §3. ---

/** Label stack entry: 20-bit label, 3 bits unused here, Bottom-of-Stack bit (RFC 3107 §3). */
export const LABEL_BOTTOM_OF_STACK = 0x000001;
/** RFC 3107 §3 "compatibility" value of the Label field in a withdrawal (label 0x80000, S = 0). */
export const WITHDRAW_LABEL_FIELD = 0x800000;
export const MAX_LABEL = 0xfffff;

export interface VpnIpv4Nlri {
  /**
   * Label values (20 bits each), top of stack first. Empty means the RFC 3107 §3 compatibility
   * value 0x800000, which withdrawals carry (RFC 8277 §2.4: its content is ignored on withdraw).
   */
  labels: number[];
  rd: RouteDistinguisher;
  prefix: Ipv4Prefix;
}

export function decodeVpnIpv4Nlri(r: Reader): Result<VpnIpv4Nlri, string> {
  const bits = r.u8();
  if (r.overrun) return err('length octet missing');
  const n = prefixBytes(bits);
  const body = r.sub(n);
  if (!body) return err(`VPN-IPv4 NLRI of ${bits} bits needs ${n} octets, ${r.left} left`);
  let left = bits;
  const labels: number[] = [];
  for (;;) {
    if (left < 24) return err('label stack runs past the NLRI length');
    const entry = body.u24();
    left -= 24;
    // RFC 3107 §3 / RFC 8277 §2.4: 0x800000 (or 0) as the first entry marks a withdrawal's
    // compatibility field, not a label, whatever its Bottom-of-Stack bit says.
    if (labels.length === 0 && (entry === WITHDRAW_LABEL_FIELD || entry === 0)) break;
    labels.push(entry >>> 4);
    if (entry & LABEL_BOTTOM_OF_STACK) break;
  }
  if (left < 64) return err('route distinguisher runs past the NLRI length');
  const rd = decodeRouteDistinguisher(body);
  left -= 64;
  if (left > 32) return err(`IPv4 prefix length ${left} > 32`);
  const addr = (readAddrBytes(body, prefixBytes(left)) & ipv4Mask(left)) >>> 0;
  if (!body.done) return err('NLRI length inconsistent with its fields');
  return ok({ labels, rd, prefix: { family: 4, addr, len: left } });
}

export function encodeVpnIpv4Nlri(w: Writer, v: VpnIpv4Nlri): void {
  const bits = vpnIpv4NlriBits(v);
  const labels = v.labels;
  if (bits > 255) assert(false, `encodeVpnIpv4Nlri: ${bits} bits does not fit the length octet`);
  // A stack whose first entry would read 0x800000 is indistinguishable from the withdrawal
  // compatibility field (RFC 3107 §3): a label allocator must not hand out 0x80000 on top of a stack.
  if (labels.length > 1 && labels[0] === WITHDRAW_LABEL_FIELD >>> 4) assert(false, 'encodeVpnIpv4Nlri: label 0x80000 on top of a stack reads as a withdrawal');
  w.u8(bits);
  if (labels.length === 0) w.u24(WITHDRAW_LABEL_FIELD);
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    if ((label & MAX_LABEL) !== label) assert(false, `encodeVpnIpv4Nlri: label ${label}`);
    w.u24((label << 4) | (i === labels.length - 1 ? LABEL_BOTTOM_OF_STACK : 0));
  }
  encodeRouteDistinguisher(w, v.rd);
  writeAddrBytes(w, (v.prefix.addr & ipv4Mask(v.prefix.len)) >>> 0, prefixBytes(v.prefix.len));
}

const vpnIpv4NlriBits = (v: VpnIpv4Nlri): number => 24 * Math.max(1, v.labels.length) + 64 + v.prefix.len;
export const vpnIpv4NlriSize = (v: VpnIpv4Nlri): number => 1 + prefixBytes(vpnIpv4NlriBits(v));

// --- Route target membership NLRI (RFC 4684 §4): <length, origin AS (4), route target (8)> as a prefix. ---

export interface RtMembershipNlri {
  /** Bits of {origin AS, route target} that count: 0 (the default, matching every route target) or 32..96. */
  prefixLength: number;
  originAs: number;
  /** The 8 octets of the route target extended community; bits beyond the prefix are zero. */
  routeTarget: Uint8Array;
}

/** RFC 4684 §4: the default route target membership NLRI (prefix length 0). */
export const DEFAULT_RT_MEMBERSHIP: RtMembershipNlri = Object.freeze({ prefixLength: 0, originAs: 0, routeTarget: new Uint8Array(8) });

export function decodeRtMembershipNlri(r: Reader): Result<RtMembershipNlri, string> {
  const bits = r.u8();
  if (r.overrun) return err('length octet missing');
  if (bits === 0) return ok({ prefixLength: 0, originAs: 0, routeTarget: new Uint8Array(8) });
  // RFC 4684 §4: the origin AS cannot be partially specified; at most 96 bits.
  if (bits < 32 || bits > 96) return err(`route target membership prefix length ${bits} not 0 or 32..96`);
  const n = prefixBytes(bits);
  const body = r.take(n);
  if (!body) return err(`route target membership NLRI of ${bits} bits needs ${n} octets, ${r.left} left`);
  const originAs = ((body[0]! << 24) | (body[1]! << 16) | (body[2]! << 8) | body[3]!) >>> 0;
  const routeTarget = new Uint8Array(8);
  routeTarget.set(body.subarray(4));
  clearBitsFrom(routeTarget, bits - 32);
  return ok({ prefixLength: bits, originAs, routeTarget });
}

function clearBitsFrom(bytes: Uint8Array, bit: number): void {
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, bit - 8 * i));
    bytes[i] = bytes[i]! & ((0xff00 >> keep) & 0xff);
  }
}

export function encodeRtMembershipNlri(w: Writer, v: RtMembershipNlri): void {
  const bits = v.prefixLength;
  assert(bits === 0 || (bits >= 32 && bits <= 96), `encodeRtMembershipNlri: prefix length ${bits}`);
  assert(v.routeTarget.length === 8, 'encodeRtMembershipNlri: route target must be 8 octets');
  w.u8(bits);
  if (bits === 0) return;
  w.u32(v.originAs);
  const rt = v.routeTarget.slice();
  clearBitsFrom(rt, bits - 32);
  w.bytes(rt.subarray(0, prefixBytes(bits) - 4));
}

export const rtMembershipNlriSize = (v: RtMembershipNlri): number => 1 + prefixBytes(v.prefixLength);

/** True when `routeTarget` (8 octets) from `originAs` falls under the membership prefix (RFC 4684 §4). */
export function rtMembershipCovers(m: RtMembershipNlri, originAs: number, routeTarget: Uint8Array): boolean {
  if (m.prefixLength === 0) return true;
  if (m.originAs !== originAs >>> 0) return false;
  const rtBits = m.prefixLength - 32;
  for (let i = 0; i < 8; i++) {
    const keep = Math.max(0, Math.min(8, rtBits - 8 * i));
    const mask = (0xff00 >> keep) & 0xff;
    if ((m.routeTarget[i]! & mask) !== (routeTarget[i]! & mask)) return false;
  }
  return true;
}

// --- One codec row per family: what MP_REACH_NLRI / MP_UNREACH_NLRI and packUpdates need. ---

export interface NlriOf {
  'ipv4-unicast': Ipv4Prefix;
  'vpn-ipv4': VpnIpv4Nlri;
  'rt-membership': RtMembershipNlri;
}

export interface FamilyCodec<F extends Family> {
  family: F;
  afi: number;
  safi: number;
  /** Length of the Network Address of Next Hop field this family requires (RFC 7606 §7.11). */
  nextHopLength: number;
  decodeNextHop(r: Reader): number;
  encodeNextHop(w: Writer, nextHop: number): void;
  decode(r: Reader): Result<NlriOf[F], string>;
  encode(w: Writer, n: NlriOf[F]): void;
  size(n: NlriOf[F]): number;
}

const ipv4NextHop = {
  nextHopLength: 4,
  decodeNextHop: (r: Reader): number => r.u32(),
  encodeNextHop: (w: Writer, nh: number): void => void w.u32(nh),
};

export const FAMILY_CODECS: { [F in Family]: FamilyCodec<F> } = {
  'ipv4-unicast': {
    family: 'ipv4-unicast',
    ...FAMILY_AFI_SAFI['ipv4-unicast'],
    ...ipv4NextHop,
    decode: decodeIpv4Prefix,
    encode: encodeIpv4Prefix,
    size: ipv4PrefixSize,
  },
  'vpn-ipv4': {
    family: 'vpn-ipv4',
    ...FAMILY_AFI_SAFI['vpn-ipv4'],
    // RFC 4364 §4.3.2: the next hop is a VPN-IPv4 address whose RD is zero: 8 + 4 octets.
    nextHopLength: 12,
    decodeNextHop: (r: Reader): number => {
      r.u32();
      r.u32();
      return r.u32();
    },
    encodeNextHop: (w: Writer, nh: number): void => void w.u32(0).u32(0).u32(nh),
    decode: decodeVpnIpv4Nlri,
    encode: encodeVpnIpv4Nlri,
    size: vpnIpv4NlriSize,
  },
  'rt-membership': {
    family: 'rt-membership',
    ...FAMILY_AFI_SAFI['rt-membership'],
    ...ipv4NextHop,
    decode: decodeRtMembershipNlri,
    encode: encodeRtMembershipNlri,
    size: rtMembershipNlriSize,
  },
};

/** Decodes a whole NLRI field of one family. */
export function decodeNlriList<F extends Family>(family: F, r: Reader): Result<NlriOf[F][], string> {
  const codec = FAMILY_CODECS[family] as FamilyCodec<F>;
  const out: NlriOf[F][] = [];
  while (r.left > 0) {
    const n = codec.decode(r);
    if (!n.ok) return n;
    out.push(n.value);
  }
  return ok(out);
}

export function formatVpnIpv4Nlri(v: VpnIpv4Nlri): string {
  const labels = v.labels.length ? v.labels.join('/') : 'withdraw';
  return `${formatRouteDistinguisher(v.rd)}:${formatIpv4(v.prefix.addr)}/${v.prefix.len} label ${labels}`;
}
