// Longest-prefix match: the WASM engine (assembly/lpm/) against the TypeScript reference trie on
// random tables with many overlapping prefixes (/0 and /32, /128 included) across interleaved
// inserts and deletes; bulk build against incremental; memory returned; the SPD matcher against a
// linear scan. fast-check prints the seed and path of any failure; SEED reproduces the whole file.
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  LPM_NO_MATCH,
  LPM_VALUE_MAX,
  createWasmLpm,
  ipv6ToWords,
  tsLpm,
  wordsToIpv6,
  type LpmEntry,
  type LpmTable,
  type LpmUpdate,
  type WasmLpm,
  type WasmLpmTable,
} from '../../src/dataplane/lpm.ts';
import { SpdMatcher, type SpdMatchEntry, type SpdPacket } from '../../src/dataplane/spd-match.ts';
import { loadLpmModule } from '../../src/runtime/wasm.ts';

const SEED = 20261123;
const params = (numRuns: number): fc.Parameters<unknown> => ({ seed: SEED, numRuns });

let module: WebAssembly.Module;
let wasm: WasmLpm;

beforeAll(async () => {
  module = await loadLpmModule();
  wasm = await createWasmLpm(module);
});

// ---- address helpers

const mask4 = (a: number, len: number): number => (len === 0 ? 0 : (a & (0xffffffff << (32 - len))) >>> 0);

function mask6(a: Uint8Array, len: number): Uint8Array {
  const out = a.slice();
  for (let i = 0; i < 16; i++) out[i] = out[i]! & ((0xff00 >> Math.max(0, Math.min(8, len - 8 * i))) & 0xff);
  return out;
}

function v6(text: string): Uint8Array {
  const [head = '', tail = ''] = text.split('::');
  const hg = head ? head.split(':') : [];
  const tg = tail ? tail.split(':') : [];
  const groups = [...hg, ...new Array<string>(8 - hg.length - tg.length).fill('0'), ...tg];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const x = parseInt(g, 16);
    out[2 * i] = x >> 8;
    out[2 * i + 1] = x & 0xff;
  });
  return out;
}

const ip4 = (s: string): number => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);

// ---- arbitraries: prefixes drawn near a few bases so that they overlap a lot

const LENS4 = [0, 1, 7, 8, 9, 12, 15, 16, 17, 20, 22, 23, 24, 25, 26, 28, 30, 31, 32];
const LENS6 = [0, 1, 8, 15, 16, 17, 24, 29, 32, 33, 40, 44, 47, 48, 56, 63, 64, 65, 96, 112, 120, 127, 128];

/** IPv4 addresses: one of 3 bases with some low bits randomised, or fully random. */
const addr4 = (bases: number[]): fc.Arbitrary<number> =>
  fc.oneof(
    fc.tuple(fc.constantFrom(...bases), fc.integer({ min: 0, max: 31 }), fc.nat()).map(([b, bits, r]) => (b ^ (r & (bits === 0 ? 0 : 0xffffffff >>> (32 - bits)))) >>> 0),
    fc.nat().map((x) => (x * 2 + 1) >>> 0),
    fc.constantFrom(0, 0xffffffff),
  );

const addr6 = (bases: Uint8Array[]): fc.Arbitrary<Uint8Array> =>
  fc.oneof(
    fc.tuple(fc.constantFrom(...bases), fc.integer({ min: 0, max: 16 }), fc.uint8Array({ minLength: 16, maxLength: 16 })).map(([b, from, r]) => {
      const a = b.slice();
      for (let i = from; i < 16; i++) a[i] = r[i]!;
      return a;
    }),
    fc.uint8Array({ minLength: 16, maxLength: 16 }),
  );

/** Small values mostly; sometimes one that needs 32-bit leaves. */
const value = fc.oneof({ weight: 12, arbitrary: fc.integer({ min: 0, max: 40 }) }, { weight: 1, arbitrary: fc.integer({ min: 0xffff, max: LPM_VALUE_MAX }) });
const narrowValue = fc.integer({ min: 0, max: 40 });

type Op<A> = { kind: 'insert'; prefix: A; len: number; value: number } | { kind: 'delete'; prefix: A; len: number } | { kind: 'check'; addrs: A[] };

