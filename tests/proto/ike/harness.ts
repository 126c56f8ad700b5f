// Test pair of IKE endpoints over in-memory queues with virtual time (after quinn-proto's
// tests/util.rs): deliver what is due, jump to the next wake-up, stop when idle, bound the loop.

import { parseIpv4, parsePrefix, type Ipv4Prefix } from '../../../src/lib/addr.ts';
import { Pcg32 } from '../../../src/lib/rng.ts';
import { ed25519 } from '@noble/curves/ed25519.js';
import {
  ID_TYPE,
  IkeEndpoint,
  tsFromPrefix,
  type IkeDatagram,
  type IkeEndpointCommand,
  type IkeEndpointConfig,
  type IkeEndpointEvent,
  type IkePeer,
} from '../../../src/proto/ike/index.ts';

export const ADDR_A = parseIpv4('192.0.2.1')!;
export const ADDR_B = parseIpv4('198.51.100.2')!;
export const NET_A = parsePrefix('10.1.0.0/16') as Ipv4Prefix;
export const NET_B = parsePrefix('10.2.0.0/16') as Ipv4Prefix;
export const LATENCY_US = 1_000;

export type Side = 'a' | 'b';

export interface Captured {
  tUs: number;
  from: Side;
  datagram: IkeDatagram;
  dropped: boolean;
}

export interface SeenEvent {
  tUs: number;
  side: Side;
  saId: number;
  event: IkeEndpointEvent;
}

const fqdn = (name: string) => ({ idType: ID_TYPE.ID_FQDN, data: new TextEncoder().encode(name) });
export const ID_A = fqdn('ce-a.example');
export const ID_B = fqdn('ce-b.example');
export const PSK = new TextEncoder().encode('correct horse battery staple');

export function ed25519Keys(seedByte: number): { secretKey: Uint8Array; publicKey: Uint8Array } {
  const secretKey = new Uint8Array(32).fill(seedByte);
  return { secretKey, publicKey: ed25519.getPublicKey(secretKey) };
}

/** Configs for two CEs protecting NET_A ↔ NET_B with a PSK, with overrides per side. */
export function pskConfigs(over: { a?: Partial<IkeEndpointConfig>; b?: Partial<IkeEndpointConfig>; pskA?: Uint8Array; pskB?: Uint8Array } = {}): {
  a: IkeEndpointConfig;
  b: IkeEndpointConfig;
} {
  const peerB: IkePeer = {
    id: ID_B,
    addr: ADDR_B,
    credential: { method: 'psk', psk: over.pskA ?? PSK },
    trafficPolicy: { local: [tsFromPrefix(NET_A)], remote: [tsFromPrefix(NET_B)] },
  };
  const peerA: IkePeer = {
    id: ID_A,
    addr: ADDR_A,
    credential: { method: 'psk', psk: over.pskB ?? PSK },
    trafficPolicy: { local: [tsFromPrefix(NET_B)], remote: [tsFromPrefix(NET_A)] },
  };
  return {
    a: { localAddr: ADDR_A, localId: ID_A, peers: [peerB], ...over.a },
    b: { localAddr: ADDR_B, localId: ID_B, peers: [peerA], ...over.b },
  };
}

export function ed25519Configs(): { a: IkeEndpointConfig; b: IkeEndpointConfig; keysA: ReturnType<typeof ed25519Keys>; keysB: ReturnType<typeof ed25519Keys> } {
  const keysA = ed25519Keys(0xa1);
  const keysB = ed25519Keys(0xb2);
  const { a, b } = pskConfigs();
  a.ed25519SecretKey = keysA.secretKey;
  a.peers = a.peers.map((p) => ({ ...p, credential: { method: 'ed25519', publicKey: keysB.publicKey } }));
  b.ed25519SecretKey = keysB.secretKey;
  b.peers = b.peers.map((p) => ({ ...p, credential: { method: 'ed25519', publicKey: keysA.publicKey } }));
  return { a, b, keysA, keysB };
}

export function childAtoB() {
  return { tsLocal: [tsFromPrefix(NET_A)], tsRemote: [tsFromPrefix(NET_B)] };
}

