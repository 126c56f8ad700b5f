// A security gateway's IPsec (RFC 4301 tunnel mode): an SPD consulted for every packet the node
// forwards, PROTECT entries encapsulated with the node's ESP engine, ESP addressed to the node
// decapsulated and the inner packet forwarded on. Owns the SPD and the engine's SAs of one node;
// never derives keys itself (they come from configuration, IKE or the GCKS).

import { formatIpv4 } from '../lib/addr.ts';
import type { EspDropReason, EspEngine, EspSaParams } from '../dataplane/esp.ts';
import { IP_PROTO_ESP, ipv4Dst, ipv4Protocol, ipv4Src } from '../proto/ip/index.ts';
import { DEFAULT_LIFETIMES } from '../proto/ipsec/sad.ts';
import { PORTS_ANY, PROTOCOL_ANY, Spd, prefixRange } from '../proto/ipsec/spd.ts';
import type { EspSaExport, NodeApp, NodeContext } from './types.ts';

/** A statically configured pairwise tunnel (DESIGN.md `mesh` mode): both SAs and the prefixes it protects. */
export interface StaticTunnel {
  name: string;
  localPrefixes: string[];
  remotePrefixes: string[];
  outbound: EspSaParams;
  inbound: EspSaParams;
}

export class IpsecApp implements NodeApp {
  readonly name = 'ipsec';
  readonly spd = new Spd();
  private readonly outboundByEntry = new Map<string, number>();
  private readonly handles: { name: string; outbound: number; inbound: number }[] = [];
  private readonly installed: EspSaExport[] = [];
  readonly counters = { protected: 0, delivered: 0, discarded: 0, drops: {} as Partial<Record<EspDropReason, number>> };

  constructor(
    private readonly ctx: NodeContext,
    private readonly engine: EspEngine,
    tunnels: readonly StaticTunnel[],
  ) {
    for (const t of tunnels) {
      const outbound = engine.addSa('outbound', t.outbound);
      const inbound = engine.addSa('inbound', t.inbound);
      this.installed.push(exportSa(t.outbound), exportSa(t.inbound));
      this.handles.push({ name: t.name, outbound, inbound });
      for (const local of t.localPrefixes) {
        for (const remote of t.remotePrefixes) {
          const name = `${t.name}:${local}>${remote}`;
          this.spd.add({
            name,
            origin: 'local',
            selectors: { local: prefixRange(local), remote: prefixRange(remote), protocol: PROTOCOL_ANY, localPorts: PORTS_ANY, remotePorts: PORTS_ANY },
            action: {
              kind: 'protect',
              tunnelLocal: t.outbound.tunnelSrc,
              tunnelRemote: t.outbound.tunnelDst,
              template: { suite: t.outbound.suite, esn: t.outbound.esn, replayWindow: t.inbound.replayWindow, lifetimes: DEFAULT_LIFETIMES, establish: 'pre-established' },
            },
          });
          this.outboundByEntry.set(name, outbound);
        }
      }
    }
  }

  transit(bytes: Uint8Array, nowUs: number): boolean {
    const entry = this.spd.lookup({ local: ipv4Src(bytes), remote: ipv4Dst(bytes), protocol: ipv4Protocol(bytes), localPort: 0, remotePort: 0 });
    if (!entry || entry.action.kind === 'bypass') return false;
    if (entry.action.kind === 'discard') {
      this.counters.discarded++;
      return true;
    }
    const [r] = this.engine.encapsulate(this.outboundByEntry.get(entry.name)!, [bytes]);
    if (!r?.ok) {
      this.drop(r?.reason ?? 'malformed');
      return true;
    }
    this.counters.protected++;
    this.ctx.forwardPacket(r.bytes.slice(), nowUs);
    return true;
  }

  receive(src: number, _dst: number, protocol: number, _payload: Uint8Array, nowUs: number, packet: Uint8Array): boolean {
    if (protocol !== IP_PROTO_ESP) return false;
    const [r] = this.engine.decapsulate([packet]);
    if (!r?.ok) {
      this.drop(r?.reason ?? 'malformed');
      this.ctx.log('ipsec', `ESP from ${formatIpv4(src)} dropped: ${r?.reason ?? 'malformed'}`);
      return true;
    }
    this.counters.delivered++;
    this.ctx.forwardPacket(r.bytes.slice(), nowUs);
    return true;
  }

  timer(): void {}

  nextDeadlineUs(): number | undefined {
    return undefined;
  }

  snapshot(): Record<string, unknown> {
    return {
      counters: { ...this.counters, drops: { ...this.counters.drops } },
      spd: this.spd.list().map((e) => e.name),
      sas: this.handles.map((h) => {
        const o = this.engine.counters(h.outbound);
        const i = this.engine.counters(h.inbound);
        return { tunnel: h.name, outbound: { packets: o.packets, bytes: o.bytes, seq: o.seq.toString() }, inbound: { packets: i.packets, bytes: i.bytes, seq: i.seq.toString() } };
      }),
    };
  }

  espSas(): EspSaExport[] {
    return this.installed.slice();
  }

  private drop(reason: EspDropReason): void {
    this.counters.drops[reason] = (this.counters.drops[reason] ?? 0) + 1;
  }
}

const hexOf = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** How Wireshark needs an SA to decrypt it (see EspSaExport). */
export function exportSa(sa: EspSaParams): EspSaExport {
  return { src: formatIpv4(sa.tunnelSrc), dst: formatIpv4(sa.tunnelDst), spi: sa.spi, suite: sa.suite, keyHex: hexOf(sa.key) + hexOf(sa.salt) };
}
