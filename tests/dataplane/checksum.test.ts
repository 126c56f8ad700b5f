// RFC 1071 checksum engines: the TypeScript reference and the WASM kernel pass the same suite,
// and the WASM engine is checked against the reference on random inputs (fast-check).
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex } from '../../src/lib/bytes.ts';
import {
  TsChecksumEngine,
  createWasmChecksumEngine,
  rfc1071,
  type ChecksumEngine,
  type WasmChecksumEngine,
} from '../../src/dataplane/checksum.ts';
import { loadDataplaneModuleNode } from '../../src/runtime/wasm.ts';

// RFC 791-style IPv4 header, 20 bytes, checksum field b861 (the classic worked example).
const FIXTURE = `
  45 00 00 73   // version 4, IHL 5, TOS 0, total length 115
  00 00 40 00   // id 0, flags DF, fragment offset 0
  40 11 b8 61   // TTL 64, protocol 17 (UDP), header checksum 0xb861
  c0 a8 00 01   // source 192.168.0.1
  c0 a8 00 c7   // destination 192.168.0.199
`;

/** Random IPv4 headers: 20..60 bytes, a multiple of 4, version/IHL byte consistent with the length. */
const ipv4Header = fc
  .integer({ min: 5, max: 15 })
  .chain((ihl) => fc.uint8Array({ minLength: 4 * ihl, maxLength: 4 * ihl }))
  .map((h) => {
    h[0] = 0x40 | (h.length / 4);
    return h;
  });
/** Random byte strings, odd and even lengths, long enough to reach the WASM v128 loop. */
const byteString = fc.uint8Array({ minLength: 0, maxLength: 1500 });

const copyAll = (hs: Uint8Array[]): Uint8Array[] => hs.map((h) => h.slice());

let module: WebAssembly.Module;
let wasm: WasmChecksumEngine;
const ts = new TsChecksumEngine();

beforeAll(async () => {
  module = await loadDataplaneModuleNode();
  wasm = await createWasmChecksumEngine(module);
});

describe('data-plane module', () => {
  it('needs no imports and exports the batch API', () => {
    expect(WebAssembly.Module.imports(module)).toEqual([]);
    const names = WebAssembly.Module.exports(module).map((e) => e.name);
    expect(names.sort()).toEqual(
      ['arenaCapacity', 'arenaOffset', 'checksumBatch', 'ensureCapacity', 'fillIpv4ChecksumBatch', 'memory'].sort(),
    );
  });
});

describe('rfc1071 reference', () => {
  it('pads an odd last byte with zero on the right (RFC 1071 section 4.1)', () => {
    expect(rfc1071(Uint8Array.of(0xab))).toBe(~0xab00 & 0xffff);
    expect(rfc1071(Uint8Array.of(0x12, 0x34, 0xab))).toBe(~(0x1234 + 0xab00) & 0xffff);
  });
  it('folds carries end-around', () => {
    // 0xffff + 0x0001 = 0x10000 -> 0x0001 -> checksum 0xfffe
    expect(rfc1071(Uint8Array.of(0xff, 0xff, 0x00, 0x01))).toBe(0xfffe);
  });
  it('gives 0xffff for no bytes', () => {
    expect(rfc1071(new Uint8Array(0))).toBe(0xffff);
  });
});

describe.each([
  ['ts', () => ts as ChecksumEngine],
  ['wasm', () => wasm as ChecksumEngine],
])('%s engine', (_name, engine) => {
  it('checks the RFC 791-style fixture header', () => {
    const h = fromHex(FIXTURE);
    expect(engine().checksumBatch([h])[0]).toBe(0);
    const zeroed = h.slice();
    zeroed[10] = 0;
    zeroed[11] = 0;
    expect(engine().checksumBatch([zeroed])[0]).toBe(0xb861);
  });

  it('fills the fixture checksum in place as b8 61', () => {
    const h = fromHex(FIXTURE);
    h[10] = 0x12; // wrong value: must be overwritten, not summed in
    h[11] = 0x34;
    engine().fillIpv4ChecksumsInPlace([h]);
    expect([h[10], h[11]]).toEqual([0xb8, 0x61]);
  });

  it('handles an empty batch', () => {
    expect(engine().checksumBatch([])).toEqual(new Uint16Array(0));
    expect(() => engine().fillIpv4ChecksumsInPlace([])).not.toThrow();
  });

  it('rejects IPv4 headers shorter than 20 bytes (API misuse)', () => {
    expect(() => engine().fillIpv4ChecksumsInPlace([new Uint8Array(20), new Uint8Array(19)])).toThrow(RangeError);
  });

  it('filled random headers verify to 0', () => {
    fc.assert(
      fc.property(fc.array(ipv4Header, { minLength: 1, maxLength: 64 }), (headers) => {
        engine().fillIpv4ChecksumsInPlace(headers);
        expect(Array.from(engine().checksumBatch(headers))).toEqual(headers.map(() => 0));
      }),
    );
  });
});

