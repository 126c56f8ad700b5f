// The group data plane of one seed 001 node (a member CE or the S/R device): an SPD (RFC 4301 §4.4.1)
// filled by the GCKS's TEKs and by reflected routes, and one ESP engine holding the group SAs. Owns
// the node's group SAs and PROTECT entries; never derives keys (they come from the GSA) and never
// decides routes (BGP does).
//
// - One group SA set per node whatever N is: each TEK is installed once inbound and once outbound;
//   the outbound SA is shared by every destination member, the outer destination (the other member's
//   gateway, FIG. 5 step 210) is set per packet when the IPv4 header goes on (ESP's ICV does not
//   cover the outer header, RFC 4303 §3.1.1).
// - Sequence numbers (RFC 9838 §2.5, RFC 6054): every sender on a group SA owns the range of its
//   Sender-ID (the top GWP_SENDER_ID_BITS of the 32-bit number), so IVs never collide. The engine's
//   own window is off (replay window 0: many senders, RFC 4303 §3.4.3 cannot apply to the SA as a
//   whole); this app keeps one RFC 4303 window per (SPI, Sender-ID) instead and drops replays.
// - The channel of claims 1, 7, 10–12: TCP port 179 between a member and the S/R is PROTECTed with
//   the TEK; a clear packet matching that entry is dropped (RFC 4301 §5.2) and counted.
// - Trusted subnets leave the site only protected: a final DISCARD entry (local = trusted subnets,
//   remote = any) catches traffic before its route has been reflected.
// - Several groups (a CE in several VPNs, an S/R serving several groups): each group has its own
//   TEKs and outbound SA, numbered by group index (0 = the first group, the only one in the usual
//   case, which takes no extra per-packet work). A reflected route names the group it was learned
//   in, so traffic to a member of group G is sealed with G's TEK; the BGP channel with an S/R uses
//   the first group shared with it that holds an SA; a packet that arrives on G's SA must come from
//   a prefix of G (or from behind the gateway that sent it).

import { formatIpv4, ipv4Mask, type Ipv4Prefix } from '../lib/addr.ts';
import type { EspDropReason, EspEngine, EspSaParams } from '../dataplane/esp.ts';
import { ReplayWindow } from '../dataplane/replay.ts';
import { decodeIpv4, encodeIpv4, IP_PROTO_ESP, IP_PROTO_TCP, IP_PROTO_UDP, ipv4Dst, ipv4Protocol, ipv4Src } from '../proto/ip/index.ts';
import { TCP_PORT_BGP } from '../proto/ip/tcp-segment.ts';
import { DEFAULT_LIFETIMES } from '../proto/ipsec/sad.ts';
import { ANY_ADDRESS, PORTS_ANY, PROTOCOL_ANY, Spd, formatRange, hostRange, type Ipv4Range, type SaTemplate, type SpdEntry } from '../proto/ipsec/spd.ts';
import type { EspSaExport, NodeApp, NodeContext } from './types.ts';

export const GROUP_TEMPLATE: SaTemplate = { suite: 'aes-gcm-128', esn: false, replayWindow: 0, lifetimes: DEFAULT_LIFETIMES, establish: 'pre-established' };
/** Per-sender anti-replay windows kept at most (one per Sender-ID and TEK). */
export const SENDER_WINDOWS_MAX = 1 << 16;
export const SENDER_WINDOW_BITS = 64;
/** `tunnelRemote` of a PROTECT entry meaning "the packet's own destination" (a tunnel ending at the host). */
export const TUNNEL_TO_DESTINATION = 0;

export interface GroupEspConfig {
  /** Our outer address (the member's gateway address, or the S/R's). */
  tunnelAddr: number;
  /** Trusted subnets behind us (members); empty on the S/R. */
  trustedSubnets: readonly Ipv4Prefix[];
  /** The BGP channel's other end: the S/R's address (members), or undefined for any (the S/R). */
  bgpPeer: number | undefined;
  /**
   * Several groups on this node: the group id of each group index (for the snapshot) and, on a
   * member, the S/R address of each (its BGP channel). Absent or one entry: one group.
   */
  groups?: { groupId: number; srAddr?: number }[];
}

