// Starting a lab in Node (CLI, tests): the single-thread kernel or worker_threads workers.
// Node-only: never import this from code bundled for the browser.
import { availableParallelism } from 'node:os';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import type { Topology } from '../sim/topology/types.ts';
import { SingleThreadLab, type Lab, type LabOptions, type RuntimeKind } from './lab.ts';
import { startTsWorker } from './node-worker.ts';
import { chooseDataplane } from './dataplane.ts';
import { installNodeCrypto } from './node-crypto.ts';
import { WorkerLab, WORKERS_MAX_DEFAULT } from './worker-lab.ts';

export interface NodeLabOptions extends LabOptions {
  runtime?: RuntimeKind;
  maxWorkers?: number;
  onProgress?: (started: number, total: number) => void;
}

export async function createLab(topology: Topology, options: NodeLabOptions = {}): Promise<Lab> {
  installNodeCrypto();
  if ((options.runtime ?? 'single') === 'single') {
    const dp = await chooseDataplane(options.dataplane ?? 'wasm');
    if (dp.fallbackReason) console.warn(`[vpnlab] WASM data plane unavailable (${dp.fallbackReason}); using the TypeScript reference`);
    return new SingleThreadLab(topology, { ...options, engines: dp });
  }
  const entry = new URL('./partition-worker-node.ts', import.meta.url);
  return WorkerLab.create(topology, {
    ...options,
    // One worker per core by default: more only share the cores and add barrier and memory cost
    // (1000 sites in group mode on 2 cores: 16 workers vs 2, see the commit).
    maxWorkers: options.maxWorkers ?? Math.min(WORKERS_MAX_DEFAULT, Math.max(1, availableParallelism())),
    spawn: () => {
      const w = startTsWorker(entry);
      return {
        endpoint: nodeEndpoint(w),
        terminate: () => w.terminate(),
        onError: (cb) => {
          w.on('error', (e) => cb(e instanceof Error ? e : new Error(String(e))));
          w.on('exit', (code) => cb(new Error(`exited with code ${code}`)));
        },
      };
    },
  });
}
