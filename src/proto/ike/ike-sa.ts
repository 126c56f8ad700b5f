// One IKE SA and its Child SAs as a sans-IO state machine: the four exchanges, message IDs, retries.
// Never touches sockets, clocks or ambient randomness: bytes, time and random numbers come in.
//
// RFC 7296: IKE_SA_INIT, IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL; a window of one request each way
// (§2.3), retransmission with backoff and the response cache (§2.1). Transitions live in states.ts,
// codecs in payloads.ts / message.ts, keys in crypto.ts. Outputs are datagrams to send, events
// (plain data the caller installs into its ESP engine) and logs.

import { equalBytes, hex } from '../../lib/bytes.ts';
import { assert } from '../../lib/errors.ts';
import type { SansIo } from '../../lib/sans-io.ts';
import {
  AUTH_METHOD,
  EXCHANGE,
  FLAG_INITIATOR,
  FLAG_RESPONSE,
  HASH_ALGORITHM,
  IKE_SPI_BYTES,
  NOTIFY,
  NOTIFY_ERROR_MAX,
  PAYLOAD,
  PROTOCOL_ID,
  RECOGNISED_PAYLOADS,
  exchangeName,
  notifyName,
} from './constants.ts';
import {
  AEAD_IV_BYTES,
  DH_GROUPS,
  deriveChildKeymat,
  deriveIkeSaKeys,
  ed25519AuthData,
  ed25519AuthVerify,
  generateDhKeyPair,
  pskAuthData,
  pskAuthVerify,
  randomBytes,
  signedOctets,
  type AeadKey,
  type DhKeyPair,
  type IkeSaKeys,
  type RandomSource,
  type AeadSuite,
} from './crypto.ts';
import { codeForNotify, notifyFor, type IkeErrorCode, type IkeFailure } from './errors.ts';
import { decodeMessage, encodeEncryptedMessage, encodeMessage, openEncryptedMessage, type IkeHeader, type IkeMessage } from './message.ts';
import {
  encodePayloadBody,
  unsupportedCritical,
  type AuthPayload,
  type IdPayload,
  type KePayload,
  type NoncePayload,
  type NotifyPayload,
  type Payload,
  type Proposal,
  type SaPayload,
  type TrafficSelector,
  type TsPayload,
} from './payloads.ts';
import {
  checkChildResponse,
  checkIkeResponse,
  childOfferProposals,
  ikeOfferProposal,
  selectChildProposal,
  selectIkeProposal,
  spiBytes,
  spiNumber,
  type ChildSuite,
  type IkeProposalConfig,
  type IkeSaSuite,
} from './proposals.ts';
import { COMMANDS_TAKEN, IKE_SA_TRANSITIONS, isTerminal, REQUESTS_ANSWERED, type IkeSaState, type IkeSaTransition } from './states.ts';
import { narrowToPolicy, selectorsWithin, type SelectorPair, type TrafficPolicy } from './traffic-selectors.ts';

// --- Configuration ---

/** An identity as carried in IDi/IDr (ID_IPV4_ADDR, ID_FQDN, ID_KEY_ID, …). */
export interface IkeId {
  idType: number;
  data: Uint8Array;
}

/** How a peer authenticates, and how we authenticate to it (the same method both ways). */
export type PeerCredential = { method: 'psk'; psk: Uint8Array } | { method: 'ed25519'; publicKey: Uint8Array };

/** A peer the policy knows: its identity, credential and the traffic it may protect with us. */
export interface IkePeer {
  id: IkeId;
  /** Where the peer is reached; lets an initiator find the peer for an address. */
  addr?: number;
  credential: PeerCredential;
  trafficPolicy?: TrafficPolicy;
}

export interface IkeTiming {
  /** First retransmission timeout; doubled on each try (RFC 7296 §2.1). */
  retransmitBaseUs: number;
  retransmitIntervalMaxUs: number;
  /** Transmissions of one request in all; after the last one times out the IKE SA fails (§2.4). */
  retransmitTriesMax: number;
  /** A responder waits this long for IKE_AUTH after IKE_SA_INIT. */
  halfOpenTimeoutUs: number;
  /** A closed or failed SA keeps answering retransmitted requests from its cache this long. */
  lingerUs: number;
  /** At most one INVALID_MESSAGE_ID notification per interval (RFC 7296 §3.10.1: rate limited). */
  invalidMessageIdIntervalUs: number;
}

export const IKE_TIMING_DEFAULT: IkeTiming = {
  retransmitBaseUs: 500_000,
  retransmitIntervalMaxUs: 8_000_000,
  retransmitTriesMax: 5,
  halfOpenTimeoutUs: 30_000_000,
  lingerUs: 32_000_000,
  invalidMessageIdIntervalUs: 1_000_000,
};

/** Child SA lifetimes; the creator rekeys at `softUs`, the other side halfway to `hardUs`, both delete at `hardUs`. */
export interface ChildLifetime {
  softUs: number;
  hardUs: number;
}

export type TsNarrowFn = (proposed: SelectorPair, peer: IkePeer) => SelectorPair | undefined;

export interface IkeSaConfig {
  role: 'initiator' | 'responder';
  localAddr: number;
  localPort: number;
  remoteAddr: number;
  remotePort: number;
  localId: IkeId;
  /** Needed when a peer's credential is Ed25519 (RFC 8420). */
  ed25519SecretKey?: Uint8Array;
  /** Initiator: the peer it talks to. */
  peer?: IkePeer;
  /** Responder: the peer for an IDi, or undefined (→ AUTHENTICATION_FAILED). */
  findPeer?: (id: IkeId) => IkePeer | undefined;
  ikeProposal: IkeProposalConfig;
  /** Offered (preference order) and accepted Child SA suites. */
  childSuites: ChildSuite[];
  /** The responder's narrowing (RFC 7296 §2.9); default `narrowToPolicy` with the peer's policy. */
  narrow?: TsNarrowFn;
  timing: IkeTiming;
  childLifetime?: ChildLifetime;
  /** Anti-replay window of inbound Child SAs. */
  replayWindow: number;
  /** Bound on commands waiting for the request window. */
  commandQueueMax: number;
}

/** What an SA needs from its owner: randomness and SPIs unique across the endpoint. */
export interface IkeSaContext {
  rng: RandomSource;
  allocateIkeSpi(): Uint8Array;
  allocateEspSpi(): number;
  releaseEspSpi(spi: number): void;
}

/** A context for an SA on its own (tests): SPIs straight from the random source. */
export function standaloneContext(rng: RandomSource): IkeSaContext {
  const used = new Set<number>();
  return {
    rng,
    allocateIkeSpi: () => {
      for (;;) {
        const spi = randomBytes(rng, IKE_SPI_BYTES);
        if (spi.some((b) => b !== 0)) return spi;
      }
    },
    allocateEspSpi: () => {
      for (;;) {
        const spi = rng.nextU32();
        if (spi >= 256 && !used.has(spi)) {
          used.add(spi);
          return spi;
        }
      }
    },
    releaseEspSpi: (spi) => void used.delete(spi),
  };
}

// --- Inputs, outputs, events ---

export interface IkeDatagram {
  srcAddr: number;
  srcPort: number;
  dstAddr: number;
  dstPort: number;
  /** The UDP payload: one IKE message. */
  bytes: Uint8Array;
}

/** Traffic to protect: our side and the peer's side. */
export interface ChildRequest {
  tsLocal: TrafficSelector[];
  tsRemote: TrafficSelector[];
  /** Defaults to the configured suites. */
  suites?: ChildSuite[];
}

export type IkeSaCommand =
  | { kind: 'create-child'; child: ChildRequest }
  /** `spi` is the Child SA's inbound SPI, here and below. */
  | { kind: 'rekey-child'; spi: number }
  | { kind: 'delete-child'; spi: number }
  | { kind: 'delete-ike' }
  /** Tell the peer that ESP arrived with an SPI we do not know (RFC 7296 §2.21.4). */
  | { kind: 'report-invalid-spi'; spi: number };

export type IkeSaInput = { kind: 'rx'; datagram: IkeDatagram } | { kind: 'timer' } | { kind: 'command'; command: IkeSaCommand };

/** One direction of a Child SA, in the shape of the data plane's `EspSaParams`. */
export interface ChildSaParams {
  spi: number;
  suite: AeadSuite;
  key: Uint8Array;
  salt: Uint8Array;
  esn: boolean;
  replayWindow: number;
  tunnelSrc: number;
  tunnelDst: number;
}

export interface ChildSaInfo {
  inbound: ChildSaParams;
  outbound: ChildSaParams;
  tsLocal: TrafficSelector[];
  tsRemote: TrafficSelector[];
  /** Tunnel mode always: we never send USE_TRANSPORT_MODE and ignore it when received (RFC 7296 §1.3.1). */
  mode: 'tunnel';
  suite: ChildSuite;
}

export type ChildDeleteReason = 'rekeyed' | 'deleted-local' | 'deleted-remote' | 'expired' | 'ike-sa-gone';

