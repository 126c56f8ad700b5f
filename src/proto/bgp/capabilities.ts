// OPEN optional parameters and capabilities (RFC 5492): multiprotocol (RFC 4760 §8), route refresh
// (RFC 2918 §2), 4-octet AS (RFC 6793 §3); unknown ones kept raw. Never negotiates: the session does.

import type { Result } from '../../lib/errors.ts';
import { err, ok } from '../../lib/errors.ts';
import type { Reader } from '../../lib/reader.ts';
import { Writer } from '../../lib/reader.ts';
import type { BgpDecodeError } from './errors.ts';
import { ERROR_CODE, OPEN_MESSAGE_ERROR, UNSPECIFIC, sessionReset } from './errors.ts';
import type { Family } from './nlri.ts';
import { FAMILY_AFI_SAFI, familyOf } from './nlri.ts';

/** Optional Parameter Type of the capabilities parameter (RFC 5492 §4). */
export const OPT_PARAM_CAPABILITIES = 2;

/** Capability Codes (IANA; RFC 4760 §8, RFC 2918 §2, RFC 6793 §3). */
export const CAPABILITY_CODE = {
  MULTIPROTOCOL: 1,
  ROUTE_REFRESH: 2,
  FOUR_OCTET_AS: 65,
} as const;

export type Capability =
  /** RFC 4760 §8: AFI (2), Reserved (1, sent 0, ignored), SAFI (1). */
  | { type: 'MULTIPROTOCOL'; afi: number; safi: number }
  /** RFC 2918 §2: no value. */
  | { type: 'ROUTE_REFRESH' }
  /** RFC 6793 §3: the speaker's 4-octet AS number. */
  | { type: 'FOUR_OCTET_AS'; asNumber: number }
  /** Any other capability, kept as received (RFC 5492 §3: an unknown capability is ignored). */
  | { type: 'UNRECOGNIZED'; code: number; value: Uint8Array };

/** One Optional Parameter of an OPEN; only the capabilities parameter exists (RFC 5492 §4). */
export interface CapabilitiesParameter {
  type: 'CAPABILITIES';
  capabilities: Capability[];
}

const openError = (field: string, message: string): BgpDecodeError =>
  sessionReset(ERROR_CODE.OPEN_MESSAGE_ERROR, UNSPECIFIC, field, message);

/** Decodes the Optional Parameters field of an OPEN (RFC 4271 §4.2, RFC 5492 §4). */
export function decodeOptionalParameters(r: Reader): Result<CapabilitiesParameter[], BgpDecodeError> {
  const out: CapabilitiesParameter[] = [];
  while (r.left > 0) {
    const type = r.u8();
    const len = r.u8();
    if (r.overrun) return err(openError('open.optionalParameters', 'optional parameter header truncated'));
    const body = r.sub(len);
    if (!body) return err(openError('open.optionalParameters', `optional parameter of length ${len} overruns the field`));
    // RFC 4271 §6.2: an Optional Parameter that is not recognized → Unsupported Optional Parameters.
    if (type !== OPT_PARAM_CAPABILITIES) {
      return err(sessionReset(ERROR_CODE.OPEN_MESSAGE_ERROR, OPEN_MESSAGE_ERROR.UNSUPPORTED_OPTIONAL_PARAMETER, 'open.optionalParameters.type', `optional parameter type ${type}`));
    }
    const caps = decodeCapabilities(body);
    if (!caps.ok) return caps;
    out.push({ type: 'CAPABILITIES', capabilities: caps.value });
  }
  return ok(out);
}

