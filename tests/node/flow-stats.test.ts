import { describe, expect, it } from 'vitest';
import { latencyBin, latencyBinUpperUs, LatencyHistogram, latencyPercentileUs, LATENCY_BINS } from '../../src/node/latency-histogram.ts';
import { loadTopology } from '../../src/sim/topology/load.ts';
import { Kernel } from '../../src/sim/kernel.ts';

describe('latency histogram', () => {
  it('bins are contiguous and each value lies within its bin', () => {
    for (let v = 0; v < 100_000; v += 7) {
      const b = latencyBin(v);
      expect(v).toBeLessThanOrEqual(latencyBinUpperUs(b));
      if (b > 0) expect(v).toBeGreaterThan(latencyBinUpperUs(b - 1));
    }
    expect(latencyBin(1e15)).toBe(LATENCY_BINS - 1);
  });

  it('percentiles stay within 1/8 octave of the exact ones', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 1000; i++) h.record(i * 100);
    const s = h.summary()!;
    for (const [q, exact] of [[0.5, 50_000], [0.9, 90_000], [0.99, 99_000]] as const) {
      const p = latencyPercentileUs(s, q);
      expect(p).toBeGreaterThanOrEqual(exact);
      expect(p).toBeLessThanOrEqual(exact * 1.13);
    }
    expect(latencyPercentileUs(s, 1)).toBe(100_000);
    expect(s.bins.length).toBeLessThan(100);
  });
});

describe('flow drop reasons', () => {
  it('a ping with no route at its source counts noRouteAtSource for each request', () => {
    const yaml = `
name: no route
nodes: [{ id: h-a, role: host }, { id: r, role: p }, { id: h-b, role: host }]
links:
  - { endpoints: [{ node: h-a, address: 10.1.0.10/24 }, { node: r, address: 10.1.0.1/24 }] }
  - { endpoints: [{ node: r, address: 10.2.0.1/24 }, { node: h-b, address: 10.2.0.10/24 }] }
traffic:
  - { kind: ping, from: h-a, to: 10.9.9.9, count: 3, interval: 100ms, start: 10ms }
  - { kind: ping, from: h-a, to: h-b, count: 2, interval: 100ms, start: 10ms }
`;
    const r = loadTopology(yaml);
    if (!r.ok) throw new Error('load');
    const k = new Kernel(r.topology);
    k.runUntil(1_000_000);
    const [lost, ok] = k.snapshot().flows;
    expect(lost!.sent).toBe(3);
    expect(lost!.drops).toEqual({ noRouteAtSource: 3 });
    expect(ok!.received).toBe(2);
    expect(ok!.drops).toBeUndefined();
    expect(ok!.latency!.count).toBe(2);
  });
});
