// Topology loader: text (YAML or JSON) -> validated, resolved Topology, or every error at once.
//
// 1. The `yaml` library parses the text (JSON is YAML too); syntax errors stop here, with line
//    and column.
// 2. The zod schema of the file format (schema.ts) validates it and fills in defaults.
// 3. Cross-reference checks run whether or not step 2 passed: elements that failed the schema
//    are salvaged (their bad fields dropped) so that, say, a link with a bad latency still has its
//    endpoints checked. Ids that exist in the file but failed the schema are never reported as
//    unknown, so one mistake gives one error.
// 4. Only with no error at all is a Topology built and returned: nothing is half-loaded.

import { LineCounter, isNode, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { formatIpv4, ipv4Mask, parseIpv4, parseIpv4InterfaceAddress } from '../../lib/addr.ts';
import { RNG_STREAM, rngFor } from '../../lib/rng.ts';
import { TCP_EPHEMERAL_PORT_MAX, TCP_EPHEMERAL_PORT_MIN } from '../../proto/ip/tcp.ts';
import {
  GroupSchema,
  IPV4_PATTERN,
  LinkDefaultsSchema,
  LinkSchema,
  ModeSchema,
  NodeSchema,
  SeedSchema,
  TopologyFileSchema,
  TrafficSchema,
  VpnSchema,
  describeValue,
  parseDurationUs,
  parseLoss,
  parseRateBps,
  parseSizeBytes,
  topologyErrorMap,
  type GroupFile,
  type LinkDefaultsFile,
  type LinkFile,
  type NodeFile,
  type TrafficFile,
  type VpnFile,
} from './schema.ts';
import {
  MODES,
  type LinkEnd,
  type Mode,
  type Role,
  type TopoGroup,
  type TopoLink,
  type TopoNode,
  type TopoPolicyEntry,
  type TopoVpn,
  type Topology,
  type TrafficDef,
} from './types.ts';

export interface TopologyError {
  /** Where: `links[3].latency`, or `(root)` for the whole file. */
  path: string;
  /** What was expected and what was got: `expected a duration such as "2ms", got "fast"`. */
  message: string;
  /** 1-based position in the text of the offending value, when known. */
  line?: number;
  column?: number;
}

export type LoadResult = { ok: true; topology: Topology } | { ok: false; errors: TopologyError[] };

export interface LoadOptions {
  /** Default 'yaml'; 'json' parses with the YAML JSON schema (plain scalars must be JSON values). */
  format?: 'yaml' | 'json';
  /** Overrides the file's `mode` (the `--mode` flag). */
  mode?: Mode;
  /** Overrides the file's `seed` (the `--seed` flag). */
  seed?: number;
}

/** First address of the range the loader numbers unaddressed links from (100.64.0.0/10). */
export const AUTO_LINK_BASE = 0x64400000;
const AUTO_LINK_MAX = 1 << 20; // 100.64.0.0/10 holds 2^22 addresses, 4 per link

type Seg = string | number;
type Path = Seg[];

/** `links[3].latency`; `(root)` for the empty path. */
export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else {
      const key = String(seg);
      if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)) out += out === '' ? key : `.${key}`;
      else out += `[${JSON.stringify(key)}]`;
    }
  }
  return out;
}

/** One `path: message` per line. */
export function formatTopologyErrors(errors: readonly TopologyError[]): string {
  return errors.map((e) => `${e.path}: ${e.message}`).join('\n');
}

