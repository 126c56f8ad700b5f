// TCP segment authentication: the TCP MD5 Signature option (RFC 2385) and the TCP Authentication
// Option (RFC 5925) with the KDFs and MACs of RFC 5926 (KDF_HMAC_SHA1 + HMAC-SHA-1-96,
// KDF_AES_128_CMAC + AES-128-CMAC-96). Owns digest inputs, traffic keys, sequence number extension
// and the per-connection signer/verifier; never decides what to do with a segment that fails
// (the stack drops and counts it) and never implements a primitive itself (@noble does).

import { concat } from '../../lib/bytes.ts';
import { cmac } from '@noble/ciphers/aes.js';
import { hmac } from '@noble/hashes/hmac.js';
import { md5, sha1 } from '@noble/hashes/legacy.js';
import { assert } from '../../lib/errors.ts';
import {
  TCP_AO_OPTION_HEADER_LEN,
  TCP_MD5_DIGEST_LEN,
  TCP_OPTION_MD5_LEN,
  type TcpAuthOptions,
  encodeTcpAoOption,
  encodeTcpMd5Option,
} from './tcp-auth-option.ts';
import { IP_PROTO_TCP } from './ipv4.ts';
import { TCP_FLAG_ACK, TCP_FLAG_SYN, TCP_HEADER_LEN, TCP_OFFSET_CHECKSUM, TCP_OFFSET_DATA_OFFSET, type TcpSegment, encodeTcpSegment, tcpOptionLen, tcpRewriteChecksum } from './tcp-segment.ts';
import { seqGt, seqLt } from './tcp-seq.ts';

// --- Configuration. ---

/** RFC 5926 §3.2 / §3.1: the two mandatory MAC algorithms, each with its KDF. */
export const TCP_AO_ALGORITHMS = ['hmac-sha1-96', 'aes-128-cmac-96'] as const;
export type TcpAoAlgorithm = (typeof TCP_AO_ALGORITHMS)[number];
/** RFC 5926 §3.2: both MACs are truncated to 96 bits. */
export const TCP_AO_MAC_LEN = 12;
/** Longest key either option accepts here (Linux's TCP_MD5SIG_MAXKEYLEN and TCP_AO_MAXKEYLEN are 80). */
export const TCP_AUTH_KEY_BYTES_MAX = 80;

/**
 * How segments between two addresses are authenticated.
 * - `md5`: RFC 2385 with a shared key.
 * - `ao`: RFC 5925 with one Master Key Tuple (§3.1): `keyId` is its SendID (the KeyID we send),
 *   `rnextKeyId` its RecvID (the KeyID we accept, advertised as RNextKeyID). `excludeOptions` is
 *   the MKT's TCP option flag (§3.1): when true, options other than TCP-AO are left out of the MAC.
 */
export type TcpAuthConfig =
  | { kind: 'md5'; key: Uint8Array }
  | { kind: 'ao'; keyId: number; rnextKeyId: number; algorithm: TcpAoAlgorithm; masterKey: Uint8Array; excludeOptions?: boolean };

/** Asserts a configuration is usable (it is ours: the topology loader validated what users wrote). */
export function checkTcpAuthConfig(c: TcpAuthConfig): void {
  const key = c.kind === 'md5' ? c.key : c.masterKey;
  assert(key.length >= 1 && key.length <= TCP_AUTH_KEY_BYTES_MAX, `tcp auth: key of ${key.length} bytes, want 1..${TCP_AUTH_KEY_BYTES_MAX}`);
  if (c.kind === 'ao') {
    assert(Number.isInteger(c.keyId) && c.keyId >= 0 && c.keyId <= 255, `tcp auth: keyId ${c.keyId}`);
    assert(Number.isInteger(c.rnextKeyId) && c.rnextKeyId >= 0 && c.rnextKeyId <= 255, `tcp auth: rnextKeyId ${c.rnextKeyId}`);
    assert((TCP_AO_ALGORITHMS as readonly string[]).includes(c.algorithm), `tcp auth: algorithm ${c.algorithm}`);
  }
}

/** Bytes the authentication option adds to every segment's header, padding included. */
export function tcpAuthOptionBytes(c: TcpAuthConfig): number {
  const raw = c.kind === 'md5' ? TCP_OPTION_MD5_LEN : TCP_AO_OPTION_HEADER_LEN + TCP_AO_MAC_LEN;
  return (raw + 3) & ~3;
}

