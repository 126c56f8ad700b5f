// Seed 001 in `group` mode, derived from the topology: who is the GCKS + route reflector (the S/R
// device), who registers as a member of which group, their credentials, and the BGP sessions between
// each member and the S/R. Pure and deterministic: every worker derives the same plan from the seed.
//
// Decisions (documented in README "Group mode"):
// - Identities (RFC 7296 §3.5): the GCKS and members are ID_FQDN of their node id; the group id is
//   ID_KEY_ID holding the 4-octet group number (RFC 9838 §4.2, IDg).
// - Credentials: each member has a 32-octet PSK drawn from its own node stream NODE_GKM_CREDENTIAL;
//   the S/R draws its Ed25519 key (which signs every GSA_REKEY, RFC 9838 §2.4.1) from its own.
// - Routing (¶[00039], RFC 4456): the S/R is an iBGP route reflector; each member peers with it in
//   the S/R's AS (the group's routing domain) so reflected routes keep the originating member's
//   NEXT_HOP — its tunnel address (the address its PE reaches it at). Members' own `asn` plays no part.
// - Discovery (¶[00042]–[00045]): `member-list`: the registration carries the other members in the
//   MEMBER_LIST notify (constants.ts); `auto`: the registration names only the group, and the member
//   tags its routes with the group's route target `<S/R asn>:<group id>` (the group identifier
//   "encoded as an attribute of the NLRI", ¶[00044]). A member learns its peers from the reflected
//   routes: every route's NEXT_HOP is a peer's gateway (in auto mode only routes with the group's
//   route target count).
// - Several groups: an S/R serves every group whose `sr` names it (one GCKS holding every group's
//   policy, one route reflector per group, group-rr.ts); a CE registers with every group that lists
//   it (one G-IKEv2 member each, same or different S/R), holds one GSA per group, and keeps one BGP
//   session per S/R — iBGP in the S/R's AS, so the S/Rs of one CE share an AS (the loader checks it).
//   Its routes carry the route target of each of its auto-discovery groups.

import { parsePrefix, type Ipv4Prefix } from '../lib/addr.ts';
import { nodeStream, rngFor, RNG_STREAM } from '../lib/rng.ts';
import type { BgpNeighborConfig, BgpSpeakerConfig } from '../node/bgp-app.ts';
import type { OriginatedRoute } from '../node/bgp-rib.ts';
import { ORIGIN_IGP, routeTarget } from '../proto/bgp/index.ts';
import type { RouteTarget } from '../proto/bgp/rib.ts';
import type { BgpRouterConfig } from '../proto/bgp/router.ts';
import { ed25519PublicKey, ID_TYPE, type IkeId } from '../proto/ike/index.ts';
import type { GcksConfig, GroupConfig, GroupMemberConfig } from '../proto/gkm/index.ts';
import type { EspEngine } from '../dataplane/esp.ts';
import { BgpApp } from '../node/bgp-app.ts';
import { RouterProcessor } from '../node/bgp-rib.ts';
import { GatedApp, GcksApp, GroupMemberApp } from '../node/gkm-app.ts';
import { GroupEspApp } from '../node/group-esp.ts';
import { GroupReflector, PacedProcessor } from '../node/group-rr.ts';
import type { IpNode } from '../node/ip-node.ts';
import { TcpApp } from '../node/tcp-app.ts';
import type { NodeContext } from '../node/types.ts';
import { bgpAddress } from './bgp-plan.ts';
import { tunnelAddress } from './mesh-plan.ts';
import type { Topology, TopoGroup, TopoNode } from './topology/types.ts';

/** Sender-ID the S/R itself sends with on the TEK (its BGP to the members); members get 1 and up. */
export const SR_SENDER_ID = 0;
export const SR_RESERVED_SENDER_IDS = 1;
/** Joins within this many seconds of a join rekey share the next one (Gcks joinRekeyHoldoffS). */
export const JOIN_REKEY_HOLDOFF_S = 1;
/** A member (re)connects its BGP session this often while the S/R does not answer. */
export const GROUP_BGP_CONNECT_RETRY_S = 2;

