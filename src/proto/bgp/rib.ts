// RIB building blocks (RFC 4271 §3.2, §9): route attributes as the decision process reads them, paths
// (one per source per destination: the Adj-RIB-In), destinations (the Loc-RIB entry) and tables. No policy, no I/O.
//
// A destination holds every path to one NLRI, one per source (RFC 4271 §3.2: the Adj-RIB-In of a peer
// is the set of paths whose source is that peer), and the best of them (the Loc-RIB entry). Paths are
// immutable and shared by every prefix one UPDATE announced: an implicit withdraw puts a new path in
// place, so "the best path changed" is an identity test. Sized for millions of routes: see Destination.

import type { Ipv4Prefix } from '../../lib/addr.ts';
import { formatIpv4 } from '../../lib/addr.ts';
import type { AsPathSegment, PathAttribute } from './attributes.ts';
import { AS_SEQUENCE, ATTR_TYPE, asPathLength, attribute } from './attributes.ts';
import type { ExtendedCommunity } from './communities.ts';
import { extendedCommunityBytes } from './communities.ts';
import type { DecisionReason } from './decision.ts';
import type { Family, NlriOf, RouteDistinguisher, RtMembershipNlri } from './nlri.ts';
import { formatRouteDistinguisher } from './nlri.ts';

/** The Security Gateway Identity extended community of seed 002 (communities.ts). */
export type SecurityGatewayIdentity = Extract<ExtendedCommunity, { type: 'SECURITY_GATEWAY_IDENTITY' }>;
export type RouteTarget = Extract<ExtendedCommunity, { type: 'ROUTE_TARGET' }>;

const HEX_BYTE = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
/** Lower-case hex of some bytes (a table per octet: route target keys are made for every route). */
function hexOf(b: Uint8Array): string {
  let out = '';
  for (let i = 0; i < b.length; i++) out += HEX_BYTE[b[i]!]!;
  return out;
}

/**
 * Keys of route targets already seen, by format and administrators packed in one exact integer
 * (below 2^48): every received route carries one, and a group has one for all its routes. Bounded.
 */
const rtKeys: Record<string, Map<number, string>> = { 'two-octet-as': new Map(), 'ipv4-address': new Map(), 'four-octet-as': new Map() };
const RT_KEYS_MAX = 1 << 16;

/** The key of a route target in sets and filters: its 8 octets in hex. */
export function routeTargetKey(rt: ExtendedCommunity): string {
  if (rt.type !== 'ROUTE_TARGET') return hexOf(extendedCommunityBytes(rt));
  const g = rt.globalAdministrator;
  const l = rt.localAdministrator;
  const two = rt.format === 'two-octet-as';
  const memo = rtKeys[rt.format];
  const gMax = two ? 0xffff : 0xffffffff;
  const lMax = two ? 0xffffffff : 0xffff;
  if (memo === undefined || !Number.isInteger(g) || !Number.isInteger(l) || g < 0 || l < 0 || g > gMax || l > lMax) return hexOf(extendedCommunityBytes(rt));
  const k = g * (lMax + 1) + l;
  let key = memo.get(k);
  if (key === undefined) {
    if (memo.size >= RT_KEYS_MAX) memo.clear();
    key = hexOf(extendedCommunityBytes(rt));
    memo.set(k, key);
  }
  return key;
}

/** The empty list every attribute-less field shares (one per route adds up). */
const NONE: readonly never[] = Object.freeze([]);

/** Attribute type code of a path attribute (known or not), for ordering on the wire. */
export function typeCodeOf(a: PathAttribute): number {
  return a.type === 'UNRECOGNIZED' ? a.typeCode : ATTR_TYPE[a.type];
}

