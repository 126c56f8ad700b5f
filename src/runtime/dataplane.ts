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

export const TS_DATAPLANE: ChosenDataplane = { kind: 'ts', lpm: tsLpm, newEsp: (): EspEngine => new TsEspEngine() };

export async function chooseDataplane(wanted: DataplaneKind = 'wasm'): Promise<ChosenDataplane> {
  if (wanted === 'ts') return TS_DATAPLANE;
  try {
    const [lpmModule, espModule] = await Promise.all([loadLpmModule(), loadEspModule()]);
    const lpm = await createWasmLpm(lpmModule);
    // One ESP engine per node (its own SA table); probe once that this thread may instantiate synchronously.
    createWasmEspEngineSync(espModule);
    return { kind: 'wasm', lpm, newEsp: () => createWasmEspEngineSync(espModule) };
  } catch (e) {
    return { ...TS_DATAPLANE, fallbackReason: e instanceof Error ? e.message : String(e) };
  }
}
