// Public face of group key management (G-IKEv2, RFC 9838) for seed 001: codecs, keys, the GCKS and
// the member. Only re-exports; never holds logic of its own.

export * from './constants.ts';
export * from './errors.ts';
export * from './codec.ts';
export * from './keys.ts';
export * from './policy.ts';
export * from './key-tree.ts';
export * from './rekey-message.ts';
export * from './registration.ts';
export * from './states.ts';
export * from './gcks.ts';
export * from './member.ts';
