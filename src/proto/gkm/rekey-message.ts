// The GSA_REKEY message (RFC 9838 §2.4): HDR, SK{[GSA,] [KD,] [D,] [N,] AUTH} on the Rekey SA, signed by
// the GCKS (§2.4.1) and sealed with the KEK. Never picks keys, IVs or Message IDs itself; never throws on peer bytes.
//
// Signature (RFC 9838 §2.4.1): DataToAuthenticate = A | P, where A is the IKE header and the Encrypted
// payload header with their Length fields adjusted to count only A and P (no IV, padding, ICV), and P
// is the inner payload chain in clear with the AUTH payload in place: Auth Method 14 (RFC 7427), the
// ASN.1 length and AlgorithmIdentifier of Ed25519 filled in, the signature bytes zero.

import { concat } from '../../lib/bytes.ts';
import type { Result } from '../../lib/errors.ts';
import { assert, err, ok } from '../../lib/errors.ts';
import { Writer } from '../../lib/reader.ts';
import {
  AEAD_IV_BYTES,
  AUTH_METHOD,
  ED25519_ALGORITHM_IDENTIFIER,
  FLAG_INITIATOR,
  IKE_HEADER_BYTES,
  IKE_MAJOR_VERSION,
  PAYLOAD,
  PAYLOAD_HEADER_BYTES,
  decodeMessage,
  ed25519AuthData,
  ed25519AuthVerify,
  encodeEncryptedMessage,
  encodePayloadChain,
  firstPayloadType,
  openEncryptedMessage,
  type AeadKey,
  type AuthPayload,
  type IkeHeader,
  type IkeMessage,
  type Payload,
} from '../ike/index.ts';
import { GKM_EXCHANGE, REKEY_SPI_BYTES } from './constants.ts';
import { fromIkeDecodeError, gkmDecodeError, type GkmDecodeError } from './errors.ts';

const ED25519_SIGNATURE_BYTES = 64;

/** The AUTH payload with the signature zeroed: what is signed and verified (RFC 9838 §2.4.1). */
function authTemplate(): AuthPayload {
  return {
    kind: 'auth',
    method: AUTH_METHOD.DIGITAL_SIGNATURE,
    data: concat(Uint8Array.of(ED25519_ALGORITHM_IDENTIFIER.length), ED25519_ALGORITHM_IDENTIFIER, new Uint8Array(ED25519_SIGNATURE_BYTES)),
  };
}

/** A | P of RFC 9838 §2.4.1 for a header, the SK payload's flag bits and the inner payloads (P in clear). */
function signedData(h: IkeHeader, skFlags: number, inner: readonly Payload[]): Uint8Array {
  const p = encodePayloadChain(inner);
  const w = new Writer(IKE_HEADER_BYTES + PAYLOAD_HEADER_BYTES + p.length);
  w.bytes(h.spiI)
    .bytes(h.spiR)
    .u8(PAYLOAD.SK)
    .u8((IKE_MAJOR_VERSION << 4) | (h.minorVersion ?? 0))
    .u8(h.exchangeType)
    .u8(h.flags)
    .u32(h.messageId)
    .u32(IKE_HEADER_BYTES + PAYLOAD_HEADER_BYTES + p.length) // AdjustedLen
    .u8(firstPayloadType(inner)) // the SK payload names the first inner payload (RFC 7296 §3.14)
    .u8(skFlags)
    .u16(PAYLOAD_HEADER_BYTES + p.length) // AdjustedPldLen
    .bytes(p);
  return w.finish();
}

export interface GsaRekeyToSend {
  /** The Rekey SA's SPI pair (16 octets): SPIi | SPIr of the header. */
  spi: Uint8Array;
  messageId: number;
  /** GSA, KD, D, N payloads in that order; the AUTH payload is appended here. */
  inner: readonly Payload[];
  kek: AeadKey;
  /** 8 octets, never repeated under one KEK. */
  iv: Uint8Array;
  /** The GCKS's Ed25519 secret key. */
  signingKey: Uint8Array;
}

