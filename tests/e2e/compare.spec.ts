// The comparison panel: opens beside the mode selector, runs the loaded example in the four modes in
// the page, and its table agrees with headless runs of the same file (`vpnlab run --report` in Node,
// computed here, not literals): SAs, config items, convergence. A run of the "as N grows" part can be
// cancelled.
import { expect, test, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const EXAMPLE = 'public/topologies/seed001-figure2.yaml';
const MODES = ['l3vpn', 'mesh', 'gateway', 'group'] as const;

interface HeadlessRow {
  sasTotal: number;
  configTotal: number;
  converged: boolean;
}

/** What `vpnlab compare` reads for each mode: `vpnlab run FILE --mode M --until 10 --slices 50 --report`. */
function headless(): Record<string, HeadlessRow> {
  const dir = mkdtempSync(join(tmpdir(), 'vpnlab-e2e-compare-'));
  const out: Record<string, HeadlessRow> = {};
  for (const mode of MODES) {
    const file = join(dir, `${mode}.json`);
    execFileSync(process.execPath, ['src/cli/bin.js', 'run', EXAMPLE, '--mode', mode, '--until', '10', '--slices', '50', '--report', file, '--report-detail', 'summary', '--quiet']);
    const r = JSON.parse(readFileSync(file, 'utf8')) as { totals: { sas: { installed: number }; configItems: { total: number } }; convergence: { convergedAtUs: number | null } };
    out[mode] = { sasTotal: r.totals.sas.installed, configTotal: r.totals.configItems.total, converged: r.convergence.convergedAtUs !== null };
  }
  return out;
}

async function openReady(page: Page): Promise<void> {
  await page.goto('/');
  const toolbar = page.getByTestId('toolbar');
  await expect(toolbar).toHaveAttribute('data-phase', 'ready', { timeout: 30_000 });
  await expect(page.getByTestId('topology-name')).toContainText('Seed 001 Figure 2');
}

test('runs the loaded example in the four modes; the table matches headless runs', async ({ page }) => {
  test.setTimeout(180_000);
  const expected = headless();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await openReady(page);

  const panel = page.getByTestId('compare-panel');
  await expect(panel).toBeHidden();
  await page.getByTestId('compare-toggle').click();
  await expect(panel).toBeVisible();
  await expect(page.getByTestId('compare-toggle')).toHaveAttribute('aria-pressed', 'true');

  await page.getByTestId('compare-run-topology').click();
  await expect(page.getByTestId('compare-progress-topology')).toBeVisible();
  await expect(page.getByTestId('compare-cancel-topology')).toBeVisible();
  const state = page.getByTestId('compare-state-topology');
  await expect(state).toContainText('4 runs in', { timeout: 150_000 });

  const table = page.getByTestId('compare-table-topology');
  for (const mode of MODES) {
    const row = table.locator(`tr[data-mode="${mode}"]`);
    const want = expected[mode]!;
    await expect(row.locator('[data-field="sasTotal"]'), `${mode} SAs`).toHaveText(String(want.sasTotal));
    await expect(row.locator('[data-field="configTotal"]'), `${mode} config items`).toHaveText(String(want.configTotal));
    await expect(row, `${mode} status`).toHaveAttribute('data-status', want.converged ? 'converged' : 'not-converged');
    await expect(row.locator('[data-field="convergence"]')).toHaveText(want.converged ? /^converged at \d+\.\d\d s$/ : 'did not converge');
  }
  // Mesh protects with pairwise SAs; l3vpn has none (the example's numbers, whatever they are, differ).
  expect(expected.mesh!.sasTotal).toBeGreaterThan(expected.l3vpn!.sasTotal);
  // The chart (sim/chart.ts) is inlined: a panel per metric, a legend entry per mode.
  const chart = page.getByTestId('compare-chart-topology').locator('svg');
  await expect(chart).toBeVisible();
  await expect(chart.locator('text', { hasText: 'ESP SAs in the network' })).toHaveCount(1);
  for (const mode of MODES) await expect(chart.locator('text', { hasText: new RegExp(`^${mode}$`) })).toHaveCount(1);

  // "As N grows": starts, shows progress, and stops on Cancel.
  await page.getByTestId('compare-run-scale').click();
  await expect(page.getByTestId('compare-progress-scale')).toContainText('run 1 of 16: 4 sites, l3vpn');
  await page.getByTestId('compare-cancel-scale').click();
  await expect(page.getByTestId('compare-state-scale')).toContainText(/^Cancelled after \d+ of 16 runs\.$/);
  await expect(page.getByTestId('compare-run-scale')).toBeEnabled();

  await page.getByRole('button', { name: 'Close the comparison' }).click();
  await expect(panel).toBeHidden();
  expect(errors).toEqual([]);
});
