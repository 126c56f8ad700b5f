// Result type and typed errors for decoders: bytes from a peer never throw.
// `assert` is for our own bugs only.

export type Result<T, E> = { ok: true; value: T } | { ok: false; error: E };

export const ok = <T>(value: T): Result<T, never> => ({ ok: true, value });
export const err = <E>(error: E): Result<never, E> => ({ ok: false, error });

/** A decode error naming the field that was wrong. */
export interface DecodeError {
  /** Stable machine-readable code from the protocol's error catalog. */
  code: string;
  /** The field (dotted path) that failed. */
  field: string;
  /** Human-readable detail. */
  message: string;
}

export class AssertionError extends Error {
  override name = 'AssertionError';
}

/** Internal invariant check: failure is a bug in this program, never a peer's fault. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}
