// Seed 001 in a node: the S/R device's GCKS (FIG. 3, 35) and each member's group key management, both
// G-IKEv2 (RFC 9838) on UDP 848, wired to the node's group data plane (group-esp.ts) and BGP speaker.
// Owns the glue between the sans-IO cores of proto/gkm and the node; never parses G-IKEv2 itself.
//
// Member (FIG. 5): register (step 200) → GSA (202) → install the TEKs, open the BGP session with the
// S/R only then (204, the session runs inside the group SA) → reflected routes become PROTECT entries
// (206–209) → traffic to another member's subnets is sealed with the TEK and tunnelled to its gateway
// (210–212). A rekey installs the new TEK at once and sends on it after GWP_ATD; the old one lives
// until it expires or GWP_DTD after a Delete, so nothing is lost while both are in flight.
// S/R (FIG. 4): the GCKS admits members (registration table 34, policy 36); a member's BGP session is
// accepted only while it is registered; the route reflector (RFC 4456) sends each member's routes to
// the other members; a scheduled `leave` evicts the member (a rekey excludes it, RFC 9838 §3.3) and
// stops its BGP session, so its routes are withdrawn from the others.
// Several groups: the S/R's GCKS serves every group naming it (each its own KEK, TEKs, members,
// rekeys and schedule) and reflects per group (group-rr.ts GroupReflector); a CE in several groups
// runs one GroupMember per group (datagrams go to the one whose SPI they carry) and files each
// reflected route under the group it was learned in, so the data plane seals it with that TEK.

import { formatIpv4 } from '../lib/addr.ts';
import type { Rng } from '../lib/rng.ts';
import { decodeUdp, encodeUdp, IP_PROTO_UDP } from '../proto/ip/index.ts';
import { Gcks, GKM_PORT, GroupMember, type GcksEvent, type GcksOutput, type GkmDatagram, type GroupTek, type MemberEvent, type MemberOutput } from '../proto/gkm/index.ts';
import type { IkeId } from '../proto/ike/index.ts';
import type { RouteChange } from '../proto/bgp/router.ts';
import type { RouteTarget } from '../proto/bgp/rib.ts';
import type { ExtendedCommunity } from '../proto/bgp/communities.ts';
import type { GroupEspApp } from './group-esp.ts';
import type { NodeApp, NodeContext, SnapshotPurpose } from './types.ts';

/** Log lines kept for the snapshot (the newest). */
export const GKM_EVENTS_KEPT = 32;

const idText = (id: IkeId) => new TextDecoder().decode(id.data);

/** What a member's app needs of the node's BGP speaker: started only once the GSA is held. */
export interface GatedBgp {
  /** Starts the BGP speaker (its sessions connect through the group SA). */
  open(nowUs: number): void;
}

/** Wraps a NodeApp so that it sees no timer until `open` (the member's BGP before the GSA, FIG. 5 step 204). */
export class GatedApp implements NodeApp, GatedBgp {
  private opened = false;
  constructor(readonly inner: NodeApp) {}
  get name(): string {
    return this.inner.name;
  }
  open(nowUs: number): void {
    if (this.opened) return;
    this.opened = true;
    this.inner.timer(nowUs);
  }
  get isOpen(): boolean {
    return this.opened;
  }
  receive(src: number, dst: number, protocol: number, payload: Uint8Array, nowUs: number, packet: Uint8Array): boolean {
    return this.inner.receive(src, dst, protocol, payload, nowUs, packet);
  }
  timer(nowUs: number): void {
    if (this.opened) this.inner.timer(nowUs);
  }
  nextDeadlineUs(): number | undefined {
    return this.opened ? this.inner.nextDeadlineUs() : undefined;
  }
  snapshot(purpose?: SnapshotPurpose): Record<string, unknown> {
    return { gated: !this.opened, ...this.inner.snapshot(purpose) };
  }
  stateVersion(): number | undefined {
    const v = this.inner.stateVersion?.();
    return v === undefined ? undefined : v + (this.opened ? 1 : 0);
  }
}

