// Turns the resolved topology into each node's plain configuration: interfaces, and the underlay
// forwarding tables from shortest paths (hop count, ties to the lower node index) over the links
// that are up at load time; wires BGP into the forwarding tables where the plans say so. Pure and
// deterministic: every worker computes the same tables.
//
// The underlay (the provider's IGP, and what a CE and a host are configured with): when the topology
// has VRFs, the provider routes only its own infrastructure (the loopbacks of PE, P and S/R nodes,
// the links between them) and the CE–PE access subnets (provider-assigned, globally routed: the
// protected modes send ESP between CE access addresses and members reach the S/R through them).
// Customer LANs are then known only to BGP: the CEs learn them from their PE, the PEs keep them in
// VRFs (RFC 4364). Hosts get their connected subnet and a default route to their gateway. Without
// VRFs (or in `group` mode until its data plane routes the members' LANs) every subnet and loopback
// is in every node's table, as before.

import { ipv4Mask } from '../lib/addr.ts';
import { rngFor, nodeStream, RNG_STREAM } from '../lib/rng.ts';
import { tsLpm } from '../dataplane/lpm.ts';
import { TsEspEngine } from '../dataplane/esp-ts.ts';
import { IpsecApp } from '../node/ipsec-app.ts';
import { meshTunnels } from './mesh-plan.ts';
import { gatewayPlan } from './gateway-plan.ts';
import { IkeApp } from '../node/ike-app.ts';
import { securityGatewayIdentity } from '../proto/bgp/index.ts';
import { BgpApp } from '../node/bgp-app.ts';
import { RouterProcessor } from '../node/bgp-rib.ts';
import { IpNode } from '../node/ip-node.ts';
import { installBgpRoutes } from '../node/bgp-fib.ts';
import { VrfTables, vrfInspector, type VrfBinding } from '../node/vrf-forwarding.ts';
import { TcpApp } from '../node/tcp-app.ts';
import { bgpPlan } from './bgp-plan.ts';
import { tcpFlowPlan, tcpFlowApp } from './tcp-flow-plan.ts';
import { addGroupApps, groupPlan } from './group-plan.ts';
import type { FlowConfig, InterfaceConfig, NodeConfig, NodeDataplane, RouteConfig, SimNode } from '../node/types.ts';

/** The TypeScript reference engines: the default, and the fallback when WASM is not loaded. */
export const REFERENCE_DATAPLANE: NodeDataplane = { lpm: tsLpm, newEsp: () => new TsEspEngine() };
import { linkEnds } from './topology/link-ends.ts';
import type { Topology, TopoLink } from './topology/types.ts';

/** Provider roles: their loopbacks and the links among them are the provider's infrastructure. */
const PROVIDER_ROLES: ReadonlySet<string> = new Set(['pe', 'p', 'sr']);

interface Hop {
  /** Interface of the source node the path leaves by. */
  ifIndex: number;
  /** Address of the neighbour on that interface. */
  nextHop: number;
}

export function interfacesOf(topology: Topology, nodeIndex: number): InterfaceConfig[] {
  const out: InterfaceConfig[] = [];
  for (const l of topology.links) {
    if (l.a.nodeIndex === nodeIndex) out[l.a.ifIndex] = { ifIndex: l.a.ifIndex, peer: l.b.node, addr: l.a.addr, len: l.a.len };
    if (l.b.nodeIndex === nodeIndex) out[l.b.ifIndex] = { ifIndex: l.b.ifIndex, peer: l.a.node, addr: l.b.addr, len: l.b.len };
  }
  return out;
}

/** First hop from `src` towards every node (breadth-first; neighbours visited in index order). */
function firstHops(topology: Topology, src: number, adj: { node: number; ifIndex: number; peerAddr: number }[][]): (Hop | undefined)[] {
  const first: (Hop | undefined)[] = new Array(topology.nodes.length);
  const dist = new Int32Array(topology.nodes.length).fill(-1);
  dist[src] = 0;
  let frontier = [src];
  while (frontier.length > 0) {
    const next: number[] = [];
    for (const u of frontier) {
      for (const e of adj[u]!) {
        if (dist[e.node] !== -1) continue;
        dist[e.node] = dist[u]! + 1;
        first[e.node] = u === src ? { ifIndex: e.ifIndex, nextHop: e.peerAddr } : first[u];
        next.push(e.node);
      }
    }
    frontier = next.sort((a, b) => a - b);
  }
  return first;
}

function adjacency(topology: Topology, use: (l: TopoLink) => boolean = () => true): { node: number; ifIndex: number; peerAddr: number }[][] {
  const adj = topology.nodes.map(() => [] as { node: number; ifIndex: number; peerAddr: number }[]);
  for (const l of topology.links) {
    if (!l.up || !use(l)) continue;
    adj[l.a.nodeIndex]!.push({ node: l.b.nodeIndex, ifIndex: l.a.ifIndex, peerAddr: l.b.addr });
    adj[l.b.nodeIndex]!.push({ node: l.a.nodeIndex, ifIndex: l.b.ifIndex, peerAddr: l.a.addr });
  }
  for (const list of adj) list.sort((x, y) => x.node - y.node || x.ifIndex - y.ifIndex);
  return adj;
}

