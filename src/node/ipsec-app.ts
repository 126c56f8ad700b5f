// A security gateway's IPsec (RFC 4301 tunnel mode): the SPD consulted for every packet the node
// forwards, PROTECT entries encapsulated with the node's ESP engine, ESP addressed to the node
// decapsulated and the inner packet forwarded on. Owns the SPD, the per-entry queues and the
// engine's SAs of one node; never derives keys itself (they come from configuration, IKE or the GCKS).
//
// SPD entries come from static tunnels (`mesh` mode), from local policy and from BGP routes that
// carry the Security Gateway Identity (seed 002 FIG. 3 configuration data 310, FIG. 7 step 720).
// PROTECT entries without an SA ask IkeApp for a Child SA on the first matching packet (packets
// wait in a bounded queue per entry) or as soon as they appear (pre-established).

import { formatIpv4 } from '../lib/addr.ts';
import type { EspDropReason, EspEngine, EspSaParams } from '../dataplane/esp.ts';
import { IP_PROTO_ESP, ipv4Dst, ipv4Protocol, ipv4Src } from '../proto/ip/index.ts';
import { narrowSelectors, tsRange, type ChildSaInfo, type IkeEndpointEvent, type SelectorPair, type TrafficSelector } from '../proto/ike/index.ts';
import { DEFAULT_LIFETIMES } from '../proto/ipsec/sad.ts';
import { SGI_FLAG_PRE_ESTABLISH } from '../proto/bgp/communities.ts';
import type { RouteChange } from '../proto/bgp/router.ts';
import {
  PORTS_ANY,
  PROTOCOL_ANY,
  Spd,
  entriesFromGatewayRoute,
  formatRange,
  prefixRange,
  type Ipv4Range,
  type SaTemplate,
  type SpdEntry,
} from '../proto/ipsec/spd.ts';
import type { IkeApp } from './ike-app.ts';
import type { EspSaExport, NodeApp, NodeContext, SnapshotPurpose } from './types.ts';

/** A statically configured pairwise tunnel (DESIGN.md `mesh` mode): both SAs and the prefixes it protects. */
export interface StaticTunnel {
  name: string;
  localPrefixes: string[];
  remotePrefixes: string[];
  outbound: EspSaParams;
  inbound: EspSaParams;
}

export type Establish = 'on-demand' | 'pre-established';

/**
 * One entry of a gateway's local policy, in SPD order (seed 002 FIG. 3). `bgp` is the slot where
 * the entries built from BGP routes go (entry #1: destination and gateway from BGP, source local);
 * `protect` names its gateway explicitly (entry #3: another CE, entry #4: a host).
 */
export type GatewayPolicyEntry =
  | { kind: 'bgp'; name: string; sources: string[]; establish?: Establish }
  | { kind: 'protect'; name: string; sources: string[]; destinations: string[]; gateway: number; establish?: Establish }
  | { kind: 'bypass'; name: string; sources: string[]; destinations: string[] }
  | { kind: 'discard'; name: string; sources: string[]; destinations: string[] };

export interface GatewayConfig {
  /** This gateway's tunnel address (its Security Gateway Identity). */
  tunnelLocal: number;
  policy: GatewayPolicyEntry[];
  /** For BGP entries whose Security Gateway Identity does not ask for pre-establishment. */
  establish: Establish;
  template: Omit<SaTemplate, 'establish'>;
  /** Packets waiting for an SA, per SPD entry; beyond it they are dropped (`queue-full`). */
  queueMax: number;
  /** After a failed negotiation, wait this long before asking again. */
  retryUs: number;
  /** Pre-established SAs: the gateway with the higher address waits this long for the other to initiate. */
  preEstablishDeferUs: number;
}

