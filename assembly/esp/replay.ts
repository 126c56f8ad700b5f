// The anti-replay window of RFC 4303 §3.4.3 with extended sequence numbers inferred as in its
// Appendix A2.2, over an SA record's bitmap. Owns the window arithmetic; never touches packets or
// keys. Mirrors src/dataplane/replay.ts verdict for verdict (bit i of the bitmap: the number ≡ i
// modulo the window size was seen, for numbers inside the window).

import { SA_REPLAY_BITMAP, SA_SEQ, SA_WINDOW, SA_ESN } from './sa';

/** Verdicts of replayCheck (0 = fine). */
export const REPLAY_OK: u32 = 0;
export const REPLAY_SEEN: u32 = 1;
export const REPLAY_TOO_OLD: u32 = 2;

/** The full 64-bit sequence number of the last replayCheck that returned REPLAY_OK. */
export let replaySeq: u64 = 0;

const U32_SPAN: u64 = 0x1_0000_0000;

/**
 * Checks a received sequence number (the low 32 bits when ESN is on) against the inbound SA at
 * `sa` before the ICV is verified; on REPLAY_OK the full number is in `replaySeq`.
 */
export function replayCheck(sa: usize, seqLow: u32): u32 {
  const top = load<u64>(sa + SA_SEQ);
  const size = u64(load<u32>(sa + SA_WINDOW));
  let seq = u64(seqLow);
  if (load<u32>(sa + SA_ESN) != 0) {
    // Appendix A2.2: the high half from where the low half falls relative to the window.
    const tl = top & 0xffffffff;
    const th = top >> 32;
    const w: u64 = size > 0 ? size : 1;
    let high: u64;
    if (tl >= w - 1) {
      // Case A: the window lies within one subspace.
      high = seq >= tl - w + 1 ? th : th + 1;
      if (high >= U32_SPAN) return REPLAY_TOO_OLD;
    } else {
      // Case B: the window spans two subspaces.
      const bottom = tl + U32_SPAN - w + 1;
      if (seq >= bottom) {
        if (th == 0) return REPLAY_TOO_OLD;
        high = th - 1;
      } else {
        high = th;
      }
    }
    seq = (high << 32) | seq;
  }
  if (seq == 0) return REPLAY_TOO_OLD; // never sent: numbers start at 1 (§3.3.3)
  replaySeq = seq;
  if (size == 0 || seq > top) return REPLAY_OK;
  if (top - seq >= size) return REPLAY_TOO_OLD;
  const bit = u32(seq % size);
  const word = load<u32>(sa + SA_REPLAY_BITMAP + ((bit >> 5) << 2));
  return (word >> (bit & 31)) & 1 ? REPLAY_SEEN : REPLAY_OK;
}

/** Clears `n` bits of the bitmap from bit `from` (no wrap). */
function clearBits(bitmap: usize, from: u32, n: u32): void {
  let b = from;
  const end = from + n;
  while (b < end) {
    const off = b & 31;
    const take = min<u32>(32 - off, end - b);
    const mask: u32 = take == 32 ? 0xffffffff : ((u32(1) << take) - 1) << off;
    const at = bitmap + ((b >> 5) << 2);
    store<u32>(at, load<u32>(at) & ~mask);
    b += take;
  }
}

/** Records a number that passed replayCheck and the ICV; only then does the window move (§3.4.3). */
export function replayAccept(sa: usize, seq: u64): void {
  const top = load<u64>(sa + SA_SEQ);
  const size32 = load<u32>(sa + SA_WINDOW);
  const size = u64(size32);
  if (size == 0) {
    if (seq > top) store<u64>(sa + SA_SEQ, seq);
    return;
  }
  const bitmap = sa + SA_REPLAY_BITMAP;
  if (seq > top) {
    // Clear the slots the window slides over: top+1 .. seq-1 (the slot of seq is set below).
    const shift = seq - top;
    if (shift >= size) {
      memory.fill(bitmap, 0, size32 >> 3);
    } else {
      const count = u32(shift) - 1;
      const start = u32((top + 1) % size);
      const first = min<u32>(count, size32 - start);
      clearBits(bitmap, start, first);
      clearBits(bitmap, 0, count - first);
    }
    store<u64>(sa + SA_SEQ, seq);
  }
  const bit = u32(seq % size);
  const at = bitmap + ((bit >> 5) << 2);
  store<u32>(at, load<u32>(at) | (u32(1) << (bit & 31)));
}
