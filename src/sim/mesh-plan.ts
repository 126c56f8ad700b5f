// DESIGN.md's `mesh` mode: statically configured pairwise CE–CE IPsec tunnels, N·(N−1)/2 of them,
// protecting each pair's trusted subnets. Keys and SPIs are drawn from the run's seed, one stream per
// pair, so every worker derives the same configuration. Pure.

import { rngFor } from '../lib/rng.ts';
import type { EspSaParams } from '../dataplane/esp.ts';
import type { StaticTunnel } from '../node/ipsec-app.ts';
import { bgpAddress } from './bgp-plan.ts';
import { linkEnds } from './topology/link-ends.ts';
import type { Topology, TopoNode } from './topology/types.ts';

/** Pair k's keys come from stream MESH_STREAM_BASE + k. */
export const MESH_STREAM_BASE = 3_000_000;
/** Pair k uses SPIs MESH_SPI_BASE + 2k (lower-index CE → higher) and + 2k + 1 (back). */
export const MESH_SPI_BASE = 0x10000;

/** A CE's tunnel address: where its PE reaches it (its address on the CE–PE link), else its BGP address. */
export function tunnelAddress(topology: Topology, ce: TopoNode): number | undefined {
  for (const e of linkEnds(topology, ce.index)) if (topology.nodes[e.theirs.nodeIndex]?.role === 'pe') return e.mine.addr;
  return bgpAddress(topology, ce);
}

function bytes(rng: ReturnType<typeof rngFor>, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 4) {
    const w = rng.nextU32();
    for (let k = 0; k < 4 && i + k < n; k++) out[i + k] = (w >>> (8 * k)) & 0xff;
  }
  return out;
}

/**
 * The static tunnels of one CE in `mesh` mode (empty in other modes and for other roles): one per
 * other CE it shares a VPN with (every other CE when the file names no VPNs), so customers never
 * get tunnels to each other. Pair k = (i, j), i < j, numbered over all CE pairs, keeps its keys and
 * SPIs whatever else the file holds.
 */
export function meshTunnels(topology: Topology, nodeIndex: number): StaticTunnel[] {
  if (topology.mode !== 'mesh') return [];
  const ces = topology.nodes.filter((n) => n.role === 'ce' && n.trustedSubnets.length > 0 && tunnelAddress(topology, n) !== undefined);
  const me = ces.findIndex((n) => n.index === nodeIndex);
  if (me < 0) return [];
  // The CEs sharing a VPN with this one, found once (every other CE when the file names no VPN).
  const peers = new Set<string>();
  for (const v of topology.vpns) if (v.sites.includes(ces[me]!.id)) for (const id of v.sites) peers.add(id);
  const sharesVpn = (other: TopoNode) => topology.vpns.length === 0 || peers.has(other.id);
  const n = ces.length;
  const tunnels: StaticTunnel[] = [];
  for (let other = 0; other < n; other++) {
    if (other === me || !sharesVpn(ces[other]!)) continue;
    const [i, j] = me < other ? [me, other] : [other, me];
    const pair = (i * (2 * n - i - 1)) / 2 + (j - i - 1);
    const a = ces[i]!;
    const b = ces[j]!;
    const rng = rngFor(topology.seed, MESH_STREAM_BASE + pair);
    const sa = (spi: number, src: TopoNode, dst: TopoNode): EspSaParams => ({
      spi,
      suite: 'aes-gcm-128', // tshark 4.0 decrypts it (TOOLCHAIN.md)
      key: bytes(rng, 16),
      salt: bytes(rng, 4),
      esn: false, // tshark 4.0's esp_sa table has no ESN field; 32-bit numbers keep the capture decryptable
      replayWindow: 64,
      tunnelSrc: tunnelAddress(topology, src)!,
      tunnelDst: tunnelAddress(topology, dst)!,
    });
    const ab = sa(MESH_SPI_BASE + 2 * pair, a, b);
    const ba = sa(MESH_SPI_BASE + 2 * pair + 1, b, a);
    const [self, peer, outbound, inbound] = i === me ? [a, b, ab, ba] : [b, a, ba, ab];
    tunnels.push({ name: `${self.id}-${peer.id}`, localPrefixes: self.trustedSubnets, remotePrefixes: peer.trustedSubnets, outbound, inbound });
  }
  return tunnels;
}
