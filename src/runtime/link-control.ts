// Run-time link changes and the frame window the page animates: helpers both runtimes share.
// Owns validation of operator input; never touches a link other than through its TopoLink, which
// the link directions read on every frame (so a change applies to the next frame offered).
import type { TapRecord } from '../sim/link.ts';
import { classifyFrame, type FrameKind } from '../sim/lab-checks.ts';
import type { TopoLink } from '../sim/topology/types.ts';

export interface LinkParams {
  /** One-way latency, integer microseconds ≥ 1. */
  latencyUs?: number;
  /** Loss probability per frame, 0..1. */
  loss?: number;
}

/** A frame put on a link, for the page's animation: when, which way, what kind. */
export interface FrameEvent {
  link: number;
  /** a→b when true. */
  fromA: boolean;
  /** Time the frame started on the wire. */
  tUs: number;
  /** Time it arrives at the other end (start + the link's current latency). */
  arriveUs: number;
  kind: FrameKind;
  bytes: number;
}

/** Throws a clear error for bad values and changes nothing then; else applies both. */
export function applyLinkParams(link: TopoLink, p: LinkParams, minLatencyUs = 1): void {
  if (p.latencyUs !== undefined && !(Number.isInteger(p.latencyUs) && p.latencyUs >= minLatencyUs)) {
    throw new Error(`link ${link.id}: latency must be a whole number of microseconds ≥ ${minLatencyUs}, got ${p.latencyUs}`);
  }
  if (p.loss !== undefined && !(Number.isFinite(p.loss) && p.loss >= 0 && p.loss <= 1)) {
    throw new Error(`link ${link.id}: loss must be from 0 to 1, got ${p.loss}`);
  }
  if (p.latencyUs !== undefined) link.latencyUs = p.latencyUs;
  if (p.loss !== undefined) link.loss = p.loss;
}

/** Frames of one link's tap records in [fromUs, toUs) (records are in time order per direction). */
export function windowFrames(link: TopoLink, records: readonly TapRecord[], fromUs: number, toUs: number, out: FrameEvent[], max: number): void {
  for (const r of records) {
    if (out.length >= max) return;
    if (r.tUs < fromUs || r.tUs >= toUs) continue;
    out.push({ link: link.index, fromA: r.dir % 2 === 0, tUs: r.tUs, arriveUs: r.tUs + link.latencyUs, kind: classifyFrame(r.bytes)?.kind ?? 'ip', bytes: r.bytes.length });
  }
}
