// A bounded latency recorder for flow statistics: a fixed log-scale histogram (8 bins per power of
// two, so a percentile is within 1/8 of an octave, about 9 %) plus the exact min and max. Constant
// memory whatever the number of samples. Plain data in snapshots; never reads a clock.

/** Bins per power of two. */
export const LATENCY_SUB_BINS = 8;
/** Values from 0 to 2^LATENCY_OCTAVES µs (~71 min) have their own bin; larger ones land in the last. */
export const LATENCY_OCTAVES = 32;
export const LATENCY_BINS = LATENCY_SUB_BINS * (LATENCY_OCTAVES + 1);

/** The bin of a value in µs: values below 8 µs get one bin each, then 8 bins per octave. */
export function latencyBin(us: number): number {
  const v = Math.max(0, Math.floor(us));
  if (v < LATENCY_SUB_BINS) return v;
  const octave = Math.floor(Math.log2(v)); // >= 3
  const sub = Math.floor((v / 2 ** octave - 1) * LATENCY_SUB_BINS);
  return Math.min(LATENCY_BINS - 1, (octave - 2) * LATENCY_SUB_BINS + Math.min(LATENCY_SUB_BINS - 1, sub));
}

/** The largest value (µs) that falls into bin `b` (a percentile reports this bound, capped by max). */
export function latencyBinUpperUs(b: number): number {
  if (b < LATENCY_SUB_BINS) return b;
  const octave = Math.floor(b / LATENCY_SUB_BINS) + 2;
  const sub = b % LATENCY_SUB_BINS;
  return Math.ceil(2 ** octave * (1 + (sub + 1) / LATENCY_SUB_BINS)) - 1;
}

/** What a snapshot carries: sample count, exact min/max/sum and the non-empty bins as [bin, count]. */
export interface LatencySummary {
  count: number;
  minUs: number;
  maxUs: number;
  sumUs: number;
  bins: [number, number][];
}

export class LatencyHistogram {
  private readonly counts = new Float64Array(LATENCY_BINS);
  count = 0;
  minUs = Infinity;
  maxUs = 0;
  sumUs = 0;

  record(us: number): void {
    this.counts[latencyBin(us)]! += 1;
    this.count++;
    if (us < this.minUs) this.minUs = us;
    if (us > this.maxUs) this.maxUs = us;
    this.sumUs += us;
  }

  summary(): LatencySummary | undefined {
    if (this.count === 0) return undefined;
    const bins: [number, number][] = [];
    for (let b = 0; b < LATENCY_BINS; b++) if (this.counts[b]! > 0) bins.push([b, this.counts[b]!]);
    return { count: this.count, minUs: this.minUs, maxUs: this.maxUs, sumUs: this.sumUs, bins };
  }
}

/** Merges summaries (e.g. one flow's samples seen at several receivers). */
export function mergeLatency(parts: readonly (LatencySummary | undefined)[]): LatencySummary | undefined {
  const present = parts.filter((p): p is LatencySummary => p !== undefined);
  if (present.length === 0) return undefined;
  const counts = new Map<number, number>();
  for (const p of present) for (const [b, c] of p.bins) counts.set(b, (counts.get(b) ?? 0) + c);
  return {
    count: present.reduce((s, p) => s + p.count, 0),
    minUs: Math.min(...present.map((p) => p.minUs)),
    maxUs: Math.max(...present.map((p) => p.maxUs)),
    sumUs: present.reduce((s, p) => s + p.sumUs, 0),
    bins: [...counts.entries()].sort((x, y) => x[0] - y[0]),
  };
}

/**
 * The q-quantile (0 < q <= 1) in µs: the upper bound of the bin holding the ceil(q·count)-th
 * sample, never above the exact max nor below the exact min.
 */
export function latencyPercentileUs(s: LatencySummary, q: number): number {
  const rank = Math.max(1, Math.ceil(q * s.count));
  let seen = 0;
  for (const [b, c] of s.bins) {
    seen += c;
    if (seen >= rank) return Math.max(s.minUs, Math.min(s.maxUs, latencyBinUpperUs(b)));
  }
  return s.maxUs;
}
