// pcap file writer (nanosecond-resolution libpcap format, LINKTYPE_RAW). Owns the file format
// only; timestamps are virtual time passed in, never the wall clock.

/** Magic number of a nanosecond-resolution pcap file. */
export const PCAP_MAGIC_NS = 0xa1b23c4d;
/** LINKTYPE_RAW: each packet begins with an IPv4 or IPv6 header (version nibble tells which). */
export const LINKTYPE_RAW = 101;
export const PCAP_SNAPLEN = 262_144;

export interface PcapRecord {
  tUs: number;
  bytes: Uint8Array;
}

export function encodePcap(records: readonly PcapRecord[], linkType = LINKTYPE_RAW): Uint8Array {
  let size = 24;
  for (const r of records) size += 16 + Math.min(r.bytes.length, PCAP_SNAPLEN);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, PCAP_MAGIC_NS, true);
  dv.setUint16(4, 2, true);
  dv.setUint16(6, 4, true);
  dv.setInt32(8, 0, true); // thiszone
  dv.setUint32(12, 0, true); // sigfigs
  dv.setUint32(16, PCAP_SNAPLEN, true);
  dv.setUint32(20, linkType, true);
  let o = 24;
  for (const r of records) {
    const incl = Math.min(r.bytes.length, PCAP_SNAPLEN);
    dv.setUint32(o, Math.floor(r.tUs / 1_000_000), true);
    dv.setUint32(o + 4, (r.tUs % 1_000_000) * 1000, true);
    dv.setUint32(o + 8, incl, true);
    dv.setUint32(o + 12, r.bytes.length, true);
    out.set(r.bytes.subarray(0, incl), o + 16);
    o += 16 + incl;
  }
  return out;
}

/** Reads back a file written by `encodePcap` (for tests and the UI's packet list). */
export function decodePcap(file: Uint8Array): { linkType: number; records: PcapRecord[] } {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  if (file.length < 24 || dv.getUint32(0, true) !== PCAP_MAGIC_NS) throw new Error('decodePcap: not a nanosecond pcap file');
  const linkType = dv.getUint32(20, true);
  const records: PcapRecord[] = [];
  let o = 24;
  while (o + 16 <= file.length) {
    const sec = dv.getUint32(o, true);
    const ns = dv.getUint32(o + 4, true);
    const incl = dv.getUint32(o + 8, true);
    if (o + 16 + incl > file.length) throw new Error('decodePcap: truncated record');
    records.push({ tUs: sec * 1_000_000 + Math.floor(ns / 1000), bytes: file.slice(o + 16, o + 16 + incl) });
    o += 16 + incl;
  }
  return { linkType, records };
}