/** One group of a member CE. */
export interface MemberGroupPlan {
  group: TopoGroup;
  member: GroupMemberConfig;
  /** The group's S/R: its node id (the BGP neighbour name) and address. */
  srId: string;
  srAddr: number;
  /** When to register: 0, or the `join` time of the group's schedule. */
  joinAtUs: number;
  /** auto discovery: only reflected routes with this route target are the group's. */
  groupRouteTarget?: RouteTarget;
  /** member list, CE in several groups: the other members' tunnel addresses (a route's NEXT_HOP names its group). */
  memberAddrs?: Set<number>;
}

export interface GroupMemberPlan {
  kind: 'member';
  /** The first group (file order) and its member configuration: `groups[0]`. */
  group: TopoGroup;
  member: GroupMemberConfig;
  /** Every group the CE is a member of, in file order. */
  groups: MemberGroupPlan[];
  /** Outer source of our ESP; our BGP address and the NEXT_HOP of our routes. */
  tunnelAddr: number;
  srAddr: number;
  /** Our trusted subnets (the source half of every PROTECT entry). */
  trustedSubnets: Ipv4Prefix[];
  /** When to register: 0, or the `join` time of the group's schedule. */
  joinAtUs: number;
  /** auto discovery: only reflected routes with this route target are the group's. */
  groupRouteTarget?: RouteTarget;
  bgp: { speaker: BgpSpeakerConfig; router: BgpRouterConfig; originated: OriginatedRoute[] };
}

export interface GroupSrPlan {
  kind: 'sr';
  /** The first group the S/R serves (file order): `groups[0]`. */
  group: TopoGroup;
  /** One GCKS for every group served (`gcks.groups[i]` is `groups[i]`'s policy). */
  gcks: GcksConfig;
  srAddr: number;
  /** Member node id → its identity and tunnel address (every group's, each node once). */
  members: { node: string; id: IkeId; addr: number }[];
  /** Evictions (`leave`) of the schedules, in time order; `group` indexes `groups`. */
  leaves: { atUs: number; memberId: IkeId; node: string; group: number }[];
  /** Every group served, in file order: its members and its route reflector (used with several groups). */
  groups: { group: TopoGroup; members: string[]; router: BgpRouterConfig }[];
  /** The BGP speaker (a neighbour per member node) and, with one group, its router. */
  bgp: { speaker: BgpSpeakerConfig; router: BgpRouterConfig; originated: OriginatedRoute[] };
}

export type GroupPlan = GroupMemberPlan | GroupSrPlan;

const text = (s: string) => new TextEncoder().encode(s);
export const nodeIkeId = (nodeId: string): IkeId => ({ idType: ID_TYPE.ID_FQDN, data: text(nodeId) });
export function groupIkeId(groupId: number): IkeId {
  return { idType: ID_TYPE.ID_KEY_ID, data: Uint8Array.of(groupId >>> 24, (groupId >>> 16) & 0xff, (groupId >>> 8) & 0xff, groupId & 0xff) };
}

function streamBytes(seed: number, stream: number, n: number): Uint8Array {
  const rng = rngFor(seed, stream);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 4) {
    const w = rng.nextU32();
    for (let k = 0; k < 4 && i + k < n; k++) out[i + k] = (w >>> (24 - 8 * k)) & 0xff;
  }
  return out;
}

/** Member `node`'s pre-shared key with the GCKS (both ends derive it from the seed). */
export const memberPsk = (topology: Topology, node: TopoNode): Uint8Array => streamBytes(topology.seed, nodeStream(node.index, RNG_STREAM.NODE_GKM_CREDENTIAL), 32);
/** The S/R's Ed25519 secret key (signs GSA_REKEY). */
export const srSecretKey = (topology: Topology, sr: TopoNode): Uint8Array => streamBytes(topology.seed, nodeStream(sr.index, RNG_STREAM.NODE_GKM_CREDENTIAL), 32);

