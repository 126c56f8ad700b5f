// IKEv2 cryptography on @noble: prf/prf+, the key schedules, D-H groups 31 and 19, the AEADs, AUTH.
// Never draws randomness itself (callers pass a source) and never hand-rolls a primitive.
//
// PRF_HMAC_SHA2_256 and prf+ (RFC 7296 §2.13); SKEYSEED and SK_* (§2.14); Child SA KEYMAT (§2.17);
// Curve25519 (RFC 8031), ECP-256 (RFC 5903); AES-GCM-16 (RFC 5282, RFC 4106), ChaCha20-Poly1305
// (RFC 7634); shared-key and Ed25519 AUTH (§2.15, RFC 7427, RFC 8420).

import { gcm } from '@noble/ciphers/aes.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { assert } from '../../lib/errors.ts';
import { concat, equalBytes } from '../../lib/bytes.ts';
import type { Rng } from '../../lib/rng.ts';
import { DH_CURVE25519, DH_ECP_256, ED25519_ALGORITHM_IDENTIFIER } from './constants.ts';

// --- Randomness comes in from the caller. ---

/** Only `nextU32` is needed: any seeded stream will do. */
export type RandomSource = Pick<Rng, 'nextU32'>;

export function randomBytes(rng: RandomSource, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 4) {
    const v = rng.nextU32();
    for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = (v >>> (24 - 8 * j)) & 0xff;
  }
  return out;
}

// --- PRF_HMAC_SHA2_256 (RFC 4868) and prf+ (RFC 7296 §2.13). ---

/** RFC 7296 §2.13: for HMAC PRFs the preferred key size is the hash output size. */
export const PRF_KEY_BYTES = 32;
export const PRF_OUTPUT_BYTES = 32;
const PRF_PLUS_BLOCKS_MAX = 255;

export function prf(key: Uint8Array, data: Uint8Array): Uint8Array {
  return hmac(sha256, key, data);
}

/** prf+(K, S) = T1 | T2 | …, T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n), n ≤ 255. */
export function prfPlus(key: Uint8Array, seed: Uint8Array, length: number): Uint8Array {
  assert(length <= PRF_PLUS_BLOCKS_MAX * PRF_OUTPUT_BYTES, `prf+ cannot give ${length} bytes`);
  const out = new Uint8Array(length);
  let t: Uint8Array = new Uint8Array(0);
  for (let n = 1, o = 0; o < length; n++) {
    t = prf(key, concat(t, seed, Uint8Array.of(n)));
    out.set(t.subarray(0, Math.min(t.length, length - o)), o);
    o += t.length;
  }
  return out;
}

// --- AEADs (the SK payload of the IKE SA and the ESP Child SAs share names and key layout). ---

/** The AEAD suites; the same strings as the data plane's ESP suites. */
export type AeadSuite = 'aes-gcm-128' | 'aes-gcm-256' | 'chacha20-poly1305';
export const AEAD_KEY_BYTES: Record<AeadSuite, number> = { 'aes-gcm-128': 16, 'aes-gcm-256': 32, 'chacha20-poly1305': 32 };
/** RFC 5282 §7.1, RFC 4106 §8.1, RFC 7634 §4: 4 octets of salt follow each key in the keying material. */
export const AEAD_SALT_BYTES = 4;
export const AEAD_IV_BYTES = 8;
export const AEAD_ICV_BYTES = 16;

export interface AeadKey {
  suite: AeadSuite;
  key: Uint8Array;
  salt: Uint8Array;
}

/** Splits keying material `key | salt` (RFC 5282 §7.1: the salt is the last four octets). */
export function aeadKeyFrom(suite: AeadSuite, material: Uint8Array): AeadKey {
  assert(material.length === AEAD_KEY_BYTES[suite] + AEAD_SALT_BYTES, `${suite} keying material length ${material.length}`);
  return { suite, key: material.slice(0, AEAD_KEY_BYTES[suite]), salt: material.slice(AEAD_KEY_BYTES[suite]) };
}

