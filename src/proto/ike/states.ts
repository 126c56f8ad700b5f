// Every state transition of an IKE SA in one table (after h11's _state.py), with the requests each
// state answers and the commands it takes. Data only; never performs an exchange.
//
//   initiator: idle ─start→ init-sent ─init-answered→ auth-sent ─auth-done→ established
//                           └─init-retry (INVALID_KE_PAYLOAD, RFC 7296 §1.2)─┘
//   responder: idle ─init-accepted→ init-responded ─auth-done→ established
//   both:      established ─delete-sent→ deleting ─delete-done→ closed
//              established|deleting ─delete-received→ closed
//              any live state ─fail→ failed;  idle|init-sent|auth-sent|init-responded ─abandon→ closed

import { EXCHANGE } from './constants.ts';

export const IKE_SA_STATES = ['idle', 'init-sent', 'auth-sent', 'init-responded', 'established', 'deleting', 'closed', 'failed'] as const;
export type IkeSaState = (typeof IKE_SA_STATES)[number];

export type IkeSaTransition =
  | 'start'
  | 'init-retry'
  | 'init-answered'
  | 'init-accepted'
  | 'auth-done'
  | 'delete-sent'
  | 'delete-done'
  | 'delete-received'
  | 'abandon'
  | 'fail';

export const IKE_SA_TRANSITIONS: { readonly [S in IkeSaState]: Readonly<Partial<Record<IkeSaTransition, IkeSaState>>> } = {
  idle: { start: 'init-sent', 'init-accepted': 'init-responded', abandon: 'closed', fail: 'failed' },
  'init-sent': { 'init-retry': 'init-sent', 'init-answered': 'auth-sent', abandon: 'closed', fail: 'failed' },
  'auth-sent': { 'auth-done': 'established', abandon: 'closed', fail: 'failed' },
  'init-responded': { 'auth-done': 'established', abandon: 'closed', fail: 'failed' },
  established: { 'delete-sent': 'deleting', 'delete-received': 'closed', fail: 'failed' },
  deleting: { 'delete-done': 'closed', 'delete-received': 'closed', fail: 'failed' },
  closed: {},
  failed: {},
};

/** Terminal states: the SA only answers retransmitted requests from its cache until it lingers out. */
export function isTerminal(s: IkeSaState): boolean {
  return s === 'closed' || s === 'failed';
}

/**
 * The exchanges a state answers as responder (RFC 7296 §1.2–§1.4). IKE_SA_INIT requests reach an
 * SA only while idle (the endpoint creates a responder SA per new request).
 */
export const REQUESTS_ANSWERED: { readonly [S in IkeSaState]: readonly number[] } = {
  idle: [EXCHANGE.IKE_SA_INIT],
  'init-sent': [],
  'auth-sent': [],
  'init-responded': [EXCHANGE.IKE_AUTH],
  established: [EXCHANGE.CREATE_CHILD_SA, EXCHANGE.INFORMATIONAL],
  deleting: [EXCHANGE.INFORMATIONAL],
  closed: [],
  failed: [],
};

export type IkeSaCommandKind = 'create-child' | 'rekey-child' | 'delete-child' | 'delete-ike' | 'report-invalid-spi';

/** The commands a state takes; others are rejected as BAD_COMMAND. Queued ones wait for the window. */
export const COMMANDS_TAKEN: { readonly [S in IkeSaState]: readonly IkeSaCommandKind[] } = {
  idle: ['create-child', 'delete-ike'],
  'init-sent': ['create-child', 'delete-ike'],
  'auth-sent': ['create-child', 'delete-ike'],
  'init-responded': ['create-child', 'delete-ike'],
  established: ['create-child', 'rekey-child', 'delete-child', 'delete-ike', 'report-invalid-spi'],
  deleting: [],
  closed: [],
  failed: [],
};
