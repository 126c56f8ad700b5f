// Starting a lab in the browser: Web Workers (one per node, sharded past a limit) or this thread.
// Browser-only: uses Worker and Vite's worker URL pattern.
import type { Topology } from '../sim/topology/types.ts';
import type { Lab, LabOptions, RuntimeKind } from './lab.ts';
import { WorkerLab } from './worker-lab.ts';

export interface BrowserLabOptions extends LabOptions {
  runtime?: RuntimeKind;
  maxWorkers?: number;
  onProgress?: (started: number, total: number) => void;
}

export async function createBrowserLab(topology: Topology, options: BrowserLabOptions = {}): Promise<Lab> {
  if ((options.runtime ?? 'workers') === 'single') {
    // The whole simulator on this thread: loaded only when asked for (`?runtime=single`), so the
    // page's first load carries the UI and the workers carry the nodes.
    const [{ SingleThreadLab }, { chooseDataplane }] = await Promise.all([import('./lab.ts'), import('./dataplane.ts')]);
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
