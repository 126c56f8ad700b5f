// The dissector on frames from real runs (mesh mode: BGP, ESP; the IKE and G-IKEv2 harnesses:
// real datagrams), a hand-built MPLS-in-IP frame, malformed input, and a fuzz that it never throws.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodePcap } from '../../src/sim/pcap.ts';
import { dissect, IP_PROTO_MPLS_IN_IP, type Dissection, type TreeNode } from '../../src/sim/dissect.ts';
import { encodeIcmp, encodeIpv4 } from '../../src/proto/ip/index.ts';
import { parseIpv4 } from '../../src/lib/addr.ts';
import { ADDR_B, childAtoB, Pair, pskConfigs } from '../proto/ike/harness.ts';
import { GroupLab } from '../proto/gkm/harness.ts';
import { ipUdp, linkIndex, meshRun } from './fixtures/mesh-run.ts';

function walk(nodes: TreeNode[], f: (n: TreeNode, depth: number) => void, depth = 0): void {
  for (const n of nodes) {
    f(n, depth);
    walk(n.children, f, depth + 1);
  }
}
const labels = (d: Dissection): string[] => {
  const out: string[] = [];
  walk(d.layers, (n) => out.push(n.label));
  return out;
};
const errors = (d: Dissection): string[] => {
  const out: string[] = [];
  walk(d.layers, (n) => n.error && out.push(`${n.label}: ${n.error}`));
  return out;
};
/** Every node's range lies inside its buffer and inside its parent's range when in the same buffer. */
function rangesSound(d: Dissection): boolean {
  let sound = true;
  const check = (nodes: TreeNode[], parent?: TreeNode) => {
    for (const n of nodes) {
      const buf = d.buffers[n.buffer];
      if (!buf || n.start < 0 || n.end < n.start || n.end > buf.bytes.length) sound = false;
      if (parent && parent.buffer === n.buffer && (n.start < parent.start || n.end > parent.end)) sound = false;
      check(n.children, n);
    }
  };
  check(d.layers);
  return sound;
}