function sendDatagram(ctx: NodeContext, d: GkmDatagram): void {
  ctx.sendIp(d.dstAddr, IP_PROTO_UDP, encodeUdp({ srcPort: d.srcPort, dstPort: d.dstPort, payload: d.bytes }, d.srcAddr, d.dstAddr), d.srcAddr);
}

function takeDatagram(src: number, dst: number, protocol: number, payload: Uint8Array): GkmDatagram | undefined {
  if (protocol !== IP_PROTO_UDP || payload.length < 8 || ((payload[2]! << 8) | payload[3]!) !== GKM_PORT) return undefined;
  const u = decodeUdp(payload, src, dst);
  if (!u.ok) return undefined;
  return { srcAddr: src, srcPort: u.value.srcPort, dstAddr: dst, dstPort: u.value.dstPort, bytes: u.value.payload.slice() };
}

// --- The member ------------------------------------------------------------------------------

export interface GroupMemberAppConfig {
  /** GroupMember configuration (proto/gkm). */
  member: ConstructorParameters<typeof GroupMember>[0];
  /** Register at this time (0: at start). */
  joinAtUs: number;
  /** auto discovery: a reflected route is the group's only with this route target. */
  groupRouteTarget?: RouteTarget;
  /** Several groups: the group id (snapshot), the S/R's BGP neighbour name, and (member list) the other members' tunnel addresses. */
  groupId?: number;
  srName?: string;
  memberAddrs?: ReadonlySet<number>;
}

/** One group of a member: its GroupMember core and what the node holds of it. */
interface MemberSlot {
  index: number;
  cfg: GroupMemberAppConfig;
  member: GroupMember;
  started: boolean;
  excluded: boolean;
  teks: Map<number, GroupTek>;
  events: string[];
}

/** Several groups: SPIs remembered to route datagrams to their group (bounded). */
const SPI_OWNERS_MAX = 4096;
const spiKey = (b: Uint8Array) => Array.from(b.subarray(0, 8), (x) => x.toString(16).padStart(2, '0')).join('');

export class GroupMemberApp implements NodeApp {
  readonly name = 'gkm';
  /** The first group's member (the only one in the usual case). */
  readonly member: GroupMember;
  private readonly slots: MemberSlot[];
  private gateDue = false;
  /** Several groups: IKE SPIs (registration SPIi, Rekey SA SPI) → the slot whose datagrams carry them. */
  private readonly spiOwner = new Map<string, number>();

  constructor(
    private readonly ctx: NodeContext,
    cfg: GroupMemberAppConfig | GroupMemberAppConfig[],
    private readonly esp: GroupEspApp,
    private readonly bgp: GatedBgp,
    rng: Rng,
  ) {
    const cfgs = Array.isArray(cfg) ? cfg : [cfg];
    if (cfgs.length === 0) throw new RangeError('GroupMemberApp: no group');
    this.slots = cfgs.map((c, index) => ({ index, cfg: c, member: new GroupMember(c.member, rng), started: false, excluded: false, teks: new Map(), events: [] }));
    this.member = this.slots[0]!.member;
  }

  /** A best-route change of the member's BGP (reflected by the S/R): PROTECT entries follow it. */
  routeChanged(c: RouteChange): void {
    if (c.family !== 'ipv4-unicast' || !c.prefix) return;
    const best = c.best;
    if (this.slots.length === 1) {
      const rt = this.slots[0]!.cfg.groupRouteTarget;
      const ours = best !== undefined && best.from !== 'local' && (rt === undefined || hasRouteTarget(best.extendedCommunities, rt));
      if (ours) this.esp.addRoute(c.prefix, best.nextHop);
      else this.esp.removeRoute(c.prefix);
      return;
    }
    const g = best === undefined || best.from === 'local' ? -1 : this.groupOfRoute(best);
    if (g >= 0) this.esp.addRoute(c.prefix, best!.nextHop, g);
    else this.esp.removeRoute(c.prefix);
  }

  /**
   * Several groups: the group a reflected route belongs to — the first of ours (file order) whose S/R
   * sent it and that it names (auto: its route target; member list: its NEXT_HOP is a listed member).
   */
  private groupOfRoute(best: NonNullable<RouteChange['best']>): number {
    for (const s of this.slots) {
      const c = s.cfg;
      if (c.srName !== undefined && best.from !== c.srName) continue;
      if (c.groupRouteTarget ? hasRouteTarget(best.extendedCommunities, c.groupRouteTarget) : (c.memberAddrs?.has(best.nextHop >>> 0) ?? true)) return s.index;
    }
    return -1;
  }

