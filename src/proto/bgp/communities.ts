// Communities (RFC 1997) and extended communities (RFC 4360): route targets in their three forms and
// the seed 002 Security Gateway Identity. Owns the 8-octet formats; never applies routing policy.
//
// Security Gateway Identity (seed 002, "a sub-type with a specified value"): an Opaque Extended
// Community (RFC 4360 §3.3), high-order type 0x03 (transitive) or 0x43 (non-transitive):
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   | 0x03 or 0x43  | Sub-Type 0x50 |       Gateway IPv4 address    |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |  (address, continued)         |P|     Reserved (15 bits)      |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// - Sub-type 0x50: unassigned in both IANA registries the seed allows, "Transitive Opaque Extended
//   Community Sub-Types" (0x03: assigned 0x01, 0x03-0x08, 0x0B-0x0F, 0x14, 0x17, 0x1B, 0xAA; 0x0F is
//   the Group Policy Class Tag) and "Non-Transitive Opaque" (0x43: assigned 0x00-0x02, 0x15), so one
//   value serves both types; inside the First Come First Served range (RFC 7153 §5.2: 0x00-0xBF), so
//   it could be registered as is; far above the allocations made so far, so unlikely to collide.
//   Wireshark 4.0 shows it as an unknown opaque sub-type with the raw 48-bit value.
// - Gateway IPv4 address (32 bits): the security gateway identity (the IKE peer to build SAs with).
// - Flags (16 bits): bit 0 (the most significant, 0x8000) P = pre-establish SAs as soon as the SPD
//   entry appears (seed 002 "pre-established IPsec security associations"); P = 0 means on demand,
//   when traffic first matches. Bits 1-15 are reserved: sent as zero, ignored on receipt, kept so
//   that a route passes through unchanged.

import { formatIpv4, parseIpv4 } from '../../lib/addr.ts';
import { assert } from '../../lib/errors.ts';
import type { Reader, Writer } from '../../lib/reader.ts';

// --- COMMUNITIES (RFC 1997): 32-bit values, AS in the high 16 bits. ---

/** RFC 1997 well-known communities. */
export const NO_EXPORT = 0xffffff01;
export const NO_ADVERTISE = 0xffffff02;
export const NO_EXPORT_SUBCONFED = 0xffffff03;

export function formatCommunity(c: number): string {
  if (c === NO_EXPORT) return 'NO_EXPORT';
  if (c === NO_ADVERTISE) return 'NO_ADVERTISE';
  if (c === NO_EXPORT_SUBCONFED) return 'NO_EXPORT_SUBCONFED';
  return `${c >>> 16}:${c & 0xffff}`;
}

export function parseCommunity(text: string): number | undefined {
  if (text === 'NO_EXPORT') return NO_EXPORT;
  if (text === 'NO_ADVERTISE') return NO_ADVERTISE;
  if (text === 'NO_EXPORT_SUBCONFED') return NO_EXPORT_SUBCONFED;
  const m = /^(\d+):(\d+)$/.exec(text);
  if (!m) return undefined;
  const hi = Number(m[1]);
  const lo = Number(m[2]);
  return hi <= 0xffff && lo <= 0xffff ? ((hi << 16) | lo) >>> 0 : undefined;
}

// --- EXTENDED_COMMUNITIES (RFC 4360 §2): 8 octets, Type high, Type low (sub-type), Value. ---

export const EXTENDED_COMMUNITY_LENGTH = 8;
/** RFC 4360 §2: the IANA authority bit and the transitive bit (set = non-transitive) of the high type. */
export const EXT_TYPE_IANA_AUTHORITY = 0x80;
export const EXT_TYPE_NON_TRANSITIVE = 0x40;
/** High-order type octets (RFC 4360 §3, RFC 5668 §2, RFC 7153). */
export const EXT_TYPE_TWO_OCTET_AS = 0x00;
export const EXT_TYPE_IPV4_ADDRESS = 0x01;
export const EXT_TYPE_FOUR_OCTET_AS = 0x02;
export const EXT_TYPE_OPAQUE = 0x03;
export const EXT_TYPE_NON_TRANSITIVE_OPAQUE = 0x43;
/** Sub-type of the route target (RFC 4360 §4, RFC 5668 §3). */
export const EXT_SUBTYPE_ROUTE_TARGET = 0x02;
/** Our sub-type for the Security Gateway Identity (module header says why this value). */
export const EXT_SUBTYPE_SECURITY_GATEWAY_IDENTITY = 0x50;
/** Flags bit 0 of the Security Gateway Identity: pre-establish SAs (else on demand). */
export const SGI_FLAG_PRE_ESTABLISH = 0x8000;