/** A TEK as the data plane needs it: the SA (both directions) and our first sequence number. */
export interface GroupSa {
  spi: number;
  sa: EspSaParams;
  /** Our Sender-ID's first sequence number on this SA (RFC 6054); 1 without Sender-IDs. */
  seqFirst?: bigint;
  /** The group index the TEK belongs to (default 0). */
  group?: number;
}

/** Route values: gateway + group index · 2^32 (exact in a double), so one group stores the bare gateway. */
const GROUP_UNIT = 4294967296;

export type GroupDropReason = EspDropReason | 'no-sa' | 'discard' | 'clear-protected' | 'policy' | 'not-member' | 'no-route';

const rangeOf = (p: Ipv4Prefix): Ipv4Range => ({ from: p.addr >>> 0, to: (p.addr | ~ipv4Mask(p.len)) >>> 0 });
const prefixText = (p: Ipv4Prefix) => `${formatIpv4(p.addr)}/${p.len}`;
/**
 * Prefix texts shared by every member (the same reflected prefixes reach all N members: N texts,
 * not N² strings). Keyed by address·64 + length (below 2^38, exact in a double). Bounded: cleared
 * when it grows past PREFIX_TEXTS_MAX.
 */
const prefixTexts = new Map<number, string>();
const PREFIX_TEXTS_MAX = 1 << 20;
export function sharedPrefixText(p: Ipv4Prefix): string {
  const k = (p.addr >>> 0) * 64 + p.len;
  let t = prefixTexts.get(k);
  if (t === undefined) {
    if (prefixTexts.size >= PREFIX_TEXTS_MAX) prefixTexts.clear();
    t = prefixText(p);
    prefixTexts.set(k, t);
  }
  return t;
}
const spiText = (spi: number) => `0x${spi.toString(16).padStart(8, '0')}`;
const hexOf = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

function ports(packet: Uint8Array, protocol: number): [number, number] {
  const ihl = (packet[0]! & 0x0f) * 4;
  if ((protocol !== IP_PROTO_TCP && protocol !== IP_PROTO_UDP) || packet.length < ihl + 4) return [0, 0];
  return [(packet[ihl]! << 8) | packet[ihl + 1]!, (packet[ihl + 2]! << 8) | packet[ihl + 3]!];
}

export class GroupEspApp implements NodeApp {
  readonly name = 'group-esp';
  readonly spd = new Spd();
  private readonly inbound = new Map<number, { handle: number; sa: GroupSa; group: number }>();
  /** Group 0's outbound SA (the only one with one group). */
  private outbound: { spi: number; handle: number } | undefined;
  /** Several groups: the outbound SA of each other group index, their Sender-ID bits, and labels. */
  private readonly multi: boolean;
  private readonly outboundByGroup = new Map<number, { spi: number; handle: number }>();
  private readonly bitsByGroup: (number | undefined)[] = [];
  private readonly groupIds: number[];
  /** S/R with several groups: the group whose SA carries the BGP channel with each member address. */
  private channelGroups: Map<number, number> | undefined;
  /** The group index of the last PROTECT decision (decide → seal / the inbound check). */
  private decidedGroup = 0;
  private readonly exported: EspSaExport[] = [];
  private readonly exportedSpis = new Set<number>();
  private readonly windows = new Map<string, ReplayWindow>();
  private senderIdBits: number | undefined;
  /** Gateways of the routes we protect, by remote prefix (for the snapshot); gateway + group · 2^32. */
  private readonly routes = new Map<string, number>();
  /** Longest-prefix table of the same routes: per prefix length, network → gateway (+ group · 2^32). */
  private readonly routeTable: (Map<number, number> | undefined)[] = [];
  private routeLens: number[] = [];
  /** S/R: inner sources allowed on the BGP channel (registered members); undefined = no check. */
  private allowedBgpPeers: Set<number> | undefined;
  /** Where inner packets addressed to this node go (the node's TCP). */
  private local: NodeApp[] = [];
  /** Changes to the TEKs held, the outbound SA and the reflected routes (NodeApp.stateVersion). */
  private changes = 0;
  readonly counters = { protected: 0, delivered: 0, bgpProtected: 0, bgpDelivered: 0, drops: {} as Partial<Record<GroupDropReason, number>> };

