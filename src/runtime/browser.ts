// Starting a lab in the browser: Web Workers (one per node, sharded past a limit) or this thread.
// Browser-only: uses Worker and Vite's worker URL pattern.
import type { Topology } from '../sim/topology/types.ts';
import { SingleThreadLab, type Lab, type LabOptions, type RuntimeKind } from './lab.ts';
import { WorkerLab } from './worker-lab.ts';
import { chooseDataplane } from './dataplane.ts';

export interface BrowserLabOptions extends LabOptions {
  runtime?: RuntimeKind;
  maxWorkers?: number;
  onProgress?: (started: number, total: number) => void;
}

export async function createBrowserLab(topology: Topology, options: BrowserLabOptions = {}): Promise<Lab> {
  if ((options.runtime ?? 'workers') === 'single') {
    const dp = await chooseDataplane(options.dataplane ?? 'wasm');
    return new SingleThreadLab(topology, { ...options, engines: dp });
  }
  return WorkerLab.create(topology, {
    ...options,
    spawn: () => {
      const w = new Worker(new URL('./partition-worker-browser.ts', import.meta.url), { type: 'module', name: 'vpnlab-partition' });
      return {
        endpoint: w,
        terminate: () => w.terminate(),
        onError: (cb) => w.addEventListener('error', (e) => cb(new Error(e.message || 'worker failed to load'))),
      };
    },
  });
}
