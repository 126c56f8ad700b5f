// A group member (seed 001 FIG. 5 steps 200–202) as a sans-IO state machine on UDP 848: registers with
// the GCKS (IKE_SA_INIT + GSA_AUTH), installs the GSA, follows GSA_REKEY. Never touches sockets or clocks.
//
// The member hands its data plane each TEK as one group SA in the shape of EspSaParams: the same SA
// inbound (any member may send on it; replay window 0, RFC 9838 §2.5 / RFC 5374) and outbound, with
// this member's own range of sequence numbers — its Sender-ID in the top GWP_SENDER_ID_BITS bits
// (RFC 6054 §3; our ESP engines use the 64-bit sequence number as the AES-GCM IV, so disjoint ranges
// keep the IVs of different senders apart). A GSA_REKEY is accepted only if its SPI names a Rekey SA
// we hold, its Message ID is newer than any accepted (RFC 9838 §2.4.2), the KEK opens it and the
// GCKS's Ed25519 signature verifies (§2.4.1); otherwise it is dropped and counted by reason.

import { hex } from '../../lib/bytes.ts';
import { assert } from '../../lib/errors.ts';
import type { SansIo } from '../../lib/sans-io.ts';
import {
  DH_GROUPS,
  EXCHANGE,
  FLAG_INITIATOR,
  FLAG_RESPONSE,
  IKE_PROPOSAL_DEFAULT,
  IKE_SPI_BYTES,
  NOTIFY,
  PAYLOAD,
  checkIkeResponse,
  decodeMessage,
  deriveIkeSaKeys,
  encodeEncryptedMessage,
  encodeMessage,
  generateDhKeyPair,
  openEncryptedMessage,
  randomBytes,
  sameId,
  spiBytes,
  unsupportedCritical,
  type ChildSaParams,
  type DhKeyPair,
  type IdPayload,
  type IkeHeader,
  type IkeId,
  type IkeMessage,
  type IkeProposalConfig,
  type IkeSaKeys,
  type Payload,
  type PeerCredential,
  type RandomSource,
  type TrafficSelector,
} from '../ike/index.ts';
import { GKM_EXCHANGE, GKM_NOTIFY, GKM_PORT, GKM_PROTOCOL, KWA_KW_5649_128 } from './constants.ts';
import { encodeMemberList, encodeSenderCount, idgPayload, readGkmPayloads } from './codec.ts';
import { fromIkeDecodeError, gkmCodeForNotify, type GkmErrorCode, type GkmFailure } from './errors.ts';
import { resolveWrapped, type TreeKey } from './key-tree.ts';
import { deriveRegistrationGskW, ed25519FromSpki, splitRekeyKeymat, tekKeymatBytes, unwrapKey, type RekeySaKeys } from './keys.ts';
import { readGsa, readKd, type GroupPolicyView, type KdView } from './policy.ts';
import {
  GKM_RECOGNISED_PAYLOADS,
  GKM_TIMING_DEFAULT,
  NONCE_BYTES,
  authOctets,
  counterIv,
  firstError,
  gkmOfferProposal,
  makeAuth,
  notify,
  notifyLabel,
  showId,
  some,
  splitKwa,
  verifyAuth,
  type GkmTiming,
} from './registration.ts';
import { openGsaRekey, peekGsaRekey, verifyGsaRekey } from './rekey-message.ts';
import { MEMBER_TRANSITIONS, type MemberState, type MemberTransition } from './states.ts';
import type { GkmDatagram } from './gcks.ts';

export interface GroupMemberConfig {
  localAddr: number;
  /** Default 848. */
  localPort?: number;
  gcksAddr: number;
  gcksPort?: number;
  localId: IkeId;
  /** The IDr the GCKS must show. */
  gcksId: IkeId;
  /** How we and the GCKS authenticate GSA_AUTH: a shared PSK, or the GCKS's Ed25519 public key. */
  credential: PeerCredential;
  /** Ours, when `credential` is Ed25519 (RFC 8420). */
  ed25519SecretKey?: Uint8Array;
  groupId: IkeId;
  /** Seed 001 FIG. 5 step 200: the other members of the group, sent in a MEMBER_LIST notify. */
  memberList?: IkeId[];
  /** Sender-IDs to ask for (GROUP_SENDER, RFC 9838 §4.7.4); 0 = receive only. Default 1. */
  senderIds?: number;
  ikeProposal?: IkeProposalConfig;
  timing?: Partial<GkmTiming>;
  /** Register again by ourselves when the GSA runs out without a rekey or we were excluded (default true). */
  autoReregister?: boolean;
}

export type MemberCommand = { kind: 'register' };

export type MemberInput = { kind: 'rx'; datagram: GkmDatagram } | { kind: 'timer' } | { kind: 'command'; command: MemberCommand };

/** A TEK for the data plane: one group SA for both directions. */
export interface GroupTek {
  spi: number;
  /**
   * EspSaParams-shaped: install it inbound and outbound. `tunnelSrc` is our address; `tunnelDst` is 0
   * here, the data plane sets it per destination member. A data plane that installs several outbound
   * copies must give each its own Sender-ID (ask for several with `senderIds`).
   */
  sa: ChildSaParams;
  expiresAtUs: number;
  /** From then on this member sends with it (GWP_ATD after it arrived, or at once if it is the only one). */
  outboundAtUs: number;
  /** Our sequence numbers on this SA (Sender-ID in the top bits): setNextSeq(seqFirst); never pass seqLast. */
  seqFirst?: bigint;
  seqLast?: bigint;
  src: TrafficSelector;
  dst: TrafficSelector;
}

export type TekRemovedReason = 'expired' | 'deleted' | 'excluded' | 'replaced';

