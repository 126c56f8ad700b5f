// Layering lint (DESIGN.md "Layers"): imports run one way, downward. Run by `npm test`.
// Each layer lists the layers it may import; anything else is an error naming file and line.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve, sep } from 'node:path';

const ALLOWED = {
  lib: [],
  proto: ['lib', 'proto'],
  dataplane: ['lib', 'proto', 'dataplane'],
  node: ['lib', 'proto', 'dataplane', 'node'],
  sim: ['lib', 'proto', 'dataplane', 'node', 'sim'],
  runtime: ['lib', 'proto', 'dataplane', 'node', 'sim', 'runtime'],
  cli: ['lib', 'proto', 'dataplane', 'node', 'sim', 'runtime', 'cli'],
  ui: ['lib', 'sim', 'runtime', 'ui'],
};
// Modules that must stay free of I/O, clocks and ambient randomness.
const PURE = new Set(['lib', 'proto', 'node', 'dataplane']);
const FORBIDDEN_IN_PURE = [/\bDate\.now\(/, /\bMath\.random\(/, /\bsetTimeout\(/, /\bsetInterval\(/, /\bdocument\./, /\bnew Worker\(/, /from ['"]node:/];

const srcRoot = resolve('src');
const errors = [];
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (/\.(ts|js|svelte)$/.test(name)) check(p);
  }
}
function layerOf(file) {
  return relative(srcRoot, file).split(sep)[0];
}
function check(file) {
  const layer = layerOf(file);
  const allowed = ALLOWED[layer];
  if (!allowed) {
    errors.push(`${relative('.', file)}: not in a known layer (${Object.keys(ALLOWED).join(', ')})`);
    return;
  }
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.forEach((line, i) => {
    const m = /(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/.exec(line);
    if (m && m[1].startsWith('.')) {
      const target = resolve(dirname(file), m[1]);
      if (target.startsWith(srcRoot + sep)) {
        const tl = layerOf(target);
        if (!allowed.includes(tl)) errors.push(`${relative('.', file)}:${i + 1}: layer '${layer}' may not import '${tl}' (${m[1]})`);
      }
    }
    if (PURE.has(layer)) {
      for (const re of FORBIDDEN_IN_PURE) {
        if (re.test(line) && !line.trimStart().startsWith('//')) errors.push(`${relative('.', file)}:${i + 1}: '${re.source}' is not allowed in sans-IO layer '${layer}'`);
      }
    }
  });
}
walk(srcRoot);
if (errors.length) {
  console.error(errors.join('\n'));
  console.error(`layering lint: ${errors.length} error(s)`);
  process.exit(1);
}
console.log('layering lint: ok');
