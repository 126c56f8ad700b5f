// TCP segment codec (RFC 9293 §3.1): header, flags, options and the IPv4 pseudo-header checksum,
// plus the tcp error catalog. Never keeps connection state or does I/O; never throws on peer bytes.
//
// Length contract (stated once): `decodeTcpSegment` takes the IPv4 payload (already cut to Total
// Length; TCP has no length field of its own) and checks every length before reading, so any byte
// string is safe to pass. Decoded `payload` is a view sharing the input's buffer; option data are
// copies. `encodeTcpSegment(decodeTcpSegment(b))` gives `b` back byte for byte.

import type { DecodeError, Result } from '../../lib/errors.ts';
import { assert, err, ok } from '../../lib/errors.ts';
import { internetChecksum, ipv4PseudoHeaderSum } from './checksum.ts';
import { IP_PROTO_TCP } from './ipv4.ts';

// --- Error catalog of the tcp codec (codes shared with IP_ERROR keep IP_ERROR's spelling). ---

export const TCP_ERROR = {
  /** The bytes end before the fixed header, or before the header length Data Offset announces. */
  TRUNCATED: 'TRUNCATED',
  /** Data Offset below 5 words (RFC 9293 §3.1). */
  BAD_DATA_OFFSET: 'BAD_DATA_OFFSET',
  /** Checksum over pseudo-header, header and data does not verify. */
  BAD_CHECKSUM: 'BAD_CHECKSUM',
  /** An option whose length is illegal or runs past the header (RFC 9293 §3.1, MUST-7). */
  BAD_OPTION: 'BAD_OPTION',
} as const;

export type TcpErrorCode = (typeof TCP_ERROR)[keyof typeof TCP_ERROR];

export function tcpDecodeError(code: TcpErrorCode, field: string, message: string): DecodeError {
  return { code, field, message };
}

// --- Header layout (RFC 9293 §3.1, Figure 1). ---

export const TCP_HEADER_LEN = 20;
export const TCP_MAX_HEADER_LEN = 60;
export const TCP_MAX_OPTIONS_LEN = TCP_MAX_HEADER_LEN - TCP_HEADER_LEN;
export const TCP_MIN_DATA_OFFSET = 5;
/** The pseudo-header's TCP Length is 16 bits. */
export const TCP_MAX_SEGMENT_LEN = 0xffff;

export const TCP_OFFSET_SRC_PORT = 0;
export const TCP_OFFSET_DST_PORT = 2;
export const TCP_OFFSET_SEQ = 4;
export const TCP_OFFSET_ACK = 8;
/** Data Offset (high nibble) and the 4 reserved bits (low nibble). */
export const TCP_OFFSET_DATA_OFFSET = 12;
export const TCP_OFFSET_FLAGS = 13;
export const TCP_OFFSET_WINDOW = 14;
export const TCP_OFFSET_CHECKSUM = 16;
export const TCP_OFFSET_URGENT = 18;

// Control bits (RFC 9293 §3.1; CWR and ECE from RFC 3168).
export const TCP_FLAG_FIN = 0x01;
export const TCP_FLAG_SYN = 0x02;
export const TCP_FLAG_RST = 0x04;
export const TCP_FLAG_PSH = 0x08;
export const TCP_FLAG_ACK = 0x10;
export const TCP_FLAG_URG = 0x20;
export const TCP_FLAG_ECE = 0x40;
export const TCP_FLAG_CWR = 0x80;

// Option kinds (RFC 9293 §3.2; IANA "TCP Option Kind Numbers").
export const TCP_OPTION_EOL = 0;
export const TCP_OPTION_NOP = 1;
export const TCP_OPTION_MSS = 2;
export const TCP_OPTION_WINDOW_SCALE = 3;
export const TCP_OPTION_SACK_PERMITTED = 4;
export const TCP_OPTION_SACK = 5;
export const TCP_OPTION_TIMESTAMPS = 8;
/** RFC 9293 §3.2: the MSS option is kind 2, length 4, then a 16-bit value. */
export const TCP_OPTION_MSS_LEN = 4;

// Well-known ports used by the lab (IANA).
export const TCP_PORT_BGP = 179;

export type TcpOption =
  /** End of Option List, then the rest of the options area as found (RFC 9293 §3.1: zeros). */
  | { kind: 'eol'; padding: Uint8Array }
  | { kind: 'nop' }
  | { kind: 'mss'; mssBytes: number }
  /** Any other kind, kept as received: on the wire `type`, `2 + data.length`, `data`. */
  | { kind: 'raw'; type: number; data: Uint8Array };

