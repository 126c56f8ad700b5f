// The resolved topology: what the loader hands to the kernel and runtimes after parsing and
// validating a file. Plain data only (it is sent to workers with structured clone).

import type { PingFlowConfig, TcpFlowConfig, UdpFlowConfig } from '../../node/types.ts';

export const MODES = ['l3vpn', 'mesh', 'gateway', 'group'] as const;
export type Mode = (typeof MODES)[number];

export const ROLES = ['host', 'ce', 'pe', 'p', 'sr'] as const;
export type Role = (typeof ROLES)[number];

/** One end of a link, resolved: which node, which of its interfaces, and the interface address. */
export interface LinkEnd {
  node: string;
  nodeIndex: number;
  /** Interface number on that node: interfaces are numbered 0.. in the order links name the node. */
  ifIndex: number;
  /** IPv4 interface address (host bits kept), unsigned 32-bit. */
  addr: number;
  /** Prefix length of the link subnet. */
  len: number;
}

export interface TopoLink {
  index: number;
  /** `a--b` unless the file names it. */
  id: string;
  a: LinkEnd;
  b: LinkEnd;
  latencyUs: number;
  jitterUs: number;
  /** Bits per second; 0 means no serialisation delay. */
  bandwidthBps: number;
  /** Loss probability per frame, 0..1. */
  loss: number;
  up: boolean;
}

export interface VrfConfig {
  name: string;
  /** Route distinguisher as written, e.g. "65000:1" or "10.0.0.1:7". */
  rd: string;
  importTargets: string[];
  exportTargets: string[];
  /** Interfaces (by the neighbouring node's id) that belong to this VRF. */
  attachments: string[];
}

/** How a CE's BGP sessions with its PEs are protected (issue 4 item 5). */
export const PE_AUTH_KINDS = ['tcp-ao', 'tcp-md5'] as const;
/** RFC 5926's two mandatory TCP-AO MAC algorithms (each with its KDF). */
export const PE_AUTH_ALGORITHMS = ['hmac-sha1-96', 'aes-128-cmac-96'] as const;
/** Longest key, in UTF-8 bytes (Linux's limit for TCP MD5 and TCP-AO keys). */
export const PE_AUTH_KEY_BYTES_MAX = 80;

/** ce: the TCP MD5 (RFC 2385) or TCP-AO (RFC 5925) protection of its CE–PE BGP sessions, resolved. */
export interface PeAuth {
  kind: (typeof PE_AUTH_KINDS)[number];
  /** The CE's key (TCP MD5 key or TCP-AO master key), as text; its UTF-8 bytes are the key. */
  key: string;
  /** The PE's copy: the same as `key` unless the file sets it apart (a mismatch to demonstrate). */
  peKey: string;
  /** tcp-ao only (ignored for tcp-md5). */
  algorithm: (typeof PE_AUTH_ALGORITHMS)[number];
  /** tcp-ao: the KeyID the CE sends (its MKT's SendID, the PE's RecvID). */
  keyId: number;
  /** tcp-ao: the KeyID the PE sends (the CE's RecvID). */
  peKeyId: number;
}

export interface TopoNode {
  index: number;
  id: string;
  role: Role;
  label?: string;
  site?: string;
  asn?: number;
  /** BGP identifier / router id, unsigned 32-bit IPv4. */
  routerId?: number;
  /** Loopback address (unsigned 32-bit), if any. */
  loopback?: number;
  /** ce: prefixes it protects (seed 002 trusted subnets) as text, e.g. "10.1.0.0/24". */
  trustedSubnets: string[];
  /** ce: TCP MD5 / TCP-AO on its BGP sessions with its PEs; absent: none. */
  peAuth?: PeAuth;
  /** pe: its VRFs. */
  vrfs: VrfConfig[];
  /** pe or p: a BGP route reflector for the PEs (RFC 4456). */
  routeReflector: boolean;
  /** Drawing position, when the file gives one. */
  position?: { x: number; y: number };
  /** ce or host: the security policy in SPD order, as written (sources defaulted). */
  policy?: TopoPolicyEntry[];
  /** ce or host: IKEv2 and SA settings. */
  ike?: TopoIke;
}

/** One SPD entry of a security gateway (seed 002 FIG. 3). */
export interface TopoPolicyEntry {
  action: 'protect' | 'bypass' | 'discard';
  /** Local (source) prefixes. */
  source: string[];
  /** Remote (destination) prefixes, or 'bgp' for the entries BGP fills in. */
  destination: string[] | 'bgp';
  /** protect with explicit destinations: a ce/host node id or an IPv4 address, as written. */
  gateway?: string;
  establish?: 'on-demand' | 'pre-established';
}

export interface TopoIke {
  psk?: string;
  establish: 'on-demand' | 'pre-established';
  announce: 'on-demand' | 'pre-established';
  lifetimeUs: number;
  rekeyUs: number;
  queueMax: number;
}

export interface TopoVpn {
  id: string;
  routeTarget: string;
  /** ce node ids. */
  sites: string[];
  /** gateway mode: the VPN's IKEv2 pre-shared key, when the file gives one. */
  psk?: string;
}

export interface TopoGroup {
  /** Group id (seed 001), a positive integer. */
  groupId: number;
  name: string;
  /** The S/R device's node id. */
  sr: string;
  members: string[];
  /** seed 001: member list in the registration request, or auto-discovery by group id. */
  discovery: 'member-list' | 'auto';
  rekeyOnMembershipChange: boolean;
  /** TEK and KEK lifetimes in whole seconds (defaults 3600 and 86400 when absent). */
  tekLifetimeS?: number;
  kekLifetimeS?: number;
  /** Members that register late (`join`) or that the S/R evicts (`leave`), in time order. */
  schedule?: { atUs: number; kind: 'join' | 'leave'; member: string }[];
}

/** Where a flow starts and what the file called its destination; the rest is the node's flow. */
interface TrafficEnds {
  /** The source host's node id. */
  from: string;
  /** As written in the file (a node id or an address); `to` is the resolved address. */
  toLabel: string;
}

export type TrafficDef = (PingFlowConfig & TrafficEnds) | (UdpFlowConfig & TrafficEnds) | (TcpFlowConfig & TrafficEnds);

export interface Topology {
  name: string;
  description: string;
  mode: Mode;
  seed: number;
  nodes: TopoNode[];
  links: TopoLink[];
  vpns: TopoVpn[];
  groups: TopoGroup[];
  traffic: TrafficDef[];
}
