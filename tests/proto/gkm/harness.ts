// A GCKS and N group members over in-memory queues with virtual time (after quinn-proto's
// tests/util.rs): deliver what is due, jump to the next wake-up, bound the loop so livelock fails loudly.

import { ed25519 } from '@noble/curves/ed25519.js';
import { parseIpv4 } from '../../../src/lib/addr.ts';
import { Pcg32 } from '../../../src/lib/rng.ts';
import { ID_TYPE, type IkeId, type PeerCredential } from '../../../src/proto/ike/index.ts';
import {
  Gcks,
  GroupMember,
  type GcksConfig,
  type GcksEvent,
  type GkmDatagram,
  type GroupConfig,
  type GroupMemberConfig,
  type MemberEvent,
} from '../../../src/proto/gkm/index.ts';

export const GCKS_ADDR = parseIpv4('198.51.100.1')!;
export const memberAddr = (i: number) => parseIpv4(`192.0.2.${10 + i}`)!;
export const LATENCY_US = 2_000;

const text = (s: string) => new TextEncoder().encode(s);
export const fqdn = (name: string): IkeId => ({ idType: ID_TYPE.ID_FQDN, data: text(name) });
export const GCKS_ID = fqdn('sr.example');
export const GROUP_ID: IkeId = { idType: ID_TYPE.ID_KEY_ID, data: text('vpn-blue') };
export const memberId = (i: number) => fqdn(`ce-${i}.example`);
export const psk = (i: number) => text(`member ${i} pre-shared key`);

export function ed25519Keys(seedByte: number): { secretKey: Uint8Array; publicKey: Uint8Array } {
  const secretKey = new Uint8Array(32).fill(seedByte);
  return { secretKey, publicKey: ed25519.getPublicKey(secretKey) };
}
export const GCKS_KEYS = ed25519Keys(0x5a);

export type NodeRef = 'gcks' | number;

export interface Captured {
  tUs: number;
  from: NodeRef;
  to: NodeRef | undefined;
  datagram: GkmDatagram;
  dropped: boolean;
}

export interface LabOptions {
  members: number;
  seed?: number;
  /** Member i authenticates with Ed25519 instead of a PSK. */
  ed25519?: (i: number) => boolean;
  group?: Partial<GroupConfig>;
  gcks?: Partial<GcksConfig>;
  member?: (i: number) => Partial<GroupMemberConfig>;
  /** Identities the GCKS knows beyond members 0..n-1 (e.g. to test authorization). */
  authorized?: (i: number) => boolean;
}

/** Config of member i as the GCKS sees it and as it sees itself. */
export function memberCredential(i: number, ed: boolean): { gcksSide: PeerCredential; memberSide: PeerCredential; secretKey?: Uint8Array } {
  if (!ed) return { gcksSide: { method: 'psk', psk: psk(i) }, memberSide: { method: 'psk', psk: psk(i) } };
  const k = ed25519Keys(0x10 + i);
  return { gcksSide: { method: 'ed25519', publicKey: k.publicKey }, memberSide: { method: 'ed25519', publicKey: GCKS_KEYS.publicKey }, secretKey: k.secretKey };
}

export class GroupLab {
  readonly gcks: Gcks;
  readonly members: GroupMember[] = [];
  nowUs = 0;
  readonly captured: Captured[] = [];
  readonly gcksEvents: { tUs: number; event: GcksEvent }[] = [];
  readonly memberEvents: { tUs: number; member: number; event: MemberEvent }[] = [];
  readonly logs: string[] = [];
  /** Return true to lose a datagram. */
  lose: (c: Omit<Captured, 'dropped'>) => boolean = () => false;
  onMemberEvent: ((member: number, event: MemberEvent, tUs: number) => void) | undefined;
  onGcksEvent: ((event: GcksEvent, tUs: number) => void) | undefined;
  private queue: { atUs: number; seq: number; run: () => void }[] = [];
  private seq = 0;
  private readonly byAddr = new Map<number, number>();

  constructor(
    readonly opts: LabOptions,
    extraMembers: { id: IkeId; credential: PeerCredential }[] = [],
  ) {
    const seed = opts.seed ?? 1;
    const n = opts.members;
    const creds = Array.from({ length: n }, (_, i) => memberCredential(i, opts.ed25519?.(i) ?? false));
    const group: GroupConfig = {
      groupId: GROUP_ID,
      authorized: Array.from({ length: n }, (_, i) => i)
        .filter((i) => opts.authorized?.(i) ?? true)
        .map(memberId),
      tekLifetimeS: 60,
      kekLifetimeS: 300,
      rekeyLeadS: 10,
      atdS: 1,
      dtdS: 2,
      ...opts.group,
    };
    const cfg: GcksConfig = {
      localAddr: GCKS_ADDR,
      localId: GCKS_ID,
      ed25519SecretKey: GCKS_KEYS.secretKey,
      members: [...creds.map((c, i) => ({ id: memberId(i), credential: c.gcksSide })), ...extraMembers],
      groups: [group],
      ...opts.gcks,
    };
    this.gcks = new Gcks(cfg, new Pcg32(BigInt(seed), 1000n));
    for (let i = 0; i < n; i++) this.addMember(i, { credential: creds[i]!.memberSide, ...(creds[i]!.secretKey ? { ed25519SecretKey: creds[i]!.secretKey } : {}), ...opts.member?.(i) });
  }

