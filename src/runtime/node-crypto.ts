// Node's own X25519 (OpenSSL) for the IKEv2 / G-IKEv2 Diffie-Hellman: the same RFC 7748 function as
// @noble/curves, about ten times faster. Installed by the Node runtimes (single thread and each
// worker) so a thousand registrations do not spend seconds in a JS ladder. Node-only: never import
// this from code bundled for the browser, which keeps noble's.
import { createPrivateKey, createPublicKey, diffieHellman, type KeyObject } from 'node:crypto';
import { useX25519Backend, type X25519Backend } from '../proto/ike/crypto.ts';

// Keys go in as JWK (RFC 8037 OKP): OpenSSL's DER decoders cost ~0.3 ms a key, the raw import ~0.03.
// A private JWK must carry `x`; Node builds the key from `d` alone, so a placeholder stands in (the
// tests compare every result with noble's, so a Node that checked `x` would fail them, not mislead).
const X_PLACEHOLDER = 'A'.repeat(43);
const b64url = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString('base64url');

function privateKey(secret: Uint8Array): KeyObject {
  if (secret.length !== 32) throw new RangeError(`X25519 private key must be 32 octets, got ${secret.length}`);
  return createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: b64url(secret), x: X_PLACEHOLDER }, format: 'jwk' });
}

function publicKey(pub: Uint8Array): KeyObject {
  if (pub.length !== 32) throw new RangeError(`X25519 public key must be 32 octets, got ${pub.length}`);
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64url(pub) }, format: 'jwk' });
}

export const NODE_X25519: X25519Backend = {
  name: 'node:crypto',
  publicKey(secret) {
    const x = createPublicKey(privateKey(secret)).export({ format: 'jwk' }).x;
    return new Uint8Array(Buffer.from(x ?? '', 'base64url'));
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
