// The Security Policy Database of RFC 4301 §4.4.1: an ordered list of entries, each a set of
// selectors and an action (PROTECT through a tunnel, BYPASS, DISCARD). Owns policy only: it never
// holds keys (the SAD does) and never touches packets beyond reading their selector fields.

import { formatIpv4, ipv4Mask, parseIpv4, parsePrefix } from '../../lib/addr.ts';
import type { EspSuiteName, SaLifetimes } from './sad.ts';

/** An inclusive IPv4 address range (RFC 4301 selectors are ranges; a prefix is one). */
export interface Ipv4Range {
  from: number;
  to: number;
}

export const ANY_ADDRESS: Ipv4Range = { from: 0, to: 0xffffffff };
/** Next-layer protocol selector value meaning any (RFC 4301 §4.4.1.1 "ANY"). */
export const PROTOCOL_ANY = -1;
export const PORTS_ANY: PortRange = { from: 0, to: 65535 };

export interface PortRange {
  from: number;
  to: number;
}

export interface SpdSelectors {
  /** Local addresses (the packet's source when outbound). */
  local: Ipv4Range;
  /** Remote addresses (the packet's destination when outbound). */
  remote: Ipv4Range;
  /** IANA protocol number, or PROTOCOL_ANY. */
  protocol: number;
  localPorts: PortRange;
  remotePorts: PortRange;
}

/** What SA to build for a PROTECT entry (the SA template). */
export interface SaTemplate {
  suite: EspSuiteName;
  esn: boolean;
  replayWindow: number;
  lifetimes: SaLifetimes;
  /** seed 002: build the SA as soon as the entry appears, or on the first matching packet. */
  establish: 'pre-established' | 'on-demand';
}

export type SpdAction =
  | {
      kind: 'protect';
      /** Tunnel endpoints: this gateway's address and the peer gateway's (seed 002: the Security Gateway Identity). */
      tunnelLocal: number;
      tunnelRemote: number;
      template: SaTemplate;
    }
  | { kind: 'bypass' }
  | { kind: 'discard' };

/** Where an entry came from: local configuration, BGP (seed 002) or the GCKS (seed 001). */
export type SpdOrigin = 'local' | 'bgp' | 'gcks';

export interface SpdEntry {
  /** Unique name; BGP-derived entries are named after their route. */
  name: string;
  origin: SpdOrigin;
  selectors: SpdSelectors;
  action: SpdAction;
}

/** The fields of a packet the SPD looks at (outbound: local = source, remote = destination). */
export interface PacketSelectors {
  local: number;
  remote: number;
  protocol: number;
  localPort: number;
  remotePort: number;
}

export function prefixRange(text: string): Ipv4Range {
  const p = parsePrefix(text);
  if (!p || p.family !== 4) throw new RangeError(`not an IPv4 prefix: ${text}`);
  return { from: p.addr, to: (p.addr | ~ipv4Mask(p.len)) >>> 0 };
}

export function hostRange(addr: number | string): Ipv4Range {
  const a = typeof addr === 'string' ? parseIpv4(addr) : addr;
  if (a === undefined) throw new RangeError(`not an IPv4 address: ${String(addr)}`);
  return { from: a >>> 0, to: a >>> 0 };
}

export function formatRange(r: Ipv4Range): string {
  if (r.from === 0 && r.to === 0xffffffff) return 'any';
  if (r.from === r.to) return formatIpv4(r.from);
  // A range that is exactly a prefix prints as one.
  const size = r.to - r.from + 1;
  const len = 32 - Math.log2(size);
  if (Number.isInteger(len) && ((r.from & ipv4Mask(len)) >>> 0) === r.from) return `${formatIpv4(r.from)}/${len}`;
  return `${formatIpv4(r.from)}-${formatIpv4(r.to)}`;
}

const inRange = (v: number, r: { from: number; to: number }) => v >= r.from && v <= r.to;

