// The IKE endpoint on UDP 500: demultiplexes datagrams to IKE SAs by SPI, creates responder SAs for
// new IKE_SA_INIT requests per its policy, allocates unique SPIs. Sans-IO; never opens a socket.
//
// An SA is found by our own SPI: SPIr when the I flag says the sender is the original initiator,
// SPIi otherwise (RFC 7296 §2.6). A new IKE_SA_INIT request (SPIr zero) is keyed by peer address,
// port and SPIi, so its retransmissions reach the same half-open SA.

import { formatIpv4 } from '../../lib/addr.ts';
import { hex } from '../../lib/bytes.ts';
import { assert } from '../../lib/errors.ts';
import type { SansIo } from '../../lib/sans-io.ts';
import { EXCHANGE, FLAG_INITIATOR, FLAG_RESPONSE, IKE_SPI_BYTES, PRF_HMAC_SHA2_256 } from './constants.ts';
import { DH_GROUPS, randomBytes, type RandomSource } from './crypto.ts';
import type { IkeErrorCode } from './errors.ts';
import {
  IkeSa,
  IKE_TIMING_DEFAULT,
  sameId,
  type ChildLifetime,
  type ChildRequest,
  type IkeDatagram,
  type IkeEvent,
  type IkeId,
  type IkePeer,
  type IkeSaCommand,
  type IkeSaContext,
  type IkeTiming,
  type TsNarrowFn,
} from './ike-sa.ts';
import { decodeHeader } from './message.ts';
import { CHILD_SUITES_DEFAULT, IKE_PROPOSAL_DEFAULT, type ChildSuite, type IkeProposalConfig } from './proposals.ts';
import { isTerminal } from './states.ts';

export const IKE_PORT = 500;

export interface IkeEndpointConfig {
  localAddr: number;
  /** Default 500. */
  localPort?: number;
  localId: IkeId;
  /** Our Ed25519 private key (32 bytes), needed if any peer authenticates by Ed25519 (RFC 8420). */
  ed25519SecretKey?: Uint8Array;
  /** The peers we talk to: identity, credential, traffic policy. */
  peers: IkePeer[];
  /**
   * Peers not in `peers`, found when needed (e.g. seed 002: any gateway of the VPN, authenticated
   * with the VPN's key): by the address an initiator talks to, and by the IDi a responder receives.
   */
  peerByAddr?: (addr: number) => IkePeer | undefined;
  peerById?: (id: IkeId) => IkePeer | undefined;
  ikeProposal?: IkeProposalConfig;
  childSuites?: ChildSuite[];
  narrow?: TsNarrowFn;
  timing?: Partial<IkeTiming>;
  childLifetime?: ChildLifetime;
  /** Default 64. */
  replayWindow?: number;
  /** IKE SAs at once (default 1024); new ones beyond it are refused. */
  saMax?: number;
  /** Half-open responder SAs at once (default 64); IKE_SA_INIT requests beyond it are dropped. */
  halfOpenMax?: number;
  /** Commands waiting per SA (default 32). */
  commandQueueMax?: number;
}

export type IkeEndpointCommand =
  /**
   * Protect traffic with a peer: on its IKE SA if one is up or coming up, else on a new one
   * (the IKE_AUTH exchange then carries this Child SA).
   */
  | { kind: 'request-child'; peerAddr: number; peerPort?: number; child: ChildRequest }
  /** A command for one IKE SA. */
  | { kind: 'sa'; saId: number; command: IkeSaCommand };

export type IkeEndpointInput = { kind: 'rx'; datagram: IkeDatagram } | { kind: 'timer' } | { kind: 'command'; command: IkeEndpointCommand };

export type IkeEndpointEvent = IkeEvent | { kind: 'ike-sa-created'; role: 'initiator' | 'responder'; peerAddr: number; peerPort: number };

export type IkeEndpointOutput =
  | { kind: 'tx'; datagram: IkeDatagram }
  | { kind: 'event'; saId: number; event: IkeEndpointEvent }
  | { kind: 'log'; topic: 'ike'; text: string };

/** Outputs pending at once; the caller drains `poll()` after each `handle()`. */
export const IKE_ENDPOINT_OUTPUT_QUEUE_MAX = 4096;

export class IkeEndpoint implements SansIo<IkeEndpointInput, IkeEndpointOutput> {
  private readonly sas = new Map<number, IkeSa>();
  private readonly bySpi = new Map<string, number>();
  private readonly byInit = new Map<string, number>();
  private readonly espSpis = new Set<number>();
  private readonly outputs: IkeEndpointOutput[] = [];
  private nextSaId = 1;
  private readonly localPort: number;
  private readonly timing: IkeTiming;

  /** Datagrams dropped before reaching an SA, by reason. */
  readonly counters = {
    rxDropped: {} as Partial<Record<IkeErrorCode | 'UNKNOWN_SPI' | 'HALF_OPEN_FULL' | 'SA_TABLE_FULL', number>>,
  };