  constructor(
    private readonly ctx: NodeContext,
    private readonly engine: EspEngine,
    readonly config: GroupEspConfig,
  ) {
    this.multi = (config.groups?.length ?? 1) > 1;
    this.groupIds = config.groups?.map((g) => g.groupId) ?? [];
    const me = hostRange(config.tunnelAddr);
    // Claims 1, 7, 10–12: BGP between member and S/R only inside the group SA (one channel per S/R).
    const peers = config.bgpPeer === undefined ? [undefined] : [...new Set([config.bgpPeer, ...(config.groups ?? []).flatMap((g) => (g.srAddr === undefined ? [] : [g.srAddr]))])];
    for (const peer of peers) {
      const bgpRemote = peer === undefined ? ANY_ADDRESS : hostRange(peer);
      const tunnelRemote = peer ?? TUNNEL_TO_DESTINATION;
      const suffix = peers.length > 1 ? `:${formatIpv4(peer!)}` : '';
      for (const [name, localPorts, remotePorts] of [
        ['gkm:bgp-to-179', PORTS_ANY, { from: TCP_PORT_BGP, to: TCP_PORT_BGP }],
        ['gkm:bgp-from-179', { from: TCP_PORT_BGP, to: TCP_PORT_BGP }, PORTS_ANY],
      ] as const) {
        this.spd.add({ name: `${name}${suffix}`, origin: 'gcks', selectors: { local: me, remote: bgpRemote, protocol: IP_PROTO_TCP, localPorts, remotePorts }, action: { kind: 'protect', tunnelLocal: config.tunnelAddr, tunnelRemote, template: GROUP_TEMPLATE } });
      }
    }
    for (const p of config.trustedSubnets) {
      this.spd.add({ name: `gkm:discard:${prefixText(p)}`, origin: 'gcks', selectors: { local: rangeOf(p), remote: ANY_ADDRESS, protocol: PROTOCOL_ANY, localPorts: PORTS_ANY, remotePorts: PORTS_ANY }, action: { kind: 'discard' } });
    }
  }

  /** Inner packets addressed to this node are handed to these (the node's TCP). */
  deliverLocalTo(apps: NodeApp[]): void {
    this.local = apps;
  }

  // --- SAs from the GSA ---

  setSenderIdBits(bits: number | undefined, group = 0): void {
    if (group === 0) this.senderIdBits = bits;
    this.bitsByGroup[group] = bits;
  }

  /** Installs a TEK inbound (at once: RFC 5374 §4.2.1, receive before sending). */
  installTek(t: GroupSa): void {
    if (this.inbound.has(t.spi)) return;
    this.changes++;
    const handle = this.engine.addSa('inbound', { ...t.sa, replayWindow: 0, esn: false });
    this.inbound.set(t.spi, { handle, sa: t, group: t.group ?? 0 });
    if (!this.exportedSpis.has(t.spi)) {
      this.exportedSpis.add(t.spi);
      // Any member may send on a group SA to any other: Wireshark matches it by SPI alone.
      this.exported.push({ src: '*', dst: '*', spi: t.spi, suite: t.sa.suite, keyHex: hexOf(t.sa.key) + hexOf(t.sa.salt) });
    }
  }

