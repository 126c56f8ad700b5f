// SA negotiation (RFC 7296 §2.7, §3.3.6): our suites as proposals, the responder's choice and the
// initiator's check that the choice was on offer. Pure functions; never touches keys or state.

import { equalBytes } from '../../lib/bytes.ts';
import {
  ATTRIBUTE_KEY_LENGTH,
  AUTH_NONE,
  DH_CURVE25519,
  DH_NONE,
  ENCR_AES_GCM_16,
  ENCR_CHACHA20_POLY1305,
  ESN_ENABLED,
  ESN_NONE,
  ESP_SPI_BYTES,
  PRF_HMAC_SHA2_256,
  PROTOCOL_ID,
  TRANSFORM_TYPE,
} from './constants.ts';
import type { AeadSuite } from './crypto.ts';
import type { Proposal, SaPayload, Transform } from './payloads.ts';

/** What an IKE SA may use: offered by an initiator, accepted by a responder (preference order). */
export interface IkeProposalConfig {
  encrs: AeadSuite[];
  prfs: number[];
  /** D-H groups; an initiator sends its KE for the first. */
  dhGroups: number[];
}

export const IKE_PROPOSAL_DEFAULT: IkeProposalConfig = {
  encrs: ['aes-gcm-128'],
  prfs: [PRF_HMAC_SHA2_256],
  dhGroups: [DH_CURVE25519],
};

/** The algorithms an IKE SA runs with. */
export interface IkeSaSuite {
  encr: AeadSuite;
  prf: number;
  dhGroup: number;
}

/** A Child SA (ESP, tunnel mode) suite. */
export interface ChildSuite {
  encr: AeadSuite;
  /** Extended Sequence Numbers (RFC 4304). */
  esn: boolean;
  /** D-H group for a PFS KE in CREATE_CHILD_SA (RFC 7296 §1.3.1); never used in IKE_AUTH (§1.2). */
  pfsGroup?: number;
}

export const CHILD_SUITES_DEFAULT: ChildSuite[] = [{ encr: 'aes-gcm-128', esn: false }];

const KEY_BITS: Record<AeadSuite, number> = { 'aes-gcm-128': 128, 'aes-gcm-256': 256, 'chacha20-poly1305': 256 };

/** ENCR transform: AES-GCM-16 with its Key Length attribute (RFC 5282 §8), ChaCha20-Poly1305 without (RFC 7634 §3). */
export function encrTransform(s: AeadSuite): Transform {
  if (s === 'chacha20-poly1305') return { type: TRANSFORM_TYPE.ENCR, id: ENCR_CHACHA20_POLY1305, attributes: [] };
  return { type: TRANSFORM_TYPE.ENCR, id: ENCR_AES_GCM_16, attributes: [{ type: ATTRIBUTE_KEY_LENGTH, value: KEY_BITS[s] }] };
}

/** The suite an ENCR transform names, or undefined (unknown ID or attribute: RFC 7296 §3.3.6 rejects it). */
export function encrFromTransform(t: Transform): AeadSuite | undefined {
  if (t.type !== TRANSFORM_TYPE.ENCR) return undefined;
  if (t.id === ENCR_CHACHA20_POLY1305) return t.attributes.length === 0 ? 'chacha20-poly1305' : undefined;
  if (t.id !== ENCR_AES_GCM_16 || t.attributes.length !== 1) return undefined;
  const a = t.attributes[0]!;
  if (a.type !== ATTRIBUTE_KEY_LENGTH || typeof a.value !== 'number') return undefined;
  return a.value === 128 ? 'aes-gcm-128' : a.value === 256 ? 'aes-gcm-256' : undefined;
}

const simple = (type: number, id: number): Transform => ({ type, id, attributes: [] });

function sameTransform(a: Transform, b: Transform): boolean {
  if (a.type !== b.type || a.id !== b.id || a.attributes.length !== b.attributes.length) return false;
  return a.attributes.every((x, i) => {
    const y = b.attributes[i]!;
    if (x.type !== y.type) return false;
    if (typeof x.value === 'number' || typeof y.value === 'number') return x.value === y.value;
    return equalBytes(x.value, y.value);
  });
}

interface Want {
  required: boolean;
  accept(t: Transform): boolean;
}

/**
 * RFC 7296 §3.3.6: a proposal with a transform type we do not know is rejected; for each type,
 * the first transform we accept is chosen; a required type with nothing acceptable rejects it.
 */
function pick(p: Proposal, wants: ReadonlyMap<number, Want>): Transform[] | undefined {
  for (const t of p.transforms) if (!wants.has(t.type)) return undefined;
  const chosen: Transform[] = [];
  for (const [type, want] of wants) {
    const candidates = p.transforms.filter((t) => t.type === type);
    if (candidates.length === 0) {
      if (want.required) return undefined;
      continue;
    }
    const t = candidates.find((c) => want.accept(c));
    if (t === undefined) return undefined;
    chosen.push(t);
  }
  return chosen;
}

