// The BGP finite state machine of RFC 4271 §8 as one table (after h11's _state.py): states, the §8.1
// events that apply, and for each (state, event) the next state and the actions in order. Data only; never does I/O.
//
// How session.ts reads it. A peer has a base state (Idle, Connect, Active) and up to two transport
// connections, each in OpenSent, OpenConfirm or Established (RFC 4271 §6.8: one we initiated, one the
// peer did). The peer's state is that of its most advanced connection, else the base state.
// - Peer events (start, stop, ConnectRetryTimer, a new transport connection) are looked up in the
//   peer's state; ManualStop in a connection state is looked up once per connection.
// - Connection events (messages, Hold and Keepalive timers, transport failure) are looked up in that
//   connection's state. A row leaving a connection state always has `dropConnection`.
// - `PEER_ACTIONS` (ConnectRetry, counters, automatic start, the pending attempt) and the move of the
//   base state happen only when the connection is the peer's last one; otherwise a row that ends a
//   connection ends just that connection (the other one carries on, as after collision resolution).
//
// Deliberate choices, each cited at its row: TcpConnectionFails in Connect goes to Active with the
// ConnectRetryTimer running (RFC 4271's DelayOpen branch, RFC 1771 §8, FRR) so the speaker retries
// after ConnectRetryTime; a received NOTIFICATION is never answered with another one; header errors
// in Established get the header error (§6.1), not an FSM error. DelayOpen is not implemented.

import { CEASE, ERROR_CODE, FINITE_STATE_MACHINE_ERROR, OPEN_MESSAGE_ERROR } from './errors.ts';

// --- States (RFC 4271 §8.2.2). ---

export const BGP_STATES = ['Idle', 'Connect', 'Active', 'OpenSent', 'OpenConfirm', 'Established'] as const;
export type BgpState = (typeof BGP_STATES)[number];
/** States without a transport connection that carries BGP messages. */
export type BaseState = 'Idle' | 'Connect' | 'Active';
/** States of one transport connection once OPEN has been sent on it. */
export type ConnectionState = 'OpenSent' | 'OpenConfirm' | 'Established';

export function isBaseState(s: BgpState): s is BaseState {
  return s === 'Idle' || s === 'Connect' || s === 'Active';
}

/** Order for "most advanced": Idle < Connect < Active < OpenSent < OpenConfirm < Established. */
export function stateRank(s: BgpState): number {
  return BGP_STATES.indexOf(s);
}

// --- Events (RFC 4271 §8.1), with their numbers for logs. ---

export const BGP_EVENT_NUMBER = {
  ManualStart: 1,
  ManualStop: 2,
  AutomaticStart: 3,
  ManualStart_with_PassiveTcpEstablishment: 4,
  AutomaticStart_with_PassiveTcpEstablishment: 5,
  ConnectRetryTimer_Expires: 9,
  HoldTimer_Expires: 10,
  KeepaliveTimer_Expires: 11,
  Tcp_CR_Acked: 16,
  TcpConnectionConfirmed: 17,
  TcpConnectionFails: 18,
  BGPOpen: 19,
  BGPHeaderErr: 21,
  BGPOpenMsgErr: 22,
  OpenCollisionDump: 23,
  NotifMsgVerErr: 24,
  NotifMsg: 25,
  KeepAliveMsg: 26,
  UpdateMsg: 27,
  UpdateMsgErr: 28,
  /** Not an RFC 4271 event: a ROUTE-REFRESH message (RFC 2918 §3). */
  RouteRefreshMsg: 0,
} as const;
export type BgpEvent = keyof typeof BGP_EVENT_NUMBER;

export function eventLabel(e: BgpEvent): string {
  const n = BGP_EVENT_NUMBER[e];
  return n === 0 ? `${e} (RFC 2918)` : `${e} (Event ${n})`;
}

// --- Actions. ---

