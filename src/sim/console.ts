// The node console's command interpreter: parses what an engineer types (Cisco/FRR style, unique
// prefixes accepted), answers `show` commands from the node's snapshot and turns acting commands
// into Lab API calls for the caller to make. Pure: it reads snapshots, never runs anything itself.

import { parseIpv4 } from '../lib/addr.ts';
import type { NodeCommand } from '../lib/sans-io.ts';
import type { NodeSnapshot, ProbeAnswer, RuntimeFlowReport, RuntimePingReport, RuntimeTracerouteReport } from '../node/types.ts';
import type { LabSnapshot } from './snapshot.ts';
import type { Topology } from './topology/types.ts';

export interface ConsoleContext {
  topology: Topology;
  snapshot: LabSnapshot;
  /** Index of the node in topology.nodes (and snapshot.nodes). */
  nodeIndex: number;
}

/** What the caller must do through the Lab API after a command. */
export type ConsoleAction = { kind: 'node-command'; nodeIndex: number; command: NodeCommand } | { kind: 'link-up'; linkIndex: number; up: boolean };

export interface ConsoleState {
  /** The interface selected with `interface NAME` (for `shutdown` / `no shutdown`). */
  interface?: string;
}

/**
 * A run-time flow the caller should keep printing as virtual time runs on: the first one of `kind`
 * to `dst` on the node with an id above `afterId` (see followOutput).
 */
export interface ConsoleFollow {
  kind: 'ping' | 'traceroute';
  nodeIndex: number;
  dst: string;
  afterId: number;
}

export interface ConsoleResult {
  output: string;
  actions: ConsoleAction[];
  state: ConsoleState;
  /** The command was not understood or cannot run. */
  error: boolean;
  /** Results that arrive later (ping, traceroute): print followOutput(follow, snapshot) as time runs. */
  follow?: ConsoleFollow;
}

interface Command {
  words: string[];
  /** Words from this index on may be left out. */
  optionalFrom?: number;
  /** Options (`keyword value` pairs) accepted after the words, in any order. */
  options?: string[];
  help: string;
  run(args: Record<string, string>, ctx: ConsoleContext, state: ConsoleState, options: string[]): Omit<ConsoleResult, 'state'> & { state?: ConsoleState };
}

const ok = (output: string, actions: ConsoleAction[] = []) => ({ output, actions, error: false });
const fail = (output: string) => ({ output: output.startsWith('%') ? output : `% ${output}`, actions: [], error: true });

// --- snapshot readers (the shapes apps report; tolerant of what is missing) ----------------------

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));

function node(ctx: ConsoleContext): NodeSnapshot {
  const n = ctx.snapshot.nodes[ctx.nodeIndex];
  if (!n) throw new RangeError(`no node ${ctx.nodeIndex} in the snapshot`);
  return n;
}

export interface BgpRouteRow {
  nlri: string;
  nextHop: string;
  from: string;
  best: boolean;
  gateway?: string;
}

function routes(v: unknown): BgpRouteRow[] {
  return arr(v)
    .filter(isRec)
    .map((r) => ({ nlri: str(r.nlri), nextHop: str(r.nextHop), from: str(r.from), best: r.best === true, ...(r.gateway !== undefined ? { gateway: str(r.gateway) } : {}) }));
}

function bgp(ctx: ConsoleContext): Rec | undefined {
  const b = node(ctx).apps.bgp;
  return isRec(b) ? b : undefined;
}

function interfaceName(ifIndex: number): string {
  return `eth${ifIndex}`;
}

