// Node's own X25519 (OpenSSL) for the IKEv2 / G-IKEv2 Diffie-Hellman: the same RFC 7748 function as
// @noble/curves, about ten times faster. Installed by the Node runtimes (single thread and each
// worker) so a thousand registrations do not spend seconds in a JS ladder. Node-only: never import
// this from code bundled for the browser, which keeps noble's.
import { createPrivateKey, createPublicKey, diffieHellman, type KeyObject } from 'node:crypto';
import { useX25519Backend, type X25519Backend } from '../proto/ike/crypto.ts';

// DER wrappers of a raw 32-octet X25519 key (RFC 8410 §7 and §4: id-X25519 is 1.3.101.110).
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

function privateKey(secret: Uint8Array): KeyObject {
  if (secret.length !== 32) throw new RangeError(`X25519 private key must be 32 octets, got ${secret.length}`);
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, secret]), format: 'der', type: 'pkcs8' });
}

function publicKey(pub: Uint8Array): KeyObject {
  if (pub.length !== 32) throw new RangeError(`X25519 public key must be 32 octets, got ${pub.length}`);
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, pub]), format: 'der', type: 'spki' });
}

export const NODE_X25519: X25519Backend = {
  name: 'node:crypto',
  publicKey(secret) {
    const der = createPublicKey(privateKey(secret)).export({ format: 'der', type: 'spki' });
    return new Uint8Array(der.subarray(der.length - 32));
  },
  sharedSecret(secret, peerPublic) {
    // OpenSSL refuses an all-zero result (a low-order peer value), as noble does: both throw.
    const s = diffieHellman({ privateKey: privateKey(secret), publicKey: publicKey(peerPublic) });
    return new Uint8Array(s.buffer, s.byteOffset, s.length);
  },
};

/** Makes this thread's X25519 Node's (idempotent). */
export function installNodeCrypto(): void {
  useX25519Backend(NODE_X25519);
}
