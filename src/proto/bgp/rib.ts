// RIB building blocks (RFC 4271 §3.2, §9): route attributes as the decision process reads them, paths
// (one per source per destination: the Adj-RIB-In), destinations (the Loc-RIB entry) and tables. No policy, no I/O.
//
// A destination holds every path to one NLRI, one per source (RFC 4271 §3.2: the Adj-RIB-In of each
// peer is the set of paths whose source is that peer), chained through `next`, and the best of them
// (the Loc-RIB). Paths are immutable: an implicit withdraw replaces the path object, so "the best
// path changed" is an identity test. Attributes are shared by every path one UPDATE announced.

import type { Ipv4Prefix } from '../../lib/addr.ts';
import { formatIpv4 } from '../../lib/addr.ts';
import { assert } from '../../lib/errors.ts';
import type { Aggregator, AsPathSegment, PathAttribute } from './attributes.ts';
import { AS_SEQUENCE, ATTR_TYPE, asPathLength } from './attributes.ts';
import type { ExtendedCommunity } from './communities.ts';
import { extendedCommunityBytes } from './communities.ts';
import type { DecisionReason } from './decision.ts';
import type { Family, NlriOf, RouteDistinguisher, RtMembershipNlri } from './nlri.ts';
import { formatRouteDistinguisher } from './nlri.ts';

/** The Security Gateway Identity extended community of seed 002 (communities.ts). */
export type SecurityGatewayIdentity = Extract<ExtendedCommunity, { type: 'SECURITY_GATEWAY_IDENTITY' }>;
export type RouteTarget = Extract<ExtendedCommunity, { type: 'ROUTE_TARGET' }>;

const hexOf = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** The key of a route target in sets and filters: its 8 octets in hex. */
export function routeTargetKey(rt: ExtendedCommunity): string {
  return hexOf(extendedCommunityBytes(rt));
}

/** Attribute type code of a path attribute (known or not), for ordering on the wire. */
export function typeCodeOf(a: PathAttribute): number {
  return a.type === 'UNRECOGNIZED' ? a.typeCode : ATTR_TYPE[a.type];
}

/**
 * The path attributes of one route as received or originated (MP_REACH_NLRI / MP_UNREACH_NLRI taken
 * out, NEXT_HOP moved to `nextHop`), plus the fields the decision process and the policies read.
 * Immutable and shared by every path of one UPDATE.
 */
export class RouteAttributes {
  readonly origin: number;
  readonly asPath: readonly AsPathSegment[];
  readonly asPathLength: number;
  /** Leftmost AS of the AS_PATH when it starts with an AS_SEQUENCE, else 0 (from inside our AS). */
  readonly neighborAs: number;
  readonly med: number | undefined;
  readonly localPref: number | undefined;
  readonly originatorId: number | undefined;
  readonly clusterList: readonly number[];
  readonly communities: readonly number[];
  readonly extendedCommunities: readonly ExtendedCommunity[];
  /** Route targets among the extended communities, as 8-octet keys (routeTargetKey). */
  readonly routeTargetKeys: readonly string[];
  readonly securityGatewayIdentity: SecurityGatewayIdentity | undefined;
  /** Attributes with no field above (ATOMIC_AGGREGATE, AGGREGATOR, unrecognized ones), flags as received. */
  readonly others: readonly PathAttribute[];
  readonly aggregator: Aggregator | undefined;
  /** Per update group: the attributes as that group sends them (update-groups.ts fills it). */
  exportCache: Map<unknown, unknown> | undefined;

  constructor(
    /** The attributes, without NEXT_HOP, MP_REACH_NLRI and MP_UNREACH_NLRI; flags kept as received. */
    readonly list: readonly PathAttribute[],
    /** NEXT_HOP, or the next hop of MP_REACH_NLRI (RFC 4760 §3). */
    readonly nextHop: number,
    /** Advertise to route reflector clients only (the RFC 4684 default membership a reflector originates). */
    readonly clientsOnly = false,
  ) {
    let origin = 0;
    let asPath: readonly AsPathSegment[] = [];
    let med: number | undefined;
    let localPref: number | undefined;
    let originatorId: number | undefined;
    let clusterList: readonly number[] = [];
    let communities: readonly number[] = [];
    let ext: readonly ExtendedCommunity[] = [];
    let aggregator: Aggregator | undefined;
    const others: PathAttribute[] = [];
    for (const a of list) {
      switch (a.type) {
        case 'ORIGIN':
          origin = a.value;
          break;
        case 'AS_PATH':
          asPath = a.value;
          break;
        case 'MULTI_EXIT_DISC':
          med = a.value;
          break;
        case 'LOCAL_PREF':
          localPref = a.value;
          break;
        case 'ORIGINATOR_ID':
          originatorId = a.value;
          break;
        case 'CLUSTER_LIST':
          clusterList = a.value;
          break;
        case 'COMMUNITIES':
          communities = a.value;
          break;
        case 'EXTENDED_COMMUNITIES':
          ext = a.value;
          break;
        case 'NEXT_HOP':
        case 'MP_REACH_NLRI':
        case 'MP_UNREACH_NLRI':
          assert(false, `RouteAttributes: ${a.type} does not belong in the list`);
          break;
        case 'AGGREGATOR':
          aggregator = a.value;
          others.push(a);
          break;
        default:
          others.push(a);
      }
    }
    this.origin = origin;
    this.asPath = asPath;
    this.asPathLength = asPathLength(asPath);
    const first = asPath[0];
    this.neighborAs = first && first.type === AS_SEQUENCE ? first.asNumbers[0]! : 0;
    this.med = med;
    this.localPref = localPref;
    this.originatorId = originatorId;
    this.clusterList = clusterList;
    this.communities = communities;
    this.extendedCommunities = ext;
    const rts: string[] = [];
    let sgi: SecurityGatewayIdentity | undefined;
    for (const ec of ext) {
      if (ec.type === 'ROUTE_TARGET') rts.push(routeTargetKey(ec));
      else if (ec.type === 'SECURITY_GATEWAY_IDENTITY' && !sgi) sgi = ec;
    }
    this.routeTargetKeys = rts;
    this.securityGatewayIdentity = sgi;
    this.others = others;
    this.aggregator = aggregator;
    this.exportCache = undefined;
  }

