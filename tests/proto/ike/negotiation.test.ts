import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  ATTRIBUTE_KEY_LENGTH,
  AUTH_HMAC_SHA2_256_128,
  AUTH_NONE,
  checkChildResponse,
  checkIkeResponse,
  childOfferProposals,
  DH_CURVE25519,
  DH_ECP_256,
  DH_NONE,
  ENCR_AES_CBC,
  ENCR_AES_GCM_16,
  encrFromTransform,
  encrTransform,
  ESN_ENABLED,
  ESN_NONE,
  IKE_PROPOSAL_DEFAULT,
  ikeOfferProposal,
  intersectSelector,
  narrowToPolicy,
  PRF_HMAC_SHA2_256,
  PROTOCOL_ID,
  selectChildProposal,
  selectIkeProposal,
  selectorsWithin,
  TRANSFORM_TYPE,
  tsRange,
  type Ipv4RangeSelector,
  type Proposal,
  type SaPayload,
} from '../../../src/proto/ike/index.ts';

const sa = (...proposals: Proposal[]): SaPayload => ({ kind: 'sa', proposals });
const t = (type: number, id: number, attributes: { type: number; value: number }[] = []) => ({ type, id, attributes });

describe('IKE SA proposals (RFC 7296 §2.7, §3.3.6)', () => {
  it('chooses one transform of each type, preferring the group of KEi', () => {
    const offer = ikeOfferProposal({ encrs: ['aes-gcm-256', 'aes-gcm-128'], prfs: [PRF_HMAC_SHA2_256], dhGroups: [DH_ECP_256, DH_CURVE25519] });
    const accept = { encrs: ['aes-gcm-128' as const], prfs: [PRF_HMAC_SHA2_256], dhGroups: [DH_CURVE25519, DH_ECP_256] };
    const withKe31 = selectIkeProposal(sa(offer), accept, DH_CURVE25519);
    expect(withKe31?.suite).toEqual({ encr: 'aes-gcm-128', prf: PRF_HMAC_SHA2_256, dhGroup: DH_CURVE25519 });
    expect(withKe31?.proposal.transforms.map((x) => `${x.type}/${x.id}`)).toEqual(['1/20', '2/5', '4/31']);
    expect(selectIkeProposal(sa(offer), accept, DH_ECP_256)?.suite.dhGroup).toBe(DH_ECP_256);
    // KE for a group we do not take: we still choose (and the caller answers INVALID_KE_PAYLOAD).
    expect(selectIkeProposal(sa(offer), { ...accept, dhGroups: [DH_CURVE25519] }, DH_ECP_256)?.suite.dhGroup).toBe(DH_CURVE25519);
    // The answer passes the initiator's check.
    expect(checkIkeResponse(sa(withKe31!.proposal), { encrs: ['aes-gcm-256', 'aes-gcm-128'], prfs: [PRF_HMAC_SHA2_256], dhGroups: [DH_ECP_256, DH_CURVE25519] })).toEqual(withKe31?.suite);
  });

  it('rejects a proposal with an unknown transform type, an unknown attribute, or no acceptable ENCR', () => {
    const base = ikeOfferProposal(IKE_PROPOSAL_DEFAULT);
    expect(selectIkeProposal(sa({ ...base, transforms: [...base.transforms, t(99, 1)] }), IKE_PROPOSAL_DEFAULT, DH_CURVE25519)).toBeUndefined();
    const oddAttr = { ...base, transforms: [{ ...base.transforms[0]!, attributes: [{ type: ATTRIBUTE_KEY_LENGTH, value: 128 }, { type: 15, value: 1 }] }, ...base.transforms.slice(1)] };
    expect(selectIkeProposal(sa(oddAttr), IKE_PROPOSAL_DEFAULT, DH_CURVE25519)).toBeUndefined();
    const cbc = { ...base, transforms: [t(TRANSFORM_TYPE.ENCR, ENCR_AES_CBC, [{ type: ATTRIBUTE_KEY_LENGTH, value: 128 }]), ...base.transforms.slice(1)] };
    expect(selectIkeProposal(sa(cbc), IKE_PROPOSAL_DEFAULT, DH_CURVE25519)).toBeUndefined();
    // INTEG: NONE is fine with an AEAD (RFC 5282 §8), a real MAC is not.
    expect(selectIkeProposal(sa({ ...base, transforms: [...base.transforms, t(TRANSFORM_TYPE.INTEG, AUTH_NONE)] }), IKE_PROPOSAL_DEFAULT, DH_CURVE25519)).toBeDefined();
    expect(selectIkeProposal(sa({ ...base, transforms: [...base.transforms, t(TRANSFORM_TYPE.INTEG, AUTH_HMAC_SHA2_256_128)] }), IKE_PROPOSAL_DEFAULT, DH_CURVE25519)).toBeUndefined();
    // The second proposal is taken when the first does not fit.
    const second = selectIkeProposal(sa(cbc, { ...base, number: 2 }), IKE_PROPOSAL_DEFAULT, DH_CURVE25519);
    expect(second?.proposal.number).toBe(2);
  });

  it('the initiator refuses answers that were not on offer', () => {
    const cfg = IKE_PROPOSAL_DEFAULT;
    const good = selectIkeProposal(sa(ikeOfferProposal(cfg)), cfg, DH_CURVE25519)!.proposal;
    expect(checkIkeResponse(sa(good), cfg)).toBeDefined();
    expect(checkIkeResponse(sa(good, good), cfg)).toBeUndefined(); // more than one proposal
    expect(checkIkeResponse(sa({ ...good, number: 2 }), cfg)).toBeUndefined();
    expect(checkIkeResponse(sa({ ...good, transforms: [...good.transforms, good.transforms[0]!] }), cfg)).toBeUndefined(); // type twice
    expect(checkIkeResponse(sa({ ...good, transforms: good.transforms.slice(1) }), cfg)).toBeUndefined(); // ENCR missing
    expect(checkIkeResponse(sa({ ...good, transforms: [encrTransform('aes-gcm-256'), ...good.transforms.slice(1)] }), cfg)).toBeUndefined();
  });

  it('ENCR transforms and suites map one to one (RFC 5282 Key Length, RFC 7634 none)', () => {
    for (const s of ['aes-gcm-128', 'aes-gcm-256', 'chacha20-poly1305'] as const) expect(encrFromTransform(encrTransform(s))).toBe(s);
    expect(encrFromTransform(t(TRANSFORM_TYPE.ENCR, ENCR_AES_GCM_16))).toBeUndefined(); // Key Length is required
    expect(encrFromTransform(t(TRANSFORM_TYPE.ENCR, ENCR_AES_GCM_16, [{ type: ATTRIBUTE_KEY_LENGTH, value: 192 }]))).toBeUndefined();
  });
});

