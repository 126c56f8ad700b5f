import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { wycheproofGroups } from './wycheproof.ts';
import { aeadSeal, espAad, TsEspEngine } from '../../src/dataplane/esp-ts.ts';
import { createWasmEspEngine, ESP_DESC, ESP_INNER_OFFSET, type WasmEspEngine } from '../../src/dataplane/esp-wasm.ts';
import { ESP_KEY_BYTES, ESP_OVERHEAD_MAX, type EspEngine, type EspResult, type EspSaParams, type EspSuite } from '../../src/dataplane/esp.ts';
import { loadEspModule } from '../../src/runtime/wasm.ts';
import { encodeIpv4, IP_PROTO_UDP } from '../../src/proto/ip/index.ts';
import { fromHex, hex } from '../../src/lib/bytes.ts';

const SUITES: readonly EspSuite[] = ['aes-gcm-128', 'aes-gcm-256', 'chacha20-poly1305'];

let module: WebAssembly.Module;
let wasm: WasmEspEngine;
beforeAll(async () => {
  module = await loadEspModule();
  wasm = await createWasmEspEngine(module);
});



/** A 4-byte-aligned deterministic byte string (no need for crypto randomness in fixtures). */
function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** An inner IPv4 packet (UDP-ish payload) or a minimal IPv6 one, `payloadBytes` after the header. */
function innerPacket(payloadBytes: number, opts: { v6?: boolean; tos?: number; seed?: number } = {}): Uint8Array {
  const tos = opts.tos ?? 0;
  const payload = bytes(payloadBytes, opts.seed ?? payloadBytes + 1);
  if (!opts.v6) {
    return encodeIpv4({ dscp: tos >> 2, ecn: tos & 3, identification: 1, dontFragment: false, moreFragments: false, fragmentOffset: 0, ttl: 63, protocol: IP_PROTO_UDP, src: 0x0a010001, dst: 0x0a020001, options: new Uint8Array(0) }, payload);
  }
  const p = new Uint8Array(40 + payloadBytes);
  p[0] = 0x60 | (tos >> 4);
  p[1] = (tos & 0x0f) << 4;
  p[4] = payloadBytes >> 8;
  p[5] = payloadBytes & 0xff;
  p[6] = 17;
  p[7] = 64;
  p.set(bytes(32, 7), 8);
  p.set(payload, 40);
  return p;
}

function params(suite: EspSuite, over: Partial<EspSaParams> = {}): EspSaParams {
  return { spi: 0x1234, suite, key: bytes(ESP_KEY_BYTES[suite], 11), salt: fromHex('cafebabe'), esn: false, replayWindow: 64, tunnelSrc: 0xc0000201, tunnelDst: 0xc6336401, ...over };
}

/** One result as a comparable string: the verdict, the sequence number and the bytes. */
const show = (r: EspResult | undefined): string => (r === undefined ? 'missing' : r.ok ? `ok ${r.seq} ${hex(r.bytes)}` : r.reason);
const verdict = (r: EspResult | undefined): string => (r === undefined ? 'missing' : r.ok ? `ok ${r.seq}` : r.reason);
const bytesOf = (r: EspResult | undefined): Uint8Array => (r?.ok ? r.bytes : new Uint8Array(0));
const json = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x));

/** The same SAs in both engines; returns [wasm handle, ts handle] per SA and a cleanup. */
function pair(ts: TsEspEngine, list: [('outbound' | 'inbound'), EspSaParams][]) {
  const handles = list.map(([dir, p]) => [wasm.addSa(dir, p), ts.addSa(dir, p)] as const);
  return { handles, remove: () => handles.forEach(([w, t]) => (wasm.removeSa(w), ts.removeSa(t))) };
}