function ops<A>(addr: fc.Arbitrary<A>, lens: number[], val: fc.Arbitrary<number>): fc.Arbitrary<Op<A>[]> {
  const prefix = fc.tuple(addr, fc.constantFrom(...lens));
  return fc.array(
    fc.oneof(
      { weight: 6, arbitrary: fc.tuple(prefix, val).map(([[p, len], v]): Op<A> => ({ kind: 'insert', prefix: p, len, value: v })) },
      { weight: 3, arbitrary: prefix.map(([p, len]): Op<A> => ({ kind: 'delete', prefix: p, len })) },
      { weight: 1, arbitrary: fc.array(addr, { minLength: 1, maxLength: 40 }).map((addrs): Op<A> => ({ kind: 'check', addrs })) },
    ),
    { minLength: 1, maxLength: 300 },
  );
}

function toWords<A>(family: 4 | 6, addrs: A[]): Uint32Array {
  if (family === 4) return Uint32Array.from(addrs as number[]);
  const out = new Uint32Array(4 * addrs.length);
  (addrs as Uint8Array[]).forEach((a, i) => ipv6ToWords(a, out, 4 * i));
  return out;
}

/** Runs `ops` on both tables, comparing every answer; then compares lookups of `probe`. */
function runBoth<A>(family: 4 | 6, w: LpmTable<A>, r: LpmTable<A>, list: Op<A>[], probe: A[]): void {
  const compare = (addrs: A[]): void => {
    const words = toWords(family, addrs);
    const got = new Uint32Array(addrs.length);
    const want = new Uint32Array(addrs.length);
    w.lookupBatch(words, got);
    r.lookupBatch(words, want);
    expect(got).toEqual(want);
    addrs.slice(0, 8).forEach((a) => expect(w.lookup(a)).toBe(r.lookup(a)));
  };
  for (const op of list) {
    if (op.kind === 'insert') expect(w.insert(op.prefix, op.len, op.value)).toBe(r.insert(op.prefix, op.len, op.value));
    else if (op.kind === 'delete') expect(w.delete(op.prefix, op.len)).toBe(r.delete(op.prefix, op.len));
    else compare(op.addrs);
    expect(w.size).toBe(r.size);
    if (op.kind !== 'check') expect(w.get(op.prefix, op.len)).toBe(r.get(op.prefix, op.len));
  }
  // every prefix ever touched, its first and last address, and the random probes
  const edges: A[] = [];
  for (const op of list) {
    if (op.kind === 'check') continue;
    if (family === 4) {
      const p = mask4(op.prefix as number, op.len);
      edges.push(p as A, (p | (op.len === 32 ? 0 : 0xffffffff >>> op.len)) >>> 0 as A);
    } else {
      const p = mask6(op.prefix as Uint8Array, op.len);
      const last = p.slice();
      for (let i = 0; i < 16; i++) last[i] = last[i]! | (~((0xff00 >> Math.max(0, Math.min(8, op.len - 8 * i))) & 0xff) & 0xff);
      edges.push(p as A, last as A);
    }
  }
  compare([...edges, ...probe]);
}

// ---- the module

describe('LPM module', () => {
  it('needs no imports and exports the table API and its memory', () => {
    expect(WebAssembly.Module.imports(module)).toEqual([]);
    const names = WebAssembly.Module.exports(module).map((e) => e.name);
    for (const n of ['memory', 'lpmCreate', 'lpmInsert4', 'lpmDelete4', 'lpmLookupBatch', 'lpmUpdateBatch', 'lpmBuild', 'lpmInsert6']) {
      expect(names).toContain(n);
    }
  });
});

// ---- fixed examples, both engines

const engines = (): { name: string; v4: () => LpmTable<number>; v6: () => LpmTable<Uint8Array> }[] => [
  { name: 'ts', v4: () => tsLpm.ipv4(), v6: () => tsLpm.ipv6() },
  { name: 'wasm /16', v4: () => wasm.ipv4(), v6: () => wasm.ipv6() },
  { name: 'wasm /8', v4: () => wasm.ipv4({ directBits: 8 }), v6: () => wasm.ipv6({ directBits: 8 }) },
];

