// A Wireshark-like dissector for the frames the taps capture (LINKTYPE_RAW: IPv4 first): a tree of
// layers and fields, each with its byte range, plus a kind, a one-line summary and a payload preview.
// Owns presentation of bytes only: it never throws on any input (a malformed layer carries its error),
// never keeps state, and decrypts ESP only with keys the caller hands it.

import { formatIpv4, parseIpv4 } from '../lib/addr.ts';
import { hex } from '../lib/bytes.ts';
import { internetChecksum, ipv4PseudoHeaderSum } from '../proto/ip/checksum.ts';
import { decodeIpv4, IP_PROTO_ESP, IP_PROTO_ICMP, IP_PROTO_TCP, IP_PROTO_UDP } from '../proto/ip/index.ts';
import { AS2_CONTEXT, AS4_CONTEXT, attributeDescriptor, decodeMessage as decodeBgp, formatCommunity, formatExtendedCommunity, type PathAttribute } from '../proto/bgp/index.ts';
import { formatNlri } from '../proto/bgp/rib.ts';
import { decodeMessage as decodeIke, exchangeName, notifyName, payloadName, type Payload } from '../proto/ike/index.ts';
import { decodeGsa, decodeIdg, decodeKd, GKM_EXCHANGE, GKM_PAYLOAD, gkmExchangeName, gkmNotifyName } from '../proto/gkm/index.ts';
import { aeadOpen, espAad } from '../dataplane/esp-ts.ts';
import type { EspSaExport } from '../node/types.ts';

/** IP protocol 137: MPLS-in-IP (RFC 4023). */
export const IP_PROTO_MPLS_IN_IP = 137;
export const TCP_PORT_BGP = 179;
export const UDP_PORT_IKE = 500;
export const UDP_PORT_IKE_NAT_T = 4500;
export const UDP_PORT_GKM = 848;

export const PACKET_KINDS = ['BGP', 'IKE', 'G-IKEv2', 'ESP', 'MPLS', 'ICMP', 'UDP', 'TCP', 'IP', 'malformed'] as const;
export type PacketKind = (typeof PACKET_KINDS)[number];

/** One node of the tree: a layer or a field, with its bytes `[start, end)` in buffer `buffer`. */
export interface TreeNode {
  label: string;
  start: number;
  end: number;
  /** 0: the captured frame; 1..: derived buffers (a decrypted ESP payload), see Dissection.buffers. */
  buffer: number;
  children: TreeNode[];
  /** Why this layer could not be decoded (the bytes are still shown). */
  error?: string;
}

export interface Dissection {
  layers: TreeNode[];
  /** The frame and any buffers derived from it (decrypted payloads), indexed by TreeNode.buffer. */
  buffers: { name: string; bytes: Uint8Array }[];
  kind: PacketKind;
  /** Wireshark's Info column. */
  summary: string;
  src?: string;
  dst?: string;
  /** What a provider reading the link sees of the payload: text for clear packets, a note for ESP. */
  preview: string;
}

export interface DissectOptions {
  /** ESP SAs the viewer holds (e.g. every node's `espSas`): matching ESP is decrypted and dissected. */
  keys?: readonly EspSaExport[];
}

/** A field ran past the bytes that are there. */
class Truncated extends Error {}

const KIND_RANK: Record<PacketKind, number> = { malformed: 0, IP: 1, UDP: 2, TCP: 2, ICMP: 3, BGP: 4, IKE: 4, 'G-IKEv2': 4, MPLS: 5, ESP: 6 };

class Ctx {
  kind: PacketKind = 'IP';
  summary = '';
  preview = '';
  readonly buffers: { name: string; bytes: Uint8Array }[] = [];
  /** Depth of encapsulation: kind and summary come from the outermost packet. */
  depth = 0;
  src?: string;
  dst?: string;
  constructor(readonly keys: readonly EspSaExport[]) {}
  classify(kind: PacketKind, summary: string): void {
    if (this.depth > 0) return;
    if (KIND_RANK[kind] >= KIND_RANK[this.kind] || this.kind === 'IP') {
      this.kind = kind;
      this.summary = summary;
    }
  }
  previewIfEmpty(text: string): void {
    if (this.depth === 0 && !this.preview) this.preview = text;
  }
}

/** A builder over one buffer with bounds-checked readers. */
class Bytes {
  constructor(
    readonly b: Uint8Array,
    readonly buffer: number,
  ) {}
  need(off: number, len: number, what: string): void {
    if (off < 0 || len < 0 || off + len > this.b.length) throw new Truncated(`${what}: needs ${len} octets at offset ${off}, the packet has ${this.b.length}`);
  }
  u8(off: number, what = 'field'): number {
    this.need(off, 1, what);
    return this.b[off]!;
  }
  u16(off: number, what = 'field'): number {
    this.need(off, 2, what);
    return (this.b[off]! << 8) | this.b[off + 1]!;
  }
  u32(off: number, what = 'field'): number {
    this.need(off, 4, what);
    return ((this.b[off]! << 24) | (this.b[off + 1]! << 16) | (this.b[off + 2]! << 8) | this.b[off + 3]!) >>> 0;
  }
  node(label: string, start: number, end: number, children: TreeNode[] = []): TreeNode {
    return { label, start, end: Math.min(Math.max(start, end), this.b.length), buffer: this.buffer, children };
  }
  /** A field of `len` octets at `off` (checked) labelled `name: value`. */
  field(name: string, off: number, len: number, value: string): TreeNode {
    this.need(off, len, name);
    return this.node(`${name}: ${value}`, off, off + len);
  }
}

/** Runs one layer's decoder; a thrown Truncated (or any bug) becomes the layer's error. */
function layer(bx: Bytes, label: string, start: number, end: number, fill: (n: TreeNode) => void): TreeNode {
  const n = bx.node(label, start, end);
  try {
    fill(n);
  } catch (e) {
    n.error = e instanceof Error ? e.message : String(e);
  }
  return n;
}

