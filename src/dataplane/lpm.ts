// Longest-prefix-match tables behind one interface: the TypeScript reference (a plain binary trie,
// the oracle) and the WASM engine (assembly/lpm/). Pure: no I/O here; the caller hands in a module.
//
// Conventions, shared by both engines:
//   - IPv4 addresses and prefixes are unsigned 32-bit numbers; IPv6 ones are 16-byte Uint8Arrays
//     (as in lib/addr.ts). Prefix bits past `len` are ignored.
//   - Batches are Uint32Arrays: one word per IPv4 address, four per IPv6 address (most significant
//     word first, each word big-endian as a number: bytes 0-3 of the address are word 0). See
//     ipv6ToWords / wordsToIpv6.
//   - Values are integers in [0, LPM_VALUE_MAX]; batch results hold LPM_NO_MATCH for "no route".

/** Batch result for an address no prefix covers. */
export const LPM_NO_MATCH = 0xffffffff;
/** Largest value a prefix may map to. */
export const LPM_VALUE_MAX = 0x7ffffffe;

export type LpmFamily = 4 | 6;
/** Address type of a family: number (IPv4) or 16-byte Uint8Array (IPv6). */
export type LpmAddr<F extends LpmFamily> = F extends 4 ? number : Uint8Array;

export interface LpmEntry<A> {
  prefix: A;
  len: number;
  value: number;
}

/** A longest-prefix-match table; the TypeScript and WASM engines answer identically. */
export interface LpmTable<A> {
  readonly family: LpmFamily;
  readonly engine: 'ts' | 'wasm';
  /** Address words per batch entry: 1 (IPv4) or 4 (IPv6). */
  readonly wordsPerAddr: 1 | 4;
  /** Number of prefixes stored. */
  readonly size: number;
  /** Bytes this table occupies (WASM: lookup structure + update structures; TS: typed arrays). */
  readonly memoryBytes: number;
  /** Sets prefix/len -> value (replacing an existing value). Returns true if the prefix is new. */
  insert(prefix: A, len: number, value: number): boolean;
  /** Removes prefix/len. Returns true if it was there. */
  delete(prefix: A, len: number): boolean;
  /** The value stored for exactly prefix/len. */
  get(prefix: A, len: number): number | undefined;
  /** The value of the longest prefix containing `addr`. */
  lookup(addr: A): number | undefined;
  /** For each address in `addrs` (wordsPerAddr words each), its value or LPM_NO_MATCH, into `out`. */
  lookupBatch(addrs: Uint32Array, out: Uint32Array): void;
  /** Replaces the contents with `entries` (a later entry for the same prefix wins). */
  build(entries: Iterable<LpmEntry<A>>): void;
  /** Removes every prefix. */
  clear(): void;
  /** Releases the table (WASM memory goes back to the engine); the table must not be used again. */
  dispose(): void;
}

export type Ipv4LpmTable = LpmTable<number>;
export type Ipv6LpmTable = LpmTable<Uint8Array>;

export interface LpmTableOptions {
  /**
   * WASM only: bits resolved by the direct array, 16 (256 KiB per table, fastest for large tables,
   * the default) or 8 (1 KiB, for the many small tables of a lab's CEs: one more level per lookup).
   */
  directBits?: 8 | 16;
}

/** Creates tables of one engine. */
export interface LpmEngine {
  readonly name: 'ts' | 'wasm';
  ipv4(options?: LpmTableOptions): Ipv4LpmTable;
  ipv6(options?: LpmTableOptions): Ipv6LpmTable;
}

/** IPv6 bytes -> 4 words (most significant first) at out[at..at+4). */
export function ipv6ToWords(addr: Uint8Array, out: Uint32Array, at = 0): void {
  for (let i = 0; i < 4; i++) {
    out[at + i] = ((addr[4 * i]! << 24) | (addr[4 * i + 1]! << 16) | (addr[4 * i + 2]! << 8) | addr[4 * i + 3]!) >>> 0;
  }
}