/** Which RFC 4360 / RFC 5668 layout a route target uses. */
export type RouteTargetFormat = 'two-octet-as' | 'ipv4-address' | 'four-octet-as';

export type ExtendedCommunity =
  | {
      type: 'ROUTE_TARGET';
      format: RouteTargetFormat;
      /** 2-octet AS, IPv4 address or 4-octet AS. */
      globalAdministrator: number;
      /** 4 octets for two-octet-as, 2 octets otherwise. */
      localAdministrator: number;
    }
  | {
      type: 'SECURITY_GATEWAY_IDENTITY';
      /** High-order type 0x03 when true, 0x43 when false. */
      transitive: boolean;
      gatewayAddress: number;
      /** 16 bits: SGI_FLAG_PRE_ESTABLISH, the rest reserved. */
      flags: number;
    }
  | { type: 'UNRECOGNIZED'; bytes: Uint8Array };

const FORMAT_TYPE: Record<RouteTargetFormat, number> = {
  'two-octet-as': EXT_TYPE_TWO_OCTET_AS,
  'ipv4-address': EXT_TYPE_IPV4_ADDRESS,
  'four-octet-as': EXT_TYPE_FOUR_OCTET_AS,
};

/** Decodes one extended community from exactly 8 octets (the caller checked the length). */
export function decodeExtendedCommunity(r: Reader): ExtendedCommunity {
  if (r.left < EXTENDED_COMMUNITY_LENGTH) assert(false, 'decodeExtendedCommunity: caller must check for 8 octets');
  const high = r.u8();
  const low = r.u8();
  if (low === EXT_SUBTYPE_ROUTE_TARGET) {
    if (high === EXT_TYPE_TWO_OCTET_AS) return { type: 'ROUTE_TARGET', format: 'two-octet-as', globalAdministrator: r.u16(), localAdministrator: r.u32() };
    if (high === EXT_TYPE_IPV4_ADDRESS) return { type: 'ROUTE_TARGET', format: 'ipv4-address', globalAdministrator: r.u32(), localAdministrator: r.u16() };
    if (high === EXT_TYPE_FOUR_OCTET_AS) return { type: 'ROUTE_TARGET', format: 'four-octet-as', globalAdministrator: r.u32(), localAdministrator: r.u16() };
  }
  if (low === EXT_SUBTYPE_SECURITY_GATEWAY_IDENTITY && (high === EXT_TYPE_OPAQUE || high === EXT_TYPE_NON_TRANSITIVE_OPAQUE)) {
    return { type: 'SECURITY_GATEWAY_IDENTITY', transitive: high === EXT_TYPE_OPAQUE, gatewayAddress: r.u32(), flags: r.u16() };
  }
  // RFC 4360 §2: communities of unknown type are kept as they came (and propagated if transitive).
  const bytes = new Uint8Array(EXTENDED_COMMUNITY_LENGTH);
  bytes[0] = high;
  bytes[1] = low;
  bytes.set(r.take(EXTENDED_COMMUNITY_LENGTH - 2)!, 2);
  return { type: 'UNRECOGNIZED', bytes };
}

export function encodeExtendedCommunity(w: Writer, ec: ExtendedCommunity): void {
  switch (ec.type) {
    case 'ROUTE_TARGET':
      w.u8(FORMAT_TYPE[ec.format]).u8(EXT_SUBTYPE_ROUTE_TARGET);
      if (ec.format === 'two-octet-as') w.u16(ec.globalAdministrator).u32(ec.localAdministrator);
      else w.u32(ec.globalAdministrator).u16(ec.localAdministrator);
      return;
    case 'SECURITY_GATEWAY_IDENTITY':
      w.u8(ec.transitive ? EXT_TYPE_OPAQUE : EXT_TYPE_NON_TRANSITIVE_OPAQUE).u8(EXT_SUBTYPE_SECURITY_GATEWAY_IDENTITY);
      w.u32(ec.gatewayAddress).u16(ec.flags);
      return;
    case 'UNRECOGNIZED':
      assert(ec.bytes.length === EXTENDED_COMMUNITY_LENGTH, 'encodeExtendedCommunity: raw community must be 8 octets');
      w.bytes(ec.bytes);
      return;
  }
}

