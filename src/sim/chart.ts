// The comparison chart: small multiples (SAs in the network, operator config items, convergence
// time, control packets) against the number of sites on a log scale, one line per mode. Pure: rows in,
// an SVG string out (d3-scale + d3-shape, no DOM), so the CLI writes it and the UI can inline it.

import { scaleLog, scaleSymlog } from 'd3-scale';
import { line } from 'd3-shape';
import type { CompareRow } from './compare.ts';
import { MODES, type Mode } from './topology/types.ts';

export const MODE_COLORS: Record<Mode, string> = { l3vpn: '#888888', mesh: '#d62728', gateway: '#1f77b4', group: '#2ca02c' };

interface Panel {
  title: string;
  value: (r: CompareRow) => number | null;
}

export const CHART_PANELS: Panel[] = [
  { title: 'ESP SAs in the network', value: (r) => r.sasTotal },
  { title: 'operator config items', value: (r) => r.configTotal },
  { title: 'convergence time (s)', value: (r) => r.convergedS },
  { title: 'control packets', value: (r) => r.controlPackets },
];

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (v: number): string => (v >= 1e6 ? `${+(v / 1e6).toFixed(1)}M` : v >= 1e3 ? `${+(v / 1e3).toFixed(1)}k` : `${+v.toFixed(2)}`);

/** An SVG document (a string) of the comparison; a failed or unconverged point is left out and marked ✕ on the axis. */
export function compareChartSvg(rows: readonly CompareRow[], title = 'VPN Lab: how each mode scales'): string {
  const W = 960;
  const H = 640;
  const cols = 2;
  const pw = 420;
  const ph = 230;
  const margin = { left: 70, top: 70, gapX: 60, gapY: 70 };
  const sites = [...new Set(rows.map((r) => r.sites))].sort((a, b) => a - b);
  const modes = MODES.filter((m) => rows.some((r) => r.mode === m));
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, sans-serif" font-size="11">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="24" text-anchor="middle" font-size="16">${esc(title)}</text>`);
  // Legend.
  modes.forEach((m, i) => {
    const x = margin.left + i * 120;
    out.push(`<line x1="${x}" y1="44" x2="${x + 24}" y2="44" stroke="${MODE_COLORS[m]}" stroke-width="3"/><text x="${x + 30}" y="48">${m}</text>`);
  });
  const xMin = Math.max(1, sites[0] ?? 1);
  const xMax = Math.max(xMin * 10, sites[sites.length - 1] ?? 10);
  CHART_PANELS.forEach((panel, k) => {
    const ox = margin.left + (k % cols) * (pw + margin.gapX);
    const oy = margin.top + Math.floor(k / cols) * (ph + margin.gapY);
    const x = scaleLog().domain([xMin, xMax]).range([0, pw]);
    const values = rows.map(panel.value).filter((v): v is number => v !== null);
    const yMax = Math.max(1, ...values);
    const y = scaleSymlog().domain([0, yMax]).range([ph, 0]).nice();
    out.push(`<g transform="translate(${ox},${oy})">`);
    out.push(`<text x="0" y="-10" font-size="13">${esc(panel.title)}</text>`);
    out.push(`<rect x="0" y="0" width="${pw}" height="${ph}" fill="none" stroke="#ccc"/>`);
    for (const s of sites) out.push(`<line x1="${x(s).toFixed(1)}" y1="${ph}" x2="${x(s).toFixed(1)}" y2="${ph + 4}" stroke="#333"/><text x="${x(s).toFixed(1)}" y="${ph + 16}" text-anchor="middle">${s}</text>`);
    out.push(`<text x="${pw / 2}" y="${ph + 32}" text-anchor="middle" fill="#555">sites (log scale)</text>`);
    for (const t of y.ticks(4)) out.push(`<line x1="-4" y1="${y(t).toFixed(1)}" x2="${pw}" y2="${y(t).toFixed(1)}" stroke="#eee"/><text x="-6" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${fmt(t)}</text>`);
    for (const m of modes) {
      const pts = sites.map((s) => {
        const r = rows.find((q) => q.mode === m && q.sites === s);
        const v = r ? panel.value(r) : null;
        return { s, v };
      });
      const known = pts.filter((p): p is { s: number; v: number } => p.v !== null);
      const path = line<{ s: number; v: number }>()
        .x((p) => x(p.s))
        .y((p) => y(p.v))(known);
      if (path) out.push(`<path d="${path}" fill="none" stroke="${MODE_COLORS[m]}" stroke-width="2"/>`);
      for (const p of known) out.push(`<circle cx="${x(p.s).toFixed(1)}" cy="${y(p.v).toFixed(1)}" r="3" fill="${MODE_COLORS[m]}"><title>${esc(`${m}, ${p.s} sites: ${fmt(p.v)}`)}</title></circle>`);
      for (const p of pts.filter((q) => q.v === null)) out.push(`<text x="${x(p.s).toFixed(1)}" y="${ph - 4}" text-anchor="middle" fill="${MODE_COLORS[m]}">✕<title>${esc(`${m}, ${p.s} sites: no value (failed, not run or not converged)`)}</title></text>`);
    }
    out.push('</g>');
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