export const GATEWAY_QUEUE_MAX_DEFAULT = 32;
/** SAs remembered for `espSas()` (--keys), at most; later ones are counted in `keysNotExported`. */
export const ESP_EXPORT_MAX = 65_536;
export const GATEWAY_RETRY_US_DEFAULT = 2_000_000;
export const GATEWAY_PRE_ESTABLISH_DEFER_US_DEFAULT = 500_000;

/** Why the app itself dropped a packet (the engine's reasons come on top). */
export type GatewayDropReason = 'queue-full' | 'sa-failed' | 'policy-withdrawn' | 'discard';

interface Child {
  /** IKE SA id, or -1 for a static tunnel. */
  saId: number;
  peer: number;
  name: string;
  inboundSpi: number;
  outboundSpi: number;
  inHandle: number;
  outHandle: number;
  tsLocal: TrafficSelector[];
  tsRemote: TrafficSelector[];
  /** False while a rekey responder must keep sending on the old SA. */
  outboundActive: boolean;
  /** The Child SA that replaces this one (its inbound SPI). */
  replacedBy?: number;
  rekeyed: number;
}

interface EntryState {
  entry: SpdEntry;
  establish: Establish;
  /** Inbound SPI of the Child SA whose outbound SA this entry sends on. */
  child?: number;
  queue: Uint8Array[];
  /** A request is out (on-demand or pre-established). */
  requested: boolean;
  /** When to (re)request: pre-established entries and retries after a failure. */
  retryAtUs?: number;
}

const rangeTs = (r: Ipv4Range): TrafficSelector => tsRange(r.from, r.to);
const tsCovers = (ts: readonly TrafficSelector[], r: Ipv4Range) => ts.some((t) => t.kind === 'ipv4-range' && t.startAddr <= r.from && r.to <= t.endAddr);

export class IpsecApp implements NodeApp {
  readonly name = 'ipsec';
  readonly spd = new Spd();
  /** The BGP-derived entries per trusted subnet, in SPD order (a route change finds its own without a walk). */
  private readonly bgpBySubnet = new Map<string, SpdEntry[]>();
  private readonly states = new Map<string, EntryState>();
  private readonly children = new Map<number, Child>();
  private readonly installed: EspSaExport[] = [];
  /** Changes to the SAs in force (installed, bound to an entry, deleted); the SPD counts its own. */
  private version = 0;
  /** Name of the local entry the BGP-derived ones are inserted before (undefined: at the end). */
  private readonly bgpBefore: string | undefined;
  private readonly bgpSlot: Extract<GatewayPolicyEntry, { kind: 'bgp' }> | undefined;
  private readonly ike: IkeApp | undefined;
  readonly counters = {
    protected: 0,
    delivered: 0,
    bypassed: 0,
    /** Forwarded packets no SPD entry matched (sent on unprotected). */
    unmatched: 0,
    queued: 0,
    childSasInstalled: 0,
    rekeys: 0,
    keysNotExported: 0,
    drops: {} as Partial<Record<EspDropReason | GatewayDropReason, number>>,
  };

  constructor(
    private readonly ctx: NodeContext,
    private readonly engine: EspEngine,
    tunnels: readonly StaticTunnel[],
    private readonly gateway?: GatewayConfig,
    ike?: IkeApp,
  ) {
    this.ike = ike;
    for (const t of tunnels) this.addStaticTunnel(t);
    let slotSeen = false;
    for (const p of gateway?.policy ?? []) {
      if (p.kind === 'bgp') {
        slotSeen = true;
        continue;
      }
      for (const e of this.localEntries(p)) {
        this.spd.add(e);
        if (slotSeen && this.bgpBefore === undefined) this.bgpBefore = e.name;
        this.track(e, p.kind === 'protect' ? (p.establish ?? 'on-demand') : 'on-demand', 0);
      }
    }
    this.bgpSlot = gateway?.policy.find((p): p is Extract<GatewayPolicyEntry, { kind: 'bgp' }> => p.kind === 'bgp');
    if (ike) {
      ike.onEvent((saId, peer, event, nowUs) => this.onIkeEvent(saId, peer, event, nowUs));
      ike.setNarrow((proposed, peer) => this.narrow(proposed, peer));
    }
  }