export type MemberEvent =
  | { kind: 'registered'; groupId: IkeId; kekSpi: Uint8Array; teks: GroupTek[]; senderIds: number[]; senderIdBits?: number }
  | { kind: 'tek-installed'; tek: GroupTek; via: 'registration' | 'rekey' }
  /** Send with this TEK from now on (the newest active one). */
  | { kind: 'tek-outbound'; spi: number }
  | { kind: 'tek-removed'; spi: number; reason: TekRemovedReason }
  | { kind: 'kek-installed'; spi: Uint8Array; via: 'registration' | 'rekey' }
  | { kind: 'rekey-accepted'; messageId: number }
  | { kind: 'rekey-dropped'; code: GkmErrorCode; messageId?: number }
  /** No key we hold unwraps the new KEK: the GCKS removed us (RFC 9838 §3.3). */
  | { kind: 'excluded' }
  | { kind: 'registration-failed'; failure: GkmFailure; willRetry: boolean };

export type MemberOutput = { kind: 'tx'; datagram: GkmDatagram } | { kind: 'event'; event: MemberEvent } | { kind: 'log'; topic: 'gkm'; text: string };

export const MEMBER_OUTPUT_QUEUE_MAX = 1024;
/** TEKs held at once; a rekey beyond it drops the oldest. */
export const MEMBER_TEKS_MAX = 8;
const INIT_RETRIES_MAX = 2;

interface Outstanding {
  messageId: number;
  exchangeType: number;
  bytes: Uint8Array;
  tries: number;
  resendAtUs: number;
}

interface Registration {
  spiI: Uint8Array;
  spiR: Uint8Array;
  ni: Uint8Array;
  nr: Uint8Array;
  dh?: DhKeyPair;
  keys?: IkeSaKeys;
  kwa: number;
  gskW?: Uint8Array;
  initRequest: Uint8Array;
  initResponse: Uint8Array;
  initRetries: number;
  ivCounter: bigint;
}

interface MemberKek {
  spi: Uint8Array;
  keys: RekeySaKeys;
  expiresUs: number;
  /** Replay protection on this Rekey SA: the lowest Message ID still acceptable (RFC 9838 §2.4.2). */
  nextMessageId: number;
  /** A replaced KEK is kept until then for messages already on their way. */
  dropAtUs?: number;
}

interface MemberTek {
  tek: GroupTek;
  deleteAtUs?: number;
  outboundAnnounced: boolean;
}

interface GroupState {
  kek: MemberKek;
  oldKeks: MemberKek[];
  authKey: Uint8Array;
  workingPath: TreeKey[];
  teks: Map<number, MemberTek>;
  senderIds: number[];
  senderIdBits?: number;
  atdS: number;
  dtdS: number;
}

export class GroupMember implements SansIo<MemberInput, MemberOutput> {
  private stateValue: MemberState = 'idle';
  private reg: Registration | undefined;
  /** The registration SA after GSA_AUTH, usable for GSA_REGISTRATION while the GCKS still keeps it. */
  private channel: { reg: Registration; nextMessageId: number; untilUs: number } | undefined;
  /** When a GSA_REKEY on an unknown Rekey SA last made us register again. */
  private lastUnknownRekeyUs = -Infinity;
  private outstanding: Outstanding | undefined;
  private attempts = 0;
  private backoffUntilUs: number | undefined;
  private group: GroupState | undefined;
  private readonly outputs: MemberOutput[] = [];
  private readonly timing: GkmTiming;
  private readonly localPort: number;
  private readonly gcksPort: number;
  private readonly proposal: IkeProposalConfig;
  private lastNowUs = -Infinity;

  readonly counters = {
    rxDropped: {} as Partial<Record<GkmErrorCode, number>>,
    /** GSA_REKEY messages dropped, by reason (forged, replayed, unknown SA, …). */
    rekeyDropped: {} as Partial<Record<GkmErrorCode, number>>,
    rekeysAccepted: 0,
    registrations: 0,
    retransmissions: 0,
  };

  constructor(
    private readonly cfg: GroupMemberConfig,
    private readonly rng: RandomSource,
  ) {
    if (cfg.credential.method === 'ed25519' && cfg.ed25519SecretKey?.length !== 32) throw new RangeError('GroupMember: Ed25519 authentication needs a 32-byte ed25519SecretKey');
    if ((cfg.memberList?.length ?? 0) > 256) throw new RangeError('GroupMember: at most 256 listed members');
    this.timing = { ...GKM_TIMING_DEFAULT, ...cfg.timing };
    this.localPort = cfg.localPort ?? GKM_PORT;
    this.gcksPort = cfg.gcksPort ?? GKM_PORT;
    this.proposal = cfg.ikeProposal ?? IKE_PROPOSAL_DEFAULT;
  }

  get state(): MemberState {
    return this.stateValue;
  }

  /** The TEKs held now (a snapshot). */
  teks(): GroupTek[] {
    return [...(this.group?.teks.values() ?? [])].map((t) => t.tek);
  }

  /** The TEK to send with now, if any. */
  outboundTek(): GroupTek | undefined {
    return this.currentOutbound()?.tek;
  }

  /** The Rekey SA keys (SPIs, GSK_e key | salt) for Wireshark's ikev2_decryption_table. */
  exportKek(): { spiI: Uint8Array; spiR: Uint8Array; skE: Uint8Array } | undefined {
    const k = this.group?.kek;
    if (!k) return undefined;
    return { spiI: k.spi.slice(0, 8), spiR: k.spi.slice(8), skE: Uint8Array.from([...k.keys.gskE.key, ...k.keys.gskE.salt]) };
  }

  handle(input: MemberInput, nowUs: number): void {
    assert(nowUs >= this.lastNowUs, `member: time ran backwards (${nowUs} < ${this.lastNowUs})`);
    this.lastNowUs = nowUs;
    switch (input.kind) {
      case 'rx':
        this.onRx(input.datagram, nowUs);
        break;
      case 'timer':
        this.onTimer(nowUs);
        break;
      case 'command':
        if (this.stateValue === 'init-sent' || this.stateValue === 'auth-sent') return this.log('register: a registration is already under way');
        this.attempts = 0;
        this.start(nowUs);
        break;
    }
  }

