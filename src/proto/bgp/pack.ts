// Packing routes into UPDATEs: the NLRI of one attribute set across as few messages as fit in 4096
// octets (RFC 4271 §4.1, §9.2), withdrawals likewise, End-of-RIB markers (RFC 4724 §2). Never sends.
//
// Greedy in order: each message takes NLRI until the next one would not fit, so every message but
// the last is full to within one NLRI (at most 13 octets of VPN-IPv4 with one label). The attribute
// set is encoded once and copied into every message (what an update group sends to many peers).

import type { Ipv4Prefix } from '../../lib/addr.ts';
import type { Result } from '../../lib/errors.ts';
import { assert, err, ok } from '../../lib/errors.ts';
import { Writer } from '../../lib/reader.ts';
import type { CodecContext, MpReachNlri, MpUnreachNlri, PathAttribute } from './attributes.ts';
import { ATTR_FLAG, ATTR_TYPE, pathAttributesBytes } from './attributes.ts';
import type { UpdateMessage } from './message.ts';
import { HEADER_LENGTH, MARKER_LENGTH, MAX_MESSAGE_LENGTH, MESSAGE_TYPE, encodeMessage } from './message.ts';
import type { Family, FamilyCodec } from './nlri.ts';
import { FAMILY_CODECS, encodeIpv4Prefix, familyOf, ipv4PrefixSize } from './nlri.ts';

/** Reachability of one family with its next hop, for MP_REACH_NLRI (RFC 4760 §3). */
export type MpReach = Exclude<MpReachNlri, { family: 'other' }>;
export type MpUnreach = Exclude<MpUnreachNlri, { family: 'other' }>;

export interface PackError {
  code: 'ATTRIBUTES_TOO_LONG';
  field: 'pathAttributes';
  message: string;
}

/** Octets of an UPDATE with empty Withdrawn Routes and Path Attributes fields: header + two lengths. */
const EMPTY_UPDATE_LENGTH = HEADER_LENGTH + 4;
/** MP attributes we build always use the Extended Length form: flags, type, 2 length octets. */
const MP_FLAGS = ATTR_FLAG.OPTIONAL | ATTR_FLAG.EXTENDED_LENGTH;
const MP_ATTR_HEADER = 4;
const MARKER = new Uint8Array(MARKER_LENGTH).fill(0xff);

function startUpdate(w: Writer): number {
  w.bytes(MARKER);
  const lenAt = w.length;
  w.u16(0).u8(MESSAGE_TYPE.UPDATE);
  return lenAt;
}

function finishUpdate(w: Writer, lenAt: number): Uint8Array {
  assert(w.length <= MAX_MESSAGE_LENGTH, `pack: built ${w.length} octets`);
  w.patch(lenAt, 2, w.length);
  return w.finish();
}

function largest<T>(items: readonly T[], size: (t: T) => number): number {
  let m = 0;
  for (const it of items) m = Math.max(m, size(it));
  return m;
}

/** Splits `items` in order into runs whose sizes sum to at most `room`. */
function greedy<T>(items: readonly T[], size: (t: T) => number, room: number): T[][] {
  const runs: T[][] = [];
  let run: T[] = [];
  let used = 0;
  for (const it of items) {
    const s = size(it);
    if (used + s > room && run.length) {
      runs.push(run);
      run = [];
      used = 0;
    }
    run.push(it);
    used += s;
  }
  if (run.length) runs.push(run);
  return runs;
}

/**
 * UPDATEs announcing `reach` with `pathAttributes`: IPv4 prefixes go in the NLRI field (the
 * attributes must then hold NEXT_HOP); an MP reach goes in an MP_REACH_NLRI placed first (RFC 7606
 * §5.1). Fails only when the attributes leave no room for a single NLRI.
 */
export function packUpdates(pathAttributes: readonly PathAttribute[], reach: readonly Ipv4Prefix[] | MpReach, ctx: CodecContext): Result<Uint8Array[], PackError> {
  assert(!pathAttributes.some((a) => a.type === 'MP_REACH_NLRI' || a.type === 'MP_UNREACH_NLRI'), 'packUpdates: pass MP reachability as `reach`, not as an attribute');
  return packEncodedUpdates(pathAttributesBytes(pathAttributes, ctx), reach);
}

