// The benchmark suites that run in a browser page (src/ui/bench.html): WASM loaded with fetch,
// nothing from Node. Each returns rows like the Node suites.
import checksumWasmUrl from '../../assembly/build/release.wasm?url';
import { loadDataplaneModuleBrowser, loadEspModule } from '../../src/runtime/wasm.ts';
import { checksumBench } from './checksum.ts';
import { lpmBench } from './dataplane-lpm.ts';
import { espBenchWasm } from './dataplane-esp.ts';
import type { BenchRow } from './util.ts';

export const BROWSER_SUITES: Record<string, () => Promise<BenchRow[]>> = {
  checksum: async () => checksumBench(await loadDataplaneModuleBrowser(checksumWasmUrl)),
  lpm: lpmBench,
  esp: async () => espBenchWasm(await loadEspModule()),
};
