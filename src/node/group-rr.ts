// The S/R device's reflection pacing (seed 001 FIG. 4 step 106 at scale): a RouteProcessor in front of
// the route reflector that lets UPDATEs out at most once per interval, in the spirit of RFC 4271
// §9.2.1.1's MinRouteAdvertisementIntervalTimer. Owns only the pacing; never decides routes.
//
// Without it every member route that arrives is reflected at once to every other member: N·(N−1)
// UPDATEs in N·(N−1) TCP segments. Held for an interval, the routes that arrived meanwhile leave
// together, and each member's share goes out in a few full segments.
//
// An S/R serving several groups reflects per group (GroupReflector): one BgpRouter per group whose
// route-reflector clients are that group's members, so a member's routes reach only the members of
// its groups — even where two groups use the same prefixes — over the one BGP session per member.

import type { Ipv4Prefix } from '../lib/addr.ts';
import { packWithdrawals, type Decoded } from '../proto/bgp/index.ts';
import type { BgpRouter, BgpRouterStats } from '../proto/bgp/router.ts';
import type { PeerInfo } from '../proto/bgp/session.ts';
import type { RouteProcessor } from './bgp-app.ts';
import type { RouterProcessor } from './bgp-rib.ts';
import { sharedPrefixText } from './group-esp.ts';
import type { NodeApp, SnapshotPurpose } from './types.ts';

/** Default pacing interval. */
export const REFLECT_INTERVAL_US = 100_000;
/** Past this many Loc-RIB routes the snapshot gives counts, not every route of every peer. */
export const SNAPSHOT_ROUTES_MAX = 64;

/**
 * A summarised RIB (past SNAPSHOT_ROUTES_MAX). On the S/R (`lists`): each Loc-RIB as the list of its
 * prefixes (shared strings: O(routes), not the 10⁶ paths of its Adj-RIBs-Out), so every reader that
 * takes a RIB's size as its list's length (the report's ribSizes, the console) reads the right count.
 * No Adj-RIB-In (the report leaves it out of its totals). Elsewhere (a member: N members × N routes
 * would cost O(N²) per snapshot), and for the convergence check (it reads no RIB here: a member's
 * learned prefixes are its data plane's), the Loc-RIB count only.
 */
function summarizedRib(routers: readonly BgpRouter[], purpose: SnapshotPurpose | undefined, lists: boolean): Record<string, unknown> {
  // The convergence check reads no RIB size (and the group app lists the routes in force): no count.
  if (purpose === 'convergence' || purpose === 'sessions') return { summarized: true };
  const stats = sumStats(routers.map((r) => r.stats()));
  if (!lists) return { locRib: { 'ipv4-unicast': routers.reduce((n, r) => n + r.locRibSize('ipv4-unicast'), 0) }, summarized: true, stats };
  const prefixes = (family: 'ipv4-unicast' | 'vpn-ipv4') => routers.flatMap((r) => r.locRib(family).map((v) => (v.prefix ? sharedPrefixText(v.prefix as Ipv4Prefix) : v.nlri)));
  return { locRib: { 'ipv4-unicast': prefixes('ipv4-unicast'), 'vpn-ipv4': prefixes('vpn-ipv4') }, summarized: true, stats };
}

function sumStats(all: BgpRouterStats[]): BgpRouterStats {
  if (all.length === 1) return all[0]!;
  const out = { ...all[0]! } as Record<string, number>;
  for (const s of all.slice(1)) for (const [k, v] of Object.entries(s)) if (typeof v === 'number') out[k] = (out[k] ?? 0) + v;
  return out as unknown as BgpRouterStats;
}

export class PacedProcessor implements RouteProcessor {
  private dueUs: number | undefined;
  private releasing = false;
  /** Told to hand the pending UPDATEs to the sessions (BgpApp.flushUpdates). */
  flush: ((nowUs: number) => void) | undefined;
  readonly counters = { flushes: 0 };

  /** `intervalUs` 0: no pacing (UPDATEs leave as they are made), only the bounded snapshot. */
  constructor(
    readonly inner: RouterProcessor | GroupReflector,
    readonly intervalUs = REFLECT_INTERVAL_US,
  ) {
    // A membership change the reflector applies by itself has UPDATEs to let out too.
    if (inner instanceof GroupReflector) inner.changed = (nowUs) => this.touch(nowUs);
  }

