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
}

/** A TEK as the data plane needs it: the SA (both directions) and our first sequence number. */
export interface GroupSa {
  spi: number;
  sa: EspSaParams;
  /** Our Sender-ID's first sequence number on this SA (RFC 6054); 1 without Sender-IDs. */
  seqFirst?: bigint;
}

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
function sharedPrefixText(p: Ipv4Prefix): string {
  const k = (p.addr >>> 0) * 64 + p.len;
  let t = prefixTexts.get(k);
  if (t === undefined) {
    if (prefixTexts.size >= PREFIX_TEXTS_MAX) prefixTexts.clear();
    t = prefixText(p);
    prefixTexts.set(k, t);
  }
  return t;
}
const hexOf = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

function ports(packet: Uint8Array, protocol: number): [number, number] {
  const ihl = (packet[0]! & 0x0f) * 4;
  if ((protocol !== IP_PROTO_TCP && protocol !== IP_PROTO_UDP) || packet.length < ihl + 4) return [0, 0];
  return [(packet[ihl]! << 8) | packet[ihl + 1]!, (packet[ihl + 2]! << 8) | packet[ihl + 3]!];
}

export class GroupEspApp implements NodeApp {
  readonly name = 'group-esp';
  readonly spd = new Spd();
  private readonly inbound = new Map<number, { handle: number; sa: GroupSa }>();
  private outbound: { spi: number; handle: number } | undefined;
  private readonly exported: EspSaExport[] = [];
  private readonly exportedSpis = new Set<number>();
  private readonly windows = new Map<string, ReplayWindow>();
  private senderIdBits: number | undefined;
  /** Gateways of the routes we protect, by remote prefix (for the snapshot). */
  private readonly routes = new Map<string, number>();
  /** Longest-prefix table of the same routes: per prefix length, network → gateway. */
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
    const bgpRemote = config.bgpPeer === undefined ? ANY_ADDRESS : hostRange(config.bgpPeer);
    const tunnelRemote = config.bgpPeer ?? TUNNEL_TO_DESTINATION;
    const me = hostRange(config.tunnelAddr);
    // Claims 1, 7, 10–12: BGP between member and S/R only inside the group SA.
    for (const [name, localPorts, remotePorts] of [
      ['gkm:bgp-to-179', PORTS_ANY, { from: TCP_PORT_BGP, to: TCP_PORT_BGP }],
      ['gkm:bgp-from-179', { from: TCP_PORT_BGP, to: TCP_PORT_BGP }, PORTS_ANY],
    ] as const) {
      this.spd.add({ name, origin: 'gcks', selectors: { local: me, remote: bgpRemote, protocol: IP_PROTO_TCP, localPorts, remotePorts }, action: { kind: 'protect', tunnelLocal: config.tunnelAddr, tunnelRemote, template: GROUP_TEMPLATE } });
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

  setSenderIdBits(bits: number | undefined): void {
    this.senderIdBits = bits;
  }

  /** Installs a TEK inbound (at once: RFC 5374 §4.2.1, receive before sending). */
  installTek(t: GroupSa): void {
    if (this.inbound.has(t.spi)) return;
    this.changes++;
    const handle = this.engine.addSa('inbound', { ...t.sa, replayWindow: 0, esn: false });
    this.inbound.set(t.spi, { handle, sa: t });
    if (!this.exportedSpis.has(t.spi)) {
      this.exportedSpis.add(t.spi);
      // Any member may send on a group SA to any other: Wireshark matches it by SPI alone.
      this.exported.push({ src: '*', dst: '*', spi: t.spi, suite: t.sa.suite, keyHex: hexOf(t.sa.key) + hexOf(t.sa.salt) });
    }
  }

  /** Sends on this TEK from now on (one outbound SA for every destination). */
  useOutbound(spi: number): void {
    const t = this.inbound.get(spi);
    if (!t || this.outbound?.spi === spi) return;
    this.changes++;
    if (this.outbound) this.engine.removeSa(this.outbound.handle);
    // The outer destination is set per packet; the engine wants some address here.
    const handle = this.engine.addSa('outbound', { ...t.sa.sa, tunnelSrc: this.config.tunnelAddr, tunnelDst: this.config.tunnelAddr, replayWindow: 0, esn: false });
    if (t.sa.seqFirst !== undefined) this.engine.setNextSeq(handle, t.sa.seqFirst);
    this.outbound = { spi, handle };
  }

  removeTek(spi: number): void {
    const t = this.inbound.get(spi);
    if (!t) return;
    this.changes++;
    this.engine.removeSa(t.handle);
    this.inbound.delete(spi);
    for (const k of [...this.windows.keys()]) if (k.startsWith(`${spi}:`)) this.windows.delete(k);
    if (this.outbound?.spi === spi) {
      this.engine.removeSa(this.outbound.handle);
      this.outbound = undefined;
    }
  }

  outboundSpi(): number | undefined {
    return this.outbound?.spi;
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
  addRoute(remote: Ipv4Prefix, gateway: number): void {
    this.changes++;
    const key = sharedPrefixText(remote);
    const net = (remote.addr & ipv4Mask(remote.len)) >>> 0;
    let byNet = this.routeTable[remote.len];
    if (!byNet) {
      byNet = new Map();
      this.routeTable[remote.len] = byNet;
      this.routeLens = this.routeTable.map((m, len) => (m ? len : -1)).filter((l) => l >= 0).reverse();
    }
    byNet.set(net, gateway >>> 0);
    this.routes.set(key, gateway >>> 0);
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

  /** The SPD decision: BGP entries, then the reflected routes, then the final DISCARD (first match wins). */
  private decide(p: { local: number; remote: number; protocol: number; localPort: number; remotePort: number }): SpdEntry | undefined {
    const e = this.spd.lookup(p);
    if (e?.action.kind !== 'discard') return e;
    const gateway = this.gatewayFor(p.local >>> 0, p.remote >>> 0);
    if (gateway === undefined) return e;
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
    if (!this.outbound) {
      this.drop('no-sa');
      return false;
    }
    const [r] = this.engine.encapsulate(this.outbound.handle, [inner]);
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
    if (payload.length >= 4 && !this.inbound.has(((payload[0]! << 24) | (payload[1]! << 16) | (payload[2]! << 8) | payload[3]!) >>> 0)) return false; // another app's SA
    const spi = ((payload[0]! << 24) | (payload[1]! << 16) | (payload[2]! << 8) | payload[3]!) >>> 0;
    const [r] = this.engine.decapsulate([packet]);
    if (!r?.ok) {
      this.drop(r?.reason ?? 'malformed');
      this.ctx.log('group', `ESP from ${formatIpv4(src)} dropped: ${r?.reason ?? 'malformed'}`);
      return true;
    }
    // Per-sender anti-replay (RFC 6054 §3, RFC 4303 §3.4.3 per Sender-ID).
    const seq = Number(r.seq & 0xffffffffn);
    const bits = this.senderIdBits ?? 0;
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
      // One group SA set whatever N: the TEKs held, each once inbound, the newest once outbound.
      sas: { inbound: this.inbound.size, outbound: this.outbound ? 1 : 0 },
      teks: [...this.inbound.keys()].map((spi) => `0x${spi.toString(16).padStart(8, '0')}`),
      outboundSpi: this.outbound ? `0x${this.outbound.spi.toString(16).padStart(8, '0')}` : undefined,
      outboundPackets: o?.packets ?? 0,
      routes: this.routes.size,
      /** Remote prefixes PROTECTed through a member's gateway (the reflected routes in force). */
      prefixes: [...this.routes.keys()],
      spd: this.spdView(64),
    };
  }

  /** The SPD in order (BGP entries, reflected routes, DISCARD), at most `max` lines, else the count. */
  spdView(max: number): string[] | number {
    const line = (e: SpdEntry) => `${e.name} ${formatRange(e.selectors.local)} > ${formatRange(e.selectors.remote)} ${e.action.kind}`;
    const fixed = this.spd.list();
    const total = fixed.length + this.routes.size * this.config.trustedSubnets.length;
    if (total > max) return total;
    const out = fixed.filter((e) => e.action.kind !== 'discard').map(line);
    for (const [remote, gw] of [...this.routes.entries()].sort()) for (const l of this.config.trustedSubnets) out.push(`route:${remote}:${prefixText(l)} ${prefixText(l)} > ${remote} protect via ${formatIpv4(gw)}`);
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
