import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseIpv4 } from '../../../src/lib/addr.ts';
import { entriesFromGatewayRoute, formatRange, hostRange, PORTS_ANY, prefixRange, PROTOCOL_ANY, Spd, type PacketSelectors, type SaTemplate, type SpdEntry } from '../../../src/proto/ipsec/spd.ts';
import { DEFAULT_LIFETIMES, Sad } from '../../../src/proto/ipsec/sad.ts';

const ip = (s: string) => parseIpv4(s)!;
const TEMPLATE: SaTemplate = { suite: 'aes-gcm-128', esn: true, replayWindow: 64, lifetimes: DEFAULT_LIFETIMES, establish: 'on-demand' };
const CE5 = ip('192.0.2.5');

function pkt(src: string, dst: string, protocol = 17, localPort = 1000, remotePort = 2000): PacketSelectors {
  return { local: ip(src), remote: ip(dst), protocol, localPort, remotePort };
}

describe('SPD (RFC 4301 §4.4.1)', () => {
  // Seed 002 FIG. 3, configuration data 310-5 at CE 140-5 (local network 150-5 = 10.5.0.0/24).
  function figure3(): Spd {
    const spd = new Spd();
    // #1: hosts 160-1 and 160-2 (trusted subnet 10.1.0.0/28 from BGP) protected via the gateway at CE 140-1.
    for (const e of entriesFromGatewayRoute({ trustedSubnet: '10.1.0.0/28', gateway: ip('192.0.2.1') }, { tunnelLocal: CE5, localPrefixes: ['10.5.0.0/24'], template: TEMPLATE })) spd.add(e);
    // #2: hosts 160-3..160-7 need no protection.
    spd.add({ name: 'fig3-2', origin: 'local', selectors: { local: prefixRange('10.5.0.0/24'), remote: { from: ip('10.1.0.16'), to: ip('10.1.0.22') }, protocol: PROTOCOL_ANY, localPorts: PORTS_ANY, remotePorts: PORTS_ANY }, action: { kind: 'bypass' } });
    // #3: anything in network 150-2 via a tunnel to CE 140-2 (another CE than the route's next hop may be named).
    for (const e of entriesFromGatewayRoute({ trustedSubnet: '10.2.0.0/16', gateway: ip('192.0.2.2') }, { tunnelLocal: CE5, localPrefixes: ['10.5.0.0/24'], template: TEMPLATE })) spd.add(e);
    // #4: a tunnel that ends at host 160-Z itself.
    for (const e of entriesFromGatewayRoute({ trustedSubnet: '10.9.0.7/32', gateway: ip('10.9.0.7') }, { tunnelLocal: CE5, localPrefixes: ['10.5.0.0/24'], template: TEMPLATE })) spd.add(e);
    return spd;
  }

  it('expresses the four kinds of entry of seed 002 FIG. 3', () => {
    const spd = figure3();
    const at = (src: string, dst: string) => {
      const e = spd.lookup(pkt(src, dst));
      return e ? (e.action.kind === 'protect' ? `protect→${formatRange(hostRange(e.action.tunnelRemote))}` : e.action.kind) : 'no match';
    };
    expect(at('10.5.0.9', '10.1.0.2')).toBe('protect→192.0.2.1'); // #1
    expect(at('10.5.0.9', '10.1.0.20')).toBe('bypass'); // #2
    expect(at('10.5.0.9', '10.2.33.4')).toBe('protect→192.0.2.2'); // #3
    expect(at('10.5.0.9', '10.9.0.7')).toBe('protect→10.9.0.7'); // #4: the tunnel ends at the host
    // Both halves must match: a source outside the locally configured prefix is not protected.
    expect(at('10.6.0.9', '10.1.0.2')).toBe('no match');
  });

  it('first match wins and entries keep their order; a withdraw removes exactly its entries', () => {
    const spd = figure3();
    spd.add({ name: 'deny-telnet', origin: 'local', selectors: { local: prefixRange('0.0.0.0/0'), remote: prefixRange('0.0.0.0/0'), protocol: 6, localPorts: PORTS_ANY, remotePorts: { from: 23, to: 23 } }, action: { kind: 'discard' } }, 'bgp:10.1.0.0/28:10.5.0.0/24');
    expect(spd.lookup(pkt('10.5.0.9', '10.1.0.2', 6, 5555, 23))?.action.kind).toBe('discard');
    expect(spd.lookup(pkt('10.5.0.9', '10.1.0.2', 6, 5555, 22))?.action.kind).toBe('protect');
    const before = spd.version;
    expect(spd.removeWhere((e) => e.name.startsWith('bgp:10.2.0.0/16:'))).toBe(1);
    expect(spd.lookup(pkt('10.5.0.9', '10.2.33.4'))).toBeUndefined();
    expect(spd.list().some((e) => e.name === 'bgp:10.2.0.0/16:10.5.0.0/24')).toBe(false);
    // Every change moves the version (an owner's stateVersion); a refused one does not.
    expect(spd.version).toBe(before + 1);
    expect(() => spd.add(spd.list()[0]!)).toThrow(/exists/);
    expect(spd.remove('no such entry')).toBe(false);
    expect(spd.version).toBe(before + 1);
  });

  it('lookup equals a naive first-match scan for random policies', () => {
    const range = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 })).map(([a, b]) => ({ from: (0x0a000000 + Math.min(a, b) * 256) >>> 0, to: (0x0a000000 + Math.max(a, b) * 256 + 255) >>> 0 }));
    const entry = fc.tuple(range, range, fc.constantFrom(PROTOCOL_ANY, 6, 17), fc.nat()).map(
      ([local, remote, protocol, id]): SpdEntry => ({ name: `e${id}`, origin: 'local', selectors: { local, remote, protocol, localPorts: PORTS_ANY, remotePorts: PORTS_ANY }, action: { kind: 'bypass' } }),
    );
    fc.assert(
      fc.property(fc.uniqueArray(entry, { selector: (e) => e.name, maxLength: 30 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 65535 }), fc.constantFrom(6, 17, 1))), (entries, packets) => {
        const spd = new Spd();
        for (const e of entries) spd.add(e);
        for (const [l, r, proto] of packets) {
          const p: PacketSelectors = { local: 0x0a000000 + l, remote: 0x0a000000 + r, protocol: proto, localPort: 1, remotePort: 2 };
          const naive = entries.find((e) => p.local >= e.selectors.local.from && p.local <= e.selectors.local.to && p.remote >= e.selectors.remote.from && p.remote <= e.selectors.remote.to && (e.selectors.protocol === PROTOCOL_ANY || e.selectors.protocol === proto));
          expect(spd.lookup(p)?.name).toBe(naive?.name);
        }
      }),
    );
  });
});

