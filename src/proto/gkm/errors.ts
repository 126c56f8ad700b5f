// The one error catalog of group key management (G-IKEv2, RFC 9838): every code a decoder, the GCKS or
// a member can report, its class and the Notify that answers it. Data and constructors only.

import type { DecodeError } from '../../lib/errors.ts';
import { NOTIFY, type IkeDecodeError } from '../ike/index.ts';
import { GKM_NOTIFY } from './constants.ts';

/** The error classes of the IKE catalog (rustls style): whose fault, and how bad. */
export type GkmErrorClass = 'invalid-message' | 'peer-misbehaved' | 'peer-incompatible' | 'peer-unreachable' | 'api-misuse';

interface CatalogEntry {
  errorClass: GkmErrorClass;
  /** The Notify a GSA_AUTH/GSA_REGISTRATION request is answered with, or undefined: drop silently. */
  notify: number | undefined;
  text: string;
}

export const GKM_ERROR_CATALOG = {
  // --- Decoding (RFC 7296 §3 structures, RFC 9838 §4 payloads). ---
  TRUNCATED: { errorClass: 'invalid-message', notify: NOTIFY.INVALID_SYNTAX, text: 'the bytes end before a field or before the length a length field announces' },
  BAD_LENGTH: { errorClass: 'invalid-message', notify: NOTIFY.INVALID_SYNTAX, text: 'a length field is inconsistent with its structure' },
  TRAILING_BYTES: { errorClass: 'invalid-message', notify: NOTIFY.INVALID_SYNTAX, text: 'bytes left over after a structure' },
  BAD_COUNT: { errorClass: 'invalid-message', notify: NOTIFY.INVALID_SYNTAX, text: 'a count field disagrees with the structures present, or exceeds our bound' },
  BAD_LAST_SUBSTRUC: { errorClass: 'invalid-message', notify: NOTIFY.INVALID_SYNTAX, text: 'Last Substruc is neither 0 nor 3 in a transform list' },
  BAD_SPI_SIZE: { errorClass: 'invalid-message', notify: NOTIFY.INVALID_SYNTAX, text: 'SPI Size does not fit the protocol (16 for GIKE_UPDATE, 4 for ESP/AH)' },
  BAD_VALUE: { errorClass: 'invalid-message', notify: NOTIFY.INVALID_SYNTAX, text: 'a field holds a value out of its range' },
  BAD_ATTRIBUTE: { errorClass: 'invalid-message', notify: NOTIFY.INVALID_SYNTAX, text: 'an attribute has the wrong format (TV/TLV), length or multiplicity' },
  BAD_PADDING: { errorClass: 'invalid-message', notify: NOTIFY.INVALID_SYNTAX, text: 'Pad Length beyond the decrypted bytes' },
  BAD_VERSION: { errorClass: 'peer-incompatible', notify: NOTIFY.INVALID_MAJOR_VERSION, text: 'major version is not 2' },
  SK_NOT_LAST: { errorClass: 'invalid-message', notify: NOTIFY.INVALID_SYNTAX, text: 'the Encrypted payload is not the last payload' },
  NESTED_SK: { errorClass: 'invalid-message', notify: NOTIFY.INVALID_SYNTAX, text: 'an Encrypted payload inside an Encrypted payload' },
  // --- Protection: never answered (RFC 7296 §2.21). ---
  INTEGRITY: { errorClass: 'invalid-message', notify: undefined, text: 'the Encrypted payload failed its integrity check (wrong or unknown key)' },
  // --- Message semantics. ---
  UNSUPPORTED_CRITICAL_PAYLOAD: { errorClass: 'peer-incompatible', notify: NOTIFY.UNSUPPORTED_CRITICAL_PAYLOAD, text: 'an unrecognised payload with the critical bit set' },
  MISSING_PAYLOAD: { errorClass: 'peer-misbehaved', notify: NOTIFY.INVALID_SYNTAX, text: 'a payload the exchange requires is missing' },
  UNEXPECTED_MESSAGE: { errorClass: 'peer-misbehaved', notify: undefined, text: 'a message that does not fit the exchange state' },
  NO_PROPOSAL_CHOSEN: { errorClass: 'peer-incompatible', notify: NOTIFY.NO_PROPOSAL_CHOSEN, text: 'no acceptable proposal or group policy' },
  INVALID_KE: { errorClass: 'peer-incompatible', notify: NOTIFY.INVALID_KE_PAYLOAD, text: 'the KE payload is for another group than the one selected' },
  BAD_KE_DATA: { errorClass: 'peer-misbehaved', notify: NOTIFY.INVALID_SYNTAX, text: 'key exchange data of the wrong length or giving an all-zero secret' },
  PROPOSAL_MISMATCH: { errorClass: 'peer-misbehaved', notify: undefined, text: 'the responder chose something that was not offered' },
  AUTHENTICATION_FAILED: { errorClass: 'peer-misbehaved', notify: NOTIFY.AUTHENTICATION_FAILED, text: 'the AUTH payload does not verify (RFC 7296 §2.15)' },
  UNKNOWN_PEER: { errorClass: 'peer-incompatible', notify: NOTIFY.AUTHENTICATION_FAILED, text: 'no credentials for this identity: not a member the policy knows' },
  AUTHORIZATION_FAILED: { errorClass: 'peer-incompatible', notify: GKM_NOTIFY.AUTHORIZATION_FAILED, text: 'an authenticated identity not allowed into this group (RFC 9838 §4.7)' },
  INVALID_GROUP_ID: { errorClass: 'peer-incompatible', notify: GKM_NOTIFY.INVALID_GROUP_ID, text: 'the GCKS serves no group with this IDg (RFC 9838 §4.7)' },
  REGISTRATION_FAILED: { errorClass: 'peer-incompatible', notify: GKM_NOTIFY.REGISTRATION_FAILED, text: 'the group cannot take this member (full, or out of Sender-IDs)' },
  NOTIFY_ERROR: { errorClass: 'peer-incompatible', notify: undefined, text: 'the peer answered with an error Notify' },
  // --- Group keys and rekeys (RFC 9838 §2.4, §3). ---
  UNKNOWN_REKEY_SA: { errorClass: 'peer-misbehaved', notify: undefined, text: 'a GSA_REKEY for a Rekey SA (SPI pair) we do not hold' },
  REPLAYED_REKEY: { errorClass: 'peer-misbehaved', notify: undefined, text: 'a GSA_REKEY whose Message ID is not newer than the last one accepted (RFC 9838 §2.4.2)' },
  BAD_SIGNATURE: { errorClass: 'peer-misbehaved', notify: undefined, text: 'the AUTH of a GSA_REKEY is missing or does not verify with the GCKS key (RFC 9838 §2.4.1)' },
  UNWRAP_FAILED: { errorClass: 'peer-misbehaved', notify: undefined, text: 'a wrapped key does not unwrap (RFC 5649 integrity check)' },
  NO_KEY_PATH: { errorClass: 'peer-misbehaved', notify: undefined, text: 'no key we hold unwraps the new Rekey SA key: this member is excluded (RFC 9838 §3.3)' },
  POLICY_UNACCEPTABLE: { errorClass: 'peer-incompatible', notify: NOTIFY.NO_PROPOSAL_CHOSEN, text: 'the group policy names an algorithm we do not implement' },
  TIMEOUT: { errorClass: 'peer-unreachable', notify: undefined, text: 'no response after the last retransmission' },
  // --- Local API use and limits. ---
  BAD_COMMAND: { errorClass: 'api-misuse', notify: undefined, text: 'a command that does not fit the state' },
  TABLE_FULL: { errorClass: 'api-misuse', notify: undefined, text: 'a bounded table is full' },
} as const satisfies Record<string, CatalogEntry>;

