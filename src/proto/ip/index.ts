// Public face of the plain-IP codecs: checksum, IPv4, IPv6, ICMP, UDP.
// Only re-exports; never holds logic of its own.

export * from './checksum.ts';
export * from './ipv4.ts';
export * from './ipv6.ts';
export * from './icmp.ts';
export * from './udp.ts';
