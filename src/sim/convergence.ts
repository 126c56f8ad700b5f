// Reading a run's state out of snapshots, generically: BGP sessions, RIB sizes, SPD entries, SAs
// (from `espSas` and any app's `sas`), learned prefixes, and the per-mode convergence check
// ("every expected route and SA is in place"). Pure; reads app snapshots defensively, so apps that
// land later (ike, gcks, member, …) count without changes here.

import type { NodeSnapshot, SimNode } from '../node/types.ts';
import type { LabSnapshot } from './snapshot.ts';
import type { Topology } from './topology/types.ts';

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
/** Searches app snapshots at most this deep. */
const DEPTH_MAX = 6;

export interface BgpSessionView {
  app: string;
  name: string;
  peer?: string;
  state: string;
}

/** Every `neighbors[]` entry with a `state`, in any app (the `bgp` app today). */
export function bgpSessions(n: NodeSnapshot): BgpSessionView[] {
  const out: BgpSessionView[] = [];
  for (const [app, snap] of Object.entries(n.apps)) {
    const list = snap['neighbors'];
    if (!Array.isArray(list)) continue;
    for (const e of list) {
      if (!isObj(e) || typeof e['state'] !== 'string') continue;
      out.push({ app, name: String(e['name'] ?? e['peer'] ?? '?'), ...(typeof e['peer'] === 'string' ? { peer: e['peer'] } : {}), state: e['state'] });
    }
  }
  return out;
}

/**
 * RIB sizes: every array under an app's `rib`, by its path (`bgp.locRib.ipv4-unicast`,
 * `bgp.vrfs.blue`, …); a RIB too big to list (`summarized`) may give its size as a number instead.
 */
export function ribSizes(n: NodeSnapshot): Record<string, number> {
  const out: Record<string, number> = {};
  const walk = (v: unknown, path: string, depth: number) => {
    if (Array.isArray(v)) out[path] = v.length;
    else if (typeof v === 'number' && depth > 0 && path.includes('.locRib.')) out[path] = v;
    else if (isObj(v) && depth < 3) for (const [k, c] of Object.entries(v)) if (k !== 'stats') walk(c, `${path}.${k}`, depth + 1);
  };
  for (const [app, snap] of Object.entries(n.apps)) if ('rib' in snap) walk(snap['rib'], `${app}.rib`, 0);
  return out;
}

/** SPD entries: the length of every app's `spd` array (or the number it gives). */
export function spdEntries(n: NodeSnapshot): number {
  let total = 0;
  for (const snap of Object.values(n.apps)) {
    const spd = snap['spd'];
    if (Array.isArray(spd)) total += spd.length;
    else if (typeof spd === 'number') total += spd;
  }
  return total;
}

export interface SaCounts {
  /** ESP SAs the node ever installed (`espSas`, both directions count). */
  installed: number;
  /** Of those, group SAs (`src` or `dst` is `*`). */
  group: number;
  pairwise: number;
  /** Length of each app's `sas` array (e.g. ipsec: one entry per tunnel, IKE: per IKE/child SA). */
  byApp: Record<string, number>;
}

export function saCounts(n: NodeSnapshot): SaCounts {
  const group = n.espSas.filter((s) => s.src === '*' || s.dst === '*').length;
  const byApp: Record<string, number> = {};
  for (const [app, snap] of Object.entries(n.apps)) if (Array.isArray(snap['sas'])) byApp[app] = (snap['sas'] as unknown[]).length;
  return { installed: n.espSas.length, group, pairwise: n.espSas.length - group, byApp };
}

/**
 * Prefixes a node has learned: strings under keys `nlri` / `prefix` / `destination` and prefix-like
 * strings in `routes` / `prefixes` arrays, in any app, outside `adjRibIn` (received is not installed).
 * A VPN-IPv4 `RD:prefix` also yields the bare prefix.
 */
export function learnedPrefixes(n: NodeSnapshot): Set<string> {
  const out = new Set<string>();
  const addText = (s: string) => {
    out.add(s);
    const colon = s.lastIndexOf(':');
    if (colon >= 0) out.add(s.slice(colon + 1));
  };
  // (for…in over snapshot objects: plain JSON-like records, no inherited enumerable keys.)
  const walk = (v: unknown, key: string, depth: number) => {
    if (depth > DEPTH_MAX || key === 'adjRibIn') return;
    if (typeof v === 'string') {
      if (key === 'nlri' || key === 'prefix' || key === 'destination' || ((key === 'routes' || key === 'prefixes') && v.includes('/'))) addText(v);
      return;
    }
    if (typeof v !== 'object' || v === null) return;
    if (Array.isArray(v)) for (let i = 0; i < v.length; i++) walk(v[i], key, depth + 1);
    else for (const k in v) walk((v as Json)[k], k, depth + 1);
  };
  for (const snap of Object.values(n.apps)) walk(snap, '', 0);
  return out;
}