  receive(src: number, dst: number, protocol: number, payload: Uint8Array, nowUs: number): boolean {
    const d = takeDatagram(src, dst, protocol, payload);
    if (!d) return false;
    const slot = this.slots.length === 1 ? this.slots[0]! : this.slotFor(d);
    slot.member.handle({ kind: 'rx', datagram: d }, nowUs);
    this.drain(slot, nowUs);
    return true;
  }

  /** Several groups: the slot whose registration or Rekey SA the datagram's SPI names (else the first with that GCKS). */
  private slotFor(d: GkmDatagram): MemberSlot {
    const owner = d.bytes.length >= 8 ? this.spiOwner.get(spiKey(d.bytes)) : undefined;
    if (owner !== undefined) return this.slots[owner]!;
    return this.slots.find((s) => s.cfg.member.gcksAddr === d.srcAddr) ?? this.slots[0]!;
  }

  timer(nowUs: number): void {
    for (const slot of this.slots) {
      if (!slot.started && nowUs >= slot.cfg.joinAtUs) {
        slot.started = true;
        slot.member.handle({ kind: 'command', command: { kind: 'register' } }, nowUs);
      } else if ((slot.member.nextDeadlineUs() ?? Infinity) <= nowUs) {
        slot.member.handle({ kind: 'timer' }, nowUs);
      }
      this.drain(slot, nowUs);
    }
  }

  nextDeadlineUs(): number | undefined {
    let t: number | undefined;
    for (const slot of this.slots) {
      const d = slot.started ? slot.member.nextDeadlineUs() : slot.cfg.joinAtUs;
      if (d !== undefined && (t === undefined || d < t)) t = d;
    }
    return t;
  }

  /** NodeApp.stateVersion: the snapshot names no neighbour, route list, SPD or SA list (the TEKs are the data plane's). */
  stateVersion(): number {
    return 0;
  }

  snapshot(): Record<string, unknown> {
    const view = (s: MemberSlot) => ({
      state: s.member.state,
      excluded: s.excluded,
      teks: [...s.teks.keys()].map((spi) => `0x${spi.toString(16).padStart(8, '0')}`),
      outboundSpi: this.esp.outboundSpi(s.index),
    });
    const counters = (s: MemberSlot) => ({ ...s.member.counters, rxDropped: { ...s.member.counters.rxDropped }, rekeyDropped: { ...s.member.counters.rekeyDropped } });
    if (this.slots.length === 1) {
      const s = this.slots[0]!;
      return { ...view(s), routes: this.esp.routeCount(), counters: counters(s), events: s.events.slice() };
    }
    // Several groups: registered once every group is; each group's own state, TEKs, routes and log.
    const states = this.slots.map((s) => s.member.state);
    return {
      state: states.every((x) => x === 'registered') ? 'registered' : states.find((x) => x !== 'registered'),
      routes: this.esp.routeCount(),
      groups: this.slots.map((s) => ({ group: s.cfg.groupId ?? s.index, ...view(s), routes: this.esp.routeCountOf(s.index), counters: counters(s), events: s.events.slice() })),
    };
  }

  private note(slot: MemberSlot, text: string): void {
    slot.events.push(text);
    if (slot.events.length > GKM_EVENTS_KEPT) slot.events.shift();
  }

  private drain(slot: MemberSlot, nowUs: number): void {
    const multi = this.slots.length > 1;
    for (let o: MemberOutput | undefined = slot.member.poll(); o; o = slot.member.poll()) {
      if (o.kind === 'tx') {
        // Several groups: answers to our registration carry our SPIi (RFC 7296 §3.1).
        if (multi && o.datagram.bytes.length >= 8) this.own(o.datagram.bytes, slot);
        sendDatagram(this.ctx, o.datagram);
      } else if (o.kind === 'log') this.ctx.log('gkm', multi ? `group ${slot.cfg.groupId ?? slot.index}: ${o.text}` : o.text);
      else this.onEvent(slot, o.event);
    }
    if (this.gateDue && this.slots.some((s) => this.esp.outboundSpi(s.index) !== undefined)) {
      this.gateDue = false;
      this.bgp.open(nowUs); // FIG. 5 step 204: routes go to the S/R only once the GSA protects them
    }
  }

