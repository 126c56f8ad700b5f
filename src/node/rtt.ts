// Round-trip statistics of a ping (configured flow or operator's ping): one reply more. Pure.

export interface RttStats {
  received: number;
  rttMinUs?: number;
  rttMaxUs?: number;
  rttAvgUs?: number;
}

/** Counts a reply after `rttUs`; `acc.rttSumUs` keeps the exact sum the average is taken from. */
export function recordRtt(stats: RttStats, acc: { rttSumUs: number }, rttUs: number): void {
  stats.received++;
  acc.rttSumUs += rttUs;
  stats.rttMinUs = stats.rttMinUs === undefined ? rttUs : Math.min(stats.rttMinUs, rttUs);
  stats.rttMaxUs = stats.rttMaxUs === undefined ? rttUs : Math.max(stats.rttMaxUs, rttUs);
  stats.rttAvgUs = Math.round(acc.rttSumUs / stats.received);
}
