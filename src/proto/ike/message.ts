// IKEv2 messages (RFC 7296 §3.1 header + payload chain) and the Encrypted payload (§3.14) sealed
// and opened with an AEAD (RFC 5282 AES-GCM). Never chooses keys or IVs itself; never throws on peer bytes.
//
// Length contract: `decodeMessage` takes one UDP payload; the header's Length must equal the bytes
// given (no trailing bytes), and the chain must fill it exactly. `decodeHeader` reads only the fixed
// header (for demultiplexing). Round trip: encodeMessage(decodeMessage(x)) == x.

import type { Result } from '../../lib/errors.ts';
import { assert, err } from '../../lib/errors.ts';
import { concat } from '../../lib/bytes.ts';
import { IKE_HEADER_BYTES, IKE_MAJOR_VERSION, IKE_SPI_BYTES } from './constants.ts';
import { aeadOpen, aeadSeal, AEAD_ICV_BYTES, AEAD_IV_BYTES, type AeadKey } from './crypto.ts';
import type { IkeDecodeError } from './errors.ts';
import { ikeDecodeError } from './errors.ts';
import { decodePayloadChain, encodePayloadChain, firstPayloadType, readChain, type Payload, type SkPayload } from './payloads.ts';
import { decoding, Reader, reject, Writer } from './reader.ts';

/** IKE header (RFC 7296 §3.1) without its derived fields (Next Payload, Length). */
export interface IkeHeader {
  spiI: Uint8Array;
  spiR: Uint8Array;
  exchangeType: number;
  /** The flags octet: FLAG_INITIATOR | FLAG_VERSION | FLAG_RESPONSE and reserved bits. */
  flags: number;
  messageId: number;
  /** Minor version, kept only when non-zero (RFC 7296 §3.1: ignored on receipt). */
  minorVersion?: number;
}

export interface IkeMessage {
  header: IkeHeader;
  payloads: Payload[];
}

/** The fixed header with its derived fields, for demultiplexing before the chain is parsed. */
export interface IkeHeaderView extends IkeHeader {
  nextPayload: number;
  length: number;
}

const isUint = (v: number, bits: number): boolean => Number.isInteger(v) && v >= 0 && v < 2 ** bits;

function writeHeader(w: Writer, h: IkeHeader, nextPayload: number, length: number): void {
  assert(h.spiI.length === IKE_SPI_BYTES && h.spiR.length === IKE_SPI_BYTES, 'IKE SPIs are 8 bytes');
  const minor = h.minorVersion ?? 0;
  assert(isUint(h.exchangeType, 8) && isUint(h.flags, 8) && isUint(h.messageId, 32) && isUint(minor, 4), 'IKE header fields');
  w.bytes(h.spiI)
    .bytes(h.spiR)
    .u8(nextPayload)
    .u8((IKE_MAJOR_VERSION << 4) | minor)
    .u8(h.exchangeType)
    .u8(h.flags)
    .u32(h.messageId)
    .u32(length);
}

export function encodeMessage(m: IkeMessage): Uint8Array {
  const chain = encodePayloadChain(m.payloads);
  const w = new Writer();
  writeHeader(w, m.header, firstPayloadType(m.payloads), IKE_HEADER_BYTES + chain.length);
  return w.bytes(chain).finish();
}

function readHeader(r: Reader): IkeHeaderView {
  const spiI = r.take(IKE_SPI_BYTES, 'header.spiI');
  const spiR = r.take(IKE_SPI_BYTES, 'header.spiR');
  const nextPayload = r.u8('header.nextPayload');
  const version = r.u8('header.version');
  // RFC 7296 §2.5: a message with a major version other than 2 is dropped (INVALID_MAJOR_VERSION).
  if (version >> 4 !== IKE_MAJOR_VERSION) reject('BAD_VERSION', 'header.version', `major version ${version >> 4}`);
  const exchangeType = r.u8('header.exchangeType');
  const flags = r.u8('header.flags');
  const messageId = r.u32('header.messageId');
  const length = r.u32('header.length');
  const h: IkeHeaderView = { spiI, spiR, exchangeType, flags, messageId, nextPayload, length };
  if (version & 0x0f) h.minorVersion = version & 0x0f;
  return h;
}

