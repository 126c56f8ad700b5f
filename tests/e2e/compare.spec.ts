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

  // Switching the loaded topology's mode keeps the rows (they cover every mode); another topology does not.
  await page.getByTestId('mode').selectOption('mesh');
  await expect(page.getByTestId('toolbar')).toHaveAttribute('data-phase', 'ready', { timeout: 30_000 });
  await expect(page.getByTestId('mode')).toHaveValue('mesh');
  await expect(page.getByTestId('compare-stale')).toHaveCount(0);
  await page.getByTestId('example').selectOption('seed002-figure1.yaml');
  await expect(page.getByTestId('topology-name')).not.toContainText('Seed 001 Figure 2');
  await expect(page.getByTestId('compare-stale')).toBeVisible();

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

test('"as N grows" runs N = 4, 8, 16, 32 in every mode; its rows agree with vpnlab compare', async ({ page }) => {
  test.setTimeout(300_000);
  // The CLI's scaling table for the two smallest sizes (child processes, as a user runs it).
  const dir = mkdtempSync(join(tmpdir(), 'vpnlab-e2e-compare-'));
  execFileSync(process.execPath, ['src/cli/bin.js', 'compare', '--sites', '4,8', '--out', dir, '--quiet']);
  const cli = JSON.parse(readFileSync(join(dir, 'compare.json'), 'utf8')) as { rows: { sites: number; mode: string; status: string; sasTotal: number | null; configTotal: number | null; controlPackets: number | null }[] };
  expect(cli.rows).toHaveLength(8);

  await openReady(page);
  await page.getByTestId('compare-toggle').click();
  await page.getByTestId('compare-run-scale').click();
  await expect(page.getByTestId('compare-state-scale')).toContainText('16 runs in', { timeout: 280_000 });
  const table = page.getByTestId('compare-table-scale');
  await expect(table.locator('tbody tr')).toHaveCount(16);
  for (const r of cli.rows) {
    const row = table.locator(`tr[data-sites="${r.sites}"][data-mode="${r.mode}"]`);
    const what = `${r.sites} sites, ${r.mode}`;
    await expect(row, what).toHaveAttribute('data-status', r.status);
    await expect(row.locator('[data-field="sasTotal"]'), what).toHaveText(r.sasTotal === null ? '—' : String(r.sasTotal));
    await expect(row.locator('[data-field="configTotal"]'), what).toHaveText(r.configTotal === null ? '—' : String(r.configTotal));
    await expect(row.locator('[data-field="controlPackets"]'), what).toHaveText(r.controlPackets === null ? '—' : String(r.controlPackets));
  }
  // The chart draws a point for every value the table has in its four panels (SAs, config items,
  // convergence time, control packets): an unconverged run has no convergence point.
  const cells = async (field: string) => (await table.locator(`[data-field="${field}"]`).allTextContents()).filter((t) => t !== '—').length;
  const points = (await cells('sasTotal')) + (await cells('configTotal')) + (await cells('controlPackets')) + (await table.locator('tr[data-status="converged"]').count());
  await expect(page.getByTestId('compare-chart-scale').locator('svg circle')).toHaveCount(points);
});