describe('Child SA proposals', () => {
  const suites = [
    { encr: 'chacha20-poly1305' as const, esn: true },
    { encr: 'aes-gcm-128' as const, esn: false, pfsGroup: DH_CURVE25519 },
  ];

  it('IKE_AUTH offers carry no D-H transform (§1.2); CREATE_CHILD_SA offers carry the PFS group', () => {
    const inAuth = childOfferProposals(suites, 0x1000, false);
    expect(inAuth.map((p) => p.transforms.map((x) => x.type))).toEqual([[1, 5], [1, 5]]);
    const inCreate = childOfferProposals(suites, 0x1000, true);
    expect(inCreate[1]!.transforms.map((x) => `${x.type}/${x.id}`)).toEqual(['1/20', `4/${DH_CURVE25519}`, `5/${ESN_NONE}`]);
    expect(inCreate[0]!.transforms.map((x) => `${x.type}/${x.id}`)).toEqual(['1/28', `5/${ESN_ENABLED}`]);
    expect(inCreate.every((p) => p.protocolId === PROTOCOL_ID.ESP && p.spi.length === 4)).toBe(true);
  });

  it('the responder picks the first acceptable proposal and answers with its own SPI', () => {
    const offered = childOfferProposals(suites, 0xabcd0001, true);
    const c = selectChildProposal(sa(...offered), [{ encr: 'aes-gcm-128', esn: false, pfsGroup: DH_CURVE25519 }], 0x22220002, true);
    expect(c?.suite).toEqual({ encr: 'aes-gcm-128', esn: false, pfsGroup: DH_CURVE25519 });
    expect(c?.peerSpi).toBe(0xabcd0001);
    expect(checkChildResponse(sa(c!.proposal), offered)).toEqual({ suite: c!.suite, peerSpi: 0x22220002 });
    // Without PFS on our side, a proposal demanding a D-H group does not fit in CREATE_CHILD_SA…
    expect(selectChildProposal(sa(offered[1]!), [{ encr: 'aes-gcm-128', esn: false }], 1, true)).toBeUndefined();
    // …but in IKE_AUTH a D-H transform is ignored (and not echoed).
    const inAuth = selectChildProposal(sa(offered[1]!), [{ encr: 'aes-gcm-128', esn: false }], 1, false);
    expect(inAuth?.proposal.transforms.map((x) => x.type)).toEqual([1, 5]);
    // ESN must match.
    expect(selectChildProposal(sa(offered[0]!), [{ encr: 'chacha20-poly1305', esn: false }], 1, true)).toBeUndefined();
    // A PFS answer without the group we offered is refused by the initiator.
    const noDh = { ...c!.proposal, transforms: c!.proposal.transforms.filter((x) => x.type !== TRANSFORM_TYPE.DH) };
    expect(checkChildResponse(sa(noDh), offered)).toBeUndefined();
    expect(checkChildResponse(sa({ ...c!.proposal, transforms: [...c!.proposal.transforms, { type: TRANSFORM_TYPE.DH, id: DH_NONE, attributes: [] }] }), offered)).toBeUndefined();
  });
});

