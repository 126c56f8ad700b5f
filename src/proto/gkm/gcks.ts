// The Group Controller/Key Server of seed 001 FIG. 3 as a sans-IO state machine on UDP 848: SA table,
// registration table, policy; registrations (IKE_SA_INIT + GSA_AUTH) and GSA_REKEY. Never touches sockets or clocks.
//
// Per group (RFC 9838): one Rekey SA (the KEK, "GIKE_UPDATE"), one or more ESP Data-Security SAs (TEKs,
// AES-GCM-128 by default so tshark can decrypt them), a key tree for exclusion (key-tree.ts) and a
// monotonic GSA_REKEY Message ID. GSA_REKEY messages are built and signed once and sent, as the same
// bytes, to every registered member over UDP 848 (the lab's stand-in for IP multicast).
//
// Rekeys (RFC 9838 §2.4, §3.2):
// - scheduled: `rekeyLeadS` before the newest TEK (or the KEK) expires, a new one is sent under the
//   current KEK; old and new TEKs overlap (senders switch after GWP_ATD), so no packet is lost;
// - leave (policy `rekeyOnLeave`): the key tree replaces the leaver's path; message 1, under the old
//   KEK, carries only the new KEK wrapped under the new root (the leaver can open it but unwrap
//   nothing); message 2, under the new KEK, carries the new TEK and Deletes the old ones (§3.2.1: a
//   message that changes membership must not carry the new TEK);
// - join (policy `rekeyOnJoin`): the joiner's path is replaced too and one message under the old KEK
//   gives the others a new KEK and TEK; the joiner gets only the new ones at registration.

import { formatIpv4 } from '../../lib/addr.ts';
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
  PRF_HMAC_SHA2_256,
  decodeMessage,
  deriveIkeSaKeys,
  ed25519PublicKey,
  encodeEncryptedMessage,
  encodeMessage,
  generateDhKeyPair,
  openEncryptedMessage,
  randomBytes,
  sameId,
  selectIkeProposal,
  spiBytes,
  unsupportedCritical,
  type AeadSuite,
  type ChildSaParams,
  type DeletePayload,
  type IdPayload,
  type IkeDatagram,
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
import { GKM_EXCHANGE, GKM_NOTIFY, GKM_PORT, GKM_PROTOCOL, KWA_KW_5649_128, REKEY_SPI_BYTES, SN_32_BIT_UNSPECIFIED } from './constants.ts';
import { decodeMemberList, decodeSenderCount, gsaPayload, kdPayload, readGkmPayloads, type WrappedKey } from './codec.ts';
import { fromIkeDecodeError, gkmNotifyFor, type GkmErrorCode, type GkmFailure } from './errors.ts';
import { KeyTree, type WrapOp } from './key-tree.ts';
import { deriveRegistrationGskW, ed25519Spki, joinRekeyKeymat, rekeyKeymatBytes, splitRekeyKeymat, tekKeymatBytes, wrapKey, type RekeySaKeys } from './keys.ts';
import { buildGsa, buildKd, type GroupPolicyView, type KekPolicy, type TekPolicy } from './policy.ts';
import {
  GKM_RECOGNISED_PAYLOADS,
  GKM_TIMING_DEFAULT,
  NONCE_BYTES,
  authOctets,
  counterIv,
  idKey,
  kwaTransform,
  makeAuth,
  notifies,
  notify,
  notifyLabel,
  pickKwa,
  showId,
  some,
  splitKwa,
  verifyAuth,
  type GkmTiming,
} from './registration.ts';
import { encodeGsaRekey } from './rekey-message.ts';
import { GCKS_REGISTRATION_TRANSITIONS, type GcksRegistrationState, type GcksRegistrationTransition } from './states.ts';

/** Every G-IKEv2 datagram: the UDP payload with its addresses and ports. */
export type GkmDatagram = IkeDatagram;

/** A member the GCKS can authenticate (RFC 7296 §2.15): its IDi and credential. */
export interface GcksMemberCredential {
  id: IkeId;
  credential: PeerCredential;
}

/** Policy for one group (seed 001 ¶[00026]: credential needed, rekey on add/remove; RFC 9838 policy). */
export interface GroupConfig {
  groupId: IkeId;
  /** The identities that may join (authorization, RFC 9838 §2.3.2); they must also be in `members`. */
  authorized: IkeId[];
  /** Data-Security SA suite; AES-GCM-128 by default (tshark 4.0 cannot decrypt ChaCha20-Poly1305 ESP). */
  tekSuite?: AeadSuite;
  kekSuite?: AeadSuite;
  tekLifetimeS?: number;
  kekLifetimeS?: number;
  /** Rekey this long before a TEK or the KEK expires; longer than GWP_ATD plus the worst delivery delay. */
  rekeyLeadS?: number;
  /** GWP_ATD: senders start using a new TEK this long after receiving it. */
  atdS?: number;
  /** GWP_DTD: members delete a TEK this long after the GCKS says Delete. */
  dtdS?: number;
  rekeyOnJoin?: boolean;
  rekeyOnLeave?: boolean;
  /**
   * With `rekeyOnJoin`: after a join rekey, joins within this many seconds share one rekey at the
   * end of the window instead of one each (RFC 9838 §2.4 leaves rekey timing to GCKS policy). A
   * joiner in the window gets the TEK made at the window's start, so backward access control holds
   * to within this delay. 0 (default): every join rekeys at once. At N joins this turns N rekeys of
   * up to N recipients each into about (registration span / window) of them.
   */
  joinRekeyHoldoffS?: number;
  /** GWP_SENDER_ID_BITS: the top bits of each ESP sequence number carry the sender's ID (RFC 6054). */
  senderIdBits?: number;
  /** Sender-IDs one member may ask for (GROUP_SENDER count). */
  senderIdsPerMemberMax?: number;
  /**
   * Sender-IDs 0..n−1 are never handed to a member: kept for senders that are not registered members,
   * e.g. the S/R device itself protecting its BGP sessions with the TEK (seed 001 claim 7). Default 0.
   */
  reservedSenderIds?: number;
  membersMax?: number;
  /** Traffic the TEKs protect; any by default. */
  tekSrc?: TrafficSelector;
  tekDst?: TrafficSelector;
}

export interface GcksConfig {
  localAddr: number;
  /** Default 848. */
  localPort?: number;
  localId: IkeId;
  /** Signs every GSA_REKEY (RFC 9838 §2.4.1) and authenticates GSA_AUTH to Ed25519 members (RFC 8420). */
  ed25519SecretKey: Uint8Array;
  members: GcksMemberCredential[];
  groups: GroupConfig[];
  ikeProposal?: IkeProposalConfig;
  timing?: Partial<GkmTiming>;
  /** Registration IKE SAs at once (default 4096) and half-open ones (default 256); beyond: dropped. */
  registrationSasMax?: number;
  halfOpenMax?: number;
}

