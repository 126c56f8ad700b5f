import { describe, expect, it } from 'vitest';
import { Kernel } from '../../src/sim/kernel.ts';
import { decodePcap, LINKTYPE_RAW } from '../../src/sim/pcap.ts';
import { decodeIpv4 } from '../../src/proto/ip/index.ts';
import { chainTopology } from './fixtures/chain.ts';

describe('kernel', () => {
  it('carries pings end to end with RTT from link latency and serialisation', () => {
    const k = new Kernel(chainTopology({ traffic: 'ping', latencyUs: 1000, bandwidthBps: 100_000_000 }), { trace: true });
    k.runUntil(10_000_000);
    const snap = k.snapshot();
    const ping = snap.flows[0]!;
    expect(ping).toMatchObject({ kind: 'ping', sent: 5, received: 5, lost: 0 });
    // 3 links each way, 1 ms each, plus 84-byte frames at 100 Mb/s (7 µs per hop, rounded up).
    expect(ping.rttMinUs).toBe(2 * 3 * (1000 + Math.ceil((84 * 8) / 100)));
    expect(ping.rttMaxUs).toBe(ping.rttMinUs);
    expect(k.trace().some((l) => l.includes('log ping: 64 bytes from 10.0.2.2: icmp_seq=0 ttl=62'))).toBe(true);
  });

  it('counts udp datagrams per flow and link frames', () => {
    const k = new Kernel(chainTopology({ traffic: 'udp' }));
    k.runUntil(3_000_000);
    const snap = k.snapshot();
    // 1 Mb/s of 500-byte payloads for 1 s = 250 datagrams.
    expect(snap.flows[0]).toMatchObject({ kind: 'udp', sent: 250, received: 250, lost: 0 });
    expect(snap.links[0]!.dirs[0].frames).toBe(250);
    expect(snap.links[0]!.dirs[0].bytes).toBe(250 * 528);
    expect(snap.nodes[1]!.counters.forwarded).toBe(250);
  });

  it('loses frames at the configured rate, reproducibly from the seed', () => {
    const run = (seed: number) => {
      const k = new Kernel(chainTopology({ traffic: 'udp', loss: 0.1, seed }));
      k.runUntil(3_000_000);
      return k.snapshot();
    };
    const a = run(1);
    const b = run(1);
    const c = run(2);
    expect(a).toEqual(b);
    const lost = a.links.reduce((s, l) => s + l.dirs[0].lost, 0);
    // Three lossy hops at 10%: expect about 27% of 250 lost overall; allow a wide band.
    expect(a.flows[0]!.lost).toBe(250 - a.flows[0]!.received);
    expect(lost).toBe(a.flows[0]!.lost);
    expect(a.flows[0]!.lost).toBeGreaterThan(30);
    expect(a.flows[0]!.lost).toBeLessThan(110);
    expect(c.flows[0]!.received).not.toBe(a.flows[0]!.received);
  });

  it('jitter never reorders a direction', () => {
    const k = new Kernel(chainTopology({ traffic: 'udp', jitterUs: 5000 }), { taps: [2] });
    k.runUntil(3_000_000);
    const { records } = decodePcap(k.pcap(2));
    const seqs = records.map((r) => {
      const d = decodeIpv4(r.bytes);
      if (!d.ok) throw new Error('bad packet in tap');
      return new DataView(d.value.payload.buffer, d.value.payload.byteOffset).getUint32(8 + 8);
    });
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(k.snapshot().flows[0]!.received).toBe(250);
  });

  it('writes nanosecond pcaps with raw-IP link type and virtual timestamps', () => {
    const k = new Kernel(chainTopology({ traffic: 'ping' }));
    k.runUntil(10_000_000);
    const file = k.pcap(0);
    expect(new DataView(file.buffer).getUint32(0, true)).toBe(0xa1b23c4d);
    const { linkType, records } = decodePcap(file);
    expect(linkType).toBe(LINKTYPE_RAW);
    expect(records.length).toBe(10);
    expect(records[0]!.tUs).toBe(100_000);
    expect(records.every((r) => decodeIpv4(r.bytes).ok)).toBe(true);
  });

  it('a link taken down drops frames and counts them', () => {
    const k = new Kernel(chainTopology({ traffic: 'ping' }));
    k.runUntil(1_500_000);
    k.setLinkUp(1, false);
    k.runUntil(10_000_000);
    const s = k.snapshot();
    expect(s.flows[0]!.received).toBe(2);
    expect(s.links[1]!.dirs[0].droppedDown).toBe(3);
    expect(s.links[1]!.up).toBe(false);
  });

  it('step runs to the next event and time never goes back', () => {
    const k = new Kernel(chainTopology({ traffic: 'ping' }));
    expect(k.nextEventUs()).toBe(100_000);
    expect(k.step()).toBe(100_000);
    expect(k.step()).toBe(101_007);
    expect(() => k.runUntil(5)).toThrow(/time must be/);
  });

  it('a destination with no route is dropped and counted at the source', () => {
    const topo = chainTopology({ traffic: 'ping' });
    const t = topo.traffic[0]!;
    if (t.kind !== 'ping') throw new Error('fixture');
    t.to = 0x0b000001; // 11.0.0.1: nobody has a route
    const k = new Kernel(topo, { trace: true });
    k.runUntil(10_000_000);
    const s = k.snapshot();
    expect(s.nodes[0]!.counters.dropNoRoute).toBe(5);
    expect(s.flows[0]!.received).toBe(0);
  });
});
