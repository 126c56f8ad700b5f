import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  plugins: [svelte({ configFile: `${repo}svelte.config.js` })],
  // The page lives in src/ui (index.html there); static files and example topologies in public/.
  root: 'src/ui',
  publicDir: `${repo}public`,
  base: './',
  build: {
    outDir: `${repo}dist`,
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: (file) => (file.endsWith('.wasm') ? false : undefined),
    rollupOptions: { input: { main: `${repo}src/ui/index.html`, bench: `${repo}src/ui/bench.html` } },
  },
  worker: { format: 'es' },
  optimizeDeps: { include: ['comlink', 'yaml', 'zod'] },
  server: { port: 5173, strictPort: true, fs: { allow: [repo] } },
  preview: { port: 5173, strictPort: true },
  test: {
    root: repo,
    include: ['tests/**/*.test.ts'],
    exclude: ['tests/e2e/**', 'node_modules/**'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