const hex8 = (v: number): string => `0x${(v >>> 0).toString(16).padStart(8, '0')}`;
const hex4 = (v: number): string => `0x${v.toString(16).padStart(4, '0')}`;
const hex2 = (v: number): string => `0x${v.toString(16).padStart(2, '0')}`;
const shortHex = (b: Uint8Array, max = 16): string => (b.length > max ? `${hex(b.subarray(0, max))}… (${b.length} octets)` : hex(b) || '(empty)');
const ip4 = (bx: Bytes, off: number): string => formatIpv4(bx.u32(off, 'IPv4 address'));

/** Printable ASCII of a payload, other octets as '.', at most `max` characters. */
export function printable(bytes: Uint8Array, max = 64): string {
  let s = '';
  for (let i = 0; i < Math.min(bytes.length, max); i++) {
    const c = bytes[i]!;
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.';
  }
  return bytes.length > max ? `${s}…` : s;
}

// --- IPv4 (RFC 791) -----------------------------------------------------------------------------

const PROTO_NAMES: Record<number, string> = { 1: 'ICMP', 4: 'IPv4', 6: 'TCP', 17: 'UDP', 41: 'IPv6', 47: 'GRE', 50: 'ESP', 51: 'AH', [IP_PROTO_MPLS_IN_IP]: 'MPLS-in-IP' };

function dissectIpv4(ctx: Ctx, bx: Bytes, start: number, out: TreeNode[]): void {
  let payloadStart = -1;
  let payloadEnd = -1;
  let proto = -1;
  let src = 0;
  let dst = 0;
  let fragment = false;
  const n = layer(bx, 'Internet Protocol Version 4', start, bx.b.length, (n) => {
    const vihl = bx.u8(start, 'version/IHL');
    const version = vihl >> 4;
    const ihl = (vihl & 0xf) * 4;
    n.children.push(bx.field('Version', start, 1, String(version)), bx.field('Header Length', start, 1, `${ihl} bytes (${vihl & 0xf})`));
    if (version !== 4) throw new Error(`version ${version}: not IPv4`);
    if (ihl < 20) throw new Error(`header length ${ihl} is less than 20`);
    bx.need(start, ihl, 'IPv4 header');
    const tos = bx.u8(start + 1);
    n.children.push(bx.field('Differentiated Services', start + 1, 1, `DSCP ${tos >> 2}, ECN ${tos & 3}`));
    const total = bx.u16(start + 2);
    n.children.push(bx.field('Total Length', start + 2, 2, String(total)));
    n.children.push(bx.field('Identification', start + 4, 2, hex4(bx.u16(start + 4))));
    const ff = bx.u16(start + 6);
    const flags = [ff & 0x8000 ? 'RB' : '', ff & 0x4000 ? 'DF' : '', ff & 0x2000 ? 'MF' : ''].filter(Boolean).join(', ') || 'none';
    n.children.push(bx.field('Flags', start + 6, 1, flags), bx.field('Fragment Offset', start + 6, 2, String((ff & 0x1fff) * 8)));
    fragment = (ff & 0x3fff) !== 0;
    n.children.push(bx.field('Time to Live', start + 8, 1, String(bx.u8(start + 8))));
    proto = bx.u8(start + 9);
    n.children.push(bx.field('Protocol', start + 9, 1, `${PROTO_NAMES[proto] ?? 'unknown'} (${proto})`));
    const sum = internetChecksum(bx.b.subarray(start, start + ihl));
    n.children.push(bx.field('Header Checksum', start + 10, 2, `${hex4(bx.u16(start + 10))} [${sum === 0 ? 'correct' : 'incorrect'}]`));
    src = bx.u32(start + 12);
    dst = bx.u32(start + 16);
    n.children.push(bx.field('Source Address', start + 12, 4, formatIpv4(src)), bx.field('Destination Address', start + 16, 4, formatIpv4(dst)));
    if (ihl > 20) n.children.push(bx.node(`Options (${ihl - 20} bytes)`, start + 20, start + ihl));
    n.label = `Internet Protocol Version 4, Src: ${formatIpv4(src)}, Dst: ${formatIpv4(dst)}`;
    if (total < ihl) throw new Error(`total length ${total} is less than the header length ${ihl}`);
    n.end = Math.min(start + total, bx.b.length);
    if (start + total > bx.b.length) n.error = `total length ${total} but only ${bx.b.length - start} octets captured`;
    // The codec's own verdict (checksum, lengths, options) when the packet is the whole buffer.
    if (start === 0 && !n.error) {
      const d = decodeIpv4(bx.b.subarray(start, start + total));
      if (!d.ok) n.error = `${d.error.field}: ${d.error.message}`;
    }
    payloadStart = start + ihl;
    payloadEnd = Math.min(start + total, bx.b.length);
  });
  out.push(n);
  if (ctx.depth === 0 && payloadStart >= 0) {
    ctx.src ??= formatIpv4(src);
    ctx.dst ??= formatIpv4(dst);
  }
  if (payloadStart < 0) {
    ctx.classify('malformed', n.error ?? 'malformed IPv4');
    return;
  }
  const payload = new Bytes(bx.b.subarray(0, payloadEnd), bx.buffer);
  if (fragment) {
    ctx.classify('IP', `Fragmented IP protocol (proto=${proto})`);
    out.push(payload.node(`Fragment data (${payloadEnd - payloadStart} bytes)`, payloadStart, payloadEnd));
    return;
  }
  switch (proto) {
    case IP_PROTO_ICMP:
      return dissectIcmp(ctx, payload, payloadStart, out);
    case IP_PROTO_UDP:
      return dissectUdp(ctx, payload, payloadStart, src, dst, out);
    case IP_PROTO_TCP:
      return dissectTcp(ctx, payload, payloadStart, src, dst, out);
    case IP_PROTO_ESP:
      return dissectEsp(ctx, payload, payloadStart, dst, out);
    case IP_PROTO_MPLS_IN_IP:
      return dissectMpls(ctx, payload, payloadStart, out);
    default:
      ctx.classify('IP', `IP protocol ${proto}`);
      out.push(payload.node(`Data (${payloadEnd - payloadStart} bytes)`, payloadStart, payloadEnd));
      ctx.previewIfEmpty(printable(payload.b.subarray(payloadStart)));
  }
}

