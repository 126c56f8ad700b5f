import { wycheproofGroups } from './wycheproof.ts';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createCipheriv } from 'node:crypto';
import { aeadOpen, aeadSeal, TsEspEngine } from '../../src/dataplane/esp-ts.ts';
import { ESP_KEY_BYTES, type EspSaParams, type EspSuite } from '../../src/dataplane/esp.ts';
import { ReplayWindow } from '../../src/dataplane/replay.ts';
import { encodeIpv4, IP_PROTO_UDP } from '../../src/proto/ip/index.ts';
import { fromHex, hex } from '../../src/lib/bytes.ts';




describe('AEADs against Wycheproof (the ESP shapes: 96-bit nonce, 128-bit tag)', () => {
  const cases: [string, EspSuite[], string][] = [
    ['aes_gcm_test.json', ['aes-gcm-128', 'aes-gcm-256'], 'AES-GCM'],
    ['chacha20_poly1305_test.json', ['chacha20-poly1305'], 'ChaCha20-Poly1305'],
  ];
  for (const [file, suites, name] of cases) {
    it(`${name}: every valid vector seals and opens, every invalid one is refused`, () => {
      let valid = 0;
      let invalid = 0;
      for (const g of wycheproofGroups(file)) {
        if (g.ivSize !== 96 || g.tagSize !== 128) continue;
        const suite = suites.find((s) => ESP_KEY_BYTES[s] * 8 === g.keySize);
        if (!suite) continue;
        for (const t of g.tests) {
          const key = fromHex(t.key);
          const nonce = fromHex(t.iv);
          const aad = fromHex(t.aad);
          const sealed = fromHex(t.ct + t.tag);
          const opened = aeadOpen(suite, key, nonce, aad, sealed);
          if (t.result === 'valid') {
            expect(hex(aeadSeal(suite, key, nonce, aad, fromHex(t.msg))), `tcId ${t.tcId}`).toBe(t.ct + t.tag);
            expect(opened && hex(opened), `tcId ${t.tcId}`).toBe(t.msg);
            valid++;
          } else if (t.result === 'invalid') {
            expect(opened, `tcId ${t.tcId} must be refused`).toBeUndefined();
            invalid++;
          }
        }
      }
      expect(valid).toBeGreaterThan(50);
      expect(invalid).toBeGreaterThan(20);
    });
  }
});

const KEY16 = fromHex('000102030405060708090a0b0c0d0e0f');
const KEY32 = fromHex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
const SALT = fromHex('cafebabe');

function params(suite: EspSuite, over: Partial<EspSaParams> = {}): EspSaParams {
  return { spi: 0x1234, suite, key: suite === 'aes-gcm-128' ? KEY16 : KEY32, salt: SALT, esn: false, replayWindow: 64, tunnelSrc: 0xc0000201, tunnelDst: 0xc6336401, ...over };
}

function innerPacket(payloadBytes: number, tos = 0): Uint8Array {
  const payload = new Uint8Array(payloadBytes).map((_, i) => (i * 7) & 0xff);
  return encodeIpv4({ dscp: tos >> 2, ecn: tos & 3, identification: 1, dontFragment: false, moreFragments: false, fragmentOffset: 0, ttl: 63, protocol: IP_PROTO_UDP, src: 0x0a010001, dst: 0x0a020001, options: new Uint8Array(0) }, payload);
}

