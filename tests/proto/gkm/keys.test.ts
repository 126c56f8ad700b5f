// Group key cryptography checked against node:crypto (an independent implementation), the GSA_REKEY
// signature, and the key tree (LKH) against a naive model of who knows which key.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { createCipheriv, createHmac, createPublicKey } from 'node:crypto';
import { concat, hex } from '../../../src/lib/bytes.ts';
import { Pcg32 } from '../../../src/lib/rng.ts';
import {
  aeadKeyFrom,
  decodeMessage,
  ed25519PublicKey,
  encodeEncryptedMessage,
  PAYLOAD,
  randomBytes,
  type Payload,
} from '../../../src/proto/ike/index.ts';
import {
  deriveRegistrationGskW,
  ed25519FromSpki,
  ed25519Spki,
  encodeGsaRekey,
  GKM_EXCHANGE,
  gsaRekeyHeader,
  KeyTree,
  KWA_KW_5649_128,
  openGsaRekey,
  peekGsaRekey,
  resolveWrapped,
  unwrapKey,
  verifyGsaRekey,
  wrapKey,
  type TreeKey,
  type WrappedKey,
} from '../../../src/proto/gkm/index.ts';

describe('key wrap and key derivation, against node:crypto', () => {
  it('RFC 5649 AES-KWP equals OpenSSL id-aes128-wrap-pad, and unwraps', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ minLength: 1, maxLength: 64 }), (kwk, key) => {
        const ours = wrapKey(kwk, key);
        const c = createCipheriv('id-aes128-wrap-pad', kwk, Buffer.from('a65959a6', 'hex'));
        const theirs = Buffer.concat([c.update(key), c.final()]);
        expect(hex(ours)).toBe(theirs.toString('hex'));
        expect(hex(unwrapKey(kwk, ours)!)).toBe(hex(key));
      }),
      { numRuns: 200 },
    );
  });

  it('a wrong KWK or a flipped bit does not unwrap', () => {
    const kwk = new Uint8Array(16).fill(1);
    const w = wrapKey(kwk, new Uint8Array(20).fill(9));
    expect(unwrapKey(new Uint8Array(16).fill(2), w)).toBeUndefined();
    const bent = w.slice();
    bent[5]! ^= 0x40;
    expect(unwrapKey(kwk, bent)).toBeUndefined();
    expect(unwrapKey(kwk, w.subarray(0, 8))).toBeUndefined();
  });

  it('GSK_w = prf+(SK_d, "Key Wrap for G-IKEv2") (RFC 9838 §3.1.1), computed with node HMAC', () => {
    const skD = Uint8Array.from({ length: 32 }, (_, i) => i);
    const t1 = createHmac('sha256', skD).update(Buffer.concat([Buffer.from('Key Wrap for G-IKEv2'), Buffer.of(1)])).digest();
    expect(hex(deriveRegistrationGskW(skD, KWA_KW_5649_128))).toBe(t1.subarray(0, 16).toString('hex'));
  });

  it('AUTH_KEY is the Ed25519 SubjectPublicKeyInfo node:crypto exports', () => {
    const pub = ed25519PublicKey(new Uint8Array(32).fill(3));
    const der = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(pub).toString('base64url') }, format: 'jwk' }).export({ type: 'spki', format: 'der' });
    expect(hex(ed25519Spki(pub))).toBe(der.toString('hex'));
    expect(hex(ed25519FromSpki(ed25519Spki(pub))!)).toBe(hex(pub));
    expect(ed25519FromSpki(der.subarray(1))).toBeUndefined();
  });
});