describe('LPM examples', () => {
  it.each(['ts', 'wasm /16', 'wasm /8'])('IPv4 %s: longest prefix wins, /0 and /32, host bits ignored, delete falls back', (name) => {
    const t = engines().find((e) => e.name === name)!.v4();
    expect(t.lookup(ip4('10.1.2.3'))).toBeUndefined();
    expect(t.insert(0, 0, 1)).toBe(true); // 0.0.0.0/0
    expect(t.insert(ip4('10.0.0.0'), 8, 2)).toBe(true);
    expect(t.insert(ip4('10.1.0.0'), 16, 3)).toBe(true);
    expect(t.insert(ip4('10.1.2.0'), 24, 4)).toBe(true);
    expect(t.insert(ip4('10.1.2.3'), 32, 5)).toBe(true);
    expect(t.insert(ip4('10.1.2.99'), 24, 6)).toBe(false); // 10.1.2.0/24 again: host bits ignored, replaced
    expect(t.size).toBe(5);
    expect(t.lookup(ip4('10.1.2.3'))).toBe(5);
    expect(t.lookup(ip4('10.1.2.4'))).toBe(6);
    expect(t.lookup(ip4('10.1.3.4'))).toBe(3);
    expect(t.lookup(ip4('10.2.0.0'))).toBe(2);
    expect(t.lookup(ip4('192.0.2.1'))).toBe(1);
    expect(t.get(ip4('10.1.2.0'), 24)).toBe(6);
    expect(t.get(ip4('10.1.2.0'), 23)).toBeUndefined();
    expect(t.delete(ip4('10.1.2.0'), 24)).toBe(true);
    expect(t.delete(ip4('10.1.2.0'), 24)).toBe(false);
    expect(t.lookup(ip4('10.1.2.4'))).toBe(3);
    expect(t.delete(0, 0)).toBe(true);
    expect(t.lookup(ip4('192.0.2.1'))).toBeUndefined();
    const out = new Uint32Array(3);
    t.lookupBatch(Uint32Array.of(ip4('10.1.2.3'), ip4('10.9.9.9'), ip4('11.0.0.0')), out);
    expect(Array.from(out)).toEqual([5, 2, LPM_NO_MATCH]);
    t.clear();
    expect(t.size).toBe(0);
    expect(t.lookup(ip4('10.1.2.3'))).toBeUndefined();
    t.dispose();
  });

  it.each(['ts', 'wasm /16', 'wasm /8'])('IPv6 %s: /0 to /128', (name) => {
    const t = engines().find((e) => e.name === name)!.v6();
    t.insert(v6('::'), 0, 1);
    t.insert(v6('2001:db8::'), 32, 2);
    t.insert(v6('2001:db8:1::'), 48, 3);
    t.insert(v6('2001:db8:1:2::'), 64, 4);
    t.insert(v6('2001:db8:1:2::1'), 128, 5);
    expect(t.lookup(v6('2001:db8:1:2::1'))).toBe(5);
    expect(t.lookup(v6('2001:db8:1:2::2'))).toBe(4);
    expect(t.lookup(v6('2001:db8:1:3::'))).toBe(3);
    expect(t.lookup(v6('2001:db8:2::'))).toBe(2);
    expect(t.lookup(v6('fe80::1'))).toBe(1);
    expect(t.delete(v6('2001:db8:1::'), 48)).toBe(true);
    expect(t.lookup(v6('2001:db8:1:3::'))).toBe(2);
    const words = new Uint32Array(8);
    ipv6ToWords(v6('2001:db8:1:2::1'), words, 0);
    ipv6ToWords(v6('fe80::1'), words, 4);
    expect(wordsToIpv6(words, 0)).toEqual(v6('2001:db8:1:2::1'));
    const out = new Uint32Array(2);
    t.lookupBatch(words, out);
    expect(Array.from(out)).toEqual([5, 1]);
    t.dispose();
  });

  it.each(['ts', 'wasm /16'])('%s rejects bad lengths, values and addresses with RangeError', (name) => {
    const e = engines().find((x) => x.name === name)!;
    const t = e.v4();
    expect(() => t.insert(0, 33, 1)).toThrow(RangeError);
    expect(() => t.insert(0, -1, 1)).toThrow(RangeError);
    expect(() => t.insert(0, 8, LPM_VALUE_MAX + 1)).toThrow(RangeError);
    expect(() => t.insert(0, 8, 1.5)).toThrow(RangeError);
    expect(() => t.insert(2 ** 32, 8, 1)).toThrow(RangeError);
    expect(() => t.lookupBatch(new Uint32Array(4), new Uint32Array(3))).toThrow(RangeError);
    expect(t.insert(0, 8, LPM_VALUE_MAX)).toBe(true);
    expect(t.lookup(1)).toBe(LPM_VALUE_MAX);
    const t6 = e.v6();
    expect(() => t6.insert(new Uint8Array(15), 8, 1)).toThrow(RangeError);
    expect(() => t6.insert(new Uint8Array(16), 129, 1)).toThrow(RangeError);
    expect(() => t6.lookupBatch(new Uint32Array(5), new Uint32Array(2))).toThrow(RangeError);
    t.dispose();
    t6.dispose();
  });

  it('switches to 32-bit leaves when a value needs them, with the same answers', () => {
    const t = wasm.ipv4();
    const r = tsLpm.ipv4();
    for (let i = 0; i < 2000; i++) {
      const p = (i * 2654435761) >>> 0;
      t.insert(p, 16 + (i % 17), i % 50);
      r.insert(p, 16 + (i % 17), i % 50);
    }
    expect(t.stats().wideLeaves).toBe(false);
    t.insert(ip4('10.0.0.0'), 24, 0x12345678);
    r.insert(ip4('10.0.0.0'), 24, 0x12345678);
    expect(t.stats().wideLeaves).toBe(true);
    const addrs = Uint32Array.from({ length: 5000 }, (_, i) => (i * 2246822519) >>> 0);
    addrs[0] = ip4('10.0.0.77');
    const a = new Uint32Array(addrs.length);
    const b = new Uint32Array(addrs.length);
    t.lookupBatch(addrs, a);
    r.lookupBatch(addrs, b);
    expect(a).toEqual(b);
    expect(a[0]).toBe(0x12345678);
    t.dispose();
  });

  it('a disposed WASM table refuses to be used', () => {
    const t = wasm.ipv4();
    t.dispose();
    expect(() => t.lookup(1)).toThrow(/dispose/);
  });
});