/** True when every subnet and loopback is routed by the underlay: no PE has a VRF. */
export function customerLansInUnderlay(topology: Topology): boolean {
  return !topology.nodes.some((n) => n.role === 'pe' && n.vrfs.length > 0);
}

const isProvider = (topology: Topology, nodeIndex: number): boolean => PROVIDER_ROLES.has(topology.nodes[nodeIndex]!.role);

/** A provider–provider link, or a CE–PE (any provider node) access link: routed by the provider. */
function isProviderRouted(topology: Topology, l: TopoLink): boolean {
  const a = isProvider(topology, l.a.nodeIndex);
  const b = isProvider(topology, l.b.nodeIndex);
  if (a && b) return true;
  const other = a ? l.b.nodeIndex : b ? l.a.nodeIndex : undefined;
  return other !== undefined && topology.nodes[other]!.role === 'ce';
}

/** The underlay forwarding table of one node (see the header). */
export function underlayRoutes(topology: Topology, nodeIndex: number): RouteConfig[] {
  if (customerLansInUnderlay(topology)) return shortestPathRoutes(topology, nodeIndex);
  const node = topology.nodes[nodeIndex]!;
  if (node.role === 'host') return hostRoutes(topology, nodeIndex);
  // Group mode: a member CE's traffic to other sites leaves inside the group SA (its SPD takes it
  // before any route lookup) towards the other members' access addresses, and its BGP goes to the
  // S/R the same way: its connected subnets and a default route to its PE are all it needs.
  if (topology.mode === 'group' && node.role === 'ce') return hostRoutes(topology, nodeIndex, (peer) => isProvider(topology, peer));
  return shortestPathRoutes(topology, nodeIndex, {
    // Paths run over the provider's links (a CE is never a transit for the provider), plus the
    // node's own links (a CE reaches the backbone through its PE).
    link: (l) => (isProvider(topology, l.a.nodeIndex) && isProvider(topology, l.b.nodeIndex)) || l.a.nodeIndex === nodeIndex || l.b.nodeIndex === nodeIndex,
    subnet: (l) => isProviderRouted(topology, l),
    loopback: (n) => isProvider(topology, n),
  });
}

/**
 * A host: its connected subnets and a default route to the neighbour on its first interface (or
 * on the first interface whose neighbour `gatewayOk` accepts).
 */
function hostRoutes(topology: Topology, nodeIndex: number, gatewayOk: (peer: number) => boolean = () => true): RouteConfig[] {
  const routes: RouteConfig[] = [];
  let gateway: RouteConfig | undefined;
  for (const { link: l, mine, theirs } of linkEnds(topology, nodeIndex)) {
    routes.push({ prefix: (mine.addr & ipv4Mask(mine.len)) >>> 0, len: mine.len, ifIndex: mine.ifIndex, nextHop: 0 });
    if (l.up && gatewayOk(theirs.nodeIndex) && (gateway === undefined || mine.ifIndex < gateway.ifIndex)) gateway = { prefix: 0, len: 0, ifIndex: mine.ifIndex, nextHop: theirs.addr };
  }
  if (gateway) routes.push(gateway);
  return routes;
}


/** What a shortest-path table covers: links paths may use, link subnets and loopbacks to route. */
export interface UnderlayScope {
  link: (l: TopoLink) => boolean;
  subnet: (l: TopoLink) => boolean;
  loopback: (nodeIndex: number) => boolean;
}

/** Shortest-path forwarding table of one node: every link subnet and every loopback in `scope`. */
export function shortestPathRoutes(topology: Topology, nodeIndex: number, scope?: UnderlayScope): RouteConfig[] {
  const first = firstHops(topology, nodeIndex, adjacency(topology, scope?.link));
  const routes = new Map<number, RouteConfig>();
  const add = (prefix: number, len: number, hop: Hop | undefined, connectedIf?: number) => {
    const net = (prefix & ipv4Mask(len)) >>> 0;
    const key = net * 64 + len; // exact: net < 2^32, len <= 32
    if (routes.has(key)) return;
    if (connectedIf !== undefined) routes.set(key, { prefix: net, len, ifIndex: connectedIf, nextHop: 0 });
    else if (hop) routes.set(key, { prefix: net, len, ifIndex: hop.ifIndex, nextHop: hop.nextHop });
  };
  // Connected subnets first, so they win over any learned path to the same subnet.
  for (const l of topology.links) {
    if (l.a.nodeIndex === nodeIndex) add(l.a.addr, l.a.len, undefined, l.a.ifIndex);
    if (l.b.nodeIndex === nodeIndex) add(l.b.addr, l.b.len, undefined, l.b.ifIndex);
  }
  const order = topology.links.map((l) => l.index);
  for (const i of order) {
    const l = topology.links[i]!;
    if (scope && !scope.subnet(l)) continue;
    // Towards whichever end of the subnet the search reached first (lower index on a tie).
    const ends = [l.a.nodeIndex, l.b.nodeIndex].filter((n) => first[n] !== undefined).sort((x, y) => x - y);
    const end = ends[0];
    if (end !== undefined) add(l.a.addr, l.a.len, first[end]);
  }
  for (const n of topology.nodes) {
    if (n.loopback !== undefined && n.index !== nodeIndex && (!scope || scope.loopback(n.index))) add(n.loopback, 32, first[n.index]);
  }
  return [...routes.values()];
}