  poll(): MemberOutput | undefined {
    return this.outputs.shift();
  }

  nextDeadlineUs(): number | undefined {
    let t = Infinity;
    if (this.outstanding) t = Math.min(t, this.outstanding.resendAtUs);
    if (this.stateValue === 'backoff' && this.backoffUntilUs !== undefined) t = Math.min(t, this.backoffUntilUs);
    const g = this.group;
    if (g) {
      t = Math.min(t, g.kek.expiresUs);
      for (const k of g.oldKeks) t = Math.min(t, k.dropAtUs ?? k.expiresUs);
      for (const m of g.teks.values()) {
        t = Math.min(t, m.deleteAtUs ?? m.tek.expiresAtUs);
        if (!m.outboundAnnounced) t = Math.min(t, m.tek.outboundAtUs);
      }
      const re = this.reregisterAtUs();
      if (re !== undefined) t = Math.min(t, re);
    }
    return t === Infinity ? undefined : t;
  }

  // --- Plumbing ---

  private go(t: MemberTransition): void {
    const next = MEMBER_TRANSITIONS[this.stateValue][t];
    assert(next !== undefined, `member: no transition '${t}' from '${this.stateValue}'`);
    this.stateValue = next;
  }

  private out(o: MemberOutput): void {
    assert(this.outputs.length < MEMBER_OUTPUT_QUEUE_MAX, 'member output queue full: the caller must drain poll()');
    this.outputs.push(o);
  }

  private emit(event: MemberEvent): void {
    this.out({ kind: 'event', event });
  }

  private log(text: string): void {
    this.out({ kind: 'log', topic: 'gkm', text: `member ${showId(this.cfg.localId)} ${text}` });
  }

  private tx(bytes: Uint8Array): void {
    this.out({ kind: 'tx', datagram: { srcAddr: this.cfg.localAddr, srcPort: this.localPort, dstAddr: this.cfg.gcksAddr, dstPort: this.gcksPort, bytes } });
  }

  private dropRx(code: GkmErrorCode, why: string): void {
    this.counters.rxDropped[code] = (this.counters.rxDropped[code] ?? 0) + 1;
    this.log(`dropped: ${code} (${why})`);
  }

  private dropRekey(code: GkmErrorCode, why: string, messageId?: number): void {
    this.counters.rekeyDropped[code] = (this.counters.rekeyDropped[code] ?? 0) + 1;
    this.log(`GSA_REKEY dropped: ${code} (${why})`);
    this.emit({ kind: 'rekey-dropped', code, ...(messageId !== undefined ? { messageId } : {}) });
  }

  // --- Timers ---

  /** RFC 9838 §2.4.2: register again when the newest TEK or the KEK is about to run out unreplaced. */
  private reregisterAtUs(): number | undefined {
    const g = this.group;
    if (!g || this.stateValue !== 'registered' || this.cfg.autoReregister === false) return undefined;
    let newest = -Infinity;
    for (const m of g.teks.values()) if (m.deleteAtUs === undefined) newest = Math.max(newest, m.tek.expiresAtUs);
    const end = Math.min(newest === -Infinity ? g.kek.expiresUs : newest, g.kek.expiresUs);
    return end - this.timing.reregisterMarginUs;
  }

  private onTimer(nowUs: number): void {
    const o = this.outstanding;
    if (o && nowUs >= o.resendAtUs) {
      if (o.tries >= this.timing.retransmitTriesMax) this.registrationTimedOut(nowUs);
      else {
        o.tries += 1;
        o.resendAtUs = nowUs + Math.min(this.timing.retransmitBaseUs * 2 ** (o.tries - 1), this.timing.retransmitIntervalMaxUs);
        this.counters.retransmissions += 1;
        this.log(`retransmit exchange ${o.exchangeType} #${o.messageId} (try ${o.tries})`);
        this.tx(o.bytes);
      }
    }
    if (this.stateValue === 'backoff' && this.backoffUntilUs !== undefined && nowUs >= this.backoffUntilUs) this.start(nowUs);
    const g = this.group;
    if (!g) return;
    g.oldKeks = g.oldKeks.filter((k) => (k.dropAtUs ?? k.expiresUs) > nowUs);
    if (g.kek.expiresUs <= nowUs) {
      this.log(`KEK ${hex(g.kek.spi)} expired with no replacement`);
      return this.dropGroup('expired', nowUs);
    }
    for (const [spi, m] of [...g.teks]) {
      const end = m.deleteAtUs ?? m.tek.expiresAtUs;
      if (end <= nowUs) {
        g.teks.delete(spi);
        this.log(`TEK 0x${spi.toString(16)} removed (${m.deleteAtUs !== undefined ? 'deleted' : 'expired'})`);
        this.emit({ kind: 'tek-removed', spi, reason: m.deleteAtUs !== undefined ? 'deleted' : 'expired' });
      }
    }
    this.announceOutbound(nowUs);
    const re = this.reregisterAtUs();
    if (re !== undefined && nowUs >= re) {
      this.log('GSA about to expire without a rekey: registering again');
      this.attempts = 0;
      this.start(nowUs);
    }
  }

  private registrationTimedOut(nowUs: number): void {
    this.outstanding = undefined;
    this.reg = undefined;
    this.channel = undefined; // the GCKS may have forgotten it: next time from IKE_SA_INIT
    const willRetry = this.attempts < this.timing.registerAttemptsMax;
    this.emit({ kind: 'registration-failed', failure: { code: 'TIMEOUT', detectedBy: 'remote', message: 'no answer from the GCKS' }, willRetry });
    if (willRetry) {
      this.go('timeout');
      this.backoffUntilUs = nowUs + Math.min(this.timing.reregisterBackoffUs * 2 ** (this.attempts - 1), this.timing.retransmitIntervalMaxUs * 8);
      this.log(`registration timed out; trying again in ${(this.backoffUntilUs - nowUs) / 1e6} s`);
    } else {
      this.go('give-up');
      this.log(`registration timed out ${this.attempts} times; giving up`);
    }
  }