export type BgpAction =
  // Peer actions (run only when the connection, if any, is the peer's last one).
  /** Open an active transport connection (never when configured passive). */
  | 'initiateConnection'
  /** Abandon the active attempt in progress, if any. */
  | 'dropPendingConnection'
  /** (Re)start the ConnectRetryTimer with its initial value (never when configured passive). */
  | 'startConnectRetryTimer'
  | 'stopConnectRetryTimer'
  | 'zeroConnectRetryCounter'
  | 'incrementConnectRetryCounter'
  /** Start the IdleHoldTimer whose expiry is an AutomaticStart (§8.1.1 IdleHoldTime, DampPeerOscillations). */
  | 'scheduleAutomaticStart'
  | 'stopIdleHoldTimer'
  // Actions on the new transport connection of a TCP event.
  /** Track the new connection in OpenSent (§8.2.2 Connect, Active; OpenSent and OpenConfirm: "a second TCP connection ... tracked per §6.8"). */
  | 'acceptConnection'
  /** Close the new connection without a word: Idle refuses connections; Established wins a collision (§6.8). */
  | 'refuseConnection'
  // Connection actions.
  | 'sendOpen'
  /** HoldTimer to a large value while waiting for the peer's OPEN (§8.2.2 OpenSent: 4 minutes suggested). */
  | 'setOpenHoldTimer'
  | 'sendKeepalive'
  /** HoldTimer and KeepaliveTimer from the negotiated Hold Time; neither when it is zero (§4.2, §4.4). */
  | 'setNegotiatedTimers'
  | 'restartHoldTimer'
  | 'restartKeepaliveTimer'
  /** NOTIFICATION with the code, subcode and data of the decode or OPEN check error (§6). */
  | 'sendErrorNotification'
  /** NOTIFICATION Hold Timer Expired (§6.5). */
  | 'sendHoldTimerExpired'
  /** NOTIFICATION Finite State Machine Error with the RFC 6608 subcode of the state (§6.6). */
  | 'sendFsmError'
  /** NOTIFICATION Cease with the operator's subcode, Administrative Shutdown by default (RFC 4486 §4). */
  | 'sendCease'
  /** NOTIFICATION Cease / Connection Collision Resolution (§6.8, RFC 4486 §4 subcode 7). */
  | 'sendCollisionCease'
  /** Close the transport connection and forget it. */
  | 'dropConnection'
  /** Hand the UPDATE up with its RFC 7606 outcome. */
  | 'handUpUpdate'
  /** Hand a ROUTE-REFRESH request up (RFC 2918 §4). */
  | 'handUpRouteRefresh';

export const PEER_ACTIONS: ReadonlySet<BgpAction> = new Set<BgpAction>([
  'initiateConnection',
  'dropPendingConnection',
  'startConnectRetryTimer',
  'stopConnectRetryTimer',
  'zeroConnectRetryCounter',
  'incrementConnectRetryCounter',
  'scheduleAutomaticStart',
  'stopIdleHoldTimer',
]);

export interface Transition {
  /** The state after the actions; `same` stays. */
  readonly next: BgpState | 'same';
  readonly actions: readonly BgpAction[];
  /** Where RFC 4271 (or the RFC named) decides this row. */
  readonly rfc: string;
}

type Row = Partial<Record<BgpEvent, Transition>>;

const t = (next: BgpState | 'same', actions: readonly BgpAction[], rfc: string): Transition => ({ next, actions, rfc });

// Action bundles the RFC repeats word for word in many rows.
/** "releases all BGP resources, drops the TCP connection, increments the ConnectRetryCounter by 1, (optionally) performs peer oscillation damping ... changes its state to Idle". */
const RELEASE: readonly BgpAction[] = ['dropConnection', 'dropPendingConnection', 'stopConnectRetryTimer', 'incrementConnectRetryCounter', 'scheduleAutomaticStart'];
/** ManualStop: as RELEASE but "sets the ConnectRetryCounter to zero" and no automatic start. */
const STOP_PEER: readonly BgpAction[] = ['dropPendingConnection', 'stopConnectRetryTimer', 'zeroConnectRetryCounter', 'stopIdleHoldTimer'];
const STOP: readonly BgpAction[] = ['dropConnection', ...STOP_PEER];
/** A new connection becomes the one that carries OPEN (§8.2.2 Connect and Active, Events 16-17). */
const ACCEPT: readonly BgpAction[] = ['stopConnectRetryTimer', 'acceptConnection', 'sendOpen', 'setOpenHoldTimer'];
/** A second connection while OPEN is under way: tracked until its OPEN decides the collision (§6.8). */
const TRACK: readonly BgpAction[] = ['acceptConnection', 'sendOpen', 'setOpenHoldTimer'];

