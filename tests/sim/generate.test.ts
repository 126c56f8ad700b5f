import { describe, expect, it } from 'vitest';
import { generateTopology, layout, checkGenerateOptions, GenerateError, peCount } from '../../src/sim/generate.ts';
import { loadTopology, formatTopologyErrors } from '../../src/sim/topology/load.ts';
import { readFileSync } from 'node:fs';

describe('generate', () => {
  it('produces a topology the loader accepts, with N sites over a handful of PEs, RR, S/R, V VPNs and groups', () => {
    for (const [sites, vpns] of [[2, 1], [10, 2], [50, 3], [137, 5]] as const) {
      const text = generateTopology({ sites, vpns, mode: 'mesh', seed: 9 });
      const r = loadTopology(text);
      expect(r.ok, r.ok ? '' : formatTopologyErrors(r.errors)).toBe(true);
      if (!r.ok) return;
      const t = r.topology;
      expect(t.mode).toBe('mesh');
      expect(t.seed).toBe(9);
      expect(t.nodes.filter((n) => n.role === 'ce')).toHaveLength(sites);
      expect(t.nodes.filter((n) => n.role === 'host')).toHaveLength(sites);
      expect(t.nodes.filter((n) => n.role === 'pe' && !n.routeReflector)).toHaveLength(peCount(sites));
      expect(t.nodes.filter((n) => n.routeReflector)).toHaveLength(1);
      // One S/R device serves every group.
      expect(t.nodes.filter((n) => n.role === 'sr').map((n) => n.id)).toEqual(['sr']);
      expect(t.groups.map((g) => g.sr)).toEqual(Array(vpns).fill('sr'));
      expect(t.vpns).toHaveLength(vpns);
      expect(t.groups).toHaveLength(vpns);
      expect(t.vpns.reduce((s, v) => s + v.sites.length, 0)).toBe(sites);
      for (const n of t.nodes) expect(n.position, n.id).toBeDefined();
      // The ping joins the farthest pair: same VPN, different PEs.
      const ping = t.traffic.find((f) => f.kind === 'ping')!;
      const { farthest, peOf, vpnOf } = layout(sites, vpns);
      expect(ping.from).toBe(`h${farthest[0] + 1}`);
      expect(ping.toLabel).toBe(`h${farthest[1] + 1}`);
      expect(vpnOf[farthest[0]]).toBe(vpnOf[farthest[1]]);
      expect(peOf[farthest[0]]).not.toBe(peOf[farthest[1]]);
    }
  });

  it('is deterministic and 1000 sites generate in well under a second', () => {
    expect(generateTopology({ sites: 30, vpns: 2 })).toBe(generateTopology({ sites: 30, vpns: 2 }));
    const t0 = performance.now();
    const text = generateTopology({ sites: 1000, vpns: 4 });
    expect(performance.now() - t0).toBeLessThan(500);
    expect(text.match(/role: ce/g)).toHaveLength(1000);
  });

  it('rejects bad options with a typed error naming the field', () => {
    const bad: [Parameters<typeof checkGenerateOptions>[0], string][] = [
      [{ sites: 1, vpns: 1 }, 'sites'],
      [{ sites: 2.5, vpns: 1 }, 'sites'],
      [{ sites: 10, vpns: 0 }, 'vpns'],
      [{ sites: 10, vpns: 6 }, 'vpns'],
      [{ sites: 10, vpns: 1, mode: 'sideways' as never }, 'mode'],
      [{ sites: 10, vpns: 1, seed: -1 }, 'seed'],
    ];
    for (const [o, field] of bad) {
      try {
        checkGenerateOptions(o);
        expect.unreachable(JSON.stringify(o));
      } catch (e) {
        expect(e).toBeInstanceOf(GenerateError);
        expect((e as GenerateError).field).toBe(field);
      }
    }
  });

  it('1 VPN: the same file as before one S/R served every group (only the description differs)', () => {
    const text = generateTopology({ sites: 40, vpns: 1, mode: 'group' });
    expect(text.match(/role: sr/g)).toHaveLength(1);
    expect(text).toContain('  - { id: sr, role: sr, label: S/R device, asn: 65030, routerId: 10.255.0.30, loopback: 10.255.0.30,');
    expect(text).toContain('  - { endpoints: [sr, p1], latency: 1ms }');
    expect(text).toMatch(/\n {2}- \{ groupId: 1, name: vpn1, sr: sr, members: \[ce1, ce2, [^\]]*ce40\], discovery: auto, rekeyOnMembershipChange: true \}\n/);
  });

  it('public/topologies/generated-50.yaml is what the generator writes (plus its header)', () => {
    const file = readFileSync('public/topologies/generated-50.yaml', 'utf8');
    const body = (s: string) => s.split('\n').filter((l) => !l.startsWith('#')).join('\n');
    expect(body(file)).toBe(body(generateTopology({ sites: 50, vpns: 2, mode: 'group', seed: 1, name: 'Generated: 50 sites, 2 VPNs' })));
    expect(loadTopology(file).ok).toBe(true);
  });
});
