// The TypeScript reference ESP engine (RFC 4303 tunnel mode; RFC 4106 AES-GCM, RFC 7634
// ChaCha20-Poly1305) on @noble/ciphers: the fallback and the oracle the WASM engine must match byte
// for byte. Follows the wire format in esp.ts; never releases plaintext before the ICV is verified.

import { gcm } from '@noble/ciphers/aes.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { decodeIpv4, encodeIpv4, IP_PROTO_ESP } from '../proto/ip/index.ts';
import {
  ESP_DROP_REASONS,
  ESP_HEADER_BYTES,
  ESP_ICV_BYTES,
  ESP_IV_BYTES,
  ESP_KEY_BYTES,
  ESP_SALT_BYTES,
  IPV4_HEADER_BYTES,
  REPLAY_WINDOW_MAX,
  type EspDirection,
  type EspDropReason,
  type EspEngine,
  type EspResult,
  type EspSaCounters,
  type EspSaParams,
  type EspSuite,
} from './esp.ts';
import { ReplayWindow } from './replay.ts';

/** Next header values of the inner packet (IANA protocol numbers). */
export const NEXT_HEADER_IPV4 = 4;
export const NEXT_HEADER_IPV6 = 41;
const SEQ_MAX_32 = 0xffff_ffffn;
const SEQ_MAX_64 = 0xffff_ffff_ffff_ffffn;
const OUTER_TTL = 64;

interface Sa {
  direction: EspDirection;
  params: EspSaParams;
  nextSeq: bigint;
  window: ReplayWindow | undefined;
  counters: EspSaCounters;
}

function zeroDrops(): Record<EspDropReason, number> {
  return Object.fromEntries(ESP_DROP_REASONS.map((r) => [r, 0])) as Record<EspDropReason, number>;
}

/** Throws RangeError on parameters no engine accepts (API misuse, not peer input). */
export function checkSaParams(direction: EspDirection, p: EspSaParams): void {
  const fail = (m: string) => {
    throw new RangeError(`ESP SA 0x${(p.spi >>> 0).toString(16)}: ${m}`);
  };
  if (!Number.isInteger(p.spi) || p.spi < 256 || p.spi > 0xffffffff) fail('SPI must be an integer in 256..2^32-1');
  if (!(p.suite in ESP_KEY_BYTES)) fail(`unknown suite ${String(p.suite)}`);
  if (p.key.length !== ESP_KEY_BYTES[p.suite]) fail(`${p.suite} needs a ${ESP_KEY_BYTES[p.suite]}-byte key, got ${p.key.length}`);
  if (p.salt.length !== ESP_SALT_BYTES) fail(`salt must be ${ESP_SALT_BYTES} bytes, got ${p.salt.length}`);
  if (direction === 'inbound' && !(p.replayWindow === 0 || (p.replayWindow >= 32 && p.replayWindow <= REPLAY_WINDOW_MAX && p.replayWindow % 32 === 0)))
    fail(`replay window must be 0 or a multiple of 32 in 32..${REPLAY_WINDOW_MAX}, got ${p.replayWindow}`);
  // RFC 4303 App. A2.2 infers the high half of an ESN from the window; without one it cannot.
  if (direction === 'inbound' && p.esn && p.replayWindow === 0) fail('ESN needs an anti-replay window to infer the high half of the sequence number (RFC 4303 App. A2.2)');
}

/** AAD of RFC 4106 §5 / RFC 7634 §2.1: SPI | seq (8 bytes), or SPI | seq high | seq low with ESN (12). */
export function espAad(spi: number, seq: bigint, esn: boolean): Uint8Array {
  const aad = new Uint8Array(esn ? 12 : 8);
  const dv = new DataView(aad.buffer);
  dv.setUint32(0, spi >>> 0);
  if (esn) dv.setUint32(4, Number(seq >> 32n));
  dv.setUint32(esn ? 8 : 4, Number(seq & SEQ_MAX_32));
  return aad;
}

/** The ESP nonce of RFC 4106 §4 / RFC 7634 §2: salt (4) | IV (8). */
function espNonce(salt: Uint8Array, iv: Uint8Array): Uint8Array {
  const nonce = new Uint8Array(ESP_SALT_BYTES + ESP_IV_BYTES);
  nonce.set(salt, 0);
  nonce.set(iv, ESP_SALT_BYTES);
  return nonce;
}

