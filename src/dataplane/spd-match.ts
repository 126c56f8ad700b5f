// SPD matching on the data path: longest-prefix match on the destination (any LpmTable engine),
// then each candidate entry's source-prefix, protocol and port checks. Pure; owns no SPD state
// beyond the compiled copy of the entries it is given (the SPD itself lives in proto/ipsec).
//
// Semantics (the linear-scan oracle in the tests implements exactly this): among the entries whose
// selectors all match the packet, the one with the longest destination prefix wins; entries with
// the same destination prefix are tried in SPD order. So the matcher takes the longest destination
// prefix present in the SPD, checks its entries in order, and if none matches falls back to the next
// shorter destination prefix that covers it, and so on.

import { LPM_NO_MATCH, ipv6ToWords, type LpmTable } from './lpm.ts';

/** An inclusive port range. */
export interface PortRange {
  from: number;
  to: number;
}

/** An address prefix of the table's family (number for IPv4, 16 bytes for IPv6). */
export interface SpdPrefix<A> {
  prefix: A;
  len: number;
}

/** One SPD entry's selectors and the index of its action (PROTECT with an SA, BYPASS, DISCARD …). */
export interface SpdMatchEntry<A> {
  dst: SpdPrefix<A>;
  src: SpdPrefix<A>;
  /** IP protocol number (6 TCP, 17 UDP, 50 ESP …) or 'any'. */
  protocol: number | 'any';
  srcPorts: PortRange | 'any';
  dstPorts: PortRange | 'any';
  action: number;
}

/** The fields of a packet that SPD selectors look at. Ports are 0 for protocols without ports. */
export interface SpdPacket<A> {
  src: A;
  dst: A;
  protocol: number;
  srcPort: number;
  dstPort: number;
}

/** Batch input: parallel arrays, one element per packet (IPv6 addresses as 4 words, see lpm.ts). */
export interface SpdPacketBatch {
  dst: Uint32Array;
  src: Uint32Array;
  protocol: Uint8Array;
  srcPort: Uint16Array;
  dstPort: Uint16Array;
}

const ANY = -1;

function checkPrefix(family: 4 | 6, p: SpdPrefix<number | Uint8Array>, what: string): void {
  const max = family === 4 ? 32 : 128;
  if (!Number.isInteger(p.len) || p.len < 0 || p.len > max) throw new RangeError(`SpdMatcher: ${what} length ${p.len} is not in 0..${max}`);
  if (family === 4 ? typeof p.prefix !== 'number' : !(p.prefix instanceof Uint8Array && p.prefix.length === 16)) {
    throw new RangeError(`SpdMatcher: ${what} prefix is not an IPv${family} address`);
  }
}

function checkPorts(r: PortRange | 'any', what: string): void {
  if (r === 'any') return;
  if (!(Number.isInteger(r.from) && Number.isInteger(r.to) && r.from >= 0 && r.to <= 0xffff && r.from <= r.to)) {
    throw new RangeError(`SpdMatcher: ${what} range ${r.from}-${r.to} is not within 0-65535`);
  }
}

/** Network mask words for `len` bits over `words` words. */
function maskWords(len: number, words: number): Uint32Array {
  const m = new Uint32Array(words);
  for (let i = 0; i < words; i++) {
    const bits = Math.max(0, Math.min(32, len - 32 * i));
    m[i] = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  }
  return m;
}

/**
 * Compiled SPD selectors over an LPM table of destination prefixes. The table's value for a
 * destination prefix is its group: the entries sharing it, in SPD order, and the group of the next
 * shorter destination prefix in the SPD covering it.
 */
export class SpdMatcher<A extends number | Uint8Array> {
  readonly #table: LpmTable<A>;
  readonly #w: number;
  /** Per entry: source prefix words and mask words (w each), protocol, port bounds, action. */
  #srcNet = new Uint32Array(0);
  #srcMask = new Uint32Array(0);
  #proto = new Int16Array(0);
  #ports = new Uint16Array(0); // srcFrom, srcTo, dstFrom, dstTo per entry
  #action = new Uint32Array(0);
  /** Per group: its entries' indices (into the arrays above) and its parent group or -1. */
  #groupEntries: Uint32Array[] = [];
  #groupParent = new Int32Array(0);

  /** Builds the matcher into `table` (emptied first; the matcher owns it from now on). */
  constructor(table: LpmTable<A>, entries: readonly SpdMatchEntry<A>[]) {
    this.#table = table;
    this.#w = table.wordsPerAddr;
    this.setEntries(entries);
  }

  /** Number of distinct destination prefixes (groups). */
  get groups(): number {
    return this.#groupEntries.length;
  }