// --- ICMP (RFC 792) ---------------------------------------------------------------------------

const ICMP_TYPES: Record<number, string> = { 0: 'Echo (ping) reply', 3: 'Destination unreachable', 8: 'Echo (ping) request', 11: 'Time-to-live exceeded' };

function dissectIcmp(ctx: Ctx, bx: Bytes, start: number, out: TreeNode[]): void {
  let quoted = -1;
  const n = layer(bx, 'Internet Control Message Protocol', start, bx.b.length, (n) => {
    const type = bx.u8(start, 'type');
    const code = bx.u8(start + 1, 'code');
    const name = ICMP_TYPES[type] ?? `type ${type}`;
    n.children.push(bx.field('Type', start, 1, `${type} (${name})`), bx.field('Code', start + 1, 1, String(code)));
    const sum = internetChecksum(bx.b.subarray(start));
    n.children.push(bx.field('Checksum', start + 2, 2, `${hex4(bx.u16(start + 2))} [${sum === 0 ? 'correct' : 'incorrect'}]`));
    let summary = name;
    if (type === 0 || type === 8) {
      const id = bx.u16(start + 4);
      const seq = bx.u16(start + 6);
      n.children.push(bx.field('Identifier', start + 4, 2, String(id)), bx.field('Sequence Number', start + 6, 2, String(seq)));
      if (bx.b.length > start + 8) n.children.push(bx.node(`Data (${bx.b.length - start - 8} bytes)`, start + 8, bx.b.length));
      summary = `${name} id=${hex4(id)}, seq=${seq}`;
      ctx.previewIfEmpty(`${name}: ${printable(bx.b.subarray(start + 8), 48)}`);
    } else if (type === 3 || type === 11) {
      bx.need(start, 8, 'ICMP header');
      n.children.push(bx.node(type === 3 && code === 4 ? `Next-hop MTU: ${bx.u16(start + 6)}` : 'Unused', start + 4, start + 8));
      quoted = start + 8;
      ctx.previewIfEmpty(`${name} (code ${code})`);
    }
    n.label = `Internet Control Message Protocol, ${summary}`;
    ctx.classify('ICMP', summary);
  });
  out.push(n);
  if (quoted >= 0 && quoted < bx.b.length) {
    // The quoted header of the packet in error (RFC 792): dissected as a nested IPv4 packet.
    ctx.depth++;
    const inner: TreeNode[] = [];
    dissectIpv4(ctx, bx, quoted, inner);
    ctx.depth--;
    n.children.push(...inner);
  }
}

// --- UDP (RFC 768) ----------------------------------------------------------------------------

function dissectUdp(ctx: Ctx, bx: Bytes, start: number, src: number, dst: number, out: TreeNode[]): void {
  let srcPort = -1;
  let dstPort = -1;
  let end = bx.b.length;
  const n = layer(bx, 'User Datagram Protocol', start, bx.b.length, (n) => {
    srcPort = bx.u16(start, 'source port');
    dstPort = bx.u16(start + 2, 'destination port');
    const len = bx.u16(start + 4, 'length');
    n.children.push(bx.field('Source Port', start, 2, String(srcPort)), bx.field('Destination Port', start + 2, 2, String(dstPort)), bx.field('Length', start + 4, 2, String(len)));
    const cs = bx.u16(start + 6, 'checksum');
    let verdict = 'not used';
    if (cs !== 0 && start + len <= bx.b.length && len >= 8) verdict = internetChecksum(bx.b.subarray(start, start + len), ipv4PseudoHeaderSum(src, dst, IP_PROTO_UDP, len)) === 0 ? 'correct' : 'incorrect';
    n.children.push(bx.field('Checksum', start + 6, 2, `${hex4(cs)} [${verdict}]`));
    n.label = `User Datagram Protocol, Src Port: ${srcPort}, Dst Port: ${dstPort}`;
    if (len < 8) throw new Error(`length ${len} is less than the 8-octet header`);
    if (start + len > bx.b.length) throw new Error(`length ${len} but ${bx.b.length - start} octets in the packet`);
    end = start + len;
    ctx.classify('UDP', `${srcPort} → ${dstPort} Len=${len - 8}`);
  });
  out.push(n);
  if (srcPort < 0 || n.error) return;
  const body = start + 8;
  const data = bx.b.subarray(body, end);
  const ports = [srcPort, dstPort];
  if (ports.includes(UDP_PORT_GKM)) return dissectIkeHeader(ctx, bx, body, end, out, true);
  if (ports.includes(UDP_PORT_IKE)) return dissectIkeHeader(ctx, bx, body, end, out, false);
  if (ports.includes(UDP_PORT_IKE_NAT_T)) {
    // RFC 3948: four zero octets mark IKE; anything else is ESP in UDP.
    if (data.length >= 4 && data[0] === 0 && data[1] === 0 && data[2] === 0 && data[3] === 0) {
      out.push(bx.node('Non-ESP Marker', body, body + 4));
      return dissectIkeHeader(ctx, bx, body + 4, end, out, false);
    }
    return dissectEsp(ctx, new Bytes(bx.b.subarray(0, end), bx.buffer), body, dst, out);
  }
  if (data.length) {
    out.push(bx.node(`Data (${data.length} bytes)`, body, end));
    ctx.previewIfEmpty(printable(data));
  }
}

// --- TCP (RFC 9293) ---------------------------------------------------------------------------

const TCP_OPTIONS: Record<number, string> = { 0: 'End of Option List', 1: 'No-Operation', 2: 'Maximum segment size', 3: 'Window scale', 4: 'SACK permitted', 5: 'SACK', 8: 'Timestamps', 19: 'TCP MD5 signature', 29: 'TCP-AO' };

function tcpFlags(f: number): string {
  const names = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR'];
  return names.filter((_, i) => f & (1 << i)).join(', ');
}

