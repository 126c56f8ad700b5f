// Frame rate of the topology canvas on a 1000-site generated topology (`vpnlab generate --sites
// 1000 --vpns 4 --mode group`: some 2000 nodes and links) in Debian's chromium: zoom with the wheel and pan by
// dragging the background, one input event per animation frame, timed in the page with
// requestAnimationFrame timestamps and PerformanceObserver('long-animation-frame'). Prints the
// figures, writes them to reports/perf.json, and fails below a floor set at about half of what
// this machine measured (2 shared cores, --disable-gpu), so a regression shows.
import { expect, test, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

/** Animation frames each gesture lasts (one input event per frame). */
const GESTURE_FRAMES = 120;
/** Each gesture is measured this many times and the best run counts (the machine is shared). */
const RUNS = 3;
/**
 * Floors (frames/s), about half of what the 2-core shared machine gave with --disable-gpu (best of
 * 3 at load average 9 to 15): zoom 55 to 59, pan 58 (the canvas before the view transform: 9.3
 * and 13.7, one run).
 */
const ZOOM_FPS_MIN = 30;
const PAN_FPS_MIN = 30;

interface Measure {
  /** Frames rendered while the gesture ran. */
  frames: number;
  ms: number;
  fps: number;
  /** Frame interval percentiles, ms. */
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  /** Animation frames over 50 ms the browser reported (PerformanceObserver 'long-animation-frame'). */
  longFrames: number;
  /** Time from the last input to the view at rest (the settled, re-rendered drawing), ms. */
  settleMs: number;
  /** Largest move on screen of a node's centre when the view settles (the live picture was right), px. */
  settleShiftPx: number;
  /** Times the drawing was re-rendered for the view during the gesture (should be none). */
  commitsDuring: number;
  /** Indexes of the frames over 50 ms. */
  slowFrames: number[];
}

const results: Record<string, Measure | number | number[] | string> = {};

async function ready(page: Page): Promise<void> {
  const toolbar = page.getByTestId('toolbar');
  await expect(toolbar).toHaveAttribute('data-phase', 'ready', { timeout: 60_000 });
  await expect(toolbar).toHaveAttribute('data-busy', 'false');
}

/**
 * Runs `GESTURE_FRAMES` frames, calling `input(i)` at the start of each, and times them.
 * The gesture is done in the page so that one input lands on every frame.
 */
async function measure(page: Page, gesture: 'zoom' | 'pan', at: { x: number; y: number }): Promise<Measure> {
  return page.evaluate(
    async ({ gesture, at, n }) => {
      const svg = document.querySelector('[data-testid=topology]') as SVGSVGElement;
      let longFrames = 0;
      const po = new PerformanceObserver((list) => (longFrames += list.getEntries().length));
      po.observe({ type: 'long-animation-frame' });
      const times: number[] = [];
      const frame = () => new Promise<number>((res) => requestAnimationFrame(res));
      await frame();
      const settled0 = Number(svg.getAttribute('data-settled'));
      for (let i = 0; i < n; i++) {
        if (gesture === 'zoom') {
          // In for two thirds, out for the last third.
          const deltaY = i < (2 * n) / 3 ? -15 : 15;
          svg.dispatchEvent(new WheelEvent('wheel', { deltaY, clientX: at.x, clientY: at.y, bubbles: true, cancelable: true }));
        } else {
          // A circle of 150 px around the point the drag started from (the pointer is captured).
          const a = (2 * Math.PI * (i + 1)) / n;
          const x = at.x + 150 * Math.sin(a);
          const y = at.y + 150 * (1 - Math.cos(a));
          svg.dispatchEvent(new PointerEvent('pointermove', { pointerId: 1, pointerType: 'mouse', isPrimary: true, buttons: 1, clientX: x, clientY: y, bubbles: true, cancelable: true }));
        }
        times.push(await frame());
      }
      const tEnd = performance.now();
      if (gesture === 'pan') svg.dispatchEvent(new PointerEvent('pointerup', { pointerId: 1, pointerType: 'mouse', isPrimary: true, clientX: at.x, clientY: at.y, bubbles: true }));
      const commitsDuring = Number(svg.getAttribute('data-settled')) - settled0;
      const slowFrames = times.flatMap((t, i) => (i > 0 && t - times[i - 1]! > 50 ? [i] : []));
      // Node centres on screen in the live (transformed) picture, then in the settled one.
      // CEs: a circle, centred on the node's position whatever the symbol's scale.
      const probes = [...document.querySelectorAll('[data-testid^=node-ce]')].filter((_, k) => k % 50 === 0);
      const centres = () =>
        probes.map((el) => {
          const b = el.querySelector('.shape')!.getBoundingClientRect();
          return { x: b.x + b.width / 2, y: b.y + b.height / 2 };
        });
      const live = centres();
      // At rest: the view re-renders once after the gesture; wait for it and two more frames.
      const before = svg.getAttribute('data-settled');
      while (svg.getAttribute('data-settled') === before && performance.now() - tEnd < 3000) await frame();
      await frame();
      const settleMs = performance.now() - tEnd;
      const settleShiftPx = Math.max(...centres().map((c, k) => Math.hypot(c.x - live[k]!.x, c.y - live[k]!.y)));
      await new Promise((res) => setTimeout(res, 100));
      po.disconnect();
      const gaps = times.slice(1).map((t, i) => t - times[i]!).sort((a, b) => a - b);
      const pct = (p: number) => gaps[Math.min(gaps.length - 1, Math.floor(p * gaps.length))]!;
      const ms = times[times.length - 1]! - times[0]!;
      return { frames: times.length - 1, ms, fps: (1000 * (times.length - 1)) / ms, p50Ms: pct(0.5), p95Ms: pct(0.95), maxMs: gaps[gaps.length - 1]!, longFrames, settleMs, settleShiftPx, commitsDuring, slowFrames };
    },
    { gesture, at, n: GESTURE_FRAMES },
  );
}

function show(name: string, m: Measure): void {
  console.log(
    `1000-site ${name}: ${m.frames} frames in ${m.ms.toFixed(0)} ms = ${m.fps.toFixed(1)} frames/s ` +
      `(frame p50 ${m.p50Ms.toFixed(1)} ms, p95 ${m.p95Ms.toFixed(1)} ms, max ${m.maxMs.toFixed(1)} ms, ` +
      `${m.longFrames} long animation frames; settled ${m.settleMs.toFixed(0)} ms after the last input, ` +
      `node centres moved ${m.settleShiftPx.toFixed(2)} px when it did; ${m.commitsDuring} re-renders during the gesture; ` +
      `frames over 50 ms: [${m.slowFrames.join(', ')}])`,
  );
}

test('a 1000-site generated topology pans and zooms near 60 frames/s', async ({ page }) => {
  test.setTimeout(180_000);
  const dir = mkdtempSync(join(tmpdir(), 'vpnlab-perf-'));
  const file = join(dir, 'thousand.yaml');
  // Group mode: every CE gets an ESP engine; past a few dozen WASM instances per thread the page hands
  // nodes the reference engine (src/runtime/dataplane.ts), so the 1000-site lab starts.
  const said = execFileSync('node', ['src/cli/bin.js', 'generate', '--sites', '1000', '--vpns', '4', '--mode', 'group', '--out', file], { encoding: 'utf8' });
  const m = /(\d+) nodes, (\d+) links/.exec(said);
  expect(m, said).not.toBeNull();
  const [nodes, links] = [Number(m![1]), Number(m![2])];
  expect(nodes).toBeGreaterThan(2000);
  await page.goto('/?runtime=single');
  await ready(page);
  await page.getByTestId('open-file').setInputFiles({ name: 'thousand.yaml', mimeType: 'text/yaml', buffer: readFileSync(file) });
  await expect(page.getByTestId('facts')).toContainText(`${nodes} nodes`, { timeout: 120_000 });
  await ready(page);
  const svg = page.getByTestId('topology');
  await expect(page.locator('[data-testid=topology] .node')).toHaveCount(nodes);

  // Idle: what this machine's page gives with nothing happening (the ceiling).
  results.idleFps = await page.evaluate(async () => {
    const t0 = await new Promise<number>((r) => requestAnimationFrame(r));
    let t = t0;
    for (let i = 0; i < 60; i++) t = await new Promise<number>((r) => requestAnimationFrame(r));
    return (1000 * 60) / (t - t0);
  });

  // A background point (no node or link under it) near the centre, to zoom at and drag from.
  const at = await page.evaluate(() => {
    const svg = document.querySelector('[data-testid=topology]')!;
    const r = svg.getBoundingClientRect();
    let best: { x: number; y: number; d: number } | undefined;
    for (let x = r.left + 10; x < r.right - 10; x += 6) {
      for (let y = r.top + 10; y < r.bottom - 10; y += 6) {
        const d = Math.hypot(x - (r.left + r.width / 2), y - (r.top + r.height / 2));
        if ((!best || d < best.d) && document.elementFromPoint(x, y) === svg) best = { x, y, d };
      }
    }
    if (!best) throw new Error('no background point in the drawing');
    return { x: best.x, y: best.y };
  });

  /** Back to the fitted view, drawn. */
  const resetView = async () => {
    await svg.focus();
    const settled = await svg.getAttribute('data-settled');
    await page.keyboard.press('0');
    await expect(svg).toHaveAttribute('data-zoom', '1.000');
    await expect(svg).not.toHaveAttribute('data-settled', settled!);
  };
  const best = (runs: Measure[]): Measure => runs.reduce((a, b) => (b.fps > a.fps ? b : a));

  const zoomRuns: Measure[] = [];
  for (let run = 0; run < RUNS; run++) {
    await resetView();
    await page.mouse.move(at.x, at.y);
    zoomRuns.push(await measure(page, 'zoom', at));
    show(`zoom (run ${run + 1})`, zoomRuns[run]!);
    await expect(svg).not.toHaveAttribute('data-zoom', '1.000');
  }
  const zoom = best(zoomRuns);

  const panRuns: Measure[] = [];
  for (let run = 0; run < RUNS; run++) {
    await resetView();
    const vb0 = await svg.getAttribute('viewBox');
    await page.mouse.move(at.x, at.y);
    await page.mouse.down();
    panRuns.push(await measure(page, 'pan', at));
    await page.mouse.up();
    show(`pan (run ${run + 1})`, panRuns[run]!);
    await expect(svg).not.toHaveAttribute('viewBox', vb0!);
  }
  const pan = best(panRuns);
  results.zoom = zoom;
  results.pan = pan;
  results.zoomRunsFps = zoomRuns.map((m) => m.fps);
  results.panRunsFps = panRuns.map((m) => m.fps);
  results.loadAverage1m = loadavg()[0]!;

  results.topology = `vpnlab generate --sites 1000 --vpns 4 --mode group (${nodes} nodes, ${links} links)`;
  mkdirSync('reports', { recursive: true });
  writeFileSync('reports/perf.json', JSON.stringify(results, null, 2) + '\n');
  console.log(
    `best of ${RUNS}: zoom ${zoom.fps.toFixed(1)}, pan ${pan.fps.toFixed(1)} frames/s; idle page ${(results.idleFps as number).toFixed(1)} frames/s; ` +
      `load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores; written to reports/perf.json`,
  );

  expect(zoom.fps).toBeGreaterThan(ZOOM_FPS_MIN);
  expect(pan.fps).toBeGreaterThan(PAN_FPS_MIN);
  // What was on screen while the view moved is where the settled drawing puts it, and the drawing
  // was not re-rendered while it moved.
  for (const m of [zoom, pan]) {
    expect(m.settleShiftPx).toBeLessThan(1);
    expect(m.commitsDuring).toBe(0);
  }
});
