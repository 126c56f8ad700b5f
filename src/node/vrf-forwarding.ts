// A PE's VRF forwarding tables (RFC 4364 §5): per VRF, a longest-prefix-match table of routes to an
// attached CE or across the backbone to another PE with a VPN label, plus the maps an ingress packet
// (interface → VRF) and an egress packet (VPN label → VRF) are looked up by. Never decides routes
// (BGP does, see bgp-fib.ts) and never touches packets.

import { formatIpv4, ipv4Mask } from '../lib/addr.ts';
import { assert } from '../lib/errors.ts';
import type { Ipv4LpmTable, LpmEngine } from '../dataplane/lpm.ts';
import type { NodeApp } from './types.ts';

/** Routes one VRF holds at most; past this, new prefixes are refused and counted. */
export const VRF_ROUTES_MAX = 100_000;

/** Where a VRF sends a packet. */
export type VrfRoute =
  /** To a CE on one of our interfaces (a route the CE advertised, RFC 4364 §4.1). */
  | { kind: 'attached'; ifIndex: number; nextHop: number }
  /** Across the backbone: MPLS-in-IP to the PE at `egress` with `label` (an imported VPN-IPv4 route, §4.3.1, §5). */
  | { kind: 'remote'; egress: number; label: number };

/** One VRF of this PE: its name, the VPN label BGP allocated to it, and the interfaces attached to it. */
export interface VrfBinding {
  name: string;
  label: number;
  ifIndexes: readonly number[];
}

interface VrfTable {
  binding: VrfBinding;
  fib: Ipv4LpmTable;
  /** Slot per LPM value; undefined slots are free. */
  routes: (VrfRoute | undefined)[];
  free: number[];
  /** Prefix keys (`net/len`) in insertion order, for the snapshot. */
  keys: Map<string, { prefix: number; len: number }>;
}

export class VrfTables {
  private readonly tables: VrfTable[] = [];
  private readonly byName = new Map<string, number>();
  private readonly byLabel = new Map<number, number>();
  private readonly byIf = new Map<number, number>();
  readonly counters = { routesRefused: 0 };

  constructor(vrfs: readonly VrfBinding[], lpm: LpmEngine) {
    for (const b of vrfs) {
      assert(!this.byName.has(b.name), `VrfTables: VRF ${b.name} twice`);
      assert(!this.byLabel.has(b.label), `VrfTables: label ${b.label} on two VRFs`);
      const i = this.tables.length;
      this.tables.push({ binding: b, fib: lpm.ipv4({ directBits: 8 }), routes: [], free: [], keys: new Map() });
      this.byName.set(b.name, i);
      this.byLabel.set(b.label, i);
      for (const ifIndex of b.ifIndexes) {
        assert(!this.byIf.has(ifIndex), `VrfTables: interface ${ifIndex} in two VRFs`);
        this.byIf.set(ifIndex, i);
      }
    }
  }

  get size(): number {
    return this.tables.length;
  }

  vrfByName(name: string): number | undefined {
    return this.byName.get(name);
  }

  /** The VRF a packet arriving on `ifIndex` belongs to (RFC 4364 §5: the interface decides). */
  vrfOfInterface(ifIndex: number): number | undefined {
    return this.byIf.get(ifIndex);
  }

  /** The VRF our VPN label `label` names (we allocated it, one per VRF). */
  vrfOfLabel(label: number): number | undefined {
    return this.byLabel.get(label);
  }

  name(vrf: number): string {
    return this.tables[vrf]!.binding.name;
  }

  label(vrf: number): number {
    return this.tables[vrf]!.binding.label;
  }

  /** Sets (or with `route` undefined removes) prefix/len in a VRF. */
  set(vrf: number, prefix: number, len: number, route: VrfRoute | undefined): void {
    const t = this.tables[vrf];
    assert(t !== undefined, `VrfTables: no VRF ${vrf}`);
    const net = (prefix & ipv4Mask(len)) >>> 0;
    const key = `${net}/${len}`;
    const at = t.fib.get(net, len);
    if (route === undefined) {
      if (at === undefined) return;
      t.fib.delete(net, len);
      t.routes[at] = undefined;
      t.free.push(at);
      t.keys.delete(key);
      return;
    }
    if (at !== undefined) {
      t.routes[at] = route;
      return;
    }
    if (t.keys.size >= VRF_ROUTES_MAX) {
      this.counters.routesRefused++;
      return;
    }
    const slot = t.free.pop() ?? t.routes.length;
    t.routes[slot] = route;
    t.fib.insert(net, len, slot);
    t.keys.set(key, { prefix: net, len });
  }

  lookup(vrf: number, dst: number): VrfRoute | undefined {
    const t = this.tables[vrf];
    if (!t) return undefined;
    const at = t.fib.lookup(dst >>> 0);
    return at === undefined ? undefined : t.routes[at];
  }

  /** Per VRF: its label, interfaces and routes as text (for the inspector and tests). */
  snapshot(): Record<string, { label: number; interfaces: number[]; routes: string[] }> {
    const out: Record<string, { label: number; interfaces: number[]; routes: string[] }> = {};
    for (const t of this.tables) {
      const routes = [...t.keys.values()]
        .sort((a, b) => a.prefix - b.prefix || a.len - b.len)
        .map(({ prefix, len }) => {
          const r = t.routes[t.fib.get(prefix, len)!]!;
          const p = `${formatIpv4(prefix)}/${len}`;
          return r.kind === 'attached' ? `${p} via ${formatIpv4(r.nextHop)} if${r.ifIndex}` : `${p} via ${formatIpv4(r.egress)} label ${r.label}`;
        });
      out[t.binding.name] = { label: t.binding.label, interfaces: [...t.binding.ifIndexes], routes };
    }
    return out;
  }
}

/**
 * The VRF tables as an inspection-only application (`apps.vrf` of the node snapshot): takes no
 * packet, wants no timer; forwarding itself is the node's (ip-node.ts).
 */
export function vrfInspector(tables: VrfTables): NodeApp {
  return {
    name: 'vrf',
    receive: () => false,
    timer: () => {},
    nextDeadlineUs: () => undefined,
    snapshot: () => ({ vrfs: tables.snapshot(), counters: { ...tables.counters } }),
  };
}
