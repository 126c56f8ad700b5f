// Public face of IKEv2 (RFC 7296) for pairwise SAs: codecs, crypto, negotiation, the IKE SA state
// machine and the UDP 500 endpoint. Only re-exports; never holds logic of its own.

export * from './constants.ts';
export * from './errors.ts';
export * from './payloads.ts';
export * from './message.ts';
export * from './crypto.ts';
export * from './proposals.ts';
export * from './traffic-selectors.ts';
export * from './states.ts';
export * from './ike-sa.ts';
export * from './endpoint.ts';