/** The groups a node takes part in (file order): those naming it as S/R, or as a member. */
function groupsOf(topology: Topology, node: TopoNode): TopoGroup[] {
  if (node.role === 'sr') return topology.groups.filter((g) => g.sr === node.id);
  if (node.role === 'ce') return topology.groups.filter((g) => g.members.includes(node.id));
  return [];
}

/** Sender-ID bits for a group of `n` members plus the S/R (RFC 6054: at least 8 here, at most 16). */
export function senderIdBits(n: number): number {
  let bits = 8;
  while (2 ** bits < n + SR_RESERVED_SENDER_IDS + n /* re-registrations */ && bits < 16) bits++;
  return bits;
}

function groupPolicy(g: TopoGroup, members: string[]): GroupConfig {
  const tekLifetimeS = g.tekLifetimeS ?? 3600;
  let membersMax = 1024;
  while (membersMax < members.length) membersMax *= 2;
  return {
    groupId: groupIkeId(g.groupId),
    authorized: members.map(nodeIkeId),
    tekSuite: 'aes-gcm-128', // tshark 4.0 decrypts it (TOOLCHAIN.md)
    kekSuite: 'aes-gcm-128',
    tekLifetimeS,
    kekLifetimeS: g.kekLifetimeS ?? 86_400,
    rekeyLeadS: Math.max(3, Math.min(60, Math.floor(tekLifetimeS / 4))),
    atdS: 1,
    dtdS: 2,
    rekeyOnJoin: g.rekeyOnMembershipChange,
    rekeyOnLeave: g.rekeyOnMembershipChange,
    // Joins within 1 s share one rekey (else N joins cost N rekeys of up to N recipients each).
    joinRekeyHoldoffS: JOIN_REKEY_HOLDOFF_S,
    senderIdBits: senderIdBits(members.length),
    senderIdsPerMemberMax: 1,
    reservedSenderIds: SR_RESERVED_SENDER_IDS,
    membersMax,
  };
}

/** Per topology and group: the members (in file order) and their tunnel addresses, computed once. */
const membersCache = new WeakMap<Topology, Map<TopoGroup, { members: TopoNode[]; tunnel: Map<number, number> }>>();

function groupMembers(topology: Topology, g: TopoGroup): { members: TopoNode[]; tunnel: Map<number, number> } {
  let perGroup = membersCache.get(topology);
  if (!perGroup) {
    perGroup = new Map();
    membersCache.set(topology, perGroup);
  }
  const hit = perGroup.get(g);
  if (hit) return hit;
  // A CE's tunnel address: its address on the link to its PE, else its BGP address (mesh-plan.ts).
  const tunnel = new Map<number, number>();
  const byId = new Map(topology.nodes.map((n) => [n.id, n]));
  const members: TopoNode[] = [];
  for (const id of g.members) {
    const n = byId.get(id);
    if (!n || n.role !== 'ce') continue;
    const a = tunnelAddress(topology, n);
    if (a === undefined) continue;
    tunnel.set(n.index, a);
    members.push(n);
  }
  const out = { members, tunnel };
  perGroup.set(g, out);
  return out;
}

/** A group's S/R node, its BGP address and AS (undefined: the group cannot run). */
function srOf(topology: Topology, g: TopoGroup): { sr: TopoNode; srAddr: number; srAs: number } | undefined {
  const sr = topology.nodes.find((n) => n.id === g.sr && n.role === 'sr');
  if (!sr) return undefined;
  const srAddr = bgpAddress(topology, sr);
  if (srAddr === undefined) return undefined;
  return { sr, srAddr, srAs: sr.asn ?? 65_535 };
}

/** The group's route target for auto discovery: `<S/R asn>:<group id>` (¶[00044]). */
const groupRouteTarget = (srAs: number, g: TopoGroup): RouteTarget => routeTarget('four-octet-as', srAs, g.groupId & 0xffff);