describe('dissect: frames from a mesh-mode run (seed 002 Figure 1)', async () => {
  const run = await meshRun();
  const core = decodePcap(run.pcaps[linkIndex(run.topology, 'pe1--p1')]!).records;
  const access = decodePcap(run.pcaps[linkIndex(run.topology, 'ce-a--pe1')]!).records;
  const keys = run.snapshot.nodes.flatMap((n) => n.espSas);

  it('BGP: OPEN, UPDATE with MP_REACH_NLRI (VPNv4) and KEEPALIVE, each with its byte range', () => {
    const ds = [...core, ...access].map((r) => dissect(r.bytes));
    const bgp = ds.filter((d) => d.kind === 'BGP');
    expect(bgp.length).toBeGreaterThan(10);
    const open = bgp.find((d) => d.summary.startsWith('OPEN'))!;
    expect(labels(open)).toContain('Border Gateway Protocol - OPEN Message');
    expect(labels(open).some((l) => l.startsWith('Support for 4-octet AS number'))).toBe(true);
    const vpn = bgp.find((d) => d.preview.includes('vpn-ipv4'))!;
    const reach = labels(vpn).filter((l) => l.startsWith('Path Attribute - MP_REACH_NLRI: vpn-ipv4'));
    expect(reach.join()).toMatch(/vpn-ipv4, next hop 10\.255\.0\.\d, 65000:\d:10\.\d\.0\.0\/24/);
    const ce = bgp.find((d) => d.preview.startsWith('UPDATE 10.1.0.0/24 via 172.16.1.1'));
    expect(ce, 'the CE advertises its trusted subnet in plain IPv4 unicast').toBeDefined();
    for (const d of bgp) {
      expect(errors(d)).toEqual([]);
      expect(rangesSound(d)).toBe(true);
    }
    // The Marker of the first BGP message covers 16 octets right after the TCP header.
    let marker: TreeNode | undefined;
    walk(open.layers, (n) => {
      if (n.label.startsWith('Marker')) marker ??= n;
    });
    expect(marker!.end - marker!.start).toBe(16);
    expect(open.buffers[0]!.bytes.subarray(marker!.start, marker!.end).every((b) => b === 0xff)).toBe(true);
  });

  it('TCP: flags, checksums verified, options of the SYN', () => {
    const syn = core.map((r) => dissect(r.bytes)).find((d) => d.kind === 'TCP' && d.summary.includes('[SYN]'))!;
    expect(syn).toBeDefined();
    const ls = labels(syn);
    expect(ls.some((l) => l.startsWith('Checksum') && l.endsWith('[correct]'))).toBe(true);
    expect(ls.some((l) => l.startsWith('Header Checksum') && l.endsWith('[correct]'))).toBe(true);
    expect(ls.some((l) => l.startsWith('Flags: 0x02 (SYN)'))).toBe(true);
  });

  it('ESP: ciphertext without a key; with the run\'s keys the ICV verifies and the inner ICMP is dissected', () => {
    const rec = core.find((r) => dissect(r.bytes).kind === 'ESP')!;
    expect(rec).toBeDefined();
    const blind = dissect(rec.bytes);
    expect(blind.preview).toBe('ESP (encrypted)');
    expect(blind.buffers.length).toBe(1);
    expect(labels(blind).some((l) => l.includes('ciphertext, no key for this SA'))).toBe(true);
    const open = dissect(rec.bytes, { keys });
    expect(open.kind).toBe('ESP');
    expect(open.buffers.length).toBe(2);
    expect(labels(open).some((l) => l.startsWith('ICV') && l.endsWith('[correct]'))).toBe(true);
    const inner: TreeNode[] = [];
    walk(open.layers, (n) => n.buffer === 1 && inner.push(n));
    expect(inner.some((n) => n.label.startsWith('Internet Protocol Version 4, Src: 10.1.0.10'))).toBe(true);
    expect(inner.some((n) => n.label.startsWith('Internet Control Message Protocol, Echo (ping)'))).toBe(true);
    expect(errors(open)).toEqual([]);
    expect(rangesSound(open)).toBe(true);
    // A wrong key is reported at the ESP layer, not thrown.
    const wrong = keys.map((k) => ({ ...k, keyHex: k.keyHex.replace(/^./, (c) => (c === '0' ? '1' : '0')) }));
    const bad = dissect(rec.bytes, { keys: wrong });
    expect(errors(bad).join()).toMatch(/does not authenticate/);
  });
});

describe('dissect: IKEv2 and G-IKEv2 datagrams from the protocol harnesses', () => {
  it('IKE_SA_INIT and IKE_AUTH: header fields and the payload chain', () => {
    const c = pskConfigs();
    const p = new Pair(c.a, c.b, 3);
    p.command('a', { kind: 'request-child', peerAddr: ADDR_B, child: childAtoB() });
    p.run();
    const ds = p.captured.map((x) => dissect(ipUdp(x.datagram)));
    expect(ds.length).toBeGreaterThanOrEqual(4);
    expect(ds.every((d) => d.kind === 'IKE')).toBe(true);
    const init = ds[0]!;
    expect(init.summary).toMatch(/^IKE_SA_INIT MID=0 Initiator request/);
    const ls = labels(init);
    for (const name of ['SA (33)', 'KE (34)', 'NONCE (40)']) expect(ls).toContain(name);
    const auth = ds.find((d) => d.summary.startsWith('IKE_AUTH'))!;
    expect(labels(auth)).toContain('Encrypted and Authenticated (SK)');
    for (const d of ds) {
      expect(errors(d)).toEqual([]);
      expect(rangesSound(d)).toBe(true);
    }
  });

  it('G-IKEv2 on UDP 848: GSA_AUTH and GSA_REKEY classified as G-IKEv2', () => {
    const lab = new GroupLab({ members: 2, seed: 11 });
    lab.register(0);
    lab.register(1);
    lab.run(1_000_000);
    const ds = lab.captured.map((x) => dissect(ipUdp(x.datagram)));
    expect(ds.length).toBeGreaterThan(2);
    expect(ds.every((d) => d.kind === 'G-IKEv2')).toBe(true);
    expect(ds.some((d) => d.summary.startsWith('GSA_AUTH'))).toBe(true);
    for (const d of ds) {
      expect(errors(d)).toEqual([]);
      expect(rangesSound(d)).toBe(true);
    }
  });
});

