import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  createCipheriv,
  createECDH,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  sign as nodeSign,
  verify as nodeVerify,
  type KeyObject,
} from 'node:crypto';
import { concat, fromHex, hex } from '../../../src/lib/bytes.ts';
import { Pcg32 } from '../../../src/lib/rng.ts';
import {
  aeadOpen,
  aeadSeal,
  DH_CURVE25519,
  DH_ECP_256,
  DH_GROUPS,
  deriveChildKeymat,
  deriveIkeSaKeys,
  ED25519_ALGORITHM_IDENTIFIER,
  ed25519AuthData,
  ed25519AuthVerify,
  ed25519PublicKey,
  generateDhKeyPair,
  prf,
  prfPlus,
  pskAuthData,
  pskAuthVerify,
  randomBytes,
  signedOctets,
} from '../../../src/proto/ike/index.ts';

// --- An independent reference on node:crypto, written from RFC 7296 §2.13, §2.14, §2.17. ---

const hmac = (key: Uint8Array, data: Uint8Array) => new Uint8Array(createHmac('sha256', key).update(data).digest());

function refPrfPlus(key: Uint8Array, seed: Uint8Array, length: number): Uint8Array {
  const blocks: Uint8Array[] = [];
  let t: Uint8Array = new Uint8Array(0);
  for (let n = 1; blocks.length * 32 < length; n++) {
    t = hmac(key, Buffer.concat([t, seed, Buffer.from([n])]));
    blocks.push(t);
  }
  return new Uint8Array(Buffer.concat(blocks).subarray(0, length));
}

const b64u = (s: string) => new Uint8Array(Buffer.from(s, 'base64url'));
function rawX25519(k: { privateKey: KeyObject; publicKey: KeyObject }): { priv: Uint8Array; pub: Uint8Array } {
  const jwk = k.privateKey.export({ format: 'jwk' });
  return { priv: b64u(jwk.d!), pub: b64u(jwk.x!) };
}

describe('prf and prf+ (RFC 7296 §2.13, PRF_HMAC_SHA2_256)', () => {
  it('prf is HMAC-SHA-256 (RFC 4231 test case 2)', () => {
    expect(hex(prf(new TextEncoder().encode('Jefe'), new TextEncoder().encode('what do ya want for nothing?')))).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  it('prf+ equals the reference for any key, seed and length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 100 }), fc.integer({ min: 0, max: 400 }), (k, s, n) => {
        expect(hex(prfPlus(k, s, n))).toBe(hex(refPrfPlus(k, s, n)));
      }),
      { numRuns: 100 },
    );
  });
});