function dissectTcp(ctx: Ctx, bx: Bytes, start: number, src: number, dst: number, out: TreeNode[]): void {
  let payload = -1;
  let srcPort = 0;
  let dstPort = 0;
  const n = layer(bx, 'Transmission Control Protocol', start, bx.b.length, (n) => {
    srcPort = bx.u16(start, 'source port');
    dstPort = bx.u16(start + 2, 'destination port');
    const seq = bx.u32(start + 4, 'sequence number');
    const ack = bx.u32(start + 8, 'acknowledgment number');
    const off = (bx.u8(start + 12, 'data offset') >> 4) * 4;
    const flags = bx.u8(start + 13, 'flags');
    n.children.push(
      bx.field('Source Port', start, 2, String(srcPort)),
      bx.field('Destination Port', start + 2, 2, String(dstPort)),
      bx.field('Sequence Number', start + 4, 4, String(seq)),
      bx.field('Acknowledgment Number', start + 8, 4, String(ack)),
      bx.field('Header Length', start + 12, 1, `${off} bytes`),
      bx.field('Flags', start + 12, 2, `${hex2(flags)} (${tcpFlags(flags) || 'none'})`),
      bx.field('Window', start + 14, 2, String(bx.u16(start + 14))),
    );
    const len = bx.b.length - start;
    const sum = internetChecksum(bx.b.subarray(start), ipv4PseudoHeaderSum(src, dst, IP_PROTO_TCP, len));
    n.children.push(bx.field('Checksum', start + 16, 2, `${hex4(bx.u16(start + 16))} [${sum === 0 ? 'correct' : 'incorrect'}]`), bx.field('Urgent Pointer', start + 18, 2, String(bx.u16(start + 18))));
    if (off < 20) throw new Error(`data offset ${off} is less than 20`);
    bx.need(start, off, 'TCP header');
    if (off > 20) {
      const opts = bx.node(`Options (${off - 20} bytes)`, start + 20, start + off);
      n.children.push(opts);
      let o = start + 20;
      while (o < start + off) {
        const kind = bx.u8(o);
        if (kind === 0 || kind === 1) {
          opts.children.push(bx.node(`${TCP_OPTIONS[kind]}`, o, o + 1));
          o++;
          if (kind === 0) break;
          continue;
        }
        const olen = bx.u8(o + 1, 'option length');
        if (olen < 2 || o + olen > start + off) {
          opts.error = `option ${kind} has a bad length ${olen}`;
          break;
        }
        let value = shortHex(bx.b.subarray(o + 2, o + olen));
        if (kind === 2 && olen === 4) value = String(bx.u16(o + 2));
        if (kind === 3 && olen === 3) value = `shift ${bx.u8(o + 2)}`;
        if (kind === 8 && olen === 10) value = `TSval ${bx.u32(o + 2)}, TSecr ${bx.u32(o + 6)}`;
        if (kind === 29 && olen >= 4) value = `KeyID ${bx.u8(o + 2)}, RNextKeyID ${bx.u8(o + 3)}, MAC ${shortHex(bx.b.subarray(o + 4, o + olen))}`;
        opts.children.push(bx.node(`${TCP_OPTIONS[kind] ?? `Option ${kind}`}: ${value}`, o, o + olen));
        o += olen;
      }
    }
    payload = start + off;
    const plen = bx.b.length - payload;
    n.label = `Transmission Control Protocol, Src Port: ${srcPort}, Dst Port: ${dstPort}, Seq: ${seq}, Len: ${plen}`;
    ctx.classify('TCP', `${srcPort} → ${dstPort} [${tcpFlags(flags)}] Seq=${seq} Ack=${ack} Len=${plen}`);
  });
  out.push(n);
  if (payload < 0 || payload >= bx.b.length) return;
  if (srcPort === TCP_PORT_BGP || dstPort === TCP_PORT_BGP) return dissectBgp(ctx, bx, payload, out);
  out.push(bx.node(`Data (${bx.b.length - payload} bytes)`, payload, bx.b.length));
  ctx.previewIfEmpty(printable(bx.b.subarray(payload)));
}

// --- BGP (RFC 4271, RFC 4760, RFC 4364) ------------------------------------------------------

const BGP_TYPES: Record<number, string> = { 1: 'OPEN', 2: 'UPDATE', 3: 'NOTIFICATION', 4: 'KEEPALIVE', 5: 'ROUTE-REFRESH' };
const CAPABILITIES: Record<number, string> = { 1: 'Multiprotocol extensions', 2: 'Route refresh', 64: 'Graceful restart', 65: 'Support for 4-octet AS number', 69: 'ADD-PATH', 70: 'Enhanced route refresh' };

function dissectBgp(ctx: Ctx, bx: Bytes, start: number, out: TreeNode[]): void {
  let o = start;
  const names: string[] = [];
  const previews: string[] = [];
  while (o < bx.b.length) {
    const left = bx.b.length - o;
    const len = left >= 19 ? bx.u16(o + 16) : 0;
    if (left < 19 || len > left) {
      out.push({ ...bx.node(`BGP segment data (${left} bytes): part of a message continued in another segment`, o, bx.b.length), children: [] });
      names.push('continuation');
      break;
    }
    const msgStart = o;
    const type = bx.u8(o + 18);
    const name = BGP_TYPES[type] ?? `type ${type}`;
    const n = layer(bx, `Border Gateway Protocol - ${name} Message`, o, o + Math.max(len, 19), (n) => {
      let marker = true;
      for (let i = 0; i < 16; i++) if (bx.b[msgStart + i] !== 0xff) marker = false;
      n.children.push(bx.field('Marker', msgStart, 16, marker ? 'all ones' : 'NOT all ones'), bx.field('Length', msgStart + 16, 2, String(len)), bx.field('Type', msgStart + 18, 1, `${name} (${type})`));
      if (len < 19) throw new Error(`length ${len} is less than the 19-octet header`);
      const body = msgStart + 19;
      const end = msgStart + len;
      const msg = bx.b.subarray(msgStart, end);
      let decoded = decodeBgp(msg, AS4_CONTEXT);
      if (!decoded.ok) decoded = decodeBgp(msg, AS2_CONTEXT);
      if (type === 1) bgpOpen(bx, body, end, n);
      else if (type === 2) previews.push(bgpUpdate(bx, body, end, n, decoded.ok ? decoded.value.message : undefined));
      else if (type === 3) {
        n.children.push(bx.field('Error code', body, 1, String(bx.u8(body))), bx.field('Error subcode', body + 1, 1, String(bx.u8(body + 1))));
        if (end > body + 2) n.children.push(bx.node(`Data: ${shortHex(bx.b.subarray(body + 2, end))}`, body + 2, end));
        previews.push(`NOTIFICATION ${bx.u8(body)}/${bx.u8(body + 1)}`);
      } else if (type === 5) {
        n.children.push(bx.field('AFI', body, 2, String(bx.u16(body))), bx.field('Reserved', body + 2, 1, String(bx.u8(body + 2))), bx.field('SAFI', body + 3, 1, String(bx.u8(body + 3))));
      }
      if (!decoded.ok) n.error = `${decoded.error.field}: ${decoded.error.message}`;
      else if (decoded.value.error) n.error = `RFC 7606: ${decoded.value.error.field}: ${decoded.value.error.message}`;
    });
    out.push(n);
    names.push(name);
    if (type === 1) previews.push('OPEN');
    if (type === 4) previews.push('KEEPALIVE');
    o = msgStart + Math.max(len, 19);
  }
  ctx.classify('BGP', names.join(', '));
  ctx.previewIfEmpty(previews.join('; '));
}

