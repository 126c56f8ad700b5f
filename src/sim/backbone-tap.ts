// The provider's view of a run: parses every frame captured on the backbone (links between provider
// nodes pe/p/sr) and the CE–PE access links, and counts the customer payload bytes a provider could
// read in clear versus the bytes inside ESP, plus control traffic per protocol. Reads the same
// captures the pcaps are written from, so both runtimes agree. Pure; never decrypts anything.

import { FLOW_MAGIC, PING_ID_BASE } from '../node/ip-node.ts';
import { ipv4Mask, parsePrefix } from '../lib/addr.ts';
import type { PcapRecord } from './pcap.ts';
import type { Topology, TopoLink } from './topology/types.ts';

const PROVIDER_ROLES = new Set(['pe', 'p', 'sr']);
const PROTO_ICMP = 1;
const PROTO_IPV4 = 4;
const PROTO_TCP = 6;
const PROTO_UDP = 17;
const PROTO_ESP = 50;
/** RFC 4023: MPLS-in-IP, an MPLS label stack then the payload (here IPv4). */
const PROTO_MPLS_IN_IP = 137;
/** Nested encapsulations followed at most this deep. */
const NEST_MAX = 4;

export const CONTROL_PROTOCOLS = ['bgp', 'ike', 'gikev2'] as const;
export type ControlProtocol = (typeof CONTROL_PROTOCOLS)[number];

export interface PacketsBytes {
  packets: number;
  bytes: number;
}

export interface TapCounts {
  /** Captured frames (both directions). */
  frames: number;
  /** ICMP/UDP/TCP payload bytes of packets between customer addresses, readable in clear. */
  clearPayloadBytes: number;
  clearPackets: number;
  /** ESP packets (IP protocol 50) and their bytes after the outer IP header. */
  espBytes: number;
  espPackets: number;
  /** Control traffic per protocol (BGP TCP 179, IKE UDP 500/4500, G-IKEv2 UDP 848), IP bytes. */
  control: Record<ControlProtocol, PacketsBytes>;
}

export interface BackboneLinkTap extends TapCounts {
  link: string;
  kind: 'backbone' | 'access';
}

export interface BackboneTapResult {
  links: BackboneLinkTap[];
  total: TapCounts;
  /** Per flow index: its packets seen in clear on these links (ping echo id, UDP flow magic). */
  flowClearPackets: Record<number, number>;
  /** Control packets per node that originated them (its own address as source, on its own link). */
  controlByNode: Record<string, Record<ControlProtocol, PacketsBytes>>;
}

/** The links a provider can tap: both ends pe/p/sr (backbone), or a CE and a provider node (access). */
export function backboneLinks(topology: Topology): { link: TopoLink; kind: 'backbone' | 'access' }[] {
  const out: { link: TopoLink; kind: 'backbone' | 'access' }[] = [];
  for (const l of topology.links) {
    const ra = topology.nodes[l.a.nodeIndex]!.role;
    const rb = topology.nodes[l.b.nodeIndex]!.role;
    const pa = PROVIDER_ROLES.has(ra);
    const pb = PROVIDER_ROLES.has(rb);
    if (pa && pb) out.push({ link: l, kind: 'backbone' });
    else if ((pa && rb === 'ce') || (pb && ra === 'ce')) out.push({ link: l, kind: 'access' });
  }
  return out;
}

/** Customer address space: every CE trusted subnet and every subnet of a link with a host on it. */
export class CustomerSpace {
  private readonly byLen = new Map<number, Set<number>>();

  constructor(topology: Topology) {
    for (const n of topology.nodes) {
      for (const t of n.trustedSubnets) {
        const p = parsePrefix(t);
        if (p && p.family === 4) this.add(Number(p.addr), p.len);
      }
    }
    for (const l of topology.links) {
      if (topology.nodes[l.a.nodeIndex]!.role === 'host' || topology.nodes[l.b.nodeIndex]!.role === 'host') this.add(l.a.addr, l.a.len);
    }
  }

  private add(addr: number, len: number): void {
    let set = this.byLen.get(len);
    if (!set) this.byLen.set(len, (set = new Set()));
    set.add((addr & ipv4Mask(len)) >>> 0);
  }

  has(addr: number): boolean {
    for (const [len, set] of this.byLen) if (set.has((addr & ipv4Mask(len)) >>> 0)) return true;
    return false;
  }
}

