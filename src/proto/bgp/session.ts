// One BGP peer session (RFC 4271 §8) as a sans-IO machine over abstract byte-stream connections: the
// FSM of fsm.ts, OPEN negotiation, timers, collision detection, errors answered per RFC 4271 §6 / RFC 7606. Never touches TCP, a clock or a RIB.
//
// Contract (DESIGN.md): `handle(input, nowUs)` takes one input at virtual time `nowUs` (timers that
// are due fire first, whatever the input), `poll()` hands back outputs in order, `nextDeadlineUs()`
// says when to call `handle({ kind: 'timer' }, t)`. Bytes from the peer never throw: every fault is a
// NOTIFICATION and a reset, or an UPDATE handed up with its RFC 7606 outcome.
//
// Transport contract (the node glue maps it onto TCP port 179):
// - `{ kind: 'connect', connId }` asks for an active connection; the session names it, and the glue
//   reports `transport-connected` or `transport-failed` with that same id. Any other id in
//   `transport-connected` is a connection the peer opened to us (passive side).
// - `{ kind: 'send' }` bytes go out in order; `{ kind: 'close' }` closes after what was sent (a FIN,
//   so a NOTIFICATION just sent still arrives). `transport-closed` / `-failed` is RFC 4271 Event 18.
// - Stream chunks arrive in `bytes` in any split; framing uses `messageLength` (RFC 4271 §4.1).

import type { Rng } from '../../lib/rng.ts';
import { assert } from '../../lib/errors.ts';
import { concat } from '../../lib/bytes.ts';
import type { CodecContext } from './attributes.ts';
import { AS2_CONTEXT, AS4_CONTEXT } from './attributes.ts';
import type { Capability } from './capabilities.ts';
import { announcedFamilies, multiprotocol } from './capabilities.ts';
import type { BgpDecodeError } from './errors.ts';
import { CEASE, ERROR_CODE, OPEN_MESSAGE_ERROR, UNSPECIFIC, errorName, sessionReset } from './errors.ts';
import type { Decoded, NotificationMessage, OpenMessage, RouteRefreshMessage, UpdateMessage } from './message.ts';
import {
  KEEPALIVE,
  MAX_MESSAGE_LENGTH,
  MESSAGE_TYPE,
  checkOpen,
  decodeMessage,
  encodeMessage,
  messageLength,
  notificationFor,
  openCapabilities,
  openMessage,
} from './message.ts';
import type { Family } from './nlri.ts';
import { FAMILY_AFI_SAFI, familyOf } from './nlri.ts';
import type { BaseState, BgpAction, BgpEvent, BgpState, ConnectionState, Direction, DownReason, Fault } from './fsm.ts';
import {
  MANUAL_STOP_SUBCODES,
  PEER_ACTIONS,
  collisionSurvivor,
  downReasonOf,
  errorEvent,
  eventLabel,
  faultOf,
  fsmErrorSubcode,
  isBaseState,
  isVersionError,
  stateRank,
  transition,
} from './fsm.ts';

export type { BgpState, DownReason, Fault } from './fsm.ts';

// --- Limits and defaults. ---

/** RFC 4271 §10: suggested Hold Time. */
export const DEFAULT_HOLD_TIME_S = 90;
/** RFC 4271 §10: suggested ConnectRetryTime. */
export const DEFAULT_CONNECT_RETRY_TIME_S = 120;
/** RFC 4271 §8.2.2 OpenSent: "a large value ... A HoldTimer value of 4 minutes is suggested". */
export const DEFAULT_OPEN_HOLD_TIME_S = 240;
/** IdleHoldTime before an automatic start (RFC 4271 §8.1.1, no suggested value) and its damping cap. */
export const DEFAULT_IDLE_HOLD_TIME_S = 5;
export const DEFAULT_IDLE_HOLD_TIME_MAX_S = 120;
/** One connection we initiated and one the peer did: all that collision detection needs (§6.8). */
export const MAX_CONNECTIONS = 2;
/** Outputs held before the caller polls; reaching it is the caller's bug (it forgot to poll). */
export const MAX_PENDING_OUTPUTS = 1 << 16;
/** Timer firings in one `handle`; more is a bug (a timer that does not move forward). */
const MAX_TIMER_FIRINGS = 64;
const US_PER_S = 1_000_000;

// --- Configuration. ---

export interface BgpSessionConfig {
  /** Names the session in logs and in the ids of its active connections (unique per node). */
  name?: string;
  localAs: number;
  /** Our BGP Identifier (RFC 6286 §2.1: non-zero). */
  bgpIdentifier: number;
  /** The AS the peer must announce (RFC 4271 §6.2 Bad Peer AS otherwise). */
  peerAs: number;
  /** Proposed Hold Time: 0 or 3..65535 s (RFC 4271 §4.2, §6.2). Default 90. Keepalive = a third. */
  holdTimeS?: number;
  /** A peer's non-zero Hold Time below this is unacceptable (§6.2 "MAY reject any proposed Hold Time"). Default 3. */
  minHoldTimeS?: number;
  /** ConnectRetryTime (§8.1.1). Default 120 s; small values are fine for tests. */
  connectRetryTimeS?: number;
  /** Hold Timer while waiting for the peer's OPEN (§8.2.2 OpenSent). Default 240 s. */
  openHoldTimeS?: number;
  /** Never initiate a connection: wait in Active for the peer's (BIRD/FRR `passive`). Default false. */
  passive?: boolean;
  /** Address families offered in Multiprotocol capabilities (RFC 4760 §8). Default IPv4 unicast. */
  families?: readonly Family[];
  /** Offer the Route Refresh capability (RFC 2918 §2). Default true. */
  routeRefresh?: boolean;
  /** Offer the 4-octet AS capability (RFC 6793 §3). Default true; required for a local AS above 65535. */
  fourOctetAs?: boolean;
  /** Capabilities the peer must offer (RFC 5492 §3 Unsupported Capability otherwise). */
  requiredCapabilities?: readonly Capability[];
  /** After an error, start again by itself after the IdleHoldTimer (§8.1.1 AutomaticStart). Default true. */
  automaticRestart?: boolean;
  /** First IdleHoldTime; it doubles at each failure up to the max until the session is Established (DampPeerOscillations). */
  idleHoldTimeS?: number;
  idleHoldTimeMaxS?: number;
  /** Jitter for ConnectRetry and Keepalive timers, factor 0.75..1 (RFC 4271 §10). None without it. */
  rng?: Rng;
}

type ResolvedConfig = Required<Omit<BgpSessionConfig, 'rng'>> & { rng: Rng | undefined };