function decodeCapabilities(r: Reader): Result<Capability[], BgpDecodeError> {
  const out: Capability[] = [];
  while (r.left > 0) {
    const code = r.u8();
    const len = r.u8();
    if (r.overrun) return err(openError('open.capabilities', 'capability header truncated'));
    const v = r.sub(len);
    if (!v) return err(openError('open.capabilities', `capability ${code} of length ${len} overruns its parameter`));
    const bad = (want: number): Result<never, BgpDecodeError> =>
      err(openError(`open.capabilities.${code}`, `capability ${code} has length ${len}, expected ${want}`));
    switch (code) {
      case CAPABILITY_CODE.MULTIPROTOCOL: {
        if (len !== 4) return bad(4);
        const afi = v.u16();
        v.u8(); // RFC 4760 §8: Reserved, ignored on receipt
        out.push({ type: 'MULTIPROTOCOL', afi, safi: v.u8() });
        break;
      }
      case CAPABILITY_CODE.ROUTE_REFRESH:
        if (len !== 0) return bad(0);
        out.push({ type: 'ROUTE_REFRESH' });
        break;
      case CAPABILITY_CODE.FOUR_OCTET_AS: {
        if (len !== 4) return bad(4);
        const asNumber = v.u32();
        // RFC 7607 §2: AS 0 in the 4-octet AS capability → Bad Peer AS.
        if (asNumber === 0) {
          return err(sessionReset(ERROR_CODE.OPEN_MESSAGE_ERROR, OPEN_MESSAGE_ERROR.BAD_PEER_AS, 'open.capabilities.FOUR_OCTET_AS', 'AS 0 in the 4-octet AS capability'));
        }
        out.push({ type: 'FOUR_OCTET_AS', asNumber });
        break;
      }
      default:
        out.push({ type: 'UNRECOGNIZED', code, value: v.rest().slice() });
    }
  }
  return ok(out);
}

export function encodeCapability(w: Writer, c: Capability): void {
  switch (c.type) {
    case 'MULTIPROTOCOL':
      w.u8(CAPABILITY_CODE.MULTIPROTOCOL).u8(4).u16(c.afi).u8(0).u8(c.safi);
      return;
    case 'ROUTE_REFRESH':
      w.u8(CAPABILITY_CODE.ROUTE_REFRESH).u8(0);
      return;
    case 'FOUR_OCTET_AS':
      w.u8(CAPABILITY_CODE.FOUR_OCTET_AS).u8(4).u32(c.asNumber);
      return;
    case 'UNRECOGNIZED':
      w.u8(c.code).u8(c.value.length).bytes(c.value);
      return;
  }
}

export function encodeOptionalParameters(w: Writer, params: readonly CapabilitiesParameter[]): void {
  for (const p of params) {
    w.u8(OPT_PARAM_CAPABILITIES).lengthPrefixed(1, () => {
      for (const c of p.capabilities) encodeCapability(w, c);
    });
  }
}

/** Capabilities encoded as in an OPEN: the Data of an Unsupported Capability NOTIFICATION (RFC 5492 §3). */
export function encodeCapabilities(caps: readonly Capability[]): Uint8Array {
  const w = new Writer(64);
  for (const c of caps) encodeCapability(w, c);
  return w.finish();
}

export function multiprotocol(family: Family): Capability {
  return { type: 'MULTIPROTOCOL', ...FAMILY_AFI_SAFI[family] };
}

/** The families a capability list announces (RFC 4760 §8), in order, known ones only. */
export function announcedFamilies(caps: readonly Capability[]): Family[] {
  const out: Family[] = [];
  for (const c of caps) {
    if (c.type !== 'MULTIPROTOCOL') continue;
    const f = familyOf(c.afi, c.safi);
    if (f && !out.includes(f)) out.push(f);
  }
  return out;
}

export function sameCapability(a: Capability, b: Capability): boolean {
  if (a.type !== b.type) return false;
  if (a.type === 'MULTIPROTOCOL' && b.type === 'MULTIPROTOCOL') return a.afi === b.afi && a.safi === b.safi;
  if (a.type === 'FOUR_OCTET_AS' && b.type === 'FOUR_OCTET_AS') return true;
  if (a.type === 'UNRECOGNIZED' && b.type === 'UNRECOGNIZED') return a.code === b.code;
  return true;
}
