// Forward and backward access control (RFC 9838 §3, Appendix A): the GCKS's binary key tree (LKH,
// RFC 2627 §5.4) and the member's working key path. Plain keys in, plain keys out; never wraps or sends.
//
// GCKS: a complete binary tree of fixed capacity; node 1 is the root, node n has children 2n and 2n+1,
// leaves are members. A node has a key while a member sits below it. Every key has its own Key ID
// (a counter, never reused), so a WRAP_KEY names exactly one key version. When a member joins or leaves,
// every key on its path to the root is replaced and each new key is wrapped under the current key of
// each child that has members (bottom-up), so the members under that child can follow; the member that
// left holds none of those keys. The Rekey SA key is then wrapped under the new root key.
//
// Member (RFC 9838 §3.3): the working key path, top (root) to bottom (its own leaf key). A message's
// SA_KEY is followed through WRAP_KEYs to a key of the working path or to GSK_w (KWK ID 0); the new
// keys found on the way replace the top of the working path down to (not including) the key where the
// chain ended. A member that finds no chain for the Rekey SA key has been excluded.

import { assert } from '../../lib/errors.ts';
import type { WrappedKey } from './codec.ts';

export interface TreeKey {
  id: number;
  key: Uint8Array;
}

/** A key to wrap: `key` (ID `keyId`) under `kwk` (ID `kwkId`; 0 = the default KWK of the channel). */
export interface WrapOp {
  keyId: number;
  key: Uint8Array;
  kwkId: number;
  kwk: Uint8Array | undefined;
}

/** Leaves at most (a bound on the tree's memory and on message size: 2·log2 wraps per change). */
export const KEY_TREE_LEAVES_MAX = 1 << 16;

export class KeyTree {
  readonly leaves: number;
  readonly depth: number;
  private readonly keys: (TreeKey | undefined)[];
  private readonly counts: Uint32Array;
  private nextId = 1;

  /** `newKey()` gives fresh random key bytes (randomness comes in from the owner). */
  constructor(
    capacity: number,
    private readonly newKey: () => Uint8Array,
  ) {
    assert(capacity >= 1 && capacity <= KEY_TREE_LEAVES_MAX, `key tree capacity ${capacity}`);
    let n = 2;
    let depth = 1;
    while (n < capacity) {
      n *= 2;
      depth += 1;
    }
    this.leaves = n;
    this.depth = depth;
    this.keys = new Array<TreeKey | undefined>(2 * n).fill(undefined);
    this.counts = new Uint32Array(2 * n);
  }

  get members(): number {
    return this.counts[1]!;
  }

  root(): TreeKey | undefined {
    return this.keys[1];
  }

  /** Node index of leaf slot `i`. */
  private leafNode(i: number): number {
    return this.leaves + i;
  }

  private fresh(node: number): TreeKey {
    assert(this.nextId <= 0xffffffff, 'Key IDs exhausted');
    const k = { id: this.nextId++, key: this.newKey() };
    this.keys[node] = k;
    return k;
  }

  /**
   * Seats a new member. With `refresh` (backward access control) every key on its path is replaced and
   * the wraps carrying the new keys to the members already there are returned; without it the path keys
   * stay and only nodes that had no member get a key. Undefined when the tree is full.
   */
  join(refresh: boolean): { leaf: number; updates: WrapOp[] } | undefined {
    let slot = -1;
    for (let i = 0; i < this.leaves; i++)
      if (this.counts[this.leafNode(i)] === 0) {
        slot = i;
        break;
      }
    if (slot < 0) return undefined;
    const leafNode = this.leafNode(slot);
    for (let n = leafNode; n >= 1; n >>= 1) this.counts[n]! += 1;
    this.fresh(leafNode);
    if (refresh) return { leaf: slot, updates: this.refreshPath(leafNode, true) };
    for (let n = leafNode >> 1; n >= 1; n >>= 1) if (this.keys[n] === undefined) this.fresh(n);
    return { leaf: slot, updates: [] };
  }

  /**
   * Removes a member. With `rekey` the path keys are replaced and the wraps for the remaining members
   * returned; without it the old path keys stay (the member that left still knows them).
   */
  leave(leaf: number, rekey: boolean): WrapOp[] {
    const leafNode = this.leafNode(leaf);
    assert(leaf >= 0 && leaf < this.leaves && this.counts[leafNode] === 1, `leaf ${leaf} is not seated`);
    for (let n = leafNode; n >= 1; n >>= 1) this.counts[n]! -= 1;
    this.keys[leafNode] = undefined;
    if (!rekey) {
      for (let n = leafNode >> 1; n >= 1; n >>= 1) if (this.counts[n] === 0) this.keys[n] = undefined;
      return [];
    }
    return this.refreshPath(leafNode, false);
  }