/** Why a configuration is unusable, or undefined when it is fine. */
export function checkSessionConfig(c: BgpSessionConfig): string | undefined {
  const u32 = (v: number): boolean => Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
  const seconds = (v: number | undefined, min: number): boolean => v === undefined || (Number.isInteger(v) && v >= min && v <= 0xffff);
  if (!u32(c.localAs) || c.localAs === 0) return `localAs ${c.localAs}: 1..4294967295`;
  if (!u32(c.peerAs) || c.peerAs === 0) return `peerAs ${c.peerAs}: 1..4294967295`;
  if (!u32(c.bgpIdentifier) || c.bgpIdentifier === 0) return `bgpIdentifier ${c.bgpIdentifier}: non-zero 32-bit (RFC 6286 §2.1)`;
  // RFC 4271 §4.2: "MUST be either zero or at least three seconds".
  if (c.holdTimeS !== undefined && !(seconds(c.holdTimeS, 0) && (c.holdTimeS === 0 || c.holdTimeS >= 3))) return `holdTimeS ${c.holdTimeS}: 0 or 3..65535 (RFC 4271 §4.2)`;
  if (!seconds(c.minHoldTimeS, 3)) return `minHoldTimeS ${c.minHoldTimeS}: 3..65535`;
  if (!seconds(c.connectRetryTimeS, 1)) return `connectRetryTimeS ${c.connectRetryTimeS}: 1..65535`;
  if (!seconds(c.openHoldTimeS, 3)) return `openHoldTimeS ${c.openHoldTimeS}: 3..65535`;
  if (!seconds(c.idleHoldTimeS, 0)) return `idleHoldTimeS ${c.idleHoldTimeS}: 0..65535`;
  if (!seconds(c.idleHoldTimeMaxS, 0)) return `idleHoldTimeMaxS ${c.idleHoldTimeMaxS}: 0..65535`;
  if (c.families !== undefined && c.families.length === 0) return 'families: at least one';
  // RFC 6793 §4.2.1: an OLD speaker has a 2-octet AS.
  if (c.fourOctetAs === false && c.localAs > 0xffff) return `localAs ${c.localAs} needs the 4-octet AS capability`;
  return undefined;
}

function resolveConfig(c: BgpSessionConfig): ResolvedConfig {
  const problem = checkSessionConfig(c);
  if (problem !== undefined) throw new RangeError(`BgpSession config: ${problem}`);
  const idleHoldTimeS = c.idleHoldTimeS ?? DEFAULT_IDLE_HOLD_TIME_S;
  return {
    name: c.name ?? 'bgp',
    localAs: c.localAs,
    bgpIdentifier: c.bgpIdentifier >>> 0,
    peerAs: c.peerAs,
    holdTimeS: c.holdTimeS ?? DEFAULT_HOLD_TIME_S,
    minHoldTimeS: c.minHoldTimeS ?? 3,
    connectRetryTimeS: c.connectRetryTimeS ?? DEFAULT_CONNECT_RETRY_TIME_S,
    openHoldTimeS: c.openHoldTimeS ?? DEFAULT_OPEN_HOLD_TIME_S,
    passive: c.passive ?? false,
    families: [...new Set<Family>(c.families ?? ['ipv4-unicast'])],
    routeRefresh: c.routeRefresh ?? true,
    fourOctetAs: c.fourOctetAs ?? true,
    requiredCapabilities: [...(c.requiredCapabilities ?? [])],
    automaticRestart: c.automaticRestart ?? true,
    idleHoldTimeS,
    idleHoldTimeMaxS: Math.max(idleHoldTimeS, c.idleHoldTimeMaxS ?? DEFAULT_IDLE_HOLD_TIME_MAX_S),
    rng: c.rng,
  };
}

// --- Inputs and outputs. ---

export type ConnId = string;

export type BgpSessionInput =
  /** ManualStart (Event 1), or Event 4 when configured passive. */
  | { kind: 'start' }
  /** ManualStop (Event 2): Cease with `subcode` (default Administrative Shutdown, RFC 4486 §4) and an RFC 9003 shutdown communication. */
  | { kind: 'stop'; subcode?: number; communication?: string }
  | { kind: 'transport-connected'; connId: ConnId }
  | { kind: 'transport-failed'; connId: ConnId }
  | { kind: 'transport-closed'; connId: ConnId }
  | { kind: 'bytes'; connId: ConnId; bytes: Uint8Array }
  | { kind: 'timer' }
  /** From the RIB: one UPDATE, as a message or as the exact bytes of one (e.g. from `packUpdates`). */
  | { kind: 'send-update'; message: UpdateMessage; bytes?: undefined }
  | { kind: 'send-update'; bytes: Uint8Array; message?: undefined }
  /** From the RIB: ask the peer to resend a family (RFC 2918 §3). */
  | { kind: 'route-refresh'; afi: number; safi: number };

/** What OPEN negotiation settled (RFC 4271 §4.2, RFC 5492, RFC 4760 §8, RFC 6793, RFC 2918). */
export interface PeerInfo {
  /** The peer's AS: from the 4-octet AS capability when both speak it (RFC 6793 §4.1). */
  asNumber: number;
  bgpIdentifier: number;
  /** Negotiated: the smaller of ours and the peer's (RFC 4271 §4.2). 0 = no Hold or Keepalive timers. */
  holdTimeS: number;
  /** A third of the Hold Time (RFC 4271 §10), whole seconds. */
  keepaliveTimeS: number;
  /** What the peer proposed. */
  peerHoldTimeS: number;
  /** Every capability the peer sent, in order. */
  capabilities: Capability[];
  /** Both sent the 4-octet AS capability: AS_PATH and AGGREGATOR carry 4-octet ASes (RFC 6793 §3). */
  as4: boolean;
  /** Families both offered (RFC 4760 §8); a peer with no Multiprotocol capability speaks IPv4 unicast only. */
  families: Family[];
  /** Both offered Route Refresh (RFC 2918 §2). */
  routeRefresh: boolean;
  /** Same AS: an internal (iBGP) session (RFC 4271 §8.2.2 OpenSent). */
  internal: boolean;
}

export interface NotificationRecord {
  direction: 'sent' | 'received';
  errorCode: number;
  errorSubcode: number;
  data: Uint8Array;
  /** Catalog name, e.g. `OPEN_MESSAGE_ERROR/BAD_PEER_AS` (or the numbers when unknown). */
  name: string;
}

export type BgpSessionOutput =
  /** Open an active transport connection to the peer, reported back under `connId`. */
  | { kind: 'connect'; connId: ConnId }
  | { kind: 'send'; connId: ConnId; bytes: Uint8Array }
  /** Close the connection after what was sent on it (refusing it if it is new). */
  | { kind: 'close'; connId: ConnId }
  /** The peer's FSM state changed (for the UI). */
  | { kind: 'state'; from: BgpState; to: BgpState }
  | { kind: 'established'; connId: ConnId; peer: PeerInfo }
  /**
   * A decoded UPDATE with its RFC 7606 outcome. `treatAsWithdraw`: every NLRI in it (NLRI field and
   * MP_REACH_NLRI) is to be handled as withdrawn (§2). Attributes that were discarded are already
   * gone from `message`; MP attributes of disabled families are stripped. `error` is the strongest.
   */
  | { kind: 'update'; message: UpdateMessage; treatAsWithdraw: boolean; error: BgpDecodeError | undefined; errors: BgpDecodeError[] }
  /** The peer asks us to resend the Adj-RIB-Out of a family (RFC 2918 §4). */
  | { kind: 'route-refresh'; afi: number; safi: number; family: Family }
  /** RFC 7606 §5.3 / RFC 4760 §7 AFI/SAFI disable: drop every route of the family from this peer; later ones are stripped here. */
  | { kind: 'family-disabled'; afi: number; safi: number; family: Family | undefined; error: BgpDecodeError }
  /**
   * The session left Established (`wasEstablished`, the RIB withdraws what the peer sent) or fell
   * back from OpenSent/OpenConfirm to Idle/Active. `fault` says whose side caused it.
   */
  | { kind: 'down'; reason: DownReason; fault: Fault; wasEstablished: boolean; notification: NotificationRecord | undefined; text: string }
  | { kind: 'log'; text: string };

