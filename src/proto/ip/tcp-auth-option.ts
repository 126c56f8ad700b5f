// Codecs of the two TCP authentication options: TCP MD5 Signature (kind 19, RFC 2385 §3) and TCP-AO
// (kind 29, RFC 5925 §2.2). Owns their wire layout only; never computes a digest or keeps state.
//
// Both travel in `TcpSegment.options` as `raw` options of the segment codec (tcp-segment.ts); these
// functions turn such a raw option into its fields and back, and find them in an option list.
// Bytes from a peer never throw: a malformed option is a DecodeError naming the field.

import type { DecodeError, Result } from '../../lib/errors.ts';
import { assert, err, ok } from '../../lib/errors.ts';
import { TCP_ERROR, TCP_HEADER_LEN, type TcpOption, tcpDecodeError, tcpOptionLen } from './tcp-segment.ts';

/** RFC 2385 §3: kind 19, length 18, a 16-byte MD5 digest. */
export const TCP_OPTION_MD5 = 19;
export const TCP_OPTION_MD5_LEN = 18;
export const TCP_MD5_DIGEST_LEN = 16;
/** RFC 5925 §2.2: kind 29, length, KeyID, RNextKeyID, then the MAC. */
export const TCP_OPTION_AO = 29;
export const TCP_AO_OPTION_HEADER_LEN = 4;

export interface TcpMd5Option {
  digest: Uint8Array;
}

export interface TcpAoOption {
  /** The KeyID of the MKT that made the MAC (the sender's SendID), 0..255. */
  keyId: number;
  /** The KeyID the sender wants to receive with next (its RecvID), 0..255. */
  rnextKeyId: number;
  mac: Uint8Array;
}

const isByte = (v: number): boolean => Number.isInteger(v) && v >= 0 && v <= 0xff;

export function encodeTcpMd5Option(o: TcpMd5Option): TcpOption {
  assert(o.digest.length === TCP_MD5_DIGEST_LEN, `encodeTcpMd5Option: digest of ${o.digest.length} bytes`);
  return { kind: 'raw', type: TCP_OPTION_MD5, data: o.digest.slice() };
}

export function encodeTcpAoOption(o: TcpAoOption): TcpOption {
  assert(isByte(o.keyId) && isByte(o.rnextKeyId), `encodeTcpAoOption: key ids ${o.keyId}/${o.rnextKeyId}`);
  assert(o.mac.length >= 1 && o.mac.length <= 36, `encodeTcpAoOption: MAC of ${o.mac.length} bytes`);
  const data = new Uint8Array(2 + o.mac.length);
  data[0] = o.keyId;
  data[1] = o.rnextKeyId;
  data.set(o.mac, 2);
  return { kind: 'raw', type: TCP_OPTION_AO, data };
}

export function decodeTcpMd5Option(o: TcpOption, field = 'tcp.options.md5'): Result<TcpMd5Option, DecodeError> {
  assert(o.kind === 'raw' && o.type === TCP_OPTION_MD5, 'decodeTcpMd5Option: not a kind 19 option');
  // RFC 2385 §3: "Length=18".
  if (o.data.length !== TCP_MD5_DIGEST_LEN) {
    return err(tcpDecodeError(TCP_ERROR.BAD_OPTION, `${field}.length`, `MD5 option length ${2 + o.data.length}, must be ${TCP_OPTION_MD5_LEN}`));
  }
  return ok({ digest: o.data.slice() });
}

export function decodeTcpAoOption(o: TcpOption, field = 'tcp.options.ao'): Result<TcpAoOption, DecodeError> {
  assert(o.kind === 'raw' && o.type === TCP_OPTION_AO, 'decodeTcpAoOption: not a kind 29 option');
  // RFC 5925 §2.2: Length covers kind, length, KeyID and RNextKeyID (4) plus a MAC of at least one byte.
  if (o.data.length < TCP_AO_OPTION_HEADER_LEN - 1) {
    return err(tcpDecodeError(TCP_ERROR.BAD_OPTION, `${field}.length`, `TCP-AO option length ${2 + o.data.length} < ${TCP_AO_OPTION_HEADER_LEN + 1}`));
  }
  return ok({ keyId: o.data[0]!, rnextKeyId: o.data[1]!, mac: o.data.slice(2) });
}

/** The authentication options of a segment, each with its byte offset in the encoded TCP header. */
export interface TcpAuthOptions {
  md5?: TcpMd5Option & { offset: number };
  ao?: TcpAoOption & { offset: number };
}

/**
 * Finds the MD5 and TCP-AO options in a decoded option list. A second option of either kind is
 * malformed (RFC 5925 §2.2 / RFC 2385 §3 allow one per segment), as is one of the wrong length.
 */
export function findTcpAuthOptions(options: readonly TcpOption[]): Result<TcpAuthOptions, DecodeError> {
  const found: TcpAuthOptions = {};
  let offset = TCP_HEADER_LEN;
  for (let i = 0; i < options.length; i++) {
    const o = options[i]!;
    if (o.kind === 'raw' && (o.type === TCP_OPTION_MD5 || o.type === TCP_OPTION_AO)) {
      const field = `tcp.options[${i}]`;
      if (o.type === TCP_OPTION_MD5) {
        if (found.md5) return err(tcpDecodeError(TCP_ERROR.BAD_OPTION, field, 'a second MD5 signature option'));
        const r = decodeTcpMd5Option(o, field);
        if (!r.ok) return r;
        found.md5 = { ...r.value, offset };
      } else {
        if (found.ao) return err(tcpDecodeError(TCP_ERROR.BAD_OPTION, field, 'a second TCP-AO option'));
        const r = decodeTcpAoOption(o, field);
        if (!r.ok) return r;
        found.ao = { ...r.value, offset };
      }
    }
    offset += tcpOptionLen(o);
  }
  return ok(found);
}