describe('traffic selectors (RFC 7296 §2.9)', () => {
  const arbSel: fc.Arbitrary<Ipv4RangeSelector> = fc
    .record({
      a1: fc.integer({ min: 0, max: 0xffffffff }),
      a2: fc.integer({ min: 0, max: 0xffffffff }),
      p1: fc.integer({ min: 0, max: 0xffff }),
      p2: fc.integer({ min: 0, max: 0xffff }),
      proto: fc.constantFrom(0, 6, 17),
    })
    .map(({ a1, a2, p1, p2, proto }) => tsRange(Math.min(a1, a2), Math.max(a1, a2), { ipProtocolId: proto, startPort: Math.min(p1, p2), endPort: Math.max(p1, p2) }));
  const has = (s: Ipv4RangeSelector, addr: number, port: number, proto: number) =>
    s.startAddr <= addr && addr <= s.endAddr && s.startPort <= port && port <= s.endPort && (s.ipProtocolId === 0 || s.ipProtocolId === proto);

  it('a ∩ b holds exactly the points in both (checked on points from the corners)', () => {
    fc.assert(
      fc.property(arbSel, arbSel, fc.constantFrom(6, 17), (a, b, proto) => {
        const x = intersectSelector(a, b);
        const addrs = [a.startAddr, a.endAddr, b.startAddr, b.endAddr];
        const ports = [a.startPort, a.endPort, b.startPort, b.endPort];
        for (const addr of addrs)
          for (const port of ports) expect(x !== undefined && has(x, addr, port, proto)).toBe(has(a, addr, port, proto) && has(b, addr, port, proto));
        if (x) expect(selectorsWithin([x], [a]) && selectorsWithin([x], [b])).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('narrowing to a policy, and TS_UNACCEPTABLE when nothing is left', () => {
    const net = (a: string, b: string) => tsRange(parseInt(a, 16), parseInt(b, 16));
    const policy = { local: [net('0a020100', '0a0201ff')], remote: [net('0a010000', '0a01ffff')] };
    const r = narrowToPolicy({ tsi: [net('0a010500', '0a0105ff')], tsr: [net('0a020000', '0a02ffff')] }, policy);
    expect(r).toEqual({ tsi: [net('0a010500', '0a0105ff')], tsr: [net('0a020100', '0a0201ff')] });
    expect(narrowToPolicy({ tsi: [net('0b000000', '0b0000ff')], tsr: [net('0a020000', '0a02ffff')] }, policy)).toBeUndefined();
    expect(narrowToPolicy({ tsi: [net('0a010000', '0a01ffff')], tsr: [net('0a020000', '0a02ffff')] }, undefined)).toBeUndefined();
    expect(selectorsWithin([], [net('0a010000', '0a01ffff')])).toBe(false);
  });
});