  // --- policy ---------------------------------------------------------------------------------

  private template(establish: Establish): SaTemplate {
    const t = this.gateway!.template;
    return { ...t, establish };
  }

  private localEntries(p: Exclude<GatewayPolicyEntry, { kind: 'bgp' }>): SpdEntry[] {
    const out: SpdEntry[] = [];
    for (const src of p.sources) {
      for (const dst of p.destinations) {
        const selectors = { local: prefixRange(src), remote: prefixRange(dst), protocol: PROTOCOL_ANY, localPorts: PORTS_ANY, remotePorts: PORTS_ANY };
        const name = `${p.name}:${src}>${dst}`;
        if (p.kind === 'protect') {
          out.push({ name, origin: 'local', selectors, action: { kind: 'protect', tunnelLocal: this.gateway!.tunnelLocal, tunnelRemote: p.gateway >>> 0, template: this.template(p.establish ?? 'on-demand') } });
        } else out.push({ name, origin: 'local', selectors, action: { kind: p.kind } });
      }
    }
    return out;
  }

  private track(entry: SpdEntry, establish: Establish, nowUs: number): void {
    const st: EntryState = { entry, establish, queue: [], requested: false };
    this.states.set(entry.name, st);
    if (entry.action.kind !== 'protect' || !this.ike) return;
    // An SA to the same gateway covering this entry may exist already (the peer initiated it).
    for (const c of this.children.values()) if (this.covers(c, entry) && c.replacedBy === undefined) return this.bind(st, c, nowUs);
    if (establish === 'pre-established') {
      // Both ends see the entry at about the same time: the lower address initiates first.
      const defer = this.gateway!.tunnelLocal > entry.action.tunnelRemote ? this.gateway!.preEstablishDeferUs : 0;
      st.retryAtUs = nowUs + defer;
    }
  }

  private untrack(name: string, nowUs: number): void {
    const st = this.states.get(name);
    if (!st) return;
    this.states.delete(name);
    for (let i = 0; i < st.queue.length; i++) this.drop('policy-withdrawn');
    st.queue = [];
    // A Child SA no entry uses any more is deleted (RFC 7296 §1.4.1).
    const c = st.child !== undefined ? this.children.get(st.child) : undefined;
    if (c && c.saId >= 0 && ![...this.states.values()].some((s) => s.child === c.inboundSpi)) this.ike?.command(c.saId, { kind: 'delete-child', spi: c.inboundSpi }, nowUs);
  }

  /**
   * Seed 002 FIG. 7: a best-route change. A route with the Security Gateway Identity (of another
   * gateway) becomes PROTECT entries: destination = its trusted subnet, source = the locally
   * configured prefixes (both must match, RFC 4301 §4.4.1); a withdrawn route takes them away.
   */
  onRouteChange(change: RouteChange, nowUs: number): void {
    if (!this.gateway || !this.bgpSlot || change.family !== 'ipv4-unicast' || change.vrf !== undefined || !change.prefix) return;
    const subnet = change.nlri;
    const sgi = change.best?.securityGatewayIdentity;
    const gateway = sgi && !this.ctx.isLocal(sgi.gatewayAddress) ? sgi.gatewayAddress >>> 0 : undefined;
    const establish: Establish = sgi && sgi.flags & SGI_FLAG_PRE_ESTABLISH ? 'pre-established' : (this.bgpSlot.establish ?? this.gateway.establish);
    const fresh =
      gateway === undefined
        ? []
        : entriesFromGatewayRoute({ trustedSubnet: subnet, gateway }, { tunnelLocal: this.gateway.tunnelLocal, localPrefixes: this.bgpSlot.sources, template: this.template(establish) });
    const old = this.bgpBySubnet.get(subnet) ?? [];
    const same =
      old.length === fresh.length &&
      old.every((e, i) => e.action.kind === 'protect' && fresh[i]!.action.kind === 'protect' && e.action.tunnelRemote === (fresh[i]!.action as { tunnelRemote: number }).tunnelRemote && e.name === fresh[i]!.name && e.action.template.establish === establish);
    if (same) return;
    if (fresh.length) this.bgpBySubnet.set(subnet, fresh);
    else this.bgpBySubnet.delete(subnet);
    for (const e of old) {
      this.spd.remove(e.name);
      this.untrack(e.name, nowUs);
      this.ctx.log('ipsec', `SPD: ${e.name} withdrawn`);
    }
    for (const e of fresh) {
      this.spd.add(e, this.bgpBefore);
      this.track(e, establish, nowUs);
      this.ctx.log('ipsec', `SPD: ${e.name} protect via ${formatIpv4(gateway!)} (${establish})`);
    }
  }