/** The seed 001 plan of one node in `group` mode (undefined for other modes and roles). */
export function groupPlan(topology: Topology, nodeIndex: number): GroupPlan | undefined {
  if (topology.mode !== 'group') return undefined;
  const node = topology.nodes[nodeIndex]!;
  if (node.role === 'sr') return srPlan(topology, node);
  if (node.role === 'ce') return memberPlan(topology, node);
  return undefined;
}

function srPlan(topology: Topology, node: TopoNode): GroupSrPlan | undefined {
  const gs = groupsOf(topology, node);
  const s = gs.length ? srOf(topology, gs[0]!) : undefined;
  if (!s) return undefined;
  const { sr, srAddr, srAs } = s;
  const srRouterId = sr.routerId ?? srAddr;
  // Every member node of every group once (first appearance), with its PSK and tunnel address.
  const tunnels = new Map<number, number>();
  const all: TopoNode[] = [];
  const perGroup = gs.map((g) => {
    const { members, tunnel } = groupMembers(topology, g);
    for (const m of members) {
      if (tunnels.has(m.index)) continue;
      tunnels.set(m.index, tunnel.get(m.index)!);
      all.push(m);
    }
    return { g, members };
  });
  const tunnelOf = (m: TopoNode) => tunnels.get(m.index)!;
  const neighbors: BgpNeighborConfig[] = all.map((m) => ({
    name: m.id,
    peerAddr: tunnelOf(m),
    localAddr: srAddr,
    peerAs: srAs,
    families: ['ipv4-unicast'],
    passive: true, // members connect once they hold the GSA (FIG. 5 step 204)
  }));
  // RFC 4456 §6: clients' routes go to every other client; the S/R keeps their NEXT_HOP. One router
  // per group, its clients that group's members.
  const routerFor = (members: TopoNode[]): BgpRouterConfig => ({
    localAs: srAs,
    routerId: srRouterId,
    localAddress: srAddr,
    clusterId: srRouterId,
    peers: members.map((m) => ({ id: m.id, asNumber: srAs, address: tunnelOf(m), localAddress: srAddr, families: ['ipv4-unicast'] as BgpNeighborConfig['families'], routeReflectorClient: true })),
    routeChanges: false,
  });
  const groups = perGroup.map(({ g, members }) => ({ group: g, members: members.map((m) => m.id), router: routerFor(members) }));
  const leaves = perGroup
    .flatMap(({ g }, group) => (g.schedule ?? []).filter((e) => e.kind === 'leave').map((e) => ({ atUs: e.atUs, memberId: nodeIkeId(e.member), node: e.member, group })))
    .sort((a, b) => a.atUs - b.atUs || a.group - b.group);
  return {
    kind: 'sr',
    group: gs[0]!,
    srAddr,
    gcks: {
      localAddr: srAddr,
      localId: nodeIkeId(sr.id),
      ed25519SecretKey: srSecretKey(topology, sr),
      members: all.map((m) => ({ id: nodeIkeId(m.id), credential: { method: 'psk', psk: memberPsk(topology, m) } })),
      groups: perGroup.map(({ g, members }) => groupPolicy(g, members.map((m) => m.id))),
      registrationSasMax: Math.max(4096, 2 * all.length),
      halfOpenMax: Math.max(256, all.length),
    },
    members: all.map((m) => ({ node: m.id, id: nodeIkeId(m.id), addr: tunnelOf(m) })),
    leaves,
    groups,
    bgp: { speaker: { localAs: srAs, routerId: srRouterId, neighbors }, router: groups[0]!.router, originated: [] },
  };
}

