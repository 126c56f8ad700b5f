// The BGP routing core of one speaker (RFC 4271 §9, RFC 4456, RFC 4364, RFC 4684): Adj-RIBs-In, Loc-RIB,
// VRFs, update groups; decoded UPDATEs in, encoded UPDATEs out. Sans-IO: never owns a session, timer or socket.
//
// Inputs: `peerUp` / `peerDown` from the session, `receiveUpdate` with the codec's decode result
// (RFC 7606 outcome included), `originate` / `withdrawOriginated` from the node. Outputs: `poll()`
// hands out UPDATEs for peers, `pollRouteChange()` the best-route changes (for the forwarding table
// and for seed 002, which reads the Security Gateway Identity off them). Work is batched: inputs only
// mark destinations; the decision process and the update groups run when an output is asked for or
// a table is inspected. Bounds: the output queue holds one flush at a time (refilled only when
// empty), the change feed holds each destination at most once, a peer's Adj-RIB-In stops at its
// `maxPrefixes`, and each table holds only destinations something refers to.

import type { Ipv4Prefix } from '../../lib/addr.ts';
import { ipv4Mask } from '../../lib/addr.ts';
import { assert } from '../../lib/errors.ts';
import type { AsPathSegment, PathAttribute } from './attributes.ts';
import { ORIGIN_IGP, attribute, getAttribute, isSharedAttributeList } from './attributes.ts';
import type { Capability } from './capabilities.ts';
import { multiprotocol } from './capabilities.ts';
import type { ExtendedCommunity } from './communities.ts';
import type { DecisionCandidate, DecisionReason } from './decision.ts';
import { selectBest } from './decision.ts';
import type { BgpDecodeError } from './errors.ts';
import type { BgpMessage } from './message.ts';
import type { Family, NlriOf, RouteDistinguisher, RtMembershipNlri, VpnIpv4Nlri } from './nlri.ts';
import { familyOf } from './nlri.ts';
import type { GroupPolicy, RouterPolicy } from './policy.ts';
import { ineligibility, inboundAttributes, leftmostAsMismatch, preferenceOf } from './policy.ts';
import type { Destination, IneligibleReason, LocalSource, RouteTarget, SecurityGatewayIdentity, TableSubscriber } from './rib.ts';
import { DEST_DIRTY, DEST_IN_FEED, ImportedPath, Path, RouteAttributes, Table, formatNlri, nlriOf, pathFrom, pathsOf, removePath, setPath, typeCodeOf } from './rib.ts';
import { RtFilter, defaultMembership, membershipFor } from './rtc.ts';
import type { Export, GroupCounters, GroupMember } from './update-groups.ts';
import { UpdateGroup } from './update-groups.ts';
import type { VrfConfig } from './vrf.ts';
import { VRF_LABEL_BASE, Vrf } from './vrf.ts';

export type { VrfConfig } from './vrf.ts';
export type PeerId = string;

// --- Configuration and inputs. ---

export interface PeerConfig {
  id: PeerId;
  /** The peer's AS: equal to ours makes it an internal (IBGP) peer (RFC 4271 §3). */
  asNumber: number;
  /** The peer's address (decision step g, RFC 4271 §9.1.2.2). */
  address: number;
  /** Our address on this session: the NEXT_HOP we set. Defaults to the router's `localAddress`. */
  localAddress?: number;
  /** RFC 4456: this internal peer is a route reflector client of ours. */
  routeReflectorClient?: boolean;
  /** Families we offer (RFC 4760 capability); default IPv4 unicast. */
  families?: readonly Family[];
  /** A CE-facing attachment: the peer's IPv4 routes live in this VRF (RFC 4364 §3.1, §7). */
  vrf?: string;
  /** Towards an internal peer: NEXT_HOP self on routes we do not reflect. */
  nextHopSelf?: boolean;
  /** Adj-RIB-In limit; `receiveUpdate` reports when it is reached (RFC 4486 Cease subcode 1). */
  maxPrefixes?: number;
}

export interface BgpRouterConfig {
  localAs: number;
  /** BGP Identifier. */
  routerId: number;
  /** RFC 4456 §7: defaults to the router id. Two reflectors of one cluster share it. */
  clusterId?: number;
  /** Address used as NEXT_HOP self (a loopback); defaults to the router id. */
  localAddress?: number;
  peers: readonly PeerConfig[];
  vrfs?: readonly VrfConfig[];
  /** Degree of preference of routes from external peers (RFC 4271 §9.1.1); default 100. */
  ebgpLocalPref?: number;
  /** RFC 4684 §3.2: send route reflector clients the default membership (all VPN routes); default true. */
  defaultRouteTargetToClients?: boolean;
  /** Interior cost to a NEXT_HOP (decision step e); default 0 for all. */
  igpCost?: (nextHop: number) => number;
  /** RFC 4271 §9.1.2: whether a NEXT_HOP resolves; default every one does. */
  nextHopReachable?: (nextHop: number) => boolean;
  /** Keep the best-route change feed (`pollRouteChange`); default true. */
  routeChanges?: boolean;
}

/** What the session negotiated (RFC 4271 §8 OPEN exchange, RFC 4760 §8, RFC 6793). */
export interface NegotiatedSession {
  /** The peer's BGP Identifier from its OPEN. */
  bgpIdentifier: number;
  /** Families both sides announced (IPv4 unicast alone when neither sent the capability, RFC 4760 §8). */
  families: readonly Family[];
  /** Both sides sent the 4-octet AS capability. */
  as4: boolean;
}

/** Attributes of a route this router originates. */
export interface OriginateAttributes {
  origin?: number;
  asPath?: AsPathSegment[];
  med?: number;
  localPref?: number;
  communities?: number[];
  extendedCommunities?: ExtendedCommunity[];
  /** Defaults to the router's local address. */
  nextHop?: number;
}