export function selectorsMatch(s: SpdSelectors, p: PacketSelectors): boolean {
  return (
    inRange(p.remote >>> 0, s.remote) &&
    inRange(p.local >>> 0, s.local) &&
    (s.protocol === PROTOCOL_ANY || s.protocol === p.protocol) &&
    inRange(p.localPort, s.localPorts) &&
    inRange(p.remotePort, s.remotePorts)
  );
}

/**
 * The ordered SPD. Lookup returns the first entry whose selectors all match (RFC 4301 §4.4.1:
 * entries are ordered and the first match wins); a packet no entry matches is discarded (§5.1).
 */
export class Spd {
  private entries: SpdEntry[] = [];
  /** The entries by name (duplicate check and look-up without a walk: a CE may hold thousands). */
  private readonly byName = new Map<string, SpdEntry>();
  private changes = 0;

  /** Entries added or removed so far: grows with every change (an owner's state version). */
  get version(): number {
    return this.changes;
  }

  list(): readonly SpdEntry[] {
    return this.entries;
  }

  get size(): number {
    return this.entries.length;
  }

  /** Inserts before the entry named `before`, or at the end. Throws on a duplicate name (API misuse). */
  add(entry: SpdEntry, before?: string): void {
    if (this.byName.has(entry.name)) throw new RangeError(`SPD entry ${entry.name} exists`);
    const anchor = before === undefined ? undefined : this.byName.get(before);
    const at = anchor === undefined ? -1 : this.entries.indexOf(anchor);
    if (at < 0) this.entries.push(entry);
    else this.entries.splice(at, 0, entry);
    this.byName.set(entry.name, entry);
    this.changes++;
  }

  remove(name: string): boolean {
    const entry = this.byName.get(name);
    if (entry === undefined) return false;
    this.entries.splice(this.entries.indexOf(entry), 1);
    this.byName.delete(name);
    this.changes++;
    return true;
  }

  /** Removes every entry of one origin matching `keep` false (e.g. BGP withdrew the route). */
  removeWhere(pred: (e: SpdEntry) => boolean): number {
    const gone = this.entries.filter(pred);
    for (const e of gone) this.remove(e.name);
    return gone.length;
  }

  lookup(p: PacketSelectors): SpdEntry | undefined {
    return this.entries.find((e) => selectorsMatch(e.selectors, p));
  }
}

/** One BGP route as seed 002 uses it: a trusted subnet and the security gateway protecting it. */
export interface GatewayRoute {
  trustedSubnet: string;
  /** The Security Gateway Identity (an IPv4 address). */
  gateway: number;
}

/** The locally configured half of a seed 002 entry: which local sources may use the tunnel. */
export interface LocalGatewayPolicy {
  /** This CE's tunnel address. */
  tunnelLocal: number;
  /** Local prefixes whose traffic to trusted subnets is protected (the source half; both must match). */
  localPrefixes: string[];
  template: SaTemplate;
}

/**
 * Seed 002 (FIG. 3, FIG. 7): the SPD entries a CE derives from one BGP route — destination = the
 * trusted subnet from BGP, source = each locally configured prefix, PROTECT through the advertised
 * gateway. Named `bgp:<subnet>:<local prefix>` so a withdraw removes exactly these.
 */
export function entriesFromGatewayRoute(route: GatewayRoute, local: LocalGatewayPolicy): SpdEntry[] {
  return local.localPrefixes.map((src) => ({
    name: `bgp:${route.trustedSubnet}:${src}`,
    origin: 'bgp' as const,
    selectors: { local: prefixRange(src), remote: prefixRange(route.trustedSubnet), protocol: PROTOCOL_ANY, localPorts: PORTS_ANY, remotePorts: PORTS_ANY },
    action: { kind: 'protect' as const, tunnelLocal: local.tunnelLocal, tunnelRemote: route.gateway >>> 0, template: local.template },
  }));
}