// --- Counters and snapshot. ---

export interface BgpSessionStats {
  /** By message type name: OPEN, UPDATE, NOTIFICATION, KEEPALIVE, ROUTE-REFRESH. */
  messagesSent: Record<string, number>;
  messagesReceived: Record<string, number>;
  updatesHandedUp: number;
  updatesTreatedAsWithdraw: number;
  attributesDiscarded: number;
  familiesDisabled: number;
  connectAttempts: number;
  connectionsRefused: number;
  collisions: number;
  /** Times the session reached Established. */
  establishedTransitions: number;
  /** `send-update` / `route-refresh` requests dropped because the session was not Established or the capability was missing. */
  requestsDropped: number;
  /** Inputs for connections we no longer track (late bytes after a close). */
  staleInputs: number;
}

export interface BgpConnectionSnapshot {
  connId: ConnId;
  direction: Direction;
  state: ConnectionState;
  holdDeadlineUs: number | undefined;
  keepaliveDeadlineUs: number | undefined;
}

export interface BgpSessionSnapshot {
  name: string;
  state: BgpState;
  connections: BgpConnectionSnapshot[];
  pendingConnId: ConnId | undefined;
  peer: PeerInfo | undefined;
  connectRetryCounter: number;
  connectRetryDeadlineUs: number | undefined;
  idleHoldDeadlineUs: number | undefined;
  stats: BgpSessionStats;
}

// --- Internals. ---

interface Conn {
  readonly id: ConnId;
  readonly direction: Direction;
  state: ConnectionState;
  closed: boolean;
  /** Bytes of an incomplete message (< 4096 by construction). */
  rx: Uint8Array;
  ctx: CodecContext;
  peer: PeerInfo | undefined;
  holdTimeUs: number;
  keepaliveTimeUs: number;
  holdDeadlineUs: number | undefined;
  keepaliveDeadlineUs: number | undefined;
  /** AFI/SAFI disabled on this connection (key afi << 8 | safi). */
  disabled: Set<number>;
}

/** What one event carries into its actions, and what they leave for the report. */
interface EventContext {
  newConn?: { id: ConnId; direction: Direction };
  error?: BgpDecodeError;
  received?: NotificationMessage;
  update?: Decoded;
  routeRefresh?: RouteRefreshMessage;
  ceaseSubcode?: number;
  ceaseData?: Uint8Array;
  // Filled in by `fire`.
  event?: BgpEvent;
  rfc?: string;
  sent?: NotificationMessage;
}

const EMPTY = new Uint8Array(0);
const KEEPALIVE_BYTES = encodeMessage(KEEPALIVE, AS4_CONTEXT);
const TYPE_NAMES: Record<number, string> = { 1: 'OPEN', 2: 'UPDATE', 3: 'NOTIFICATION', 4: 'KEEPALIVE', 5: 'ROUTE-REFRESH' };
/** The earlier of two optional deadlines. */
function earlier(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined || a <= b ? a : b;
}

type TimerName = 'idle-hold' | 'connect-retry' | 'hold' | 'keepalive';
interface Due {
  atUs: number;
  timer: TimerName;
  conn: Conn | undefined;
}

/** The earliest timer due at `nowUs`; on a tie the one considered first keeps it. */
function considerTimer(due: Due | undefined, nowUs: number, atUs: number | undefined, timer: TimerName, conn: Conn | undefined): Due | undefined {
  return atUs !== undefined && atUs <= nowUs && (due === undefined || atUs < due.atUs) ? { atUs, timer, conn } : due;
}

const familyKey = (afi: number, safi: number): number => ((afi & 0xffff) << 8) | (safi & 0xff);

function formatId(id: number): string {
  return [id >>> 24, (id >>> 16) & 0xff, (id >>> 8) & 0xff, id & 0xff].join('.');
}

function notificationName(n: { errorCode: number; errorSubcode: number }): string {
  return errorName(n.errorCode, n.errorSubcode) ?? `${n.errorCode}/${n.errorSubcode}`;
}

/** RFC 9003 §2: Shutdown Communication, a length octet and up to 255 octets of UTF-8 (cut at a character boundary). */
function shutdownCommunication(text: string): Uint8Array {
  const utf8 = new TextEncoder().encode(text);
  let n = Math.min(utf8.length, 255);
  while (n > 0 && n < utf8.length && (utf8[n]! & 0xc0) === 0x80) n--;
  return concat(Uint8Array.of(n), utf8.subarray(0, n));
}

function readShutdownCommunication(n: NotificationMessage): string | undefined {
  if (n.errorCode !== ERROR_CODE.CEASE) return undefined;
  if (n.errorSubcode !== CEASE.ADMINISTRATIVE_SHUTDOWN && n.errorSubcode !== CEASE.ADMINISTRATIVE_RESET) return undefined;
  const len = n.data[0];
  if (len === undefined || len === 0 || len > n.data.length - 1) return undefined;
  return new TextDecoder('utf-8', { fatal: false }).decode(n.data.subarray(1, 1 + len));
}

/** The UPDATE without MP attributes (and, for IPv4 unicast, NLRI fields) of disabled families. */
function stripDisabled(u: UpdateMessage, disabled: ReadonlySet<number>): { message: UpdateMessage; removed: boolean } {
  if (disabled.size === 0) return { message: u, removed: false };
  let removed = false;
  const pathAttributes = u.pathAttributes.filter((a) => {
    if (a.type !== 'MP_REACH_NLRI' && a.type !== 'MP_UNREACH_NLRI') return true;
    const { afi, safi } = a.value.family === 'other' ? a.value : FAMILY_AFI_SAFI[a.value.family];
    if (!disabled.has(familyKey(afi, safi))) return true;
    removed = true;
    return false;
  });
  const ipv4 = FAMILY_AFI_SAFI['ipv4-unicast'];
  const dropIpv4 = disabled.has(familyKey(ipv4.afi, ipv4.safi)) && (u.withdrawnRoutes.length > 0 || u.nlri.length > 0);
  if (dropIpv4) removed = true;
  if (!removed) return { message: u, removed };
  return { message: { type: 'UPDATE', withdrawnRoutes: dropIpv4 ? [] : u.withdrawnRoutes, pathAttributes, nlri: dropIpv4 ? [] : u.nlri }, removed };
}

const isEmptyUpdate = (u: UpdateMessage): boolean =>
  u.withdrawnRoutes.length === 0 && u.nlri.length === 0 && !u.pathAttributes.some((a) => a.type === 'MP_REACH_NLRI' || a.type === 'MP_UNREACH_NLRI');

// --- The session. ---

