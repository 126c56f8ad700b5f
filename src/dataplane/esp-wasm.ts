// The WASM ESP engine (assembly/esp/): the EspEngine contract over one module instance whose SA
// table, keys and batches live in the module's linear memory. Pure: no I/O; the caller hands in a
// compiled module (runtime/wasm.ts loads it). Never makes a JS↔WASM call per packet.

import {
  ESP_DROP_REASONS,
  ESP_ICV_BYTES,
  ESP_OVERHEAD_MAX,
  ESP_SUITES,
  type EspDirection,
  type EspEngine,
  type EspResult,
  type EspSaCounters,
  type EspSaParams,
  type EspSuite,
} from './esp.ts';
import { checkSaParams } from './esp-ts.ts';

/** The exports of assembly/esp/index.ts (its header comment has the memory layout). */
interface EspExports {
  readonly memory: WebAssembly.Memory;
  arenaOffset(): number;
  arenaCapacity(): number;
  ensureCapacity(bytes: number): number;
  saRecordBytes(): number;
  saRecordAddress(h: number): number;
  saTableBytes(capacity: number): number;
  saTableInit(base: number, capacity: number): void;
  saTableGrow(capacity: number): void;
  saInstall(h: number, inbound: number, suite: number, spi: number, esn: number, window: number, tunnelSrc: number, tunnelDst: number, key: number, salt: number): number;
  saRemove(h: number): void;
  saSetNextSeq(h: number, seq: bigint, exhausted: number): void;
  saLookupInbound(spi: number): number;
  espEncapsulateBatch(descOffset: number, count: number): void;
  espDecapsulateBatch(descOffset: number, count: number): void;
  espUnattributedDrops(verdict: number): bigint;
  aeadTestKey(suite: number, key: number): void;
  aeadTestSeal(suite: number, nonce: number, aad: number, aadLen: number, src: number, len: number, dst: number): void;
  aeadTestOpen(suite: number, nonce: number, aad: number, aadLen: number, src: number, len: number, tag: number, dst: number): number;
}

const EXPORTED_FUNCTIONS = [
  'arenaOffset', 'arenaCapacity', 'ensureCapacity', 'saRecordBytes', 'saRecordAddress', 'saTableBytes', 'saTableInit', 'saTableGrow',
  'saInstall', 'saRemove', 'saSetNextSeq', 'saLookupInbound', 'espEncapsulateBatch', 'espDecapsulateBatch', 'espUnattributedDrops',
  'aeadTestKey', 'aeadTestSeal', 'aeadTestOpen',
] as const;

/** Descriptor layout of the batch calls (assembly/esp/index.ts): 32 bytes, little-endian. */
export const ESP_DESC = {
  BYTES: 32,
  /** u32: address of the input packet (encapsulate: inner; decapsulate: outer). */
  IN: 0,
  IN_LEN: 4,
  /** u32: encapsulate: where the outer packet goes (the inner may already sit at +36); decapsulate: where the inner goes, 0 = in place; on return its address. */
  OUT: 8,
  /** u32: encapsulate: the SA slot (saSlot(handle)); decapsulate: the slot found, 0xffffffff if none. */
  SA: 12,
  OUT_LEN: 16,
  /** u32: 0 delivered, else 1 + index in ESP_DROP_REASONS; 255 = no outbound SA in that slot. */
  VERDICT: 20,
  /** u64: the full sequence number. */
  SEQ: 24,
} as const;

/** Where an inner packet sits inside its outer packet: outer IPv4 header, SPI, sequence number, IV. */
export const ESP_INNER_OFFSET = 36;

/** The SA record fields JS reads (assembly/esp/sa.ts). */
const REC_SEQ = 32;
const REC_SEQ_EXHAUSTED = 40;
const REC_PACKETS = 48;
const REC_BYTES = 56;
const REC_DROPS = 64;

const VERDICT_BAD_HANDLE = 255;
const INITIAL_SAS = 16;
const ALIGN = 64;
const TWO_64 = 1n << 64n;
const align = (n: number, a: number): number => Math.ceil(n / a) * a;

interface SaSlot {
  slot: number;
  direction: EspDirection;
  /** setNextSeq beyond 2^64 − 1: the exact value, which WASM only knows as "exhausted". */
  seqBeyond?: bigint;
}

function isEspExports(e: WebAssembly.Exports): e is WebAssembly.Exports & EspExports {
  return e['memory'] instanceof WebAssembly.Memory && EXPORTED_FUNCTIONS.every((k) => typeof e[k] === 'function');
}