function bgpOpen(bx: Bytes, body: number, end: number, n: TreeNode): void {
  n.children.push(
    bx.field('Version', body, 1, String(bx.u8(body))),
    bx.field('My AS', body + 1, 2, String(bx.u16(body + 1))),
    bx.field('Hold Time', body + 3, 2, String(bx.u16(body + 3))),
    bx.field('BGP Identifier', body + 5, 4, ip4(bx, body + 5)),
    bx.field('Optional Parameters Length', body + 9, 1, String(bx.u8(body + 9))),
  );
  let o = body + 10;
  const optEnd = Math.min(end, o + bx.u8(body + 9));
  while (o < optEnd) {
    const ptype = bx.u8(o);
    const plen = bx.u8(o + 1);
    if (o + 2 + plen > optEnd) throw new Error(`optional parameter length ${plen} overruns the parameters`);
    const p = bx.node(`Optional Parameter: ${ptype === 2 ? 'Capability' : `type ${ptype}`} (${plen} bytes)`, o, o + 2 + plen);
    n.children.push(p);
    if (ptype === 2) {
      let c = o + 2;
      while (c < o + 2 + plen) {
        const code = bx.u8(c);
        const clen = bx.u8(c + 1);
        if (c + 2 + clen > o + 2 + plen) throw new Error(`capability ${code} length ${clen} overruns its parameter`);
        let value = shortHex(bx.b.subarray(c + 2, c + 2 + clen));
        if (code === 1 && clen === 4) value = `AFI ${bx.u16(c + 2)}, SAFI ${bx.u8(c + 5)}`;
        if (code === 65 && clen === 4) value = `AS ${bx.u32(c + 2)}`;
        p.children.push(bx.node(`${CAPABILITIES[code] ?? `Capability ${code}`}${clen ? `: ${value}` : ''}`, c, c + 2 + clen));
        c += 2 + clen;
      }
    }
    o += 2 + plen;
  }
}

/** Walks IPv4 prefixes (length octet + address octets) in [o, end). */
function bgpPrefixes(bx: Bytes, o: number, end: number, parent: TreeNode): string[] {
  const shown: string[] = [];
  while (o < end) {
    const bits = bx.u8(o, 'prefix length');
    const octets = Math.ceil(bits / 8);
    if (o + 1 + octets > end) throw new Error(`prefix of ${bits} bits overruns its field`);
    const a = [0, 0, 0, 0];
    for (let i = 0; i < Math.min(octets, 4); i++) a[i] = bx.b[o + 1 + i]!;
    const text = `${a.join('.')}/${bits}`;
    shown.push(text);
    parent.children.push(bx.node(text, o, o + 1 + octets));
    o += 1 + octets;
  }
  return shown;
}

function attributeValue(a: PathAttribute | undefined): string | undefined {
  if (!a || !('value' in a)) return undefined;
  switch (a.type) {
    case 'ORIGIN':
      return ['IGP', 'EGP', 'INCOMPLETE'][a.value] ?? String(a.value);
    case 'AS_PATH':
    case 'AS4_PATH':
      return a.value.map((s) => (s.type === 1 ? `{${s.asNumbers.join(',')}}` : s.asNumbers.join(' '))).join(' ') || '(empty)';
    case 'NEXT_HOP':
    case 'ORIGINATOR_ID':
      return formatIpv4(a.value);
    case 'MULTI_EXIT_DISC':
    case 'LOCAL_PREF':
      return String(a.value);
    case 'COMMUNITIES':
      return a.value.map(formatCommunity).join(' ');
    case 'CLUSTER_LIST':
      return a.value.map(formatIpv4).join(' ');
    case 'EXTENDED_COMMUNITIES':
      return a.value.map(formatExtendedCommunity).join(', ');
    case 'MP_REACH_NLRI': {
      const v = a.value;
      if (v.family === 'other') return `AFI ${v.afi} SAFI ${v.safi}`;
      return `${v.family}, next hop ${formatIpv4(v.nextHop)}, ${(v.nlri as never[]).map((x) => formatNlri(v.family, x)).join(', ') || 'no NLRI'}`;
    }
    case 'MP_UNREACH_NLRI': {
      const v = a.value;
      if (v.family === 'other') return `AFI ${v.afi} SAFI ${v.safi}`;
      return `${v.family}, withdrawn ${(v.withdrawnRoutes as never[]).map((x) => formatNlri(v.family, x)).join(', ') || 'none (End-of-RIB)'}`;
    }
    default:
      return undefined;
  }
}

