// Typed views of the group policy (GSA payload) and the key download (KD payload): build the wire
// structures from them, and read them back with every check a member needs. Pure; never holds keys for long.
//
// A GSA payload here holds at most one Rekey SA policy (GIKE_UPDATE), any number of ESP Data-Security SA
// policies and at most one Group-Wide Policy (RFC 9838 §4.4.1). What we implement (anything else is
// POLICY_UNACCEPTABLE, answered with NO_PROPOSAL_CHOSEN as RFC 9838 §2.3.1 suggests):
//   Rekey SA: ENCR AES-GCM-16 (128/256) or ChaCha20-Poly1305, PRF_HMAC_SHA2_256, KWA KW_5649_*,
//             GCAUTH Digital Signature with the Ed25519 AlgorithmIdentifier (registration only).
//   ESP:      ENCR AES-GCM-16 or ChaCha20-Poly1305, SN 0 or 2 (no ESN: RFC 9838 §4.4.2.1.3).

import { equalBytes } from '../../lib/bytes.ts';
import type { Result } from '../../lib/errors.ts';
import { err, ok } from '../../lib/errors.ts';
import {
  ED25519_ALGORITHM_IDENTIFIER,
  encrFromTransform,
  encrTransform,
  PRF_HMAC_SHA2_256,
  TRANSFORM_TYPE,
  spiBytes,
  spiNumber,
  type AeadSuite,
  type TrafficSelector,
  type Transform,
} from '../ike/index.ts';
import {
  ATTRIBUTE_SIGNATURE_ALGORITHM_IDENTIFIER,
  GCAUTH_DIGITAL_SIGNATURE,
  GKM_PROTOCOL,
  GKM_TRANSFORM_TYPE,
  GROUP_KEY_BAG_ATTRIBUTE,
  GSA_ATTRIBUTE,
  GWP_ATTRIBUTE,
  MEMBER_KEY_BAG_ATTRIBUTE,
  SN_32_BIT_SEQUENTIAL,
  SN_32_BIT_UNSPECIFIED,
} from './constants.ts';
import {
  decodeWrappedKey,
  encodeWrappedKey,
  type Attribute,
  type GroupPolicyBody,
  type GsaPolicyBody,
  type KeyBagBody,
  type WrappedKey,
} from './codec.ts';
import { gkmDecodeError, type GkmDecodeError, type GkmErrorCode } from './errors.ts';
import { KWA_KEY_BYTES } from './keys.ts';

/** How GSA_REKEY messages are authenticated (the GCAUTH transform); Ed25519 is all we implement. */
export type RekeyAuth = 'ed25519';

export interface KekPolicy {
  /** SPIi | SPIr of the GSA_REKEY header (16 octets). */
  spi: Uint8Array;
  suite: AeadSuite;
  /** Key Wrap Algorithm transform ID. */
  kwa: number;
  /** Seconds the Rekey SA stays valid from when the message is sent. */
  lifetimeS: number;
  /** The Message ID of the next GSA_REKEY (RFC 9838 §4.4.2.2.2). */
  initialMessageId?: number;
  /** Present in registration responses only (RFC 9838 §4.4.2.1.2). */
  auth?: RekeyAuth;
  src: TrafficSelector;
  dst: TrafficSelector;
}

export interface TekPolicy {
  spi: number;
  suite: AeadSuite;
  lifetimeS: number;
  /** Sequence Numbers transform ID (SN_32_BIT_UNSPECIFIED for a multi-sender group SA). */
  sn: number;
  src: TrafficSelector;
  dst: TrafficSelector;
}

export interface GroupWidePolicy {
  /** Activation Time Delay, seconds (RFC 5374 §4.2.1). */
  atdS?: number;
  /** Deactivation Time Delay, seconds. */
  dtdS?: number;
  /** Bits of the sequence number / IV that carry the Sender-ID (RFC 6054). */
  senderIdBits?: number;
}