  /** True when `asNumber` appears anywhere in the AS_PATH (RFC 4271 §9.1.2 loop check). */
  asPathContains(asNumber: number): boolean {
    for (const s of this.asPath) if (s.asNumbers.includes(asNumber)) return true;
    return false;
  }
}

// --- Sources: where a path came from. ---

/** What the RIB needs of a peer (router.ts's PeerState implements it). */
export interface PeerSource {
  readonly kind: 'peer';
  readonly id: string;
  /** Same AS as ours (RFC 4271 §3: an internal peer). */
  readonly internal: boolean;
  readonly routeReflectorClient: boolean;
  readonly address: number;
  /** The peer's BGP Identifier from its OPEN. */
  readonly bgpIdentifier: number;
  /** Position in the configuration: the final tie-break. */
  readonly order: number;
}

/** Originated by this router, into the global tables or into a VRF (`vrf`). */
export interface LocalSource {
  readonly kind: 'local';
  readonly vrf: string | undefined;
}

/** A VPN-IPv4 route this router made from a VRF's best route (RFC 4364 §4.3.1). */
export interface VrfExportSource {
  readonly kind: 'vrf-export';
  readonly vrf: string;
}

/** A VRF path imported from a VPN-IPv4 destination whose route targets the VRF imports (RFC 4364 §4.3.1). */
export interface ImportSource {
  readonly kind: 'import';
  readonly from: Destination<'vpn-ipv4'>;
}

export type RouteSource = PeerSource | LocalSource | VrfExportSource | ImportSource;

/** Why a path in an Adj-RIB-In takes no part in the decision process. */
export type IneligibleReason =
  /** RFC 4271 §9.1.2: our own AS in the AS_PATH. */
  | 'as-path-loop'
  /** RFC 4456 §8: ORIGINATOR_ID is our BGP Identifier. */
  | 'originator-id-loop'
  /** RFC 4456 §8: CLUSTER_LIST holds our cluster id. */
  | 'cluster-list-loop'
  /** RFC 4271 §9.1.2: NEXT_HOP not resolvable. */
  | 'next-hop-unreachable'
  /** RFC 4271 §6.3: NEXT_HOP is an address of this speaker (semantically incorrect). */
  | 'next-hop-self';

/** One route to a destination from one source: an Adj-RIB-In entry, or a local / imported one. */
export class Path {
  /** Next path of the same destination. */
  next: Path | undefined = undefined;
  constructor(
    readonly source: RouteSource,
    readonly attrs: RouteAttributes,
    /** VPN-IPv4 label stack (RFC 4364 §4.3.2); undefined for other families. */
    readonly labels: readonly number[] | undefined,
    /** Set when a receive-time check rules the path out (kept for inspection, never selected). */
    readonly ineligible: IneligibleReason | undefined,
    /** For an imported path: the VPN-IPv4 path it was made from. */
    readonly importedFrom: Path | undefined = undefined,
  ) {}

  /** The path whose source describes the advertising speaker (through imports). */
  get origin(): Path {
    return this.importedFrom ?? this;
  }

  /** The peer the route was learned from, through imports; undefined when this router originated it. */
  get peer(): PeerSource | undefined {
    const s = this.origin.source;
    return s.kind === 'peer' ? s : undefined;
  }
}

/** Destination flags. */
export const DEST_DIRTY = 1;
export const DEST_IN_FEED = 2;

