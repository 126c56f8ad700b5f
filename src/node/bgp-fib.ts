// BGP into the forwarding tables: listens to the route processor's best-route changes and installs
// them in the node's global table (a CE: routes its PE advertises) and in a PE's VRF tables (routes
// from the attached CEs, and VPN-IPv4 routes imported by route target, with their label). Owns only
// the translation; never runs the decision process and never touches packets.

import type { Ipv4Prefix } from '../lib/addr.ts';
import type { RouteChange } from '../proto/bgp/router.ts';
import type { RouterProcessor } from './bgp-rib.ts';
import type { IpNode } from './ip-node.ts';
import type { VrfRoute, VrfTables } from './vrf-forwarding.ts';

/** Counters of the translation (kept by the caller's snapshot if it wants them). */
export interface BgpFibCounters {
  /** Best-route changes that installed or replaced a forwarding entry. */
  installed: number;
  /** Best-route changes that left no entry (withdrawn, or our own origination). */
  removed: number;
  /** Best routes whose next hop no connected or underlay route resolves. */
  unresolved: number;
}

/**
 * Wires `processor`'s best-route changes into `node` (and its VRF tables, on a PE). Register before
 * the run starts: the processor does not replay changes already drained.
 */
export function installBgpRoutes(node: IpNode, processor: RouterProcessor, vrfs?: VrfTables): BgpFibCounters {
  const counters: BgpFibCounters = { installed: 0, removed: 0, unresolved: 0 };
  processor.onRouteChange((c: RouteChange) => {
    if (c.family !== 'ipv4-unicast' || c.prefix === undefined || c.prefix.family !== 4) return;
    const prefix = c.prefix as Ipv4Prefix;
    if (c.vrf === undefined) globalChange(node, prefix, c, counters);
    else if (vrfs) vrfChange(node, vrfs, prefix, c, counters);
  });
  return counters;
}

function globalChange(node: IpNode, prefix: Ipv4Prefix, c: RouteChange, counters: BgpFibCounters): void {
  const best = c.best;
  // Our own originations (the CE's trusted subnets) are connected or behind us already.
  if (!best || best.from === 'local' || node.isLocal(best.nextHop)) {
    node.setLearnedRoute(prefix.addr, prefix.len, undefined);
    counters.removed++;
    return;
  }
  // RFC 4271 §5.1.3: the NEXT_HOP is resolved through the table we already have (for eBGP, a
  // connected subnet; recursively through the underlay otherwise).
  const via = node.lookup(best.nextHop);
  if (!via) {
    counters.unresolved++;
    node.setLearnedRoute(prefix.addr, prefix.len, undefined);
    return;
  }
  node.setLearnedRoute(prefix.addr, prefix.len, { prefix: prefix.addr, len: prefix.len, ifIndex: via.ifIndex, nextHop: via.nextHop === 0 ? best.nextHop : via.nextHop });
  counters.installed++;
}

function vrfChange(node: IpNode, vrfs: VrfTables, prefix: Ipv4Prefix, c: RouteChange, counters: BgpFibCounters): void {
  const vrf = vrfs.vrfByName(c.vrf!);
  if (vrf === undefined) return;
  const best = c.best;
  let route: VrfRoute | undefined;
  if (best && best.from.startsWith('import ')) {
    // RFC 4364 §4.3.1 / §5: a VPN-IPv4 route imported by route target; its BGP next hop is the
    // egress PE (reached through the underlay at forwarding time) and its label names the egress VRF.
    const label = best.labels?.[0];
    if (label !== undefined) route = { kind: 'remote', egress: best.nextHop, label };
  } else if (best && best.from !== 'local' && !node.isLocal(best.nextHop)) {
    // From an attached CE (RFC 4364 §4.1): its next hop is the CE's address on our shared link.
    const via = node.lookup(best.nextHop);
    if (via && via.nextHop === 0) route = { kind: 'attached', ifIndex: via.ifIndex, nextHop: best.nextHop };
    else counters.unresolved++;
  }
  vrfs.set(vrf, prefix.addr, prefix.len, route);
  if (route) counters.installed++;
  else counters.removed++;
}
