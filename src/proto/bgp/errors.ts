// The one BGP error catalog: NOTIFICATION error codes and subcodes, RFC 7606 severities, BgpDecodeError.
// Owns no parsing and no session behaviour: the session decides what to send; this says what the RFCs name.

import type { DecodeError } from '../../lib/errors.ts';

// --- NOTIFICATION Error Code (RFC 4271 §4.5). ---

export const ERROR_CODE = {
  MESSAGE_HEADER_ERROR: 1,
  OPEN_MESSAGE_ERROR: 2,
  UPDATE_MESSAGE_ERROR: 3,
  HOLD_TIMER_EXPIRED: 4,
  FINITE_STATE_MACHINE_ERROR: 5,
  CEASE: 6,
} as const;
export type ErrorCode = (typeof ERROR_CODE)[keyof typeof ERROR_CODE];

/** Subcode 0 for every code: "Unspecific" (IANA BGP Error Subcodes, RFC 4493 / RFC 4271 errata). */
export const UNSPECIFIC = 0;

/** Message Header Error subcodes (RFC 4271 §4.5, §6.1). */
export const MESSAGE_HEADER_ERROR = {
  CONNECTION_NOT_SYNCHRONIZED: 1,
  BAD_MESSAGE_LENGTH: 2,
  BAD_MESSAGE_TYPE: 3,
} as const;

/** OPEN Message Error subcodes (RFC 4271 §4.5, §6.2; 5 "Authentication Failure" is deprecated). */
export const OPEN_MESSAGE_ERROR = {
  UNSUPPORTED_VERSION_NUMBER: 1,
  BAD_PEER_AS: 2,
  BAD_BGP_IDENTIFIER: 3,
  UNSUPPORTED_OPTIONAL_PARAMETER: 4,
  UNACCEPTABLE_HOLD_TIME: 6,
  /** RFC 5492 §3. */
  UNSUPPORTED_CAPABILITY: 7,
} as const;

/** UPDATE Message Error subcodes (RFC 4271 §4.5, §6.3; 7 "AS Routing Loop" is deprecated). */
export const UPDATE_MESSAGE_ERROR = {
  MALFORMED_ATTRIBUTE_LIST: 1,
  UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE: 2,
  MISSING_WELL_KNOWN_ATTRIBUTE: 3,
  ATTRIBUTE_FLAGS_ERROR: 4,
  ATTRIBUTE_LENGTH_ERROR: 5,
  INVALID_ORIGIN_ATTRIBUTE: 6,
  INVALID_NEXT_HOP_ATTRIBUTE: 8,
  OPTIONAL_ATTRIBUTE_ERROR: 9,
  INVALID_NETWORK_FIELD: 10,
  MALFORMED_AS_PATH: 11,
} as const;

/** Finite State Machine Error subcodes (RFC 6608). */
export const FINITE_STATE_MACHINE_ERROR = {
  RECEIVE_UNEXPECTED_MESSAGE_IN_OPENSENT: 1,
  RECEIVE_UNEXPECTED_MESSAGE_IN_OPENCONFIRM: 2,
  RECEIVE_UNEXPECTED_MESSAGE_IN_ESTABLISHED: 3,
} as const;

/** Cease subcodes (RFC 4486). */
export const CEASE = {
  MAXIMUM_NUMBER_OF_PREFIXES_REACHED: 1,
  ADMINISTRATIVE_SHUTDOWN: 2,
  PEER_DE_CONFIGURED: 3,
  ADMINISTRATIVE_RESET: 4,
  CONNECTION_REJECTED: 5,
  OTHER_CONFIGURATION_CHANGE: 6,
  CONNECTION_COLLISION_RESOLUTION: 7,
  OUT_OF_RESOURCES: 8,
} as const;

const SUBCODES: Record<ErrorCode, Record<string, number>> = {
  [ERROR_CODE.MESSAGE_HEADER_ERROR]: MESSAGE_HEADER_ERROR,
  [ERROR_CODE.OPEN_MESSAGE_ERROR]: OPEN_MESSAGE_ERROR,
  [ERROR_CODE.UPDATE_MESSAGE_ERROR]: UPDATE_MESSAGE_ERROR,
  [ERROR_CODE.HOLD_TIMER_EXPIRED]: {},
  [ERROR_CODE.FINITE_STATE_MACHINE_ERROR]: FINITE_STATE_MACHINE_ERROR,
  [ERROR_CODE.CEASE]: CEASE,
};

