// Seed 002's path: Figure 1 from the examples menu in gateway mode, CE 140-3's SPD filling with
// FIG. 3's four kinds of entry, traffic delivered, and the IKEv2 exchanges the traffic starts in
// the event list. The lab runs to exact virtual times with Play and Pause (support.ts), and every
// row and count expected is the same file's headless run at that time.
import { expect, test, type Page } from '@playwright/test';
import { spdRows } from '../../src/sim/console.ts';
import { filterEvents, formatTimeUs } from '../../src/sim/capture.ts';
import { formatIpv4 } from '../../src/lib/addr.ts';
import { formatCount } from '../../src/ui/format.ts';
import { FIG1_002, headless, openWithClock, pickNode, playFrames, rec } from './support.ts';

async function loadFigure1(page: Page): Promise<void> {
  await openWithClock(page);
  await page.getByTestId('example').selectOption({ label: 'Seed 002 · Figure 1' });
  await expect(page.getByTestId('topology-name')).toContainText('Seed 002 Figure 1');
  await expect(page.getByTestId('toolbar')).toHaveAttribute('data-phase', 'ready', { timeout: 30_000 });
  await expect(page.getByTestId('mode')).toHaveValue('gateway');
}

test('seed 002: CE 140-3 fills its SPD from BGP and policy; traffic starts IKEv2 on demand', async ({ page }) => {
  test.setTimeout(120_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await loadFigure1(page);

  // 0.8 s: BGP has brought every trusted subnet; no packet of the flows has left yet.
  const t1 = await playFrames(page, 10, 6);
  const h1 = headless(FIG1_002, t1);
  const want = spdRows(rec(h1.snapshot.nodes[h1.index('ce-c')]!.apps.ipsec).spd);
  const ends = h1.topology.links.flatMap((l) => [[l.a, l.b], [l.b, l.a]] as const);
  const role = (i: number) => h1.topology.nodes[i]!.role;
  const hz = ends.find(([e]) => e.node === 'h-z')![0];
  const ceb = ends.find(([e, o]) => e.node === 'ce-b' && role(o.nodeIndex) === 'pe')![0]; // CE 140-2's tunnel address
  // FIG. 3's four kinds, as the headless run has them at this time.
  const kinds = {
    host: want.filter((r) => r.action === 'protect' && r.origin === 'local' && r.gateway === formatIpv4(hz.addr)),
    bypass: want.filter((r) => r.action === 'bypass'),
    ce: want.filter((r) => r.action === 'protect' && r.origin === 'local' && r.gateway === formatIpv4(ceb.addr)),
    bgp: want.filter((r) => r.action === 'protect' && r.origin === 'bgp'),
  };
  for (const [k, rows] of Object.entries(kinds)) expect(rows.length, `headless ${k} entries`).toBeGreaterThan(0);
  expect(h1.snapshot.flows.every((f) => f.sent === 0)).toBe(true);

  await page.getByTestId('tab-inspector').click();
  await pickNode(page, 'ce-c');
  const spd = page.getByTestId('inspector-spd').locator('tbody tr');
  await expect(spd).toHaveCount(want.length);
  for (const [i, r] of want.entries()) {
    await expect(spd.nth(i).locator('td')).toHaveText([`#${i + 1}`, r.destination, r.source, r.action, r.gateway, r.establish, r.origin, r.name]);
  }

  // No IKE at CE 140-3 yet but what BGP announced as pre-established.
  await page.getByTestId('tab-events').click();
  await page.getByTestId('kind-IKE').check();
  await page.getByTestId('event-node').selectOption('ce-c');
  const ikeAt = (h: ReturnType<typeof headless>) => filterEvents(h.events(), h.topology, { kinds: new Set(['IKE']), node: 'ce-c' });
  await expect(page.getByTestId('event-count')).toHaveText(`${ikeAt(h1).length} events`);

  // Send traffic: play on to 5.6 s; the first packets towards each gateway start IKE_SA_INIT + IKE_AUTH.
  const t2 = await playFrames(page, 100, 4);
  const h2 = headless(FIG1_002, t2);
  const ike = ikeAt(h2);
  const firstFlowUs = Math.min(...h2.topology.traffic.map((f) => f.startUs));
  const onDemand = ike.filter((e) => e.tUs >= firstFlowUs);
  expect(onDemand.some((e) => e.summary.startsWith('IKE_SA_INIT'))).toBe(true);
  expect(onDemand.some((e) => e.summary.startsWith('IKE_AUTH'))).toBe(true);
  await expect(page.getByTestId('events-refresh')).toBeEnabled();
  await expect(page.getByTestId('event-count')).toHaveText(`${ike.length} events`);
  const rows = page.getByTestId('event-row');
  await expect(rows).toHaveCount(ike.length);
  for (const [i, e] of ike.entries()) {
    await expect(rows.nth(i)).toHaveAttribute('data-kind', 'IKE');
    await expect(rows.nth(i).locator('td')).toHaveText([formatTimeUs(e.tUs), e.linkId, `${e.from} → ${e.to}`, 'IKE', e.summary]);
  }
  await expect(rows.filter({ hasText: 'IKE_SA_INIT' }).first()).toBeVisible();
  await expect(rows.filter({ hasText: 'IKE_AUTH' }).first()).toBeVisible();
  // Open the first on-demand exchange: its layers decode as IKEv2.
  await rows.nth(ike.indexOf(onDemand[0]!)).click();
  await expect(page.getByTestId('packet-tree')).toContainText('IKE');

  // The flows deliver what the headless run delivers at 8.8 s.
  const t3 = await playFrames(page, 100, 3);
  const h3 = headless(FIG1_002, t3);
  for (const f of h3.snapshot.flows) {
    const cells = page.getByTestId(`flow-row-${f.index}`).locator('td');
    await expect(cells.nth(4), `flow ${f.index} sent`).toHaveText(formatCount(f.sent));
    await expect(cells.nth(5), `flow ${f.index} received`).toHaveText(formatCount(f.received));
    expect(f.received, `flow ${f.index} delivers`).toBeGreaterThan(0);
  }
  // CE 140-3 now holds an IKE SA with each gateway its traffic needed.
  await page.getByTestId('tab-inspector').click();
  const sas = (rec(h3.snapshot.nodes[h3.index('ce-c')]!.apps.ike).sas as { peer: string; state: string }[]);
  const ikeView = page.getByTestId('inspector-app-ike');
  for (const sa of sas) await expect(ikeView).toContainText(`peer: ${sa.peer}`);
  expect(errors).toEqual([]);
});