export type IkeEvent =
  | { kind: 'ike-sa-established'; role: 'initiator' | 'responder'; spiI: Uint8Array; spiR: Uint8Array; localId: IkeId; peerId: IkeId; suite: IkeSaSuite }
  | { kind: 'ike-sa-failed'; failure: IkeFailure }
  | { kind: 'ike-sa-closed'; by: 'local' | 'remote' }
  /**
   * Install both directions. `outboundActive` false (the responder of a rekey) means: keep sending
   * on the old SA until `child-sa-outbound-active` or the old SA's deletion, so no packet is lost.
   */
  | { kind: 'child-sa-installed'; child: ChildSaInfo; rekeyOf?: number; outboundActive: boolean }
  | { kind: 'child-sa-outbound-active'; inboundSpi: number }
  | { kind: 'child-sa-failed'; failure: IkeFailure; rekeyOf?: number }
  | { kind: 'child-sa-deleted'; inboundSpi: number; outboundSpi: number; reason: ChildDeleteReason }
  | { kind: 'invalid-spi-reported'; protocolId: number; spi: number }
  | { kind: 'command-rejected'; command: IkeSaCommand; failure: IkeFailure };

export type IkeSaOutput = { kind: 'tx'; datagram: IkeDatagram } | { kind: 'event'; event: IkeEvent } | { kind: 'log'; topic: 'ike'; text: string };

// --- Internal records ---

interface ChildSa {
  info: ChildSaInfo;
  state: 'installed' | 'rekeying' | 'rekeyed' | 'deleting';
  /** Whether `child-sa-installed` went out (a Child SA we refuse right away never announces). */
  announced: boolean;
  createdByUs: boolean;
  /** The suite to rekey with (with its PFS group). */
  rekeySuite: ChildSuite;
  rekeyAtUs?: number;
  expireAtUs?: number;
  replacedBy?: number;
  deleteReason?: ChildDeleteReason;
}

interface PendingChild {
  request: ChildRequest;
  inboundSpi: number;
  offered: Proposal[];
  ni: Uint8Array;
  dh?: DhKeyPair;
}

type RequestCtx =
  | { kind: 'init' }
  | { kind: 'auth'; child: PendingChild }
  | { kind: 'create-child'; child: PendingChild; rekeyOf?: number }
  | { kind: 'delete-child'; spis: number[] }
  | { kind: 'delete-ike' }
  | { kind: 'notify' };

interface Outstanding {
  messageId: number;
  exchangeType: number;
  bytes: Uint8Array;
  tries: number;
  resendAtUs: number;
  ctx: RequestCtx;
}

type Work =
  | { kind: 'create-child'; request: ChildRequest; rekeyOf?: number }
  | { kind: 'delete-child'; spis: number[]; reason: ChildDeleteReason }
  | { kind: 'delete-ike' }
  | { kind: 'notify'; notify: NotifyPayload };

type Opened = { ok: true; inner: Payload[] } | { ok: false; code: IkeErrorCode; field: string };

/** Outputs pending at once; the caller drains `poll()` after each `handle()` (more is our bug). */
export const IKE_SA_OUTPUT_QUEUE_MAX = 256;
export const NONCE_BYTES = 32;
/** Child SAs per IKE SA (a rekey may briefly hold one more); beyond it: NO_ADDITIONAL_SAS. */
export const CHILD_SAS_PER_IKE_SA_MAX = 64;
/** INVALID_KE_PAYLOAD retries of IKE_SA_INIT (one per other group is enough). */
const INIT_RETRIES_MAX = 2;

const some = <T extends Payload['kind']>(ps: readonly Payload[], kind: T) => ps.find((p) => p.kind === kind) as Extract<Payload, { kind: T }> | undefined;
const idOf = (ps: readonly Payload[], type: number) => ps.find((p): p is IdPayload => p.kind === 'id' && p.type === type);
const tsOf = (ps: readonly Payload[], type: number) => ps.find((p): p is TsPayload => p.kind === 'ts' && p.type === type);
const notifies = (ps: readonly Payload[]) => ps.filter((p): p is NotifyPayload => p.kind === 'notify');
const firstError = (ps: readonly Payload[]) => notifies(ps).find((n) => n.notifyType <= NOTIFY_ERROR_MAX);

function notify(notifyType: number, data: Uint8Array = new Uint8Array(0), protocolId = 0, spi: Uint8Array = new Uint8Array(0)): NotifyPayload {
  return { kind: 'notify', protocolId, spi, notifyType, data };
}

function u16(v: number): Uint8Array {
  return Uint8Array.of(v >>> 8, v & 0xff);
}

export function sameId(a: IkeId, b: IkeId): boolean {
  return a.idType === b.idType && equalBytes(a.data, b.data);
}

export class IkeSa implements SansIo<IkeSaInput, IkeSaOutput> {
  private stateValue: IkeSaState = 'idle';
  private readonly originalInitiator: boolean;
  private spiI: Uint8Array = new Uint8Array(IKE_SPI_BYTES);
  private spiR: Uint8Array = new Uint8Array(IKE_SPI_BYTES);
  private ni: Uint8Array = new Uint8Array(0);
  private nr: Uint8Array = new Uint8Array(0);
  private dh: DhKeyPair | undefined;
  private initRetries = 0;
  private keys: IkeSaKeys | undefined;
  private suite: IkeSaSuite | undefined;
  private initRequestBytes: Uint8Array = new Uint8Array(0);
  private initResponseBytes: Uint8Array = new Uint8Array(0);
  private peer: IkePeer | undefined;
  private firstChild: ChildRequest | undefined;
  private nextRequestId = 0;
  private outstanding: Outstanding | undefined;
  private readonly pending: Work[] = [];
  private expectedPeerRequestId = 0;
  private lastResponse: { messageId: number; bytes: Uint8Array } | undefined;
  private readonly children = new Map<number, ChildSa>();
  private ivCounter = 0n;
  private halfOpenUntilUs: number | undefined;
  private lingerUntilUs: number | undefined;
  private lastInvalidMessageIdUs = -Infinity;
  private readonly outputs: IkeSaOutput[] = [];
  private finishedFlag = false;
  private lastNowUs = -Infinity;

  /** Drops by reason, and retransmissions. */
  readonly counters = {
    rxDropped: {} as Partial<Record<IkeErrorCode, number>>,
    requestsRetransmitted: 0,
    responsesRetransmitted: 0,
  };

  constructor(
    private readonly cfg: IkeSaConfig,
    private readonly ctx: IkeSaContext,
  ) {
    this.originalInitiator = cfg.role === 'initiator';
    if (cfg.role === 'initiator') assert(cfg.peer !== undefined, 'an initiator needs its peer');
    else assert(cfg.findPeer !== undefined, 'a responder needs findPeer');
    this.peer = cfg.peer;
  }

  get state(): IkeSaState {
    return this.stateValue;
  }

  /** Our IKE SPI (SPIi for the original initiator, SPIr for the responder). */
  get localSpi(): Uint8Array {
    return this.originalInitiator ? this.spiI : this.spiR;
  }

  get spis(): { spiI: Uint8Array; spiR: Uint8Array } {
    return { spiI: this.spiI, spiR: this.spiR };
  }

  get remote(): { addr: number; port: number } {
    return { addr: this.cfg.remoteAddr, port: this.cfg.remotePort };
  }

  get peerIdentity(): IkeId | undefined {
    return this.peer?.id;
  }

  /** The Child SAs by inbound SPI (a snapshot for inspection). */
  childSas(): ChildSaInfo[] {
    return [...this.children.values()].filter((c) => c.announced).map((c) => c.info);
  }

  /**
   * The IKE SA's encryption keys in the layout of Wireshark's `ikev2_decryption_table` (SK_ei and
   * SK_er as key | salt), for trainees who want to read IKE_AUTH in Wireshark; undefined before IKE_SA_INIT completes.
   */
  exportKeys(): { spiI: Uint8Array; spiR: Uint8Array; encr: AeadSuite; skEi: Uint8Array; skEr: Uint8Array; skD: Uint8Array } | undefined {
    if (!this.keys || !this.suite) return undefined;
    const k = this.keys;
    const join = (a: AeadKey) => Uint8Array.from([...a.key, ...a.salt]);
    return { spiI: this.spiI, spiR: this.spiR, encr: this.suite.encr, skEi: join(k.skEi), skEr: join(k.skEr), skD: k.skD };
  }

  /** True once the SA is closed or failed and done lingering: its owner may forget it. */
  get finished(): boolean {
    return this.finishedFlag;
  }

  handle(input: IkeSaInput, nowUs: number): void {
    assert(nowUs >= this.lastNowUs, `IKE SA: time ran backwards (${nowUs} < ${this.lastNowUs})`);
    this.lastNowUs = nowUs;
    switch (input.kind) {
      case 'rx':
        this.onRx(input.datagram, nowUs);
        break;
      case 'timer':
        this.onTimer(nowUs);
        break;
      case 'command':
        this.onCommand(input.command, nowUs);
        break;
    }
    if (!isTerminal(this.stateValue)) this.pump(nowUs);
    this.checkFinished(nowUs);
  }

  poll(): IkeSaOutput | undefined {
    return this.outputs.shift();
  }

  nextDeadlineUs(): number | undefined {
    let t = Infinity;
    if (this.outstanding) t = Math.min(t, this.outstanding.resendAtUs);
    if (this.halfOpenUntilUs !== undefined) t = Math.min(t, this.halfOpenUntilUs);
    if (this.lingerUntilUs !== undefined && !this.finishedFlag) t = Math.min(t, this.lingerUntilUs);
    if (this.stateValue === 'established')
      for (const c of this.children.values()) {
        if (c.rekeyAtUs !== undefined) t = Math.min(t, c.rekeyAtUs);
        if (c.expireAtUs !== undefined) t = Math.min(t, c.expireAtUs);
      }
    return t === Infinity ? undefined : t;
  }

  // --- plumbing ---

