// The topology editor's state: the file being edited as plain data (what a topology file holds),
// validated as a whole by the same loader and zod schema as files before any change is kept, with
// undo / redo. Edits that fail validation are refused with their errors (by path), nothing changed.
// Never runs a lab; the page hands the accepted text to the session.
import { parse, stringify } from 'yaml';
import { loadTopology, type TopologyError } from '../sim/topology/load.ts';
import type { TopologyFileInput } from '../sim/topology/schema.ts';
import { MODES, type Mode, type Role } from '../sim/topology/types.ts';
import { autoLayout } from './layout.ts';

export type Doc = TopologyFileInput & Record<string, unknown>;
type NodeDoc = Doc['nodes'][number] & Record<string, unknown>;
type LinkDoc = NonNullable<Doc['links']>[number];

/** Undo entries kept at most. */
const HISTORY_MAX = 200;

interface Entry {
  doc: Doc;
  /** False when only positions changed (the run goes on; nothing to restart). */
  structural: boolean;
}

export type CommitResult = { ok: true } | { ok: false; errors: TopologyError[] };

export class TopologyEditor {
  doc = $state.raw<Doc | undefined>(undefined);
  #undo = $state.raw<Entry[]>([]);
  #redo = $state.raw<Entry[]>([]);
  readonly canUndo = $derived(this.#undo.length > 0);
  readonly canRedo = $derived(this.#redo.length > 0);
  /** Called with the accepted file text after every change that needs the run restarted. */
  onapply: (text: string) => void = () => {};

  /** Starts editing a file's text (positions filled in by automatic layout when missing); history cleared. */
  open(text: string): CommitResult {
    let raw: unknown;
    try {
      raw = parse(text);
    } catch (e) {
      return { ok: false, errors: [{ path: '(root)', message: (e as Error).message }] };
    }
    const r = loadTopology(text);
    if (!r.ok) return r;
    const doc = raw as Doc;
    this.doc = withPositions(doc);
    this.#undo = [];
    this.#redo = [];
    return { ok: true };
  }

  /** An empty topology to draw from nothing. */
  blank(name = 'New topology'): void {
    this.doc = { name, mode: 'l3vpn', seed: 1, nodes: [{ id: 'h1', role: 'host', position: { x: 0, y: 0 } }], links: [] };
    this.#undo = [];
    this.#redo = [];
    this.onapply(this.text());
  }

  text(): string {
    return this.doc ? stringify(this.doc, { lineWidth: 0 }) : '';
  }

  /** Applies `change` to a copy; keeps it only if the whole file still loads. */
  commit(change: (d: Doc) => void, structural = true): CommitResult {
    if (!this.doc) return { ok: false, errors: [{ path: '(root)', message: 'no topology open' }] };
    const next = structuredClone($state.snapshot(this.doc)) as Doc;
    try {
      change(next);
    } catch (e) {
      return { ok: false, errors: [{ path: '(root)', message: (e as Error).message }] };
    }
    const r = loadTopology(JSON.stringify(next), { format: 'json' });
    if (!r.ok) return r;
    this.#undo = [...this.#undo, { doc: this.doc, structural }].slice(-HISTORY_MAX);
    this.#redo = [];
    this.doc = next;
    if (structural) this.onapply(this.text());
    return { ok: true };
  }

  undo(): void {
    const e = this.#undo[this.#undo.length - 1];
    if (!e || !this.doc) return;
    this.#undo = this.#undo.slice(0, -1);
    this.#redo = [...this.#redo, { doc: this.doc, structural: e.structural }];
    this.doc = e.doc;
    if (e.structural) this.onapply(this.text());
  }

  redo(): void {
    const e = this.#redo[this.#redo.length - 1];
    if (!e || !this.doc) return;
    this.#redo = this.#redo.slice(0, -1);
    this.#undo = [...this.#undo, { doc: this.doc, structural: e.structural }];
    this.doc = e.doc;
    if (e.structural) this.onapply(this.text());
  }

  // --- edits -------------------------------------------------------------------------------------

  /** A fresh id for a role: h1, ce1, pe1, … skipping ids in use. */
  freshId(role: Role): string {
    const used = new Set(this.doc?.nodes.map((n) => n.id));
    const stem = role === 'host' ? 'h' : role;
    for (let i = 1; ; i++) if (!used.has(`${stem}${i}`)) return `${stem}${i}`;
  }

  addNode(role: Role, at: { x: number; y: number }): CommitResult & { id?: string } {
    const id = this.freshId(role);
    const r = this.commit((d) => {
      const n: NodeDoc = { id, role, position: { x: Math.round(at.x), y: Math.round(at.y) } };
      d.nodes.push(n);
    });
    return r.ok ? { ...r, id } : r;
  }

  removeNode(id: string): CommitResult {
    return this.commit((d) => {
      d.nodes = d.nodes.filter((n) => n.id !== id);
      d.links = (d.links ?? []).filter((l) => !endpointIds(l).includes(id));
      for (const n of d.nodes) for (const v of n.vrfs ?? []) if (v.attachments) v.attachments = v.attachments.filter((a) => a !== id);
      for (const v of d.vpns ?? []) v.sites = v.sites.filter((s) => s !== id);
      d.vpns = (d.vpns ?? []).filter((v) => v.sites.length > 0);
      for (const g of d.groups ?? []) g.members = (g.members ?? []).filter((m) => m !== id);
      d.groups = (d.groups ?? []).filter((g) => g.sr !== id);
      d.traffic = (d.traffic ?? []).filter((t) => t.from !== id && t.to !== id);
    });
  }

  connect(a: string, b: string): CommitResult {
    if (a === b) return { ok: false, errors: [{ path: 'links', message: 'a link joins two different nodes' }] };
    return this.commit((d) => {
      d.links = [...(d.links ?? []), { endpoints: [a, b] }];
    });
  }

  removeLink(index: number): CommitResult {
    return this.commit((d) => {
      d.links = (d.links ?? []).filter((_, i) => i !== index);
    });
  }

  /** Replaces a node's settings (the form's values); `id` renames references too. */
  updateNode(oldId: string, fields: Record<string, unknown>): CommitResult {
    return this.commit((d) => {
      const i = d.nodes.findIndex((n) => n.id === oldId);
      if (i < 0) throw new Error(`no node ${oldId}`);
      const cur = d.nodes[i] as NodeDoc;
      const next: NodeDoc = { ...cur };
      for (const [k, v] of Object.entries(fields)) {
        if (v === undefined || v === '' || (Array.isArray(v) && v.length === 0 && !(k in cur))) delete next[k];
        else next[k] = v;
      }
      d.nodes[i] = next;
      const newId = next.id;
      if (newId !== oldId) renameNode(d, oldId, newId);
    });
  }

  updateLink(index: number, fields: Partial<Record<'latency' | 'loss' | 'bandwidth' | 'jitter', string>>): CommitResult {
    return this.commit((d) => {
      const l = d.links?.[index];
      if (!l) throw new Error(`no link ${index}`);
      const rec = l as Record<string, unknown>;
      for (const [k, v] of Object.entries(fields)) {
        if (v === undefined || v === '') delete rec[k];
        else rec[k] = k === 'loss' && /^\d+(\.\d+)?$/.test(v) ? Number(v) : v;
      }
    });
  }

  setMode(mode: Mode): CommitResult {
    if (!(MODES as readonly string[]).includes(mode)) return { ok: false, errors: [{ path: 'mode', message: `unknown mode ${mode}` }] };
    return this.commit((d) => {
      d.mode = mode;
    });
  }

  /** Group membership of a CE (groups by index). */
  setMember(groupIndex: number, id: string, member: boolean): CommitResult {
    return this.commit((d) => {
      const g = d.groups?.[groupIndex];
      if (!g) throw new Error(`no group ${groupIndex}`);
      const m = (g.members ?? []).filter((x) => x !== id);
      if (member) m.push(id);
      g.members = m;
    });
  }

  /** Moves a node; `final` records one undo entry for the whole drag. */
  move(id: string, x: number, y: number, final: boolean): void {
    if (!this.doc) return;
    const place = (d: Doc) => {
      const n = d.nodes.find((k) => k.id === id);
      if (n) n.position = { x: Math.round(x), y: Math.round(y) };
    };
    if (!final) {
      const next = structuredClone($state.snapshot(this.doc)) as Doc;
      place(next);
      this.#dragBase ??= this.doc;
      this.doc = next;
      return;
    }
    const base = this.#dragBase ?? this.doc;
    this.#dragBase = undefined;
    const next = structuredClone($state.snapshot(this.doc)) as Doc;
    place(next);
    this.#undo = [...this.#undo, { doc: base, structural: false }].slice(-HISTORY_MAX);
    this.#redo = [];
    this.doc = next;
  }
  #dragBase: Doc | undefined;
}

function endpointIds(l: LinkDoc): string[] {
  return (l.endpoints as unknown[]).map((e) => (typeof e === 'string' ? e : (e as { node: string }).node));
}

function renameNode(d: Doc, from: string, to: string): void {
  const r = (x: string) => (x === from ? to : x);
  for (const l of d.links ?? []) {
    l.endpoints = (l.endpoints as unknown[]).map((e) => (typeof e === 'string' ? r(e) : { ...(e as object), node: r((e as { node: string }).node) })) as typeof l.endpoints;
  }
  for (const n of d.nodes) for (const v of n.vrfs ?? []) if (v.attachments) v.attachments = v.attachments.map(r);
  for (const v of d.vpns ?? []) v.sites = v.sites.map(r);
  for (const g of d.groups ?? []) {
    if (g.sr !== undefined) g.sr = r(g.sr);
    if (g.members) g.members = g.members.map(r);
  }
  for (const t of d.traffic ?? []) {
    t.from = r(t.from);
    if (t.to !== undefined) t.to = r(t.to);
  }
}

/** Fills in every node's position by automatic layout when any is missing. */
function withPositions(doc: Doc): Doc {
  if (doc.nodes.every((n) => n.position)) return doc;
  const pts = autoLayout(doc.nodes.map((n) => ({ id: n.id, role: n.role as Role })), (doc.links ?? []).map((l) => endpointIds(l) as [string, string]));
  return { ...doc, nodes: doc.nodes.map((n, i) => ({ ...n, position: pts[i]! })) };
}