const zeroControl = (): Record<ControlProtocol, PacketsBytes> => ({ bgp: { packets: 0, bytes: 0 }, ike: { packets: 0, bytes: 0 }, gikev2: { packets: 0, bytes: 0 } });
const zeroCounts = (): TapCounts => ({ frames: 0, clearPayloadBytes: 0, clearPackets: 0, espBytes: 0, espPackets: 0, control: zeroControl() });

function controlOf(proto: number, l4: DataView, off: number, len: number): ControlProtocol | undefined {
  if (len < off + 4) return undefined;
  const sp = l4.getUint16(off);
  const dp = l4.getUint16(off + 2);
  if (proto === PROTO_TCP && (sp === 179 || dp === 179)) return 'bgp';
  if (proto === PROTO_UDP && (sp === 500 || dp === 500 || sp === 4500 || dp === 4500)) return 'ike';
  if (proto === PROTO_UDP && (sp === 848 || dp === 848)) return 'gikev2';
  return undefined;
}

/** What one or more partitions counted (plain data: crosses a worker boundary); `mergeBackboneTaps` adds them up. */
export interface BackboneTapParts {
  /** By link index, the links that saw at least one frame. */
  links: [number, TapCounts][];
  flowClearPackets: Record<number, number>;
  controlByNode: Record<string, Record<ControlProtocol, PacketsBytes>>;
}

/**
 * Counts frames as they are put on the tapped links (see `analyseBackbone`), so a report run needs
 * neither to keep every backbone frame nor to write and read them back as pcap. Each partition
 * counts the link directions it owns; the counts are sums, so their order does not matter.
 */
export class BackboneTap {
  private readonly customers: CustomerSpace;
  private readonly owner = new Map<number, string>();
  private readonly linkTaps = new Map<number, { c: TapCounts; ends: Set<string> }>();
  private readonly flowClearPackets: Record<number, number> = {};
  private readonly controlByNode: Record<string, Record<ControlProtocol, PacketsBytes>> = {};
  /** TCP flows are told apart by their ports (both directions): only the first data segment carries the flow magic. */
  private readonly tcpFlows = new Map<number, number>();

  constructor(private readonly topology: Topology) {
    this.customers = new CustomerSpace(topology);
    for (const t of topology.traffic) {
      if (t.kind !== 'tcp') continue;
      this.tcpFlows.set(((t.srcPort << 16) | t.dstPort) >>> 0, t.index);
      this.tcpFlows.set(((t.dstPort << 16) | t.srcPort) >>> 0, t.index);
    }
    for (const l of topology.links) {
      this.owner.set(l.a.addr, l.a.node);
      this.owner.set(l.b.addr, l.b.node);
    }
    for (const n of topology.nodes) if (n.loopback !== undefined) this.owner.set(n.loopback, n.id);
  }

  /** One frame captured on `linkIndex` (either direction), as the pcap holds it. */
  frame(linkIndex: number, b: Uint8Array): void {
    let t = this.linkTaps.get(linkIndex);
    if (!t) {
      const link = this.topology.links[linkIndex]!;
      t = { c: zeroCounts(), ends: new Set([link.a.node, link.b.node]) };
      this.linkTaps.set(linkIndex, t);
    }
    const c = t.c;
    c.frames++;
    // Control traffic is counted on the outer packet; the originator is the endpoint that owns its source.
    if (b.length >= 20 && b[0]! >> 4 === 4) {
      const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
      const ihl = (b[0]! & 0x0f) * 4;
      const ctl = controlOf(b[9]!, dv, ihl, b.length);
      if (ctl) {
        c.control[ctl].packets++;
        c.control[ctl].bytes += b.length;
        const src = this.owner.get(dv.getUint32(12));
        if (src !== undefined && t.ends.has(src)) {
          const m = (this.controlByNode[src] ??= zeroControl());
          m[ctl].packets++;
          m[ctl].bytes += b.length;
        }
      }
    }
    inspect(b, 0, c, this.customers, this.flowClearPackets, this.tcpFlows);
  }

  parts(): BackboneTapParts {
    return { links: [...this.linkTaps].map(([i, t]) => [i, t.c]), flowClearPackets: this.flowClearPackets, controlByNode: this.controlByNode };
  }
}

const addControl = (into: Record<ControlProtocol, PacketsBytes>, c: Record<ControlProtocol, PacketsBytes>): void => {
  for (const p of CONTROL_PROTOCOLS) {
    into[p].packets += c[p].packets;
    into[p].bytes += c[p].bytes;
  }
};