  /**
   * The responder's check of a proposed Child SA (RFC 7296 §2.9, RFC 4301 §4.4.1): the first
   * PROTECT entry through this peer that both proposed sides intersect; the answer is narrowed to it.
   */
  private narrow(proposed: SelectorPair, peer: number): SelectorPair | undefined {
    for (const e of this.spd.list()) {
      if (e.action.kind !== 'protect' || e.action.tunnelRemote !== peer >>> 0) continue;
      const tsi = narrowSelectors(proposed.tsi, [rangeTs(e.selectors.remote)]);
      const tsr = narrowSelectors(proposed.tsr, [rangeTs(e.selectors.local)]);
      if (tsi.length > 0 && tsr.length > 0) return { tsi, tsr };
    }
    return undefined;
  }

  // --- packets --------------------------------------------------------------------------------

  transit(bytes: Uint8Array, nowUs: number): boolean {
    const entry = this.spd.lookup({ local: ipv4Src(bytes), remote: ipv4Dst(bytes), protocol: ipv4Protocol(bytes), localPort: 0, remotePort: 0 });
    if (!entry) {
      if (ipv4Protocol(bytes) !== IP_PROTO_ESP) this.counters.unmatched++;
      return false;
    }
    if (entry.action.kind === 'bypass') {
      this.counters.bypassed++;
      return false;
    }
    if (entry.action.kind === 'discard') {
      this.drop('discard');
      return true;
    }
    const st = this.states.get(entry.name)!;
    const child = st.child !== undefined ? this.children.get(st.child) : undefined;
    if (child) {
      this.send(child, bytes, nowUs);
      return true;
    }
    if (st.queue.length >= this.gateway!.queueMax) {
      this.drop('queue-full');
      return true;
    }
    st.queue.push(bytes.slice());
    this.counters.queued++;
    // Seed 002 "traffic flow initiated": the first matching packet asks IKE for the SA.
    if (!st.requested && (st.retryAtUs === undefined || st.retryAtUs <= nowUs)) this.request(st, nowUs);
    return true;
  }

  /** Locally originated packets go through the same SPD (a host that ends a tunnel). */
  originate(bytes: Uint8Array, nowUs: number): boolean {
    const entry = this.spd.lookup({ local: ipv4Src(bytes), remote: ipv4Dst(bytes), protocol: ipv4Protocol(bytes), localPort: 0, remotePort: 0 });
    if (!entry || entry.action.kind === 'bypass') return false;
    return this.transit(bytes, nowUs);
  }

  private send(child: Child, bytes: Uint8Array, nowUs: number): void {
    const [r] = this.engine.encapsulate(child.outHandle, [bytes]);
    if (!r?.ok) {
      this.drop(r?.reason ?? 'malformed');
      return;
    }
    this.counters.protected++;
    this.ctx.forwardPacket(r.bytes.slice(), nowUs);
  }

