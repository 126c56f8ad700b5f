import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { fromHex, hex, concat } from '../../../src/lib/bytes.ts';
import { AssertionError } from '../../../src/lib/errors.ts';
import { parseIpv4 } from '../../../src/lib/addr.ts';
import {
  TCP_ERROR,
  TCP_FLAG_ACK,
  TCP_FLAG_FIN,
  TCP_FLAG_PSH,
  TCP_FLAG_RST,
  TCP_FLAG_SYN,
  TCP_OPTION_SACK_PERMITTED,
  TCP_OPTION_TIMESTAMPS,
  TCP_OPTION_WINDOW_SCALE,
  type TcpOption,
  type TcpSegment,
  decodeTcpSegment,
  encodeTcpSegment,
  formatTcpFlags,
  tcpHeaderLen,
  tcpMssOption,
  tcpSegmentLen,
} from '../../../src/proto/ip/tcp-segment.ts';

const ip = (s: string): number => parseIpv4(s)!;
const A = ip('10.0.0.1');
const B = ip('10.0.0.2');
const L1 = ip('192.168.1.10');
const L2 = ip('192.168.1.20');

/** Independent reference: RFC 9293 §3.1 checksum over the pseudo-header bytes + segment. */
function refTcpChecksum(src: number, dst: number, segment: Uint8Array): number {
  const pseudo = new Uint8Array(12);
  const dv = new DataView(pseudo.buffer);
  dv.setUint32(0, src);
  dv.setUint32(4, dst);
  pseudo[9] = 6;
  dv.setUint16(10, segment.length);
  const all = concat(pseudo, segment);
  let s = 0;
  for (let i = 0; i < all.length; i += 2) {
    s += (all[i]! << 8) + (all[i + 1] ?? 0);
    s = (s & 0xffff) + (s >>> 16);
  }
  return ~s & 0xffff;
}

// Fixtures laid out as RFC 9293 §3.1 Figure 1; checksums computed independently (Python, RFC 1071).
const SYN = fromHex(`
  9c40       // source port 40000
  00b3       // destination port 179 (BGP)
  01020304   // sequence number
  00000000   // acknowledgment number
  60         // data offset 6 words (24 bytes), reserved 0
  02         // flags: SYN
  ffff       // window 65535
  e32a       // checksum (10.0.0.1 → 10.0.0.2)
  0000       // urgent pointer
  02 04 05b4 // option: MSS (kind 2, length 4) 1460
`);
const KEEPALIVE = fromHex(`
  00b3 9c40  // 179 → 40000
  fffffff0   // sequence number, 16 below the wrap
  01020305   // acknowledgment number
  50 18      // data offset 5, flags PSH,ACK
  ffff f6b8 0000 // window, checksum (10.0.0.2 → 10.0.0.1), urgent pointer
  ffffffffffffffffffffffffffffffff 0013 04 // BGP KEEPALIVE: marker, length 19, type 4
`);
const LINUX_SYN = fromHex(`
  c350 00b3 a1b2c3d4 00000000 // 50000 → 179, seq, ack
  a0 02 faf0 a014 0000         // data offset 10 (40 bytes), SYN, window 64240, checksum (192.168.1.10 → .20), urgent
  020405b4                     // MSS 1460
  0402                         // SACK permitted (kind 4, length 2): kept raw
  080a 00000001 00000000       // timestamps (kind 8, length 10): kept raw
  01                           // NOP
  030307                       // window scale 7 (kind 3, length 3): kept raw
`);
const EOL = fromHex(`
  9c40 00b3 00000001 00000002  // 40000 → 179
  60 10 1000 ddd6 0000         // data offset 6, ACK, window 4096, checksum
  01 01 00 00                  // NOP, NOP, End of Option List, one octet of zero padding
`);
const RST_ACK = fromHex(`
  00b3 9c40 00000000 01020305  // 179 → 40000, seq 0, ack
  50 14 0000 fad3 0000         // data offset 5, RST,ACK, window 0, checksum, urgent
`);