  /** Sends on this TEK from now on (one outbound SA for every destination of its group). */
  useOutbound(spi: number): void {
    const t = this.inbound.get(spi);
    if (!t) return;
    const current = this.outboundOf(t.group);
    if (current?.spi === spi) return;
    this.changes++;
    if (current) this.engine.removeSa(current.handle);
    // The outer destination is set per packet; the engine wants some address here.
    const handle = this.engine.addSa('outbound', { ...t.sa.sa, tunnelSrc: this.config.tunnelAddr, tunnelDst: this.config.tunnelAddr, replayWindow: 0, esn: false });
    if (t.sa.seqFirst !== undefined) this.engine.setNextSeq(handle, t.sa.seqFirst);
    if (t.group === 0) this.outbound = { spi, handle };
    else this.outboundByGroup.set(t.group, { spi, handle });
  }

  removeTek(spi: number): void {
    const t = this.inbound.get(spi);
    if (!t) return;
    this.changes++;
    this.engine.removeSa(t.handle);
    this.inbound.delete(spi);
    for (const k of [...this.windows.keys()]) if (k.startsWith(`${spi}:`)) this.windows.delete(k);
    const out = this.outboundOf(t.group);
    if (out?.spi === spi) {
      this.engine.removeSa(out.handle);
      if (t.group === 0) this.outbound = undefined;
      else this.outboundByGroup.delete(t.group);
    }
  }

  private outboundOf(group: number): { spi: number; handle: number } | undefined {
    return group === 0 ? this.outbound : this.outboundByGroup.get(group);
  }

  /** The SPI we send on in `group` (default the first). */
  outboundSpi(group = 0): number | undefined {
    return this.outboundOf(group)?.spi;
  }

  /** S/R with several groups: the BGP channel with `addr` rides on `group`'s SA (undefined: forget it). */
  setChannelGroup(addr: number, group: number | undefined): void {
    this.channelGroups ??= new Map();
    if (group === undefined) this.channelGroups.delete(addr >>> 0);
    else this.channelGroups.set(addr >>> 0, group);
  }

  /**
   * The group whose SA carries the BGP channel with `peer`: on the S/R, as the GCKS set it; on a
   * member, the first of its groups served by that S/R that holds an outbound SA (else the first).
   */
  private channelGroup(peer: number): number {
    if (this.channelGroups) return this.channelGroups.get(peer >>> 0) ?? 0;
    const gs = this.config.groups;
    if (!gs) return 0;
    let first = -1;
    for (let i = 0; i < gs.length; i++) {
      if (gs[i]!.srAddr !== peer) continue;
      if (this.outboundOf(i)) return i;
      if (first < 0) first = i;
    }
    return first < 0 ? 0 : first;
  }

  inboundSpis(): number[] {
    return [...this.inbound.keys()];
  }

  /** S/R: BGP is accepted only from these inner sources (the registration table); undefined = any. */
  setAllowedBgpPeers(peers: Set<number> | undefined): void {
    this.allowedBgpPeers = peers;
  }

  // --- PROTECT entries from reflected routes (FIG. 5 steps 206–210) ---

  /**
   * Traffic from our trusted subnets to `remote` goes to `gateway` under the group SA. These PROTECT
   * entries sit between the BGP entries and the final DISCARD; they never overlap one another in
   * what they decide (each names one remote prefix, the longest wins), so they are kept decorrelated
   * (RFC 4301 §4.4.1.2) in a longest-prefix table: O(1) to add, however many members there are.
   */
  addRoute(remote: Ipv4Prefix, gateway: number, group = 0): void {
    this.changes++;
    const value = group === 0 ? gateway >>> 0 : (gateway >>> 0) + group * GROUP_UNIT;
    const key = sharedPrefixText(remote);
    const net = (remote.addr & ipv4Mask(remote.len)) >>> 0;
    let byNet = this.routeTable[remote.len];
    if (!byNet) {
      byNet = new Map();
      this.routeTable[remote.len] = byNet;
      this.routeLens = this.routeTable.map((m, len) => (m ? len : -1)).filter((l) => l >= 0).reverse();
    }
    byNet.set(net, value);
    this.routes.set(key, value);
  }