const STARTS = ['ManualStart', 'AutomaticStart', 'ManualStart_with_PassiveTcpEstablishment', 'AutomaticStart_with_PassiveTcpEstablishment'] as const;
function ignoreStarts(state: BgpState): Row {
  const row: Row = {};
  for (const e of STARTS) row[e] = t('same', [], `RFC 4271 §8.2.2 ${state}: start events are ignored`);
  return row;
}

/** Every (state, event) the table names. Anything else is the state's `OTHERWISE` row. */
export const FSM_TABLE: { readonly [S in BgpState]: Readonly<Row> } = {
  Idle: {
    ManualStart: t('Connect', ['stopIdleHoldTimer', 'zeroConnectRetryCounter', 'startConnectRetryTimer', 'initiateConnection'], 'RFC 4271 §8.2.2 Idle, Event 1'),
    AutomaticStart: t('Connect', ['startConnectRetryTimer', 'initiateConnection'], 'RFC 4271 §8.2.2 Idle, Event 3'),
    ManualStart_with_PassiveTcpEstablishment: t('Active', ['stopIdleHoldTimer', 'zeroConnectRetryCounter', 'startConnectRetryTimer'], 'RFC 4271 §8.2.2 Idle, Event 4'),
    AutomaticStart_with_PassiveTcpEstablishment: t('Active', ['startConnectRetryTimer'], 'RFC 4271 §8.2.2 Idle, Event 5'),
    // §8.2.2 Idle ignores ManualStop; stopping also cancels our pending automatic start.
    ManualStop: t('same', ['stopIdleHoldTimer'], 'RFC 4271 §8.2.2 Idle, Event 2 (and §8.1.1 IdleHoldTimer)'),
    Tcp_CR_Acked: t('same', ['refuseConnection'], 'RFC 4271 §8.2.2 Idle: "refuses all incoming BGP connections"'),
    TcpConnectionConfirmed: t('same', ['refuseConnection'], 'RFC 4271 §8.2.2 Idle: "refuses all incoming BGP connections"'),
  },
  Connect: {
    ...ignoreStarts('Connect'),
    ManualStop: t('Idle', STOP_PEER, 'RFC 4271 §8.2.2 Connect, Event 2'),
    ConnectRetryTimer_Expires: t('same', ['dropPendingConnection', 'startConnectRetryTimer', 'initiateConnection'], 'RFC 4271 §8.2.2 Connect, Event 9'),
    Tcp_CR_Acked: t('OpenSent', ACCEPT, 'RFC 4271 §8.2.2 Connect, Event 16'),
    TcpConnectionConfirmed: t('OpenSent', ACCEPT, 'RFC 4271 §8.2.2 Connect, Event 17'),
    // RFC 4271 without DelayOpen would go to Idle; its DelayOpen branch, RFC 1771 §8 and FRR go to
    // Active and retry when the ConnectRetryTimer expires, which is what an engineer expects to see.
    TcpConnectionFails: t('Active', ['startConnectRetryTimer'], 'RFC 4271 §8.2.2 Connect, Event 18 (DelayOpen branch; RFC 1771 §8)'),
  },
  Active: {
    ...ignoreStarts('Active'),
    ManualStop: t('Idle', STOP_PEER, 'RFC 4271 §8.2.2 Active, Event 2'),
    ConnectRetryTimer_Expires: t('Connect', ['startConnectRetryTimer', 'initiateConnection'], 'RFC 4271 §8.2.2 Active, Event 9'),
    Tcp_CR_Acked: t('OpenSent', ACCEPT, 'RFC 4271 §8.2.2 Active, Event 16'),
    TcpConnectionConfirmed: t('OpenSent', ACCEPT, 'RFC 4271 §8.2.2 Active, Event 17'),
    TcpConnectionFails: t('Idle', ['dropPendingConnection', 'stopConnectRetryTimer', 'incrementConnectRetryCounter', 'scheduleAutomaticStart'], 'RFC 4271 §8.2.2 Active, Event 18'),
  },
  OpenSent: {
    ...ignoreStarts('OpenSent'),
    ManualStop: t('Idle', ['sendCease', ...STOP], 'RFC 4271 §8.2.2 OpenSent, Event 2; RFC 4486 §4'),
    HoldTimer_Expires: t('Idle', ['sendHoldTimerExpired', ...RELEASE], 'RFC 4271 §8.2.2 OpenSent, Event 10'),
    Tcp_CR_Acked: t('same', TRACK, 'RFC 4271 §8.2.2 OpenSent, Events 14-17; §6.8'),
    TcpConnectionConfirmed: t('same', TRACK, 'RFC 4271 §8.2.2 OpenSent, Events 14-17; §6.8'),
    // "closes the BGP connection, restarts the ConnectRetryTimer, continues to listen ... changes its state to Active".
    TcpConnectionFails: t('Active', ['dropConnection', 'startConnectRetryTimer'], 'RFC 4271 §8.2.2 OpenSent, Event 18'),
    BGPOpen: t('OpenConfirm', ['stopConnectRetryTimer', 'sendKeepalive', 'setNegotiatedTimers'], 'RFC 4271 §8.2.2 OpenSent, Event 19'),
    BGPHeaderErr: t('Idle', ['sendErrorNotification', ...RELEASE], 'RFC 4271 §8.2.2 OpenSent, Events 21-22; §6.1'),
    BGPOpenMsgErr: t('Idle', ['sendErrorNotification', ...RELEASE], 'RFC 4271 §8.2.2 OpenSent, Events 21-22; §6.2'),
    OpenCollisionDump: t('Idle', ['sendCollisionCease', ...RELEASE], 'RFC 4271 §8.2.2 OpenSent, Event 23; §6.8; RFC 4486 §4'),
    // No ConnectRetryCounter increment on a version error (§8.2.2 OpenSent, Event 24).
    NotifMsgVerErr: t('Idle', ['dropConnection', 'dropPendingConnection', 'stopConnectRetryTimer', 'scheduleAutomaticStart'], 'RFC 4271 §8.2.2 OpenSent, Event 24'),
    // §8.2.2 files Event 25 under "any other event" (FSM Error), but a NOTIFICATION closes the
    // connection (§4.5) and is never answered with another one (§6.4): release only.
    NotifMsg: t('Idle', RELEASE, 'RFC 4271 §4.5, §6.4'),
  },
  OpenConfirm: {
    ...ignoreStarts('OpenConfirm'),
    ManualStop: t('Idle', ['sendCease', ...STOP], 'RFC 4271 §8.2.2 OpenConfirm, Event 2; RFC 4486 §4'),
    HoldTimer_Expires: t('Idle', ['sendHoldTimerExpired', ...RELEASE], 'RFC 4271 §8.2.2 OpenConfirm, Event 10'),
    KeepaliveTimer_Expires: t('same', ['sendKeepalive', 'restartKeepaliveTimer'], 'RFC 4271 §8.2.2 OpenConfirm, Event 11'),
    Tcp_CR_Acked: t('same', TRACK, 'RFC 4271 §8.2.2 OpenConfirm, Events 14-17; §6.8'),
    TcpConnectionConfirmed: t('same', TRACK, 'RFC 4271 §8.2.2 OpenConfirm, Events 14-17; §6.8'),
    TcpConnectionFails: t('Idle', RELEASE, 'RFC 4271 §8.2.2 OpenConfirm, Event 18'),
    NotifMsgVerErr: t('Idle', ['dropConnection', 'dropPendingConnection', 'stopConnectRetryTimer', 'scheduleAutomaticStart'], 'RFC 4271 §8.2.2 OpenConfirm, Event 24'),
    NotifMsg: t('Idle', RELEASE, 'RFC 4271 §8.2.2 OpenConfirm, Event 25'),
    BGPHeaderErr: t('Idle', ['sendErrorNotification', ...RELEASE], 'RFC 4271 §8.2.2 OpenConfirm, Events 21-22; §6.1'),
    BGPOpenMsgErr: t('Idle', ['sendErrorNotification', ...RELEASE], 'RFC 4271 §8.2.2 OpenConfirm, Events 21-22; §6.2'),
    OpenCollisionDump: t('Idle', ['sendCollisionCease', ...RELEASE], 'RFC 4271 §8.2.2 OpenConfirm, Event 23; §6.8; RFC 4486 §4'),
    KeepAliveMsg: t('Established', ['restartHoldTimer', 'dropPendingConnection'], 'RFC 4271 §8.2.2 OpenConfirm, Event 26'),
  },
  Established: {
    ...ignoreStarts('Established'),
    ManualStop: t('Idle', ['sendCease', ...STOP], 'RFC 4271 §8.2.2 Established, Event 2; RFC 4486 §4'),
    HoldTimer_Expires: t('Idle', ['sendHoldTimerExpired', ...RELEASE], 'RFC 4271 §8.2.2 Established, Event 10'),
    // "Each time the local system sends a KEEPALIVE or UPDATE message, it restarts its KeepaliveTimer".
    KeepaliveTimer_Expires: t('same', ['sendKeepalive', 'restartKeepaliveTimer'], 'RFC 4271 §8.2.2 Established, Event 11'),
    // "a connection collision with an existing BGP connection that is in the Established state causes
    // closing of the newly created connection" (§6.8): closed before any OPEN is exchanged on it.
    Tcp_CR_Acked: t('same', ['refuseConnection'], 'RFC 4271 §6.8'),
    TcpConnectionConfirmed: t('same', ['refuseConnection'], 'RFC 4271 §6.8'),
    TcpConnectionFails: t('Idle', RELEASE, 'RFC 4271 §8.2.2 Established, Event 18'),
    NotifMsgVerErr: t('Idle', RELEASE, 'RFC 4271 §8.2.2 Established, Events 24-25'),
    NotifMsg: t('Idle', RELEASE, 'RFC 4271 §8.2.2 Established, Events 24-25'),
    KeepAliveMsg: t('same', ['restartHoldTimer'], 'RFC 4271 §8.2.2 Established, Event 26'),
    UpdateMsg: t('same', ['restartHoldTimer', 'handUpUpdate'], 'RFC 4271 §8.2.2 Established, Event 27; RFC 7606'),
    UpdateMsgErr: t('Idle', ['sendErrorNotification', ...RELEASE], 'RFC 4271 §8.2.2 Established, Event 28; RFC 7606 §2 session reset'),
    // §8.2.2 Established lists Event 21 among the FSM errors; §6.1 prescribes the header error itself.
    BGPHeaderErr: t('Idle', ['sendErrorNotification', ...RELEASE], 'RFC 4271 §6.1'),
    // RFC 2918 is silent on the Hold Timer; §6.5 counts any message from a live peer.
    RouteRefreshMsg: t('same', ['restartHoldTimer', 'handUpRouteRefresh'], 'RFC 2918 §4; RFC 4271 §6.5'),
  },
};