export interface GroupPolicyView {
  kek?: KekPolicy;
  teks: TekPolicy[];
  gwp?: GroupWidePolicy;
}

const u32Bytes = (v: number) => Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
const u32Of = (b: Uint8Array) => ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
const simple = (type: number, id: number): Transform => ({ type, id, attributes: [] });

export function buildGsa(v: GroupPolicyView): GroupPolicyBody[] {
  const out: GroupPolicyBody[] = [];
  if (v.kek) {
    const k = v.kek;
    const transforms: Transform[] = [encrTransform(k.suite), simple(TRANSFORM_TYPE.PRF, PRF_HMAC_SHA2_256), simple(GKM_TRANSFORM_TYPE.KWA, k.kwa)];
    if (k.auth === 'ed25519')
      transforms.push({ type: GKM_TRANSFORM_TYPE.GCAUTH, id: GCAUTH_DIGITAL_SIGNATURE, attributes: [{ type: ATTRIBUTE_SIGNATURE_ALGORITHM_IDENTIFIER, value: ED25519_ALGORITHM_IDENTIFIER }] });
    const attributes: Attribute[] = [{ type: GSA_ATTRIBUTE.GSA_KEY_LIFETIME, value: u32Bytes(k.lifetimeS) }];
    if (k.initialMessageId !== undefined) attributes.push({ type: GSA_ATTRIBUTE.GSA_INITIAL_MESSAGE_ID, value: u32Bytes(k.initialMessageId) });
    out.push({ kind: 'sa', protocol: GKM_PROTOCOL.GIKE_UPDATE, spi: k.spi, src: k.src, dst: k.dst, transforms, attributes });
  }
  for (const t of v.teks)
    out.push({
      kind: 'sa',
      protocol: GKM_PROTOCOL.ESP,
      spi: spiBytes(t.spi),
      src: t.src,
      dst: t.dst,
      transforms: [encrTransform(t.suite), simple(GKM_TRANSFORM_TYPE.SN, t.sn)],
      attributes: [{ type: GSA_ATTRIBUTE.GSA_KEY_LIFETIME, value: u32Bytes(t.lifetimeS) }],
    });
  if (v.gwp) {
    const g = v.gwp;
    const attributes: Attribute[] = [];
    if (g.atdS !== undefined) attributes.push({ type: GWP_ATTRIBUTE.GWP_ATD, value: g.atdS });
    if (g.dtdS !== undefined) attributes.push({ type: GWP_ATTRIBUTE.GWP_DTD, value: g.dtdS });
    if (g.senderIdBits !== undefined) attributes.push({ type: GWP_ATTRIBUTE.GWP_SENDER_ID_BITS, value: g.senderIdBits });
    out.push({ kind: 'gwp', attributes });
  }
  return out;
}

const fail = (code: GkmErrorCode, field: string, message: string) => err(gkmDecodeError(code, field, message));

/** The single attribute of `type`: TLV of `bytes` octets, TV when `bytes` is 0; undefined if absent. */
function single(attrs: readonly Attribute[], type: number, bytes: number, field: string): Result<Attribute['value'] | undefined, GkmDecodeError> {
  const found = attrs.filter((a) => a.type === type);
  if (found.length === 0) return ok(undefined);
  const a = found[0]!;
  if (found.length > 1) return fail('BAD_ATTRIBUTE', field, `attribute ${type} more than once`);
  if (bytes === 0 ? typeof a.value !== 'number' : typeof a.value === 'number' || a.value.length !== bytes)
    return fail('BAD_ATTRIBUTE', field, `attribute ${type} must be ${bytes === 0 ? 'TV' : `TLV of ${bytes} octets`}`);
  return ok(a.value);
}

