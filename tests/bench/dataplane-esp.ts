// ESP benchmark: encapsulate and decapsulate throughput of the WASM engine (through the EspEngine
// API and through its zero-copy descriptor API), the TypeScript reference on @noble/ciphers, and
// Node's OpenSSL (node:crypto, one cipher object per packet, the same ESP framing) — in one run.
// espBench is Node only (node:crypto, the module from disk); espBenchWasm is browser-safe. Wall-clock
// MB/s is the headline (best of 3); MBpsCpu divides by this process's CPU time over the same runs,
// which other processes on a shared 2-core machine disturb far less.
import { TsEspEngine } from '../../src/dataplane/esp-ts.ts';
import { createWasmEspEngine, ESP_DESC, ESP_INNER_OFFSET, type WasmEspEngine } from '../../src/dataplane/esp-wasm.ts';
import { ESP_KEY_BYTES, ESP_OVERHEAD_MAX, type EspEngine, type EspSaParams, type EspSuite } from '../../src/dataplane/esp.ts';
import { type BenchRow } from './util.ts';

/** Inner packet sizes (bytes protected per packet: the whole inner IPv4 packet). */
const SIZES = [64, 512, 1400] as const;
const SUITES: readonly EspSuite[] = ['aes-gcm-128', 'aes-gcm-256', 'chacha20-poly1305'];
const BATCH = 256;
/** Each timed run processes about this many inner bytes (at least one batch). */
const BYTES_PER_RUN = 24_000_000;
const RUNS = 3;

/** One way to encapsulate and decapsulate a batch; `prepare` is untimed. */
interface Impl {
  name: string;
  /** Returns the timed encapsulate and decapsulate of the prepared batch. */
  prepare(suite: EspSuite, inners: Uint8Array[]): { encap: () => void; decap: () => void; sample: Uint8Array };
}