  receive(src: number, _dst: number, protocol: number, _payload: Uint8Array, nowUs: number, packet: Uint8Array): boolean {
    if (protocol !== IP_PROTO_ESP) return false;
    const [r] = this.engine.decapsulate([packet]);
    if (!r?.ok) {
      const reason = r?.reason ?? 'malformed';
      this.drop(reason);
      this.ctx.log('ipsec', `ESP from ${formatIpv4(src)} dropped: ${reason}`);
      return true;
    }
    this.counters.delivered++;
    this.ctx.forwardPacket(r.bytes.slice(), nowUs);
    return true;
  }

  // --- SAs ------------------------------------------------------------------------------------

  private request(st: EntryState, nowUs: number): void {
    if (!this.ike || st.entry.action.kind !== 'protect') return;
    st.requested = true;
    st.retryAtUs = undefined;
    const s = st.entry.selectors;
    this.ctx.log('ipsec', `SPD: ${st.entry.name} asks IKE for a Child SA with ${formatIpv4(st.entry.action.tunnelRemote)}`);
    this.ike.requestChild(st.entry.action.tunnelRemote, { tsLocal: [rangeTs(s.local)], tsRemote: [rangeTs(s.remote)] }, nowUs);
  }

  private covers(c: Child, e: SpdEntry): boolean {
    if (e.action.kind !== 'protect' || e.action.tunnelRemote !== c.peer) return false;
    return tsCovers(c.tsLocal, e.selectors.local) && tsCovers(c.tsRemote, e.selectors.remote);
  }

  private bind(st: EntryState, c: Child, nowUs: number): void {
    st.child = c.inboundSpi;
    this.version++;
    st.requested = false;
    st.retryAtUs = undefined;
    const q = st.queue;
    st.queue = [];
    for (const p of q) this.send(c, p, nowUs);
  }

  private addStaticTunnel(t: StaticTunnel): void {
    const c = this.install(-1, t.outbound.tunnelDst, t.name, t.outbound, t.inbound, [], [], true);
    for (const local of t.localPrefixes) {
      for (const remote of t.remotePrefixes) {
        const name = `${t.name}:${local}>${remote}`;
        const entry: SpdEntry = {
          name,
          origin: 'local',
          selectors: { local: prefixRange(local), remote: prefixRange(remote), protocol: PROTOCOL_ANY, localPorts: PORTS_ANY, remotePorts: PORTS_ANY },
          action: {
            kind: 'protect',
            tunnelLocal: t.outbound.tunnelSrc,
            tunnelRemote: t.outbound.tunnelDst,
            template: { suite: t.outbound.suite, esn: t.outbound.esn, replayWindow: t.inbound.replayWindow, lifetimes: DEFAULT_LIFETIMES, establish: 'pre-established' },
          },
        };
        this.spd.add(entry);
        this.states.set(name, { entry, establish: 'pre-established', child: c.inboundSpi, queue: [], requested: false });
      }
    }
  }

  private install(saId: number, peer: number, name: string, outbound: EspSaParams, inbound: EspSaParams, tsLocal: TrafficSelector[], tsRemote: TrafficSelector[], outboundActive: boolean): Child {
    const outHandle = this.engine.addSa('outbound', outbound);
    const inHandle = this.engine.addSa('inbound', inbound);
    if (this.installed.length + 2 <= ESP_EXPORT_MAX) this.installed.push(exportSa(outbound), exportSa(inbound));
    else this.counters.keysNotExported += 2;
    const c: Child = { saId, peer: peer >>> 0, name, inboundSpi: inbound.spi >>> 0, outboundSpi: outbound.spi >>> 0, inHandle, outHandle, tsLocal, tsRemote, outboundActive, rekeyed: 0 };
    this.children.set(c.inboundSpi, c);
    this.version++;
    return c;
  }

