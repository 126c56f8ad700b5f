// A bounds-checked reader over peer bytes (after rustls' codec::Reader: `sub(len)` for
// length-prefixed blocks, `expectEnd` rejects trailing bytes). Never lets an exception escape `decoding`.
//
// Inside a decoder a failed check aborts with `DecodeAbort`; `decoding(fn)` turns that into an
// `err(...)` result, so callers only ever see a Result. Any other exception is our own bug and passes.

import type { Result } from '../../lib/errors.ts';
import { err, ok } from '../../lib/errors.ts';
import type { IkeDecodeError, IkeErrorCode } from './errors.ts';
import { ikeDecodeError } from './errors.ts';

class DecodeAbort {
  constructor(readonly error: IkeDecodeError) {}
}

/** Aborts the enclosing `decoding` call with a typed error naming `field`. */
export function reject(code: IkeErrorCode, field: string, message: string): never {
  throw new DecodeAbort(ikeDecodeError(code, field, message));
}

/** Runs a decoder body; a `reject` inside becomes an error result. */
export function decoding<T>(fn: () => T): Result<T, IkeDecodeError> {
  try {
    return ok(fn());
  } catch (e) {
    if (e instanceof DecodeAbort) return err(e.error);
    throw e;
  }
}

export class Reader {
  private pos = 0;

  constructor(private readonly bytes: Uint8Array) {}

  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  get offset(): number {
    return this.pos;
  }

  private need(n: number, field: string): void {
    if (this.remaining < n) reject('TRUNCATED', field, `needs ${n} bytes, ${this.remaining} left`);
  }

  u8(field: string): number {
    this.need(1, field);
    return this.bytes[this.pos++]!;
  }

  u16(field: string): number {
    this.need(2, field);
    const v = (this.bytes[this.pos]! << 8) | this.bytes[this.pos + 1]!;
    this.pos += 2;
    return v;
  }

  u24(field: string): number {
    this.need(3, field);
    const v = (this.bytes[this.pos]! << 16) | (this.bytes[this.pos + 1]! << 8) | this.bytes[this.pos + 2]!;
    this.pos += 3;
    return v;
  }

  u32(field: string): number {
    this.need(4, field);
    const v = ((this.bytes[this.pos]! << 24) | (this.bytes[this.pos + 1]! << 16) | (this.bytes[this.pos + 2]! << 8) | this.bytes[this.pos + 3]!) >>> 0;
    this.pos += 4;
    return v;
  }

  /** A copy of the next `n` bytes. */
  take(n: number, field: string): Uint8Array {
    this.need(n, field);
    const out = this.bytes.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A reader over the next `n` bytes (a length-prefixed block); this reader moves past them. */
  sub(n: number, field: string): Reader {
    this.need(n, field);
    const r = new Reader(this.bytes.subarray(this.pos, this.pos + n));
    this.pos += n;
    return r;
  }

  /** A copy of everything left. */
  rest(): Uint8Array {
    const out = this.bytes.slice(this.pos);
    this.pos = this.bytes.length;
    return out;
  }

  expectEnd(field: string): void {
    if (this.remaining !== 0) reject('TRAILING_BYTES', field, `${this.remaining} bytes left over`);
  }
}

/** Appends big-endian fields; `finish()` returns the bytes. For our own values only (asserted by callers). */
export class Writer {
  private chunks: Uint8Array[] = [];
  private size = 0;

  get length(): number {
    return this.size;
  }

  u8(v: number): this {
    return this.bytes(Uint8Array.of(v & 0xff));
  }

  u16(v: number): this {
    return this.bytes(Uint8Array.of((v >>> 8) & 0xff, v & 0xff));
  }

  u24(v: number): this {
    return this.bytes(Uint8Array.of((v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff));
  }

  u32(v: number): this {
    return this.bytes(Uint8Array.of((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff));
  }

  bytes(b: Uint8Array): this {
    this.chunks.push(b);
    this.size += b.length;
    return this;
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}