export class Pair {
  readonly a: IkeEndpoint;
  readonly b: IkeEndpoint;
  nowUs = 0;
  readonly captured: Captured[] = [];
  readonly events: SeenEvent[] = [];
  readonly logs: string[] = [];
  private inFlight: { atUs: number; to: Side; datagram: IkeDatagram }[] = [];
  private sent = 0;
  /** Return true to lose the n-th datagram (counted from 0 over both directions). */
  lose: (n: number, from: Side, d: IkeDatagram) => boolean = () => false;
  /** Called for each event as it comes out (a data plane model installs SAs here). */
  onEvent: ((e: SeenEvent) => void) | undefined;
  /** When set, datagrams to this side vanish (a peer that never answers). */
  deaf: Side | undefined;

  constructor(cfgA: IkeEndpointConfig, cfgB: IkeEndpointConfig, readonly seed = 1) {
    this.a = new IkeEndpoint(cfgA, new Pcg32(BigInt(seed), 1n));
    this.b = new IkeEndpoint(cfgB, new Pcg32(BigInt(seed), 2n));
  }

  ep(side: Side): IkeEndpoint {
    return side === 'a' ? this.a : this.b;
  }

  command(side: Side, command: IkeEndpointCommand): void {
    this.ep(side).handle({ kind: 'command', command }, this.nowUs);
    this.drain();
  }

  private drain(): boolean {
    let any = false;
    for (const side of ['a', 'b'] as const) {
      const ep = this.ep(side);
      for (let o = ep.poll(); o !== undefined; o = ep.poll()) {
        any = true;
        if (o.kind === 'tx') {
          const n = this.sent++;
          const lost = this.lose(n, side, o.datagram) || this.deaf === (side === 'a' ? 'b' : 'a');
          this.captured.push({ tUs: this.nowUs, from: side, datagram: o.datagram, dropped: lost });
          if (!lost) this.inFlight.push({ atUs: this.nowUs + LATENCY_US, to: side === 'a' ? 'b' : 'a', datagram: o.datagram });
        } else if (o.kind === 'event') {
          const e = { tUs: this.nowUs, side, saId: o.saId, event: o.event };
          this.events.push(e);
          this.onEvent?.(e);
        } else {
          this.logs.push(`${this.nowUs} ${side} ${o.text}`);
        }
      }
    }
    return any;
  }

  /**
   * Runs until nothing is in flight and no deadline is left within the horizon (`untilUs`, or two
   * minutes); with `untilUs` given, the clock then stands at `untilUs`. Throws on livelock.
   */
  run(untilUs?: number, stepsMax = 20_000): void {
    const limit = untilUs ?? this.nowUs + 120_000_000;
    for (let step = 0; step < stepsMax; step++) {
      this.drain();
      const due = this.inFlight.filter((f) => f.atUs <= this.nowUs);
      if (due.length > 0) {
        this.inFlight = this.inFlight.filter((f) => f.atUs > this.nowUs);
        for (const f of due) this.ep(f.to).handle({ kind: 'rx', datagram: f.datagram }, this.nowUs);
        continue;
      }
      for (const side of ['a', 'b'] as const) {
        const t = this.ep(side).nextDeadlineUs();
        if (t !== undefined && t <= this.nowUs) this.ep(side).handle({ kind: 'timer' }, this.nowUs);
      }
      if (this.drain()) continue;
      const next = Math.min(...this.inFlight.map((f) => f.atUs), this.a.nextDeadlineUs() ?? Infinity, this.b.nextDeadlineUs() ?? Infinity);
      if (next > limit) {
        if (untilUs !== undefined) this.nowUs = untilUs;
        return;
      }
      // Time never runs backwards.
      if (next < this.nowUs) throw new Error('time ran backwards');
      this.nowUs = next;
    }
    throw new Error(`no quiescence after ${stepsMax} steps (seed ${this.seed})`);
  }

  eventsOf(side: Side, kind: IkeEndpointEvent['kind']): SeenEvent[] {
    return this.events.filter((e) => e.side === side && e.event.kind === kind);
  }
}
