// A node's IKEv2 (RFC 7296) on UDP 500: hosts the sans-IO IkeEndpoint, carries its datagrams over
// the node's IPv4, drives its timers and hands its events (Child SAs to install or delete) to the
// app that owns the SPD. Owns the IKE plumbing and its counters; never installs an SA itself.
//
// Authentication (seed 002, zero per-peer configuration): every gateway of a VPN shares the VPN's
// pre-shared key; a peer is identified by ID_IPV4_ADDR = its tunnel address (the Security Gateway
// Identity), so any gateway BGP names can be authenticated without a per-peer entry.

import { formatIpv4 } from '../lib/addr.ts';
import { hex } from '../lib/bytes.ts';
import type { Rng } from '../lib/rng.ts';
import { decodeUdp, encodeUdp, IP_PROTO_UDP, UDP_PORT_IKE } from '../proto/ip/index.ts';
import {
  ID_TYPE,
  IkeEndpoint,
  notifyName,
  type ChildLifetime,
  type ChildRequest,
  type IkeEndpointEvent,
  type IkeId,
  type IkePeer,
  type IkeSaCommand,
  type IkeTiming,
  type SelectorPair,
} from '../proto/ike/index.ts';
import type { NodeApp, NodeContext, SnapshotPurpose } from './types.ts';

export interface IkeAppConfig {
  /** Our tunnel address: IKE runs from it and it is our identity (ID_IPV4_ADDR). */
  localAddr: number;
  /** The pre-shared key every peer authenticates with (RFC 7296 §2.15, shared-key MIC). */
  psk: Uint8Array;
  childLifetime?: ChildLifetime;
  timing?: Partial<IkeTiming>;
  /** IKE SAs at once (default 256). */
  saMax?: number;
}

/** The responder's policy check (RFC 7296 §2.9), answered by whoever owns the SPD. */
export type IkeNarrowFn = (proposed: SelectorPair, peerAddr: number) => SelectorPair | undefined;

/** Told every IKE event, with the IKE SA's id and its peer. */
export type IkeEventListener = (saId: number, peerAddr: number, event: IkeEndpointEvent, nowUs: number) => void;

interface SaStats {
  peer: number;
  role: 'initiator' | 'responder';
  txMessages: number;
  txBytes: number;
  rxMessages: number;
  rxBytes: number;
  childSas: number;
  rekeys: number;
  failure?: string;
  closed?: string;
  /** Child SA negotiations refused, by error code (e.g. TS_UNACCEPTABLE). */
  childFailures: Record<string, number>;
}

/** IKE SAs remembered for the snapshot after they are gone, at most. */
export const IKE_HISTORY_MAX = 256;

export function ipv4Id(addr: number): IkeId {
  return { idType: ID_TYPE.ID_IPV4_ADDR, data: Uint8Array.of(addr >>> 24, (addr >>> 16) & 0xff, (addr >>> 8) & 0xff, addr & 0xff) };
}

export class IkeApp implements NodeApp {
  readonly name = 'ike';
  readonly endpoint: IkeEndpoint;
  private readonly listeners: IkeEventListener[] = [];
  private narrowFn: IkeNarrowFn = () => undefined;
  private readonly stats = new Map<number, SaStats>();
  /** Which SA a datagram from a peer belongs to, for the per-SA counters: our SPI → SA id. */
  private readonly bySpi = new Map<string, number>();
  readonly counters = { txMessages: 0, txBytes: 0, rxMessages: 0, rxBytes: 0, rxMalformed: 0 };

  constructor(
    private readonly ctx: NodeContext,
    private readonly cfg: IkeAppConfig,
    rng: Rng,
  ) {
    const peerFor = (addr: number): IkePeer => ({ id: ipv4Id(addr), addr: addr >>> 0, credential: { method: 'psk', psk: cfg.psk } });
    this.endpoint = new IkeEndpoint(
      {
        localAddr: cfg.localAddr,
        localId: ipv4Id(cfg.localAddr),
        peers: [],
        peerByAddr: (addr) => peerFor(addr),
        // Only address identities: the identity is the gateway address BGP advertised.
        peerById: (id) => (id.idType === ID_TYPE.ID_IPV4_ADDR && id.data.length === 4 ? peerFor(((id.data[0]! << 24) | (id.data[1]! << 16) | (id.data[2]! << 8) | id.data[3]!) >>> 0) : undefined),
        narrow: (proposed, peer) => this.narrowFn(proposed, peer.addr ?? 0),
        ...(cfg.childLifetime ? { childLifetime: cfg.childLifetime } : {}),
        ...(cfg.timing ? { timing: cfg.timing } : {}),
        saMax: cfg.saMax ?? 256,
      },
      rng,
    );
  }