  private go(t: IkeSaTransition): void {
    const next = IKE_SA_TRANSITIONS[this.stateValue][t];
    assert(next !== undefined, `IKE SA: no transition '${t}' from '${this.stateValue}'`);
    this.stateValue = next;
  }

  private out(o: IkeSaOutput): void {
    assert(this.outputs.length < IKE_SA_OUTPUT_QUEUE_MAX, 'IKE SA output queue full: the caller must drain poll()');
    this.outputs.push(o);
  }

  private emit(event: IkeEvent): void {
    this.out({ kind: 'event', event });
  }

  private log(text: string): void {
    this.out({ kind: 'log', topic: 'ike', text: `${hex(this.spiI)}:${hex(this.spiR)} ${text}` });
  }

  private tx(bytes: Uint8Array): void {
    const c = this.cfg;
    this.out({ kind: 'tx', datagram: { srcAddr: c.localAddr, srcPort: c.localPort, dstAddr: c.remoteAddr, dstPort: c.remotePort, bytes } });
  }

  private drop(code: IkeErrorCode, why: string): void {
    this.counters.rxDropped[code] = (this.counters.rxDropped[code] ?? 0) + 1;
    this.log(`dropped: ${code} (${why})`);
  }

  private header(exchangeType: number, response: boolean, messageId: number): IkeHeader {
    return {
      spiI: this.spiI,
      spiR: this.spiR,
      exchangeType,
      // RFC 7296 §3.1: I set on every message from the original initiator, R on responses.
      flags: (this.originalInitiator ? FLAG_INITIATOR : 0) | (response ? FLAG_RESPONSE : 0),
      messageId,
    };
  }

  private sendKey(): AeadKey {
    assert(this.keys, 'keys');
    return this.originalInitiator ? this.keys.skEi : this.keys.skEr;
  }

  private receiveKey(): AeadKey {
    assert(this.keys, 'keys');
    return this.originalInitiator ? this.keys.skEr : this.keys.skEi;
  }

  private seal(h: IkeHeader, inner: readonly Payload[]): Uint8Array {
    // RFC 5282 §3.1: the IV must never repeat under one key; a per-SA counter guarantees it.
    this.ivCounter += 1n;
    const iv = new Uint8Array(AEAD_IV_BYTES);
    new DataView(iv.buffer).setBigUint64(0, this.ivCounter);
    return encodeEncryptedMessage(h, inner, this.sendKey(), iv);
  }

  private open(bytes: Uint8Array, msg: IkeMessage): Opened {
    if (!this.keys) return { ok: false, code: 'UNEXPECTED_MESSAGE', field: 'header' };
    const r = openEncryptedMessage(bytes, msg, this.receiveKey());
    return r.ok ? { ok: true, inner: r.value } : { ok: false, code: r.error.code, field: r.error.field };
  }

  private sendRequest(exchangeType: number, inner: readonly Payload[], ctx: RequestCtx, nowUs: number): void {
    assert(this.outstanding === undefined, 'window of one: a request is already outstanding');
    const messageId = this.nextRequestId++;
    const bytes = this.seal(this.header(exchangeType, false, messageId), inner);
    this.outstanding = { messageId, exchangeType, bytes, tries: 1, resendAtUs: nowUs + this.cfg.timing.retransmitBaseUs, ctx };
    this.log(`→ ${exchangeType === EXCHANGE.INFORMATIONAL ? 'INFORMATIONAL' : exchangeName(exchangeType)} request #${messageId}`);
    this.tx(bytes);
  }

  private respond(exchangeType: number, messageId: number, inner: readonly Payload[]): void {
    const bytes = this.seal(this.header(exchangeType, true, messageId), inner);
    this.lastResponse = { messageId, bytes };
    this.expectedPeerRequestId = messageId + 1;
    this.log(`→ ${exchangeName(exchangeType)} response #${messageId}`);
    this.tx(bytes);
  }

  private fail(f: IkeFailure, nowUs: number): void {
    if (isTerminal(this.stateValue)) return;
    this.dropAllChildren('ike-sa-gone');
    this.releaseOutstanding();
    this.pending.length = 0;
    this.halfOpenUntilUs = undefined;
    this.log(`failed: ${f.code} detected by ${f.detectedBy}${f.notify !== undefined ? ` (${notifyName(f.notify)})` : ''}: ${f.message}`);
    this.emit({ kind: 'ike-sa-failed', failure: f });
    this.go('fail');
    this.linger(nowUs);
  }

  private close(by: 'local' | 'remote', t: IkeSaTransition, nowUs: number): void {
    this.dropAllChildren('ike-sa-gone');
    this.releaseOutstanding();
    this.pending.length = 0;
    this.halfOpenUntilUs = undefined;
    this.emit({ kind: 'ike-sa-closed', by });
    this.go(t);
    this.linger(nowUs);
  }

  /** Forgets the outstanding request, giving back the SPI of a Child SA it was negotiating. */
  private releaseOutstanding(): void {
    const ctx = this.outstanding?.ctx;
    if (ctx && (ctx.kind === 'auth' || ctx.kind === 'create-child')) this.ctx.releaseEspSpi(ctx.child.inboundSpi);
    this.outstanding = undefined;
  }

  private linger(nowUs: number): void {
    // Keep answering retransmitted requests from the cache only if there is a cached response.
    this.lingerUntilUs = this.lastResponse ? nowUs + this.cfg.timing.lingerUs : nowUs;
  }

  private checkFinished(nowUs: number): void {
    if (isTerminal(this.stateValue) && this.lingerUntilUs !== undefined && nowUs >= this.lingerUntilUs) this.finishedFlag = true;
  }

  // --- timers ---

  private onTimer(nowUs: number): void {
    const o = this.outstanding;
    if (o && nowUs >= o.resendAtUs) {
      if (o.tries >= this.cfg.timing.retransmitTriesMax) {
        if (o.ctx.kind === 'delete-ike') {
          this.log('no answer to Delete of the IKE SA; closing anyway');
          this.close('local', 'delete-done', nowUs);
        } else {
          this.fail({ code: 'TIMEOUT', detectedBy: 'remote', message: `no response to ${exchangeName(o.exchangeType)} #${o.messageId} after ${o.tries} tries` }, nowUs);
        }
        return;
      }
      o.tries += 1;
      const interval = Math.min(this.cfg.timing.retransmitBaseUs * 2 ** (o.tries - 1), this.cfg.timing.retransmitIntervalMaxUs);
      o.resendAtUs = nowUs + interval;
      this.counters.requestsRetransmitted += 1;
      this.log(`retransmit ${exchangeName(o.exchangeType)} #${o.messageId} (try ${o.tries})`);
      this.tx(o.bytes);
    }
    if (this.halfOpenUntilUs !== undefined && nowUs >= this.halfOpenUntilUs) {
      this.fail({ code: 'TIMEOUT', detectedBy: 'remote', message: 'no IKE_AUTH after IKE_SA_INIT' }, nowUs);
      return;
    }
    if (this.stateValue !== 'established') return;
    for (const c of this.children.values()) {
      if (c.expireAtUs !== undefined && nowUs >= c.expireAtUs) {
        c.expireAtUs = undefined;
        c.rekeyAtUs = undefined;
        if (c.state !== 'deleting') this.enqueue({ kind: 'delete-child', spis: [c.info.inbound.spi], reason: 'expired' }, true);
      } else if (c.rekeyAtUs !== undefined && nowUs >= c.rekeyAtUs) {
        c.rekeyAtUs = undefined;
        if (c.state === 'installed') this.enqueue(this.rekeyWork(c), false);
      }
    }
  }

  // --- commands and the request window ---

  private reject(command: IkeSaCommand, code: IkeErrorCode, message: string): void {
    this.log(`command ${command.kind} rejected: ${message}`);
    this.emit({ kind: 'command-rejected', command, failure: { code, detectedBy: 'local', message } });
  }

  private enqueue(w: Work, front: boolean): boolean {
    if (this.pending.length >= this.cfg.commandQueueMax) {
      this.log(`queue full, ${w.kind} dropped`);
      return false;
    }
    if (front) this.pending.unshift(w);
    else this.pending.push(w);
    return true;
  }

  private rekeyWork(c: ChildSa): Work {
    return { kind: 'create-child', request: { tsLocal: c.info.tsLocal, tsRemote: c.info.tsRemote, suites: [c.rekeySuite] }, rekeyOf: c.info.inbound.spi };
  }

  private onCommand(command: IkeSaCommand, nowUs: number): void {
    if (!COMMANDS_TAKEN[this.stateValue].includes(command.kind)) {
      this.reject(command, 'BAD_COMMAND', `not in state ${this.stateValue}`);
      return;
    }
    let work: Work;
    switch (command.kind) {
      case 'create-child':
        if (this.stateValue === 'idle' && this.originalInitiator) {
          this.firstChild = command.child;
          this.startInit(nowUs);
          return;
        }
        work = { kind: 'create-child', request: command.child };
        break;
      case 'rekey-child': {
        const c = this.children.get(command.spi);
        if (!c || c.state !== 'installed') return this.reject(command, 'BAD_COMMAND', `no installed Child SA with inbound SPI ${command.spi}`);
        c.rekeyAtUs = undefined;
        work = this.rekeyWork(c);
        break;
      }
      case 'delete-child': {
        const c = this.children.get(command.spi);
        if (!c || c.state === 'deleting') return this.reject(command, 'BAD_COMMAND', `no Child SA with inbound SPI ${command.spi}`);
        work = { kind: 'delete-child', spis: [command.spi], reason: 'deleted-local' };
        break;
      }
      case 'delete-ike':
        if (this.stateValue !== 'established') {
          this.log('abandoned before establishment');
          this.close('local', 'abandon', nowUs);
          return;
        }
        this.pending.length = 0;
        work = { kind: 'delete-ike' };
        break;
      case 'report-invalid-spi':
        work = { kind: 'notify', notify: notify(NOTIFY.INVALID_SPI, new Uint8Array(0), PROTOCOL_ID.ESP, spiBytes(command.spi)) };
        break;
    }
    if (!this.enqueue(work, false)) this.reject(command, 'QUEUE_FULL', `more than ${this.cfg.commandQueueMax} commands waiting`);
  }

