// A trainee's path through seed 001 Figure 2 (group mode), then the main views at fixed virtual
// times against committed baselines. Every number expected comes from the same file run headless on
// the kernel (support.ts), not from literals.
import { expect, test, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { formatIpv4 } from '../../src/lib/addr.ts';
import { filterEvents } from '../../src/sim/capture.ts';
import { formatCount } from '../../src/ui/format.ts';
import { calm, clockText, FIG2, headless, openWithClock, pageTimeUs, pickNode, playFrames, ready, rec, recs, typeInConsole } from './support.ts';

/** Long after the seed's flows end (last ping at 6 s, UDP 3-6 s): the group is settled. */
const SETTLED_US = 8_000_000;

test('trainee: registration, reflection, a ping across, ESP on the backbone, the GSA, the pcap', async ({ page }) => {
  test.setTimeout(120_000);
  const h = headless(FIG2, SETTLED_US);
  const later = headless(FIG2, 2 * SETTLED_US);
  const sr = rec(h.snapshot.nodes[h.index('sr')]!.apps);
  const gcks = rec(sr.gcks);
  const registered = recs(gcks.registrationTable);
  const group = h.topology.groups[0]!;
  // The run is settled: registrations, sessions, routes and flows no longer change after SETTLED_US.
  expect(rec(later.snapshot.nodes[h.index('sr')]!.apps).gcks).toEqual(gcks);
  expect(later.snapshot.flows).toEqual(h.snapshot.flows);
  expect(registered.map((r) => r.member).sort()).toEqual([...group.members].sort());

  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  await ready(page);
  await expect(page.getByTestId('topology-name')).toContainText('Seed 001 Figure 2');
  await expect(page.getByTestId('mode')).toHaveValue('group');

  // Play, and watch the S/R in the inspector while time runs.
  await page.getByTestId('speed').selectOption('10');
  await page.getByTestId('play').click();
  await page.getByTestId('tab-inspector').click();
  await pickNode(page, 'sr');
  const inspector = page.getByTestId('inspector');
  await expect(inspector).toHaveAccessibleName('inspector of sr');
  const gcksView = page.getByTestId('inspector-app-gcks');
  await expect(gcksView).toContainText(`members: ${registered.length}`);
  for (const r of registered) {
    await expect(gcksView).toContainText(`member: ${String(r.member)}`);
    await expect(gcksView).toContainText(`addr: ${String(r.addr)}`);
  }
  for (const n of recs(rec(sr.bgp).neighbors)) {
    expect(n.state).toBe('Established');
    await expect(page.getByTestId(`bgp-session-${String(n.name)}`).locator('td').nth(3)).toHaveText('Established');
  }
  // Reflected routes at CE 22 (ce-a): each other site's subnet, next hop its CE's tunnel address.
  await pickNode(page, 'ce-a');
  const locRib = recs(rec(rec(rec(rec(h.snapshot.nodes[h.index('ce-a')]!.apps).bgp).rib).locRib)['ipv4-unicast']);
  const reflected = locRib.filter((r) => r.from === group.sr);
  expect(reflected).toHaveLength(group.members.length - 1);
  const rib = page.getByTestId('loc-rib-ipv4-unicast');
  for (const r of reflected) {
    await expect(rib.locator('tr', { hasText: String(r.nlri) })).toContainText(String(r.nextHop));
  }

  // Station 23 (site 1) pings station 21 (site 3) from its console while the lab runs.
  const hc = h.topology.links.flatMap((l) => [l.a, l.b]).find((e) => h.topology.nodes[e.nodeIndex]!.id === 'h-c')!;
  const hcAddr = formatIpv4(hc.addr);
  await page.getByTestId('tab-console').click();
  await pickNode(page, 'h-a');
  await typeInConsole(page, `ping ${hcAddr} count 3`);
  const out = page.getByTestId('console-output');
  await expect(out).toContainText(`PING ${hcAddr} from `);
  await expect(out).toContainText(`3 packets transmitted, 3 received, 0% packet loss`, { timeout: 30_000 });
  for (const seq of [1, 2, 3]) await expect(out).toContainText(new RegExp(`bytes from ${hcAddr.replace(/\./g, '\\.')}: icmp_seq=${seq} `));

  // The configured flows delivered what the headless run delivers (table: # kind from to sent received lost).
  for (const f of h.snapshot.flows) {
    const row = page.getByTestId(`flow-row-${f.index}`);
    await expect(row.locator('td').nth(5), `flow ${f.index} received`).toHaveText(formatCount(f.received), { timeout: 30_000 });
  }
  await expect.poll(() => pageTimeUs(page), { timeout: 30_000 }).toBeGreaterThanOrEqual(SETTLED_US);
  await page.getByTestId('pause').click();
  await ready(page);

  // The backbone tap on PE 25 – P: only ESP and the G-IKEv2 key exchange, no ICMP, no BGP.
  await page.getByTestId('tab-tap').click();
  await page.getByTestId('tap-link').selectOption({ label: 'pe1--p1' });
  await page.getByTestId('tap-refresh').click();
  await ready(page);
  const rows = page.getByTestId('tap-row');
  await expect(page.locator('[data-testid=tap-row][data-kind=ESP]').first()).toBeVisible();
  const kinds = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-kind')));
  // The newest rows: the settled backbone carries ESP only (BGP keepalives and traffic inside it).
  expect(new Set(kinds)).toEqual(new Set(['ESP']));
  await expect(page.locator('[data-testid=tap-row][data-kind=ICMP]')).toHaveCount(0);
  await expect(page.locator('[data-testid=tap-row][data-kind=ESP]').first().locator('td').nth(4)).toHaveText('ESP (encrypted)');
  const stats = (await page.getByTestId('tap-stats').textContent())!;
  const m = /^(\d+) packets: (\d+) ESP \(encrypted\), (\d+) readable by the provider$/.exec(stats);
  expect(m, stats).not.toBeNull();
  const tapPackets = Number(m![1]);
  // What the provider can read on that link is the G-IKEv2 exchanges, as many as the headless run has.
  const onLink = (x: typeof h) => x.events().filter((e) => e.linkId === 'pe1--p1' && e.kind !== 'ESP');
  expect(onLink(later).length).toBe(onLink(h).length);
  expect(new Set(onLink(h).map((e) => e.kind))).toEqual(new Set(['G-IKEv2']));
  expect(Number(m![3])).toBe(onLink(h).length);

  // The GSA as a member holds it: CE 22's console; the TEK it sends on is the S/R's current one.
  // The SA table has a row per group (FIG. 3 SA table 32): this file's one group.
  const current = recs(recs(gcks.saTable).find((g) => g.group === group.groupId)?.teks).filter((t) => t.retiring === false).map((t) => String(t.spi));
  expect(current).toHaveLength(1);
  await page.getByTestId('tab-console').click();
  await pickNode(page, 'ce-a');
  await typeInConsole(page, 'show crypto gsa');
  await expect(out).toContainText(`Group ${group.groupId} (${group.name}), GCKS ${group.sr}, ${group.members.length} members`);
  await expect(out).toContainText('Group member (G-IKEv2)');
  await expect(out).toContainText('state: registered');
  await expect(out).toContainText(`outboundSpi: ${current[0]}`);
  await expect(out).not.toContainText('% ');

  // Download the capture of that link from its form and check it is a pcap tshark reads cleanly.
  // pe1--p1 is drawn horizontal: its <g> has a zero-height box, which Playwright calls invisible;
  // a click at its centre lands on the wire's hit line as a mouse does.
  await page.getByTestId('topology').scrollIntoViewIfNeeded();
  await page.getByTestId('link-pe1--p1').click({ force: true });
  await expect(page.getByTestId('link-form')).toBeVisible();
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-pcap').click()]);
  expect(dl.suggestedFilename()).toBe('pe1--p1.pcap');
  const file = (await dl.path())!;
  const records = readPcap(readFileSync(file));
  expect(records.length).toBe(tapPackets);
  for (const r of records) expect(r.data[0]! >> 4, 'IPv4').toBe(4);
  const fields = execFileSync('/usr/bin/tshark', ['-r', file, '-d', 'udp.port==848,isakmp', '-T', 'fields', '-e', 'frame.protocols', '-e', '_ws.malformed', '-e', '_ws.expert.severity'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = fields.trimEnd().split('\n');
  expect(lines).toHaveLength(records.length);
  for (const l of lines) {
    expect(l, 'no malformed packet').not.toMatch(/malformed/i);
    expect(l.split('\t')[0]).toMatch(/^raw:ip:(esp|udp:isakmp)$/);
  }
  expect(lines.filter((l) => !l.startsWith('raw:ip:esp')).length).toBe(onLink(h).length);
  expect(errors).toEqual([]);
});

interface PcapRecord {
  tsSec: number;
  tsFrac: number;
  data: Uint8Array;
}

/** libpcap format, read here independently of the project's own reader. */
function readPcap(buf: Buffer): PcapRecord[] {
  expect(buf.length).toBeGreaterThanOrEqual(24);
  const magic = buf.readUInt32LE(0);
  expect([0xa1b2c3d4, 0xa1b23c4d]).toContain(magic);
  expect(buf.readUInt16LE(4)).toBe(2);
  expect(buf.readUInt16LE(6)).toBe(4);
  const snaplen = buf.readUInt32LE(16);
  expect(buf.readUInt32LE(20)).toBe(101); // LINKTYPE_RAW: IP packets
  const out: PcapRecord[] = [];
  let off = 24;
  let last = -1;
  while (off < buf.length) {
    expect(buf.length - off).toBeGreaterThanOrEqual(16);
    const tsSec = buf.readUInt32LE(off);
    const tsFrac = buf.readUInt32LE(off + 4);
    const incl = buf.readUInt32LE(off + 8);
    const orig = buf.readUInt32LE(off + 12);
    expect(incl).toBeLessThanOrEqual(Math.min(orig, snaplen));
    expect(off + 16 + incl).toBeLessThanOrEqual(buf.length);
    const t = tsSec * 1e9 + tsFrac;
    expect(t).toBeGreaterThanOrEqual(last);
    last = t;
    out.push({ tsSec, tsFrac, data: buf.subarray(off + 16, off + 16 + incl) });
    off += 16 + incl;
  }
  return out;
}

// --- The main views at fixed virtual times, against committed baselines ----------------------------

test.describe('views at fixed virtual times', () => {
  // Tall enough for the canvas, the flows and the workbench at once.
  test.use({ viewport: { width: 1280, height: 1400 } });
  const SHOT = { animations: 'disabled', caret: 'hide' } as const;

  /** Seed 001 Figure 2 played to 4.8 s (×100, 3 frames that each owe 1.6 s): all registered, flows running. */
  async function at4800ms(page: Page): Promise<number> {
    await openWithClock(page);
    const t = await playFrames(page, 100, 4);
    expect(t).toBe(4_800_000);
    await expect(page.getByTestId('clock')).toHaveText(clockText(t));
    return t;
  }

  test('topology view with the S/R inspector open', async ({ page }) => {
    const t = await at4800ms(page);
    const h = headless(FIG2, t);
    await page.getByTestId('tab-inspector').click();
    await pickNode(page, 'sr');
    await expect(page.getByTestId('inspector-app-gcks')).toContainText(`members: ${String(rec(rec(h.snapshot.nodes[h.index('sr')]!.apps).gcks).members)}`);
    await calm(page);
    await expect(page).toHaveScreenshot('topology-sr-inspector.png', SHOT);
  });

  test('console after show crypto gsa', async ({ page }) => {
    await at4800ms(page);
    await page.getByTestId('tab-console').click();
    await pickNode(page, 'ce-a');
    await typeInConsole(page, 'show crypto gsa');
    await expect(page.getByTestId('console-output')).toContainText('state: registered');
    await calm(page);
    await page.clock.runFor(100); // xterm paints on animation frames
    await expect(page.getByTestId('workbench')).toHaveScreenshot('console-show-crypto-gsa.png', SHOT);
  });

  test('event list with a packet tree open', async ({ page }) => {
    const t = await at4800ms(page);
    const h = headless(FIG2, t);
    await page.getByTestId('tab-events').click();
    await page.getByTestId('kind-G-IKEv2').check();
    const want = filterEvents(h.events(), h.topology, { kinds: new Set(['G-IKEv2']) });
    await expect(page.getByTestId('events-refresh')).toBeEnabled();
    await expect(page.getByTestId('event-count')).toHaveText(`${want.length} events`);
    await page.getByTestId('event-row').first().click();
    await expect(page.getByTestId('packet-tree')).toBeVisible();
    await page.getByTestId('tree-node').nth(1).click();
    await page.getByTestId('packet-detail').scrollIntoViewIfNeeded();
    await expect(page.getByTestId('hex-view')).toBeVisible();
    await expect(page.getByTestId('packet-tree')).toBeInViewport();
    await calm(page);
    await expect(page.getByTestId('workbench')).toHaveScreenshot('event-list-packet-tree.png', SHOT);
  });

  test('backbone tap on pe1--p1', async ({ page }) => {
    const t = await at4800ms(page);
    const h = headless(FIG2, t);
    await page.getByTestId('tab-tap').click();
    await page.getByTestId('tap-link').selectOption({ label: 'pe1--p1' });
    const onLink = h.events().filter((e) => e.linkId === 'pe1--p1');
    await expect(page.getByTestId('tap-refresh')).toBeEnabled();
    await expect(page.getByTestId('tap-stats')).toHaveText(`${onLink.length} packets: ${onLink.filter((e) => e.kind === 'ESP').length} ESP (encrypted), ${onLink.filter((e) => e.kind !== 'ESP').length} readable by the provider`);
    await calm(page);
    await expect(page.getByTestId('workbench')).toHaveScreenshot('backbone-tap.png', SHOT);
  });

  test('dark mode of the main view', async ({ page }) => {
    await page.emulateMedia({ colorScheme: 'dark' });
    await at4800ms(page);
    await calm(page);
    await expect(page).toHaveScreenshot('main-dark.png', SHOT);
  });
});
