// LPM benchmark: the WASM engine (assembly/lpm/) against the TypeScript reference trie on synthetic
// IPv4 (1,000,000 prefixes) and IPv6 (200,000) tables from a seeded Pcg32. Measures only; targets
// (>= 100 M IPv4 lookups/s batched, <= 8 MB, >= 1 M updates/s) are judged by whoever reads the rows.
import { Pcg32 } from '../../src/lib/rng.ts';
import {
  createWasmLpm,
  ipv6ToWords,
  tsLpm,
  type LpmEntry,
  type LpmTable,
  type LpmUpdate,
  type WasmLpmTable,
} from '../../src/dataplane/lpm.ts';
import { loadLpmModule } from '../../src/runtime/wasm.ts';

type Row = Record<string, string | number>;

const SEED = 20261123;
export const IPV4_PREFIXES = 1_000_000;
export const IPV6_PREFIXES = 200_000;
/** Forwarding entry indices: 16-bit, as a router's adjacency table (the WASM leaves stay 16-bit). */
const VALUES = 65_535;

/**
 * IPv4 length shares in percent, close to the global BGP table (mostly /24, then /22-/23,
 * /20-/21, /16 ...), plus 1% longer than /24 for the host and link routes of a VPN.
 */
const IPV4_LENGTHS: [number, number][] = [
  [8, 0.002], [9, 0.002], [10, 0.005], [11, 0.01], [12, 0.03], [13, 0.06], [14, 0.1], [15, 0.2],
  [16, 1.3], [17, 0.8], [18, 1.4], [19, 2.5], [20, 4.0], [21, 5.0], [22, 11.5], [23, 10.0], [24, 62.1],
  [25, 0.15], [26, 0.15], [27, 0.1], [28, 0.1], [29, 0.1], [30, 0.1], [31, 0.05], [32, 0.25],
];

/** IPv6 length shares in percent (global table: mostly /48, then /32, /40, /44 ...). */
const IPV6_LENGTHS: [number, number][] = [
  [19, 0.1], [20, 0.2], [24, 0.3], [28, 1.2], [29, 4.0], [30, 0.5], [31, 0.3], [32, 11.0], [33, 0.8], [34, 0.7],
  [35, 0.5], [36, 3.0], [38, 0.6], [40, 7.0], [42, 1.2], [44, 8.0], [45, 1.0], [46, 3.0], [47, 2.0], [48, 48.0],
  [52, 0.5], [56, 3.0], [60, 0.6], [64, 2.5],
];

function lengthPicker(rng: Pcg32, shares: [number, number][]): () => number {
  const total = shares.reduce((a, [, p]) => a + p, 0);
  const cdf = shares.map(([len], i) => [len, shares.slice(0, i + 1).reduce((a, [, p]) => a + p, 0) / total] as const);
  return () => {
    const x = rng.nextFloat();
    for (const [len, c] of cdf) if (x < c) return len;
    return cdf[cdf.length - 1]![0];
  };
}

const mask4 = (a: number, len: number): number => (len === 0 ? 0 : (a & (0xffffffff << (32 - len))) >>> 0);

/** Prefixes spread over unicast space (first octet 1-223, not 10 or 127), all distinct. */
export function ipv4Table(count: number, seed = SEED): LpmEntry<number>[] {
  const rng = new Pcg32(seed, 1);
  const pick = lengthPicker(rng, IPV4_LENGTHS);
  const seen = new Set<number>();
  const out: LpmEntry<number>[] = [];
  while (out.length < count) {
    const len = pick();
    const a = rng.nextU32();
    const first = a >>> 24;
    if (first === 0 || first === 10 || first === 127 || first >= 224) continue;
    const prefix = mask4(a, len);
    const key = prefix * 64 + len;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ prefix, len, value: rng.nextInt(VALUES) });
  }
  return out;
}

function maskBytes(a: Uint8Array, len: number): Uint8Array {
  const out = a.slice();
  for (let i = 0; i < 16; i++) {
    const bits = Math.max(0, Math.min(8, len - 8 * i));
    out[i] = out[i]! & ((0xff00 >> bits) & 0xff);
  }
  return out;
}