export class BgpSession {
  readonly config: Readonly<ResolvedConfig>;
  readonly stats: BgpSessionStats = {
    messagesSent: { OPEN: 0, UPDATE: 0, NOTIFICATION: 0, KEEPALIVE: 0, 'ROUTE-REFRESH': 0 },
    messagesReceived: { OPEN: 0, UPDATE: 0, NOTIFICATION: 0, KEEPALIVE: 0, 'ROUTE-REFRESH': 0 },
    updatesHandedUp: 0,
    updatesTreatedAsWithdraw: 0,
    attributesDiscarded: 0,
    familiesDisabled: 0,
    connectAttempts: 0,
    connectionsRefused: 0,
    collisions: 0,
    establishedTransitions: 0,
    requestsDropped: 0,
    staleInputs: 0,
  };

  private base: BaseState = 'Idle';
  private readonly conns: Conn[] = [];
  private pendingConnId: ConnId | undefined;
  private activeSerial = 0;
  private readonly activePrefix: string;
  private connectRetryDeadlineUs: number | undefined;
  private idleHoldDeadlineUs: number | undefined;
  private idleHoldUs: number;
  private connectRetryCounterN = 0;
  /** ManualStop was the last operator command: no automatic start. */
  private manuallyStopped = true;
  private nowUs = 0;
  /** The state last reported in a `state` output. */
  private reported: BgpState = 'Idle';
  private readonly openBytes: Uint8Array;
  private readonly out: (BgpSessionOutput | undefined)[] = [];
  private outHead = 0;

  constructor(config: BgpSessionConfig) {
    this.config = resolveConfig(config);
    this.activePrefix = `${this.config.name}/active#`;
    this.idleHoldUs = this.config.idleHoldTimeS * US_PER_S;
    this.openBytes = encodeMessage(openMessage({ asNumber: this.config.localAs, holdTimeS: this.config.holdTimeS, bgpIdentifier: this.config.bgpIdentifier, capabilities: this.localCapabilities() }), AS4_CONTEXT);
  }

  /** What our OPEN offers (RFC 5492 §4, one Capabilities parameter). */
  localCapabilities(): Capability[] {
    const caps: Capability[] = this.config.families.map(multiprotocol);
    if (this.config.routeRefresh) caps.push({ type: 'ROUTE_REFRESH' });
    if (this.config.fourOctetAs) caps.push({ type: 'FOUR_OCTET_AS', asNumber: this.config.localAs });
    return caps;
  }

  /** The peer's FSM state: that of its most advanced connection, else Idle, Connect or Active. */
  get state(): BgpState {
    let best: BgpState = this.base;
    for (const c of this.conns) if (stateRank(c.state) > stateRank(best)) best = c.state;
    return best;
  }

  /** What was negotiated on the Established connection. */
  get peer(): PeerInfo | undefined {
    return this.conns.find((c) => c.state === 'Established')?.peer;
  }

  get connectRetryCounter(): number {
    return this.connectRetryCounterN;
  }

  snapshot(): BgpSessionSnapshot {
    return {
      name: this.config.name,
      state: this.state,
      connections: this.conns.map((c) => ({ connId: c.id, direction: c.direction, state: c.state, holdDeadlineUs: c.holdDeadlineUs, keepaliveDeadlineUs: c.keepaliveDeadlineUs })),
      pendingConnId: this.pendingConnId,
      peer: this.peer,
      connectRetryCounter: this.connectRetryCounterN,
      connectRetryDeadlineUs: this.connectRetryDeadlineUs,
      idleHoldDeadlineUs: this.idleHoldDeadlineUs,
      stats: structuredClone(this.stats),
    };
  }

  // --- The sans-IO contract. ---

  handle(input: BgpSessionInput, nowUs: number): void {
    assert(Number.isSafeInteger(nowUs) && nowUs >= this.nowUs, `BgpSession.handle: time ${nowUs} before ${this.nowUs}`);
    this.nowUs = nowUs;
    this.runTimers();
    switch (input.kind) {
      case 'start':
        this.manuallyStopped = false;
        this.peerEvent(this.config.passive ? 'ManualStart_with_PassiveTcpEstablishment' : 'ManualStart', {});
        return;
      case 'stop':
        this.stop(input.subcode, input.communication);
        return;
      case 'transport-connected':
        this.onConnected(input.connId);
        return;
      case 'transport-failed':
      case 'transport-closed':
        this.onTransportDown(input.connId, input.kind);
        return;
      case 'bytes': {
        const conn = this.find(input.connId);
        if (conn) this.receiveBytes(conn, input.bytes);
        else this.stats.staleInputs++;
        return;
      }
      case 'timer':
        return;
      case 'send-update':
        this.sendUpdate(input);
        return;
      case 'route-refresh':
        this.requestRouteRefresh(input.afi, input.safi);
        return;
    }
  }

  poll(): BgpSessionOutput | undefined {
    if (this.outHead >= this.out.length) {
      if (this.out.length) this.out.length = this.outHead = 0;
      return undefined;
    }
    const o = this.out[this.outHead];
    this.out[this.outHead++] = undefined; // let the consumer own it
    return o;
  }

  nextDeadlineUs(): number | undefined {
    // Hot (asked after every input): no closure per call.
    let d = earlier(this.idleHoldDeadlineUs, this.connectRetryDeadlineUs);
    for (const c of this.conns) d = earlier(d, earlier(c.holdDeadlineUs, c.keepaliveDeadlineUs));
    return d;
  }

  // --- Inputs. ---

  private stop(subcode: number | undefined, communication: string | undefined): void {
    this.manuallyStopped = true;
    let ceaseSubcode = subcode ?? CEASE.ADMINISTRATIVE_SHUTDOWN;
    if (!MANUAL_STOP_SUBCODES.includes(ceaseSubcode)) {
      this.log(`stop: Cease subcode ${ceaseSubcode} is not one an operator sends (RFC 4486 §4); using Administrative Shutdown`);
      ceaseSubcode = CEASE.ADMINISTRATIVE_SHUTDOWN;
    }
    // RFC 9003 §2: only Administrative Shutdown and Reset carry a Shutdown Communication.
    const withText = communication !== undefined && (ceaseSubcode === CEASE.ADMINISTRATIVE_SHUTDOWN || ceaseSubcode === CEASE.ADMINISTRATIVE_RESET);
    const ctx: EventContext = { ceaseSubcode, ceaseData: withText ? shutdownCommunication(communication) : EMPTY };
    if (this.conns.length === 0) {
      this.peerEvent('ManualStop', ctx);
      return;
    }
    // ManualStop reaches every connection; the peer actions run with the last one.
    for (const conn of [...this.conns]) this.fire('ManualStop', conn, ctx);
    this.settle(ctx);
  }

  private onConnected(connId: ConnId): void {
    if (this.find(connId)) {
      this.log(`transport-connected for ${connId}, already connected: ignored`);
      return;
    }
    const ours = connId.startsWith(this.activePrefix);
    if (ours && connId !== this.pendingConnId) {
      // An attempt we abandoned (ConnectRetryTimer expired, or we stopped) that completed late.
      this.emit({ kind: 'close', connId });
      this.stats.staleInputs++;
      return;
    }
    if (ours) this.pendingConnId = undefined;
    if (this.conns.length >= MAX_CONNECTIONS) {
      this.log(`refusing ${connId}: already ${this.conns.length} connections (RFC 4271 §6.8 needs two)`);
      this.emit({ kind: 'close', connId });
      this.stats.connectionsRefused++;
      return;
    }
    this.peerEvent(ours ? 'Tcp_CR_Acked' : 'TcpConnectionConfirmed', { newConn: { id: connId, direction: ours ? 'active' : 'passive' } });
  }