export type GcksCommand =
  /** Remove a member; it may not register again until readmitted. Rekeys per `rekeyOnLeave`. */
  | { kind: 'evict'; groupId: IkeId; memberId: IkeId }
  | { kind: 'readmit'; groupId: IkeId; memberId: IkeId }
  /** Rekey now (the TEK by default). */
  | { kind: 'rekey'; groupId: IkeId; what?: 'tek' | 'kek' };

export type GcksInput = { kind: 'rx'; datagram: GkmDatagram } | { kind: 'timer' } | { kind: 'command'; command: GcksCommand };

/** A TEK for the caller's data plane: one SA for both directions, no replay window (many senders). */
export interface GroupTekInfo {
  spi: number;
  sa: ChildSaParams;
  expiresAtUs: number;
  /** Deleted by a membership rekey; members drop it after GWP_DTD. */
  retiring: boolean;
}

export type GsaChangeReason = 'created' | 'scheduled-rekey' | 'kek-rekey' | 'join' | 'leave' | 'expired' | 'command';

export type GcksEvent =
  | { kind: 'member-registered'; groupId: IkeId; memberId: IkeId; addr: number; port: number; memberList?: IkeId[]; senderIds: number[]; reregistration: boolean }
  | { kind: 'member-removed'; groupId: IkeId; memberId: IkeId; reason: 'evicted' }
  | { kind: 'gsa-changed'; groupId: IkeId; reason: GsaChangeReason; kekSpi: Uint8Array; teks: GroupTekInfo[] }
  | { kind: 'registration-refused'; groupId?: IkeId; memberId?: IkeId; addr: number; failure: GkmFailure }
  | { kind: 'rekey-sent'; groupId: IkeId; messageId: number; reason: GsaChangeReason; recipients: number; bytes: number }
  | { kind: 'command-rejected'; command: GcksCommand; failure: GkmFailure };

export type GcksOutput = { kind: 'tx'; datagram: GkmDatagram } | { kind: 'event'; event: GcksEvent } | { kind: 'log'; topic: 'gkm'; text: string };

/** Outputs pending at once (a rekey of a full group is one datagram per member, twice). */
export const GCKS_OUTPUT_QUEUE_MAX = 1 << 18;
export const TEKS_PER_GROUP_MAX = 8;
export const GROUP_MEMBERS_MAX = 1 << 16;

// --- Internal records: the SA table, the registration table, the registration IKE SAs. ---

interface Kek {
  spi: Uint8Array;
  suite: AeadSuite;
  kwa: number;
  keys: RekeySaKeys;
  expiresUs: number;
  /** The next GSA_REKEY Message ID on this Rekey SA: 0 first, one more each time (RFC 9838 §2.4.1.3). */
  nextMessageId: number;
}

interface Tek {
  spi: number;
  suite: AeadSuite;
  keymat: Uint8Array;
  expiresUs: number;
  retireAtUs?: number;
}

interface MemberRecord {
  id: IkeId;
  addr: number;
  port: number;
  leaf: number;
  senderIds: number[];
  memberList?: IkeId[];
  registeredUs: number;
}

/** A group's configuration with every default filled in (the policy server of seed 001 FIG. 3, 36). */
type GroupPolicy = Required<GroupConfig>;

function withDefaults(c: GroupConfig): GroupPolicy {
  const tekLifetimeS = c.tekLifetimeS ?? 3600;
  const atdS = c.atdS ?? 1;
  return {
    groupId: c.groupId,
    authorized: c.authorized,
    tekSuite: c.tekSuite ?? 'aes-gcm-128',
    kekSuite: c.kekSuite ?? 'aes-gcm-128',
    tekLifetimeS,
    kekLifetimeS: c.kekLifetimeS ?? 86_400,
    rekeyLeadS: c.rekeyLeadS ?? Math.max(Math.floor(tekLifetimeS / 10), atdS + 2),
    atdS,
    dtdS: c.dtdS ?? 2,
    rekeyOnJoin: c.rekeyOnJoin ?? false,
    rekeyOnLeave: c.rekeyOnLeave ?? true,
    joinRekeyHoldoffS: c.joinRekeyHoldoffS ?? 0,
    senderIdBits: c.senderIdBits ?? 12,
    senderIdsPerMemberMax: c.senderIdsPerMemberMax ?? 4,
    reservedSenderIds: c.reservedSenderIds ?? 0,
    membersMax: c.membersMax ?? 1024,
    tekSrc: c.tekSrc ?? ANY_SELECTOR,
    tekDst: c.tekDst ?? ANY_SELECTOR,
  };
}

interface Group {
  cfg: GroupPolicy;
  kek: Kek;
  teks: Tek[];
  members: Map<string, MemberRecord>;
  denied: Set<string>;
  tree: KeyTree;
  nextSenderId: number;
  /** Join rekeys (joinRekeyHoldoffS): until then joins wait; `joinPending` when one did. */
  joinWindowEndUs: number;
  joinPending: boolean;
}

interface RegSa {
  state: GcksRegistrationState;
  spiI: Uint8Array;
  spiR: Uint8Array;
  peerAddr: number;
  peerPort: number;
  initKey: string;
  ni: Uint8Array;
  nr: Uint8Array;
  keys?: IkeSaKeys;
  kwa: number;
  gskW?: Uint8Array;
  initRequest: Uint8Array;
  initResponse: Uint8Array;
  peer?: GcksMemberCredential;
  expectedRequestId: number;
  lastResponse?: { messageId: number; bytes: Uint8Array };
  ivCounter: bigint;
  expiresAtUs: number;
}

const ANY_SELECTOR: TrafficSelector = { kind: 'ipv4-range', ipProtocolId: 0, startPort: 0, endPort: 0xffff, startAddr: 0, endAddr: 0xffffffff };

function u16(v: number): Uint8Array {
  return Uint8Array.of(v >>> 8, v & 0xff);
}

export class Gcks implements SansIo<GcksInput, GcksOutput> {
  private readonly groups = new Map<string, Group>();
  private readonly groupCfgs: GroupPolicy[] = [];
  private readonly regBySpi = new Map<string, RegSa>();
  private readonly regByInit = new Map<string, RegSa>();
  private readonly tekSpis = new Set<number>();
  private readonly outputs: GcksOutput[] = [];
  private readonly timing: GkmTiming;
  private readonly localPort: number;
  private readonly publicKey: Uint8Array;
  private readonly proposal: IkeProposalConfig;
  private started = false;
  private lastNowUs = -Infinity;
  private halfOpen = 0;

  /** Datagrams dropped, by reason; registrations refused, by reason. */
  readonly counters = {
    rxDropped: {} as Partial<Record<GkmErrorCode | 'UNKNOWN_SPI' | 'HALF_OPEN_FULL' | 'SA_TABLE_FULL', number>>,
    refused: {} as Partial<Record<GkmErrorCode, number>>,
    registrations: 0,
    rekeysSent: 0,
  };