/**
 * The WASM engine. Per batch: lay out [descriptors | packets] behind the SA table in the arena, copy
 * the packets in once (inner packets straight to where the ciphertext will be, so WASM encrypts in
 * place), make one call, copy the results out. The delivered `bytes` of one batch are views of one
 * fresh copy (one allocation per batch): they never alias WASM memory, but they share an
 * ArrayBuffer, so copy a packet before transferring its buffer. Callers that build batches in the
 * arena themselves use reserveBatch / encapsulateDescriptors / decapsulateDescriptors and copy
 * nothing.
 */
export class WasmEspEngine implements EspEngine {
  readonly name = 'wasm';
  readonly #x: EspExports;
  readonly #base: number;
  #capacity = INITIAL_SAS;
  readonly #sas = new Map<number, SaSlot>();
  readonly #free: number[] = [];
  #nextHandle = 1;

  constructor(exports: EspExports) {
    this.#x = exports;
    this.#base = exports.arenaOffset();
    this.#grow(this.#x.saTableBytes(this.#capacity));
    exports.saTableInit(this.#base, this.#capacity);
    for (let s = this.#capacity - 1; s >= 0; s--) this.#free.push(s);
  }

  /** The module's memory; growing it (reserveBatch, addSa) detaches views of its buffer. */
  get memory(): WebAssembly.Memory {
    return this.#x.memory;
  }

  addSa(direction: EspDirection, params: EspSaParams): number {
    checkSaParams(direction, params);
    const spi = params.spi >>> 0;
    if (direction === 'inbound' && this.#x.saLookupInbound(spi) >= 0) throw new RangeError(`inbound SPI 0x${params.spi.toString(16)} already installed`);
    if (this.#free.length === 0) this.#growTable();
    const slot = this.#free.pop() as number;
    const at = this.reserveBatch(64);
    const mem = new Uint8Array(this.#x.memory.buffer);
    mem.set(params.key, at);
    mem.set(params.salt, at + 32);
    const inbound = direction === 'inbound';
    const r = this.#x.saInstall(slot, inbound ? 1 : 0, ESP_SUITES.indexOf(params.suite), spi, params.esn ? 1 : 0, inbound ? params.replayWindow : 0, params.tunnelSrc >>> 0, params.tunnelDst >>> 0, at, at + 32);
    mem.fill(0, at, at + 64);
    if (r !== 0) {
      this.#free.push(slot);
      throw new RangeError(`ESP SA 0x${spi.toString(16)}: the WASM engine refused it (code ${r})`);
    }
    const handle = this.#nextHandle++;
    this.#sas.set(handle, { slot, direction });
    return handle;
  }

  removeSa(handle: number): void {
    const sa = this.#sas.get(handle);
    if (!sa) return;
    this.#sas.delete(handle);
    this.#x.saRemove(sa.slot);
    this.#free.push(sa.slot);
  }

  setNextSeq(handle: number, seq: bigint): void {
    const sa = this.#sa(handle, 'outbound');
    if (seq < 0n) throw new RangeError(`setNextSeq: sequence numbers are unsigned, got ${seq}`);
    if (seq >= TWO_64) {
      sa.seqBeyond = seq;
      this.#x.saSetNextSeq(sa.slot, 0n, 1);
    } else {
      sa.seqBeyond = undefined;
      this.#x.saSetNextSeq(sa.slot, seq, 0);
    }
  }

  counters(handle: number): EspSaCounters {
    const sa = this.#sa(handle);
    const rec = this.#x.saRecordAddress(sa.slot);
    const dv = new DataView(this.#x.memory.buffer);
    const u64 = (at: number) => dv.getBigUint64(rec + at, true);
    let seq = u64(REC_SEQ);
    if (sa.direction === 'outbound' && dv.getUint32(rec + REC_SEQ_EXHAUSTED, true) !== 0) seq = sa.seqBeyond ?? TWO_64 + seq;
    const drops = Object.fromEntries(ESP_DROP_REASONS.map((r, i) => [r, Number(u64(REC_DROPS + 8 * i))])) as EspSaCounters['drops'];
    return { packets: Number(u64(REC_PACKETS)), bytes: Number(u64(REC_BYTES)), seq, drops };
  }

  encapsulate(handle: number, packets: readonly Uint8Array[]): EspResult[] {
    const { slot } = this.#sa(handle, 'outbound');
    const count = packets.length;
    if (count === 0) return [];
    const outs = new Array<number>(count);
    let need = count * ESP_DESC.BYTES;
    for (let i = 0; i < count; i++) {
      outs[i] = need;
      need += align((packets[i] as Uint8Array).length + ESP_OVERHEAD_MAX, 16);
    }
    const base = this.reserveBatch(need);
    const buffer = this.#x.memory.buffer;
    const mem = new Uint8Array(buffer);
    const u32 = new Uint32Array(buffer);
    for (let i = 0; i < count; i++) {
      const p = packets[i] as Uint8Array;
      const d = (base + i * ESP_DESC.BYTES) >> 2;
      const out = base + (outs[i] as number);
      u32[d] = out + ESP_INNER_OFFSET;
      u32[d + 1] = p.length;
      u32[d + 2] = out;
      u32[d + 3] = slot;
      mem.set(p, out + ESP_INNER_OFFSET);
    }
    this.#x.espEncapsulateBatch(base, count);
    return this.#results(base, count, buffer);
  }

  decapsulate(packets: readonly Uint8Array[]): EspResult[] {
    const count = packets.length;
    if (count === 0) return [];
    const ins = new Array<number>(count);
    let need = count * ESP_DESC.BYTES;
    for (let i = 0; i < count; i++) {
      ins[i] = need;
      need += align((packets[i] as Uint8Array).length, 16);
    }
    const base = this.reserveBatch(need);
    const buffer = this.#x.memory.buffer;
    const mem = new Uint8Array(buffer);
    const u32 = new Uint32Array(buffer);
    for (let i = 0; i < count; i++) {
      const p = packets[i] as Uint8Array;
      const d = (base + i * ESP_DESC.BYTES) >> 2;
      const at = base + (ins[i] as number);
      u32[d] = at;
      u32[d + 1] = p.length;
      u32[d + 2] = 0; // decrypt in place
      mem.set(p, at);
    }
    this.#x.espDecapsulateBatch(base, count);
    return this.#results(base, count, buffer);
  }

  // ---- Zero-copy batch API ---------------------------------------------------------------------

  /**
   * Reserves `bytes` of arena behind the SA table for a caller-built batch and returns its absolute
   * address (64-byte aligned). Valid until the next reserveBatch, addSa, encapsulate or decapsulate;
   * may grow the memory (re-create views of `memory.buffer` afterwards).
   */
  reserveBatch(bytes: number): number {
    const start = align(this.#base + this.#x.saTableBytes(this.#capacity), ALIGN);
    this.#grow(start - this.#base + bytes);
    return start;
  }

  /** The SA slot to put in encapsulate descriptors for outbound SA `handle`. */
  saSlot(handle: number): number {
    return this.#sa(handle).slot;
  }

  /**
   * Encapsulates `count` packets described at `descOffset` (layout: ESP_DESC) in one call; each
   * descriptor names its outbound slot. For zero copy, write each inner packet at
   * out + ESP_INNER_OFFSET and point `in` there; leave ESP_OVERHEAD_MAX bytes of room per packet.
   */
  encapsulateDescriptors(descOffset: number, count: number): void {
    this.#x.espEncapsulateBatch(descOffset, count);
  }

  /** Decapsulates `count` packets described at `descOffset` (layout: ESP_DESC) in one call. */
  decapsulateDescriptors(descOffset: number, count: number): void {
    this.#x.espDecapsulateBatch(descOffset, count);
  }

  /** Drops no SA can be charged with (they happen before an SA is found): malformed outer packets, unknown SPIs. */
  unattributedDrops(): { malformed: number; 'unknown-spi': number } {
    return { malformed: Number(this.#x.espUnattributedDrops(1)), 'unknown-spi': Number(this.#x.espUnattributedDrops(2)) };
  }

  // ---- Raw AEAD (test vectors) -----------------------------------------------------------------

  /** AEAD seal through the WASM kernels (12-byte nonce, 16-byte tag): ciphertext | tag. For the vector tests. */
  rawAeadSeal(suite: EspSuite, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plain: Uint8Array): Uint8Array {
    const { at, code } = this.#stageAead(suite, key, nonce, aad, plain);
    this.#x.aeadTestSeal(code, at.nonce, at.aad, aad.length, at.data, plain.length, at.data);
    const out = new Uint8Array(this.#x.memory.buffer).slice(at.data, at.data + plain.length + ESP_ICV_BYTES);
    this.#wipe(at.start, at.end);
    return out;
  }

  /** AEAD open through the WASM kernels: the plaintext, or undefined when the tag does not verify. */
  rawAeadOpen(suite: EspSuite, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | undefined {
    if (nonce.length !== 12 || sealed.length < ESP_ICV_BYTES) return undefined;
    const { at, code } = this.#stageAead(suite, key, nonce, aad, sealed);
    const len = sealed.length - ESP_ICV_BYTES;
    const ok = this.#x.aeadTestOpen(code, at.nonce, at.aad, aad.length, at.data, len, at.data + len, at.data) === 1;
    const out = ok ? new Uint8Array(this.#x.memory.buffer).slice(at.data, at.data + len) : undefined;
    this.#wipe(at.start, at.end);
    return out;
  }

  /** Copies key, nonce, AAD and data into the arena (data with room for a tag) and installs the key. */
  #stageAead(suite: EspSuite, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, data: Uint8Array) {
    const code = ESP_SUITES.indexOf(suite);
    if (code < 0 || key.length !== (suite === 'aes-gcm-128' ? 16 : 32) || nonce.length !== 12) throw new RangeError(`raw AEAD ${suite}: bad key or nonce length`);
    const dataAt = align(64 + aad.length, 16);
    const end = dataAt + data.length + ESP_ICV_BYTES;
    const start = this.reserveBatch(end);
    const mem = new Uint8Array(this.#x.memory.buffer);
    mem.set(key, start);
    mem.set(nonce, start + 32);
    mem.set(aad, start + 64);
    mem.set(data, start + dataAt);
    this.#x.aeadTestKey(code, start);
    return { code, at: { start, end: start + end, nonce: start + 32, aad: start + 64, data: start + dataAt } };
  }

  #wipe(from: number, to: number): void {
    new Uint8Array(this.#x.memory.buffer).fill(0, from, to);
  }

  // ---- Internals -------------------------------------------------------------------------------

  /**
   * Reads the verdicts back. Delivered bytes are copied out of the arena with one slice over the
   * span of all outputs (they lie in address order) and handed out as views of that copy: one
   * allocation and one memcpy per batch instead of one per packet.
   */
  #results(base: number, count: number, buffer: ArrayBufferLike): EspResult[] {
    const u32 = new Uint32Array(buffer);
    const u64 = new BigUint64Array(buffer);
    let lo = Infinity;
    let hi = 0;
    for (let i = 0; i < count; i++) {
      const d = (base + i * ESP_DESC.BYTES) >> 2;
      const verdict = u32[d + 5] as number;
      if (verdict === VERDICT_BAD_HANDLE) throw new Error(`WasmEspEngine: descriptor ${i} named no outbound SA (an engine bug)`);
      if (verdict !== 0) continue;
      const out = u32[d + 2] as number;
      lo = Math.min(lo, out);
      hi = Math.max(hi, out + (u32[d + 4] as number));
    }
    // new + set, and views made with the constructor: both measured faster in V8 than slice/subarray.
    const copy = new Uint8Array(hi > 0 ? hi - lo : 0);
    if (hi > 0) copy.set(new Uint8Array(buffer, lo, hi - lo));
    const copied = copy.buffer;
    const results = new Array<EspResult>(count);
    for (let i = 0; i < count; i++) {
      const at = base + i * ESP_DESC.BYTES;
      const d = at >> 2;
      const verdict = u32[d + 5] as number;
      if (verdict === 0) {
        const from = (u32[d + 2] as number) - lo;
        results[i] = { ok: true, bytes: new Uint8Array(copied, from, u32[d + 4] as number), seq: u64[(at + ESP_DESC.SEQ) >> 3] as bigint };
      } else {
        results[i] = { ok: false, reason: ESP_DROP_REASONS[verdict - 1] as (typeof ESP_DROP_REASONS)[number] };
      }
    }
    return results;
  }

  #sa(handle: number, direction?: EspDirection): SaSlot {
    const sa = this.#sas.get(handle);
    if (!sa || (direction && sa.direction !== direction)) throw new RangeError(`no ${direction ?? ''} SA with handle ${handle}`.replace('  ', ' '));
    return sa;
  }

  /** Makes the arena at least `bytes` long, or throws. */
  #grow(bytes: number): void {
    if (bytes > 0xffff_ffff || this.#x.ensureCapacity(bytes) < bytes) throw new RangeError(`WasmEspEngine: needs ${bytes} arena bytes; memory could not grow`);
  }

  /** Doubles the SA table in place (handles and records stay where they are). */
  #growTable(): void {
    const capacity = this.#capacity * 2;
    this.#grow(this.#x.saTableBytes(capacity));
    this.#x.saTableGrow(capacity);
    for (let s = capacity - 1; s >= this.#capacity; s--) this.#free.push(s);
    this.#capacity = capacity;
  }
}

/** Instantiates the ESP module (it needs no imports) and wraps it as an EspEngine. */
/**
 * The same, instantiated synchronously: for workers and Node, where nodes are built synchronously
 * (a browser's main thread refuses synchronous instantiation of a module this size).
 */
export function createWasmEspEngineSync(module: WebAssembly.Module): WasmEspEngine {
  const instance = new WebAssembly.Instance(module, {});
  if (!isEspExports(instance.exports)) {
    throw new TypeError('createWasmEspEngineSync: module lacks the ESP exports (rebuild with node assembly/build.mjs esp)');
  }
  return new WasmEspEngine(instance.exports);
}

export async function createWasmEspEngine(module: WebAssembly.Module): Promise<WasmEspEngine> {
  const instance = await WebAssembly.instantiate(module, {});
  if (!isEspExports(instance.exports)) {
    throw new TypeError('createWasmEspEngine: module lacks the ESP exports (rebuild with node assembly/build.mjs esp)');
  }
  return new WasmEspEngine(instance.exports);
}