  private onTransportDown(connId: ConnId, kind: 'transport-failed' | 'transport-closed'): void {
    if (connId === this.pendingConnId) {
      this.pendingConnId = undefined;
      this.log(`active connection ${connId}: ${kind}`);
      // With a connection already carrying OPEN, a failed second attempt changes nothing.
      if (this.conns.length === 0) this.peerEvent('TcpConnectionFails', {});
      return;
    }
    const conn = this.find(connId);
    if (!conn) {
      this.stats.staleInputs++;
      return;
    }
    this.log(`${connId}: ${kind}`);
    this.connEvent('TcpConnectionFails', conn, {});
  }

  private sendUpdate(input: Extract<BgpSessionInput, { kind: 'send-update' }>): void {
    const conn = this.conns.find((c) => c.state === 'Established');
    if (!conn) {
      // The RIB may race a session that just went down: drop, count, say so.
      this.stats.requestsDropped++;
      this.log(`send-update in ${this.state}: dropped (UPDATEs go out only in Established, RFC 4271 §8.2.2)`);
      return;
    }
    let bytes: Uint8Array;
    if (input.message !== undefined) {
      bytes = encodeMessage(input.message, conn.ctx);
    } else {
      bytes = input.bytes;
      const framed = messageLength(bytes);
      assert(framed.ok && framed.value === bytes.length && bytes[18] === MESSAGE_TYPE.UPDATE, 'send-update: bytes must be exactly one UPDATE message');
    }
    this.send(conn, bytes, MESSAGE_TYPE.UPDATE);
    // RFC 4271 §8.2.2 Established: sending an UPDATE restarts the KeepaliveTimer.
    this.act('restartKeepaliveTimer', conn, {}, conn.state);
  }

  private requestRouteRefresh(afi: number, safi: number): void {
    const conn = this.conns.find((c) => c.state === 'Established');
    const peer = conn?.peer;
    // RFC 2918 §3: only to a peer that sent the capability, for an AFI/SAFI the peer advertised.
    const family = familyOf(afi, safi);
    const why = !conn || !peer
      ? `not Established (${this.state})`
      : !peer.routeRefresh
        ? 'Route Refresh capability not negotiated (RFC 2918 §3)'
        : family === undefined || !peer.families.includes(family)
          ? `AFI ${afi} / SAFI ${safi} not negotiated (RFC 2918 §3)`
          : undefined;
    if (why !== undefined || !conn) {
      this.stats.requestsDropped++;
      this.log(`route-refresh AFI ${afi} / SAFI ${safi}: dropped, ${why}`);
      return;
    }
    this.send(conn, encodeMessage({ type: 'ROUTE-REFRESH', afi, reserved: 0, safi }, conn.ctx), MESSAGE_TYPE.ROUTE_REFRESH);
  }

  // --- Timers (RFC 4271 §10). ---

  private runTimers(): void {
    for (let i = 0; i < MAX_TIMER_FIRINGS; i++) {
      // Earliest first; on a tie the peer timers, then per connection Hold before Keepalive.
      let due: Due | undefined;
      due = considerTimer(due, this.nowUs, this.idleHoldDeadlineUs, 'idle-hold', undefined);
      due = considerTimer(due, this.nowUs, this.connectRetryDeadlineUs, 'connect-retry', undefined);
      for (const c of this.conns) {
        due = considerTimer(due, this.nowUs, c.holdDeadlineUs, 'hold', c);
        due = considerTimer(due, this.nowUs, c.keepaliveDeadlineUs, 'keepalive', c);
      }
      const d = due;
      if (d === undefined) return;
      switch (d.timer) {
        case 'idle-hold':
          this.idleHoldDeadlineUs = undefined;
          // §8.1.1 IdleHoldTimer expiry: an AutomaticStart (Event 3, or 5 when passive).
          this.peerEvent(this.config.passive ? 'AutomaticStart_with_PassiveTcpEstablishment' : 'AutomaticStart', {});
          break;
        case 'connect-retry':
          this.connectRetryDeadlineUs = undefined;
          this.peerEvent('ConnectRetryTimer_Expires', {});
          break;
        case 'hold':
          d.conn!.holdDeadlineUs = undefined;
          this.connEvent('HoldTimer_Expires', d.conn!, {});
          break;
        case 'keepalive':
          d.conn!.keepaliveDeadlineUs = undefined;
          this.connEvent('KeepaliveTimer_Expires', d.conn!, {});
          break;
      }
    }
    assert(false, `BgpSession: more than ${MAX_TIMER_FIRINGS} timer firings at ${this.nowUs} µs`);
  }

  /** RFC 4271 §10: jitter "a random factor uniformly distributed in the range from 0.75 to 1.0". */
  private jitter(us: number): number {
    const rng = this.config.rng;
    return rng ? Math.floor(us * (0.75 + 0.25 * rng.nextFloat())) : us;
  }

  // --- Receiving (RFC 4271 §4.1 framing, §6 errors). ---

  private receiveBytes(conn: Conn, bytes: Uint8Array): void {
    const buf = conn.rx.length ? concat(conn.rx, bytes) : bytes;
    let off = 0;
    while (!conn.closed) {
      const rest = buf.subarray(off);
      const framed = messageLength(rest);
      if (!framed.ok) {
        // RFC 4271 §6.1: Message Header Error (bad marker, length or type).
        this.connEvent('BGPHeaderErr', conn, { error: framed.error });
        return;
      }
      const length = framed.value;
      if (length === undefined || rest.length < length) break;
      off += length;
      this.receiveMessage(conn, rest.subarray(0, length));
    }
    if (conn.closed) return;
    // A copy: the caller may reuse its buffer. Less than one message by construction.
    conn.rx = buf.slice(off);
    assert(conn.rx.length < MAX_MESSAGE_LENGTH, 'BgpSession: receive buffer holds a whole message');
  }

  private receiveMessage(conn: Conn, bytes: Uint8Array): void {
    const typeName = TYPE_NAMES[bytes[18]!];
    if (typeName !== undefined) this.stats.messagesReceived[typeName] = (this.stats.messagesReceived[typeName] ?? 0) + 1;
    if (bytes[18] === MESSAGE_TYPE.OPEN && conn.state !== 'OpenSent') {
      // An OPEN after OpenSent is unexpected whatever its content (RFC 6608 §3): not worth decoding.
      this.connEvent('BGPOpen', conn, {});
      return;
    }
    const decoded = decodeMessage(bytes, conn.ctx);
    if (!decoded.ok) {
      this.connEvent(errorEvent(decoded.error.errorCode), conn, { error: decoded.error });
      return;
    }
    const m = decoded.value.message;
    switch (m.type) {
      case 'OPEN':
        this.receiveOpen(conn, m);
        return;
      case 'UPDATE':
        this.connEvent('UpdateMsg', conn, { update: decoded.value });
        return;
      case 'NOTIFICATION': {
        const text = readShutdownCommunication(m);
        this.log(`${conn.id}: received NOTIFICATION ${notificationName(m)}${text !== undefined ? ` "${text}"` : ''}`);
        this.connEvent(isVersionError(m.errorCode, m.errorSubcode) ? 'NotifMsgVerErr' : 'NotifMsg', conn, { received: m });
        return;
      }
      case 'KEEPALIVE':
        this.connEvent('KeepAliveMsg', conn, {});
        return;
      case 'ROUTE-REFRESH':
        this.connEvent('RouteRefreshMsg', conn, { routeRefresh: m });
        return;
    }
  }

