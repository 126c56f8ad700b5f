// Test support: BgpRouter instances wired back to back without sessions. Every UPDATE a router polls is
// decoded with the codec and fed to the router at the other end; runs until quiet, with a round bound.

import { assert } from '../../../src/lib/errors.ts';
import type { BgpRouter, PeerId } from '../../../src/proto/bgp/router.ts';
import type { BgpMessage, Family, UpdateMessage } from '../../../src/proto/bgp/index.ts';
import { AS2_CONTEXT, AS4_CONTEXT, announcedFamilies, decodeMessage } from '../../../src/proto/bgp/index.ts';

export interface Delivery {
  from: string;
  to: string;
  /** The receiving router's peer id for the sender. */
  peer: PeerId;
  bytes: Uint8Array;
  message: UpdateMessage;
}

interface End {
  router: string;
  peer: PeerId;
  as4: boolean;
}

export class Fabric {
  readonly routers = new Map<string, BgpRouter>();
  private readonly links = new Map<string, End>();
  /** Every UPDATE delivered, in order (when `record` is on). */
  readonly log: Delivery[] = [];
  delivered = 0;

  constructor(private readonly record = true) {}

  add(name: string, router: BgpRouter): BgpRouter {
    this.routers.set(name, router);
    return router;
  }

  get(name: string): BgpRouter {
    const r = this.routers.get(name);
    assert(r !== undefined, `no router ${name}`);
    return r;
  }

  /** Brings up the session between `a`'s peer `aPeer` and `b`'s peer `bPeer` (families: both sides' intersection). */
  connect(a: string, aPeer: PeerId, b: string, bPeer: PeerId, opts: { as4?: boolean; families?: Family[] } = {}): void {
    const ra = this.get(a);
    const rb = this.get(b);
    const fa = announcedFamilies(ra.capabilities(aPeer));
    const fb = announcedFamilies(rb.capabilities(bPeer));
    const families = opts.families ?? fa.filter((f) => fb.includes(f));
    const as4 = opts.as4 ?? true;
    this.links.set(`${a}>${aPeer}`, { router: b, peer: bPeer, as4 });
    this.links.set(`${b}>${bPeer}`, { router: a, peer: aPeer, as4 });
    ra.peerUp(aPeer, { bgpIdentifier: rb.routerId, families, as4 });
    rb.peerUp(bPeer, { bgpIdentifier: ra.routerId, families, as4 });
  }

  /** Takes the session down on both ends. */
  disconnect(a: string, aPeer: PeerId): void {
    const end = this.links.get(`${a}>${aPeer}`);
    assert(end !== undefined, `no link ${a}>${aPeer}`);
    this.links.delete(`${a}>${aPeer}`);
    this.links.delete(`${end.router}>${end.peer}`);
    this.get(a).peerDown(aPeer);
    this.get(end.router).peerDown(end.peer);
  }

  /** Polls every router and delivers, until a whole round moves nothing. Returns UPDATEs delivered. */
  run(maxRounds = 64): number {
    let total = 0;
    for (let round = 0; ; round++) {
      assert(round < maxRounds, `Fabric.run: still busy after ${maxRounds} rounds (livelock?)`);
      let moved = 0;
      for (const [name, r] of this.routers) {
        for (let o = r.poll(); o; o = r.poll()) {
          const end = this.links.get(`${name}>${o.peer}`);
          if (!end) continue;
          this.deliver(name, end, o.bytes);
          moved++;
        }
      }
      total += moved;
      if (!moved) return total;
    }
  }

  private deliver(from: string, end: End, bytes: Uint8Array): void {
    const d = decodeMessage(bytes, end.as4 ? AS4_CONTEXT : AS2_CONTEXT);
    if (!d.ok) throw new Error(`${from} sent bytes the codec rejects: ${d.error.toString()}`);
    const m: BgpMessage = d.value.message;
    assert(m.type === 'UPDATE', 'only UPDATEs travel here');
    if (this.record) this.log.push({ from, to: end.router, peer: end.peer, bytes, message: m });
    this.delivered++;
    this.get(end.router).receiveUpdate(end.peer, d.value);
  }

  /** Clears the delivery log. */
  clearLog(): void {
    this.log.length = 0;
  }
}

/** Dotted quad to number, for readable tests. */
export function ip(text: string): number {
  const parts = text.split('.').map(Number);
  return (((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0);
}

/** `a.b.c.d/len` to an Ipv4Prefix. */
export function pfx(text: string): { family: 4; addr: number; len: number } {
  const [a, l] = text.split('/');
  return { family: 4, addr: ip(a!), len: Number(l) };
}