  // --- Registration: IKE_SA_INIT (RFC 7296 §1.2) ---

  private start(nowUs: number): void {
    this.attempts += 1;
    const ch = this.channel;
    if (ch && nowUs < ch.untilUs) {
      this.go('start-registration');
      this.reg = ch.reg;
      return this.sendRegistration(ch, nowUs);
    }
    this.channel = undefined;
    this.go('start');
    let spiI: Uint8Array;
    do spiI = randomBytes(this.rng, IKE_SPI_BYTES);
    while (spiI.every((b) => b === 0));
    this.reg = { spiI, spiR: new Uint8Array(IKE_SPI_BYTES), ni: randomBytes(this.rng, NONCE_BYTES), nr: new Uint8Array(0), kwa: KWA_KW_5649_128, initRequest: new Uint8Array(0), initResponse: new Uint8Array(0), initRetries: 0, ivCounter: 0n };
    const group = this.proposal.dhGroups[0];
    assert(group !== undefined, 'no D-H group configured');
    this.sendInit(group, nowUs);
  }

  private sendInit(group: number, nowUs: number): void {
    const r = this.reg!;
    r.dh = generateDhKeyPair(group, this.rng);
    const payloads: Payload[] = [
      { kind: 'sa', proposals: [gkmOfferProposal(this.proposal, [KWA_KW_5649_128])] },
      { kind: 'ke', dhGroup: group, data: r.dh.publicKey },
      { kind: 'nonce', nonce: r.ni },
    ];
    const header: IkeHeader = { spiI: r.spiI, spiR: new Uint8Array(IKE_SPI_BYTES), exchangeType: EXCHANGE.IKE_SA_INIT, flags: FLAG_INITIATOR, messageId: 0 };
    r.initRequest = encodeMessage({ header, payloads });
    this.outstanding = { messageId: 0, exchangeType: EXCHANGE.IKE_SA_INIT, bytes: r.initRequest, tries: 1, resendAtUs: nowUs + this.timing.retransmitBaseUs };
    this.log(`→ IKE_SA_INIT (registration attempt ${this.attempts}, KE group ${group})`);
    this.tx(r.initRequest);
  }

  private refused(failure: GkmFailure): void {
    this.outstanding = undefined;
    this.reg = undefined;
    this.go('refused');
    this.log(`registration refused: ${failure.code}${failure.notify !== undefined ? ` (${notifyLabel(failure.notify)})` : ''}: ${failure.message}`);
    this.emit({ kind: 'registration-failed', failure, willRetry: false });
  }

  private onRx(d: GkmDatagram, nowUs: number): void {
    const dec = decodeMessage(d.bytes);
    if (!dec.ok) return this.dropRx(fromIkeDecodeError(dec.error).code, `${dec.error.field}: ${dec.error.message}`);
    const msg = dec.value;
    const h = msg.header;
    if (h.exchangeType === GKM_EXCHANGE.GSA_REKEY) return this.onRekey(d.bytes, nowUs);
    const r = this.reg;
    const o = this.outstanding;
    if (!r || !o || !(h.flags & FLAG_RESPONSE) || h.flags & FLAG_INITIATOR || !equal(h.spiI, r.spiI)) return this.dropRx('UNEXPECTED_MESSAGE', 'not a response to our registration');
    if (h.messageId !== o.messageId || h.exchangeType !== o.exchangeType) return this.dropRx('UNEXPECTED_MESSAGE', `response #${h.messageId} matches no request`);
    if (h.exchangeType === EXCHANGE.IKE_SA_INIT) this.onInitResponse(d, msg, nowUs);
    else if (h.exchangeType === GKM_EXCHANGE.GSA_AUTH) this.onAuthResponse(d, msg, nowUs);
    else this.onRegistrationResponse(d, msg, nowUs);
  }

  private onInitResponse(d: GkmDatagram, msg: IkeMessage, nowUs: number): void {
    const r = this.reg!;
    const n = firstError(msg.payloads);
    if (n) {
      if (n.notifyType === NOTIFY.INVALID_KE_PAYLOAD && n.data.length === 2 && r.initRetries < INIT_RETRIES_MAX) {
        const group = (n.data[0]! << 8) | n.data[1]!;
        // RFC 7296 §1.2: try again with the group the GCKS asked for, if we offered it.
        if (this.proposal.dhGroups.includes(group) && group !== r.dh?.group) {
          r.initRetries += 1;
          this.go('init-retry');
          return this.sendInit(group, nowUs);
        }
      }
      return this.refused({ code: gkmCodeForNotify(n.notifyType), detectedBy: 'remote', notify: n.notifyType, message: 'IKE_SA_INIT answered with an error' });
    }
    const bad = (code: GkmErrorCode, message: string) => this.refused({ code, detectedBy: 'local', message });
    if (unsupportedCritical(msg.payloads, new Set([PAYLOAD.SA, PAYLOAD.KE, PAYLOAD.NONCE, PAYLOAD.NOTIFY])) !== undefined) return bad('UNSUPPORTED_CRITICAL_PAYLOAD', 'critical payload in IKE_SA_INIT');
    const sa = some(msg.payloads, 'sa');
    const ke = some(msg.payloads, 'ke');
    const nonce = some(msg.payloads, 'nonce');
    if (!sa || !ke || !nonce) return bad('MISSING_PAYLOAD', 'IKE_SA_INIT response without SA, KE or Nr');
    const { sa: plain, kwas } = splitKwa(sa);
    const suite = checkIkeResponse(plain, this.proposal);
    const chosen = kwas.get(sa.proposals[0]?.number ?? -1) ?? [];
    const dh = r.dh!;
    if (!suite || suite.dhGroup !== dh.group || ke.dhGroup !== dh.group || chosen.length !== 1 || chosen[0] !== KWA_KW_5649_128)
      return bad('PROPOSAL_MISMATCH', 'the accepted proposal was not offered');
    if (msg.header.spiR.every((b) => b === 0)) return bad('UNEXPECTED_MESSAGE', 'SPIr is zero');
    const shared = DH_GROUPS.get(dh.group)!.sharedSecret(dh.secret, ke.data);
    dh.secret.fill(0);
    if (!shared) return bad('BAD_KE_DATA', 'bad KE data');
    r.spiR = msg.header.spiR;
    r.nr = nonce.nonce;
    r.keys = deriveIkeSaKeys({ sharedSecret: shared, ni: r.ni, nr: r.nr, spiI: r.spiI, spiR: r.spiR, encr: suite.encr });
    shared.fill(0);
    r.kwa = chosen[0]!;
    r.gskW = deriveRegistrationGskW(r.keys.skD, r.kwa);
    r.initResponse = d.bytes.slice();
    this.go('init-answered');
    this.sendAuth(nowUs);
  }

