// Big-endian byte Reader and Writer for wire codecs (rustls `codec.rs` style): length-prefixed
// blocks via `sub(len)`, trailing bytes rejected via `done`. Never does I/O; the Reader never throws.
//
// Length contract (stated once, smoltcp style):
// - `take(n)` and `sub(n)` return `undefined` when fewer than `n` bytes are left, and consume nothing.
// - Fixed-width reads (`u8`, `u16`, `u24`, `u32`) past the end return 0 and set the sticky `overrun`
//   flag, so a decoder can read a fixed block and check `overrun` (or `done`) once; a decoder must
//   check it before trusting any value it read.
// - `done` is true only when nothing overran and no byte is left: the test for trailing bytes.
// - The Writer grows as needed. A value that does not fit its width is a bug in the caller (never a
//   peer's fault) and throws RangeError; this module imports nothing, so it cannot use lib's assert.

/** A cursor over `bytes[start, end)`. Views returned by `take` and `rest` share the input's buffer. */
export class Reader {
  private pos: number;
  private readonly end: number;
  /** Set when a fixed-width read went past the end; never cleared. */
  overrun = false;

  constructor(
    private readonly bytes: Uint8Array,
    start = 0,
    end = bytes.length,
  ) {
    this.pos = start;
    this.end = end;
  }

  /** Bytes not yet consumed. */
  get left(): number {
    return this.end - this.pos;
  }

  /** Position within the underlying array (for locating a field in error data). */
  get offset(): number {
    return this.pos;
  }

  /** Nothing overran and nothing is left: the block was consumed exactly. */
  get done(): boolean {
    return !this.overrun && this.pos === this.end;
  }

  u8(): number {
    if (this.pos + 1 > this.end) return this.fail();
    return this.bytes[this.pos++]!;
  }

  u16(): number {
    if (this.pos + 2 > this.end) return this.fail();
    const b = this.bytes;
    const p = this.pos;
    this.pos = p + 2;
    return (b[p]! << 8) | b[p + 1]!;
  }

  u24(): number {
    if (this.pos + 3 > this.end) return this.fail();
    const b = this.bytes;
    const p = this.pos;
    this.pos = p + 3;
    return (b[p]! << 16) | (b[p + 1]! << 8) | b[p + 2]!;
  }

  u32(): number {
    if (this.pos + 4 > this.end) return this.fail();
    const b = this.bytes;
    const p = this.pos;
    this.pos = p + 4;
    return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
  }

  /** The next `n` bytes as a view, or undefined (consuming nothing) when fewer are left. */
  take(n: number): Uint8Array | undefined {
    if (n < 0 || this.pos + n > this.end) return undefined;
    const v = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** A Reader over the next `n` bytes (a length-prefixed block), or undefined when fewer are left. */
  sub(n: number): Reader | undefined {
    if (n < 0 || this.pos + n > this.end) return undefined;
    const r = new Reader(this.bytes, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }

  /** Everything left, as a view; the Reader is then at its end. */
  rest(): Uint8Array {
    const v = this.bytes.subarray(this.pos, this.end);
    this.pos = this.end;
    return v;
  }

  /** A view of the underlying bytes between two `offset` values (e.g. a whole TLV, for error data). */
  span(start: number, end: number): Uint8Array {
    return this.bytes.subarray(Math.max(0, start), Math.min(this.bytes.length, end));
  }

  /** The next byte without consuming it, or undefined at the end. */
  peek(): number | undefined {
    return this.pos < this.end ? this.bytes[this.pos] : undefined;
  }

  private fail(): number {
    this.overrun = true;
    this.pos = this.end;
    return 0;
  }
}

function outOfRange(value: number, bits: number, what: string): never {
  throw new RangeError(`Writer.${what}: ${value} is not an unsigned ${bits}-bit integer (caller bug)`);
}

/** An append-only big-endian buffer that grows by doubling. */
export class Writer {
  private buf: Uint8Array;
  private pos = 0;

  constructor(initialCapacity = 256) {
    this.buf = new Uint8Array(Math.max(16, initialCapacity));
  }

  /** Bytes written so far. */
  get length(): number {
    return this.pos;
  }

  private ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  u8(v: number): this {
    if ((v & 0xff) !== v) outOfRange(v, 8, 'u8');
    this.ensure(1);
    this.buf[this.pos++] = v;
    return this;
  }

  u16(v: number): this {
    if ((v & 0xffff) !== v) outOfRange(v, 16, 'u16');
    this.ensure(2);
    const b = this.buf;
    b[this.pos] = v >>> 8;
    b[this.pos + 1] = v & 0xff;
    this.pos += 2;
    return this;
  }

  u24(v: number): this {
    if ((v & 0xffffff) !== v) outOfRange(v, 24, 'u24');
    this.ensure(3);
    const b = this.buf;
    b[this.pos] = v >>> 16;
    b[this.pos + 1] = (v >>> 8) & 0xff;
    b[this.pos + 2] = v & 0xff;
    this.pos += 3;
    return this;
  }

  u32(v: number): this {
    if (v >>> 0 !== v) outOfRange(v, 32, 'u32');
    this.ensure(4);
    const b = this.buf;
    b[this.pos] = v >>> 24;
    b[this.pos + 1] = (v >>> 16) & 0xff;
    b[this.pos + 2] = (v >>> 8) & 0xff;
    b[this.pos + 3] = v & 0xff;
    this.pos += 4;
    return this;
  }

  bytes(v: Uint8Array): this {
    this.ensure(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
    return this;
  }

  /** Overwrites an already written big-endian field of `width` bytes at `at`. */
  patch(at: number, width: 1 | 2, v: number): void {
    if ((width === 2 ? v & 0xffff : v & 0xff) !== v) outOfRange(v, 8 * width, 'patch');
    if (at < 0 || at + width > this.pos) throw new RangeError(`Writer.patch: ${at}+${width} outside ${this.pos} written bytes (caller bug)`);
    if (width === 2) {
      this.buf[at] = v >>> 8;
      this.buf[at + 1] = v & 0xff;
    } else {
      this.buf[at] = v;
    }
  }

  /** Inserts `n` zero bytes at `at`, shifting what follows (to widen a length field after the fact). */
  insert(at: number, n: number): void {
    if (at < 0 || at > this.pos || n < 0) throw new RangeError(`Writer.insert: ${at} outside ${this.pos} written bytes (caller bug)`);
    this.ensure(n);
    this.buf.copyWithin(at + n, at, this.pos);
    this.buf.fill(0, at, at + n);
    this.pos += n;
  }

  /** Writes a block preceded by its length in a `width`-byte field, filled in after `body` runs. */
  lengthPrefixed(width: 1 | 2, body: (w: this) => void): this {
    const at = this.pos;
    this.ensure(width);
    this.pos += width;
    body(this);
    this.patch(at, width, this.pos - at - width);
    return this;
  }

  /** A copy of the bytes written, exactly `length` long. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}