export interface ConvergenceCheck {
  /** BGP sessions Established / seen. */
  sessions: { established: number; total: number };
  /** Remote trusted subnets learned / expected, summed over CEs. */
  routes: { present: number; expected: number };
  /** SA condition of the mode (see `expectedState`), summed over CEs; 0/0 in l3vpn. */
  sas: { present: number; expected: number };
  ok: boolean;
  /**
   * Asked with `untilMiss` and not converged: the check stopped at the first node not in place, so
   * only `ok` (false) means anything; the counts are that far only.
   */
  partial?: true;
}

/** How a convergence check may be taken. */
export interface ConvergenceOptions {
  /**
   * Stop at the first node not in place (the answer is then `ok: false`, `partial`). A run samples
   * convergence after every slice but needs full counts only at the end; this keeps the samples
   * taken while a thousand members fill their RIBs from reading every one of them each time.
   */
  untilMiss?: boolean;
}

export interface CeExpectation {
  nodeIndex: number;
  remotePrefixes: string[];
  /** mesh: pairwise SAs; gateway: SPD entries; group: group SAs. */
  sasNeeded: number;
}

/**
 * What "converged" means per CE (documented in docs/report.md):
 * - routes (every mode): the trusted subnets of every other CE it shares a VPN with (group mode: a
 *   group) are learned;
 * - mesh: 2 pairwise ESP SAs per other CE it shares a VPN with (every other CE when the file has no
 *   VPNs), as mesh-plan pairs them;
 * - gateway: one SPD entry per remote trusted subnet (SAs are on demand, so the SPD is what must be in place);
 * - group: one group SA per group the CE is a member of;
 * and every BGP session any node reports is Established.
 */
export function expectedState(topology: Topology): CeExpectation[] {
  const ces = topology.nodes.filter((n) => n.role === 'ce' && n.trustedSubnets.length > 0);
  const sets: string[][] = topology.mode === 'group' ? topology.groups.map((g) => g.members) : topology.vpns.map((v) => v.sites);
  const byId = new Map(topology.nodes.map((n) => [n.id, n]));
  return ces.map((ce) => {
    const peers = new Set<string>();
    for (const s of sets) if (s.includes(ce.id)) for (const m of s) if (m !== ce.id) peers.add(m);
    const remotePrefixes = [...new Set([...peers].flatMap((p) => byId.get(p)?.trustedSubnets ?? []))].filter((p) => !ce.trustedSubnets.includes(p));
    let sasNeeded = 0;
    if (topology.mode === 'mesh') sasNeeded = 2 * (topology.vpns.length === 0 ? ces.length - 1 : ces.filter((c) => peers.has(c.id)).length);
    else if (topology.mode === 'gateway') sasNeeded = remotePrefixes.length;
    else if (topology.mode === 'group') sasNeeded = topology.groups.filter((g) => g.members.includes(ce.id)).length;
    return { nodeIndex: ce.index, remotePrefixes, sasNeeded };
  });
}

/** One node's share of a ConvergenceCheck, or the sum over several (they add). */
export interface ConvergenceCounts {
  established: number;
  total: number;
  routesPresent: number;
  routesExpected: number;
  sasPresent: number;
  sasExpected: number;
}

const zeroCounts = (): ConvergenceCounts => ({ established: 0, total: 0, routesPresent: 0, routesExpected: 0, sasPresent: 0, sasExpected: 0 });

function addCounts(into: ConvergenceCounts, c: ConvergenceCounts): ConvergenceCounts {
  into.established += c.established;
  into.total += c.total;
  into.routesPresent += c.routesPresent;
  into.routesExpected += c.routesExpected;
  into.sasPresent += c.sasPresent;
  into.sasExpected += c.sasExpected;
  return into;
}

/** One node's share: its BGP sessions, and for a CE (`e`) its routes and SAs against the expectation. */
export function nodeCounts(mode: Topology['mode'], n: NodeSnapshot, e: CeExpectation | undefined): ConvergenceCounts {
  const c = zeroCounts();
  for (const s of bgpSessions(n)) {
    c.total++;
    if (s.state === 'Established') c.established++;
  }
  if (!e) return c;
  const learned = learnedPrefixes(n);
  c.routesExpected = e.remotePrefixes.length;
  for (const p of e.remotePrefixes) if (learned.has(p)) c.routesPresent++;
  if (e.sasNeeded > 0) {
    c.sasExpected = e.sasNeeded;
    const sa = saCounts(n);
    const have = mode === 'mesh' ? sa.pairwise : mode === 'group' ? sa.group : spdEntries(n);
    c.sasPresent = Math.min(have, e.sasNeeded);
  }
  return c;
}

