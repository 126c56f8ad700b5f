// UDP over IPv4 (RFC 768): the datagram codec with the pseudo-header checksum.
// Never binds ports or demultiplexes to sockets; never throws on peer bytes.
//
// Length contract: `decodeUdp` takes the IPv4 payload (already cut to Total Length) and checks every
// length before reading; bytes beyond the UDP Length field are ignored. Decoded `payload` is a view
// sharing the input's buffer.

import type { DecodeError, Result } from '../../lib/errors.ts';
import { assert, err, ok } from '../../lib/errors.ts';
import { internetChecksum, ipv4PseudoHeaderSum } from './checksum.ts';
import { IP_ERROR, IP_PROTO_UDP, ipDecodeError } from './ipv4.ts';

export const UDP_HEADER_LEN = 8;
export const UDP_MAX_LEN = 0xffff;

export const UDP_OFFSET_SRC_PORT = 0;
export const UDP_OFFSET_DST_PORT = 2;
export const UDP_OFFSET_LENGTH = 4;
export const UDP_OFFSET_CHECKSUM = 6;

/** RFC 768: a transmitted checksum of zero means the sender computed none. */
export const UDP_CHECKSUM_NONE = 0;

// Well-known ports used by the lab (IANA).
export const UDP_PORT_IKE = 500;
export const UDP_PORT_GDOI = 848;
export const UDP_PORT_IKE_NAT_T = 4500;

export interface UdpDatagram {
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
}

const isUint = (v: number, bits: number): boolean => Number.isInteger(v) && v >= 0 && v < 2 ** bits;

/**
 * Encodes a UDP datagram for the IPv4 addresses it will travel between, computing Length and the
 * pseudo-header checksum. A computed checksum of 0 is sent as 0xffff (RFC 768). Asserts on our own bad input.
 */
export function encodeUdp(d: UdpDatagram, srcAddr: number, dstAddr: number): Uint8Array {
  assert(isUint(d.srcPort, 16), `encodeUdp: srcPort ${d.srcPort}`);
  assert(isUint(d.dstPort, 16), `encodeUdp: dstPort ${d.dstPort}`);
  assert(isUint(srcAddr, 32), `encodeUdp: srcAddr ${srcAddr}`);
  assert(isUint(dstAddr, 32), `encodeUdp: dstAddr ${dstAddr}`);
  const length = UDP_HEADER_LEN + d.payload.length;
  assert(length <= UDP_MAX_LEN, `encodeUdp: length ${length} > ${UDP_MAX_LEN}`);

  const out = new Uint8Array(length);
  out[UDP_OFFSET_SRC_PORT] = d.srcPort >> 8;
  out[UDP_OFFSET_SRC_PORT + 1] = d.srcPort & 0xff;
  out[UDP_OFFSET_DST_PORT] = d.dstPort >> 8;
  out[UDP_OFFSET_DST_PORT + 1] = d.dstPort & 0xff;
  out[UDP_OFFSET_LENGTH] = length >> 8;
  out[UDP_OFFSET_LENGTH + 1] = length & 0xff;
  out.set(d.payload, UDP_HEADER_LEN);
  const computed = internetChecksum(out, ipv4PseudoHeaderSum(srcAddr, dstAddr, IP_PROTO_UDP, length));
  const checksum = computed === 0 ? 0xffff : computed;
  out[UDP_OFFSET_CHECKSUM] = checksum >> 8;
  out[UDP_OFFSET_CHECKSUM + 1] = checksum & 0xff;
  return out;
}

/**
 * Decodes a UDP datagram received between the given IPv4 addresses. Rejects: fewer than 8 bytes,
 * Length < 8 or beyond the bytes present, and a nonzero checksum that does not verify.
 */
export function decodeUdp(bytes: Uint8Array, srcAddr: number, dstAddr: number): Result<UdpDatagram, DecodeError> {
  if (bytes.length < UDP_HEADER_LEN) {
    return err(ipDecodeError(IP_ERROR.TRUNCATED, 'udp.header', `${bytes.length} bytes, header needs ${UDP_HEADER_LEN}`));
  }
  const length = (bytes[UDP_OFFSET_LENGTH]! << 8) | bytes[UDP_OFFSET_LENGTH + 1]!;
  if (length < UDP_HEADER_LEN) {
    return err(ipDecodeError(IP_ERROR.BAD_LENGTH, 'udp.length', `length ${length} < header length ${UDP_HEADER_LEN}`));
  }
  if (length > bytes.length) {
    return err(ipDecodeError(IP_ERROR.TRUNCATED, 'udp.length', `length ${length} > ${bytes.length} bytes present`));
  }
  const datagram = bytes.subarray(0, length);
  const checksum = (bytes[UDP_OFFSET_CHECKSUM]! << 8) | bytes[UDP_OFFSET_CHECKSUM + 1]!;
  if (checksum !== UDP_CHECKSUM_NONE && internetChecksum(datagram, ipv4PseudoHeaderSum(srcAddr, dstAddr, IP_PROTO_UDP, length)) !== 0) {
    return err(ipDecodeError(IP_ERROR.BAD_CHECKSUM, 'udp.checksum', `checksum 0x${checksum.toString(16).padStart(4, '0')} does not verify`));
  }
  return ok({
    srcPort: (bytes[UDP_OFFSET_SRC_PORT]! << 8) | bytes[UDP_OFFSET_SRC_PORT + 1]!,
    dstPort: (bytes[UDP_OFFSET_DST_PORT]! << 8) | bytes[UDP_OFFSET_DST_PORT + 1]!,
    payload: datagram.subarray(UDP_HEADER_LEN),
  });
}
