// The TCP connection state diagram (RFC 9293 §3.3.2, Figure 5) as one table, h11 style: every
// state change a connection makes is a row here. Never looks at segments, buffers or timers.
//
// tcp.ts decides *which* event happened (it runs the segment-arrival steps of RFC 9293 §3.10.7);
// this table decides *where* that event leads. An event a state has no row for is our bug.
// LISTEN is not a connection state here: listeners live in the stack and spawn connections in
// SYN-RECEIVED (RFC 9293 §3.10.7.2), so a connection's life starts in SYN-SENT or SYN-RECEIVED.

import { assert } from '../../lib/errors.ts';

export const TCP_STATE = {
  SYN_SENT: 'SYN-SENT',
  SYN_RECEIVED: 'SYN-RECEIVED',
  ESTABLISHED: 'ESTABLISHED',
  FIN_WAIT_1: 'FIN-WAIT-1',
  FIN_WAIT_2: 'FIN-WAIT-2',
  CLOSE_WAIT: 'CLOSE-WAIT',
  CLOSING: 'CLOSING',
  LAST_ACK: 'LAST-ACK',
  TIME_WAIT: 'TIME-WAIT',
  CLOSED: 'CLOSED',
} as const;

export type TcpState = (typeof TCP_STATE)[keyof typeof TCP_STATE];

export const TCP_EVENT = {
  /** SYN-SENT received SYN,ACK acknowledging our SYN (§3.10.7.3 fourth). */
  RCV_SYN_ACK: 'rcv-syn-ack',
  /** SYN-SENT received a bare SYN: simultaneous open (§3.10.7.3 fourth, Figure 8). */
  RCV_SYN: 'rcv-syn',
  /** An acceptable ACK covered our SYN in SYN-RECEIVED (§3.10.7.4 fifth). */
  SYN_ACKED: 'syn-acked',
  /** The user called CLOSE (§3.10.4). */
  CLOSE: 'close',
  /** An ACK covered our FIN (§3.10.7.4 fifth). */
  FIN_ACKED: 'fin-acked',
  /** The peer's FIN arrived in sequence (§3.10.7.4 eighth). */
  RCV_FIN: 'rcv-fin',
  /** The 2·MSL timer ran out (§3.10.8). */
  TIME_WAIT_EXPIRED: 'time-wait-expired',
} as const;

export type TcpEvent = (typeof TCP_EVENT)[keyof typeof TCP_EVENT];

const S = TCP_STATE;
const E = TCP_EVENT;

/**
 * (state, event) → next state. Resets, aborts and give-ups go to CLOSED from any state and are
 * not rows (tcp.ts calls its terminate path for them).
 */
export const TCP_TRANSITIONS: Readonly<Record<TcpState, Partial<Record<TcpEvent, TcpState>>>> = {
  [S.SYN_SENT]: { [E.RCV_SYN_ACK]: S.ESTABLISHED, [E.RCV_SYN]: S.SYN_RECEIVED, [E.CLOSE]: S.CLOSED },
  // CLOSE in SYN-RECEIVED is queued until ESTABLISHED (§3.10.4), so it has no row.
  [S.SYN_RECEIVED]: { [E.SYN_ACKED]: S.ESTABLISHED, [E.RCV_FIN]: S.CLOSE_WAIT },
  [S.ESTABLISHED]: { [E.CLOSE]: S.FIN_WAIT_1, [E.RCV_FIN]: S.CLOSE_WAIT },
  [S.FIN_WAIT_1]: { [E.FIN_ACKED]: S.FIN_WAIT_2, [E.RCV_FIN]: S.CLOSING },
  [S.FIN_WAIT_2]: { [E.RCV_FIN]: S.TIME_WAIT },
  [S.CLOSE_WAIT]: { [E.CLOSE]: S.LAST_ACK },
  [S.CLOSING]: { [E.FIN_ACKED]: S.TIME_WAIT },
  [S.LAST_ACK]: { [E.FIN_ACKED]: S.CLOSED },
  [S.TIME_WAIT]: { [E.TIME_WAIT_EXPIRED]: S.CLOSED },
  [S.CLOSED]: {},
};

/** The state `event` leads to from `state`; asserts the row exists (a missing row is our bug). */
export function tcpTransition(state: TcpState, event: TcpEvent): TcpState {
  const next = TCP_TRANSITIONS[state][event];
  assert(next !== undefined, `tcp: no transition from ${state} on ${event}`);
  return next;
}

/** States in which both sides have exchanged SYNs (RFC 9293 §3.3.2 "synchronized states"). */
export function tcpIsSynchronized(state: TcpState): boolean {
  return state !== S.SYN_SENT && state !== S.SYN_RECEIVED && state !== S.CLOSED;
}

/** States in which arriving text is delivered to the user (RFC 9293 §3.10.7.4 seventh). */
export function tcpAcceptsText(state: TcpState): boolean {
  return state === S.ESTABLISHED || state === S.FIN_WAIT_1 || state === S.FIN_WAIT_2;
}

/** States in which the user may still SEND (RFC 9293 §3.10.2). */
export function tcpAcceptsSend(state: TcpState): boolean {
  return state === S.SYN_SENT || state === S.SYN_RECEIVED || state === S.ESTABLISHED || state === S.CLOSE_WAIT;
}
