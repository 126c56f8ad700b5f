// The captures of every link as events, refreshed from the runtime (lab.pcap per link) when asked
// or when the snapshot moves on. Holds what the runtime sent; decoding is sim/capture's.
import { Directions, mergeEvents, parseCapture, type CaptureEvent } from '../../sim/capture.ts';
import type { WorkbenchSession } from './source.ts';

/** Newest frames kept per link: the list stays responsive on long runs. */
export const FRAMES_PER_LINK_MAX = 2000;

export class Captures {
  events = $state.raw<CaptureEvent[]>([]);
  errors = $state.raw<string[]>([]);
  skipped = $state(0);
  loading = $state(false);
  /** Virtual time of the snapshot the events were read at. */
  atUs = $state<number | undefined>(undefined);
  #directions: Directions | undefined;
  #topologyName: unknown;

  constructor(private readonly session: WorkbenchSession) {}

  get available(): boolean {
    return typeof this.session.pcap === 'function';
  }

  async refresh(): Promise<void> {
    const t = this.session.topology;
    const pcap = this.session.pcap?.bind(this.session);
    if (!t || !pcap || this.loading) return;
    this.loading = true;
    try {
      if (this.#topologyName !== t) {
        this.#directions = new Directions(t);
        this.#topologyName = t;
      }
      const at = this.session.snapshot?.nowUs;
      const files = await Promise.all(t.links.map((l) => pcap(l.index)));
      const results = files.map((f, i) => parseCapture(t, i, f, { limit: FRAMES_PER_LINK_MAX, directions: this.#directions! }));
      this.events = mergeEvents(results.map((r) => r.events));
      this.errors = results.flatMap((r) => (r.error ? [r.error] : []));
      this.skipped = results.reduce((a, r) => a + r.skipped, 0);
      this.atUs = at;
    } catch (e) {
      this.errors = [e instanceof Error ? e.message : String(e)];
    } finally {
      this.loading = false;
    }
  }
}