  /** Starts queued work while the window is free (RFC 7296 §2.3: one request outstanding). */
  private pump(nowUs: number): void {
    while (this.stateValue === 'established' && this.outstanding === undefined && this.pending.length > 0) {
      const w = this.pending.shift()!;
      switch (w.kind) {
        case 'create-child':
          this.startCreateChild(w.request, w.rekeyOf, nowUs);
          break;
        case 'delete-child': {
          const spis = w.spis.filter((s) => {
            const c = this.children.get(s);
            return c !== undefined && c.state !== 'deleting';
          });
          if (spis.length === 0) break;
          for (const s of spis) {
            const c = this.children.get(s)!;
            c.deleteReason = c.state === 'rekeyed' ? 'rekeyed' : w.reason;
            c.state = 'deleting';
            c.rekeyAtUs = undefined;
          }
          // RFC 7296 §1.4.1: Delete lists the SPIs we expect on inbound packets.
          this.sendRequest(EXCHANGE.INFORMATIONAL, [{ kind: 'delete', protocolId: PROTOCOL_ID.ESP, spiSize: 4, spis: spis.map(spiBytes) }], { kind: 'delete-child', spis }, nowUs);
          break;
        }
        case 'delete-ike':
          this.sendRequest(EXCHANGE.INFORMATIONAL, [{ kind: 'delete', protocolId: PROTOCOL_ID.IKE, spiSize: 0, spis: [] }], { kind: 'delete-ike' }, nowUs);
          this.go('delete-sent');
          break;
        case 'notify':
          this.sendRequest(EXCHANGE.INFORMATIONAL, [w.notify], { kind: 'notify' }, nowUs);
          break;
      }
    }
  }

  // --- receiving ---

  private onRx(d: IkeDatagram, nowUs: number): void {
    const dec = decodeMessage(d.bytes);
    if (!dec.ok) return this.drop(dec.error.code, `${dec.error.field}: ${dec.error.message}`);
    const msg = dec.value;
    const h = msg.header;
    if (this.stateValue === 'idle' && !this.originalInitiator) return this.onInitRequest(d, msg, nowUs);
    // RFC 7296 §3.1: the I flag tells which side sent it; we only take messages from the other side.
    if (((h.flags & FLAG_INITIATOR) !== 0) === this.originalInitiator) return this.drop('UNEXPECTED_MESSAGE', 'I flag of our own side');
    if (!equalBytes(h.spiI, this.spiI)) return this.drop('UNEXPECTED_MESSAGE', 'SPIi');
    const initResponse = this.stateValue === 'init-sent' && h.exchangeType === EXCHANGE.IKE_SA_INIT;
    if (!initResponse && !equalBytes(h.spiR, this.spiR)) return this.drop('UNEXPECTED_MESSAGE', 'SPIr');
    if (h.flags & FLAG_RESPONSE) this.onResponse(d, msg, nowUs);
    else this.onRequest(d, msg, nowUs);
  }

  private onResponse(d: IkeDatagram, msg: IkeMessage, nowUs: number): void {
    const o = this.outstanding;
    const h = msg.header;
    // RFC 7296 §2.3: a response must match the outstanding request's Message ID and exchange.
    if (!o || o.messageId !== h.messageId || o.exchangeType !== h.exchangeType) return this.drop('UNEXPECTED_MESSAGE', `response #${h.messageId} matches no request`);
    if (h.exchangeType === EXCHANGE.IKE_SA_INIT) return this.onInitResponse(d, msg, nowUs);
    const opened = this.open(d.bytes, msg);
    if (!opened.ok) {
      if (opened.code === 'INTEGRITY' || opened.code === 'MISSING_PAYLOAD') return this.drop(opened.code, opened.field);
      // Authentic but malformed: nothing to answer a response with; the IKE SA cannot go on (§2.21).
      return this.fail({ code: opened.code, detectedBy: 'local', message: `malformed ${exchangeName(h.exchangeType)} response at ${opened.field}` }, nowUs);
    }
    this.outstanding = undefined;
    const inner = opened.inner;
    const crit = unsupportedCritical(inner, RECOGNISED_PAYLOADS);
    if (crit !== undefined) return this.fail({ code: 'UNSUPPORTED_CRITICAL_PAYLOAD', detectedBy: 'local', message: `critical payload type ${crit}` }, nowUs);
    switch (o.ctx.kind) {
      case 'auth':
        return this.onAuthResponse(inner, o.ctx.child, nowUs);
      case 'create-child':
        return this.onCreateChildResponse(inner, o.ctx.child, o.ctx.rekeyOf, nowUs);
      case 'delete-child':
        for (const spi of o.ctx.spis) {
          const c = this.children.get(spi);
          if (c) this.removeChild(c, c.deleteReason ?? 'deleted-local');
        }
        return;
      case 'delete-ike':
        this.log('IKE SA deleted');
        return this.close('local', 'delete-done', nowUs);
      case 'notify':
      case 'init':
        return;
    }
  }

  private onRequest(d: IkeDatagram, msg: IkeMessage, nowUs: number): void {
    const h = msg.header;
    // RFC 7296 §2.1: a retransmitted request gets the cached response again, after its ICV checks out.
    if (this.lastResponse && h.messageId === this.lastResponse.messageId) {
      const authentic = h.exchangeType === EXCHANGE.IKE_SA_INIT ? equalBytes(d.bytes, this.initRequestBytes) : this.open(d.bytes, msg).ok;
      if (!authentic) return this.drop('INTEGRITY', 'retransmitted request');
      this.counters.responsesRetransmitted += 1;
      this.log(`retransmitted request #${h.messageId}: response from cache`);
      return this.tx(this.lastResponse.bytes);
    }
    if (isTerminal(this.stateValue)) return this.drop('UNEXPECTED_MESSAGE', `request in state ${this.stateValue}`);
    if (h.messageId !== this.expectedPeerRequestId) {
      // RFC 7296 §2.3: outside the window; never acknowledged. Tell the peer (rate limited) if authentic.
      if (h.messageId > this.expectedPeerRequestId && this.keys && this.open(d.bytes, msg).ok && nowUs - this.lastInvalidMessageIdUs >= this.cfg.timing.invalidMessageIdIntervalUs && this.stateValue === 'established') {
        this.lastInvalidMessageIdUs = nowUs;
        const data = new Uint8Array(4);
        new DataView(data.buffer).setUint32(0, h.messageId);
        this.enqueue({ kind: 'notify', notify: notify(NOTIFY.INVALID_MESSAGE_ID, data) }, false);
      }
      return this.drop('INVALID_MESSAGE_ID', `request #${h.messageId}, expected #${this.expectedPeerRequestId}`);
    }
    if (!REQUESTS_ANSWERED[this.stateValue].includes(h.exchangeType)) return this.drop('UNEXPECTED_MESSAGE', `${exchangeName(h.exchangeType)} request in state ${this.stateValue}`);
    const opened = this.open(d.bytes, msg);
    if (!opened.ok) {
      if (opened.code === 'INTEGRITY' || opened.code === 'MISSING_PAYLOAD') return this.drop(opened.code, opened.field);
      // RFC 7296 §2.21.1 / §3.10.1: an authentic but malformed request gets INVALID_SYNTAX, and it is fatal.
      return this.fatal(h.exchangeType, h.messageId, opened.code, `malformed request at ${opened.field}`, nowUs);
    }
    const inner = opened.inner;
    const crit = unsupportedCritical(inner, RECOGNISED_PAYLOADS);
    if (crit !== undefined) {
      // RFC 7296 §2.5: reject the message with UNSUPPORTED_CRITICAL_PAYLOAD naming the type.
      if (h.exchangeType === EXCHANGE.IKE_AUTH) return this.fatal(h.exchangeType, h.messageId, 'UNSUPPORTED_CRITICAL_PAYLOAD', `critical payload ${crit}`, nowUs, Uint8Array.of(crit));
      this.respond(h.exchangeType, h.messageId, [notify(NOTIFY.UNSUPPORTED_CRITICAL_PAYLOAD, Uint8Array.of(crit))]);
      return;
    }
    this.log(`← ${exchangeName(h.exchangeType)} request #${h.messageId}`);
    switch (h.exchangeType) {
      case EXCHANGE.IKE_AUTH:
        return this.onAuthRequest(h.messageId, inner, nowUs);
      case EXCHANGE.CREATE_CHILD_SA:
        return this.onCreateChildRequest(h.messageId, inner, nowUs);
      case EXCHANGE.INFORMATIONAL:
        return this.onInformationalRequest(h.messageId, inner, nowUs);
    }
  }