  constructor(
    private readonly cfg: IkeEndpointConfig,
    private readonly rng: RandomSource,
  ) {
    this.localPort = cfg.localPort ?? IKE_PORT;
    this.timing = { ...IKE_TIMING_DEFAULT, ...cfg.timing };
    // API misuse, not peer input: fail loudly at construction.
    if (cfg.peers.some((p) => p.credential.method === 'ed25519') && cfg.ed25519SecretKey?.length !== 32)
      throw new RangeError('IkeEndpoint: an Ed25519 peer needs a 32-byte ed25519SecretKey');
    if (this.timing.retransmitTriesMax < 1 || this.timing.retransmitBaseUs <= 0) throw new RangeError('IkeEndpoint: bad retransmission timing');
    const ike = cfg.ikeProposal ?? IKE_PROPOSAL_DEFAULT;
    if (ike.prfs.length === 0 || ike.prfs.some((p) => p !== PRF_HMAC_SHA2_256)) throw new RangeError('IkeEndpoint: only PRF_HMAC_SHA2_256 is implemented');
    if (ike.encrs.length === 0 || ike.dhGroups.length === 0) throw new RangeError('IkeEndpoint: the IKE proposal needs an ENCR and a D-H group');
    const groups = [...ike.dhGroups, ...(cfg.childSuites ?? []).flatMap((s) => (s.pfsGroup === undefined ? [] : [s.pfsGroup]))];
    for (const g of groups) if (!DH_GROUPS.has(g)) throw new RangeError(`IkeEndpoint: D-H group ${g} is not implemented (${[...DH_GROUPS.keys()].join(', ')} are)`);
  }

  /** The IKE SA with this id, for inspection. */
  sa(saId: number): IkeSa | undefined {
    return this.sas.get(saId);
  }

  saIds(): number[] {
    return [...this.sas.keys()];
  }

  handle(input: IkeEndpointInput, nowUs: number): void {
    switch (input.kind) {
      case 'rx':
        this.onRx(input.datagram, nowUs);
        break;
      case 'timer':
        for (const [id, sa] of this.sas) {
          const t = sa.nextDeadlineUs();
          if (t !== undefined && t <= nowUs) this.drive(id, sa, { kind: 'timer' }, nowUs);
        }
        break;
      case 'command':
        this.onCommand(input.command, nowUs);
        break;
    }
  }

  poll(): IkeEndpointOutput | undefined {
    return this.outputs.shift();
  }

  nextDeadlineUs(): number | undefined {
    let t: number | undefined;
    for (const sa of this.sas.values()) {
      const d = sa.nextDeadlineUs();
      if (d !== undefined && (t === undefined || d < t)) t = d;
    }
    return t;
  }

  private out(o: IkeEndpointOutput): void {
    assert(this.outputs.length < IKE_ENDPOINT_OUTPUT_QUEUE_MAX, 'IKE endpoint output queue full: the caller must drain poll()');
    this.outputs.push(o);
  }

  private count(reason: IkeErrorCode | 'UNKNOWN_SPI' | 'HALF_OPEN_FULL' | 'SA_TABLE_FULL', why: string): void {
    this.counters.rxDropped[reason] = (this.counters.rxDropped[reason] ?? 0) + 1;
    this.out({ kind: 'log', topic: 'ike', text: `endpoint dropped: ${reason} (${why})` });
  }

  private context(): IkeSaContext {
    return {
      rng: this.rng,
      allocateIkeSpi: () => {
        for (;;) {
          const spi = randomBytes(this.rng, IKE_SPI_BYTES);
          if (spi.some((b) => b !== 0) && !this.bySpi.has(hex(spi))) return spi;
        }
      },
      allocateEspSpi: () => {
        for (;;) {
          const spi = this.rng.nextU32();
          // SPIs 1–255 are reserved by IANA (RFC 4303 §2.1).
          if (spi >= 256 && !this.espSpis.has(spi)) {
            this.espSpis.add(spi);
            return spi;
          }
        }
      },
      releaseEspSpi: (spi) => void this.espSpis.delete(spi),
    };
  }

  private newSa(role: 'initiator' | 'responder', peerAddr: number, peerPort: number, peer: IkePeer | undefined): { id: number; sa: IkeSa } {
    const c = this.cfg;
    const sa = new IkeSa(
      {
        role,
        localAddr: c.localAddr,
        localPort: this.localPort,
        remoteAddr: peerAddr,
        remotePort: peerPort,
        localId: c.localId,
        ...(c.ed25519SecretKey ? { ed25519SecretKey: c.ed25519SecretKey } : {}),
        ...(peer ? { peer } : {}),
        findPeer: (id) => c.peers.find((p) => sameId(p.id, id)) ?? c.peerById?.(id),
        ikeProposal: c.ikeProposal ?? IKE_PROPOSAL_DEFAULT,
        childSuites: c.childSuites ?? CHILD_SUITES_DEFAULT,
        ...(c.narrow ? { narrow: c.narrow } : {}),
        timing: this.timing,
        ...(c.childLifetime ? { childLifetime: c.childLifetime } : {}),
        replayWindow: c.replayWindow ?? 64,
        commandQueueMax: c.commandQueueMax ?? 32,
      },
      this.context(),
    );
    const id = this.nextSaId++;
    this.sas.set(id, sa);
    this.out({ kind: 'event', saId: id, event: { kind: 'ike-sa-created', role, peerAddr, peerPort } });
    return { id, sa };
  }