/** Why a segment failed authentication (RFC 5925 §7.3, RFC 2385 §3); each is dropped and counted. */
export type TcpAuthFailure =
  /** A key is configured for the peer and the segment carries no option of its kind. */
  | 'missing'
  /** The segment carries an MD5 or TCP-AO option that nothing configured expects. */
  | 'unexpected'
  /** TCP-AO KeyID that matches no MKT (our RecvID). */
  | 'bad-key-id'
  /** The digest or MAC does not verify (or has the wrong length). */
  | 'bad-mac'
  /** TCP-AO on a non-SYN segment with no connection: no ISNs, so no traffic key to check it with. */
  | 'no-state';

/** The ISNs a traffic key is derived from, seen from our side (RFC 5925 §5.2). */
export interface TcpAuthIsns {
  local: number;
  remote: number;
}

// --- RFC 2385: MD5 digest. ---

/** 12-byte IPv4 pseudo-header: source, destination, zero, protocol, TCP length (RFC 9293 §3.1). */
function pseudoHeader(src: number, dst: number, tcpLength: number): Uint8Array {
  const p = new Uint8Array(12);
  const dv = new DataView(p.buffer);
  dv.setUint32(0, src >>> 0);
  dv.setUint32(4, dst >>> 0);
  p[9] = IP_PROTO_TCP;
  dv.setUint16(10, tcpLength);
  return p;
}

/**
 * RFC 2385 §2: MD5 over, in order, the pseudo-header (with the segment length), the TCP header
 * without options and with a zero checksum, the segment data, and the key. `bytes` is the encoded
 * segment (its Data Offset tells where the data starts).
 */
export function tcpMd5Digest(bytes: Uint8Array, src: number, dst: number, key: Uint8Array): Uint8Array {
  assert(bytes.length >= TCP_HEADER_LEN, 'tcpMd5Digest: short segment');
  const headerLen = (bytes[TCP_OFFSET_DATA_OFFSET]! >> 4) * 4;
  const header = bytes.slice(0, TCP_HEADER_LEN);
  header[TCP_OFFSET_CHECKSUM] = 0;
  header[TCP_OFFSET_CHECKSUM + 1] = 0;
  const h = md5.create();
  h.update(pseudoHeader(src, dst, bytes.length));
  h.update(header);
  h.update(bytes.subarray(headerLen));
  h.update(key);
  return h.digest();
}

// --- RFC 5925 / RFC 5926: traffic keys and MACs. ---

/**
 * RFC 5925 §5.2 (IPv4): the KDF context of a connection direction: source and destination
 * addresses, source and destination ports, source and destination ISNs ("source" sends the segment).
 */
export function tcpAoContext(src: number, dst: number, srcPort: number, dstPort: number, srcIsn: number, dstIsn: number): Uint8Array {
  const c = new Uint8Array(20);
  const dv = new DataView(c.buffer);
  dv.setUint32(0, src >>> 0);
  dv.setUint32(4, dst >>> 0);
  dv.setUint16(8, srcPort);
  dv.setUint16(10, dstPort);
  dv.setUint32(12, srcIsn >>> 0);
  dv.setUint32(16, dstIsn >>> 0);
  return c;
}

const LABEL = new TextEncoder().encode('TCP-AO');

/**
 * RFC 5926 §3.1.1: Traffic_Key = PRF(Master_Key, i || Label || Context || Output_Length) with
 * i = 1 (one iteration suffices for both algorithms), Label "TCP-AO", Output_Length in bits (16-bit).
 * KDF_HMAC_SHA1: PRF = HMAC-SHA1, 160 bits. KDF_AES_128_CMAC: PRF = AES-CMAC, 128 bits, and a master
 * key that is not 16 bytes is first reduced to K = AES-CMAC(0^128, Master_Key) (§3.1.2).
 */
export function tcpAoTrafficKey(algorithm: TcpAoAlgorithm, masterKey: Uint8Array, context: Uint8Array): Uint8Array {
  const bits = algorithm === 'hmac-sha1-96' ? 160 : 128;
  const input = new Uint8Array(1 + LABEL.length + context.length + 2);
  input[0] = 1;
  input.set(LABEL, 1);
  input.set(context, 1 + LABEL.length);
  input[input.length - 2] = bits >> 8;
  input[input.length - 1] = bits & 0xff;
  if (algorithm === 'hmac-sha1-96') return hmac(sha1, masterKey, input);
  const key = masterKey.length === 16 ? masterKey : cmac(masterKey, new Uint8Array(16));
  return cmac(input, key);
}