  constructor(
    private readonly cfg: GcksConfig,
    private readonly rng: RandomSource,
  ) {
    if (cfg.ed25519SecretKey?.length !== 32) throw new RangeError('Gcks: a 32-byte ed25519SecretKey is required (it signs GSA_REKEY)');
    this.publicKey = ed25519PublicKey(cfg.ed25519SecretKey);
    this.localPort = cfg.localPort ?? GKM_PORT;
    this.timing = { ...GKM_TIMING_DEFAULT, ...cfg.timing };
    this.proposal = cfg.ikeProposal ?? IKE_PROPOSAL_DEFAULT;
    if (this.proposal.prfs.some((p) => p !== PRF_HMAC_SHA2_256) || this.proposal.dhGroups.some((g) => !DH_GROUPS.has(g))) throw new RangeError('Gcks: unsupported IKE proposal');
    const seen = new Set<string>();
    for (const c of cfg.groups) {
      const g = withDefaults(c);
      const key = idKey(g.groupId);
      if (seen.has(key)) throw new RangeError(`Gcks: group ${showId(g.groupId)} twice`);
      seen.add(key);
      if (!(g.tekLifetimeS > g.rekeyLeadS && g.rekeyLeadS > g.atdS && g.kekLifetimeS > g.rekeyLeadS))
        throw new RangeError(`Gcks: group ${showId(g.groupId)}: lifetimes must exceed rekeyLeadS, which must exceed atdS`);
      if (!(g.senderIdBits >= 1 && g.senderIdBits <= 16)) throw new RangeError('Gcks: senderIdBits in 1..16');
      if (!(g.membersMax >= 1 && g.membersMax <= GROUP_MEMBERS_MAX)) throw new RangeError(`Gcks: membersMax in 1..${GROUP_MEMBERS_MAX}`);
      this.groupCfgs.push(g);
    }
  }

  handle(input: GcksInput, nowUs: number): void {
    assert(nowUs >= this.lastNowUs, `GCKS: time ran backwards (${nowUs} < ${this.lastNowUs})`);
    this.lastNowUs = nowUs;
    if (!this.started) this.start(nowUs);
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
  }

  poll(): GcksOutput | undefined {
    return this.outputs.shift();
  }

  nextDeadlineUs(): number | undefined {
    if (!this.started) return 0;
    let t = Infinity;
    for (const g of this.groups.values()) t = Math.min(t, this.groupDeadline(g));
    for (const r of this.regBySpi.values()) t = Math.min(t, r.expiresAtUs);
    return t === Infinity ? undefined : t;
  }

  // --- Inspection (the UI renders these; never protocol state computed elsewhere). ---

  /** Entries in the registration table of a group (its members). */
  registrationCount(groupId: IkeId): number {
    return this.groups.get(idKey(groupId))?.members.size ?? 0;
  }

  /** The registration table of a group (seed 001 FIG. 3, 34). */
  registrationTable(groupId: IkeId): { id: IkeId; addr: number; port: number; senderIds: number[]; memberList?: IkeId[]; registeredUs: number }[] {
    const g = this.groups.get(idKey(groupId));
    if (!g) return [];
    return [...g.members.values()].map((m) => ({
      id: m.id,
      addr: m.addr,
      port: m.port,
      senderIds: [...m.senderIds],
      registeredUs: m.registeredUs,
      ...(m.memberList ? { memberList: m.memberList } : {}),
    }));
  }

  /** The SA table of a group (seed 001 FIG. 3, 32): KEK SPI, TEKs, next GSA_REKEY Message ID. */
  saTable(groupId: IkeId): { kekSpi: Uint8Array; kekExpiresUs: number; teks: GroupTekInfo[]; nextMessageId: number } | undefined {
    const g = this.groups.get(idKey(groupId));
    if (!g) return undefined;
    return { kekSpi: g.kek.spi, kekExpiresUs: g.kek.expiresUs, teks: this.tekInfos(g), nextMessageId: g.kek.nextMessageId };
  }

  /**
   * The Rekey SA keys in the layout of Wireshark's ikev2_decryption_table (SPIi, SPIr, SK_ei = GSK_e
   * key | salt), so a trainee can read GSA_REKEY messages.
   */
  exportKek(groupId: IkeId): { spiI: Uint8Array; spiR: Uint8Array; suite: AeadSuite; skE: Uint8Array } | undefined {
    const g = this.groups.get(idKey(groupId));
    if (!g) return undefined;
    const e = g.kek.keys.gskE;
    return { spiI: g.kek.spi.slice(0, 8), spiR: g.kek.spi.slice(8), suite: g.kek.suite, skE: Uint8Array.from([...e.key, ...e.salt]) };
  }

  // --- Plumbing ---

  private out(o: GcksOutput): void {
    assert(this.outputs.length < GCKS_OUTPUT_QUEUE_MAX, 'GCKS output queue full: the caller must drain poll()');
    this.outputs.push(o);
  }

  private emit(event: GcksEvent): void {
    this.out({ kind: 'event', event });
  }

  private log(text: string): void {
    this.out({ kind: 'log', topic: 'gkm', text: `gcks ${text}` });
  }

  private tx(dstAddr: number, dstPort: number, bytes: Uint8Array): void {
    this.out({ kind: 'tx', datagram: { srcAddr: this.cfg.localAddr, srcPort: this.localPort, dstAddr, dstPort, bytes } });
  }

  private drop(code: GkmErrorCode | 'UNKNOWN_SPI' | 'HALF_OPEN_FULL' | 'SA_TABLE_FULL', why: string): void {
    this.counters.rxDropped[code] = (this.counters.rxDropped[code] ?? 0) + 1;
    this.log(`dropped: ${code} (${why})`);
  }

  private newTekSpi(): number {
    for (;;) {
      const spi = this.rng.nextU32();
      if (spi >= 256 && !this.tekSpis.has(spi)) {
        this.tekSpis.add(spi);
        return spi;
      }
    }
  }

  private newKek(suite: AeadSuite, lifetimeS: number, nowUs: number): Kek {
    let spi: Uint8Array;
    do spi = randomBytes(this.rng, REKEY_SPI_BYTES);
    while (spi.subarray(0, 8).every((b) => b === 0) || spi.subarray(8).every((b) => b === 0));
    const kwa = KWA_KW_5649_128;
    const keys = splitRekeyKeymat(suite, kwa, randomBytes(this.rng, rekeyKeymatBytes(suite, kwa)))!;
    return { spi, suite, kwa, keys, expiresUs: nowUs + lifetimeS * 1_000_000, nextMessageId: 0 };
  }

