// Internet checksum (RFC 1071) over batches of byte strings: one interface, a TypeScript reference
// and a WASM engine (assembly/index.ts). Pure: no I/O here; the caller hands in a compiled module.

import { internetChecksum } from '../proto/ip/checksum.ts';

/** Minimum IPv4 header length (RFC 791: IHL >= 5 words). */
export const IPV4_HEADER_MIN_BYTES = 20;
/** Offset of the Header Checksum field in an IPv4 header (RFC 791 section 3.1). */
export const IPV4_CHECKSUM_OFFSET = 10;

/** Batch checksum operations; the TypeScript and WASM engines must agree byte for byte. */
export interface ChecksumEngine {
  readonly name: 'ts' | 'wasm';
  /**
   * RFC 1071 checksum of each byte string exactly as it is (checksum field included), as a 16-bit
   * value (0xb861 for wire bytes b8 61). A header whose checksum field is correct gives 0.
   */
  checksumBatch(headers: Uint8Array[]): Uint16Array;
  /**
   * Zeroes bytes 10-11 of each IPv4 header and writes its correct checksum there, in place.
   * Throws RangeError (API misuse) if a header is shorter than 20 bytes.
   */
  fillIpv4ChecksumsInPlace(headers: Uint8Array[]): void;
}

/** RFC 1071 Internet checksum: the one implementation, in proto/ip. */
export const rfc1071 = (bytes: Uint8Array): number => internetChecksum(bytes);

function checkIpv4Lengths(headers: Uint8Array[]): void {
  headers.forEach((h, i) => {
    if (h.length < IPV4_HEADER_MIN_BYTES) {
      throw new RangeError(`fillIpv4ChecksumsInPlace: header ${i} is ${h.length} bytes, IPv4 needs >= ${IPV4_HEADER_MIN_BYTES}`);
    }
  });
}

/** The TypeScript reference engine, and the oracle for the WASM one. */
export class TsChecksumEngine implements ChecksumEngine {
  readonly name = 'ts';

  checksumBatch(headers: Uint8Array[]): Uint16Array {
    const out = new Uint16Array(headers.length);
    headers.forEach((h, i) => {
      out[i] = rfc1071(h);
    });
    return out;
  }

  fillIpv4ChecksumsInPlace(headers: Uint8Array[]): void {
    checkIpv4Lengths(headers);
    for (const h of headers) {
      h[IPV4_CHECKSUM_OFFSET] = 0;
      h[IPV4_CHECKSUM_OFFSET + 1] = 0;
      const c = rfc1071(h);
      h[IPV4_CHECKSUM_OFFSET] = c >>> 8;
      h[IPV4_CHECKSUM_OFFSET + 1] = c & 0xff;
    }
  }
}

/** The exports of assembly/index.ts (see its header comment for the memory layout). */
interface DataplaneExports {
  readonly memory: WebAssembly.Memory;
  arenaOffset(): number;
  arenaCapacity(): number;
  ensureCapacity(bytes: number): number;
  checksumBatch(descOffset: number, count: number, outOffset: number): void;
  fillIpv4ChecksumBatch(descOffset: number, count: number): void;
}

const DESC_BYTES = 8;
const DATA_ALIGN = 8;
const align = (n: number, a: number): number => Math.ceil(n / a) * a;

function isDataplaneExports(e: WebAssembly.Exports): e is WebAssembly.Exports & DataplaneExports {
  return (
    e['memory'] instanceof WebAssembly.Memory &&
    ['arenaOffset', 'arenaCapacity', 'ensureCapacity', 'checksumBatch', 'fillIpv4ChecksumBatch'].every(
      (k) => typeof e[k] === 'function',
    )
  );
}

/**
 * The WASM engine. Per batch: lay out [descriptors | results | headers] in the arena, copy the
 * headers in once, make one call, read the results (or copy the checksum fields back).
 */
export class WasmChecksumEngine implements ChecksumEngine {
  readonly name = 'wasm';
  readonly #x: DataplaneExports;

  constructor(exports: DataplaneExports) {
    this.#x = exports;
  }

  /** Arena bytes available now; grows on demand, so this only reports. */
  get arenaCapacity(): number {
    return this.#x.arenaCapacity();
  }

  checksumBatch(headers: Uint8Array[]): Uint16Array {
    const count = headers.length;
    const out = new Uint16Array(count);
    if (count === 0) return out;
    const { descOffset, outOffset, view } = this.#stage(headers);
    this.#x.checksumBatch(descOffset, count, outOffset);
    for (let i = 0; i < count; i++) out[i] = view.getUint16(outOffset + 2 * i, true);
    return out;
  }

  fillIpv4ChecksumsInPlace(headers: Uint8Array[]): void {
    checkIpv4Lengths(headers);
    if (headers.length === 0) return;
    const { descOffset, view, dataOffsets } = this.#stage(headers);
    this.#x.fillIpv4ChecksumBatch(descOffset, headers.length);
    headers.forEach((h, i) => {
      const at = (dataOffsets[i] as number) + IPV4_CHECKSUM_OFFSET;
      h[IPV4_CHECKSUM_OFFSET] = view.getUint8(at);
      h[IPV4_CHECKSUM_OFFSET + 1] = view.getUint8(at + 1);
    });
  }

  /** Copies a batch into the arena, growing memory first if needed; returns views made after growth. */
  #stage(headers: Uint8Array[]): { descOffset: number; outOffset: number; view: DataView; dataOffsets: number[] } {
    const count = headers.length;
    const base = this.#x.arenaOffset();
    const descOffset = base;
    const outOffset = descOffset + count * DESC_BYTES;
    let end = align(outOffset + count * 2, DATA_ALIGN);
    const dataOffsets: number[] = [];
    for (const h of headers) {
      dataOffsets.push(end);
      end = align(end + h.length, DATA_ALIGN);
    }
    const need = end - base;
    if (need > 0xffffffff || this.#x.ensureCapacity(need) < need) {
      throw new RangeError(`WasmChecksumEngine: batch needs ${need} arena bytes; memory could not grow`);
    }
    // ensureCapacity may have grown memory and detached older views: make them now.
    const buffer = this.#x.memory.buffer;
    const bytes = new Uint8Array(buffer);
    const view = new DataView(buffer);
    headers.forEach((h, i) => {
      const at = dataOffsets[i] as number;
      view.setUint32(descOffset + i * DESC_BYTES, at, true);
      view.setUint32(descOffset + i * DESC_BYTES + 4, h.length, true);
      bytes.set(h, at);
    });
    return { descOffset, outOffset, view, dataOffsets };
  }
}

/** Instantiates the data-plane module (no imports needed) and wraps it as a ChecksumEngine. */
export async function createWasmChecksumEngine(module: WebAssembly.Module): Promise<WasmChecksumEngine> {
  const instance = await WebAssembly.instantiate(module, {});
  if (!isDataplaneExports(instance.exports)) {
    throw new TypeError('createWasmChecksumEngine: module lacks the data-plane exports (rebuild with npm run asbuild)');
  }
  return new WasmChecksumEngine(instance.exports);
}