// --- IKE SA ---

/** The initiator's single IKE proposal (number 1, no SPI in IKE_SA_INIT). */
export function ikeOfferProposal(cfg: IkeProposalConfig): Proposal {
  return {
    number: 1,
    protocolId: PROTOCOL_ID.IKE,
    spi: new Uint8Array(0),
    transforms: [
      ...cfg.encrs.map(encrTransform),
      ...cfg.prfs.map((id) => simple(TRANSFORM_TYPE.PRF, id)),
      ...cfg.dhGroups.map((id) => simple(TRANSFORM_TYPE.DH, id)),
    ],
  };
}

function ikeWants(accept: IkeProposalConfig, preferDhGroup: number | undefined): Map<number, Want> {
  return new Map<number, Want>([
    [TRANSFORM_TYPE.ENCR, { required: true, accept: (t) => accept.encrs.includes(encrFromTransform(t) as AeadSuite) }],
    [TRANSFORM_TYPE.PRF, { required: true, accept: (t) => t.attributes.length === 0 && accept.prfs.includes(t.id) }],
    // RFC 5282 §8: with an AEAD the integrity transform is omitted or NONE.
    [TRANSFORM_TYPE.INTEG, { required: false, accept: (t) => t.attributes.length === 0 && t.id === AUTH_NONE }],
    [
      TRANSFORM_TYPE.DH,
      {
        required: true,
        accept: (t) => t.attributes.length === 0 && t.id !== DH_NONE && accept.dhGroups.includes(t.id) && (preferDhGroup === undefined || t.id === preferDhGroup),
      },
    ],
  ]);
}

function ikeSuiteOf(transforms: readonly Transform[]): IkeSaSuite | undefined {
  const encr = transforms.find((t) => t.type === TRANSFORM_TYPE.ENCR);
  const prfT = transforms.find((t) => t.type === TRANSFORM_TYPE.PRF);
  const dh = transforms.find((t) => t.type === TRANSFORM_TYPE.DH);
  const e = encr && encrFromTransform(encr);
  if (!e || !prfT || !dh) return undefined;
  return { encr: e, prf: prfT.id, dhGroup: dh.id };
}

/**
 * The responder's choice among the initiator's IKE proposals (RFC 7296 §2.7), preferring the group
 * of the initiator's KE payload so that no INVALID_KE_PAYLOAD round trip is needed (§1.2).
 */
export function selectIkeProposal(sa: SaPayload, accept: IkeProposalConfig, keGroup: number): { suite: IkeSaSuite; proposal: Proposal } | undefined {
  for (const preferred of [keGroup, undefined]) {
    for (const p of sa.proposals) {
      if (p.protocolId !== PROTOCOL_ID.IKE || p.spi.length !== 0) continue;
      const chosen = pick(p, ikeWants(accept, preferred));
      const suite = chosen && ikeSuiteOf(chosen);
      if (chosen && suite) return { suite, proposal: { number: p.number, protocolId: p.protocolId, spi: new Uint8Array(0), transforms: chosen } };
    }
  }
  return undefined;
}

/** RFC 7296 §2.7: the initiator checks the single accepted proposal against what it offered. */
function checkResponse(sa: SaPayload, offered: readonly Proposal[], requiredTypes: readonly number[]): { proposal: Proposal; transforms: Transform[] } | undefined {
  if (sa.proposals.length !== 1) return undefined;
  const got = sa.proposals[0]!;
  const ours = offered.find((p) => p.number === got.number);
  if (!ours || ours.protocolId !== got.protocolId) return undefined;
  const seen = new Set<number>();
  for (const t of got.transforms) {
    if (seen.has(t.type)) return undefined;
    seen.add(t.type);
    if (!ours.transforms.some((o) => sameTransform(o, t))) return undefined;
  }
  for (const type of requiredTypes) if (!seen.has(type)) return undefined;
  return { proposal: got, transforms: got.transforms };
}

export function checkIkeResponse(sa: SaPayload, offered: IkeProposalConfig): IkeSaSuite | undefined {
  const r = checkResponse(sa, [ikeOfferProposal(offered)], [TRANSFORM_TYPE.ENCR, TRANSFORM_TYPE.PRF, TRANSFORM_TYPE.DH]);
  if (!r || r.proposal.spi.length !== 0) return undefined;
  return ikeSuiteOf(r.transforms);
}

// --- Child SA (ESP) ---

export function spiBytes(spi: number): Uint8Array {
  return Uint8Array.of(spi >>> 24, (spi >>> 16) & 0xff, (spi >>> 8) & 0xff, spi & 0xff);
}

export function spiNumber(spi: Uint8Array): number {
  return ((spi[0]! << 24) | (spi[1]! << 16) | (spi[2]! << 8) | spi[3]!) >>> 0;
}

