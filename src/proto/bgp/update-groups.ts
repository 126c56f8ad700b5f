// Update groups: peers with the same outbound policy share one Adj-RIB-Out and one encoding of each
// UPDATE (RFC 4271 §9.2 done once per group, as GoBGP and IOS do). Builds bytes; never sends or decides.
//
// The group's Adj-RIB-Out (`out`) holds what its policy makes of each best route. What one member
// actually has is that minus two per-member filters: split horizon (a route is not sent back to the
// peer it came from) and, for VPN-IPv4, the RFC 4684 filter of the route targets the member asked
// for. Both are pure functions of the member and the export, so a member's Adj-RIB-Out is derived,
// never stored: memory is one entry per destination per group, not per peer.
//
// A flush turns the destinations whose best route changed into UPDATEs. For each change it works out
// the baseline action (what a member that is neither a source of the route nor filtered gets) and
// the few members that differ (the route's old and new source, RTC-filtering members). Members
// without a difference share one encoding per attribute set; a member that differs gets its own list
// for the attribute sets it differs in and shares the rest. Withdrawals go out before announcements.

import { assert } from '../../lib/errors.ts';
import type { Ipv4Prefix } from '../../lib/addr.ts';
import type { CodecContext, PathAttribute } from './attributes.ts';
import { AS2_CONTEXT, AS4_CONTEXT, pathAttributesBytes } from './attributes.ts';
import type { Family, RtMembershipNlri, VpnIpv4Nlri } from './nlri.ts';
import { packEncodedUpdates, packWithdrawals } from './pack.ts';
import type { GroupPolicy, RouterPolicy } from './policy.ts';
import { mayAdvertise, outboundAttributes } from './policy.ts';
import type { Destination, Path, PeerSource, Table, TableSubscriber } from './rib.ts';
import { nlriKey, nlriOf } from './rib.ts';
import type { RtFilter } from './rtc.ts';

/** What a group needs of each member (router.ts's PeerState). */
export interface GroupMember extends PeerSource {
  /** RFC 4684 outbound filter; undefined when the peer did not negotiate route target membership. */
  rtFilter: RtFilter | undefined;
  /** The filter before a change not flushed yet; null when there is none. */
  rtFilterBefore: RtFilter | undefined | null;
}

/** The attributes a group sends for one received attribute set; shared by every route that has them. */
export class OutAttributes {
  private wire: string | undefined;
  private encoded: Uint8Array | undefined;
  constructor(
    readonly list: readonly PathAttribute[],
    /** NEXT_HOP of MP_REACH_NLRI (IPv4 unicast carries it in `list`). */
    readonly nextHop: number,
    private readonly ctx: CodecContext,
  ) {}

  /** The Path Attributes field as sent, encoded once. */
  get bytes(): Uint8Array {
    return (this.encoded ??= pathAttributesBytes(this.list, this.ctx));
  }

  /** The encoded attributes as a string: equal keys mean identical UPDATEs on the wire. */
  get wireKey(): string {
    // One flat string (appending a character at a time would keep a rope of one node per octet).
    this.wire ??= `${this.nextHop}:${String.fromCharCode.apply(null, this.bytes as unknown as number[])}`;
    return this.wire;
  }
}

/**
 * A group's export of one best route. Its attributes (`out`) are worked out when first read: most
 * never are where split horizon hides a route from every member (a CE's routes from its only PE).
 */
class GroupExport implements Export {
  #out: OutAttributes | undefined;
  alone?: readonly Uint8Array[];
  readonly labels: readonly number[] | undefined;
  readonly sourcePeer: PeerSource | undefined;
  readonly routeTargetKeys: readonly string[];

  constructor(
    private readonly group: UpdateGroup,
    private readonly best: Path,
    private readonly family: Family,
  ) {
    this.labels = best.labels;
    this.sourcePeer = best.peer;
    this.routeTargetKeys = best.attrs.routeTargetKeys;
  }

