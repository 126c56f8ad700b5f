// Labs with automatic checks: the lab file format (a topology + numbered tasks, each a list of
// checks), the pure evaluator of those checks over a LabSnapshot, the report and tap summaries,
// and the tiny frame classifier the checks and the page share. Never runs a lab or reads files:
// callers (the CLI, the page) fetch the topology and the state and hand them in.

import { parseDocument } from 'yaml';
import { z } from 'zod';
import { ipv4Mask, parsePrefix } from '../lib/addr.ts';
import type { LabSnapshot } from './snapshot.ts';
import type { buildReport } from './snapshot.ts';
import { parseDurationUs, DURATION_PATTERN } from './topology/schema.ts';
import { MODES, type Topology } from './topology/types.ts';

// ---------------------------------------------------------------------------------------------
// Frames: what kind a packet on a link is (by IP protocol and ports), for colours and checks.

export const FRAME_KINDS = ['bgp', 'ike', 'gikev2', 'esp', 'icmp', 'ip'] as const;
export type FrameKind = (typeof FRAME_KINDS)[number];

const IPPROTO_ICMP = 1;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
const IPPROTO_ESP = 50;
const PORT_BGP = 179;
const PORT_IKE = 500;
const PORT_IKE_NATT = 4500;
const PORT_GKM = 848;

export interface FrameInfo {
  kind: FrameKind;
  src: number;
  dst: number;
  protocol: number;
  /** IPv4 total length (the header's own field, or the frame length if shorter). */
  length: number;
}

/** Reads the IPv4 header of a raw frame; undefined for anything that is not a whole IPv4 header. */
export function classifyFrame(bytes: Uint8Array): FrameInfo | undefined {
  if (bytes.length < 20 || bytes[0]! >> 4 !== 4) return undefined;
  const ihl = (bytes[0]! & 0x0f) * 4;
  if (ihl < 20 || bytes.length < ihl) return undefined;
  const total = (bytes[2]! << 8) | bytes[3]!;
  const protocol = bytes[9]!;
  const src = ((bytes[12]! << 24) | (bytes[13]! << 16) | (bytes[14]! << 8) | bytes[15]!) >>> 0;
  const dst = ((bytes[16]! << 24) | (bytes[17]! << 16) | (bytes[18]! << 8) | bytes[19]!) >>> 0;
  const fragOffset = ((bytes[6]! & 0x1f) << 8) | bytes[7]!;
  let kind: FrameKind = 'ip';
  const ports = (): [number, number] | undefined =>
    fragOffset === 0 && bytes.length >= ihl + 4 ? [(bytes[ihl]! << 8) | bytes[ihl + 1]!, (bytes[ihl + 2]! << 8) | bytes[ihl + 3]!] : undefined;
  if (protocol === IPPROTO_ESP) kind = 'esp';
  else if (protocol === IPPROTO_ICMP) kind = 'icmp';
  else if (protocol === IPPROTO_TCP) {
    const p = ports();
    if (p && (p[0] === PORT_BGP || p[1] === PORT_BGP)) kind = 'bgp';
  } else if (protocol === IPPROTO_UDP) {
    const p = ports();
    if (p && (p[0] === PORT_GKM || p[1] === PORT_GKM)) kind = 'gikev2';
    else if (p && (p.includes(PORT_IKE) || p.includes(PORT_IKE_NATT))) kind = 'ike';
  }
  return { kind, src, dst, protocol, length: Math.min(total || bytes.length, bytes.length) };
}

/** What the provider sees on one link: frames and bytes by kind, and customer payload in clear. */
export interface TapSummary {
  frames: number;
  bytes: number;
  byKind: Record<FrameKind, { frames: number; bytes: number }>;
  /**
   * Bytes of IPv4 packets that are not ESP and have their source or destination inside a CE's
   * trusted subnet: customer traffic the provider can read.
   */
  clearBytes: number;
  espBytes: number;
}

/** The trusted subnets of every CE of a topology, as [network, mask] pairs. */
export function customerPrefixes(topology: Topology): [number, number][] {
  const out: [number, number][] = [];
  for (const n of topology.nodes) {
    for (const t of n.trustedSubnets) {
      const p = parsePrefix(t);
      if (p && p.family === 4) out.push([p.addr, ipv4Mask(p.len)]);
    }
  }
  return out;
}