  private newTek(g: Group, nowUs: number): Tek {
    const suite = g.cfg.tekSuite;
    return { spi: this.newTekSpi(), suite, keymat: randomBytes(this.rng, tekKeymatBytes(suite)), expiresUs: nowUs + g.cfg.tekLifetimeS * 1_000_000 };
  }

  private start(nowUs: number): void {
    this.started = true;
    for (const cfg of this.groupCfgs) {
      const g: Group = {
        cfg,
        kek: this.newKek(cfg.kekSuite, cfg.kekLifetimeS, nowUs),
        teks: [],
        members: new Map(),
        denied: new Set(),
        tree: new KeyTree(cfg.membersMax, () => randomBytes(this.rng, 16)),
        nextSenderId: cfg.reservedSenderIds,
        joinWindowEndUs: 0,
        joinPending: false,
      };
      g.teks.push(this.newTek(g, nowUs));
      this.groups.set(idKey(cfg.groupId), g);
      this.log(`group ${showId(cfg.groupId)} created: KEK ${hex(g.kek.spi)}, TEK 0x${g.teks[0]!.spi.toString(16)}`);
      this.gsaChanged(g, 'created');
    }
  }

  private tekInfos(g: Group): GroupTekInfo[] {
    return g.teks.map((t) => ({
      spi: t.spi,
      sa: { spi: t.spi, suite: t.suite, key: t.keymat.slice(0, t.keymat.length - 4), salt: t.keymat.slice(t.keymat.length - 4), esn: false, replayWindow: 0, tunnelSrc: 0, tunnelDst: 0 },
      expiresAtUs: t.retireAtUs ?? t.expiresUs,
      retiring: t.retireAtUs !== undefined,
    }));
  }

  private gsaChanged(g: Group, reason: GsaChangeReason): void {
    this.emit({ kind: 'gsa-changed', groupId: g.cfg.groupId, reason, kekSpi: g.kek.spi, teks: this.tekInfos(g) });
  }

  // --- Timers ---

  private groupDeadline(g: Group): number {
    const lead = g.cfg.rekeyLeadS * 1_000_000;
    const newest = g.teks[g.teks.length - 1];
    let t = g.kek.expiresUs - lead;
    if (newest) t = Math.min(t, newest.expiresUs - lead);
    for (const tek of g.teks) t = Math.min(t, tek.retireAtUs ?? tek.expiresUs);
    if (g.joinPending) t = Math.min(t, g.joinWindowEndUs);
    return t;
  }

  private onTimer(nowUs: number): void {
    for (const g of this.groups.values()) {
      const lead = g.cfg.rekeyLeadS * 1_000_000;
      const before = g.teks.length;
      g.teks = g.teks.filter((t) => {
        const end = t.retireAtUs ?? t.expiresUs;
        if (end > nowUs) return true;
        this.tekSpis.delete(t.spi);
        return false;
      });
      if (g.teks.length !== before) {
        this.log(`group ${showId(g.cfg.groupId)}: ${before - g.teks.length} TEK(s) expired`);
        this.gsaChanged(g, 'expired');
      }
      if (g.joinPending && g.joinWindowEndUs <= nowUs) {
        // The joins of the window: one rekey (new KEK under the root, new TEK) for everyone.
        g.joinPending = false;
        this.joinRekey(g, [], nowUs);
        g.joinWindowEndUs = nowUs + g.cfg.joinRekeyHoldoffS * 1_000_000;
      }
      if (g.kek.expiresUs - lead <= nowUs) this.rekeyKek(g, 'kek-rekey', nowUs);
      const newest = g.teks[g.teks.length - 1];
      if (!newest || newest.expiresUs - lead <= nowUs) this.rekeyTek(g, 'scheduled-rekey', nowUs);
    }
    for (const [k, r] of this.regBySpi) {
      if (r.expiresAtUs > nowUs) continue;
      if (r.state === 'init-responded') {
        this.halfOpen -= 1;
        this.log(`registration SA ${hex(r.spiR)}: no GSA_AUTH, dropped`);
      }
      r.keys = undefined;
      this.regBySpi.delete(k);
      this.regByInit.delete(r.initKey);
    }
  }

  // --- Commands ---

  private onCommand(c: GcksCommand, nowUs: number): void {
    const g = this.groups.get(idKey(c.groupId));
    const reject = (message: string) => {
      this.log(`command ${c.kind} rejected: ${message}`);
      this.emit({ kind: 'command-rejected', command: c, failure: { code: 'BAD_COMMAND', detectedBy: 'local', message } });
    };
    if (!g) return reject(`no group ${showId(c.groupId)}`);
    switch (c.kind) {
      case 'evict': {
        const key = idKey(c.memberId);
        g.denied.add(key);
        const m = g.members.get(key);
        if (!m) return this.log(`evict ${showId(c.memberId)}: not registered; denied from now on`);
        g.members.delete(key);
        const updates = g.tree.leave(m.leaf, g.cfg.rekeyOnLeave);
        this.log(`member ${showId(m.id)} evicted from ${showId(g.cfg.groupId)}`);
        this.emit({ kind: 'member-removed', groupId: g.cfg.groupId, memberId: m.id, reason: 'evicted' });
        if (g.cfg.rekeyOnLeave) this.leaveRekey(g, updates, nowUs);
        return;
      }
      case 'readmit':
        g.denied.delete(idKey(c.memberId));
        return this.log(`member ${showId(c.memberId)} may join ${showId(g.cfg.groupId)} again`);
      case 'rekey':
        if (c.what === 'kek') return this.rekeyKek(g, 'command', nowUs);
        return this.rekeyTek(g, 'command', nowUs);
    }
  }

  // --- GSA_REKEY (RFC 9838 §2.4) ---

  private kekPolicy(kek: Kek, nowUs: number, extra: Partial<KekPolicy> = {}): KekPolicy {
    // The Rekey SA's traffic: GSA_REKEY from our address and port 848 to the members (RFC 9838 §4.4.1).
    const src: TrafficSelector = { kind: 'ipv4-range', ipProtocolId: 17, startPort: this.localPort, endPort: this.localPort, startAddr: this.cfg.localAddr, endAddr: this.cfg.localAddr };
    const dst: TrafficSelector = { kind: 'ipv4-range', ipProtocolId: 17, startPort: GKM_PORT, endPort: GKM_PORT, startAddr: 0, endAddr: 0xffffffff };
    return { spi: kek.spi, suite: kek.suite, kwa: kek.kwa, lifetimeS: Math.max(0, Math.floor((kek.expiresUs - nowUs) / 1_000_000)), src, dst, ...extra };
  }

  private tekPolicy(g: Group, t: Tek, nowUs: number): TekPolicy {
    return { spi: t.spi, suite: t.suite, lifetimeS: Math.max(0, Math.floor((t.expiresUs - nowUs) / 1_000_000)), sn: SN_32_BIT_UNSPECIFIED, src: g.cfg.tekSrc, dst: g.cfg.tekDst };
  }

