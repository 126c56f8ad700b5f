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
}

export class GroupMemberApp implements NodeApp {
  readonly name = 'gkm';
  readonly member: GroupMember;
  private started = false;
  private readonly teks = new Map<number, GroupTek>();
  private readonly events: string[] = [];
  private gateDue = false;
  private excluded = false;

  constructor(
    private readonly ctx: NodeContext,
    private readonly cfg: GroupMemberAppConfig,
    private readonly esp: GroupEspApp,
    private readonly bgp: GatedBgp,
    rng: Rng,
  ) {
    this.member = new GroupMember(cfg.member, rng);
  }

  /** A best-route change of the member's BGP (reflected by the S/R): PROTECT entries follow it. */
  routeChanged(c: RouteChange): void {
    if (c.family !== 'ipv4-unicast' || !c.prefix) return;
    const best = c.best;
    const ours = best !== undefined && best.from !== 'local' && (this.cfg.groupRouteTarget === undefined || hasRouteTarget(best.extendedCommunities, this.cfg.groupRouteTarget));
    if (ours) this.esp.addRoute(c.prefix, best.nextHop);
    else this.esp.removeRoute(c.prefix);
  }

  receive(src: number, dst: number, protocol: number, payload: Uint8Array, nowUs: number): boolean {
    const d = takeDatagram(src, dst, protocol, payload);
    if (!d) return false;
    this.member.handle({ kind: 'rx', datagram: d }, nowUs);
    this.drain(nowUs);
    return true;
  }

  timer(nowUs: number): void {
    if (!this.started && nowUs >= this.cfg.joinAtUs) {
      this.started = true;
      this.member.handle({ kind: 'command', command: { kind: 'register' } }, nowUs);
    } else if ((this.member.nextDeadlineUs() ?? Infinity) <= nowUs) {
      this.member.handle({ kind: 'timer' }, nowUs);
    }
    this.drain(nowUs);
  }

  nextDeadlineUs(): number | undefined {
    if (!this.started) return this.cfg.joinAtUs;
    return this.member.nextDeadlineUs();
  }

  /** NodeApp.stateVersion: the snapshot names no neighbour, route list, SPD or SA list (the TEKs are the data plane's). */
  stateVersion(): number {
    return 0;
  }

  snapshot(): Record<string, unknown> {
    return {
      state: this.member.state,
      excluded: this.excluded,
      teks: [...this.teks.keys()].map((s) => `0x${s.toString(16).padStart(8, '0')}`),
      outboundSpi: this.esp.outboundSpi(),
      routes: this.esp.routeCount(),
      counters: { ...this.member.counters, rxDropped: { ...this.member.counters.rxDropped }, rekeyDropped: { ...this.member.counters.rekeyDropped } },
      events: this.events.slice(),
    };
  }

  private note(text: string): void {
    this.events.push(text);
    if (this.events.length > GKM_EVENTS_KEPT) this.events.shift();
  }

  private drain(nowUs: number): void {
    for (let o: MemberOutput | undefined = this.member.poll(); o; o = this.member.poll()) {
      if (o.kind === 'tx') sendDatagram(this.ctx, o.datagram);
      else if (o.kind === 'log') this.ctx.log('gkm', o.text);
      else this.onEvent(o.event);
    }
    if (this.gateDue && this.esp.outboundSpi() !== undefined) {
      this.gateDue = false;
      this.bgp.open(nowUs); // FIG. 5 step 204: routes go to the S/R only once the GSA protects them
    }
  }

  private onEvent(e: MemberEvent): void {
    switch (e.kind) {
      case 'registered':
        this.excluded = false;
        this.esp.setSenderIdBits(e.senderIdBits);
        this.gateDue = true;
        this.note(`registered: ${e.teks.length} TEK(s), Sender-IDs [${e.senderIds.join(', ')}]`);
        return;
      case 'tek-installed': {
        this.teks.set(e.tek.spi, e.tek);
        this.esp.installTek({ spi: e.tek.spi, sa: e.tek.sa, ...(e.tek.seqFirst !== undefined ? { seqFirst: e.tek.seqFirst } : {}) });
        this.note(`TEK 0x${e.tek.spi.toString(16)} installed (${e.via})`);
        return;
      }
      case 'tek-outbound':
        this.esp.useOutbound(e.spi);
        this.note(`sending on TEK 0x${e.spi.toString(16)}`);
        return;
      case 'tek-removed':
        this.teks.delete(e.spi);
        this.esp.removeTek(e.spi);
        this.note(`TEK 0x${e.spi.toString(16)} removed (${e.reason})`);
        return;
      case 'excluded':
        this.excluded = true;
        this.note('excluded by the GCKS');
        return;
      case 'rekey-accepted':
        this.note(`GSA_REKEY ${e.messageId} accepted`);
        return;
      case 'rekey-dropped':
        this.note(`GSA_REKEY dropped: ${e.code}`);
        return;
      case 'registration-failed':
        this.note(`registration failed: ${e.failure.code}${e.willRetry ? ' (will retry)' : ''}`);
        return;
      case 'kek-installed':
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
  /** Scheduled evictions. */
  leaves: { atUs: number; memberId: IkeId; node: string }[];
  /** Sender-ID the S/R sends with on each TEK (reserved at the GCKS). */
  senderId: number;
  senderIdBits: number;
}

/** What the S/R needs of its BGP speaker: stop a member's session. */
export interface StoppableBgp {
  stopNeighbor(name: string, nowUs: number, communication?: string): void;
}

export class GcksApp implements NodeApp {
  readonly name = 'gcks';
  readonly gcks: Gcks;
  private started = false;
  private nextLeave = 0;
  /** Registered members' tunnel addresses: the only sources the BGP channel accepts. */
  private readonly registered = new Set<number>();
  private readonly nodeById = new Map<string, { node: string; addr: number }>();
  /** TEKs installed on the S/R's own data plane, and when to start sending on the newest. */
  private readonly installed = new Set<number>();
  private pendingOutbound: { spi: number; atUs: number } | undefined;
  private atdUs: number;
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
    this.atdUs = (cfg.gcks.groups[0]?.atdS ?? 1) * 1_000_000;
    esp.setSenderIdBits(cfg.senderIdBits);
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
      const groupId = this.cfg.gcks.groups[0]!.groupId;
      this.ctx.log('gkm', `${l.node} leaves the group: evicting it`);
      this.handleGcks({ kind: 'command', command: { kind: 'evict', groupId, memberId: l.memberId } }, nowUs);
    }
    if (this.pendingOutbound && this.pendingOutbound.atUs <= nowUs) {
      this.esp.useOutbound(this.pendingOutbound.spi);
      this.pendingOutbound = undefined;
    }
    this.drain(nowUs);
  }

