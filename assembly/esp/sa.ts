// The SA table: fixed-size SA records in a region of the arena that JS reserves, plus an SPI →
// handle index (open addressing) for inbound SAs. Owns the record layout; never allocates and
// never reads packets.
//
// Table region (at saTableInit's `base`):
//   [base, base + capacity·SA_BYTES)        SA records; handle h is the record at base + h·SA_BYTES
//   [then, + indexSlots·8)                  SPI index: (spi u32, handle + 1 u32) slots, 0 = empty;
//                                           indexSlots = the power of two ≥ 2·capacity
//
// SA record (SA_BYTES, all little-endian):
//   +0    u32 state: 0 free, 1 outbound, 2 inbound
//   +4    u32 suite: 0 aes-gcm-128, 1 aes-gcm-256, 2 chacha20-poly1305 (ESP_SUITES order)
//   +8    u32 SPI
//   +12   u32 ESN: 0 or 1
//   +16   u32 anti-replay window in bits (0 = off; inbound only)
//   +20   u32 tunnel source, +24 u32 tunnel destination (IPv4 as numbers)
//   +28   4 bytes salt, as given
//   +32   u64 outbound: next sequence number to send; inbound: highest authenticated (the window top)
//   +40   u32 outbound: 1 when the next number is ≥ 2^64 (ESN space exhausted)
//   +48   u64 packets, +56 u64 inner bytes
//   +64   u64 drops[9], indexed like ESP_DROP_REASONS
//   +192  key context (aead.ts: key, GHASH powers, bitsliced AES schedule)
//   +SA_REPLAY_BITMAP  anti-replay bitmap, REPLAY_WINDOW_MAX / 8 bytes

import { KEYCTX_BYTES } from './aead';

export const SA_STATE: u32 = 0;
export const SA_SUITE: u32 = 4;
export const SA_SPI: u32 = 8;
export const SA_ESN: u32 = 12;
export const SA_WINDOW: u32 = 16;
export const SA_TUNNEL_SRC: u32 = 20;
export const SA_TUNNEL_DST: u32 = 24;
export const SA_SALT: u32 = 28;
export const SA_SEQ: u32 = 32;
export const SA_SEQ_EXHAUSTED: u32 = 40;
export const SA_PACKETS: u32 = 48;
export const SA_BYTES_COUNT: u32 = 56;
export const SA_DROPS: u32 = 64;
export const SA_KEYCTX: u32 = 192;
/** Largest anti-replay window (REPLAY_WINDOW_MAX in src/dataplane/esp.ts). */
export const REPLAY_WINDOW_MAX: u32 = 4096;
export const SA_REPLAY_BITMAP: u32 = (SA_KEYCTX + KEYCTX_BYTES + 63) & ~63;
/** Bytes of one SA record (a multiple of 64). */
export const SA_BYTES: u32 = (SA_REPLAY_BITMAP + (REPLAY_WINDOW_MAX >> 3) + 63) & ~63;

export const SA_FREE: u32 = 0;
export const SA_OUTBOUND: u32 = 1;
export const SA_INBOUND: u32 = 2;

let tableBase: usize = 0;
let tableCapacity: u32 = 0;
let indexBase: usize = 0;
let indexMask: u32 = 0;

function indexSlotsFor(capacity: u32): u32 {
  let n: u32 = 16;
  while (n < capacity * 2) n <<= 1;
  return n;
}

/** Bytes a table of `capacity` SAs occupies (records and index). */
export function saTableBytes(capacity: u32): u32 {
  return capacity * SA_BYTES + indexSlotsFor(capacity) * 8;
}

/** Address of handle `h`'s record, or 0 if `h` is outside the table. */
export function saAddress(h: u32): usize {
  return h < tableCapacity ? tableBase + usize(h) * SA_BYTES : 0;
}

// @ts-ignore: decorator
@inline
function spiHash(spi: u32): u32 {
  const x = spi * 0x9e3779b1; // Fibonacci hashing; fold the high half into the low bits used
  return x ^ (x >>> 16);
}

function indexInsert(spi: u32, h: u32): void {
  let i = spiHash(spi) & indexMask;
  while (load<u32>(indexBase + (usize(i) << 3)) != 0) i = (i + 1) & indexMask;
  store<u32>(indexBase + (usize(i) << 3), spi);
  store<u32>(indexBase + (usize(i) << 3), h + 1, 4);
}

/** Rebuilds the SPI index from the inbound records. */
function indexRebuild(): void {
  memory.fill(indexBase, 0, usize(indexMask + 1) << 3);
  for (let h: u32 = 0; h < tableCapacity; h++) {
    const sa = tableBase + usize(h) * SA_BYTES;
    if (load<u32>(sa + SA_STATE) == SA_INBOUND) indexInsert(load<u32>(sa + SA_SPI), h);
  }
}

/** Handle of the inbound SA with this SPI, or -1. */
export function saLookupInbound(spi: u32): i32 {
  if (spi == 0) return -1; // SPI 0 is reserved (RFC 4303 §2.1) and marks empty slots
  let i = spiHash(spi) & indexMask;
  while (true) {
    const slot = indexBase + (usize(i) << 3);
    const s = load<u32>(slot);
    if (s == 0) return -1;
    if (s == spi) return i32(load<u32>(slot, 4)) - 1;
    i = (i + 1) & indexMask;
  }
  return -1;
}

/** Lays out an empty table of `capacity` SAs at `base` (saTableBytes(capacity) bytes, zeroed). */
export function saTableInit(base: usize, capacity: u32): void {
  tableBase = base;
  tableCapacity = capacity;
  memory.fill(base, 0, saTableBytes(capacity));
  indexBase = base + usize(capacity) * SA_BYTES;
  indexMask = indexSlotsFor(capacity) - 1;
}

/**
 * Grows the table in place to `capacity` SAs (records keep their addresses and handles; the index
 * moves behind them and is rebuilt). The memory up to base + saTableBytes(capacity) must exist.
 */
export function saTableGrow(capacity: u32): void {
  if (capacity <= tableCapacity) return;
  const old = tableCapacity;
  memory.fill(tableBase + usize(old) * SA_BYTES, 0, usize(capacity - old) * SA_BYTES);
  tableCapacity = capacity;
  indexBase = tableBase + usize(capacity) * SA_BYTES;
  indexMask = indexSlotsFor(capacity) - 1;
  indexRebuild();
}

/** Frees handle `h`: wipes its record (keys included) and drops it from the SPI index. */
export function saFree(h: u32): void {
  const sa = saAddress(h);
  if (sa == 0) return;
  const wasInbound = load<u32>(sa + SA_STATE) == SA_INBOUND;
  memory.fill(sa, 0, SA_BYTES);
  if (wasInbound) indexRebuild();
}

/** Marks `h` in use and indexes it when inbound; false if the inbound SPI is taken. */
export function saClaim(h: u32, state: u32, spi: u32): bool {
  const sa = saAddress(h);
  if (sa == 0 || load<u32>(sa + SA_STATE) != SA_FREE) return false;
  if (state == SA_INBOUND) {
    if (saLookupInbound(spi) >= 0) return false;
    indexInsert(spi, h);
  }
  store<u32>(sa + SA_STATE, state);
  store<u32>(sa + SA_SPI, spi);
  return true;
}