/** What a state does with an event the table does not name (§8.2.2 "In response to any other event"). */
export const OTHERWISE: { readonly [S in BgpState]: Transition } = {
  Idle: t('same', [], 'RFC 4271 §8.2.2 Idle: other events "do not cause change in the state"'),
  Connect: t('Idle', ['dropPendingConnection', 'stopConnectRetryTimer', 'incrementConnectRetryCounter', 'scheduleAutomaticStart'], 'RFC 4271 §8.2.2 Connect, any other event'),
  Active: t('Idle', ['dropPendingConnection', 'stopConnectRetryTimer', 'incrementConnectRetryCounter', 'scheduleAutomaticStart'], 'RFC 4271 §8.2.2 Active, any other event'),
  OpenSent: t('Idle', ['sendFsmError', ...RELEASE], 'RFC 4271 §8.2.2 OpenSent, any other event; RFC 6608 §3'),
  OpenConfirm: t('Idle', ['sendFsmError', ...RELEASE], 'RFC 4271 §8.2.2 OpenConfirm, any other event; RFC 6608 §3'),
  Established: t('Idle', ['sendFsmError', ...RELEASE], 'RFC 4271 §8.2.2 Established, any other event; RFC 6608 §3'),
};

/** The transition for an event in a state. */
export function transition(state: BgpState, event: BgpEvent): Transition {
  return FSM_TABLE[state][event] ?? OTHERWISE[state];
}