describe('WASM engine equals the TypeScript reference', () => {
  it('checksumBatch on random IPv4 headers', () => {
    fc.assert(
      fc.property(fc.array(ipv4Header, { maxLength: 64 }), (headers) => {
        expect(wasm.checksumBatch(headers)).toEqual(ts.checksumBatch(headers));
      }),
    );
  });

  it('checksumBatch on random byte strings of odd and even lengths', () => {
    fc.assert(
      fc.property(fc.array(byteString, { maxLength: 16 }), (strings) => {
        expect(wasm.checksumBatch(strings)).toEqual(ts.checksumBatch(strings));
      }),
    );
  });

  it('fillIpv4ChecksumsInPlace writes the same bytes and leaves the rest untouched', () => {
    fc.assert(
      fc.property(fc.array(ipv4Header, { minLength: 1, maxLength: 64 }), (headers) => {
        const viaTs = copyAll(headers);
        const viaWasm = copyAll(headers);
        ts.fillIpv4ChecksumsInPlace(viaTs);
        wasm.fillIpv4ChecksumsInPlace(viaWasm);
        expect(viaWasm).toEqual(viaTs);
        viaWasm.forEach((h, i) => {
          const before = headers[i] as Uint8Array;
          expect([...h.subarray(0, 10), ...h.subarray(12)]).toEqual([...before.subarray(0, 10), ...before.subarray(12)]);
        });
      }),
    );
  });

  it('valid random headers check to 0 on both', () => {
    fc.assert(
      fc.property(fc.array(ipv4Header, { minLength: 1, maxLength: 32 }), (headers) => {
        ts.fillIpv4ChecksumsInPlace(headers);
        expect(Array.from(wasm.checksumBatch(headers))).toEqual(headers.map(() => 0));
      }),
    );
  });
});

describe('WASM arena growth', () => {
  it('grows for a batch larger than the initial arena and stays right afterwards', async () => {
    const fresh = await createWasmChecksumEngine(module);
    const initial = fresh.arenaCapacity;
    const headers = fc.sample(fc.uint8Array({ minLength: 60, maxLength: 60 }), { numRuns: 3000, seed: 1071 });
    expect(headers.reduce((n, h) => n + h.length, 0)).toBeGreaterThan(initial);

    expect(fresh.checksumBatch(headers)).toEqual(ts.checksumBatch(headers));
    expect(fresh.arenaCapacity).toBeGreaterThan(initial);

    const filled = copyAll(headers);
    fresh.fillIpv4ChecksumsInPlace(filled);
    expect(Array.from(ts.checksumBatch(filled))).toEqual(filled.map(() => 0));
    // A small batch after growth uses views made over the new buffer.
    expect(fresh.checksumBatch([fromHex(FIXTURE)])[0]).toBe(0);
  });

  it('sums long inputs across SIMD blocks without lane overflow', async () => {
    const fresh = await createWasmChecksumEngine(module);
    // All-ones words are the worst case for the 32-bit lane sums; > 256 KiB spans several blocks.
    const ones = new Uint8Array(600_001).fill(0xff);
    const random = fc.sample(fc.uint8Array({ minLength: 300_017, maxLength: 300_017 }), { numRuns: 1, seed: 791 })[0] as Uint8Array;
    expect(fresh.checksumBatch([ones, random])).toEqual(ts.checksumBatch([ones, random]));
  });
});
