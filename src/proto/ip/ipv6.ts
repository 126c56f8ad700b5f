// IPv6 fixed header (RFC 8200 §3): encode and decode with Payload Length.
// Never walks extension headers, never handles jumbograms, never throws on peer bytes.
//
// Length contract: `decodeIpv6` checks every length before reading. Decoded `payload` is a view
// sharing the input's buffer; `src` and `dst` are copies. Bytes beyond Payload Length are ignored.

import type { DecodeError, Result } from '../../lib/errors.ts';
import { assert, err, ok } from '../../lib/errors.ts';
import { IP_ERROR, ipDecodeError } from './ipv4.ts';

export const IPV6_VERSION = 6;
export const IPV6_HEADER_LEN = 40;
export const IPV6_ADDRESS_LEN = 16;
export const IPV6_MAX_PAYLOAD_LEN = 0xffff;

export const IPV6_OFFSET_VERSION_CLASS_FLOW = 0;
export const IPV6_OFFSET_PAYLOAD_LENGTH = 4;
export const IPV6_OFFSET_NEXT_HEADER = 6;
export const IPV6_OFFSET_HOP_LIMIT = 7;
export const IPV6_OFFSET_SRC = 8;
export const IPV6_OFFSET_DST = 24;

export const IPV6_FLOW_LABEL_MASK = 0x000fffff;

export interface Ipv6Header {
  /** 8 bits: DSCP (6) and ECN (2). */
  trafficClass: number;
  /** 20 bits. */
  flowLabel: number;
  /** IP protocol number of the header that follows (IP_PROTO_*). */
  nextHeader: number;
  hopLimit: number;
  /** 16 bytes. */
  src: Uint8Array;
  dst: Uint8Array;
}

export interface DecodedIpv6 {
  header: Ipv6Header;
  /** View of the Payload Length bytes after the fixed header (extension headers included). */
  payload: Uint8Array;
}

const isUint = (v: number, bits: number): boolean => Number.isInteger(v) && v >= 0 && v < 2 ** bits;

/** Encodes the fixed header + payload, computing Payload Length. Asserts on our own bad input. */
export function encodeIpv6(h: Ipv6Header, payload: Uint8Array): Uint8Array {
  assert(isUint(h.trafficClass, 8), `encodeIpv6: trafficClass ${h.trafficClass}`);
  assert(isUint(h.flowLabel, 20), `encodeIpv6: flowLabel ${h.flowLabel}`);
  assert(isUint(h.nextHeader, 8), `encodeIpv6: nextHeader ${h.nextHeader}`);
  assert(isUint(h.hopLimit, 8), `encodeIpv6: hopLimit ${h.hopLimit}`);
  assert(h.src.length === IPV6_ADDRESS_LEN, `encodeIpv6: src is ${h.src.length} bytes`);
  assert(h.dst.length === IPV6_ADDRESS_LEN, `encodeIpv6: dst is ${h.dst.length} bytes`);
  assert(payload.length <= IPV6_MAX_PAYLOAD_LEN, `encodeIpv6: payload ${payload.length} bytes (jumbograms unsupported)`);

  const out = new Uint8Array(IPV6_HEADER_LEN + payload.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(
    IPV6_OFFSET_VERSION_CLASS_FLOW,
    ((IPV6_VERSION << 28) | (h.trafficClass << 20) | h.flowLabel) >>> 0,
  );
  dv.setUint16(IPV6_OFFSET_PAYLOAD_LENGTH, payload.length);
  out[IPV6_OFFSET_NEXT_HEADER] = h.nextHeader;
  out[IPV6_OFFSET_HOP_LIMIT] = h.hopLimit;
  out.set(h.src, IPV6_OFFSET_SRC);
  out.set(h.dst, IPV6_OFFSET_DST);
  out.set(payload, IPV6_HEADER_LEN);
  return out;
}

/** Decodes the fixed header. Rejects short buffers, version ≠ 6 and Payload Length beyond the buffer. */
export function decodeIpv6(bytes: Uint8Array): Result<DecodedIpv6, DecodeError> {
  if (bytes.length < IPV6_HEADER_LEN) {
    return err(ipDecodeError(IP_ERROR.TRUNCATED, 'ipv6.header', `${bytes.length} bytes, fixed header needs ${IPV6_HEADER_LEN}`));
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const word0 = dv.getUint32(IPV6_OFFSET_VERSION_CLASS_FLOW);
  const version = word0 >>> 28;
  if (version !== IPV6_VERSION) {
    return err(ipDecodeError(IP_ERROR.BAD_VERSION, 'ipv6.version', `version ${version}, expected ${IPV6_VERSION}`));
  }
  const payloadLength = dv.getUint16(IPV6_OFFSET_PAYLOAD_LENGTH);
  if (IPV6_HEADER_LEN + payloadLength > bytes.length) {
    return err(
      ipDecodeError(IP_ERROR.TRUNCATED, 'ipv6.payloadLength', `payload length ${payloadLength} > ${bytes.length - IPV6_HEADER_LEN} bytes present`),
    );
  }
  const header: Ipv6Header = {
    trafficClass: (word0 >>> 20) & 0xff,
    flowLabel: word0 & IPV6_FLOW_LABEL_MASK,
    nextHeader: bytes[IPV6_OFFSET_NEXT_HEADER]!,
    hopLimit: bytes[IPV6_OFFSET_HOP_LIMIT]!,
    src: bytes.slice(IPV6_OFFSET_SRC, IPV6_OFFSET_SRC + IPV6_ADDRESS_LEN),
    dst: bytes.slice(IPV6_OFFSET_DST, IPV6_OFFSET_DST + IPV6_ADDRESS_LEN),
  };
  return ok({ header, payload: bytes.subarray(IPV6_HEADER_LEN, IPV6_HEADER_LEN + payloadLength) });
}
