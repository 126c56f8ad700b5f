// Traffic selector algebra (RFC 7296 §2.9): TS_IPV4_ADDR_RANGE builders, intersection, narrowing.
// Pure functions; never decides policy (the caller supplies it).

import type { Ipv4Prefix } from '../../lib/addr.ts';
import { ipv4Mask } from '../../lib/addr.ts';
import type { Ipv4RangeSelector, TrafficSelector } from './payloads.ts';

/** The selectors a peer policy allows: `local` is our side, `remote` the peer's side. */
export interface TrafficPolicy {
  local: TrafficSelector[];
  remote: TrafficSelector[];
}

/** Proposed or narrowed selectors as they travel: TSi is the initiator's side, TSr the responder's. */
export interface SelectorPair {
  tsi: TrafficSelector[];
  tsr: TrafficSelector[];
}

export const PORT_ANY_START = 0;
export const PORT_ANY_END = 0xffff;
/** RFC 7296 §3.13.1: IP Protocol ID 0 means any protocol. */
export const IP_PROTOCOL_ANY = 0;
/** At most this many selectors in a narrowed answer (a bound on pairwise intersections). */
export const SELECTORS_MAX = 16;

export function tsRange(startAddr: number, endAddr: number, opts: { ipProtocolId?: number; startPort?: number; endPort?: number } = {}): Ipv4RangeSelector {
  return {
    kind: 'ipv4-range',
    ipProtocolId: opts.ipProtocolId ?? IP_PROTOCOL_ANY,
    startPort: opts.startPort ?? PORT_ANY_START,
    endPort: opts.endPort ?? PORT_ANY_END,
    startAddr: startAddr >>> 0,
    endAddr: endAddr >>> 0,
  };
}

export function tsFromPrefix(p: Ipv4Prefix, opts: { ipProtocolId?: number; startPort?: number; endPort?: number } = {}): Ipv4RangeSelector {
  const mask = ipv4Mask(p.len);
  const start = (p.addr & mask) >>> 0;
  return tsRange(start, (start | ~mask) >>> 0, opts);
}

export function tsHost(addr: number, opts: { ipProtocolId?: number; startPort?: number; endPort?: number } = {}): Ipv4RangeSelector {
  return tsRange(addr, addr, opts);
}

/** a ∩ b, or undefined when empty. Opaque selectors (other TS types) never intersect anything. */
export function intersectSelector(a: TrafficSelector, b: TrafficSelector): Ipv4RangeSelector | undefined {
  if (a.kind !== 'ipv4-range' || b.kind !== 'ipv4-range') return undefined;
  let proto: number;
  if (a.ipProtocolId === IP_PROTOCOL_ANY) proto = b.ipProtocolId;
  else if (b.ipProtocolId === IP_PROTOCOL_ANY || b.ipProtocolId === a.ipProtocolId) proto = a.ipProtocolId;
  else return undefined;
  const startAddr = Math.max(a.startAddr, b.startAddr);
  const endAddr = Math.min(a.endAddr, b.endAddr);
  const startPort = Math.max(a.startPort, b.startPort);
  const endPort = Math.min(a.endPort, b.endPort);
  if (startAddr > endAddr || startPort > endPort) return undefined;
  return { kind: 'ipv4-range', ipProtocolId: proto, startPort, endPort, startAddr, endAddr };
}

function contains(outer: TrafficSelector, inner: TrafficSelector): boolean {
  if (outer.kind !== 'ipv4-range' || inner.kind !== 'ipv4-range') return false;
  if (outer.ipProtocolId !== IP_PROTOCOL_ANY && outer.ipProtocolId !== inner.ipProtocolId) return false;
  return outer.startAddr <= inner.startAddr && inner.endAddr <= outer.endAddr && outer.startPort <= inner.startPort && inner.endPort <= outer.endPort;
}

/** Every non-empty pairwise intersection, in proposal order, without duplicates, at most SELECTORS_MAX. */
export function narrowSelectors(proposed: readonly TrafficSelector[], allowed: readonly TrafficSelector[]): Ipv4RangeSelector[] {
  const out: Ipv4RangeSelector[] = [];
  for (const p of proposed)
    for (const a of allowed) {
      const x = intersectSelector(p, a);
      if (x && !out.some((o) => contains(o, x)) && out.length < SELECTORS_MAX) out.push(x);
    }
  return out;
}

/** RFC 7296 §2.9: each returned selector must be a subset of one proposed. */
export function selectorsWithin(answer: readonly TrafficSelector[], proposed: readonly TrafficSelector[]): boolean {
  return answer.length > 0 && answer.every((a) => proposed.some((p) => contains(p, a)));
}

/**
 * The responder's narrowing (RFC 7296 §2.9): TSi (the initiator's side, our remote) against the
 * policy's remote selectors, TSr against its local ones; undefined (→ TS_UNACCEPTABLE) if either is empty.
 */
export function narrowToPolicy(proposed: SelectorPair, policy: TrafficPolicy | undefined): SelectorPair | undefined {
  if (!policy) return undefined;
  const tsi = narrowSelectors(proposed.tsi, policy.remote);
  const tsr = narrowSelectors(proposed.tsr, policy.local);
  return tsi.length > 0 && tsr.length > 0 ? { tsi, tsr } : undefined;
}