function addTapCounts(into: TapCounts, c: TapCounts): void {
  into.frames += c.frames;
  into.clearPayloadBytes += c.clearPayloadBytes;
  into.clearPackets += c.clearPackets;
  into.espBytes += c.espBytes;
  into.espPackets += c.espPackets;
  addControl(into.control, c.control);
}

/** The result from the counts of every partition: links in `backboneLinks` order, totals summed. */
export function mergeBackboneTaps(topology: Topology, parts: readonly BackboneTapParts[]): BackboneTapResult {
  const byLink = new Map<number, TapCounts>();
  const flowClearPackets: Record<number, number> = {};
  const controlByNode: Record<string, Record<ControlProtocol, PacketsBytes>> = {};
  for (const p of parts) {
    for (const [i, c] of p.links) addTapCounts((byLink.get(i) ?? byLink.set(i, zeroCounts()).get(i)!), c);
    for (const [f, n] of Object.entries(p.flowClearPackets)) flowClearPackets[Number(f)] = (flowClearPackets[Number(f)] ?? 0) + n;
    for (const [node, c] of Object.entries(p.controlByNode)) addControl((controlByNode[node] ??= zeroControl()), c);
  }
  const total = zeroCounts();
  const links: BackboneLinkTap[] = [];
  for (const { link, kind } of backboneLinks(topology)) {
    const c: BackboneLinkTap = { link: link.id, kind, ...zeroCounts() };
    const got = byLink.get(link.index);
    if (got) addTapCounts(c, got);
    links.push(c);
    addTapCounts(total, c);
  }
  return { links, total, flowClearPackets, controlByNode };
}

/**
 * Counts what a provider sees on the tapped links. `capture(linkIndex)` returns that link's
 * captured frames (both directions). Same counts as a BackboneTap fed the frames as they are sent.
 */
export function analyseBackbone(topology: Topology, capture: (linkIndex: number) => readonly PcapRecord[]): BackboneTapResult {
  const tap = new BackboneTap(topology);
  for (const { link } of backboneLinks(topology)) for (const r of capture(link.index)) tap.frame(link.index, r.bytes);
  return mergeBackboneTaps(topology, [tap.parts()]);
}

/** One IPv4 packet (possibly nested): ESP, clear customer payload, or an encapsulation to open. */
function inspect(b: Uint8Array, depth: number, c: TapCounts, customers: CustomerSpace, flows: Record<number, number>, tcpFlows: ReadonlyMap<number, number>): void {
  if (depth > NEST_MAX || b.length < 20 || b[0]! >> 4 !== 4) return;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const ihl = (b[0]! & 0x0f) * 4;
  const total = Math.min(b.length, dv.getUint16(2));
  if (ihl < 20 || total < ihl) return;
  const proto = b[9]!;
  const payload = b.subarray(ihl, total);
  if (proto === PROTO_ESP) {
    c.espPackets++;
    c.espBytes += payload.length;
    return;
  }
  if (proto === PROTO_IPV4) return inspect(payload, depth + 1, c, customers, flows, tcpFlows);
  if (proto === PROTO_MPLS_IN_IP) {
    // RFC 3032: 4-octet entries until the bottom-of-stack bit.
    for (let o = 0; o + 4 <= payload.length; o += 4) if (payload[o + 2]! & 0x01) return inspect(payload.subarray(o + 4), depth + 1, c, customers, flows, tcpFlows);
    return;
  }
  if (proto !== PROTO_ICMP && proto !== PROTO_UDP && proto !== PROTO_TCP) return;
  if (!customers.has(dv.getUint32(12)) || !customers.has(dv.getUint32(16))) return;
  let data: Uint8Array;
  if (proto === PROTO_TCP) {
    if (payload.length < 20) return;
    data = payload.subarray(Math.min(payload.length, (payload[12]! >> 4) * 4));
  } else {
    if (payload.length < 8) return;
    data = payload.subarray(8);
  }
  c.clearPackets++;
  c.clearPayloadBytes += data.length;
  // Which flow: ping echo request/reply identifier, the UDP flow magic, or a tcp flow's ports.
  const pv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  let flow: number | undefined;
  if (proto === PROTO_ICMP && (payload[0] === 8 || payload[0] === 0)) flow = pv.getUint16(4) - PING_ID_BASE;
  else if (proto === PROTO_UDP && payload.length >= 16 && pv.getUint32(8) === FLOW_MAGIC) flow = pv.getUint32(12);
  else if (proto === PROTO_TCP) flow = tcpFlows.get(pv.getUint32(0));
  if (flow !== undefined && flow >= 0) flows[flow] = (flows[flow] ?? 0) + 1;
}
