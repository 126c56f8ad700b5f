// The anti-replay window of RFC 4303 §3.4.3, with extended sequence numbers inferred as in its
// Appendix A2.2. Owns the window state of one inbound SA; never touches packets or keys.

/** The verdict of a check: fine (with the full 64-bit sequence number), seen, or left of the window. */
export type ReplayCheck = { ok: true; seq: bigint } | { ok: false; reason: 'replay' | 'too-old' };

const U32 = 0x1_0000_0000n;

export class ReplayWindow {
  /** Highest sequence number authenticated so far (64-bit when ESN is on); 0 before any. */
  private top = 0n;
  /** Bit i set: sequence number ≡ i (mod size) seen, for numbers within the window. */
  private readonly seen: Uint8Array;

  /** `size` 0 disables the check (every number is accepted; the top is still tracked). */
  constructor(
    readonly size: number,
    readonly esn: boolean,
  ) {
    this.seen = new Uint8Array(size);
  }

  get highest(): bigint {
    return this.top;
  }

  /**
   * Checks a received sequence number (the low 32 bits when ESN is on) before the ICV is verified;
   * with ESN it returns the inferred full number, which the ICV check then confirms (RFC 4303 §3.4.3).
   */
  check(seqLow: number): ReplayCheck {
    const seq = this.esn ? this.infer(seqLow) : BigInt(seqLow >>> 0);
    if (seq === undefined) return { ok: false, reason: 'too-old' };
    if (seq === 0n) return { ok: false, reason: 'too-old' }; // never sent (§3.3.3 starts at 1)
    if (this.size === 0 || seq > this.top) return { ok: true, seq };
    if (this.top - seq >= BigInt(this.size)) return { ok: false, reason: 'too-old' };
    return this.seen[Number(seq % BigInt(this.size))] ? { ok: false, reason: 'replay' } : { ok: true, seq };
  }

  /** Records a number that passed `check` and the ICV; only then does the window move (§3.4.3). */
  accept(seq: bigint): void {
    if (this.size === 0) {
      if (seq > this.top) this.top = seq;
      return;
    }
    const w = BigInt(this.size);
    if (seq > this.top) {
      // Clear the slots the window slides over (at most `size` of them).
      const shift = seq - this.top;
      if (shift >= w) this.seen.fill(0);
      else for (let s = this.top + 1n; s < seq; s++) this.seen[Number(s % w)] = 0;
      this.top = seq;
    }
    this.seen[Number(seq % w)] = 1;
  }

  /** RFC 4303 Appendix A2.2: the high 32 bits of a received ESN from its low 32 bits. */
  private infer(seqLow: number): bigint | undefined {
    const low = BigInt(seqLow >>> 0);
    const tl = this.top % U32;
    const th = this.top / U32;
    const w = BigInt(Math.max(this.size, 1));
    let high: bigint;
    if (tl >= w - 1n) {
      // Case A: the window lies within one sequence-number subspace.
      high = low >= tl - w + 1n ? th : th + 1n;
    } else {
      // Case B: the window spans two subspaces.
      const bottom = (tl - w + 1n + U32) % U32;
      high = low >= bottom ? th - 1n : th;
    }
    if (high < 0n || high >= U32) return undefined;
    return high * U32 + low;
  }
}