class Errors {
  readonly list: { path: Path; message: string }[] = [];
  private readonly seen = new Set<string>();
  add(path: Path, message: string): void {
    const key = `${formatPath(path)}\u0000${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.list.push({ path, message });
  }
  get count(): number {
    return this.list.length;
  }
}

// ---------------------------------------------------------------------------------------------
// Entry point

export function loadTopology(text: string, opts: LoadOptions = {}): LoadResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter,
    prettyErrors: false,
    uniqueKeys: true,
    schema: opts.format === 'json' ? 'json' : 'core',
  });
  const syntax = opts.format === 'json' ? 'JSON' : 'YAML';
  if (doc.errors.length > 0) {
    return {
      ok: false,
      errors: doc.errors.map((e) => {
        const { line, col } = lineCounter.linePos(e.pos[0]);
        return {
          path: '(root)',
          message: `${syntax} syntax error at line ${line}, column ${col}: ${e.message.split('\n')[0]}`,
          line,
          column: col,
        };
      }),
    };
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    return { ok: false, errors: [{ path: '(root)', message: `${syntax} error: ${(e as Error).message}` }] };
  }
  if (raw === null || raw === undefined) {
    return { ok: false, errors: [{ path: '(root)', message: 'expected a topology mapping with name and nodes, got an empty document' }] };
  }

  const errs = new Errors();
  if (opts.mode !== undefined && !ModeSchema.safeParse(opts.mode).success) {
    errs.add([], `expected the mode option to be one of ${MODES.map((m) => `"${m}"`).join(', ')}, got ${describeValue(opts.mode)}`);
  }
  if (opts.seed !== undefined && !SeedSchema.safeParse(opts.seed).success) {
    errs.add([], `expected the seed option to be a non-negative whole number, got ${describeValue(opts.seed)}`);
  }

  const parsed = TopologyFileSchema.safeParse(raw, { error: topologyErrorMap });
  if (!parsed.success) for (const iss of parsed.error.issues) addIssue(errs, iss);
  if (typeof raw !== 'object' || Array.isArray(raw)) return fail(errs, doc, lineCounter);

  const rawObj = raw as Record<string, unknown>;
  const parts: Parts = parsed.success
    ? {
        nodes: parsed.data.nodes.map((v, i) => ({ i, v })),
        links: parsed.data.links.map((v, i) => ({ i, v })),
        vpns: parsed.data.vpns.map((v, i) => ({ i, v })),
        groups: parsed.data.groups.map((v, i) => ({ i, v })),
        traffic: parsed.data.traffic.map((v, i) => ({ i, v })),
        linkDefaults: parsed.data.defaults.link,
        rawNodeIds: parsed.data.nodes.map((n, i) => ({ i, id: n.id })),
      }
    : {
        nodes: salvage(rawObj.nodes, NodeSchema),
        links: salvage(rawObj.links, LinkSchema),
        vpns: salvage(rawObj.vpns, VpnSchema),
        groups: salvage(rawObj.groups, GroupSchema),
        traffic: salvage(rawObj.traffic, TrafficSchema),
        linkDefaults: LinkDefaultsSchema.parse({}),
        rawNodeIds: rawIds(rawObj.nodes),
      };

  // The run's seed (tcp flows draw their default source port from it); unused when loading fails.
  const seed = opts.seed ?? (parsed.success ? parsed.data.seed : 0);
  const resolved = resolve(parts, errs, seed);
  if (!parsed.success || errs.count > 0 || !resolved) return fail(errs, doc, lineCounter);
  const file = parsed.data;
  // Seed 001's group mode needs an S/R device and its members: without a group it would only run
  // the sites in clear, which is not what a trainee asked for.
  if ((opts.mode ?? file.mode) === 'group' && resolved.groups.length === 0) {
    errs.add(opts.mode !== undefined ? [] : ['mode'], 'group mode needs at least one entry in `groups` (an S/R device and its members); this file has none: run it in l3vpn, mesh or gateway mode, or add a group');
    return fail(errs, doc, lineCounter);
  }
  return {
    ok: true,
    topology: {
      name: file.name,
      description: file.description,
      mode: opts.mode ?? file.mode,
      seed: opts.seed ?? file.seed,
      ...resolved,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Schema issues -> errors

function addIssue(errs: Errors, iss: z.core.$ZodIssue): void {
  const path = iss.path as Path;
  if (iss.code === 'unrecognized_keys') {
    // The error map words this `expected one of the fields a, b, c`; one error per unknown key.
    const fields = iss.message.startsWith('expected one of the fields ')
      ? iss.message.slice('expected one of the fields '.length).split(', ')
      : [];
    for (const key of iss.keys) {
      errs.add([...path, key], `${iss.message}, got unknown field ${JSON.stringify(key)}${didYouMean(key, fields)}`);
    }
    return;
  }
  errs.add(path, iss.message);
}

function fail(errs: Errors, doc: Document, lineCounter: LineCounter): LoadResult {
  const located = errs.list.map((e, order) => {
    const pos = locate(doc, e.path);
    const out: TopologyError = { path: formatPath(e.path), message: e.message };
    if (pos !== undefined) {
      const { line, col } = lineCounter.linePos(pos);
      out.line = line;
      out.column = col;
    }
    return { out, pos: pos ?? -1, order };
  });
  located.sort((a, b) => a.pos - b.pos || a.order - b.order);
  return { ok: false, errors: located.map((l) => l.out) };
}

/** Text offset of the deepest YAML node on `path` (the value itself, or its nearest parent). */
function locate(doc: Document, path: Path): number | undefined {
  for (let k = path.length; k >= 0; k--) {
    const node = k === 0 ? doc.contents : doc.getIn(path.slice(0, k), true);
    if (isNode(node) && node.range) return node.range[0];
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Salvage: what of a failing file can still be cross-checked

interface Indexed<T> {
  /** Position in the file's array. */
  i: number;
  v: T;
}

interface Parts {
  nodes: Indexed<NodeFile>[];
  links: Indexed<LinkFile>[];
  vpns: Indexed<VpnFile>[];
  groups: Indexed<GroupFile>[];
  traffic: Indexed<TrafficFile>[];
  linkDefaults: LinkDefaultsFile;
  /** Every string node id in the file, valid or not: references to these are never "unknown". */
  rawNodeIds: { i: number; id: string }[];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Elements that pass their schema, or pass once the fields with errors are dropped. */
function salvage<T>(raw: unknown, schema: z.ZodType<T>): Indexed<T>[] {
  if (!Array.isArray(raw)) return [];
  const out: Indexed<T>[] = [];
  raw.forEach((el: unknown, i) => {
    let r = schema.safeParse(el);
    if (!r.success && isRecord(el)) {
      const bad = new Set<string>();
      let fatal = false;
      for (const iss of r.error.issues) {
        const head = iss.path[0];
        if (head !== undefined) bad.add(String(head));
        else if (iss.code === 'unrecognized_keys') for (const k of iss.keys) bad.add(k);
        else fatal = true;
      }
      if (!fatal) r = schema.safeParse(Object.fromEntries(Object.entries(el).filter(([k]) => !bad.has(k))));
    }
    if (r.success) out.push({ i, v: r.data });
  });
  return out;
}

function rawIds(raw: unknown): { i: number; id: string }[] {
  const ids: { i: number; id: string }[] = [];
  if (Array.isArray(raw)) raw.forEach((n: unknown, i) => isRecord(n) && typeof n.id === 'string' && ids.push({ i, id: n.id }));
  return ids;
}

// ---------------------------------------------------------------------------------------------
// Cross-reference checks and resolution

function article(role: Role): string {
  return role === 'sr' ? 'an sr' : `a ${role}`;
}

function quote(s: string): string {
  return JSON.stringify(s);
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

function didYouMean(got: string, candidates: Iterable<string>): string {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(got.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best !== undefined && bestD <= Math.max(1, Math.min(2, Math.floor(got.length / 3)))
    ? ` (did you mean ${quote(best)}?)`
    : '';
}

interface AddrOwner {
  path: Path;
  /** How to name it in a message about another address. */
  name: string;
  auto: boolean;
}

interface Resolved {
  nodes: TopoNode[];
  links: TopoLink[];
  vpns: TopoVpn[];
  groups: TopoGroup[];
  traffic: TrafficDef[];
}

function resolve(parts: Parts, errs: Errors, seed: number): Resolved | undefined {
  // --- nodes
  const nodeById = new Map<string, Indexed<NodeFile>>();
  const routerIds = new Map<number, Path>();
  /**
   * Claims per address, each in its address space: `global` (the provider's and everything not
   * behind a CE of a VPN) or `vpn ID` (a customer LAN). Two VPNs may reuse an address (RFC 4364 §1);
   * a VPN address may not reuse a global one, since a CE routes both in one table.
   */
  const addrOwners = new Map<number, { space: string; owner: AddrOwner }[]>();

  const claimAddress = (addr: number, owner: AddrOwner, shown: string, space = 'global'): void => {
    const claims = addrOwners.get(addr) ?? [];
    const prev = claims.find((c) => c.space === space || c.space === 'global' || space === 'global')?.owner;
    if (!prev) {
      claims.push({ space, owner });
      addrOwners.set(addr, claims);
      return;
    }
    // Report on a written address, never on an automatic one.
    const [at, other] = owner.auto && !prev.auto ? [prev, owner] : [owner, prev];
    const text = at === owner ? shown : formatIpv4(addr);
    errs.add(at.path, `expected an address not used elsewhere, got ${quote(text)} (also ${other.name})`);
  };

  const firstWithId = new Map<string, number>();
  for (const { i, id } of parts.rawNodeIds) {
    const prev = firstWithId.get(id);
    if (prev !== undefined) errs.add(['nodes', i, 'id'], `expected a unique node id, got ${quote(id)} (also nodes[${prev}].id)`);
    else firstWithId.set(id, i);
  }
  const knownIds = new Set(firstWithId.keys());

  for (const n of parts.nodes) {
    const { i, v } = n;
    if (nodeById.has(v.id)) continue; // a duplicate id, reported above
    nodeById.set(v.id, n);
    if (v.trustedSubnets !== undefined && v.role !== 'ce') {
      errs.add(['nodes', i, 'trustedSubnets'], `expected trustedSubnets only on a ce node, got role ${quote(v.role)}`);
    }
    if (v.peAuth !== undefined && v.role !== 'ce') {
      errs.add(['nodes', i, 'peAuth'], `expected peAuth only on a ce node, got role ${quote(v.role)}`);
    }
    if (v.routeReflector !== undefined && v.role !== 'pe' && v.role !== 'p') {
      errs.add(['nodes', i, 'routeReflector'], `expected routeReflector only on a pe or p node, got role ${quote(v.role)}`);
    }
    for (const field of ['policy', 'ike'] as const) {
      if (v[field] !== undefined && v.role !== 'ce' && v.role !== 'host') {
        errs.add(['nodes', i, field], `expected ${field} only on a ce or host node, got role ${quote(v.role)}`);
      }
    }
    if (v.vrfs !== undefined && v.role !== 'pe') {
      errs.add(['nodes', i, 'vrfs'], `expected vrfs only on a pe node, got role ${quote(v.role)}`);
    }
    if (v.routerId !== undefined) {
      const rid = parseIpv4(v.routerId)!;
      const other = routerIds.get(rid);
      if (other) errs.add(['nodes', i, 'routerId'], `expected a unique router id, got ${quote(v.routerId)} (also ${formatPath(other)})`);
      else routerIds.set(rid, ['nodes', i, 'routerId']);
    }
    if (v.loopback !== undefined) {
      const path: Path = ['nodes', i, 'loopback'];
      claimAddress(parseIpv4(v.loopback)!, { path, name: formatPath(path), auto: false }, v.loopback);
    }
  }

  /** Looks a node reference up; reports unknown ids and wrong roles. */
  const ref = (path: Path, id: string, role?: Role): Indexed<NodeFile> | undefined => {
    const n = nodeById.get(id);
    if (!n) {
      if (!knownIds.has(id)) {
        errs.add(path, `expected a node id defined in nodes, got ${quote(id)}${didYouMean(id, knownIds)}`);
      }
      return undefined;
    }
    if (role !== undefined && n.v.role !== role) {
      errs.add(path, `expected ${article(role)} node, got ${quote(id)} (role ${n.v.role})`);
      return undefined;
    }
    return n;
  };

  // --- links
  /** The VPN a CE is a site of (the first that lists it), for its LAN's address space. */
  const vpnOfCe = new Map<string, string>();
  for (const { v } of parts.vpns) for (const site of v.sites) if (!vpnOfCe.has(site)) vpnOfCe.set(site, `vpn ${v.id}`);
  const ifCount = new Map<string, number>();
  const firstAddr = new Map<string, number>();
  const neighbours = new Map<string, Set<string>>();
  const linkIds = new Map<string, number>();
  const links: TopoLink[] = [];

  for (const { i, v } of parts.links) {
    const lp: Path = ['links', i];
    const ends = v.endpoints.map((e, k) =>
      typeof e === 'string'
        ? { node: e, address: undefined, nodePath: [...lp, 'endpoints', k], addrPath: [...lp, 'endpoints', k] }
        : {
            node: e.node,
            address: e.address,
            nodePath: [...lp, 'endpoints', k, 'node'],
            addrPath: [...lp, 'endpoints', k, 'address'],
          },
    );
    const [ea, eb] = ends;
    if (!ea || !eb) continue; // the schema requires exactly two

    const id = v.id ?? `${ea.node}--${eb.node}`;
    const prevLink = linkIds.get(id);
    if (prevLink !== undefined) {
      errs.add(
        v.id !== undefined ? [...lp, 'id'] : lp,
        `expected a unique link id, got ${quote(id)} (also links[${prevLink}]${v.id === undefined ? '; give parallel links an id' : ''})`,
      );
    } else linkIds.set(id, i);

    const na = ref(ea.nodePath, ea.node);
    const nb = ref(eb.nodePath, eb.node);
    // RFC 4364 §1: customers' own address spaces may overlap. A link with no provider node at
    // either end and a CE of a VPN at one end is in that VPN's space; everything else is global.
    const provider = (n: Indexed<NodeFile> | undefined) => n !== undefined && (n.v.role === 'pe' || n.v.role === 'p' || n.v.role === 'sr');
    const vpnOf = (n: Indexed<NodeFile> | undefined) => (n?.v.role === 'ce' ? vpnOfCe.get(n.v.id) : undefined);
    const space = provider(na) || provider(nb) ? 'global' : (vpnOf(na) ?? vpnOf(nb) ?? 'global');
    if (ea.node === eb.node) errs.add([...lp, 'endpoints'], `expected two different nodes, got ${quote(ea.node)} at both ends`);

    // addresses
    let addrA: number;
    let addrB: number;
    let len: number;
    if ((ea.address === undefined) !== (eb.address === undefined)) {
      const only = ea.address !== undefined ? 0 : 1;
      errs.add(
        [...lp, 'endpoints'],
        `expected an address on both endpoints or on neither, got one only on endpoints[${only}] (${ends[only]!.node})`,
      );
      continue;
    }
    if (ea.address !== undefined && eb.address !== undefined) {
      const pa = parseIpv4InterfaceAddress(ea.address)!;
      const pb = parseIpv4InterfaceAddress(eb.address)!;
      for (const [end, p] of [
        [ea, pa],
        [eb, pb],
      ] as const) {
        const host = (p.addr & ~ipv4Mask(p.len)) >>> 0;
        const hostMax = p.len >= 31 ? -1 : (~ipv4Mask(p.len)) >>> 0;
        if (p.len <= 30 && (host === 0 || host === hostMax)) {
          const net = `${formatIpv4((p.addr & ipv4Mask(p.len)) >>> 0)}/${p.len}`;
          errs.add(
            end.addrPath,
            `expected a host address, got ${quote(end.address!)} (the ${host === 0 ? 'network' : 'broadcast'} address of ${net})`,
          );
        }
      }
      const netA = (pa.addr & ipv4Mask(pa.len)) >>> 0;
      if (pa.len !== pb.len || ((pb.addr & ipv4Mask(pb.len)) >>> 0) !== netA) {
        errs.add(eb.addrPath, `expected an address in ${formatIpv4(netA)}/${pa.len} like endpoints[0], got ${quote(eb.address)}`);
      }
      addrA = pa.addr;
      addrB = pb.addr;
      len = pa.len;
      claimAddress(addrA, { path: ea.addrPath, name: formatPath(ea.addrPath), auto: false }, ea.address, space);
      claimAddress(addrB, { path: eb.addrPath, name: formatPath(eb.addrPath), auto: false }, eb.address, space);
    } else {
      if (i >= AUTO_LINK_MAX) {
        errs.add([...lp, 'endpoints'], `expected addresses on links beyond the first ${AUTO_LINK_MAX}, got none`);
        continue;
      }
      const base = (AUTO_LINK_BASE + 4 * i) >>> 0;
      addrA = base + 1;
      addrB = base + 2;
      len = 30;
      claimAddress(addrA, { path: lp, name: `the automatic address of ${formatPath(lp)} endpoints[0]`, auto: true }, '');
      claimAddress(addrB, { path: lp, name: `the automatic address of ${formatPath(lp)} endpoints[1]`, auto: true }, '');
    }

    if (!na || !nb) continue;
    const end = (n: Indexed<NodeFile>, addr: number): LinkEnd => {
      const ifIndex = ifCount.get(n.v.id) ?? 0;
      ifCount.set(n.v.id, ifIndex + 1);
      if (ifIndex === 0) firstAddr.set(n.v.id, addr);
      return { node: n.v.id, nodeIndex: n.i, ifIndex, addr, len };
    };
    const a = end(na, addrA);
    const b = end(nb, addrB);
    for (const [x, y] of [
      [a.node, b.node],
      [b.node, a.node],
    ] as const) {
      const set = neighbours.get(x) ?? new Set<string>();
      set.add(y);
      neighbours.set(x, set);
    }
    const d = parts.linkDefaults;
    links.push({
      index: i,
      id,
      a,
      b,
      latencyUs: parseDurationUs(v.latency ?? d.latency)!,
      jitterUs: parseDurationUs(v.jitter ?? d.jitter)!,
      bandwidthBps: parseRateBps(v.bandwidth ?? d.bandwidth)!,
      loss: parseLoss(v.loss ?? d.loss)!,
      up: v.up,
    });
  }

  // --- nodes, resolved (VRF attachments need the links)
  const nodes: TopoNode[] = [];
  for (const { i, v } of parts.nodes) {
    if (nodeById.get(v.id)?.i !== i) continue; // a duplicate id, reported above
    const vrfNames = new Map<string, number>();
    const attached = new Map<string, number>();
    (v.role === 'pe' ? (v.vrfs ?? []) : []).forEach((vrf, k) => {
      const vp: Path = ['nodes', i, 'vrfs', k];
      const prev = vrfNames.get(vrf.name);
      if (prev !== undefined) {
        errs.add([...vp, 'name'], `expected a unique VRF name on ${quote(v.id)}, got ${quote(vrf.name)} (also vrfs[${prev}])`);
      } else vrfNames.set(vrf.name, k);
      vrf.attachments.forEach((att, j) => {
        const ap: Path = [...vp, 'attachments', j];
        if (!ref(ap, att)) return;
        if (!neighbours.get(v.id)?.has(att)) {
          errs.add(ap, `expected a node linked to ${quote(v.id)}, got ${quote(att)} (no link between them)`);
          return;
        }
        const other = attached.get(att);
        if (other !== undefined) {
          errs.add(ap, `expected each neighbour in one VRF of ${quote(v.id)} only, got ${quote(att)} again (also vrfs[${other}])`);
        } else attached.set(att, k);
      });
    });
    const node: TopoNode = {
      index: i,
      id: v.id,
      role: v.role,
      trustedSubnets: v.role === 'ce' ? [...(v.trustedSubnets ?? [])] : [],
      routeReflector: (v.role === 'pe' || v.role === 'p') && (v.routeReflector ?? false),
      vrfs:
        v.role === 'pe'
          ? (v.vrfs ?? []).map((vrf) => ({
              name: vrf.name,
              rd: vrf.rd,
              importTargets: [...vrf.import],
              exportTargets: [...vrf.export],
              attachments: [...vrf.attachments],
            }))
          : [],
    };
    if (v.label !== undefined) node.label = v.label;
    if (v.site !== undefined) node.site = v.site;
    if (v.asn !== undefined) node.asn = v.asn;
    if (v.routerId !== undefined) node.routerId = parseIpv4(v.routerId)!;
    if (v.loopback !== undefined) node.loopback = parseIpv4(v.loopback)!;
    if (v.position !== undefined) node.position = { x: v.position.x, y: v.position.y };
    if (v.peAuth !== undefined && v.role === 'ce') {
      const a = v.peAuth;
      node.peAuth = { kind: a.kind, key: a.key, peKey: a.peKey ?? a.key, algorithm: a.algorithm, keyId: a.keyId, peKeyId: a.peKeyId ?? a.keyId };
    }
    if (v.role === 'ce' || v.role === 'host') {
      const policy = resolvePolicy(i, v, links, ref, errs);
      if (policy) node.policy = policy;
      if (v.ike !== undefined) {
        const ike = v.ike;
        const lifetimeUs = parseDurationUs(ike.lifetime)!;
        const rekeyUs = parseDurationUs(ike.rekey)!;
        if (rekeyUs >= lifetimeUs) errs.add(['nodes', i, 'ike', 'rekey'], `expected a rekey time shorter than the lifetime (${ike.lifetime}), got ${quote(ike.rekey)}`);
        node.ike = { establish: ike.establish, announce: ike.announce, lifetimeUs, rekeyUs, queueMax: ike.queue, ...(ike.psk !== undefined ? { psk: ike.psk } : {}) };
      }
    }
    nodes.push(node);
  }

  /** A list of node references with a role and no repeats. */
  const refList = (path: Path, ids: readonly string[], role: Role): void => {
    const seen = new Map<string, number>();
    ids.forEach((id, k) => {
      const prev = seen.get(id);
      if (prev !== undefined) {
        errs.add([...path, k], `expected each node once, got ${quote(id)} again (also [${prev}])`);
        return;
      }
      seen.set(id, k);
      ref([...path, k], id, role);
    });
  };

  // --- vpns
  const vpnIds = new Map<string, number>();
  const vpns: TopoVpn[] = [];
  for (const { i, v } of parts.vpns) {
    const prev = vpnIds.get(v.id);
    if (prev !== undefined) errs.add(['vpns', i, 'id'], `expected a unique VPN id, got ${quote(v.id)} (also vpns[${prev}].id)`);
    else vpnIds.set(v.id, i);
    refList(['vpns', i, 'sites'], v.sites, 'ce');
    vpns.push({ id: v.id, routeTarget: v.routeTarget, sites: [...v.sites], ...(v.psk !== undefined ? { psk: v.psk } : {}) });
  }

  // --- groups
  const srNodes = parts.nodes.filter((n) => n.v.role === 'sr' && nodeById.get(n.v.id) === n).map((n) => n.v.id);
  const srUnknown = parts.rawNodeIds.length !== parts.nodes.length; // some nodes failed the schema
  const groupIds = new Map<number, number>();
  const groups: TopoGroup[] = [];
  /** Each resolved group's index in the file. */
  const groupAt: number[] = [];
  for (const { i, v } of parts.groups) {
    const gp: Path = ['groups', i];
    groupAt.push(i);
    const prev = groupIds.get(v.groupId);
    if (prev !== undefined) errs.add([...gp, 'groupId'], `expected a unique group id, got ${v.groupId} (also groups[${prev}].groupId)`);
    else groupIds.set(v.groupId, i);
    let sr = v.sr;
    if (sr !== undefined) ref([...gp, 'sr'], sr, 'sr');
    else if (srNodes.length === 1) sr = srNodes[0];
    else if (srNodes.length > 1 || !srUnknown) {
      errs.add(
        [...gp, 'sr'],
        srNodes.length === 0
          ? 'expected the id of an sr node, got nothing (and the topology has no sr node to default to)'
          : `expected the id of one of the sr nodes ${srNodes.map(quote).join(', ')}, got nothing`,
      );
    }
    refList([...gp, 'members'], v.members, 'ce');
    const schedule: NonNullable<TopoGroup['schedule']> = [];
    for (const [k, ev] of v.schedule.entries()) {
      const sp: Path = [...gp, 'schedule', k];
      const who = ev.join ?? ev.leave;
      if ((ev.join === undefined) === (ev.leave === undefined)) errs.add(sp, 'expected exactly one of join or leave');
      else if (!v.members.includes(who!)) errs.add([...sp, ev.join !== undefined ? 'join' : 'leave'], `expected one of the group's members, got ${quote(who!)}`);
      else schedule.push({ atUs: parseDurationUs(ev.at)!, kind: ev.join !== undefined ? 'join' : 'leave', member: who! });
    }
    schedule.sort((a, b) => a.atUs - b.atUs);
    groups.push({
      ...(v.tekLifetime !== undefined ? { tekLifetimeS: Math.ceil(parseDurationUs(v.tekLifetime)! / 1e6) } : {}),
      ...(v.kekLifetime !== undefined ? { kekLifetimeS: Math.ceil(parseDurationUs(v.kekLifetime)! / 1e6) } : {}),
      ...(schedule.length ? { schedule } : {}),
      groupId: v.groupId,
      name: v.name ?? `group-${v.groupId}`,
      sr: sr ?? '',
      members: [...v.members],
      discovery: v.discovery,
      rekeyOnMembershipChange: v.rekeyOnMembershipChange,
    });
  }

  // Several groups (seed 001): an S/R serves every group naming it and a CE may be a member of
  // several, which is fine; two things cannot run. A member's BGP with its S/Rs is iBGP in the S/R's
  // AS, so the S/Rs of one CE must share an AS; and auto-discovery groups of one S/R tell their
  // routes apart by the route target <S/R AS>:<low 16 bits of the group id>, which must differ.
  const srAsn = (id: string) => {
    const n = nodeById.get(id);
    return n?.v.role === 'sr' ? (n.v.asn ?? 65_535) : undefined;
  };
  const firstAs = new Map<string, { as: number; group: number }>();
  const autoRt = new Map<string, number>();
  groups.forEach((g, gi) => {
    const i = groupAt[gi]!;
    const as = srAsn(g.sr);
    if (as === undefined) return;
    g.members.forEach((m, k) => {
      if (g.members.indexOf(m) !== k) return; // a repeat is reported as such
      const prev = firstAs.get(m);
      if (!prev) firstAs.set(m, { as, group: i });
      else if (prev.as !== as)
        errs.add(['groups', i, 'members', k], `expected the S/R devices of ${quote(m)}'s groups in one AS (its BGP with them is iBGP in their AS), got ${quote(g.sr)} in AS ${as} here and AS ${prev.as} in groups[${prev.group}]`);
    });
    if (g.discovery !== 'auto') return;
    const key = `${g.sr}:${g.groupId & 0xffff}`;
    const other = autoRt.get(key);
    if (other === undefined) autoRt.set(key, gi);
    else errs.add(['groups', i, 'groupId'], `expected auto-discovery groups of one S/R to differ in the low 16 bits of their group id (their route target is <S/R AS>:<those bits>), got ${g.groupId} (groups[${groupAt[other]}].groupId is ${groups[other]!.groupId}, also served by ${quote(g.sr)})`);
  });

  // A CE in several groups files each reflected route under its group by prefix: the same trusted
  // subnet at two other members of its groups (in different groups) would be two routes it cannot tell apart.
  const groupsOfCe = new Map<string, number[]>();
  groups.forEach((g, gi) => g.members.forEach((m) => groupsOfCe.set(m, [...new Set([...(groupsOfCe.get(m) ?? []), gi])])));
  for (const [ce, gis] of groupsOfCe) {
    if (gis.length < 2) continue;
    const owner = new Map<string, { node: string; gi: number }>();
    for (const gi of gis) {
      for (const m of groups[gi]!.members) {
        if (m === ce) continue;
        for (const p of nodeById.get(m)?.v.trustedSubnets ?? []) {
          const o = owner.get(p);
          if (!o) owner.set(p, { node: m, gi });
          else if (o.node !== m && o.gi !== gi) {
            const g = groups[gi]!;
            errs.add(['groups', groupAt[gi]!, 'members', g.members.indexOf(ce)], `expected the members of ${quote(ce)}'s groups to have distinct trusted subnets (it is in several groups), got ${p} at ${quote(m)} here and at ${quote(o.node)} in groups[${groupAt[o.gi]}]`);
          }
        }
      }
    }
  }

  // --- traffic
  const traffic: TrafficDef[] = [];
  for (const { i, v } of parts.traffic) {
    const tp: Path = ['traffic', i];
    const from = ref([...tp, 'from'], v.from, 'host');
    if (from && !ifCount.get(v.from)) {
      errs.add([...tp, 'from'], `expected a host with a link, got ${quote(v.from)} (it has no links)`);
    }
    let to: number | undefined;
    if (IPV4_PATTERN.test(v.to)) to = parseIpv4(v.to);
    else {
      const dst = ref([...tp, 'to'], v.to);
      if (dst) {
        to = dst.v.loopback !== undefined ? parseIpv4(dst.v.loopback) : firstAddr.get(v.to);
        if (to === undefined) {
          errs.add([...tp, 'to'], `expected a node with an address, got ${quote(v.to)} (no loopback and no links)`);
        }
      }
    }
    if (to === undefined) continue;
    if (v.kind === 'ping') {
      traffic.push({
        kind: 'ping',
        index: i,
        from: v.from,
        to,
        toLabel: v.to,
        count: v.count,
        intervalUs: parseDurationUs(v.interval)!,
        startUs: parseDurationUs(v.start)!,
        sizeBytes: v.size,
      });
    } else if (v.kind === 'tcp') {
      traffic.push({
        kind: 'tcp',
        index: i,
        from: v.from,
        to,
        toLabel: v.to,
        bytes: parseSizeBytes(v.bytes)!,
        startUs: parseDurationUs(v.start)!,
        // RFC 6056 §3.3.1: a port from the dynamic range, here drawn from the run's seed (stream of this flow).
        srcPort: v.srcPort ?? TCP_EPHEMERAL_PORT_MIN + rngFor(seed, RNG_STREAM.TRAFFIC_BASE + i).nextInt(TCP_EPHEMERAL_PORT_MAX - TCP_EPHEMERAL_PORT_MIN + 1),
        dstPort: v.dstPort,
      });
    } else {
      traffic.push({
        kind: 'udp',
        index: i,
        from: v.from,
        to,
        toLabel: v.to,
        rateBps: parseRateBps(v.rate)!,
        sizeBytes: v.size,
        startUs: parseDurationUs(v.start)!,
        durationUs: parseDurationUs(v.duration)!,
        srcPort: v.srcPort,
        dstPort: v.dstPort,
      });
    }
  }

  if (errs.count > 0) return undefined;
  return { nodes, links, vpns, groups, traffic };
}

