// Shared by trainee.spec.ts and seed002.spec.ts: the page's readiness, a run to an exact virtual time
// with the page's own Play and Pause (wall time under Playwright's clock), and the same topology run
// headless in Node on the kernel, where every number the specs expect comes from.
import { expect, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { Directions, mergeEvents, parseCapture, type CaptureEvent } from '../../src/sim/capture.ts';
import { Kernel } from '../../src/sim/kernel.ts';
import type { LabSnapshot } from '../../src/sim/snapshot.ts';
import { formatTopologyErrors, loadTopology } from '../../src/sim/topology/load.ts';
import type { Topology } from '../../src/sim/topology/types.ts';

export const FIG2 = 'public/topologies/seed001-figure2.yaml';
export const FIG1_002 = 'public/topologies/seed002-figure1.yaml';

/** One wall-clock animation frame under Playwright's clock, in ms. */
export const FRAME_MS = 16;

export async function ready(page: Page): Promise<void> {
  const toolbar = page.getByTestId('toolbar');
  await expect(toolbar).toHaveAttribute('data-phase', 'ready', { timeout: 30_000 });
  await expect(toolbar).toHaveAttribute('data-busy', 'false');
}

/** The page's clock text for a virtual time (Toolbar: formatClock). */
export function clockText(us: number): string {
  return `t = ${(us / 1e6).toFixed(6)} s`;
}

/** The virtual time the toolbar shows, in µs. */
export async function pageTimeUs(page: Page): Promise<number> {
  const m = /^t = (\d+)\.(\d{6}) s$/.exec((await page.getByTestId('clock').textContent()) ?? '');
  if (!m) throw new Error('no clock on the page');
  return Number(m[1]) * 1e6 + Number(m[2]);
}

/**
 * Plays the lab for `frames` animation frames of wall time at `speed` and pauses, with the page's
 * buttons. Playwright's clock must be installed and paused: each frame is one `runFor(FRAME_MS)`,
 * and the next one waits for the lab call it started, so the virtual time reached is exactly
 * (frames - 1) × FRAME_MS × speed ms (the first frame only notes the wall time).
 */
export async function playFrames(page: Page, speed: number, frames: number): Promise<number> {
  await page.getByTestId('speed').selectOption(String(speed));
  const start = await pageTimeUs(page);
  await page.getByTestId('play').click();
  for (let i = 0; i < frames; i++) {
    await page.clock.runFor(FRAME_MS);
    await expect(page.getByTestId('toolbar')).toHaveAttribute('data-busy', 'false');
  }
  await page.getByTestId('pause').click();
  await ready(page);
  const want = start + (frames - 1) * FRAME_MS * 1000 * speed;
  await expect(page.getByTestId('clock')).toHaveText(clockText(want));
  return want;
}

/** Opens the page with Playwright's clock installed; pauses wall time once the lab is ready. */
export async function openWithClock(page: Page, path = '/'): Promise<void> {
  await page.clock.install({ time: new Date('2026-01-01T00:00:00Z') });
  await page.goto(path);
  await ready(page);
  await page.clock.pauseAt(new Date('2026-01-01T01:00:00Z'));
}

export interface Headless {
  topology: Topology;
  kernel: Kernel;
  snapshot: LabSnapshot;
  index(id: string): number;
  /** Every frame the links captured so far, as the page's event list decodes them. */
  events(): CaptureEvent[];
}

/** The topology file run headless on the kernel to `untilUs` (what `vpnlab run` does). */
export function headless(file: string, untilUs: number): Headless {
  const r = loadTopology(readFileSync(file, 'utf8'));
  if (!r.ok) throw new Error(formatTopologyErrors(r.errors));
  const topology = r.topology;
  const kernel = new Kernel(topology);
  kernel.runUntil(untilUs);
  const directions = new Directions(topology);
  return {
    topology,
    kernel,
    snapshot: kernel.snapshot(),
    index: (id) => topology.nodes.findIndex((n) => n.id === id),
    events: () => mergeEvents(topology.links.map((l) => parseCapture(topology, l.index, kernel.pcap(l.index), { limit: 1_000_000, directions }).events)),
  };
}

type Rec = Record<string, unknown>;
export const rec = (v: unknown): Rec => (typeof v === 'object' && v !== null ? (v as Rec) : {});
export const recs = (v: unknown): Rec[] => (Array.isArray(v) ? v.map(rec) : []);

/** Types into the xterm of the workbench console and presses Enter, as a person does. */
export async function typeInConsole(page: Page, line: string): Promise<void> {
  await page.getByTestId('console').locator('.xterm').click();
  await page.keyboard.type(line);
  await page.keyboard.press('Enter');
}

/** Chooses the workbench's node (Inspector and Console tabs). */
export async function pickNode(page: Page, id: string): Promise<void> {
  await page.getByTestId('workbench-node').selectOption(id);
}

/** No hover or focus ring left by the last click, for screenshots. */
export async function calm(page: Page): Promise<void> {
  await page.mouse.move(0, 0);
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
}