export function summarizeTap(frames: readonly Uint8Array[], customer: readonly [number, number][]): TapSummary {
  const byKind = Object.fromEntries(FRAME_KINDS.map((k) => [k, { frames: 0, bytes: 0 }])) as TapSummary['byKind'];
  const inCustomer = (a: number) => customer.some(([net, mask]) => ((a & mask) >>> 0) === net >>> 0);
  let bytes = 0;
  let clearBytes = 0;
  for (const f of frames) {
    bytes += f.length;
    const info = classifyFrame(f);
    const kind = info?.kind ?? 'ip';
    byKind[kind].frames++;
    byKind[kind].bytes += f.length;
    if (info && kind !== 'esp' && (inCustomer(info.src) || inCustomer(info.dst))) clearBytes += info.length;
  }
  return { frames: frames.length, bytes, byKind, clearBytes, espBytes: byKind.esp.bytes };
}

// ---------------------------------------------------------------------------------------------
// The lab file

const id = z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]*$/, { error: 'expected a node id such as "ce-a"' });
const count = z.int({ error: 'expected a whole number >= 0' }).min(0, { error: 'expected a whole number >= 0' });

/** Every check a lab can use. One key per check; the key names the kind. */
export const CheckSchema = z.union(
  [
    z.strictObject({ reaches: z.strictObject({ from: id, to: z.string().min(1), min: count.default(1) }) }).meta({
      description: 'A flow from `from` to `to` (as written in the topology) got at least `min` replies / datagrams through.',
    }),
    z.strictObject({ flowDelivered: z.strictObject({ flow: count, ratio: z.number().min(0).max(1).default(1) }) }).meta({
      description: 'Flow number `flow` (0-based, file order) sent something and delivered at least `ratio` of it.',
    }),
    z.strictObject({ sas: z.strictObject({ node: id, min: count.optional(), max: count.optional() }) }).meta({
      description: 'The node has installed between min and max ESP SAs (distinct SPIs, from its SA export).',
    }),
    z.strictObject({ noSaTo: z.strictObject({ node: id }) }).meta({
      description: 'No node holds an ESP SA whose destination is one of this node\'s addresses, and the node holds none itself.',
    }),
    z.strictObject({ registeredMembers: z.strictObject({ node: id, count: count }) }).meta({
      description: 'The S/R device reports exactly `count` registered members (its `gcks` app: `registered`, `members` as a count, or `members[].state`).',
    }),
    z.strictObject({ bgpEstablished: z.strictObject({ node: id, min: count }) }).meta({
      description: 'The node has at least `min` BGP sessions in state Established.',
    }),
    z.strictObject({ clearBytes: z.strictObject({ link: z.string().min(1), max: count.default(0) }) }).meta({
      description: 'The backbone tap on `link` reads at most `max` bytes of customer traffic in clear (not ESP).',
    }),
    z.strictObject({ espSeen: z.strictObject({ link: z.string().min(1), min: count.default(1) }) }).meta({
      description: 'The tap on `link` has seen at least `min` ESP frames.',
    }),
    z.strictObject({ mode: z.enum(MODES) }).meta({ description: 'The topology runs in this mode.' }),
  ],
  { error: 'expected one check such as { reaches: { from: h-a, to: h-c } }' },
);
export type Check = z.output<typeof CheckSchema>;

const durationText = z.string().regex(DURATION_PATTERN, { error: 'expected a duration such as "12s"' });

export const LabFileSchema = z.strictObject({
  lab: z.string().min(1, { error: 'expected the lab title' }),
  description: z.string().default(''),
  /** A path relative to the lab file, or the topology itself (the mapping a topology file holds). */
  topology: z.union([z.string().min(1), z.record(z.string(), z.unknown())], { error: 'expected a topology path or a topology mapping' }),
  /** How long `vpnlab check` runs before it evaluates. */
  until: durationText.default('10s'),
  tasks: z
    .array(
      z.strictObject({
        title: z.string().min(1),
        hint: z.string().default(''),
        checks: z.array(CheckSchema).min(1, { error: 'a task needs at least one check' }),
      }),
    )
    .min(1, { error: 'a lab needs at least one task' }),
});
export type LabFile = z.output<typeof LabFileSchema>;

export interface LabDef extends LabFile {
  untilUs: number;
}

export type LabParse = { ok: true; lab: LabDef } | { ok: false; errors: { path: string; message: string }[] };

/** Parses and validates a lab file (YAML or JSON). Every error at once, none half-applied. */
export function parseLab(text: string): LabParse {
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length) return { ok: false, errors: doc.errors.map((e) => ({ path: '(root)', message: e.message })) };
  const r = LabFileSchema.safeParse(doc.toJS());
  if (!r.success) {
    return {
      ok: false,
      errors: r.error.issues.map((i) => ({ path: i.path.length ? i.path.map((p, k) => (typeof p === 'number' ? `[${p}]` : `${k ? '.' : ''}${String(p)}`)).join('') : '(root)', message: i.message })),
    };
  }
  return { ok: true, lab: { ...r.data, untilUs: parseDurationUs(r.data.until)! } };
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/** What the checks read: the snapshot, the JSON report, and tap summaries of the links they name. */
export interface LabState {
  topology: Topology;
  snapshot: LabSnapshot;
  report: ReturnType<typeof buildReport>;
  /** By link id; only the links that `clearBytes` / `espSeen` checks name are needed. */
  taps: Record<string, TapSummary>;
}

