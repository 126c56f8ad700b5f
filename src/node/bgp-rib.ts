// The route processor a BGP speaker node uses: the sans-IO BgpRouter of proto/bgp (Adj-RIBs-In,
// Loc-RIB, VRFs, reflection, update groups) behind the RouteProcessor contract. Owns no sessions.

import { formatIpv4 } from '../lib/addr.ts';
import type { Decoded } from '../proto/bgp/index.ts';
import { BgpRouter, type BgpRouterConfig, type OriginateAttributes, type RouteChange, type RouteView } from '../proto/bgp/router.ts';
import type { PeerInfo } from '../proto/bgp/session.ts';
import type { Ipv4Prefix } from '../lib/addr.ts';
import type { RouteProcessor } from './bgp-app.ts';
import type { SnapshotPurpose } from './types.ts';

export interface OriginatedRoute {
  prefix: Ipv4Prefix;
  attributes: OriginateAttributes;
  vrf?: string;
}

/** Told of every best-route change (forwarding tables, SPDs built from routes, …). */
export type RouteChangeListener = (change: RouteChange, nowUs: number) => void;

export class RouterProcessor implements RouteProcessor {
  readonly router: BgpRouter;

  private readonly peers: string[];
  private readonly listeners: RouteChangeListener[] = [];

  constructor(config: BgpRouterConfig, originated: readonly OriginatedRoute[]) {
    this.router = new BgpRouter(config);
    this.peers = config.peers.map((p) => p.id);
    for (const r of originated) this.router.originate(r.prefix, r.attributes, r.vrf);
  }

  /**
   * Registers a listener for best-route changes, told after each input once the router settles.
   * Register every listener when the node is built: changes already drained are not replayed
   * (routes originated at construction are reported with the first input, or by `flushChanges`).
   */
  onRouteChange(listener: RouteChangeListener): void {
    this.listeners.push(listener);
  }

  /** Drains the router's change feed to the listeners (also keeps the feed from growing). */
  flushChanges(nowUs: number): void {
    this.dispatch(nowUs);
  }

  private dispatch(nowUs: number): void {
    for (let c = this.router.pollRouteChange(); c; c = this.router.pollRouteChange()) {
      for (const l of this.listeners) l(c, nowUs);
    }
  }

  peerUp(peer: string, info: PeerInfo, nowUs = 0): void {
    this.router.peerUp(peer, { bgpIdentifier: info.bgpIdentifier, families: info.families, as4: info.as4 });
    this.dispatch(nowUs);
  }

  peerDown(peer: string, nowUs = 0): void {
    this.router.peerDown(peer);
    this.dispatch(nowUs);
  }

  receiveUpdate(peer: string, decoded: Decoded, nowUs = 0): void {
    this.router.receiveUpdate(peer, decoded);
    this.dispatch(nowUs);
  }

  /** Originates (or replaces) a route at run time, e.g. a prefix learned another way. */
  originate(route: OriginatedRoute, nowUs = 0): void {
    this.router.originate(route.prefix, route.attributes, route.vrf);
    this.dispatch(nowUs);
  }

  withdrawOriginated(prefix: Ipv4Prefix, vrf: string | undefined, nowUs = 0): void {
    this.router.withdrawOriginated(prefix, vrf);
    this.dispatch(nowUs);
  }

  version(): number {
    return this.router.version;
  }

  poll(): { peer: string; bytes: Uint8Array } | undefined {
    const o = this.router.poll();
    return o ? { peer: o.peer, bytes: o.bytes } : undefined;
  }

  /**
   * The RIBs for the inspector. `adjRibOut` packs what is pending first (BgpRouter.adjRibOut
   * flushes), which is a no-op where the speaker drains the router after every input; a processor
   * that holds UPDATEs back on purpose (the S/R's paced reflection) asks without it, so that looking
   * never changes when routes leave. For the convergence check (SnapshotPurpose) only the prefixes
   * of the same lists, minus the adj-RIB-In the check never reads.
   */
  snapshot(purpose?: SnapshotPurpose, withAdjRibOut = true): Record<string, unknown> {
    if (purpose === 'sessions') return {};
    if (purpose === 'convergence') {
      // What the check reads (convergence.ts learnedPrefixes): the installed prefixes, as one list of
      // strings. Not the Adj-RIB-Out: a speaker advertises only what its Loc-RIB holds.
      const prefixes: string[] = [];
      for (const t of ['ipv4-unicast', 'vpn-ipv4'] as const) for (const r of this.router.locRib(t)) prefixes.push(r.nlri);
      for (const v of this.router.vrfs()) for (const r of this.router.vrfRib(v.name)) prefixes.push(r.nlri);
      return { prefixes };
    }
    const brief = (r: RouteView) => {
      const originator = r.attributes.find((a) => a.type === 'ORIGINATOR_ID');
      const clusters = r.attributes.find((a) => a.type === 'CLUSTER_LIST');
      return {
        nlri: r.nlri,
        nextHop: formatIpv4(r.nextHop),
        from: r.from,
        best: r.best,
        ...(r.securityGatewayIdentity ? { gateway: formatIpv4(r.securityGatewayIdentity.gatewayAddress) } : {}),
        ...(originator?.type === 'ORIGINATOR_ID' ? { originatorId: formatIpv4(originator.value) } : {}),
        ...(clusters?.type === 'CLUSTER_LIST' ? { clusterList: clusters.value.map(formatIpv4) } : {}),
      };
    };
    return {
      locRib: {
        'ipv4-unicast': this.router.locRib('ipv4-unicast').map(brief),
        'vpn-ipv4': this.router.locRib('vpn-ipv4').map(brief),
      },
      adjRibIn: Object.fromEntries(this.peers.map((p) => [p, this.router.adjRibIn(p).map(brief)])),
      ...(withAdjRibOut ? { adjRibOut: Object.fromEntries(this.peers.map((p) => [p, this.router.adjRibOut(p).map(brief)])) } : {}),
      vrfs: Object.fromEntries(this.router.vrfs().map((v) => [v.name, this.router.vrfRib(v.name).map(brief)])),
      stats: this.router.stats(),
    };
  }
}
