import { describe, expect, it } from 'vitest';
import { createLab } from '../../src/runtime/node.ts';
import type { Lab } from '../../src/runtime/lab.ts';
import { chainTopology } from '../sim/fixtures/chain.ts';
import type { Topology } from '../../src/sim/topology/types.ts';

async function record(topology: Topology, runtime: 'single' | 'workers', maxWorkers?: number) {
  const lab: Lab = await createLab(topology, { runtime, trace: true, ...(maxWorkers ? { maxWorkers } : {}) });
  try {
    await lab.runUntil(1_000_000);
    await lab.setLinkUp(1, false);
    await lab.runUntil(2_500_000);
    await lab.setLinkUp(1, true);
    await lab.command(0, { kind: 'interface-up', ifIndex: 0, up: true });
    await lab.runUntil(6_000_000);
    const pcaps = await Promise.all(topology.links.map((l) => lab.pcap(l.index)));
    return { trace: await lab.trace(), pcaps, snapshot: await lab.snapshot(), now: lab.nowUs };
  } finally {
    await lab.close();
  }
}

describe('single-thread kernel and worker runtime', () => {
  const topology = chainTopology({ routers: 3, loss: 0.05, jitterUs: 300, seed: 11 });

  it('give the same trace, byte-identical pcaps and equal snapshots (one worker per node)', async () => {
    const single = await record(topology, 'single');
    const workers = await record(topology, 'workers');
    expect(single.trace.length).toBeGreaterThan(500);
    expect(workers.trace).toEqual(single.trace);
    expect(workers.pcaps).toEqual(single.pcaps);
    expect(workers.snapshot).toEqual(single.snapshot);
    expect(workers.now).toBe(6_000_000);
  });

  it('give the same results when nodes are sharded over fewer workers', async () => {
    const single = await record(topology, 'single');
    const sharded = await record(topology, 'workers', 2);
    expect(sharded.trace).toEqual(single.trace);
    expect(sharded.pcaps).toEqual(single.pcaps);
  });

  it('step to the next event agrees', async () => {
    const a = await createLab(topology, { runtime: 'single' });
    const b = await createLab(topology, { runtime: 'workers' });
    try {
      for (let i = 0; i < 20; i++) expect(await b.step()).toBe(await a.step());
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('worker runtime failures', () => {
  it('a worker that dies fails the call instead of hanging', async () => {
    const { WorkerLab } = await import('../../src/runtime/worker-lab.ts');
    const { startTsWorker } = await import('../../src/runtime/node-worker.ts');
    const nodeEndpoint = (await import('comlink/dist/esm/node-adapter.mjs')).default;
    const create = WorkerLab.create(chainTopology({ routers: 1 }), {
      spawn: () => {
        const w = startTsWorker(new URL('./fixtures/no-such-worker.ts', import.meta.url));
        return { endpoint: nodeEndpoint(w), terminate: () => w.terminate(), onError: (cb) => w.on('error', (e) => cb(e as Error)) };
      },
    });
    await expect(create).rejects.toThrow(/worker \d died/);
  });
});

describe('with BGP over TCP in the nodes', () => {
  it('single-thread and workers give the same trace and pcaps for the seed 002 example', async () => {
    const { readFileSync } = await import('node:fs');
    const { loadTopology } = await import('../../src/sim/topology/load.ts');
    const r = loadTopology(readFileSync('public/topologies/seed002-figure1.yaml', 'utf8'));
    if (!r.ok) throw new Error('example does not load');
    const run = async (runtime: 'single' | 'workers') => {
      const lab = await createLab(r.topology, { runtime, trace: true, maxWorkers: 4 });
      try {
        await lab.runUntil(20_000_000);
        return { trace: await lab.trace(), pcaps: await Promise.all(r.topology.links.map((l) => lab.pcap(l.index))) };
      } finally {
        await lab.close();
      }
    };
    const a = await run('single');
    const b = await run('workers');
    expect(a.trace.some((l) => l.includes('Established'))).toBe(true);
    expect(b.trace).toEqual(a.trace);
    expect(b.pcaps).toEqual(a.pcaps);
  });
});