  // --- GSA_AUTH (RFC 9838 §2.3.1) ---

  private sendAuth(nowUs: number): void {
    const r = this.reg!;
    const idi: IdPayload = { kind: 'id', type: PAYLOAD.IDI, idType: this.cfg.localId.idType, data: this.cfg.localId.data };
    const auth = makeAuth(this.cfg.credential, this.cfg.ed25519SecretKey, authOctets(r.initRequest, r.nr, r.keys!.skPi, idi));
    assert(auth !== undefined, 'checked at construction');
    const inner: Payload[] = [idi, auth, ...this.groupRequest()];
    r.ivCounter += 1n;
    const header: IkeHeader = { spiI: r.spiI, spiR: r.spiR, exchangeType: GKM_EXCHANGE.GSA_AUTH, flags: FLAG_INITIATOR, messageId: 1 };
    const bytes = encodeEncryptedMessage(header, inner, r.keys!.skEi, counterIv(r.ivCounter));
    this.outstanding = { messageId: 1, exchangeType: GKM_EXCHANGE.GSA_AUTH, bytes, tries: 1, resendAtUs: nowUs + this.timing.retransmitBaseUs };
    this.log(`→ GSA_AUTH for group ${showId(this.cfg.groupId)}${this.cfg.memberList ? ` listing ${this.cfg.memberList.length} member(s)` : ''}`);
    this.tx(bytes);
  }

  /** IDg, [N(GROUP_SENDER)], [N(MEMBER_LIST)]: what a registration asks for (RFC 9838 §2.3.1, seed 001). */
  private groupRequest(): Payload[] {
    const want = this.cfg.senderIds ?? 1;
    return [
      idgPayload(this.cfg.groupId),
      ...(want > 0 ? [notify(GKM_NOTIFY.GROUP_SENDER, encodeSenderCount(want))] : []),
      ...(this.cfg.memberList ? [notify(GKM_NOTIFY.MEMBER_LIST, encodeMemberList({ entries: this.cfg.memberList }))] : []),
    ];
  }

  /** RFC 9838 §2.3.2: HDR, SK{IDg, [N]} on the registration SA we already have. */
  private sendRegistration(ch: { reg: Registration; nextMessageId: number }, nowUs: number): void {
    const r = ch.reg;
    const messageId = ch.nextMessageId++;
    r.ivCounter += 1n;
    const header: IkeHeader = { spiI: r.spiI, spiR: r.spiR, exchangeType: GKM_EXCHANGE.GSA_REGISTRATION, flags: FLAG_INITIATOR, messageId };
    const bytes = encodeEncryptedMessage(header, this.groupRequest(), r.keys!.skEi, counterIv(r.ivCounter));
    this.outstanding = { messageId, exchangeType: GKM_EXCHANGE.GSA_REGISTRATION, bytes, tries: 1, resendAtUs: nowUs + this.timing.retransmitBaseUs };
    this.log(`→ GSA_REGISTRATION #${messageId} for group ${showId(this.cfg.groupId)}`);
    this.tx(bytes);
  }

  private onRegistrationResponse(d: GkmDatagram, msg: IkeMessage, nowUs: number): void {
    const r = this.reg!;
    const opened = openEncryptedMessage(d.bytes, msg, r.keys!.skEr);
    if (!opened.ok) return this.dropRx(fromIkeDecodeError(opened.error).code, opened.error.field);
    const n = firstError(opened.value);
    if (n) return this.refused({ code: gkmCodeForNotify(n.notifyType), detectedBy: 'remote', notify: n.notifyType, message: 'GSA_REGISTRATION refused by the GCKS' });
    this.registered(opened.value, r, nowUs);
  }