export function nodeConfig(topology: Topology, nodeIndex: number): NodeConfig {
  const n = topology.nodes[nodeIndex]!;
  const flows: FlowConfig[] = topology.traffic.filter((t) => t.from === n.id).map(({ from: _from, toLabel: _label, ...flow }) => flow);
  const cfg: NodeConfig = { index: n.index, id: n.id, role: n.role, interfaces: interfacesOf(topology, nodeIndex), routes: underlayRoutes(topology, nodeIndex), flows, seed: topology.seed };
  if (n.loopback !== undefined) cfg.loopback = n.loopback;
  return cfg;
}

/**
 * The node factory both runtimes use: an IPv4 node, plus IPsec (mesh mode) and TCP and BGP where
 * the plans say so. `dataplane` holds the fast paths chosen at start-up (WASM engines, or the
 * TypeScript reference); both answer byte for byte alike, so the choice never changes a run.
 */
export function createSimNode(topology: Topology, nodeIndex: number, dataplane: NodeDataplane = REFERENCE_DATAPLANE): SimNode {
  const node = new IpNode(nodeConfig(topology, nodeIndex), dataplane.lpm);
  const tunnels = meshTunnels(topology, nodeIndex);
  // gateway mode (seed 002): IKE on UDP 500 and the SPD filled from local policy and BGP.
  const gw = gatewayPlan(topology, nodeIndex);
  const ike = gw ? new IkeApp(node, gw.ike, rngFor(topology.seed, nodeStream(nodeIndex, RNG_STREAM.NODE_IKE))) : undefined;
  const ipsec = tunnels.length > 0 || gw ? new IpsecApp(node, dataplane.newEsp(), tunnels, gw?.gateway, ike) : undefined;
  if (ipsec) node.addApp(ipsec);
  if (ike) node.addApp(ike);
  // Seed 001 (`group` mode): GCKS + route reflector on the S/R, group members on the CEs.
  const group = groupPlan(topology, nodeIndex);
  if (group) addGroupApps(node, group, topology, nodeIndex, () => dataplane.newEsp());
  const plan = bgpPlan(topology, nodeIndex);
  const flows = tcpFlowPlan(topology, nodeIndex);
  const tcp = plan || flows ? new TcpApp(node, rngFor(topology.seed, nodeStream(nodeIndex, RNG_STREAM.NODE_TCP))) : undefined;
  if (tcp) node.addApp(tcp);
  if (flows) node.addApp(tcpFlowApp(node, tcp!, flows));
  if (plan) {
    // A CE that asks for pre-established SAs sets the P flag of its Security Gateway Identity.
    const originated = gw?.announcePreEstablish
      ? plan.originated.map((r) => ({
          ...r,
          attributes: {
            ...r.attributes,
            extendedCommunities: (r.attributes.extendedCommunities ?? []).map((c) => (c.type === 'SECURITY_GATEWAY_IDENTITY' ? securityGatewayIdentity(c.gatewayAddress, { preEstablish: true }) : c)),
          },
        }))
      : plan.originated;
    const processor = new RouterProcessor(plan.router, originated);
    if (ipsec && gw) processor.onRouteChange((change, nowUs) => ipsec.onRouteChange(change, nowUs));
    // BGP into the forwarding tables (the global table of a CE, a PE's VRFs), unless the underlay
    // already routes every customer prefix.
    if (!customerLansInUnderlay(topology)) {
      const vrfs = vrfBindings(topology, nodeIndex, processor);
      let tables: VrfTables | undefined;
      if (vrfs.length > 0) {
        tables = new VrfTables(vrfs, dataplane.lpm);
        node.useVrfs(tables);
        node.addApp(vrfInspector(tables));
      }
      installBgpRoutes(node, processor, tables);
    }
    node.addApp(new BgpApp(node, tcp!, plan.speaker, processor, rngFor(topology.seed, nodeStream(nodeIndex, RNG_STREAM.NODE_BGP))));
  }
  return node;
}

/** A PE's VRFs as its forwarding needs them: the label BGP allocated to each, its attached interfaces. */
function vrfBindings(topology: Topology, nodeIndex: number, processor: RouterProcessor): VrfBinding[] {
  const node = topology.nodes[nodeIndex]!;
  if (node.role !== 'pe') return [];
  const ifs = interfacesOf(topology, nodeIndex);
  const labels = new Map(processor.router.vrfs().map((v) => [v.name, v.label]));
  return node.vrfs.flatMap((v) => {
    const label = labels.get(v.name);
    if (label === undefined) return [];
    return [{ name: v.name, label, ifIndexes: ifs.filter((i) => i !== undefined && v.attachments.includes(i.peer)).map((i) => i.ifIndex) }];
  });
}
