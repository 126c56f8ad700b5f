import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { loadTopology } from '../../src/sim/topology/load.ts';
import { analyseBackbone, backboneLinks } from '../../src/sim/backbone-tap.ts';
import { encodeIpv4, encodeIcmp, encodeUdp, IP_PROTO_ICMP, IP_PROTO_UDP } from '../../src/proto/ip/index.ts';
import { parseIpv4 } from '../../src/lib/addr.ts';
import { PING_ID_BASE } from '../../src/node/ip-node.ts';

const r = loadTopology(readFileSync('public/topologies/seed001-figure2.yaml', 'utf8'));
if (!r.ok) throw new Error('load');
const t = r.topology;
const ip = (s: string) => parseIpv4(s)!;
const hdr = (src: string, dst: string, protocol: number) => ({ dscp: 0, ecn: 0, identification: 1, dontFragment: false, moreFragments: false, fragmentOffset: 0, ttl: 60, protocol, src: ip(src), dst: ip(dst), options: new Uint8Array(0) });

describe('backbone tap', () => {
  it('taps backbone and access links only, never a site LAN', () => {
    const tapped = backboneLinks(t);
    expect(tapped.filter((x) => x.kind === 'access')).toHaveLength(4);
    expect(tapped.filter((x) => x.kind === 'backbone')).toHaveLength(3);
    for (const { link } of tapped) expect([link.a.node, link.b.node].some((n) => n.startsWith('h-'))).toBe(false);
  });

  it('reads customer payload inside MPLS-in-IP, ignores provider-to-provider packets, counts ESP and control', () => {
    const echo = encodeIcmp({ type: 'echo-request', identifier: PING_ID_BASE + 2, sequence: 0, data: new Uint8Array(56) });
    const inner = encodeIpv4(hdr('10.1.0.10', '10.3.0.10', IP_PROTO_ICMP), echo);
    // MPLS-in-IP: two labels, the second with the bottom-of-stack bit.
    const mpls = new Uint8Array(8 + inner.length);
    mpls.set([0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40]);
    mpls.set(inner, 8);
    const outer = encodeIpv4(hdr('10.255.0.1', '10.255.0.2', 137), mpls);
    const providerUdp = encodeIpv4(hdr('10.255.0.1', '10.255.0.2', IP_PROTO_UDP), encodeUdp({ srcPort: 1, dstPort: 2, payload: new Uint8Array(100) }, ip('10.255.0.1'), ip('10.255.0.2')));
    const esp = encodeIpv4(hdr('172.16.1.1', '172.16.3.1', 50), new Uint8Array(120));
    const bgpTcp = new Uint8Array(20);
    bgpTcp[0] = 0xc0; bgpTcp[1] = 0x01; bgpTcp[2] = 0x00; bgpTcp[3] = 179; bgpTcp[12] = 0x50;
    const bgp = encodeIpv4(hdr('172.16.1.1', '172.16.1.2', 6), bgpTcp);
    const pe1p1 = t.links.find((l) => l.id === 'pe1--p1' || (l.a.node === 'pe1' && l.b.node === 'p1'))!;
    const access = t.links.find((l) => l.a.node === 'ce-a' && l.b.node === 'pe1')!;
    const res = analyseBackbone(t, (i) =>
      i === pe1p1.index ? [outer, providerUdp].map((bytes) => ({ tUs: 0, bytes })) : i === access.index ? [esp, bgp].map((bytes) => ({ tUs: 0, bytes })) : [],
    );
    expect(res.total.clearPayloadBytes).toBe(56); // the echo data after the ICMP header, found under the label stack
    expect(res.total.clearPackets).toBe(1);
    expect(res.flowClearPackets).toEqual({ 2: 1 });
    expect(res.total.espPackets).toBe(1);
    expect(res.total.espBytes).toBe(120);
    expect(res.total.control.bgp).toEqual({ packets: 1, bytes: 40 });
    expect(res.controlByNode['ce-a']?.bgp).toEqual({ packets: 1, bytes: 40 });
    expect(res.total.frames).toBe(4);
  });
});