  nextDeadlineUs(): number | undefined {
    if (!this.started) return 0;
    let t = this.gcksDeadlineUs();
    const l = this.cfg.leaves[this.nextLeave];
    if (l) t = Math.min(t, l.atUs);
    if (this.pendingOutbound) t = Math.min(t, this.pendingOutbound.atUs);
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

  snapshot(): Record<string, unknown> {
    const g = this.cfg.gcks.groups[0]!.groupId;
    const count = this.gcks.registrationCount(g);
    const table = count <= 64 ? this.gcks.registrationTable(g) : [];
    const sa = this.gcks.saTable(g);
    return {
      // FIG. 3: registration table 34 and SA table 32.
      registrationTable: count <= 64 ? table.map((r) => ({ member: idText(r.id), addr: formatIpv4(r.addr), senderIds: r.senderIds, ...(r.memberList ? { memberList: r.memberList.map(idText) } : {}) })) : count,
      saTable: sa ? { kek: Array.from(sa.kekSpi, (b) => b.toString(16).padStart(2, '0')).join(''), teks: sa.teks.map((t) => ({ spi: `0x${t.spi.toString(16).padStart(8, '0')}`, retiring: t.retiring })), nextMessageId: sa.nextMessageId } : undefined,
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

  private onEvent(e: GcksEvent, nowUs: number): void {
    switch (e.kind) {
      case 'member-registered': {
        const m = this.nodeById.get(idText(e.memberId));
        if (m) this.registered.add(m.addr >>> 0);
        this.counters.registered++;
        if (this.events.length < GKM_EVENTS_KEPT || this.registered.size <= GKM_EVENTS_KEPT) this.note(`${idText(e.memberId)} registered${e.memberList ? ` listing ${e.memberList.length} member(s)` : ''}`);
        return;
      }
      case 'member-removed': {
        const m = this.nodeById.get(idText(e.memberId));
        if (m) {
          this.registered.delete(m.addr >>> 0);
          // Its routes leave the other members' tables with the session (RFC 4271 §9.1.3 on peer down).
          this.bgp.stopNeighbor(m.node, nowUs, 'removed from the group');
        }
        this.counters.removed++;
        this.note(`${idText(e.memberId)} removed (${e.reason})`);
        return;
      }
      case 'gsa-changed': {
        const live = new Set(e.teks.map((t) => t.spi));
        for (const t of e.teks) {
          if (this.installed.has(t.spi)) continue;
          this.installed.add(t.spi);
          const shift = BigInt(32 - this.cfg.senderIdBits);
          const first = BigInt(this.cfg.senderId) << shift;
          this.esp.installTek({ spi: t.spi, sa: { ...t.sa, tunnelSrc: 0, tunnelDst: 0 }, seqFirst: first === 0n ? 1n : first });
        }
        for (const spi of [...this.installed]) {
          if (live.has(spi)) continue;
          this.installed.delete(spi);
          this.esp.removeTek(spi);
        }
        // Send on the newest TEK that is not retiring: at once the first time, else after GWP_ATD
        // (RFC 5374 §4.2.1) so every member has it before the S/R uses it.
        const newest = [...e.teks].reverse().find((t) => !t.retiring);
        if (newest && newest.spi !== this.esp.outboundSpi()) {
          // A joiner holds only the new TEK (RFC 9838 §2.4: backward secrecy), and the GSA_REKEY giving
          // it to the others left before anything the S/R sends next on the same paths: switch at once.
          if (this.esp.outboundSpi() === undefined || !live.has(this.esp.outboundSpi()!) || e.reason === 'join') {
            this.esp.useOutbound(newest.spi);
            this.pendingOutbound = undefined;
          }
          else this.pendingOutbound = { spi: newest.spi, atUs: nowUs + this.atdUs };
        }
        this.note(`GSA ${e.reason}: ${e.teks.length} TEK(s)`);
        return;
      }
      case 'registration-refused':
        this.counters.refused++;
        this.note(`registration from ${formatIpv4(e.addr)} refused: ${e.failure.code}`);
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
}