// ---- random tables: WASM equals the reference

describe('LPM WASM equals the reference trie', () => {
  const bases4 = [ip4('10.1.2.3'), ip4('10.1.130.77'), ip4('192.0.2.200')];
  const bases6 = [v6('2001:db8:1:2:3:4:5:6'), v6('2001:db8:1:ff00::9'), v6('fe80::1')];

  it.each([16, 8] as const)('IPv4, direct bits %i: interleaved inserts, deletes and lookups', (directBits) => {
    fc.assert(
      fc.property(ops(addr4(bases4), LENS4, value), fc.array(addr4(bases4), { maxLength: 100 }), (list, probe) => {
        const w = wasm.ipv4({ directBits });
        try {
          runBoth(4, w, tsLpm.ipv4(), list, probe);
        } finally {
          w.dispose();
        }
      }),
      params(150),
    );
  });

  it.each([16, 8] as const)('IPv6, direct bits %i: interleaved inserts, deletes and lookups', (directBits) => {
    fc.assert(
      fc.property(ops(addr6(bases6), LENS6, value), fc.array(addr6(bases6), { maxLength: 60 }), (list, probe) => {
        const w = wasm.ipv6({ directBits });
        try {
          runBoth(6, w, tsLpm.ipv6(), list, probe);
        } finally {
          w.dispose();
        }
      }),
      params(100),
    );
  });

  it('IPv4 with thousands of prefixes: batched answers agree on a dense table', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(addr4(bases4), fc.constantFrom(...LENS4), narrowValue), { minLength: 500, maxLength: 3000 }), fc.array(addr4(bases4), { minLength: 500, maxLength: 1000 }), (entries, probe) => {
        const w = wasm.ipv4();
        const r = tsLpm.ipv4();
        try {
          for (const [p, len, v] of entries) expect(w.insert(p, len, v)).toBe(r.insert(p, len, v));
          const a = new Uint32Array(probe.length);
          const b = new Uint32Array(probe.length);
          w.lookupBatch(Uint32Array.from(probe), a);
          r.lookupBatch(Uint32Array.from(probe), b);
          expect(a).toEqual(b);
          // delete half of them, check again
          entries.forEach(([p, len], i) => {
            if (i % 2 === 0) expect(w.delete(p, len)).toBe(r.delete(p, len));
          });
          w.lookupBatch(Uint32Array.from(probe), a);
          r.lookupBatch(Uint32Array.from(probe), b);
          expect(a).toEqual(b);
        } finally {
          w.dispose();
        }
      }),
      params(20),
    );
  });
});

// ---- bulk build, update batches, memory

