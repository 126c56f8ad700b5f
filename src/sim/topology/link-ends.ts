// Every node's link ends, in link order, found in one pass per topology and kept with it (a loaded
// topology is not changed). The plans ask "which links does node i have" for every node, and at a
// thousand sites a walk over every link per question costs N·links. Pure.
import type { Topology, TopoLink } from './types.ts';

export type LinkEnd = TopoLink['a'];

/** One link seen from one of its ends. */
export interface NodeLinkEnd {
  link: TopoLink;
  mine: LinkEnd;
  theirs: LinkEnd;
}

const cache = new WeakMap<Topology, Map<number, NodeLinkEnd[]>>();

/** Node `nodeIndex`'s link ends (its own end first), in the order of `topology.links`. */
export function linkEnds(topology: Topology, nodeIndex: number): readonly NodeLinkEnd[] {
  let m = cache.get(topology);
  if (!m) {
    m = new Map();
    for (const link of topology.links) {
      for (const [mine, theirs] of [
        [link.a, link.b],
        [link.b, link.a],
      ] as const) {
        let list = m.get(mine.nodeIndex);
        if (!list) m.set(mine.nodeIndex, (list = []));
        list.push({ link, mine, theirs });
      }
    }
    cache.set(topology, m);
  }
  return m.get(nodeIndex) ?? [];
}