export interface TcpSegment {
  srcPort: number;
  dstPort: number;
  /** Sequence Number, unsigned 32-bit. */
  seq: number;
  /** Acknowledgment Number, unsigned 32-bit (meaningful when ACK is set). */
  ack: number;
  /** Control bits, TCP_FLAG_* ORed. */
  flags: number;
  /** The 4 reserved bits (RFC 9293 §3.1: sent as zero, ignored on receipt); kept for exact round trips. */
  reserved: number;
  window: number;
  urgentPointer: number;
  options: TcpOption[];
  payload: Uint8Array;
}

const isUint = (v: number, bits: number): boolean => Number.isInteger(v) && v >= 0 && v < 2 ** bits;

/** Bytes one option takes on the wire (before the header's padding). */
export function tcpOptionLen(o: TcpOption): number {
  switch (o.kind) {
    case 'eol':
      return 1 + o.padding.length;
    case 'nop':
      return 1;
    case 'mss':
      return TCP_OPTION_MSS_LEN;
    case 'raw':
      return 2 + o.data.length;
  }
}

/** Bytes the options take on the wire, padded to a 32-bit boundary (RFC 9293 §3.1 "Padding"). */
export function tcpOptionsLen(options: readonly TcpOption[]): number {
  let n = 0;
  for (const o of options) n += tcpOptionLen(o);
  return (n + 3) & ~3;
}

/** Header length in bytes for these options (smoltcp's `header_len`). */
export function tcpHeaderLen(options: readonly TcpOption[]): number {
  return TCP_HEADER_LEN + tcpOptionsLen(options);
}

/** SEG.LEN (RFC 9293 §3.4): octets of data plus one for SYN and one for FIN. */
export function tcpSegmentLen(seg: Pick<TcpSegment, 'flags' | 'payload'>): number {
  return seg.payload.length + (seg.flags & TCP_FLAG_SYN ? 1 : 0) + (seg.flags & TCP_FLAG_FIN ? 1 : 0);
}

/** The MSS option's value, if the segment carries one (the first wins). */
export function tcpMssOption(seg: Pick<TcpSegment, 'options'>): number | undefined {
  for (const o of seg.options) if (o.kind === 'mss') return o.mssBytes;
  return undefined;
}

const FLAG_NAMES: ReadonlyArray<[number, string]> = [
  [TCP_FLAG_CWR, 'CWR'],
  [TCP_FLAG_ECE, 'ECE'],
  [TCP_FLAG_URG, 'URG'],
  [TCP_FLAG_ACK, 'ACK'],
  [TCP_FLAG_PSH, 'PSH'],
  [TCP_FLAG_RST, 'RST'],
  [TCP_FLAG_SYN, 'SYN'],
  [TCP_FLAG_FIN, 'FIN'],
];

/** "SYN,ACK" style, for logs; "none" when no bit is set. */
export function formatTcpFlags(flags: number): string {
  const names = FLAG_NAMES.filter(([bit]) => flags & bit).map(([, name]) => name);
  return names.length ? names.join(',') : 'none';
}

/**
 * Encodes a segment for the IPv4 addresses it will travel between, computing Data Offset and the
 * checksum over the pseudo-header (RFC 9293 §3.1). Options are padded with zeros to a 32-bit
 * boundary. Asserts on our own bad input (out-of-range fields, an `eol` that is not last, a `raw`
 * option of a kind this codec decodes itself).
 */