export interface ReceiveResult {
  announced: number;
  withdrawn: number;
  /** NLRI of families not negotiated or disabled on this session, ignored. */
  ignored: number;
  /** The peer's `maxPrefixes` was reached: the session should Cease (RFC 4486 §4, subcode 1). */
  maxPrefixesExceeded: boolean;
}

// --- Outputs and views. ---

export interface BgpOutput {
  kind: 'update';
  peer: PeerId;
  /** One encoded UPDATE, at most 4096 octets. */
  bytes: Uint8Array;
}

/** A table to inspect: a global family, or a VRF's IPv4 table. */
export type TableRef = Family | { vrf: string };

export interface RouteView {
  readonly family: Family;
  readonly vrf: string | undefined;
  /** The NLRI as text (`10.1.0.0/16`, `65000:1:10.1.0.0/16`, `65000:0002fde80000000a/96`); formatted when read. */
  readonly nlri: string;
  readonly prefix: Ipv4Prefix | undefined;
  readonly rd: RouteDistinguisher | undefined;
  readonly membership: RtMembershipNlri | undefined;
  readonly labels: readonly number[] | undefined;
  readonly nextHop: number;
  /** As held (RIB views) or as sent (Adj-RIB-Out views); the NEXT_HOP is `nextHop`, not in the list. */
  readonly attributes: readonly PathAttribute[];
  /** A peer id; `local`; `vrf NAME` (our export of a VRF route); `import PEER` / `import local`. */
  readonly from: string;
  readonly best: boolean;
  /** For the best route: the decision step that chose it. */
  readonly reason: DecisionReason | undefined;
  /** For another route (`explain`): the step that removed it. */
  eliminatedBy: DecisionReason | undefined;
  /** Why the route takes no part in the decision process (`explain` adds an unreachable NEXT_HOP). */
  ineligible: IneligibleReason | undefined;
  readonly securityGatewayIdentity: SecurityGatewayIdentity | undefined;
  /** The EXTENDED_COMMUNITIES values (route targets and all), without building `attributes`. */
  readonly extendedCommunities: readonly ExtendedCommunity[];
}

/**
 * A decoded UPDATE with its RFC 7606 outcome: the codec's `Decoded`, or the session's `update`
 * output (which also says `treatAsWithdraw`).
 */
export interface ReceivedUpdate {
  message: BgpMessage;
  /** Every error below session-reset the decoder kept going after (RFC 7606 §3). */
  errors: readonly BgpDecodeError[];
  treatAsWithdraw?: boolean;
}

/** A best-route change: `best` undefined means the destination is gone. */
export interface RouteChange {
  readonly family: Family;
  readonly vrf: string | undefined;
  /** Formatted when read. */
  readonly nlri: string;
  readonly prefix: Ipv4Prefix | undefined;
  readonly rd: RouteDistinguisher | undefined;
  readonly best: RouteView | undefined;
}

export interface VrfView {
  name: string;
  rd: RouteDistinguisher;
  label: number;
  importRouteTargets: readonly RouteTarget[];
  exportRouteTargets: readonly RouteTarget[];
  attachments: PeerId[];
  routes: number;
}

export interface BgpRouterStats extends GroupCounters {
  updatesReceived: number;
  prefixesReceived: number;
  withdrawalsReceived: number;
  /** UPDATEs handled as withdrawals (RFC 7606 treat-as-withdraw, leftmost-AS check). */
  treatAsWithdraw: number;
  /** UPDATE messages handed out by `poll()` (one per peer each). */
  updatesSent: number;
  /** Destinations the decision process ran for. */
  decisions: number;
  updateGroups: number;
  /** Destinations held in all tables (each is forgotten once nothing refers to it). */
  destinations: number;
}

// --- Peers. ---

class PeerState implements GroupMember {
  readonly kind = 'peer';
  readonly id: PeerId;
  readonly internal: boolean;
  readonly routeReflectorClient: boolean;
  readonly address: number;
  readonly localAddress: number;
  readonly configuredFamilies: readonly Family[];
  bgpIdentifier = 0;
  up = false;
  as4 = true;
  families = new Set<Family>();
  group: UpdateGroup | undefined = undefined;
  rtFilter: RtFilter | undefined = undefined;
  rtFilterBefore: RtFilter | undefined | null = null;
  prefixCount = 0;

  constructor(
    readonly config: PeerConfig,
    readonly order: number,
    localAs: number,
    routerLocalAddress: number,
    readonly vrf: Vrf | undefined,
  ) {
    this.id = config.id;
    this.internal = config.asNumber === localAs;
    this.routeReflectorClient = config.routeReflectorClient ?? false;
    this.address = config.address;
    this.localAddress = config.localAddress ?? routerLocalAddress;
    this.configuredFamilies = vrf ? ['ipv4-unicast'] : (config.families ?? ['ipv4-unicast']);
  }
}

interface Batch {
  messages: readonly Uint8Array[];
  recipients: readonly GroupMember[];
  r: number;
  m: number;
}

type Candidate = DecisionCandidate & { path: Path };

const FAMILIES: readonly Family[] = ['ipv4-unicast', 'vpn-ipv4', 'rt-membership'];

/**
 * Update group ids, unique in the thread (not per router): RouteAttributes may be shared between
 * routers (sharedAttributes) and cache their exported form per group id.
 */
let updateGroupIds = 0;

/**
 * RouteAttributes built from a shared attribute list (the codec's memo hands one list to every
 * receiver of the same UPDATE octets), one per list and kind of next hop, shared by every router in
 * the thread: a reflected route held by a thousand members is one object, not a thousand. Other
 * lists (filtered for an external peer, built locally) get their own, as before.
 */
const attributesByList = new WeakMap<readonly PathAttribute[], { nlri?: RouteAttributes; mp?: RouteAttributes }>();