  get out(): OutAttributes {
    return (this.#out ??= this.group.outAttributes(this.best, this.family));
  }
}

/** One entry of a group's Adj-RIB-Out. */
export interface Export {
  readonly out: OutAttributes;
  readonly labels: readonly number[] | undefined;
  /** The peer the best route came from: split horizon. */
  readonly sourcePeer: PeerSource | undefined;
  readonly routeTargetKeys: readonly string[];
  /**
   * The UPDATEs announcing this destination alone with this export, once encoded: a route whose
   * attributes it shares with no other (a reflected member route carries its own ORIGINATOR_ID and
   * NEXT_HOP) is encoded once for the flush that announces it and reused by every later dump to a
   * new member, instead of once per member.
   */
  alone?: readonly Uint8Array[];
}

/** Counters the groups add to (the router owns them). */
export interface GroupCounters {
  /** UPDATE messages encoded: one per distinct message, however many peers receive it. */
  updatesEncoded: number;
  /** Routes whose attributes leave no room for an NLRI in 4096 octets (never sent). */
  attributesTooLong: number;
}

export type Emit = (messages: readonly Uint8Array[], recipients: readonly GroupMember[]) => void;

const NONE = 0;
const WITHDRAW = 1;
const ANNOUNCE = 2;
type Action = typeof NONE | typeof WITHDRAW | typeof ANNOUNCE;

/** One destination whose export may have changed since the last flush. */
interface Change {
  readonly dest: Destination;
  readonly old: Export | null;
  readonly now: Export | null;
  /** Baseline action; set while flushing. */
  base: Action;
  /** Memo of `sameExport(old, now)`: undefined until asked. */
  same: boolean | undefined;
}

interface Bucket {
  readonly kind: typeof WITHDRAW | typeof ANNOUNCE;
  readonly table: Table;
  readonly items: Change[];
  excluded: Set<GroupMember> | undefined;
}

const sameLabels = (a: readonly number[] | undefined, b: readonly number[] | undefined): boolean =>
  a === b || (a !== undefined && b !== undefined && a.length === b.length && a.every((x, i) => x === b[i]));

function sameExport(a: Export, b: Export): boolean {
  return (a.out === b.out || a.out.wireKey === b.out.wireKey) && sameLabels(a.labels, b.labels);
}

/** Split horizon and the RFC 4684 filter: may `member` have this export? */
function visible(exp: Export, dest: Destination, member: GroupMember, filter: RtFilter | undefined): boolean {
  if (exp.sourcePeer === member) return false;
  // RFC 4684 §4: VPN routes go only to peers that asked for one of their route targets.
  if (filter !== undefined && dest.table.family === 'vpn-ipv4' && !filter.passes(exp.routeTargetKeys)) return false;
  return true;
}

export class UpdateGroup implements TableSubscriber {
  readonly members: GroupMember[] = [];
  /** The group's Adj-RIB-Out: what its policy makes of each advertisable best route. */
  readonly out = new Map<Destination, Export>();
  private readonly pending = new Map<Destination, Export | null>();
  private readonly ctx: CodecContext;

  constructor(
    readonly id: number,
    /** Everything the outbound policy depends on, as one string: equal keys share a group. */
    readonly key: string,
    readonly policy: GroupPolicy,
    /** The tables this group advertises from: the global tables of its families, or its VRF's table. */
    readonly tables: readonly Table[],
    private readonly router: RouterPolicy,
    private readonly counters: GroupCounters,
  ) {
    this.ctx = policy.as4 ? AS4_CONTEXT : AS2_CONTEXT;
    for (const t of tables) {
      t.subscribers.push(this);
      // A new group starts from the current Loc-RIB.
      for (const dest of t.values()) {
        const now = this.exportFor(dest);
        if (now) this.setOut(dest, now);
      }
    }
  }

  /** Leaves the tables and lets go of every destination (the group has no members left). */
  dispose(): void {
    for (const t of this.tables) {
      const i = t.subscribers.indexOf(this);
      if (i >= 0) t.subscribers.splice(i, 1);
    }
    const held = [...this.out.keys()];
    this.out.clear();
    this.pending.clear();
    for (const dest of held) dest.table.release(dest);
  }

  bestChanged(dest: Destination, _old: Path | undefined): void {
    const best = dest.best;
    if (best !== undefined && mayAdvertise(best, dest.table, this.policy)) {
      if (!this.pending.has(dest)) this.pending.set(dest, this.out.get(dest) ?? null);
      return;
    }
    // Not advertisable now: only a withdrawal of what was advertised is work for the flush.
    if (this.out.size === 0 || this.pending.has(dest)) return;
    const prev = this.out.get(dest);
    if (prev !== undefined) this.pending.set(dest, prev);
  }