/**
 * RFC 5925 §5.1: the MAC over SNE, the IPv4 pseudo-header, the TCP header (checksum and MAC zero;
 * with `excludeOptions`, the fixed 20 bytes and the TCP-AO option only) and the data, then
 * truncated to 96 bits (RFC 5926 §3.2). `aoOffset` is where the TCP-AO option starts in `bytes`.
 */
export function tcpAoMac(
  algorithm: TcpAoAlgorithm,
  trafficKey: Uint8Array,
  sne: number,
  bytes: Uint8Array,
  src: number,
  dst: number,
  aoOffset: number,
  excludeOptions: boolean,
): Uint8Array {
  const headerLen = (bytes[TCP_OFFSET_DATA_OFFSET]! >> 4) * 4;
  assert(aoOffset >= TCP_HEADER_LEN && aoOffset + TCP_AO_OPTION_HEADER_LEN <= headerLen, `tcpAoMac: option at ${aoOffset}`);
  const aoLen = bytes[aoOffset + 1]!;
  const header = bytes.slice(0, headerLen);
  header[TCP_OFFSET_CHECKSUM] = 0;
  header[TCP_OFFSET_CHECKSUM + 1] = 0;
  header.fill(0, aoOffset + TCP_AO_OPTION_HEADER_LEN, aoOffset + aoLen);
  const sneBytes = new Uint8Array(4);
  new DataView(sneBytes.buffer).setUint32(0, sne >>> 0);
  const parts = [sneBytes, pseudoHeader(src, dst, bytes.length)];
  // RFC 5925 §5.1 (3): "excluding options" keeps the fixed header and TCP-AO itself.
  if (excludeOptions) parts.push(header.subarray(0, TCP_HEADER_LEN), header.subarray(aoOffset, aoOffset + aoLen));
  else parts.push(header);
  parts.push(bytes.subarray(headerLen));
  let full: Uint8Array;
  if (algorithm === 'hmac-sha1-96') {
    const h = hmac.create(sha1, trafficKey);
    for (const p of parts) h.update(p);
    full = h.digest();
  } else {
    full = cmac(concat(...parts), trafficKey);
  }
  return full.slice(0, TCP_AO_MAC_LEN);
}

/** Constant-time comparison of two MACs. */
function macEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

// --- RFC 5925 §6.2: sequence number extension. ---

/**
 * The SNE of one direction: the high 32 bits of a 64-bit sequence number, counting wraps of the
 * 32-bit one. `sneFor(seq)` says which SNE a segment with `seq` belongs to, allowing it to lie just
 * before the latest wrap (a retransmission); `advance` moves the reference once a segment is sent or
 * verified, so only authentic segments move it (RFC 5925 §6.2).
 */
export class TcpAoSne {
  private prevSeq: number | undefined;
  private sne = 0;

  sneFor(seq: number): number {
    const prev = this.prevSeq;
    if (prev === undefined) return this.sne;
    if (seq < prev && seqGt(seq, prev)) return (this.sne + 1) >>> 0; // wrapped forward
    if (seq > prev && seqLt(seq, prev)) return (this.sne - 1) >>> 0; // from before the wrap
    return this.sne;
  }

  advance(seq: number, sne: number): void {
    if (this.prevSeq === undefined || seqGt(seq, this.prevSeq)) {
      this.prevSeq = seq;
      this.sne = sne;
    }
  }
}

// --- Signing and verifying whole segments. ---

/**
 * Encodes `seg` (which must not carry an authentication option) with the option `config` asks for,
 * computes the digest or MAC and writes it into place, then the checksum (which covers it).
 * `isns`/`sne` matter for TCP-AO only.
 */
export function tcpAuthSign(config: TcpAuthConfig, seg: TcpSegment, src: number, dst: number, isns: TcpAuthIsns, sne: number): Uint8Array {
  const optionsBefore = seg.options;
  let optionOffset = TCP_HEADER_LEN;
  for (const o of optionsBefore) {
    assert(o.kind !== 'eol', 'tcpAuthSign: options must not end with eol');
    optionOffset += tcpOptionLen(o);
  }
  if (config.kind === 'md5') {
    const bytes = encodeTcpSegment({ ...seg, options: [...optionsBefore, encodeTcpMd5Option({ digest: new Uint8Array(TCP_MD5_DIGEST_LEN) })] }, src, dst);
    bytes.set(tcpMd5Digest(bytes, src, dst, config.key), optionOffset + 2);
    tcpRewriteChecksum(bytes, src, dst);
    return bytes;
  }
  const option = encodeTcpAoOption({ keyId: config.keyId, rnextKeyId: config.rnextKeyId, mac: new Uint8Array(TCP_AO_MAC_LEN) });
  const bytes = encodeTcpSegment({ ...seg, options: [...optionsBefore, option] }, src, dst);
  const key = trafficKeyFor(config, seg, src, dst, isns);
  bytes.set(tcpAoMac(config.algorithm, key, sne, bytes, src, dst, optionOffset, config.excludeOptions ?? false), optionOffset + TCP_AO_OPTION_HEADER_LEN);
  tcpRewriteChecksum(bytes, src, dst);
  return bytes;
}