  /** Answers a request with the error Notify of `code` and fails the IKE SA (RFC 7296 §2.21). */
  private fatal(exchangeType: number, messageId: number, code: IkeErrorCode, message: string, nowUs: number, data?: Uint8Array): void {
    const n = notifyFor(code) ?? NOTIFY.INVALID_SYNTAX;
    this.respond(exchangeType, messageId, [notify(n, data)]);
    this.fail({ code, detectedBy: 'local', notify: n, message }, nowUs);
  }

  // --- IKE_SA_INIT ---

  private startInit(nowUs: number): void {
    this.spiI = this.ctx.allocateIkeSpi();
    this.ni = randomBytes(this.ctx.rng, NONCE_BYTES);
    const group = this.cfg.ikeProposal.dhGroups[0];
    assert(group !== undefined, 'no D-H group configured');
    this.sendInit(group, nowUs);
    this.go('start');
  }

  private sendInit(group: number, nowUs: number): void {
    this.dh = generateDhKeyPair(group, this.ctx.rng);
    const payloads: Payload[] = [
      { kind: 'sa', proposals: [ikeOfferProposal(this.cfg.ikeProposal)] },
      { kind: 'ke', dhGroup: group, data: this.dh.publicKey },
      { kind: 'nonce', nonce: this.ni },
      // RFC 7427 §4 / RFC 8420 §2: we can verify Identity-hash (Ed25519) signatures.
      notify(NOTIFY.SIGNATURE_HASH_ALGORITHMS, u16(HASH_ALGORITHM.IDENTITY)),
    ];
    const bytes = encodeMessage({ header: this.header(EXCHANGE.IKE_SA_INIT, false, 0), payloads });
    this.initRequestBytes = bytes;
    this.nextRequestId = 1;
    this.outstanding = { messageId: 0, exchangeType: EXCHANGE.IKE_SA_INIT, bytes, tries: 1, resendAtUs: nowUs + this.cfg.timing.retransmitBaseUs, ctx: { kind: 'init' } };
    this.log(`→ IKE_SA_INIT request, KE group ${group}`);
    this.tx(bytes);
  }

  private onInitRequest(d: IkeDatagram, msg: IkeMessage, nowUs: number): void {
    const h = msg.header;
    const zero = new Uint8Array(IKE_SPI_BYTES);
    if (h.exchangeType !== EXCHANGE.IKE_SA_INIT || h.messageId !== 0 || h.flags & FLAG_RESPONSE || !(h.flags & FLAG_INITIATOR) || !equalBytes(h.spiR, zero)) {
      this.drop('UNEXPECTED_MESSAGE', 'not an IKE_SA_INIT request');
      this.go('abandon');
      this.linger(nowUs);
      return;
    }
    this.spiI = h.spiI;
    // Errors in IKE_SA_INIT are answered without state (SPIr zero) and the half-open SA is dropped.
    const reject = (code: IkeErrorCode, data: Uint8Array | undefined, message: string) => {
      const n = notifyFor(code) ?? NOTIFY.INVALID_SYNTAX;
      const bytes = encodeMessage({ header: this.header(EXCHANGE.IKE_SA_INIT, true, 0), payloads: [notify(n, data)] });
      this.log(`→ IKE_SA_INIT response ${notifyName(n)}`);
      this.tx(bytes);
      this.fail({ code, detectedBy: 'local', notify: n, message }, nowUs);
    };
    const crit = unsupportedCritical(msg.payloads, RECOGNISED_PAYLOADS);
    if (crit !== undefined) return reject('UNSUPPORTED_CRITICAL_PAYLOAD', Uint8Array.of(crit), `critical payload type ${crit}`);
    const sa = some(msg.payloads, 'sa');
    const ke = some(msg.payloads, 'ke');
    const nonce = some(msg.payloads, 'nonce');
    if (!sa || !ke || !nonce) return reject('MISSING_PAYLOAD', undefined, 'IKE_SA_INIT without SA, KE or Ni');
    const choice = selectIkeProposal(sa, this.cfg.ikeProposal, ke.dhGroup);
    if (!choice) return reject('NO_PROPOSAL_CHOSEN', undefined, 'no acceptable IKE proposal');
    // RFC 7296 §1.2: KEi for another group than the one selected → INVALID_KE_PAYLOAD naming ours.
    if (choice.suite.dhGroup !== ke.dhGroup) return reject('INVALID_KE', u16(choice.suite.dhGroup), `KE for group ${ke.dhGroup}, selected ${choice.suite.dhGroup}`);
    const group = DH_GROUPS.get(ke.dhGroup)!;
    this.dh = generateDhKeyPair(ke.dhGroup, this.ctx.rng);
    const shared = group.sharedSecret(this.dh.secret, ke.data);
    if (!shared) return reject('BAD_KE_DATA', undefined, `bad KE data for group ${ke.dhGroup}`);
    this.spiR = this.ctx.allocateIkeSpi();
    this.ni = nonce.nonce;
    this.nr = randomBytes(this.ctx.rng, NONCE_BYTES);
    this.suite = choice.suite;
    this.keys = deriveIkeSaKeys({ sharedSecret: shared, ni: this.ni, nr: this.nr, spiI: this.spiI, spiR: this.spiR, encr: choice.suite.encr });
    this.dh.secret.fill(0);
    shared.fill(0);
    const payloads: Payload[] = [
      { kind: 'sa', proposals: [choice.proposal] },
      { kind: 'ke', dhGroup: ke.dhGroup, data: this.dh.publicKey },
      { kind: 'nonce', nonce: this.nr },
      notify(NOTIFY.SIGNATURE_HASH_ALGORITHMS, u16(HASH_ALGORITHM.IDENTITY)),
    ];
    const bytes = encodeMessage({ header: this.header(EXCHANGE.IKE_SA_INIT, true, 0), payloads });
    this.initRequestBytes = d.bytes.slice();
    this.initResponseBytes = bytes;
    this.lastResponse = { messageId: 0, bytes };
    this.expectedPeerRequestId = 1;
    this.halfOpenUntilUs = nowUs + this.cfg.timing.halfOpenTimeoutUs;
    this.go('init-accepted');
    this.log(`← IKE_SA_INIT request; → response (${choice.suite.encr}, group ${choice.suite.dhGroup})`);
    this.tx(bytes);
  }

  private onInitResponse(d: IkeDatagram, msg: IkeMessage, nowUs: number): void {
    const err = firstError(msg.payloads);
    if (err) {
      if (err.notifyType === NOTIFY.INVALID_KE_PAYLOAD && err.data.length === 2) {
        const group = (err.data[0]! << 8) | err.data[1]!;
        // RFC 7296 §1.2: retry with the group the responder asked for, if we offered it.
        if (this.cfg.ikeProposal.dhGroups.includes(group) && group !== this.dh?.group && this.initRetries < INIT_RETRIES_MAX) {
          this.initRetries += 1;
          this.log(`← INVALID_KE_PAYLOAD: retry with group ${group}`);
          this.outstanding = undefined;
          this.sendInit(group, nowUs);
          this.go('init-retry');
          return;
        }
      }
      const code = codeForNotify(err.notifyType);
      return this.fail({ code, detectedBy: 'remote', notify: err.notifyType, message: `IKE_SA_INIT answered with ${notifyName(err.notifyType)}` }, nowUs);
    }
    const bad = (code: IkeErrorCode, message: string) => this.fail({ code, detectedBy: 'local', message }, nowUs);
    const crit = unsupportedCritical(msg.payloads, RECOGNISED_PAYLOADS);
    if (crit !== undefined) return bad('UNSUPPORTED_CRITICAL_PAYLOAD', `critical payload type ${crit}`);
    const sa = some(msg.payloads, 'sa');
    const ke = some(msg.payloads, 'ke');
    const nonce = some(msg.payloads, 'nonce');
    if (!sa || !ke || !nonce) return bad('MISSING_PAYLOAD', 'IKE_SA_INIT response without SA, KE or Nr');
    const suite = checkIkeResponse(sa, this.cfg.ikeProposal);
    const dh = this.dh!;
    if (!suite || suite.dhGroup !== dh.group || ke.dhGroup !== dh.group) return bad('PROPOSAL_MISMATCH', 'the accepted proposal was not offered or does not fit our KE');
    if (msg.header.spiR.every((b) => b === 0)) return bad('UNEXPECTED_MESSAGE', 'SPIr is zero');
    const shared = DH_GROUPS.get(dh.group)!.sharedSecret(dh.secret, ke.data);
    if (!shared) return bad('BAD_KE_DATA', `bad KE data for group ${dh.group}`);
    this.spiR = msg.header.spiR;
    this.nr = nonce.nonce;
    this.suite = suite;
    this.keys = deriveIkeSaKeys({ sharedSecret: shared, ni: this.ni, nr: this.nr, spiI: this.spiI, spiR: this.spiR, encr: suite.encr });
    dh.secret.fill(0);
    shared.fill(0);
    this.initResponseBytes = d.bytes.slice();
    this.outstanding = undefined;
    this.go('init-answered');
    this.log(`← IKE_SA_INIT response (${suite.encr}, group ${suite.dhGroup})`);
    this.sendAuth(nowUs);
  }

  // --- IKE_AUTH (RFC 7296 §1.2, §2.15) ---

  private idPayload(type: typeof PAYLOAD.IDI | typeof PAYLOAD.IDR): IdPayload {
    return { kind: 'id', type, idType: this.cfg.localId.idType, data: this.cfg.localId.data };
  }

