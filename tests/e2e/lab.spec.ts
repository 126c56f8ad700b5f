// The page end to end in Debian's chromium: the default example loads, Web Workers start, the
// clock runs and stops, WASM works in the page, links toggle, file errors show, and a fixed number
// of steps gives the same pixels every run (virtual time only; no wall-clock text on screen).
import { expect, test, type Page } from '@playwright/test';

/** Steps from time 0 of seed001-figure2 to the moment both first ping replies are back at h-a. */
const SCREENSHOT_STEPS = 25;

async function openReady(page: Page, path = '/'): Promise<void> {
  await page.goto(path);
  const toolbar = page.getByTestId('toolbar');
  await expect(toolbar).toHaveAttribute('data-phase', 'ready', { timeout: 30_000 });
  await expect(toolbar).toHaveAttribute('data-busy', 'false');
  await expect(page.getByTestId('dataplane-status')).toHaveText('data plane: WASM checksum self-test ok');
}

test('loads the default topology, plays and pauses virtual time', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await openReady(page);

  await expect(page.getByTestId('topology-name')).toContainText('Seed 001 Figure 2');
  await expect(page.getByTestId('mode')).toHaveValue('group');
  await expect(page.getByTestId('lab-status')).toHaveText('Ready');
  const clock = page.getByTestId('clock');
  await expect(clock).toHaveText('t = 0.000000 s');

  await page.getByRole('button', { name: 'Play' }).click();
  await expect(page.getByTestId('lab-status')).toHaveText('Running');
  await expect(clock).not.toHaveText('t = 0.000000 s');
  await expect(clock).toHaveText(/^t = \d+\.\d{6} s$/);

  await page.getByRole('button', { name: 'Pause' }).click();
  await expect(page.getByTestId('toolbar')).toHaveAttribute('data-busy', 'false');
  await expect(page.getByTestId('lab-status')).toHaveText('Paused');
  const stopped = await clock.textContent();
  await page.waitForTimeout(600);
  await expect(clock).toHaveText(stopped ?? '');
  await expect(page.getByRole('button', { name: 'Play' })).toBeEnabled();
  await expect(page.getByRole('button', { name: 'Pause' })).toBeDisabled();

  await page.getByRole('button', { name: 'Reset' }).click();
  await expect(page.getByTestId('toolbar')).toHaveAttribute('data-busy', 'false');
  await expect(page.getByTestId('toolbar')).toHaveAttribute('data-phase', 'ready');
  await expect(page.getByTestId('lab-status')).toHaveText('Ready');
  await expect(clock).toHaveText('t = 0.000000 s');
  expect(errors).toEqual([]);
});

test('a link goes down from its form and comes back up with Alt+click', async ({ page }) => {
  await openReady(page);
  const link = page.getByTestId('link-ce-a--pe1');
  await expect(link).toHaveAttribute('data-up', 'true');
  await link.click();
  await page.getByTestId('link-toggle').click();
  await expect(link).toHaveAttribute('data-up', 'false');
  await expect(link).toHaveAccessibleName('Link ce-a--pe1, down');
  await expect(page.getByTestId('toolbar')).toHaveAttribute('data-busy', 'false');
  await link.click({ modifiers: ['Alt'] });
  await expect(link).toHaveAttribute('data-up', 'true');
});

test('shows the errors of a topology file that does not load', async ({ page }) => {
  await page.route('**/topologies/broken.yaml', (route) =>
    route.fulfill({ contentType: 'text/yaml', body: 'name: broken\nnodes:\n  - { id: a, role: router }\n' }),
  );
  await page.goto('/?topology=broken.yaml');
  const panel = page.getByTestId('topology-errors');
  await expect(panel).toBeVisible();
  await expect(panel).toContainText('broken.yaml did not load');
  await expect(panel).toContainText('nodes[0].role');
  await expect(page.getByTestId('lab-status')).toHaveText('Topology has errors');
});

test('says so when the data-plane WASM module does not load', async ({ page }) => {
  await page.route('**/*.wasm', (route) => route.fulfill({ status: 404, body: 'not here' }));
  await page.goto('/');
  const status = page.getByTestId('dataplane-status');
  await expect(status).toContainText('data plane: WASM checksum self-test failed: ');
  await expect(status).toContainText('HTTP 404');
});

test('looks the same after a fixed number of steps', async ({ page }) => {
  await openReady(page);
  await page.reload();
  await openReady(page);
  const toolbar = page.getByTestId('toolbar');
  const step = page.getByTestId('step');
  for (let i = 0; i < SCREENSHOT_STEPS; i++) {
    await step.click();
    await expect(toolbar).toHaveAttribute('data-busy', 'false');
  }
  await expect(page.getByTestId('lab-status')).toHaveText('Paused');
  // No hover or focus ring on the last button pressed.
  await page.mouse.move(0, 0);
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await expect(page).toHaveScreenshot('lab-after-steps.png', { animations: 'disabled', caret: 'hide' });
});