function checkTransformTypes(p: GsaPolicyBody, allowed: readonly number[], field: string): Result<Map<number, Transform>, GkmDecodeError> {
  const byType = new Map<number, Transform>();
  for (const t of p.transforms) {
    // RFC 7296 §3.3.6 spirit: a type we do not know makes the policy unusable; one of each here.
    if (!allowed.includes(t.type)) return fail('POLICY_UNACCEPTABLE', `${field}.transform`, `transform type ${t.type} not valid for protocol ${p.protocol}`);
    if (byType.has(t.type)) return fail('POLICY_UNACCEPTABLE', `${field}.transform`, `transform type ${t.type} twice (policies are not negotiated)`);
    byType.set(t.type, t);
  }
  return ok(byType);
}

function readKek(p: GsaPolicyBody, field: string): Result<KekPolicy, GkmDecodeError> {
  const types = checkTransformTypes(p, [TRANSFORM_TYPE.ENCR, TRANSFORM_TYPE.PRF, TRANSFORM_TYPE.INTEG, GKM_TRANSFORM_TYPE.KWA, GKM_TRANSFORM_TYPE.GCAUTH], field);
  if (!types.ok) return types;
  const t = types.value;
  const encr = t.get(TRANSFORM_TYPE.ENCR);
  const suite = encr && encrFromTransform(encr);
  if (!suite) return fail('POLICY_UNACCEPTABLE', `${field}.encr`, 'the Rekey SA needs an AEAD we implement');
  const integ = t.get(TRANSFORM_TYPE.INTEG);
  if (integ && integ.id !== 0) return fail('POLICY_UNACCEPTABLE', `${field}.integ`, 'INTEG with an AEAD (RFC 9838 §4.4.2.1)');
  const prf = t.get(TRANSFORM_TYPE.PRF);
  if (!prf || prf.id !== PRF_HMAC_SHA2_256 || prf.attributes.length) return fail('POLICY_UNACCEPTABLE', `${field}.prf`, 'the Rekey SA needs PRF_HMAC_SHA2_256');
  const kwa = t.get(GKM_TRANSFORM_TYPE.KWA);
  if (!kwa || !KWA_KEY_BYTES.has(kwa.id) || kwa.attributes.length) return fail('POLICY_UNACCEPTABLE', `${field}.kwa`, 'the Rekey SA needs a KW_5649 key wrap');
  const out: KekPolicy = { spi: p.spi, suite, kwa: kwa.id, lifetimeS: 0, src: p.src, dst: p.dst };
  const gcauth = t.get(GKM_TRANSFORM_TYPE.GCAUTH);
  if (gcauth) {
    const alg = gcauth.attributes.find((a) => a.type === ATTRIBUTE_SIGNATURE_ALGORITHM_IDENTIFIER);
    const isEd25519 = alg !== undefined && typeof alg.value !== 'number' && equalBytes(alg.value, ED25519_ALGORITHM_IDENTIFIER);
    if (gcauth.id !== GCAUTH_DIGITAL_SIGNATURE || !isEd25519 || gcauth.attributes.length !== 1)
      return fail('POLICY_UNACCEPTABLE', `${field}.gcauth`, 'GSA_REKEY authentication other than Ed25519 signatures');
    out.auth = 'ed25519';
  }
  const life = single(p.attributes, GSA_ATTRIBUTE.GSA_KEY_LIFETIME, 4, `${field}.lifetime`);
  if (!life.ok) return life;
  if (life.value === undefined) return fail('BAD_ATTRIBUTE', `${field}.lifetime`, 'GSA_KEY_LIFETIME is mandatory (RFC 9838 §4.4.2.2.1)');
  out.lifetimeS = u32Of(life.value as Uint8Array);
  const mid = single(p.attributes, GSA_ATTRIBUTE.GSA_INITIAL_MESSAGE_ID, 4, `${field}.initialMessageId`);
  if (!mid.ok) return mid;
  if (mid.value !== undefined) out.initialMessageId = u32Of(mid.value as Uint8Array);
  return ok(out);
}