describe('SAD (RFC 4301 §4.4.2)', () => {
  it('signals soft then hard expiry by time and by bytes, and gives its next deadline', () => {
    const sad = new Sad();
    const base = { direction: 'outbound' as const, peer: ip('192.0.2.1'), suite: 'aes-gcm-128' as const, key: new Uint8Array(16).fill(7), salt: new Uint8Array(4), esn: true, replayWindow: 64, policy: 'p', createdUs: 1_000 };
    sad.add({ ...base, spi: 0x1001, lifetimes: { softUs: 10_000, hardUs: 20_000, softBytes: 0, hardBytes: 0 } });
    const byBytes = sad.add({ ...base, spi: 0x1002, lifetimes: { softUs: 1e12, hardUs: 2e12, softBytes: 1000, hardBytes: 2000 } });
    expect(sad.nextDeadlineUs()).toBe(11_000);
    sad.tick(10_999);
    expect(sad.pollEvent()).toBeUndefined();
    sad.tick(11_000);
    expect(sad.pollEvent()).toMatchObject({ kind: 'soft-expired', entry: { spi: 0x1001 } });
    expect(sad.nextDeadlineUs()).toBe(21_000);
    sad.tick(21_000);
    expect(sad.pollEvent()).toMatchObject({ kind: 'hard-expired', entry: { spi: 0x1001, state: 'expired' } });
    sad.addBytes('outbound', 0x1002, 999, 22_000);
    expect(sad.pollEvent()).toBeUndefined();
    sad.addBytes('outbound', 0x1002, 1, 22_000);
    expect(sad.pollEvent()).toMatchObject({ kind: 'soft-expired', entry: { spi: 0x1002 } });
    sad.addBytes('outbound', 0x1002, 5000, 22_000);
    expect(sad.pollEvent()).toMatchObject({ kind: 'hard-expired' });
    expect(byBytes.state).toBe('expired');
    const removed = sad.remove('outbound', 0x1002);
    expect(removed?.key.every((b) => b === 0)).toBe(true);
    expect(sad.get('outbound', 0x1002)).toBeUndefined();
  });
});
