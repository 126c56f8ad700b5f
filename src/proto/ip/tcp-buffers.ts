// The two bounded byte stores of a TCP connection: the send buffer (a ring that grows up to its
// bound) and the out-of-order reassembly queue (RFC 9293 §3.10.7.4 seventh). Never sends or times anything.

import { assert } from '../../lib/errors.ts';
import { seqAdd, seqDiff, seqGe, seqGt, seqLt } from './tcp-seq.ts';

const RING_INITIAL_BYTES = 4096;

/**
 * FIFO of bytes with random-access reads from the head, bounded by `capacityBytes`. Storage starts
 * small and doubles as needed, so an idle connection costs little memory.
 */
export class ByteRing {
  private buf = new Uint8Array(0);
  private head = 0;
  private len = 0;

  constructor(readonly capacityBytes: number) {
    assert(Number.isInteger(capacityBytes) && capacityBytes > 0, `ByteRing: capacity ${capacityBytes}`);
  }

  get length(): number {
    return this.len;
  }

  get freeBytes(): number {
    return this.capacityBytes - this.len;
  }

  /** Appends as much of `bytes` as fits; returns how many were taken. */
  push(bytes: Uint8Array): number {
    const n = Math.min(bytes.length, this.freeBytes);
    if (n === 0) return 0;
    this.reserve(this.len + n);
    const cap = this.buf.length;
    const tail = (this.head + this.len) % cap;
    const first = Math.min(n, cap - tail);
    this.buf.set(bytes.subarray(0, first), tail);
    if (first < n) this.buf.set(bytes.subarray(first, n), 0);
    this.len += n;
    return n;
  }

  /** Drops `n` bytes from the head. */
  drop(n: number): void {
    assert(n >= 0 && n <= this.len, `ByteRing.drop: ${n} of ${this.len}`);
    if (n === 0) return;
    this.head = (this.head + n) % this.buf.length;
    this.len -= n;
    if (this.len === 0) this.head = 0;
  }

  /** A copy of `n` bytes starting `offset` bytes after the head. */
  read(offset: number, n: number): Uint8Array {
    assert(offset >= 0 && n >= 0 && offset + n <= this.len, `ByteRing.read: [${offset}, +${n}) of ${this.len}`);
    const out = new Uint8Array(n);
    if (n === 0) return out;
    const cap = this.buf.length;
    const start = (this.head + offset) % cap;
    const first = Math.min(n, cap - start);
    out.set(this.buf.subarray(start, start + first), 0);
    if (first < n) out.set(this.buf.subarray(0, n - first), first);
    return out;
  }

  private reserve(need: number): void {
    if (need <= this.buf.length) return;
    let cap = Math.max(RING_INITIAL_BYTES, this.buf.length);
    while (cap < need) cap *= 2;
    cap = Math.min(cap, this.capacityBytes);
    const next = new Uint8Array(cap);
    if (this.len > 0) next.set(this.read(0, this.len), 0);
    this.buf = next;
    this.head = 0;
  }
}

interface OooEntry {
  seq: number;
  bytes: Uint8Array;
  /** The peer's FIN follows the last byte of this entry. */
  fin: boolean;
}

/** What `ReassemblyQueue.take` releases: in-order bytes (maybe none) and whether the FIN follows. */
export interface Reassembled {
  chunks: Uint8Array[];
  rcvNxt: number;
  fin: boolean;
}

/**
 * Out-of-order segments waiting for the hole before them to fill, as disjoint ranges sorted by
 * sequence number. Bounded by `entriesMax`; since callers store only in-window bytes and ranges are
 * disjoint, the bytes held never exceed the receive window. When full, the range farthest from
 * RCV.NXT is the one given up (the peer will retransmit it).
 */
export class ReassemblyQueue {
  private entries: OooEntry[] = [];
  /** Segments (or pieces) refused or evicted because the queue was full. */
  dropped = 0;

  constructor(readonly entriesMax: number) {
    assert(Number.isInteger(entriesMax) && entriesMax > 0, `ReassemblyQueue: entriesMax ${entriesMax}`);
  }

  get size(): number {
    return this.entries.length;
  }

  get bytes(): number {
    let n = 0;
    for (const e of this.entries) n += e.bytes.length;
    return n;
  }

  /** Stores [seq, seq + bytes.length) minus what is already held; `fin` marks the FIN after it. */
  insert(seq: number, bytes: Uint8Array, fin: boolean): void {
    let start = seq;
    let rest = bytes;
    const end = seqAdd(seq, bytes.length);
    if (fin) {
      // A FIN fixes the end of the stream: drop held ranges beyond it (a peer contradicting itself).
      this.entries = this.entries.filter((e) => seqLt(e.seq, end));
      const last = this.entries[this.entries.length - 1];
      if (last && seqGt(seqAdd(last.seq, last.bytes.length), end)) last.bytes = last.bytes.subarray(0, seqDiff(end, last.seq));
    }
    const pieces: OooEntry[] = [];
    for (const e of this.entries) {
      if (rest.length === 0) break;
      const eEnd = seqAdd(e.seq, e.bytes.length);
      if (seqGe(e.seq, seqAdd(start, rest.length))) break;
      if (seqGe(start, eEnd)) continue;
      // Overlap: keep the part before e, skip what e covers.
      if (seqLt(start, e.seq)) pieces.push({ seq: start, bytes: rest.subarray(0, seqDiff(e.seq, start)), fin: false });
      const skip = Math.min(rest.length, seqDiff(eEnd, start));
      rest = rest.subarray(skip);
      start = seqAdd(start, skip);
    }
    if (rest.length > 0) pieces.push({ seq: start, bytes: rest, fin: false });
    if (fin) {
      const last = pieces[pieces.length - 1];
      if (last && seqAdd(last.seq, last.bytes.length) === end) last.fin = true;
      else {
        // The bytes before the FIN were all held already: mark the entry that ends there, or keep a bare FIN.
        const holder = this.entries.find((e) => seqAdd(e.seq, e.bytes.length) === end);
        if (holder) holder.fin = true;
        else pieces.push({ seq: end, bytes: new Uint8Array(0), fin: true });
      }
    }
    for (const p of pieces) this.add({ seq: p.seq, bytes: p.bytes.slice(), fin: p.fin });
  }

  private add(p: OooEntry): void {
    let i = this.entries.length;
    while (i > 0 && seqGt(this.entries[i - 1]!.seq, p.seq)) i--;
    if (this.entries.length >= this.entriesMax) {
      if (i === this.entries.length) {
        this.dropped++;
        return;
      }
      this.entries.pop();
      this.dropped++;
    }
    this.entries.splice(i, 0, p);
  }

  /** Releases the ranges that now continue RCV.NXT, in order, and the new RCV.NXT (FIN not counted). */
  take(rcvNxt: number): Reassembled {
    const chunks: Uint8Array[] = [];
    let next = rcvNxt;
    let fin = false;
    while (this.entries.length > 0) {
      const e = this.entries[0]!;
      if (seqGt(e.seq, next)) break;
      this.entries.shift();
      const eEnd = seqAdd(e.seq, e.bytes.length);
      if (seqGt(eEnd, next)) {
        chunks.push(e.bytes.subarray(seqDiff(next, e.seq)));
        next = eEnd;
      }
      if (e.fin && eEnd === next) {
        fin = true;
        this.entries = [];
        break;
      }
    }
    return { chunks, rcvNxt: next, fin };
  }

  clear(): void {
    this.entries = [];
  }
}