describe('LPM bulk build and memory', () => {
  const bases4 = [ip4('172.16.5.5'), ip4('172.16.200.1'), ip4('8.8.8.8')];
  const bases6 = [v6('2001:db8:aa::1'), v6('2001:db8:aa:bb::1'), v6('2a00::')];

  it('IPv4: bulk build equals incremental inserts (later duplicates win) and the reference', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(addr4(bases4), fc.constantFrom(...LENS4), value), { maxLength: 400 }), fc.array(addr4(bases4), { minLength: 1, maxLength: 200 }), (raw, probe) => {
        const entries: LpmEntry<number>[] = raw.map(([prefix, len, v]) => ({ prefix, len, value: v }));
        const bulk = wasm.ipv4();
        const inc = wasm.ipv4();
        const ref = tsLpm.ipv4();
        try {
          bulk.insert(ip4('1.2.3.0'), 24, 9); // build replaces whatever was there
          bulk.build(entries);
          for (const e of entries) inc.insert(e.prefix, e.len, e.value);
          ref.build(entries);
          expect(bulk.size).toBe(ref.size);
          expect(inc.size).toBe(ref.size);
          for (const e of entries) expect(bulk.get(e.prefix, e.len)).toBe(ref.get(e.prefix, e.len));
          const words = Uint32Array.from(probe);
          const [a, b, c] = [new Uint32Array(probe.length), new Uint32Array(probe.length), new Uint32Array(probe.length)];
          bulk.lookupBatch(words, a);
          inc.lookupBatch(words, b);
          ref.lookupBatch(words, c);
          expect(a).toEqual(c);
          expect(b).toEqual(c);
          // the same structure either way (leaf counts), and updates keep working after a build
          expect(bulk.stats().leaves).toBe(inc.stats().leaves);
          expect(bulk.stats().nodes).toBe(inc.stats().nodes);
          for (const e of entries.slice(0, 50)) expect(bulk.delete(e.prefix, e.len)).toBe(ref.delete(e.prefix, e.len));
          bulk.lookupBatch(words, a);
          ref.lookupBatch(words, c);
          expect(a).toEqual(c);
        } finally {
          bulk.dispose();
          inc.dispose();
        }
      }),
      params(60),
    );
  });

  it('IPv6: bulk build equals incremental inserts and the reference', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(addr6(bases6), fc.constantFrom(...LENS6), value), { maxLength: 250 }), fc.array(addr6(bases6), { minLength: 1, maxLength: 100 }), (raw, probe) => {
        const entries: LpmEntry<Uint8Array>[] = raw.map(([prefix, len, v]) => ({ prefix, len, value: v }));
        const bulk = wasm.ipv6();
        const inc = wasm.ipv6();
        const ref = tsLpm.ipv6();
        try {
          bulk.build(entries);
          for (const e of entries) inc.insert(e.prefix, e.len, e.value);
          ref.build(entries);
          expect(bulk.size).toBe(ref.size);
          const words = toWords(6, probe);
          const [a, b, c] = [new Uint32Array(probe.length), new Uint32Array(probe.length), new Uint32Array(probe.length)];
          bulk.lookupBatch(words, a);
          inc.lookupBatch(words, b);
          ref.lookupBatch(words, c);
          expect(a).toEqual(c);
          expect(b).toEqual(c);
        } finally {
          bulk.dispose();
          inc.dispose();
        }
      }),
      params(40),
    );
  });

  it('updateBatch equals the same inserts and deletes one by one', () => {
    fc.assert(
      fc.property(ops(addr4(bases4), LENS4, value), (list) => {
        const a = wasm.ipv4();
        const b = wasm.ipv4();
        try {
          const updates: LpmUpdate<number>[] = list.flatMap((op): LpmUpdate<number>[] =>
            op.kind === 'insert' ? [{ prefix: op.prefix, len: op.len, value: op.value }] : op.kind === 'delete' ? [{ prefix: op.prefix, len: op.len }] : [],
          );
          let changed = 0;
          for (const u of updates) changed += Number(u.value === undefined ? b.delete(u.prefix, u.len) : b.insert(u.prefix, u.len, u.value));
          expect(a.updateBatch(updates)).toBe(changed);
          expect(a.size).toBe(b.size);
          const probe = Uint32Array.from(updates.map((u) => u.prefix));
          const [x, y] = [new Uint32Array(probe.length), new Uint32Array(probe.length)];
          a.lookupBatch(probe, x);
          b.lookupBatch(probe, y);
          expect(x).toEqual(y);
        } finally {
          a.dispose();
          b.dispose();
        }
      }),
      params(60),
    );
  });

  it('deleting every prefix returns every byte, and repeated builds do not grow the heap', () => {
    const t = wasm.ipv6() as WasmLpmTable<Uint8Array>;
    const empty = t.memoryBytes;
    const entries = fc.sample(fc.tuple(addr6(bases6), fc.constantFrom(...LENS6), value), { numRuns: 3000, seed: SEED });
    for (const [p, len, v] of entries) t.insert(p, len, v);
    expect(t.memoryBytes).toBeGreaterThan(empty);
    for (const [p, len] of entries) t.delete(p, len);
    expect(t.size).toBe(0);
    expect(t.stats()).toMatchObject({ nodes: 0, leaves: 0 });
    expect(t.memoryBytes).toBe(empty);

    const t4 = wasm.ipv4();
    const list = fc.sample(fc.tuple(addr4([ip4('10.0.0.0'), ip4('10.200.0.0')]), fc.constantFrom(...LENS4), narrowValue), { numRuns: 5000, seed: SEED });
    const build = (): void => t4.build(list.map(([prefix, len, v]) => ({ prefix, len, value: v })));
    build();
    const bytes = t4.memoryBytes;
    build();
    const heap = wasm.heapBytes;
    for (let i = 0; i < 5; i++) build();
    expect(t4.memoryBytes).toBe(bytes);
    expect(wasm.heapBytes).toBe(heap);
    t4.clear();
    t.dispose();
    t4.dispose();
  });

  it('many small tables share one instance (directBits 8: about 2 KiB each when empty)', () => {
    const tables = Array.from({ length: 200 }, (_, i) => {
      const t = wasm.ipv4({ directBits: 8 });
      t.insert(ip4('10.0.0.0') + (i << 8), 24, i);
      return t;
    });
    tables.forEach((t, i) => expect(t.lookup(ip4('10.0.0.1') + (i << 8))).toBe(i));
    expect(tables[0]!.memoryBytes).toBeLessThan(4096);
    for (const t of tables) t.dispose();
  });
});

