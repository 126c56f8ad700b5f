// The data-plane WASM module in a Node worker thread (structured-cloned Module, or loaded there),
// checked against the TypeScript reference; plus the loader's error for a missing build.
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { TsChecksumEngine } from '../../src/dataplane/checksum.ts';
import { DATAPLANE_WASM_URL, loadDataplaneModuleNode } from '../../src/runtime/wasm.ts';
import { startTsWorker } from '../../src/runtime/node-worker.ts';
import type { ChecksumReply, ChecksumRequest } from './fixtures/checksum-worker.ts';

const WORKER_URL = new URL('./fixtures/checksum-worker.ts', import.meta.url);
const SEED = 20261123;

const headers = fc.sample(
  fc.integer({ min: 5, max: 15 }).chain((ihl) => fc.uint8Array({ minLength: 4 * ihl, maxLength: 4 * ihl })),
  { numRuns: 200, seed: SEED },
);

const workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.terminate()));
});

function ask(worker: Worker, req: ChecksumRequest): Promise<ChecksumReply> {
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`worker exited with code ${code}`)));
    worker.postMessage(req);
  });
}

function expectMatchesReference(reply: ChecksumReply): void {
  const ts = new TsChecksumEngine();
  expect(reply.checksums).toEqual(ts.checksumBatch(headers));
  const filled = headers.map((h) => h.slice());
  ts.fillIpv4ChecksumsInPlace(filled);
  expect(reply.filled).toEqual(filled);
  expect(Array.from(ts.checksumBatch(reply.filled))).toEqual(headers.map(() => 0));
}

describe('WASM checksum engine in a worker thread', () => {
  it('takes a compiled module posted by the parent (structured clone)', async () => {
    const module = await loadDataplaneModuleNode();
    const worker = startTsWorker(WORKER_URL);
    workers.push(worker);
    expectMatchesReference(await ask(worker, { module, headers }));
  });

  it('loads the module itself from a path given in workerData', async () => {
    const worker = startTsWorker(fileURLToPath(WORKER_URL), { wasmPath: fileURLToPath(DATAPLANE_WASM_URL) });
    workers.push(worker);
    expectMatchesReference(await ask(worker, { headers }));
  });

  it('reports a module that fails to load as an error event', async () => {
    const worker = startTsWorker(new URL('./fixtures/does-not-exist.ts', import.meta.url));
    workers.push(worker);
    await expect(
      new Promise((resolve, reject) => {
        worker.once('error', reject);
        worker.once('exit', resolve);
      }),
    ).rejects.toThrow(/does-not-exist/);
  });
});

describe('loadDataplaneModuleNode', () => {
  it('says how to build the module when the file is missing', async () => {
    await expect(loadDataplaneModuleNode('/nonexistent/release.wasm')).rejects.toThrow(/npm run asbuild/);
  });
});