/**
 * One ESP proposal per suite, numbered from 1, each with our inbound SPI. The D-H transform is sent
 * only in CREATE_CHILD_SA (`withPfs`); RFC 7296 §1.2 has it omitted in IKE_AUTH.
 */
export function childOfferProposals(suites: readonly ChildSuite[], spi: number, withPfs: boolean): Proposal[] {
  return suites.map((s, i) => ({
    number: i + 1,
    protocolId: PROTOCOL_ID.ESP,
    spi: spiBytes(spi),
    transforms: [
      encrTransform(s.encr),
      ...(withPfs && s.pfsGroup !== undefined ? [simple(TRANSFORM_TYPE.DH, s.pfsGroup)] : []),
      simple(TRANSFORM_TYPE.ESN, s.esn ? ESN_ENABLED : ESN_NONE),
    ],
  }));
}

function childWants(s: ChildSuite, inCreateChildSa: boolean): Map<number, Want> {
  const wantDh = inCreateChildSa ? (s.pfsGroup ?? DH_NONE) : DH_NONE;
  return new Map<number, Want>([
    [TRANSFORM_TYPE.ENCR, { required: true, accept: (t) => encrFromTransform(t) === s.encr }],
    [TRANSFORM_TYPE.INTEG, { required: false, accept: (t) => t.attributes.length === 0 && t.id === AUTH_NONE }],
    [
      TRANSFORM_TYPE.DH,
      // RFC 7296 §1.2: in IKE_AUTH the D-H transform means nothing; accept and ignore whatever is there.
      { required: inCreateChildSa && s.pfsGroup !== undefined, accept: (t) => !inCreateChildSa || (t.attributes.length === 0 && t.id === wantDh) },
    ],
    [TRANSFORM_TYPE.ESN, { required: true, accept: (t) => t.attributes.length === 0 && t.id === (s.esn ? ESN_ENABLED : ESN_NONE) }],
  ]);
}

export interface ChildChoice {
  suite: ChildSuite;
  /** The peer's inbound SPI (our outbound). */
  peerSpi: number;
  /** Our answer (SAr2), carrying `ourSpi`. */
  proposal: Proposal;
}

/** The responder's choice among ESP proposals: the first proposal that one of our suites accepts. */
export function selectChildProposal(sa: SaPayload, accept: readonly ChildSuite[], ourSpi: number, inCreateChildSa: boolean): ChildChoice | undefined {
  for (const p of sa.proposals) {
    if (p.protocolId !== PROTOCOL_ID.ESP || p.spi.length !== ESP_SPI_BYTES) continue;
    for (const s of accept) {
      const chosen = pick(p, childWants(s, inCreateChildSa));
      if (!chosen) continue;
      const transforms = inCreateChildSa ? chosen : chosen.filter((t) => t.type !== TRANSFORM_TYPE.DH);
      const pfs = inCreateChildSa ? transforms.find((t) => t.type === TRANSFORM_TYPE.DH && t.id !== DH_NONE) : undefined;
      const suite: ChildSuite = { encr: s.encr, esn: s.esn };
      if (pfs) suite.pfsGroup = pfs.id;
      return { suite, peerSpi: spiNumber(p.spi), proposal: { number: p.number, protocolId: PROTOCOL_ID.ESP, spi: spiBytes(ourSpi), transforms } };
    }
  }
  return undefined;
}

/** The initiator's check of SAr2 / the CREATE_CHILD_SA answer; the suite chosen and the peer's SPI. */
export function checkChildResponse(sa: SaPayload, offered: readonly Proposal[]): { suite: ChildSuite; peerSpi: number } | undefined {
  const r = checkResponse(sa, offered, [TRANSFORM_TYPE.ENCR, TRANSFORM_TYPE.ESN]);
  if (!r || r.proposal.spi.length !== ESP_SPI_BYTES) return undefined;
  const encr = r.transforms.find((t) => t.type === TRANSFORM_TYPE.ENCR);
  const esn = r.transforms.find((t) => t.type === TRANSFORM_TYPE.ESN);
  const dh = r.transforms.find((t) => t.type === TRANSFORM_TYPE.DH);
  const e = encr && encrFromTransform(encr);
  if (!e || !esn) return undefined;
  const suite: ChildSuite = { encr: e, esn: esn.id === ESN_ENABLED };
  if (dh && dh.id !== DH_NONE) suite.pfsGroup = dh.id;
  // A PFS group we offered must be answered by the same group (or the offer is not met).
  const ours = offered.find((p) => p.number === r.proposal.number)!;
  const offeredDh = ours.transforms.find((t) => t.type === TRANSFORM_TYPE.DH && t.id !== DH_NONE);
  if (offeredDh && suite.pfsGroup !== offeredDh.id) return undefined;
  return { suite, peerSpi: spiNumber(r.proposal.spi) };
}