/** 4 words at words[at..at+4) -> IPv6 bytes. */
export function wordsToIpv6(words: Uint32Array, at = 0): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 0; i < 4; i++) {
    const w = words[at + i]!;
    out[4 * i] = w >>> 24;
    out[4 * i + 1] = (w >>> 16) & 0xff;
    out[4 * i + 2] = (w >>> 8) & 0xff;
    out[4 * i + 3] = w & 0xff;
  }
  return out;
}

function checkLen(family: LpmFamily, len: number): void {
  const max = family === 4 ? 32 : 128;
  if (!Number.isInteger(len) || len < 0 || len > max) throw new RangeError(`LPM: prefix length ${len} is not in 0..${max}`);
}

function checkValue(value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > LPM_VALUE_MAX) {
    throw new RangeError(`LPM: value ${value} is not an integer in 0..${LPM_VALUE_MAX}`);
  }
}

function checkAddr(family: LpmFamily, addr: number | Uint8Array): void {
  if (family === 4) {
    if (typeof addr !== 'number' || !Number.isInteger(addr) || addr < 0 || addr > 0xffffffff) {
      throw new RangeError(`LPM: IPv4 address must be an unsigned 32-bit integer, got ${String(addr)}`);
    }
  } else if (!(addr instanceof Uint8Array) || addr.length !== 16) {
    throw new RangeError('LPM: IPv6 address must be a 16-byte Uint8Array');
  }
}

function checkBatch(wordsPerAddr: number, addrs: Uint32Array, out: Uint32Array): number {
  if (addrs.length % wordsPerAddr !== 0) throw new RangeError(`LPM: batch of ${addrs.length} words is not a multiple of ${wordsPerAddr}`);
  const n = addrs.length / wordsPerAddr;
  if (out.length < n) throw new RangeError(`LPM: result array holds ${out.length}, batch has ${n} addresses`);
  return n;
}

// -------------------------------------------------------------------------------------------------
// TypeScript reference: a binary trie, one node per bit, in typed arrays.

const NONE = -1;

/**
 * The reference table: a plain (uncompressed) binary trie over the address words, nodes in typed
 * arrays (child0, child1, value; LPM_NO_MATCH = no prefix here), deleted nodes pruned and reused.
 */
class TrieLpm {
  readonly engine = 'ts';
  readonly wordsPerAddr: 1 | 4;
  #c0 = new Int32Array(64);
  #c1 = new Int32Array(64);
  #val = new Uint32Array(64);
  #nodes = 1;
  #free: number[] = [];
  #size = 0;
  readonly #words: Uint32Array;
  readonly #path: Int32Array;

  constructor(readonly family: LpmFamily) {
    this.wordsPerAddr = family === 4 ? 1 : 4;
    this.#words = new Uint32Array(this.wordsPerAddr);
    this.#path = new Int32Array(family === 4 ? 33 : 129);
    this.#reset();
  }

  get size(): number {
    return this.#size;
  }

  get memoryBytes(): number {
    return this.#c0.byteLength + this.#c1.byteLength + this.#val.byteLength;
  }

