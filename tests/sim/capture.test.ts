// The event list's capture parser: one event per pcap record, direction told from the addresses,
// kinds and filters; a damaged file is reported, not thrown.
import { describe, expect, it } from 'vitest';
import { decodePcap } from '../../src/sim/pcap.ts';
import { filterEvents, formatTimeUs, mergeEvents, parseCapture } from '../../src/sim/capture.ts';
import { linkIndex, meshRun } from './fixtures/mesh-run.ts';

describe('capture: the event list from the links\' pcaps (mesh run)', async () => {
  const run = await meshRun();
  const t = run.topology;

  it('one event per record with time, link and the direction the frame went', () => {
    const li = linkIndex(t, 'ce-a--pe1');
    const r = parseCapture(t, li, run.pcaps[li]!);
    expect(r.error).toBeUndefined();
    const records = decodePcap(run.pcaps[li]!).records;
    expect(r.events.length).toBe(records.length);
    expect(r.events.map((e) => e.tUs)).toEqual(records.map((x) => x.tUs));
    const fromCe = r.events.filter((e) => e.src === '172.16.1.1');
    expect(fromCe.length).toBeGreaterThan(0);
    for (const e of fromCe) expect([e.from, e.to]).toEqual(['ce-a', 'pe1']);
    for (const e of r.events.filter((e) => e.src === '172.16.1.2')) expect([e.from, e.to]).toEqual(['pe1', 'ce-a']);
    // Transit ESP on the core link: from ce-a's address, so it leaves pe1 towards p1.
    const ci = linkIndex(t, 'pe1--p1');
    const core = parseCapture(t, ci, run.pcaps[ci]!).events;
    const esp = core.filter((e) => e.kind === 'ESP' && e.src === '172.16.1.1');
    expect(esp.length).toBeGreaterThan(0);
    for (const e of esp) expect([e.from, e.to, e.preview]).toEqual(['pe1', 'p1', 'ESP (encrypted)']);
    expect(new Set(core.map((e) => e.kind))).toEqual(new Set(['TCP', 'BGP', 'ESP']));
  });

  it('limit keeps the newest frames; merge orders by time; filters by kind, node and link', () => {
    const li = linkIndex(t, 'pe1--p1');
    const all = parseCapture(t, li, run.pcaps[li]!);
    const last = parseCapture(t, li, run.pcaps[li]!, { limit: 5 });
    expect(last.skipped).toBe(all.events.length - 5);
    expect(last.events.map((e) => e.key)).toEqual(all.events.slice(-5).map((e) => e.key));
    const merged = mergeEvents(t.links.map((l) => parseCapture(t, l.index, run.pcaps[l.index]!).events));
    for (let i = 1; i < merged.length; i++) expect(merged[i]!.tUs).toBeGreaterThanOrEqual(merged[i - 1]!.tUs);
    const esp = filterEvents(merged, t, { kinds: new Set(['ESP']) });
    expect(esp.length).toBeGreaterThan(0);
    expect(esp.every((e) => e.kind === 'ESP')).toBe(true);
    const ceb = filterEvents(merged, t, { node: 'ce-b' });
    expect(ceb.length).toBeGreaterThan(0);
    expect(ceb.every((e) => e.linkId.split('--').includes('ce-b'))).toBe(true);
    expect(filterEvents(merged, t, { link: li }).length).toBe(all.events.length);
    expect(formatTimeUs(2_000_101)).toBe('2.000101');
  });

  it('a damaged or foreign file, or a bad link index, is reported', () => {
    const li = linkIndex(t, 'pe1--p1');
    expect(parseCapture(t, li, new Uint8Array(10)).error).toMatch(/not a nanosecond pcap/);
    const cut = run.pcaps[li]!.subarray(0, run.pcaps[li]!.length - 3);
    expect(parseCapture(t, li, cut).error).toMatch(/truncated record/);
    const other = Uint8Array.from(run.pcaps[li]!);
    other[20] = 1; // LINKTYPE_ETHERNET
    expect(parseCapture(t, li, other).error).toMatch(/link type 1/);
    expect(parseCapture(t, 99, run.pcaps[li]!).error).toMatch(/no link 99/);
  });
});