/** An independent ESP tunnel encoder on Node's OpenSSL, written from RFC 4303 / 4106 / 7634. */
function nodeEncap(p: EspSaParams, seq: bigint, inner: Uint8Array): Buffer {
  const pad = (4 - ((inner.length + 2) % 4)) % 4;
  const plain = Buffer.concat([inner, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1)), Buffer.from([pad, 4])]);
  const iv = Buffer.alloc(8);
  iv.writeBigUInt64BE(seq);
  const nonce = Buffer.concat([Buffer.from(p.salt), iv]);
  const aad = Buffer.alloc(p.esn ? 12 : 8);
  aad.writeUInt32BE(p.spi);
  if (p.esn) aad.writeUInt32BE(Number(seq >> 32n), 4);
  aad.writeUInt32BE(Number(seq & 0xffffffffn), p.esn ? 8 : 4);
  const algo = p.suite === 'chacha20-poly1305' ? 'chacha20-poly1305' : p.suite === 'aes-gcm-128' ? 'aes-128-gcm' : 'aes-256-gcm';
  const c = createCipheriv(algo as 'aes-128-gcm', p.key, nonce, { authTagLength: 16 });
  c.setAAD(aad, { plaintextLength: plain.length });
  const ct = Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
  const esp = Buffer.concat([Buffer.alloc(4), Buffer.alloc(4), iv, ct]);
  esp.writeUInt32BE(p.spi, 0);
  esp.writeUInt32BE(Number(seq & 0xffffffffn), 4);
  const outer = Buffer.alloc(20);
  outer[0] = 0x45;
  outer[1] = inner[0]! >> 4 === 4 ? inner[1]! : 0;
  outer.writeUInt16BE(20 + esp.length, 2);
  outer.writeUInt16BE(0x4000, 6); // DF, identification 0
  outer[8] = 64;
  outer[9] = 50;
  outer.writeUInt32BE(p.tunnelSrc, 12);
  outer.writeUInt32BE(p.tunnelDst, 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += outer.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  outer.writeUInt16BE(~sum & 0xffff, 10);
  return Buffer.concat([outer, esp]);
}

describe('TsEspEngine', () => {
  for (const suite of ['aes-gcm-128', 'aes-gcm-256', 'chacha20-poly1305'] as const) {
    for (const esn of [false, true]) {
      it(`${suite}${esn ? ' with ESN' : ''}: equals an independent encoder on Node's crypto, both ways`, () => {
        const e = new TsEspEngine();
        const out = e.addSa('outbound', params(suite, { esn }));
        const inb = e.addSa('inbound', params(suite, { esn }));
        const start = esn ? 0xffff_fffen : 1n; // with ESN, cross the 2^32 boundary
        if (esn) {
          // A fresh window reads the top 63 numbers of the first subspace as old (Appendix A2.2
          // case B); one packet a little lower first moves it there, as a long-lived SA would be.
          e.setNextSeq(out, 0xffff_ffc0n);
          expect(e.decapsulate(e.encapsulate(out, [innerPacket(1)]).map((r) => (r.ok ? r.bytes : new Uint8Array())))[0]!.ok).toBe(true);
        }
        e.setNextSeq(out, start);
        for (const [i, size] of [0, 1, 2, 3, 20, 100, 1400].entries()) {
          const inner = innerPacket(size, 0xb8);
          const seq = start + BigInt(i);
          const [r] = e.encapsulate(out, [inner]);
          const expected = nodeEncap(params(suite, { esn }), seq, inner);
          expect(r?.ok && hex(r.bytes)).toBe(hex(expected));
          const [d] = e.decapsulate([new Uint8Array(expected)]);
          expect(d?.ok && hex(d.bytes)).toBe(hex(inner));
          expect(d?.ok && d.seq).toBe(seq);
        }
      });
    }
  }

  it('round-trips random packets and rejects every one-bit change past the outer header', () => {
    fc.assert(
      fc.property(fc.constantFrom<EspSuite>('aes-gcm-128', 'aes-gcm-256', 'chacha20-poly1305'), fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 256, max: 0xffffffff }), fc.nat(), (suite, size, spi, bitSeed) => {
        const e = new TsEspEngine();
        const out = e.addSa('outbound', params(suite, { spi }));
        e.addSa('inbound', params(suite, { spi }));
        const inner = innerPacket(size);
        const [r] = e.encapsulate(out, [inner]);
        if (!r?.ok) throw new Error('encapsulate failed');
        const tampered = r.bytes.slice();
        const bit = 20 * 8 + 32 + (bitSeed % ((tampered.length - 20) * 8 - 32)); // past the SPI
        tampered[bit >> 3]! ^= 1 << (bit & 7);
        const [bad] = e.decapsulate([tampered]);
        expect(bad?.ok).toBe(false);
        const [good] = e.decapsulate([r.bytes]);
        expect(good?.ok && hex(good.bytes)).toBe(hex(inner));
      }),
      { numRuns: 150 },
    );
  });

  it('drops with a reason: unknown SPI, malformed, replay, too old, sequence overflow', () => {
    const e = new TsEspEngine();
    const out = e.addSa('outbound', params('aes-gcm-128'));
    const inb = e.addSa('inbound', params('aes-gcm-128'));
    const pkts = e.encapsulate(out, Array.from({ length: 100 }, () => innerPacket(10))).map((r) => (r.ok ? r.bytes : new Uint8Array()));
    const verdict = (p: Uint8Array) => {
      const [r] = e.decapsulate([p]);
      return r!.ok ? 'ok' : r!.reason;
    };
    expect(verdict(pkts[99]!)).toBe('ok');
    expect(verdict(pkts[99]!)).toBe('replay');
    expect(verdict(pkts[35]!)).toBe('too-old'); // seq 36 with top 100, window 64: 100 − 36 ≥ 64
    expect(verdict(pkts[36]!)).toBe('ok'); // seq 37: 100 − 37 = 63 < 64, the window's last slot
    expect(verdict(pkts[36]!)).toBe('replay');
    expect(verdict(pkts[0]!.subarray(0, 40))).toBe('malformed');
    const other = new TsEspEngine();
    const o2 = other.addSa('outbound', params('aes-gcm-128', { spi: 0x9999 }));
    expect(verdict((other.encapsulate(o2, [innerPacket(5)])[0] as { bytes: Uint8Array }).bytes)).toBe('unknown-spi');
    expect(e.counters(inb).drops).toMatchObject({ replay: 2, 'too-old': 1 });
    e.setNextSeq(out, 0xffff_ffffn);
    expect(e.encapsulate(out, [innerPacket(1)])[0]!.ok).toBe(true);
    expect(e.encapsulate(out, [innerPacket(1)])[0]).toEqual({ ok: false, reason: 'seq-overflow' });
    expect(() => e.addSa('inbound', params('aes-gcm-128', { spi: 0x4242, replayWindow: 50 }))).toThrow(RangeError);
    expect(() => e.addSa('outbound', params('aes-gcm-128', { key: KEY32 }))).toThrow(/16-byte key/);
  });
});

