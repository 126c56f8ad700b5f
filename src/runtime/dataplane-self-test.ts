// Proves the data-plane WASM module loads in this page: compiles it from its URL, runs a batch of
// IPv4 headers through the WASM checksum engine and compares every result with the TypeScript
// reference. Owns only that check; it never touches the DOM and never draws random numbers from
// anything but its own seeded stream.
import { TsChecksumEngine, createWasmChecksumEngine } from '../dataplane/checksum.ts';
import { Pcg32 } from '../lib/rng.ts';
import { loadDataplaneModuleBrowser } from './wasm.ts';

/** Headers in the self-test batch. */
export const SELF_TEST_HEADERS = 64;
const SELF_TEST_SEED = 20261123;

export type SelfTestResult = { ok: true; headers: number } | { ok: false; message: string };

/** A fixed batch: IPv4-sized headers (IHL 5..15 words) of seeded random bytes, plus a few odd lengths. */
export function selfTestBatch(count = SELF_TEST_HEADERS): Uint8Array[] {
  const rng = new Pcg32(SELF_TEST_SEED, 1);
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const ihl = 5 + rng.nextInt(11);
    const h = new Uint8Array(4 * ihl);
    for (let k = 0; k < h.length; k++) h[k] = rng.nextInt(256);
    h[0] = 0x40 | ihl; // version 4, IHL
    out.push(h);
  }
  return out;
}

function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** Loads the module at `wasmUrl` and checks checksumBatch and fillIpv4ChecksumsInPlace against TypeScript. */
export async function runDataplaneSelfTest(wasmUrl: string | URL): Promise<SelfTestResult> {
  try {
    const module = await loadDataplaneModuleBrowser(wasmUrl);
    const wasm = await createWasmChecksumEngine(module);
    const ts = new TsChecksumEngine();
    const batch = selfTestBatch();
    // Odd lengths exercise the RFC 1071 padding of a last single byte.
    const raw = [...batch, batch[0]!.subarray(0, 21), batch[1]!.subarray(0, 1), new Uint8Array(0)];

    const sumsWasm = wasm.checksumBatch(raw);
    const sumsTs = ts.checksumBatch(raw);
    const at = firstDifference(sumsWasm, sumsTs);
    if (at >= 0) {
      return { ok: false, message: `checksum of byte string ${at} differs: WASM 0x${(sumsWasm[at] ?? 0).toString(16)}, TypeScript 0x${(sumsTs[at] ?? 0).toString(16)}` };
    }

    const filledWasm = batch.map((h) => h.slice());
    const filledTs = batch.map((h) => h.slice());
    wasm.fillIpv4ChecksumsInPlace(filledWasm);
    ts.fillIpv4ChecksumsInPlace(filledTs);
    for (let i = 0; i < batch.length; i++) {
      if (firstDifference(filledWasm[i]!, filledTs[i]!) >= 0) return { ok: false, message: `filled IPv4 header ${i} differs from the TypeScript reference` };
    }
    const verify = ts.checksumBatch(filledWasm);
    const bad = verify.findIndex((c) => c !== 0);
    if (bad >= 0) return { ok: false, message: `IPv4 header ${bad} filled by WASM does not verify` };
    return { ok: true, headers: batch.length };
  } catch (e) {
    return { ok: false, message: e instanceof Error ? e.message : String(e) };
  }
}