describe('GSA_REKEY signature (RFC 9838 §2.4.1)', () => {
  const gcksSecret = new Uint8Array(32).fill(0x5a);
  const gcksPublic = ed25519PublicKey(gcksSecret);
  const kek = aeadKeyFrom('aes-gcm-128', Uint8Array.from({ length: 20 }, (_, i) => 0x40 + i));
  const spi = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
  const inner: Payload[] = [{ kind: 'delete', protocolId: 3, spiSize: 4, spis: [Uint8Array.of(1, 2, 3, 4)] }];

  function sealed(signingKey = gcksSecret): Uint8Array {
    return encodeGsaRekey({ spi, messageId: 9, inner, kek, iv: new Uint8Array(8).fill(1), signingKey });
  }

  function check(bytes: Uint8Array, key = kek, pub = gcksPublic): string {
    const peek = peekGsaRekey(bytes);
    if (!peek.ok) return peek.error.code;
    const opened = openGsaRekey(bytes, peek.value, key);
    if (!opened.ok) return opened.error.code;
    return verifyGsaRekey(peek.value.header, peek.value.skFlags, opened.value, pub) ? 'ok' : 'BAD_SIGNATURE';
  }

  it('HDR(exchange 41, I flag, Message ID), SK{D, AUTH}: opens with the KEK and verifies', () => {
    const bytes = sealed();
    const msg = decodeMessage(bytes);
    expect(msg.ok && msg.value.header).toMatchObject({ exchangeType: GKM_EXCHANGE.GSA_REKEY, flags: 0x08, messageId: 9 });
    expect(msg.ok && msg.value.payloads.map((p) => p.kind)).toEqual(['sk']);
    expect(check(bytes)).toBe('ok');
    const peeked = peekGsaRekey(bytes);
    if (!peeked.ok) throw new Error('does not decode');
    const opened = openGsaRekey(bytes, peeked.value, kek);
    expect(opened.ok && opened.value.map((p) => p.kind)).toEqual(['delete', 'auth']);
  });

  it('another signer, another KEK, a changed bit: refused', () => {
    expect(check(sealed(new Uint8Array(32).fill(0x66)))).toBe('BAD_SIGNATURE');
    expect(check(sealed(), aeadKeyFrom('aes-gcm-128', new Uint8Array(20)))).toBe('INTEGRITY');
    const bent = sealed();
    bent[bent.length - 1]! ^= 1;
    expect(check(bent)).toBe('INTEGRITY');
  });

  it('the signature covers the payloads: re-sealing other content under the same signature fails', () => {
    const genuine = sealed();
    const peek = peekGsaRekey(genuine);
    if (!peek.ok) throw new Error('does not decode');
    const opened = openGsaRekey(genuine, peek.value, kek);
    if (!opened.ok) throw new Error('does not open');
    const auth = opened.value[1]!;
    const other: Payload[] = [{ kind: 'delete', protocolId: 3, spiSize: 4, spis: [Uint8Array.of(9, 9, 9, 9)] }, auth];
    const resealed = encodeEncryptedMessage(gsaRekeyHeader(spi, 9), other, kek, new Uint8Array(8).fill(2));
    expect(check(resealed)).toBe('BAD_SIGNATURE');
  });

  it('a GSA_REKEY must be HDR, SK{…}: other exchanges and plain payloads are refused before any crypto', () => {
    const notRekey = encodeEncryptedMessage({ ...gsaRekeyHeader(spi, 1), exchangeType: 37 }, inner, kek, new Uint8Array(8));
    expect(check(notRekey)).toBe('UNEXPECTED_MESSAGE');
    expect(check(concat(sealed().subarray(0, 27)))).toBe('TRUNCATED');
    expect(PAYLOAD.SK).toBe(46);
  });
});

// --- The key tree against a model: each member knows the keys it was given or could unwrap. ---

