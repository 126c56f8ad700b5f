// DESIGN.md's `gateway` mode (seed 002): what each security gateway (a CE, or a host that ends a
// tunnel, FIG. 3 entry #4) runs — its tunnel address, IKE credentials and lifetimes, and its local
// policy in SPD order — derived from the topology. Pure: every worker derives the same plan.
//
// Authentication needs no per-peer configuration: one pre-shared key per VPN (the file's `psk`,
// else derived from the seed and the VPN id), identities = tunnel addresses (ID_IPV4_ADDR).

import { sha256 } from '@noble/hashes/sha2.js';
import { parseIpv4 } from '../lib/addr.ts';
import type { GatewayConfig, GatewayPolicyEntry } from '../node/ipsec-app.ts';
import { GATEWAY_PRE_ESTABLISH_DEFER_US_DEFAULT, GATEWAY_RETRY_US_DEFAULT } from '../node/ipsec-app.ts';
import type { IkeAppConfig } from '../node/ike-app.ts';
import { tunnelAddress } from './mesh-plan.ts';
import type { TopoIke, TopoNode, TopoPolicyEntry, Topology } from './topology/types.ts';

export interface GatewayPlan {
  ike: IkeAppConfig;
  gateway: GatewayConfig;
  /** Set the pre-establish flag (0x8000) in this CE's Security Gateway Identity. */
  announcePreEstablish: boolean;
}

export const IKE_DEFAULTS: TopoIke = { establish: 'on-demand', announce: 'on-demand', lifetimeUs: 3_600_000_000, rekeyUs: 3_000_000_000, queueMax: 32 };
/** tshark 4.0 decrypts only AES-GCM with 16-octet ICV and no ESN (TOOLCHAIN.md). */
export const GATEWAY_SUITE = 'aes-gcm-128';

const utf8 = (s: string) => new TextEncoder().encode(s);

/** A node's tunnel address: a CE's address towards its PE (its SGI); a host's first interface. */
export function gatewayAddress(topology: Topology, node: TopoNode): number | undefined {
  if (node.role === 'ce') return tunnelAddress(topology, node);
  for (const l of topology.links) {
    if (l.a.nodeIndex === node.index) return l.a.addr;
    if (l.b.nodeIndex === node.index) return l.b.addr;
  }
  return undefined;
}

function resolveGateway(topology: Topology, text: string): number | undefined {
  const a = parseIpv4(text);
  if (a !== undefined) return a;
  const n = topology.nodes.find((x) => x.id === text);
  return n ? gatewayAddress(topology, n) : undefined;
}

/** The VPN a gateway belongs to: a CE's own, a host's through the gateways its policy names. */
function vpnOf(topology: Topology, node: TopoNode) {
  const direct = topology.vpns.find((v) => v.sites.includes(node.id));
  if (direct) return direct;
  for (const e of node.policy ?? []) {
    const v = e.gateway !== undefined ? topology.vpns.find((x) => x.sites.includes(e.gateway!)) : undefined;
    if (v) return v;
  }
  return undefined;
}

/** The pre-shared key: the node's, else its VPN's, else SHA-256("vpnlab psk <seed> <vpn id>"). */
export function gatewayPsk(topology: Topology, node: TopoNode): Uint8Array {
  if (node.ike?.psk !== undefined) return utf8(node.ike.psk);
  const vpn = vpnOf(topology, node);
  if (vpn?.psk !== undefined) return utf8(vpn.psk);
  return sha256(utf8(`vpnlab psk ${topology.seed} ${vpn?.id ?? ''}`));
}

/** The policy as written, or a CE's default: protect its trusted subnets towards what BGP advertises. */
export function policyOf(node: TopoNode): TopoPolicyEntry[] {
  if (node.policy) return node.policy;
  if (node.role === 'ce' && node.trustedSubnets.length > 0) return [{ action: 'protect', source: [...node.trustedSubnets], destination: 'bgp' }];
  return [];
}

/** The gateway plan of one node in `gateway` mode, or undefined. */
export function gatewayPlan(topology: Topology, nodeIndex: number): GatewayPlan | undefined {
  if (topology.mode !== 'gateway') return undefined;
  const node = topology.nodes[nodeIndex]!;
  if (node.role !== 'ce' && node.role !== 'host') return undefined;
  const policy = policyOf(node);
  if (policy.length === 0) return undefined;
  const tunnelLocal = gatewayAddress(topology, node);
  if (tunnelLocal === undefined) return undefined;
  const ike = { ...IKE_DEFAULTS, ...node.ike };
  const entries: GatewayPolicyEntry[] = [];
  policy.forEach((e, k) => {
    const name = `policy${k + 1}`;
    if (e.destination === 'bgp') {
      entries.push({ kind: 'bgp', name, sources: e.source, ...(e.establish ? { establish: e.establish } : {}) });
    } else if (e.action === 'protect') {
      const gw = e.gateway !== undefined ? resolveGateway(topology, e.gateway) : undefined;
      if (gw === undefined) return; // the loader reports an unknown gateway; a node without address has none
      entries.push({ kind: 'protect', name, sources: e.source, destinations: e.destination, gateway: gw, ...(e.establish ? { establish: e.establish } : {}) });
    } else {
      entries.push({ kind: e.action, name, sources: e.source, destinations: e.destination });
    }
  });
  return {
    ike: { localAddr: tunnelLocal, psk: gatewayPsk(topology, node), childLifetime: { softUs: ike.rekeyUs, hardUs: ike.lifetimeUs } },
    gateway: {
      tunnelLocal,
      policy: entries,
      establish: ike.establish,
      template: { suite: GATEWAY_SUITE, esn: false, replayWindow: 64, lifetimes: { softUs: ike.rekeyUs, hardUs: ike.lifetimeUs, softBytes: 0, hardBytes: 0 } },
      queueMax: ike.queueMax,
      retryUs: GATEWAY_RETRY_US_DEFAULT,
      preEstablishDeferUs: GATEWAY_PRE_ESTABLISH_DEFER_US_DEFAULT,
    },
    announcePreEstablish: ike.announce === 'pre-established',
  };
}