  /** What this group advertises for `dest` now (RFC 4271 §9.1.3 phase 3 for this group). */
  exportFor(dest: Destination): Export | null {
    const best = dest.best;
    if (!best || !mayAdvertise(best, dest.table, this.policy)) return null;
    return new GroupExport(this, best, dest.table.family);
  }

  /** The attributes this group sends for `best` (shared by every route with the same attributes). */
  outAttributes(best: Path, family: Family): OutAttributes {
    const attrs = best.attrs;
    // Keyed by group id, not the group: a disposed group is not kept alive by the routes it sent.
    let cache = attrs.exportCache;
    let out = cache?.get(this.id) as OutAttributes | undefined;
    if (!out) {
      const o = outboundAttributes(best, family, this.policy, this.router);
      out = new OutAttributes(o.list, o.nextHop, this.ctx);
      if (!cache) cache = attrs.exportCache = new Map();
      cache.set(this.id, out);
    }
    return out;
  }

  /** The member's Adj-RIB-Out: the group's, through the member's filters. */
  *adjRibOut(member: GroupMember): Generator<[Destination, Export]> {
    for (const [dest, exp] of this.out) if (visible(exp, dest, member, member.rtFilter)) yield [dest, exp];
  }

  holds(dest: Destination): boolean {
    return this.out.has(dest);
  }

  private setOut(dest: Destination, now: Export | null): void {
    if (now) this.out.set(dest, now);
    else if (this.out.delete(dest)) dest.table.release(dest);
  }

  /** True when a flush would have something to do. */
  get busy(): boolean {
    return this.pending.size > 0 || this.members.some((m) => m.rtFilterBefore !== null);
  }

  /** Turns pending changes into UPDATEs for the members. */
  flush(emit: Emit): void {
    if (!this.busy) return;
    const changes: Change[] = [];
    for (const [dest, old] of this.pending) {
      const now = this.exportFor(dest);
      this.setOut(dest, now);
      if (old !== null || now !== null) changes.push({ dest, old, now, base: NONE, same: undefined });
    }
    this.pending.clear();
    const special: GroupMember[] = [];
    const normal: GroupMember[] = [];
    for (const m of this.members) (m.rtFilterBefore !== null ? special : normal).push(m);
    const encodings = new Map<string, readonly Uint8Array[]>();
    if (changes.length && normal.length) this.flushShared(changes, normal, emit, encodings);
    for (const m of special) this.flushOne(m, changes, emit, encodings);
  }

  private same(c: Change): boolean {
    if (c.same === undefined) c.same = c.old !== null && c.now !== null && sameExport(c.old, c.now);
    return c.same;
  }

  private action(c: Change, m: GroupMember | undefined, before: RtFilter | undefined, after: RtFilter | undefined): Action {
    const had = c.old !== null && (m === undefined || visible(c.old, c.dest, m, before));
    const has = c.now !== null && (m === undefined || visible(c.now, c.dest, m, after));
    if (has) return !had || !this.same(c) ? ANNOUNCE : NONE;
    return had ? WITHDRAW : NONE;
  }

