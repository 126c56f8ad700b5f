// Shared benchmark helpers. Browser-safe.
export type BenchRow = Record<string, string | number>;

/** Best (smallest) of `runs` timings, in whatever unit `fn` returns. */
export function best(runs: number, fn: () => number): number {
  let b = Infinity;
  for (let i = 0; i < runs; i++) b = Math.min(b, fn());
  return b;
}

/** Rows as one Markdown table (the README's results table), columns in first-seen order. */
export function markdownTable(rows: readonly BenchRow[]): string {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: string | number | undefined) => (v === undefined ? '' : typeof v === 'number' ? v.toLocaleString('en-US') : v);
  return [`| ${keys.join(' | ')} |`, `| ${keys.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${keys.map((k) => cell(r[k])).join(' | ')} |`)].join('\n');
}

/** One Markdown table per benchmark (rows grouped by their `bench` column). */
export function markdownTables(rows: readonly BenchRow[]): string {
  const groups = new Map<string, BenchRow[]>();
  for (const r of rows) {
    const k = String(r.bench ?? '');
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  return [...groups.entries()].map(([name, rs]) => `${name}\n\n${markdownTable(rs.map(({ bench: _b, ...rest }) => rest))}`).join('\n\n');
}