  private own(spi: Uint8Array, slot: MemberSlot): void {
    if (this.spiOwner.size >= SPI_OWNERS_MAX) this.spiOwner.clear(); // then by GCKS address until re-learned
    this.spiOwner.set(spiKey(spi), slot.index);
  }

  private onEvent(slot: MemberSlot, e: MemberEvent): void {
    switch (e.kind) {
      case 'registered':
        slot.excluded = false;
        this.esp.setSenderIdBits(e.senderIdBits, slot.index);
        this.gateDue = true;
        this.note(slot, `registered: ${e.teks.length} TEK(s), Sender-IDs [${e.senderIds.join(', ')}]`);
        return;
      case 'tek-installed': {
        slot.teks.set(e.tek.spi, e.tek);
        this.esp.installTek({ spi: e.tek.spi, sa: e.tek.sa, ...(e.tek.seqFirst !== undefined ? { seqFirst: e.tek.seqFirst } : {}), ...(slot.index > 0 ? { group: slot.index } : {}) });
        this.note(slot, `TEK 0x${e.tek.spi.toString(16)} installed (${e.via})`);
        return;
      }
      case 'tek-outbound':
        this.esp.useOutbound(e.spi);
        this.note(slot, `sending on TEK 0x${e.spi.toString(16)}`);
        return;
      case 'tek-removed':
        slot.teks.delete(e.spi);
        this.esp.removeTek(e.spi);
        this.note(slot, `TEK 0x${e.spi.toString(16)} removed (${e.reason})`);
        return;
      case 'excluded':
        slot.excluded = true;
        this.note(slot, 'excluded by the GCKS');
        return;
      case 'rekey-accepted':
        this.note(slot, `GSA_REKEY ${e.messageId} accepted`);
        return;
      case 'rekey-dropped':
        this.note(slot, `GSA_REKEY dropped: ${e.code}`);
        return;
      case 'registration-failed':
        this.note(slot, `registration failed: ${e.failure.code}${e.willRetry ? ' (will retry)' : ''}`);
        return;
      case 'kek-installed':
        // Several groups: GSA_REKEYs on this Rekey SA carry its SPI (RFC 9838 §2.4) — this slot's.
        if (this.slots.length > 1) this.own(e.spi, slot);
        return;
    }
  }
}

function hasRouteTarget(ext: readonly ExtendedCommunity[], rt: RouteTarget): boolean {
  for (const c of ext) if (c.type === 'ROUTE_TARGET' && c.format === rt.format && c.globalAdministrator === rt.globalAdministrator && c.localAdministrator === rt.localAdministrator) return true;
  return false;
}

// --- The S/R device --------------------------------------------------------------------------

export interface GcksAppConfig {
  gcks: ConstructorParameters<typeof Gcks>[0];
  /** Member tunnel addresses by identity (the BGP neighbour named after the node). */
  members: { node: string; id: IkeId; addr: number }[];
  /** Scheduled evictions, in time order; `group` is the index in `gcks.groups` (default 0). */
  leaves: { atUs: number; memberId: IkeId; node: string; group?: number }[];
  /** Sender-ID the S/R sends with on each TEK (reserved at the GCKS). */
  senderId: number;
  /** Sender-ID bits of the first group (the others' come from their policy). */
  senderIdBits: number;
  /**
   * Several groups: told when a member node joins (`member` true) or leaves group index `group`
   * (the route reflector applies it to the member's session); true when the session must restart.
   */
  membership?: (node: string, group: number, member: boolean, nowUs: number) => boolean;
}

/** What the S/R needs of its BGP speaker: stop a member's session, or restart it (several groups). */
export interface StoppableBgp {
  stopNeighbor(name: string, nowUs: number, communication?: string): void;
  resetNeighbor?(name: string, nowUs: number): void;
}