function bgpUpdate(bx: Bytes, body: number, end: number, n: TreeNode, decoded: import('../proto/bgp/index.ts').BgpMessage | undefined): string {
  const wlen = bx.u16(body, 'withdrawn routes length');
  if (body + 2 + wlen > end) throw new Error(`withdrawn routes length ${wlen} overruns the message`);
  n.children.push(bx.field('Withdrawn Routes Length', body, 2, String(wlen)));
  const withdrawn = bx.node(`Withdrawn Routes (${wlen} bytes)`, body + 2, body + 2 + wlen);
  if (wlen) n.children.push(withdrawn);
  const wd = bgpPrefixes(bx, body + 2, Math.min(body + 2 + wlen, end), withdrawn);
  const ao = body + 2 + wlen;
  const alen = bx.u16(ao, 'total path attribute length');
  if (ao + 2 + alen > end) throw new Error(`total path attribute length ${alen} overruns the message`);
  n.children.push(bx.field('Total Path Attribute Length', ao, 2, String(alen)));
  const attrs = bx.node(`Path Attributes (${alen} bytes)`, ao + 2, ao + 2 + alen);
  n.children.push(attrs);
  const update = decoded?.type === 'UPDATE' ? decoded : undefined;
  const parts: string[] = [];
  let o = ao + 2;
  const aend = Math.min(ao + 2 + alen, end);
  while (o < aend) {
    const flags = bx.u8(o, 'attribute flags');
    const code = bx.u8(o + 1, 'attribute type');
    const ext = (flags & 0x10) !== 0;
    const len = ext ? bx.u16(o + 2, 'attribute length') : bx.u8(o + 2, 'attribute length');
    const hl = ext ? 4 : 3;
    if (o + hl + len > aend) throw new Error(`attribute ${code} length ${len} overruns the path attributes`);
    const name = attributeDescriptor(code)?.name ?? `type ${code}`;
    const value = attributeValue(update?.pathAttributes.find((a) => a.type === name));
    const a = bx.node(`Path Attribute - ${name}${value !== undefined ? `: ${value}` : ''}`, o, o + hl + len);
    a.children.push(bx.field('Flags', o, 1, `${hex2(flags)} (${[flags & 0x80 ? 'Optional' : 'Well-known', flags & 0x40 ? 'Transitive' : 'Non-transitive', flags & 0x20 ? 'Partial' : 'Complete', ext ? 'Extended Length' : ''].filter(Boolean).join(', ')})`));
    a.children.push(bx.field('Type Code', o + 1, 1, `${name} (${code})`), bx.field('Length', o + 2, hl - 2, String(len)));
    if (len) a.children.push(bx.node(`Value: ${shortHex(bx.b.subarray(o + hl, o + hl + len), 24)}`, o + hl, o + hl + len));
    attrs.children.push(a);
    if (name === 'MP_REACH_NLRI' || name === 'MP_UNREACH_NLRI') parts.push(`${name === 'MP_REACH_NLRI' ? 'reach' : 'unreach'} ${value ?? ''}`);
    o += hl + len;
  }
  if (ao + 2 + alen < end) {
    const nl = bx.node('Network Layer Reachability Information', ao + 2 + alen, end);
    n.children.push(nl);
    const prefixes = bgpPrefixes(bx, ao + 2 + alen, end, nl);
    const nh = attributeValue(update?.pathAttributes.find((a) => a.type === 'NEXT_HOP'));
    parts.unshift(`${prefixes.join(', ')}${nh ? ` via ${nh}` : ''}`);
  }
  if (wd.length) parts.push(`withdraw ${wd.join(', ')}`);
  return `UPDATE ${parts.join('; ') || '(End-of-RIB)'}`;
}

// --- IKEv2 (RFC 7296) and G-IKEv2 (RFC 9838) ---------------------------------------------------

const FLAG_INITIATOR = 0x08;
const FLAG_RESPONSE = 0x20;

function nameOfPayload(type: number): string {
  if (type === GKM_PAYLOAD.IDG) return 'Group Identification (IDg)';
  if (type === GKM_PAYLOAD.GSA) return 'Group Security Association (GSA)';
  if (type === GKM_PAYLOAD.KD) return 'Key Download (KD)';
  return payloadName(type);
}

function dissectIkeHeader(ctx: Ctx, bx: Bytes, start: number, end: number, out: TreeNode[], group: boolean): void {
  const proto = group ? 'G-IKEv2' : 'IKEv2';
  const kind: PacketKind = group ? 'G-IKEv2' : 'IKE';
  const ib = new Bytes(bx.b.subarray(0, end), bx.buffer);
  const n = layer(ib, `${group ? 'Group Internet Key Exchange (G-IKEv2)' : 'Internet Key Exchange Version 2'}`, start, end, (n) => {
    ib.need(start, 28, `${proto} header`);
    const spiI = ib.b.subarray(start, start + 8);
    const spiR = ib.b.subarray(start + 8, start + 16);
    const next = ib.u8(start + 16);
    const version = ib.u8(start + 17);
    const exch = ib.u8(start + 18);
    const flags = ib.u8(start + 19);
    const msgId = ib.u32(start + 20);
    const length = ib.u32(start + 24);
    const exName = gkmExchangeName(exch) ?? exchangeName(exch);
    n.children.push(
      ib.field('Initiator SPI', start, 8, hex(spiI)),
      ib.field('Responder SPI', start + 8, 8, hex(spiR)),
      ib.field('Next Payload', start + 16, 1, `${nameOfPayload(next)} (${next})`),
      ib.field('Version', start + 17, 1, `${version >> 4}.${version & 0xf}`),
      ib.field('Exchange Type', start + 18, 1, `${exName} (${exch})`),
      ib.field('Flags', start + 19, 1, `${hex2(flags)} (${flags & FLAG_INITIATOR ? 'Initiator' : 'Responder'}, ${flags & FLAG_RESPONSE ? 'Response' : 'Request'})`),
      ib.field('Message ID', start + 20, 4, String(msgId)),
      ib.field('Length', start + 24, 4, String(length)),
    );
    const role = flags & FLAG_RESPONSE ? 'response' : 'request';
    const isGroupExchange = Object.values(GKM_EXCHANGE).includes(exch as never);
    ctx.classify(group || isGroupExchange ? 'G-IKEv2' : kind, `${exName} MID=${msgId} ${flags & FLAG_INITIATOR ? 'Initiator' : 'Responder'} ${role}`);
    ctx.previewIfEmpty(`${proto} ${exName} ${role}`);
    n.label = `${n.label}, ${exName} ${role}, MID ${msgId}`;
    const msgEnd = Math.min(start + length, end);
    if (length < 28) throw new Error(`length ${length} is less than the 28-octet header`);
    if (start + length > end) n.error = `length ${length} but ${end - start} octets in the datagram`;
    // The codec's decode, for the semantic content of each payload (in wire order).
    const decoded = decodeIke(ib.b.subarray(start, msgEnd));
    const payloads: Payload[] = decoded.ok ? decoded.value.payloads : [];
    if (!decoded.ok && !n.error) n.error = `${decoded.error.field}: ${decoded.error.message}`;
    let type = next;
    let o = start + 28;
    let i = 0;
    while (type !== 0 && o < msgEnd) {
      const pn = ib.u8(o, 'payload next');
      const crit = ib.u8(o + 1, 'payload critical');
      const plen = ib.u16(o + 2, 'payload length');
      if (plen < 4 || o + plen > msgEnd) {
        n.children.push({ ...ib.node(`${nameOfPayload(type)} payload`, o, msgEnd), error: `payload length ${plen} does not fit` });
        break;
      }
      const p = ib.node(`${nameOfPayload(type)} (${type})`, o, o + plen);
      p.children.push(ib.field('Next Payload', o, 1, `${nameOfPayload(pn)} (${pn})`), ib.field('Critical', o + 1, 1, crit & 0x80 ? 'yes' : 'no'), ib.field('Payload Length', o + 2, 2, String(plen)));
      describeIkePayload(ib, type, o + 4, o + plen, payloads[i], p);
      n.children.push(p);
      type = pn;
      o += plen;
      i++;
    }
  });
  out.push(n);
}

