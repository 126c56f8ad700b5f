// How many configuration items an operator had to write on each node, derived from the topology per
// mode by a fixed rule (docs/report.md states it). This is what seed 001's background argues about:
// pairwise tunnels need config that grows with every site; group membership does not. Pure.

import type { Topology, TopoNode } from './topology/types.ts';

export interface ConfigItems {
  /** BGP neighbours, networks, VRFs: the same in every mode except group (members peer with the S/R). */
  routing: number;
  /** Tunnels, selectors, local policy, registrations: what the mode's security asks for. */
  security: number;
  total: number;
}

/**
 * The rule, per node:
 * - ce routing: 1 BGP neighbour (its PE; in group mode the S/R device) + 1 network line per trusted subnet;
 * - pe routing: 1 per VRF (RD and route targets) + 1 neighbour per attached CE + iBGP: 1 per route
 *   reflector, or one per other PE without reflectors; a route reflector: 1 per client PE;
 * - ce security: l3vpn 0; mesh: per other CE it shares a VPN with (all of them without VPNs) 1 tunnel
 *   (peer address and keys) + one selector line per (local, remote) trusted subnet pair; gateway: 1 line enabling the Security Gateway Identity + one
 *   local source-policy line per trusted subnet; group: per group 1 registration line (group id and
 *   S/R address) + with member-list discovery one line per other member;
 * - sr security (group mode): 1 group policy line per group it serves;
 * - hosts and P routers (not reflectors): 0.
 */
export function configItems(topology: Topology): ConfigItems[] {
  const mode = topology.mode;
  const ces = topology.nodes.filter((n) => n.role === 'ce' && n.trustedSubnets.length > 0);
  const reflectors = topology.nodes.filter((n) => n.routeReflector && (n.role === 'pe' || n.role === 'p'));
  const pes = topology.nodes.filter((n) => n.role === 'pe' && !n.routeReflector);
  const ceById = new Map(ces.map((c) => [c.id, c]));
  /** mesh: the CEs a CE has tunnels to (those it shares a VPN with; every other CE without VPNs). */
  const meshPeers = (id: string): TopoNode[] => {
    if (topology.vpns.length === 0) return ces.filter((c) => c.id !== id);
    const out = new Set<string>();
    for (const v of topology.vpns) if (v.sites.includes(id)) for (const s of v.sites) if (s !== id && ceById.has(s)) out.add(s);
    return [...out].map((s) => ceById.get(s)!);
  };
  const groupsOf = new Map<string, typeof topology.groups>();
  for (const g of topology.groups) for (const m of g.members) groupsOf.set(m, [...(groupsOf.get(m) ?? []), g]);

  const one = (n: TopoNode): ConfigItems => {
    let routing = 0;
    let security = 0;
    if (n.role === 'ce') {
      routing = 1 + n.trustedSubnets.length;
      if (mode === 'mesh' && n.trustedSubnets.length > 0) {
        const peers = meshPeers(n.id);
        security = peers.length + n.trustedSubnets.length * peers.reduce((s, c) => s + c.trustedSubnets.length, 0);
      } else if (mode === 'gateway') {
        security = 1 + n.trustedSubnets.length;
      } else if (mode === 'group') {
        for (const g of groupsOf.get(n.id) ?? []) security += 1 + (g.discovery === 'member-list' ? g.members.length - 1 : 0);
      }
    } else if (n.routeReflector && (n.role === 'pe' || n.role === 'p')) {
      routing = pes.length + n.vrfs.length;
    } else if (n.role === 'pe') {
      const attached = n.vrfs.reduce((s, v) => s + v.attachments.length, 0);
      routing = n.vrfs.length + attached + (reflectors.length > 0 ? reflectors.length : pes.length - 1);
    } else if (n.role === 'sr' && mode === 'group') {
      security = topology.groups.filter((g) => g.sr === n.id).length;
    }
    return { routing, security, total: routing + security };
  };
  return topology.nodes.map(one);
}
