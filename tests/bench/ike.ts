// IKEv2 benchmark: complete exchanges (IKE_SA_INIT + IKE_AUTH with one child SA) per second of wall
// time, PSK and Ed25519, two endpoints over in-memory queues (the test pair of tests/proto/ike).
import { ADDR_B, childAtoB, ed25519Configs, Pair, pskConfigs } from '../proto/ike/harness.ts';
import type { BenchRow } from './util.ts';

export async function ikeBench(exchanges = 200): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const [label, configs] of [
    ['PSK', () => pskConfigs()],
    ['Ed25519 (RFC 8420)', () => ed25519Configs()],
  ] as const) {
    let children = 0;
    let datagrams = 0;
    let bytes = 0;
    const t0 = performance.now();
    for (let i = 0; i < exchanges; i++) {
      const { a, b } = configs();
      const p = new Pair(a, b, i + 1);
      p.command('a', { kind: 'request-child', peerAddr: ADDR_B, child: childAtoB() });
      p.run();
      children += p.eventsOf('a', 'child-sa-installed').length;
      datagrams += p.captured.length;
      for (const c of p.captured) bytes += c.datagram.bytes.length;
    }
    const s = (performance.now() - t0) / 1000;
    if (children !== exchanges) throw new Error(`ike bench: ${children} of ${exchanges} exchanges installed a child SA`);
    rows.push({ bench: 'ike', case: `IKE_SA_INIT + IKE_AUTH + child SA, ${label}, X25519`, exchanges, wallS: +s.toFixed(3), exchangesPerS: Math.round(exchanges / s), datagramsPerExchange: datagrams / exchanges, bytesPerExchange: Math.round(bytes / exchanges) });
  }
  return rows;
}
