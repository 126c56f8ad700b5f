// The fixed BGP policies of RFC 4271 §5 / §9, RFC 4456 §6 / §8 and RFC 4364: which received attributes
// count, which routes are eligible, which may go to whom and with what attributes. Pure; no RIB state.
//
// There is no configurable route policy language: a route's degree of preference from an external
// peer is one configured number (RFC 4271 §9.1.1 leaves it to policy), everything else is the RFCs'.

import type { AsPathSegment, PathAttribute } from './attributes.ts';
import { ATTR_FLAG, attribute, attributesForAs2Peer, attributesFromAs2Peer, prependAs } from './attributes.ts';
import { NO_ADVERTISE, NO_EXPORT, NO_EXPORT_SUBCONFED, isTransitiveExtendedCommunity } from './communities.ts';
import type { Family } from './nlri.ts';
import type { IneligibleReason, Path, PeerSource, RouteAttributes, Table } from './rib.ts';
import { typeCodeOf } from './rib.ts';

/** Router-wide values the policies read. */
export interface RouterPolicy {
  readonly localAs: number;
  readonly routerId: number;
  /** RFC 4456 §7: the cluster id; the router id unless configured. */
  readonly clusterId: number;
  /** Addresses of this speaker (router id, session addresses): a NEXT_HOP among them is ours. */
  readonly localAddresses: ReadonlySet<number>;
  /** Degree of preference of routes from external peers (RFC 4271 §9.1.1: a matter of policy). */
  readonly ebgpLocalPref: number;
}

/** What the peers of one update group share: everything the outbound rules read of a peer. */
export interface GroupPolicy {
  readonly internal: boolean;
  readonly routeReflectorClient: boolean;
  /** Our address on these sessions: the NEXT_HOP we set (RFC 4271 §5.1.3). */
  readonly localAddress: number;
  /** Towards internal peers: set NEXT_HOP to `localAddress` on routes not being reflected. */
  readonly nextHopSelf: boolean;
  /** Both sides sent the 4-octet AS capability (RFC 6793). */
  readonly as4: boolean;
  /** The VRF of CE-facing peers; undefined for the global tables. */
  readonly vrf: string | undefined;
  readonly families: readonly Family[];
}

/** RFC 4271 §9.1.1 degree of preference: LOCAL_PREF for IBGP routes, policy for EBGP, ours as set. */
export const DEFAULT_LOCAL_PREF = 100;

export function preferenceOf(path: Path, r: RouterPolicy): number {
  const peer = path.peer;
  if (peer && !peer.internal) return r.ebgpLocalPref;
  // RFC 4271 §5.1.5: internal peers always send LOCAL_PREF; a route without one gets the default.
  return path.origin.attrs.localPref ?? DEFAULT_LOCAL_PREF;
}

// --- Inbound. ---

/**
 * The attributes of a received UPDATE as the RIB reads them: AS4_PATH merged for a 2-octet peer,
 * attributes an external peer may not set dropped. (NEXT_HOP and the MP attributes RouteAttributes skips.)
 */
export function inboundAttributes(received: readonly PathAttribute[], peer: PeerSource, as4: boolean): readonly PathAttribute[] {
  // RFC 6793 §4.2.3: rebuild AS_PATH / AGGREGATOR from AS4_PATH / AS4_AGGREGATOR of an OLD speaker.
  const list = as4 ? received : attributesFromAs2Peer(received);
  if (peer.internal) return list;
  // RFC 4271 §5.1.5 and RFC 7606 §7.5: LOCAL_PREF from an external peer is ignored. RFC 7606 §7.9
  // and §7.10: ORIGINATOR_ID and CLUSTER_LIST from an external peer are discarded.
  return list.filter((a) => a.type !== 'LOCAL_PREF' && a.type !== 'ORIGINATOR_ID' && a.type !== 'CLUSTER_LIST');
}

/**
 * RFC 4271 §6.3 (the leftmost-AS check, which RFC 7606 §7.2 turns into treat-as-withdraw): a route
 * from an external peer must carry that peer's AS first in its AS_PATH.
 */
export function leftmostAsMismatch(attrs: RouteAttributes, peer: PeerSource, peerAs: number): boolean {
  return !peer.internal && attrs.neighborAs !== peerAs;
}

/** Receive-time checks that keep a path out of the decision process (it stays in the Adj-RIB-In). */
export function ineligibility(attrs: RouteAttributes, peer: PeerSource, r: RouterPolicy, family: Family): IneligibleReason | undefined {
  // RFC 4271 §9.1.2: a route whose AS_PATH holds our own AS is a loop.
  if (!peer.internal && attrs.asPathContains(r.localAs)) return 'as-path-loop';
  // RFC 4456 §8: a reflected route carrying our own BGP Identifier as ORIGINATOR_ID is ignored.
  if (attrs.originatorId === r.routerId) return 'originator-id-loop';
  // RFC 4456 §8: a route whose CLUSTER_LIST holds our cluster id is ignored.
  if (attrs.clusterList?.includes(r.clusterId)) return 'cluster-list-loop';
  // RFC 4271 §6.3: a NEXT_HOP that is an address of the receiving speaker is semantically incorrect.
  // (RFC 4684 membership routes name their advertiser as next hop; that check does not apply there.)
  if (family !== 'rt-membership' && r.localAddresses.has(attrs.nextHop)) return 'next-hop-self';
  return undefined;
}

// --- Outbound. ---