// ---- SPD matcher against a linear scan

/** The oracle: every entry whose selectors all match; the longest destination prefix wins, then SPD order. */
function linearScan<A>(entries: readonly SpdMatchEntry<A>[], pkt: SpdPacket<A>, contains: (p: A, len: number, a: A) => boolean): number | undefined {
  let best: number | undefined;
  entries.forEach((e, i) => {
    if (!contains(e.dst.prefix, e.dst.len, pkt.dst) || !contains(e.src.prefix, e.src.len, pkt.src)) return;
    if (e.protocol !== 'any' && e.protocol !== pkt.protocol) return;
    if (e.srcPorts !== 'any' && (pkt.srcPort < e.srcPorts.from || pkt.srcPort > e.srcPorts.to)) return;
    if (e.dstPorts !== 'any' && (pkt.dstPort < e.dstPorts.from || pkt.dstPort > e.dstPorts.to)) return;
    if (best === undefined || e.dst.len > entries[best]!.dst.len) best = i;
  });
  return best;
}

const contains4 = (p: number, len: number, a: number): boolean => mask4(p, len) === mask4(a, len);
const contains6 = (p: Uint8Array, len: number, a: Uint8Array): boolean => mask6(p, len).every((b, i) => b === mask6(a, len)[i]);

const ports = fc.oneof(fc.constant('any' as const), fc.tuple(fc.integer({ min: 0, max: 1100 }), fc.integer({ min: 0, max: 200 })).map(([from, span]) => ({ from, to: Math.min(0xffff, from + span) })));
const protocol = fc.oneof(fc.constant('any' as const), fc.constantFrom(1, 6, 17, 50));

function spdEntry<A>(addr: fc.Arbitrary<A>, lens: number[]): fc.Arbitrary<SpdMatchEntry<A>> {
  return fc.record({
    dst: fc.record({ prefix: addr, len: fc.constantFrom(...lens) }),
    src: fc.record({ prefix: addr, len: fc.constantFrom(...lens) }),
    protocol,
    srcPorts: ports,
    dstPorts: ports,
    action: fc.integer({ min: 0, max: 9 }),
  });
}

function packet<A>(addr: fc.Arbitrary<A>): fc.Arbitrary<SpdPacket<A>> {
  return fc.record({ src: addr, dst: addr, protocol: fc.constantFrom(1, 6, 17, 50), srcPort: fc.integer({ min: 0, max: 1400 }), dstPort: fc.integer({ min: 0, max: 1400 }) });
}