  private wrap(op: WrapOp, defaultKwk: Uint8Array): WrappedKey {
    return { keyId: op.keyId, kwkId: op.kwkId, wrapped: wrapKey(op.kwk ?? defaultKwk, op.key) };
  }

  /** Signs, seals and sends one GSA_REKEY over `via` (its next Message ID) to every registered member. */
  private sendRekey(g: Group, via: Kek, inner: Payload[], reason: GsaChangeReason): void {
    const messageId = via.nextMessageId++;
    // The Message ID is unique under this KEK, so it makes a unique IV (RFC 5282 §3.1).
    const bytes = encodeGsaRekey({ spi: via.spi, messageId, inner, kek: via.keys.gskE, iv: counterIv(BigInt(messageId)), signingKey: this.cfg.ed25519SecretKey });
    for (const m of g.members.values()) this.tx(m.addr, m.port, bytes);
    this.counters.rekeysSent += 1;
    this.log(`→ GSA_REKEY #${messageId} (${reason}) to ${g.members.size} member(s), ${bytes.length} bytes`);
    this.emit({ kind: 'rekey-sent', groupId: g.cfg.groupId, messageId, reason, recipients: g.members.size, bytes: bytes.length });
  }

  private retireLiveTeks(g: Group, nowUs: number): number[] {
    const spis: number[] = [];
    for (const t of g.teks)
      if (t.retireAtUs === undefined) {
        // Members delete it after GWP_DTD; senders have moved to the new TEK after GWP_ATD.
        t.retireAtUs = Math.min(t.expiresUs, nowUs + Math.max(g.cfg.dtdS, g.cfg.atdS + 1) * 1_000_000);
        spis.push(t.spi);
      }
    return spis;
  }

  private addTek(g: Group, nowUs: number): Tek {
    const t = this.newTek(g, nowUs);
    g.teks.push(t);
    while (g.teks.length > TEKS_PER_GROUP_MAX) this.tekSpis.delete(g.teks.shift()!.spi);
    return t;
  }

  private gwp(g: Group): GroupPolicyView['gwp'] {
    return { atdS: g.cfg.atdS, dtdS: g.cfg.dtdS };
  }

  private tekBag(t: Tek, kwk: Uint8Array) {
    return { protocol: GKM_PROTOCOL.ESP, spi: spiBytes(t.spi), keys: [{ keyId: 0, kwkId: 0, wrapped: wrapKey(kwk, t.keymat) }] };
  }

  /** A new TEK under the current KEK; the old ones run out by themselves (lifetimes overlap by the lead). */
  private rekeyTek(g: Group, reason: GsaChangeReason, nowUs: number): void {
    const t = this.addTek(g, nowUs);
    if (g.members.size > 0) {
      const inner: Payload[] = [
        gsaPayload(buildGsa({ teks: [this.tekPolicy(g, t, nowUs)], gwp: this.gwp(g) })),
        kdPayload(buildKd({ saKeys: [this.tekBag(t, g.kek.keys.gskW)], wrapKeys: [], senderIds: [] })),
      ];
      this.sendRekey(g, g.kek, inner, reason);
    }
    this.gsaChanged(g, reason);
  }

  /** A new KEK wrapped under the current one's GSK_w (KWK ID 0): nobody is excluded. */
  private rekeyKek(g: Group, reason: GsaChangeReason, nowUs: number): void {
    const old = g.kek;
    const kek = this.newKek(g.cfg.kekSuite, g.cfg.kekLifetimeS, nowUs);
    if (g.members.size > 0) {
      const inner: Payload[] = [
        gsaPayload(buildGsa({ kek: this.kekPolicy(kek, nowUs), teks: [] })),
        kdPayload(buildKd({ saKeys: [{ protocol: GKM_PROTOCOL.GIKE_UPDATE, spi: kek.spi, keys: [{ keyId: 0, kwkId: 0, wrapped: wrapKey(old.keys.gskW, joinRekeyKeymat(kek.keys)) }] }], wrapKeys: [], senderIds: [] })),
      ];
      this.sendRekey(g, old, inner, reason);
    }
    g.kek = kek;
    this.gsaChanged(g, reason);
  }

  /** RFC 9838 §3.2.1: message 1 (old KEK) carries only the new KEK; message 2 (new KEK) the new TEK. */
  private leaveRekey(g: Group, updates: WrapOp[], nowUs: number): void {
    const old = g.kek;
    const kek = this.newKek(g.cfg.kekSuite, g.cfg.kekLifetimeS, nowUs);
    const retired = this.retireLiveTeks(g, nowUs);
    const t = this.addTek(g, nowUs);
    const root = g.tree.root();
    if (root && g.members.size > 0) {
      const inner1: Payload[] = [
        gsaPayload(buildGsa({ kek: this.kekPolicy(kek, nowUs), teks: [] })),
        kdPayload(
          buildKd({
            saKeys: [{ protocol: GKM_PROTOCOL.GIKE_UPDATE, spi: kek.spi, keys: [{ keyId: 0, kwkId: root.id, wrapped: wrapKey(root.key, joinRekeyKeymat(kek.keys)) }] }],
            wrapKeys: updates.map((op) => this.wrap(op, old.keys.gskW)),
            senderIds: [],
          }),
        ),
      ];
      this.sendRekey(g, old, inner1, 'leave');
      const del: DeletePayload = { kind: 'delete', protocolId: GKM_PROTOCOL.ESP, spiSize: 4, spis: retired.map(spiBytes) };
      const inner2: Payload[] = [
        gsaPayload(buildGsa({ teks: [this.tekPolicy(g, t, nowUs)], gwp: this.gwp(g) })),
        kdPayload(buildKd({ saKeys: [this.tekBag(t, kek.keys.gskW)], wrapKeys: [], senderIds: [] })),
        ...(retired.length ? [del] : []),
      ];
      this.sendRekey(g, kek, inner2, 'leave');
    }
    g.kek = kek;
    this.gsaChanged(g, 'leave');
  }

  /** RFC 9838 §3.2: a joiner must not read what was sent before it joined: new KEK and TEK for the others. */
  private joinRekey(g: Group, updates: WrapOp[], nowUs: number): void {
    const old = g.kek;
    const kek = this.newKek(g.cfg.kekSuite, g.cfg.kekLifetimeS, nowUs);
    const retired = this.retireLiveTeks(g, nowUs);
    const t = this.addTek(g, nowUs);
    const root = g.tree.root()!;
    const others = g.members.size;
    if (others > 0) {
      const del: DeletePayload = { kind: 'delete', protocolId: GKM_PROTOCOL.ESP, spiSize: 4, spis: retired.map(spiBytes) };
      const inner: Payload[] = [
        gsaPayload(buildGsa({ kek: this.kekPolicy(kek, nowUs), teks: [this.tekPolicy(g, t, nowUs)], gwp: this.gwp(g) })),
        kdPayload(
          buildKd({
            saKeys: [
              { protocol: GKM_PROTOCOL.GIKE_UPDATE, spi: kek.spi, keys: [{ keyId: 0, kwkId: root.id, wrapped: wrapKey(root.key, joinRekeyKeymat(kek.keys)) }] },
              this.tekBag(t, old.keys.gskW),
            ],
            wrapKeys: updates.map((op) => this.wrap(op, old.keys.gskW)),
            senderIds: [],
          }),
        ),
        ...(retired.length ? [del] : []),
      ];
      this.sendRekey(g, old, inner, 'join');
    }
    g.kek = kek;
    this.gsaChanged(g, 'join');
  }