const groupNumber = (id: IkeId) => (id.data.length === 4 ? ((id.data[0]! << 24) | (id.data[1]! << 16) | (id.data[2]! << 8) | id.data[3]!) >>> 0 : idText(id));
const groupKey = (id: IkeId) => Array.from(id.data, (b) => b.toString(16).padStart(2, '0')).join('');

export class GcksApp implements NodeApp {
  readonly name = 'gcks';
  readonly gcks: Gcks;
  private started = false;
  private nextLeave = 0;
  /** Registered members' tunnel addresses: the only sources the BGP channel accepts. */
  private readonly registered = new Set<number>();
  private readonly nodeById = new Map<string, { node: string; addr: number }>();
  /** Group index by group id. */
  private readonly groupIndex = new Map<string, number>();
  private readonly multi: boolean;
  /** Several groups: the groups each member address is registered in; nodes whose session was stopped. */
  private readonly regGroups = new Map<number, Set<number>>();
  private readonly stopped = new Set<string>();
  /** TEKs installed on the S/R's own data plane (SPI → group index), and when to start sending on the newest of a group. */
  private readonly installed = new Map<number, number>();
  private readonly pendingOutbound = new Map<number, { spi: number; atUs: number }>();
  private readonly atdUs: number[];
  private readonly senderIdBitsOf: number[];
  private readonly events: string[] = [];
  readonly counters = { registered: 0, refused: 0, removed: 0, rekeys: 0, rekeyBytes: 0 };

  constructor(
    private readonly ctx: NodeContext,
    private readonly cfg: GcksAppConfig,
    private readonly esp: GroupEspApp,
    private readonly bgp: StoppableBgp,
    rng: Rng,
  ) {
    this.gcks = new Gcks(cfg.gcks, rng);
    for (const m of cfg.members) this.nodeById.set(idText(m.id), { node: m.node, addr: m.addr });
    cfg.gcks.groups.forEach((g, i) => this.groupIndex.set(groupKey(g.groupId), i));
    this.multi = cfg.gcks.groups.length > 1;
    this.atdUs = cfg.gcks.groups.map((g) => (g.atdS ?? 1) * 1_000_000);
    if (this.atdUs.length === 0) this.atdUs.push(1_000_000);
    this.senderIdBitsOf = cfg.gcks.groups.map((g, i) => (i === 0 ? cfg.senderIdBits : (g.senderIdBits ?? cfg.senderIdBits)));
    this.senderIdBitsOf.forEach((bits, i) => esp.setSenderIdBits(bits, i));
    if (this.senderIdBitsOf.length === 0) esp.setSenderIdBits(cfg.senderIdBits);
    esp.setAllowedBgpPeers(this.registered);
  }

  receive(src: number, dst: number, protocol: number, payload: Uint8Array, nowUs: number): boolean {
    const d = takeDatagram(src, dst, protocol, payload);
    if (!d) return false;
    this.handleGcks({ kind: 'rx', datagram: d }, nowUs);
    this.drain(nowUs);
    return true;
  }

  timer(nowUs: number): void {
    if (!this.started) {
      this.started = true;
      this.handleGcks({ kind: 'timer' }, nowUs);
    } else if (this.gcksDeadlineUs() <= nowUs) {
      this.handleGcks({ kind: 'timer' }, nowUs);
    }
    while (this.nextLeave < this.cfg.leaves.length && this.cfg.leaves[this.nextLeave]!.atUs <= nowUs) {
      const l = this.cfg.leaves[this.nextLeave++]!;
      const groupId = this.cfg.gcks.groups[l.group ?? 0]!.groupId;
      this.ctx.log('gkm', this.multi ? `${l.node} leaves group ${groupNumber(groupId)}: evicting it` : `${l.node} leaves the group: evicting it`);
      this.handleGcks({ kind: 'command', command: { kind: 'evict', groupId, memberId: l.memberId } }, nowUs);
    }
    for (const [group, p] of [...this.pendingOutbound]) {
      if (p.atUs > nowUs) continue;
      this.esp.useOutbound(p.spi);
      this.pendingOutbound.delete(group);
    }
    this.drain(nowUs);
  }

