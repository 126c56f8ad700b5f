// Runs the bench page in Debian's chromium (headless, via Playwright) against a vite preview of a
// fresh build, and returns its rows. Used by `npm run bench -- browser:SUITE`.
import { chromium } from '@playwright/test';
import { spawn } from 'node:child_process';
import type { BenchRow } from './util.ts';

const PORT = 4179;
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export async function browserBench(suites: string[]): Promise<BenchRow[]> {
  const build = spawn('npx', ['vite', 'build', '--logLevel', 'error'], { stdio: ['ignore', 'ignore', 'inherit'] });
  await new Promise<void>((ok, fail) => build.on('exit', (c) => (c === 0 ? ok() : fail(new Error(`vite build exited ${c}`)))));
  const server = spawn('npx', ['vite', 'preview', '--port', String(PORT), '--strictPort'], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  try {
    await new Promise<void>((ok, fail) => {
      const t = setTimeout(() => fail(new Error('vite preview did not start')), 30_000);
      server.stdout!.on('data', (d: Buffer) => {
        if (d.toString().includes(String(PORT))) {
          clearTimeout(t);
          ok();
        }
      });
    });
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage();
      await page.goto(`http://localhost:${PORT}/bench.html?suite=${suites.join(',')}`);
      await page.waitForFunction(() => window.__vpnlabBench !== undefined, undefined, { timeout: 600_000 });
      const r = await page.evaluate(() => window.__vpnlabBench!);
      if (!r.ok) throw new Error(`bench page failed: ${r.error}`);
      return r.results;
    } finally {
      await browser.close();
    }
  } finally {
    if (server.pid) process.kill(-server.pid);
  }
}