/** The Finite State Machine Error subcode for an unexpected event in a state (RFC 6608 §3); 0 elsewhere. */
export function fsmErrorSubcode(state: BgpState): number {
  if (state === 'OpenSent') return FINITE_STATE_MACHINE_ERROR.RECEIVE_UNEXPECTED_MESSAGE_IN_OPENSENT;
  if (state === 'OpenConfirm') return FINITE_STATE_MACHINE_ERROR.RECEIVE_UNEXPECTED_MESSAGE_IN_OPENCONFIRM;
  if (state === 'Established') return FINITE_STATE_MACHINE_ERROR.RECEIVE_UNEXPECTED_MESSAGE_IN_ESTABLISHED;
  return 0;
}

// --- Collision resolution (RFC 4271 §6.8). ---

export type Direction = 'active' | 'passive';

/**
 * Which connection survives a collision: the one initiated by the speaker with the higher BGP
 * Identifier (§6.8 steps 1-3, compared as unsigned 32-bit integers); with equal identifiers (possible
 * between external peers) the one initiated by the speaker with the larger AS (RFC 6286 §2.3).
 * `active` is the connection we initiated, `passive` the one the peer did.
 */
export function collisionSurvivor(local: { bgpIdentifier: number; asNumber: number }, remote: { bgpIdentifier: number; asNumber: number }): Direction {
  if (local.bgpIdentifier !== remote.bgpIdentifier) return local.bgpIdentifier >>> 0 > remote.bgpIdentifier >>> 0 ? 'active' : 'passive';
  return local.asNumber > remote.asNumber ? 'active' : 'passive';
}

