// Seed 001 claims 1, 7, 10–12 in the kernel: the S/R's BGP sessions run inside the group SA. A P
// router on the way to the S/R alters one ESP packet of that channel and injects a clear BGP segment
// in a member's name. The S/R drops both and counts why (the ICV fails; policy requires ESP for TCP
// 179 between member and S/R, RFC 4301 §5.2), no session flaps and the reflected routes stand.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { Kernel } from '../../src/sim/kernel.ts';
import { createSimNode } from '../../src/sim/node-config.ts';
import { loadTopology } from '../../src/sim/topology/load.ts';
import { encodeIpv4, IP_PROTO_ESP, IP_PROTO_TCP, ipv4Dst, ipv4Protocol } from '../../src/proto/ip/index.ts';
import { encodeTcpSegment, TCP_FLAG_SYN } from '../../src/proto/ip/tcp-segment.ts';
import { parseIpv4 } from '../../src/lib/addr.ts';
import type { SimNode } from '../../src/node/types.ts';
import { tamper } from './fixtures/tamper.ts';

const FIG2 = 'public/topologies/seed001-figure2.yaml';

describe('seed 001: the S/R channel under attack on the backbone', () => {
  it('an altered ESP packet and a clear BGP segment in a member\'s name are dropped and counted; the routes stand', () => {
    const r = loadTopology(readFileSync(FIG2, 'utf8'), {});
    if (!r.ok) throw new Error('topology does not load');
    const t = r.topology;
    const sr = parseIpv4('10.255.0.30')!;
    const ceA = parseIpv4('172.16.1.1')!;
    let espToSr = 0;
    let injected = false;
    const attacker = (inner: SimNode) =>
      tamper(inner, (o) => {
        if (ipv4Dst(o.bytes) !== sr || ipv4Protocol(o.bytes) !== IP_PROTO_ESP) return undefined;
        espToSr++;
        if (espToSr === 6) {
          const bad = o.bytes.slice();
          bad[bad.length - 20] = bad[bad.length - 20]! ^ 1; // ciphertext bit: the ICV fails
          return [{ ...o, bytes: bad }, o]; // and the genuine packet after it, so the channel loses nothing
        }
        if (espToSr === 8 && !injected) {
          injected = true;
          const syn = encodeTcpSegment({ srcPort: 40000, dstPort: 179, seq: 1, ack: 0, flags: TCP_FLAG_SYN, reserved: 0, window: 65535, urgentPointer: 0, options: [], payload: new Uint8Array(0) }, ceA, sr);
          const clear = encodeIpv4({ dscp: 0, ecn: 0, identification: 7, dontFragment: true, moreFragments: false, fragmentOffset: 0, ttl: 60, protocol: IP_PROTO_TCP, src: ceA, dst: sr, options: new Uint8Array(0) }, syn);
          return [o, { ...o, bytes: clear }];
        }
        return undefined;
      });
    const k = new Kernel(t, { factory: (topo, i) => (topo.nodes[i]!.id === 'p1' ? attacker(createSimNode(topo, i)) : createSimNode(topo, i)) });
    k.runUntil(8_000_000);
    const s = k.snapshot();
    expect(injected).toBe(true);
    const srEsp = s.nodes.find((n) => n.id === 'sr')!.apps['group-esp'] as { counters: { drops: Record<string, number> } };
    expect(srEsp.counters.drops.icv).toBe(1);
    expect(srEsp.counters.drops['clear-protected']).toBe(1);
    // No session went down: each member has one Established session with the S/R and the 3 others' routes.
    for (const id of ['ce-a', 'ce-b', 'ce-c', 'ce-d']) {
      const n = s.nodes.find((x) => x.id === id)!;
      const bgp = n.apps.bgp as { neighbors: { state: string; stats: { establishedTransitions?: number } }[] } | undefined;
      expect(bgp?.neighbors.map((x) => x.state), id).toEqual(['Established']);
      expect((n.apps['group-esp'] as { routes: number }).routes, id).toBe(3);
    }
    for (const f of s.flows) expect(f.received, `${f.from}->${f.to}`).toBe(f.sent);
  });
});