function describeIkePayload(bx: Bytes, type: number, start: number, end: number, p: Payload | undefined, node: TreeNode): void {
  const body = bx.b.subarray(start, end);
  const add = (label: string) => node.children.push(bx.node(label, start, end));
  if (type === 46) {
    // SK (RFC 7296 §3.14): IV | ciphertext | ICV; the keys stay with the IKE SA.
    node.label = 'Encrypted and Authenticated (SK)';
    add(`Encrypted data (${body.length} bytes): ciphertext, IKE SA keys not held by the viewer`);
    return;
  }
  try {
    if (type === GKM_PAYLOAD.IDG) {
      const r = decodeIdg(body);
      add(r.ok ? `Group ID: ${describe(r.value)}` : `error: ${r.error.message}`);
      return;
    }
    if (type === GKM_PAYLOAD.GSA) {
      const r = decodeGsa(body);
      if (r.ok) for (const pol of r.value) add(`Policy: ${describe(pol)}`);
      else add(`error: ${r.error.message}`);
      return;
    }
    if (type === GKM_PAYLOAD.KD) {
      const r = decodeKd(body);
      if (r.ok) for (const bag of r.value) add(`Key bag: ${describe(bag)}`);
      else add(`error: ${r.error.message}`);
      return;
    }
  } catch (e) {
    node.error = e instanceof Error ? e.message : String(e);
    return;
  }
  if (!p) {
    if (body.length) add(`Data: ${shortHex(body)}`);
    return;
  }
  if (p.kind === 'notify') {
    node.label = `Notify (41): ${gkmNotifyName(p.notifyType) ?? notifyName(p.notifyType)}`;
  }
  if (p.kind === 'ts') {
    for (const s of p.selectors)
      add(s.kind === 'ipv4-range' ? `Traffic Selector: ${formatIpv4(s.startAddr)}-${formatIpv4(s.endAddr)} proto ${s.ipProtocolId || 'any'} ports ${s.startPort}-${s.endPort}` : `Traffic Selector type ${s.tsType}`);
    return;
  }
  add(describe(p));
}

/** A compact `key=value` rendering of a decoded value (byte arrays as hex). */
export function describe(v: unknown, depth = 0): string {
  if (v instanceof Uint8Array) return shortHex(v);
  if (Array.isArray(v)) return `[${v.map((x) => describe(x, depth + 1)).join(', ')}]`;
  if (typeof v === 'bigint') return v.toString();
  if (v && typeof v === 'object') {
    if (depth > 4) return '{…}';
    return Object.entries(v as Record<string, unknown>)
      .filter(([k]) => k !== 'kind' || depth > 0)
      .map(([k, x]) => `${k}=${describe(x, depth + 1)}`)
      .join(' ');
  }
  return String(v);
}

// --- ESP (RFC 4303; AEAD per RFC 4106 / RFC 7634) ----------------------------------------------

function keyFor(keys: readonly EspSaExport[], spi: number, dst: number): EspSaExport | undefined {
  return keys.find((k) => k.spi >>> 0 === spi && (k.dst === '*' || parseIpv4(k.dst) === dst)) ?? keys.find((k) => k.spi >>> 0 === spi);
}