/** Every path to one NLRI in one table and the best of them: one Loc-RIB entry. */
export class Destination<F extends Family = Family> {
  head: Path | undefined = undefined;
  best: Path | undefined = undefined;
  reason: DecisionReason = 'only-candidate';
  flags = 0;
  /** How many update groups hold this destination in their Adj-RIB-Out (it is kept while > 0). */
  outRefs = 0;
  /** The import source that stands for this VPN-IPv4 destination in VRFs (created on first import). */
  importSource: ImportSource | undefined = undefined;

  constructor(
    readonly table: Table<F>,
    readonly id: number,
    readonly key: number | string,
    readonly nlri: NlriOf[F],
  ) {}

  /** The path from `source`, if any. */
  pathFrom(source: RouteSource): Path | undefined {
    for (let p = this.head; p; p = p.next) if (p.source === source) return p;
    return undefined;
  }

  /** Puts `path` in place of the path from the same source (implicit withdraw), or adds it. Returns the old one. */
  setPath(path: Path): Path | undefined {
    let prev: Path | undefined;
    for (let p = this.head; p; prev = p, p = p.next) {
      if (p.source === path.source) {
        path.next = p.next;
        if (prev) prev.next = path;
        else this.head = path;
        return p;
      }
    }
    path.next = this.head;
    this.head = path;
    return undefined;
  }

  /** Removes the path from `source`; returns it. */
  removePath(source: RouteSource): Path | undefined {
    let prev: Path | undefined;
    for (let p = this.head; p; prev = p, p = p.next) {
      if (p.source === source) {
        if (prev) prev.next = p.next;
        else this.head = p.next;
        return p;
      }
    }
    return undefined;
  }

  paths(): Path[] {
    const out: Path[] = [];
    for (let p = this.head; p; p = p.next) out.push(p);
    return out;
  }

  /** True when nothing refers to this destination any more and the table may forget it. */
  get disposable(): boolean {
    return this.head === undefined && this.best === undefined && this.outRefs === 0 && this.flags === 0;
  }
}

// --- Keys: one per NLRI of a family (labels are not part of a VPN-IPv4 route's identity, RFC 4364 §4.3.4). ---

export function rdKey(rd: RouteDistinguisher): string {
  return `${rd.type}:${rd.administrator}:${rd.assignedNumber}`;
}

export function nlriKey<F extends Family>(family: F, n: NlriOf[F]): number | string {
  switch (family) {
    case 'ipv4-unicast': {
      const p = n as Ipv4Prefix;
      return p.addr * 64 + p.len;
    }
    case 'vpn-ipv4': {
      const v = n as NlriOf['vpn-ipv4'];
      return `${rdKey(v.rd)}|${v.prefix.addr}/${v.prefix.len}`;
    }
    default: {
      const m = n as RtMembershipNlri;
      return `${m.prefixLength}|${m.originAs}|${hexOf(m.routeTarget)}`;
    }
  }
}

export function formatNlri<F extends Family>(family: F, n: NlriOf[F]): string {
  switch (family) {
    case 'ipv4-unicast': {
      const p = n as Ipv4Prefix;
      return `${formatIpv4(p.addr)}/${p.len}`;
    }
    case 'vpn-ipv4': {
      const v = n as NlriOf['vpn-ipv4'];
      return `${formatRouteDistinguisher(v.rd)}:${formatIpv4(v.prefix.addr)}/${v.prefix.len}`;
    }
    default: {
      const m = n as RtMembershipNlri;
      return m.prefixLength === 0 ? 'default' : `${m.originAs}:${hexOf(m.routeTarget)}/${m.prefixLength}`;
    }
  }
}

/** Hooks a table calls on its users (update groups subscribe to tables). */
export interface TableSubscriber {
  /** The best path of `dest` changed from `old`. */
  bestChanged(dest: Destination, old: Path | undefined): void;
}

/** The destinations of one family in one routing context: the global tables, or one VRF's. */
export class Table<F extends Family = Family> {
  private readonly map = new Map<number | string, Destination<F>>();
  readonly subscribers: TableSubscriber[] = [];

  constructor(
    readonly family: F,
    /** The VRF this table belongs to; undefined for the global tables. */
    readonly vrf: string | undefined,
    private readonly nextId: () => number,
  ) {}

  get name(): string {
    return this.vrf === undefined ? this.family : `vrf ${this.vrf}`;
  }

  get size(): number {
    return this.map.size;
  }

  get(nlri: NlriOf[F]): Destination<F> | undefined {
    return this.map.get(nlriKey(this.family, nlri));
  }

  getOrCreate(nlri: NlriOf[F]): Destination<F> {
    const key = nlriKey(this.family, nlri);
    let d = this.map.get(key);
    if (!d) {
      d = new Destination<F>(this, this.nextId(), key, nlri);
      this.map.set(key, d);
    }
    return d;
  }

  /** Forgets `dest` when nothing refers to it (bounds the table by what is in use). */
  release(dest: Destination<F>): void {
    if (dest.disposable && this.map.get(dest.key) === dest) this.map.delete(dest.key);
  }

  values(): IterableIterator<Destination<F>> {
    return this.map.values();
  }
}
