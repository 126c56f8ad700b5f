// Who speaks BGP with whom, derived from the topology (RFC 4364 layout): CE–PE eBGP on their link,
// PE–PE iBGP for VPN-IPv4 and route target membership through the route reflectors (or a full mesh
// without one), VRFs from the PE settings, CEs originating their trusted subnets (with the seed 002
// Security Gateway Identity in gateway mode). Pure: every worker derives the same plan.

import { parsePrefix, type Ipv4Prefix } from '../lib/addr.ts';
import type { BgpNeighborConfig, BgpSpeakerConfig } from '../node/bgp-app.ts';
import type { OriginatedRoute } from '../node/bgp-rib.ts';
import { ORIGIN_IGP, parseRouteDistinguisher, parseRouteTarget, securityGatewayIdentity, type Family } from '../proto/bgp/index.ts';
import type { BgpRouterConfig, PeerConfig } from '../proto/bgp/router.ts';
import type { TcpAuthConfig } from '../proto/ip/tcp-auth.ts';
import type { Topology, TopoNode } from './topology/types.ts';

export interface BgpPlan {
  speaker: BgpSpeakerConfig;
  router: BgpRouterConfig;
  originated: OriginatedRoute[];
}

const VPN_FAMILIES: Family[] = ['vpn-ipv4', 'rt-membership'];

/** The address a node uses for iBGP and as its identifier: loopback, else router id, else its first interface. */
export function bgpAddress(topology: Topology, node: TopoNode): number | undefined {
  if (node.loopback !== undefined) return node.loopback;
  for (const l of topology.links) {
    if (l.a.nodeIndex === node.index) return l.a.addr;
    if (l.b.nodeIndex === node.index) return l.b.addr;
  }
  return undefined;
}

/**
 * The TCP MD5 / TCP-AO key of a CE–PE session, for the CE's end (`ceSide`) or the PE's, from the
 * CE's `peAuth`. TCP-AO MKTs mirror each other (RFC 5925 §3.1): the CE sends `keyId` and accepts
 * `peKeyId`, the PE the other way round.
 */
function cePeAuth(ce: TopoNode, ceSide: boolean): TcpAuthConfig | undefined {
  const a = ce.peAuth;
  if (!a) return undefined;
  const key = new TextEncoder().encode(ceSide ? a.key : a.peKey);
  if (a.kind === 'tcp-md5') return { kind: 'md5', key };
  return { kind: 'ao', keyId: ceSide ? a.keyId : a.peKeyId, rnextKeyId: ceSide ? a.peKeyId : a.keyId, algorithm: a.algorithm, masterKey: key };
}

/** The BGP plan of one node, or undefined when it speaks no BGP in this mode. */
export function bgpPlan(topology: Topology, nodeIndex: number): BgpPlan | undefined {
  // Seed 001's group mode: the provider network is transport only (its PEs see no customer route);
  // the members peer with the S/R device inside the group SA instead (group-plan.ts).
  if (topology.mode === 'group') return undefined;
  const node = topology.nodes[nodeIndex]!;
  if (node.asn === undefined || (node.role !== 'ce' && node.role !== 'pe' && !(node.role === 'p' && node.routeReflector))) return undefined;
  const self = bgpAddress(topology, node);
  if (self === undefined) return undefined;
  const routerId = node.routerId ?? self;
  const neighbors: BgpNeighborConfig[] = [];
  const peers: PeerConfig[] = [];
  const add = (n: BgpNeighborConfig, p: Omit<PeerConfig, 'id' | 'asNumber' | 'address' | 'localAddress' | 'families'>) => {
    neighbors.push(n);
    peers.push({ id: n.name, asNumber: n.peerAs, address: n.peerAddr, localAddress: n.localAddr, families: n.families, ...p });
  };

  // CE–PE eBGP on each CE–PE link (RFC 4364 §7).
  for (const l of topology.links) {
    const ends = [l.a, l.b];
    for (const [mine, theirs] of [
      [ends[0]!, ends[1]!],
      [ends[1]!, ends[0]!],
    ] as const) {
      if (mine.nodeIndex !== nodeIndex) continue;
      const other = topology.nodes[theirs.nodeIndex]!;
      if (other.asn === undefined) continue;
      const pair = `${node.role}-${other.role}`;
      if (pair !== 'ce-pe' && pair !== 'pe-ce') continue;
      const vrf = node.role === 'pe' ? node.vrfs.find((v) => v.attachments.includes(other.id))?.name : undefined;
      if (node.role === 'pe' && vrf === undefined) continue; // a CE in no VRF gets no session
      const tcpAuth = cePeAuth(node.role === 'ce' ? node : other, node.role === 'ce');
      add({ name: other.id, peerAddr: theirs.addr, localAddr: mine.addr, peerAs: other.asn, families: ['ipv4-unicast'], ...(tcpAuth ? { tcpAuth } : {}) }, vrf ? { vrf } : {});
    }
  }

  // PE–PE iBGP for VPN routes: through the route reflectors, or a full mesh (RFC 4364 §4.3.3).
  const reflectors = topology.nodes.filter((n) => n.routeReflector && n.asn === node.asn && (n.role === 'pe' || n.role === 'p'));
  const pes = topology.nodes.filter((n) => n.role === 'pe' && n.asn === node.asn && !n.routeReflector);
  const amReflector = node.routeReflector;
  const internalPeers: { n: TopoNode; client: boolean }[] = [];
  if (node.role === 'pe' || node.role === 'p') {
    if (reflectors.length === 0) {
      if (node.role === 'pe') for (const n of pes) if (n.index !== nodeIndex) internalPeers.push({ n, client: false });
    } else if (amReflector) {
      for (const n of pes) internalPeers.push({ n, client: true });
      for (const n of reflectors) if (n.index !== nodeIndex) internalPeers.push({ n, client: false });
    } else {
      for (const n of reflectors) internalPeers.push({ n, client: false });
    }
  }
  for (const { n, client } of internalPeers) {
    const addr = bgpAddress(topology, n);
    if (addr === undefined) continue;
    add({ name: n.id, peerAddr: addr, localAddr: self, peerAs: node.asn, families: VPN_FAMILIES }, client ? { routeReflectorClient: true } : {});
  }
  if (neighbors.length === 0) return undefined;

  const originated: OriginatedRoute[] = [];
  if (node.role === 'ce') {
    // The CE's tunnel address: where its PE reaches it.
    const tunnel = neighbors[0]?.localAddr ?? self;
    for (const text of node.trustedSubnets) {
      const p = parsePrefix(text);
      if (!p || p.family !== 4) continue;
      originated.push({
        prefix: p as Ipv4Prefix,
        attributes: { origin: ORIGIN_IGP, nextHop: tunnel, ...(topology.mode === 'gateway' ? { extendedCommunities: [securityGatewayIdentity(tunnel)] } : {}) },
      });
    }
  }
  const vrfs = node.role === 'pe'
    ? node.vrfs.map((v) => ({
        name: v.name,
        rd: parseRouteDistinguisher(v.rd)!,
        importRouteTargets: v.importTargets.map((t) => parseRouteTarget(t)!),
        exportRouteTargets: v.exportTargets.map((t) => parseRouteTarget(t)!),
      }))
    : [];
  return {
    speaker: { localAs: node.asn, routerId, neighbors },
    router: { localAs: node.asn, routerId, localAddress: self, peers, vrfs, ...(amReflector ? { clusterId: routerId } : {}) },
    originated,
  };
}
