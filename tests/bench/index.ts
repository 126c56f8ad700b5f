// `npm run bench [-- NAME…]`: measured numbers as JSON on stdout (a table on stderr). Speed targets
// are checked here, never in timed unit tests. Benchmarks: kernel, checksum.
import { Kernel } from '../../src/sim/kernel.ts';
import { chainTopology } from '../sim/fixtures/chain.ts';
import { TsChecksumEngine, createWasmChecksumEngine } from '../../src/dataplane/checksum.ts';
import { loadDataplaneModuleNode } from '../../src/runtime/wasm.ts';
import { createLab } from '../../src/runtime/node.ts';

type Row = Record<string, string | number>;

function best(runs: number, fn: () => number): number {
  let b = Infinity;
  for (let i = 0; i < runs; i++) b = Math.min(b, fn());
  return b;
}

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
  for (const runtime of ['workers'] as const) {
    const lab = await createLab(topo, { runtime, taps: [] });
    const t0 = performance.now();
    await lab.runUntil(1_500_000);
    const s = (performance.now() - t0) / 1000;
    const ev = (await lab.snapshot()).eventsProcessed;
    await lab.close();
    rows.push({ bench: 'kernel', case: `workers (one per node, 7), same run`, events: ev, wallS: +s.toFixed(3), eventsPerS: Math.round(ev / s) });
  }
  return rows;
}

async function checksumBench(): Promise<Row[]> {
  const wasm = await createWasmChecksumEngine(await loadDataplaneModuleNode());
  const ts = new TsChecksumEngine();
  const rows: Row[] = [];
  const batch = 4096;
  const headers = Array.from({ length: batch }, (_, i) => {
    const h = new Uint8Array(20);
    for (let j = 0; j < 20; j++) h[j] = (i * 31 + j * 7) & 0xff;
    h[0] = 0x45;
    return h;
  });
  for (const engine of [ts, wasm]) {
    const rounds = 200;
    const secs = best(3, () => {
      const t0 = performance.now();
      for (let r = 0; r < rounds; r++) engine.checksumBatch(headers);
      return (performance.now() - t0) / 1000;
    });
    rows.push({ bench: 'checksum', case: `${engine.name}, batches of ${batch} IPv4 headers`, headersPerS: Math.round((rounds * batch) / secs) });
  }
  return rows;
}

const all: Record<string, () => Promise<Row[]>> = { kernel: kernelBench, checksum: checksumBench };
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
for (const r of results) console.error(Object.entries(r).map(([k, v]) => `${k}=${v}`).join('  '));
console.log(JSON.stringify({ date: new Date().toISOString(), node: process.version, results }, null, 2));
