// The Node runtime's X25519 (node:crypto) must be the same function as noble's: RFC 7748 vectors,
// random agreement, the same refusals, and the IKE DH group giving equal secrets with either.
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex, hex } from '../../src/lib/bytes.ts';
import { DH_GROUPS, NOBLE_X25519, useX25519Backend, type X25519Backend } from '../../src/proto/ike/crypto.ts';
import { DH_CURVE25519 } from '../../src/proto/ike/constants.ts';
import { NODE_X25519 } from '../../src/runtime/node-crypto.ts';

const BACKENDS: X25519Backend[] = [NOBLE_X25519, NODE_X25519];
const outcome = (f: () => Uint8Array) => {
  try {
    return hex(f());
  } catch {
    return 'refused';
  }
};

afterEach(() => {
  useX25519Backend(NOBLE_X25519);
});

describe('X25519 backends', () => {
  for (const b of BACKENDS) {
    it(`${b.name}: RFC 7748 §5.2 and §6.1 vectors`, () => {
      expect(hex(b.sharedSecret(fromHex('a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4'), fromHex('e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c')))).toBe(
        'c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552',
      );
      const a = fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
      const bb = fromHex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
      expect(hex(b.publicKey(a))).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
      expect(hex(b.publicKey(bb))).toBe('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
      expect(hex(b.sharedSecret(a, b.publicKey(bb)))).toBe('4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742');
    });

    it(`${b.name}: a low-order peer value (all-zero result) is refused`, () => {
      const secret = fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
      expect(outcome(() => b.sharedSecret(secret, new Uint8Array(32)))).toBe('refused');
      expect(outcome(() => b.sharedSecret(secret, Uint8Array.of(1, ...new Uint8Array(31))))).toBe('refused');
    });
  }

  it('node:crypto and noble agree on random keys and random peer values', () => {
    const key = fc.uint8Array({ minLength: 32, maxLength: 32 });
    fc.assert(
      fc.property(key, key, (secret, peer) => {
        expect(hex(NODE_X25519.publicKey(secret))).toBe(hex(NOBLE_X25519.publicKey(secret)));
        expect(outcome(() => NODE_X25519.sharedSecret(secret, peer))).toBe(outcome(() => NOBLE_X25519.sharedSecret(secret, peer)));
      }),
      { numRuns: 200 },
    );
  });

  it('the IKE Curve25519 group gives the same exchange with either backend installed', () => {
    const g = DH_GROUPS.get(DH_CURVE25519)!;
    const run = () => {
      const i = g.secretFrom(new Uint8Array(32).fill(7))!;
      const r = g.secretFrom(new Uint8Array(32).fill(9))!;
      const si = g.sharedSecret(i, g.publicKey(r))!;
      const sr = g.sharedSecret(r, g.publicKey(i))!;
      expect(hex(si)).toBe(hex(sr));
      return [hex(g.publicKey(i)), hex(si)];
    };
    const noble = run();
    expect(useX25519Backend(NODE_X25519).name).toBe('noble');
    expect(run()).toEqual(noble);
    expect(g.sharedSecret(new Uint8Array(32).fill(7), new Uint8Array(32))).toBeUndefined();
  });
});