  private onAuthResponse(d: GkmDatagram, msg: IkeMessage, nowUs: number): void {
    const r = this.reg!;
    const opened = openEncryptedMessage(d.bytes, msg, r.keys!.skEr);
    if (!opened.ok) return this.dropRx(fromIkeDecodeError(opened.error).code, opened.error.field);
    const inner = opened.value;
    const idr = inner.find((p): p is IdPayload => p.kind === 'id' && p.type === PAYLOAD.IDR);
    const auth = some(inner, 'auth');
    const n = firstError(inner);
    if (!idr || !auth) {
      if (n) return this.refused({ code: gkmCodeForNotify(n.notifyType), detectedBy: 'remote', notify: n.notifyType, message: 'GSA_AUTH answered with an error' });
      return this.refused({ code: 'MISSING_PAYLOAD', detectedBy: 'local', message: 'GSA_AUTH response without IDr or AUTH' });
    }
    if (!sameId(this.cfg.gcksId, { idType: idr.idType, data: idr.data }) || !verifyAuth(this.cfg.credential, auth, authOctets(r.initResponse, r.ni, r.keys!.skPr, idr)))
      return this.refused({ code: 'AUTHENTICATION_FAILED', detectedBy: 'local', message: 'the GCKS identity or AUTH does not verify' });
    // Authenticated GCKS; a group-level refusal comes as IDr, AUTH, N (RFC 9838 §2.3.1).
    // Authenticated: the SA may carry GSA_REGISTRATION from now on, whatever the answer.
    this.channel = { reg: r, nextMessageId: 2, untilUs: nowUs + this.timing.lingerUs / 2 };
    if (n) return this.refused({ code: gkmCodeForNotify(n.notifyType), detectedBy: 'remote', notify: n.notifyType, message: 'registration refused by the GCKS' });
    this.registered(inner, r, nowUs);
  }

  private registered(inner: readonly Payload[], r: Registration, nowUs: number): void {
    const installed = this.installRegistration(inner, r, nowUs);
    if (!installed.ok) return this.refused({ code: installed.code, detectedBy: 'local', message: installed.message });
    this.outstanding = undefined;
    // RFC 9838 §2.3.1: GSA_REKEY needs no registration SA; we keep it only for GSA_REGISTRATION.
    this.reg = undefined;
    this.attempts = 0;
    this.counters.registrations += 1;
    this.go('registered');
  }

  // --- Installing the GSA ---

  private installRegistration(inner: readonly Payload[], r: Registration, nowUs: number): { ok: true } | { ok: false; code: GkmErrorCode; message: string } {
    const gkm = readGkmPayloads(inner);
    if (!gkm.ok) return { ok: false, code: gkm.error.code, message: `${gkm.error.field}: ${gkm.error.message}` };
    if (!gkm.value.gsa || !gkm.value.kd) return { ok: false, code: 'MISSING_PAYLOAD', message: 'GSA_AUTH response without GSA or KD' };
    const policy = readGsa(gkm.value.gsa);
    if (!policy.ok) return { ok: false, code: policy.error.code, message: `${policy.error.field}: ${policy.error.message}` };
    const kd = readKd(gkm.value.kd);
    if (!kd.ok) return { ok: false, code: kd.error.code, message: `${kd.error.field}: ${kd.error.message}` };
    const p = policy.value;
    if (!p.kek || p.kek.auth !== 'ed25519') return { ok: false, code: 'POLICY_UNACCEPTABLE', message: 'no Rekey SA with signed GSA_REKEY' };
    const authKey = kd.value.authKey && ed25519FromSpki(kd.value.authKey);
    if (!authKey) return { ok: false, code: 'POLICY_UNACCEPTABLE', message: 'AUTH_KEY is not an Ed25519 SubjectPublicKeyInfo' };
    const keys = this.unwrapGroupKeys(p, kd.value, [], r.gskW!);
    if (!keys.ok) return keys;
    if (!keys.kek) return { ok: false, code: 'MISSING_PAYLOAD', message: 'no SA_KEY for the Rekey SA' };
    const senderIds = kd.value.senderIds;
    const bits = p.gwp?.senderIdBits;
    if (senderIds.length > 0 && bits === undefined) return { ok: false, code: 'POLICY_UNACCEPTABLE', message: 'Sender-IDs without GWP_SENDER_ID_BITS' };
    if (bits !== undefined && senderIds.some((s) => s >= 2 ** bits)) return { ok: false, code: 'BAD_VALUE', message: 'a Sender-ID wider than GWP_SENDER_ID_BITS' };
    const previous = this.group;
    // RFC 9838 §4.4.2.2.2: a Message ID older than one already seen on this Rekey SA stays stale.
    const sameKek = previous && [previous.kek, ...previous.oldKeks].find((k) => equal(k.spi, p.kek!.spi));
    const g: GroupState = {
      kek: { spi: p.kek.spi, keys: keys.kek.keys, expiresUs: nowUs + p.kek.lifetimeS * 1_000_000, nextMessageId: Math.max(sameKek?.nextMessageId ?? 0, p.kek.initialMessageId ?? 0) },
      oldKeks: [],
      authKey,
      workingPath: keys.kek.workingPath,
      teks: previous?.teks ?? new Map(),
      senderIds,
      atdS: p.gwp?.atdS ?? 1,
      dtdS: p.gwp?.dtdS ?? 2,
      ...(bits !== undefined ? { senderIdBits: bits } : {}),
    };
    this.group = g;
    // Re-registration replaces everything (RFC 9838 §2.3.1); TEKs we keep keep their SPI.
    const fresh = new Set(keys.teks.map((t) => t.spi));
    for (const [spi] of [...g.teks]) if (!fresh.has(spi)) this.removeTek(spi, 'replaced');
    this.log(`registered in ${showId(this.cfg.groupId)}: KEK ${hex(p.kek.spi)}, ${keys.teks.length} TEK(s), Sender-IDs [${senderIds.join(', ')}]`);
    this.emit({ kind: 'kek-installed', spi: p.kek.spi, via: 'registration' });
    for (const t of keys.teks) if (!g.teks.has(t.spi)) this.addTek(t.spi, t.keymat, p, 'registration', nowUs);
    this.emit({ kind: 'registered', groupId: this.cfg.groupId, kekSpi: p.kek.spi, teks: this.teks(), senderIds, ...(bits !== undefined ? { senderIdBits: bits } : {}) });
    this.announceOutbound(nowUs);
    return { ok: true };
  }

