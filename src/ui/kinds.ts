// Colours and words for what the canvas shows: frame kinds, sites, rates. Presentation only.
import type { FrameKind } from '../sim/lab-checks.ts';

/** One colour per frame kind, readable on the light and the dark canvas. */
export const KIND_COLORS: Record<FrameKind, string> = {
  bgp: '#8b5cf6',
  ike: '#e08a00',
  gikev2: '#e0457b',
  esp: '#10a37f',
  icmp: '#3b82f6',
  ip: '#8a94a6',
};

export const KIND_NAMES: Record<FrameKind, string> = { bgp: 'BGP', ike: 'IKE', gikev2: 'G-IKEv2', esp: 'ESP', icmp: 'ICMP', ip: 'plain IP' };

const SITE_PALETTE = ['#2563eb', '#d97706', '#059669', '#db2777', '#7c3aed', '#0891b2', '#65a30d', '#dc2626'];

/** A stable colour for a site name (same name, same colour, in any file). */
export function siteColor(site: string): string {
  let h = 0;
  for (let i = 0; i < site.length; i++) h = (h * 31 + site.charCodeAt(i)) >>> 0;
  return SITE_PALETTE[h % SITE_PALETTE.length]!;
}

/** Bits per second as 12 kb/s, 3.4 Mb/s. */
export function formatRate(bps: number): string {
  if (bps >= 1e9) return `${(bps / 1e9).toFixed(1)} Gb/s`;
  if (bps >= 1e6) return `${(bps / 1e6).toFixed(1)} Mb/s`;
  if (bps >= 1e3) return `${(bps / 1e3).toFixed(0)} kb/s`;
  return `${Math.round(bps)} b/s`;
}