// --- Why a session went down, and whose fault it was (h11: local vs remote). ---

export type DownReason =
  /** ManualStop (RFC 4271 Event 2). */
  | 'manual-stop'
  /** Our Hold Timer expired: the peer went silent (§6.5). */
  | 'hold-timer-expired'
  /** The peer's message was malformed or its OPEN unacceptable: we sent the NOTIFICATION (§6.1-§6.3). */
  | 'message-error'
  /** The peer sent a message the state does not take: we sent an FSM Error (§6.6, RFC 6608). */
  | 'fsm-error'
  /** The peer sent a NOTIFICATION. */
  | 'notification-received'
  /** The transport closed or failed under us (Event 18). */
  | 'transport-closed'
  /** Lost a connection collision (§6.8). */
  | 'collision';

/**
 * `remote`: the peer misbehaved or left (malformed or unexpected message, silence, closed transport,
 * Cease). `local`: we stopped, or the peer's NOTIFICATION blames what we sent (header, OPEN, UPDATE
 * and FSM errors, and its Hold Timer expiring on our KEEPALIVEs).
 */
export type Fault = 'local' | 'remote';

export function faultOf(reason: DownReason, receivedErrorCode?: number): Fault {
  if (reason === 'manual-stop') return 'local';
  if (reason === 'notification-received') return receivedErrorCode === ERROR_CODE.CEASE ? 'remote' : 'local';
  return 'remote';
}

export function downReasonOf(event: BgpEvent): DownReason {
  switch (event) {
    case 'ManualStop':
      return 'manual-stop';
    case 'HoldTimer_Expires':
      return 'hold-timer-expired';
    case 'BGPHeaderErr':
    case 'BGPOpenMsgErr':
    case 'UpdateMsgErr':
      return 'message-error';
    case 'NotifMsg':
    case 'NotifMsgVerErr':
      return 'notification-received';
    case 'TcpConnectionFails':
      return 'transport-closed';
    case 'OpenCollisionDump':
      return 'collision';
    default:
      return 'fsm-error';
  }
}

/** A received NOTIFICATION that is an OPEN version error (Event 24 rather than 25). */
export function isVersionError(errorCode: number, errorSubcode: number): boolean {
  return errorCode === ERROR_CODE.OPEN_MESSAGE_ERROR && errorSubcode === OPEN_MESSAGE_ERROR.UNSUPPORTED_VERSION_NUMBER;
}

/** The event a session-reset decode error raises: by its error code (§6.1-§6.3). */
export function errorEvent(errorCode: number): BgpEvent {
  if (errorCode === ERROR_CODE.MESSAGE_HEADER_ERROR) return 'BGPHeaderErr';
  if (errorCode === ERROR_CODE.OPEN_MESSAGE_ERROR) return 'BGPOpenMsgErr';
  return 'UpdateMsgErr';
}

/** Cease subcodes an operator may give ManualStop (RFC 4486 §4). */
export const MANUAL_STOP_SUBCODES: readonly number[] = [
  CEASE.ADMINISTRATIVE_SHUTDOWN,
  CEASE.PEER_DE_CONFIGURED,
  CEASE.ADMINISTRATIVE_RESET,
  CEASE.CONNECTION_REJECTED,
  CEASE.OTHER_CONFIGURATION_CHANGE,
  CEASE.OUT_OF_RESOURCES,
  CEASE.MAXIMUM_NUMBER_OF_PREFIXES_REACHED,
];