  // --- Receiving ---

  private onRx(d: GkmDatagram, nowUs: number): void {
    const dec = decodeMessage(d.bytes);
    if (!dec.ok) return this.drop(fromIkeDecodeError(dec.error).code, `${dec.error.field}: ${dec.error.message}`);
    const msg = dec.value;
    const h = msg.header;
    if (h.flags & FLAG_RESPONSE) return this.drop('UNEXPECTED_MESSAGE', 'a response: the GCKS initiates nothing on registration SAs');
    if (!(h.flags & FLAG_INITIATOR)) return this.drop('UNEXPECTED_MESSAGE', 'I flag clear');
    if (h.exchangeType === EXCHANGE.IKE_SA_INIT) return this.onInitRequest(d, msg, nowUs);
    const r = this.regBySpi.get(hex(h.spiR));
    if (!r || !equalSpi(r.spiI, h.spiI)) return this.drop('UNKNOWN_SPI', `no registration SA ${hex(h.spiI)}:${hex(h.spiR)}`);
    // RFC 7296 §2.1: a retransmitted request gets the cached response, once its ICV checks out.
    if (r.lastResponse && h.messageId === r.lastResponse.messageId) {
      if (!openEncryptedMessage(d.bytes, msg, r.keys!.skEi).ok) return this.drop('INTEGRITY', 'retransmitted request');
      this.log(`retransmitted request #${h.messageId}: response from cache`);
      return this.tx(r.peerAddr, r.peerPort, r.lastResponse.bytes);
    }
    if (h.messageId !== r.expectedRequestId) return this.drop('UNEXPECTED_MESSAGE', `request #${h.messageId}, expected #${r.expectedRequestId}`);
    const wantExchange = r.state === 'init-responded' ? GKM_EXCHANGE.GSA_AUTH : r.state === 'authenticated' || r.state === 'registered' ? GKM_EXCHANGE.GSA_REGISTRATION : -1;
    if (h.exchangeType !== wantExchange) return this.drop('UNEXPECTED_MESSAGE', `exchange ${h.exchangeType} in state ${r.state}`);
    const opened = openEncryptedMessage(d.bytes, msg, r.keys!.skEi);
    if (!opened.ok) {
      if (opened.error.code === 'INTEGRITY' || opened.error.code === 'MISSING_PAYLOAD') return this.drop(opened.error.code, opened.error.field);
      return this.refuse(r, h, 'refused', [], { code: 'BAD_VALUE', detectedBy: 'local', notify: NOTIFY.INVALID_SYNTAX, message: `malformed request at ${opened.error.field}` }, nowUs);
    }
    if (h.exchangeType === GKM_EXCHANGE.GSA_AUTH) this.onGsaAuth(r, h, opened.value, nowUs);
    else this.onGsaRegistration(r, h, opened.value, nowUs);
  }

  private go(r: RegSa, t: GcksRegistrationTransition): void {
    const next = GCKS_REGISTRATION_TRANSITIONS[r.state][t];
    assert(next !== undefined, `registration SA: no transition '${t}' from '${r.state}'`);
    if (r.state === 'init-responded') this.halfOpen -= 1;
    r.state = next;
  }

  private onInitRequest(d: GkmDatagram, msg: IkeMessage, nowUs: number): void {
    const h = msg.header;
    if (h.messageId !== 0 || h.spiR.some((b) => b !== 0) || h.spiI.every((b) => b === 0)) return this.drop('UNEXPECTED_MESSAGE', 'not an IKE_SA_INIT request');
    const initKey = `${d.srcAddr}:${d.srcPort}:${hex(h.spiI)}`;
    const known = this.regByInit.get(initKey);
    if (known) {
      // RFC 7296 §2.1: the same request again gets the same response.
      if (known.state === 'init-responded' || known.lastResponse?.messageId === 0) return this.tx(d.srcAddr, d.srcPort, known.initResponse);
      return this.drop('UNEXPECTED_MESSAGE', 'IKE_SA_INIT for an SA past IKE_SA_INIT');
    }
    const answer = (payloads: Payload[], why: string) => {
      this.log(`← IKE_SA_INIT from ${formatIpv4(d.srcAddr)}: refused (${why})`);
      const hdr: IkeHeader = { spiI: h.spiI, spiR: new Uint8Array(IKE_SPI_BYTES), exchangeType: EXCHANGE.IKE_SA_INIT, flags: FLAG_RESPONSE, messageId: 0 };
      this.tx(d.srcAddr, d.srcPort, encodeMessage({ header: hdr, payloads }));
    };
    if (this.halfOpen >= (this.cfg.halfOpenMax ?? 256)) return this.drop('HALF_OPEN_FULL', `${this.halfOpen} half-open registrations`);
    if (this.regBySpi.size >= (this.cfg.registrationSasMax ?? 4096)) return this.drop('SA_TABLE_FULL', `${this.regBySpi.size} registration SAs`);
    const crit = unsupportedCritical(msg.payloads, GKM_RECOGNISED_PAYLOADS);
    if (crit !== undefined) return answer([notify(NOTIFY.UNSUPPORTED_CRITICAL_PAYLOAD, Uint8Array.of(crit))], `critical payload ${crit}`);
    const sa = some(msg.payloads, 'sa');
    const ke = some(msg.payloads, 'ke');
    const nonce = some(msg.payloads, 'nonce');
    if (!sa || !ke || !nonce) return answer([notify(NOTIFY.INVALID_SYNTAX)], 'IKE_SA_INIT without SA, KE or Ni');
    const { sa: plain, kwas } = splitKwa(sa);
    const choice = selectIkeProposal(plain, this.proposal, ke.dhGroup);
    const kwa = choice && pickKwa(kwas.get(choice.proposal.number));
    if (!choice || kwa === undefined) return answer([notify(NOTIFY.NO_PROPOSAL_CHOSEN)], 'no acceptable proposal');
    if (choice.suite.dhGroup !== ke.dhGroup) return answer([notify(NOTIFY.INVALID_KE_PAYLOAD, u16(choice.suite.dhGroup))], `KE for group ${ke.dhGroup}`);
    const dh = generateDhKeyPair(ke.dhGroup, this.rng);
    const shared = DH_GROUPS.get(ke.dhGroup)!.sharedSecret(dh.secret, ke.data);
    dh.secret.fill(0);
    if (!shared) return answer([notify(NOTIFY.INVALID_SYNTAX)], 'bad KE data');
    let spiR: Uint8Array;
    do spiR = randomBytes(this.rng, IKE_SPI_BYTES);
    while (spiR.every((b) => b === 0) || this.regBySpi.has(hex(spiR)));
    const nr = randomBytes(this.rng, NONCE_BYTES);
    const keys = deriveIkeSaKeys({ sharedSecret: shared, ni: nonce.nonce, nr, spiI: h.spiI, spiR, encr: choice.suite.encr });
    shared.fill(0);
    const proposal = { ...choice.proposal, transforms: [...choice.proposal.transforms, kwaTransform(kwa)] };
    const payloads: Payload[] = [{ kind: 'sa', proposals: [proposal] }, { kind: 'ke', dhGroup: ke.dhGroup, data: dh.publicKey }, { kind: 'nonce', nonce: nr }];
    const hdr: IkeHeader = { spiI: h.spiI, spiR, exchangeType: EXCHANGE.IKE_SA_INIT, flags: FLAG_RESPONSE, messageId: 0 };
    const initResponse = encodeMessage({ header: hdr, payloads });
    const r: RegSa = {
      state: 'init-responded',
      spiI: h.spiI,
      spiR,
      peerAddr: d.srcAddr,
      peerPort: d.srcPort,
      initKey,
      ni: nonce.nonce,
      nr,
      keys,
      kwa,
      gskW: deriveRegistrationGskW(keys.skD, kwa),
      initRequest: d.bytes.slice(),
      initResponse,
      expectedRequestId: 1,
      ivCounter: 0n,
      expiresAtUs: nowUs + this.timing.halfOpenTimeoutUs,
    };
    this.regBySpi.set(hex(spiR), r);
    this.regByInit.set(initKey, r);
    this.halfOpen += 1;
    this.log(`← IKE_SA_INIT from ${formatIpv4(d.srcAddr)}:${d.srcPort}; → response ${hex(h.spiI)}:${hex(spiR)}`);
    this.tx(d.srcAddr, d.srcPort, initResponse);
  }