function cipher(suite: EspSuite, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array) {
  return suite === 'chacha20-poly1305' ? chacha20poly1305(key, nonce, aad) : gcm(key, nonce, aad);
}

/** AEAD seal with a 12-byte nonce and 16-byte tag: ciphertext | tag. */
export function aeadSeal(suite: EspSuite, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plain: Uint8Array): Uint8Array {
  return cipher(suite, key, nonce, aad).encrypt(plain);
}

/** AEAD open: the plaintext, or undefined when the tag does not verify (nothing is released then). */
export function aeadOpen(suite: EspSuite, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | undefined {
  try {
    return cipher(suite, key, nonce, aad).decrypt(sealed);
  } catch {
    return undefined;
  }
}

export class TsEspEngine implements EspEngine {
  readonly name = 'ts';
  private readonly sas = new Map<number, Sa>();
  private readonly inboundBySpi = new Map<number, number>();
  private nextHandle = 1;

  addSa(direction: EspDirection, params: EspSaParams): number {
    checkSaParams(direction, params);
    if (direction === 'inbound' && this.inboundBySpi.has(params.spi >>> 0)) throw new RangeError(`inbound SPI 0x${params.spi.toString(16)} already installed`);
    const handle = this.nextHandle++;
    this.sas.set(handle, {
      direction,
      params: { ...params, key: params.key.slice(), salt: params.salt.slice() },
      nextSeq: 1n,
      window: direction === 'inbound' ? new ReplayWindow(params.replayWindow, params.esn) : undefined,
      counters: { packets: 0, bytes: 0, seq: direction === 'outbound' ? 1n : 0n, drops: zeroDrops() },
    });
    if (direction === 'inbound') this.inboundBySpi.set(params.spi >>> 0, handle);
    return handle;
  }

  removeSa(handle: number): void {
    const sa = this.sas.get(handle);
    if (!sa) return;
    this.sas.delete(handle);
    if (sa.direction === 'inbound') this.inboundBySpi.delete(sa.params.spi >>> 0);
    sa.params.key.fill(0);
  }

  setNextSeq(handle: number, seq: bigint): void {
    const sa = this.sa(handle, 'outbound');
    sa.nextSeq = seq;
    sa.counters.seq = seq;
  }

  counters(handle: number): EspSaCounters {
    const sa = this.sa(handle);
    const c = sa.counters;
    return { packets: c.packets, bytes: c.bytes, seq: sa.direction === 'outbound' ? sa.nextSeq : (sa.window?.highest ?? 0n), drops: { ...c.drops } };
  }

  encapsulate(handle: number, packets: readonly Uint8Array[]): EspResult[] {
    const sa = this.sa(handle, 'outbound');
    return packets.map((inner) => {
      const r = this.encapOne(sa, inner);
      if (!r.ok) sa.counters.drops[r.reason]++;
      return r;
    });
  }

  decapsulate(packets: readonly Uint8Array[]): EspResult[] {
    return packets.map((outer) => this.decapOne(outer));
  }

  private encapOne(sa: Sa, inner: Uint8Array): EspResult {
    const p = sa.params;
    const seq = sa.nextSeq;
    // RFC 4303 §3.3.3: the counter must not cycle; the SA has to be rekeyed instead.
    if (seq > (p.esn ? SEQ_MAX_64 : SEQ_MAX_32)) return { ok: false, reason: 'seq-overflow' };
    const version = inner.length > 0 ? inner[0]! >> 4 : 0;
    if ((version !== 4 && version !== 6) || inner.length < (version === 4 ? 20 : 40)) return { ok: false, reason: 'malformed' };
    const nextHeader = version === 4 ? NEXT_HEADER_IPV4 : NEXT_HEADER_IPV6;
    // Outer TOS: the inner DSCP and ECN (RFC 4301 §5.1.2, RFC 6040 normal mode).
    const tos = version === 4 ? inner[1]! : ((inner[0]! & 0x0f) << 4) | (inner[1]! >> 4);
    const pad = (4 - ((inner.length + 2) % 4)) % 4;
    const outerLen = IPV4_HEADER_BYTES + ESP_HEADER_BYTES + ESP_IV_BYTES + inner.length + pad + 2 + ESP_ICV_BYTES;
    if (outerLen > 0xffff) return { ok: false, reason: 'too-big' };
    const plain = new Uint8Array(inner.length + pad + 2);
    plain.set(inner, 0);
    for (let i = 0; i < pad; i++) plain[inner.length + i] = i + 1; // RFC 4303 §2.4: 1, 2, 3, …
    plain[inner.length + pad] = pad;
    plain[inner.length + pad + 1] = nextHeader;
    const esp = new Uint8Array(ESP_HEADER_BYTES + ESP_IV_BYTES + plain.length + ESP_ICV_BYTES);
    const dv = new DataView(esp.buffer);
    dv.setUint32(0, p.spi >>> 0);
    dv.setUint32(4, Number(seq & SEQ_MAX_32));
    dv.setBigUint64(8, seq); // IV = the 64-bit sequence number: unique per key (RFC 4106 §3.1)
    const iv = esp.subarray(8, 16);
    esp.set(aeadSeal(p.suite, p.key, espNonce(p.salt, iv), espAad(p.spi, seq, p.esn), plain), 16);
    sa.nextSeq = seq + 1n;
    sa.counters.packets++;
    sa.counters.bytes += inner.length;
    const outer = encodeIpv4(
      { dscp: tos >> 2, ecn: tos & 3, identification: 0, dontFragment: true, moreFragments: false, fragmentOffset: 0, ttl: OUTER_TTL, protocol: IP_PROTO_ESP, src: p.tunnelSrc >>> 0, dst: p.tunnelDst >>> 0, options: new Uint8Array(0) },
      esp,
    );
    return { ok: true, bytes: outer, seq };
  }

  private decapOne(outer: Uint8Array): EspResult {
    const ip = decodeIpv4(outer);
    if (!ip.ok || ip.value.header.protocol !== IP_PROTO_ESP) return { ok: false, reason: 'malformed' };
    // RFC 4303 §3.4.1: fragments are reassembled before ESP processing; we never reassemble.
    if (ip.value.header.moreFragments || ip.value.header.fragmentOffset !== 0) return { ok: false, reason: 'malformed' };
    const esp = ip.value.payload;
    if (esp.length < ESP_HEADER_BYTES + ESP_IV_BYTES + 2 + ESP_ICV_BYTES) return { ok: false, reason: 'malformed' };
    const dv = new DataView(esp.buffer, esp.byteOffset, esp.byteLength);
    const spi = dv.getUint32(0);
    const handle = this.inboundBySpi.get(spi);
    const sa = handle === undefined ? undefined : this.sas.get(handle);
    if (!sa || !sa.window) return { ok: false, reason: 'unknown-spi' };
    const drop = (reason: EspDropReason): EspResult => {
      sa.counters.drops[reason]++;
      return { ok: false, reason };
    };
    const check = sa.window.check(dv.getUint32(4));
    if (!check.ok) return drop(check.reason);
    const { suite, key, salt, esn } = sa.params;
    const plain = aeadOpen(suite, key, espNonce(salt, esp.subarray(8, 16)), espAad(spi, check.seq, esn), esp.subarray(16));
    if (!plain) return drop('icv');
    const padLen = plain[plain.length - 2]!;
    const nextHeader = plain[plain.length - 1]!;
    if (padLen > plain.length - 2) return drop('bad-padding');
    const innerLen = plain.length - 2 - padLen;
    for (let i = 0; i < padLen; i++) if (plain[innerLen + i] !== i + 1) return drop('bad-padding');
    if (nextHeader !== NEXT_HEADER_IPV4 && nextHeader !== NEXT_HEADER_IPV6) return drop('bad-next-header');
    sa.window.accept(check.seq);
    sa.counters.packets++;
    sa.counters.bytes += innerLen;
    return { ok: true, bytes: plain.subarray(0, innerLen), seq: check.seq };
  }

  private sa(handle: number, direction?: EspDirection): Sa {
    const sa = this.sas.get(handle);
    if (!sa || (direction && sa.direction !== direction)) throw new RangeError(`no ${direction ?? ''} SA with handle ${handle}`.replace('  ', ' '));
    return sa;
  }
}
