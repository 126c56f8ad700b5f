// The route processor a BGP speaker node uses: the sans-IO BgpRouter of proto/bgp (Adj-RIBs-In,
// Loc-RIB, VRFs, reflection, update groups) behind the RouteProcessor contract. Owns no sessions.

import { formatIpv4 } from '../lib/addr.ts';
import type { Decoded } from '../proto/bgp/index.ts';
import { BgpRouter, type BgpRouterConfig, type OriginateAttributes, type RouteView } from '../proto/bgp/router.ts';
import type { PeerInfo } from '../proto/bgp/session.ts';
import type { Ipv4Prefix } from '../lib/addr.ts';
import type { RouteProcessor } from './bgp-app.ts';

export interface OriginatedRoute {
  prefix: Ipv4Prefix;
  attributes: OriginateAttributes;
  vrf?: string;
}

export class RouterProcessor implements RouteProcessor {
  readonly router: BgpRouter;

  private readonly peers: string[];

  constructor(config: BgpRouterConfig, originated: readonly OriginatedRoute[]) {
    this.router = new BgpRouter(config);
    this.peers = config.peers.map((p) => p.id);
    for (const r of originated) this.router.originate(r.prefix, r.attributes, r.vrf);
  }

  peerUp(peer: string, info: PeerInfo): void {
    this.router.peerUp(peer, { bgpIdentifier: info.bgpIdentifier, families: info.families, as4: info.as4 });
  }

  peerDown(peer: string): void {
    this.router.peerDown(peer);
  }

  receiveUpdate(peer: string, decoded: Decoded): void {
    this.router.receiveUpdate(peer, decoded);
  }

  poll(): { peer: string; bytes: Uint8Array } | undefined {
    const o = this.router.poll();
    return o ? { peer: o.peer, bytes: o.bytes } : undefined;
  }

  snapshot(): Record<string, unknown> {
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
      vrfs: Object.fromEntries(this.router.vrfs().map((v) => [v.name, this.router.vrfRib(v.name).map(brief)])),
      stats: this.router.stats(),
    };
  }
}
