// Checksum benchmark: the WASM pipeline's proof function against the TypeScript reference.
// Browser-safe: takes a compiled module; no Node imports.
import { TsChecksumEngine, createWasmChecksumEngine } from '../../src/dataplane/checksum.ts';
import { best, type BenchRow } from './util.ts';

export async function checksumBench(module: WebAssembly.Module): Promise<BenchRow[]> {
  const wasm = await createWasmChecksumEngine(module);
  const ts = new TsChecksumEngine();
  const rows: BenchRow[] = [];
  const batch = 4096;
  const headers = Array.from({ length: batch }, (_, i) => {
    const h = new Uint8Array(20);
    for (let j = 0; j < 20; j++) h[j] = (i * 31 + j * 7) & 0xff;
    h[0] = 0x45;
    return h;
  });
  for (const engine of [ts, wasm]) {
    const rounds = 200;
    const secs = best(3, () => {
      const t0 = performance.now();
      for (let r = 0; r < rounds; r++) engine.checksumBatch(headers);
      return (performance.now() - t0) / 1000;
    });
    rows.push({ bench: 'checksum', impl: engine.name, case: `batches of ${batch} IPv4 headers`, headersPerS: Math.round((rounds * batch) / secs) });
  }
  return rows;
}
