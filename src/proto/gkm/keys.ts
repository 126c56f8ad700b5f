// Group key cryptography on @noble: the default key-wrap key GSK_w, RFC 5649 key wrap, the layout of
// Rekey SA and Data-Security SA keying material, the GCKS's Ed25519 public key as an AUTH_KEY.
// Never draws randomness itself and never hand-rolls a primitive.

import { aeskwp } from '@noble/ciphers/aes.js';
import { concat, equalBytes } from '../../lib/bytes.ts';
import { assert } from '../../lib/errors.ts';
import { AEAD_KEY_BYTES, AEAD_SALT_BYTES, aeadKeyFrom, prfPlus, type AeadKey, type AeadSuite } from '../ike/index.ts';
import { KWA_KW_5649_128, KWA_KW_5649_192, KWA_KW_5649_256 } from './constants.ts';

/** Key-wrap-key sizes of the Key Wrap Algorithm transform IDs (RFC 5649 with AES-128/192/256). */
export const KWA_KEY_BYTES: ReadonlyMap<number, number> = new Map([
  [KWA_KW_5649_128, 16],
  [KWA_KW_5649_192, 24],
  [KWA_KW_5649_256, 32],
]);

/** RFC 9838 §3.1.1: GSK_w = prf+(SK_d, "Key Wrap for G-IKEv2") for the registration IKE SA. */
export const KEY_WRAP_LABEL = new TextEncoder().encode('Key Wrap for G-IKEv2');

export function deriveRegistrationGskW(skD: Uint8Array, kwa: number): Uint8Array {
  const n = KWA_KEY_BYTES.get(kwa);
  assert(n !== undefined, `unknown KWA ${kwa}`);
  return prfPlus(skD, KEY_WRAP_LABEL, n);
}

/** RFC 5649 AES Key Wrap with Padding of `key` under `kwk`. */
export function wrapKey(kwk: Uint8Array, key: Uint8Array): Uint8Array {
  assert(kwk.length === 16 || kwk.length === 24 || kwk.length === 32, 'KWK is an AES key');
  assert(key.length > 0, 'nothing to wrap');
  return aeskwp(kwk).encrypt(key);
}

/** The unwrapped key, or undefined when the RFC 5649 integrity check fails. */
export function unwrapKey(kwk: Uint8Array, wrapped: Uint8Array): Uint8Array | undefined {
  if (kwk.length !== 16 && kwk.length !== 24 && kwk.length !== 32) return undefined;
  try {
    return aeskwp(kwk).decrypt(wrapped);
  } catch {
    return undefined;
  }
}

/** The keys of a Rekey SA: GSK_e protects GSA_REKEY messages, GSK_w wraps keys sent over it. */
export interface RekeySaKeys {
  gskE: AeadKey;
  gskW: Uint8Array;
}

/** RFC 9838 §3.4: GSK_e | GSK_a | GSK_w = KEYMAT; with an AEAD, GSK_a is empty and GSK_e carries its salt. */
export function rekeyKeymatBytes(suite: AeadSuite, kwa: number): number {
  return AEAD_KEY_BYTES[suite] + AEAD_SALT_BYTES + (KWA_KEY_BYTES.get(kwa) ?? 0);
}

export function splitRekeyKeymat(suite: AeadSuite, kwa: number, km: Uint8Array): RekeySaKeys | undefined {
  if (km.length !== rekeyKeymatBytes(suite, kwa) || !KWA_KEY_BYTES.has(kwa)) return undefined;
  const e = AEAD_KEY_BYTES[suite] + AEAD_SALT_BYTES;
  return { gskE: aeadKeyFrom(suite, km.slice(0, e)), gskW: km.slice(e) };
}

export function joinRekeyKeymat(k: RekeySaKeys): Uint8Array {
  return concat(k.gskE.key, k.gskE.salt, k.gskW);
}

/** RFC 9838 §3.4 / RFC 7296 §2.17: ESP keying material is the encryption key then (AEAD) its 4-octet salt. */
export function tekKeymatBytes(suite: AeadSuite): number {
  return AEAD_KEY_BYTES[suite] + AEAD_SALT_BYTES;
}

/**
 * The DER SubjectPublicKeyInfo of an Ed25519 key (RFC 8410 §4): SEQUENCE { AlgorithmIdentifier
 * { id-Ed25519 }, BIT STRING (0 unused bits) key } — what AUTH_KEY carries (RFC 9838 §4.5.3.2).
 */
const ED25519_SPKI_PREFIX = new Uint8Array([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

export function ed25519Spki(publicKey: Uint8Array): Uint8Array {
  assert(publicKey.length === 32, 'Ed25519 public keys are 32 bytes');
  return concat(ED25519_SPKI_PREFIX, publicKey);
}

/** The raw key of an Ed25519 SubjectPublicKeyInfo, or undefined for anything else. */
export function ed25519FromSpki(spki: Uint8Array): Uint8Array | undefined {
  if (spki.length !== ED25519_SPKI_PREFIX.length + 32 || !equalBytes(spki.subarray(0, ED25519_SPKI_PREFIX.length), ED25519_SPKI_PREFIX)) return undefined;
  return spki.slice(ED25519_SPKI_PREFIX.length);
}
