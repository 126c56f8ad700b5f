// Seed 001 in the kernel: a provider edge on the path to a member replays a genuine GSA_REKEY and
// sends a forged one (ciphertext altered, fresh Message ID so the replay check passes and the KEK's
// integrity check is reached). The member drops both and counts why (RFC 9838 §4.4: rekeys are
// protected by the KEK, authenticated by the GCKS and replay-protected by their Message ID); it
// keeps the genuine rekey and the group's traffic loses nothing.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { Kernel } from '../../src/sim/kernel.ts';
import { createSimNode } from '../../src/sim/node-config.ts';
import { loadTopology } from '../../src/sim/topology/load.ts';
import { decodeIpv4, decodeUdp, encodeIpv4, encodeUdp, IP_PROTO_UDP } from '../../src/proto/ip/index.ts';
import { parseIpv4 } from '../../src/lib/addr.ts';
import type { SimNode } from '../../src/node/types.ts';
import { tamper } from './fixtures/tamper.ts';

const FIG2 = 'public/topologies/seed001-figure2.yaml';
const GSA_REKEY = 41; // RFC 9838 §7 exchange type
const IKE_EXCHANGE_OFFSET = 18; // within the IKE header (RFC 7296 §3.1)
const IKE_MESSAGE_ID_OFFSET = 20;

/** Rebuilds an IPv4/UDP packet around a new UDP payload (checksums right, as an attacker would). */
function withPayload(packet: Uint8Array, payload: Uint8Array): Uint8Array {
  const ip = decodeIpv4(packet);
  if (!ip.ok) throw new Error('not IPv4');
  const udp = decodeUdp(ip.value.payload, ip.value.header.src, ip.value.header.dst);
  if (!udp.ok) throw new Error('not UDP');
  const h = ip.value.header;
  return encodeIpv4({ ...h, options: new Uint8Array(0) }, encodeUdp({ srcPort: udp.value.srcPort, dstPort: udp.value.dstPort, payload }, h.src, h.dst));
}

describe('seed 001: forged and replayed GSA_REKEY messages in the network', () => {
  it('a member drops a replayed and a forged rekey, counts them, and keeps the genuine one', () => {
    const text = readFileSync(FIG2, 'utf8')
      .replace('rekeyOnMembershipChange: true', 'rekeyOnMembershipChange: true\n    schedule: [{ at: 3s, leave: ce-b }]')
      .replace(/traffic:[\s\S]*$/, 'traffic:\n  - { kind: ping, from: h-a, to: h-c, count: 24, interval: 250ms, start: 2s }\n');
    const r = loadTopology(text, {});
    if (!r.ok) throw new Error('topology does not load');
    const t = r.topology;
    const victim = parseIpv4('172.16.3.1')!; // ce-c, behind pe2
    let seen = 0;
    const attacker = (inner: SimNode) =>
      tamper(inner, (o) => {
        const ip = decodeIpv4(o.bytes);
        if (!ip.ok || ip.value.header.protocol !== IP_PROTO_UDP || ip.value.header.dst !== victim) return undefined;
        const udp = decodeUdp(ip.value.payload, ip.value.header.src, ip.value.header.dst);
        if (!udp.ok || udp.value.dstPort !== 848 || udp.value.payload[IKE_EXCHANGE_OFFSET] !== GSA_REKEY) return undefined;
        if (++seen > 1) return undefined;
        // The genuine rekey goes through; behind it, the same bytes again and a forged copy.
        const forged = udp.value.payload.slice();
        forged[forged.length - 20] = forged[forged.length - 20]! ^ 1;
        new DataView(forged.buffer).setUint32(IKE_MESSAGE_ID_OFFSET, 0x7fff_0000);
        return [o, { ...o, bytes: o.bytes.slice() }, { ...o, bytes: withPayload(o.bytes, forged) }];
      });
    const k = new Kernel(t, { factory: (topo, i) => (topo.nodes[i]!.id === 'pe2' ? attacker(createSimNode(topo, i)) : createSimNode(topo, i)) });
    k.runUntil(9_000_000);
    const s = k.snapshot();
    expect(seen).toBeGreaterThanOrEqual(1);
    const gkm = s.nodes.find((n) => n.id === 'ce-c')!.apps.gkm as { state: string; counters: { rekeysAccepted: number; rekeyDropped: Record<string, number> } };
    expect(gkm.counters.rekeyDropped.REPLAYED_REKEY).toBe(1);
    expect(gkm.counters.rekeyDropped.INTEGRITY).toBe(1);
    expect(gkm.counters.rekeysAccepted).toBeGreaterThanOrEqual(1);
    expect(gkm.state).toBe('registered');
    // The members that stay moved to the new TEK together: h-a's pings to h-c all came back.
    for (const f of s.flows) expect(f.received, `${f.from}->${f.to}`).toBe(f.sent);
  });
});