  /**
   * Replaces every key above `leafNode`, bottom-up, each wrapped under the current key of each child
   * with members — except, on a join, the child on the path while the newcomer is alone under it
   * (it learns its path at registration).
   */
  private refreshPath(leafNode: number, joining: boolean): WrapOp[] {
    const ops: WrapOp[] = [];
    for (let pathChild = leafNode, n = leafNode >> 1; n >= 1; pathChild = n, n >>= 1) {
      if (this.counts[n] === 0) {
        this.keys[n] = undefined;
        continue;
      }
      const k = this.fresh(n);
      for (const c of [2 * n, 2 * n + 1]) {
        const ck = this.keys[c];
        if (ck === undefined || this.counts[c] === 0) continue;
        if (joining && c === pathChild && this.counts[c] === 1) continue;
        ops.push({ keyId: k.id, key: k.key, kwkId: ck.id, kwk: ck.key });
      }
    }
    return ops;
  }

  /**
   * The path of leaf `leaf` for its registration: its own key under the default KWK (KWK ID 0), each
   * ancestor's key under the key of the child on the path. Bottom-up.
   */
  pathWraps(leaf: number): WrapOp[] {
    const leafNode = this.leafNode(leaf);
    const own = this.keys[leafNode];
    assert(own !== undefined, `leaf ${leaf} has no key`);
    const ops: WrapOp[] = [{ keyId: own.id, key: own.key, kwkId: 0, kwk: undefined }];
    for (let c = leafNode, n = leafNode >> 1; n >= 1; c = n, n >>= 1) {
      const k = this.keys[n]!;
      const ck = this.keys[c]!;
      ops.push({ keyId: k.id, key: k.key, kwkId: ck.id, kwk: ck.key });
    }
    return ops;
  }
}

// --- The member side. ---

/** Longest key chain followed in one message (a bound on work; a tree of 2^16 leaves has 17 levels). */
export const KEY_CHAIN_MAX = 32;

export type Unwrap = (kwk: Uint8Array, wrapped: Uint8Array) => Uint8Array | undefined;

export type Resolved = { ok: true; material: Uint8Array; workingPath: TreeKey[] } | { ok: false; code: 'NO_KEY_PATH' | 'UNWRAP_FAILED' };

/**
 * Unwraps one of `candidates` (the same material under different KWKs) using the message's WRAP_KEYs,
 * the working path and `defaultKwk`; returns the material and the working path as it is afterwards.
 */
export function resolveWrapped(candidates: readonly WrappedKey[], wraps: readonly WrappedKey[], workingPath: readonly TreeKey[], defaultKwk: Uint8Array, unwrap: Unwrap): Resolved {
  const byId = new Map<number, WrappedKey[]>();
  for (const w of wraps) byId.set(w.keyId, [...(byId.get(w.keyId) ?? []), w]);
  let unwrapFailed = false;
  const memo = new Map<number, { key: Uint8Array; chain: TreeKey[]; anchor: number } | null>();
  const find = (kwkId: number, depth: number): { key: Uint8Array; chain: TreeKey[]; anchor: number } | undefined => {
    if (kwkId === 0) return { key: defaultKwk, chain: [], anchor: -1 };
    const at = workingPath.findIndex((k) => k.id === kwkId);
    if (at >= 0) return { key: workingPath[at]!.key, chain: [], anchor: at };
    const known = memo.get(kwkId);
    if (known !== undefined) return known ?? undefined;
    memo.set(kwkId, null); // cycles end here
    if (depth >= KEY_CHAIN_MAX) return undefined;
    for (const w of byId.get(kwkId) ?? []) {
      const parent = find(w.kwkId, depth + 1);
      if (!parent) continue;
      const key = unwrap(parent.key, w.wrapped);
      if (!key) {
        unwrapFailed = true;
        continue;
      }
      const found = { key, chain: [{ id: kwkId, key }, ...parent.chain], anchor: parent.anchor };
      memo.set(kwkId, found);
      return found;
    }
    return undefined;
  };
  for (const c of candidates) {
    const via = find(c.kwkId, 0);
    if (!via) continue;
    const material = unwrap(via.key, c.wrapped);
    if (!material) {
      unwrapFailed = true;
      continue;
    }
    // RFC 9838 §3.3: an empty chain changes nothing; a chain from GSK_w becomes the working path;
    // otherwise it replaces the working path above the key it ended at.
    const next = via.chain.length === 0 ? [...workingPath] : via.anchor < 0 ? via.chain : [...via.chain, ...workingPath.slice(via.anchor)];
    if (next.length > KEY_CHAIN_MAX) return { ok: false, code: 'NO_KEY_PATH' };
    return { ok: true, material, workingPath: next };
  }
  return { ok: false, code: unwrapFailed ? 'UNWRAP_FAILED' : 'NO_KEY_PATH' };
}