describe('ReplayWindow (RFC 4303 §3.4.3, Appendix A)', () => {
  /** A naive model: the set of accepted numbers and the top. */
  function model(size: number) {
    const seen = new Set<bigint>();
    let top = 0n;
    return (seq: bigint): string => {
      if (seq === 0n) return 'too-old';
      if (seq > top) {
        top = seq;
        seen.add(seq);
        return 'ok';
      }
      if (top - seq >= BigInt(size)) return 'too-old';
      if (seen.has(seq)) return 'replay';
      seen.add(seq);
      return 'ok';
    };
  }

  for (const size of [64, 1024]) {
    it(`window ${size}: agrees with a naive model on in-order, reordered, duplicated and very old numbers`, () => {
      fc.assert(
        fc.property(fc.array(fc.integer({ min: -3 * size, max: 40 }), { minLength: 1, maxLength: 400 }), (deltas) => {
          const w = new ReplayWindow(size, false);
          const m = model(size);
          let base = 1000;
          for (const d of deltas) {
            base = Math.max(1, base + (d > 0 ? 1 : 0));
            const seq = Math.max(0, base + d);
            const c = w.check(seq);
            const got = c.ok ? 'ok' : c.reason;
            if (c.ok) w.accept(c.seq);
            expect(got).toBe(m(BigInt(seq)));
          }
        }),
        { numRuns: 100 },
      );
    });
  }

  it('ESN: infers the high half across the 2^32 boundary (cases A and B)', () => {
    const w = new ReplayWindow(64, true);
    const at = (seq: bigint) => {
      const c = w.check(Number(seq & 0xffffffffn));
      if (c.ok) w.accept(c.seq);
      return c.ok ? c.seq : c.reason;
    };
    expect(at(0xffff_fffen)).toBe('too-old'); // fresh window: the top of subspace 0 reads as subspace −1
    expect(at(0xffff_ffc0n)).toBe(0xffff_ffc0n);
    expect(at(0xffff_fff0n)).toBe(0xffff_fff0n); // case A, same subspace
    expect(at(0x1_0000_0005n)).toBe(0x1_0000_0005n); // low 5 < bottom: next subspace
    expect(at(0xffff_fff8n)).toBe(0xffff_fff8n); // case B: late packet from the previous subspace
    expect(at(0xffff_fff8n)).toBe('replay');
    expect(at(0x1_0000_0003n)).toBe(0x1_0000_0003n);
    expect(at(0xffff_ff00n)).toBe(0x1_ffff_ff00n); // far below the window reads as the next subspace: the ICV then fails
  });
});