function sharedAttributes(list: readonly PathAttribute[], kind: 'nlri' | 'mp', build: () => RouteAttributes): RouteAttributes {
  if (!isSharedAttributeList(list)) return build();
  let e = attributesByList.get(list);
  if (!e) attributesByList.set(list, (e = {}));
  return (e[kind] ??= build());
}

export class BgpRouter {
  readonly localAs: number;
  readonly routerId: number;
  readonly clusterId: number;
  readonly localAddress: number;
  private readonly policy: RouterPolicy;
  private readonly peers = new Map<PeerId, PeerState>();
  private readonly vrfByName = new Map<string, Vrf>();
  private readonly ipv4: Table<'ipv4-unicast'>;
  private readonly vpn: Table<'vpn-ipv4'>;
  private readonly rtm: Table<'rt-membership'>;
  private readonly localSource: LocalSource = { kind: 'local', vrf: undefined };
  private readonly groups = new Map<string, UpdateGroup>();
  private readonly igpCost: (nextHop: number) => number;
  private readonly nextHopReachable: (nextHop: number) => boolean;
  private readonly feedEnabled: boolean;
  private dirty: Destination[] = [];
  private readonly rtDirty = new Set<PeerState>();
  private feed: Destination[] = [];
  private feedHead = 0;
  private queue: Batch[] = [];
  private queueHead = 0;
  private importSources = 0;
  /** Grows with every input that may change a RIB (see `version`). */
  private changes = 0;
  private readonly counters: BgpRouterStats = {
    updatesReceived: 0,
    prefixesReceived: 0,
    withdrawalsReceived: 0,
    treatAsWithdraw: 0,
    updatesEncoded: 0,
    updatesSent: 0,
    attributesTooLong: 0,
    decisions: 0,
    updateGroups: 0,
    destinations: 0,
  };

  constructor(config: BgpRouterConfig) {
    assert(config.localAs > 0 && config.localAs <= 0xffffffff, `BgpRouter: local AS ${config.localAs}`);
    assert(config.routerId > 0 && config.routerId <= 0xffffffff, 'BgpRouter: router id must be a non-zero 32-bit value');
    this.localAs = config.localAs;
    this.routerId = config.routerId;
    this.clusterId = config.clusterId ?? config.routerId;
    this.localAddress = config.localAddress ?? config.routerId;
    this.igpCost = config.igpCost ?? (() => 0);
    this.nextHopReachable = config.nextHopReachable ?? (() => true);
    this.feedEnabled = config.routeChanges ?? true;
    this.ipv4 = new Table('ipv4-unicast', undefined);
    this.vpn = new Table('vpn-ipv4', undefined);
    this.rtm = new Table('rt-membership', undefined);
    this.vpn.subscribers.push({ bestChanged: (d, old) => this.vpnBestChanged(d as Destination<'vpn-ipv4'>, old) });
    (config.vrfs ?? []).forEach((vc, i) => {
      assert(!this.vrfByName.has(vc.name), `BgpRouter: VRF ${vc.name} configured twice`);
      const vrf = new Vrf(vc, VRF_LABEL_BASE + i, new Table('ipv4-unicast', vc.name));
      const hook: TableSubscriber = { bestChanged: (d, old) => this.vrfBestChanged(vrf, d as Destination<'ipv4-unicast'>, old) };
      vrf.table.subscribers.push(hook);
      this.vrfByName.set(vc.name, vrf);
    });
    const addresses = new Set<number>([this.routerId, this.localAddress]);
    config.peers.forEach((pc, i) => {
      assert(!this.peers.has(pc.id), `BgpRouter: peer ${pc.id} configured twice`);
      const vrf = pc.vrf === undefined ? undefined : this.vrfByName.get(pc.vrf);
      assert(pc.vrf === undefined || vrf !== undefined, `BgpRouter: peer ${pc.id} attached to unknown VRF ${pc.vrf}`);
      const p = new PeerState(pc, i, this.localAs, this.localAddress, vrf);
      assert(!p.routeReflectorClient || p.internal, `BgpRouter: route reflector client ${pc.id} must be internal (RFC 4456 §5)`);
      addresses.add(p.localAddress);
      this.peers.set(pc.id, p);
    });
    this.policy = {
      localAs: this.localAs,
      routerId: this.routerId,
      clusterId: this.clusterId,
      localAddresses: addresses,
      ebgpLocalPref: config.ebgpLocalPref ?? 100,
    };
    // RFC 4684 §4: one membership route per route target our VRFs import.
    const seen = new Set<string>();
    for (const vrf of this.vrfByName.values()) {
      for (const rt of vrf.importRouteTargets) {
        const m = membershipFor(this.localAs, rt);
        const key = formatNlri('rt-membership', m);
        if (seen.has(key)) continue;
        seen.add(key);
        this.addLocal(this.rtm, this.localSource, m, new RouteAttributes(this.originList({}), this.localAddress));
      }
    }
    // RFC 4684 §3.2: a reflector asks its clients for every VPN route with the default membership.
    const hasClients = [...this.peers.values()].some((p) => p.routeReflectorClient);
    if (hasClients && (config.defaultRouteTargetToClients ?? true)) {
      this.addLocal(this.rtm, this.localSource, defaultMembership(), new RouteAttributes(this.originList({}), this.localAddress, true));
    }
  }

  // --- Session events. ---

  /** The session reached Established (RFC 4271 §8.2.2): the peer joins its update group and gets a full table. */
  peerUp(id: PeerId, negotiated: NegotiatedSession): void {
    this.changes++;
    const p = this.peer(id);
    assert(!p.up, `peerUp: ${id} is already up`);
    this.settle();
    p.up = true;
    p.bgpIdentifier = negotiated.bgpIdentifier;
    p.as4 = negotiated.as4;
    p.families = new Set(p.configuredFamilies.filter((f) => negotiated.families.includes(f)));
    // RFC 4684 §4: a peer that negotiated route target membership gets only the VPN routes it asks for.
    p.rtFilter = p.families.has('rt-membership') ? new RtFilter([]) : undefined;
    p.rtFilterBefore = null;
    p.prefixCount = 0;
    this.join(p);
  }

