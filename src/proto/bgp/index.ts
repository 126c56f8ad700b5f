// Public face of the BGP codec: errors, messages, attributes, NLRI, capabilities, communities, packing.
// Only re-exports; never holds logic of its own.

export * from './errors.ts';
export * from './message.ts';
export * from './attributes.ts';
export * from './nlri.ts';
export * from './capabilities.ts';
export * from './communities.ts';
export * from './pack.ts';
