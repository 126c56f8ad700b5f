// The BGP decision process (RFC 4271 §9.1 with RFC 4456 §9): picks the best of a destination's candidate
// routes and says which step decided it. Pure functions over plain numbers; never reads a RIB or a clock.
//
// The tie-breaking of RFC 4271 §9.1.2.2 is an elimination over the whole set, not a pairwise order:
// step (c) compares MULTI_EXIT_DISC only between routes from the same neighbouring AS, so "A beats B,
// B beats C" does not give "A beats C". `selectBest` therefore runs the RFC's steps literally, each
// removing candidates from consideration, and labels every removed candidate with the step that
// removed it (BIRD's "RFC 4271 9.1.2.2 c" labels, GoBGP's reason enum). Routes that are not
// eligible at all (unresolvable NEXT_HOP, AS loop, RFC 4456 §8 loops) never reach this module.

/** One step of the decision process, in the order they run. */
export type DecisionReason =
  | 'only-candidate'
  | 'local-pref'
  | 'as-path-length'
  | 'origin'
  | 'med'
  | 'ebgp-over-ibgp'
  | 'igp-cost'
  | 'bgp-identifier'
  | 'cluster-list-length'
  | 'peer-address'
  | 'final-tiebreak';

export interface DecisionStep {
  reason: DecisionReason;
  /** Where the step is specified, as BIRD labels it. */
  rfc: string;
  text: string;
}

/** Every step in order, with the RFC section that specifies it (the lab shows these labels). */
export const DECISION_STEPS: readonly DecisionStep[] = [
  { reason: 'only-candidate', rfc: 'RFC 4271 9.1.2', text: 'the only route eligible for this destination' },
  { reason: 'local-pref', rfc: 'RFC 4271 9.1.1, 9.1.2.1', text: 'highest degree of preference (LOCAL_PREF from IBGP, policy for EBGP)' },
  { reason: 'as-path-length', rfc: 'RFC 4271 9.1.2.2 a', text: 'shortest AS_PATH (an AS_SET counts 1)' },
  { reason: 'origin', rfc: 'RFC 4271 9.1.2.2 b', text: 'lowest ORIGIN (IGP < EGP < INCOMPLETE)' },
  { reason: 'med', rfc: 'RFC 4271 9.1.2.2 c', text: 'lowest MULTI_EXIT_DISC among routes from the same neighbouring AS' },
  { reason: 'ebgp-over-ibgp', rfc: 'RFC 4271 9.1.2.2 d', text: 'routes received via EBGP over routes received via IBGP' },
  { reason: 'igp-cost', rfc: 'RFC 4271 9.1.2.2 e', text: 'lowest interior cost to the NEXT_HOP' },
  { reason: 'bgp-identifier', rfc: 'RFC 4271 9.1.2.2 f, RFC 4456 9', text: 'lowest BGP Identifier (the ORIGINATOR_ID when the route carries one)' },
  { reason: 'cluster-list-length', rfc: 'RFC 4456 9', text: 'shortest CLUSTER_LIST' },
  { reason: 'peer-address', rfc: 'RFC 4271 9.1.2.2 g', text: 'lowest peer address' },
  { reason: 'final-tiebreak', rfc: 'none (determinism)', text: 'equal on every RFC step: lowest source key, so the choice never depends on arrival order' },
];

const STEP_BY_REASON = new Map(DECISION_STEPS.map((s) => [s.reason, s]));

/** The RFC label of a reason, e.g. `RFC 4271 9.1.2.2 c`. */
export function decisionRfc(reason: DecisionReason): string {
  return STEP_BY_REASON.get(reason)!.rfc;
}

/** What the decision process reads of one route. The RIB fills it; everything is a plain number. */
export interface DecisionCandidate {
  /** Degree of preference (RFC 4271 §9.1.1): LOCAL_PREF for IBGP routes, configured policy otherwise. */
  readonly localPref: number;
  /** RFC 4271 §9.1.2.2 a: AS_SET counts 1 (attributes.ts `asPathLength`). */
  readonly asPathLength: number;
  readonly origin: number;
  /** The neighbouring AS for step (c): the leftmost AS of the AS_PATH, 0 for routes from inside our AS. */
  readonly neighborAs: number;
  /** MULTI_EXIT_DISC, 0 when absent (RFC 4271 §9.1.2.2 c: "the lowest possible MED value"). */
  readonly med: number;
  /** Received via IBGP (step d). Locally originated routes are not. */
  readonly internal: boolean;
  /** Interior cost to the NEXT_HOP (step e). */
  readonly igpCost: number;
  /** BGP Identifier of the advertising speaker, or the ORIGINATOR_ID when present (RFC 4456 §9). */
  readonly bgpIdentifier: number;
  /** CLUSTER_LIST length, 0 when absent (RFC 4456 §9). */
  readonly clusterListLength: number;
  /** Address of the peer the route came from (step g). */
  readonly peerAddress: number;
  /** Unique per candidate of one destination: decides only when every RFC step ties. */
  readonly tiebreak: number;
}

