// `npm run bench [-- NAME…]`: measured numbers as JSON on stdout (a table on stderr). Speed targets
// are checked here, never in timed unit tests. Names: see the `all` table below.
import { Kernel } from '../../src/sim/kernel.ts';
import { chainTopology } from '../sim/fixtures/chain.ts';
import { checksumBench } from './checksum.ts';
import { best, markdownTables, type BenchRow as Row } from './util.ts';
import { loadDataplaneModuleNode } from '../../src/runtime/wasm.ts';
import { createLab } from '../../src/runtime/node.ts';
import { browserBench } from './browser.ts';
import { bgpCodecBench } from './bgp-codec.ts';
import { bgpReflectorBench } from './bgp-rr.ts';
import { lpmBench } from './dataplane-lpm.ts';
import { espBench } from './dataplane-esp.ts';
import { gkmBench } from './gkm.ts';
import { ikeBench } from './ike.ts';
import { scaleBench } from './scale.ts';
import { siteSizeBench } from './site-size.ts';


async function kernelBench(): Promise<Row[]> {
  const rows: Row[] = [];
  // 1 Gb/s of 1000-byte UDP over 6 hops for 1 s of virtual time: every frame is an event per hop.
  const topo = chainTopology({ routers: 5, traffic: 'udp', bandwidthBps: 10_000_000_000 });
  const flow = topo.traffic[0]!;
  if (flow.kind === 'udp') Object.assign(flow, { rateBps: 1_000_000_000, sizeBytes: 1000, durationUs: 1_000_000 });
  let events = 0;
  const secs = best(3, () => {
    const k = new Kernel(topo, { taps: [] });
    const t0 = performance.now();
    k.runUntil(1_500_000);
    const s = (performance.now() - t0) / 1000;
    events = k.snapshot().eventsProcessed;
    return s;
  });
  rows.push({ bench: 'kernel', case: 'single-thread, 6 hops, 1 Gb/s UDP x 1 s', events, wallS: +secs.toFixed(3), eventsPerS: Math.round(events / secs) });
  const lab = await createLab(topo, { runtime: 'workers', taps: [] });
  const t0 = performance.now();
  await lab.runUntil(1_500_000);
  const s = (performance.now() - t0) / 1000;
  const ev = (await lab.snapshot()).eventsProcessed;
  await lab.close();
  rows.push({ bench: 'kernel', case: `workers (one per node, ${topo.nodes.length}), same run`, events: ev, wallS: +s.toFixed(3), eventsPerS: Math.round(ev / s) });
  return rows;
}

const all: Record<string, () => Promise<Row[]>> = {
  kernel: kernelBench,
  checksum: async () => checksumBench(await loadDataplaneModuleNode()),
  'bgp-codec': bgpCodecBench,
  'bgp-rr': () => bgpReflectorBench(),
  bgp: async () => [...(await bgpCodecBench()), ...(await bgpReflectorBench())],
  lpm: lpmBench,
  esp: () => espBench(),
  gkm: gkmBench,
  ike: () => ikeBench(),
  security: async () => [...(await ikeBench()), ...(await gkmBench())],
  dataplane: async () => [...(await espBench()), ...(await lpmBench())],
  site: async () => siteSizeBench(),
  // Issue 6's 1000-site group target (SCALE_SITES=N for another size); about half a minute.
  scale: () => scaleBench(),
  // The same suites in Debian's chromium, from the bench page (src/ui/bench.html).
  'browser:checksum': () => browserBench(['checksum']),
  'browser:lpm': () => browserBench(['lpm']),
  'browser:esp': () => browserBench(['esp']),
  'browser:dataplane': () => browserBench(['esp', 'lpm']),
};
const wanted = process.argv.slice(2).filter((a) => a !== '--');
const names = wanted.length ? wanted : Object.keys(all);
const results: Row[] = [];
for (const n of names) {
  const b = all[n];
  if (!b) {
    console.error(`unknown benchmark ${n}; have: ${Object.keys(all).join(', ')}`);
    process.exit(2);
  }
  results.push(...(await b()));
}
console.error(markdownTables(results));
console.log(JSON.stringify({ date: new Date().toISOString(), node: process.version, results }, null, 2));