function fill(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed || 1;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** An IPv4 packet of exactly `size` bytes (header + zero-ish payload), as an inner packet. */
function innerPacket(size: number, seed: number): Uint8Array {
  const p = fill(size, seed);
  p[0] = 0x45;
  p[1] = 0;
  p[2] = size >> 8;
  p[3] = size & 0xff;
  return p;
}

/**
 * SA parameters for the benchmark. The inbound window is off (0) so that the same batch can be
 * decapsulated again and again; the check and update of a window cost a few ns either way.
 */
function saParams(suite: EspSuite, spi: number): EspSaParams {
  return { spi, suite, key: fill(ESP_KEY_BYTES[suite], spi), salt: fill(4, spi + 1), esn: false, replayWindow: 0, tunnelSrc: 0xc0000201, tunnelDst: 0xc6336401 };
}

let spiCounter = 0x10000;

/** Through the EspEngine interface (copies in and out of the arena, a Uint8Array per result). */
function engineImpl(name: string, engine: EspEngine): Impl {
  return {
    name,
    prepare(suite, inners) {
      const p = saParams(suite, spiCounter++);
      const out = engine.addSa('outbound', p);
      engine.addSa('inbound', p);
      const outers = engine.encapsulate(out, inners).map((r) => (r.ok ? r.bytes : new Uint8Array(0)));
      const check = engine.decapsulate(outers);
      if (!check.every((r) => r.ok)) throw new Error(`${name}: own packets do not decapsulate`);
      return {
        encap: () => void engine.encapsulate(out, inners),
        decap: () => void engine.decapsulate(outers),
        sample: outers[0] as Uint8Array,
      };
    },
  };
}

/** The WASM engine's descriptor API: packets already in the arena, nothing copied by JS. */
function zeroCopyImpl(engine: WasmEspEngine): Impl {
  return {
    name: 'wasm zero-copy',
    prepare(suite, inners) {
      const p = saParams(suite, spiCounter++);
      const out = engine.addSa('outbound', p);
      engine.addSa('inbound', p);
      const slot = engine.saSlot(out);
      const n = inners.length;
      const room = (len: number) => Math.ceil((len + ESP_OVERHEAD_MAX) / 64) * 64;
      const descBytes = n * ESP_DESC.BYTES;
      const total = 2 * descBytes + inners.reduce((s, b) => s + 2 * room(b.length), 0);
      const base = engine.reserveBatch(total);
      const encDesc = base;
      const decDesc = base + descBytes;
      const u32 = new Uint32Array(engine.memory.buffer);
      const mem = new Uint8Array(engine.memory.buffer);
      let at = base + 2 * descBytes;
      for (let i = 0; i < n; i++) {
        const inner = inners[i] as Uint8Array;
        const outerAt = at;
        const plainAt = at + room(inner.length);
        at = plainAt + room(inner.length);
        const e = (encDesc + i * ESP_DESC.BYTES) >> 2;
        u32[e] = outerAt + ESP_INNER_OFFSET;
        u32[e + 1] = inner.length;
        u32[e + 2] = outerAt;
        u32[e + 3] = slot;
        mem.set(inner, outerAt + ESP_INNER_OFFSET);
        const d = (decDesc + i * ESP_DESC.BYTES) >> 2;
        u32[d] = outerAt;
        u32[d + 2] = plainAt;
      }
      // Encapsulate in place once (the inner packets are now ciphertext), then decapsulate into
      // separate buffers so the outer packets stay intact for the next round. Re-encapsulating
      // in place needs the plaintext back where it was: the timed encapsulate therefore reads
      // the inner packet from the decapsulated copy (a distinct input address: one memcpy).
      engine.encapsulateDescriptors(encDesc, n);
      for (let i = 0; i < n; i++) {
        const e = (encDesc + i * ESP_DESC.BYTES) >> 2;
        const d = (decDesc + i * ESP_DESC.BYTES) >> 2;
        if (u32[e + 5] !== 0) throw new Error('wasm zero-copy: encapsulate failed');
        u32[d + 1] = u32[e + 4] as number;
        u32[e] = u32[d + 2] as number; // next rounds: inner from the plaintext buffer
      }
      engine.decapsulateDescriptors(decDesc, n);
      for (let i = 0; i < n; i++) if (u32[((decDesc + i * ESP_DESC.BYTES) >> 2) + 5] !== 0) throw new Error('wasm zero-copy: decapsulate failed');
      const e0 = encDesc >> 2;
      return {
        encap: () => engine.encapsulateDescriptors(encDesc, n),
        decap: () => engine.decapsulateDescriptors(decDesc, n),
        sample: new Uint8Array(engine.memory.buffer).slice(u32[e0 + 2] as number, (u32[e0 + 2] as number) + (u32[e0 + 4] as number)),
      };
    },
  };
}

type NodeCrypto = typeof import('node:crypto');

/** Node's OpenSSL: one createCipheriv/createDecipheriv per packet, the framing of esp.ts in JS. */
function nodeImpl(crypto: NodeCrypto): Impl {
  const algo = (s: EspSuite) => (s === 'chacha20-poly1305' ? 'chacha20-poly1305' : s === 'aes-gcm-128' ? 'aes-128-gcm' : 'aes-256-gcm') as 'aes-128-gcm';
  return {
    name: 'node:crypto',
    prepare(suite, inners) {
      const p = saParams(suite, spiCounter++);
      const key = Buffer.from(p.key);
      let seq = 1;
      const encapOne = (inner: Uint8Array): Buffer => {
        const pad = (4 - ((inner.length + 2) % 4)) % 4;
        const plainLen = inner.length + pad + 2;
        const out = Buffer.allocUnsafe(36 + plainLen + 16);
        // Outer IPv4 header.
        out[0] = 0x45;
        out[1] = inner[1] as number;
        out.writeUInt16BE(out.length, 2);
        out.writeUInt32BE(0x4000, 4);
        out.writeUInt32BE(0x40320000, 8); // TTL 64, protocol 50, checksum 0
        out.writeUInt32BE(p.tunnelSrc, 12);
        out.writeUInt32BE(p.tunnelDst, 16);
        let sum = 0;
        for (let i = 0; i < 20; i += 2) sum += out.readUInt16BE(i);
        sum = (sum & 0xffff) + (sum >>> 16);
        sum = (sum & 0xffff) + (sum >>> 16);
        out.writeUInt16BE(~sum & 0xffff, 10);
        // ESP header, IV = 64-bit sequence number.
        out.writeUInt32BE(p.spi, 20);
        out.writeUInt32BE(seq, 24);
        out.writeUInt32BE(0, 28);
        out.writeUInt32BE(seq, 32);
        seq++;
        const plain = out.subarray(36, 36 + plainLen);
        plain.set(inner, 0);
        for (let i = 0; i < pad; i++) plain[inner.length + i] = i + 1;
        plain[inner.length + pad] = pad;
        plain[inner.length + pad + 1] = 4;
        const nonce = Buffer.concat([Buffer.from(p.salt), out.subarray(28, 36)]);
        const c = crypto.createCipheriv(algo(suite), key, nonce, { authTagLength: 16 });
        c.setAAD(out.subarray(20, 28), { plaintextLength: plainLen });
        const ct = c.update(plain);
        c.final();
        ct.copy(out, 36);
        c.getAuthTag().copy(out, 36 + plainLen);
        return out;
      };
      const decapOne = (outer: Buffer): Uint8Array | undefined => {
        if (outer.length < 54 || outer[0] !== 0x45 || outer[9] !== 50) return undefined;
        const ctLen = outer.length - 52;
        const nonce = Buffer.concat([Buffer.from(p.salt), outer.subarray(28, 36)]);
        const d = crypto.createDecipheriv(algo(suite), key, nonce, { authTagLength: 16 });
        d.setAAD(outer.subarray(20, 28), { plaintextLength: ctLen });
        d.setAuthTag(outer.subarray(36 + ctLen));
        const plain = d.update(outer.subarray(36, 36 + ctLen));
        try {
          d.final(); // verifies the tag (OpenSSL releases plaintext before it; we discard it on failure)
        } catch {
          return undefined;
        }
        const padLen = plain[ctLen - 2] as number;
        for (let i = 0; i < padLen; i++) if (plain[ctLen - 2 - padLen + i] !== i + 1) return undefined;
        return plain.subarray(0, ctLen - 2 - padLen);
      };
      const outers = inners.map(encapOne);
      if (!outers.every((o) => decapOne(o) !== undefined)) throw new Error('node:crypto: own packets do not decapsulate');
      return {
        encap: () => void inners.map(encapOne),
        decap: () => void outers.map(decapOne),
        sample: outers[0] as Uint8Array,
      };
    },
  };
}

/**
 * Runs the suites for the given implementations; browser-safe (pass no node:crypto implementation
 * and no `cpuMs`). `cpuMs`, when given, reads this process's CPU time in ms (Node: process.cpuUsage).
 */
export function espBenchSuites(impls: readonly Impl[], cpuMs?: () => number, only: { suites?: readonly EspSuite[]; sizes?: readonly number[] } = {}): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const suite of only.suites ?? SUITES) {
    for (const size of only.sizes ?? SIZES) {
      const inners = Array.from({ length: BATCH }, (_, i) => innerPacket(size, i + 1));
      const rounds = Math.max(1, Math.round(BYTES_PER_RUN / (size * BATCH)));
      let reference: string | undefined;
      for (const impl of impls) {
        const { encap, decap, sample } = impl.prepare(suite, inners);
        // All implementations produce the same first packet (SPI and keys differ per SA: compare lengths and framing).
        const shape = `${sample.length}:${Array.from(sample.subarray(0, 12)).join(',')}`;
        reference ??= shape;
        if (shape !== reference) throw new Error(`${impl.name} ${suite} ${size}: outer packet framing differs`);
        // Scale the rounds down for slow implementations: one probe round first.
        const t0 = performance.now();
        encap();
        const probe = Math.max(performance.now() - t0, 0.01);
        const r = Math.max(1, Math.min(rounds, Math.round(400 / probe)));
        for (const [dir, fn] of [['encapsulate', encap], ['decapsulate', decap]] as const) {
          fn(); // warm-up (and tier-up of the WASM code)
          let wall = Infinity;
          let cpu = Infinity;
          for (let run = 0; run < RUNS; run++) {
            const c0 = cpuMs?.();
            const t0 = performance.now();
            for (let k = 0; k < r; k++) fn();
            wall = Math.min(wall, (performance.now() - t0) / 1000);
            if (c0 !== undefined) cpu = Math.min(cpu, ((cpuMs?.() ?? c0) - c0) / 1000);
          }
          const packets = r * BATCH;
          const row: BenchRow = { bench: 'dataplane-esp', impl: impl.name, suite, dir, innerBytes: size, MBps: Math.round((packets * size) / wall / 1e6), packetsPerS: Math.round(packets / wall) };
          // CPU time of this process: the same runs, unaffected by other processes taking the core.
          if (cpuMs && cpu > 0) row.MBpsCpu = Math.round((packets * size) / cpu / 1e6);
          rows.push(row);
        }
      }
    }
  }
  return rows;
}

