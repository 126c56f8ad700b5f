// Builds the data-plane WASM modules with asc (settings in /asconfig.json: release = -O3, SIMD,
// no asserts, stub runtime, no imports). Usage: node assembly/build.mjs [--debug] [MODULE…]
// Modules: checksum (assembly/index.ts), esp (assembly/esp/index.ts), lpm (assembly/lpm/index.ts).
import asc from 'assemblyscript/asc';
import { existsSync } from 'node:fs';

const MODULES = {
  checksum: { entry: 'assembly/index.ts', out: 'assembly/build/release' },
  esp: { entry: 'assembly/esp/index.ts', out: 'assembly/build/esp' },
  lpm: { entry: 'assembly/lpm/index.ts', out: 'assembly/build/lpm' },
};

const args = process.argv.slice(2);
const debug = args.includes('--debug');
const names = args.filter((a) => !a.startsWith('--'));
let failed = false;
for (const name of names.length ? names : Object.keys(MODULES)) {
  const m = MODULES[name];
  if (!m) {
    console.error(`asbuild: unknown module ${name}; have ${Object.keys(MODULES).join(', ')}`);
    process.exit(2);
  }
  if (!existsSync(m.entry)) continue; // a module not written yet
  const suffix = debug ? '.debug' : '';
  const { error, stderr } = await asc.main([m.entry, '--config', 'asconfig.json', '--target', debug ? 'debug' : 'release', '--outFile', `${m.out}${suffix}.wasm`, '--textFile', `${m.out}${suffix}.wat`]);
  if (error) {
    console.error(`asbuild: ${name} failed: ${error.message}\n${stderr.toString()}`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
