// Wire format of the frames one partition hands another per time window: one ArrayBuffer per
// batch, transferred, never copied by the channel. Layout (little-endian):
//   u32 window, u32 count, then per frame: f64 tUs, u32 node, u32 dir, u32 seq, u32 ifIndex,
//   u32 length, then `length` bytes.

import type { RemoteFrame } from '../sim/partition.ts';

const FRAME_HEADER = 8 + 5 * 4;

export function encodeBatch(window: number, frames: readonly RemoteFrame[]): ArrayBuffer {
  let size = 8;
  for (const f of frames) size += FRAME_HEADER + f.bytes.length;
  const buf = new ArrayBuffer(size);
  const dv = new DataView(buf);
  const u8 = new Uint8Array(buf);
  dv.setUint32(0, window, true);
  dv.setUint32(4, frames.length, true);
  let o = 8;
  for (const f of frames) {
    dv.setFloat64(o, f.tUs, true);
    dv.setUint32(o + 8, f.node, true);
    dv.setUint32(o + 12, f.dir, true);
    dv.setUint32(o + 16, f.seq, true);
    dv.setUint32(o + 20, f.ifIndex, true);
    dv.setUint32(o + 24, f.bytes.length, true);
    u8.set(f.bytes, o + FRAME_HEADER);
    o += FRAME_HEADER + f.bytes.length;
  }
  return buf;
}

export function decodeBatch(buf: ArrayBuffer): { window: number; frames: RemoteFrame[] } {
  const dv = new DataView(buf);
  const window = dv.getUint32(0, true);
  const count = dv.getUint32(4, true);
  const frames: RemoteFrame[] = [];
  let o = 8;
  for (let i = 0; i < count; i++) {
    const len = dv.getUint32(o + 24, true);
    frames.push({
      tUs: dv.getFloat64(o, true),
      node: dv.getUint32(o + 8, true),
      dir: dv.getUint32(o + 12, true),
      seq: dv.getUint32(o + 16, true),
      ifIndex: dv.getUint32(o + 20, true),
      bytes: new Uint8Array(buf, o + FRAME_HEADER, len),
    });
    o += FRAME_HEADER + len;
  }
  return { window, frames };
}
