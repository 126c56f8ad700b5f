// Chooses the data plane at start-up: the WASM engines from assembly/ when their modules load, the
// TypeScript reference otherwise (or when asked for). Owns the loading; the engines live in dataplane/.

import { createWasmLpm, tsLpm, type LpmEngine } from '../dataplane/lpm.ts';
import { loadLpmModule } from './wasm.ts';

export type DataplaneKind = 'wasm' | 'ts';

export interface ChosenDataplane {
  kind: DataplaneKind;
  lpm: LpmEngine;
  /** Why the WASM engine was not used, when it was asked for and failed to load. */
  fallbackReason?: string;
}

export async function chooseDataplane(wanted: DataplaneKind = 'wasm', lpmModuleUrl?: string | URL): Promise<ChosenDataplane> {
  if (wanted === 'ts') return { kind: 'ts', lpm: tsLpm };
  try {
    return { kind: 'wasm', lpm: await createWasmLpm(await loadLpmModule(lpmModuleUrl)) };
  } catch (e) {
    return { kind: 'ts', lpm: tsLpm, fallbackReason: e instanceof Error ? e.message : String(e) };
  }
}