/** The counts say everything is in place (for one node, or summed). */
export function countsOk(c: ConvergenceCounts): boolean {
  return c.established === c.total && c.routesPresent === c.routesExpected && c.sasPresent === c.sasExpected;
}

function checkFromCounts(c: ConvergenceCounts, partial = false): ConvergenceCheck {
  return {
    sessions: { established: c.established, total: c.total },
    routes: { present: c.routesPresent, expected: c.routesExpected },
    sas: { present: c.sasPresent, expected: c.sasExpected },
    ok: !partial && countsOk(c),
    ...(partial ? { partial: true as const } : {}),
  };
}

/** A partition's share: its counts, and whether it stopped early at a node not in place (untilMiss). */
export interface ConvergenceShare {
  counts: ConvergenceCounts;
  partial: boolean;
}

/** Sums partitions' shares into one check (partial if any stopped early). */
export function checkFromShares(shares: readonly ConvergenceShare[]): ConvergenceCheck {
  const sum = zeroCounts();
  for (const s of shares) addCounts(sum, s.counts);
  return checkFromCounts(sum, shares.some((s) => s.partial));
}

export function checkConvergence(topology: Topology, snap: LabSnapshot, expected: CeExpectation[] = expectedState(topology)): ConvergenceCheck {
  const byNode = new Map(expected.map((e) => [e.nodeIndex, e]));
  const sum = zeroCounts();
  snap.nodes.forEach((n, i) => addCounts(sum, nodeCounts(topology.mode, n, byNode.get(i))));
  return checkFromCounts(sum);
}

/**
 * The convergence counts of live nodes, read where they run (the kernel, or each worker for its
 * own nodes) so no snapshot has to cross a thread. A node's share is read from its snapshot and
 * kept with its `stateVersion`; while that number stands still the kept share is reused, so a
 * sample costs O(nodes that changed) instead of O(N²) route look-ups at every slice. Nodes without
 * a state version are read every time. Same numbers as `checkConvergence` on a full snapshot.
 */
export class ConvergenceProbe {
  private readonly expected: Map<number, CeExpectation>;
  private readonly kept = new Map<number, { version: number; counts: ConvergenceCounts }>();
  /** The node an `untilMiss` check stopped at last: asked first next time (it is likely still not in place). */
  private lastMiss: [number, SimNode] | undefined;

  constructor(private readonly topology: Topology) {
    this.expected = new Map(expectedState(topology).map((e) => [e.nodeIndex, e]));
  }

  /** This set of nodes' share; with `untilMiss`, stops at the first node not in place (asking last time's first). */
  share(nodes: Iterable<[number, SimNode]>, opts: ConvergenceOptions): ConvergenceShare {
    const sum = zeroCounts();
    if (opts.untilMiss && this.lastMiss) {
      const [i, node] = this.lastMiss;
      const c = this.nodeShare(i, node);
      if (!countsOk(c)) return { counts: addCounts(sum, c), partial: true };
      this.lastMiss = undefined;
    }
    for (const [i, node] of nodes) {
      const c = this.nodeShare(i, node);
      addCounts(sum, c);
      if (opts.untilMiss && !countsOk(c)) {
        this.lastMiss = [i, node];
        return { counts: sum, partial: true };
      }
    }
    return { counts: sum, partial: false };
  }

  private nodeShare(i: number, node: SimNode): ConvergenceCounts {
    const version = node.stateVersion?.();
    const k = this.kept.get(i);
    if (version !== undefined && k && k.version === version) return k.counts;
    const e = this.expected.get(i);
    // A node without an expectation (PE, P, S/R) counts only its BGP sessions.
    const c = nodeCounts(this.topology.mode, node.snapshot(e ? 'convergence' : 'sessions'), e);
    if (version !== undefined) this.kept.set(i, { version, counts: c });
    else this.kept.delete(i);
    return c;
  }
}

/** Follows convergence over samples taken as a run advances (in increasing time). */
export class ConvergenceTracker {
  private expectedMemo: CeExpectation[] | undefined;
  /** Time of the first sample of the current run of ok samples, if the last sample was ok. */
  private since: number | undefined;
  samples = 0;
  last: ConvergenceCheck | undefined;

  constructor(private readonly topology: Topology) {}

  sample(snap: LabSnapshot): ConvergenceCheck {
    this.expectedMemo ??= expectedState(this.topology);
    return this.record(snap.nowUs, checkConvergence(this.topology, snap, this.expectedMemo));
  }

  /** A check made elsewhere (Lab.convergence) at `nowUs`. */
  record(nowUs: number, c: ConvergenceCheck): ConvergenceCheck {
    this.samples++;
    this.last = c;
    if (!c.ok) this.since = undefined;
    else if (this.since === undefined) this.since = nowUs;
    return c;
  }

  /** The virtual time from which every sample was converged, or undefined. */
  get convergedAtUs(): number | undefined {
    return this.since;
  }
}