  nextDeadlineUs(): number | undefined {
    if (!this.started) return 0;
    let t = this.gcksDeadlineUs();
    const l = this.cfg.leaves[this.nextLeave];
    if (l) t = Math.min(t, l.atUs);
    for (const p of this.pendingOutbound.values()) t = Math.min(t, p.atUs);
    return t === Infinity ? undefined : t;
  }

  /** The GCKS's next deadline (Infinity: none), kept until its next input (it scans every registration). */
  private gcksDeadline: number | undefined;

  private gcksDeadlineUs(): number {
    this.gcksDeadline ??= this.gcks.nextDeadlineUs() ?? Infinity;
    return this.gcksDeadline;
  }

  private handleGcks(input: Parameters<Gcks['handle']>[0], nowUs: number): void {
    this.gcksDeadline = undefined;
    this.gcks.handle(input, nowUs);
  }

  /** NodeApp.stateVersion: the registration and SA tables name no neighbour, route, SPD entry or SA list. */
  stateVersion(): number {
    return 0;
  }

  /** FIG. 3: registration table 34 and SA table 32, one row per member and per group, each naming its group id. */
  snapshot(): Record<string, unknown> {
    const groups = this.cfg.gcks.groups;
    const count = groups.reduce((n, g) => n + this.gcks.registrationCount(g.groupId), 0);
    const rows = count <= 64 ? groups.flatMap((g) => this.gcks.registrationTable(g.groupId).map((r) => ({ group: groupNumber(g.groupId), member: idText(r.id), addr: formatIpv4(r.addr), senderIds: r.senderIds, ...(r.memberList ? { memberList: r.memberList.map(idText) } : {}) }))) : count;
    const sa = groups.flatMap((g) => {
      const t = this.gcks.saTable(g.groupId);
      return t ? [{ group: groupNumber(g.groupId), kek: Array.from(t.kekSpi, (b) => b.toString(16).padStart(2, '0')).join(''), teks: t.teks.map((x) => ({ spi: `0x${x.spi.toString(16).padStart(8, '0')}`, retiring: x.retiring })), nextMessageId: t.nextMessageId }] : [];
    });
    return {
      registrationTable: rows,
      saTable: sa,
      members: this.registered.size,
      counters: { ...this.counters },
      events: this.events.slice(),
    };
  }

  private note(text: string): void {
    this.events.push(text);
    if (this.events.length > GKM_EVENTS_KEPT) this.events.shift();
  }

  private drain(nowUs: number): void {
    for (let o: GcksOutput | undefined = this.gcks.poll(); o; o = this.gcks.poll()) {
      if (o.kind === 'tx') sendDatagram(this.ctx, o.datagram);
      else if (o.kind === 'log') this.ctx.log('gkm', o.text);
      else this.onEvent(o.event, nowUs);
    }
  }

  private indexOf(groupId: IkeId): number {
    return this.multi ? (this.groupIndex.get(groupKey(groupId)) ?? 0) : 0;
  }

  /** Several groups: the first group `addr` is registered in carries its BGP channel. */
  private channelGroup(addr: number): number | undefined {
    const gs = this.regGroups.get(addr);
    if (!gs || gs.size === 0) return undefined;
    return Math.min(...gs);
  }