export interface Selection<C> {
  best: C | undefined;
  /** The step that removed the last competitor of `best` (`only-candidate` when there was none). */
  reason: DecisionReason;
  /** Parallel to the input: the step that removed each candidate; undefined for the best. */
  eliminatedBy: (DecisionReason | undefined)[];
}

/**
 * Runs RFC 4271 §9.1.2 phase 2 over eligible candidates: degree of preference, then the tie-breaking
 * of §9.1.2.2 with RFC 4456 §9 folded in. Order-independent: permuting the input never changes `best`.
 */
export function selectBest<C extends DecisionCandidate>(candidates: readonly C[]): Selection<C> {
  const n = candidates.length;
  const eliminatedBy = new Array<DecisionReason | undefined>(n).fill(undefined);
  if (n === 0) return { best: undefined, reason: 'only-candidate', eliminatedBy };
  if (n === 1) return { best: candidates[0], reason: 'only-candidate', eliminatedBy };
  let alive: number[] = candidates.map((_, i) => i);
  let reason: DecisionReason = 'only-candidate';
  const c = (i: number): C => candidates[i]!;

  /** Keeps the candidates for which `key` is lowest; labels the rest with `step`. */
  const keepLowest = (step: DecisionReason, key: (x: C) => number): void => {
    if (alive.length < 2) return;
    let min = Infinity;
    for (const i of alive) min = Math.min(min, key(c(i)));
    const kept: number[] = [];
    for (const i of alive) {
      if (key(c(i)) === min) kept.push(i);
      else eliminatedBy[i] = step;
    }
    if (kept.length < alive.length) reason = step;
    alive = kept;
  };

  // RFC 4271 §9.1.2.1: the highest degree of preference (§9.1.1) wins.
  keepLowest('local-pref', (x) => -x.localPref);
  // RFC 4271 §9.1.2.2 a: fewest AS numbers in the AS_PATH.
  keepLowest('as-path-length', (x) => x.asPathLength);
  // RFC 4271 §9.1.2.2 b: lowest ORIGIN.
  keepLowest('origin', (x) => x.origin);
  // RFC 4271 §9.1.2.2 c: remove a route when another from the same neighbouring AS has a lower MED.
  if (alive.length > 1) {
    const minMed = new Map<number, number>();
    for (const i of alive) {
      const m = minMed.get(c(i).neighborAs);
      if (m === undefined || c(i).med < m) minMed.set(c(i).neighborAs, c(i).med);
    }
    const kept = alive.filter((i) => c(i).med === minMed.get(c(i).neighborAs));
    if (kept.length < alive.length) {
      for (const i of alive) if (!kept.includes(i)) eliminatedBy[i] = 'med';
      reason = 'med';
      alive = kept;
    }
  }
  // RFC 4271 §9.1.2.2 d: if any remaining route was not received via IBGP, remove those that were.
  keepLowest('ebgp-over-ibgp', (x) => (x.internal ? 1 : 0));
  // RFC 4271 §9.1.2.2 e: lowest interior cost to the NEXT_HOP.
  keepLowest('igp-cost', (x) => x.igpCost);
  // RFC 4271 §9.1.2.2 f with RFC 4456 §9: lowest BGP Identifier, the ORIGINATOR_ID standing in for it.
  keepLowest('bgp-identifier', (x) => x.bgpIdentifier);
  // RFC 4456 §9: then the shorter CLUSTER_LIST.
  keepLowest('cluster-list-length', (x) => x.clusterListLength);
  // RFC 4271 §9.1.2.2 g: lowest peer address.
  keepLowest('peer-address', (x) => x.peerAddress);
  // Not in the RFC: two routes equal on every step (e.g. one peer's route under two RDs imported into
  // one VRF). The lowest source key decides, so the result never depends on arrival order.
  keepLowest('final-tiebreak', (x) => x.tiebreak);
  const bestIndex = alive[0]!;
  return { best: candidates[bestIndex], reason, eliminatedBy };
}

/** Two routes for one destination: which is preferred and the step that decided (GoBGP's reason). */
export function compareRoutes<C extends DecisionCandidate>(a: C, b: C): { preferred: C; reason: DecisionReason } {
  const s = selectBest([a, b]);
  return { preferred: s.best!, reason: s.reason };
}