  /** The RIB as the BGP app shows it: in full while small, else summarised (a 1000-member S/R holds 10⁶ paths). */
  ribSnapshot(purpose?: SnapshotPurpose): Record<string, unknown> {
    const inner = this.inner;
    if (inner instanceof GroupReflector) return inner.snapshot(purpose, this.intervalUs === 0);
    const routes = inner.router.locRibSize('ipv4-unicast', SNAPSHOT_ROUTES_MAX);
    if (routes <= SNAPSHOT_ROUTES_MAX) return inner.snapshot(purpose, this.intervalUs === 0);
    return summarizedRib([inner.router], purpose, this.intervalUs > 0);
  }

  version(): number {
    return this.inner.version();
  }

  private touch(nowUs: number): void {
    if (this.intervalUs === 0) return;
    if (this.dueUs === undefined) this.dueUs = nowUs + this.intervalUs;
  }

  peerUp(peer: string, info: PeerInfo, nowUs: number): void {
    this.inner.peerUp(peer, info, nowUs);
    this.touch(nowUs);
  }

  peerDown(peer: string, nowUs: number): void {
    this.inner.peerDown(peer, nowUs);
    this.touch(nowUs);
  }

  receiveUpdate(peer: string, decoded: Decoded, nowUs: number): void {
    this.inner.receiveUpdate(peer, decoded, nowUs);
    this.touch(nowUs);
  }

  poll(): { peer: string; bytes: Uint8Array } | undefined {
    return this.releasing || this.intervalUs === 0 ? this.inner.poll() : undefined;
  }

  /** The node app that wakes the pacing (host it on the node next to the BGP app). */
  app(): NodeApp {
    return {
      name: 'rr-pacing',
      receive: () => false,
      timer: (nowUs) => this.timer(nowUs),
      nextDeadlineUs: () => this.dueUs,
      snapshot: () => ({ intervalUs: this.intervalUs, ...this.counters }),
      stateVersion: () => 0, // counters only
    };
  }

  private timer(nowUs: number): void {
    if (this.dueUs === undefined || this.dueUs > nowUs) return;
    this.dueUs = undefined;
    this.releasing = true;
    try {
      this.counters.flushes++;
      this.flush?.(nowUs);
    } finally {
      this.releasing = false;
    }
  }

  /** RouteProcessor's snapshot (what BgpApp shows as `rib`). */
  snapshot(purpose?: SnapshotPurpose): Record<string, unknown> {
    return this.ribSnapshot(purpose);
  }
}

/** Several groups: UPDATEs kept per member session to replay into a group it joins while up (else the session restarts). */
export const REPLAY_UPDATES_MAX = 256;

/**
 * The route reflection of an S/R serving several groups (RFC 4456 per group): one RouterProcessor
 * per group, its clients that group's members. A member's session feeds the routers of the groups
 * it is registered in (`setMember`). A change while the session is up is applied in place: joining
 * replays the member's UPDATEs into the group's router (which then reflects the group's routes to
 * it); leaving takes the member out of the router (its routes are withdrawn from the group) and
 * withdraws from the member the group's routes no other group of it still gives it. Owns the
 * per-group dispatch only; each router decides its own routes.
 */
export class GroupReflector implements RouteProcessor {
  /** Per group index: the member nodes registered now. */
  private readonly members: Set<string>[];
  /** Per peer with a session up: the groups its session feeds, its OPEN, its UPDATEs so far. */
  private readonly active = new Map<string, { groups: number[]; info: PeerInfo; updates: Decoded[] | undefined }>();
  private readonly peersOf: Set<string>[];
  /** Withdrawals for members that left a group, sent after what the routers have queued. */
  private readonly extra: { peer: string; bytes: Uint8Array }[] = [];
  private extraChanges = 0;
  /** Told when `setMember` made UPDATEs (the pacing lets them out). */
  changed: ((nowUs: number) => void) | undefined;

  /** `groupIds` label the routes of each group in the snapshot; `peers` are each group's member nodes. */
  constructor(
    readonly groups: readonly RouterProcessor[],
    readonly groupIds: readonly number[],
    peers: readonly (readonly string[])[],
  ) {
    this.members = groups.map(() => new Set());
    this.peersOf = peers.map((p) => new Set(p));
  }