describe('SpdMatcher equals a linear scan of the SPD', () => {
  const bases4 = [ip4('10.0.0.1'), ip4('10.0.1.1'), ip4('192.168.7.7')];
  const bases6 = [v6('2001:db8::1'), v6('2001:db8:0:1::1'), v6('fd00::7')];
  const a4 = fc.tuple(fc.constantFrom(...bases4), fc.integer({ min: 0, max: 12 }), fc.nat()).map(([b, bits, r]) => (b ^ (r & ((1 << bits) - 1))) >>> 0);

  it.each(['ts', 'wasm'])('IPv4 on the %s engine, single and batched', (engine) => {
    fc.assert(
      fc.property(fc.array(spdEntry(a4, [0, 8, 16, 20, 23, 24, 28, 32]), { maxLength: 40 }), fc.array(packet(a4), { minLength: 1, maxLength: 60 }), (entries, pkts) => {
        const table = engine === 'ts' ? tsLpm.ipv4() : wasm.ipv4();
        try {
          const m = new SpdMatcher(table, entries);
          for (const p of pkts) {
            const want = linearScan(entries, p, contains4);
            expect(m.matchEntry(p)).toBe(want);
            expect(m.match(p)).toBe(want === undefined ? undefined : entries[want]!.action);
          }
          const out = new Uint32Array(pkts.length);
          m.matchBatch(
            {
              dst: Uint32Array.from(pkts.map((p) => p.dst)),
              src: Uint32Array.from(pkts.map((p) => p.src)),
              protocol: Uint8Array.from(pkts.map((p) => p.protocol)),
              srcPort: Uint16Array.from(pkts.map((p) => p.srcPort)),
              dstPort: Uint16Array.from(pkts.map((p) => p.dstPort)),
            },
            out,
          );
          expect(Array.from(out)).toEqual(pkts.map((p) => m.match(p) ?? LPM_NO_MATCH));
        } finally {
          table.dispose();
        }
      }),
      params(150),
    );
  });

  it('IPv6 on the WASM engine', () => {
    const a6 = fc.tuple(fc.constantFrom(...bases6), fc.integer({ min: 12, max: 16 }), fc.uint8Array({ minLength: 16, maxLength: 16 })).map(([b, from, r]) => {
      const a = b.slice();
      for (let i = from; i < 16; i++) a[i] = r[i]!;
      return a;
    });
    fc.assert(
      fc.property(fc.array(spdEntry(a6, [0, 32, 48, 64, 100, 127, 128]), { maxLength: 30 }), fc.array(packet(a6), { minLength: 1, maxLength: 40 }), (entries, pkts) => {
        const table = wasm.ipv6();
        try {
          const m = new SpdMatcher(table, entries);
          for (const p of pkts) expect(m.matchEntry(p)).toBe(linearScan(entries, p, contains6));
        } finally {
          table.dispose();
        }
      }),
      params(100),
    );
  });

  it('falls back to a shorter destination when no entry of the longest one matches', () => {
    const table = wasm.ipv4();
    const m = new SpdMatcher(table, [
      { dst: { prefix: ip4('10.0.0.0'), len: 8 }, src: { prefix: 0, len: 0 }, protocol: 'any', srcPorts: 'any', dstPorts: 'any', action: 1 },
      { dst: { prefix: ip4('10.1.0.0'), len: 16 }, src: { prefix: ip4('192.168.0.0'), len: 16 }, protocol: 6, srcPorts: 'any', dstPorts: { from: 443, to: 443 }, action: 2 },
      { dst: { prefix: ip4('10.1.0.0'), len: 16 }, src: { prefix: ip4('192.168.0.0'), len: 16 }, protocol: 'any', srcPorts: 'any', dstPorts: 'any', action: 3 },
    ]);
    expect(m.groups).toBe(2);
    const pkt = { src: ip4('192.168.1.1'), dst: ip4('10.1.2.3'), protocol: 6, srcPort: 5000, dstPort: 443 };
    expect(m.match(pkt)).toBe(2);
    expect(m.match({ ...pkt, dstPort: 80 })).toBe(3);
    expect(m.match({ ...pkt, src: ip4('172.16.0.1') })).toBe(1);
    expect(m.match({ ...pkt, dst: ip4('11.0.0.1') })).toBeUndefined();
    table.dispose();
  });
});
