// The ESP engine interface (RFC 4303 tunnel mode over IPv4): one contract, two implementations
// that must agree byte for byte — the TypeScript reference on @noble/ciphers (esp-ts.ts) and the
// WASM engine (esp-wasm.ts, assembly/esp/). Types and constants only.
//
// Wire format produced by encapsulate (all engines, byte for byte):
//   outer IPv4 header (RFC 791): version 4, IHL 5, TOS copied from the inner packet's TOS / traffic
//     class byte (DSCP and ECN, RFC 4301 §5.1.2 with RFC 6040 normal mode), total length, identification 0,
//     DF set (RFC 6864: atomic datagram), TTL 64, protocol 50, checksum, src = tunnelSrc, dst = tunnelDst
//   SPI (4) | sequence number, low 32 bits (4) | IV (8) = the full 64-bit sequence number, big-endian
//   ciphertext of: inner packet | padding 1,2,3,… | pad length (1) | next header (1): 4 = IPv4, 41 = IPv6
//     padding: the fewest bytes (0..3) making inner + 2 + padding a multiple of 4 (RFC 4303 §2.4)
//   ICV (16)
// AEAD (RFC 4106 for AES-GCM, RFC 7634 for ChaCha20-Poly1305): key as given; nonce = salt (4) | IV (8);
//   AAD = SPI | seq low 32 (8 bytes), or with ESN SPI | seq high 32 | seq low 32 (12 bytes, RFC 4106 §5).
// Sequence numbers start at 1. Without ESN the sender stops at 2^32 − 1 (RFC 4303 §3.3.3: the SA
// must be rekeyed); with ESN at 2^64 − 1.
//
// Decapsulate checks, in this order: outer IPv4 well-formed with protocol 50 and not a fragment
// (RFC 4303 §3.4.1: reassembly comes first, and we do not reassemble) → SPI known (inbound SA)
// → sequence number inside the anti-replay window and not seen (RFC 4303 §3.4.3; with ESN the
// high 32 bits are inferred as in Appendix A2.2) → ICV (before any plaintext is released) → padding
// bytes 1,2,3,… and next header 4 or 41 → then, and only then, the window is updated and the inner
// packet delivered.

export const ESP_SUITES = ['aes-gcm-128', 'aes-gcm-256', 'chacha20-poly1305'] as const;
export type EspSuite = (typeof ESP_SUITES)[number];

export const ESP_KEY_BYTES: Record<EspSuite, number> = { 'aes-gcm-128': 16, 'aes-gcm-256': 32, 'chacha20-poly1305': 32 };
export const ESP_SALT_BYTES = 4;
export const ESP_IV_BYTES = 8;
export const ESP_ICV_BYTES = 16;
export const ESP_HEADER_BYTES = 8;
export const IPV4_HEADER_BYTES = 20;
/** Bytes an ESP tunnel adds at most to an inner packet: outer header, ESP header, IV, pad ≤ 3, trailer 2, ICV. */
export const ESP_OVERHEAD_MAX = IPV4_HEADER_BYTES + ESP_HEADER_BYTES + ESP_IV_BYTES + 3 + 2 + ESP_ICV_BYTES;
export const REPLAY_WINDOW_DEFAULT = 64;
/** Largest anti-replay window an engine must support (bits). */
export const REPLAY_WINDOW_MAX = 4096;

export interface EspSaParams {
  /** Security Parameters Index, 32-bit, non-zero (values 1–255 are reserved by IANA; we accept ≥ 256). */
  spi: number;
  suite: EspSuite;
  key: Uint8Array;
  /** 4-byte salt (the last 4 bytes of the keying material, RFC 4106 §8.1 / RFC 7634 §4). */
  salt: Uint8Array;
  /** Extended (64-bit) sequence numbers, RFC 4304. */
  esn: boolean;
  /**
   * Anti-replay window in packets, 32..REPLAY_WINDOW_MAX and a multiple of 32, or 0 for none (a group
   * SA with many senders, RFC 6407 §4.4.2 style); inbound only. ESN needs a window (0 with ESN is refused).
   */
  replayWindow: number;
  /** Outer IPv4 source and destination (unsigned 32-bit), used when encapsulating. */
  tunnelSrc: number;
  tunnelDst: number;
}

export type EspDirection = 'outbound' | 'inbound';

/** Why a packet did not make it through an engine. */
export const ESP_DROP_REASONS = [
  'malformed', // outer header or ESP framing wrong (too short, not protocol 50, bad IPv4 header, a fragment); outbound: inner not IPv4/IPv6
  'unknown-spi', // no inbound SA with this SPI
  'replay', // sequence number already seen
  'too-old', // sequence number left of the window
  'icv', // integrity check failed
  'bad-padding', // padding bytes not 1,2,3,… or pad length too long
  'bad-next-header', // next header neither 4 nor 41
  'seq-overflow', // outbound: sequence number space exhausted, rekey needed
  'too-big', // outbound: result would exceed 65535 bytes
] as const;
export type EspDropReason = (typeof ESP_DROP_REASONS)[number];

/**
 * One packet's outcome. `bytes` belongs to the caller but may be a view sharing one buffer with the
 * other results of the same batch: copy it before transferring its buffer.
 */
export type EspResult = { ok: true; bytes: Uint8Array; seq: bigint } | { ok: false; reason: EspDropReason };

export interface EspSaCounters {
  packets: number;
  /** Inner (plaintext) bytes protected or delivered. */
  bytes: number;
  /** Next sequence number to send (outbound) or highest seen (inbound). */
  seq: bigint;
  drops: Record<EspDropReason, number>;
}

export interface EspEngine {
  readonly name: 'ts' | 'wasm';
  /** Installs an SA; returns a handle. Throws RangeError on bad parameters (API misuse). */
  addSa(direction: EspDirection, params: EspSaParams): number;
  removeSa(handle: number): void;
  /** Sets the next outbound sequence number (tests of overflow; rekey hand-over). */
  setNextSeq(handle: number, seq: bigint): void;
  counters(handle: number): EspSaCounters;
  /** Encapsulates each inner IPv4/IPv6 packet with the outbound SA `handle`; one call per batch. */
  encapsulate(handle: number, packets: readonly Uint8Array[]): EspResult[];
  /** Decapsulates each outer packet; the inbound SA is found by SPI; one call per batch. */
  decapsulate(packets: readonly Uint8Array[]): EspResult[];
}