describe('decodeTcpSegment fixtures', () => {
  it('decodes a SYN with the MSS option', () => {
    const r = decodeTcpSegment(SYN, A, B);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const s = r.value;
    expect([s.srcPort, s.dstPort, s.seq, s.ack, s.flags, s.window, s.urgentPointer, s.reserved]).toEqual([40000, 179, 0x01020304, 0, TCP_FLAG_SYN, 65535, 0, 0]);
    expect(s.options).toEqual([{ kind: 'mss', mssBytes: 1460 }]);
    expect(tcpMssOption(s)).toBe(1460);
    expect(s.payload.length).toBe(0);
    expect(tcpSegmentLen(s)).toBe(1);
  });

  it('decodes a data segment carrying a BGP KEEPALIVE', () => {
    const r = decodeTcpSegment(KEEPALIVE, B, A);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.seq).toBe(0xfffffff0);
    expect(r.value.ack).toBe(0x01020305);
    expect(r.value.flags).toBe(TCP_FLAG_PSH | TCP_FLAG_ACK);
    expect(formatTcpFlags(r.value.flags)).toBe('ACK,PSH');
    expect(hex(r.value.payload)).toBe('ff'.repeat(16) + '001304');
    expect(tcpSegmentLen(r.value)).toBe(19);
  });

  it('keeps unknown options raw, in order (Linux-style SYN)', () => {
    const r = decodeTcpSegment(LINUX_SYN, L1, L2);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const kinds = r.value.options.map((o) => (o.kind === 'raw' ? `raw${o.type}:${hex(o.data)}` : o.kind));
    expect(kinds).toEqual(['mss', `raw${TCP_OPTION_SACK_PERMITTED}:`, `raw${TCP_OPTION_TIMESTAMPS}:0000000100000000`, 'nop', `raw${TCP_OPTION_WINDOW_SCALE}:07`]);
    expect(r.value.window).toBe(64240);
  });

  it('stops at End of Option List and keeps the padding', () => {
    const r = decodeTcpSegment(EOL, A, B);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.options.map((o) => o.kind)).toEqual(['nop', 'nop', 'eol']);
    const eol = r.value.options[2]!;
    expect(eol.kind === 'eol' && hex(eol.padding)).toBe('00');
    expect(tcpMssOption(r.value)).toBeUndefined();
  });

  it('decodes an RST,ACK', () => {
    const r = decodeTcpSegment(RST_ACK, B, A);
    expect(r.ok && r.value.flags).toBe(TCP_FLAG_RST | TCP_FLAG_ACK);
    expect(r.ok && r.value.window).toBe(0);
  });

  it('keeps the reserved bits', () => {
    const bytes = encodeTcpSegment({ ...decodeOk(SYN, A, B), reserved: 0b1010 }, A, B);
    expect(bytes[12]).toBe(0x6a);
    expect(decodeOk(bytes, A, B).reserved).toBe(0b1010);
  });
});

function decodeOk(bytes: Uint8Array, src: number, dst: number): TcpSegment {
  const r = decodeTcpSegment(bytes, src, dst);
  if (!r.ok) throw new Error(`decode failed: ${r.error.field} ${r.error.message}`);
  return r.value;
}

/** Rewrites the checksum so a deliberately malformed header still gets past the checksum check. */
function fixChecksum(bytes: Uint8Array, src: number, dst: number): Uint8Array {
  const b = bytes.slice();
  b[16] = 0;
  b[17] = 0;
  const c = refTcpChecksum(src, dst, b);
  b[16] = c >> 8;
  b[17] = c & 0xff;
  return b;
}

describe('decodeTcpSegment rejects malformed segments naming the field', () => {
  const withOptions = (opts: string): Uint8Array => {
    const o = fromHex(opts);
    const words = 5 + o.length / 4;
    return fixChecksum(concat(fromHex(`9c40 00b3 00000001 00000000 ${(words << 4).toString(16)} 02 ffff 0000 0000`), o), A, B);
  };
  const malformed: Array<[string, Uint8Array, string, string]> = [
    ['empty', new Uint8Array(0), TCP_ERROR.TRUNCATED, 'tcp.header'],
    ['19 bytes', SYN.subarray(0, 19), TCP_ERROR.TRUNCATED, 'tcp.header'],
    ['data offset 4', fixChecksum(concat(fromHex('9c40 00b3 00000001 00000000 40 02 ffff 0000 0000')), A, B), TCP_ERROR.BAD_DATA_OFFSET, 'tcp.dataOffset'],
    ['data offset 0', fixChecksum(fromHex('9c40 00b3 00000001 00000000 00 02 ffff 0000 0000'), A, B), TCP_ERROR.BAD_DATA_OFFSET, 'tcp.dataOffset'],
    ['data offset beyond the bytes', SYN.subarray(0, 22), TCP_ERROR.TRUNCATED, 'tcp.dataOffset'],
    ['bad checksum', concat(SYN.subarray(0, 16), fromHex('e32b'), SYN.subarray(18)), TCP_ERROR.BAD_CHECKSUM, 'tcp.checksum'],
    ['option length 0', withOptions('0200 0000'), TCP_ERROR.BAD_OPTION, 'tcp.options[0].length'],
    ['option length 1', withOptions('01 08 01 00'), TCP_ERROR.BAD_OPTION, 'tcp.options[1].length'],
    ['option running past the header', withOptions('01 080a 00'), TCP_ERROR.BAD_OPTION, 'tcp.options[1].length'],
    ['option kind without a length octet', withOptions('010101 03'), TCP_ERROR.BAD_OPTION, 'tcp.options[3].length'],
    ['MSS of length 3', withOptions('020305 00'), TCP_ERROR.BAD_OPTION, 'tcp.options[0].length'],
  ];
  for (const [name, bytes, code, field] of malformed) {
    it(`${name} → ${code} at ${field}`, () => {
      const r = decodeTcpSegment(bytes, A, B);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.error.code).toBe(code);
      expect(r.error.field).toBe(field);
    });
  }

  it('wrong addresses fail the pseudo-header checksum', () => {
    expect(decodeTcpSegment(SYN, A, ip('10.0.0.3')).ok).toBe(false);
    expect(decodeTcpSegment(SYN, B, A).ok).toBe(true); // the pseudo-header sum is symmetric in src/dst
  });
});