  get localAddr(): number {
    return this.cfg.localAddr;
  }

  onEvent(listener: IkeEventListener): void {
    this.listeners.push(listener);
  }

  /** Sets the responder's narrowing (the SPD owner's policy). */
  setNarrow(fn: IkeNarrowFn): void {
    this.narrowFn = fn;
  }

  /** Asks for a Child SA with a peer (on its IKE SA if one exists, else a new one). */
  requestChild(peerAddr: number, child: ChildRequest, nowUs: number): void {
    this.endpoint.handle({ kind: 'command', command: { kind: 'request-child', peerAddr, child } }, nowUs);
    this.drain(nowUs);
  }

  command(saId: number, command: IkeSaCommand, nowUs: number): void {
    this.endpoint.handle({ kind: 'command', command: { kind: 'sa', saId, command } }, nowUs);
    this.drain(nowUs);
  }

  receive(src: number, dst: number, protocol: number, payload: Uint8Array, nowUs: number): boolean {
    if (protocol !== IP_PROTO_UDP || dst !== this.cfg.localAddr || payload.length < 4) return false;
    if (((payload[2]! << 8) | payload[3]!) !== UDP_PORT_IKE) return false;
    const udp = decodeUdp(payload, src, dst);
    if (!udp.ok) {
      this.counters.rxMalformed++;
      return true;
    }
    const bytes = udp.value.payload.slice();
    this.counters.rxMessages++;
    this.counters.rxBytes += bytes.length;
    this.countRx(bytes);
    this.endpoint.handle({ kind: 'rx', datagram: { srcAddr: src, srcPort: udp.value.srcPort, dstAddr: dst, dstPort: udp.value.dstPort, bytes } }, nowUs);
    this.drain(nowUs);
    return true;
  }

  timer(nowUs: number): void {
    this.endpoint.handle({ kind: 'timer' }, nowUs);
    this.drain(nowUs);
  }

  nextDeadlineUs(): number | undefined {
    return this.endpoint.nextDeadlineUs();
  }

  /** NodeApp.stateVersion: bumped by every IKE or Child SA event (created, up, rekeyed, failed, gone). */
  stateVersion(): number {
    return this.version;
  }

  snapshot(purpose?: SnapshotPurpose): Record<string, unknown> {
    // The convergence check reads nothing of the IKE SAs (the Child SAs count where installed: ipsec).
    if (purpose === 'convergence' || purpose === 'sessions') return {};
    const live = new Set(this.endpoint.saIds());
    return {
      counters: { ...this.counters, endpointDrops: { ...this.endpoint.counters.rxDropped } },
      sas: [...this.stats.entries()].map(([id, s]) => {
        const sa = live.has(id) ? this.endpoint.sa(id) : undefined;
        const spis = sa?.spis;
        return {
          id,
          peer: formatIpv4(s.peer),
          role: s.role,
          state: sa?.state ?? (s.failure ? 'failed' : 'closed'),
          ...(spis ? { spiI: hex(spis.spiI), spiR: hex(spis.spiR) } : {}),
          childSas: sa ? sa.childSas().map((c) => ({ inbound: c.inbound.spi, outbound: c.outbound.spi })) : [],
          rekeys: s.rekeys,
          childFailures: { ...s.childFailures },
          messages: { tx: s.txMessages, txBytes: s.txBytes, rx: s.rxMessages, rxBytes: s.rxBytes },
          ...(s.failure ? { failure: s.failure } : {}),
          ...(s.closed ? { closed: s.closed } : {}),
        };
      }),
    };
  }

  /** The SA a received message belongs to, from its SPIs (RFC 7296 §2.6), for the counters. */
  private countRx(bytes: Uint8Array): void {
    if (bytes.length < 28) return;
    const initiatorFlag = (bytes[19]! & 0x08) !== 0;
    const ours = hex(initiatorFlag ? bytes.subarray(8, 16) : bytes.subarray(0, 8));
    const s = this.saFor(ours);
    if (s) {
      s.rxMessages++;
      s.rxBytes += bytes.length;
    } else {
      // A first IKE_SA_INIT: counted when its SA is created (below, by peer).
      this.pendingRx = { bytes: bytes.length };
    }
  }