  /** The session went down: everything the peer sent is withdrawn (RFC 4271 §8.2.2, §9). */
  peerDown(id: PeerId): void {
    this.changes++;
    const p = this.peer(id);
    if (!p.up) return;
    this.leave(p);
    p.up = false;
    for (const table of this.tablesFedBy(p)) this.removeAllFrom(p, table);
    p.prefixCount = 0;
    p.rtFilter = undefined;
    p.rtFilterBefore = null;
    this.rtDirty.delete(p);
  }

  /** RFC 2918: the peer asked for the family again; it gets the whole Adj-RIB-Out of it. */
  routeRefresh(id: PeerId, family: Family): void {
    const p = this.peer(id);
    if (!p.up || !p.group || !p.families.has(family)) return;
    this.settle();
    p.group.dump(p, [family], this.emit);
  }

  /** The capabilities to put in our OPEN to this peer (RFC 5492; RFC 4760 §8, RFC 2918, RFC 6793). */
  capabilities(id: PeerId): Capability[] {
    const p = this.peer(id);
    return [...p.configuredFamilies.map(multiprotocol), { type: 'ROUTE_REFRESH' }, { type: 'FOUR_OCTET_AS', asNumber: this.localAs }];
  }

  /**
   * One decoded UPDATE from an Established session, with the RFC 7606 outcome the codec found:
   * withdrawals (explicit, and implicit by replacement), announcements, treat-as-withdraw and
   * AFI/SAFI disable. A `session-reset` error never gets here: the session sends its NOTIFICATION.
   */
  receiveUpdate(id: PeerId, decoded: ReceivedUpdate): ReceiveResult {
    this.changes++;
    const p = this.peer(id);
    assert(p.up, `receiveUpdate: ${id} is not up`);
    const u = decoded.message;
    assert(u.type === 'UPDATE', `receiveUpdate: ${u.type} is not an UPDATE`);
    const result: ReceiveResult = { announced: 0, withdrawn: 0, ignored: 0, maxPrefixesExceeded: false };
    this.counters.updatesReceived++;
    let treatAsWithdraw = decoded.treatAsWithdraw ?? false;
    for (const e of decoded.errors) {
      if (e.severity === 'treat-as-withdraw') treatAsWithdraw = true;
      else if (e.severity === 'af-disable') {
        // RFC 7606 §2 / RFC 4760 §7: the family is disabled for the rest of the session.
        const f = e.afi !== undefined && e.safi !== undefined ? familyOf(e.afi, e.safi) : undefined;
        if (f) this.disableFamily(p, f);
      }
    }
    const mpUnreach = getAttribute(u.pathAttributes, 'MP_UNREACH_NLRI');
    const mpReach = getAttribute(u.pathAttributes, 'MP_REACH_NLRI');
    // RFC 4271 §9: withdrawals first; then announcements, each an implicit withdraw of what it replaces.
    for (const prefix of u.withdrawnRoutes) this.withdraw(p, 'ipv4-unicast', prefix, result);
    if (mpUnreach && mpUnreach.value.family !== 'other') {
      const v = mpUnreach.value;
      for (const n of v.withdrawnRoutes) this.withdraw(p, v.family, n, result);
    }
    if (!u.nlri.length && !(mpReach && mpReach.value.family !== 'other')) return result;
    const list = inboundAttributes(u.pathAttributes, p, p.as4);
    if (u.nlri.length) {
      const nh = getAttribute(u.pathAttributes, 'NEXT_HOP');
      const attrs = sharedAttributes(list, 'nlri', () => new RouteAttributes(list, nh ? nh.value : 0));
      const asWithdraw = treatAsWithdraw || nh === undefined || leftmostAsMismatch(attrs, p, p.config.asNumber);
      this.announce(p, 'ipv4-unicast', u.nlri, attrs, asWithdraw, result);
    }
    if (mpReach && mpReach.value.family !== 'other') {
      const v = mpReach.value;
      const attrs = sharedAttributes(list, 'mp', () => new RouteAttributes(list, v.nextHop));
      const asWithdraw = treatAsWithdraw || leftmostAsMismatch(attrs, p, p.config.asNumber);
      this.announce(p, v.family, v.nlri as NlriOf[Family][], attrs, asWithdraw, result);
    }
    return result;
  }

  // --- Local routes. ---

  /** Originates `prefix` into the global IPv4 table, or into a VRF (and from there VPN-IPv4). */
  originate(prefix: Ipv4Prefix, attributes: OriginateAttributes = {}, vrf?: string): void {
    this.changes++;
    const { table, source } = this.originTarget(vrf);
    const p: Ipv4Prefix = { family: 4, addr: (prefix.addr & ipv4Mask(prefix.len)) >>> 0, len: prefix.len };
    this.addLocal(table, source, p, new RouteAttributes(this.originList(attributes), attributes.nextHop ?? this.localAddress));
  }

  withdrawOriginated(prefix: Ipv4Prefix, vrf?: string): void {
    this.changes++;
    const { table, source } = this.originTarget(vrf);
    const dest = table.get({ family: 4, addr: (prefix.addr & ipv4Mask(prefix.len)) >>> 0, len: prefix.len });
    if (dest && removePath(dest, source)) this.markDirty(dest);
  }

  /** The IGP changed: every route's NEXT_HOP reachability and cost are looked at again. */
  nextHopsChanged(): void {
    this.changes++;
    for (const t of this.allTables()) for (const d of t.values()) this.markDirty(d);
  }

  // --- Outputs. ---