  /**
   * Unwraps the Rekey SA and Data-Security SA keys of a message: SA_KEYs through the message's
   * WRAP_KEYs and our working path down to `defaultKwk` (RFC 9838 §3.3).
   */
  private unwrapGroupKeys(
    p: GroupPolicyView,
    kd: KdView,
    workingPath: readonly TreeKey[],
    defaultKwk: Uint8Array,
  ): { ok: true; kek?: { keys: RekeySaKeys; workingPath: TreeKey[] }; teks: { spi: number; keymat: Uint8Array }[] } | { ok: false; code: GkmErrorCode; message: string } {
    const entry = (protocol: number, spi: Uint8Array) => kd.saKeys.find((s) => s.protocol === protocol && equal(s.spi, spi));
    for (const s of kd.saKeys) {
      const known = s.protocol === GKM_PROTOCOL.GIKE_UPDATE ? p.kek !== undefined && equal(s.spi, p.kek.spi) : p.teks.some((t) => equal(spiBytes(t.spi), s.spi));
      if (!known) return { ok: false, code: 'BAD_VALUE', message: `SA_KEY for an SA the GSA payload does not describe` };
    }
    let kek: { keys: RekeySaKeys; workingPath: TreeKey[] } | undefined;
    if (p.kek) {
      const e = entry(GKM_PROTOCOL.GIKE_UPDATE, p.kek.spi);
      if (!e) return { ok: false, code: 'MISSING_PAYLOAD', message: 'no SA_KEY for the Rekey SA' };
      const res = resolveWrapped(e.keys, kd.wrapKeys, workingPath, defaultKwk, unwrapKey);
      if (!res.ok) return { ok: false, code: res.code, message: 'the new Rekey SA key does not unwrap' };
      const keys = splitRekeyKeymat(p.kek.suite, p.kek.kwa, res.material);
      if (!keys) return { ok: false, code: 'BAD_LENGTH', message: 'Rekey SA keying material of the wrong length' };
      kek = { keys, workingPath: res.workingPath };
    }
    const teks: { spi: number; keymat: Uint8Array }[] = [];
    for (const t of p.teks) {
      const e = entry(GKM_PROTOCOL.ESP, spiBytes(t.spi));
      if (!e) return { ok: false, code: 'MISSING_PAYLOAD', message: `no SA_KEY for TEK 0x${t.spi.toString(16)}` };
      const res = resolveWrapped(e.keys, kd.wrapKeys, workingPath, defaultKwk, unwrapKey);
      if (!res.ok) return { ok: false, code: res.code, message: `TEK 0x${t.spi.toString(16)} does not unwrap` };
      if (res.material.length !== tekKeymatBytes(t.suite)) return { ok: false, code: 'BAD_LENGTH', message: 'TEK keying material of the wrong length' };
      teks.push({ spi: t.spi, keymat: res.material });
    }
    return { ok: true, ...(kek ? { kek } : {}), teks };
  }

  private currentOutbound(): MemberTek | undefined {
    let best: MemberTek | undefined;
    for (const m of this.group?.teks.values() ?? []) {
      if (m.deleteAtUs !== undefined || !m.outboundAnnounced) continue;
      if (!best || m.tek.outboundAtUs > best.tek.outboundAtUs || (m.tek.outboundAtUs === best.tek.outboundAtUs && m.tek.expiresAtUs > best.tek.expiresAtUs)) best = m;
    }
    return best;
  }

  private addTek(spi: number, keymat: Uint8Array, p: GroupPolicyView, via: 'registration' | 'rekey', nowUs: number): void {
    const g = this.group!;
    const policy = p.teks.find((t) => t.spi === spi)!;
    const usable = [...g.teks.values()].some((m) => m.deleteAtUs === undefined && m.tek.expiresAtUs > nowUs);
    const sid = g.senderIds[0];
    const bits = g.senderIdBits;
    const tek: GroupTek = {
      spi,
      sa: { spi, suite: policy.suite, key: keymat.slice(0, keymat.length - 4), salt: keymat.slice(keymat.length - 4), esn: false, replayWindow: 0, tunnelSrc: this.cfg.localAddr, tunnelDst: 0 },
      expiresAtUs: nowUs + policy.lifetimeS * 1_000_000,
      // RFC 5374 §4.2.1: receive at once, send after the Activation Time Delay (at once if nothing else to send with).
      outboundAtUs: usable ? nowUs + g.atdS * 1_000_000 : nowUs,
      src: policy.src,
      dst: policy.dst,
    };
    if (sid !== undefined && bits !== undefined) {
      const shift = BigInt(32 - bits);
      const first = BigInt(sid) << shift;
      tek.seqFirst = first === 0n ? 1n : first;
      tek.seqLast = ((BigInt(sid) + 1n) << shift) - 1n;
    }
    while (g.teks.size >= MEMBER_TEKS_MAX) {
      const oldest = [...g.teks.values()].sort((a, b) => a.tek.expiresAtUs - b.tek.expiresAtUs)[0]!;
      this.removeTek(oldest.tek.spi, 'replaced');
    }
    g.teks.set(spi, { tek, outboundAnnounced: false });
    this.log(`TEK 0x${spi.toString(16)} installed (${via}); sending on it from ${tek.outboundAtUs / 1e6} s`);
    this.emit({ kind: 'tek-installed', tek, via });
  }

  private removeTek(spi: number, reason: TekRemovedReason): void {
    if (!this.group?.teks.delete(spi)) return;
    this.log(`TEK 0x${spi.toString(16)} removed (${reason})`);
    this.emit({ kind: 'tek-removed', spi, reason });
  }

  private announceOutbound(nowUs: number): void {
    const g = this.group;
    if (!g) return;
    const before = this.currentOutbound();
    for (const m of g.teks.values()) if (!m.outboundAnnounced && m.tek.outboundAtUs <= nowUs) m.outboundAnnounced = true;
    const after = this.currentOutbound();
    if (after && after !== before) {
      this.log(`sending with TEK 0x${after.tek.spi.toString(16)}`);
      this.emit({ kind: 'tek-outbound', spi: after.tek.spi });
    }
  }