/**
 * The path attributes of one route as received or originated, read into the fields the decision
 * process and the policies use. Immutable and shared by every path of one UPDATE. Only attributes
 * with no field of their own are kept as objects (`others`, flags as received, so a Partial bit
 * survives); `list` rebuilds the whole set. NEXT_HOP (or the MP_REACH_NLRI next hop, RFC 4760 §3)
 * is `nextHop`; NEXT_HOP, MP_REACH_NLRI and MP_UNREACH_NLRI in the input are not attributes of the route.
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
  readonly clusterList: readonly number[] | undefined;
  /** ATOMIC_AGGREGATE, AGGREGATOR, COMMUNITIES, EXTENDED_COMMUNITIES, unrecognized ones, in order received. */
  readonly others: readonly PathAttribute[];
  readonly communities: readonly number[];
  readonly extendedCommunities: readonly ExtendedCommunity[];
  /** Route targets among the extended communities, as 8-octet keys (routeTargetKey). */
  readonly routeTargetKeys: readonly string[];
  readonly securityGatewayIdentity: SecurityGatewayIdentity | undefined;
  /** Per update group id: the attributes as that group sends them (update-groups.ts fills it). */
  exportCache: Map<number, unknown> | undefined;

  constructor(
    attributes: readonly PathAttribute[],
    /** NEXT_HOP, or the next hop of MP_REACH_NLRI (RFC 4760 §3). */
    readonly nextHop: number,
    /** Advertise to route reflector clients only (the RFC 4684 default membership a reflector originates). */
    readonly clientsOnly = false,
  ) {
    let origin = 0;
    let asPath: readonly AsPathSegment[] = NONE;
    let med: number | undefined;
    let localPref: number | undefined;
    let originatorId: number | undefined;
    let clusterList: readonly number[] | undefined;
    let communities: readonly number[] = NONE;
    let ext: readonly ExtendedCommunity[] = NONE;
    let others: PathAttribute[] | undefined;
    for (const a of attributes) {
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
        case 'NEXT_HOP':
        case 'MP_REACH_NLRI':
        case 'MP_UNREACH_NLRI':
          break;
        case 'COMMUNITIES':
          communities = a.value;
          (others ??= []).push(a);
          break;
        case 'EXTENDED_COMMUNITIES':
          ext = a.value;
          (others ??= []).push(a);
          break;
        default:
          (others ??= []).push(a);
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
    // Exact-size copies: a pushed-into array keeps spare slots, and RIBs hold one of these per path.
    this.others = others ? others.slice() : NONE;
    this.communities = communities;
    this.extendedCommunities = ext;
    let rts: string[] | undefined;
    let sgi: SecurityGatewayIdentity | undefined;
    for (const ec of ext) {
      if (ec.type === 'ROUTE_TARGET') (rts ??= []).push(routeTargetKey(ec));
      else if (ec.type === 'SECURITY_GATEWAY_IDENTITY' && !sgi) sgi = ec;
    }
    this.routeTargetKeys = rts ? rts.slice() : NONE;
    this.securityGatewayIdentity = sgi;
    this.exportCache = undefined;
  }

  /** Every attribute (NEXT_HOP aside), in type-code order; rebuilt on each call. */
  get list(): PathAttribute[] {
    const out: PathAttribute[] = [attribute('ORIGIN', this.origin), attribute('AS_PATH', this.asPath as AsPathSegment[])];
    if (this.med !== undefined) out.push(attribute('MULTI_EXIT_DISC', this.med));
    if (this.localPref !== undefined) out.push(attribute('LOCAL_PREF', this.localPref));
    if (this.originatorId !== undefined) out.push(attribute('ORIGINATOR_ID', this.originatorId));
    if (this.clusterList !== undefined) out.push(attribute('CLUSTER_LIST', this.clusterList as number[]));
    out.push(...this.others);
    return out.sort((a, b) => typeCodeOf(a) - typeCodeOf(b));
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
  /** Creation order: the final tie-break between two imports of one prefix. */
  readonly order: number;
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

/**
 * One route from one source: an Adj-RIB-In entry, or a local / imported one. Immutable and shared by
 * every destination the same UPDATE announced it for (a destination holds one path per source).
 */
export class Path {
  constructor(
    readonly source: RouteSource,
    readonly attrs: RouteAttributes,
    /** VPN-IPv4 label stack (RFC 4364 §4.3.2); undefined for other families. */
    readonly labels: readonly number[] | undefined,
    /** Set when a receive-time check rules the path out (kept for inspection, never selected). */
    readonly ineligible: IneligibleReason | undefined,
  ) {}

  /** The path whose source describes the advertising speaker: itself, or what an import was made from. */
  get origin(): Path {
    return this;
  }

  /** The peer the route was learned from, through imports; undefined when this router originated it. */
  get peer(): PeerSource | undefined {
    const s = this.origin.source;
    return s.kind === 'peer' ? s : undefined;
  }
}

/** A VRF path made from a VPN-IPv4 path (RFC 4364 §4.3.1): same attributes and labels. */
export class ImportedPath extends Path {
  constructor(
    source: ImportSource,
    /** The VPN-IPv4 path it was made from. */
    readonly importedFrom: Path,
  ) {
    super(source, importedFrom.attrs, importedFrom.labels, undefined);
  }

  override get origin(): Path {
    return this.importedFrom;
  }
}

/** Destination flags. */
export const DEST_DIRTY = 1;
export const DEST_IN_FEED = 2;

/**
 * Every path to one NLRI in one table (one per source) and the best of them: one Loc-RIB entry.
 *
 * There is one per route, so it is a plain record made by one object literal in `Table` (the engine
 * then allocates these straight into the old generation instead of copying each one out of the
 * young one), and it keeps no prefix object: an IPv4 destination holds its address and length.
 */
export interface Destination<F extends Family = Family> {
  readonly table: Table<F>;
  /** The paths, one per source: none, one, or several. Change them with setPath / removePath. */
  paths: Path | Path[] | undefined;
  best: Path | undefined;
  reason: DecisionReason;
  /** DEST_DIRTY | DEST_IN_FEED. */
  flags: number;
  /** IPv4 unicast: the address as a signed 32-bit integer (the table key) and the prefix length. */
  readonly addr?: number;
  readonly len?: number;
  /** Other families: the NLRI. Read any family's through `nlriOf`. */
  readonly nlri?: NlriOf[F];
  /** VPN-IPv4: the import source that stands for this destination in VRFs, once made. */
  importSource?: ImportSource | undefined;
}

/** The NLRI of a destination (made afresh for IPv4 unicast, which keeps no prefix object). */
export function nlriOf<F extends Family>(d: Destination<F>): NlriOf[F] {
  return d.nlri ?? ({ family: 4, addr: d.addr! >>> 0, len: d.len! } as NlriOf[F]);
}

/** The path from `source`, if any. */
export function pathFrom(d: Destination, source: RouteSource): Path | undefined {
  const ps = d.paths;
  if (ps === undefined) return undefined;
  if (ps instanceof Path) return ps.source === source ? ps : undefined;
  for (const p of ps) if (p.source === source) return p;
  return undefined;
}

/** Puts `path` in place of the path from the same source (implicit withdraw), or adds it. Returns the old one. */
export function setPath(d: Destination, path: Path): Path | undefined {
  const ps = d.paths;
  if (ps === undefined) {
    d.paths = path;
    return undefined;
  }
  if (ps instanceof Path) {
    if (ps.source === path.source) {
      d.paths = path;
      return ps;
    }
    d.paths = [ps, path];
    return undefined;
  }
  for (let i = 0; i < ps.length; i++) {
    const old = ps[i]!;
    if (old.source === path.source) {
      ps[i] = path;
      return old;
    }
  }
  ps.push(path);
  return undefined;
}

/** Removes the path from `source`; returns it. */
export function removePath(d: Destination, source: RouteSource): Path | undefined {
  const ps = d.paths;
  if (ps === undefined) return undefined;
  if (ps instanceof Path) {
    if (ps.source !== source) return undefined;
    d.paths = undefined;
    return ps;
  }
  const i = ps.findIndex((p) => p.source === source);
  if (i < 0) return undefined;
  const old = ps[i]!;
  ps.splice(i, 1);
  if (ps.length === 1) d.paths = ps[0];
  return old;
}

/** The paths as a fresh array. */
export function pathsOf(d: Destination): Path[] {
  const ps = d.paths;
  return ps === undefined ? [] : ps instanceof Path ? [ps] : [...ps];
}

// --- Keys: one per NLRI of a family (labels are not part of a VPN-IPv4 route's identity, RFC 4364 §4.3.4). ---

export function rdKey(rd: RouteDistinguisher): string {
  return `${rd.type}:${rd.administrator}:${rd.assignedNumber}`;
}

/** A key for one NLRI, unique within its family (for maps and signatures). */
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
  /** True while the subscriber refers to `dest` (an update group's Adj-RIB-Out): the table keeps it. */
  holds?(dest: Destination): boolean;
}

/**
 * The destinations of one family in one routing context: the global tables, or one VRF's. IPv4
 * prefixes are kept in one map per prefix length keyed by the address as a signed 32-bit integer
 * (a small integer to the JavaScript engine: no allocation, cheap hashing); other NLRI by string key.
 */
export class Table<F extends Family = Family> {
  private readonly byLength: Map<number, Destination<F>>[] | undefined;
  private readonly byKey: Map<string, Destination<F>> | undefined;
  private count = 0;
  readonly subscribers: TableSubscriber[] = [];

  constructor(
    readonly family: F,
    /** The VRF this table belongs to; undefined for the global tables. */
    readonly vrf: string | undefined,
  ) {
    if (family === 'ipv4-unicast') this.byLength = Array.from({ length: 33 }, () => new Map());
    else this.byKey = new Map();
  }

  get name(): string {
    return this.vrf === undefined ? this.family : `vrf ${this.vrf}`;
  }

  /** Number of destinations held. */
  get size(): number {
    return this.count;
  }

  get(nlri: NlriOf[F]): Destination<F> | undefined {
    if (this.byLength) {
      const p = nlri as Ipv4Prefix;
      return this.byLength[p.len]!.get(p.addr | 0);
    }
    return this.byKey!.get(nlriKey(this.family, nlri) as string);
  }

  getOrCreate(nlri: NlriOf[F]): Destination<F> {
    if (this.byLength) {
      const p = nlri as Ipv4Prefix;
      const addr = p.addr | 0;
      const m = this.byLength[p.len]!;
      let d = m.get(addr);
      if (!d) {
        d = { table: this, paths: undefined, best: undefined, reason: 'only-candidate', flags: 0, addr, len: p.len };
        m.set(addr, d);
        this.count++;
      }
      return d;
    }
    const key = nlriKey(this.family, nlri) as string;
    let d = this.byKey!.get(key);
    if (!d) {
      d = { table: this, paths: undefined, best: undefined, reason: 'only-candidate', flags: 0, nlri, importSource: undefined };
      this.byKey!.set(key, d);
      this.count++;
    }
    return d;
  }

  /** Forgets `dest` when nothing refers to it any more (bounds the table by what is in use). */
  release(dest: Destination<F>): void {
    if (dest.paths !== undefined || dest.best !== undefined || dest.flags !== 0) return;
    for (const s of this.subscribers) if (s.holds?.(dest)) return;
    if (this.byLength) {
      const m = this.byLength[dest.len!]!;
      if (m.get(dest.addr!) === dest) {
        m.delete(dest.addr!);
        this.count--;
      }
      return;
    }
    const key = nlriKey(this.family, dest.nlri!) as string;
    if (this.byKey!.get(key) === dest) {
      this.byKey!.delete(key);
      this.count--;
    }
  }

  *values(): Generator<Destination<F>> {
    if (this.byLength) {
      for (const m of this.byLength) yield* m.values();
    } else {
      yield* this.byKey!.values();
    }
  }
}
