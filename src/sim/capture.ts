// The event list of the simulation view, built from the links' captures (the pcap each link's tap
// writes): one event per frame with its time, link, direction, kind and summary, plus filters.
// Owns reading captures only: never the run's state, never throws on a bad file (it reports it).

import { parseIpv4 } from '../lib/addr.ts';
import { decodePcap, LINKTYPE_RAW } from './pcap.ts';
import { dissect, type PacketKind } from './dissect.ts';
import type { Topology } from './topology/types.ts';

export interface CaptureEvent {
  /** Stable within one merged list: `${link}:${index in that link's capture}`. */
  key: string;
  tUs: number;
  link: number;
  linkId: string;
  /** Node the frame left and node it went to; '?' when the direction cannot be told. */
  from: string;
  to: string;
  bytes: Uint8Array;
  kind: PacketKind;
  summary: string;
  src: string;
  dst: string;
  /** What the provider sees of the payload (see Dissection.preview). */
  preview: string;
}

export interface CaptureResult {
  events: CaptureEvent[];
  /** Frames dropped from the front by `limit`. */
  skipped: number;
  error?: string;
}

/**
 * Which node owns each address (interface addresses, loopbacks, router ids) and hop distances
 * between nodes over the links: a frame goes from the side nearer its source to the other side
 * (packets follow shortest paths by hop count).
 */
export class Directions {
  private readonly owner = new Map<number, number>();
  private readonly dist: number[][];

  constructor(private readonly topology: Topology) {
    const n = topology.nodes.length;
    for (const l of topology.links) {
      this.owner.set(l.a.addr >>> 0, l.a.nodeIndex);
      this.owner.set(l.b.addr >>> 0, l.b.nodeIndex);
    }
    for (const node of topology.nodes) {
      if (node.loopback !== undefined && !this.owner.has(node.loopback >>> 0)) this.owner.set(node.loopback >>> 0, node.index);
      if (node.routerId !== undefined && !this.owner.has(node.routerId >>> 0)) this.owner.set(node.routerId >>> 0, node.index);
    }
    const adj: number[][] = Array.from({ length: n }, () => []);
    for (const l of topology.links) {
      adj[l.a.nodeIndex]!.push(l.b.nodeIndex);
      adj[l.b.nodeIndex]!.push(l.a.nodeIndex);
    }
    // BFS from each node on demand would do; the labs are small enough to keep every row.
    this.dist = [];
    for (let s = 0; s < n && n <= 2000; s++) {
      const d = new Array<number>(n).fill(Infinity);
      d[s] = 0;
      const q = [s];
      for (let i = 0; i < q.length; i++) for (const v of adj[q[i]!]!) if (d[v] === Infinity) (d[v] = d[q[i]!]! + 1), q.push(v);
      this.dist.push(d);
    }
  }

  /** 'ab', 'ba' or undefined for a frame from `src` to `dst` on `link`. */
  of(linkIndex: number, src: string | undefined, dst: string | undefined): 'ab' | 'ba' | undefined {
    const l = this.topology.links[linkIndex];
    if (!l) return undefined;
    const side = (addr: string | undefined): 'a' | 'b' | undefined => {
      const a = addr === undefined ? undefined : parseIpv4(addr);
      const o = a === undefined ? undefined : this.owner.get(a >>> 0);
      const d = o === undefined ? undefined : this.dist[o];
      if (!d) return undefined;
      const da = d[l.a.nodeIndex]!;
      const db = d[l.b.nodeIndex]!;
      return da < db ? 'a' : db < da ? 'b' : undefined;
    };
    const s = side(src);
    if (s) return s === 'a' ? 'ab' : 'ba';
    const t = side(dst);
    if (t) return t === 'b' ? 'ab' : 'ba';
    return undefined;
  }
}

/** Parses one link's capture into events. `limit` keeps only the newest frames. */
export function parseCapture(topology: Topology, linkIndex: number, pcap: Uint8Array, options: { limit?: number; directions?: Directions } = {}): CaptureResult {
  const link = topology.links[linkIndex];
  if (!link) return { events: [], skipped: 0, error: `no link ${linkIndex} (the topology has ${topology.links.length})` };
  let records;
  let linkType;
  try {
    ({ records, linkType } = decodePcap(pcap));
  } catch (e) {
    return { events: [], skipped: 0, error: `link ${link.id}: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (linkType !== LINKTYPE_RAW) return { events: [], skipped: 0, error: `link ${link.id}: link type ${linkType}, expected ${LINKTYPE_RAW} (raw IP)` };
  const dirs = options.directions ?? new Directions(topology);
  const limit = options.limit ?? Infinity;
  const first = Math.max(0, records.length - limit);
  const events: CaptureEvent[] = [];
  for (let i = first; i < records.length; i++) {
    const r = records[i]!;
    const d = dissect(r.bytes);
    const dir = dirs.of(linkIndex, d.src, d.dst);
    events.push({
      key: `${linkIndex}:${i}`,
      tUs: r.tUs,
      link: linkIndex,
      linkId: link.id,
      from: dir === 'ab' ? link.a.node : dir === 'ba' ? link.b.node : '?',
      to: dir === 'ab' ? link.b.node : dir === 'ba' ? link.a.node : '?',
      bytes: r.bytes,
      kind: d.kind,
      summary: d.summary,
      src: d.src ?? '',
      dst: d.dst ?? '',
      preview: d.preview,
    });
  }
  return { events, skipped: first };
}

/** Merges per-link event lists in time order (ties: link index, then capture order). */
export function mergeEvents(lists: readonly (readonly CaptureEvent[])[]): CaptureEvent[] {
  const all = lists.flat();
  const order = (e: CaptureEvent) => Number(e.key.slice(e.key.indexOf(':') + 1));
  return all.sort((x, y) => x.tUs - y.tUs || x.link - y.link || order(x) - order(y));
}

export interface EventFilter {
  /** Kinds to show; empty or undefined: all. */
  kinds?: ReadonlySet<PacketKind>;
  /** Only frames on links that touch this node. */
  node?: string;
  /** Only frames on this link. */
  link?: number;
}

export function filterEvents(events: readonly CaptureEvent[], topology: Topology, f: EventFilter): CaptureEvent[] {
  return events.filter((e) => {
    if (f.kinds && f.kinds.size && !f.kinds.has(e.kind)) return false;
    if (f.link !== undefined && e.link !== f.link) return false;
    if (f.node) {
      const l = topology.links[e.link];
      if (!l || (l.a.node !== f.node && l.b.node !== f.node)) return false;
    }
    return true;
  });
}

/** Virtual time as the event list shows it: seconds with microseconds. */
export function formatTimeUs(tUs: number): string {
  return `${Math.floor(tUs / 1_000_000)}.${String(tUs % 1_000_000).padStart(6, '0')}`;
}
