// The Security Association Database of RFC 4301 §4.4.2: each SA's identity (SPI, peer, direction),
// algorithm, keys, salt and its soft and hard lifetimes in time and bytes. Owns SA bookkeeping;
// never encrypts (the data plane does) and never reads a clock (time comes in as nowUs).

export type EspSuiteName = 'aes-gcm-128' | 'aes-gcm-256' | 'chacha20-poly1305';

/** Lifetimes of RFC 4301 §4.4.2.1: the soft one triggers a rekey, the hard one ends the SA. */
export interface SaLifetimes {
  softUs: number;
  hardUs: number;
  /** 0 = no byte limit. */
  softBytes: number;
  hardBytes: number;
}

export const DEFAULT_LIFETIMES: SaLifetimes = { softUs: 3_000_000_000, hardUs: 3_600_000_000, softBytes: 0, hardBytes: 0 };

export interface SadEntry {
  spi: number;
  direction: 'inbound' | 'outbound';
  /** Peer gateway (the tunnel's far end), unsigned 32-bit. */
  peer: number;
  suite: EspSuiteName;
  key: Uint8Array;
  salt: Uint8Array;
  esn: boolean;
  replayWindow: number;
  lifetimes: SaLifetimes;
  /** The SPD entry this SA serves (by name), or the group id for group SAs. */
  policy: string;
  createdUs: number;
  /** Inner bytes carried so far (the data plane reports them). */
  bytes: number;
  state: 'mature' | 'dying' | 'expired';
}

export type SadEvent = { kind: 'soft-expired'; entry: SadEntry } | { kind: 'hard-expired'; entry: SadEntry };

const key = (direction: string, spi: number) => `${direction}:${spi >>> 0}`;

export class Sad {
  private readonly sas = new Map<string, SadEntry>();
  private readonly events: SadEvent[] = [];

  add(e: Omit<SadEntry, 'bytes' | 'state'>): SadEntry {
    const k = key(e.direction, e.spi);
    if (this.sas.has(k)) throw new RangeError(`SA ${k} exists`);
    const entry: SadEntry = { ...e, bytes: 0, state: 'mature' };
    this.sas.set(k, entry);
    return entry;
  }

  get(direction: 'inbound' | 'outbound', spi: number): SadEntry | undefined {
    return this.sas.get(key(direction, spi));
  }

  remove(direction: 'inbound' | 'outbound', spi: number): SadEntry | undefined {
    const k = key(direction, spi);
    const e = this.sas.get(k);
    if (e) {
      this.sas.delete(k);
      e.key.fill(0);
    }
    return e;
  }

  list(): SadEntry[] {
    return [...this.sas.values()];
  }

  /** Counts carried bytes and checks the byte lifetimes. */
  addBytes(direction: 'inbound' | 'outbound', spi: number, bytes: number, nowUs: number): void {
    const e = this.get(direction, spi);
    if (!e) return;
    e.bytes += bytes;
    this.expire(e, nowUs);
  }

  /** Checks every SA's time lifetimes at `nowUs`; events come out of pollEvent(). */
  tick(nowUs: number): void {
    for (const e of this.sas.values()) this.expire(e, nowUs);
  }

  /** The earliest time a lifetime runs out, for the owner's nextDeadlineUs(). */
  nextDeadlineUs(): number | undefined {
    let t: number | undefined;
    for (const e of this.sas.values()) {
      const d = e.state === 'mature' ? e.createdUs + e.lifetimes.softUs : e.state === 'dying' ? e.createdUs + e.lifetimes.hardUs : undefined;
      if (d !== undefined && (t === undefined || d < t)) t = d;
    }
    return t;
  }

  pollEvent(): SadEvent | undefined {
    return this.events.shift();
  }

  private expire(e: SadEntry, nowUs: number): void {
    const age = nowUs - e.createdUs;
    const lt = e.lifetimes;
    const over = (us: number, bytes: number) => age >= us || (bytes > 0 && e.bytes >= bytes);
    if (e.state !== 'expired' && over(lt.hardUs, lt.hardBytes)) {
      e.state = 'expired';
      this.events.push({ kind: 'hard-expired', entry: e });
    } else if (e.state === 'mature' && over(lt.softUs, lt.softBytes)) {
      e.state = 'dying';
      this.events.push({ kind: 'soft-expired', entry: e });
    }
  }
}