export function encodeTcpSegment(seg: TcpSegment, srcAddr: number, dstAddr: number): Uint8Array {
  assert(isUint(seg.srcPort, 16), `encodeTcpSegment: srcPort ${seg.srcPort}`);
  assert(isUint(seg.dstPort, 16), `encodeTcpSegment: dstPort ${seg.dstPort}`);
  assert(isUint(seg.seq, 32), `encodeTcpSegment: seq ${seg.seq}`);
  assert(isUint(seg.ack, 32), `encodeTcpSegment: ack ${seg.ack}`);
  assert(isUint(seg.flags, 8), `encodeTcpSegment: flags ${seg.flags}`);
  assert(isUint(seg.reserved, 4), `encodeTcpSegment: reserved ${seg.reserved}`);
  assert(isUint(seg.window, 16), `encodeTcpSegment: window ${seg.window}`);
  assert(isUint(seg.urgentPointer, 16), `encodeTcpSegment: urgentPointer ${seg.urgentPointer}`);
  assert(isUint(srcAddr, 32), `encodeTcpSegment: srcAddr ${srcAddr}`);
  assert(isUint(dstAddr, 32), `encodeTcpSegment: dstAddr ${dstAddr}`);
  const optionsLen = tcpOptionsLen(seg.options);
  assert(optionsLen <= TCP_MAX_OPTIONS_LEN, `encodeTcpSegment: options length ${optionsLen} > ${TCP_MAX_OPTIONS_LEN}`);
  const headerLen = TCP_HEADER_LEN + optionsLen;
  const length = headerLen + seg.payload.length;
  assert(length <= TCP_MAX_SEGMENT_LEN, `encodeTcpSegment: length ${length} > ${TCP_MAX_SEGMENT_LEN}`);

  const out = new Uint8Array(length);
  const dv = new DataView(out.buffer);
  dv.setUint16(TCP_OFFSET_SRC_PORT, seg.srcPort);
  dv.setUint16(TCP_OFFSET_DST_PORT, seg.dstPort);
  dv.setUint32(TCP_OFFSET_SEQ, seg.seq);
  dv.setUint32(TCP_OFFSET_ACK, seg.ack);
  out[TCP_OFFSET_DATA_OFFSET] = ((headerLen >> 2) << 4) | seg.reserved;
  out[TCP_OFFSET_FLAGS] = seg.flags;
  dv.setUint16(TCP_OFFSET_WINDOW, seg.window);
  dv.setUint16(TCP_OFFSET_URGENT, seg.urgentPointer);

  let o = TCP_HEADER_LEN;
  seg.options.forEach((opt, i) => {
    switch (opt.kind) {
      case 'eol':
        assert(i === seg.options.length - 1, 'encodeTcpSegment: eol must be the last option');
        out[o] = TCP_OPTION_EOL;
        out.set(opt.padding, o + 1);
        break;
      case 'nop':
        out[o] = TCP_OPTION_NOP;
        break;
      case 'mss':
        assert(isUint(opt.mssBytes, 16), `encodeTcpSegment: mss ${opt.mssBytes}`);
        out[o] = TCP_OPTION_MSS;
        out[o + 1] = TCP_OPTION_MSS_LEN;
        dv.setUint16(o + 2, opt.mssBytes);
        break;
      case 'raw':
        assert(
          isUint(opt.type, 8) && opt.type !== TCP_OPTION_EOL && opt.type !== TCP_OPTION_NOP && opt.type !== TCP_OPTION_MSS,
          `encodeTcpSegment: raw option type ${opt.type}`,
        );
        out[o] = opt.type;
        out[o + 1] = 2 + opt.data.length;
        out.set(opt.data, o + 2);
        break;
    }
    o += tcpOptionLen(opt);
  });
  // Bytes up to headerLen stay zero: RFC 9293 §3.1 padding.
  out.set(seg.payload, headerLen);
  // RFC 9293 §3.1 "Checksum": over the pseudo-header, header (checksum field zero) and data.
  dv.setUint16(TCP_OFFSET_CHECKSUM, internetChecksum(out, ipv4PseudoHeaderSum(srcAddr, dstAddr, IP_PROTO_TCP, length)));
  return out;
}

/**
 * Recomputes the checksum of an encoded segment in place (RFC 9293 §3.1), after a field covered by
 * it changed (the MAC of an authentication option is written after encoding).
 */
export function tcpRewriteChecksum(bytes: Uint8Array, srcAddr: number, dstAddr: number): void {
  assert(bytes.length >= TCP_HEADER_LEN && bytes.length <= TCP_MAX_SEGMENT_LEN, `tcpRewriteChecksum: ${bytes.length} bytes`);
  bytes[TCP_OFFSET_CHECKSUM] = 0;
  bytes[TCP_OFFSET_CHECKSUM + 1] = 0;
  const sum = internetChecksum(bytes, ipv4PseudoHeaderSum(srcAddr, dstAddr, IP_PROTO_TCP, bytes.length));
  bytes[TCP_OFFSET_CHECKSUM] = sum >> 8;
  bytes[TCP_OFFSET_CHECKSUM + 1] = sum & 0xff;
}