export function gsaRekeyHeader(spi: Uint8Array, messageId: number): IkeHeader {
  assert(spi.length === REKEY_SPI_BYTES, 'Rekey SA SPI is 16 octets');
  // The GCKS is the initiator of the Rekey SA (RFC 9838 §2.4): I set, R clear.
  return { spiI: spi.slice(0, 8), spiR: spi.slice(8), exchangeType: GKM_EXCHANGE.GSA_REKEY, flags: FLAG_INITIATOR, messageId };
}

/** Signs, then seals: the bytes of one GSA_REKEY message, identical for every member. */
export function encodeGsaRekey(m: GsaRekeyToSend): Uint8Array {
  assert(m.iv.length === AEAD_IV_BYTES, 'SK IV is 8 octets');
  const header = gsaRekeyHeader(m.spi, m.messageId);
  const template = [...m.inner, authTemplate()];
  const toSign = signedData(header, 0, template);
  const auth: AuthPayload = { kind: 'auth', method: AUTH_METHOD.DIGITAL_SIGNATURE, data: ed25519AuthData(m.signingKey, toSign) };
  return encodeEncryptedMessage(header, [...m.inner, auth], m.kek, m.iv);
}

export interface OpenedGsaRekey {
  header: IkeHeader;
  /** The inner payloads, AUTH included. */
  inner: Payload[];
}

/** A GSA_REKEY before it is opened: enough to find the Rekey SA and check the Message ID. */
export interface PeekedGsaRekey {
  /** SPIi | SPIr. */
  spi: Uint8Array;
  messageId: number;
  header: IkeHeader;
  /** The critical bit and RESERVED bits of the SK payload header (they are signed). */
  skFlags: number;
  decoded: IkeMessage;
}

/** Decodes the header and the (still sealed) SK payload; nothing is decrypted yet. */
export function peekGsaRekey(bytes: Uint8Array): Result<PeekedGsaRekey, GkmDecodeError> {
  const dec = decodeMessage(bytes);
  if (!dec.ok) return err(fromIkeDecodeError(dec.error));
  const h = dec.value.header;
  if (h.exchangeType !== GKM_EXCHANGE.GSA_REKEY) return err(gkmDecodeError('UNEXPECTED_MESSAGE', 'header.exchangeType', `exchange ${h.exchangeType} is not GSA_REKEY`));
  const sk = dec.value.payloads[dec.value.payloads.length - 1];
  if (!sk || sk.kind !== 'sk' || dec.value.payloads.length !== 1) return err(gkmDecodeError('MISSING_PAYLOAD', 'payload.sk', 'GSA_REKEY is HDR, SK{…} only'));
  const skFlags = (sk.critical ? 0x80 : 0) | (sk.headerReserved ?? 0);
  return ok({ spi: concat(h.spiI, h.spiR), messageId: h.messageId, header: h, skFlags, decoded: dec.value });
}

/** Opens the Encrypted payload with the KEK (INTEGRITY when it does not verify). */
export function openGsaRekey(bytes: Uint8Array, peeked: Pick<PeekedGsaRekey, 'decoded'>, kek: AeadKey): Result<Payload[], GkmDecodeError> {
  const r = openEncryptedMessage(bytes, peeked.decoded, kek);
  return r.ok ? r : err(fromIkeDecodeError(r.error));
}

/** RFC 9838 §2.4.1: exactly one AUTH, the last inner payload, an Ed25519 signature over A | P. */
export function verifyGsaRekey(header: IkeHeader, skFlags: number, inner: readonly Payload[], publicKey: Uint8Array): boolean {
  const auths = inner.filter((p) => p.kind === 'auth');
  const last = inner[inner.length - 1];
  if (auths.length !== 1 || last === undefined || last.kind !== 'auth' || last.method !== AUTH_METHOD.DIGITAL_SIGNATURE) return false;
  const zeroed = [...inner.slice(0, -1), { ...authTemplate(), ...(last.critical ? { critical: true } : {}), ...(last.headerReserved ? { headerReserved: last.headerReserved } : {}) }];
  if (last.reserved) (zeroed[zeroed.length - 1] as AuthPayload).reserved = last.reserved;
  return ed25519AuthVerify(publicKey, signedData(header, skFlags, zeroed), last.data);
}