  /** The next UPDATE to send, or undefined when there is none. */
  poll(): BgpOutput | undefined {
    for (let flushed = false; ; flushed = true) {
      while (this.queueHead < this.queue.length) {
        const b = this.queue[this.queueHead]!;
        if (b.r >= b.recipients.length) {
          this.queueHead++;
          continue;
        }
        const peer = b.recipients[b.r]!;
        const bytes = b.messages[b.m]!;
        if (++b.m >= b.messages.length) {
          b.m = 0;
          b.r++;
        }
        this.counters.updatesSent++;
        return { kind: 'update', peer: peer.id, bytes };
      }
      this.queue = [];
      this.queueHead = 0;
      // The queue is refilled only once it is empty: it never holds more than one flush.
      if (flushed) return undefined;
      this.flush();
    }
  }

  /** The next best-route change (each destination at most once, with its state at the time of asking). */
  pollRouteChange(): RouteChange | undefined {
    this.settle();
    while (this.feedHead < this.feed.length) {
      const dest = this.feed[this.feedHead++]!;
      dest.flags &= ~DEST_IN_FEED;
      const change = new Change(dest, dest.best);
      dest.table.release(dest);
      return change;
    }
    this.feed = [];
    this.feedHead = 0;
    return undefined;
  }

  // --- Inspection. ---

  /**
   * A number that grows whenever a RIB may have changed (every input that adds, replaces or removes
   * a path or a peer); equal numbers mean equal Adj-RIBs-In, Loc-RIBs and VRF tables. Lets a reader
   * skip re-reading tables that did not change (convergence sampling).
   */
  get version(): number {
    return this.changes;
  }

  /** The Loc-RIB of a table: the best route of every destination. */
  locRib(table: TableRef = 'ipv4-unicast'): RouteView[] {
    this.settle();
    const out: RouteView[] = [];
    for (const d of this.table(table).values()) if (d.best) out.push(this.view(d, d.best));
    return out;
  }

  /** Number of destinations with a best route in a table (counting stops past `stopAfter`). */
  locRibSize(table: TableRef = 'ipv4-unicast', stopAfter = Infinity): number {
    this.settle();
    let n = 0;
    for (const d of this.table(table).values()) if (d.best && ++n > stopAfter) break;
    return n;
  }

  /** A VRF's table (RFC 4364 §3): its CE routes, local routes and imported VPN routes, best ones. */
  vrfRib(vrf: string): RouteView[] {
    return this.locRib({ vrf });
  }

  /** Every route to one destination, with the decision step that chose or removed each. */
  explain(table: TableRef, nlri: NlriOf[Family]): RouteView[] {
    this.settle();
    const t = this.table(table) as Table;
    const dest = t.get(nlri);
    if (!dest) return [];
    const paths = pathsOf(dest);
    const eligible = paths.filter((p) => this.eligible(p));
    const sel = selectBest(eligible.map((p) => this.candidate(p)));
    return paths.map((p) => {
      const v = this.view(dest, p);
      const i = eligible.indexOf(p);
      v.eliminatedBy = i >= 0 ? sel.eliminatedBy[i] : undefined;
      if (!v.ineligible && i < 0) v.ineligible = 'next-hop-unreachable';
      return v;
    });
  }

  /** The routes a peer sent us (RFC 4271 §3.2 Adj-RIB-In), ineligible ones included. */
  adjRibIn(id: PeerId): RouteView[] {
    const p = this.peer(id);
    this.settle();
    const out: RouteView[] = [];
    for (const t of this.tablesFedBy(p)) {
      for (const d of t.values()) {
        const path = pathFrom(d, p);
        if (path) out.push(this.view(d, path));
      }
    }
    return out;
  }

  /** The routes we advertise to a peer (RFC 4271 §3.2 Adj-RIB-Out), attributes as sent. */
  adjRibOut(id: PeerId): RouteView[] {
    const p = this.peer(id);
    this.flush();
    if (!p.group) return [];
    const out: RouteView[] = [];
    for (const [dest, exp] of p.group.adjRibOut(p)) out.push(this.exportView(dest, exp));
    return out;
  }

  vrfs(): VrfView[] {
    this.settle();
    return [...this.vrfByName.values()].map((v) => ({
      name: v.name,
      rd: v.rd,
      label: v.label,
      importRouteTargets: v.importRouteTargets,
      exportRouteTargets: v.exportRouteTargets,
      attachments: [...this.peers.values()].filter((p) => p.vrf === v).map((p) => p.id),
      routes: [...v.table.values()].filter((d) => d.best).length,
    }));
  }

  /** The update groups and their members (peers that share every encoding). */
  updateGroups(): { key: string; members: PeerId[] }[] {
    return [...this.groups.values()].map((g) => ({ key: g.key, members: g.members.map((m) => m.id) }));
  }

  stats(): BgpRouterStats {
    const destinations = this.allTables().reduce((n, t) => n + t.size, 0);
    return { ...this.counters, updateGroups: this.groups.size, destinations };
  }

  // --- Receiving. ---

  private peer(id: PeerId): PeerState {
    const p = this.peers.get(id);
    assert(p !== undefined, `BgpRouter: unknown peer ${id}`);
    return p;
  }

  /** The table a peer's routes of `family` go to, or undefined when the session does not carry it. */
  private tableFor(p: PeerState, family: Family): Table | undefined {
    if (!p.families.has(family)) return undefined;
    if (p.vrf) return family === 'ipv4-unicast' ? p.vrf.table : undefined;
    return this.globalTable(family);
  }

  private tablesFedBy(p: PeerState): Table[] {
    return p.vrf ? [p.vrf.table] : [this.ipv4, this.vpn, this.rtm];
  }