function decodeOptions(area: Uint8Array): Result<TcpOption[], DecodeError> {
  const options: TcpOption[] = [];
  let i = 0;
  while (i < area.length) {
    const field = `tcp.options[${options.length}]`;
    const kind = area[i]!;
    if (kind === TCP_OPTION_EOL) {
      // RFC 9293 §3.2: End of Option List; what follows up to Data Offset is padding.
      options.push({ kind: 'eol', padding: area.slice(i + 1) });
      return ok(options);
    }
    if (kind === TCP_OPTION_NOP) {
      options.push({ kind: 'nop' });
      i += 1;
      continue;
    }
    if (i + 1 >= area.length) {
      return err(tcpDecodeError(TCP_ERROR.BAD_OPTION, `${field}.length`, `option kind ${kind} has no length octet`));
    }
    const len = area[i + 1]!;
    // RFC 9293 §3.1 MUST-7: an illegal option length (e.g. zero) must not hang or crash the receiver.
    if (len < 2) return err(tcpDecodeError(TCP_ERROR.BAD_OPTION, `${field}.length`, `option kind ${kind} length ${len} < 2`));
    if (i + len > area.length) {
      return err(tcpDecodeError(TCP_ERROR.BAD_OPTION, `${field}.length`, `option kind ${kind} length ${len} runs past the header`));
    }
    if (kind === TCP_OPTION_MSS) {
      if (len !== TCP_OPTION_MSS_LEN) {
        return err(tcpDecodeError(TCP_ERROR.BAD_OPTION, `${field}.length`, `MSS option length ${len}, must be ${TCP_OPTION_MSS_LEN}`));
      }
      options.push({ kind: 'mss', mssBytes: (area[i + 2]! << 8) | area[i + 3]! });
    } else {
      options.push({ kind: 'raw', type: kind, data: area.slice(i + 2, i + len) });
    }
    i += len;
  }
  return ok(options);
}

/**
 * Decodes a TCP segment received between the given IPv4 addresses. Rejects: fewer than 20 bytes,
 * Data Offset < 5 or beyond the bytes present, a checksum that does not verify, and malformed
 * options. Reserved bits and unknown options are kept, never rejected.
 */
export function decodeTcpSegment(bytes: Uint8Array, srcAddr: number, dstAddr: number): Result<TcpSegment, DecodeError> {
  if (bytes.length < TCP_HEADER_LEN) {
    return err(tcpDecodeError(TCP_ERROR.TRUNCATED, 'tcp.header', `${bytes.length} bytes, header needs ${TCP_HEADER_LEN}`));
  }
  if (bytes.length > TCP_MAX_SEGMENT_LEN) {
    return err(tcpDecodeError(TCP_ERROR.TRUNCATED, 'tcp.length', `${bytes.length} bytes > ${TCP_MAX_SEGMENT_LEN}`));
  }
  const dataOffset = bytes[TCP_OFFSET_DATA_OFFSET]! >> 4;
  if (dataOffset < TCP_MIN_DATA_OFFSET) {
    return err(tcpDecodeError(TCP_ERROR.BAD_DATA_OFFSET, 'tcp.dataOffset', `data offset ${dataOffset} < ${TCP_MIN_DATA_OFFSET}`));
  }
  const headerLen = dataOffset * 4;
  if (headerLen > bytes.length) {
    return err(tcpDecodeError(TCP_ERROR.TRUNCATED, 'tcp.dataOffset', `header length ${headerLen} > ${bytes.length} bytes present`));
  }
  if (internetChecksum(bytes, ipv4PseudoHeaderSum(srcAddr, dstAddr, IP_PROTO_TCP, bytes.length)) !== 0) {
    const checksum = (bytes[TCP_OFFSET_CHECKSUM]! << 8) | bytes[TCP_OFFSET_CHECKSUM + 1]!;
    return err(tcpDecodeError(TCP_ERROR.BAD_CHECKSUM, 'tcp.checksum', `checksum 0x${checksum.toString(16).padStart(4, '0')} does not verify`));
  }
  const options = decodeOptions(bytes.subarray(TCP_HEADER_LEN, headerLen));
  if (!options.ok) return options;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return ok({
    srcPort: dv.getUint16(TCP_OFFSET_SRC_PORT),
    dstPort: dv.getUint16(TCP_OFFSET_DST_PORT),
    seq: dv.getUint32(TCP_OFFSET_SEQ),
    ack: dv.getUint32(TCP_OFFSET_ACK),
    flags: bytes[TCP_OFFSET_FLAGS]!,
    reserved: bytes[TCP_OFFSET_DATA_OFFSET]! & 0x0f,
    window: dv.getUint16(TCP_OFFSET_WINDOW),
    urgentPointer: dv.getUint16(TCP_OFFSET_URGENT),
    options: options.value,
    payload: bytes.subarray(headerLen),
  });
}