  /** An OPEN in OpenSent: local checks (§6.2), collision detection (§6.8), then Event 19. */
  private receiveOpen(conn: Conn, open: OpenMessage): void {
    const problem = this.checkPeerOpen(open);
    if (problem) {
      this.connEvent('BGPOpenMsgErr', conn, { error: problem });
      return;
    }
    const peer = this.negotiate(open);
    // §6.8: "Upon receipt of an OPEN message, the local system MUST examine all of its connections
    // that are in the OpenConfirm state" (and Established: "a connection collision with an existing
    // BGP connection that is in the Established state causes closing of the newly created connection").
    const other = this.conns.find((c) => c !== conn && (c.state === 'OpenConfirm' || c.state === 'Established'));
    if (other) {
      this.stats.collisions++;
      const loser = this.collisionLoser(conn, other, peer);
      this.log(`collision between ${conn.id} (${conn.direction}) and ${other.id} (${other.direction}, ${other.state}): closing ${loser.id} (RFC 4271 §6.8)`);
      const dump: EventContext = {};
      this.fire('OpenCollisionDump', loser, dump);
      if (loser === conn) {
        this.settle(dump);
        return;
      }
    }
    conn.peer = peer;
    conn.ctx = peer.as4 ? AS4_CONTEXT : AS2_CONTEXT;
    // Reported once with the dump above: the peer goes OpenConfirm → OpenConfirm, not through OpenSent.
    this.connEvent('BGPOpen', conn, {});
  }

  private collisionLoser(incoming: Conn, existing: Conn, peer: PeerInfo): Conn {
    if (existing.state === 'Established') return incoming;
    if (incoming.direction !== existing.direction) {
      const survivor = collisionSurvivor({ bgpIdentifier: this.config.bgpIdentifier, asNumber: this.config.localAs }, { bgpIdentifier: peer.bgpIdentifier, asNumber: peer.asNumber });
      return incoming.direction === survivor ? existing : incoming;
    }
    // Two connections of one direction (a misbehaving glue or peer): §6.8 steps 2-3 to the letter.
    return this.config.bgpIdentifier >>> 0 < peer.bgpIdentifier >>> 0 ? existing : incoming;
  }

  /** The OPEN Message Error a peer's OPEN calls for under our configuration (RFC 4271 §6.2), if any. */
  private checkPeerOpen(open: OpenMessage): BgpDecodeError | undefined {
    const caps = openCapabilities(open);
    const as4Cap = this.config.fourOctetAs ? caps.find((c) => c.type === 'FOUR_OCTET_AS') : undefined;
    const peerAs = as4Cap ? as4Cap.asNumber : open.myAutonomousSystem;
    if (peerAs !== this.config.peerAs) {
      // RFC 4271 §6.2 Bad Peer AS. The RFC names no Data; like FRR and Cisco we send the AS the peer
      // announced: the My Autonomous System field, or the 4-octet AS capability's value (RFC 6793).
      const data = as4Cap
        ? Uint8Array.of(peerAs >>> 24, (peerAs >>> 16) & 0xff, (peerAs >>> 8) & 0xff, peerAs & 0xff)
        : Uint8Array.of(open.myAutonomousSystem >>> 8, open.myAutonomousSystem & 0xff);
      return sessionReset(ERROR_CODE.OPEN_MESSAGE_ERROR, OPEN_MESSAGE_ERROR.BAD_PEER_AS, 'open.myAutonomousSystem', `peer AS ${peerAs}, expected ${this.config.peerAs}`, data);
    }
    // RFC 4271 §6.2: "An implementation MAY reject any proposed Hold Time" (1 and 2 the codec rejects).
    if (open.holdTimeS !== 0 && open.holdTimeS < this.config.minHoldTimeS) {
      return sessionReset(ERROR_CODE.OPEN_MESSAGE_ERROR, OPEN_MESSAGE_ERROR.UNACCEPTABLE_HOLD_TIME, 'open.holdTimeS', `hold time ${open.holdTimeS} s below our minimum ${this.config.minHoldTimeS} s`);
    }
    // RFC 6286 §2.2 (our identifier from an internal peer) and RFC 5492 §3 (required capabilities).
    return checkOpen(open, {
      localBgpIdentifier: this.config.bgpIdentifier,
      internal: peerAs === this.config.localAs,
      requiredCapabilities: this.config.requiredCapabilities,
    });
  }

  private negotiate(open: OpenMessage): PeerInfo {
    const capabilities = openCapabilities(open);
    const as4Cap = capabilities.find((c) => c.type === 'FOUR_OCTET_AS');
    const as4 = this.config.fourOctetAs && as4Cap !== undefined;
    const asNumber = as4 && as4Cap ? as4Cap.asNumber : open.myAutonomousSystem;
    // RFC 4760 §8 / RFC 5492: families both offered; without any Multiprotocol capability a peer
    // speaks plain RFC 4271, i.e. IPv4 unicast only.
    const offered = capabilities.some((c) => c.type === 'MULTIPROTOCOL') ? announcedFamilies(capabilities) : (['ipv4-unicast'] as Family[]);
    const families = this.config.families.filter((f) => offered.includes(f));
    // RFC 4271 §4.2: "the smaller of its configured Hold Time and the Hold Time received in the OPEN".
    const holdTimeS = Math.min(this.config.holdTimeS, open.holdTimeS);
    return {
      asNumber,
      bgpIdentifier: open.bgpIdentifier,
      holdTimeS,
      keepaliveTimeS: Math.floor(holdTimeS / 3),
      peerHoldTimeS: open.holdTimeS,
      capabilities,
      as4,
      families,
      routeRefresh: this.config.routeRefresh && capabilities.some((c) => c.type === 'ROUTE_REFRESH'),
      internal: asNumber === this.config.localAs,
    };
  }

  // --- The FSM engine: look the event up in fsm.ts, run its actions, move the state. ---

  private peerEvent(event: BgpEvent, ctx: EventContext): void {
    this.fire(event, undefined, ctx);
    this.settle(ctx);
  }

  private connEvent(event: BgpEvent, conn: Conn, ctx: EventContext): void {
    this.fire(event, conn, ctx);
    this.settle(ctx);
  }