describe('WASM AEADs: Wycheproof vectors (ESP shapes: 96-bit nonce, 128-bit tag, 128/256-bit keys)', () => {
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
          const opened = wasm.rawAeadOpen(suite, key, nonce, aad, fromHex(t.ct + t.tag));
          if (t.result === 'valid') {
            expect(hex(wasm.rawAeadSeal(suite, key, nonce, aad, fromHex(t.msg))), `tcId ${t.tcId}`).toBe(t.ct + t.tag);
            expect(opened && hex(opened), `tcId ${t.tcId}`).toBe(t.msg);
            valid++;
          } else {
            expect(opened, `tcId ${t.tcId} (${t.result}) must be refused`).toBeUndefined();
            invalid++;
          }
        }
      }
      // aes_gcm_test.json: 40 + 39 valid, 27 + 27 invalid; chacha20_poly1305_test.json: 256 valid, 60 invalid.
      expect(valid).toBe(name === 'AES-GCM' ? 79 : 256);
      expect(invalid).toBe(name === 'AES-GCM' ? 54 : 60);
    });
  }

  it('ChaCha20-Poly1305: RFC 8439 §2.8.2 test vector', () => {
    const plain = new TextEncoder().encode("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.");
    const aad = fromHex('50515253c0c1c2c3c4c5c6c7');
    const key = fromHex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
    const nonce = fromHex('070000004041424344454647');
    const ct =
      'd31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b' +
      '1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc' +
      '3ff4def08e4b7a9de576d26586cec64b6116';
    const tag = '1ae10b594f09e26a7e902ecbd0600691';
    expect(hex(wasm.rawAeadSeal('chacha20-poly1305', key, nonce, aad, plain))).toBe(ct + tag);
    expect(hex(wasm.rawAeadOpen('chacha20-poly1305', key, nonce, aad, fromHex(ct + tag))!)).toBe(hex(plain));
  });

  it('agrees with the TypeScript reference on random keys, nonces, AADs and lengths (all kernel paths)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...SUITES), fc.integer({ min: 0, max: 2100 }), fc.integer({ min: 0, max: 40 }), fc.nat(), (suite, len, aadLen, seed) => {
        const key = bytes(ESP_KEY_BYTES[suite], seed);
        const nonce = bytes(12, seed + 1);
        const aad = bytes(aadLen, seed + 2);
        const plain = bytes(len, seed + 3);
        const sealed = wasm.rawAeadSeal(suite, key, nonce, aad, plain);
        expect(hex(sealed)).toBe(hex(aeadSeal(suite, key, nonce, aad, plain)));
        expect(hex(wasm.rawAeadOpen(suite, key, nonce, aad, sealed)!)).toBe(hex(plain));
        sealed[seed % sealed.length]! ^= 1 << (seed % 8);
        expect(wasm.rawAeadOpen(suite, key, nonce, aad, sealed)).toBeUndefined();
      }),
      { numRuns: 200 },
    );
  });
});

