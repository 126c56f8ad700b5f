// IPv4 and IPv6 addresses and prefixes: parsing, formatting, containment. Pure, no I/O.
// IPv4 addresses are unsigned 32-bit numbers; IPv6 addresses are 16-byte arrays.

export type Family = 4 | 6;

export interface Ipv4Prefix {
  family: 4;
  /** Network address (host bits zero), unsigned 32-bit. */
  addr: number;
  len: number;
}

export interface Ipv6Prefix {
  family: 6;
  addr: Uint8Array;
  len: number;
}

export type Prefix = Ipv4Prefix | Ipv6Prefix;

const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Parses dotted-quad IPv4; returns undefined when malformed. */
export function parseIpv4(text: string): number | undefined {
  const m = IPV4_RE.exec(text);
  if (!m) return undefined;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i]!;
    if (part.length > 1 && part.startsWith('0')) return undefined;
    const o = Number(part);
    if (o > 255) return undefined;
    v = v * 256 + o;
  }
  return v >>> 0;
}

export function formatIpv4(addr: number): string {
  return `${addr >>> 24}.${(addr >>> 16) & 255}.${(addr >>> 8) & 255}.${addr & 255}`;
}

/** Parses IPv6 text (RFC 4291 §2.2 forms, including `::` and embedded IPv4). */
export function parseIpv6(text: string): Uint8Array | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    const parts = s.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = parseIpv4(p);
        if (v4 === undefined) return undefined;
        out.push(v4 >>> 16, v4 & 0xffff);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
        out.push(parseInt(p, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...new Array<number>(missing).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** Formats IPv6 per RFC 5952 (lowercase, longest zero run compressed). */
export function formatIpv6(addr: Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((addr[2 * i]! << 8) | addr[2 * i + 1]!);
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hexes = g.map((x) => x.toString(16));
  if (bestStart < 0) return hexes.join(':');
  return `${hexes.slice(0, bestStart).join(':')}::${hexes.slice(bestStart + bestLen).join(':')}`;
}

export function ipv4Mask(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

/** Parses `a.b.c.d/len` or an IPv6 prefix; `strict` rejects host bits set. */
export function parsePrefix(text: string, strict = false): Prefix | undefined {
  const slash = text.lastIndexOf('/');
  if (slash < 0) return undefined;
  const addrText = text.slice(0, slash);
  const lenText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText)) return undefined;
  const len = Number(lenText);
  const v4 = parseIpv4(addrText);
  if (v4 !== undefined) {
    if (len > 32) return undefined;
    const net = (v4 & ipv4Mask(len)) >>> 0;
    if (strict && net !== v4) return undefined;
    return { family: 4, addr: net, len };
  }
  const v6 = parseIpv6(addrText);
  if (v6 === undefined || len > 128) return undefined;
  const net = maskIpv6(v6, len);
  if (strict && !net.every((b, i) => b === v6[i])) return undefined;
  return { family: 6, addr: net, len };
}

export function maskIpv6(addr: Uint8Array, len: number): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    const bits = Math.max(0, Math.min(8, len - 8 * i));
    out[i] = addr[i]! & ((0xff00 >> bits) & 0xff);
  }
  return out;
}

export function formatPrefix(p: Prefix): string {
  return p.family === 4 ? `${formatIpv4(p.addr)}/${p.len}` : `${formatIpv6(p.addr)}/${p.len}`;
}

export function ipv4InPrefix(addr: number, p: Ipv4Prefix): boolean {
  return ((addr & ipv4Mask(p.len)) >>> 0) === p.addr;
}

/** An interface address: the host address plus the prefix length of its subnet. */
export interface Ipv4InterfaceAddress {
  addr: number;
  len: number;
}

/** Parses `a.b.c.d/len` keeping the host bits (an interface address). */
export function parseIpv4InterfaceAddress(text: string): Ipv4InterfaceAddress | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const addr = parseIpv4(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  if (addr === undefined || !/^\d{1,2}$/.test(lenText) || Number(lenText) > 32) return undefined;
  return { addr, len: Number(lenText) };
}
