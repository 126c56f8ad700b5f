// A member's data plane for the group tests: the TypeScript ESP engine fed by the member's TEK events
// (install inbound at once, send on the TEK the member names, remove when told). Test support only.

import { TsEspEngine } from '../../../src/dataplane/esp-ts.ts';
import type { EspResult } from '../../../src/dataplane/esp.ts';
import { encodeIpv4, encodeUdp, IP_PROTO_UDP } from '../../../src/proto/ip/index.ts';
import type { GroupTek, MemberEvent } from '../../../src/proto/gkm/index.ts';

export class MemberDataPlane {
  readonly engine = new TsEspEngine();
  private readonly inbound = new Map<number, number>();
  private outbound: { spi: number; handle: number } | undefined;
  private readonly teks = new Map<number, GroupTek>();
  readonly removed: number[] = [];

  constructor(readonly addr: number) {}

  onEvent(e: MemberEvent): void {
    switch (e.kind) {
      case 'tek-installed':
        this.teks.set(e.tek.spi, e.tek);
        if (!this.inbound.has(e.tek.spi)) this.inbound.set(e.tek.spi, this.engine.addSa('inbound', e.tek.sa));
        break;
      case 'tek-outbound': {
        const tek = this.teks.get(e.spi)!;
        if (this.outbound) this.engine.removeSa(this.outbound.handle);
        const handle = this.engine.addSa('outbound', { ...tek.sa, tunnelDst: 0xe0000001 });
        // Our Sender-ID's range of sequence numbers (and so of AES-GCM IVs) on this group SA.
        if (tek.seqFirst !== undefined) this.engine.setNextSeq(handle, tek.seqFirst);
        this.outbound = { spi: e.spi, handle };
        break;
      }
      case 'tek-removed': {
        const h = this.inbound.get(e.spi);
        if (h !== undefined) this.engine.removeSa(h);
        this.inbound.delete(e.spi);
        this.teks.delete(e.spi);
        this.removed.push(e.spi);
        if (this.outbound?.spi === e.spi) {
          this.engine.removeSa(this.outbound.handle);
          this.outbound = undefined;
        }
        break;
      }
      default:
        break;
    }
  }

  get outboundSpi(): number | undefined {
    return this.outbound?.spi;
  }

  /** Seals an inner UDP packet with our outbound group SA; undefined when we have none. */
  seal(dstAddr: number, text: string): Uint8Array | undefined {
    if (!this.outbound) return undefined;
    const payload = new TextEncoder().encode(text);
    const udp = encodeUdp({ srcPort: 4000, dstPort: 4000, payload }, this.addr, dstAddr);
    const inner = encodeIpv4({ dscp: 0, ecn: 0, identification: 0, dontFragment: true, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: IP_PROTO_UDP, src: this.addr, dst: dstAddr, options: new Uint8Array(0) }, udp);
    const r = this.engine.encapsulate(this.outbound.handle, [inner])[0]!;
    return r.ok ? r.bytes : undefined;
  }

  open(outer: Uint8Array): EspResult {
    return this.engine.decapsulate([outer])[0]!;
  }
}

/** The text a sealed packet carried (the UDP payload of the inner IPv4 packet). */
export function innerText(inner: Uint8Array): string {
  return new TextDecoder().decode(inner.subarray(28));
}