  private respond(r: RegSa, h: IkeHeader, inner: Payload[]): void {
    r.ivCounter += 1n;
    const hdr: IkeHeader = { spiI: r.spiI, spiR: r.spiR, exchangeType: h.exchangeType, flags: FLAG_RESPONSE, messageId: h.messageId };
    const bytes = encodeEncryptedMessage(hdr, inner, r.keys!.skEr, counterIv(r.ivCounter));
    r.lastResponse = { messageId: h.messageId, bytes };
    r.expectedRequestId = h.messageId + 1;
    this.tx(r.peerAddr, r.peerPort, bytes);
  }

  /**
   * Answers with an error Notify. `t` 'refused' ends the SA (it lingers to answer retransmissions);
   * undefined keeps an authenticated SA for another GSA_REGISTRATION (RFC 9838 §2.3.2).
   */
  private refuse(r: RegSa, h: IkeHeader, t: 'refused' | undefined, before: Payload[], failure: GkmFailure, nowUs: number, ids: { groupId?: IkeId; memberId?: IkeId } = {}): void {
    const n = failure.notify ?? gkmNotifyFor(failure.code) ?? NOTIFY.INVALID_SYNTAX;
    this.respond(r, h, [...before, notify(n)]);
    this.counters.refused[failure.code] = (this.counters.refused[failure.code] ?? 0) + 1;
    this.log(`registration from ${formatIpv4(r.peerAddr)} refused: ${notifyLabel(n)} (${failure.message})`);
    this.emit({ kind: 'registration-refused', addr: r.peerAddr, failure: { ...failure, notify: n }, ...ids });
    if (t) this.go(r, t);
    r.expiresAtUs = nowUs + this.timing.lingerUs;
  }

  private onGsaAuth(r: RegSa, h: IkeHeader, inner: Payload[], nowUs: number): void {
    const crit = unsupportedCritical(inner, GKM_RECOGNISED_PAYLOADS);
    if (crit !== undefined) return this.refuse(r, h, 'refused', [], { code: 'UNSUPPORTED_CRITICAL_PAYLOAD', detectedBy: 'local', message: `critical payload ${crit}` }, nowUs);
    const idi = inner.find((p): p is IdPayload => p.kind === 'id' && p.type === PAYLOAD.IDI);
    const auth = some(inner, 'auth');
    const gkm = readGkmPayloads(inner);
    if (!idi || !auth) return this.refuse(r, h, 'refused', [], { code: 'MISSING_PAYLOAD', detectedBy: 'local', message: 'GSA_AUTH without IDi or AUTH' }, nowUs);
    const memberId: IkeId = { idType: idi.idType, data: idi.data };
    // RFC 7296 §2.21.2: a member we cannot authenticate gets AUTHENTICATION_FAILED and nothing else.
    const peer = this.cfg.members.find((m) => sameId(m.id, memberId));
    if (!peer) return this.refuse(r, h, 'refused', [], { code: 'UNKNOWN_PEER', detectedBy: 'local', message: `no credentials for ${showId(memberId)}` }, nowUs, { memberId });
    if (!verifyAuth(peer.credential, auth, authOctets(r.initRequest, r.nr, r.keys!.skPi, idi)))
      return this.refuse(r, h, 'refused', [], { code: 'AUTHENTICATION_FAILED', detectedBy: 'local', message: `AUTH of ${showId(memberId)} does not verify` }, nowUs, { memberId });
    const idr: IdPayload = { kind: 'id', type: PAYLOAD.IDR, idType: this.cfg.localId.idType, data: this.cfg.localId.data };
    const ourAuth = makeAuth(peer.credential, this.cfg.ed25519SecretKey, authOctets(r.initResponse, r.ni, r.keys!.skPr, idr));
    assert(ourAuth !== undefined, 'the GCKS always has an Ed25519 key');
    r.peer = peer;
    this.go(r, 'authenticated');
    const head: Payload[] = [idr, ourAuth];
    if (!gkm.ok) return this.refuse(r, h, undefined, head, { code: gkm.error.code, detectedBy: 'local', notify: NOTIFY.INVALID_SYNTAX, message: `${gkm.error.field}: ${gkm.error.message}` }, nowUs, { memberId });
    if (!gkm.value.idg) return this.refuse(r, h, undefined, head, { code: 'MISSING_PAYLOAD', detectedBy: 'local', notify: NOTIFY.INVALID_SYNTAX, message: 'GSA_AUTH without IDg' }, nowUs, { memberId });
    this.admit(r, h, gkm.value.idg, inner, head, nowUs);
  }