  /** Our AUTH payload over our SignedOctets (RealMessage | peer's nonce | prf(SK_p, our ID body)). */
  private makeAuth(credential: PeerCredential, id: IdPayload): AuthPayload | undefined {
    const keys = this.keys!;
    const octets = this.originalInitiator
      ? signedOctets(this.initRequestBytes, this.nr, keys.skPi, encodePayloadBody(id))
      : signedOctets(this.initResponseBytes, this.ni, keys.skPr, encodePayloadBody(id));
    if (credential.method === 'psk') return { kind: 'auth', method: AUTH_METHOD.SHARED_KEY_MIC, data: pskAuthData(credential.psk, octets) };
    if (!this.cfg.ed25519SecretKey) return undefined;
    return { kind: 'auth', method: AUTH_METHOD.DIGITAL_SIGNATURE, data: ed25519AuthData(this.cfg.ed25519SecretKey, octets) };
  }

  /** Verifies the peer's AUTH over the peer's SignedOctets. */
  private verifyAuth(credential: PeerCredential, id: IdPayload, auth: AuthPayload): boolean {
    const keys = this.keys!;
    const octets = this.originalInitiator
      ? signedOctets(this.initResponseBytes, this.ni, keys.skPr, encodePayloadBody(id))
      : signedOctets(this.initRequestBytes, this.nr, keys.skPi, encodePayloadBody(id));
    if (credential.method === 'psk') return auth.method === AUTH_METHOD.SHARED_KEY_MIC && pskAuthVerify(credential.psk, octets, auth.data);
    return auth.method === AUTH_METHOD.DIGITAL_SIGNATURE && ed25519AuthVerify(credential.publicKey, octets, auth.data);
  }

  private sendAuth(nowUs: number): void {
    const request = this.firstChild!;
    const peer = this.peer!;
    const id = this.idPayload(PAYLOAD.IDI);
    const auth = this.makeAuth(peer.credential, id);
    if (!auth) return this.fail({ code: 'BAD_COMMAND', detectedBy: 'local', message: 'Ed25519 peer but no Ed25519 secret key configured' }, nowUs);
    const suites = request.suites ?? this.cfg.childSuites;
    const inboundSpi = this.ctx.allocateEspSpi();
    const offered = childOfferProposals(suites, inboundSpi, false);
    const inner: Payload[] = [
      id,
      auth,
      { kind: 'sa', proposals: offered },
      { kind: 'ts', type: PAYLOAD.TSI, selectors: request.tsLocal },
      { kind: 'ts', type: PAYLOAD.TSR, selectors: request.tsRemote },
    ];
    this.sendRequest(EXCHANGE.IKE_AUTH, inner, { kind: 'auth', child: { request, inboundSpi, offered, ni: this.ni } }, nowUs);
  }

  private onAuthRequest(messageId: number, inner: Payload[], nowUs: number): void {
    const idi = idOf(inner, PAYLOAD.IDI);
    const auth = some(inner, 'auth');
    if (!idi || !auth) return this.fatal(EXCHANGE.IKE_AUTH, messageId, 'MISSING_PAYLOAD', 'IKE_AUTH without IDi or AUTH', nowUs);
    const peerId: IkeId = { idType: idi.idType, data: idi.data };
    const peer = this.cfg.findPeer!(peerId);
    // RFC 7296 §2.21.2: authentication failures are answered with AUTHENTICATION_FAILED, and the IKE SA is not created.
    if (!peer) return this.fatal(EXCHANGE.IKE_AUTH, messageId, 'UNKNOWN_PEER', `no credentials for identity ${hex(idi.data)}`, nowUs);
    if (!this.verifyAuth(peer.credential, idi, auth)) return this.fatal(EXCHANGE.IKE_AUTH, messageId, 'AUTHENTICATION_FAILED', 'the initiator AUTH does not verify', nowUs);
    const idr = this.idPayload(PAYLOAD.IDR);
    const ourAuth = this.makeAuth(peer.credential, idr);
    if (!ourAuth) return this.fatal(EXCHANGE.IKE_AUTH, messageId, 'AUTHENTICATION_FAILED', 'Ed25519 peer but no Ed25519 secret key configured', nowUs);
    this.peer = peer;
    const sa = some(inner, 'sa');
    const tsi = tsOf(inner, PAYLOAD.TSI);
    const tsr = tsOf(inner, PAYLOAD.TSR);
    let result: ChildAccept | undefined;
    if (sa || tsi || tsr) {
      if (!sa || !tsi || !tsr) return this.fatal(EXCHANGE.IKE_AUTH, messageId, 'MISSING_PAYLOAD', 'IKE_AUTH with part of SAi2, TSi, TSr', nowUs);
      // RFC 7296 §2.17: the first Child SA takes its keys from the IKE_SA_INIT nonces.
      result = this.acceptChild({ sa, tsi, tsr, inCreateChildSa: false, ni: this.ni, nr: this.nr });
    }
    const childPart: Payload[] = result === undefined ? [] : result.ok ? result.payloads : [result.notify];
    this.respond(EXCHANGE.IKE_AUTH, messageId, [idr, ourAuth, ...childPart]);
    this.halfOpenUntilUs = undefined;
    this.go('auth-done');
    this.established();
    if (result?.ok) this.installChild(result.child, undefined, true, nowUs);
    else if (result) this.emit({ kind: 'child-sa-failed', failure: result.failure });
  }

  private established(): void {
    this.log(`established with ${hex(this.peer!.id.data)}`);
    this.emit({
      kind: 'ike-sa-established',
      role: this.cfg.role,
      spiI: this.spiI,
      spiR: this.spiR,
      localId: this.cfg.localId,
      peerId: this.peer!.id,
      suite: this.suite!,
    });
  }

  private onAuthResponse(inner: Payload[], pending: PendingChild, nowUs: number): void {
    const idr = idOf(inner, PAYLOAD.IDR);
    const auth = some(inner, 'auth');
    if (!idr || !auth) {
      this.ctx.releaseEspSpi(pending.inboundSpi);
      const n = firstError(inner);
      if (!n) return this.fail({ code: 'MISSING_PAYLOAD', detectedBy: 'local', message: 'IKE_AUTH response without IDr or AUTH' }, nowUs);
      return this.fail({ code: codeForNotify(n.notifyType), detectedBy: 'remote', notify: n.notifyType, message: `IKE_AUTH answered with ${notifyName(n.notifyType)}` }, nowUs);
    }
    const peer = this.peer!;
    if (!sameId(peer.id, { idType: idr.idType, data: idr.data }) || !this.verifyAuth(peer.credential, idr, auth)) {
      // RFC 7296 §2.21.2: an initiator that rejects the responder says so in a separate INFORMATIONAL.
      const messageId = this.nextRequestId++;
      this.tx(this.seal(this.header(EXCHANGE.INFORMATIONAL, false, messageId), [notify(NOTIFY.AUTHENTICATION_FAILED)]));
      this.ctx.releaseEspSpi(pending.inboundSpi);
      return this.fail({ code: 'AUTHENTICATION_FAILED', detectedBy: 'local', notify: NOTIFY.AUTHENTICATION_FAILED, message: 'the responder identity or AUTH does not verify' }, nowUs);
    }
    this.go('auth-done');
    this.established();
    this.completeChild(inner, pending, undefined, this.ni, this.nr, false, nowUs);
  }

  // --- Child SAs (RFC 7296 §1.3, §2.9, §2.17) ---

  private installChild(c: ChildSa, rekeyOf: number | undefined, outboundActive: boolean, nowUs: number): void {
    const life = this.cfg.childLifetime;
    if (life) {
      c.expireAtUs = nowUs + life.hardUs;
      // The creator rekeys at the soft lifetime; the other side only if that did not happen by halfway to hard.
      c.rekeyAtUs = nowUs + (c.createdByUs ? life.softUs : life.softUs + Math.floor((life.hardUs - life.softUs) / 2));
    }
    c.announced = true;
    this.children.set(c.info.inbound.spi, c);
    const i = c.info;
    this.log(`Child SA installed: in 0x${i.inbound.spi.toString(16)} out 0x${i.outbound.spi.toString(16)} ${i.suite.encr}${i.suite.esn ? ' ESN' : ''}${rekeyOf !== undefined ? ` (rekey of 0x${rekeyOf.toString(16)})` : ''}`);
    const event: IkeEvent = { kind: 'child-sa-installed', child: i, outboundActive };
    if (rekeyOf !== undefined) event.rekeyOf = rekeyOf;
    this.emit(event);
  }

  private makeChild(a: {
    inboundSpi: number;
    outboundSpi: number;
    suite: ChildSuite;
    inbound: AeadKey;
    outbound: AeadKey;
    tsLocal: TrafficSelector[];
    tsRemote: TrafficSelector[];
    createdByUs: boolean;
    rekeySuite: ChildSuite;
  }): ChildSa {
    const c = this.cfg;
    const dir = (spi: number, k: AeadKey, src: number, dst: number, replayWindow: number): ChildSaParams => ({
      spi,
      suite: k.suite,
      key: k.key,
      salt: k.salt,
      esn: a.suite.esn,
      replayWindow,
      tunnelSrc: src,
      tunnelDst: dst,
    });
    return {
      info: {
        inbound: dir(a.inboundSpi, a.inbound, c.remoteAddr, c.localAddr, c.replayWindow),
        outbound: dir(a.outboundSpi, a.outbound, c.localAddr, c.remoteAddr, 0),
        tsLocal: a.tsLocal,
        tsRemote: a.tsRemote,
        mode: 'tunnel',
        suite: a.suite,
      },
      state: 'installed',
      announced: false,
      createdByUs: a.createdByUs,
      rekeySuite: a.rekeySuite,
    };
  }