// --- Properties. ---

const optionArb: fc.Arbitrary<TcpOption> = fc.oneof(
  fc.constant<TcpOption>({ kind: 'nop' }),
  fc.integer({ min: 0, max: 0xffff }).map<TcpOption>((mssBytes) => ({ kind: 'mss', mssBytes })),
  fc
    .record({ type: fc.integer({ min: 3, max: 255 }), data: fc.uint8Array({ maxLength: 8 }) })
    .map<TcpOption>(({ type, data }) => ({ kind: 'raw', type, data })),
);

/** Options whose encoding fits in 40 bytes, ending (when not 4-aligned) the way decode will see them. */
const optionsArb: fc.Arbitrary<TcpOption[]> = fc.array(optionArb, { maxLength: 8 }).map((opts) => {
  const out: TcpOption[] = [];
  let n = 0;
  for (const o of opts) {
    const len = o.kind === 'raw' ? 2 + o.data.length : o.kind === 'mss' ? 4 : 1;
    if (n + len > 40) break;
    out.push(o);
    n += len;
  }
  const pad = (4 - (n % 4)) % 4;
  if (pad > 0) out.push({ kind: 'eol', padding: new Uint8Array(pad - 1) });
  return out;
});

const segmentArb: fc.Arbitrary<TcpSegment> = fc.record({
  srcPort: fc.integer({ min: 0, max: 0xffff }),
  dstPort: fc.integer({ min: 0, max: 0xffff }),
  seq: fc.integer({ min: 0, max: 0xffffffff }),
  ack: fc.integer({ min: 0, max: 0xffffffff }),
  flags: fc.integer({ min: 0, max: 0xff }),
  reserved: fc.integer({ min: 0, max: 0xf }),
  window: fc.integer({ min: 0, max: 0xffff }),
  urgentPointer: fc.integer({ min: 0, max: 0xffff }),
  options: optionsArb,
  payload: fc.uint8Array({ maxLength: 200 }),
});
const addrArb = fc.integer({ min: 0, max: 0xffffffff });