describe('IKE SA and Child SA keys against node:crypto (RFC 7296 §2.14, §2.17)', () => {
  const rng = new Pcg32(7n, 1n);
  const ni = randomBytes(rng, 32);
  const nr = randomBytes(rng, 32);
  const spiI = fromHex('c9828f911592e274');
  const spiR = fromHex('3aefda872a228132');
  const a = rawX25519(generateKeyPairSync('x25519'));
  const bPair = generateKeyPairSync('x25519');
  const b = rawX25519(bPair);
  const gir = new Uint8Array(diffieHellman({ privateKey: createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: Buffer.from(a.priv).toString('base64url'), x: Buffer.from(a.pub).toString('base64url') }, format: 'jwk' }), publicKey: bPair.publicKey }));

  it('X25519 g^ir from @noble equals node:crypto, from either side (RFC 8031)', () => {
    const g = DH_GROUPS.get(DH_CURVE25519)!;
    expect(hex(g.publicKey(a.priv))).toBe(hex(a.pub));
    expect(hex(g.sharedSecret(a.priv, b.pub)!)).toBe(hex(gir));
    expect(hex(g.sharedSecret(b.priv, a.pub)!)).toBe(hex(gir));
    // RFC 8031 §2: a low-order public value gives the all-zero secret and is refused.
    expect(g.sharedSecret(a.priv, new Uint8Array(32))).toBeUndefined();
    expect(g.sharedSecret(a.priv, new Uint8Array(31))).toBeUndefined();
  });

  it('SKEYSEED, SK_d, SK_ei/SK_er with salt, SK_pi, SK_pr for AES-GCM-16/128', () => {
    const skeyseed = hmac(concat(ni, nr), gir);
    // SK_d (32) | SK_ai (0) | SK_ar (0) | SK_ei (16 + 4) | SK_er (16 + 4) | SK_pi (32) | SK_pr (32) = 136 octets
    const km = refPrfPlus(skeyseed, concat(ni, nr, spiI, spiR), 136);
    const k = deriveIkeSaKeys({ sharedSecret: gir, ni, nr, spiI, spiR, encr: 'aes-gcm-128' });
    expect(hex(k.skeyseed)).toBe(hex(skeyseed));
    expect(hex(k.skD)).toBe(hex(km.subarray(0, 32)));
    expect(k.skAi.length + k.skAr.length).toBe(0);
    expect(hex(k.skEi.key)).toBe(hex(km.subarray(32, 48)));
    expect(hex(k.skEi.salt)).toBe(hex(km.subarray(48, 52)));
    expect(hex(k.skEr.key)).toBe(hex(km.subarray(52, 68)));
    expect(hex(k.skEr.salt)).toBe(hex(km.subarray(68, 72)));
    expect(hex(k.skPi)).toBe(hex(km.subarray(72, 104)));
    expect(hex(k.skPr)).toBe(hex(km.subarray(104, 136)));
  });

  it('SK_ei/SK_er for AES-GCM-16/256 take 36 octets each', () => {
    const km = refPrfPlus(hmac(concat(ni, nr), gir), concat(ni, nr, spiI, spiR), 32 + 36 + 36 + 64);
    const k = deriveIkeSaKeys({ sharedSecret: gir, ni, nr, spiI, spiR, encr: 'aes-gcm-256' });
    expect(hex(concat(k.skEi.key, k.skEi.salt, k.skEr.key, k.skEr.salt))).toBe(hex(km.subarray(32, 104)));
    expect(hex(k.skPr)).toBe(hex(km.subarray(136, 168)));
  });

  it('Child SA KEYMAT without PFS: initiator-to-responder key | salt first (§2.17, RFC 4106 §8.1)', () => {
    const skD = deriveIkeSaKeys({ sharedSecret: gir, ni, nr, spiI, spiR, encr: 'aes-gcm-128' }).skD;
    for (const [suite, keyBytes] of [['aes-gcm-128', 16], ['aes-gcm-256', 32], ['chacha20-poly1305', 32]] as const) {
      const km = refPrfPlus(skD, concat(ni, nr), 2 * (keyBytes + 4));
      const c = deriveChildKeymat({ skD, ni, nr, suite });
      expect(hex(concat(c.initiatorToResponder.key, c.initiatorToResponder.salt, c.responderToInitiator.key, c.responderToInitiator.salt))).toBe(hex(km));
      expect(c.initiatorToResponder.key.length).toBe(keyBytes);
    }
  });

  it('Child SA KEYMAT with a PFS KE in CREATE_CHILD_SA: prf+(SK_d, g^ir (new) | Ni | Nr)', () => {
    const skD = deriveIkeSaKeys({ sharedSecret: gir, ni, nr, spiI, spiR, encr: 'aes-gcm-128' }).skD;
    const n2i = randomBytes(rng, 32);
    const n2r = randomBytes(rng, 32);
    const c1 = generateKeyPairSync('x25519');
    const c2 = generateKeyPairSync('x25519');
    const girNew = new Uint8Array(diffieHellman({ privateKey: c1.privateKey, publicKey: c2.publicKey }));
    const ours = DH_GROUPS.get(DH_CURVE25519)!.sharedSecret(rawX25519(c1).priv, rawX25519(c2).pub)!;
    expect(hex(ours)).toBe(hex(girNew));
    const km = refPrfPlus(skD, concat(girNew, n2i, n2r), 40);
    const c = deriveChildKeymat({ skD, ni: n2i, nr: n2r, suite: 'aes-gcm-128', pfsSharedSecret: ours });
    expect(hex(concat(c.initiatorToResponder.key, c.initiatorToResponder.salt, c.responderToInitiator.key, c.responderToInitiator.salt))).toBe(hex(km));
  });
});

describe('D-H group 19, 256-bit random ECP (RFC 5903 §7)', () => {
  it('x | y public value and the x-coordinate secret agree with node:crypto', () => {
    const g = DH_GROUPS.get(DH_ECP_256)!;
    const ours = generateDhKeyPair(DH_ECP_256, new Pcg32(3n, 3n));
    expect(ours.publicKey.length).toBe(64);
    const node = createECDH('prime256v1');
    node.generateKeys();
    const nodePub = new Uint8Array(node.getPublicKey()).subarray(1); // drop the 0x04 prefix
    const want = new Uint8Array(node.computeSecret(Buffer.concat([Buffer.from([4]), Buffer.from(ours.publicKey)])));
    expect(hex(g.sharedSecret(ours.secret, nodePub)!)).toBe(hex(want));
    expect(g.sharedSecret(ours.secret, new Uint8Array(64))).toBeUndefined(); // not on the curve
  });
});

