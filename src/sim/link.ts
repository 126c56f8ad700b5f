// A point-to-point link, one direction at a time: serialisation delay, latency, jitter, loss,
// up/down, a bounded transmit queue and the tap. Owned by the sender's side of the kernel; its
// randomness comes from its own seeded stream, so the same frames meet the same fate in any runtime.

import { rngFor, RNG_STREAM, type Rng } from '../lib/rng.ts';
import type { TopoLink } from './topology/types.ts';
import { PCAP_SNAPLEN } from './pcap.ts';

/** A frame may wait at most this long in a link's transmit queue before tail drop. */
export const LINK_QUEUE_MAX_US = 500_000;
/** A tap stops recording (and says so) after this many frames per direction. */
export const TAP_RECORDS_MAX = 2_000_000;

export interface TapRecord {
  tUs: number;
  dir: number;
  seq: number;
  bytes: Uint8Array;
}

export interface LinkDirCounters {
  frames: number;
  bytes: number;
  /** Frames lost on the wire (loss probability). */
  lost: number;
  /** Frames offered while the link was down. */
  droppedDown: number;
  /** Frames dropped because the transmit queue was full. */
  droppedQueue: number;
}

/** What happens to a frame offered to a link direction. */
export type TransmitResult =
  | { fate: 'deliver'; arrivalUs: number; seq: number }
  | { fate: 'lost' | 'down' | 'queue-full'; seq: number };

/** Direction index: 2·link for a→b, 2·link+1 for b→a. */
export const dirIndex = (link: number, fromA: boolean): number => 2 * link + (fromA ? 0 : 1);

export class LinkDirection {
  readonly counters: LinkDirCounters = { frames: 0, bytes: 0, lost: 0, droppedDown: 0, droppedQueue: 0 };
  up: boolean;
  tapping = false;
  tapTruncated = false;
  readonly tap: TapRecord[] = [];
  /** Told of every frame offered (as the pcap would hold it), up to TAP_RECORDS_MAX; see BackboneTap. */
  observer: ((bytes: Uint8Array) => void) | undefined;
  private observed = 0;
  private readonly rng: Rng;
  private busyUntilUs = 0;
  private lastArrivalUs = 0;
  private seq = 0;

  constructor(
    readonly dir: number,
    private readonly link: TopoLink,
    seed: number,
  ) {
    this.up = link.up;
    this.rng = rngFor(seed, RNG_STREAM.LINK_BASE + dir);
  }

  transmit(bytes: Uint8Array, nowUs: number): TransmitResult {
    const seq = this.seq++;
    if (!this.up) {
      this.counters.droppedDown++;
      return { fate: 'down', seq };
    }
    const startUs = Math.max(nowUs, this.busyUntilUs);
    if (startUs - nowUs > LINK_QUEUE_MAX_US) {
      this.counters.droppedQueue++;
      return { fate: 'queue-full', seq };
    }
    const { bandwidthBps, latencyUs, jitterUs, loss } = this.link;
    const serialUs = bandwidthBps > 0 ? Math.ceil((bytes.length * 8 * 1_000_000) / bandwidthBps) : 0;
    this.busyUntilUs = startUs + serialUs;
    this.counters.frames++;
    this.counters.bytes += bytes.length;
    if (this.tapping) {
      if (this.tap.length < TAP_RECORDS_MAX) this.tap.push({ tUs: startUs, dir: this.dir, seq, bytes: bytes.slice() });
      else this.tapTruncated = true;
    }
    if (this.observer) {
      // The frames a tap records, cut as encodePcap cuts them.
      if (this.observed < TAP_RECORDS_MAX) {
        this.observed++;
        this.observer(bytes.length > PCAP_SNAPLEN ? bytes.subarray(0, PCAP_SNAPLEN) : bytes);
      } else this.tapTruncated = true;
    }
    // Draw both numbers for every frame so that changing one setting shifts no other draw.
    const jitter = jitterUs > 0 ? this.rng.nextInt(jitterUs + 1) : 0;
    const lossDraw = loss > 0 ? this.rng.nextFloat() : 1;
    if (lossDraw < loss) {
      this.counters.lost++;
      return { fate: 'lost', seq };
    }
    // FIFO: jitter never reorders a direction.
    const arrivalUs = Math.max(this.busyUntilUs + latencyUs + jitter, this.lastArrivalUs);
    this.lastArrivalUs = arrivalUs;
    return { fate: 'deliver', arrivalUs, seq };
  }
}