  /**
   * A member node joined or left group index `group`. Applied at once to an up session; true when
   * it could not be (too many UPDATEs to replay): the caller then restarts the session.
   */
  setMember(peer: string, group: number, member: boolean, nowUs = 0): boolean {
    if (member) this.members[group]?.add(peer);
    else this.members[group]?.delete(peer);
    const a = this.active.get(peer);
    if (!a || a.groups.includes(group) === member || !this.peersOf[group]?.has(peer)) return false;
    const router = this.groups[group]!;
    if (member) {
      if (!a.updates) return true;
      a.groups.push(group);
      router.peerUp(peer, a.info, nowUs);
      for (const u of a.updates) router.receiveUpdate(peer, u, nowUs);
      this.changed?.(nowUs);
      return false;
    }
    // What this group gave the member (pending included), before the router forgets the peer.
    const given = router.router.adjRibOut(peer).flatMap((v) => (v.prefix ? [v.prefix as Ipv4Prefix] : []));
    a.groups.splice(a.groups.indexOf(group), 1);
    router.peerDown(peer, nowUs);
    const still = new Set<string>();
    for (const g of a.groups) for (const v of this.groups[g]!.router.adjRibOut(peer)) if (v.prefix) still.add(sharedPrefixText(v.prefix as Ipv4Prefix));
    const gone = given.filter((p) => !still.has(sharedPrefixText(p)));
    if (gone.length) {
      for (const bytes of packWithdrawals(gone)) this.extra.push({ peer, bytes });
      this.extraChanges++;
    }
    this.changed?.(nowUs);
    return false;
  }

  /** The groups a peer's session feeds (for tests). */
  feeds(peer: string): readonly number[] {
    return this.active.get(peer)?.groups ?? [];
  }

  peerUp(peer: string, info: PeerInfo, nowUs: number): void {
    const gs: number[] = [];
    this.groups.forEach((_, g) => {
      if (this.members[g]!.has(peer) && this.peersOf[g]!.has(peer)) gs.push(g);
    });
    this.active.set(peer, { groups: gs, info, updates: [] });
    for (const g of gs) this.groups[g]!.peerUp(peer, info, nowUs);
  }

  peerDown(peer: string, nowUs: number): void {
    const a = this.active.get(peer);
    if (!a) return;
    this.active.delete(peer);
    for (const g of a.groups) this.groups[g]!.peerDown(peer, nowUs);
  }

  receiveUpdate(peer: string, decoded: Decoded, nowUs: number): void {
    const a = this.active.get(peer);
    if (!a) return;
    if (a.updates) {
      if (a.updates.length < REPLAY_UPDATES_MAX) a.updates.push(decoded);
      else a.updates = undefined; // too many to replay: a join restarts the session instead
    }
    for (const g of a.groups) this.groups[g]!.receiveUpdate(peer, decoded, nowUs);
  }

  poll(): { peer: string; bytes: Uint8Array } | undefined {
    for (const r of this.groups) {
      const o = r.poll();
      if (o) return o;
    }
    return this.extra.shift();
  }

  version(): number {
    let v = this.extraChanges;
    for (const r of this.groups) v += r.version();
    return v;
  }

  /**
   * Every group's RIBs in one: the lists of all groups, each route naming its `group` (the same
   * prefix may be in several). Summarised past SNAPSHOT_ROUTES_MAX Loc-RIB routes in all, as above.
   */
  snapshot(purpose?: SnapshotPurpose, withAdjRibOut = true): Record<string, unknown> {
    const routers = this.groups.map((r) => r.router);
    if (routers.reduce((n, r) => n + r.locRibSize('ipv4-unicast'), 0) > SNAPSHOT_ROUTES_MAX) return summarizedRib(routers, purpose, true);
    const merged: Record<string, unknown> = {};
    this.groups.forEach((r, g) => {
      const snap = r.snapshot(purpose, withAdjRibOut);
      const tag = (v: unknown[]): unknown[] => v.map((x) => (x && typeof x === 'object' ? { group: this.groupIds[g], ...x } : x)); // routes name their group; bare prefixes stay
      for (const [k, v] of Object.entries(snap)) {
        if (k === 'stats') continue;
        if (Array.isArray(v)) merged[k] = [...((merged[k] as unknown[]) ?? []), ...tag(v)];
        else if (v && typeof v === 'object') {
          const into = (merged[k] ??= {}) as Record<string, unknown>;
          for (const [kk, vv] of Object.entries(v)) into[kk] = Array.isArray(vv) ? [...((into[kk] as unknown[]) ?? []), ...tag(vv)] : vv;
        }
      }
    });
    return { ...merged, stats: sumStats(routers.map((r) => r.stats())) };
  }
}
