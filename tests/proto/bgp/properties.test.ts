import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { hex } from '../../../src/lib/bytes.ts';
import {
  AS2_CONTEXT,
  AS4_CONTEXT,
  SEVERITIES,
  decodeMessage,
  encodeMessage,
  isKnownError,
  severityRank,
  UPDATE_MESSAGE_ERROR,
  type BgpDecodeError,
  type BgpMessage,
  type CodecContext,
} from '../../../src/proto/bgp/index.ts';
import { isSharedAttributeList } from '../../../src/proto/bgp/attributes.ts';
import { messageArb, show, updateArb } from './arbitraries.ts';

/** Decoded flags differ from generated ones only where the codec chooses them (row flags, Extended Length). */
function withoutChosenFlags(m: BgpMessage): string {
  if (m.type !== 'UPDATE') return show(m);
  return show({ ...m, pathAttributes: m.pathAttributes.map((a) => (a.type === 'UNRECOGNIZED' ? { ...a, flags: a.flags & ~0x10 } : { ...a, flags: undefined })) });
}

function expectConforming(e: BgpDecodeError): void {
  expect(isKnownError(e.errorCode, e.errorSubcode), `${e}`).toBe(true);
  expect(SEVERITIES).toContain(e.severity);
  expect(e.field.length).toBeGreaterThan(0);
}

const contexts: [string, CodecContext][] = [
  ['4-octet AS', AS4_CONTEXT],
  ['2-octet AS', AS2_CONTEXT],
];

describe.each(contexts)('round trip of random valid messages (%s)', (_name, ctx) => {
  it('decode(encode(m)) = m, and encode(decode(x)) = x byte for byte', () => {
    fc.assert(
      fc.property(messageArb(ctx), (m) => {
        const bytes = encodeMessage(m, ctx);
        expect(bytes.length).toBeLessThanOrEqual(4096);
        const d = decodeMessage(bytes, ctx);
        if (!d.ok) throw new Error(`${d.error} for ${show(m)}`);
        expect(d.value.errors.map(String)).toEqual([]);
        expect(withoutChosenFlags(d.value.message)).toBe(withoutChosenFlags(m));
        expect(hex(encodeMessage(d.value.message, ctx))).toBe(hex(bytes));
      }),
      { numRuns: 300 },
    );
  });
});

/** Random edits of valid messages: overwritten octets, truncation, the Length field patched to match. */
const mutatedArb = (ctx: CodecContext): fc.Arbitrary<Uint8Array> =>
  fc
    .record({
      // UPDATEs weigh most: that is where RFC 7606 lets decoding go on after errors.
      m: fc.oneof({ arbitrary: updateArb(ctx), weight: 4 }, { arbitrary: messageArb(ctx), weight: 1 }),
      edits: fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 4 }),
      cut: fc.option(fc.nat(), { nil: undefined }),
      fixLength: fc.boolean(),
    })
    .map(({ m, edits, cut, fixLength }) => {
      let b = encodeMessage(m, ctx);
      if (cut !== undefined && b.length > 19) b = b.slice(0, 19 + (cut % (b.length - 19)));
      else b = b.slice();
      for (const e of edits) {
        // Mostly past the header, where the interesting parsing is.
        const at = b.length > 19 && e.at % 16 !== 0 ? 19 + (e.at % (b.length - 19)) : e.at % b.length;
        b[at] = e.byte;
      }
      if (fixLength) {
        b[16] = b.length >> 8;
        b[17] = b.length & 0xff;
      }
      return b;
    });

describe.each(contexts)('random and mutated bytes never throw (%s)', (_name, ctx) => {
  const check = (bytes: Uint8Array): void => {
    const r = decodeMessage(bytes, ctx);
    if (!r.ok) {
      expectConforming(r.error);
      expect(r.error.severity).toBe('session-reset');
      return;
    }
    const { message, error, errors } = r.value;
    for (const e of errors) {
      expectConforming(e);
      expect(e.severity).not.toBe('session-reset');
    }
    // The strongest error is reported, and it is the first of its rank.
    const top = Math.max(-1, ...errors.map((e) => severityRank(e.severity)));
    expect(error).toBe(errors.find((e) => severityRank(e.severity) === top));
    // What was decoded is a valid message: it encodes, and decodes again to itself.
    const again = decodeMessage(encodeMessage(message, ctx), ctx);
    if (!again.ok) throw new Error(`re-encoded message fails: ${again.error}`);
    // Only what was dropped can be missing now: a malformed ORIGIN, AS_PATH or NEXT_HOP.
    for (const e of again.value.errors) expect(e.errorSubcode, `${e}`).toBe(UPDATE_MESSAGE_ERROR.MISSING_WELL_KNOWN_ATTRIBUTE);
    expect(show(again.value.message)).toBe(show(message));
  };

  it('random byte strings with a valid marker', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 200 }), fc.integer({ min: 1, max: 6 }), fc.boolean(), (tail, type, fixLength) => {
        const b = new Uint8Array(19 + tail.length);
        b.fill(0xff, 0, 16);
        b[18] = type;
        b.set(tail, 19);
        const len = fixLength ? b.length : (tail[0] ?? 0) * 16;
        b[16] = len >> 8;
        b[17] = len & 0xff;
        check(b);
      }),
      { numRuns: 2000 },
    );
  });

  it('fully random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), check), { numRuns: 500 });
  });

  it('mutated valid messages', () => {
    fc.assert(fc.property(mutatedArb(ctx), check), { numRuns: 2000 });
  });
});

describe('the attribute memo (one decoded value per attribute field in a thread)', () => {
  it('the same octets decode to the same shared list, equal to a fresh walk; context and errors are kept apart', () => {
    fc.assert(
      fc.property(updateArb(AS4_CONTEXT), (m) => {
        const bytes = encodeMessage(m, AS4_CONTEXT);
        const first = decodeMessage(bytes, AS4_CONTEXT);
        const again = decodeMessage(bytes.slice(), AS4_CONTEXT);
        if (!first.ok || !again.ok || first.value.message.type !== 'UPDATE' || again.value.message.type !== 'UPDATE') return;
        const a = first.value.message.pathAttributes;
        const b = again.value.message.pathAttributes;
        expect(show(b)).toBe(show(a));
        // Memoised only when the walk found no error below session reset.
        if (first.value.errors.length === 0) {
          expect(b).toBe(a);
          expect(isSharedAttributeList(a)).toBe(true);
        } else expect(b).not.toBe(a);
        // Another context never gets this context's value.
        const other = decodeMessage(bytes, AS2_CONTEXT);
        if (a.length > 0 && other.ok && other.value.message.type === 'UPDATE') expect(other.value.message.pathAttributes).not.toBe(a);
      }),
      { numRuns: 300 },
    );
  });
});