  /** Adds member `i` (its address is memberAddr(i)). */
  addMember(i: number, over: Partial<GroupMemberConfig> = {}): GroupMember {
    const cfg: GroupMemberConfig = {
      localAddr: memberAddr(i),
      gcksAddr: GCKS_ADDR,
      localId: memberId(i),
      gcksId: GCKS_ID,
      credential: { method: 'psk', psk: psk(i) },
      groupId: GROUP_ID,
      ...over,
    };
    const m = new GroupMember(cfg, new Pcg32(BigInt(this.opts.seed ?? 1), BigInt(2000 + i)));
    this.members[i] = m;
    this.byAddr.set(cfg.localAddr, i);
    return m;
  }

  at(atUs: number, run: () => void): void {
    this.queue.push({ atUs, seq: this.seq++, run });
    this.queue.sort((a, b) => a.atUs - b.atUs || a.seq - b.seq);
  }

  register(i: number): void {
    this.members[i]!.handle({ kind: 'command', command: { kind: 'register' } }, this.nowUs);
    this.drain();
  }

  command(c: Parameters<Gcks['handle']>[0]): void {
    this.gcks.handle(c, this.nowUs);
    this.drain();
  }

  /** Hands a datagram to a node now, as if it had arrived. */
  inject(to: NodeRef, datagram: GkmDatagram): void {
    if (to === 'gcks') this.gcks.handle({ kind: 'rx', datagram }, this.nowUs);
    else this.members[to]!.handle({ kind: 'rx', datagram }, this.nowUs);
    this.drain();
  }

  private route(from: NodeRef, d: GkmDatagram): void {
    const to: NodeRef | undefined = d.dstAddr === GCKS_ADDR ? 'gcks' : this.byAddr.get(d.dstAddr);
    const c = { tUs: this.nowUs, from, to, datagram: d };
    const dropped = to === undefined || this.lose(c);
    this.captured.push({ ...c, dropped });
    if (dropped || to === undefined) return;
    this.at(this.nowUs + LATENCY_US, () => {
      if (to === 'gcks') this.gcks.handle({ kind: 'rx', datagram: d }, this.nowUs);
      else this.members[to]?.handle({ kind: 'rx', datagram: d }, this.nowUs);
    });
  }

  drain(): void {
    for (let again = true; again; ) {
      again = false;
      for (let o = this.gcks.poll(); o; o = this.gcks.poll()) {
        again = true;
        if (o.kind === 'tx') this.route('gcks', o.datagram);
        else if (o.kind === 'event') {
          this.gcksEvents.push({ tUs: this.nowUs, event: o.event });
          this.onGcksEvent?.(o.event, this.nowUs);
        } else this.logs.push(`${this.nowUs} ${o.text}`);
      }
      this.members.forEach((m, i) => {
        for (let o = m.poll(); o; o = m.poll()) {
          again = true;
          if (o.kind === 'tx') this.route(i, o.datagram);
          else if (o.kind === 'event') {
            this.memberEvents.push({ tUs: this.nowUs, member: i, event: o.event });
            this.onMemberEvent?.(i, o.event, this.nowUs);
          } else this.logs.push(`${this.nowUs} ${o.text}`);
        }
      });
    }
  }

  /** Runs until `untilUs` of virtual time; throws on livelock (more than `stepsMax` wake-ups). */
  runUntil(untilUs: number, stepsMax = 2_000_000): void {
    for (let steps = 0; ; steps++) {
      if (steps > stepsMax) throw new Error(`livelock at ${this.nowUs} µs (seed ${this.opts.seed ?? 1})`);
      this.drain();
      let t = this.queue[0]?.atUs ?? Infinity;
      t = Math.min(t, this.gcks.nextDeadlineUs() ?? Infinity);
      for (const m of this.members) if (m) t = Math.min(t, m.nextDeadlineUs() ?? Infinity);
      if (t > untilUs) {
        this.nowUs = Math.max(this.nowUs, untilUs);
        return;
      }
      this.nowUs = Math.max(this.nowUs, t);
      while (this.queue.length > 0 && this.queue[0]!.atUs <= this.nowUs) {
        this.queue.shift()!.run();
        this.drain();
      }
      if ((this.gcks.nextDeadlineUs() ?? Infinity) <= this.nowUs) this.gcks.handle({ kind: 'timer' }, this.nowUs);
      this.members.forEach((m) => {
        if (m && (m.nextDeadlineUs() ?? Infinity) <= this.nowUs) m.handle({ kind: 'timer' }, this.nowUs);
      });
    }
  }

  /** Runs for `us` more. */
  run(us: number): void {
    this.runUntil(this.nowUs + us);
  }

  eventsOf(member: number): MemberEvent[] {
    return this.memberEvents.filter((e) => e.member === member).map((e) => e.event);
  }
}