describe('AUTH payloads (RFC 7296 §2.15, RFC 7427, RFC 8420)', () => {
  const octets = signedOctets(fromHex('aabbcc'), fromHex('0102'), fromHex('55'.repeat(32)), fromHex('02000000 6365'));

  it('SignedOctets = RealMessage | Nonce | prf(SK_p, ID body)', () => {
    expect(hex(octets)).toBe(hex(concat(fromHex('aabbcc0102'), hmac(fromHex('55'.repeat(32)), fromHex('020000006365')))));
  });

  it('shared key MIC = prf(prf(PSK, "Key Pad for IKEv2"), SignedOctets)', () => {
    const psk = new TextEncoder().encode('correct horse battery staple');
    const want = hmac(hmac(psk, new TextEncoder().encode('Key Pad for IKEv2')), octets);
    expect(hex(pskAuthData(psk, octets))).toBe(hex(want));
    expect(pskAuthVerify(psk, octets, want)).toBe(true);
    expect(pskAuthVerify(new TextEncoder().encode('wrong'), octets, want)).toBe(false);
  });

  it('Ed25519: our AlgorithmIdentifier is the one in node:crypto SPKI, and signatures interoperate both ways', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const spki = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
    // SPKI = SEQUENCE { AlgorithmIdentifier, BIT STRING }: the AlgorithmIdentifier starts at offset 2.
    expect(hex(spki.subarray(2, 2 + ED25519_ALGORITHM_IDENTIFIER.length))).toBe(hex(ED25519_ALGORITHM_IDENTIFIER));
    const jwk = privateKey.export({ format: 'jwk' });
    const secret = b64u(jwk.d!);
    const pub = b64u(jwk.x!);
    expect(hex(ed25519PublicKey(secret))).toBe(hex(pub));

    const data = ed25519AuthData(secret, octets);
    expect(data[0]).toBe(7);
    const sig = data.subarray(8);
    expect(nodeVerify(null, octets, publicKey, sig)).toBe(true);

    const nodeSig = new Uint8Array(nodeSign(null, octets, privateKey));
    const theirs = concat(Uint8Array.of(7), ED25519_ALGORITHM_IDENTIFIER, nodeSig);
    expect(ed25519AuthVerify(pub, octets, theirs)).toBe(true);
    expect(ed25519AuthVerify(pub, concat(octets, Uint8Array.of(0)), theirs)).toBe(false);
    const wrongAlg = theirs.slice();
    wrongAlg[7] = 0x71; // id-Ed448
    expect(ed25519AuthVerify(pub, octets, wrongAlg)).toBe(false);
    expect(ed25519AuthVerify(pub, octets, theirs.subarray(0, 40))).toBe(false);
    expect(ed25519AuthVerify(new Uint8Array(32).fill(0xff), octets, theirs)).toBe(false);
    const pubFromNode = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x! }, format: 'jwk' });
    expect(nodeVerify(null, octets, pubFromNode, sig)).toBe(true);
  });
});

describe('AEADs against node:crypto (RFC 5282 / RFC 4106 nonce = salt | IV; RFC 7634)', () => {
  const iv = fromHex('0001020304050607');
  const aad = fromHex('feedface');
  const plaintext = new TextEncoder().encode('the quick brown fox');
  for (const [suite, nodeName, keyBytes] of [
    ['aes-gcm-128', 'aes-128-gcm', 16],
    ['aes-gcm-256', 'aes-256-gcm', 32],
    ['chacha20-poly1305', 'chacha20-poly1305', 32],
  ] as const)
    it(suite, () => {
      const key = new Uint8Array(keyBytes).map((_, i) => i);
      const salt = fromHex('cafebabe');
      const c = createCipheriv(nodeName as 'aes-128-gcm', key, concat(salt, iv), { authTagLength: 16 });
      c.setAAD(aad);
      const want = concat(c.update(plaintext), c.final(), c.getAuthTag());
      const sealed = aeadSeal({ suite, key, salt }, iv, aad, plaintext);
      expect(hex(sealed)).toBe(hex(want));
      expect(hex(aeadOpen({ suite, key, salt }, iv, aad, sealed)!)).toBe(hex(plaintext));
      const bad = sealed.slice();
      bad[0]! ^= 1;
      expect(aeadOpen({ suite, key, salt }, iv, aad, bad)).toBeUndefined();
      expect(aeadOpen({ suite, key, salt }, iv, aad, sealed.subarray(0, 10))).toBeUndefined();
    });
});