  private pendingRx: { bytes: number } | undefined;
  /** NodeApp.stateVersion (see there). */
  private version = 0;

  private drain(nowUs: number): void {
    for (let o = this.endpoint.poll(); o !== undefined; o = this.endpoint.poll()) {
      if (o.kind === 'tx') {
        const d = o.datagram;
        this.counters.txMessages++;
        this.counters.txBytes += d.bytes.length;
        this.txStats(d.bytes);
        this.ctx.sendIp(d.dstAddr, IP_PROTO_UDP, encodeUdp({ srcPort: d.srcPort, dstPort: d.dstPort, payload: d.bytes }, d.srcAddr, d.dstAddr), d.srcAddr);
      } else if (o.kind === 'log') {
        this.ctx.log('ike', o.text);
      } else {
        this.onSaEvent(o.saId, o.event, nowUs);
      }
    }
  }

  private txStats(bytes: Uint8Array): void {
    if (bytes.length < 28) return;
    const initiatorFlag = (bytes[19]! & 0x08) !== 0;
    const ours = hex(initiatorFlag ? bytes.subarray(0, 8) : bytes.subarray(8, 16));
    const s = this.saFor(ours);
    if (s) {
      s.txMessages++;
      s.txBytes += bytes.length;
    }
  }

  private onSaEvent(saId: number, event: IkeEndpointEvent, nowUs: number): void {
    this.version++;
    if (event.kind === 'ike-sa-created') {
      const s: SaStats = { peer: event.peerAddr, role: event.role, txMessages: 0, txBytes: 0, rxMessages: 0, rxBytes: 0, childSas: 0, rekeys: 0, childFailures: {} };
      if (event.role === 'responder' && this.pendingRx) {
        s.rxMessages++;
        s.rxBytes += this.pendingRx.bytes;
      }
      this.pendingRx = undefined;
      this.stats.set(saId, s);
      // The SA's own SPI is allocated already (initiator) or with its first response (responder).
      this.fileSpi(saId);
      if (this.stats.size > IKE_HISTORY_MAX) {
        for (const id of this.stats.keys()) {
          if (this.endpoint.sa(id)) continue;
          this.stats.delete(id);
          for (const [spi, v] of this.bySpi) if (v === id) this.bySpi.delete(spi);
          break;
        }
      }
    }
    this.fileSpi(saId);
    const s = this.stats.get(saId);
    const peer = s?.peer ?? 0;
    switch (event.kind) {
      case 'ike-sa-established':
        this.ctx.log('ike', `IKE SA ${saId} with ${formatIpv4(peer)} established (${event.role})`);
        break;
      case 'ike-sa-failed':
        if (s) s.failure = event.failure.notify !== undefined ? (notifyName(event.failure.notify) ?? event.failure.code) : event.failure.code;
        this.ctx.log('ike', `IKE SA ${saId} with ${formatIpv4(peer)} failed: ${event.failure.code} (${event.failure.detectedBy}) ${event.failure.message}`);
        break;
      case 'ike-sa-closed':
        if (s) s.closed = event.by;
        break;
      case 'child-sa-installed':
        if (s) {
          s.childSas++;
          if (event.rekeyOf !== undefined) s.rekeys++;
        }
        break;
      case 'child-sa-failed':
        if (s) s.childFailures[event.failure.code] = (s.childFailures[event.failure.code] ?? 0) + 1;
        this.ctx.log('ike', `Child SA with ${formatIpv4(peer)} failed: ${event.failure.code} (${event.failure.detectedBy})`);
        break;
      default:
        break;
    }
    for (const l of this.listeners) l(saId, peer, event, nowUs);
  }

  /** The stats of the SA whose own SPI is `spiHex` (filing SPIs allocated since the last look). */
  private saFor(spiHex: string): SaStats | undefined {
    let id = this.bySpi.get(spiHex);
    if (id === undefined) {
      for (const k of this.endpoint.saIds()) this.fileSpi(k);
      id = this.bySpi.get(spiHex);
    }
    return id === undefined ? undefined : this.stats.get(id);
  }

  private fileSpi(saId: number): void {
    const sa = this.endpoint.sa(saId);
    if (sa && sa.localSpi.some((b) => b !== 0)) this.bySpi.set(hex(sa.localSpi), saId);
  }
}