  removeRoute(remote: Ipv4Prefix): void {
    const key = sharedPrefixText(remote);
    if (!this.routes.delete(key)) return;
    this.changes++;
    this.routeTable[remote.len]?.delete((remote.addr & ipv4Mask(remote.len)) >>> 0);
  }

  /** The gateway protecting `remote` from our trusted subnets, if a reflected route covers it. */
  private gatewayFor(local: number, remote: number): number | undefined {
    if (!this.config.trustedSubnets.some((p) => ((local ^ p.addr) & ipv4Mask(p.len)) === 0)) return undefined;
    for (const len of this.routeLens) {
      const g = this.routeTable[len]!.get((remote & ipv4Mask(len)) >>> 0);
      if (g !== undefined) return g;
    }
    return undefined;
  }

  /**
   * The SPD decision: BGP entries, then the reflected routes, then the final DISCARD (first match
   * wins). With several groups, a PROTECT decision also sets `decidedGroup` (whose SA to use).
   */
  private decide(p: { local: number; remote: number; protocol: number; localPort: number; remotePort: number }): SpdEntry | undefined {
    const e = this.spd.lookup(p);
    if (e?.action.kind !== 'discard') {
      if (this.multi && e?.action.kind === 'protect') this.decidedGroup = this.channelGroup(p.remote >>> 0);
      return e;
    }
    const value = this.gatewayFor(p.local >>> 0, p.remote >>> 0);
    if (value === undefined) return e;
    const gateway = value >>> 0; // ToUint32 drops the group part
    if (this.multi) this.decidedGroup = (value - gateway) / GROUP_UNIT;
    return { name: 'route', origin: 'bgp', selectors: e.selectors, action: { kind: 'protect', tunnelLocal: this.config.tunnelAddr, tunnelRemote: gateway, template: GROUP_TEMPLATE } };
  }

  routeCount(): number {
    return this.routes.size;
  }

  // --- Packets ---

  /** A packet being forwarded: PROTECT, DISCARD or let it through (false). */
  transit(bytes: Uint8Array): boolean {
    const protocol = ipv4Protocol(bytes);
    const [sp, dp] = ports(bytes, protocol);
    const entry = this.decide({ local: ipv4Src(bytes), remote: ipv4Dst(bytes), protocol, localPort: sp, remotePort: dp });
    if (!entry || entry.action.kind === 'bypass') return false;
    if (entry.action.kind === 'discard') {
      this.drop('discard');
      return true;
    }
    if (this.seal(bytes, entry)) this.counters.protected++;
    return true;
  }

  /**
   * A packet this node originates (its TCP): sealed when an entry PROTECTs it; true if taken (sent or
   * dropped), false to send it in clear.
   */
  sendLocal(dst: number, protocol: number, payload: Uint8Array, src: number): boolean {
    const [sp, dp] = protocol === IP_PROTO_TCP || protocol === IP_PROTO_UDP ? [(payload[0]! << 8) | payload[1]!, (payload[2]! << 8) | payload[3]!] : [0, 0];
    const entry = this.decide({ local: src, remote: dst, protocol, localPort: sp, remotePort: dp });
    if (!entry || entry.action.kind === 'bypass') return false;
    if (entry.action.kind === 'discard') {
      this.drop('discard');
      return true;
    }
    const inner = encodeIpv4({ dscp: 0, ecn: 0, identification: 0, dontFragment: true, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol, src, dst, options: new Uint8Array(0) }, payload);
    if (this.seal(inner, entry)) this.counters.bgpProtected++;
    return true;
  }