/** The catalog's name for an error code / subcode pair, e.g. `UPDATE_MESSAGE_ERROR/MALFORMED_AS_PATH`. */
export function errorName(errorCode: number, errorSubcode: number): string | undefined {
  const codeName = Object.entries(ERROR_CODE).find(([, v]) => v === errorCode)?.[0];
  if (codeName === undefined) return undefined;
  if (errorSubcode === UNSPECIFIC) return `${codeName}/UNSPECIFIC`;
  const sub = Object.entries(SUBCODES[errorCode as ErrorCode]).find(([, v]) => v === errorSubcode)?.[0];
  return sub === undefined ? undefined : `${codeName}/${sub}`;
}

/** True when the pair is in this catalog (what a conforming speaker may send). */
export function isKnownError(errorCode: number, errorSubcode: number): boolean {
  return errorName(errorCode, errorSubcode) !== undefined;
}

// --- RFC 7606 §2 error-handling approaches, weakest first. ---

/**
 * What the receiver must do (RFC 7606 §2), ordered from weakest to strongest:
 * - `attribute-discard`: drop the attribute, keep the routes;
 * - `treat-as-withdraw`: handle every NLRI of the UPDATE as withdrawn;
 * - `af-disable`: drop that AFI/SAFI for the session's lifetime (RFC 4760 §7);
 * - `session-reset`: send the NOTIFICATION and close the session (RFC 4271 §6).
 */
export const SEVERITIES = ['attribute-discard', 'treat-as-withdraw', 'af-disable', 'session-reset'] as const;
export type Severity = (typeof SEVERITIES)[number];

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

/** A decode error from peer bytes: the NOTIFICATION it calls for, the field at fault, the RFC 7606 approach. */
export class BgpDecodeError implements DecodeError {
  /** Catalog name of (errorCode, errorSubcode), e.g. `UPDATE_MESSAGE_ERROR/MALFORMED_AS_PATH`. */
  readonly code: string;

  constructor(
    /** NOTIFICATION Error Code (RFC 4271 §4.5). */
    readonly errorCode: number,
    /** NOTIFICATION Error Subcode. */
    readonly errorSubcode: number,
    /** NOTIFICATION Data, as RFC 4271 §6 prescribes for this error (often empty). */
    readonly data: Uint8Array,
    /** Dotted path of the field at fault, e.g. `update.pathAttributes.ORIGIN`. */
    readonly field: string,
    readonly message: string,
    readonly severity: Severity,
    /** For `af-disable`: the address family to disable (RFC 4760 §7). */
    readonly afi?: number,
    readonly safi?: number,
  ) {
    this.code = errorName(errorCode, errorSubcode) ?? `${errorCode}/${errorSubcode}`;
  }

  /** Strictly stronger than `other` (an absent error is weaker than any). */
  strongerThan(other: BgpDecodeError | undefined): boolean {
    return other === undefined || severityRank(this.severity) > severityRank(other.severity);
  }

  toString(): string {
    return `${this.code} (${this.severity}) at ${this.field}: ${this.message}`;
  }
}

const EMPTY = new Uint8Array(0);

/** A session-reset error (every OPEN and header error, and UPDATE errors RFC 7606 leaves fatal). */
export function sessionReset(errorCode: number, errorSubcode: number, field: string, message: string, data: Uint8Array = EMPTY): BgpDecodeError {
  return new BgpDecodeError(errorCode, errorSubcode, data, field, message, 'session-reset');
}

/** An UPDATE Message Error with the given RFC 7606 approach. */
export function updateError(
  errorSubcode: number,
  severity: Severity,
  field: string,
  message: string,
  data: Uint8Array = EMPTY,
  afi?: number,
  safi?: number,
): BgpDecodeError {
  return new BgpDecodeError(ERROR_CODE.UPDATE_MESSAGE_ERROR, errorSubcode, data, field, message, severity, afi, safi);
}