  private fire(event: BgpEvent, conn: Conn | undefined, ctx: EventContext): void {
    const from: BgpState = conn ? conn.state : this.state;
    const tr = transition(from, event);
    // Peer actions run unless another connection carries on without this one.
    const last = conn === undefined || this.conns.every((c) => c === conn);
    ctx.event = event;
    ctx.rfc = tr.rfc;
    let target = conn;
    for (const a of tr.actions) {
      if (!last && PEER_ACTIONS.has(a)) continue;
      if (a === 'acceptConnection') {
        target = this.accept(ctx.newConn);
        continue;
      }
      this.act(a, target, ctx, from);
    }
    const next = tr.next === 'same' ? from : tr.next;
    if (conn) {
      if (isBaseState(next)) {
        assert(conn.closed, `fsm: ${from} --${event}--> ${next} must drop the connection`);
        if (last) this.base = next;
      } else if (!conn.closed) {
        conn.state = next;
      }
    } else if (isBaseState(next)) {
      this.base = next;
    }
    if (from !== next) this.log(`${conn?.id ?? 'peer'}: ${from} → ${next} on ${eventLabel(event)} [${tr.rfc}]`);
  }

  private accept(newConn: EventContext['newConn']): Conn {
    assert(newConn !== undefined, 'fsm: acceptConnection without a new connection');
    const conn: Conn = {
      id: newConn.id,
      direction: newConn.direction,
      state: 'OpenSent',
      closed: false,
      rx: EMPTY,
      ctx: AS4_CONTEXT,
      peer: undefined,
      holdTimeUs: 0,
      keepaliveTimeUs: 0,
      holdDeadlineUs: undefined,
      keepaliveDeadlineUs: undefined,
      disabled: new Set(),
    };
    this.conns.push(conn);
    return conn;
  }

  private liveConn(a: BgpAction, conn: Conn | undefined): Conn {
    assert(conn !== undefined && !conn.closed, `fsm: ${a} needs a live connection`);
    return conn;
  }

  private act(a: BgpAction, conn: Conn | undefined, ctx: EventContext, from: BgpState): void {
    // (liveConn is a method, not a closure made here: act runs for every UPDATE sent.)
    switch (a) {
      case 'initiateConnection': {
        if (this.config.passive) return;
        const connId = `${this.activePrefix}${++this.activeSerial}`;
        this.pendingConnId = connId;
        this.stats.connectAttempts++;
        this.emit({ kind: 'connect', connId });
        return;
      }
      case 'dropPendingConnection':
        if (this.pendingConnId !== undefined) {
          this.emit({ kind: 'close', connId: this.pendingConnId });
          this.pendingConnId = undefined;
        }
        return;
      case 'startConnectRetryTimer':
        this.connectRetryDeadlineUs = this.config.passive ? undefined : this.nowUs + this.jitter(this.config.connectRetryTimeS * US_PER_S);
        return;
      case 'stopConnectRetryTimer':
        this.connectRetryDeadlineUs = undefined;
        return;
      case 'zeroConnectRetryCounter':
        this.connectRetryCounterN = 0;
        return;
      case 'incrementConnectRetryCounter':
        this.connectRetryCounterN++;
        return;
      case 'scheduleAutomaticStart':
        if (!this.config.automaticRestart || this.manuallyStopped) return;
        // §8.1.1 DampPeerOscillations: the IdleHoldTime doubles with each failure until Established.
        this.idleHoldDeadlineUs = this.nowUs + this.idleHoldUs;
        this.idleHoldUs = Math.min(this.idleHoldUs * 2, this.config.idleHoldTimeMaxS * US_PER_S);
        return;
      case 'stopIdleHoldTimer':
        this.idleHoldDeadlineUs = undefined;
        return;
      case 'acceptConnection':
        return; // done in fire()
      case 'refuseConnection':
        assert(ctx.newConn !== undefined, 'fsm: refuseConnection without a new connection');
        this.stats.connectionsRefused++;
        this.emit({ kind: 'close', connId: ctx.newConn.id });
        return;
      case 'sendOpen':
        this.send(this.liveConn(a, conn), this.openBytes, MESSAGE_TYPE.OPEN);
        return;
      case 'setOpenHoldTimer':
        this.liveConn(a, conn).holdDeadlineUs = this.nowUs + this.config.openHoldTimeS * US_PER_S;
        return;
      case 'sendKeepalive':
        this.send(this.liveConn(a, conn), KEEPALIVE_BYTES, MESSAGE_TYPE.KEEPALIVE);
        return;
      case 'setNegotiatedTimers': {
        const k = this.liveConn(a, conn);
        assert(k.peer !== undefined, 'fsm: negotiated timers before the OPEN');
        k.holdTimeUs = k.peer.holdTimeS * US_PER_S;
        k.keepaliveTimeUs = k.peer.keepaliveTimeS * US_PER_S;
        // RFC 4271 §8.2.2 OpenSent: "If the negotiated hold time value is zero, then the HoldTimer and KeepaliveTimer are not started".
        k.holdDeadlineUs = k.holdTimeUs > 0 ? this.nowUs + k.holdTimeUs : undefined;
        k.keepaliveDeadlineUs = k.keepaliveTimeUs > 0 ? this.nowUs + this.jitter(k.keepaliveTimeUs) : undefined;
        return;
      }
      case 'restartHoldTimer': {
        const k = this.liveConn(a, conn);
        k.holdDeadlineUs = k.holdTimeUs > 0 ? this.nowUs + k.holdTimeUs : undefined;
        return;
      }
      case 'restartKeepaliveTimer': {
        const k = this.liveConn(a, conn);
        // RFC 4271 §4.4: with a zero Hold Time, KEEPALIVEs "MUST NOT be sent".
        k.keepaliveDeadlineUs = k.keepaliveTimeUs > 0 ? this.nowUs + this.jitter(k.keepaliveTimeUs) : undefined;
        return;
      }
      case 'sendErrorNotification':
        assert(ctx.error !== undefined, `fsm: ${a} without an error`);
        this.log(`${this.liveConn(a, conn).id}: ${ctx.error.toString()}`);
        this.sendNotification(this.liveConn(a, conn), notificationFor(ctx.error), ctx);
        return;
      case 'sendHoldTimerExpired':
        // RFC 4271 §6.5: Error Code Hold Timer Expired, no subcode defined.
        this.sendNotification(this.liveConn(a, conn), { type: 'NOTIFICATION', errorCode: ERROR_CODE.HOLD_TIMER_EXPIRED, errorSubcode: UNSPECIFIC, data: EMPTY }, ctx);
        return;
      case 'sendFsmError':
        // RFC 4271 §6.6, RFC 6608 §3: the subcode names the state that got the unexpected message.
        this.sendNotification(this.liveConn(a, conn), { type: 'NOTIFICATION', errorCode: ERROR_CODE.FINITE_STATE_MACHINE_ERROR, errorSubcode: fsmErrorSubcode(from), data: EMPTY }, ctx);
        return;
      case 'sendCease':
        this.sendNotification(this.liveConn(a, conn), { type: 'NOTIFICATION', errorCode: ERROR_CODE.CEASE, errorSubcode: ctx.ceaseSubcode ?? CEASE.ADMINISTRATIVE_SHUTDOWN, data: ctx.ceaseData ?? EMPTY }, ctx);
        return;
      case 'sendCollisionCease':
        // RFC 4271 §6.8 "sending the NOTIFICATION message with the Error Code Cease"; RFC 4486 §4 subcode 7.
        this.sendNotification(this.liveConn(a, conn), { type: 'NOTIFICATION', errorCode: ERROR_CODE.CEASE, errorSubcode: CEASE.CONNECTION_COLLISION_RESOLUTION, data: EMPTY }, ctx);
        return;
      case 'dropConnection': {
        const k = this.liveConn(a, conn);
        k.closed = true;
        k.holdDeadlineUs = k.keepaliveDeadlineUs = undefined;
        k.rx = EMPTY;
        this.conns.splice(this.conns.indexOf(k), 1);
        this.emit({ kind: 'close', connId: k.id });
        return;
      }
      case 'handUpUpdate':
        this.handUpUpdate(this.liveConn(a, conn), ctx);
        return;
      case 'handUpRouteRefresh':
        this.handUpRouteRefresh(this.liveConn(a, conn), ctx);
        return;
    }
  }

