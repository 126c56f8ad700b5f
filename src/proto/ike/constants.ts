// IKEv2 code points from IANA's "Internet Key Exchange Version 2 (IKEv2) Parameters" registries
// (RFC 7296 §3 and the RFCs named beside each value). Constants and name lookups only; never logic.

/** IKE header version byte: major 2, minor 0 (RFC 7296 §3.1). */
export const IKE_MAJOR_VERSION = 2;
export const IKE_MINOR_VERSION = 0;

/** IKE header size and the generic payload header size (RFC 7296 §3.1, §3.2). */
export const IKE_HEADER_BYTES = 28;
export const PAYLOAD_HEADER_BYTES = 4;
export const IKE_SPI_BYTES = 8;
export const ESP_SPI_BYTES = 4;

/** IKE header flags (RFC 7296 §3.1); the other five bits are reserved. */
export const FLAG_INITIATOR = 0x08;
export const FLAG_VERSION = 0x10;
export const FLAG_RESPONSE = 0x20;

/** Exchange Types. */
export const EXCHANGE = {
  IKE_SA_INIT: 34,
  IKE_AUTH: 35,
  CREATE_CHILD_SA: 36,
  INFORMATIONAL: 37,
} as const;

/** IKEv2 Payload Types (RFC 7296 §3.2). */
export const PAYLOAD = {
  NONE: 0,
  SA: 33,
  KE: 34,
  IDI: 35,
  IDR: 36,
  CERT: 37,
  CERTREQ: 38,
  AUTH: 39,
  NONCE: 40,
  NOTIFY: 41,
  DELETE: 42,
  VENDOR_ID: 43,
  TSI: 44,
  TSR: 45,
  SK: 46,
  CP: 47,
  EAP: 48,
  GSPM: 49,
  SKF: 53,
} as const;

/**
 * Payload types this implementation recognises (RFC 7296 §2.5: the critical bit is ignored for
 * these). CERT, CERTREQ, VENDOR_ID, CP, EAP are recognised but carried as opaque bodies and skipped.
 */
export const RECOGNISED_PAYLOADS: ReadonlySet<number> = new Set([
  PAYLOAD.SA,
  PAYLOAD.KE,
  PAYLOAD.IDI,
  PAYLOAD.IDR,
  PAYLOAD.CERT,
  PAYLOAD.CERTREQ,
  PAYLOAD.AUTH,
  PAYLOAD.NONCE,
  PAYLOAD.NOTIFY,
  PAYLOAD.DELETE,
  PAYLOAD.VENDOR_ID,
  PAYLOAD.TSI,
  PAYLOAD.TSR,
  PAYLOAD.SK,
  PAYLOAD.CP,
  PAYLOAD.EAP,
]);

/** Security Protocol Identifiers (RFC 7296 §3.3.1). */
export const PROTOCOL_ID = {
  IKE: 1,
  AH: 2,
  ESP: 3,
} as const;

/** Transform Type Values (RFC 7296 §3.3.2; type 4 is now named "Key Exchange Method", RFC 9370). */
export const TRANSFORM_TYPE = {
  ENCR: 1,
  PRF: 2,
  INTEG: 3,
  DH: 4,
  ESN: 5,
} as const;

// Transform Type 1 — Encryption Algorithm Transform IDs.
export const ENCR_AES_CBC = 12;
export const ENCR_AES_GCM_8 = 18;
export const ENCR_AES_GCM_12 = 19;
/** AES-GCM with a 16-octet ICV (RFC 5282 for IKE, RFC 4106 for ESP). */
export const ENCR_AES_GCM_16 = 20;
/** RFC 7634. */
export const ENCR_CHACHA20_POLY1305 = 28;

// Transform Type 2 — Pseudorandom Function Transform IDs.
export const PRF_HMAC_SHA1 = 2;
/** RFC 4868. */
export const PRF_HMAC_SHA2_256 = 5;

// Transform Type 3 — Integrity Algorithm Transform IDs.
export const AUTH_NONE = 0;
export const AUTH_HMAC_SHA2_256_128 = 12;

// Transform Type 4 — Diffie-Hellman Group Transform IDs.
export const DH_NONE = 0;
/** 256-bit random ECP group (RFC 5903). */
export const DH_ECP_256 = 19;
/** Curve25519 (RFC 8031). */
export const DH_CURVE25519 = 31;

// Transform Type 5 — Extended Sequence Numbers Transform IDs.
export const ESN_NONE = 0;
export const ESN_ENABLED = 1;