describe('dissect: MPLS-in-IP and malformed frames', () => {
  const A = parseIpv4('10.1.0.10')!;
  const B = parseIpv4('10.2.0.10')!;
  const hdr = { dscp: 0, ecn: 0, identification: 7, dontFragment: false, moreFragments: false, fragmentOffset: 0, ttl: 64, options: new Uint8Array(0) };
  const inner = encodeIpv4({ ...hdr, protocol: 1, src: A, dst: B }, encodeIcmp({ type: 'echo-request', identifier: 1, sequence: 2, data: new TextEncoder().encode('hello from site 1') }));

  it('label stack then the inner IPv4 packet, readable by the provider', () => {
    // Two labels (transport 16, VPN 24001 bottom of stack), RFC 3032 entries.
    const stack = Uint8Array.of(0x00, 0x01, 0x00, 0x40, 0x05, 0xdc, 0x11, 0x40);
    const payload = new Uint8Array(stack.length + inner.length);
    payload.set(stack);
    payload.set(inner, stack.length);
    const frame = encodeIpv4({ ...hdr, protocol: IP_PROTO_MPLS_IN_IP, src: parseIpv4('10.255.0.1')!, dst: parseIpv4('10.255.0.2')! }, payload);
    const d = dissect(frame);
    expect(d.kind).toBe('MPLS');
    expect(labels(d)).toContain('MultiProtocol Label Switching, Labels: 16, 24001');
    expect(labels(d).some((l) => l.startsWith('Internet Control Message Protocol, Echo (ping) request'))).toBe(true);
    expect(d.preview).toContain('hello from site 1');
    expect(errors(d)).toEqual([]);
    expect(rangesSound(d)).toBe(true);
  });

  it('truncated, empty and non-IPv4 frames show an error at the layer instead of throwing', () => {
    expect(dissect(new Uint8Array(0)).kind).toBe('malformed');
    expect(errors(dissect(Uint8Array.of(0x60, 0, 0, 0)))[0]).toMatch(/only IPv4/);
    const cut = dissect(inner.subarray(0, 24));
    expect(errors(cut).join()).toMatch(/total length 37 but only 24 octets captured|needs/);
    const badIhl = Uint8Array.from(inner);
    badIhl[0] = 0x43;
    expect(errors(dissect(badIhl)).join()).toMatch(/header length 12 is less than 20/);
  });

  it('fuzz: never throws, ranges stay inside their buffers (random bytes and mutated real frames)', async () => {
    const run = await meshRun();
    const keys = run.snapshot.nodes.flatMap((n) => n.espSas);
    const real = run.pcaps.flatMap((p) => decodePcap(p).records.map((r) => r.bytes)).slice(0, 200);
    const mutated = fc
      .tuple(fc.constantFrom(...real), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat())
      .map(([b, edits, cut]) => {
        const c = Uint8Array.from(b);
        for (const [i, v] of edits) c[i % c.length] = v;
        return c.subarray(0, cut % (c.length + 1));
      });
    const random = fc.uint8Array({ maxLength: 200 }).map((b) => {
      if (b.length) b[0] = 0x45;
      return b;
    });
    fc.assert(
      fc.property(fc.oneof(mutated, random), (frame) => {
        const d = dissect(frame, { keys });
        return rangesSound(d) && typeof d.summary === 'string';
      }),
      { numRuns: 1500, seed: 7 },
    );
  });
});