  private withdraw<F extends Family>(p: PeerState, family: F, nlri: NlriOf[F], result: ReceiveResult): void {
    const table = this.tableFor(p, family) as Table<F> | undefined;
    if (!table) {
      result.ignored++;
      return;
    }
    this.counters.withdrawalsReceived++;
    const dest = table.get(nlri);
    if (!dest || !removePath(dest, p)) return;
    p.prefixCount--;
    result.withdrawn++;
    this.markDirty(dest);
    if (family === 'rt-membership') this.markRtDirty(p);
  }

  private announce<F extends Family>(p: PeerState, family: F, nlris: readonly NlriOf[F][], attrs: RouteAttributes, asWithdraw: boolean, result: ReceiveResult): void {
    const table = this.tableFor(p, family) as Table<F> | undefined;
    if (!table) {
      result.ignored += nlris.length;
      return;
    }
    if (asWithdraw) {
      // RFC 7606 §2 treat-as-withdraw: every NLRI of the UPDATE is handled as withdrawn.
      this.counters.treatAsWithdraw++;
      for (const n of nlris) this.withdraw(p, family, n, result);
      return;
    }
    const ineligible = ineligibility(attrs, p, this.policy, family);
    const max = p.config.maxPrefixes ?? Infinity;
    this.counters.prefixesReceived += nlris.length;
    // One path for every prefix of the UPDATE (they share source and attributes); VPN-IPv4 routes
    // each have their own label stack.
    const shared = family === 'vpn-ipv4' ? undefined : new Path(p, attrs, undefined, ineligible);
    for (const n of nlris) {
      const dest = table.getOrCreate(n);
      const path = shared ?? new Path(p, attrs, (n as VpnIpv4Nlri).labels, ineligible);
      if (!setPath(dest, path)) {
        // A new prefix from this peer (not an implicit withdraw): counts against maxPrefixes.
        if (p.prefixCount >= max) {
          removePath(dest, p);
          result.maxPrefixesExceeded = true;
          table.release(dest);
          continue;
        }
        p.prefixCount++;
      }
      result.announced++;
      this.markDirty(dest);
    }
    if (family === 'rt-membership') this.markRtDirty(p);
  }

  private disableFamily(p: PeerState, family: Family): void {
    if (!p.families.has(family)) return;
    const table = this.tableFor(p, family);
    if (table) this.removeAllFrom(p, table);
    // The family leaves the session in both directions: the peer moves to the group without it and
    // is sent that group's Adj-RIB-Out afresh (an RFC 4684 filter goes with the family).
    this.leave(p);
    p.families.delete(family);
    if (family === 'rt-membership') p.rtFilter = undefined;
    p.rtFilterBefore = null;
    this.rtDirty.delete(p);
    this.join(p);
  }

  private removeAllFrom(p: PeerState, table: Table): void {
    for (const d of table.values()) {
      if (removePath(d, p)) {
        this.markDirty(d);
        if (table.family === 'rt-membership') this.markRtDirty(p);
      }
    }
  }

  private markRtDirty(p: PeerState): void {
    if (p.rtFilter !== undefined) this.rtDirty.add(p);
  }

  // --- Local routes. ---

  private originTarget(vrf: string | undefined): { table: Table<'ipv4-unicast'>; source: LocalSource } {
    if (vrf === undefined) return { table: this.ipv4, source: this.localSource };
    const v = this.vrfByName.get(vrf);
    assert(v !== undefined, `originate: unknown VRF ${vrf}`);
    return { table: v.table, source: v.localSource };
  }

  private originList(a: OriginateAttributes): PathAttribute[] {
    const list: PathAttribute[] = [attribute('ORIGIN', a.origin ?? ORIGIN_IGP), attribute('AS_PATH', a.asPath ?? [])];
    if (a.med !== undefined) list.push(attribute('MULTI_EXIT_DISC', a.med));
    if (a.localPref !== undefined) list.push(attribute('LOCAL_PREF', a.localPref));
    if (a.communities?.length) list.push(attribute('COMMUNITIES', a.communities));
    if (a.extendedCommunities?.length) list.push(attribute('EXTENDED_COMMUNITIES', a.extendedCommunities));
    return list.sort((x, y) => typeCodeOf(x) - typeCodeOf(y));
  }

  private addLocal<F extends Family>(table: Table<F>, source: LocalSource, nlri: NlriOf[F], attrs: RouteAttributes): void {
    const dest = table.getOrCreate(nlri);
    setPath(dest, new Path(source, attrs, undefined, undefined));
    this.markDirty(dest);
  }

  // --- The decision process (RFC 4271 §9.1). ---

  private markDirty(dest: Destination): void {
    this.changes++;
    if (dest.flags & DEST_DIRTY) return;
    dest.flags |= DEST_DIRTY;
    this.dirty.push(dest);
  }

  /** RFC 4271 §9.1.2: a route takes part when nothing ruled it out at receipt and its NEXT_HOP resolves. */
  private eligible(p: Path): boolean {
    if (p.ineligible) return false;
    return p.peer === undefined || this.nextHopReachable(p.attrs.nextHop);
  }

  private candidate(p: Path): Candidate {
    const a = p.attrs;
    const peer = p.peer;
    const s = p.source;
    return {
      path: p,
      localPref: preferenceOf(p, this.policy),
      asPathLength: a.asPathLength,
      origin: a.origin,
      neighborAs: a.neighborAs,
      med: a.med ?? 0,
      internal: peer?.internal ?? false,
      igpCost: peer ? this.igpCost(a.nextHop) : 0,
      bgpIdentifier: a.originatorId ?? peer?.bgpIdentifier ?? this.routerId,
      clusterListLength: a.clusterList?.length ?? 0,
      peerAddress: peer?.address ?? 0,
      tiebreak: s.kind === 'peer' ? s.order : s.kind === 'import' ? 1e9 + s.order : -1,
    };
  }

