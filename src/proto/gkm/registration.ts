// What the member and the GCKS share about the registration IKE SA (IKE_SA_INIT + GSA_AUTH, RFC 9838
// §2.3): the Key Wrap Algorithm in the IKE proposal, AUTH over the signed octets, timing, small helpers.
//
// RFC 9838 §2.3.1 (as we read it; unsure): the GM adds a Key Wrap Algorithm transform (type 13) to its
// IKE_SA_INIT proposal, the GCKS answers with the one it picked, and the registration SA's default
// key-wrap key is GSK_w = prf+(SK_d, "Key Wrap for G-IKEv2"). The src/proto/ike negotiation knows no
// type 13, so the KWA transform is taken out before it runs and put back after.

import {
  AUTH_METHOD,
  NOTIFY_ERROR_MAX,
  RECOGNISED_PAYLOADS,
  ed25519AuthData,
  ed25519AuthVerify,
  encodePayloadBody,
  ikeOfferProposal,
  notifyName,
  pskAuthData,
  pskAuthVerify,
  signedOctets,
  type AuthPayload,
  type IdPayload,
  type IkeId,
  type IkeProposalConfig,
  type NotifyPayload,
  type Payload,
  type PeerCredential,
  type Proposal,
  type SaPayload,
  type Transform,
} from '../ike/index.ts';
import { GKM_PAYLOAD, GKM_TRANSFORM_TYPE, KWA_KW_5649_128, gkmNotifyName } from './constants.ts';
import { KWA_KEY_BYTES } from './keys.ts';

/** IKEv2 payloads plus IDg, GSA, KD: a critical payload outside this set is refused (RFC 7296 §2.5). */
export const GKM_RECOGNISED_PAYLOADS: ReadonlySet<number> = new Set([...RECOGNISED_PAYLOADS, GKM_PAYLOAD.IDG, GKM_PAYLOAD.GSA, GKM_PAYLOAD.KD]);

export interface GkmTiming {
  /** First retransmission timeout of a registration request; doubled on each try (RFC 7296 §2.1). */
  retransmitBaseUs: number;
  retransmitIntervalMaxUs: number;
  /** Transmissions of one request in all. */
  retransmitTriesMax: number;
  /** The GCKS waits this long for GSA_AUTH after IKE_SA_INIT. */
  halfOpenTimeoutUs: number;
  /** The GCKS keeps a finished registration SA this long to answer retransmitted requests. */
  lingerUs: number;
  /** A member whose registration timed out waits this long before trying again (doubling). */
  reregisterBackoffUs: number;
  /** Registration attempts in a row before a member gives up (until told to register again). */
  registerAttemptsMax: number;
  /**
   * A member re-registers when its newest TEK or its KEK is this close to expiry with no replacement
   * (RFC 9838 §2.4.2: the GSA expired without a rekey). Must be shorter than the GCKS's rekey lead.
   */
  reregisterMarginUs: number;
  /**
   * A GSA_REKEY on a Rekey SA we do not hold means we missed the one that introduced it: a member
   * registers again, at most once per this interval (RFC 9838 §4.4.2.2.3 suggests GSA_NEXT_SPI for the same purpose).
   */
  unknownRekeyHoldoffUs: number;
}

export const GKM_TIMING_DEFAULT: GkmTiming = {
  retransmitBaseUs: 500_000,
  retransmitIntervalMaxUs: 8_000_000,
  retransmitTriesMax: 5,
  halfOpenTimeoutUs: 30_000_000,
  lingerUs: 32_000_000,
  reregisterBackoffUs: 1_000_000,
  registerAttemptsMax: 8,
  reregisterMarginUs: 1_000_000,
  unknownRekeyHoldoffUs: 10_000_000,
};

export const NONCE_BYTES = 32;

export function kwaTransform(id: number): Transform {
  return { type: GKM_TRANSFORM_TYPE.KWA, id, attributes: [] };
}

/** The member's single IKE proposal with the Key Wrap Algorithms it supports appended. */
export function gkmOfferProposal(cfg: IkeProposalConfig, kwas: readonly number[] = [KWA_KW_5649_128]): Proposal {
  const p = ikeOfferProposal(cfg);
  return { ...p, transforms: [...p.transforms, ...kwas.map(kwaTransform)] };
}

