// Chooses the data plane at start-up: the WASM engines from assembly/ when their modules load, the
// TypeScript reference otherwise (or when asked for). Owns the loading; the engines live in dataplane/.

import type { EspEngine } from '../dataplane/esp.ts';
import { TsEspEngine } from '../dataplane/esp-ts.ts';
import { createWasmEspEngineSync } from '../dataplane/esp-wasm.ts';
import { createWasmLpm, tsLpm } from '../dataplane/lpm.ts';
import type { NodeDataplane } from '../node/types.ts';
import { loadEspModule, loadLpmModule } from './wasm.ts';

export type DataplaneKind = 'wasm' | 'ts';

export interface ChosenDataplane extends NodeDataplane {
  kind: DataplaneKind;
  /** Why the WASM engines were not used, when they were asked for and failed to load. */
  fallbackReason?: string;
}

/**
 * In a browser, the WASM ESP instances one thread creates before handing nodes the TypeScript
 * reference instead. Every instance reserves its own linear memory (with V8's guard regions,
 * gigabytes of address space), and a page runs out of it after a few hundred: a 1000-site group
 * lab would not start. Node has the room (3000 instances measured). The two engines answer byte for
 * byte alike, so the switch never changes a run; the first nodes of each thread keep the fast path.
 * An instance that fails to allocate also falls back, anywhere.
 */
export const ESP_WASM_INSTANCES_PER_THREAD_MAX_BROWSER = 48;

const inNode = typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';

export const TS_DATAPLANE: ChosenDataplane = { kind: 'ts', lpm: tsLpm, newEsp: (): EspEngine => new TsEspEngine() };

export async function chooseDataplane(wanted: DataplaneKind = 'wasm'): Promise<ChosenDataplane> {
  if (wanted === 'ts') return TS_DATAPLANE;
  try {
    const [lpmModule, espModule] = await Promise.all([loadLpmModule(), loadEspModule()]);
    const lpm = await createWasmLpm(lpmModule);
    // One ESP engine per node (its own SA table); probe once that this thread may instantiate synchronously.
    createWasmEspEngineSync(espModule);
    const max = inNode ? Infinity : ESP_WASM_INSTANCES_PER_THREAD_MAX_BROWSER;
    let instances = 1;
    const newEsp = (): EspEngine => {
      if (instances >= max) return new TsEspEngine();
      try {
        const engine = createWasmEspEngineSync(espModule);
        instances++;
        return engine;
      } catch {
        instances = max; // no memory for another instance: the reference from now on
        return new TsEspEngine();
      }
    };
    return { kind: 'wasm', lpm, newEsp };
  } catch (e) {
    return { ...TS_DATAPLANE, fallbackReason: e instanceof Error ? e.message : String(e) };
  }
}