  /** Runs the decision process for every marked destination, then what depends on it, until stable. */
  private settle(): void {
    if (!this.dirty.length && !this.rtDirty.size) return;
    let rounds = 0;
    while (this.dirty.length) {
      // VRF export feeds VPN-IPv4, VPN import feeds VRFs: two hops, never a cycle.
      assert(++rounds <= 8, 'settle: VRF import/export did not converge');
      const batch = this.dirty;
      this.dirty = [];
      for (const d of batch) {
        d.flags &= ~DEST_DIRTY;
        this.decide(d);
      }
    }
    for (const p of this.rtDirty) {
      if (!p.up || p.rtFilter === undefined) continue;
      const wanted: RtMembershipNlri[] = [];
      for (const d of this.rtm.values()) {
        const path = pathFrom(d, p);
        if (path && !path.ineligible) wanted.push(nlriOf(d));
      }
      const f = new RtFilter(wanted);
      if (f.signature !== p.rtFilter.signature) {
        if (p.rtFilterBefore === null) p.rtFilterBefore = p.rtFilter;
        p.rtFilter = f;
      }
    }
    this.rtDirty.clear();
  }

  private decide(dest: Destination): void {
    this.counters.decisions++;
    const old = dest.best;
    const ps = dest.paths;
    let best: Path | undefined;
    let reason: DecisionReason = 'only-candidate';
    if (ps instanceof Path) {
      best = this.eligible(ps) ? ps : undefined;
    } else if (ps) {
      const cands: Candidate[] = [];
      for (const p of ps) if (this.eligible(p)) cands.push(this.candidate(p));
      const sel = selectBest(cands);
      best = sel.best?.path;
      reason = sel.reason;
    }
    dest.best = best;
    dest.reason = reason;
    if (best !== old) {
      if (this.feedEnabled && !(dest.flags & DEST_IN_FEED)) {
        dest.flags |= DEST_IN_FEED;
        this.feed.push(dest);
      }
      for (const s of dest.table.subscribers) s.bestChanged(dest, old);
    }
    dest.table.release(dest);
  }

  // --- RFC 4364: VRF export and VPN import. ---

  /** RFC 4364 §4.3.1: a VRF's best route from a CE (or our own) becomes a VPN-IPv4 route. */
  private vrfBestChanged(vrf: Vrf, dest: Destination<'ipv4-unicast'>, _old: Path | undefined): void {
    const best = dest.best;
    const nlri: VpnIpv4Nlri = { labels: [vrf.label], rd: vrf.rd, prefix: nlriOf(dest) };
    // Imported routes are not exported again (they came from another PE); CE and local ones are.
    if (best && best.source.kind !== 'import') {
      const vd = this.vpn.getOrCreate(nlri);
      const attrs = vrf.exportAttributes(best.attrs, this.localAddress, preferenceOf(best, this.policy));
      setPath(vd, new Path(vrf.exportSource, attrs, [vrf.label], undefined));
      this.markDirty(vd);
    } else {
      const vd = this.vpn.get(nlri);
      if (vd && removePath(vd, vrf.exportSource)) this.markDirty(vd);
    }
  }

  /** RFC 4364 §4.3.1: a VPN-IPv4 best route goes into every VRF that imports one of its route targets. */
  private vpnBestChanged(vd: Destination<'vpn-ipv4'>, old: Path | undefined): void {
    const best = vd.best;
    const prefix = nlriOf(vd).prefix;
    for (const vrf of this.vrfByName.values()) {
      // A VRF never imports its own export (it has the CE route itself).
      const own = (p: Path): boolean => p.source.kind === 'vrf-export' && p.source.vrf === vrf.name;
      const want = best !== undefined && !own(best) && vrf.imports(best.attrs);
      const had = old !== undefined && !own(old) && vrf.imports(old.attrs);
      if (!want && !had) continue;
      const src = (vd.importSource ??= { kind: 'import', from: vd, order: ++this.importSources });
      if (want) {
        const d = vrf.table.getOrCreate(prefix);
        setPath(d, new ImportedPath(src, best));
        this.markDirty(d);
      } else {
        const d = vrf.table.get(prefix);
        if (d && removePath(d, src)) this.markDirty(d);
      }
    }
  }

  // --- Update groups (RFC 4271 §9.2). ---

  private groupPolicy(p: PeerState): GroupPolicy {
    return {
      internal: p.internal,
      routeReflectorClient: p.routeReflectorClient,
      localAddress: p.localAddress,
      nextHopSelf: p.config.nextHopSelf ?? false,
      as4: p.as4,
      vrf: p.vrf?.name,
      families: FAMILIES.filter((f) => p.families.has(f)),
    };
  }

  private join(p: PeerState): void {
    const g = this.groupPolicy(p);
    const key = `${g.vrf ?? '-'}|${g.internal ? 'ibgp' : 'ebgp'}|${g.routeReflectorClient ? 'client' : ''}|${g.localAddress}|${g.nextHopSelf ? 'nhs' : ''}|${g.as4 ? 'as4' : 'as2'}|${g.families.join(',')}`;
    let group = this.groups.get(key);
    if (!group) {
      const tables = g.vrf !== undefined ? (g.families.includes('ipv4-unicast') ? [p.vrf!.table] : []) : g.families.map((f) => this.globalTable(f));
      group = new UpdateGroup(++updateGroupIds, key, g, tables, this.policy, this.counters);
      this.groups.set(key, group);
    }
    p.group = group;
    group.addMember(p, this.emit);
  }

  private leave(p: PeerState): void {
    const group = p.group;
    if (!group) return;
    group.members.splice(group.members.indexOf(p), 1);
    p.group = undefined;
    if (!group.members.length) {
      group.dispose();
      this.groups.delete(group.key);
    }
    // Queued UPDATEs for the old session are dropped.
    for (let i = this.queueHead; i < this.queue.length; i++) {
      const b = this.queue[i]!;
      const at = b.recipients.indexOf(p);
      if (at < 0) continue;
      const recipients = b.recipients.filter((r) => r !== p);
      this.queue[i] = { ...b, recipients, r: at < b.r ? b.r - 1 : b.r, m: at === b.r ? 0 : b.m };
    }
  }

