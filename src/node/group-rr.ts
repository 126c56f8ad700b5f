// The S/R device's reflection pacing (seed 001 FIG. 4 step 106 at scale): a RouteProcessor in front of
// the route reflector that lets UPDATEs out at most once per interval, in the spirit of RFC 4271
// §9.2.1.1's MinRouteAdvertisementIntervalTimer. Owns only the pacing; never decides routes.
//
// Without it every member route that arrives is reflected at once to every other member: N·(N−1)
// UPDATEs in N·(N−1) TCP segments. Held for an interval, the routes that arrived meanwhile leave
// together, and each member's share goes out in a few full segments.

import type { Decoded } from '../proto/bgp/index.ts';
import type { PeerInfo } from '../proto/bgp/session.ts';
import type { RouteProcessor } from './bgp-app.ts';
import type { NodeApp } from './types.ts';

/** Default pacing interval. */
export const REFLECT_INTERVAL_US = 100_000;

export class PacedProcessor implements RouteProcessor, NodeApp {
  readonly name = 'rr-pacing';
  private dueUs: number | undefined;
  private releasing = false;
  /** Told to hand the pending UPDATEs to the sessions (BgpApp.flushUpdates). */
  flush: ((nowUs: number) => void) | undefined;
  readonly counters = { flushes: 0 };

  constructor(
    readonly inner: RouteProcessor,
    readonly intervalUs = REFLECT_INTERVAL_US,
  ) {}

  private touch(nowUs: number): void {
    if (this.dueUs === undefined) this.dueUs = nowUs + this.intervalUs;
  }

  peerUp(peer: string, info: PeerInfo, nowUs: number): void {
    this.inner.peerUp(peer, info, nowUs);
    this.touch(nowUs);
  }

  peerDown(peer: string, nowUs: number): void {
    this.inner.peerDown(peer, nowUs);
    this.touch(nowUs);
  }

  receiveUpdate(peer: string, decoded: Decoded, nowUs: number): void {
    this.inner.receiveUpdate(peer, decoded, nowUs);
    this.touch(nowUs);
  }

  poll(): { peer: string; bytes: Uint8Array } | undefined {
    return this.releasing ? this.inner.poll() : undefined;
  }

  receive(): boolean {
    return false;
  }

  timer(nowUs: number): void {
    if (this.dueUs === undefined || this.dueUs > nowUs) return;
    this.dueUs = undefined;
    this.releasing = true;
    try {
      this.counters.flushes++;
      this.flush?.(nowUs);
    } finally {
      this.releasing = false;
    }
  }

  nextDeadlineUs(): number | undefined {
    return this.dueUs;
  }

  snapshot(): Record<string, unknown> {
    return { intervalUs: this.intervalUs, ...this.counters };
  }
}