  private flushShared(changes: Change[], normal: GroupMember[], emit: Emit, encodings: Map<string, readonly Uint8Array[]>): void {
    const normalSet = new Set(normal);
    const rtcMembers = normal.filter((m) => m.rtFilter !== undefined);
    const buckets: Bucket[] = [];
    const withdrawBuckets = new Map<Table, Bucket>();
    const announceBuckets = new Map<string, Bucket>();
    const bucketOf = (c: Change, a: Action): Bucket => {
      const map: Map<unknown, Bucket> = a === WITHDRAW ? withdrawBuckets : announceBuckets;
      // Routes whose attributes encode the same share an UPDATE, whatever they were learned from.
      const key = a === WITHDRAW ? c.dest.table : c.now!.out.wireKey;
      let b = map.get(key);
      if (!b) {
        b = { kind: a === WITHDRAW ? WITHDRAW : ANNOUNCE, table: c.dest.table, items: [], excluded: undefined };
        map.set(key, b);
        buckets.push(b);
      }
      return b;
    };
    const overrides = new Map<GroupMember, Map<Change, Action>>();
    const consider = (c: Change, m: GroupMember): void => {
      const a = this.action(c, m, m.rtFilter, m.rtFilter);
      if (a === c.base) return;
      let o = overrides.get(m);
      if (!o) overrides.set(m, (o = new Map()));
      o.set(c, a);
    };
    const only = normal.length === 1 ? normal[0] : undefined;
    for (const c of changes) {
      // The one member is where the route came from, before and after: split horizon, nothing to send.
      if (only !== undefined && (c.now === null || c.now.sourcePeer === only) && (c.old === null || c.old.sourcePeer === only)) continue;
      c.base = this.action(c, undefined, undefined, undefined);
      if (c.base !== NONE) bucketOf(c, c.base).items.push(c);
      const oldSource = c.old?.sourcePeer;
      const newSource = c.now?.sourcePeer;
      if (oldSource && normalSet.has(oldSource as GroupMember)) consider(c, oldSource as GroupMember);
      if (newSource && newSource !== oldSource && normalSet.has(newSource as GroupMember)) consider(c, newSource as GroupMember);
      if (c.dest.table.family === 'vpn-ipv4') {
        for (const m of rtcMembers) if (m !== oldSource && m !== newSource) consider(c, m);
      }
    }
    // Members that differ: their own list for each bucket they differ in.
    const custom: { bucket: Bucket; member: GroupMember; items: Change[] }[] = [];
    for (const [m, o] of overrides) {
      const touched = new Map<Bucket, { remove: Set<Change>; add: Change[] }>();
      const entry = (b: Bucket): { remove: Set<Change>; add: Change[] } => {
        let e = touched.get(b);
        if (!e) touched.set(b, (e = { remove: new Set(), add: [] }));
        return e;
      };
      for (const [c, a] of o) {
        if (c.base !== NONE) entry(bucketOf(c, c.base)).remove.add(c);
        if (a !== NONE) entry(bucketOf(c, a)).add.push(c);
      }
      for (const [b, e] of touched) {
        (b.excluded ??= new Set()).add(m);
        const items = b.items.filter((c) => !e.remove.has(c)).concat(e.add);
        if (items.length) custom.push({ bucket: b, member: m, items });
      }
    }
    for (const kind of [WITHDRAW, ANNOUNCE] as const) {
      for (const b of buckets) {
        if (b.kind !== kind || !b.items.length) continue;
        const recipients = b.excluded ? normal.filter((m) => !b.excluded!.has(m)) : normal;
        // A baseline list is encoded once per flush by construction: no signature needed.
        if (recipients.length) this.emitEncoded(emit, b.kind, b.table, b.items, recipients, undefined);
      }
      for (const c of custom) if (c.bucket.kind === kind) this.emitEncoded(emit, kind, c.bucket.table, c.items, [c.member], encodings);
    }
  }

  /**
   * A new member (session start, RFC 4271 §9.1.3): pending changes go to the others first, then the
   * newcomer gets the whole Adj-RIB-Out, and from then on shares every encoding with them.
   */
  addMember(m: GroupMember, emit: Emit): void {
    this.flush(emit);
    this.members.push(m);
    this.dump(m, this.policy.families, emit);
  }

  /** The whole Adj-RIB-Out of some families to one member (a new session, RFC 2918 route refresh). */
  dump(m: GroupMember, families: readonly Family[], emit: Emit): void {
    this.flush(emit);
    const announce = new Map<string, Change[]>();
    for (const [dest, exp] of this.out) {
      if (!families.includes(dest.table.family) || !visible(exp, dest, m, m.rtFilter)) continue;
      const c: Change = { dest, old: null, now: exp, base: NONE, same: false };
      const list = announce.get(exp.out.wireKey);
      if (list) list.push(c);
      else announce.set(exp.out.wireKey, [c]);
    }
    const encodings = new Map<string, readonly Uint8Array[]>();
    for (const [, list] of announce) this.emitEncoded(emit, ANNOUNCE, list[0]!.dest.table, list, [m], encodings);
  }