/** `packUpdates` with the path attributes already encoded (an update group encodes each set once). */
export function packEncodedUpdates(attrs: Uint8Array, reach: readonly Ipv4Prefix[] | MpReach): Result<Uint8Array[], PackError> {
  const tooLong = (room: number, need: number): Result<never, PackError> =>
    err({ code: 'ATTRIBUTES_TOO_LONG', field: 'pathAttributes', message: `${attrs.length} octets of attributes leave ${room} octets, an NLRI needs ${need}` });

  if (Array.isArray(reach)) {
    const prefixes = reach as readonly Ipv4Prefix[];
    const room = MAX_MESSAGE_LENGTH - EMPTY_UPDATE_LENGTH - attrs.length;
    const biggest = largest(prefixes, ipv4PrefixSize);
    if (prefixes.length && biggest > room) return tooLong(room, biggest);
    return ok(
      greedy(prefixes, ipv4PrefixSize, room).map((run) => {
        let size = EMPTY_UPDATE_LENGTH + attrs.length;
        for (const p of run) size += ipv4PrefixSize(p);
        const w = new Writer(size);
        const lenAt = startUpdate(w);
        w.u16(0).u16(attrs.length).bytes(attrs);
        for (const p of run) encodeIpv4Prefix(w, p);
        return finishUpdate(w, lenAt);
      }),
    );
  }

  const mp = reach as MpReach;
  const codec = FAMILY_CODECS[mp.family] as FamilyCodec<Family>;
  const items = mp.nlri as readonly unknown[];
  const size = codec.size as (n: unknown) => number;
  const mpFixed = MP_ATTR_HEADER + 2 + 1 + 1 + codec.nextHopLength + 1;
  const room = MAX_MESSAGE_LENGTH - EMPTY_UPDATE_LENGTH - mpFixed - attrs.length;
  const biggest = largest(items, size);
  if (items.length && biggest > room) return tooLong(room, biggest);
  return ok(
    greedy(items, size, room).map((run) => {
      const w = new Writer(MAX_MESSAGE_LENGTH);
      const lenAt = startUpdate(w);
      w.u16(0);
      w.lengthPrefixed(2, () => {
        w.u8(MP_FLAGS).u8(ATTR_TYPE.MP_REACH_NLRI);
        w.lengthPrefixed(2, () => {
          w.u16(codec.afi).u8(codec.safi).u8(codec.nextHopLength);
          codec.encodeNextHop(w, mp.nextHop);
          w.u8(0); // RFC 4760 §3: Reserved
          for (const n of run) (codec.encode as (w: Writer, n: unknown) => void)(w, n);
        });
        w.bytes(attrs);
      });
      return finishUpdate(w, lenAt);
    }),
  );
}

/** UPDATEs withdrawing routes: IPv4 prefixes in Withdrawn Routes, or MP_UNREACH_NLRI of one family. */
export function packWithdrawals(withdrawn: readonly Ipv4Prefix[] | MpUnreach): Uint8Array[] {
  if (Array.isArray(withdrawn)) {
    const prefixes = withdrawn as readonly Ipv4Prefix[];
    return greedy(prefixes, ipv4PrefixSize, MAX_MESSAGE_LENGTH - EMPTY_UPDATE_LENGTH).map((run) => {
      const w = new Writer(MAX_MESSAGE_LENGTH);
      const lenAt = startUpdate(w);
      w.lengthPrefixed(2, () => {
        for (const p of run) encodeIpv4Prefix(w, p);
      });
      w.u16(0);
      return finishUpdate(w, lenAt);
    });
  }
  const mp = withdrawn as MpUnreach;
  const codec = FAMILY_CODECS[mp.family] as FamilyCodec<Family>;
  const size = codec.size as (n: unknown) => number;
  const room = MAX_MESSAGE_LENGTH - EMPTY_UPDATE_LENGTH - MP_ATTR_HEADER - 3;
  return greedy(mp.withdrawnRoutes as readonly unknown[], size, room).map((run) => {
    const w = new Writer(MAX_MESSAGE_LENGTH);
    const lenAt = startUpdate(w);
    w.u16(0);
    w.lengthPrefixed(2, () => {
      w.u8(MP_FLAGS).u8(ATTR_TYPE.MP_UNREACH_NLRI);
      w.lengthPrefixed(2, () => {
        w.u16(codec.afi).u8(codec.safi);
        for (const n of run) (codec.encode as (w: Writer, n: unknown) => void)(w, n);
      });
    });
    return finishUpdate(w, lenAt);
  });
}

/** The End-of-RIB marker of a family (RFC 4724 §2): an empty UPDATE, or an empty MP_UNREACH_NLRI. */
export function endOfRib(family: Family, ctx: CodecContext): Uint8Array {
  const update: UpdateMessage =
    family === 'ipv4-unicast'
      ? { type: 'UPDATE', withdrawnRoutes: [], pathAttributes: [], nlri: [] }
      : { type: 'UPDATE', withdrawnRoutes: [], nlri: [], pathAttributes: [{ type: 'MP_UNREACH_NLRI', value: { family, withdrawnRoutes: [] } as MpUnreach }] };
  return encodeMessage(update, ctx);
}

/** The family an UPDATE marks End-of-RIB for (RFC 4724 §2), or undefined when it is not a marker. */
export function endOfRibFamily(u: UpdateMessage): Family | undefined {
  if (u.withdrawnRoutes.length || u.nlri.length) return undefined;
  if (u.pathAttributes.length === 0) return 'ipv4-unicast';
  const only = u.pathAttributes[0];
  if (u.pathAttributes.length !== 1 || only?.type !== 'MP_UNREACH_NLRI') return undefined;
  const v = only.value;
  if (v.family === 'other') return undefined;
  return v.withdrawnRoutes.length === 0 ? familyOf(FAMILY_CODECS[v.family].afi, FAMILY_CODECS[v.family].safi) : undefined;
}