  /** Replaces the SPD (entries in SPD order). */
  setEntries(entries: readonly SpdMatchEntry<A>[]): void {
    const family = this.#table.family;
    const w = this.#w;
    const n = entries.length;
    this.#srcNet = new Uint32Array(n * w);
    this.#srcMask = new Uint32Array(n * w);
    this.#proto = new Int16Array(n);
    this.#ports = new Uint16Array(n * 4);
    this.#action = new Uint32Array(n);
    const keyOf = (words: Uint32Array, len: number): string => `${Array.from(words).join('.')}/${len}`;
    const groupOf = new Map<string, number>();
    const groups: { words: Uint32Array; len: number; members: number[] }[] = [];
    entries.forEach((e, i) => {
      checkPrefix(family, e.dst, 'destination');
      checkPrefix(family, e.src, 'source');
      checkPorts(e.srcPorts, 'source port');
      checkPorts(e.dstPorts, 'destination port');
      if (e.protocol !== 'any' && !(Number.isInteger(e.protocol) && e.protocol >= 0 && e.protocol <= 255)) {
        throw new RangeError(`SpdMatcher: protocol ${String(e.protocol)} is not 0-255 or 'any'`);
      }
      if (!(Number.isInteger(e.action) && e.action >= 0 && e.action <= 0xfffffffe)) throw new RangeError(`SpdMatcher: action ${e.action} is not an index`);
      const srcMask = maskWords(e.src.len, w);
      const srcWords = this.#words(e.src.prefix);
      for (let j = 0; j < w; j++) {
        this.#srcMask[i * w + j] = srcMask[j]!;
        this.#srcNet[i * w + j] = (srcWords[j]! & srcMask[j]!) >>> 0;
      }
      this.#proto[i] = e.protocol === 'any' ? ANY : e.protocol;
      this.#ports.set(
        [e.srcPorts === 'any' ? 0 : e.srcPorts.from, e.srcPorts === 'any' ? 0xffff : e.srcPorts.to,
         e.dstPorts === 'any' ? 0 : e.dstPorts.from, e.dstPorts === 'any' ? 0xffff : e.dstPorts.to],
        i * 4,
      );
      this.#action[i] = e.action;
      const dstMask = maskWords(e.dst.len, w);
      const dstWords = this.#words(e.dst.prefix).map((x, j) => (x & dstMask[j]!) >>> 0);
      const key = keyOf(dstWords, e.dst.len);
      let g = groupOf.get(key);
      if (g === undefined) {
        g = groups.length;
        groupOf.set(key, g);
        groups.push({ words: dstWords, len: e.dst.len, members: [] });
      }
      groups[g]!.members.push(i);
    });
    this.#groupEntries = groups.map((g) => Uint32Array.from(g.members));
    this.#groupParent = new Int32Array(groups.length).fill(-1);
    groups.forEach((g, gi) => {
      for (let len = g.len - 1; len >= 0; len--) {
        const m = maskWords(len, w);
        const parent = groupOf.get(keyOf(g.words.map((x, j) => (x & m[j]!) >>> 0), len));
        if (parent !== undefined) {
          this.#groupParent[gi] = parent;
          break;
        }
      }
    });
    this.#table.build(groups.map((g, gi) => ({ prefix: this.#addrOf(g.words), len: g.len, value: gi })));
  }

  #words(a: A): Uint32Array {
    const out = new Uint32Array(this.#w);
    if (typeof a === 'number') out[0] = a;
    else ipv6ToWords(a, out);
    return out;
  }

  #addrOf(words: Uint32Array): A {
    if (this.#w === 1) return words[0]! as A;
    const out = new Uint8Array(16);
    words.forEach((x, i) => {
      out[4 * i] = x >>> 24;
      out[4 * i + 1] = (x >>> 16) & 0xff;
      out[4 * i + 2] = (x >>> 8) & 0xff;
      out[4 * i + 3] = x & 0xff;
    });
    return out as A;
  }

  /** The first entry of group chain `g` matching the packet (source at src[at..at+w)), or -1. */
  #scan(g: number, src: Uint32Array, at: number, protocol: number, srcPort: number, dstPort: number): number {
    const w = this.#w;
    for (; g >= 0; g = this.#groupParent[g]!) {
      const members = this.#groupEntries[g]!;
      for (let k = 0; k < members.length; k++) {
        const i = members[k]!;
        const p = this.#proto[i]!;
        if (p !== ANY && p !== protocol) continue;
        const q = i * 4;
        if (srcPort < this.#ports[q]! || srcPort > this.#ports[q + 1]! || dstPort < this.#ports[q + 2]! || dstPort > this.#ports[q + 3]!) continue;
        let ok = true;
        for (let j = 0; j < w; j++) {
          if (((src[at + j]! & this.#srcMask[i * w + j]!) >>> 0) !== this.#srcNet[i * w + j]) {
            ok = false;
            break;
          }
        }
        if (ok) return i;
      }
    }
    return -1;
  }

  /** Index (SPD position) of the entry selecting this packet, or undefined. */
  matchEntry(pkt: SpdPacket<A>): number | undefined {
    const g = this.#table.lookup(pkt.dst);
    if (g === undefined) return undefined;
    const i = this.#scan(g, this.#words(pkt.src), 0, pkt.protocol, pkt.srcPort, pkt.dstPort);
    return i < 0 ? undefined : i;
  }

  /** Action index of the entry selecting this packet, or undefined (RFC 4301: then discard). */
  match(pkt: SpdPacket<A>): number | undefined {
    const i = this.matchEntry(pkt);
    return i === undefined ? undefined : this.#action[i];
  }

  /**
   * For each packet of the batch, the action index of its entry or LPM_NO_MATCH, into `out`.
   * One batched LPM over all destinations, then the selector checks.
   */
  matchBatch(batch: SpdPacketBatch, out: Uint32Array): void {
    const n = batch.protocol.length;
    const w = this.#w;
    if (batch.dst.length !== n * w || batch.src.length !== n * w || batch.srcPort.length !== n || batch.dstPort.length !== n || out.length < n) {
      throw new RangeError('SpdMatcher.matchBatch: arrays disagree on the number of packets');
    }
    const groups = out.subarray(0, n);
    this.#table.lookupBatch(batch.dst, groups);
    for (let k = 0; k < n; k++) {
      const g = groups[k]!;
      const i = g === LPM_NO_MATCH ? -1 : this.#scan(g, batch.src, k * w, batch.protocol[k]!, batch.srcPort[k]!, batch.dstPort[k]!);
      out[k] = i < 0 ? LPM_NO_MATCH : this.#action[i]!;
    }
  }
}