export type GkmErrorCode = keyof typeof GKM_ERROR_CATALOG;

export const GKM_ERROR = Object.fromEntries(Object.keys(GKM_ERROR_CATALOG).map((k) => [k, k])) as { readonly [K in GkmErrorCode]: K };

export interface GkmDecodeError extends DecodeError {
  code: GkmErrorCode;
}

export function gkmDecodeError(code: GkmErrorCode, field: string, message: string): GkmDecodeError {
  return { code, field, message };
}

/** An IKE codec error in our catalog (the structural codes share names; the rest map to BAD_VALUE). */
export function fromIkeDecodeError(e: IkeDecodeError): GkmDecodeError {
  const code: GkmErrorCode = e.code in GKM_ERROR_CATALOG ? (e.code as GkmErrorCode) : 'BAD_VALUE';
  return { code, field: e.field, message: e.message };
}

export function gkmNotifyFor(code: GkmErrorCode): number | undefined {
  return GKM_ERROR_CATALOG[code].notify;
}

/** Why a registration failed; `detectedBy` says which side found the problem. */
export interface GkmFailure {
  code: GkmErrorCode;
  detectedBy: 'local' | 'remote';
  /** The Notify sent (local) or received (remote), if any. */
  notify?: number;
  message: string;
}

/** The code a received error Notify stands for. */
export function gkmCodeForNotify(notifyType: number): GkmErrorCode {
  switch (notifyType) {
    case NOTIFY.AUTHENTICATION_FAILED:
      return 'AUTHENTICATION_FAILED';
    case GKM_NOTIFY.AUTHORIZATION_FAILED:
      return 'AUTHORIZATION_FAILED';
    case GKM_NOTIFY.INVALID_GROUP_ID:
      return 'INVALID_GROUP_ID';
    case GKM_NOTIFY.REGISTRATION_FAILED:
      return 'REGISTRATION_FAILED';
    case NOTIFY.NO_PROPOSAL_CHOSEN:
      return 'NO_PROPOSAL_CHOSEN';
    case NOTIFY.INVALID_KE_PAYLOAD:
      return 'INVALID_KE';
    case NOTIFY.INVALID_MAJOR_VERSION:
      return 'BAD_VERSION';
    case NOTIFY.UNSUPPORTED_CRITICAL_PAYLOAD:
      return 'UNSUPPORTED_CRITICAL_PAYLOAD';
    default:
      return 'NOTIFY_ERROR';
  }
}