/** The SA payload without KWA transforms, and per proposal number the KWA IDs it carried. */
export function splitKwa(sa: SaPayload): { sa: SaPayload; kwas: Map<number, number[]> } {
  const kwas = new Map<number, number[]>();
  const proposals = sa.proposals.map((p) => {
    kwas.set(
      p.number,
      p.transforms.filter((t) => t.type === GKM_TRANSFORM_TYPE.KWA && t.attributes.length === 0).map((t) => t.id),
    );
    return { ...p, transforms: p.transforms.filter((t) => t.type !== GKM_TRANSFORM_TYPE.KWA) };
  });
  return { sa: { ...sa, proposals }, kwas };
}

/** The first KWA of ours the peer offered; a peer that offered none gets KW_5649_128 (lenient). */
export function pickKwa(offered: readonly number[] | undefined): number | undefined {
  if (!offered || offered.length === 0) return KWA_KW_5649_128;
  return offered.find((k) => KWA_KEY_BYTES.has(k));
}

/** AUTH over SignedOctets (RFC 7296 §2.15), the same method both ways as in src/proto/ike. */
export function makeAuth(credential: PeerCredential, ed25519SecretKey: Uint8Array | undefined, octets: Uint8Array): AuthPayload | undefined {
  if (credential.method === 'psk') return { kind: 'auth', method: AUTH_METHOD.SHARED_KEY_MIC, data: pskAuthData(credential.psk, octets) };
  if (!ed25519SecretKey) return undefined;
  return { kind: 'auth', method: AUTH_METHOD.DIGITAL_SIGNATURE, data: ed25519AuthData(ed25519SecretKey, octets) };
}

export function verifyAuth(credential: PeerCredential, auth: AuthPayload, octets: Uint8Array): boolean {
  if (credential.method === 'psk') return auth.method === AUTH_METHOD.SHARED_KEY_MIC && pskAuthVerify(credential.psk, octets, auth.data);
  return auth.method === AUTH_METHOD.DIGITAL_SIGNATURE && ed25519AuthVerify(credential.publicKey, octets, auth.data);
}

/** SignedOctets for the ID payload `id` (RFC 7296 §2.15). */
export function authOctets(realMessage: Uint8Array, peerNonce: Uint8Array, skP: Uint8Array, id: IdPayload): Uint8Array {
  return signedOctets(realMessage, peerNonce, skP, encodePayloadBody(id));
}

/** A Map key for an identity. */
export function idKey(id: IkeId): string {
  let s = `${id.idType}:`;
  for (const b of id.data) s += b.toString(16).padStart(2, '0');
  return s;
}

export function notify(notifyType: number, data: Uint8Array = new Uint8Array(0), protocolId = 0, spi: Uint8Array = new Uint8Array(0)): NotifyPayload {
  return { kind: 'notify', protocolId, spi, notifyType, data };
}

export const some = <T extends Payload['kind']>(ps: readonly Payload[], kind: T) => ps.find((p) => p.kind === kind) as Extract<Payload, { kind: T }> | undefined;
export const notifies = (ps: readonly Payload[]) => ps.filter((p): p is NotifyPayload => p.kind === 'notify');
export const firstError = (ps: readonly Payload[]) => notifies(ps).find((n) => n.notifyType <= NOTIFY_ERROR_MAX);

/** 8-octet SK IVs from a per-key counter (RFC 5282 §3.1: never repeat under one key). */
export function counterIv(n: bigint): Uint8Array {
  const iv = new Uint8Array(8);
  new DataView(iv.buffer).setBigUint64(0, n);
  return iv;
}

/** The printable form of an identity for logs: text when it is, hex otherwise. */
export function showId(id: IkeId): string {
  const printable = id.data.every((b) => b >= 0x20 && b < 0x7f);
  if (printable) return new TextDecoder().decode(id.data);
  if (id.data.length === 4) return [...id.data].join('.');
  let s = '';
  for (const b of id.data) s += b.toString(16).padStart(2, '0');
  return s;
}

/** The name of a Notify type, G-IKEv2's included. */
export function notifyLabel(n: number): string {
  return `${gkmNotifyName(n) ?? notifyName(n)} (${n})`;
}
