// Kernel scenarios: seed 002's CE–PE BGP sessions protected with TCP-AO (RFC 5925) and TCP MD5
// (RFC 2385) from the topology's `peAuth`; key mismatch, a segment altered in flight and a forged
// RST from an on-path attacker without the key. Topology: tests/node/fixtures/gateway-pe-auth.yaml.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kernel } from '../../src/sim/kernel.ts';
import { createSimNode } from '../../src/sim/node-config.ts';
import { bgpPlan } from '../../src/sim/bgp-plan.ts';
import { loadTopology, formatTopologyErrors } from '../../src/sim/topology/load.ts';
import type { Topology } from '../../src/sim/topology/types.ts';
import type { LabSnapshot } from '../../src/sim/snapshot.ts';
import type { SimNode } from '../../src/node/types.ts';
import type { NodeInput } from '../../src/lib/sans-io.ts';
import { decodeIpv4, encodeIpv4, IP_PROTO_TCP } from '../../src/proto/ip/ipv4.ts';
import { TCP_FLAG_RST, decodeTcpSegment, encodeTcpSegment, tcpRewriteChecksum, tcpSegmentLen, type TcpSegment } from '../../src/proto/ip/tcp-segment.ts';
import { findTcpAuthOptions } from '../../src/proto/ip/tcp-auth-option.ts';

const FIXTURE = readFileSync(new URL('./fixtures/gateway-pe-auth.yaml', import.meta.url), 'utf8');
const SEED = 2;

function topo(text = FIXTURE): Topology {
  const r = loadTopology(text);
  if (!r.ok) throw new Error(formatTopologyErrors(r.errors));
  return r.topology;
}

type Rib = { nlri: string; nextHop: string; from: string; best: boolean }[];
type BgpSnap = { neighbors: { name: string; state: string; stats: { establishedTransitions: number } }[]; rib: { locRib: Record<string, Rib> } };
type TcpStats = Record<string, number>;
const node = (s: LabSnapshot, id: string) => s.nodes.find((n) => n.id === id)!;
const bgp = (s: LabSnapshot, id: string) => node(s, id).apps.bgp as BgpSnap;
const tcpStats = (s: LabSnapshot, id: string) => (node(s, id).apps.tcp as { stats: TcpStats }).stats;
const neighbor = (s: LabSnapshot, id: string, peer: string) => bgp(s, id).neighbors.find((n) => n.name === peer)!;
const routes = (s: LabSnapshot, id: string) => (bgp(s, id).rib.locRib['ipv4-unicast'] ?? []).filter((r) => r.best).map((r) => r.nlri).sort();
const authDrops = (st: TcpStats) => st.authMissing! + st.authUnexpected! + st.authBadKeyId! + st.authBadMac! + st.authNoState!;
const link = (t: Topology, id: string) => t.links.find((l) => l.id === id)!;