function randomBytes(rng: Pcg32): Uint8Array {
  const a = new Uint8Array(16);
  for (let i = 0; i < 16; i += 4) {
    const w = rng.nextU32();
    a[i] = w >>> 24;
    a[i + 1] = (w >>> 16) & 0xff;
    a[i + 2] = (w >>> 8) & 0xff;
    a[i + 3] = w & 0xff;
  }
  return a;
}

/** Random bits below `len` taken from `fill`, the first `len` bits from `prefix`. */
function within(prefix: Uint8Array, len: number, fill: Uint8Array): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    const bits = Math.max(0, Math.min(8, len - 8 * i));
    const keep = (0xff00 >> bits) & 0xff;
    out[i] = (prefix[i]! & keep) | (fill[i]! & ~keep & 0xff);
  }
  return out;
}

/**
 * IPv6 as allocated: prefixes of /32 and shorter are RIR allocations at random in 2000::/3; every
 * longer prefix is a more-specific inside one of them (how /48s and /44s cluster in real tables).
 */
export function ipv6Table(count: number, seed = SEED): LpmEntry<Uint8Array>[] {
  const rng = new Pcg32(seed, 2);
  const pick = lengthPicker(rng, IPV6_LENGTHS);
  const lens = Array.from({ length: count }, pick).sort((a, b) => a - b);
  const seen = new Set<string>();
  const allocations: LpmEntry<Uint8Array>[] = [];
  const out: LpmEntry<Uint8Array>[] = [];
  for (const len of lens) {
    for (;;) {
      let a: Uint8Array;
      if (len <= 32 || allocations.length === 0) {
        a = randomBytes(rng);
        a[0] = 0x20 | (a[0]! & 0x1f);
      } else {
        const host = allocations[rng.nextInt(allocations.length)]!;
        a = within(host.prefix, host.len, randomBytes(rng));
      }
      const prefix = maskBytes(a, len);
      const key = `${prefix.join('.')}/${len}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const e = { prefix, len, value: rng.nextInt(VALUES) };
      out.push(e);
      if (len <= 32) allocations.push(e);
      break;
    }
  }
  return out;
}

/** Best (smallest) of `runs` timings in seconds. */
function bestOf(runs: number, fn: () => void): number {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return best;
}

const mps = (n: number, s: number): number => +(n / s / 1e6).toFixed(2);
const mb = (bytes: number): number => +(bytes / 1e6).toFixed(2);

interface Workload<A> {
  family: 4 | 6;
  entries: LpmEntry<A>[];
  /** Addresses, wordsPerAddr words each: uniformly random (v6: in 2000::/3) and inside table prefixes. */
  random: Uint32Array;
  hits: Uint32Array;
  /** Prefixes not in the table, for insert-then-delete. */
  churn: LpmEntry<A>[];
}

function ipv4Workload(entries: LpmEntry<number>[], addrs: number): Workload<number> {
  const rng = new Pcg32(SEED, 3);
  const random = new Uint32Array(addrs).map(() => rng.nextU32());
  const hits = new Uint32Array(addrs).map(() => {
    const e = entries[rng.nextInt(entries.length)]!;
    return (e.prefix | (rng.nextU32() & (e.len === 32 ? 0 : 0xffffffff >>> e.len))) >>> 0;
  });
  const present = new Set(entries.map((e) => e.prefix * 64 + e.len));
  const churn = ipv4Table(IPV4_PREFIXES / 5, SEED + 1).filter((e) => !present.has(e.prefix * 64 + e.len)).slice(0, 100_000);
  return { family: 4, entries, random, hits, churn };
}

function ipv6Workload(entries: LpmEntry<Uint8Array>[], addrs: number): Workload<Uint8Array> {
  const rng = new Pcg32(SEED, 4);
  const random = new Uint32Array(4 * addrs);
  const hits = new Uint32Array(4 * addrs);
  for (let i = 0; i < addrs; i++) {
    const r = randomBytes(rng);
    r[0] = 0x20 | (r[0]! & 0x1f);
    ipv6ToWords(r, random, 4 * i);
    const e = entries[rng.nextInt(entries.length)]!;
    ipv6ToWords(within(e.prefix, e.len, randomBytes(rng)), hits, 4 * i);
  }
  const key = (e: LpmEntry<Uint8Array>): string => `${e.prefix.join('.')}/${e.len}`;
  const present = new Set(entries.map(key));
  const churn = ipv6Table(IPV6_PREFIXES / 4, SEED + 1).filter((e) => !present.has(key(e))).slice(0, 40_000);
  return { family: 6, entries, random, hits, churn };
}

/**
 * V8 runs a WASM function in its baseline tier (Liftoff) until the optimized code is ready, and a
 * long call started in Liftoff finishes there: make many short calls first.
 */
function warmUp<A>(table: LpmTable<A>, addrs: Uint32Array): void {
  const out = new Uint32Array(256);
  const chunk = addrs.subarray(0, 256 * table.wordsPerAddr);
  for (let i = 0; i < 2000; i++) table.lookupBatch(chunk, out);
}

/** Batched lookups per second through lookupBatch (copies in and out), batches of `batch`. */
function lookupRate<A>(table: LpmTable<A>, addrs: Uint32Array, batch: number, runs: number): number {
  const w = table.wordsPerAddr;
  const n = addrs.length / w;
  const out = new Uint32Array(batch);
  warmUp(table, addrs);
  const secs = bestOf(runs, () => {
    for (let i = 0; i + batch <= n; i += batch) table.lookupBatch(addrs.subarray(i * w, (i + batch) * w), out);
  });
  return mps(Math.floor(n / batch) * batch, secs);
}

/** One call over all addresses already in linear memory (the kernel alone, no copies). */
function kernelRate<A extends number | Uint8Array>(table: WasmLpmTable<A>, addrs: Uint32Array, runs: number): number {
  const n = addrs.length / table.wordsPerAddr;
  warmUp(table, addrs);
  table.stage(n).set(addrs);
  const secs = bestOf(runs, () => table.lookupStaged(n));
  return mps(n, secs);
}

/** Inserts then deletes every churn prefix: single calls, and (WASM) batches of 10,000 records. */
function updateRates<A>(table: LpmTable<A>, churn: LpmEntry<A>[], runs: number): { single: number; batched?: number } {
  const single = bestOf(runs, () => {
    for (const e of churn) table.insert(e.prefix, e.len, e.value);
    for (const e of churn) table.delete(e.prefix, e.len);
  });
  const wasm = table as unknown as Partial<WasmLpmTable<number | Uint8Array>>;
  if (typeof wasm.updateBatch !== 'function') return { single: mps(2 * churn.length, single) };
  const updateBatch = wasm.updateBatch.bind(wasm) as (u: LpmUpdate<A>[]) => number;
  const chunk = 10_000;
  const ins: LpmUpdate<A>[][] = [];
  const del: LpmUpdate<A>[][] = [];
  for (let i = 0; i < churn.length; i += chunk) {
    ins.push(churn.slice(i, i + chunk));
    del.push(churn.slice(i, i + chunk).map((e) => ({ prefix: e.prefix, len: e.len })));
  }
  const batched = bestOf(runs, () => {
    for (const b of ins) updateBatch(b);
    for (const b of del) updateBatch(b);
  });
  return { single: mps(2 * churn.length, single), batched: mps(2 * churn.length, batched) };
}

async function runFamily<A extends number | Uint8Array>(
  wl: Workload<A>,
  make: { wasm: () => WasmLpmTable<A>; ts: () => LpmTable<A>; heapBytes: () => number },
  label: string,
  runs: number,
): Promise<Row[]> {
  const rows: Row[] = [];
  const batch = 4096;
  const w = make.wasm();
  const buildS = bestOf(runs, () => w.build(wl.entries));
  const s = w.stats();
  const size = w.size;
  const heap = make.heapBytes();
  const random = kernelRate(w, wl.random, runs + 2);
  const hits = kernelRate(w, wl.hits, runs + 2);
  const randomCopy = lookupRate(w, wl.random, batch, runs + 2);
  const hitsCopy = lookupRate(w, wl.hits, batch, runs + 2);
  const upd = updateRates(w, wl.churn, runs);
  const after = w.stats();
  rows.push({
    bench: 'lpm', case: `${label} wasm`, prefixes: size, buildS: +buildS.toFixed(3),
    lookupMpsRandom: random, lookupMpsHits: hits, lookupMpsRandomWithCopies: randomCopy, lookupMpsHitsWithCopies: hitsCopy,
    updateMpsSingle: upd.single, updateMpsBatched: upd.batched ?? '', lookupMB: mb(s.lookupBytes), controlMB: mb(s.controlBytes),
    wasmHeapMB: mb(heap), nodes: s.nodes, leaves: s.leaves, leafBits: s.wideLeaves ? 32 : 16, lookupMBAfterChurn: mb(after.lookupBytes),
  });
  w.dispose();

  const t = make.ts();
  const tBuild = bestOf(1, () => t.build(wl.entries));
  const small = (a: Uint32Array): Uint32Array => a.subarray(0, Math.min(a.length, 200_000 * t.wordsPerAddr));
  const tUpd = updateRates(t, wl.churn.slice(0, 20_000), 1);
  rows.push({
    bench: 'lpm', case: `${label} ts trie`, prefixes: t.size, buildS: +tBuild.toFixed(3),
    lookupMpsRandom: '', lookupMpsHits: '', lookupMpsRandomWithCopies: lookupRate(t, small(wl.random), batch, 2),
    lookupMpsHitsWithCopies: lookupRate(t, small(wl.hits), batch, 2), updateMpsSingle: tUpd.single, updateMpsBatched: '',
    lookupMB: mb(t.memoryBytes), controlMB: 0, wasmHeapMB: '', nodes: '', leaves: '', leafBits: 32, lookupMBAfterChurn: '',
  });
  t.dispose();
  return rows;
}

/** The LPM benchmark rows: IPv4 1M and IPv6 200K, WASM and the TypeScript trie. */
export async function lpmBench(): Promise<Record<string, string | number>[]> {
  // One instance (one linear memory) per table family, so that each heap figure is its own.
  const module = await loadLpmModule();
  const engine = await createWasmLpm(module);
  const runs = 3;
  const rows: Row[] = [];
  const v4 = ipv4Workload(ipv4Table(IPV4_PREFIXES), 1 << 20);
  rows.push(...(await runFamily(v4, { wasm: () => engine.ipv4(), ts: () => tsLpm.ipv4(), heapBytes: () => engine.heapBytes }, 'ipv4 1M', runs)));
  // The same table with a distinct value per prefix: 32-bit leaves.
  const unique = { ...v4, entries: v4.entries.map((e, i) => ({ ...e, value: i })) };
  const engineU = await createWasmLpm(module);
  const wu = engineU.ipv4();
  wu.build(unique.entries);
  const su = wu.stats();
  rows.push({
    bench: 'lpm', case: 'ipv4 1M wasm, a distinct value per prefix', prefixes: wu.size,
    buildS: +bestOf(runs, () => wu.build(unique.entries)).toFixed(3), lookupMpsRandom: kernelRate(wu, v4.random, runs + 2),
    lookupMpsHits: kernelRate(wu, v4.hits, runs + 2), lookupMB: mb(su.lookupBytes), controlMB: mb(su.controlBytes),
    wasmHeapMB: mb(engineU.heapBytes),
    nodes: su.nodes, leaves: su.leaves, leafBits: su.wideLeaves ? 32 : 16,
  });
  wu.dispose();
  const v6 = ipv6Workload(ipv6Table(IPV6_PREFIXES), 1 << 19);
  const engine6 = await createWasmLpm(module);
  rows.push(...(await runFamily(v6, { wasm: () => engine6.ipv6(), ts: () => tsLpm.ipv6(), heapBytes: () => engine6.heapBytes }, 'ipv6 200K', runs)));
  return rows;
}