/** Names an interface accepts: `eth1`, `1`, or the neighbour's id. */
function findInterface(n: NodeSnapshot, name: string): number | undefined {
  const lower = name.toLowerCase();
  const i = n.interfaces.find((x) => interfaceName(x.ifIndex) === lower || String(x.ifIndex) === lower || x.peer.toLowerCase() === lower);
  return i?.ifIndex;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

// --- show commands ----------------------------------------------------------------------------

function showBgpSummary(ctx: ConsoleContext) {
  const b = bgp(ctx);
  if (!b) return fail('BGP is not running on this node');
  const rib = isRec(b.rib) ? b.rib : {};
  const adj = isRec(rib.adjRibIn) ? rib.adjRibIn : {};
  const lines = [`BGP router identifier ${str(b.routerId)}, local AS number ${str(b.localAs)}`];
  const loc = isRec(rib.locRib) ? rib.locRib : {};
  for (const [fam, list] of Object.entries(loc)) lines.push(`${fam}: ${routes(list).length} Loc-RIB entries`);
  lines.push('');
  const sum = (m: unknown) => (isRec(m) ? Object.values(m).reduce<number>((a, x) => a + (typeof x === 'number' ? x : 0), 0) : 0);
  const rows = arr(b.neighbors)
    .filter(isRec)
    .map((nb) => {
      const stats = isRec(nb.stats) ? nb.stats : {};
      const state = str(nb.state);
      const pfx = state === 'Established' ? String(routes(adj[str(nb.name)]).length) : state;
      return [str(nb.peer), '4', str(nb.peerAs), String(sum(stats.messagesReceived)), String(sum(stats.messagesSent)), str(nb.name), pfx];
    });
  lines.push(table(['Neighbor', 'V', 'AS', 'MsgRcvd', 'MsgSent', 'Name', 'State/PfxRcd'], rows));
  lines.push('', `Total number of neighbors ${rows.length}`);
  return ok(lines.join('\n'));
}

const STATUS_LEGEND = 'Status codes: * valid, > best; From: the neighbour (or VRF) the route came from';

function routeTable(list: BgpRouteRow[], withGateway: boolean): string[][] {
  return list.map((r) => [`*${r.best ? '>' : ' '}`, r.nlri, r.nextHop, ...(withGateway ? [r.gateway ?? ''] : []), r.from]);
}

function showBgpVpnv4(ctx: ConsoleContext) {
  const b = bgp(ctx);
  if (!b) return fail('BGP is not running on this node');
  const rib = isRec(b.rib) ? b.rib : {};
  const loc = isRec(rib.locRib) ? rib.locRib : {};
  const list = routes(loc['vpn-ipv4']);
  const lines = [`BGP table for VPNv4 unicast, local router ID is ${str(b.routerId)}`, STATUS_LEGEND, ''];
  if (!list.length) return ok([...lines, 'No VPNv4 routes in the Loc-RIB.'].join('\n'));
  // Group by Route Distinguisher: the NLRI reads RD:prefix (the RD holds one colon).
  const byRd = new Map<string, BgpRouteRow[]>();
  for (const r of list) {
    const cut = r.nlri.lastIndexOf(':');
    const rd = cut > 0 ? r.nlri.slice(0, cut) : '';
    const row = { ...r, nlri: cut > 0 ? r.nlri.slice(cut + 1) : r.nlri };
    byRd.set(rd, [...(byRd.get(rd) ?? []), row]);
  }
  const gw = list.some((r) => r.gateway !== undefined);
  const rows: string[][] = [];
  for (const [rd, rs] of byRd) {
    rows.push(['', `Route Distinguisher: ${rd}`, '', ...(gw ? [''] : []), '']);
    rows.push(...routeTable(rs, gw));
  }
  lines.push(table(['', 'Network', 'Next Hop', ...(gw ? ['Gateway (SGI)'] : []), 'From'], rows));
  lines.push('', `Displayed ${list.length} routes`);
  return ok(lines.join('\n'));
}

function showBgpIpv4(ctx: ConsoleContext) {
  const b = bgp(ctx);
  if (!b) return fail('BGP is not running on this node');
  const rib = isRec(b.rib) ? b.rib : {};
  const loc = isRec(rib.locRib) ? rib.locRib : {};
  const list = routes(loc['ipv4-unicast']);
  const gw = list.some((r) => r.gateway !== undefined);
  const lines = [`BGP table for IPv4 unicast, local router ID is ${str(b.routerId)}`, STATUS_LEGEND, ''];
  if (!list.length) return ok([...lines, 'No IPv4 routes in the Loc-RIB.'].join('\n'));
  lines.push(table(['', 'Network', 'Next Hop', ...(gw ? ['Gateway (SGI)'] : []), 'From'], routeTable(list, gw)));
  lines.push('', `Displayed ${list.length} routes`);
  return ok(lines.join('\n'));
}

function networkOf(addr: string): string {
  const [ip, lenText] = addr.split('/');
  const len = Number(lenText);
  const parts = (ip ?? '').split('.').map(Number);
  if (parts.length !== 4 || !Number.isInteger(len)) return addr;
  const v = ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  const net = (v & mask) >>> 0;
  return `${net >>> 24}.${(net >>> 16) & 255}.${(net >>> 8) & 255}.${net & 255}/${len}`;
}

function showIpRoute(ctx: ConsoleContext, vrf: string | undefined) {
  const n = node(ctx);
  const b = bgp(ctx);
  const rib = b && isRec(b.rib) ? b.rib : {};
  const lines = ['Codes: C - connected, B - BGP, > - selected route', ''];
  if (vrf !== undefined) {
    const vrfs = isRec(rib.vrfs) ? rib.vrfs : {};
    if (!(vrf in vrfs)) return fail(`VRF ${vrf} does not exist${Object.keys(vrfs).length ? ` (VRFs: ${Object.keys(vrfs).join(', ')})` : ''}`);
    lines[1] = `Routing Table: VRF ${vrf}`;
    lines.push('');
    for (const r of routes(vrfs[vrf])) lines.push(`B${r.best ? '>' : ' '} ${r.nlri.padEnd(18)} via ${r.nextHop}${r.from.startsWith('import') ? ` (${r.from})` : `, ${r.from}`}`);
    if (lines.length === 3) lines.push('(no routes)');
    return ok(lines.join('\n'));
  }
  for (const i of n.interfaces) lines.push(`C> ${networkOf(i.addr).padEnd(18)} is directly connected, ${interfaceName(i.ifIndex)} (to ${i.peer})${i.up ? '' : ' [down]'}`);
  const loc = isRec(rib.locRib) ? rib.locRib : {};
  for (const r of routes(loc['ipv4-unicast'])) if (r.from !== 'local') lines.push(`B${r.best ? '>' : ' '} ${r.nlri.padEnd(18)} via ${r.nextHop}, ${r.from}`);
  lines.push('', `${n.routes} routes in the forwarding table (static and connected routes are not listed in the snapshot)`);
  return ok(lines.join('\n'));
}

function showInterfaces(ctx: ConsoleContext, name: string | undefined) {
  const n = node(ctx);
  let list = n.interfaces;
  if (name !== undefined) {
    const i = findInterface(n, name);
    if (i === undefined) return fail(`no interface ${name} (interfaces: ${n.interfaces.map((x) => interfaceName(x.ifIndex)).join(', ')})`);
    list = n.interfaces.filter((x) => x.ifIndex === i);
  }
  const lines: string[] = [];
  for (const i of list) {
    lines.push(`${interfaceName(i.ifIndex)} is ${i.up ? 'up' : 'administratively down'}, line protocol is ${i.up ? 'up' : 'down'}`);
    lines.push(`  Description: link to ${i.peer}`, `  Internet address is ${i.addr}`);
    lines.push(`  ${i.rxFrames} packets input, ${i.rxBytes} bytes`, `  ${i.txFrames} packets output, ${i.txBytes} bytes`);
  }
  if (name === undefined) {
    lines.push('', 'Node counters:');
    for (const [k, v] of Object.entries(n.counters)) lines.push(`  ${k.padEnd(20)} ${v}`);
  }
  return ok(lines.join('\n'));
}

/** One SPD row with seed 002 FIG. 3's columns, read from whatever the IPsec app reports. */
export interface SpdRow {
  name: string;
  destination: string;
  source: string;
  action: string;
  gateway: string;
  establish: string;
  origin: string;
}

const pick = (r: Rec, ...paths: string[]): string => {
  for (const p of paths) {
    let v: unknown = r;
    for (const k of p.split('.')) v = isRec(v) ? v[k] : undefined;
    if (v !== undefined && v !== null && v !== '') return isRec(v) ? str(v.kind ?? JSON.stringify(v)) : str(v);
  }
  return '';
};

export function spdRows(spd: unknown): SpdRow[] {
  return arr(spd).map((e) => {
    if (typeof e === 'string') {
      // Mesh mode reports names like "ce-a-ce-b:10.1.0.0/24>10.2.0.0/24" (name:source>destination).
      const m = /^(.*):(\S+)>(\S+)$/.exec(e);
      return { name: m ? m[1]! : e, source: m ? m[2]! : '', destination: m ? m[3]! : '', action: '', gateway: '', establish: '', origin: '' };
    }
    const r = isRec(e) ? e : {};
    return {
      name: pick(r, 'name'),
      destination: pick(r, 'destination', 'remote', 'selectors.remote', 'dst'),
      source: pick(r, 'source', 'local', 'selectors.local', 'src'),
      action: pick(r, 'action.kind', 'action'),
      gateway: pick(r, 'gateway', 'tunnelRemote', 'action.tunnelRemote', 'peer'),
      establish: pick(r, 'establish', 'action.template.establish', 'template.establish'),
      origin: pick(r, 'origin'),
    };
  });
}

const SPD_HEADER = ['#', 'Destination', 'Source', 'Action', 'Gateway (tunnel end)', 'Establish', 'Origin', 'Name'];

function showSpd(ctx: ConsoleContext) {
  const ipsec = node(ctx).apps.ipsec;
  if (!isRec(ipsec)) return fail('no IPsec on this node: the SPD is empty');
  const rows = spdRows(ipsec.spd);
  if (!rows.length) return ok('SPD is empty');
  return ok(['Security Policy Database (seed 002 FIG. 3 columns)', '', table(SPD_HEADER, rows.map((r, i) => [`#${i + 1}`, r.destination, r.source, r.action, r.gateway, r.establish, r.origin, r.name]))].join('\n'));
}

function showIpsecSa(ctx: ConsoleContext) {
  const n = node(ctx);
  const ipsec = n.apps.ipsec;
  if (!isRec(ipsec) && !n.espSas.length) return fail('no IPsec SAs on this node');
  const lines: string[] = [];
  for (const sa of arr(isRec(ipsec) ? ipsec.sas : []).filter(isRec)) {
    lines.push(`tunnel: ${pick(sa, 'tunnel', 'name')}`);
    for (const dir of ['outbound', 'inbound'] as const) {
      const d = isRec(sa[dir]) ? (sa[dir] as Rec) : {};
      const extra = Object.entries(d)
        .filter(([k]) => !['packets', 'bytes', 'seq'].includes(k))
        .map(([k, v]) => `${k} ${str(v)}`);
      lines.push(`   ${dir} esp sa: #pkts ${dir === 'outbound' ? 'encaps' : 'decaps'}: ${str(d.packets)}, bytes: ${str(d.bytes)}, ${dir === 'outbound' ? 'last seq sent' : 'highest seq received'}: ${str(d.seq)}${extra.length ? `, ${extra.join(', ')}` : ''}`);
    }
    const rest = Object.entries(sa).filter(([k]) => !['tunnel', 'name', 'outbound', 'inbound'].includes(k));
    for (const [k, v] of rest) lines.push(`   ${k}: ${str(v)}`);
  }
  if (isRec(ipsec) && isRec(ipsec.counters)) {
    const c = ipsec.counters;
    lines.push('', `protected ${str(c.protected)}, delivered ${str(c.delivered)}, discarded ${str(c.discarded)}${isRec(c.drops) && Object.keys(c.drops).length ? `, drops ${str(c.drops)}` : ''}`);
  }
  if (n.espSas.length) {
    lines.push('', 'ESP SAs installed (outer addresses, SPI, suite):');
    lines.push(table(['  src', 'dst', 'SPI', 'suite'], n.espSas.map((s) => [`  ${s.src}`, s.dst, `0x${(s.spi >>> 0).toString(16).padStart(8, '0')}`, s.suite])));
  }
  return ok(lines.join('\n') || 'no SAs');
}

/** Renders any snapshot value as indented `key: value` lines (for shapes this console does not know). */
export function renderTree(v: unknown, indent = ''): string[] {
  if (Array.isArray(v)) {
    if (!v.length) return [`${indent}(none)`];
    return v.flatMap((x, i) => (isRec(x) || Array.isArray(x) ? [`${indent}[${i}]`, ...renderTree(x, `${indent}  `)] : [`${indent}- ${str(x)}`]));
  }
  if (isRec(v)) {
    return Object.entries(v).flatMap(([k, x]) => (isRec(x) || Array.isArray(x) ? [`${indent}${k}:`, ...renderTree(x, `${indent}  `)] : [`${indent}${k}: ${str(x)}`]));
  }
  return [`${indent}${str(v)}`];
}

/** The apps that hold a node's group security association: the member (`gkm` on a CE; `member` in
 * older snapshots), the GCKS on the S/R, and the group data plane that uses its TEKs. */
const GSA_APPS: readonly [string, string][] = [
  ['gkm', 'Group member (G-IKEv2)'],
  ['member', 'Group member'],
  ['gcks', 'Group Controller/Key Server (GCKS)'],
  ['group-esp', 'Group data plane (ESP on the TEKs)'],
];

function showGsa(ctx: ConsoleContext) {
  const n = node(ctx);
  const parts: string[] = [];
  for (const [app, title] of GSA_APPS) {
    const a = n.apps[app];
    if (!isRec(a)) continue;
    parts.push(title);
    // SPIs as the rest of the console prints them (the member reports its outbound SPI as a number).
    parts.push(...renderTree(typeof a.outboundSpi === 'number' ? { ...a, outboundSpi: `0x${(a.outboundSpi >>> 0).toString(16).padStart(8, '0')}` } : a, '  '));
  }
  // Only the group's own apps count: a data plane without a member or a GCKS holds no GSA.
  if (!GSA_APPS.slice(0, 3).some(([app]) => isRec(n.apps[app]))) return fail(`no group security association on ${n.id} (no G-IKEv2 member or GCKS here in mode ${ctx.topology.mode})`);
  // Every group the node serves or belongs to (an S/R may serve several, a CE be in several).
  const groups = ctx.topology.groups.filter((g) => g.sr === n.id || g.members.includes(n.id));
  parts.unshift(...groups.map((g) => `Group ${g.groupId} (${g.name}), GCKS ${g.sr}, ${g.members.length} members, discovery ${g.discovery}`));
  return ok(parts.join('\n'));
}

// --- acting commands ---------------------------------------------------------------------------

function ifAction(ctx: ConsoleContext, state: ConsoleState, name: string | undefined, up: boolean) {
  const n = node(ctx);
  const which = name ?? state.interface;
  if (which === undefined) return fail(`${up ? 'no shutdown' : 'shutdown'}: name an interface (\`interface eth0\` first, or \`${up ? 'no shutdown' : 'shutdown'} eth0\`)`);
  const i = findInterface(n, which);
  if (i === undefined) return fail(`no interface ${which}`);
  return ok(`${interfaceName(i)} (to ${n.interfaces.find((x) => x.ifIndex === i)!.peer}): ${up ? 'no shutdown' : 'shutdown'}`, [{ kind: 'node-command', nodeIndex: ctx.nodeIndex, command: { kind: 'interface-up', ifIndex: i, up } }]);
}

/** A destination as typed: a dotted quad, or a node's id (its first interface address). */
function resolveAddress(ctx: ConsoleContext, text: string): string | undefined {
  if (parseIpv4(text) !== undefined) return text;
  const n = ctx.snapshot.nodes.find((x) => x.id.toLowerCase() === text.toLowerCase());
  const addr = n?.interfaces[0]?.addr.split('/')[0];
  return addr !== undefined && parseIpv4(addr) !== undefined ? addr : undefined;
}

/** `keyword value` pairs after a command; integers only. */
function parseOptions(options: string[], allowed: Record<string, [min: number, max: number]>): Record<string, number> | string {
  const out: Record<string, number> = {};
  for (let i = 0; i < options.length; i += 2) {
    const word = options[i]!.toLowerCase();
    const key = Object.keys(allowed).find((k) => k.startsWith(word));
    if (key === undefined) return `unknown option ${options[i]} (options: ${Object.keys(allowed).join(', ')})`;
    const text = options[i + 1];
    const v = Number(text);
    const [min, max] = allowed[key]!;
    if (text === undefined || !Number.isInteger(v) || v < min || v > max) return `${key} needs a whole number ${min}..${max}`;
    out[key] = v;
  }
  return out;
}

function lastRuntimeId(n: NodeSnapshot): number {
  return (n.runtimeFlows ?? []).reduce((m, f) => Math.max(m, f.id), 0);
}

export const PING_DEFAULTS = { count: 5, size: 56, intervalS: 1 };
export const TRACEROUTE_MAX_HOPS = 30;

function ping(ctx: ConsoleContext, dstText: string, options: string[]) {
  const n = node(ctx);
  const dst = resolveAddress(ctx, dstText);
  if (dst === undefined) return fail(`ping: unknown host ${dstText}`);
  const o = parseOptions(options, { count: [1, 1000], size: [0, 65_507], interval: [1, 60] });
  if (typeof o === 'string') return fail(`ping: ${o}`);
  const command: NodeCommand = { kind: 'ping', dst, count: o.count ?? PING_DEFAULTS.count, sizeBytes: o.size ?? PING_DEFAULTS.size, intervalUs: (o.interval ?? PING_DEFAULTS.intervalS) * 1_000_000 };
  return {
    ...ok(`Sending ${command.count} ICMP echo requests to ${dst}${dst !== dstText ? ` (${dstText})` : ''}; the replies come as virtual time runs.`, [{ kind: 'node-command', nodeIndex: ctx.nodeIndex, command }]),
    follow: { kind: 'ping' as const, nodeIndex: ctx.nodeIndex, dst, afterId: lastRuntimeId(n) },
  };
}

function traceroute(ctx: ConsoleContext, dstText: string, options: string[]) {
  const n = node(ctx);
  const dst = resolveAddress(ctx, dstText);
  if (dst === undefined) return fail(`traceroute: unknown host ${dstText}`);
  const o = parseOptions(options, { 'max-hops': [1, 64] });
  if (typeof o === 'string') return fail(`traceroute: ${o}`);
  const command: NodeCommand = { kind: 'traceroute', dst, maxHops: o['max-hops'] ?? TRACEROUTE_MAX_HOPS };
  return {
    ...ok(`Tracing the route to ${dst}${dst !== dstText ? ` (${dstText})` : ''}; the hops come as virtual time runs.`, [{ kind: 'node-command', nodeIndex: ctx.nodeIndex, command }]),
    follow: { kind: 'traceroute' as const, nodeIndex: ctx.nodeIndex, dst, afterId: lastRuntimeId(n) },
  };
}

function clearBgp(ctx: ConsoleContext, neighbor: string | undefined) {
  const b = bgp(ctx);
  if (!b) return fail('BGP is not running on this node');
  const all = arr(b.neighbors).filter(isRec);
  const which = neighbor === undefined || neighbor === '*' ? all : all.filter((x) => str(x.name) === neighbor || str(x.peer) === neighbor);
  if (!which.length) return fail(`clear bgp: no neighbour ${neighbor} (neighbours: ${all.map((x) => `${str(x.name)} ${str(x.peer)}`).join(', ')})`);
  const command: NodeCommand = neighbor === undefined || neighbor === '*' ? { kind: 'clear-bgp' } : { kind: 'clear-bgp', neighbor };
  const names = which.map((x) => `${str(x.name)} (${str(x.peer)})`).join(', ');
  return ok(`Resetting BGP with ${names}: Cease NOTIFICATION, Administrative Reset (RFC 4486); the session restarts. Watch it with \`show bgp summary\`.`, [{ kind: 'node-command', nodeIndex: ctx.nodeIndex, command }]);
}

// --- run-time flow output (ping, traceroute) ---------------------------------------------------

const ms = (us: number) => (us / 1000).toFixed(3);

const ANSWER_TEXT: Record<ProbeAnswer, string> = {
  'time-exceeded': 'Time to live exceeded',
  'port-unreachable': 'Destination Port Unreachable',
  'net-unreachable': 'Destination Net Unreachable',
  'host-unreachable': 'Destination Host Unreachable',
  unreachable: 'Destination Unreachable',
};

/** The lines `ping` prints for a run-time ping so far (iputils style); they only ever grow. */
export function pingLines(p: RuntimePingReport): string[] {
  if (p.error !== undefined) return [`% ping ${p.dst}: ${p.error}`];
  const lines = [`PING ${p.dst} from ${p.src}: ${p.sizeBytes} data bytes`];
  for (const e of p.events) {
    if (e.kind === 'reply') lines.push(`${e.bytes} bytes from ${e.from}: icmp_seq=${e.seq} ttl=${e.ttl} time=${ms(e.rttUs)} ms`);
    else lines.push(`From ${e.from} icmp_seq=${e.seq} ${ANSWER_TEXT[e.kind]}`);
  }
  if (p.done) {
    const errors = p.events.filter((e) => e.kind !== 'reply').length;
    lines.push('', `--- ${p.dst} ping statistics ---`);
    lines.push(`${p.sent} packets transmitted, ${p.received} received${errors ? `, +${errors} errors` : ''}, ${p.sent ? Math.round((100 * (p.sent - p.received)) / p.sent) : 0}% packet loss`);
    if (p.rttMinUs !== undefined) lines.push(`rtt min/avg/max = ${ms(p.rttMinUs)}/${ms(p.rttAvgUs!)}/${ms(p.rttMaxUs!)} ms`);
  }
  return lines;
}

const MARK: Partial<Record<ProbeAnswer, string>> = { 'net-unreachable': ' !N', 'host-unreachable': ' !H', unreachable: ' !X' };

/** The lines `traceroute` prints so far: a hop's line once all its probes are in; they only ever grow. */
export function tracerouteLines(t: RuntimeTracerouteReport): string[] {
  if (t.error !== undefined) return [`% traceroute ${t.dst}: ${t.error}`];
  const lines = [`traceroute to ${t.dst} from ${t.src}, ${t.maxHops} hops max, ${32 + 8 + 20} byte packets`];
  for (const h of t.hops) {
    if (h.probes.length < 3 && !t.done) break;
    let line = `${String(h.ttl).padStart(2)} `;
    let last: string | undefined;
    for (const p of h.probes) {
      if (p.from === undefined) {
        line += ' *';
        continue;
      }
      if (p.from !== last) line += ` ${p.from} `;
      last = p.from;
      line += ` ${ms(p.rttUs ?? 0)} ms${MARK[p.answer!] ?? (p.answer === 'port-unreachable' && p.from !== t.dst ? ' !P' : '')}`;
    }
    lines.push(line);
  }
  if (t.done && !t.reached && t.hops.length >= t.maxHops) lines.push(`(${t.dst} not reached in ${t.maxHops} hops)`);
  return lines;
}

export function runtimeFlowLines(f: RuntimeFlowReport): string[] {
  return f.kind === 'ping' ? pingLines(f) : tracerouteLines(f);
}

/**
 * What a followed ping or traceroute has printed so far in `snapshot`, and whether it is over;
 * undefined while the node has not started it yet (the command is still on its way).
 */
export function followOutput(follow: ConsoleFollow, snapshot: LabSnapshot): { lines: string[]; done: boolean } | undefined {
  const f = snapshot.nodes[follow.nodeIndex]?.runtimeFlows?.find((x) => x.kind === follow.kind && x.dst === follow.dst && x.id > follow.afterId);
  return f ? { lines: runtimeFlowLines(f), done: f.done } : undefined;
}

function showRuntime(ctx: ConsoleContext, kind: 'ping' | 'traceroute') {
  const list = (node(ctx).runtimeFlows ?? []).filter((f) => f.kind === kind);
  const f = list[list.length - 1];
  if (!f) return fail(`no ${kind} has run on this node (type \`${kind} ADDRESS\`)`);
  return ok([...runtimeFlowLines(f), ...(f.done ? [] : ['(still running: results so far)'])].join('\n'));
}

// --- the command table -------------------------------------------------------------------------

const COMMANDS: Command[] = [
  { words: ['show', 'bgp', 'summary'], help: 'BGP neighbours, their state and prefixes received', run: (_, c) => showBgpSummary(c) },
  { words: ['show', 'bgp', 'vpnv4', 'unicast'], help: 'VPNv4 Loc-RIB by route distinguisher', run: (_, c) => showBgpVpnv4(c) },
  { words: ['show', 'bgp', 'ipv4', 'unicast'], help: 'IPv4 unicast Loc-RIB', run: (_, c) => showBgpIpv4(c) },
  { words: ['show', 'ip', 'bgp'], help: 'IPv4 unicast Loc-RIB', run: (_, c) => showBgpIpv4(c) },
  { words: ['show', 'ip', 'route', 'vrf', '<vrf>'], optionalFrom: 3, help: 'routing table (of a VRF)', run: (a, c) => showIpRoute(c, a.vrf) },
  { words: ['show', 'crypto', 'ipsec', 'sa'], help: 'IPsec SAs: packets, bytes, sequence numbers', run: (_, c) => showIpsecSa(c) },
  { words: ['show', 'crypto', 'gsa'], help: 'group security association (member or GCKS)', run: (_, c) => showGsa(c) },
  { words: ['show', 'spd'], help: 'security policy database', run: (_, c) => showSpd(c) },
  { words: ['show', 'interfaces', '<if>'], optionalFrom: 2, help: 'interfaces and counters', run: (a, c) => showInterfaces(c, a.if) },
  { words: ['show', 'ping'], help: 'the last ping run from this console', run: (_, c) => showRuntime(c, 'ping') },
  { words: ['show', 'traceroute'], help: 'the last traceroute run from this console', run: (_, c) => showRuntime(c, 'traceroute') },
  { words: ['ping', '<addr>'], options: ['count', 'size', 'interval'], help: 'ping an address or node [count N] [size BYTES] [interval S]', run: (a, c, _, o) => ping(c, a.addr!, o) },
  { words: ['traceroute', '<addr>'], options: ['max-hops'], help: 'trace the path to an address or node [max-hops N]', run: (a, c, _, o) => traceroute(c, a.addr!, o) },
  { words: ['clear', 'bgp', '<neighbor>'], optionalFrom: 2, help: 'reset BGP sessions (all, *, or a neighbour)', run: (a, c) => clearBgp(c, a.neighbor) },
  {
    words: ['interface', '<if>'],
    help: 'select an interface for shutdown / no shutdown',
    run: (a, c) => {
      const i = findInterface(node(c), a.if!);
      if (i === undefined) return fail(`no interface ${a.if}`);
      return { ...ok(''), state: { interface: interfaceName(i) } };
    },
  },
  { words: ['shutdown', '<if>'], optionalFrom: 1, help: 'take an interface down', run: (a, c, s) => ifAction(c, s, a.if, false) },
  { words: ['no', 'shutdown', '<if>'], optionalFrom: 2, help: 'bring an interface up', run: (a, c, s) => ifAction(c, s, a.if, true) },
  { words: ['exit'], help: 'leave interface mode', run: () => ({ ...ok(''), state: {} }) },
  { words: ['help'], help: 'this list', run: () => ok(helpText()) },
];

function helpText(): string {
  return COMMANDS.map((c) => `  ${c.words.map((w, i) => (c.optionalFrom !== undefined && i >= c.optionalFrom ? `[${w}]` : w)).join(' ').padEnd(38)} ${c.help}`).join('\n');
}

function placeholderValues(ph: string, ctx: ConsoleContext): string[] {
  const n = ctx.snapshot.nodes[ctx.nodeIndex];
  if (!n) return [];
  if (ph === '<if>') return n.interfaces.map((i) => interfaceName(i.ifIndex));
  if (ph === '<vrf>') {
    const b = n.apps.bgp;
    const rib = isRec(b) && isRec(b.rib) ? b.rib : {};
    return isRec(rib.vrfs) ? Object.keys(rib.vrfs) : [];
  }
  if (ph === '<neighbor>') return ['*', ...arr(isRec(n.apps.bgp) ? n.apps.bgp.neighbors : []).filter(isRec).map((x) => str(x.name))];
  return [];
}

const isPlaceholder = (w: string) => w.startsWith('<');

/** Does `tokens` match the first tokens.length words of `c` (keywords by prefix)? */
function prefixMatches(c: Command, tokens: string[]): boolean {
  if (tokens.length > c.words.length && !c.options) return false;
  return tokens.slice(0, c.words.length).every((t, i) => isPlaceholder(c.words[i]!) || c.words[i]!.startsWith(t.toLowerCase()));
}

function tokenize(line: string): string[] {
  return line.trim().split(/\s+/).filter(Boolean);
}

/** Runs one line against the node. Never throws for anything typed. */
export function runCommand(line: string, ctx: ConsoleContext, state: ConsoleState = {}): ConsoleResult {
  const tokens = tokenize(line);
  if (!tokens.length) return { output: '', actions: [], state, error: false };
  if (tokens[0] === '?') tokens[0] = 'help';
  if (!ctx.snapshot.nodes[ctx.nodeIndex]) return { ...fail(`no node ${ctx.nodeIndex}`), state };
  let candidates = COMMANDS.filter((c) => prefixMatches(c, tokens));
  if (!candidates.length) return { ...fail(`Invalid input: "${line.trim()}" (type help)`), state };
  // Keywords typed in full win over longer keywords they prefix.
  for (let i = 0; i < tokens.length && candidates.length > 1; i++) {
    const exact = candidates.filter((c) => c.words[i] === tokens[i]!.toLowerCase());
    if (exact.length) candidates = exact;
  }
  const heads = new Set(candidates.map((c) => c.words.slice(0, tokens.length).join(' ')));
  if (heads.size > 1) return { ...fail(`Ambiguous command: "${line.trim()}" could be ${[...heads].join(', ')}`), state };
  // Optional words come all together or not at all (`show ip route` or `show ip route vrf NAME`).
  const complete = candidates.filter((c) => tokens.length === c.words.length || tokens.length === c.optionalFrom || (c.options !== undefined && tokens.length > c.words.length));
  if (!complete.length) {
    const next = [...new Set(candidates.map((c) => c.words[tokens.length]).filter((w): w is string => w !== undefined))];
    return { ...fail(`Incomplete command: "${line.trim()}"; next: ${next.join(' | ')}`), state };
  }
  const cmd = complete[0]!;
  const args: Record<string, string> = {};
  tokens.slice(0, cmd.words.length).forEach((t, i) => {
    const w = cmd.words[i]!;
    if (isPlaceholder(w)) args[w.slice(1, -1)] = t;
  });
  try {
    const r = cmd.run(args, ctx, state, tokens.slice(cmd.words.length));
    return { output: r.output, actions: r.actions, error: r.error, state: r.state ?? state, ...(r.follow ? { follow: r.follow } : {}) };
  } catch (e) {
    return { ...fail(`internal error: ${e instanceof Error ? e.message : String(e)}`), state };
  }
}

export interface Completion {
  /** The line with its last word completed as far as it is unambiguous. */
  line: string;
  /** Every word that could come next (shown when more than one). */
  options: string[];
}

/** Tab completion of the last word of `line`. */
export function complete(line: string, ctx: ConsoleContext): Completion {
  const tokens = tokenize(line);
  const partial = /\s$/.test(line) || !line.trim() ? '' : (tokens.pop() ?? '');
  const options = new Set<string>();
  for (const c of COMMANDS) {
    if (!prefixMatches(c, tokens)) continue;
    if (tokens.length >= c.words.length) {
      // Option keywords, where a keyword (not its value) comes next.
      if (c.options && (tokens.length - c.words.length) % 2 === 0) for (const o of c.options) if (o.startsWith(partial.toLowerCase())) options.add(o);
      continue;
    }
    const w = c.words[tokens.length]!;
    const values = isPlaceholder(w) ? placeholderValues(w, ctx) : [w];
    for (const v of values) if (v.toLowerCase().startsWith(partial.toLowerCase())) options.add(v);
  }
  const list = [...options].sort();
  const head = line.slice(0, line.length - partial.length);
  if (list.length === 1) return { line: `${head}${list[0]} `, options: list };
  if (!list.length) return { line, options: [] };
  let common = list[0]!;
  for (const o of list) while (!o.startsWith(common)) common = common.slice(0, -1);
  return { line: common.length > partial.length ? `${head}${common}` : line, options: list };
}

/** The prompt Cisco shows: `ce-a#` or `ce-a(config-if eth1)#`. */
export function prompt(nodeId: string, state: ConsoleState): string {
  return state.interface ? `${nodeId}(config-if ${state.interface})# ` : `${nodeId}# `;
}
