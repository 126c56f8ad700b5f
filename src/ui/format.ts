// How numbers from the runtime are written on the page: virtual time, round-trip times, counts.
// Pure text formatting; never reads a clock or computes protocol state.

/** Virtual time in integer microseconds as `t = 1.234567 s` (exact: no floating point). */
export function formatClock(us: number): string {
  const whole = Math.max(0, Math.trunc(us));
  const s = Math.floor(whole / 1_000_000);
  const frac = String(whole % 1_000_000).padStart(6, '0');
  return `t = ${s}.${frac} s`;
}

/** A round-trip time in microseconds as milliseconds with three decimals; an en dash when none. */
export function formatRtt(us: number | undefined): string {
  if (us === undefined) return '\u2013';
  return `${(us / 1000).toFixed(3)} ms`;
}

/** A counter with thin grouping (12 345). */
export function formatCount(n: number | undefined): string {
  if (n === undefined) return '\u2013';
  return String(Math.trunc(n)).replace(/\B(?=(\d{3})+(?!\d))/g, '\u2009');
}

/** A speed factor as the selector shows it: ×0.1, ×1, ×10. */
export function formatSpeed(speed: number): string {
  return speed === 0 ? 'max' : `\u00d7${speed}`;
}
