// The editor, the labs and the time controls in Debian's chromium (the 1000-site canvas: perf.spec.ts).
import { expect, test, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

async function ready(page: Page): Promise<void> {
  const toolbar = page.getByTestId('toolbar');
  await expect(toolbar).toHaveAttribute('data-phase', 'ready', { timeout: 30_000 });
  await expect(toolbar).toHaveAttribute('data-busy', 'false', { timeout: 30_000 }); // step back starts a fresh lab of workers
}

test('editor: a three-site topology from nothing, a field error, undo, save and reload', async ({ page }) => {
  await page.goto('/');
  await ready(page);
  await page.getByTestId('example').selectOption('__new');
  await ready(page);
  await expect(page.getByTestId('node-h1')).toBeVisible();
  // Three sites: a host and a CE each, all CEs on one PE.
  await page.getByTestId('add-pe').click();
  for (let i = 0; i < 3; i++) await page.getByTestId('add-ce').click();
  await page.getByTestId('add-host').click();
  await page.getByTestId('add-host').click();
  await ready(page);
  await page.getByTestId('tool-connect').click();
  for (const [a, b] of [['ce1', 'pe1'], ['ce2', 'pe1'], ['ce3', 'pe1'], ['h1', 'ce1'], ['h2', 'ce2'], ['h3', 'ce3']]) {
    await page.getByTestId(`node-${a}`).click();
    await page.getByTestId(`node-${b}`).click();
    await expect(page.getByTestId(`link-${a}--${b}`)).toHaveCount(1);
  }
  await page.getByTestId('tool-connect').click();
  // A bad prefix is refused at its field, nothing changed.
  await page.getByTestId('node-ce1').click();
  await page.getByTestId('field-trustedSubnets').fill('10.1.0.0/33');
  await page.getByTestId('apply-node').click();
  await expect(page.getByTestId('error-trustedSubnets')).toContainText('prefix');
  await page.getByTestId('field-trustedSubnets').fill('10.1.0.0/24');
  await page.getByTestId('apply-node').click();
  await expect(page.getByTestId('error-trustedSubnets')).toHaveCount(0);
  // Undo the last link, redo it.
  await page.getByTestId('undo').click();
  await page.getByTestId('undo').click();
  await expect(page.getByTestId('link-h3--ce3')).toHaveCount(0);
  await page.getByTestId('redo').click();
  await expect(page.getByTestId('link-h3--ce3')).toHaveCount(1);
  // Save, then load the saved file back.
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('save').click()]);
  const saved = readFileSync((await dl.path())!, 'utf8');
  expect(saved).toContain('ce3');
  expect(saved).toContain('endpoints');
  await page.reload();
  await ready(page);
  await page.getByTestId('open-file').setInputFiles({ name: 'three.yaml', mimeType: 'text/yaml', buffer: Buffer.from(saved) });
  await ready(page);
  await expect(page.getByTestId('link-h3--ce3')).toHaveCount(1);
  await expect(page.getByTestId('facts')).toContainText('7 nodes · 6 links');
});

test('time: step, step back to the exact previous event, share URL round trip', async ({ page }) => {
  await page.goto('/?runtime=workers');
  await ready(page);
  const clock = page.getByTestId('clock');
  const times: string[] = [];
  for (let i = 0; i < 6; i++) {
    await page.getByTestId('step').click();
    await ready(page);
    times.push((await clock.textContent())!);
  }
  const events = (await page.getByTestId('events').textContent())!;
  await page.getByTestId('step-back').click();
  await ready(page);
  await expect(clock).toHaveText(times[4]!);
  await page.getByTestId('step').click();
  await ready(page);
  await expect(clock).toHaveText(times[5]!);
  await expect(page.getByTestId('events')).toHaveText(events);
  await page.getByTestId('speed').selectOption('0');
  await page.getByTestId('share').click();
  await expect(page).toHaveURL(/#t=/);
  const url = page.url();
  await page.goto('about:blank');
  await page.goto(url);
  await ready(page);
  await expect(page.getByTestId('topology-name')).toContainText('Seed 001 Figure 2');
});

test('lab: tasks start unticked, tick as the trainee fixes the CE, and vpnlab check agrees', async ({ page }) => {
  test.setTimeout(120_000);
  await page.goto('/?lab=unprotected-host.yaml');
  await ready(page);
  await expect(page.getByTestId('lab-panel')).toBeVisible();
  for (const n of [1, 2, 3]) await expect(page.getByTestId(`task-${n}`)).toHaveAttribute('data-pass', 'false');
  await page.getByTestId('speed').selectOption('0');
  // The fix: give ce-d its trusted subnet.
  await page.getByTestId('node-ce-d').click();
  await page.getByTestId('field-trustedSubnets').fill('10.4.0.0/24');
  await page.getByTestId('apply-node').click();
  await ready(page);
  await page.getByTestId('play').click();
  await expect(page.getByTestId('task-1')).toHaveAttribute('data-pass', 'true', { timeout: 60_000 });
  await expect(page.getByTestId('task-2')).toHaveAttribute('data-pass', 'true', { timeout: 60_000 });
  await expect(page.getByTestId('task-3')).toHaveAttribute('data-pass', 'true', { timeout: 60_000 });
  await page.getByTestId('pause').click();
  await ready(page);
  const page3 = await Promise.all([1, 2, 3].map((n) => page.getByTestId(`task-${n}`).getAttribute('data-pass')));
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('lab-export').click()]);
  const dir = mkdtempSync(join(tmpdir(), 'vpnlab-e2e-'));
  const file = join(dir, 'lab.yaml');
  writeFileSync(file, readFileSync((await dl.path())!));
  const json = join(dir, 'r.json');
  let code = 0;
  try {
    execFileSync('node', ['src/cli/bin.js', 'check', file, '--json', json], { stdio: 'pipe' });
  } catch (e) {
    code = (e as { status: number }).status;
  }
  const res = JSON.parse(readFileSync(json, 'utf8')) as { tasks: { pass: boolean }[] };
  expect(res.tasks.map((t) => String(t.pass))).toEqual(page3);
  expect(code).toBe(page3.every((p) => p === 'true') ? 0 : 1);
});