export interface CheckResult {
  /** The check in words: "h-a reaches h-c". */
  label: string;
  pass: boolean;
  /** What was found: "3 of 5 replies". */
  detail: string;
}

export interface TaskResult {
  number: number;
  title: string;
  pass: boolean;
  checks: CheckResult[];
}

/** The links whose tap summaries a lab's checks need. */
export function tapLinksOf(lab: LabFile): string[] {
  const out = new Set<string>();
  for (const t of lab.tasks) for (const c of t.checks) {
    if ('clearBytes' in c) out.add(c.clearBytes.link);
    if ('espSeen' in c) out.add(c.espSeen.link);
  }
  return [...out];
}

/** Words for a check, before it is evaluated. */
export function describeCheck(c: Check): string {
  if ('reaches' in c) return `${c.reaches.from} reaches ${c.reaches.to}`;
  if ('flowDelivered' in c) return `flow ${c.flowDelivered.flow} delivered${c.flowDelivered.ratio < 1 ? ` (≥ ${Math.round(c.flowDelivered.ratio * 100)}%)` : ''}`;
  if ('sas' in c) {
    const { node, min, max } = c.sas;
    if (min !== undefined && max !== undefined) return min === max ? `${node} has ${min} SA(s)` : `${node} has ${min}–${max} SAs`;
    if (min !== undefined) return `${node} has ≥ ${min} SA(s)`;
    return `${node} has ≤ ${max ?? 0} SA(s)`;
  }
  if ('noSaTo' in c) return `no SA to ${c.noSaTo.node}`;
  if ('registeredMembers' in c) return `${c.registeredMembers.node} has ${c.registeredMembers.count} registered members`;
  if ('bgpEstablished' in c) return `${c.bgpEstablished.node} has ≥ ${c.bgpEstablished.min} BGP session(s) Established`;
  if ('clearBytes' in c) return `backbone tap on ${c.clearBytes.link} reads ${c.clearBytes.max === 0 ? '0' : `≤ ${c.clearBytes.max}`} clear bytes`;
  if ('espSeen' in c) return `ESP seen on ${c.espSeen.link}`;
  return `mode is ${c.mode}`;
}

function distinctSpis(sas: readonly { src: string; dst: string; spi: number }[]): number {
  return new Set(sas.map((s) => `${s.src}|${s.dst}|${s.spi >>> 0}`)).size;
}

