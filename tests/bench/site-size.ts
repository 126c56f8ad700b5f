// The static site's weight: `vite build` into a temporary folder, then what the page fetches before
// the lab is on screen (index.html's entry, its static imports, the partition worker and the WASM
// modules) against what it fetches later (the workbench, the comparison panel, the single-thread
// simulator), raw and gzip -9. Issue #7's target: first load under 400 KB gzipped.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { BenchRow as Row } from './util.ts';

export function siteSizeBench(): Row[] {
  const out = mkdtempSync(join(tmpdir(), 'vpnlab-site-'));
  execFileSync('npx', ['vite', 'build', '--logLevel', 'error', '--outDir', out, '--emptyOutDir'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const assets = join(out, 'assets');
  const files = readdirSync(assets);
  const gz = (f: string) => gzipSync(readFileSync(join(assets, f)), { level: 9 }).length;
  const raw = (f: string) => readFileSync(join(assets, f)).length;
  // The entry and its static imports (modulepreload links and `from"./x.js"` in the entry).
  const html = readFileSync(join(out, 'index.html'), 'utf8');
  const first = new Set<string>();
  const queue = [...html.matchAll(/(?:src|href)="\.\/assets\/([^"]+\.js)"/g)].map((m) => m[1]!);
  while (queue.length) {
    const f = queue.pop()!;
    if (first.has(f)) continue;
    first.add(f);
    for (const m of readFileSync(join(assets, f), 'utf8').matchAll(/from\s*"\.\/([^"]+\.js)"/g)) queue.push(m[1]!);
  }
  for (const f of files) if (f.startsWith('partition-worker-browser-') || f.endsWith('.wasm')) first.add(f);
  const later = files.filter((f) => f.endsWith('.js') && !first.has(f) && !f.startsWith('bench-'));
  const sum = (list: string[], size: (f: string) => number) => list.reduce((s, f) => s + size(f), 0);
  const firstList = [...first];
  return [
    { bench: 'site', case: 'first load (entry + static imports + partition worker + WASM)', files: firstList.length, kB: +(sum(firstList, raw) / 1024).toFixed(1), kBGzip: +(sum(firstList, gz) / 1024).toFixed(1) },
    { bench: 'site', case: 'fetched later (workbench, comparison, single-thread simulator)', files: later.length, kB: +(sum(later, raw) / 1024).toFixed(1), kBGzip: +(sum(later, gz) / 1024).toFixed(1) },
  ];
}
