// ESP tunnel mode (RFC 4303) over IPv4, batch by batch: builds and checks the exact wire format of
// src/dataplane/esp.ts. Owns framing, header checks and per-SA state updates; never allocates,
// never delivers a byte of an inner packet whose ICV did not verify.

import { aeadOpen, aeadSeal } from './aead';
import { replayAccept, replayCheck, replaySeq, REPLAY_OK, REPLAY_SEEN } from './replay';
import {
  saAddress,
  saLookupInbound,
  SA_BYTES_COUNT,
  SA_DROPS,
  SA_ESN,
  SA_INBOUND,
  SA_KEYCTX,
  SA_OUTBOUND,
  SA_PACKETS,
  SA_SALT,
  SA_SEQ,
  SA_SEQ_EXHAUSTED,
  SA_SPI,
  SA_STATE,
  SA_SUITE,
  SA_TUNNEL_DST,
  SA_TUNNEL_SRC,
} from './sa';

/** Descriptor fields (DESC_BYTES each; see index.ts for their meaning). */
export const DESC_IN: u32 = 0;
export const DESC_IN_LEN: u32 = 4;
export const DESC_OUT: u32 = 8;
export const DESC_SA: u32 = 12;
export const DESC_OUT_LEN: u32 = 16;
export const DESC_VERDICT: u32 = 20;
export const DESC_SEQ: u32 = 24;
export const DESC_BYTES: u32 = 32;

/** Verdicts: 0 delivered, else 1 + the index of the reason in ESP_DROP_REASONS. */
export const VERDICT_OK: u32 = 0;
export const DROP_MALFORMED: u32 = 1;
export const DROP_UNKNOWN_SPI: u32 = 2;
export const DROP_REPLAY: u32 = 3;
export const DROP_TOO_OLD: u32 = 4;
export const DROP_ICV: u32 = 5;
export const DROP_BAD_PADDING: u32 = 6;
export const DROP_BAD_NEXT_HEADER: u32 = 7;
export const DROP_SEQ_OVERFLOW: u32 = 8;
export const DROP_TOO_BIG: u32 = 9;
/** Not a drop: the descriptor named no outbound SA (a bug in the caller; JS checks first). */
export const VERDICT_BAD_HANDLE: u32 = 255;

const IPV4_HEADER: u32 = 20;
const ESP_HEADER: u32 = 8;
const ESP_IV: u32 = 8;
const ICV: u32 = 16;
/** Outer IPv4 header + SPI + sequence number + IV: where the ciphertext starts. */
const CT_OFFSET: u32 = IPV4_HEADER + ESP_HEADER + ESP_IV;
const PROTO_ESP: u8 = 50;
const NEXT_HEADER_IPV4: u8 = 4;
const NEXT_HEADER_IPV6: u8 = 41;
const OUTER_TTL: u8 = 64;
const SEQ_MAX_32: u64 = 0xffffffff;

/** AAD and nonce assembled per packet. */
const AAD: usize = memory.data(16, 16);
const NONCE: usize = memory.data(16, 16);

/** Drops that no SA can be charged with (malformed outer header, unknown SPI), by verdict code. */
let dropsMalformed: u64 = 0;
let dropsUnknownSpi: u64 = 0;

/** Count of `verdict` drops not attributable to an SA (DROP_MALFORMED or DROP_UNKNOWN_SPI). */
export function espUnattributedDrops(verdict: u32): u64 {
  return verdict == DROP_MALFORMED ? dropsMalformed : verdict == DROP_UNKNOWN_SPI ? dropsUnknownSpi : 0;
}

// @ts-ignore: decorator
@inline
function finish(desc: usize, verdict: u32, outLen: u32, seq: u64): void {
  store<u32>(desc + DESC_OUT_LEN, outLen);
  store<u32>(desc + DESC_VERDICT, verdict);
  store<u64>(desc + DESC_SEQ, seq);
}

function drop(desc: usize, sa: usize, verdict: u32): void {
  if (sa != 0) {
    const at = sa + SA_DROPS + ((verdict - 1) << 3);
    store<u64>(at, load<u64>(at) + 1);
  } else if (verdict == DROP_MALFORMED) {
    dropsMalformed++;
  } else {
    dropsUnknownSpi++;
  }
  finish(desc, verdict, 0, 0);
}