  /** The suite to rekey with: the configured one matching what was negotiated (it carries the PFS group). */
  private rekeySuiteFor(negotiated: ChildSuite, candidates: readonly ChildSuite[]): ChildSuite {
    return candidates.find((s) => s.encr === negotiated.encr && s.esn === negotiated.esn) ?? negotiated;
  }

  /** Responder side of a Child SA negotiation: choose, narrow, key. */
  private acceptChild(a: { sa: SaPayload; tsi: TsPayload; tsr: TsPayload; inCreateChildSa: boolean; ni: Uint8Array; nr: Uint8Array; ke?: KePayload }): ChildAccept {
    const refuse = (code: IkeErrorCode, message: string, data?: Uint8Array): ChildAccept => {
      const n = notifyFor(code) ?? NOTIFY.NO_PROPOSAL_CHOSEN;
      this.log(`Child SA refused: ${notifyName(n)} (${message})`);
      return { ok: false, notify: notify(n, data), failure: { code, detectedBy: 'local', notify: n, message } };
    };
    const peer = this.peer!;
    const narrowed = (this.cfg.narrow ?? ((p, pe) => narrowToPolicy(p, pe.trafficPolicy)))({ tsi: a.tsi.selectors, tsr: a.tsr.selectors }, peer);
    const ourSpi = this.ctx.allocateEspSpi();
    const choice = selectChildProposal(a.sa, this.cfg.childSuites, ourSpi, a.inCreateChildSa);
    if (!choice) {
      this.ctx.releaseEspSpi(ourSpi);
      return refuse('NO_PROPOSAL_CHOSEN', 'no acceptable ESP proposal');
    }
    if (!narrowed) {
      this.ctx.releaseEspSpi(ourSpi);
      return refuse('TS_UNACCEPTABLE', 'the traffic selectors do not intersect the policy');
    }
    let pfsShared: Uint8Array | undefined;
    let ker: KePayload | undefined;
    const pfsGroup = choice.suite.pfsGroup;
    if (pfsGroup !== undefined) {
      if (!a.ke || a.ke.dhGroup !== pfsGroup) {
        this.ctx.releaseEspSpi(ourSpi);
        return refuse('INVALID_KE', `PFS group ${pfsGroup} needs a KE for it`, u16(pfsGroup));
      }
      const dh = generateDhKeyPair(pfsGroup, this.ctx.rng);
      pfsShared = DH_GROUPS.get(pfsGroup)!.sharedSecret(dh.secret, a.ke.data);
      dh.secret.fill(0);
      if (!pfsShared) {
        this.ctx.releaseEspSpi(ourSpi);
        return refuse('NO_PROPOSAL_CHOSEN', 'bad PFS KE data');
      }
      ker = { kind: 'ke', dhGroup: pfsGroup, data: dh.publicKey };
    }
    const km = deriveChildKeymat({ skD: this.keys!.skD, ni: a.ni, nr: a.nr, suite: choice.suite.encr, ...(pfsShared ? { pfsSharedSecret: pfsShared } : {}) });
    pfsShared?.fill(0);
    // We answer this exchange: inbound traffic is initiator-to-responder.
    const child = this.makeChild({
      inboundSpi: ourSpi,
      outboundSpi: choice.peerSpi,
      suite: choice.suite,
      inbound: km.initiatorToResponder,
      outbound: km.responderToInitiator,
      tsLocal: narrowed.tsr,
      tsRemote: narrowed.tsi,
      createdByUs: false,
      rekeySuite: this.rekeySuiteFor(choice.suite, this.cfg.childSuites),
    });
    const payloads: Payload[] = [
      { kind: 'sa', proposals: [choice.proposal] },
      ...(a.inCreateChildSa ? [{ kind: 'nonce', nonce: a.nr } as NoncePayload] : []),
      ...(ker ? [ker] : []),
      { kind: 'ts', type: PAYLOAD.TSI, selectors: narrowed.tsi },
      { kind: 'ts', type: PAYLOAD.TSR, selectors: narrowed.tsr },
    ];
    return { ok: true, payloads, child };
  }

  /** Initiator side: check the answer, key, install; on a bad answer delete what the peer installed. */
  private completeChild(inner: Payload[], pending: PendingChild, rekeyOf: number | undefined, ni: Uint8Array, nr: Uint8Array, inCreateChildSa: boolean, nowUs: number): void {
    const childFailed = (failure: IkeFailure) => {
      const ev: IkeEvent = { kind: 'child-sa-failed', failure };
      if (rekeyOf !== undefined) {
        ev.rekeyOf = rekeyOf;
        const old = this.children.get(rekeyOf);
        if (old && old.state === 'rekeying') old.state = 'installed';
      }
      this.log(`Child SA failed: ${failure.code}${failure.notify !== undefined ? ` (${notifyName(failure.notify)})` : ''}`);
      this.emit(ev);
    };
    const n = firstError(inner);
    if (n) {
      this.ctx.releaseEspSpi(pending.inboundSpi);
      if (n.notifyType === NOTIFY.CHILD_SA_NOT_FOUND && rekeyOf !== undefined) {
        const old = this.children.get(rekeyOf);
        if (old) this.removeChild(old, 'deleted-remote');
      }
      return childFailed({ code: codeForNotify(n.notifyType), detectedBy: 'remote', notify: n.notifyType, message: `answered with ${notifyName(n.notifyType)}` });
    }
    const sa = some(inner, 'sa');
    const tsi = tsOf(inner, PAYLOAD.TSI);
    const tsr = tsOf(inner, PAYLOAD.TSR);
    if (!sa || !tsi || !tsr) {
      this.ctx.releaseEspSpi(pending.inboundSpi);
      return childFailed({ code: 'MISSING_PAYLOAD', detectedBy: 'local', message: 'answer without SA, TSi or TSr' });
    }
    const refuseAnswer = (code: IkeErrorCode, message: string) => {
      // The peer installed its side; take it down with a Delete of our (never announced) inbound SPI.
      const zero = { suite: 'aes-gcm-128' as const, key: new Uint8Array(16), salt: new Uint8Array(4) };
      const ghost = this.makeChild({
        inboundSpi: pending.inboundSpi,
        outboundSpi: 0,
        suite: { encr: 'aes-gcm-128', esn: false },
        inbound: zero,
        outbound: zero,
        tsLocal: [],
        tsRemote: [],
        createdByUs: true,
        rekeySuite: { encr: 'aes-gcm-128', esn: false },
      });
      this.children.set(pending.inboundSpi, ghost);
      this.enqueue({ kind: 'delete-child', spis: [pending.inboundSpi], reason: 'deleted-local' }, true);
      childFailed({ code, detectedBy: 'local', message });
    };
    const r = checkChildResponse(sa, pending.offered);
    if (!r) return refuseAnswer('PROPOSAL_MISMATCH', 'the accepted ESP proposal was not offered');
    if (!selectorsWithin(tsi.selectors, pending.request.tsLocal) || !selectorsWithin(tsr.selectors, pending.request.tsRemote))
      return refuseAnswer('TS_MISMATCH', 'traffic selectors wider than proposed');
    let pfsShared: Uint8Array | undefined;
    if (inCreateChildSa && r.suite.pfsGroup !== undefined) {
      const ke = some(inner, 'ke');
      if (!ke || !pending.dh || ke.dhGroup !== pending.dh.group) return refuseAnswer('PROPOSAL_MISMATCH', 'PFS group without the matching KEr');
      pfsShared = DH_GROUPS.get(ke.dhGroup)!.sharedSecret(pending.dh.secret, ke.data);
      if (!pfsShared) return refuseAnswer('BAD_KE_DATA', 'bad PFS KE data');
    }
    pending.dh?.secret.fill(0);
    const km = deriveChildKeymat({ skD: this.keys!.skD, ni, nr, suite: r.suite.encr, ...(pfsShared ? { pfsSharedSecret: pfsShared } : {}) });
    pfsShared?.fill(0);
    const suites = pending.request.suites ?? this.cfg.childSuites;
    const child = this.makeChild({
      inboundSpi: pending.inboundSpi,
      outboundSpi: r.peerSpi,
      suite: r.suite,
      inbound: km.responderToInitiator,
      outbound: km.initiatorToResponder,
      tsLocal: tsi.selectors,
      tsRemote: tsr.selectors,
      createdByUs: true,
      rekeySuite: this.rekeySuiteFor(r.suite, suites),
    });
    this.installChild(child, rekeyOf, true, nowUs);
    if (rekeyOf !== undefined) {
      const old = this.children.get(rekeyOf);
      if (old) {
        // RFC 7296 §2.8: the new SA is in place; now delete the one it replaces.
        old.state = 'rekeyed';
        old.replacedBy = child.info.inbound.spi;
        this.enqueue({ kind: 'delete-child', spis: [rekeyOf], reason: 'rekeyed' }, true);
      }
    }
  }

