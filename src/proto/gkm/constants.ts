// G-IKEv2 code points (RFC 9838 and IANA's "IKEv2 Parameters" registries it fills) plus the one
// private-use notify this lab adds for seed 001. Constants and name lookups only; never logic.
//
// Values marked "checked" match the IANA registries as RFC 9838 filled them; "unsure" marks our best
// reading where we could not check the RFC text (the wire-format notes at the top of codec.ts list them).

/** RFC 9838 §2.1.1: G-IKEv2 uses UDP port 848, the port of GDOI (RFC 6407). */
export const GKM_PORT = 848;

/** Exchange Types (IANA "IKEv2 Exchange Types", checked). */
export const GKM_EXCHANGE = {
  GSA_AUTH: 39,
  GSA_REGISTRATION: 40,
  GSA_REKEY: 41,
  GSA_INBAND_REKEY: 42,
} as const;

/** Payload Types (IANA "IKEv2 Payload Types", checked). */
export const GKM_PAYLOAD = {
  /** Group Identification (IDg), RFC 9838 §4.2. */
  IDG: 50,
  /** Group Security Association (GSA), RFC 9838 §4.4. */
  GSA: 51,
  /** Key Download (KD), RFC 9838 §4.5. */
  KD: 52,
} as const;

/**
 * Security Protocol Identifiers used in GSA policies and key bags (IANA, checked). Protocol 0 marks
 * the Group-Wide Policy substructure in a GSA payload and a Member Key Bag in a KD payload.
 */
export const GKM_PROTOCOL = {
  NONE: 0,
  AH: 2,
  ESP: 3,
  /** The Rekey SA (RFC 9838 calls it GIKE_UPDATE; drafts called it GIKE_REKEY). */
  GIKE_UPDATE: 6,
} as const;

/** Rekey SA SPI: the SPIi | SPIr pair of the GSA_REKEY header (RFC 9838 §4.4.1). */
export const REKEY_SPI_BYTES = 16;
export const ESP_SPI_BYTES = 4;

/** Transform types G-IKEv2 adds or renames (IANA "Transform Type Values", checked). */
export const GKM_TRANSFORM_TYPE = {
  /** Type 5, "Sequence Numbers" (formerly ESN), renamed by RFC 9838. */
  SN: 5,
  /** Key Wrap Algorithm. */
  KWA: 13,
  /** Group Controller Authentication Method. */
  GCAUTH: 14,
} as const;

/** Transform Type 5 IDs (checked). A multi-sender group SA has no usable sender-side replay order. */
export const SN_32_BIT_SEQUENTIAL = 0;
export const SN_64_BIT_PARTIAL = 1;
export const SN_32_BIT_UNSPECIFIED = 2;

/** Transform Type 13 IDs (checked): AES Key Wrap with Padding (RFC 5649) with a 128/192/256-bit KWK. */
export const KWA_KW_5649_128 = 1;
export const KWA_KW_5649_192 = 2;
export const KWA_KW_5649_256 = 3;

/** Transform Type 14 IDs (checked). */
export const GCAUTH_IMPLICIT = 1;
export const GCAUTH_DIGITAL_SIGNATURE = 2;

/** Transform Attribute Type carrying a DER AlgorithmIdentifier in the GCAUTH transform (checked). */
export const ATTRIBUTE_SIGNATURE_ALGORITHM_IDENTIFIER = 18;

/** GSA Attributes in a GSA policy substructure (RFC 9838 §4.4.2.2, IANA "GSA Attributes", checked). */
export const GSA_ATTRIBUTE = {
  /** TLV, 4 octets: seconds the SA stays valid from the moment the message is sent. */
  GSA_KEY_LIFETIME: 1,
  /** TLV, 4 octets: the Message ID of the next GSA_REKEY (Rekey SA only). */
  GSA_INITIAL_MESSAGE_ID: 2,
  /** TLV, SPI Size octets: an SPI reserved for the next SA. */
  GSA_NEXT_SPI: 3,
} as const;

/** Group-Wide Policy attributes (RFC 9838 §4.4.3, IANA "Group-Wide Policy Attributes", checked). All TV. */
export const GWP_ATTRIBUTE = {
  /** Activation Time Delay, seconds (RFC 5374 §4.2.1). */
  GWP_ATD: 1,
  /** Deactivation Time Delay, seconds. */
  GWP_DTD: 2,
  /** Bits of the IV that carry the Sender-ID (RFC 6054). */
  GWP_SENDER_ID_BITS: 3,
} as const;

/** Group Key Bag attributes (RFC 9838 §4.5.2, checked). */
export const GROUP_KEY_BAG_ATTRIBUTE = { SA_KEY: 1 } as const;

/** Member Key Bag attributes (RFC 9838 §4.5.3, checked). */
export const MEMBER_KEY_BAG_ATTRIBUTE = {
  /** A Wrapped Key that is itself a key-wrap key (a node of the key tree). */
  WRAP_KEY: 1,
  /** The GCKS's rekey-authentication public key (a DER SubjectPublicKeyInfo). */
  AUTH_KEY: 2,
  /** One Sender-ID for this member (4 octets here; unsure of the RFC's width). */
  GM_SENDER_ID: 3,
} as const;

/** Notify Message Types G-IKEv2 adds (checked) and the private one of seed 001. */
export const GKM_NOTIFY = {
  INVALID_GROUP_ID: 45,
  AUTHORIZATION_FAILED: 46,
  REGISTRATION_FAILED: 49,
  /** RFC 9838 §4.7.4: "I will send"; data = 4-octet count of Sender-IDs wanted. */
  GROUP_SENDER: 16429,
  /**
   * Private use (RFC 7296 §3.10.1: status types 40960–65535): the list of the group's other
   * members a registering member names (seed 001 ¶[00024], FIG. 5 step 200). Format in codec.ts.
   */
  MEMBER_LIST: 40960,
} as const;

/** At most this many entries in a MEMBER_LIST notify (a bound on work per message). */
export const MEMBER_LIST_ENTRIES_MAX = 256;

function invert(table: Record<string, number>): Map<number, string> {
  return new Map(Object.entries(table).map(([k, v]) => [v, k]));
}
const EXCHANGE_NAMES = invert(GKM_EXCHANGE);
const NOTIFY_NAMES = invert(GKM_NOTIFY);

export function gkmExchangeName(type: number): string | undefined {
  return EXCHANGE_NAMES.get(type);
}
export function gkmNotifyName(type: number): string | undefined {
  return NOTIFY_NAMES.get(type);
}
