// Keeps the README true: its topology example loads and runs, its error example is what we print.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { loadTopology, formatTopologyErrors } from '../src/sim/topology/load.ts';
import { Kernel } from '../src/sim/kernel.ts';

const readme = readFileSync('README.md', 'utf8');
const blocks = [...readme.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1], text: m[2]! }));

describe('README', () => {
  it('its topology example loads and every flow gets through', () => {
    const yaml = blocks.find((b) => b.lang === 'yaml');
    expect(yaml).toBeDefined();
    const r = loadTopology(yaml!.text);
    if (!r.ok) throw new Error(formatTopologyErrors(r.errors));
    const k = new Kernel(r.topology);
    k.runUntil(10_000_000);
    const flows = k.snapshot().flows;
    expect(flows.length).toBe(2);
    expect(flows[0]).toMatchObject({ kind: 'ping', sent: 5, received: 5 });
    expect(flows[1]!.received).toBeGreaterThan(0.9 * flows[1]!.sent);
  });

  it('its error example is what the loader says', () => {
    const shown = blocks.find((b) => b.text.startsWith('bad.yaml:'))!.text.trim().split('\n').slice(1);
    const r = loadTopology('name: broken\nmode: sideways\nnodes:\n  - { id: a, role: host }\n  - { id: b, role: router }\nlinks:\n  - { endpoints: [a, b], latency: fast }\n');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(formatTopologyErrors(r.errors).split('\n')).toEqual(shown);
  });
});
