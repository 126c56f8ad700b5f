// The event queue: a binary heap under a total order on event keys. Owns ordering only; never
// looks inside an event's payload.
//
// The key is (tUs, node, cls, src, seq). It stands in for DESIGN.md's "(time, insertion sequence)"
// with an order that does not depend on which thread inserted first: `node` is the receiving node,
// `cls` the input class (rx before timer before command), `src` the link direction for rx, `seq` a
// counter owned by that source. Two runtimes that process the same events therefore process each
// node's inputs in the same order, and a merged trace sorted by key is identical.

export const EVENT_CLASS = { RX: 0, TIMER: 1, COMMAND: 2 } as const;

export interface EventKey {
  tUs: number;
  node: number;
  cls: number;
  src: number;
  seq: number;
}

export function compareKeys(a: EventKey, b: EventKey): number {
  return a.tUs - b.tUs || a.node - b.node || a.cls - b.cls || a.src - b.src || a.seq - b.seq;
}

export class EventQueue<E extends EventKey> {
  private readonly heap: E[] = [];

  get size(): number {
    return this.heap.length;
  }

  peek(): E | undefined {
    return this.heap[0];
  }

  push(e: E): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (compareKeys(h[p]!, e) <= 0) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }

  pop(): E | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length === 0 || last === undefined) return top;
    let i = 0;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && compareKeys(h[r]!, h[l]!) < 0 ? r : l;
      if (compareKeys(last, h[c]!) <= 0) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
    return top;
  }
}