/** The 8 octets of one extended community (a key for route target sets and RFC 4684 NLRI). */
export function extendedCommunityBytes(ec: ExtendedCommunity): Uint8Array {
  if (ec.type === 'UNRECOGNIZED') return ec.bytes.slice();
  const out = new Uint8Array(EXTENDED_COMMUNITY_LENGTH);
  const dv = new DataView(out.buffer);
  if (ec.type === 'ROUTE_TARGET') {
    out[0] = FORMAT_TYPE[ec.format];
    out[1] = EXT_SUBTYPE_ROUTE_TARGET;
    if (ec.format === 'two-octet-as') {
      dv.setUint16(2, ec.globalAdministrator);
      dv.setUint32(4, ec.localAdministrator);
    } else {
      dv.setUint32(2, ec.globalAdministrator);
      dv.setUint16(6, ec.localAdministrator);
    }
  } else {
    out[0] = ec.transitive ? EXT_TYPE_OPAQUE : EXT_TYPE_NON_TRANSITIVE_OPAQUE;
    out[1] = EXT_SUBTYPE_SECURITY_GATEWAY_IDENTITY;
    dv.setUint32(2, ec.gatewayAddress);
    dv.setUint16(6, ec.flags);
  }
  return out;
}

/** RFC 4360 §2: a community is transitive across ASes unless bit 0x40 of its high type is set. */
export function isTransitiveExtendedCommunity(ec: ExtendedCommunity): boolean {
  if (ec.type === 'ROUTE_TARGET') return true;
  if (ec.type === 'SECURITY_GATEWAY_IDENTITY') return ec.transitive;
  return (ec.bytes[0]! & EXT_TYPE_NON_TRANSITIVE) === 0;
}

type RouteTarget = Extract<ExtendedCommunity, { type: 'ROUTE_TARGET' }>;
type SecurityGatewayIdentity = Extract<ExtendedCommunity, { type: 'SECURITY_GATEWAY_IDENTITY' }>;

/**
 * Parses a route target: `65000:100` (two-octet AS; an AS above 65535 picks four-octet AS),
 * `65000L:100` (four-octet AS, Junos style), `192.0.2.1:100` (IPv4 address).
 */
export function parseRouteTarget(text: string): RouteTarget | undefined {
  const colon = text.lastIndexOf(':');
  if (colon < 0) return undefined;
  const head = text.slice(0, colon);
  const tail = text.slice(colon + 1);
  if (!/^\d+$/.test(tail)) return undefined;
  const local = Number(tail);
  const ip = parseIpv4(head);
  if (ip !== undefined) return local <= 0xffff ? routeTarget('ipv4-address', ip, local) : undefined;
  const m = /^(\d+)(L?)$/.exec(head);
  if (!m) return undefined;
  const asn = Number(m[1]);
  if (!m[2] && asn <= 0xffff && local <= 0xffffffff) return routeTarget('two-octet-as', asn, local);
  if (asn <= 0xffffffff && local <= 0xffff) return routeTarget('four-octet-as', asn, local);
  return undefined;
}

export function routeTarget(format: RouteTargetFormat, globalAdministrator: number, localAdministrator: number): RouteTarget {
  return { type: 'ROUTE_TARGET', format, globalAdministrator, localAdministrator };
}

export function securityGatewayIdentity(gatewayAddress: number, opts: { preEstablish?: boolean; transitive?: boolean } = {}): SecurityGatewayIdentity {
  return {
    type: 'SECURITY_GATEWAY_IDENTITY',
    transitive: opts.transitive ?? true,
    gatewayAddress,
    flags: opts.preEstablish ? SGI_FLAG_PRE_ESTABLISH : 0,
  };
}

export function formatExtendedCommunity(ec: ExtendedCommunity): string {
  switch (ec.type) {
    case 'ROUTE_TARGET':
      if (ec.format === 'ipv4-address') return `rt ${formatIpv4(ec.globalAdministrator)}:${ec.localAdministrator}`;
      return `rt ${ec.globalAdministrator}${ec.format === 'four-octet-as' && ec.globalAdministrator <= 0xffff ? 'L' : ''}:${ec.localAdministrator}`;
    case 'SECURITY_GATEWAY_IDENTITY':
      return `security-gateway ${formatIpv4(ec.gatewayAddress)} ${ec.flags & SGI_FLAG_PRE_ESTABLISH ? 'pre-establish' : 'on-demand'}${ec.transitive ? '' : ' non-transitive'}`;
    case 'UNRECOGNIZED':
      return `ext 0x${Array.from(ec.bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
  }
}