/** Reads only the fixed header and checks Length against the datagram. */
export function decodeHeader(bytes: Uint8Array): Result<IkeHeaderView, IkeDecodeError> {
  return decoding(() => {
    const h = readHeader(new Reader(bytes));
    if (h.length < IKE_HEADER_BYTES) reject('BAD_LENGTH', 'header.length', `${h.length} < ${IKE_HEADER_BYTES}`);
    if (h.length > bytes.length) reject('TRUNCATED', 'header.length', `says ${h.length}, datagram has ${bytes.length}`);
    if (h.length < bytes.length) reject('TRAILING_BYTES', 'header.length', `says ${h.length}, datagram has ${bytes.length}`);
    return h;
  });
}

export function decodeMessage(bytes: Uint8Array): Result<IkeMessage, IkeDecodeError> {
  return decoding(() => {
    const r = new Reader(bytes);
    const view = readHeader(r);
    if (view.length < IKE_HEADER_BYTES) reject('BAD_LENGTH', 'header.length', `${view.length} < ${IKE_HEADER_BYTES}`);
    if (view.length > bytes.length) reject('TRUNCATED', 'header.length', `says ${view.length}, datagram has ${bytes.length}`);
    if (view.length < bytes.length) reject('TRAILING_BYTES', 'header.length', `says ${view.length}, datagram has ${bytes.length}`);
    const payloads = readChain(r, view.nextPayload, true, 'payload');
    const { nextPayload: _n, length: _l, ...header } = view;
    return { header, payloads };
  });
}

// --- The Encrypted payload with an AEAD (RFC 5282). ---

/**
 * Builds an encrypted message: HDR, [plain payloads], SK{inner}. RFC 5282 §3: the SK body is
 * IV (8) | ciphertext | ICV (16); the plaintext is the inner chain | Padding | Pad Length, and as
 * an AEAD needs no block alignment we send no padding (Pad Length 0). RFC 5282 §5.1: the AAD is
 * the message from the first octet of the IKE header to the last octet of the SK payload header,
 * with the Length field already final.
 */
export function encodeEncryptedMessage(header: IkeHeader, inner: readonly Payload[], key: AeadKey, iv: Uint8Array, plain: readonly Payload[] = []): Uint8Array {
  assert(iv.length === AEAD_IV_BYTES, 'SK IV is 8 bytes');
  const plaintext = concat(encodePayloadChain(inner), Uint8Array.of(0)); // no padding, Pad Length 0
  const skBodyLength = AEAD_IV_BYTES + plaintext.length + AEAD_ICV_BYTES;
  const placeholder: SkPayload = { kind: 'sk', firstPayload: firstPayloadType(inner), body: new Uint8Array(skBodyLength) };
  const out = encodeMessage({ header, payloads: [...plain, placeholder] });
  const aadLength = out.length - skBodyLength;
  const sealed = aeadSeal(key, iv, out.subarray(0, aadLength), plaintext);
  out.set(iv, aadLength);
  out.set(sealed, aadLength + AEAD_IV_BYTES);
  return out;
}

/**
 * Opens the Encrypted payload of a decoded message and decodes the inner chain. The integrity check
 * runs before any byte of plaintext is looked at; failures return INTEGRITY (drop, never answer).
 */
export function openEncryptedMessage(bytes: Uint8Array, msg: IkeMessage, key: AeadKey): Result<Payload[], IkeDecodeError> {
  const sk = msg.payloads[msg.payloads.length - 1];
  if (sk === undefined || sk.kind !== 'sk') return err(ikeDecodeError('MISSING_PAYLOAD', 'payload.sk', 'no Encrypted payload'));
  return openSk(bytes, sk, key);
}

function openSk(bytes: Uint8Array, sk: SkPayload, key: AeadKey): Result<Payload[], IkeDecodeError> {
  if (sk.body.length < AEAD_IV_BYTES + AEAD_ICV_BYTES + 1)
    return err(ikeDecodeError('TRUNCATED', 'payload.sk.body', `${sk.body.length} bytes, needs IV, ICV and Pad Length`));
  // The SK payload is last, so everything before its body is the AAD.
  const aad = bytes.subarray(0, bytes.length - sk.body.length);
  const iv = sk.body.subarray(0, AEAD_IV_BYTES);
  const plaintext = aeadOpen(key, iv, aad, sk.body.subarray(AEAD_IV_BYTES));
  if (plaintext === undefined) return err(ikeDecodeError('INTEGRITY', 'payload.sk.icv', 'ICV does not verify'));
  const padLength = plaintext[plaintext.length - 1]!;
  if (padLength + 1 > plaintext.length) return err(ikeDecodeError('BAD_PADDING', 'payload.sk.padLength', `${padLength} with ${plaintext.length} bytes`));
  return decodePayloadChain(plaintext.subarray(0, plaintext.length - 1 - padLength), sk.firstPayload, false, 'sk');
}
