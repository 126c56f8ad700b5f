// Turns the resolved topology into each node's plain configuration: interfaces, and, until BGP
// exists, forwarding tables from shortest paths (hop count, ties to the lower node index) over the
// links that are up at load time. Pure and deterministic: every worker computes the same tables.

import { ipv4Mask } from '../lib/addr.ts';
import { rngFor, nodeStream, RNG_STREAM } from '../lib/rng.ts';
import { tsLpm } from '../dataplane/lpm.ts';
import { TsEspEngine } from '../dataplane/esp-ts.ts';
import { IpsecApp } from '../node/ipsec-app.ts';
import { meshTunnels } from './mesh-plan.ts';
import { BgpApp } from '../node/bgp-app.ts';
import { RouterProcessor } from '../node/bgp-rib.ts';
import { IpNode } from '../node/ip-node.ts';
import { TcpApp } from '../node/tcp-app.ts';
import { bgpPlan } from './bgp-plan.ts';
import { addGroupApps, groupPlan } from './group-plan.ts';
import type { FlowConfig, InterfaceConfig, NodeConfig, NodeDataplane, RouteConfig, SimNode } from '../node/types.ts';

/** The TypeScript reference engines: the default, and the fallback when WASM is not loaded. */
export const REFERENCE_DATAPLANE: NodeDataplane = { lpm: tsLpm, newEsp: () => new TsEspEngine() };
import type { Topology } from './topology/types.ts';

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

function adjacency(topology: Topology): { node: number; ifIndex: number; peerAddr: number }[][] {
  const adj = topology.nodes.map(() => [] as { node: number; ifIndex: number; peerAddr: number }[]);
  for (const l of topology.links) {
    if (!l.up) continue;
    adj[l.a.nodeIndex]!.push({ node: l.b.nodeIndex, ifIndex: l.a.ifIndex, peerAddr: l.b.addr });
    adj[l.b.nodeIndex]!.push({ node: l.a.nodeIndex, ifIndex: l.b.ifIndex, peerAddr: l.a.addr });
  }
  for (const list of adj) list.sort((x, y) => x.node - y.node || x.ifIndex - y.ifIndex);
  return adj;
}

/** Shortest-path forwarding table of one node: every link subnet and every loopback. */
export function shortestPathRoutes(topology: Topology, nodeIndex: number): RouteConfig[] {
  const first = firstHops(topology, nodeIndex, adjacency(topology));
  const routes = new Map<string, RouteConfig>();
  const add = (prefix: number, len: number, hop: Hop | undefined, connectedIf?: number) => {
    const net = (prefix & ipv4Mask(len)) >>> 0;
    const key = `${net}/${len}`;
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
    // Towards whichever end of the subnet the search reached first (lower index on a tie).
    const ends = [l.a.nodeIndex, l.b.nodeIndex].filter((n) => first[n] !== undefined).sort((x, y) => x - y);
    const end = ends[0];
    if (end !== undefined) add(l.a.addr, l.a.len, first[end]);
  }
  for (const n of topology.nodes) {
    if (n.loopback !== undefined && n.index !== nodeIndex) add(n.loopback, 32, first[n.index]);
  }
  return [...routes.values()];
}

export function nodeConfig(topology: Topology, nodeIndex: number): NodeConfig {
  const n = topology.nodes[nodeIndex]!;
  const flows: FlowConfig[] = topology.traffic.filter((t) => t.from === n.id).map(({ from: _from, toLabel: _label, ...flow }) => flow);
  const cfg: NodeConfig = { index: n.index, id: n.id, role: n.role, interfaces: interfacesOf(topology, nodeIndex), routes: shortestPathRoutes(topology, nodeIndex), flows, seed: topology.seed };
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
  if (tunnels.length > 0) node.addApp(new IpsecApp(node, dataplane.newEsp(), tunnels));
  // Seed 001 (`group` mode): GCKS + route reflector on the S/R, group members on the CEs.
  const group = groupPlan(topology, nodeIndex);
  if (group) addGroupApps(node, group, topology, nodeIndex, () => dataplane.newEsp());
  const plan = bgpPlan(topology, nodeIndex);
  if (plan) {
    const tcp = new TcpApp(node, rngFor(topology.seed, nodeStream(nodeIndex, RNG_STREAM.NODE_TCP)));
    node.addApp(tcp);
    node.addApp(new BgpApp(node, tcp, plan.speaker, new RouterProcessor(plan.router, plan.originated), rngFor(topology.seed, nodeStream(nodeIndex, RNG_STREAM.NODE_BGP))));
  }
  return node;
}