  private onEvent(e: GcksEvent, nowUs: number): void {
    const tag = this.multi && 'groupId' in e && e.groupId ? ` (group ${groupNumber(e.groupId)})` : '';
    switch (e.kind) {
      case 'member-registered': {
        const m = this.nodeById.get(idText(e.memberId));
        if (m) {
          this.registered.add(m.addr >>> 0);
          if (this.multi) this.joined(m, this.indexOf(e.groupId), nowUs);
        }
        this.counters.registered++;
        if (this.events.length < GKM_EVENTS_KEPT || this.registered.size <= GKM_EVENTS_KEPT) this.note(`${idText(e.memberId)} registered${tag}${e.memberList ? ` listing ${e.memberList.length} member(s)` : ''}`);
        return;
      }
      case 'member-removed': {
        const m = this.nodeById.get(idText(e.memberId));
        if (m && !this.multi) {
          this.registered.delete(m.addr >>> 0);
          // Its routes leave the other members' tables with the session (RFC 4271 §9.1.3 on peer down).
          this.bgp.stopNeighbor(m.node, nowUs, 'removed from the group');
        } else if (m) this.left(m, this.indexOf(e.groupId), nowUs);
        this.counters.removed++;
        this.note(`${idText(e.memberId)} removed${tag} (${e.reason})`);
        return;
      }
      case 'gsa-changed': {
        const group = this.indexOf(e.groupId);
        const bits = this.senderIdBitsOf[group] ?? this.cfg.senderIdBits;
        const live = new Set(e.teks.map((t) => t.spi));
        for (const t of e.teks) {
          if (this.installed.has(t.spi)) continue;
          this.installed.set(t.spi, group);
          const shift = BigInt(32 - bits);
          const first = BigInt(this.cfg.senderId) << shift;
          this.esp.installTek({ spi: t.spi, sa: { ...t.sa, tunnelSrc: 0, tunnelDst: 0 }, seqFirst: first === 0n ? 1n : first, ...(group > 0 ? { group } : {}) });
        }
        for (const [spi, g] of [...this.installed]) {
          if (g !== group || live.has(spi)) continue;
          this.installed.delete(spi);
          this.esp.removeTek(spi);
        }
        // Send on the newest TEK that is not retiring: at once the first time, else after GWP_ATD
        // (RFC 5374 §4.2.1) so every member has it before the S/R uses it.
        const newest = [...e.teks].reverse().find((t) => !t.retiring);
        const current = this.esp.outboundSpi(group);
        if (newest && newest.spi !== current) {
          // A joiner holds only the new TEK (RFC 9838 §2.4: backward secrecy), and the GSA_REKEY giving
          // it to the others left before anything the S/R sends next on the same paths: switch at once.
          if (current === undefined || !live.has(current) || e.reason === 'join') {
            this.esp.useOutbound(newest.spi);
            this.pendingOutbound.delete(group);
          } else this.pendingOutbound.set(group, { spi: newest.spi, atUs: nowUs + (this.atdUs[group] ?? 1_000_000) });
        }
        this.note(`GSA ${e.reason}${tag}: ${e.teks.length} TEK(s)`);
        return;
      }
      case 'registration-refused':
        this.counters.refused++;
        this.note(`registration from ${formatIpv4(e.addr)} refused${tag}: ${e.failure.code}`);
        return;
      case 'rekey-sent':
        this.counters.rekeys++;
        this.counters.rekeyBytes += e.bytes;
        return;
      case 'command-rejected':
        this.note(`command ${e.command.kind} rejected: ${e.failure.message}`);
        return;
    }
  }

  /** Several groups: `m` registered in `group`; the reflector learns it, the session restarts if it must. */
  private joined(m: { node: string; addr: number }, group: number, nowUs: number): void {
    const addr = m.addr >>> 0;
    let gs = this.regGroups.get(addr);
    if (!gs) this.regGroups.set(addr, (gs = new Set()));
    gs.add(group);
    this.esp.setChannelGroup(addr, this.channelGroup(addr));
    const restart = this.cfg.membership?.(m.node, group, true, nowUs) ?? false;
    if (restart || this.stopped.delete(m.node)) this.bgp.resetNeighbor?.(m.node, nowUs);
  }

  /**
   * Several groups: `m` left `group`. Still in another of ours: the route reflector takes it out of
   * that group only (its session stays up, moved to a group it is still in); else its session stops,
   * as with one group.
   */
  private left(m: { node: string; addr: number }, group: number, nowUs: number): void {
    const addr = m.addr >>> 0;
    const gs = this.regGroups.get(addr);
    gs?.delete(group);
    const channel = this.channelGroup(addr);
    if (channel === undefined) {
      this.cfg.membership?.(m.node, group, false, nowUs);
      this.regGroups.delete(addr);
      this.registered.delete(addr);
      this.esp.setChannelGroup(addr, undefined);
      this.stopped.add(m.node);
      this.bgp.stopNeighbor(m.node, nowUs, 'removed from the group');
      return;
    }
    this.esp.setChannelGroup(addr, channel);
    if (this.cfg.membership?.(m.node, group, false, nowUs)) this.bgp.resetNeighbor?.(m.node, nowUs);
  }
}