function memberPlan(topology: Topology, node: TopoNode): GroupMemberPlan | undefined {
  let tunnelAddr: number | undefined;
  let localAs: number | undefined;
  const groups: MemberGroupPlan[] = [];
  const all = groupsOf(topology, node);
  for (const g of all) {
    const s = srOf(topology, g);
    if (!s) continue;
    // One BGP speaker, iBGP in its S/Rs' AS: a group whose S/R is in another AS cannot run here (the loader refuses it).
    if (localAs !== undefined && s.srAs !== localAs) continue;
    const { members, tunnel } = groupMembers(topology, g);
    const me = members.find((m) => m.index === node.index);
    if (!me) continue;
    localAs = s.srAs;
    tunnelAddr = tunnel.get(me.index)!;
    const auto = g.discovery === 'auto';
    const join = (g.schedule ?? []).find((e) => e.kind === 'join' && e.member === me.id);
    groups.push({
      group: g,
      srId: s.sr.id,
      srAddr: s.srAddr,
      joinAtUs: join?.atUs ?? 0,
      ...(auto ? { groupRouteTarget: groupRouteTarget(s.srAs, g) } : {}),
      ...(!auto && all.length > 1 ? { memberAddrs: new Set(members.filter((m) => m !== me).map((m) => tunnel.get(m.index)! >>> 0)) } : {}),
      member: {
        localAddr: tunnelAddr,
        gcksAddr: s.srAddr,
        localId: nodeIkeId(me.id),
        gcksId: nodeIkeId(s.sr.id),
        credential: { method: 'psk', psk: memberPsk(topology, me) },
        groupId: groupIkeId(g.groupId),
        // FIG. 5 step 200: with a member list, name the others (at most MEMBER_LIST_ENTRIES_MAX).
        ...(auto ? {} : { memberList: members.filter((m) => m !== me).slice(0, 256).map((m) => nodeIkeId(m.id)) }),
        senderIds: 1,
      },
    });
  }
  const first = groups[0];
  if (!first || tunnelAddr === undefined || localAs === undefined) return undefined;
  const srAs = localAs;
  const routerId = node.routerId ?? tunnelAddr;
  const trustedSubnets = node.trustedSubnets.map((t) => parsePrefix(t)).filter((p): p is Ipv4Prefix => p !== undefined && p.family === 4);
  // One BGP session per S/R (groups sharing an S/R share it).
  const srs = [...new Map(groups.map((x) => [x.srId, x.srAddr])).entries()];
  const neighbors: BgpNeighborConfig[] = srs.map(([id, addr]) => ({ name: id, peerAddr: addr, localAddr: tunnelAddr!, peerAs: srAs, families: ['ipv4-unicast'], connectRetryTimeS: GROUP_BGP_CONNECT_RETRY_S }));
  const rts = groups.flatMap((x) => (x.groupRouteTarget ? [x.groupRouteTarget] : []));
  return {
    kind: 'member',
    group: first.group,
    member: first.member,
    groups,
    tunnelAddr,
    srAddr: first.srAddr,
    trustedSubnets,
    joinAtUs: first.joinAtUs,
    ...(first.groupRouteTarget ? { groupRouteTarget: first.groupRouteTarget } : {}),
    bgp: {
      speaker: { localAs: srAs, routerId, neighbors },
      router: { localAs: srAs, routerId, localAddress: tunnelAddr, peers: srs.map(([id, addr]) => ({ id, asNumber: srAs, address: addr, localAddress: tunnelAddr!, families: ['ipv4-unicast'] })) },
      originated: trustedSubnets.map((prefix) => ({ prefix, attributes: { origin: ORIGIN_IGP, nextHop: tunnelAddr!, localPref: 100, ...(rts.length ? { extendedCommunities: rts } : {}) } })),
    },
  };
}

/** For tests and the report: the S/R's Ed25519 public key. */
export function srPublicKey(topology: Topology, sr: TopoNode): Uint8Array {
  return ed25519PublicKey(srSecretKey(topology, sr));
}

/**
 * Composes seed 001's apps on a node (the order matters: the group data plane sees packets first, so
 * a clear BGP segment is dropped before TCP sees it). `node` is the IpNode; `newEsp` gives its engine.
 */