function aead(k: AeadKey, iv: Uint8Array, aad: Uint8Array) {
  assert(k.key.length === AEAD_KEY_BYTES[k.suite] && k.salt.length === AEAD_SALT_BYTES && iv.length === AEAD_IV_BYTES, 'AEAD parameters');
  const nonce = concat(k.salt, iv); // RFC 5282 §4 / RFC 7634 §2: salt | IV
  return k.suite === 'chacha20-poly1305' ? chacha20poly1305(k.key, nonce, aad) : gcm(k.key, nonce, aad);
}

/** ciphertext | ICV. */
export function aeadSeal(k: AeadKey, iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
  return aead(k, iv, aad).encrypt(plaintext);
}

/** The plaintext, or undefined when the ICV does not verify (checked before anything is released). */
export function aeadOpen(k: AeadKey, iv: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | undefined {
  if (sealed.length < AEAD_ICV_BYTES) return undefined;
  try {
    return aead(k, iv, aad).decrypt(sealed);
  } catch {
    return undefined;
  }
}

// --- Diffie-Hellman groups. ---

export interface DhGroup {
  id: number;
  /** Length of the Key Exchange Data. */
  publicBytes: number;
  /** A private value from random bytes (retrying is the caller's job if `undefined`). */
  secretFrom(random: Uint8Array): Uint8Array | undefined;
  publicKey(secret: Uint8Array): Uint8Array;
  /** g^ir, or undefined for a peer value of the wrong length, off the curve, or giving zero. */
  sharedSecret(secret: Uint8Array, peerPublic: Uint8Array): Uint8Array | undefined;
}

/**
 * X25519 (RFC 7748) as the Curve25519 group computes it: @noble/curves unless a runtime installs a
 * faster implementation of the same function (the Node runtime installs node:crypto's, about ten
 * times faster, which matters when a thousand members register). Both throw for bad input.
 */
export interface X25519Backend {
  readonly name: string;
  publicKey(secret: Uint8Array): Uint8Array;
  sharedSecret(secret: Uint8Array, peerPublic: Uint8Array): Uint8Array;
}

export const NOBLE_X25519: X25519Backend = {
  name: 'noble',
  publicKey: (secret) => x25519.getPublicKey(secret),
  sharedSecret: (secret, peerPublic) => x25519.getSharedSecret(secret, peerPublic),
};

let x25519Backend: X25519Backend = NOBLE_X25519;

/** Installs `backend` for every later X25519 computation in this thread; returns the one it replaces. */
export function useX25519Backend(backend: X25519Backend): X25519Backend {
  const before = x25519Backend;
  x25519Backend = backend;
  return before;
}

const CURVE25519: DhGroup = {
  id: DH_CURVE25519,
  publicBytes: 32,
  secretFrom: (random) => random.slice(0, 32),
  publicKey: (secret) => x25519Backend.publicKey(secret),
  sharedSecret(secret, peerPublic) {
    if (peerPublic.length !== 32) return undefined;
    try {
      const s = x25519Backend.sharedSecret(secret, peerPublic);
      // RFC 8031 §2: an all-zero result MUST be rejected (noble throws for it already).
      return s.every((b) => b === 0) ? undefined : s;
    } catch {
      return undefined;
    }
  },
};

/** RFC 5903 §7: Key Exchange Data is x | y (64 octets); the shared secret is the x coordinate. */
const ECP_256: DhGroup = {
  id: DH_ECP_256,
  publicBytes: 64,
  secretFrom: (random) => (p256.utils.isValidSecretKey(random.subarray(0, 32)) ? random.slice(0, 32) : undefined),
  publicKey: (secret) => p256.getPublicKey(secret, false).slice(1),
  sharedSecret(secret, peerPublic) {
    if (peerPublic.length !== 64) return undefined;
    try {
      return p256.getSharedSecret(secret, concat(Uint8Array.of(4), peerPublic), true).slice(1);
    } catch {
      return undefined;
    }
  },
};

export const DH_GROUPS: ReadonlyMap<number, DhGroup> = new Map([
  [DH_CURVE25519, CURVE25519],
  [DH_ECP_256, ECP_256],
]);

export interface DhKeyPair {
  group: number;
  secret: Uint8Array;
  publicKey: Uint8Array;
}

const DH_KEYGEN_TRIES_MAX = 16;

export function generateDhKeyPair(group: number, rng: RandomSource): DhKeyPair {
  const g = DH_GROUPS.get(group);
  assert(g !== undefined, `unsupported D-H group ${group}`);
  for (let i = 0; i < DH_KEYGEN_TRIES_MAX; i++) {
    const secret = g.secretFrom(randomBytes(rng, 32));
    if (secret) return { group, secret, publicKey: g.publicKey(secret) };
  }
  assert(false, 'D-H key generation: random source gave no valid scalar');
}

// --- IKE SA keys (RFC 7296 §2.14). ---

export interface IkeSaKeys {
  skeyseed: Uint8Array;
  skD: Uint8Array;
  /** Empty with an AEAD (RFC 5282 §7.1: no integrity keys). */
  skAi: Uint8Array;
  skAr: Uint8Array;
  skEi: AeadKey;
  skEr: AeadKey;
  skPi: Uint8Array;
  skPr: Uint8Array;
}

export interface IkeSaKeyInputs {
  /** g^ir. */
  sharedSecret: Uint8Array;
  ni: Uint8Array;
  nr: Uint8Array;
  spiI: Uint8Array;
  spiR: Uint8Array;
  encr: AeadSuite;
}

/**
 * SKEYSEED = prf(Ni | Nr, g^ir);
 * {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr).
 * SK_d, SK_pi, SK_pr have the PRF's preferred key size; SK_ai/SK_ar are absent with an AEAD;
 * SK_ei/SK_er are the AEAD key plus its 4-octet salt.
 */
export function deriveIkeSaKeys(p: IkeSaKeyInputs): IkeSaKeys {
  const skeyseed = prf(concat(p.ni, p.nr), p.sharedSecret);
  const encrBytes = AEAD_KEY_BYTES[p.encr] + AEAD_SALT_BYTES;
  const total = 3 * PRF_KEY_BYTES + 2 * encrBytes;
  const km = prfPlus(skeyseed, concat(p.ni, p.nr, p.spiI, p.spiR), total);
  let o = 0;
  const next = (n: number) => km.slice(o, (o += n));
  const skD = next(PRF_KEY_BYTES);
  const skEi = aeadKeyFrom(p.encr, next(encrBytes));
  const skEr = aeadKeyFrom(p.encr, next(encrBytes));
  const skPi = next(PRF_KEY_BYTES);
  const skPr = next(PRF_KEY_BYTES);
  km.fill(0);
  return { skeyseed, skD, skAi: new Uint8Array(0), skAr: new Uint8Array(0), skEi, skEr, skPi, skPr };
}

// --- Child SA keys (RFC 7296 §2.17). ---

export interface ChildKeymat {
  /** Protects traffic from the initiator of the exchange that created the Child SA to its responder. */
  initiatorToResponder: AeadKey;
  responderToInitiator: AeadKey;
}

/**
 * KEYMAT = prf+(SK_d, Ni | Nr), or prf+(SK_d, g^ir (new) | Ni | Nr) with a PFS KE in CREATE_CHILD_SA.
 * Ni, Nr are those of IKE_SA_INIT for the Child SA of IKE_AUTH, else those of the CREATE_CHILD_SA
 * exchange. Keys for initiator-to-responder come first (§2.17), each as key | salt (RFC 4106 §8.1,
 * RFC 7634 §4); no integrity keys with an AEAD.
 */
export function deriveChildKeymat(p: { skD: Uint8Array; ni: Uint8Array; nr: Uint8Array; suite: AeadSuite; pfsSharedSecret?: Uint8Array }): ChildKeymat {
  const each = AEAD_KEY_BYTES[p.suite] + AEAD_SALT_BYTES;
  const seed = p.pfsSharedSecret ? concat(p.pfsSharedSecret, p.ni, p.nr) : concat(p.ni, p.nr);
  const km = prfPlus(p.skD, seed, 2 * each);
  const out = {
    initiatorToResponder: aeadKeyFrom(p.suite, km.subarray(0, each)),
    responderToInitiator: aeadKeyFrom(p.suite, km.subarray(each)),
  };
  km.fill(0);
  return out;
}

// --- Authentication (RFC 7296 §2.15, RFC 7427, RFC 8420). ---

/** RFC 7296 §2.15: the pad string of the shared-key AUTH. */
export const KEY_PAD = new TextEncoder().encode('Key Pad for IKEv2');

/**
 * InitiatorSignedOctets = RealMessage1 | NonceRData | prf(SK_pi, RestOfInitIDPayload), and the
 * responder's with RealMessage2, NonceIData and SK_pr. `idBody` is the ID payload without its
 * generic header (ID Type, RESERVED, data).
 */
export function signedOctets(realMessage: Uint8Array, peerNonce: Uint8Array, skP: Uint8Array, idBody: Uint8Array): Uint8Array {
  return concat(realMessage, peerNonce, prf(skP, idBody));
}

/** AUTH = prf(prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>). */
export function pskAuthData(psk: Uint8Array, octets: Uint8Array): Uint8Array {
  return prf(prf(psk, KEY_PAD), octets);
}

export function pskAuthVerify(psk: Uint8Array, octets: Uint8Array, data: Uint8Array): boolean {
  return equalBytes(pskAuthData(psk, octets), data);
}

/**
 * RFC 7427 §3 Authentication Data: ASN.1 Length (1) | AlgorithmIdentifier | Signature Value; with
 * RFC 8420 the AlgorithmIdentifier is id-Ed25519 and the signature is pure Ed25519 over SignedOctets.
 */
export function ed25519AuthData(secretKey: Uint8Array, octets: Uint8Array): Uint8Array {
  return concat(Uint8Array.of(ED25519_ALGORITHM_IDENTIFIER.length), ED25519_ALGORITHM_IDENTIFIER, ed25519.sign(octets, secretKey));
}

/**
 * Recent verifications, newest last. A GSA_REKEY goes byte-identical to every member of a group, so
 * N members verify the same (key, octets, signature): verification is a pure function of those
 * bytes, and the answer is reused (compared byte for byte, never hashed) instead of recomputed.
 */
const verified: { publicKey: Uint8Array; octets: Uint8Array; signature: Uint8Array; ok: boolean }[] = [];
const VERIFIED_KEPT = 8;

function ed25519VerifyMemo(signature: Uint8Array, octets: Uint8Array, publicKey: Uint8Array): boolean {
  for (let i = verified.length - 1; i >= 0; i--) {
    const v = verified[i]!;
    if (equalBytes(v.signature, signature) && equalBytes(v.publicKey, publicKey) && equalBytes(v.octets, octets)) return v.ok;
  }
  let ok: boolean;
  try {
    ok = ed25519.verify(signature, octets, publicKey);
  } catch {
    ok = false;
  }
  if (verified.length >= VERIFIED_KEPT) verified.shift();
  verified.push({ publicKey: publicKey.slice(), octets: octets.slice(), signature: signature.slice(), ok });
  return ok;
}

export function ed25519AuthVerify(publicKey: Uint8Array, octets: Uint8Array, data: Uint8Array): boolean {
  const algLen = ED25519_ALGORITHM_IDENTIFIER.length;
  if (data.length !== 1 + algLen + 64 || data[0] !== algLen) return false;
  if (!equalBytes(data.subarray(1, 1 + algLen), ED25519_ALGORITHM_IDENTIFIER)) return false;
  return ed25519VerifyMemo(data.subarray(1 + algLen), octets, publicKey);
}

export function ed25519PublicKey(secretKey: Uint8Array): Uint8Array {
  return ed25519.getPublicKey(secretKey);
}
