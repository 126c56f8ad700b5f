// RFC 4271 §9.1 / RFC 4456 §9 decision process: one test per tie-breaker (GoBGP style), the MED quirk,
// and randomized differential tests against naive implementations (BIRD style). Pure: no routers.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DecisionCandidate, DecisionReason } from '../../../src/proto/bgp/decision.ts';
import { DECISION_STEPS, compareRoutes, decisionRfc, selectBest } from '../../../src/proto/bgp/decision.ts';

type C = DecisionCandidate & { name: string };

let serial = 0;
/** A candidate equal to every other default one except in what `o` sets. */
function cand(name: string, o: Partial<DecisionCandidate> = {}): C {
  return {
    name,
    localPref: 100,
    asPathLength: 2,
    origin: 0,
    neighborAs: 65001,
    med: 0,
    internal: false,
    igpCost: 0,
    bgpIdentifier: 0x0a000001,
    clusterListLength: 0,
    peerAddress: 0x0a000001,
    tiebreak: serial++,
    ...o,
  };
}

function decides(a: C, b: C, reason: DecisionReason): void {
  // a must win, for the stated reason, whatever the order.
  expect(compareRoutes(a, b)).toEqual({ preferred: a, reason });
  expect(compareRoutes(b, a)).toEqual({ preferred: a, reason });
}

