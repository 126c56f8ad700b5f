// The one error catalog of IKEv2: every code a decoder or an IKE SA can report, its class and the
// Notify the RFC prescribes in answer. Data and constructors only; never decides when to send.

import type { DecodeError } from '../../lib/errors.ts';
import { NOTIFY } from './constants.ts';

/**
 * Error classes after rustls: the bytes were not a valid message; the peer sent a valid message it
 * should not have; the peer wants something we do not support or allow; the peer went silent; our
 * caller asked for something impossible or went past a limit.
 */
export type IkeErrorClass = 'invalid-message' | 'peer-misbehaved' | 'peer-incompatible' | 'peer-unreachable' | 'api-misuse';

interface CatalogEntry {
  errorClass: IkeErrorClass;
  /** The Notify type to answer a request with (RFC 7296 §2.21), or undefined: drop silently. */
  notify: number | undefined;
  text: string;
}

/** Every IKE error code. Decoder errors (`DecodeError.code`) are among them. */
export const IKE_ERROR_CATALOG = {
  // --- Decoding (RFC 7296 §3); answered with INVALID_SYNTAX once the message is authenticated. ---
  TRUNCATED: { errorClass: 'invalid-message', notify: NOTIFY.INVALID_SYNTAX, text: 'the bytes end before a field or before the length a length field announces' },
  BAD_LENGTH: { errorClass: 'invalid-message', notify: NOTIFY.INVALID_SYNTAX, text: 'a length field is inconsistent with its structure' },
  TRAILING_BYTES: { errorClass: 'invalid-message', notify: NOTIFY.INVALID_SYNTAX, text: 'bytes left over after a structure' },
  BAD_COUNT: { errorClass: 'invalid-message', notify: NOTIFY.INVALID_SYNTAX, text: 'a count field disagrees with the structures present' },
  BAD_LAST_SUBSTRUC: { errorClass: 'invalid-message', notify: NOTIFY.INVALID_SYNTAX, text: 'Last Substruc is neither 0 (last) nor the substructure type (more)' },
  BAD_SPI_SIZE: { errorClass: 'invalid-message', notify: NOTIFY.INVALID_SYNTAX, text: 'SPI Size does not fit the protocol' },
  BAD_VALUE: { errorClass: 'invalid-message', notify: NOTIFY.INVALID_SYNTAX, text: 'a field holds a value out of its range' },
  SK_NOT_LAST: { errorClass: 'invalid-message', notify: NOTIFY.INVALID_SYNTAX, text: 'the Encrypted payload is not the last payload (RFC 7296 §3.14)' },
  NESTED_SK: { errorClass: 'invalid-message', notify: NOTIFY.INVALID_SYNTAX, text: 'an Encrypted payload inside an Encrypted payload' },
  BAD_PADDING: { errorClass: 'invalid-message', notify: NOTIFY.INVALID_SYNTAX, text: 'Pad Length beyond the decrypted bytes' },
  BAD_VERSION: { errorClass: 'peer-incompatible', notify: NOTIFY.INVALID_MAJOR_VERSION, text: 'major version is not 2 (RFC 7296 §2.5)' },
  // --- Protection (RFC 7296 §2.21: messages failing integrity are discarded, never answered). ---
  INTEGRITY: { errorClass: 'invalid-message', notify: undefined, text: 'the Encrypted payload failed its integrity check' },
  // --- Message semantics. ---
  UNSUPPORTED_CRITICAL_PAYLOAD: { errorClass: 'peer-incompatible', notify: NOTIFY.UNSUPPORTED_CRITICAL_PAYLOAD, text: 'an unrecognised payload with the critical bit set (RFC 7296 §2.5)' },
  MISSING_PAYLOAD: { errorClass: 'peer-misbehaved', notify: NOTIFY.INVALID_SYNTAX, text: 'a payload the exchange requires is missing' },
  UNEXPECTED_MESSAGE: { errorClass: 'peer-misbehaved', notify: undefined, text: 'a message that does not fit the exchange state (wrong ID, flags or exchange type)' },
  INVALID_MESSAGE_ID: { errorClass: 'peer-misbehaved', notify: NOTIFY.INVALID_MESSAGE_ID, text: 'a request beyond the window of one (RFC 7296 §2.3)' },
  NO_PROPOSAL_CHOSEN: { errorClass: 'peer-incompatible', notify: NOTIFY.NO_PROPOSAL_CHOSEN, text: 'none of the proposals is acceptable (RFC 7296 §2.7)' },
  INVALID_KE: { errorClass: 'peer-incompatible', notify: NOTIFY.INVALID_KE_PAYLOAD, text: 'the KE payload is for another group than the one selected (RFC 7296 §1.2)' },
  BAD_KE_DATA: { errorClass: 'peer-misbehaved', notify: NOTIFY.INVALID_SYNTAX, text: 'key exchange data of the wrong length or giving an all-zero secret (RFC 8031 §2)' },
  PROPOSAL_MISMATCH: { errorClass: 'peer-misbehaved', notify: undefined, text: 'the responder chose something that was not offered (RFC 7296 §2.7)' },
  AUTHENTICATION_FAILED: { errorClass: 'peer-misbehaved', notify: NOTIFY.AUTHENTICATION_FAILED, text: 'the AUTH payload does not verify (RFC 7296 §2.15)' },
  UNKNOWN_PEER: { errorClass: 'peer-incompatible', notify: NOTIFY.AUTHENTICATION_FAILED, text: 'no credentials for this identity' },
  TS_UNACCEPTABLE: { errorClass: 'peer-incompatible', notify: NOTIFY.TS_UNACCEPTABLE, text: 'the traffic selectors do not intersect the policy (RFC 7296 §2.9)' },
  TS_MISMATCH: { errorClass: 'peer-misbehaved', notify: undefined, text: 'the responder returned traffic selectors wider than proposed (RFC 7296 §2.9)' },
  NO_ADDITIONAL_SAS: { errorClass: 'peer-incompatible', notify: NOTIFY.NO_ADDITIONAL_SAS, text: 'no more Child SAs on this IKE SA (RFC 7296 §3.10.1)' },
  CHILD_SA_NOT_FOUND: { errorClass: 'peer-misbehaved', notify: NOTIFY.CHILD_SA_NOT_FOUND, text: 'REKEY_SA names a Child SA that does not exist (RFC 7296 §3.10.1)' },
  NOTIFY_ERROR: { errorClass: 'peer-incompatible', notify: undefined, text: 'the peer answered with an error Notify' },
  TIMEOUT: { errorClass: 'peer-unreachable', notify: undefined, text: 'no response after the last retransmission (RFC 7296 §2.4)' },
  // --- Local API use. ---
  BAD_COMMAND: { errorClass: 'api-misuse', notify: undefined, text: 'a command that does not fit the SA state' },
  QUEUE_FULL: { errorClass: 'api-misuse', notify: undefined, text: 'a bounded queue is full' },
} as const satisfies Record<string, CatalogEntry>;

