// Starts a TypeScript ES module in a Node worker_threads Worker (Node 20 cannot load .ts there).
// Node-only: never import this from code that is bundled for the browser.
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts `moduleUrl` (a .ts or .js ES module, as a file: URL, URL string or absolute path) in a
 * worker thread. The worker runs a small eval'd bootstrap that registers tsx's ESM loader and then
 * imports the module, which reads `workerData` and `parentPort` from node:worker_threads as usual.
 * Errors thrown while loading the module arrive as the Worker's 'error' event.
 */
export function startTsWorker(
  moduleUrl: URL | string,
  workerData?: unknown,
  options: Omit<WorkerOptions, 'eval' | 'workerData'> = {},
): Worker {
  const href = toHref(moduleUrl);
  // Resolved here, not in the worker: an eval'd worker resolves bare names from its cwd.
  // (The ESM build: tsx's CommonJS build of this entry fails to register from an eval'd worker.)
  const tsxApi = import.meta.resolve('tsx/esm/api');
  // An eval'd worker is a CommonJS script: dynamic import(), no top-level await. A rejection
  // is unhandled there, so it ends the worker and surfaces as its 'error' event.
  const bootstrap = `(async () => {
  const { register } = await import(${JSON.stringify(tsxApi)});
  register();
  await import(${JSON.stringify(href)});
})();`;
  return new Worker(bootstrap, { ...options, eval: true, workerData });
}

function toHref(moduleUrl: URL | string): string {
  if (moduleUrl instanceof URL) return moduleUrl.href;
  return isAbsolute(moduleUrl) ? pathToFileURL(moduleUrl).href : new URL(moduleUrl).href;
}