function readTek(p: GsaPolicyBody, field: string): Result<TekPolicy, GkmDecodeError> {
  if (p.protocol !== GKM_PROTOCOL.ESP) return fail('POLICY_UNACCEPTABLE', `${field}.protocol`, `Data-Security protocol ${p.protocol} (only ESP)`);
  const types = checkTransformTypes(p, [TRANSFORM_TYPE.ENCR, TRANSFORM_TYPE.INTEG, GKM_TRANSFORM_TYPE.SN], field);
  if (!types.ok) return types;
  const encr = types.value.get(TRANSFORM_TYPE.ENCR);
  const suite = encr && encrFromTransform(encr);
  if (!suite) return fail('POLICY_UNACCEPTABLE', `${field}.encr`, 'the Data-Security SA needs an AEAD we implement');
  const integ = types.value.get(TRANSFORM_TYPE.INTEG);
  if (integ && integ.id !== 0) return fail('POLICY_UNACCEPTABLE', `${field}.integ`, 'INTEG with an AEAD');
  const sn = types.value.get(GKM_TRANSFORM_TYPE.SN)?.id ?? SN_32_BIT_SEQUENTIAL;
  if (sn !== SN_32_BIT_SEQUENTIAL && sn !== SN_32_BIT_UNSPECIFIED) return fail('POLICY_UNACCEPTABLE', `${field}.sn`, `sequence numbers ${sn} (no ESN in group SAs)`);
  const life = single(p.attributes, GSA_ATTRIBUTE.GSA_KEY_LIFETIME, 4, `${field}.lifetime`);
  if (!life.ok) return life;
  if (life.value === undefined) return fail('BAD_ATTRIBUTE', `${field}.lifetime`, 'GSA_KEY_LIFETIME is mandatory');
  return ok({ spi: spiNumber(p.spi), suite, lifetimeS: u32Of(life.value as Uint8Array), sn, src: p.src, dst: p.dst });
}

export function readGsa(bodies: readonly GroupPolicyBody[]): Result<GroupPolicyView, GkmDecodeError> {
  const out: GroupPolicyView = { teks: [] };
  for (const [i, b] of bodies.entries()) {
    const field = `gsa.policy[${i}]`;
    if (b.kind === 'gwp') {
      if (out.gwp) return fail('BAD_COUNT', field, 'more than one Group-Wide Policy');
      const g: GroupWidePolicy = {};
      for (const [type, key] of [
        [GWP_ATTRIBUTE.GWP_ATD, 'atdS'],
        [GWP_ATTRIBUTE.GWP_DTD, 'dtdS'],
        [GWP_ATTRIBUTE.GWP_SENDER_ID_BITS, 'senderIdBits'],
      ] as const) {
        const a = single(b.attributes, type, 0, `${field}.${key}`);
        if (!a.ok) return a;
        if (a.value !== undefined) g[key] = a.value as number;
      }
      if (g.senderIdBits !== undefined && (g.senderIdBits < 1 || g.senderIdBits > 16)) return fail('POLICY_UNACCEPTABLE', `${field}.senderIdBits`, `${g.senderIdBits} Sender-ID bits`);
      out.gwp = g;
    } else if (b.protocol === GKM_PROTOCOL.GIKE_UPDATE) {
      if (out.kek) return fail('BAD_COUNT', field, 'more than one Rekey SA policy');
      const k = readKek(b, field);
      if (!k.ok) return k;
      out.kek = k.value;
    } else {
      const t = readTek(b, field);
      if (!t.ok) return t;
      out.teks.push(t.value);
    }
  }
  return ok(out);
}

// --- Key Download (RFC 9838 §4.5). ---

export interface SaKeyEntry {
  protocol: number;
  spi: Uint8Array;
  /** The same keying material wrapped under one or more KWKs (RFC 9838 §4.5.2.1). */
  keys: WrappedKey[];
}

export interface KdView {
  saKeys: SaKeyEntry[];
  /** WRAP_KEY attributes: nodes of the key tree (RFC 9838 §4.5.3.1). */
  wrapKeys: WrappedKey[];
  /** AUTH_KEY: the GCKS's public key for GSA_REKEY authentication, as a DER SubjectPublicKeyInfo. */
  authKey?: Uint8Array;
  senderIds: number[];
}