  #reset(): void {
    this.#c0 = new Int32Array(64).fill(NONE);
    this.#c1 = new Int32Array(64).fill(NONE);
    this.#val = new Uint32Array(64).fill(LPM_NO_MATCH);
    this.#nodes = 1;
    this.#free = [];
    this.#size = 0;
  }

  #newNode(): number {
    const reused = this.#free.pop();
    if (reused !== undefined) return reused;
    if (this.#nodes === this.#c0.length) {
      const grow = <T extends Int32Array | Uint32Array>(a: T, fill: number): T => {
        const b = new (a.constructor as new (n: number) => T)(a.length * 2);
        b.set(a);
        b.fill(fill, a.length);
        return b;
      };
      this.#c0 = grow(this.#c0, NONE);
      this.#c1 = grow(this.#c1, NONE);
      this.#val = grow(this.#val, LPM_NO_MATCH);
    }
    return this.#nodes++;
  }

  #bit(i: number): number {
    return (this.#words[i >>> 5]! >>> (31 - (i & 31))) & 1;
  }

  #load(addr: number | Uint8Array): void {
    checkAddr(this.family, addr);
    if (typeof addr === 'number') this.#words[0] = addr;
    else ipv6ToWords(addr, this.#words);
  }

  insert(prefix: number | Uint8Array, len: number, value: number): boolean {
    checkLen(this.family, len);
    checkValue(value);
    this.#load(prefix);
    let n = 0;
    for (let i = 0; i < len; i++) {
      const kids = this.#bit(i) ? this.#c1 : this.#c0;
      let next = kids[n]!;
      if (next === NONE) {
        next = this.#newNode(); // may replace the arrays: index them again
        (this.#bit(i) ? this.#c1 : this.#c0)[n] = next;
      }
      n = next;
    }
    const isNew = this.#val[n] === LPM_NO_MATCH;
    this.#val[n] = value;
    if (isNew) this.#size++;
    return isNew;
  }

  delete(prefix: number | Uint8Array, len: number): boolean {
    checkLen(this.family, len);
    this.#load(prefix);
    const path = this.#path;
    let n = 0;
    for (let i = 0; i < len; i++) {
      path[i] = n;
      n = (this.#bit(i) ? this.#c1 : this.#c0)[n]!;
      if (n === NONE) return false;
    }
    if (this.#val[n] === LPM_NO_MATCH) return false;
    this.#val[n] = LPM_NO_MATCH;
    this.#size--;
    // Prune nodes left with no value and no children (never the root).
    for (let i = len - 1; i >= 0; i--) {
      if (this.#val[n] !== LPM_NO_MATCH || this.#c0[n] !== NONE || this.#c1[n] !== NONE) break;
      const parent = path[i]!;
      (this.#bit(i) ? this.#c1 : this.#c0)[parent] = NONE;
      this.#free.push(n);
      n = parent;
    }
    return true;
  }

  get(prefix: number | Uint8Array, len: number): number | undefined {
    checkLen(this.family, len);
    this.#load(prefix);
    let n = 0;
    for (let i = 0; i < len && n !== NONE; i++) n = (this.#bit(i) ? this.#c1 : this.#c0)[n]!;
    if (n === NONE) return undefined;
    const v = this.#val[n]!;
    return v === LPM_NO_MATCH ? undefined : v;
  }

  /** Longest match for the address already in #words. */
  #match(): number {
    const max = this.family === 4 ? 32 : 128;
    let n = 0;
    let best = this.#val[0]!;
    for (let i = 0; i < max; i++) {
      n = (this.#bit(i) ? this.#c1 : this.#c0)[n]!;
      if (n === NONE) break;
      const v = this.#val[n]!;
      if (v !== LPM_NO_MATCH) best = v;
    }
    return best;
  }

  lookup(addr: number | Uint8Array): number | undefined {
    this.#load(addr);
    const v = this.#match();
    return v === LPM_NO_MATCH ? undefined : v;
  }

  lookupBatch(addrs: Uint32Array, out: Uint32Array): void {
    const n = checkBatch(this.wordsPerAddr, addrs, out);
    const w = this.wordsPerAddr;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < w; j++) this.#words[j] = addrs[i * w + j]!;
      out[i] = this.#match();
    }
  }

  build(entries: Iterable<LpmEntry<number | Uint8Array>>): void {
    this.#reset();
    for (const e of entries) this.insert(e.prefix, e.len, e.value);
  }

  clear(): void {
    this.#reset();
  }

  dispose(): void {
    this.#reset();
  }
}

/** The TypeScript reference engine (binary trie): the oracle for the WASM one. */
export const tsLpm: LpmEngine = {
  name: 'ts',
  ipv4: () => new TrieLpm(4) as Ipv4LpmTable,
  ipv6: () => new TrieLpm(6) as Ipv6LpmTable,
};

// -------------------------------------------------------------------------------------------------
// WASM engine (assembly/lpm/index.ts; see its header for the structure and memory layout)

/** The exports of assembly/lpm/index.ts. */
interface LpmExports {
  readonly memory: WebAssembly.Memory;
  lpmCreate(family: number, directBits: number): number;
  lpmClear(h: number): void;
  lpmDestroy(h: number): void;
  lpmAddrPtr(): number;
  lpmBuffer(bytes: number): number;
  lpmInsert4(h: number, prefix: number, len: number, value: number): number;
  lpmDelete4(h: number, prefix: number, len: number): number;
  lpmGet4(h: number, prefix: number, len: number): number;
  lpmLookup4(h: number, addr: number): number;
  lpmInsert6(h: number, len: number, value: number): number;
  lpmDelete6(h: number, len: number): number;
  lpmGet6(h: number, len: number): number;
  lpmLookup6(h: number): number;
  lpmLookupBatch(h: number, src: number, count: number, dst: number): void;
  lpmUpdateBatch(h: number, rec: number, count: number): number;
  lpmBuild(h: number, rec: number, count: number): number;
  lpmSize(h: number): number;
  lpmLookupBytes(h: number): number;
  lpmControlBytes(h: number): number;
  lpmWide(h: number): number;
  lpmHeapTop(): number;
  lpmStats(h: number, out: number): void;
}

const LPM_EXPORTS = [
  'lpmCreate', 'lpmClear', 'lpmDestroy', 'lpmAddrPtr', 'lpmBuffer', 'lpmInsert4', 'lpmDelete4', 'lpmGet4',
  'lpmLookup4', 'lpmInsert6', 'lpmDelete6', 'lpmGet6', 'lpmLookup6', 'lpmLookupBatch', 'lpmUpdateBatch',
  'lpmBuild', 'lpmSize', 'lpmLookupBytes', 'lpmControlBytes', 'lpmWide', 'lpmHeapTop', 'lpmStats',
] as const;

function isLpmExports(e: WebAssembly.Exports): e is WebAssembly.Exports & LpmExports {
  return e['memory'] instanceof WebAssembly.Memory && LPM_EXPORTS.every((k) => typeof e[k] === 'function');
}

/** One update for WasmLpmTable.updateBatch: value undefined deletes the prefix. */
export interface LpmUpdate<A> {
  prefix: A;
  len: number;
  value?: number | undefined;
}

/** Structure counters of a WASM table. */
export interface WasmLpmStats {
  /** Bytes of the lookup structure (direct array, nodes, leaves, child arrays). */
  lookupBytes: number;
  /** Bytes of the update structures (per-node prefix lists, short-prefix hash, defaults). */
  controlBytes: number;
  nodes: number;
  fullNodes: number;
  leaves: number;
  /** True once some value >= 0xffff made the leaves 32-bit. */
  wideLeaves: boolean;
}

/** The WASM engine: one instance (one linear memory) holding any number of tables. */
export class WasmLpm implements LpmEngine {
  readonly name = 'wasm';
  readonly #x: LpmExports;

  constructor(exports: LpmExports) {
    this.#x = exports;
  }

  ipv4(options?: LpmTableOptions): WasmLpmTable<number> {
    return new WasmLpmTable<number>(this.#x, 4, options?.directBits ?? 16);
  }

  ipv6(options?: LpmTableOptions): WasmLpmTable<Uint8Array> {
    return new WasmLpmTable<Uint8Array>(this.#x, 6, options?.directBits ?? 16);
  }

  /** Bytes of linear memory in use by all tables of this instance (heap top, free blocks included). */
  get heapBytes(): number {
    return this.#x.lpmHeapTop();
  }
}

/**
 * A table in the WASM engine. Batches are copied into a buffer in linear memory, looked up with
 * one call, and copied out; `stage`/`lookupStaged` skip the copies for callers that fill linear
 * memory themselves.
 */
export class WasmLpmTable<A extends number | Uint8Array> implements LpmTable<A> {
  readonly engine = 'wasm';
  readonly wordsPerAddr: 1 | 4;
  readonly #x: LpmExports;
  #h: number;

  constructor(exports: LpmExports, readonly family: LpmFamily, directBits: 8 | 16) {
    if (directBits !== 8 && directBits !== 16) throw new RangeError(`LPM: directBits must be 8 or 16, got ${String(directBits)}`);
    this.#x = exports;
    this.wordsPerAddr = family === 4 ? 1 : 4;
    this.#h = exports.lpmCreate(family, directBits);
    if (this.#h === 0) throw new Error('LPM: lpmCreate failed');
  }

  get size(): number {
    return this.#x.lpmSize(this.#handle());
  }

  get memoryBytes(): number {
    const h = this.#handle();
    return this.#x.lpmLookupBytes(h) + this.#x.lpmControlBytes(h);
  }

  stats(): WasmLpmStats {
    const h = this.#handle();
    const out = this.#x.lpmBuffer(12);
    this.#x.lpmStats(h, out);
    const v = new Uint32Array(this.#x.memory.buffer, out, 3);
    return {
      lookupBytes: this.#x.lpmLookupBytes(h),
      controlBytes: this.#x.lpmControlBytes(h),
      nodes: v[0]!,
      fullNodes: v[1]!,
      leaves: v[2]!,
      wideLeaves: this.#x.lpmWide(h) === 1,
    };
  }

  #handle(): number {
    if (this.#h === 0) throw new Error('LPM: table used after dispose()');
    return this.#h;
  }

  /** Writes an IPv6 prefix/address into ADDR. */
  #loadAddr6(addr: Uint8Array): void {
    const words = new Uint32Array(this.#x.memory.buffer, this.#x.lpmAddrPtr(), 4);
    ipv6ToWords(addr, words);
  }

  insert(prefix: A, len: number, value: number): boolean {
    checkAddr(this.family, prefix);
    checkLen(this.family, len);
    checkValue(value);
    const h = this.#handle();
    let r: number;
    if (typeof prefix === 'number') r = this.#x.lpmInsert4(h, prefix, len, value);
    else {
      this.#loadAddr6(prefix);
      r = this.#x.lpmInsert6(h, len, value);
    }
    return r === 1;
  }

  delete(prefix: A, len: number): boolean {
    checkAddr(this.family, prefix);
    checkLen(this.family, len);
    const h = this.#handle();
    if (typeof prefix === 'number') return this.#x.lpmDelete4(h, prefix, len) === 1;
    this.#loadAddr6(prefix);
    return this.#x.lpmDelete6(h, len) === 1;
  }

  get(prefix: A, len: number): number | undefined {
    checkAddr(this.family, prefix);
    checkLen(this.family, len);
    const h = this.#handle();
    let v: number;
    if (typeof prefix === 'number') v = this.#x.lpmGet4(h, prefix, len) >>> 0;
    else {
      this.#loadAddr6(prefix);
      v = this.#x.lpmGet6(h, len) >>> 0;
    }
    return v === LPM_NO_MATCH ? undefined : v;
  }

  lookup(addr: A): number | undefined {
    checkAddr(this.family, addr);
    const h = this.#handle();
    let v: number;
    if (typeof addr === 'number') v = this.#x.lpmLookup4(h, addr) >>> 0;
    else {
      this.#loadAddr6(addr);
      v = this.#x.lpmLookup6(h) >>> 0;
    }
    return v === LPM_NO_MATCH ? undefined : v;
  }

  /**
   * Zero-copy batches: a view of linear memory for `count` addresses (fill it), valid until the
   * next call into this engine that may grow memory. Then lookupStaged(count) returns the results
   * as a view (overwriting nothing the caller filled). Views detach when memory grows.
   */
  stage(count: number): Uint32Array {
    const bytes = count * 4 * (this.wordsPerAddr + 1);
    const ptr = this.#x.lpmBuffer(bytes);
    return new Uint32Array(this.#x.memory.buffer, ptr, count * this.wordsPerAddr);
  }

  /** Looks up the `count` addresses written into the view from stage(count); results as a view. */
  lookupStaged(count: number): Uint32Array {
    const ptr = this.#x.lpmBuffer(count * 4 * (this.wordsPerAddr + 1));
    const dst = ptr + count * 4 * this.wordsPerAddr;
    this.#x.lpmLookupBatch(this.#handle(), ptr, count, dst);
    return new Uint32Array(this.#x.memory.buffer, dst, count);
  }

  lookupBatch(addrs: Uint32Array, out: Uint32Array): void {
    const n = checkBatch(this.wordsPerAddr, addrs, out);
    if (n === 0) return;
    this.stage(n).set(addrs.subarray(0, n * this.wordsPerAddr));
    out.set(this.lookupStaged(n));
  }

  /** Writes records (prefix words, len, value) for `items` into the I/O buffer; returns its address. */
  #records(items: readonly LpmUpdate<A>[], forBuild: boolean): number {
    const w = this.wordsPerAddr;
    const stride = w + 2;
    const ptr = this.#x.lpmBuffer(items.length * stride * 4);
    const rec = new Uint32Array(this.#x.memory.buffer, ptr, items.length * stride);
    items.forEach((u, i) => {
      checkAddr(this.family, u.prefix);
      checkLen(this.family, u.len);
      if (u.value !== undefined || forBuild) checkValue(u.value as number);
      const at = i * stride;
      if (typeof u.prefix === 'number') rec[at] = u.prefix;
      else ipv6ToWords(u.prefix, rec, at);
      rec[at + w] = u.len;
      rec[at + w + 1] = u.value === undefined ? LPM_NO_MATCH : u.value;
    });
    return ptr;
  }

  /**
   * Applies many inserts (value set) and deletes (value undefined) in order with one call.
   * Returns how many changed the prefix set (new or removed prefixes).
   */
  updateBatch(updates: readonly LpmUpdate<A>[]): number {
    if (updates.length === 0) return 0;
    const ptr = this.#records(updates, false);
    const r = this.#x.lpmUpdateBatch(this.#handle(), ptr, updates.length);
    if (r < 0) throw new RangeError(`LPM: update ${-1 - r} rejected`);
    return r;
  }

  build(entries: Iterable<LpmEntry<A>>): void {
    const items = Array.isArray(entries) ? (entries as LpmEntry<A>[]) : [...entries];
    const ptr = this.#records(items, true);
    const r = this.#x.lpmBuild(this.#handle(), ptr, items.length);
    if (r < 0) throw new RangeError(`LPM: build entry ${-1 - r} rejected`);
  }

  clear(): void {
    this.#x.lpmClear(this.#handle());
  }

  dispose(): void {
    if (this.#h !== 0) this.#x.lpmDestroy(this.#h);
    this.#h = 0;
  }
}

/** Instantiates the LPM module (assembly/build/lpm.wasm; it needs no imports) as an engine. */
export async function createWasmLpm(module: WebAssembly.Module): Promise<WasmLpm> {
  const instance = await WebAssembly.instantiate(module, {});
  if (!isLpmExports(instance.exports)) {
    throw new TypeError('createWasmLpm: module lacks the LPM exports (rebuild with node assembly/build.mjs lpm)');
  }
  return new WasmLpm(instance.exports);
}
