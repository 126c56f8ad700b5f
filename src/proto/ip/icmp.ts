// ICMP for IPv4 (RFC 792): echo request/reply, destination unreachable and time exceeded, with checksum.
// Never decides when to send an error (that is the node's job, RFC 1812 §4.3.2); never throws on peer bytes.
//
// Length contract: `decodeIcmp` takes the IPv4 payload (already cut to Total Length) and checks
// every length before reading. Decoded `data` / `original` are views sharing the input's buffer.

import type { DecodeError, Result } from '../../lib/errors.ts';
import { assert, err, ok } from '../../lib/errors.ts';
import { internetChecksum } from './checksum.ts';
import { IP_ERROR, IPV4_HEADER_LEN, ipDecodeError } from './ipv4.ts';

export const ICMP_HEADER_LEN = 8;

export const ICMP_OFFSET_TYPE = 0;
export const ICMP_OFFSET_CODE = 1;
export const ICMP_OFFSET_CHECKSUM = 2;
export const ICMP_OFFSET_IDENTIFIER = 4;
export const ICMP_OFFSET_SEQUENCE = 6;
/** RFC 1191 §4: the low-order 16 bits of the unused field of a "fragmentation needed" message. */
export const ICMP_OFFSET_NEXT_HOP_MTU = 6;

export const ICMP_TYPE_ECHO_REPLY = 0;
export const ICMP_TYPE_DESTINATION_UNREACHABLE = 3;
export const ICMP_TYPE_ECHO_REQUEST = 8;
export const ICMP_TYPE_TIME_EXCEEDED = 11;

// Destination Unreachable codes (RFC 792; 6–15 from RFC 1122 §3.2.2.1 and RFC 1812 §5.2.7.1).
export const ICMP_UNREACH_NET = 0;
export const ICMP_UNREACH_HOST = 1;
export const ICMP_UNREACH_PROTOCOL = 2;
export const ICMP_UNREACH_PORT = 3;
export const ICMP_UNREACH_FRAGMENTATION_NEEDED = 4;
export const ICMP_UNREACH_SOURCE_ROUTE_FAILED = 5;
export const ICMP_UNREACH_ADMIN_PROHIBITED = 13;
export const ICMP_UNREACH_CODE_MAX = 15;

// Time Exceeded codes (RFC 792).
export const ICMP_TIME_EXCEEDED_TTL = 0;
export const ICMP_TIME_EXCEEDED_REASSEMBLY = 1;
export const ICMP_TIME_EXCEEDED_CODE_MAX = 1;

/** RFC 792: error messages quote "Internet Header + 64 bits of Original Data Datagram". */
export const ICMP_QUOTE_DATA_LEN = 8;

export interface IcmpEcho {
  type: 'echo-request' | 'echo-reply';
  identifier: number;
  sequence: number;
  data: Uint8Array;
}

export interface IcmpDestinationUnreachable {
  type: 'destination-unreachable';
  code: number;
  /** RFC 1191: next-hop MTU for code 4 (fragmentation needed); 0 for every other code. */
  nextHopMtu: number;
  /** The quoted original datagram: its IP header and at least 8 bytes of its data. */
  original: Uint8Array;
}

export interface IcmpTimeExceeded {
  type: 'time-exceeded';
  code: number;
  original: Uint8Array;
}

export type IcmpMessage = IcmpEcho | IcmpDestinationUnreachable | IcmpTimeExceeded;

const isUint = (v: number, bits: number): boolean => Number.isInteger(v) && v >= 0 && v < 2 ** bits;

/**
 * The quote an ICMP error carries about `packet` (an IPv4 packet that decodeIpv4 accepted):
 * its header plus the first 8 bytes of its data, or less when the packet is shorter (RFC 792).
 * A view, not a copy.
 */
export function icmpQuote(packet: Uint8Array): Uint8Array {
  assert(packet.length >= IPV4_HEADER_LEN, `icmpQuote: ${packet.length} bytes is not an IPv4 packet`);
  const headerLength = (packet[0]! & 0x0f) * 4;
  return packet.subarray(0, Math.min(packet.length, headerLength + ICMP_QUOTE_DATA_LEN));
}

/** Encodes an ICMP message, computing its checksum. Asserts on our own bad input. */
export function encodeIcmp(m: IcmpMessage): Uint8Array {
  let out: Uint8Array;
  switch (m.type) {
    case 'echo-request':
    case 'echo-reply': {
      assert(isUint(m.identifier, 16), `encodeIcmp: identifier ${m.identifier}`);
      assert(isUint(m.sequence, 16), `encodeIcmp: sequence ${m.sequence}`);
      out = new Uint8Array(ICMP_HEADER_LEN + m.data.length);
      out[ICMP_OFFSET_TYPE] = m.type === 'echo-request' ? ICMP_TYPE_ECHO_REQUEST : ICMP_TYPE_ECHO_REPLY;
      out[ICMP_OFFSET_IDENTIFIER] = m.identifier >> 8;
      out[ICMP_OFFSET_IDENTIFIER + 1] = m.identifier & 0xff;
      out[ICMP_OFFSET_SEQUENCE] = m.sequence >> 8;
      out[ICMP_OFFSET_SEQUENCE + 1] = m.sequence & 0xff;
      out.set(m.data, ICMP_HEADER_LEN);
      break;
    }
    case 'destination-unreachable': {
      assert(isUint(m.code, 8) && m.code <= ICMP_UNREACH_CODE_MAX, `encodeIcmp: unreachable code ${m.code}`);
      assert(
        m.code === ICMP_UNREACH_FRAGMENTATION_NEEDED ? isUint(m.nextHopMtu, 16) : m.nextHopMtu === 0,
        `encodeIcmp: nextHopMtu ${m.nextHopMtu} with code ${m.code}`,
      );
      assert(m.original.length >= IPV4_HEADER_LEN, `encodeIcmp: original is ${m.original.length} bytes`);
      out = new Uint8Array(ICMP_HEADER_LEN + m.original.length);
      out[ICMP_OFFSET_TYPE] = ICMP_TYPE_DESTINATION_UNREACHABLE;
      out[ICMP_OFFSET_CODE] = m.code;
      out[ICMP_OFFSET_NEXT_HOP_MTU] = m.nextHopMtu >> 8;
      out[ICMP_OFFSET_NEXT_HOP_MTU + 1] = m.nextHopMtu & 0xff;
      out.set(m.original, ICMP_HEADER_LEN);
      break;
    }
    case 'time-exceeded': {
      assert(isUint(m.code, 8) && m.code <= ICMP_TIME_EXCEEDED_CODE_MAX, `encodeIcmp: time exceeded code ${m.code}`);
      assert(m.original.length >= IPV4_HEADER_LEN, `encodeIcmp: original is ${m.original.length} bytes`);
      out = new Uint8Array(ICMP_HEADER_LEN + m.original.length);
      out[ICMP_OFFSET_TYPE] = ICMP_TYPE_TIME_EXCEEDED;
      out[ICMP_OFFSET_CODE] = m.code;
      out.set(m.original, ICMP_HEADER_LEN);
      break;
    }
  }
  const checksum = internetChecksum(out);
  out[ICMP_OFFSET_CHECKSUM] = checksum >> 8;
  out[ICMP_OFFSET_CHECKSUM + 1] = checksum & 0xff;
  return out;
}