export function buildKd(v: KdView): KeyBagBody[] {
  const bags: KeyBagBody[] = v.saKeys.map((s) => ({
    kind: 'group',
    protocol: s.protocol,
    spi: s.spi,
    attributes: s.keys.map((k) => ({ type: GROUP_KEY_BAG_ATTRIBUTE.SA_KEY, value: encodeWrappedKey(k) })),
  }));
  const member: Attribute[] = [
    ...v.wrapKeys.map((k) => ({ type: MEMBER_KEY_BAG_ATTRIBUTE.WRAP_KEY, value: encodeWrappedKey(k) })),
    ...(v.authKey ? [{ type: MEMBER_KEY_BAG_ATTRIBUTE.AUTH_KEY, value: v.authKey }] : []),
    ...v.senderIds.map((id) => ({ type: MEMBER_KEY_BAG_ATTRIBUTE.GM_SENDER_ID, value: u32Bytes(id) })),
  ];
  if (member.length) bags.push({ kind: 'member', attributes: member });
  return bags;
}

export function readKd(bags: readonly KeyBagBody[]): Result<KdView, GkmDecodeError> {
  const out: KdView = { saKeys: [], wrapKeys: [], senderIds: [] };
  for (const [i, b] of bags.entries()) {
    const field = `kd.bag[${i}]`;
    if (b.kind === 'group') {
      const keys: WrappedKey[] = [];
      for (const [j, a] of b.attributes.entries()) {
        const f = `${field}.attribute[${j}]`;
        if (a.type !== GROUP_KEY_BAG_ATTRIBUTE.SA_KEY || typeof a.value === 'number') return fail('BAD_ATTRIBUTE', f, `attribute ${a.type} in a Group Key Bag`);
        const k = decodeWrappedKey(a.value, f);
        if (!k.ok) return k;
        // RFC 9838 §4.5.2.1: SA_KEY always has Key ID 0.
        if (k.value.keyId !== 0) return fail('BAD_VALUE', `${f}.keyId`, 'SA_KEY with a non-zero Key ID');
        keys.push(k.value);
      }
      if (keys.length === 0) return fail('BAD_ATTRIBUTE', field, 'a Group Key Bag without SA_KEY');
      if (b.protocol !== GKM_PROTOCOL.GIKE_UPDATE && keys.length > 1) return fail('BAD_ATTRIBUTE', field, 'several SA_KEYs for a Data-Security SA');
      out.saKeys.push({ protocol: b.protocol, spi: b.spi, keys });
      continue;
    }
    for (const [j, a] of b.attributes.entries()) {
      const f = `${field}.attribute[${j}]`;
      if (typeof a.value === 'number') return fail('BAD_ATTRIBUTE', f, `attribute ${a.type} must be TLV`);
      if (a.type === MEMBER_KEY_BAG_ATTRIBUTE.WRAP_KEY) {
        const k = decodeWrappedKey(a.value, f);
        if (!k.ok) return k;
        if (k.value.keyId === 0) return fail('BAD_VALUE', `${f}.keyId`, 'WRAP_KEY with Key ID 0');
        out.wrapKeys.push(k.value);
      } else if (a.type === MEMBER_KEY_BAG_ATTRIBUTE.AUTH_KEY) {
        if (out.authKey) return fail('BAD_ATTRIBUTE', f, 'AUTH_KEY more than once');
        out.authKey = a.value;
      } else if (a.type === MEMBER_KEY_BAG_ATTRIBUTE.GM_SENDER_ID) {
        if (a.value.length !== 4) return fail('BAD_ATTRIBUTE', f, 'GM_SENDER_ID is 4 octets');
        out.senderIds.push(u32Of(a.value));
      } else {
        return fail('BAD_ATTRIBUTE', f, `attribute ${a.type} in a Member Key Bag`);
      }
    }
  }
  return ok(out);
}