  private seal(inner: Uint8Array, entry: SpdEntry): boolean {
    if (entry.action.kind !== 'protect') return false;
    const out = this.multi ? this.outboundOf(this.decidedGroup) : this.outbound;
    if (!out) {
      this.drop('no-sa');
      return false;
    }
    const [r] = this.engine.encapsulate(out.handle, [inner]);
    if (!r?.ok) {
      this.drop(r?.reason ?? 'malformed');
      return false;
    }
    const to = entry.action.tunnelRemote === TUNNEL_TO_DESTINATION ? ipv4Dst(inner) : entry.action.tunnelRemote;
    // The ESP part (after the engine's 20-octet outer header) goes out under our own header to `to`.
    this.ctx.sendIp(to, IP_PROTO_ESP, r.bytes.slice(20), this.config.tunnelAddr);
    return true;
  }

  receive(src: number, dst: number, protocol: number, payload: Uint8Array, nowUs: number, packet: Uint8Array): boolean {
    if (protocol === IP_PROTO_TCP) {
      // RFC 4301 §5.2: a clear packet that policy says must arrive protected is discarded.
      const [sp, dp] = payload.length >= 4 ? [(payload[0]! << 8) | payload[1]!, (payload[2]! << 8) | payload[3]!] : [0, 0];
      const entry = this.spd.lookup({ local: dst, remote: src, protocol, localPort: dp, remotePort: sp });
      if (entry?.action.kind === 'protect') {
        this.drop('clear-protected');
        this.ctx.log('group', `clear TCP ${formatIpv4(src)}:${sp} -> ${dp} dropped: policy requires ESP`);
        return true;
      }
      return false;
    }
    if (protocol !== IP_PROTO_ESP) return false;
    if (payload.length < 4) return false;
    const spi = ((payload[0]! << 24) | (payload[1]! << 16) | (payload[2]! << 8) | payload[3]!) >>> 0;
    const sa = this.inbound.get(spi);
    if (!sa) return false; // another app's SA
    const [r] = this.engine.decapsulate([packet]);
    if (!r?.ok) {
      this.drop(r?.reason ?? 'malformed');
      this.ctx.log('group', `ESP from ${formatIpv4(src)} dropped: ${r?.reason ?? 'malformed'}`);
      return true;
    }
    // Per-sender anti-replay (RFC 6054 §3, RFC 4303 §3.4.3 per Sender-ID).
    const seq = Number(r.seq & 0xffffffffn);
    const bits = (this.multi ? this.bitsByGroup[sa.group] : this.senderIdBits) ?? 0;
    const sid = bits > 0 ? seq >>> (32 - bits) : 0;
    const key = `${spi}:${sid}`;
    let w = this.windows.get(key);
    if (!w) {
      if (this.windows.size >= SENDER_WINDOWS_MAX) this.windows.clear();
      w = new ReplayWindow(SENDER_WINDOW_BITS, false);
      this.windows.set(key, w);
    }
    const c = w.check(seq);
    if (!c.ok) {
      this.drop(c.reason);
      return true;
    }
    w.accept(c.seq);
    const inner = r.bytes.slice();
    const dec = decodeIpv4(inner);
    if (!dec.ok) {
      this.drop('malformed');
      return true;
    }
    const h = dec.value.header;
    const [sp, dp] = ports(inner, h.protocol);
    // RFC 4301 §5.2: the inner packet must match the policy it came under (reverse direction).
    const entry = this.decide({ local: h.dst, remote: h.src, protocol: h.protocol, localPort: dp, remotePort: sp });
    if (entry?.action.kind !== 'protect') {
      this.drop('policy');
      return true;
    }
    // Several groups: a packet on G's SA comes from a prefix of G, or from behind the gateway that
    // sealed it (a member in several groups with us may reach us through another shared group).
    if (this.multi && entry.name === 'route' && this.decidedGroup !== sa.group && entry.action.tunnelRemote !== src >>> 0) {
      this.drop('policy');
      return true;
    }
    if (this.ctx.isLocal(h.dst)) {
      if (this.allowedBgpPeers && !this.allowedBgpPeers.has(h.src >>> 0)) {
        this.drop('not-member');
        return true;
      }
      this.counters.bgpDelivered++;
      for (const app of this.local) if (app.receive(h.src, h.dst, h.protocol, dec.value.payload, nowUs, inner)) return true;
      return true;
    }
    this.counters.delivered++;
    this.ctx.forwardPacket(inner, nowUs);
    return true;
  }