  private onIkeEvent(saId: number, peer: number, event: IkeEndpointEvent, nowUs: number): void {
    switch (event.kind) {
      case 'child-sa-installed': {
        const info: ChildSaInfo = event.child;
        const c = this.install(saId, peer, `ike${saId}`, info.outbound, info.inbound, info.tsLocal, info.tsRemote, event.outboundActive);
        this.counters.childSasInstalled++;
        const old = event.rekeyOf !== undefined ? this.children.get(event.rekeyOf >>> 0) : undefined;
        if (old) {
          // RFC 7296 §2.8: the new SA replaces the old; the old inbound SA stays until its Delete.
          old.replacedBy = c.inboundSpi;
          c.rekeyed = old.rekeyed + 1;
          this.counters.rekeys++;
          if (event.outboundActive) this.moveEntries(old.inboundSpi, c, nowUs);
          this.ctx.log('ipsec', `Child SA ${hexSpi(old.inboundSpi)} rekeyed as ${hexSpi(c.inboundSpi)} with ${formatIpv4(peer)}`);
          return;
        }
        this.ctx.log('ipsec', `Child SA in ${hexSpi(c.inboundSpi)} out ${hexSpi(c.outboundSpi)} with ${formatIpv4(peer)} installed`);
        // Every entry through this peer that the SA covers sends on it (the one that asked, and
        // ours that match an SA the peer initiated).
        for (const st of this.states.values()) {
          if (st.child !== undefined && this.children.has(st.child)) continue;
          if (this.covers(c, st.entry) || (st.requested && st.entry.action.kind === 'protect' && st.entry.action.tunnelRemote === c.peer && this.intersects(c, st.entry))) this.bind(st, c, nowUs);
        }
        return;
      }
      case 'child-sa-outbound-active': {
        const c = this.children.get(event.inboundSpi >>> 0);
        if (!c) return;
        c.outboundActive = true;
        for (const old of this.children.values()) if (old.replacedBy === c.inboundSpi) this.moveEntries(old.inboundSpi, c, nowUs);
        return;
      }
      case 'child-sa-deleted': {
        const c = this.children.get(event.inboundSpi >>> 0);
        if (!c) return;
        this.children.delete(c.inboundSpi);
        this.version++;
        this.engine.removeSa(c.inHandle);
        this.engine.removeSa(c.outHandle);
        const next = c.replacedBy !== undefined ? this.children.get(c.replacedBy) : undefined;
        if (next) {
          next.outboundActive = true;
          this.moveEntries(c.inboundSpi, next, nowUs);
          return;
        }
        for (const st of this.states.values()) {
          if (st.child !== c.inboundSpi) continue;
          st.child = undefined;
          this.version++;
          if (st.establish === 'pre-established') st.retryAtUs = nowUs;
        }
        this.ctx.log('ipsec', `Child SA ${hexSpi(c.inboundSpi)} with ${formatIpv4(peer)} deleted (${event.reason})`);
        return;
      }
      case 'child-sa-failed':
        if (event.rekeyOf === undefined) this.failPending(peer, `Child SA refused: ${event.failure.code}`, nowUs);
        return;
      case 'ike-sa-failed':
        this.failPending(peer, `IKE SA failed: ${event.failure.code}`, nowUs);
        return;
      case 'ike-sa-closed':
        this.failPending(peer, 'IKE SA closed', nowUs);
        return;
      default:
        return;
    }
  }

  private intersects(c: Child, e: SpdEntry): boolean {
    const s = e.selectors;
    return narrowSelectors(c.tsLocal, [rangeTs(s.local)]).length > 0 && narrowSelectors(c.tsRemote, [rangeTs(s.remote)]).length > 0;
  }

  private moveEntries(fromSpi: number, to: Child, nowUs: number): void {
    for (const st of this.states.values()) if (st.child === fromSpi) this.bind(st, to, nowUs);
  }