export type IkeErrorCode = keyof typeof IKE_ERROR_CATALOG;

/** `IKE_ERROR.X === 'X'`, for readable call sites. */
export const IKE_ERROR = Object.fromEntries(Object.keys(IKE_ERROR_CATALOG).map((k) => [k, k])) as { readonly [K in IkeErrorCode]: K };

/** A decode error whose code is in this catalog. */
export interface IkeDecodeError extends DecodeError {
  code: IkeErrorCode;
}

export function ikeDecodeError(code: IkeErrorCode, field: string, message: string): IkeDecodeError {
  return { code, field, message };
}

/** Why an IKE SA or a Child SA negotiation failed; `detectedBy` says which side found the problem. */
export interface IkeFailure {
  code: IkeErrorCode;
  detectedBy: 'local' | 'remote';
  /** The Notify type sent (detectedBy local) or received (detectedBy remote), if any. */
  notify?: number;
  message: string;
}

export function notifyFor(code: IkeErrorCode): number | undefined {
  return IKE_ERROR_CATALOG[code].notify;
}

export function errorClassOf(code: IkeErrorCode): IkeErrorClass {
  return IKE_ERROR_CATALOG[code].errorClass;
}

/** The code a received error Notify stands for (RFC 7296 §3.10.1); NOTIFY_ERROR for the others. */
export function codeForNotify(notifyType: number): IkeErrorCode {
  switch (notifyType) {
    case NOTIFY.NO_PROPOSAL_CHOSEN:
      return 'NO_PROPOSAL_CHOSEN';
    case NOTIFY.INVALID_KE_PAYLOAD:
      return 'INVALID_KE';
    case NOTIFY.AUTHENTICATION_FAILED:
      return 'AUTHENTICATION_FAILED';
    case NOTIFY.TS_UNACCEPTABLE:
      return 'TS_UNACCEPTABLE';
    case NOTIFY.CHILD_SA_NOT_FOUND:
      return 'CHILD_SA_NOT_FOUND';
    case NOTIFY.NO_ADDITIONAL_SAS:
      return 'NO_ADDITIONAL_SAS';
    case NOTIFY.UNSUPPORTED_CRITICAL_PAYLOAD:
      return 'UNSUPPORTED_CRITICAL_PAYLOAD';
    case NOTIFY.INVALID_MAJOR_VERSION:
      return 'BAD_VERSION';
    default:
      return 'NOTIFY_ERROR';
  }
}