  /** GSA_REGISTRATION (RFC 9838 §2.3.2): another group, or the same again, on an authenticated SA. */
  private onGsaRegistration(r: RegSa, h: IkeHeader, inner: Payload[], nowUs: number): void {
    const gkm = readGkmPayloads(inner);
    const memberId = r.peer!.id;
    if (!gkm.ok) return this.refuse(r, h, undefined, [], { code: gkm.error.code, detectedBy: 'local', notify: NOTIFY.INVALID_SYNTAX, message: gkm.error.message }, nowUs, { memberId });
    if (!gkm.value.idg) return this.refuse(r, h, undefined, [], { code: 'MISSING_PAYLOAD', detectedBy: 'local', notify: NOTIFY.INVALID_SYNTAX, message: 'GSA_REGISTRATION without IDg' }, nowUs, { memberId });
    this.admit(r, h, gkm.value.idg, inner, [], nowUs);
  }

  /** Authorization and the registration table (seed 001 FIG. 4 steps 100–102; RFC 9838 §2.3.2). */
  private admit(r: RegSa, h: IkeHeader, groupId: IkeId, inner: Payload[], head: Payload[], nowUs: number): void {
    const memberId = r.peer!.id;
    const key = idKey(memberId);
    const g = this.groups.get(idKey(groupId));
    const refuse = (code: GkmErrorCode, message: string, n?: number) =>
      this.refuse(r, h, undefined, head, { code, detectedBy: 'local', ...(n !== undefined ? { notify: n } : {}), message }, nowUs, { memberId, groupId });
    if (!g) return refuse('INVALID_GROUP_ID', `no group ${showId(groupId)}`);
    if (!g.cfg.authorized.some((a) => sameId(a, memberId)) || g.denied.has(key)) return refuse('AUTHORIZATION_FAILED', `${showId(memberId)} may not join ${showId(groupId)}`);
    let memberList: IkeId[] | undefined;
    let senderCount = 0;
    for (const n of notifies(inner)) {
      if (n.notifyType === GKM_NOTIFY.MEMBER_LIST) {
        const ml = decodeMemberList(n.data);
        if (!ml.ok) return refuse(ml.error.code, `${ml.error.field}: ${ml.error.message}`, NOTIFY.INVALID_SYNTAX);
        memberList = ml.value.entries;
      } else if (n.notifyType === GKM_NOTIFY.GROUP_SENDER) {
        const c = decodeSenderCount(n.data);
        if (!c.ok) return refuse(c.error.code, c.error.message, NOTIFY.INVALID_SYNTAX);
        senderCount = Math.max(1, Math.min(c.value, g.cfg.senderIdsPerMemberMax));
      }
    }
    const existing = g.members.get(key);
    if (senderCount > 0 && g.nextSenderId + senderCount > 2 ** g.cfg.senderIdBits)
      return refuse('REGISTRATION_FAILED', `out of Sender-IDs (${g.cfg.senderIdBits} bits)`);
    let leaf: number;
    if (existing) {
      leaf = existing.leaf;
    } else {
      if (g.members.size >= g.cfg.membersMax) return refuse('REGISTRATION_FAILED', `group full (${g.cfg.membersMax})`);
      // Within a join window the rekey waits for the window's end (joinRekeyHoldoffS).
      const defer = g.cfg.rekeyOnJoin && g.members.size > 0 && nowUs < g.joinWindowEndUs;
      const seat = g.tree.join(g.cfg.rekeyOnJoin && !defer);
      if (!seat) return refuse('REGISTRATION_FAILED', 'key tree full');
      leaf = seat.leaf;
      if (defer) g.joinPending = true;
      // Rekey the others before the joiner gets anything (RFC 9838 §3.2, backward access control).
      else if (g.cfg.rekeyOnJoin && g.members.size > 0) {
        this.joinRekey(g, seat.updates, nowUs);
        g.joinWindowEndUs = nowUs + g.cfg.joinRekeyHoldoffS * 1_000_000;
      }
    }
    // RFC 9838 §2.5.1: fresh Sender-IDs at every registration, never reused.
    const senderIds = Array.from({ length: senderCount }, () => g.nextSenderId++);
    const rec: MemberRecord = { id: memberId, addr: r.peerAddr, port: r.peerPort, leaf, senderIds, registeredUs: nowUs, ...(memberList ? { memberList } : {}) };
    g.members.set(key, rec);
    this.respond(r, h, [...head, ...this.registrationPayloads(g, rec, r, nowUs)]);
    if (r.state !== 'registered') this.go(r, 'registered');
    r.expiresAtUs = nowUs + this.timing.lingerUs;
    this.counters.registrations += 1;
    this.log(`member ${showId(memberId)} registered in ${showId(groupId)} from ${formatIpv4(r.peerAddr)}:${r.peerPort}${memberList ? ` with ${memberList.length} listed member(s)` : ''}`);
    const ev: GcksEvent = { kind: 'member-registered', groupId: g.cfg.groupId, memberId, addr: r.peerAddr, port: r.peerPort, senderIds, reregistration: existing !== undefined };
    if (memberList) ev.memberList = memberList;
    this.emit(ev);
  }

  /** GSA and KD of a registration (RFC 9838 §2.3.2, §4.4, §4.5). */
  private registrationPayloads(g: Group, rec: MemberRecord, r: RegSa, nowUs: number): Payload[] {
    const live = g.teks.filter((t) => t.retireAtUs === undefined);
    const view: GroupPolicyView = {
      // RFC 9838 §4.4.2.2.2: GSA_INITIAL_MESSAGE_ID when the Rekey SA has been used already.
      kek: this.kekPolicy(g.kek, nowUs, { auth: 'ed25519', ...(g.kek.nextMessageId ? { initialMessageId: g.kek.nextMessageId } : {}) }),
      teks: live.map((t) => this.tekPolicy(g, t, nowUs)),
      gwp: { atdS: g.cfg.atdS, dtdS: g.cfg.dtdS, ...(rec.senderIds.length ? { senderIdBits: g.cfg.senderIdBits } : {}) },
    };
    const root = g.tree.root()!;
    const gskW = r.gskW!;
    const kd = buildKd({
      saKeys: [
        { protocol: GKM_PROTOCOL.GIKE_UPDATE, spi: g.kek.spi, keys: [{ keyId: 0, kwkId: root.id, wrapped: wrapKey(root.key, joinRekeyKeymat(g.kek.keys)) }] },
        ...live.map((t) => this.tekBag(t, gskW)),
      ],
      wrapKeys: g.tree.pathWraps(rec.leaf).map((op) => this.wrap(op, gskW)),
      authKey: ed25519Spki(this.publicKey),
      senderIds: rec.senderIds,
    });
    return [gsaPayload(buildGsa(view)), kdPayload(kd)];
  }
}

function equalSpi(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
