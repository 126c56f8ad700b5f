// Loads the compiled data-plane module (assembly/ -> assembly/build/release.wasm) from disk or URL.
// Owns only this I/O; it never instantiates (dataplane/ does that) and imports Node modules lazily.

/** Where `npm run asbuild` writes the release build, relative to this file. */
export const DATAPLANE_WASM_URL = new URL('../../assembly/build/release.wasm', import.meta.url);

const MISSING_HINT = 'run npm run asbuild to build it';

/** Error thrown when the data-plane module cannot be found or compiled. */
export class DataplaneLoadError extends Error {
  override name = 'DataplaneLoadError';
}

/**
 * Node: reads and compiles the data-plane module from `path` (a file path or file: URL), by default
 * assembly/build/release.wasm next to this source tree. `node:fs/promises` is imported dynamically so
 * that bundling this file for the browser does not pull it in.
 */
export async function loadDataplaneModuleNode(path?: string | URL): Promise<WebAssembly.Module> {
  const target = path ?? DATAPLANE_WASM_URL;
  const { readFile } = await import('node:fs/promises');
  let bytes: Uint8Array;
  try {
    bytes = await readFile(target);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    const where = target instanceof URL ? target.pathname : target;
    if (code === 'ENOENT') throw new DataplaneLoadError(`data-plane WASM not found at ${where}: ${MISSING_HINT}`, { cause: e });
    throw new DataplaneLoadError(`cannot read data-plane WASM at ${where}: ${String(e)}`, { cause: e });
  }
  return compile(bytes, String(target));
}

/**
 * Browser (and workers): compiles the data-plane module from `url` while it downloads, falling back
 * to arrayBuffer + compile when the server does not send `Content-Type: application/wasm`.
 */
export async function loadDataplaneModuleBrowser(url: string | URL): Promise<WebAssembly.Module> {
  const response = await fetch(url);
  if (!response.ok) {
    throw new DataplaneLoadError(`data-plane WASM at ${String(url)}: HTTP ${response.status} (${MISSING_HINT})`);
  }
  if (typeof WebAssembly.compileStreaming === 'function') {
    try {
      // Clone so the fallback can still read the body if streaming compile rejects the MIME type.
      return await WebAssembly.compileStreaming(response.clone());
    } catch {
      // fall through to the buffered path, which reports a real compile error if there is one
    }
  }
  return compile(new Uint8Array(await response.arrayBuffer()), String(url));
}

async function compile(bytes: Uint8Array, where: string): Promise<WebAssembly.Module> {
  try {
    return await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
  } catch (e) {
    throw new DataplaneLoadError(`data-plane WASM at ${where} does not compile (${String(e)}): ${MISSING_HINT}`, { cause: e });
  }
}

/** Node reads the file; a browser or worker fetches it. */
async function loadModule(target: string | URL): Promise<WebAssembly.Module> {
  const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
  if (isNode && (typeof target === 'string' || target.protocol === 'file:')) return loadDataplaneModuleNode(target);
  return loadDataplaneModuleBrowser(target);
}

/** Where `node assembly/build.mjs lpm` writes the longest-prefix-match module, relative to this file. */
export const LPM_WASM_URL = new URL('../../assembly/build/lpm.wasm', import.meta.url);

/** The longest-prefix-match module (assembly/lpm/), for createWasmLpm (dataplane/lpm.ts). */
export const loadLpmModule = (where?: string | URL): Promise<WebAssembly.Module> => loadModule(where ?? LPM_WASM_URL);

/** Where `node assembly/build.mjs esp` writes the ESP engine module, relative to this file. */
export const ESP_WASM_URL = new URL('../../assembly/build/esp.wasm', import.meta.url);

/** The ESP engine module (assembly/esp/), for createWasmEspEngine (dataplane/esp-wasm.ts). */
export const loadEspModule = (where?: string | URL): Promise<WebAssembly.Module> => loadModule(where ?? ESP_WASM_URL);