/** RFC 5925 §5.2: a SYN without ACK uses a traffic key whose peer ISN is zero; every other segment both ISNs. */
function trafficKeyFor(config: Extract<TcpAuthConfig, { kind: 'ao' }>, seg: TcpSegment, src: number, dst: number, isns: TcpAuthIsns): Uint8Array {
  const synOnly = (seg.flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) === TCP_FLAG_SYN;
  // The context names the segment's sender first; `isns` are from our side, so the caller tells us which.
  return tcpAoTrafficKey(config.algorithm, config.masterKey, tcpAoContext(src, dst, seg.srcPort, seg.dstPort, isns.local, synOnly ? 0 : isns.remote));
}

/**
 * Verifies a received segment (`bytes` as received, `seg` its decoding, `found` its authentication
 * options) against `config`, in the order of RFC 5925 §7.3: option present, KeyID known, MAC right.
 * `isns` are the receiver's view (local = ours); `sne` the receive SNE for `seg.seq`.
 */
export function tcpAuthVerify(
  config: TcpAuthConfig,
  bytes: Uint8Array,
  seg: TcpSegment,
  found: TcpAuthOptions,
  src: number,
  dst: number,
  isns: TcpAuthIsns,
  sne: number,
): TcpAuthFailure | undefined {
  if (config.kind === 'md5') {
    // RFC 2385 §3: unsigned segments on a connection that expects signatures are dropped; so is TCP-AO in place of MD5.
    if (!found.md5) return found.ao ? 'unexpected' : 'missing';
    if (found.ao) return 'unexpected';
    return macEqual(found.md5.digest, tcpMd5Digest(bytes, src, dst, config.key)) ? undefined : 'bad-mac';
  }
  // RFC 5925 §7.3 (1): an MKT matches and no TCP-AO option: discard. MD5 and TCP-AO together: discard (§1.3: MUST NOT both).
  if (!found.ao) return found.md5 ? 'unexpected' : 'missing';
  if (found.md5) return 'unexpected';
  // §7.3 (2): the KeyID must name an MKT's RecvID.
  if (found.ao.keyId !== config.rnextKeyId) return 'bad-key-id';
  if (found.ao.mac.length !== TCP_AO_MAC_LEN) return 'bad-mac';
  // The sender's ISN is the remote one: swap to the sender's view for the context.
  const key = trafficKeyFor(config, seg, src, dst, { local: isns.remote, remote: isns.local });
  const mac = tcpAoMac(config.algorithm, key, sne, bytes, src, dst, found.ao.offset, config.excludeOptions ?? false);
  // §7.3 (4): "If the MACs differ, the segment MUST be discarded".
  return macEqual(found.ao.mac, mac) ? undefined : 'bad-mac';
}

/**
 * The signer/verifier of one connection: its configuration and the SNE of each direction. The
 * connection supplies its ISNs; traffic keys are derived per segment (one HMAC or CMAC).
 */
export class TcpAuthSession {
  readonly config: TcpAuthConfig;
  readonly optionBytes: number;
  private readonly sendSne = new TcpAoSne();
  private readonly recvSne = new TcpAoSne();

  constructor(config: TcpAuthConfig) {
    checkTcpAuthConfig(config);
    this.config = config;
    this.optionBytes = tcpAuthOptionBytes(config);
  }

  sign(seg: TcpSegment, src: number, dst: number, isns: TcpAuthIsns): Uint8Array {
    const sne = this.sendSne.sneFor(seg.seq);
    this.sendSne.advance(seg.seq, sne);
    return tcpAuthSign(this.config, seg, src, dst, isns, sne);
  }

  verify(bytes: Uint8Array, seg: TcpSegment, found: TcpAuthOptions, src: number, dst: number, isns: TcpAuthIsns): TcpAuthFailure | undefined {
    const sne = this.recvSne.sneFor(seg.seq);
    const r = tcpAuthVerify(this.config, bytes, seg, found, src, dst, isns, sne);
    if (r === undefined) this.recvSne.advance(seg.seq, sne);
    return r;
  }
}