  timer(): void {}

  nextDeadlineUs(): number | undefined {
    return undefined;
  }

  stateVersion(): number {
    return this.changes;
  }

  snapshot(): Record<string, unknown> {
    const o = this.outbound ? this.engine.counters(this.outbound.handle) : undefined;
    return {
      counters: { ...this.counters, drops: { ...this.counters.drops } },
      // One group SA set per group whatever N: the TEKs held, each once inbound, the newest once outbound.
      sas: { inbound: this.inbound.size, outbound: (this.outbound ? 1 : 0) + this.outboundByGroup.size },
      teks: [...this.inbound.keys()].map(spiText),
      outboundSpi: this.outbound ? spiText(this.outbound.spi) : undefined,
      outboundPackets: o?.packets ?? 0,
      routes: this.routes.size,
      /** Remote prefixes PROTECTed through a member's gateway (the reflected routes in force). */
      prefixes: [...this.routes.keys()],
      ...(this.multi ? { groups: this.groupsView() } : {}),
      spd: this.spdView(64),
    };
  }

  /** Several groups: per group id, its TEKs, the SPI we send on and the prefixes it protects. */
  private groupsView(): { group: number; teks: string[]; outboundSpi?: string; routes: number }[] {
    return this.groupIds.map((groupId, i) => {
      const out = this.outboundOf(i);
      let routes = 0;
      for (const v of this.routes.values()) if (Math.floor(v / GROUP_UNIT) === i) routes++;
      return { group: groupId, teks: [...this.inbound].filter(([, t]) => t.group === i).map(([spi]) => spiText(spi)), ...(out ? { outboundSpi: spiText(out.spi) } : {}), routes };
    });
  }

  /** Routes learned in `group` (several groups; for tests and the member's snapshot). */
  routeCountOf(group: number): number {
    let n = 0;
    for (const v of this.routes.values()) if (Math.floor(v / GROUP_UNIT) === group) n++;
    return n;
  }

  /** The SPD in order (BGP entries, reflected routes, DISCARD), at most `max` lines, else the count. */
  spdView(max: number): string[] | number {
    const line = (e: SpdEntry) => `${e.name} ${formatRange(e.selectors.local)} > ${formatRange(e.selectors.remote)} ${e.action.kind}`;
    const fixed = this.spd.list();
    const total = fixed.length + this.routes.size * this.config.trustedSubnets.length;
    if (total > max) return total;
    const out = fixed.filter((e) => e.action.kind !== 'discard').map(line);
    const label = (v: number) => (this.multi ? ` group ${this.groupIds[Math.floor(v / GROUP_UNIT)] ?? Math.floor(v / GROUP_UNIT)}` : '');
    for (const [remote, v] of [...this.routes.entries()].sort()) for (const l of this.config.trustedSubnets) out.push(`route:${remote}:${prefixText(l)} ${prefixText(l)} > ${remote} protect via ${formatIpv4(v >>> 0)}${label(v)}`);
    for (const e of fixed) if (e.action.kind === 'discard') out.push(line(e));
    return out;
  }

  espSas(): EspSaExport[] {
    return this.exported.slice();
  }

  private drop(reason: GroupDropReason): void {
    this.counters.drops[reason] = (this.counters.drops[reason] ?? 0) + 1;
  }
}
