// Where each node is drawn: the file's `position` when every node has one, else a deterministic
// circle in node order; and the SVG viewBox that fits them into a box of a given pixel size.
// Geometry only; knows nothing about protocols.
import type { TopoNode } from '../sim/topology/types.ts';

export interface Point {
  x: number;
  y: number;
}

export interface ViewBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Pixels kept free around the node centres (room for the symbol and the labels below it). */
export interface Margins {
  top: number;
  right: number;
  bottom: number;
  left: number;
}

/** Radius of the fallback circle, in drawing units. */
const CIRCLE_RADIUS = 220;
/** Largest zoom: a small topology is not blown up beyond this many pixels per drawing unit. */
const SCALE_MAX = 2;

/** Position of each node, by node index. */
export function layoutNodes(nodes: readonly TopoNode[]): Point[] {
  const all = nodes.every((n) => n.position !== undefined);
  return nodes.map((n, i) => {
    if (all && n.position) return { x: n.position.x, y: n.position.y };
    if (nodes.length === 1) return { x: 0, y: 0 };
    // Start at 12 o'clock and go clockwise.
    const angle = -Math.PI / 2 + (2 * Math.PI * i) / nodes.length;
    return { x: Math.round(CIRCLE_RADIUS * Math.cos(angle)), y: Math.round(CIRCLE_RADIUS * Math.sin(angle)) };
  });
}

/**
 * The viewBox that shows every point inside a `widthPx` × `heightPx` box with `margins` pixels
 * free around them, centred, with the box's own aspect ratio; and `unit`, drawing units per pixel
 * (so symbols and text can keep a fixed pixel size at any zoom).
 */
export function fitView(points: readonly Point[], widthPx: number, heightPx: number, margins: Margins): { viewBox: ViewBox; unit: number } {
  const w = Math.max(1, widthPx);
  const h = Math.max(1, heightPx);
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const minX = xs.length ? Math.min(...xs) : 0;
  const maxX = xs.length ? Math.max(...xs) : 0;
  const minY = ys.length ? Math.min(...ys) : 0;
  const maxY = ys.length ? Math.max(...ys) : 0;
  const spanX = Math.max(1, maxX - minX);
  const spanY = Math.max(1, maxY - minY);
  const room = (px: number, a: number, b: number) => Math.max(1, px - a - b);
  const scale = Math.min(room(w, margins.left, margins.right) / spanX, room(h, margins.top, margins.bottom) / spanY, SCALE_MAX);
  const unit = 1 / scale;
  const width = w * unit;
  const height = h * unit;
  // Centre the content box (points plus margins) in the view.
  const contentLeft = minX - margins.left * unit;
  const contentTop = minY - margins.top * unit;
  const contentW = spanX + (margins.left + margins.right) * unit;
  const contentH = spanY + (margins.top + margins.bottom) * unit;
  return {
    viewBox: { x: contentLeft - (width - contentW) / 2, y: contentTop - (height - contentH) / 2, width, height },
    unit,
  };
}

/**
 * Automatic layout for files without positions: rings by role, the core (P, S/R) inside, then the
 * PEs, the CEs in their PE's sector and the hosts outside their CE. Deterministic, O(nodes + links).
 */
export function autoLayout(nodes: readonly { id: string; role: string }[], links: readonly [string, string][]): Point[] {
  const index = new Map(nodes.map((n, i) => [n.id, i]));
  const nbrs: number[][] = nodes.map(() => []);
  for (const [a, b] of links) {
    const ia = index.get(a);
    const ib = index.get(b);
    if (ia === undefined || ib === undefined) continue;
    nbrs[ia]!.push(ib);
    nbrs[ib]!.push(ia);
  }
  const angle = new Array<number | undefined>(nodes.length).fill(undefined);
  const byRole = (roles: string[]) => nodes.flatMap((n, i) => (roles.includes(n.role) ? [i] : []));
  const ring = (count: number, spacing: number, min: number) => Math.max(min, (count * spacing) / (2 * Math.PI));
  const core = byRole(['p', 'sr']);
  const pes = byRole(['pe']);
  const ces = byRole(['ce']);
  const hosts = byRole(['host']);
  const r0 = core.length <= 1 ? 0 : ring(core.length, 120, 90);
  const r1 = Math.max(r0 + 130, ring(pes.length, 110, 160));
  const r2 = Math.max(r1 + 130, ring(ces.length, 70, 280));
  const r3 = Math.max(r2 + 110, ring(hosts.length, 55, 380));
  const radius = (i: number) => ({ p: r0, sr: r0, pe: r1, ce: r2, host: r3 })[nodes[i]!.role as 'p'] ?? r3;
  const spread = (ids: number[], from: number, width: number) =>
    ids.forEach((id, k) => (angle[id] = from + (width * (k + 0.5)) / ids.length));
  spread(core, -Math.PI / 2, 2 * Math.PI);
  spread(pes, -Math.PI / 2, 2 * Math.PI);
  // Children in the sector of their parent: CEs under their PE, hosts under their CE.
  const place = (children: number[], parents: number[], parentWidth: number) => {
    const groups = new Map<number, number[]>();
    const orphans: number[] = [];
    for (const c of children) {
      const p = nbrs[c]!.find((x) => parents.includes(x) && angle[x] !== undefined);
      if (p === undefined) orphans.push(c);
      else groups.set(p, [...(groups.get(p) ?? []), c]);
    }
    for (const [p, kids] of groups) spread(kids, angle[p]! - parentWidth / 2, parentWidth);
    spread(orphans, -Math.PI / 2 + 0.001, 2 * Math.PI);
  };
  place(ces, pes, (2 * Math.PI) / Math.max(1, pes.length));
  place(hosts, ces, (2 * Math.PI) / Math.max(1, ces.length));
  return nodes.map((_, i) => {
    const a = angle[i] ?? 0;
    const r = radius(i);
    return { x: Math.round(r * Math.cos(a)), y: Math.round(r * Math.sin(a)) };
  });
}