  private readonly emit = (messages: readonly Uint8Array[], recipients: readonly GroupMember[]): void => {
    this.queue.push({ messages, recipients, r: 0, m: 0 });
  };

  private flush(): void {
    this.settle();
    for (const g of this.groups.values()) g.flush(this.emit);
  }

  // --- Tables and views. ---

  private globalTable(f: Family): Table {
    return f === 'ipv4-unicast' ? this.ipv4 : f === 'vpn-ipv4' ? this.vpn : this.rtm;
  }

  private allTables(): Table[] {
    return [this.ipv4, this.vpn, this.rtm, ...[...this.vrfByName.values()].map((v) => v.table)];
  }

  private table(ref: TableRef): Table {
    if (typeof ref === 'string') return this.globalTable(ref);
    const v = this.vrfByName.get(ref.vrf);
    assert(v !== undefined, `unknown VRF ${ref.vrf}`);
    return v.table;
  }

  private view(dest: Destination, p: Path): RouteView {
    return new PathView(dest, p);
  }

  private exportView(dest: Destination, exp: Export): RouteView {
    const family = dest.table.family;
    const nlri = nlriOf(dest);
    const best = dest.best;
    const ext = exp.out.list.flatMap((a) => (a.type === 'EXTENDED_COMMUNITIES' ? a.value : []));
    const sgi = ext.find((ec): ec is SecurityGatewayIdentity => ec.type === 'SECURITY_GATEWAY_IDENTITY');
    return {
      family,
      vrf: dest.table.vrf,
      nlri: formatNlri(family, nlri),
      prefix: prefixOf(dest),
      rd: family === 'vpn-ipv4' ? (nlri as VpnIpv4Nlri).rd : undefined,
      membership: family === 'rt-membership' ? (nlri as RtMembershipNlri) : undefined,
      labels: exp.labels,
      nextHop: exp.out.nextHop,
      attributes: exp.out.list.filter((a) => a.type !== 'NEXT_HOP'),
      from: best ? sourceName(best) : 'local',
      best: true,
      reason: dest.reason,
      eliminatedBy: undefined,
      ineligible: undefined,
      securityGatewayIdentity: sgi,
      extendedCommunities: ext,
    };
  }
}

/** A RIB path seen from outside; strings are formatted only when read. */
class PathView implements RouteView {
  readonly best: boolean;
  readonly reason: DecisionReason | undefined;
  eliminatedBy: DecisionReason | undefined = undefined;
  ineligible: IneligibleReason | undefined;

  constructor(
    private readonly dest: Destination,
    private readonly path: Path,
  ) {
    this.best = dest.best === path;
    this.reason = this.best ? dest.reason : undefined;
    this.ineligible = path.ineligible;
  }

  get family(): Family {
    return this.dest.table.family;
  }

  get vrf(): string | undefined {
    return this.dest.table.vrf;
  }

  get nlri(): string {
    return formatNlri(this.family, nlriOf(this.dest));
  }

  get prefix(): Ipv4Prefix | undefined {
    return prefixOf(this.dest);
  }

  get rd(): RouteDistinguisher | undefined {
    return this.family === 'vpn-ipv4' ? (nlriOf(this.dest) as VpnIpv4Nlri).rd : undefined;
  }

  get membership(): RtMembershipNlri | undefined {
    return this.family === 'rt-membership' ? (nlriOf(this.dest) as RtMembershipNlri) : undefined;
  }

  get labels(): readonly number[] | undefined {
    return this.path.labels;
  }

  get nextHop(): number {
    return this.path.attrs.nextHop;
  }

  get attributes(): readonly PathAttribute[] {
    return this.path.attrs.list;
  }

  get from(): string {
    return sourceName(this.path);
  }

  get securityGatewayIdentity(): SecurityGatewayIdentity | undefined {
    return this.path.attrs.securityGatewayIdentity;
  }

  get extendedCommunities(): readonly ExtendedCommunity[] {
    return this.path.attrs.extendedCommunities;
  }
}

/** One entry of the change feed: the destination and the best path at the time it was polled. */
class Change implements RouteChange {
  constructor(
    private readonly dest: Destination,
    private readonly path: Path | undefined,
  ) {}

  get family(): Family {
    return this.dest.table.family;
  }

  get vrf(): string | undefined {
    return this.dest.table.vrf;
  }

  get nlri(): string {
    return formatNlri(this.family, nlriOf(this.dest));
  }

  get prefix(): Ipv4Prefix | undefined {
    return prefixOf(this.dest);
  }

  get rd(): RouteDistinguisher | undefined {
    return this.family === 'vpn-ipv4' ? (nlriOf(this.dest) as VpnIpv4Nlri).rd : undefined;
  }

  get best(): RouteView | undefined {
    return this.path && new PathView(this.dest, this.path);
  }
}

/** How a path's source reads in views: a peer id, `local`, `vrf NAME`, `import PEER`. */
function sourceName(p: Path): string {
  const s = p.source;
  switch (s.kind) {
    case 'peer':
      return s.id;
    case 'local':
      return 'local';
    case 'vrf-export':
      return `vrf ${s.vrf}`;
    case 'import': {
      const o = p.origin.source;
      return `import ${o.kind === 'peer' ? o.id : o.kind === 'vrf-export' ? `vrf ${o.vrf}` : 'local'}`;
    }
  }
}

function prefixOf(dest: Destination): Ipv4Prefix | undefined {
  const f = dest.table.family;
  if (f === 'ipv4-unicast') return nlriOf(dest) as Ipv4Prefix;
  if (f === 'vpn-ipv4') return (nlriOf(dest) as VpnIpv4Nlri).prefix;
  return undefined;
}