describe('tcp codec properties', () => {
  it('decode(encode(s)) = s', () => {
    fc.assert(
      fc.property(segmentArb, addrArb, addrArb, (s, src, dst) => {
        const bytes = encodeTcpSegment(s, src, dst);
        expect(bytes.length).toBe(tcpHeaderLen(s.options) + s.payload.length);
        const d = decodeOk(bytes, src, dst);
        expect({ ...d, payload: hex(d.payload) }).toEqual({ ...s, payload: hex(s.payload) });
      }),
    );
  });

  it('encode(decode(b)) = b for any header that decodes, whatever its option bytes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 20, maxLength: 20 }),
        fc.integer({ min: 0, max: 10 }),
        fc.uint8Array({ maxLength: 40 }),
        fc.uint8Array({ maxLength: 64 }),
        addrArb,
        addrArb,
        (fixed, words, optionBytes, payload, src, dst) => {
          const opts = optionBytes.subarray(0, Math.min(words * 4, optionBytes.length & ~3));
          const header = fixed.slice();
          header[12] = ((5 + opts.length / 4) << 4) | (header[12]! & 0x0f);
          const b = fixChecksum(concat(header, opts, payload), src, dst);
          const r = decodeTcpSegment(b, src, dst);
          if (!r.ok) {
            expect(r.error.field).toMatch(/^tcp\.options\[\d+\]\.length$/);
            return;
          }
          expect(hex(encodeTcpSegment(r.value, src, dst))).toBe(hex(b));
        },
      ),
    );
  });

  it('the checksum matches the independent reference', () => {
    fc.assert(
      fc.property(segmentArb, addrArb, addrArb, (s, src, dst) => {
        const bytes = encodeTcpSegment(s, src, dst);
        const zeroed = bytes.slice();
        zeroed[16] = 0;
        zeroed[17] = 0;
        expect((bytes[16]! << 8) | bytes[17]!).toBe(refTcpChecksum(src, dst, zeroed));
      }),
    );
  });

  it('never throws on arbitrary bytes; errors name a tcp field', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), addrArb, addrArb, (bytes, src, dst) => {
        const r = decodeTcpSegment(bytes, src, dst);
        if (!r.ok) expect(r.error.field).toMatch(/^tcp\./);
        const fixed = bytes.length >= 20 ? fixChecksum(bytes, src, dst) : bytes;
        const r2 = decodeTcpSegment(fixed, src, dst);
        if (!r2.ok) expect(r2.error.code).not.toBe(TCP_ERROR.BAD_CHECKSUM);
      }),
    );
  });

  it('detects any single-bit flip', () => {
    fc.assert(
      fc.property(segmentArb, addrArb, addrArb, fc.nat(), (s, src, dst, bit0) => {
        const bytes = encodeTcpSegment(s, src, dst).slice();
        const bit = bit0 % (bytes.length * 8);
        bytes[bit >> 3]! ^= 0x80 >> (bit & 7);
        expect(decodeTcpSegment(bytes, src, dst).ok).toBe(false);
      }),
    );
  });
});

describe('encodeTcpSegment', () => {
  it('reproduces every fixture from its decoded form', () => {
    for (const [bytes, src, dst] of [
      [SYN, A, B],
      [KEEPALIVE, B, A],
      [LINUX_SYN, L1, L2],
      [EOL, A, B],
      [RST_ACK, B, A],
    ] as const) {
      expect(hex(encodeTcpSegment(decodeOk(bytes, src, dst), src, dst))).toBe(hex(bytes));
    }
  });

  it('builds the SYN fixture from a plain representation', () => {
    const s: TcpSegment = {
      srcPort: 40000,
      dstPort: 179,
      seq: 0x01020304,
      ack: 0,
      flags: TCP_FLAG_SYN,
      reserved: 0,
      window: 65535,
      urgentPointer: 0,
      options: [{ kind: 'mss', mssBytes: 1460 }],
      payload: new Uint8Array(0),
    };
    expect(hex(encodeTcpSegment(s, A, B))).toBe(hex(SYN));
  });

  it('pads options with zeros to a 32-bit boundary', () => {
    const s = { ...decodeOk(SYN, A, B), options: [{ kind: 'nop' } as const] };
    const bytes = encodeTcpSegment(s, A, B);
    expect(bytes[12]! >> 4).toBe(6);
    expect(hex(bytes.subarray(20, 24))).toBe('01000000');
  });

  it('counts SYN and FIN in SEG.LEN', () => {
    expect(tcpSegmentLen({ flags: TCP_FLAG_SYN | TCP_FLAG_FIN, payload: new Uint8Array(3) })).toBe(5);
    expect(formatTcpFlags(0)).toBe('none');
  });

  it('asserts on our own bad input', () => {
    const base = decodeOk(SYN, A, B);
    expect(() => encodeTcpSegment({ ...base, srcPort: 0x10000 }, A, B)).toThrow(AssertionError);
    expect(() => encodeTcpSegment({ ...base, seq: 2 ** 32 }, A, B)).toThrow(AssertionError);
    expect(() => encodeTcpSegment({ ...base, reserved: 16 }, A, B)).toThrow(AssertionError);
    expect(() => encodeTcpSegment({ ...base, options: [{ kind: 'raw', type: 2, data: new Uint8Array(2) }] }, A, B)).toThrow(AssertionError);
    expect(() => encodeTcpSegment({ ...base, options: [{ kind: 'eol', padding: new Uint8Array(0) }, { kind: 'nop' }] }, A, B)).toThrow(AssertionError);
    expect(() => encodeTcpSegment({ ...base, options: [{ kind: 'raw', type: 30, data: new Uint8Array(39) }] }, A, B)).toThrow(AssertionError);
    expect(() => encodeTcpSegment({ ...base, payload: new Uint8Array(0xffff - 23) }, A, B)).toThrow(AssertionError);
    expect(() => encodeTcpSegment({ ...base, flags: TCP_FLAG_FIN, payload: new Uint8Array(0xffff - 24) }, A, B)).not.toThrow();
  });
});