const u16 = (bytes: Uint8Array, at: number): number => (bytes[at]! << 8) | bytes[at + 1]!;

/**
 * Decodes an ICMP message. Rejects: fewer than 8 bytes, a checksum that does not verify, a type
 * this codec does not handle (UNKNOWN_TYPE: RFC 1122 §3.2.2 says discard silently), a code the type
 * does not allow, unused bits that are not zero, and an error message quoting less than an IPv4 header.
 */
export function decodeIcmp(bytes: Uint8Array): Result<IcmpMessage, DecodeError> {
  if (bytes.length < ICMP_HEADER_LEN) {
    return err(ipDecodeError(IP_ERROR.TRUNCATED, 'icmp.header', `${bytes.length} bytes, header needs ${ICMP_HEADER_LEN}`));
  }
  // RFC 792: the checksum covers the whole ICMP message, starting with the type.
  if (internetChecksum(bytes) !== 0) {
    const got = u16(bytes, ICMP_OFFSET_CHECKSUM);
    return err(ipDecodeError(IP_ERROR.BAD_CHECKSUM, 'icmp.checksum', `checksum 0x${got.toString(16).padStart(4, '0')} does not verify`));
  }
  const type = bytes[ICMP_OFFSET_TYPE]!;
  const code = bytes[ICMP_OFFSET_CODE]!;
  switch (type) {
    case ICMP_TYPE_ECHO_REQUEST:
    case ICMP_TYPE_ECHO_REPLY: {
      if (code !== 0) return err(ipDecodeError(IP_ERROR.BAD_CODE, 'icmp.code', `echo with code ${code}, expected 0`));
      return ok({
        type: type === ICMP_TYPE_ECHO_REQUEST ? 'echo-request' : 'echo-reply',
        identifier: u16(bytes, ICMP_OFFSET_IDENTIFIER),
        sequence: u16(bytes, ICMP_OFFSET_SEQUENCE),
        data: bytes.subarray(ICMP_HEADER_LEN),
      });
    }
    case ICMP_TYPE_DESTINATION_UNREACHABLE: {
      if (code > ICMP_UNREACH_CODE_MAX) {
        return err(ipDecodeError(IP_ERROR.BAD_CODE, 'icmp.code', `destination unreachable code ${code} > ${ICMP_UNREACH_CODE_MAX}`));
      }
      const mtu = u16(bytes, ICMP_OFFSET_NEXT_HOP_MTU);
      if (u16(bytes, 4) !== 0 || (code !== ICMP_UNREACH_FRAGMENTATION_NEEDED && mtu !== 0)) {
        return err(ipDecodeError(IP_ERROR.BAD_RESERVED, 'icmp.unused', 'unused field not zero'));
      }
      const original = bytes.subarray(ICMP_HEADER_LEN);
      if (original.length < IPV4_HEADER_LEN) {
        return err(ipDecodeError(IP_ERROR.TRUNCATED, 'icmp.original', `quote is ${original.length} bytes, less than an IPv4 header`));
      }
      return ok({ type: 'destination-unreachable', code, nextHopMtu: mtu, original });
    }
    case ICMP_TYPE_TIME_EXCEEDED: {
      if (code > ICMP_TIME_EXCEEDED_CODE_MAX) {
        return err(ipDecodeError(IP_ERROR.BAD_CODE, 'icmp.code', `time exceeded code ${code} > ${ICMP_TIME_EXCEEDED_CODE_MAX}`));
      }
      if (u16(bytes, 4) !== 0 || u16(bytes, 6) !== 0) {
        return err(ipDecodeError(IP_ERROR.BAD_RESERVED, 'icmp.unused', 'unused field not zero'));
      }
      const original = bytes.subarray(ICMP_HEADER_LEN);
      if (original.length < IPV4_HEADER_LEN) {
        return err(ipDecodeError(IP_ERROR.TRUNCATED, 'icmp.original', `quote is ${original.length} bytes, less than an IPv4 header`));
      }
      return ok({ type: 'time-exceeded', code, original });
    }
    default:
      return err(ipDecodeError(IP_ERROR.UNKNOWN_TYPE, 'icmp.type', `ICMP type ${type} not handled`));
  }
}