/** One's-complement sum of `len` bytes (a multiple of 4) at `p`, folded to 16 bits, in little-endian word order. */
function sumLe16(p: usize, len: u32): u32 {
  let s: u32 = 0;
  for (let i: u32 = 0; i < len; i += 4) {
    const w = load<u32>(p + i);
    s += (w & 0xffff) + (w >>> 16);
  }
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** Writes SPI | seq high | seq low (ESN) or SPI | seq low at AAD; returns its length. */
// @ts-ignore: decorator
@inline
function buildAad(sa: usize, seq: u64): u32 {
  store<u32>(AAD, bswap<u32>(load<u32>(sa + SA_SPI)), 0);
  if (load<u32>(sa + SA_ESN) != 0) {
    store<u32>(AAD, bswap<u32>(u32(seq >> 32)), 4);
    store<u32>(AAD, bswap<u32>(u32(seq)), 8);
    return 12;
  }
  store<u32>(AAD, bswap<u32>(u32(seq)), 4);
  return 8;
}

function encapOne(desc: usize): void {
  const inner = usize(load<u32>(desc + DESC_IN));
  const innerLen = load<u32>(desc + DESC_IN_LEN);
  const out = usize(load<u32>(desc + DESC_OUT));
  const sa = saAddress(load<u32>(desc + DESC_SA));
  if (sa == 0 || load<u32>(sa + SA_STATE) != SA_OUTBOUND) {
    finish(desc, VERDICT_BAD_HANDLE, 0, 0);
    return;
  }
  const esn = load<u32>(sa + SA_ESN) != 0;
  const seq = load<u64>(sa + SA_SEQ);
  // RFC 4303 §3.3.3: the counter must not cycle; the SA has to be rekeyed instead.
  if (load<u32>(sa + SA_SEQ_EXHAUSTED) != 0 || (!esn && seq > SEQ_MAX_32)) {
    drop(desc, sa, DROP_SEQ_OVERFLOW);
    return;
  }
  const version: u32 = innerLen > 0 ? u32(load<u8>(inner)) >> 4 : 0;
  if ((version != 4 && version != 6) || innerLen < (version == 4 ? 20 : 40)) {
    drop(desc, sa, DROP_MALFORMED);
    return;
  }
  const b0 = u32(load<u8>(inner));
  const b1 = u32(load<u8>(inner, 1));
  // Outer TOS: the inner DSCP and ECN (RFC 4301 §5.1.2, RFC 6040 normal mode).
  const tos: u32 = version == 4 ? b1 : ((b0 & 0x0f) << 4) | (b1 >> 4);
  const pad: u32 = (4 - ((innerLen + 2) & 3)) & 3;
  const plainLen = innerLen + pad + 2;
  const total = CT_OFFSET + plainLen + ICV;
  if (total > 0xffff) {
    drop(desc, sa, DROP_TOO_BIG);
    return;
  }
  // Plaintext in place behind the headers: inner | 1, 2, 3 … | pad length | next header.
  const ct = out + CT_OFFSET;
  if (inner != ct) memory.copy(ct, inner, innerLen);
  for (let i: u32 = 0; i < pad; i++) store<u8>(ct + innerLen + i, u8(i + 1));
  store<u8>(ct + innerLen + pad, u8(pad));
  store<u8>(ct + innerLen + pad + 1, version == 4 ? NEXT_HEADER_IPV4 : NEXT_HEADER_IPV6);
  // Outer IPv4 header (RFC 791): IHL 5, identification 0, DF (RFC 6864), TTL 64, protocol 50.
  store<u8>(out, 0x45, 0);
  store<u8>(out, u8(tos), 1);
  store<u16>(out, bswap<u16>(u16(total)), 2);
  store<u16>(out, 0, 4);
  store<u16>(out, bswap<u16>(0x4000), 6);
  store<u8>(out, OUTER_TTL, 8);
  store<u8>(out, PROTO_ESP, 9);
  store<u16>(out, 0, 10);
  store<u32>(out, bswap<u32>(load<u32>(sa + SA_TUNNEL_SRC)), 12);
  store<u32>(out, bswap<u32>(load<u32>(sa + SA_TUNNEL_DST)), 16);
  store<u16>(out, u16(~sumLe16(out, IPV4_HEADER)), 10);
  // ESP header and IV (= the 64-bit sequence number, RFC 4106 §3.1).
  store<u32>(out, bswap<u32>(load<u32>(sa + SA_SPI)), 20);
  store<u32>(out, bswap<u32>(u32(seq)), 24);
  store<u64>(out, bswap<u64>(seq), 28);
  // Nonce = salt | IV (RFC 4106 §4, RFC 7634 §2).
  store<u32>(NONCE, load<u32>(sa + SA_SALT), 0);
  store<u64>(NONCE, bswap<u64>(seq), 4);
  const aadLen = buildAad(sa, seq);
  aeadSeal(sa + SA_KEYCTX, load<u32>(sa + SA_SUITE), NONCE, AAD, aadLen, ct, plainLen, ct);
  if (seq == 0xffffffffffffffff) store<u32>(sa + SA_SEQ_EXHAUSTED, 1);
  store<u64>(sa + SA_SEQ, seq + 1);
  store<u64>(sa + SA_PACKETS, load<u64>(sa + SA_PACKETS) + 1);
  store<u64>(sa + SA_BYTES_COUNT, load<u64>(sa + SA_BYTES_COUNT) + innerLen);
  finish(desc, VERDICT_OK, total, seq);
}

function decapOne(desc: usize): void {
  const pkt = usize(load<u32>(desc + DESC_IN));
  const len = load<u32>(desc + DESC_IN_LEN);
  store<u32>(desc + DESC_SA, 0xffffffff);
  // Outer IPv4 (RFC 791), as proto/ip's decodeIpv4 checks it, then protocol 50.
  if (len < IPV4_HEADER) return drop(desc, 0, DROP_MALFORMED);
  const b0 = u32(load<u8>(pkt));
  const headerLen = (b0 & 0x0f) << 2;
  if (b0 >> 4 != 4 || headerLen < IPV4_HEADER || len < headerLen) return drop(desc, 0, DROP_MALFORMED);
  const total = u32(bswap<u16>(load<u16>(pkt, 2)));
  if (total < headerLen || total > len) return drop(desc, 0, DROP_MALFORMED);
  if (sumLe16(pkt, headerLen) != 0xffff) return drop(desc, 0, DROP_MALFORMED);
  if ((load<u8>(pkt, 6) & 0x80) != 0) return drop(desc, 0, DROP_MALFORMED); // reserved flag
  // RFC 4303 §3.4.1: fragments are reassembled before ESP processing; we never reassemble, so an
  // outer fragment (MF set or a non-zero offset) is not an ESP packet we can take.
  if ((((<u32>load<u8>(pkt, 6)) << 8) | <u32>load<u8>(pkt, 7)) & 0x3fff) return drop(desc, 0, DROP_MALFORMED);
  if (load<u8>(pkt, 9) != PROTO_ESP) return drop(desc, 0, DROP_MALFORMED);
  const esp = pkt + headerLen;
  const espLen = total - headerLen;
  if (espLen < ESP_HEADER + ESP_IV + 2 + ICV) return drop(desc, 0, DROP_MALFORMED);
  // SPI → inbound SA.
  const spi = bswap<u32>(load<u32>(esp));
  const h = saLookupInbound(spi);
  if (h < 0) return drop(desc, 0, DROP_UNKNOWN_SPI);
  const sa = saAddress(u32(h));
  store<u32>(desc + DESC_SA, u32(h));
  // Anti-replay before the ICV (RFC 4303 §3.4.3).
  const check = replayCheck(sa, bswap<u32>(load<u32>(esp, 4)));
  if (check != REPLAY_OK) return drop(desc, sa, check == REPLAY_SEEN ? DROP_REPLAY : DROP_TOO_OLD);
  const seq = replaySeq;
  // ICV before any plaintext is released.
  const ct = esp + ESP_HEADER + ESP_IV;
  const ctLen = espLen - ESP_HEADER - ESP_IV - ICV;
  const requested = usize(load<u32>(desc + DESC_OUT));
  const plain = requested != 0 ? requested : ct;
  store<u32>(NONCE, load<u32>(sa + SA_SALT), 0);
  store<u64>(NONCE, load<u64>(esp, 8), 4);
  const aadLen = buildAad(sa, seq);
  if (!aeadOpen(sa + SA_KEYCTX, load<u32>(sa + SA_SUITE), NONCE, AAD, aadLen, ct, ctLen, ct + ctLen, plain)) {
    return drop(desc, sa, DROP_ICV);
  }
  // Trailer: padding 1, 2, 3 … (RFC 4303 §2.4), pad length, next header.
  const padLen = u32(load<u8>(plain + ctLen - 2));
  const nextHeader = load<u8>(plain + ctLen - 1);
  if (padLen > ctLen - 2) return drop(desc, sa, DROP_BAD_PADDING);
  const innerLen = ctLen - 2 - padLen;
  for (let i: u32 = 0; i < padLen; i++) {
    if (u32(load<u8>(plain + innerLen + i)) != i + 1) return drop(desc, sa, DROP_BAD_PADDING);
  }
  if (nextHeader != NEXT_HEADER_IPV4 && nextHeader != NEXT_HEADER_IPV6) return drop(desc, sa, DROP_BAD_NEXT_HEADER);
  replayAccept(sa, seq);
  store<u64>(sa + SA_PACKETS, load<u64>(sa + SA_PACKETS) + 1);
  store<u64>(sa + SA_BYTES_COUNT, load<u64>(sa + SA_BYTES_COUNT) + innerLen);
  store<u32>(desc + DESC_OUT, u32(plain));
  finish(desc, VERDICT_OK, innerLen, seq);
}

/**
 * Encapsulates `count` inner packets described by the table at `descOffset`, each with the
 * outbound SA its descriptor names, in order (sequence numbers follow the descriptor order).
 */
export function espEncapsulateBatch(descOffset: usize, count: u32): void {
  let d = descOffset;
  for (let i: u32 = 0; i < count; i++) {
    encapOne(d);
    d += DESC_BYTES;
  }
}

/** Decapsulates `count` outer packets described by the table at `descOffset`, in order. */
export function espDecapsulateBatch(descOffset: usize, count: u32): void {
  let d = descOffset;
  for (let i: u32 = 0; i < count; i++) {
    decapOne(d);
    d += DESC_BYTES;
  }
}