describe('decision process: one test per step', () => {
  it('a single eligible route is best without comparison (RFC 4271 9.1.2)', () => {
    const a = cand('a');
    expect(selectBest([a])).toEqual({ best: a, reason: 'only-candidate', eliminatedBy: [undefined] });
    expect(selectBest([])).toMatchObject({ best: undefined });
  });

  it('RFC 4271 9.1.1: the highest degree of preference (LOCAL_PREF) wins before anything else', () => {
    decides(cand('a', { localPref: 200, asPathLength: 9, origin: 2 }), cand('b', { localPref: 100 }), 'local-pref');
  });

  it('RFC 4271 9.1.2.2 a: the shorter AS_PATH wins', () => {
    decides(cand('a', { asPathLength: 1, origin: 2 }), cand('b', { asPathLength: 2 }), 'as-path-length');
  });

  it('RFC 4271 9.1.2.2 b: the lower ORIGIN wins (IGP < EGP < INCOMPLETE)', () => {
    decides(cand('a', { origin: 0, med: 50 }), cand('b', { origin: 1 }), 'origin');
    decides(cand('a', { origin: 1 }), cand('b', { origin: 2 }), 'origin');
  });

  it('RFC 4271 9.1.2.2 c: the lower MED wins between routes from the same neighbouring AS', () => {
    decides(cand('a', { med: 10, internal: true }), cand('b', { med: 20 }), 'med');
  });

  it('RFC 4271 9.1.2.2 c: MEDs from different neighbouring ASes are not compared', () => {
    const a = cand('a', { neighborAs: 65001, med: 500, internal: false });
    const b = cand('b', { neighborAs: 65002, med: 0, internal: true });
    // MED would pick b; step d (eBGP over iBGP) decides instead.
    decides(a, b, 'ebgp-over-ibgp');
  });

  it('RFC 4271 9.1.2.2 d: a route received via EBGP wins over one via IBGP', () => {
    decides(cand('a', { internal: false, igpCost: 50 }), cand('b', { internal: true }), 'ebgp-over-ibgp');
  });

  it('RFC 4271 9.1.2.2 e: the lower interior cost to the NEXT_HOP wins', () => {
    decides(cand('a', { internal: true, igpCost: 5, bgpIdentifier: 9 }), cand('b', { internal: true, igpCost: 10, bgpIdentifier: 1 }), 'igp-cost');
  });

  it('RFC 4271 9.1.2.2 f: the lower BGP Identifier wins', () => {
    decides(cand('a', { bgpIdentifier: 1, clusterListLength: 3 }), cand('b', { bgpIdentifier: 2 }), 'bgp-identifier');
  });

  it('RFC 4456 9: the ORIGINATOR_ID stands in for the BGP Identifier (filled in by the RIB)', () => {
    // Router-level: the RIB puts ORIGINATOR_ID in bgpIdentifier. Here the lower "identifier" wins
    // even though the advertising peer's own identifier would have lost.
    decides(cand('reflected', { internal: true, bgpIdentifier: 0x01010101, peerAddress: 0xffffff00 }), cand('direct', { internal: true, bgpIdentifier: 0x02020202, peerAddress: 1 }), 'bgp-identifier');
  });

  it('RFC 4456 9: the shorter CLUSTER_LIST wins', () => {
    decides(cand('a', { clusterListLength: 1, peerAddress: 9 }), cand('b', { clusterListLength: 2, peerAddress: 1 }), 'cluster-list-length');
  });

  it('RFC 4271 9.1.2.2 g: the lower peer address wins', () => {
    decides(cand('a', { peerAddress: 1, tiebreak: 99 }), cand('b', { peerAddress: 2, tiebreak: 0 }), 'peer-address');
  });

  it('equal on every RFC step: the lower source key decides, independent of order', () => {
    decides(cand('a', { tiebreak: 1 }), cand('b', { tiebreak: 2 }), 'final-tiebreak');
  });

  it('every step carries its RFC label', () => {
    expect(decisionRfc('med')).toBe('RFC 4271 9.1.2.2 c');
    expect(decisionRfc('cluster-list-length')).toBe('RFC 4456 9');
    expect(DECISION_STEPS.map((s) => s.reason)).toEqual([
      'only-candidate',
      'local-pref',
      'as-path-length',
      'origin',
      'med',
      'ebgp-over-ibgp',
      'igp-cost',
      'bgp-identifier',
      'cluster-list-length',
      'peer-address',
      'final-tiebreak',
    ]);
  });

  it('labels each eliminated candidate with the step that removed it', () => {
    const best = cand('best');
    const lp = cand('lp', { localPref: 50 });
    const path = cand('path', { asPathLength: 5 });
    const ibgp = cand('ibgp', { internal: true });
    const s = selectBest([lp, best, path, ibgp]);
    expect(s.best).toBe(best);
    expect(s.eliminatedBy).toEqual(['local-pref', undefined, 'as-path-length', 'ebgp-over-ibgp']);
    expect(s.reason).toBe('ebgp-over-ibgp');
  });

  it('RFC 4271 9.1.2.2 c is an elimination over the set, not a pairwise order', () => {
    // Pairwise: b beats a (MED, same AS 1), c beats b (eBGP over iBGP), a beats c (eBGP, then id).
    const a = cand('a', { neighborAs: 1, med: 20, internal: false, bgpIdentifier: 1 });
    const b = cand('b', { neighborAs: 1, med: 10, internal: true, bgpIdentifier: 3 });
    const c = cand('c', { neighborAs: 2, med: 0, internal: false, bgpIdentifier: 2 });
    expect(compareRoutes(a, b).preferred).toBe(b);
    expect(compareRoutes(b, c).preferred).toBe(c);
    expect(compareRoutes(a, c).preferred).toBe(a);
    // Over the set: a falls to b's MED at step c, b falls to c at step d: c is best, whatever the order.
    for (const order of [[a, b, c], [c, b, a], [b, a, c], [b, c, a]]) expect(selectBest(order).best).toBe(c);
  });
});

// --- Randomized differential tests. ---

const small = (max: number): fc.Arbitrary<number> => fc.integer({ min: 0, max });

/** Candidates with few distinct values per field, so every step gets exercised. */
const candidatesArb = (sameNeighbor: boolean): fc.Arbitrary<C[]> =>
  fc
    .array(
      fc.record({
        localPref: fc.constantFrom(50, 100, 200),
        asPathLength: small(3),
        origin: small(2),
        neighborAs: sameNeighbor ? fc.constant(65001) : fc.constantFrom(65001, 65002, 0),
        med: fc.constantFrom(0, 10, 20),
        internal: fc.boolean(),
        igpCost: small(2),
        bgpIdentifier: small(3),
        clusterListLength: small(2),
        peerAddress: small(3),
      }),
      { minLength: 1, maxLength: 8 },
    )
    .map((rs) => rs.map((r, i) => ({ ...r, name: `r${i}`, tiebreak: i })));