/**
 * A ce's or host's security policy (seed 002 FIG. 3), checked and with default sources: a ce's
 * trusted subnets, a host's own addresses. Undefined when the file gives none.
 */
function resolvePolicy(
  i: number,
  v: NodeFile,
  links: readonly TopoLink[],
  ref: (path: Path, id: string) => Indexed<NodeFile> | undefined,
  errs: Errors,
): TopoPolicyEntry[] | undefined {
  if (v.policy === undefined) return undefined;
  const own = links.flatMap((l) => [l.a, l.b]).filter((e) => e.node === v.id).map((e) => `${formatIpv4(e.addr)}/32`);
  const list = (x: string | string[]) => (typeof x === 'string' ? [x] : [...x]);
  let bgpAt: number | undefined;
  return v.policy.map((e, k) => {
    const ep: Path = ['nodes', i, 'policy', k];
    let source = e.source !== undefined ? list(e.source) : v.role === 'ce' ? [...(v.trustedSubnets ?? [])] : own;
    if (source.length === 0) {
      errs.add([...ep, 'source'], `expected source prefixes (the node has no ${v.role === 'ce' ? 'trustedSubnets' : 'addresses'} to default to), got nothing`);
      source = [];
    }
    const out: TopoPolicyEntry = { action: e.action, source, destination: e.destination === 'bgp' ? 'bgp' : list(e.destination) };
    if (e.destination === 'bgp') {
      if (e.action !== 'protect') errs.add([...ep, 'destination'], `expected prefixes for a ${e.action} entry, got "bgp" (only protect entries take their destinations from BGP)`);
      else if (v.role !== 'ce') errs.add([...ep, 'destination'], `expected prefixes on a host (it speaks no BGP), got "bgp"`);
      else if (bgpAt !== undefined) errs.add([...ep, 'destination'], `expected one entry with destination "bgp" per node, got another (also policy[${bgpAt}])`);
      else bgpAt = k;
      if (e.gateway !== undefined) errs.add([...ep, 'gateway'], `expected no gateway with destination "bgp" (BGP names each gateway), got ${quote(e.gateway)}`);
    } else if (e.action === 'protect') {
      if (e.gateway === undefined) errs.add([...ep, 'gateway'], 'expected the gateway (a ce or host node id, or an IPv4 address) of a protect entry with explicit destinations, got nothing');
    } else {
      if (e.gateway !== undefined) errs.add([...ep, 'gateway'], `expected no gateway on a ${e.action} entry, got ${quote(e.gateway)}`);
      if (e.establish !== undefined) errs.add([...ep, 'establish'], `expected no establish on a ${e.action} entry, got ${quote(e.establish)}`);
    }
    if (e.gateway !== undefined) {
      if (!IPV4_PATTERN.test(e.gateway)) {
        const g = ref([...ep, 'gateway'], e.gateway);
        if (g && g.v.role !== 'ce' && g.v.role !== 'host') errs.add([...ep, 'gateway'], `expected a ce or host node (a security gateway), got ${quote(e.gateway)} (role ${g.v.role})`);
        else if (g && g.v.id === v.id) errs.add([...ep, 'gateway'], `expected another node than ${quote(v.id)} itself, got ${quote(e.gateway)}`);
      }
      out.gateway = e.gateway;
    }
    if (e.establish !== undefined) out.establish = e.establish;
    return out;
  });
}