  private startCreateChild(request: ChildRequest, rekeyOf: number | undefined, nowUs: number): void {
    let old: ChildSa | undefined;
    if (rekeyOf !== undefined) {
      old = this.children.get(rekeyOf);
      if (!old || old.state !== 'installed') return;
      old.state = 'rekeying';
    }
    const suites = request.suites ?? this.cfg.childSuites;
    const inboundSpi = this.ctx.allocateEspSpi();
    const ni = randomBytes(this.ctx.rng, NONCE_BYTES);
    const pfsGroup = suites.find((s) => s.pfsGroup !== undefined)?.pfsGroup;
    const dh = pfsGroup !== undefined ? generateDhKeyPair(pfsGroup, this.ctx.rng) : undefined;
    const offered = childOfferProposals(suites, inboundSpi, true);
    const inner: Payload[] = [
      // RFC 7296 §1.3.3: REKEY_SA names the SA being replaced by the SPI we expect inbound.
      ...(rekeyOf !== undefined ? [notify(NOTIFY.REKEY_SA, new Uint8Array(0), PROTOCOL_ID.ESP, spiBytes(rekeyOf))] : []),
      { kind: 'sa', proposals: offered },
      { kind: 'nonce', nonce: ni },
      ...(dh ? [{ kind: 'ke', dhGroup: dh.group, data: dh.publicKey } as KePayload] : []),
      { kind: 'ts', type: PAYLOAD.TSI, selectors: request.tsLocal },
      { kind: 'ts', type: PAYLOAD.TSR, selectors: request.tsRemote },
    ];
    const child: PendingChild = { request, inboundSpi, offered, ni };
    if (dh) child.dh = dh;
    const ctx: RequestCtx = { kind: 'create-child', child };
    if (rekeyOf !== undefined) ctx.rekeyOf = rekeyOf;
    this.sendRequest(EXCHANGE.CREATE_CHILD_SA, inner, ctx, nowUs);
  }

  private onCreateChildResponse(inner: Payload[], pending: PendingChild, rekeyOf: number | undefined, nowUs: number): void {
    const nonce = some(inner, 'nonce');
    if (!nonce && !firstError(inner)) {
      this.ctx.releaseEspSpi(pending.inboundSpi);
      const old = rekeyOf !== undefined ? this.children.get(rekeyOf) : undefined;
      if (old && old.state === 'rekeying') old.state = 'installed';
      const ev: IkeEvent = { kind: 'child-sa-failed', failure: { code: 'MISSING_PAYLOAD', detectedBy: 'local', message: 'CREATE_CHILD_SA response without Nr' } };
      if (rekeyOf !== undefined) ev.rekeyOf = rekeyOf;
      return this.emit(ev);
    }
    // RFC 7296 §2.17: a Child SA from CREATE_CHILD_SA is keyed with that exchange's nonces.
    this.completeChild(inner, pending, rekeyOf, pending.ni, nonce?.nonce ?? new Uint8Array(0), true, nowUs);
  }

  private onCreateChildRequest(messageId: number, inner: Payload[], nowUs: number): void {
    const rekey = notifies(inner).find((n) => n.notifyType === NOTIFY.REKEY_SA);
    const sa = some(inner, 'sa');
    const nonce = some(inner, 'nonce');
    const tsi = tsOf(inner, PAYLOAD.TSI);
    const tsr = tsOf(inner, PAYLOAD.TSR);
    if (sa && sa.proposals.some((p) => p.protocolId === PROTOCOL_ID.IKE)) {
      // Rekeying the IKE SA (RFC 7296 §1.3.2) is not implemented: refuse without harm.
      this.log('IKE SA rekey requested; not supported');
      return this.respond(EXCHANGE.CREATE_CHILD_SA, messageId, [notify(NOTIFY.NO_PROPOSAL_CHOSEN)]);
    }
    if (!sa || !nonce || !tsi || !tsr) return this.fatal(EXCHANGE.CREATE_CHILD_SA, messageId, 'MISSING_PAYLOAD', 'CREATE_CHILD_SA without SA, Ni, TSi or TSr', nowUs);
    let old: ChildSa | undefined;
    if (rekey) {
      const spi = rekey.spi.length === 4 ? spiNumber(rekey.spi) : -1;
      // The REKEY_SA SPI is the one the peer expects inbound: our outbound SPI.
      old = [...this.children.values()].find((c) => c.announced && c.info.outbound.spi === spi);
      if (!old || rekey.protocolId !== PROTOCOL_ID.ESP) {
        this.log(`REKEY_SA for unknown Child SA ${hex(rekey.spi)}`);
        return this.respond(EXCHANGE.CREATE_CHILD_SA, messageId, [notify(NOTIFY.CHILD_SA_NOT_FOUND, new Uint8Array(0), rekey.protocolId, rekey.spi)]);
      }
      if (old.state === 'deleting' || old.state === 'rekeyed') {
        // RFC 7296 §2.25.1: a Child SA we are already closing gets TEMPORARY_FAILURE.
        return this.respond(EXCHANGE.CREATE_CHILD_SA, messageId, [notify(NOTIFY.TEMPORARY_FAILURE)]);
      }
    }
    if (!old && this.children.size >= CHILD_SAS_PER_IKE_SA_MAX) {
      this.log('Child SA refused: NO_ADDITIONAL_SAS');
      this.respond(EXCHANGE.CREATE_CHILD_SA, messageId, [notify(NOTIFY.NO_ADDITIONAL_SAS)]);
      return this.emit({ kind: 'child-sa-failed', failure: { code: 'NO_ADDITIONAL_SAS', detectedBy: 'local', notify: NOTIFY.NO_ADDITIONAL_SAS, message: `${CHILD_SAS_PER_IKE_SA_MAX} Child SAs already` } });
    }
    const nr = randomBytes(this.ctx.rng, NONCE_BYTES);
    const result = this.acceptChild({ sa, tsi, tsr, inCreateChildSa: true, ni: nonce.nonce, nr, ...(some(inner, 'ke') ? { ke: some(inner, 'ke')! } : {}) });
    if (!result.ok) {
      this.respond(EXCHANGE.CREATE_CHILD_SA, messageId, [result.notify]);
      const ev: IkeEvent = { kind: 'child-sa-failed', failure: result.failure };
      if (old) ev.rekeyOf = old.info.inbound.spi;
      return this.emit(ev);
    }
    this.respond(EXCHANGE.CREATE_CHILD_SA, messageId, result.payloads);
    if (old) {
      old.state = 'rekeyed';
      old.rekeyAtUs = undefined;
      old.replacedBy = result.child.info.inbound.spi;
    }
    // As responder of a rekey we keep sending on the old SA until the initiator deletes it.
    this.installChild(result.child, old?.info.inbound.spi, old === undefined, nowUs);
  }

  // --- INFORMATIONAL (RFC 7296 §1.4) ---

  private onInformationalRequest(messageId: number, inner: Payload[], nowUs: number): void {
    const answer: Payload[] = [];
    const ourSpis: Uint8Array[] = [];
    for (const p of inner) {
      if (p.kind === 'delete' && p.protocolId === PROTOCOL_ID.IKE) {
        this.respond(EXCHANGE.INFORMATIONAL, messageId, []);
        this.log('IKE SA deleted by the peer');
        return this.close('remote', 'delete-received', nowUs);
      }
      if (p.kind === 'delete' && p.protocolId === PROTOCOL_ID.ESP) {
        for (const raw of p.spis) {
          const spi = spiNumber(raw);
          const c = [...this.children.values()].find((x) => x.info.outbound.spi === spi);
          if (!c) continue; // RFC 7296 §1.4.1: unknown or already deleted — nothing to answer for it.
          if (c.announced) ourSpis.push(spiBytes(c.info.inbound.spi));
          this.removeChild(c, c.state === 'rekeyed' ? 'rekeyed' : 'deleted-remote');
        }
      }
      if (p.kind === 'notify') {
        if (p.notifyType === NOTIFY.AUTHENTICATION_FAILED) {
          this.respond(EXCHANGE.INFORMATIONAL, messageId, []);
          return this.fail({ code: 'AUTHENTICATION_FAILED', detectedBy: 'remote', notify: p.notifyType, message: 'the initiator rejected our AUTH' }, nowUs);
        }
        if (p.notifyType === NOTIFY.INVALID_SPI) this.emit({ kind: 'invalid-spi-reported', protocolId: p.protocolId, spi: p.spi.length === 4 ? spiNumber(p.spi) : 0 });
        else this.log(`← notify ${notifyName(p.notifyType)}`);
      }
    }
    if (ourSpis.length > 0) answer.push({ kind: 'delete', protocolId: PROTOCOL_ID.ESP, spiSize: 4, spis: ourSpis });
    this.respond(EXCHANGE.INFORMATIONAL, messageId, answer);
  }

  private removeChild(c: ChildSa, reason: ChildDeleteReason): void {
    const inbound = c.info.inbound.spi;
    this.children.delete(inbound);
    this.ctx.releaseEspSpi(inbound);
    if (c.announced) {
      this.log(`Child SA deleted: in 0x${inbound.toString(16)} (${reason})`);
      this.emit({ kind: 'child-sa-deleted', inboundSpi: inbound, outboundSpi: c.info.outbound.spi, reason });
    }
    // The replacement of a rekeyed SA may now send (RFC 7296 §2.8).
    if (c.replacedBy !== undefined) {
      const next = this.children.get(c.replacedBy);
      if (next && next.announced && !next.createdByUs) this.emit({ kind: 'child-sa-outbound-active', inboundSpi: next.info.inbound.spi });
    }
  }

  private dropAllChildren(reason: ChildDeleteReason): void {
    for (const c of [...this.children.values()]) this.removeChild({ ...c, replacedBy: undefined } as ChildSa, reason);
  }
}

type ChildAccept = { ok: true; payloads: Payload[]; child: ChildSa } | { ok: false; notify: NotifyPayload; failure: IkeFailure };