/** The naive implementation: sort every candidate by the full key and take the first. */
function naiveSort(cs: readonly C[]): C {
  const key = (c: C): number[] => [-c.localPref, c.asPathLength, c.origin, c.med, c.internal ? 1 : 0, c.igpCost, c.bgpIdentifier, c.clusterListLength, c.peerAddress, c.tiebreak];
  return [...cs].sort((x, y) => {
    const kx = key(x);
    const ky = key(y);
    for (let i = 0; i < kx.length; i++) if (kx[i] !== ky[i]) return kx[i]! - ky[i]!;
    return 0;
  })[0]!;
}

/** The RFC's steps as list filters, written as plainly as the text reads. */
function naiveFilter(cs: readonly C[]): C {
  let l = [...cs];
  const keepMin = (f: (c: C) => number): void => {
    const m = Math.min(...l.map(f));
    l = l.filter((c) => f(c) === m);
  };
  keepMin((c) => -c.localPref);
  keepMin((c) => c.asPathLength);
  keepMin((c) => c.origin);
  l = l.filter((m) => !l.some((n) => n.neighborAs === m.neighborAs && n.med < m.med));
  if (l.some((c) => !c.internal)) l = l.filter((c) => !c.internal);
  keepMin((c) => c.igpCost);
  keepMin((c) => c.bgpIdentifier);
  keepMin((c) => c.clusterListLength);
  keepMin((c) => c.peerAddress);
  keepMin((c) => c.tiebreak);
  return l[0]!;
}

describe('decision process: randomized differential tests', () => {
  it('matches "sort all candidates by the full key" when MEDs are all comparable (one neighbouring AS)', () => {
    fc.assert(
      fc.property(candidatesArb(true), (cs) => {
        expect(selectBest(cs).best).toBe(naiveSort(cs));
      }),
      { numRuns: 2000 },
    );
  });

  it('matches the RFC steps written as plain list filters for any mix of neighbouring ASes', () => {
    fc.assert(
      fc.property(candidatesArb(false), (cs) => {
        expect(selectBest(cs).best).toBe(naiveFilter(cs));
      }),
      { numRuns: 2000 },
    );
  });

  it('does not depend on the order of the candidates', () => {
    fc.assert(
      fc.property(
        candidatesArb(false).chain((cs) => fc.tuple(fc.constant(cs), fc.shuffledSubarray(cs, { minLength: cs.length, maxLength: cs.length }))),
        ([cs, shuffled]) => {
          expect(selectBest(shuffled).best).toBe(selectBest(cs).best);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('pairwise: the reason is the first step on which the two differ (one neighbouring AS)', () => {
    const fields: [DecisionReason, (c: C) => number][] = [
      ['local-pref', (c) => -c.localPref],
      ['as-path-length', (c) => c.asPathLength],
      ['origin', (c) => c.origin],
      ['med', (c) => c.med],
      ['ebgp-over-ibgp', (c) => (c.internal ? 1 : 0)],
      ['igp-cost', (c) => c.igpCost],
      ['bgp-identifier', (c) => c.bgpIdentifier],
      ['cluster-list-length', (c) => c.clusterListLength],
      ['peer-address', (c) => c.peerAddress],
      ['final-tiebreak', (c) => c.tiebreak],
    ];
    fc.assert(
      fc.property(candidatesArb(true).filter((cs) => cs.length >= 2), (cs) => {
        const [a, b] = [cs[0]!, cs[1]!];
        const first = fields.find(([, f]) => f(a) !== f(b))!;
        const r = compareRoutes(a, b);
        expect(r.reason).toBe(first[0]);
        expect(r.preferred).toBe(first[1](a) < first[1](b) ? a : b);
      }),
      { numRuns: 1000 },
    );
  });
});