/** Transform Attribute Types (RFC 7296 §3.3.5). Key Length is always TV (AF = 1). */
export const ATTRIBUTE_KEY_LENGTH = 14;
export const ATTRIBUTE_FORMAT_TV = 0x8000;

/** IKEv2 Identification Payload ID Types (RFC 7296 §3.5). */
export const ID_TYPE = {
  ID_IPV4_ADDR: 1,
  ID_FQDN: 2,
  ID_RFC822_ADDR: 3,
  ID_IPV6_ADDR: 5,
  ID_DER_ASN1_DN: 9,
  ID_DER_ASN1_GN: 10,
  ID_KEY_ID: 11,
} as const;

/** IKEv2 Authentication Method (RFC 7296 §3.8, RFC 7427 §3). */
export const AUTH_METHOD = {
  RSA_DIGITAL_SIGNATURE: 1,
  SHARED_KEY_MIC: 2,
  DSS_DIGITAL_SIGNATURE: 3,
  DIGITAL_SIGNATURE: 14,
} as const;

/** IKEv2 Hash Algorithms for SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4; Identity from RFC 8420 §2). */
export const HASH_ALGORITHM = {
  SHA1: 1,
  SHA2_256: 2,
  SHA2_384: 3,
  SHA2_512: 4,
  IDENTITY: 5,
} as const;

/**
 * The DER AlgorithmIdentifier of Ed25519 (RFC 8410 §3: OID 1.3.101.112, parameters absent), the
 * one RFC 8420 §2 puts in the Digital Signature AUTH payload (RFC 7427 §3).
 */
export const ED25519_ALGORITHM_IDENTIFIER = new Uint8Array([0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70]);

/** Traffic Selector Types (RFC 7296 §3.13.1). */
export const TS_IPV4_ADDR_RANGE = 7;
export const TS_IPV6_ADDR_RANGE = 8;

/** IKEv2 Notify Message Types — error types (below 16384) and status types (RFC 7296 §3.10.1). */
export const NOTIFY = {
  UNSUPPORTED_CRITICAL_PAYLOAD: 1,
  INVALID_IKE_SPI: 4,
  INVALID_MAJOR_VERSION: 5,
  INVALID_SYNTAX: 7,
  INVALID_MESSAGE_ID: 9,
  INVALID_SPI: 11,
  NO_PROPOSAL_CHOSEN: 14,
  INVALID_KE_PAYLOAD: 17,
  AUTHENTICATION_FAILED: 24,
  SINGLE_PAIR_REQUIRED: 34,
  NO_ADDITIONAL_SAS: 35,
  INTERNAL_ADDRESS_FAILURE: 36,
  FAILED_CP_REQUIRED: 37,
  TS_UNACCEPTABLE: 38,
  INVALID_SELECTORS: 39,
  TEMPORARY_FAILURE: 43,
  CHILD_SA_NOT_FOUND: 44,
  INITIAL_CONTACT: 16384,
  SET_WINDOW_SIZE: 16385,
  ADDITIONAL_TS_POSSIBLE: 16386,
  IPCOMP_SUPPORTED: 16387,
  NAT_DETECTION_SOURCE_IP: 16388,
  NAT_DETECTION_DESTINATION_IP: 16389,
  COOKIE: 16390,
  USE_TRANSPORT_MODE: 16391,
  REKEY_SA: 16393,
  ESP_TFC_PADDING_NOT_SUPPORTED: 16394,
  NON_FIRST_FRAGMENTS_ALSO: 16395,
  SIGNATURE_HASH_ALGORITHMS: 16431,
} as const;

/** Notify types below this value are errors (RFC 7296 §3.10.1). */
export const NOTIFY_ERROR_MAX = 16383;

function invert(table: Record<string, number>): Map<number, string> {
  return new Map(Object.entries(table).map(([k, v]) => [v, k]));
}
const EXCHANGE_NAMES = invert(EXCHANGE);
const PAYLOAD_NAMES = invert(PAYLOAD);
const NOTIFY_NAMES = invert(NOTIFY);

export function exchangeName(type: number): string {
  return EXCHANGE_NAMES.get(type) ?? `EXCHANGE_${type}`;
}
export function payloadName(type: number): string {
  return PAYLOAD_NAMES.get(type) ?? `PAYLOAD_${type}`;
}
export function notifyName(type: number): string {
  return NOTIFY_NAMES.get(type) ?? `NOTIFY_${type}`;
}