  /** RFC 7606: attribute discard and treat-as-withdraw go up with the UPDATE; AFI/SAFI disable first disables. */
  private handUpUpdate(conn: Conn, ctx: EventContext): void {
    const d = ctx.update;
    assert(d !== undefined && d.message.type === 'UPDATE', 'fsm: handUpUpdate without an UPDATE');
    for (const e of d.errors) {
      if (e.severity === 'attribute-discard') this.stats.attributesDiscarded++;
      if (e.severity !== 'af-disable') continue;
      if (e.afi === undefined || e.safi === undefined) continue;
      const key = familyKey(e.afi, e.safi);
      if (conn.disabled.has(key)) continue;
      // RFC 4760 §7: "delete all the BGP routes received from that neighbor whose AFI/SAFI is the same
      // ... ignore all the subsequent routes with that AFI/SAFI received over that session".
      conn.disabled.add(key);
      this.stats.familiesDisabled++;
      this.log(`${conn.id}: AFI ${e.afi} / SAFI ${e.safi} disabled: ${e.toString()} (RFC 7606 §5.3, RFC 4760 §7)`);
      this.emit({ kind: 'family-disabled', afi: e.afi, safi: e.safi, family: familyOf(e.afi, e.safi), error: e });
    }
    const { message, removed } = stripDisabled(d.message, conn.disabled);
    if (removed && isEmptyUpdate(message)) return; // nothing left but routes of disabled families
    // RFC 7606 §2, §3: treat-as-withdraw outranks attribute discard; with AFI/SAFI disable also present,
    // the other families in the UPDATE still get the treat-as-withdraw the error calls for.
    const treatAsWithdraw = d.errors.some((e) => e.severity === 'treat-as-withdraw');
    if (treatAsWithdraw) {
      this.stats.updatesTreatedAsWithdraw++;
      this.log(`${conn.id}: UPDATE treated as withdraw: ${d.errors.filter((e) => e.severity === 'treat-as-withdraw').map((e) => e.toString()).join('; ')}`);
    }
    this.stats.updatesHandedUp++;
    this.emit({ kind: 'update', message, treatAsWithdraw, error: d.error, errors: d.errors });
  }

  private handUpRouteRefresh(conn: Conn, ctx: EventContext): void {
    const rr = ctx.routeRefresh;
    assert(rr !== undefined, 'fsm: handUpRouteRefresh without a ROUTE-REFRESH');
    const family = familyOf(rr.afi, rr.safi);
    // RFC 2918 §4: a ROUTE-REFRESH for an AFI/SAFI we did not advertise "shall be ignored".
    if (!this.config.routeRefresh || family === undefined || !this.config.families.includes(family)) {
      this.log(`${conn.id}: ROUTE-REFRESH AFI ${rr.afi} / SAFI ${rr.safi} ignored (not advertised, RFC 2918 §4)`);
      return;
    }
    this.emit({ kind: 'route-refresh', afi: rr.afi, safi: rr.safi, family });
  }

  // --- Reporting: state changes, established, down. ---

  private settle(ctx: EventContext): void {
    const before = this.reported;
    const after = this.state;
    if (before === after) return;
    this.reported = after;
    this.emit({ kind: 'state', from: before, to: after });
    if (after === 'Established') {
      const conn = this.conns.find((c) => c.state === 'Established');
      assert(conn?.peer !== undefined, 'Established without a negotiated peer');
      this.stats.establishedTransitions++;
      this.idleHoldUs = this.config.idleHoldTimeS * US_PER_S;
      const p = conn.peer;
      this.log(
        `Established on ${conn.id} with AS ${p.asNumber} (${formatId(p.bgpIdentifier)}${p.internal ? ', internal' : ''}): hold ${p.holdTimeS} s, keepalive ${p.keepaliveTimeS} s, ` +
          `families ${p.families.join(', ') || 'none'}, 4-octet AS ${p.as4 ? 'yes' : 'no'}, route refresh ${p.routeRefresh ? 'yes' : 'no'}`,
      );
      this.emit({ kind: 'established', connId: conn.id, peer: p });
      return;
    }
    const wasEstablished = before === 'Established';
    if (!wasEstablished && !(stateRank(before) >= stateRank('OpenSent') && isBaseState(after))) return;
    const reason = downReasonOf(ctx.event ?? 'TcpConnectionFails');
    const n = ctx.sent ?? ctx.received;
    const notification: NotificationRecord | undefined = n && {
      direction: ctx.sent ? 'sent' : 'received',
      errorCode: n.errorCode,
      errorSubcode: n.errorSubcode,
      data: n.data.slice(),
      name: notificationName(n),
    };
    const fault = faultOf(reason, ctx.received?.errorCode);
    const text =
      `${before} → ${after}: ${reason}` +
      (notification ? `, NOTIFICATION ${notification.name} ${notification.direction}` : '') +
      (ctx.error ? ` (${ctx.error.field}: ${ctx.error.message})` : '') +
      ` [${ctx.rfc ?? ''}]`;
    this.emit({ kind: 'down', reason, fault, wasEstablished, notification, text });
  }

  // --- Output helpers. ---

  private send(conn: Conn, bytes: Uint8Array, type: number): void {
    const name = TYPE_NAMES[type]!;
    this.stats.messagesSent[name] = (this.stats.messagesSent[name] ?? 0) + 1;
    this.emit({ kind: 'send', connId: conn.id, bytes });
  }

  private sendNotification(conn: Conn, n: NotificationMessage, ctx: EventContext): void {
    // Data never pushes a NOTIFICATION past 4096 octets (RFC 4271 §4.1; 21 octets of header and codes).
    const data = n.data.length > MAX_MESSAGE_LENGTH - 21 ? n.data.subarray(0, MAX_MESSAGE_LENGTH - 21) : n.data;
    const sent: NotificationMessage = { ...n, data };
    ctx.sent = sent;
    this.log(`${conn.id}: sending NOTIFICATION ${notificationName(sent)}${data.length ? ` data ${data.length} octets` : ''}`);
    this.send(conn, encodeMessage(sent, conn.ctx), MESSAGE_TYPE.NOTIFICATION);
  }

  private find(connId: ConnId): Conn | undefined {
    return this.conns.find((c) => c.id === connId);
  }

  private log(text: string): void {
    this.emit({ kind: 'log', text: `${this.config.name}: ${text}` });
  }

  private emit(o: BgpSessionOutput): void {
    assert(this.out.length - this.outHead < MAX_PENDING_OUTPUTS, `BgpSession: ${MAX_PENDING_OUTPUTS} outputs not polled`);
    this.out.push(o);
  }
}