/**
 * The browser-safe part: the WASM engine (engine API and zero-copy) and the TypeScript reference,
 * from a compiled module (a bench page passes one loaded with fetch).
 */
export async function espBenchWasm(module: WebAssembly.Module, only: { suites?: readonly EspSuite[]; sizes?: readonly number[] } = {}): Promise<BenchRow[]> {
  const impls = [engineImpl('wasm', await createWasmEspEngine(module)), zeroCopyImpl(await createWasmEspEngine(module)), engineImpl('ts', new TsEspEngine())];
  return espBenchSuites(impls, undefined, only);
}

/**
 * The ESP benchmark in Node: WASM (engine API and zero-copy), the TypeScript reference and Node's
 * OpenSSL, at 64, 512 and 1400-byte inner packets, batches of 256, best of 3. `only` narrows it
 * (suites, sizes, implementation names) for quick looks.
 */
export async function espBench(only: { suites?: readonly EspSuite[]; sizes?: readonly number[]; impls?: readonly string[] } = {}): Promise<BenchRow[]> {
  const { loadEspModule } = await import('../../src/runtime/wasm.ts');
  // Not a literal, so that bundling this file for the bench page leaves node:crypto alone.
  const cryptoModule = 'node:crypto';
  const crypto = (await import(/* @vite-ignore */ cryptoModule)) as NodeCrypto;
  const module = await loadEspModule();
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const impls = [engineImpl('wasm', await createWasmEspEngine(module)), zeroCopyImpl(await createWasmEspEngine(module)), engineImpl('ts', new TsEspEngine()), nodeImpl(crypto)];
  return espBenchSuites(only.impls ? impls.filter((i) => only.impls?.includes(i.name)) : impls, cpuMs, only);
}