describe(`seed 002 CE–PE sessions with TCP-AO and TCP MD5 (seed ${SEED}; fixture gateway-pe-auth.yaml)`, () => {
  it('the topology puts mirrored keys on both ends of each CE–PE session, and none on iBGP', () => {
    const t = topo();
    const plan = (id: string) => bgpPlan(t, t.nodes.find((n) => n.id === id)!.index)!.speaker.neighbors;
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(plan('ce-a')[0]!.tcpAuth).toEqual({ kind: 'ao', keyId: 10, rnextKeyId: 20, algorithm: 'aes-128-cmac-96', masterKey: enc('ce-a and pe1 share this') });
    expect(plan('pe1').find((n) => n.name === 'ce-a')!.tcpAuth).toEqual({ kind: 'ao', keyId: 20, rnextKeyId: 10, algorithm: 'aes-128-cmac-96', masterKey: enc('ce-a and pe1 share this') });
    expect(plan('ce-b')[0]!.tcpAuth).toEqual({ kind: 'md5', key: enc('md5 for ce-b') });
    expect(plan('pe2').find((n) => n.name === 'ce-b')!.tcpAuth).toEqual({ kind: 'md5', key: enc('md5 for ce-b') });
    expect(plan('pe1').find((n) => n.name === 'pe2')!.tcpAuth).toBeUndefined();
  });

  it('both sessions come up and exchange routes; every CE–PE segment carries its option; tshark decodes them', (ctx) => {
    const t = topo();
    const k = new Kernel(t);
    k.runUntil(30_000_000);
    const s = k.snapshot();
    for (const [id, peer] of [['ce-a', 'pe1'], ['pe1', 'ce-a'], ['ce-b', 'pe2'], ['pe2', 'ce-b']] as const) {
      expect(neighbor(s, id, peer).state, `${id}→${peer}`).toBe('Established');
      expect(authDrops(tcpStats(s, id)), id).toBe(0);
    }
    expect(routes(s, 'ce-a')).toEqual(['10.1.0.0/24', '10.2.0.0/24']);
    expect(routes(s, 'ce-b')).toEqual(['10.1.0.0/24', '10.2.0.0/24']);

    // Every TCP segment on the CE–PE links is signed with the right option.
    const kinds = (linkId: string) => {
      const pcap = k.pcap(link(t, linkId).index);
      const found = new Set<string>();
      let segments = 0;
      // pcap: 24-byte header, then 16-byte record headers (LINKTYPE_RAW, IPv4 packets).
      for (let o = 24; o < pcap.length; ) {
        const len = new DataView(pcap.buffer, pcap.byteOffset + o + 8, 4).getUint32(0, true);
        const ip = decodeIpv4(pcap.subarray(o + 16, o + 16 + len));
        o += 16 + len;
        if (!ip.ok || ip.value.header.protocol !== IP_PROTO_TCP) continue;
        const seg = decodeTcpSegment(ip.value.payload, ip.value.header.src, ip.value.header.dst);
        if (!seg.ok) throw new Error(seg.error.message);
        const f = findTcpAuthOptions(seg.value.options);
        if (!f.ok) throw new Error(f.error.message);
        segments++;
        found.add(f.value.ao ? `ao ${f.value.ao.keyId}/${f.value.ao.rnextKeyId}` : f.value.md5 ? 'md5' : 'none');
      }
      return { segments, found: [...found].sort() };
    };
    const ao = kinds('ce-a--pe1');
    expect(ao.segments).toBeGreaterThan(6);
    expect(ao.found).toEqual(['ao 10/20', 'ao 20/10']);
    expect(kinds('pe2--ce-b').found).toEqual(['md5']);
    expect(kinds('pe1--pe2').found).toEqual(['none']);

    if (!existsSync('/usr/bin/tshark')) ctx.skip();
    const dir = mkdtempSync(join(tmpdir(), 'vpnlab-tcpauth-'));
    for (const [linkId, field, kind] of [
      ['ce-a--pe1', 'tcp.options.ao.keyid', '29'],
      ['pe2--ce-b', 'tcp.options.md5.digest', '19'],
    ] as const) {
      const file = join(dir, `${linkId}.pcap`);
      writeFileSync(file, k.pcap(link(t, linkId).index));
      const out = execFileSync('/usr/bin/tshark', ['-r', file, '-n', '-Y', 'tcp', '-T', 'fields', '-E', 'separator=;', '-e', 'tcp.option_kind', '-e', field, '-e', 'bgp.type', '-e', '_ws.malformed', '-e', '_ws.expert.message'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      const lines = out.trim().split('\n');
      if (linkId === 'ce-a--pe1') expect(lines.length).toBe(ao.segments);
      expect(out).not.toMatch(/malformed/i);
      const bgpTypes = new Set<string>();
      for (const l of lines) {
        const [optionKinds, value, types] = l.split(';');
        expect(optionKinds!.split(','), `${linkId}: ${l}`).toContain(kind);
        expect(value, `${linkId}: ${l}`).not.toBe('');
        for (const ty of (types ?? '').split(',')) if (ty) bgpTypes.add(ty);
      }
      // BGP still decodes inside the protected segments: OPEN, UPDATE, KEEPALIVE.
      expect([...bgpTypes].sort()).toEqual(expect.arrayContaining(['1', '2', '4']));
    }
  });

  it('a key mismatch keeps the session down and counts the drops; the other session is unaffected', () => {
    const mismatched = FIXTURE.replace('key: "ce-a and pe1 share this"', 'key: "ce-a and pe1 share this", peKey: "pe1 has another"').replace(
      'peAuth: { kind: tcp-md5, key: "md5 for ce-b" }',
      'peAuth: { kind: tcp-md5, key: "md5 for ce-b", peKey: "md5 for ce-B" }',
    );
    const t = topo(mismatched);
    expect(t.nodes.find((n) => n.id === 'ce-a')!.peAuth!.peKey).toBe('pe1 has another');
    const k = new Kernel(t);
    k.runUntil(60_000_000);
    const s = k.snapshot();
    for (const [id, peer] of [['ce-a', 'pe1'], ['pe1', 'ce-a'], ['ce-b', 'pe2'], ['pe2', 'ce-b']] as const) {
      expect(neighbor(s, id, peer).state, `${id}→${peer}`).not.toBe('Established');
      expect(neighbor(s, id, peer).stats.establishedTransitions).toBe(0);
      // Both ends try to connect; each drops the other's SYNs as bad MACs, silently.
      expect(tcpStats(s, id).authBadMac, id).toBeGreaterThan(3);
      expect(tcpStats(s, id).authBadMac, id).toBe(authDrops(tcpStats(s, id)));
    }
    expect(routes(s, 'ce-a')).toEqual(['10.1.0.0/24']);
    expect(neighbor(s, 'pe1', 'pe2').state).toBe('Established');
  });

  /**
   * An attacker on the ce-a–pe1 link (a factory wrapping pe1): once the session is up, it flips a bit
   * of one BGP segment from ce-a (fixing the TCP checksum), and injects an RST "from ce-a" at exactly
   * the next sequence number it saw. Without protection the RST kills the session (the control).
   */
  function attacked(protectedSession: boolean) {
    const text = protectedSession ? FIXTURE : FIXTURE.replace(/\n    peAuth: \{ kind: tcp-ao[^\n]*/, '');
    const t = topo(text);
    const pe1 = t.nodes.find((n) => n.id === 'pe1')!.index;
    const ceAddr = link(t, 'ce-a--pe1').a.addr;
    const peAddr = link(t, 'ce-a--pe1').b.addr;
    let now = 0;
    const attack = { altered: 0, rstSent: 0 };
    const factory = (top: Topology, i: number): SimNode => {
      const inner = createSimNode(top, i);
      if (i !== pe1) return inner;
      return {
        snapshot: () => inner.snapshot(),
        poll: () => inner.poll(),
        nextDeadlineUs: () => inner.nextDeadlineUs(),
        handle(input: NodeInput, nowUs: number) {
          now = nowUs;
          if (input.kind !== 'rx' || nowUs < 20_000_000) return inner.handle(input, nowUs);
          const ip = decodeIpv4(input.bytes);
          if (!ip.ok || ip.value.header.protocol !== IP_PROTO_TCP || ip.value.header.src !== ceAddr) return inner.handle(input, nowUs);
          const h = ip.value.header;
          const seg = decodeTcpSegment(ip.value.payload, h.src, h.dst);
          if (!seg.ok) return inner.handle(input, nowUs);
          if (attack.altered === 0 && seg.value.payload.length > 0) {
            attack.altered++;
            const tcp = ip.value.payload.slice();
            tcp[tcp.length - 1]! ^= 0x01;
            tcpRewriteChecksum(tcp, h.src, h.dst);
            return inner.handle({ ...input, bytes: encodeIpv4(h, tcp) }, nowUs);
          }
          if (attack.altered > 0 && attack.rstSent === 0 && nowUs > 25_000_000) {
            attack.rstSent++;
            inner.handle(input, nowUs);
            const s = seg.value;
            const rst: TcpSegment = { srcPort: s.srcPort, dstPort: s.dstPort, seq: (s.seq + tcpSegmentLen(s)) >>> 0, ack: 0, flags: TCP_FLAG_RST, reserved: 0, window: 0, urgentPointer: 0, options: [], payload: new Uint8Array(0) };
            return inner.handle({ ...input, bytes: encodeIpv4({ ...h, identification: (h.identification + 1) & 0xffff }, encodeTcpSegment(rst, ceAddr, peAddr)) }, nowUs);
          }
          return inner.handle(input, nowUs);
        },
      };
    };
    const k = new Kernel(t, { factory });
    k.runUntil(120_000_000);
    return { s: k.snapshot(), attack, now };
  }

  it('with TCP-AO, a segment altered in flight is dropped and a forged RST is ignored: the session never flaps', () => {
    const { s, attack } = attacked(true);
    expect(attack).toEqual({ altered: 1, rstSent: 1 });
    const st = tcpStats(s, 'pe1');
    expect(st.authBadMac).toBe(1); // the altered segment (its retransmission got through)
    expect(st.authMissing).toBe(1); // the unsigned RST
    expect(neighbor(s, 'pe1', 'ce-a').state).toBe('Established');
    expect(neighbor(s, 'pe1', 'ce-a').stats.establishedTransitions).toBe(1);
    expect(neighbor(s, 'ce-a', 'pe1').stats.establishedTransitions).toBe(1);
    expect(routes(s, 'ce-a')).toEqual(['10.1.0.0/24', '10.2.0.0/24']);
  });

  it('the control: without protection the same attack resets the session', () => {
    const { s, attack } = attacked(false);
    expect(attack).toEqual({ altered: 1, rstSent: 1 });
    expect(tcpStats(s, 'pe1').authBadMac).toBe(0);
    expect(neighbor(s, 'pe1', 'ce-a').stats.establishedTransitions).toBeGreaterThan(1); // it went down and came back
  });
});

describe('topology field peAuth', () => {
  const one = (peAuth: string, role = 'ce') => `
name: x
mode: gateway
nodes:
  - { id: a, role: ${role}, asn: 65001, peAuth: ${peAuth} }
  - { id: p, role: pe, asn: 65000, vrfs: [{ name: v, rd: "65000:1", attachments: [a] }] }
links:
  - { endpoints: [a, p] }
`;
  it('fills the defaults: PE key = CE key, HMAC-SHA-1-96, KeyID 1 both ways', () => {
    const r = loadTopology(one('{ kind: tcp-ao, key: k }'));
    expect(r.ok && r.topology.nodes[0]!.peAuth).toEqual({ kind: 'tcp-ao', key: 'k', peKey: 'k', algorithm: 'hmac-sha1-96', keyId: 1, peKeyId: 1 });
    const none = loadTopology(one('{ kind: tcp-md5, key: k }').replace(', peAuth: { kind: tcp-md5, key: k }', ''));
    expect(none.ok && none.topology.nodes[0]!.peAuth).toBeUndefined();
  });

  it.each([
    ['{ kind: tcp-sha, key: k }', 'ce', 'nodes[0].peAuth.kind'],
    ['{ kind: tcp-md5, key: "" }', 'ce', 'nodes[0].peAuth.key'],
    [`{ kind: tcp-md5, key: "${'x'.repeat(81)}" }`, 'ce', 'nodes[0].peAuth.key'],
    ['{ kind: tcp-ao, key: k, keyId: 256 }', 'ce', 'nodes[0].peAuth.keyId'],
    ['{ kind: tcp-ao, key: k, algorithm: hmac-md5 }', 'ce', 'nodes[0].peAuth.algorithm'],
    ['{ kind: tcp-ao, key: k }', 'host', 'nodes[0].peAuth'],
  ])('rejects %s on a %s naming %s', (peAuth, role, path) => {
    const r = loadTopology(one(peAuth, role));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(formatTopologyErrors(r.errors)).toContain(path);
  });
});
