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
import type { RouterProcessor } from './bgp-rib.ts';
import type { NodeApp, SnapshotPurpose } from './types.ts';

/** Default pacing interval. */
export const REFLECT_INTERVAL_US = 100_000;
/** Past this many Loc-RIB routes the snapshot gives counts, not every route of every peer. */
export const SNAPSHOT_ROUTES_MAX = 64;

export class PacedProcessor implements RouteProcessor {
  private dueUs: number | undefined;
  private releasing = false;
  /** Told to hand the pending UPDATEs to the sessions (BgpApp.flushUpdates). */
  flush: ((nowUs: number) => void) | undefined;
  readonly counters = { flushes: 0 };

  /** `intervalUs` 0: no pacing (UPDATEs leave as they are made), only the bounded snapshot. */
  constructor(
    readonly inner: RouterProcessor,
    readonly intervalUs = REFLECT_INTERVAL_US,
  ) {}

  /** The RIB as the BGP app shows it: in full while small, else counts (a 1000-member S/R holds 10⁶ paths). */
  ribSnapshot(purpose?: SnapshotPurpose): Record<string, unknown> {
    const routes = this.inner.router.locRibSize('ipv4-unicast');
    if (routes <= SNAPSHOT_ROUTES_MAX) return this.inner.snapshot(purpose, this.intervalUs === 0);
    return { locRib: { 'ipv4-unicast': routes }, summarized: true, stats: this.inner.router.stats() };
  }

  version(): number {
    return this.inner.version();
  }

  private touch(nowUs: number): void {
    if (this.intervalUs === 0) return;
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
    return this.releasing || this.intervalUs === 0 ? this.inner.poll() : undefined;
  }

  /** The node app that wakes the pacing (host it on the node next to the BGP app). */
  app(): NodeApp {
    return {
      name: 'rr-pacing',
      receive: () => false,
      timer: (nowUs) => this.timer(nowUs),
      nextDeadlineUs: () => this.dueUs,
      snapshot: () => ({ intervalUs: this.intervalUs, ...this.counters }),
      stateVersion: () => 0, // counters only
    };
  }

  private timer(nowUs: number): void {
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

  /** RouteProcessor's snapshot (what BgpApp shows as `rib`). */
  snapshot(purpose?: SnapshotPurpose): Record<string, unknown> {
    return this.ribSnapshot(purpose);
  }
}