  /** Requests to `peer` that will not be answered: drop what waits, try again after a while. */
  private failPending(peer: number, why: string, nowUs: number): void {
    for (const st of this.states.values()) {
      if (!st.requested || st.entry.action.kind !== 'protect' || st.entry.action.tunnelRemote !== peer >>> 0) continue;
      st.requested = false;
      st.retryAtUs = nowUs + this.gateway!.retryUs;
      for (let i = 0; i < st.queue.length; i++) this.drop('sa-failed');
      st.queue = [];
      this.ctx.log('ipsec', `SPD: ${st.entry.name}: ${why}; retry at ${st.retryAtUs} us`);
    }
  }

  timer(nowUs: number): void {
    for (const st of this.states.values()) {
      if (st.child !== undefined || st.requested || st.retryAtUs === undefined || st.retryAtUs > nowUs) continue;
      // Pre-established entries ask by themselves; on-demand ones only with packets waiting.
      if (st.establish === 'pre-established' || st.queue.length > 0) this.request(st, nowUs);
    }
  }

  nextDeadlineUs(): number | undefined {
    let t: number | undefined;
    for (const st of this.states.values()) {
      if (st.child !== undefined || st.requested || st.retryAtUs === undefined) continue;
      if (st.establish !== 'pre-established' && st.queue.length === 0) continue;
      if (t === undefined || st.retryAtUs < t) t = st.retryAtUs;
    }
    return t;
  }

  // --- inspection -----------------------------------------------------------------------------

  snapshot(purpose?: SnapshotPurpose): Record<string, unknown> {
    // The convergence check reads the SPD's size (gateway mode) and the installed SAs (espSas):
    // no per-SA counters from the engine, no formatted entries (a mesh CE holds 2(N-1) SAs).
    if (purpose === 'convergence' || purpose === 'sessions') return { spd: this.spd.size };
    return {
      counters: { ...this.counters, drops: { ...this.counters.drops } },
      spd: this.spd.list().map((e) => {
        const st = this.states.get(e.name);
        const a = e.action;
        return {
          name: e.name,
          origin: e.origin,
          local: formatRange(e.selectors.local),
          remote: formatRange(e.selectors.remote),
          action: a.kind,
          ...(a.kind === 'protect' ? { gateway: formatIpv4(a.tunnelRemote), establish: st?.establish ?? a.template.establish } : {}),
          ...(st?.child !== undefined ? { sa: hexSpi(st.child) } : {}),
          ...(st && st.queue.length > 0 ? { queued: st.queue.length } : {}),
        };
      }),
      sas: [...this.children.values()].map((c) => {
        const o = this.engine.counters(c.outHandle);
        const i = this.engine.counters(c.inHandle);
        return {
          tunnel: c.name,
          peer: formatIpv4(c.peer),
          inboundSpi: hexSpi(c.inboundSpi),
          outboundSpi: hexSpi(c.outboundSpi),
          rekeys: c.rekeyed,
          ...(c.replacedBy !== undefined ? { replacedBy: hexSpi(c.replacedBy) } : {}),
          outbound: { packets: o.packets, bytes: o.bytes, seq: o.seq.toString() },
          inbound: { packets: i.packets, bytes: i.bytes, seq: i.seq.toString() },
        };
      }),
    };
  }

  espSas(): EspSaExport[] {
    return this.installed.slice();
  }

  /** NodeApp.stateVersion: the SPD's changes plus the SAs' (installing one also adds to espSas). */
  stateVersion(): number {
    return this.spd.version + this.version;
  }

  private drop(reason: EspDropReason | GatewayDropReason): void {
    this.counters.drops[reason] = (this.counters.drops[reason] ?? 0) + 1;
  }
}

const hexOf = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const hexSpi = (spi: number) => `0x${(spi >>> 0).toString(16).padStart(8, '0')}`;

/** How Wireshark needs an SA to decrypt it (see EspSaExport). */
export function exportSa(sa: EspSaParams): EspSaExport {
  return { src: formatIpv4(sa.tunnelSrc), dst: formatIpv4(sa.tunnelDst), spi: sa.spi, suite: sa.suite, keyHex: hexOf(sa.key) + hexOf(sa.salt) };
}