function evaluateCheck(c: Check, s: LabState): CheckResult {
  const label = describeCheck(c);
  const res = (pass: boolean, detail: string): CheckResult => ({ label, pass, detail });
  const node = (nid: string) => s.snapshot.nodes.find((n) => n?.id === nid);
  if ('reaches' in c) {
    const { from, to, min } = c.reaches;
    const flows = s.snapshot.flows.filter((f) => f.from === from && f.to === to);
    if (!flows.length) return res(false, `no flow from ${from} to ${to} in the topology`);
    const best = flows.reduce((a, b) => (b.received > a.received ? b : a));
    return res(best.received >= Math.max(1, min), `${best.received} of ${best.sent} ${best.kind === 'ping' ? 'replies' : 'datagrams'} back`);
  }
  if ('flowDelivered' in c) {
    const f = s.snapshot.flows[c.flowDelivered.flow];
    if (!f) return res(false, `no flow ${c.flowDelivered.flow} (the topology has ${s.snapshot.flows.length})`);
    return res(f.sent > 0 && f.received >= c.flowDelivered.ratio * f.sent, `${f.received} of ${f.sent} delivered`);
  }
  if ('sas' in c) {
    const n = node(c.sas.node);
    if (!n) return res(false, `no node ${c.sas.node}`);
    const k = distinctSpis(n.espSas);
    const ok = (c.sas.min === undefined || k >= c.sas.min) && (c.sas.max === undefined || k <= c.sas.max);
    return res(ok, `${k} SA(s) installed`);
  }
  if ('noSaTo' in c) {
    const n = node(c.noSaTo.node);
    if (!n) return res(false, `no node ${c.noSaTo.node}`);
    const addrs = new Set(n.interfaces.map((i) => i.addr.split('/')[0]!));
    const own = distinctSpis(n.espSas);
    const towards = s.snapshot.nodes.filter((m) => m && m.id !== n.id && m.espSas.some((sa) => addrs.has(sa.dst)));
    const parts = [`${n.id} holds ${own} SA(s)`];
    if (towards.length) parts.push(`SAs to it at ${towards.map((m) => m.id).join(', ')}`);
    return res(own === 0 && towards.length === 0, parts.join('; '));
  }
  if ('registeredMembers' in c) {
    const n = node(c.registeredMembers.node);
    if (!n) return res(false, `no node ${c.registeredMembers.node}`);
    const gcks = n.apps['gcks'];
    if (!gcks) return res(false, `${n.id} runs no group key server (no gcks state in its snapshot)`);
    let k: number | undefined;
    if (typeof gcks['registered'] === 'number') k = gcks['registered'];
    else if (typeof gcks['members'] === 'number') k = gcks['members'];
    else if (Array.isArray(gcks['members'])) k = (gcks['members'] as { state?: unknown }[]).filter((m) => m?.state === 'registered').length;
    if (k === undefined) return res(false, `${n.id}'s gcks state has neither 'registered' nor 'members'`);
    return res(k === c.registeredMembers.count, `${k} registered`);
  }
  if ('bgpEstablished' in c) {
    const n = node(c.bgpEstablished.node);
    if (!n) return res(false, `no node ${c.bgpEstablished.node}`);
    const neigh = n.apps['bgp']?.['neighbors'];
    const list = Array.isArray(neigh) ? (neigh as { state?: unknown }[]) : [];
    const k = list.filter((x) => x?.state === 'Established').length;
    return res(k >= c.bgpEstablished.min, `${k} of ${list.length} Established`);
  }
  if ('clearBytes' in c) {
    const t = s.taps[c.clearBytes.link];
    if (!t) return res(false, `no tap summary for link ${c.clearBytes.link}`);
    return res(t.frames > 0 && t.clearBytes <= c.clearBytes.max, t.frames === 0 ? 'the tap has seen no frames yet' : `${t.clearBytes} clear bytes, ${t.espBytes} ESP bytes`);
  }
  if ('espSeen' in c) {
    const t = s.taps[c.espSeen.link];
    if (!t) return res(false, `no tap summary for link ${c.espSeen.link}`);
    return res(t.byKind.esp.frames >= c.espSeen.min, `${t.byKind.esp.frames} ESP frame(s)`);
  }
  return res(s.topology.mode === c.mode, `mode ${s.topology.mode}`);
}

/** Evaluates every task of a lab over one state. Pure: the same state gives the same results. */
export function evaluateLab(lab: LabFile, state: LabState): TaskResult[] {
  return lab.tasks.map((t, i) => {
    const checks = t.checks.map((c) => evaluateCheck(c, state));
    return { number: i + 1, title: t.title, pass: checks.every((c) => c.pass), checks };
  });
}

/**
 * Checks that name a link the topology does not have: the tap of a missing link cannot be read, so
 * the lab cannot run. (A node a task asks the trainee to add is not an error: its check fails.)
 */
export function labReferenceErrors(lab: LabFile, topology: Topology): string[] {
  const links = new Set(topology.links.map((l) => l.id));
  const errs: string[] = [];
  lab.tasks.forEach((t, ti) =>
    t.checks.forEach((c, ci) => {
      const link = 'clearBytes' in c ? c.clearBytes.link : 'espSeen' in c ? c.espSeen.link : undefined;
      if (link !== undefined && !links.has(link)) errs.push(`tasks[${ti}].checks[${ci}]: no link "${link}" (links: ${[...links].join(', ')})`);
    }),
  );
  return errs;
}

function xmlEscape(s: string): string {
  return s.replace(/[<>&"']/g, (ch) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[ch]!);
}

/** JUnit XML: one testsuite for the lab, one testcase per task; a failed task lists its failed checks. */
export function junitXml(lab: LabFile, results: readonly TaskResult[]): string {
  const failures = results.filter((r) => !r.pass).length;
  const cases = results.map((r) => {
    const name = xmlEscape(`task ${r.number}: ${r.title}`);
    if (r.pass) return `    <testcase classname="${xmlEscape(lab.lab)}" name="${name}"/>`;
    const msg = r.checks.filter((c) => !c.pass).map((c) => `${c.label}: ${c.detail}`).join('; ');
    return `    <testcase classname="${xmlEscape(lab.lab)}" name="${name}">\n      <failure message="${xmlEscape(msg)}"/>\n    </testcase>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites tests="${results.length}" failures="${failures}">\n  <testsuite name="${xmlEscape(lab.lab)}" tests="${results.length}" failures="${failures}">\n${cases.join('\n')}\n  </testsuite>\n</testsuites>\n`;
}