describe('WasmEspEngine against TsEspEngine, byte for byte', () => {
  const ts = new TsEspEngine();

  it('random keys, SPIs, sequence numbers, IPv4/IPv6 inner packets of 0–9000 payload bytes: equal output, each opens the other', () => {
    let spiSeed = 0x10000;
    fc.assert(
      fc.property(
        fc.constantFrom(...SUITES),
        fc.boolean(),
        fc.integer({ min: 256, max: 0xffff }),
        fc.oneof(fc.bigInt({ min: 1n, max: 0x1_0000_0100n }), fc.bigInt({ min: 1n, max: 0xffff_ffff_ffff_fff0n })),
        fc.array(fc.record({ size: fc.integer({ min: 0, max: 9000 }), v6: fc.boolean(), tos: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 6 }),
        fc.nat(),
        (suite, esn, spiLow, seqRaw, shapes, seed) => {
          const spi = ((spiSeed++ << 16) | spiLow) >>> 0;
          const p = params(suite, { spi, esn, key: bytes(ESP_KEY_BYTES[suite], seed), salt: bytes(4, seed + 5), tunnelSrc: (seed * 2654435761) >>> 0, tunnelDst: ~seed >>> 0 });
          // Without ESN the 32-bit space bounds the start; with ESN a window can only follow a
          // sender from subspace 0 or 1 (Appendix A2.2), so decapsulate when the start is there.
          const start = esn ? seqRaw : (seqRaw % 0xffff_fff0n) + 1n;
          const decap = !esn || start < 0x1_0000_0100n;
          const { handles, remove } = pair(ts, [['outbound', p], ['inbound', p]]);
          const [[wo, to], [wi, ti]] = handles as [[number, number], [number, number]];
          try {
            if (esn && decap && start > 1n) {
              // Move both windows to just below the start as an earlier packet would have.
              const prime = start - 1n < 0xffff_ffc0n ? start - 1n : 0xffff_ffc0n;
              wasm.setNextSeq(wo, prime);
              ts.setNextSeq(to, prime);
              const [pw] = wasm.encapsulate(wo, [innerPacket(1)]);
              const [pt] = ts.encapsulate(to, [innerPacket(1)]);
              expect(verdict(wasm.decapsulate([bytesOf(pt)])[0])).toBe(`ok ${prime}`);
              expect(verdict(ts.decapsulate([bytesOf(pw)])[0])).toBe(`ok ${prime}`);
            }
            wasm.setNextSeq(wo, start);
            ts.setNextSeq(to, start);
            const inners = shapes.map((s, i) => innerPacket(s.size, { v6: s.v6, tos: s.tos, seed: seed + i }));
            const w = wasm.encapsulate(wo, inners);
            const t = ts.encapsulate(to, inners);
            expect(w.map(show)).toEqual(t.map(show));
            expect(json(wasm.counters(wo))).toBe(json(ts.counters(to)));
            if (!decap) return;
            const wOpensTs = wasm.decapsulate(t.map(bytesOf));
            const tsOpensW = ts.decapsulate(w.map(bytesOf));
            expect(wOpensTs.map(show)).toEqual(inners.map((b, i) => `ok ${start + BigInt(i)} ${hex(b)}`));
            expect(tsOpensW.map(show)).toEqual(wOpensTs.map(show));
            expect(json(wasm.counters(wi))).toBe(json(ts.counters(ti)));
          } finally {
            remove();
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('every one-bit change anywhere in a packet is rejected, with the same reason in both engines', () => {
    for (const suite of SUITES) {
      for (const size of [0, 3]) {
        const p = params(suite, { spi: 0x7700 + size, replayWindow: 64 });
        const { handles, remove } = pair(ts, [['outbound', p], ['inbound', p]]);
        const [[wo, to]] = handles as [[number, number]];
        const [good] = wasm.encapsulate(wo, [innerPacket(size)]);
        ts.encapsulate(to, [innerPacket(size)]);
        const packet = bytesOf(good);
        const tampered: Uint8Array[] = [];
        for (let bit = 0; bit < packet.length * 8; bit++) {
          const t = packet.slice();
          t[bit >> 3]! ^= 1 << (bit & 7);
          tampered.push(t);
        }
        const w = wasm.decapsulate(tampered).map(verdict);
        const t = ts.decapsulate(tampered).map(verdict);
        expect(w.filter((v) => v.startsWith('ok'))).toEqual([]);
        expect(w).toEqual(t);
        // The outer header bits break its checksum; the SPI bits find no SA; the rest fail the ICV
        // (or, for the sequence number, the window: 1 with its low bit flipped is 0, never sent).
        expect([...new Set(w)].sort()).toEqual(['icv', 'malformed', 'too-old', 'unknown-spi']);
        // Nothing moved: the untouched packet still opens.
        expect(verdict(wasm.decapsulate([packet])[0])).toBe('ok 1');
        remove();
      }
    }
  });

  it('random one-bit changes past the outer header of random packets are rejected', () => {
    fc.assert(
      fc.property(fc.constantFrom(...SUITES), fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 256, max: 0xffffffff }), fc.array(fc.nat(), { minLength: 1, maxLength: 16 }), (suite, size, spi, bitSeeds) => {
        const p = params(suite, { spi });
        const { handles, remove } = pair(ts, [['outbound', p], ['inbound', p]]);
        const [[wo]] = handles as [[number, number]];
        const packet = bytesOf(wasm.encapsulate(wo, [innerPacket(size)])[0]);
        const tampered = bitSeeds.map((s) => {
          const t = packet.slice();
          const bit = 160 + (s % ((t.length - 20) * 8));
          t[bit >> 3]! ^= 1 << (bit & 7);
          return t;
        });
        const w = wasm.decapsulate(tampered).map(verdict);
        expect(w.filter((v) => v.startsWith('ok'))).toEqual([]);
        expect(w).toEqual(ts.decapsulate(tampered).map(verdict));
        remove();
      }),
      { numRuns: 100 },
    );
  });

  describe('anti-replay on random sequence streams: in order, reordered, duplicated, too old; verdict for verdict', () => {
    const streams = (window: number) =>
      fc.array(fc.oneof({ weight: 6, arbitrary: fc.integer({ min: -Math.max(8, window + 40), max: 6 }) }, { weight: 1, arbitrary: fc.integer({ min: window, max: 3 * window + 5 }) }), { minLength: 1, maxLength: 160 });
    for (const window of [64, 1024, 0, 4096]) {
      // ESN needs a window to infer the high half (RFC 4303 App. A2.2): both engines refuse window 0 with ESN.
      for (const esn of window === 0 ? [false] : [false, true]) {
        it(`window ${window}${esn ? ', ESN across the 2^32 boundary' : ''}`, () => {
          let spiSeed = 0x2000 + window + (esn ? 1 : 0) * 0x100000;
          fc.assert(
            fc.property(streams(window), fc.constantFrom(...SUITES), (deltas, suite) => {
              const p = params(suite, { spi: spiSeed++, esn, replayWindow: window });
              const { handles, remove } = pair(ts, [['outbound', p], ['inbound', p]]);
              const [[wo], [wi, ti]] = handles as [[number, number], [number, number]];
              // With ESN, start below the 2^32 boundary after one packet that moves the window there.
              const origin = esn ? 0xffff_ff00n : 1000n;
              const seqs: bigint[] = [];
              if (esn) seqs.push(origin - BigInt(2 * window + 0x1000));
              let base = origin;
              for (const d of deltas) {
                if (d > 0) base += BigInt(d > 6 ? d : 1);
                const s = base + BigInt(Math.min(d, 0));
                seqs.push(s < 0n ? 0n : s);
              }
              const packets = seqs.map((s) => {
                wasm.setNextSeq(wo, s);
                return bytesOf(wasm.encapsulate(wo, [innerPacket(4)])[0]);
              });
              const w = wasm.decapsulate(packets).map(verdict);
              const t = ts.decapsulate(packets).map(verdict);
              expect(w).toEqual(t);
              expect(json(wasm.counters(wi))).toBe(json(ts.counters(ti)));
              remove();
            }),
            { numRuns: 100 },
          );
        });
      }
    }

    it('reads the fresh-window and subspace cases of RFC 4303 Appendix A2.2 like the reference', () => {
      const p = params('aes-gcm-128', { spi: 0x5151, esn: true });
      const { handles, remove } = pair(ts, [['outbound', p], ['inbound', p]]);
      const [[wo]] = handles as [[number, number]];
      const seqs = [0xffff_fffen, 0xffff_ffc0n, 0xffff_fff0n, 0x1_0000_0005n, 0xffff_fff8n, 0xffff_fff8n, 0x1_0000_0003n, 0xffff_ff00n, 0x2_0000_0001n];
      const packets = seqs.map((s) => (wasm.setNextSeq(wo, s), bytesOf(wasm.encapsulate(wo, [innerPacket(1)])[0])));
      const w = wasm.decapsulate(packets).map(verdict);
      expect(w).toEqual(ts.decapsulate(packets).map(verdict));
      expect(w).toEqual(['too-old', 'ok 4294967232', 'ok 4294967280', 'ok 4294967301', 'ok 4294967288', 'replay', 'ok 4294967299', 'icv', 'icv']);
      remove();
    });
  });

  it('sequence overflow: 2^32 − 1 without ESN, 2^64 − 1 with; beyond is refused and counted', () => {
    for (const esn of [false, true]) {
      const p = params('chacha20-poly1305', { spi: 0x6161 + (esn ? 1 : 0), esn });
      const { handles, remove } = pair(ts, [['outbound', p]]);
      const [[w, t]] = handles as [[number, number]];
      const last = esn ? 0xffff_ffff_ffff_ffffn : 0xffff_ffffn;
      for (const e of [wasm, ts] as EspEngine[]) e.setNextSeq(e === wasm ? w : t, last);
      const run = (e: EspEngine, h: number) => e.encapsulate(h, [innerPacket(1), innerPacket(2)]).map(verdict);
      expect(run(wasm, w)).toEqual([`ok ${last}`, 'seq-overflow']);
      expect(run(ts, t)).toEqual([`ok ${last}`, 'seq-overflow']);
      expect(json(wasm.counters(w))).toBe(json(ts.counters(t)));
      expect(wasm.counters(w).seq).toBe(last + 1n);
      // A next number set beyond the space.
      for (const e of [wasm, ts] as EspEngine[]) e.setNextSeq(e === wasm ? w : t, (1n << 64n) + 5n);
      expect(run(wasm, w)).toEqual(run(ts, t));
      expect(json(wasm.counters(w))).toBe(json(ts.counters(t)));
      // And back inside it.
      for (const e of [wasm, ts] as EspEngine[]) e.setNextSeq(e === wasm ? w : t, 7n);
      expect(run(wasm, w)).toEqual(['ok 7', 'ok 8']);
      remove();
    }
  });

  it('drops with the same reason: malformed inner and outer, unknown SPI, too big, bad padding, bad next header', () => {
    const p = params('aes-gcm-256', { spi: 0x8181 });
    const { handles, remove } = pair(ts, [['outbound', p], ['inbound', p]]);
    const [[wo, to], [wi, ti]] = handles as [[number, number], [number, number]];
    const huge = new Uint8Array(65_500);
    huge[0] = 0x45;
    const badInners = [new Uint8Array(0), new Uint8Array(19).fill(0x45), innerPacket(0, { v6: true }).subarray(0, 39), new Uint8Array(40).fill(0x50), huge];
    expect(wasm.encapsulate(wo, badInners).map(verdict)).toEqual(['malformed', 'malformed', 'malformed', 'malformed', 'too-big']);
    expect(ts.encapsulate(to, badInners).map(verdict)).toEqual(['malformed', 'malformed', 'malformed', 'malformed', 'too-big']);
    // The largest inner packet that fits: 36 + 65478 + 2 (no padding) + 16 = 65532; one byte more needs 3 of padding.
    const edge = [innerPacket(65_478 - 20), innerPacket(65_479 - 20)];
    const edgeResults = wasm.encapsulate(wo, edge);
    expect(edgeResults.map(show)).toEqual(ts.encapsulate(to, edge).map(show));
    expect(edgeResults.map(verdict)).toEqual(['ok 1', 'too-big']);

    // Hand-built ESP packets with a correct ICV but a bad trailer, sealed by the reference AEAD.
    const forge = (seq: bigint, plain: Uint8Array, spi = p.spi): Uint8Array => {
      const iv = new Uint8Array(8);
      new DataView(iv.buffer).setBigUint64(0, seq);
      const nonce = new Uint8Array([...p.salt, ...iv]);
      const sealed = aeadSeal(p.suite, p.key, nonce, espAad(spi, seq, false), plain);
      const esp = new Uint8Array([...espAad(spi, seq, false), ...iv, ...sealed]);
      return encodeIpv4({ dscp: 0, ecn: 0, identification: 0, dontFragment: true, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: 50, src: 1, dst: 2, options: new Uint8Array(0) }, esp);
    };
    const inner = innerPacket(2); // 22 bytes: pad 0
    const withTrailer = (pad: number[], padLen: number, nh: number) => new Uint8Array([...inner, ...pad, padLen, nh]);
    const good = forge(50n, withTrailer([1, 2], 2, 4));
    const outers = [
      forge(10n, withTrailer([1, 3], 2, 4)), // padding bytes not 1, 2
      forge(11n, withTrailer([], 250, 4)), // pad length beyond the plaintext
      forge(12n, withTrailer([1, 2], 2, 17)), // next header UDP
      forge(13n, withTrailer([1, 2], 2, 41)), // IPv6 next header over an IPv4 packet: delivered as is
      forge(14n, new Uint8Array([0, 4])), // empty inner packet, trailer only: delivered (empty)
      forge(15n, new Uint8Array([4])), // ciphertext shorter than the trailer: caught as malformed
      forge(16n, withTrailer([1, 2], 2, 4), 0x9999), // unknown SPI
      good,
      good, // replay
      good.subarray(0, 40), // truncated
      new Uint8Array([...good.subarray(0, 9), 17, ...good.subarray(10)]), // protocol 17 (checksum now wrong too)
      new Uint8Array(0),
    ];
    const w = wasm.decapsulate(outers).map(verdict);
    expect(w).toEqual(ts.decapsulate(outers).map(verdict));
    expect(w).toEqual(['bad-padding', 'bad-padding', 'bad-next-header', 'ok 13', 'ok 14', 'malformed', 'unknown-spi', 'ok 50', 'replay', 'malformed', 'malformed', 'malformed']);
    expect(json(wasm.counters(wi))).toBe(json(ts.counters(ti)));
    expect(json(wasm.counters(wo))).toBe(json(ts.counters(to)));
    expect(wasm.unattributedDrops()['unknown-spi']).toBeGreaterThan(0);
    remove();
  });

  it('SA table: grows past its first 16 slots, handles stay valid, removed SPIs are unknown again, misuse throws', () => {
    const e = wasm;
    const list = Array.from({ length: 40 }, (_, i) => params(SUITES[i % 3]!, { spi: 0x9000 + i }));
    const outs = list.map((p) => e.addSa('outbound', p));
    const ins = list.map((p) => e.addSa('inbound', p));
    const packets = outs.map((h, i) => bytesOf(e.encapsulate(h, [innerPacket(i)])[0]));
    expect(e.decapsulate(packets).map(verdict)).toEqual(packets.map(() => 'ok 1'));
    e.removeSa(ins[7]!);
    expect(verdict(e.decapsulate([packets[7]!])[0])).toBe('unknown-spi');
    expect(verdict(e.decapsulate([packets[8]!])[0])).toBe('replay');
    expect(() => e.addSa('inbound', list[8]!)).toThrow(RangeError);
    expect(() => e.addSa('outbound', params('aes-gcm-128', { key: new Uint8Array(32) }))).toThrow(/16-byte key/);
    expect(() => e.addSa('inbound', params('aes-gcm-128', { spi: 0x4242, replayWindow: 50 }))).toThrow(RangeError);
    expect(() => e.encapsulate(ins[0]!, [innerPacket(1)])).toThrow(RangeError);
    expect(() => e.counters(ins[7]!)).toThrow(RangeError);
    const again = e.addSa('inbound', list[7]!);
    expect(verdict(e.decapsulate([packets[7]!])[0])).toBe('ok 1');
    [...outs, ...ins.filter((_, i) => i !== 7), again].forEach((h) => e.removeSa(h));
    e.removeSa(again); // twice: ignored, like the reference
  });

  it('zero-copy batches: inner packets written at their place in the arena, decrypted in place or elsewhere', async () => {
    const e = await createWasmEspEngine(module);
    const p = params('chacha20-poly1305', { spi: 0xabcd });
    const out = e.addSa('outbound', p);
    e.addSa('inbound', p);
    const inners = [innerPacket(0), innerPacket(1000, { v6: true }), innerPacket(77)];
    const slotBytes = (n: number) => Math.ceil((n + ESP_OVERHEAD_MAX) / 16) * 16;
    const descBytes = inners.length * ESP_DESC.BYTES;
    const total = descBytes + inners.reduce((s, b) => s + slotBytes(b.length) + slotBytes(b.length), 0);
    const base = e.reserveBatch(total);
    const mem = new Uint8Array(e.memory.buffer);
    const dv = new DataView(e.memory.buffer);
    let at = base + descBytes;
    const outsAt: number[] = [];
    inners.forEach((b, i) => {
      const d = base + i * ESP_DESC.BYTES;
      mem.set(b, at + ESP_INNER_OFFSET);
      dv.setUint32(d + ESP_DESC.IN, at + ESP_INNER_OFFSET, true);
      dv.setUint32(d + ESP_DESC.IN_LEN, b.length, true);
      dv.setUint32(d + ESP_DESC.OUT, at, true);
      dv.setUint32(d + ESP_DESC.SA, e.saSlot(out), true);
      outsAt.push(at);
      at += slotBytes(b.length);
    });
    e.encapsulateDescriptors(base, inners.length);
    const reference = new TsEspEngine();
    const ro = reference.addSa('outbound', p);
    const expected = reference.encapsulate(ro, inners).map(bytesOf);
    inners.forEach((_, i) => {
      const d = base + i * ESP_DESC.BYTES;
      expect(dv.getUint32(d + ESP_DESC.VERDICT, true)).toBe(0);
      const len = dv.getUint32(d + ESP_DESC.OUT_LEN, true);
      expect(hex(mem.subarray(outsAt[i]!, outsAt[i]! + len))).toBe(hex(expected[i]!));
      // Decapsulate the same bytes where they lie: in place for the first two, into a spare slot for the last.
      dv.setUint32(d + ESP_DESC.IN, outsAt[i]!, true);
      dv.setUint32(d + ESP_DESC.IN_LEN, len, true);
      dv.setUint32(d + ESP_DESC.OUT, i < 2 ? 0 : at, true);
    });
    e.decapsulateDescriptors(base, inners.length);
    inners.forEach((b, i) => {
      const d = base + i * ESP_DESC.BYTES;
      expect(dv.getUint32(d + ESP_DESC.VERDICT, true)).toBe(0);
      const where = dv.getUint32(d + ESP_DESC.OUT, true);
      expect(where).toBe(i < 2 ? outsAt[i]! + ESP_INNER_OFFSET : at);
      expect(hex(mem.subarray(where, where + dv.getUint32(d + ESP_DESC.OUT_LEN, true)))).toBe(hex(b));
      expect(dv.getBigUint64(d + ESP_DESC.SEQ, true)).toBe(BigInt(i + 1));
    });
  });
});

describe('outer fragments (RFC 4303 §3.4.1)', () => {
  it('both engines drop an ESP packet whose outer header says fragment, before the SPI lookup', async () => {
    const module = await loadEspModule();
    const engines: EspEngine[] = [new TsEspEngine(), await createWasmEspEngine(module)];
    const params: EspSaParams = { spi: 0x4321, suite: 'aes-gcm-128', key: new Uint8Array(16).fill(3), salt: new Uint8Array(4).fill(9), esn: false, replayWindow: 64, tunnelSrc: 0xc0000201, tunnelDst: 0xc0000202 };
    const inner = encodeIpv4({ dscp: 0, ecn: 0, identification: 1, dontFragment: false, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: IP_PROTO_UDP, src: 0x0a000001, dst: 0x0a000002, options: new Uint8Array(0) }, new Uint8Array(40));
    for (const e of engines) {
      const out = e.addSa('outbound', params);
      e.addSa('inbound', params);
      const [r] = e.encapsulate(out, [inner]);
      if (!r?.ok) throw new Error('encapsulate');
      for (const [flags, label] of [[0x20, 'MF'], [0x00, 'offset']] as const) {
        const frag = r.bytes.slice();
        frag[6] = flags; // clear DF; MF, or…
        frag[7] = label === 'offset' ? 1 : 0; // …a non-zero fragment offset
        frag[10] = 0;
        frag[11] = 0;
        let sum = 0;
        for (let i = 0; i < 20; i += 2) sum += (frag[i]! << 8) | frag[i + 1]!;
        while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
        frag[10] = (~sum >> 8) & 0xff;
        frag[11] = ~sum & 0xff;
        expect(e.decapsulate([frag])[0], `${e.name} ${label}`).toEqual({ ok: false, reason: 'malformed' });
      }
      expect(e.decapsulate([r.bytes])[0]!.ok, e.name).toBe(true);
    }
  });
});

describe('SA parameters', () => {
  it('both engines refuse ESN without an anti-replay window (no way to infer the high half)', async () => {
    const p: EspSaParams = { spi: 0x5555, suite: 'aes-gcm-128', key: new Uint8Array(16), salt: new Uint8Array(4), esn: true, replayWindow: 0, tunnelSrc: 1, tunnelDst: 2 };
    for (const e of [new TsEspEngine(), await createWasmEspEngine(await loadEspModule())] as EspEngine[]) {
      expect(() => e.addSa('inbound', p), e.name).toThrow(/ESN needs an anti-replay window/);
      expect(e.addSa('outbound', p), e.name).toBeGreaterThan(0);
    }
  });
});
