// BGP route reflector convergence: one reflector, N clients each announcing 10 prefixes; wall time until
// every client's Loc-RIB holds every prefix, UPDATEs sent and encoded, heap growth. Measures only.

import type { Ipv4Prefix } from '../../src/lib/addr.ts';
import { AS4_CONTEXT, decodeMessage } from '../../src/proto/bgp/index.ts';
import { BgpRouter } from '../../src/proto/bgp/router.ts';

type Row = Record<string, string | number>;

const AS = 65000;
const PREFIXES_PER_CLIENT = 10;
const RR_ID = 0x0a000001;

function heapMb(): number {
  return process.memoryUsage().heapUsed / 1e6;
}

/** Client i's address (11.0.0.0 + i + 1) and its k-th prefix: consecutive /24s from 20.0.0.0. */
const clientAddr = (i: number): number => (0x0b000000 + i + 1) >>> 0;
const clientPrefix = (i: number, k: number): Ipv4Prefix => ({ family: 4, addr: (0x14000000 + (i * PREFIXES_PER_CLIENT + k) * 256) >>> 0, len: 24 });

function runReflector(n: number): Row {
  (globalThis as { gc?: () => void }).gc?.();
  const heap0 = heapMb();
  const setup0 = performance.now();
  const names = Array.from({ length: n }, (_, i) => `c${i}`);
  // The reflector forwards no traffic (no forwarding table to feed): its change feed is off.
  const rr = new BgpRouter({
    localAs: AS,
    routerId: RR_ID,
    peers: names.map((id, i) => ({ id, asNumber: AS, address: clientAddr(i), routeReflectorClient: true })),
    routeChanges: false,
  });
  const clients = names.map((_, i) => new BgpRouter({ localAs: AS, routerId: clientAddr(i), peers: [{ id: 'rr', asNumber: AS, address: RR_ID }] }));
  const index = new Map(names.map((id, i) => [id, i]));
  for (let i = 0; i < n; i++) {
    rr.peerUp(names[i]!, { bgpIdentifier: clientAddr(i), families: ['ipv4-unicast'], as4: true });
    clients[i]!.peerUp('rr', { bgpIdentifier: RR_ID, families: ['ipv4-unicast'], as4: true });
  }
  const setupS = (performance.now() - setup0) / 1000;

  let peakHeap = heapMb();
  let delivered = 0;
  let routeChanges = 0;
  // Each router has an inbox; a round lets every router drain its inbox, then poll its outputs into
  // the other end's inbox (what an event loop per node does). The UPDATEs are decoded by each receiver.
  const rrInbox: { from: number; bytes: Uint8Array }[] = [];
  const clientInbox: Uint8Array[][] = clients.map(() => []);
  const clientTurn = (i: number): number => {
    const c = clients[i]!;
    const inbox = clientInbox[i]!;
    for (const bytes of inbox) {
      const d = decodeMessage(bytes, AS4_CONTEXT);
      if (!d.ok) throw new Error(d.error.toString());
      c.receiveUpdate('rr', d.value);
    }
    const moved = inbox.length;
    inbox.length = 0;
    for (let o = c.poll(); o; o = c.poll()) rrInbox.push({ from: i, bytes: o.bytes });
    // What a node does with the change feed: drain it (into its forwarding table).
    for (let ch = c.pollRouteChange(); ch; ch = c.pollRouteChange()) routeChanges++;
    return moved;
  };
  const t0 = performance.now();
  for (let i = 0; i < n; i++) for (let k = 0; k < PREFIXES_PER_CLIENT; k++) clients[i]!.originate(clientPrefix(i, k));
  for (let round = 0; ; round++) {
    if (round > 16) throw new Error('bgp-rr bench: no convergence after 16 rounds');
    let moved = 0;
    for (let i = 0; i < n; i++) moved += clientTurn(i);
    for (const { from, bytes } of rrInbox) {
      const d = decodeMessage(bytes, AS4_CONTEXT);
      if (!d.ok) throw new Error(d.error.toString());
      rr.receiveUpdate(names[from]!, d.value);
    }
    moved += rrInbox.length;
    rrInbox.length = 0;
    for (let o = rr.poll(); o; o = rr.poll()) clientInbox[index.get(o.peer)!]!.push(o.bytes);
    peakHeap = Math.max(peakHeap, heapMb());
    delivered += moved;
    if (!moved && clientInbox.every((q) => q.length === 0)) break;
  }
  const convergeS = (performance.now() - t0) / 1000;
  const want = n * PREFIXES_PER_CLIENT;
  for (let i = 0; i < n; i++) {
    const have = clients[i]!.locRibSize();
    if (have !== want) throw new Error(`bgp-rr bench: client ${i} has ${have} of ${want} prefixes`);
  }
  const sent = rr.stats().updatesSent + clients.reduce((s, c) => s + c.stats().updatesSent, 0);
  const rrStats = rr.stats();
  return {
    bench: 'bgp-rr',
    case: `1 reflector, ${n} clients x ${PREFIXES_PER_CLIENT} prefixes`,
    setupS: +setupS.toFixed(3),
    convergeS: +convergeS.toFixed(3),
    updatesSent: sent,
    updatesDelivered: delivered,
    rrUpdatesEncoded: rrStats.updatesEncoded,
    rrUpdatesSent: rrStats.updatesSent,
    routesInstalled: n * want,
    routeChanges,
    // heapUsed sampled after each round (garbage included), minus the heap before setup.
    peakHeapDeltaMb: Math.round(peakHeap - heap0),
  };
}

/** N = 100 and N = 1000 (target: N = 1000 converges in under 10 s, single-threaded). */
export async function bgpReflectorBench(sizes: readonly number[] = [100, 1000]): Promise<Row[]> {
  return sizes.map(runReflector);
}