  private dropGroup(reason: 'excluded' | 'expired', nowUs: number): void {
    const g = this.group;
    if (!g) return;
    for (const spi of [...g.teks.keys()]) this.removeTek(spi, reason === 'excluded' ? 'excluded' : 'expired');
    this.group = undefined;
    if (this.cfg.autoReregister !== false && (this.stateValue === 'registered' || this.stateValue === 'idle')) {
      this.attempts = 0;
      this.start(nowUs);
    }
  }

  // --- GSA_REKEY (RFC 9838 §2.4.2) ---

  private onRekey(bytes: Uint8Array, nowUs: number): void {
    const peek = peekGsaRekey(bytes);
    if (!peek.ok) return this.dropRekey(peek.error.code, `${peek.error.field}: ${peek.error.message}`);
    const { spi, messageId, header, skFlags } = peek.value;
    const g = this.group;
    const via = g && [g.kek, ...g.oldKeks].find((k) => equal(k.spi, spi));
    if (!g || !via) {
      this.dropRekey('UNKNOWN_REKEY_SA', `no Rekey SA ${hex(spi)}`, messageId);
      // We missed the GSA_REKEY that introduced this Rekey SA: register again (rate limited).
      if (g && this.stateValue === 'registered' && this.cfg.autoReregister !== false && nowUs - this.lastUnknownRekeyUs >= this.timing.unknownRekeyHoldoffUs) {
        this.lastUnknownRekeyUs = nowUs;
        this.log('a GSA_REKEY on a Rekey SA we do not hold: registering again');
        this.attempts = 0;
        this.start(nowUs);
      }
      return;
    }
    if (header.flags & FLAG_RESPONSE) return this.dropRekey('UNEXPECTED_MESSAGE', 'R flag set', messageId);
    // Replay protection: Message IDs only go up (checked first, recorded only once authentic).
    if (messageId < via.nextMessageId) return this.dropRekey('REPLAYED_REKEY', `Message ID ${messageId} < ${via.nextMessageId}`, messageId);
    const opened = openGsaRekey(bytes, peek.value, via.keys.gskE);
    if (!opened.ok) return this.dropRekey(opened.error.code, `${opened.error.field}: ${opened.error.message}`, messageId);
    const inner = opened.value;
    if (!verifyGsaRekey(header, skFlags, inner, g.authKey)) return this.dropRekey('BAD_SIGNATURE', 'the GCKS signature does not verify', messageId);
    via.nextMessageId = messageId + 1;
    const crit = unsupportedCritical(inner, GKM_RECOGNISED_PAYLOADS);
    if (crit !== undefined) return this.dropRekey('UNSUPPORTED_CRITICAL_PAYLOAD', `critical payload ${crit}`, messageId);
    const gkm = readGkmPayloads(inner);
    if (!gkm.ok) return this.dropRekey(gkm.error.code, `${gkm.error.field}: ${gkm.error.message}`, messageId);
    const policy = gkm.value.gsa ? readGsa(gkm.value.gsa) : { ok: true as const, value: { teks: [] } as GroupPolicyView };
    if (!policy.ok) return this.dropRekey(policy.error.code, `${policy.error.field}: ${policy.error.message}`, messageId);
    const kd = gkm.value.kd ? readKd(gkm.value.kd) : { ok: true as const, value: { saKeys: [], wrapKeys: [], senderIds: [] } as KdView };
    if (!kd.ok) return this.dropRekey(kd.error.code, `${kd.error.field}: ${kd.error.message}`, messageId);
    const p = policy.value;
    const keys = this.unwrapGroupKeys(p, kd.value, g.workingPath, via.keys.gskW);
    if (!keys.ok) {
      if (keys.code === 'NO_KEY_PATH') {
        // RFC 9838 §3.3: no way to the new KEK: the GCKS has excluded us.
        this.log(`excluded from ${showId(this.cfg.groupId)} by GSA_REKEY #${messageId}`);
        this.emit({ kind: 'excluded' });
        return this.dropGroup('excluded', nowUs);
      }
      return this.dropRekey(keys.code, keys.message, messageId);
    }
    // Commit: policy, deletes, new TEKs, then the new KEK (the old one stays for GWP_DTD).
    this.counters.rekeysAccepted += 1;
    this.log(`← GSA_REKEY #${messageId}: ${keys.kek ? 'new KEK, ' : ''}${keys.teks.length} new TEK(s)`);
    this.emit({ kind: 'rekey-accepted', messageId });
    if (p.gwp?.atdS !== undefined) g.atdS = p.gwp.atdS;
    if (p.gwp?.dtdS !== undefined) g.dtdS = p.gwp.dtdS;
    for (const d of inner) {
      if (d.kind !== 'delete' || d.protocolId !== GKM_PROTOCOL.ESP || d.spiSize !== 4) continue;
      for (const raw of d.spis) {
        const m = g.teks.get(((raw[0]! << 24) | (raw[1]! << 16) | (raw[2]! << 8) | raw[3]!) >>> 0);
        if (m && m.deleteAtUs === undefined) m.deleteAtUs = nowUs + g.dtdS * 1_000_000;
      }
    }
    for (const t of keys.teks) if (!g.teks.has(t.spi)) this.addTek(t.spi, t.keymat, p, 'rekey', nowUs);
    if (keys.kek && p.kek) {
      g.oldKeks = [...g.oldKeks, { ...g.kek, dropAtUs: nowUs + g.dtdS * 1_000_000 }].slice(-2);
      g.kek = { spi: p.kek.spi, keys: keys.kek.keys, expiresUs: nowUs + p.kek.lifetimeS * 1_000_000, nextMessageId: p.kek.initialMessageId ?? 0 };
      g.workingPath = keys.kek.workingPath;
      this.emit({ kind: 'kek-installed', spi: p.kek.spi, via: 'rekey' });
    }
    this.announceOutbound(nowUs);
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