/** True when `path`, the best route of a destination in `table`, may be advertised to the group. */
export function mayAdvertise(path: Path, table: Table, g: GroupPolicy): boolean {
  const attrs = path.attrs;
  const communities = attrs.communities;
  if (communities.length) {
    // RFC 1997: NO_ADVERTISE goes to no peer; NO_EXPORT (and NO_EXPORT_SUBCONFED: no confederations
    // here) stays inside the AS.
    if (communities.includes(NO_ADVERTISE)) return false;
    if (!g.internal && (communities.includes(NO_EXPORT) || communities.includes(NO_EXPORT_SUBCONFED))) return false;
  }
  // The RFC 4684 §3.2 default membership a reflector originates is for its clients only.
  if (attrs.clientsOnly && !g.routeReflectorClient) return false;
  // VPN-IPv4 to an external peer is inter-AS VPN (RFC 4364 §10), not modelled here.
  if (table.family === 'vpn-ipv4' && !g.internal) return false;
  // A VRF's routes go to the CEs of that VRF (RFC 4364 §8); imports and CE routes alike.
  if (table.vrf !== undefined) return true;
  const source = path.source;
  if (source.kind !== 'peer') return true;
  if (!source.internal || !g.internal) return true;
  // RFC 4456 §6: a route from a client goes to every peer; from a non-client, to clients only.
  // Without clients (no reflection) that is RFC 4271 §9.2: IBGP routes never go to IBGP peers.
  return source.routeReflectorClient || g.routeReflectorClient;
}

/** The attributes a group sends for `path`: the NEXT_HOP separately for MP families. */
export interface Outbound {
  list: PathAttribute[];
  nextHop: number;
}

export function outboundAttributes(path: Path, family: Family, g: GroupPolicy, r: RouterPolicy): Outbound {
  const attrs = path.attrs;
  const source = path.source;
  const local = path.peer === undefined;
  // Reflection (RFC 4456 §6): a route from an internal peer going to an internal peer.
  const reflecting = g.internal && source.kind === 'peer' && source.internal;
  const out: PathAttribute[] = [attribute('ORIGIN', attrs.origin)];
  // RFC 4271 §5.1.4: a MED received from a neighbouring AS may go to internal peers but never to
  // another neighbouring AS; one we set ourselves may.
  if (attrs.med !== undefined && (g.internal || local)) out.push(attribute('MULTI_EXIT_DISC', attrs.med));
  for (const a of attrs.others) {
    if (a.type === 'EXTENDED_COMMUNITIES') {
      // RFC 4360 §2: non-transitive extended communities do not leave the AS.
      const keep = g.internal ? a.value : a.value.filter(isTransitiveExtendedCommunity);
      if (keep.length === a.value.length) out.push(a);
      else if (keep.length) out.push({ ...a, value: keep });
    } else if (a.type === 'UNRECOGNIZED') {
      // RFC 4271 §5: an unrecognized non-transitive optional attribute is not passed on; a
      // transitive one is, with the Partial bit set.
      if (a.flags & ATTR_FLAG.TRANSITIVE) out.push({ ...a, flags: a.flags | ATTR_FLAG.PARTIAL });
    } else {
      out.push(a);
    }
  }
  const asPath = attrs.asPath as AsPathSegment[];
  // RFC 4271 §5.1.2: towards an external peer our AS goes first; towards an internal one, unchanged.
  out.push(attribute('AS_PATH', g.internal ? asPath : prependAs(asPath, r.localAs)));
  let nextHop = attrs.nextHop;
  // RFC 4271 §5.1.3: towards an external peer the NEXT_HOP is our address on the shared link.
  if (!g.internal) nextHop = g.localAddress;
  // RFC 4684 §3.2: membership routes to a route reflector client carry our address as next hop.
  else if (family === 'rt-membership' && g.routeReflectorClient) nextHop = g.localAddress;
  // RFC 4456 §10 leaves the NEXT_HOP of reflected routes alone; next-hop-self is for our own routes.
  else if (g.nextHopSelf && !reflecting) nextHop = g.localAddress;
  if (family === 'ipv4-unicast') out.push(attribute('NEXT_HOP', nextHop));
  // RFC 4271 §5.1.5: LOCAL_PREF goes to internal peers (our degree of preference), never to external ones.
  if (g.internal) out.push(attribute('LOCAL_PREF', preferenceOf(path, r)));
  if (g.internal && family === 'rt-membership' && g.routeReflectorClient) {
    // RFC 4684 §3.2: membership routes to a client carry our router id as ORIGINATOR_ID.
    out.push(attribute('ORIGINATOR_ID', r.routerId));
    if (reflecting) out.push(attribute('CLUSTER_LIST', [r.clusterId, ...(attrs.clusterList ?? [])]));
  } else if (reflecting) {
    // RFC 4456 §8: the reflector sets ORIGINATOR_ID to the advertising peer's id unless already set,
    // and prepends its cluster id to CLUSTER_LIST.
    out.push(attribute('ORIGINATOR_ID', attrs.originatorId ?? (source.kind === 'peer' ? source.bgpIdentifier : r.routerId)));
    out.push(attribute('CLUSTER_LIST', [r.clusterId, ...(attrs.clusterList ?? [])]));
  }
  // RFC 4271 §4.3 leaves the order free; type-code order is what most speakers send.
  out.sort((a, b) => typeCodeOf(a) - typeCodeOf(b));
  // RFC 6793 §4.2.2: towards an OLD speaker, AS4_PATH / AS4_AGGREGATOR carry the 4-octet ASes.
  return { list: g.as4 ? out : attributesForAs2Peer(out), nextHop };
}