  /** Feeds one input to an SA, collects its outputs, files its SPI, forgets it when finished. */
  private drive(id: number, sa: IkeSa, input: Parameters<IkeSa['handle']>[0], nowUs: number): void {
    sa.handle(input, nowUs);
    for (let o = sa.poll(); o !== undefined; o = sa.poll()) {
      if (o.kind === 'event') this.out({ kind: 'event', saId: id, event: o.event });
      else this.out(o);
    }
    const spi = sa.localSpi;
    if (spi.some((b) => b !== 0)) this.bySpi.set(hex(spi), id);
    if (sa.finished) {
      this.sas.delete(id);
      if (this.bySpi.get(hex(spi)) === id) this.bySpi.delete(hex(spi));
      for (const [k, v] of this.byInit) if (v === id) this.byInit.delete(k);
    }
  }

  private halfOpen(): number {
    let n = 0;
    for (const sa of this.sas.values()) if (sa.state === 'init-responded') n++;
    return n;
  }

  private onRx(d: IkeDatagram, nowUs: number): void {
    const h = decodeHeader(d.bytes);
    if (!h.ok) return this.count(h.error.code, `${formatIpv4(d.srcAddr)}: ${h.error.field}: ${h.error.message}`);
    const { spiI, spiR, flags, exchangeType, messageId } = h.value;
    const isNewInit = exchangeType === EXCHANGE.IKE_SA_INIT && messageId === 0 && !(flags & FLAG_RESPONSE) && flags & FLAG_INITIATOR && spiR.every((b) => b === 0);
    if (isNewInit) {
      const key = `${d.srcAddr}:${d.srcPort}:${hex(spiI)}`;
      const known = this.byInit.get(key);
      const knownSa = known !== undefined ? this.sas.get(known) : undefined;
      if (known !== undefined && knownSa) return this.drive(known, knownSa, { kind: 'rx', datagram: d }, nowUs);
      if (this.sas.size >= (this.cfg.saMax ?? 1024)) return this.count('SA_TABLE_FULL', formatIpv4(d.srcAddr));
      if (this.halfOpen() >= (this.cfg.halfOpenMax ?? 64)) return this.count('HALF_OPEN_FULL', formatIpv4(d.srcAddr));
      const { id, sa } = this.newSa('responder', d.srcAddr, d.srcPort, undefined);
      this.byInit.set(key, id);
      return this.drive(id, sa, { kind: 'rx', datagram: d }, nowUs);
    }
    // RFC 7296 §2.6: our SPI is SPIr on messages from the original initiator, SPIi otherwise.
    const ours = flags & FLAG_INITIATOR ? spiR : spiI;
    const id = this.bySpi.get(hex(ours));
    const sa = id !== undefined ? this.sas.get(id) : undefined;
    if (id === undefined || !sa) return this.count('UNKNOWN_SPI', `${formatIpv4(d.srcAddr)} SPI ${hex(ours)}`);
    this.drive(id, sa, { kind: 'rx', datagram: d }, nowUs);
  }

  private onCommand(command: IkeEndpointCommand, nowUs: number): void {
    if (command.kind === 'sa') {
      const sa = this.sas.get(command.saId);
      if (!sa) {
        this.out({ kind: 'log', topic: 'ike', text: `command for unknown IKE SA ${command.saId}` });
        return;
      }
      return this.drive(command.saId, sa, { kind: 'command', command: command.command }, nowUs);
    }
    const port = command.peerPort ?? IKE_PORT;
    for (const [id, sa] of this.sas) {
      const r = sa.remote;
      if (r.addr === command.peerAddr && r.port === port && !isTerminal(sa.state) && sa.state !== 'deleting')
        return this.drive(id, sa, { kind: 'command', command: { kind: 'create-child', child: command.child } }, nowUs);
    }
    const peer = this.cfg.peers.find((p) => p.addr === command.peerAddr) ?? this.cfg.peerByAddr?.(command.peerAddr);
    if (!peer) {
      this.out({ kind: 'log', topic: 'ike', text: `no peer configured for ${formatIpv4(command.peerAddr)}` });
      return;
    }
    if (this.sas.size >= (this.cfg.saMax ?? 1024)) {
      this.out({ kind: 'log', topic: 'ike', text: `IKE SA table full; not initiating to ${formatIpv4(command.peerAddr)}` });
      return;
    }
    const { id, sa } = this.newSa('initiator', command.peerAddr, port, peer);
    this.drive(id, sa, { kind: 'command', command: { kind: 'create-child', child: command.child } }, nowUs);
  }
}