export function addGroupApps(node: IpNode, plan: GroupPlan, topology: Topology, nodeIndex: number, newEsp: () => EspEngine): void {
  const rng = (k: number) => rngFor(topology.seed, nodeStream(nodeIndex, k));
  const several = plan.groups.length > 1;
  const esp = new GroupEspApp(node, newEsp(), {
    tunnelAddr: plan.kind === 'sr' ? plan.srAddr : plan.tunnelAddr,
    trustedSubnets: plan.kind === 'member' ? plan.trustedSubnets : [],
    bgpPeer: plan.kind === 'member' ? plan.srAddr : undefined,
    ...(several ? { groups: plan.kind === 'member' ? plan.groups.map((g) => ({ groupId: g.group.groupId, srAddr: g.srAddr })) : plan.groups.map((g) => ({ groupId: g.group.groupId })) } : {}),
  });
  // TCP's segments pass the SPD first: BGP with the S/R leaves only inside the group SA.
  const tcpCtx: NodeContext = {
    config: node.config,
    sendIp: (dst, protocol, payload, src) => {
      if (!esp.sendLocal(dst, protocol, payload, src ?? (plan.kind === 'sr' ? plan.srAddr : plan.tunnelAddr))) node.sendIp(dst, protocol, payload, src);
    },
    log: (topic, text) => node.log(topic, text),
    isLocal: (a) => node.isLocal(a),
    forwardPacket: (b, t) => node.forwardPacket(b, t),
  };
  const tcp = new TcpApp(tcpCtx, rng(RNG_STREAM.NODE_TCP));
  esp.deliverLocalTo([tcp]);
  if (plan.kind === 'sr') {
    // One group: one router, as always. Several: one per group behind a GroupReflector.
    const reflector = several
      ? new GroupReflector(
          plan.groups.map((g) => new RouterProcessor(g.router, [])),
          plan.groups.map((g) => g.group.groupId),
          plan.groups.map((g) => g.members),
        )
      : undefined;
    const paced = new PacedProcessor(reflector ?? new RouterProcessor(plan.bgp.router, plan.bgp.originated));
    const bgp = new BgpApp(node, tcp, plan.bgp.speaker, paced, rng(RNG_STREAM.NODE_BGP));
    paced.flush = (t) => bgp.flushUpdates(t);
    const policy = plan.gcks.groups[0]!;
    const control = {
      stopNeighbor: (name: string, nowUs: number, communication?: string) => bgp.stopNeighbor(name, nowUs, communication),
      resetNeighbor: (name: string, nowUs: number) => void bgp.operatorCommand({ kind: 'clear-bgp', neighbor: name }, nowUs),
    };
    const gcks = new GcksApp(
      node,
      {
        gcks: plan.gcks,
        members: plan.members,
        leaves: plan.leaves,
        senderId: SR_SENDER_ID,
        senderIdBits: policy.senderIdBits ?? 12,
        ...(reflector ? { membership: (peer: string, group: number, member: boolean, nowUs: number) => reflector.setMember(peer, group, member, nowUs) } : {}),
      },
      esp,
      control,
      rng(RNG_STREAM.NODE_GKM),
    );
    for (const app of [esp, gcks, tcp, bgp, paced.app()]) node.addApp(app);
    return;
  }
  // No pacing at a member; the wrapper only keeps its RIB snapshot bounded.
  const processor = new RouterProcessor(plan.bgp.router, plan.bgp.originated);
  const bgp = new BgpApp(node, tcp, plan.bgp.speaker, new PacedProcessor(processor, 0), rng(RNG_STREAM.NODE_BGP));
  const gated = new GatedApp(bgp);
  const cfgs = plan.groups.map((g) => ({
    member: g.member,
    joinAtUs: g.joinAtUs,
    ...(g.groupRouteTarget ? { groupRouteTarget: g.groupRouteTarget } : {}),
    ...(several ? { groupId: g.group.groupId, srName: g.srId, ...(g.memberAddrs ? { memberAddrs: g.memberAddrs } : {}) } : {}),
  }));
  const gkm = new GroupMemberApp(node, several ? cfgs : cfgs[0]!, esp, gated, rng(RNG_STREAM.NODE_GKM));
  processor.onRouteChange((c) => gkm.routeChanged(c));
  for (const app of [esp, gkm, tcp, gated]) node.addApp(app);
}
