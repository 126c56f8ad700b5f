// Route target constraint (RFC 4684): the membership NLRI a speaker originates for the route targets it
// imports, and the outbound filter built from what a peer advertised. Pure; never touches a RIB itself.
//
// Matching: a membership NLRI is a prefix over <origin AS (32 bits), route target (64 bits)>. The
// origin AS names who asked; a VPN route passes when one of its route targets matches the route
// target bits of the prefix (bits 32 .. prefixLength). Prefix length 0 (the default membership) and 32
// (an origin AS with no route target bits) match every route target. (nlri.ts `rtMembershipCovers`
// compares the origin AS too, which a VPN route does not carry, so it is not used here.)

import type { ExtendedCommunity } from './communities.ts';
import { extendedCommunityBytes } from './communities.ts';
import type { RtMembershipNlri } from './nlri.ts';
import { DEFAULT_RT_MEMBERSHIP } from './nlri.ts';

const hexOf = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** The /96 membership NLRI asking for one route target (RFC 4684 §4). */
export function membershipFor(originAs: number, rt: ExtendedCommunity): RtMembershipNlri {
  return { prefixLength: 96, originAs: originAs >>> 0, routeTarget: extendedCommunityBytes(rt) };
}

/** RFC 4684 §4: the default membership (prefix length 0) asks for every VPN route. */
export function defaultMembership(): RtMembershipNlri {
  return { prefixLength: DEFAULT_RT_MEMBERSHIP.prefixLength, originAs: 0, routeTarget: new Uint8Array(8) };
}

/**
 * The VPN routes one peer asked for: built from every eligible membership NLRI in that peer's
 * Adj-RIB-In (RFC 4684 §3.2: all paths received from the peer count, not only best paths).
 */
export class RtFilter {
  /** A default (or origin-AS-only) membership was received: every route target passes. */
  readonly all: boolean;
  /** Route targets asked for in full (/96), as 8-octet hex keys. */
  readonly exact: ReadonlySet<string>;
  /** Route target prefixes shorter than 64 bits: [bits, 8 octets]. */
  readonly partial: readonly (readonly [number, Uint8Array])[];
  /** Equal signatures mean equal filters. */
  readonly signature: string;

  constructor(memberships: Iterable<RtMembershipNlri>) {
    let all = false;
    const exact = new Set<string>();
    const partial: [number, Uint8Array][] = [];
    const sig: string[] = [];
    for (const m of memberships) {
      const rtBits = m.prefixLength - 32;
      if (rtBits <= 0) all = true;
      else if (rtBits >= 64) exact.add(hexOf(m.routeTarget));
      else {
        partial.push([rtBits, m.routeTarget]);
        sig.push(`${rtBits}/${hexOf(m.routeTarget)}`);
      }
    }
    this.all = all;
    this.exact = exact;
    this.partial = partial;
    this.signature = all ? '*' : [...[...exact].sort(), ...sig.sort()].join(',');
  }

  /** True when a route carrying these route targets (8-octet hex keys) may go to the peer. */
  passes(routeTargetKeys: readonly string[]): boolean {
    if (this.all) return true;
    for (const k of routeTargetKeys) {
      if (this.exact.has(k)) return true;
      for (const [bits, rt] of this.partial) if (prefixMatches(k, rt, bits)) return true;
    }
    return false;
  }
}

function prefixMatches(key: string, rt: Uint8Array, bits: number): boolean {
  for (let i = 0; i < 8 && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff00 >> bits) & 0xff;
    const b = parseInt(key.slice(2 * i, 2 * i + 2), 16);
    if ((b & mask) !== (rt[i]! & mask)) return false;
  }
  return true;
}