  /** A member whose RFC 4684 filter changed: its own pass over the changes and the unchanged routes (RFC 4684 §6). */
  private flushOne(m: GroupMember, changes: Change[], emit: Emit, encodings: Map<string, readonly Uint8Array[]>): void {
    const before = m.rtFilterBefore === null ? m.rtFilter : m.rtFilterBefore;
    m.rtFilterBefore = null;
    const withdraw = new Map<Table, Change[]>();
    const announce = new Map<string, Change[]>();
    const push = (c: Change, a: Action): void => {
      if (a === NONE) return;
      const map: Map<unknown, Change[]> = a === WITHDRAW ? withdraw : announce;
      const key = a === WITHDRAW ? c.dest.table : c.now!.out.wireKey;
      const list = map.get(key);
      if (list) list.push(c);
      else map.set(key, [c]);
    };
    const changed = new Set<Destination>();
    for (const c of changes) {
      changed.add(c.dest);
      push(c, this.action(c, m, before, m.rtFilter));
    }
    for (const [dest, exp] of this.out) {
      if (changed.has(dest)) continue;
      const c: Change = { dest, old: exp, now: exp, base: NONE, same: true };
      push(c, this.action(c, m, before, m.rtFilter));
    }
    for (const [, list] of withdraw) this.emitEncoded(emit, WITHDRAW, list[0]!.dest.table, list, [m], encodings);
    for (const [, list] of announce) this.emitEncoded(emit, ANNOUNCE, list[0]!.dest.table, list, [m], encodings);
  }

  private emitEncoded(
    emit: Emit,
    kind: typeof WITHDRAW | typeof ANNOUNCE,
    table: Table,
    items: readonly Change[],
    recipients: readonly GroupMember[],
    encodings: Map<string, readonly Uint8Array[]> | undefined,
  ): void {
    // Two members with the same list (e.g. the same RFC 4684 filter) share the encoding.
    let key = '';
    if (encodings) {
      key = `${kind}|${table.name}|${kind === ANNOUNCE ? items[0]!.now!.out.wireKey : ''}|`;
      for (const c of items) key += `${nlriKey(table.family, nlriOf(c.dest))},`;
    }
    const single = kind === ANNOUNCE && items.length === 1 ? items[0]!.now! : undefined;
    let messages = single?.alone ?? encodings?.get(key);
    if (!messages) {
      messages = kind === WITHDRAW ? this.encodeWithdraw(table.family, items) : this.encodeAnnounce(table.family, items);
      this.counters.updatesEncoded += messages.length;
      encodings?.set(key, messages);
      if (single) single.alone = messages;
    }
    if (messages.length) emit(messages, recipients);
  }

  private encodeWithdraw(family: Family, items: readonly Change[]): Uint8Array[] {
    switch (family) {
      case 'ipv4-unicast':
        return packWithdrawals(items.map((c) => nlriOf(c.dest) as Ipv4Prefix));
      case 'vpn-ipv4':
        // RFC 8277 §2.4: the label field of a withdrawal is ignored; the codec writes 0x800000.
        return packWithdrawals({ family, withdrawnRoutes: items.map((c) => ({ ...(nlriOf(c.dest) as VpnIpv4Nlri), labels: [] })) });
      case 'rt-membership':
        return packWithdrawals({ family, withdrawnRoutes: items.map((c) => nlriOf(c.dest) as RtMembershipNlri) });
    }
  }

  private encodeAnnounce(family: Family, items: readonly Change[]): Uint8Array[] {
    const out = items[0]!.now!.out;
    assert(items.every((c) => c.now!.out.wireKey === out.wireKey), 'encodeAnnounce: one attribute set per bucket');
    const packed =
      family === 'ipv4-unicast'
        ? packEncodedUpdates(out.bytes, items.map((c) => nlriOf(c.dest) as Ipv4Prefix))
        : family === 'vpn-ipv4'
          ? packEncodedUpdates(out.bytes, { family, nextHop: out.nextHop, nlri: items.map((c) => ({ ...(nlriOf(c.dest) as VpnIpv4Nlri), labels: [...c.now!.labels!] })) })
          : packEncodedUpdates(out.bytes, { family, nextHop: out.nextHop, nlri: items.map((c) => nlriOf(c.dest) as RtMembershipNlri) });
    if (!packed.ok) {
      this.counters.attributesTooLong += items.length;
      return [];
    }
    return packed.value;
  }
}