describe('key tree (LKH) and the member working path', () => {
  type Model = { path: TreeKey[]; kek: Uint8Array };

  it('after any sequence of joins and leaves, exactly the remaining members follow each rekey', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.array(fc.tuple(fc.boolean(), fc.nat(), fc.boolean()), { minLength: 1, maxLength: 60 }), fc.integer(), (capacity, ops, seed) => {
        const rng = new Pcg32(BigInt(seed >>> 0), 7n);
        const tree = new KeyTree(capacity, () => randomBytes(rng, 16));
        const members = new Map<number, Model>(); // leaf → what that member holds
        const gone: Model[] = [];
        let next = 0;
        for (const [join, pick, refresh] of ops) {
          const kek = randomBytes(rng, 36);
          const gskW = randomBytes(rng, 16);
          if (join || members.size === 0) {
            const seat = tree.join(refresh);
            if (!seat) {
              expect(members.size).toBe(tree.leaves);
              continue;
            }
            const wraps = seat.updates.map((op) => ({ keyId: op.keyId, kwkId: op.kwkId, wrapped: wrapKey(op.kwk ?? gskW, op.key) }));
            const root = tree.root()!;
            const saKey: WrappedKey = { keyId: 0, kwkId: root.id, wrapped: wrapKey(root.key, kek) };
            // The others follow the update (they hold the old KEK, the message's default KWK is gskW).
            for (const m of members.values()) {
              const r = resolveWrapped([saKey], wraps, m.path, gskW, unwrapKey);
              expect(r.ok).toBe(true);
              if (r.ok) Object.assign(m, { path: r.workingPath, kek: r.material });
            }
            // The joiner gets its path at registration under its registration GSK_w.
            const regKwk = randomBytes(rng, 16);
            const pathWraps = tree.pathWraps(seat.leaf).map((op) => ({ keyId: op.keyId, kwkId: op.kwkId, wrapped: wrapKey(op.kwk ?? regKwk, op.key) }));
            const r = resolveWrapped([saKey], pathWraps, [], regKwk, unwrapKey);
            expect(r.ok).toBe(true);
            if (r.ok) members.set(seat.leaf, { path: r.workingPath, kek: r.material });
            expect(r.ok && r.workingPath.length).toBe(tree.depth + 1);
            next += 1;
          } else {
            const leaves = [...members.keys()];
            const leaf = leaves[pick % leaves.length]!;
            const leaver = members.get(leaf)!;
            members.delete(leaf);
            gone.push(leaver);
            const updates = tree.leave(leaf, true);
            const root = tree.root();
            if (!root) continue;
            const wraps = updates.map((op) => ({ keyId: op.keyId, kwkId: op.kwkId, wrapped: wrapKey(op.kwk ?? gskW, op.key) }));
            const saKey: WrappedKey = { keyId: 0, kwkId: root.id, wrapped: wrapKey(root.key, kek) };
            // RFC 9838 §3.2.1: at most two wraps per level.
            expect(wraps.length).toBeLessThanOrEqual(2 * tree.depth);
            for (const m of members.values()) {
              const r = resolveWrapped([saKey], wraps, m.path, gskW, unwrapKey);
              expect(r.ok).toBe(true);
              if (r.ok) {
                expect(hex(r.material)).toBe(hex(kek));
                Object.assign(m, { path: r.workingPath, kek: r.material });
                expect(m.path.length).toBe(tree.depth + 1);
              }
            }
            // Nobody who left can follow, whatever it kept.
            for (const g of gone) expect(resolveWrapped([saKey], wraps, g.path, gskW, unwrapKey)).toEqual({ ok: false, code: 'NO_KEY_PATH' });
          }
        }
        expect(next).toBeGreaterThan(0);
      }),
      { numRuns: 150 },
    );
  });

  it('cycles and unknown KWKs in WRAP_KEYs end in NO_KEY_PATH, not a loop', () => {
    const k = new Uint8Array(16).fill(4);
    const wraps: WrappedKey[] = [
      { keyId: 5, kwkId: 6, wrapped: wrapKey(k, k) },
      { keyId: 6, kwkId: 5, wrapped: wrapKey(k, k) },
    ];
    expect(resolveWrapped([{ keyId: 0, kwkId: 5, wrapped: wrapKey(k, k) }], wraps, [], new Uint8Array(16), unwrapKey)).toEqual({ ok: false, code: 'NO_KEY_PATH' });
    expect(resolveWrapped([{ keyId: 0, kwkId: 0, wrapped: wrapKey(k, k) }], [], [], new Uint8Array(16).fill(1), unwrapKey)).toEqual({ ok: false, code: 'UNWRAP_FAILED' });
  });
});
