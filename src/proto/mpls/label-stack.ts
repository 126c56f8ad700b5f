// MPLS label stack entries (RFC 3032 §2.1) and the MPLS-in-IP encapsulation that carries them over
// an IP backbone (RFC 4023 §3: the label stack follows the IPv4 header, protocol number 137).
// Owns only the codec; never routes, never throws on peer bytes.
//
// Length contract: `decodeLabelStack` reads 4-octet entries until one has the bottom-of-stack bit,
// checking the length before every read; the returned `payload` is a view sharing the input buffer.
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                Label                  | TC  |S|       TTL     |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

import type { DecodeError, Result } from '../../lib/errors.ts';
import { assert, err, ok } from '../../lib/errors.ts';

/** RFC 4023 §3 (IANA protocol numbers): MPLS-in-IP. */
export const IP_PROTO_MPLS_IN_IP = 137;
/** RFC 3032 §2.1: octets per label stack entry. */
export const LABEL_ENTRY_LEN = 4;
/** Largest 20-bit label value. */
export const LABEL_MAX = 0xfffff;
/** RFC 3032 §2.1: 0-15 are reserved label values. */
export const LABEL_RESERVED_MAX = 15;
/** Entries a decoder reads at most before it gives up (a limit on every loop). */
export const LABEL_STACK_DEPTH_MAX = 8;

export const MPLS_ERROR = {
  /** The bytes end inside a label stack entry. */
  TRUNCATED: 'TRUNCATED',
  /** No entry with the bottom-of-stack bit within LABEL_STACK_DEPTH_MAX entries. */
  TOO_DEEP: 'TOO_DEEP',
} as const;
export type MplsErrorCode = (typeof MPLS_ERROR)[keyof typeof MPLS_ERROR];

export interface LabelStackEntry {
  /** 20-bit label. */
  label: number;
  /** Traffic class, 3 bits (RFC 5462). */
  tc: number;
  ttl: number;
}

export interface DecodedLabelStack {
  /** Top of stack first; the last entry is the one with the bottom-of-stack bit. */
  entries: LabelStackEntry[];
  /** What follows the bottom entry (for a VPN label: the customer's IPv4 packet). */
  payload: Uint8Array;
}

/** Encodes `entries` (top first, bottom-of-stack bit on the last one) followed by `payload`. */
export function encodeLabelStack(entries: readonly LabelStackEntry[], payload: Uint8Array): Uint8Array {
  assert(entries.length > 0 && entries.length <= LABEL_STACK_DEPTH_MAX, `label stack depth ${entries.length}`);
  const out = new Uint8Array(entries.length * LABEL_ENTRY_LEN + payload.length);
  const dv = new DataView(out.buffer);
  entries.forEach((e, i) => {
    assert(Number.isInteger(e.label) && e.label >= 0 && e.label <= LABEL_MAX, `label ${e.label}`);
    assert(Number.isInteger(e.tc) && e.tc >= 0 && e.tc <= 7, `traffic class ${e.tc}`);
    assert(Number.isInteger(e.ttl) && e.ttl >= 0 && e.ttl <= 255, `label TTL ${e.ttl}`);
    const bottom = i === entries.length - 1 ? 1 : 0;
    dv.setUint32(i * LABEL_ENTRY_LEN, ((e.label << 12) | (e.tc << 9) | (bottom << 8) | e.ttl) >>> 0);
  });
  out.set(payload, entries.length * LABEL_ENTRY_LEN);
  return out;
}

/** Decodes a label stack down to its bottom-of-stack entry (RFC 3032 §2.1). */
export function decodeLabelStack(bytes: Uint8Array): Result<DecodedLabelStack, DecodeError> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entries: LabelStackEntry[] = [];
  for (let i = 0; i < LABEL_STACK_DEPTH_MAX; i++) {
    const at = i * LABEL_ENTRY_LEN;
    if (at + LABEL_ENTRY_LEN > bytes.length) {
      return err({ code: MPLS_ERROR.TRUNCATED, field: `labelStack[${i}]`, message: `label stack entry ${i} needs ${LABEL_ENTRY_LEN} octets, ${bytes.length - at} left` });
    }
    const w = dv.getUint32(at);
    entries.push({ label: w >>> 12, tc: (w >>> 9) & 7, ttl: w & 0xff });
    if ((w >>> 8) & 1) return ok({ entries, payload: bytes.subarray(at + LABEL_ENTRY_LEN) });
  }
  return err({ code: MPLS_ERROR.TOO_DEEP, field: 'labelStack', message: `no bottom-of-stack entry in the first ${LABEL_STACK_DEPTH_MAX}` });
}