function dissectEsp(ctx: Ctx, bx: Bytes, start: number, dst: number, out: TreeNode[]): void {
  let plain: Uint8Array | undefined;
  const n = layer(bx, 'Encapsulating Security Payload', start, bx.b.length, (n) => {
    const spi = bx.u32(start, 'SPI');
    const seq = bx.u32(start + 4, 'sequence number');
    n.label = `Encapsulating Security Payload, SPI: ${hex8(spi)}, Seq: ${seq}`;
    n.children.push(bx.field('ESP SPI', start, 4, hex8(spi)), bx.field('ESP Sequence', start + 4, 4, String(seq)));
    ctx.classify('ESP', `ESP (SPI=${hex8(spi)}) seq=${seq}`);
    ctx.previewIfEmpty('ESP (encrypted)');
    const rest = bx.b.length - start - 8;
    const sa = keyFor(ctx.keys, spi, dst);
    if (!sa || rest < 8 + 16) {
      n.children.push(bx.node(`Encrypted payload (${rest} bytes): ciphertext${sa ? '' : ', no key for this SA'}`, start + 8, bx.b.length));
      return;
    }
    const keySalt = hexBytes(sa.keyHex);
    const key = keySalt.subarray(0, keySalt.length - 4);
    const salt = keySalt.subarray(keySalt.length - 4);
    const iv = bx.b.subarray(start + 8, start + 16);
    const nonce = new Uint8Array(12);
    nonce.set(salt, 0);
    nonce.set(iv, 4);
    n.children.push(bx.node(`IV: ${hex(iv)}`, start + 8, start + 16));
    const sealed = bx.b.subarray(start + 16);
    plain = aeadOpen(sa.suite, key, nonce, espAad(spi, BigInt(seq), false), sealed);
    n.children.push(bx.node(`Encrypted data (${sealed.length - 16} bytes)`, start + 16, bx.b.length - 16));
    n.children.push(bx.node(`ICV: ${hex(bx.b.subarray(bx.b.length - 16))} [${plain ? 'correct' : 'incorrect with the key held'}]`, bx.b.length - 16, bx.b.length));
    if (!plain) n.error = `the key held for SPI ${hex8(spi)} (${sa.suite}) does not authenticate this packet`;
  });
  out.push(n);
  if (!plain || plain.length < 2) return;
  const index = ctx.buffers.length;
  ctx.buffers.push({ name: `Decrypted ESP (SPI ${n.label.match(/SPI: (\S+),/)?.[1] ?? ''})`, bytes: plain });
  const pb = new Bytes(plain, index);
  const padLen = plain[plain.length - 2]!;
  const next = plain[plain.length - 1]!;
  const innerEnd = plain.length - 2 - padLen;
  const trailer = layer(pb, `ESP Trailer: Pad Length ${padLen}, Next Header ${next}${next === 4 ? ' (IPv4)' : next === 41 ? ' (IPv6)' : ''}`, Math.max(0, innerEnd), plain.length, (t) => {
    if (innerEnd < 0) throw new Error(`pad length ${padLen} is longer than the payload`);
  });
  ctx.depth++;
  const inner: TreeNode[] = [];
  if (next === 4 && innerEnd > 0) dissectIpv4(ctx, new Bytes(plain.subarray(0, innerEnd), index), 0, inner);
  else inner.push(pb.node(`Inner payload (${Math.max(0, innerEnd)} bytes, next header ${next})`, 0, Math.max(0, innerEnd)));
  ctx.depth--;
  n.children.push(...inner, trailer);
}

function hexBytes(text: string): Uint8Array {
  const clean = /^[0-9a-fA-F]*$/.test(text) && text.length % 2 === 0 ? text : '';
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

// --- MPLS in IP (RFC 4023, label stack entries of RFC 3032) ------------------------------------

function dissectMpls(ctx: Ctx, bx: Bytes, start: number, out: TreeNode[]): void {
  let inner = -1;
  const labels: number[] = [];
  const n = layer(bx, 'MultiProtocol Label Switching', start, bx.b.length, (n) => {
    let o = start;
    for (let i = 0; i < 16; i++) {
      const e = bx.u32(o, 'label stack entry');
      const label = e >>> 12;
      const bos = (e >>> 8) & 1;
      labels.push(label);
      const entry = bx.node(`MPLS Label: ${label}, Exp: ${(e >>> 9) & 7}, S: ${bos}, TTL: ${e & 0xff}`, o, o + 4);
      n.children.push(entry);
      o += 4;
      if (bos) {
        inner = o;
        break;
      }
    }
    n.end = o;
    n.label = `MultiProtocol Label Switching, Labels: ${labels.join(', ')}`;
    ctx.classify('MPLS', `MPLS labels ${labels.join('/')}`);
    if (inner < 0) throw new Error('no bottom-of-stack entry in 16 labels');
  });
  out.push(n);
  if (inner < 0 || inner >= bx.b.length) return;
  const version = bx.b[inner]! >> 4;
  ctx.depth++;
  if (version === 4) dissectIpv4(ctx, bx, inner, out);
  else out.push(bx.node(`Data (${bx.b.length - inner} bytes, IP version ${version})`, inner, bx.b.length));
  ctx.depth--;
  if (version === 4) {
    // The provider reads the labelled packet: tell what it carries.
    const kinds = out.slice(1).map((x) => x.label.split(',')[0]).join(' / ');
    ctx.summary = `MPLS labels ${labels.join('/')}: ${kinds}`;
    if (!ctx.preview) ctx.preview = printable(bx.b.subarray(inner + 20), 48);
  }
}

// --- entry point --------------------------------------------------------------------------------

/** Dissects one captured frame (raw IPv4). Never throws. */
export function dissect(frame: Uint8Array, options: DissectOptions = {}): Dissection {
  const ctx = new Ctx(options.keys ?? []);
  ctx.buffers.push({ name: 'Frame', bytes: frame });
  const layers: TreeNode[] = [];
  try {
    const bx = new Bytes(frame, 0);
    layers.push(bx.node(`Frame: ${frame.length} bytes captured (raw IPv4)`, 0, frame.length));
    if (frame.length === 0) {
      ctx.kind = 'malformed';
      ctx.summary = 'empty frame';
    } else if (frame[0]! >> 4 !== 4) {
      layers.push({ ...bx.node(`Data (${frame.length} bytes)`, 0, frame.length), error: `IP version ${frame[0]! >> 4}: only IPv4 is dissected` });
      ctx.kind = 'malformed';
      ctx.summary = `not IPv4 (version ${frame[0]! >> 4})`;
    } else {
      dissectIpv4(ctx, bx, 0, layers);
    }
  } catch (e) {
    // A bug of ours, not the packet's: still never thrown to the caller.
    layers.push({ label: 'Dissector error', start: 0, end: frame.length, buffer: 0, children: [], error: e instanceof Error ? e.message : String(e) });
    ctx.kind = 'malformed';
  }
  const out: Dissection = { layers, buffers: ctx.buffers, kind: ctx.kind, summary: ctx.summary || ctx.kind, preview: ctx.preview };
  if (ctx.src !== undefined) out.src = ctx.src;
  if (ctx.dst !== undefined) out.dst = ctx.dst;
  return out;
}
