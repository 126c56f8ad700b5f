import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hex } from '../../../src/lib/bytes.ts';
import { encodeIpv4, encodeUdp, IP_PROTO_UDP } from '../../../src/proto/ip/index.ts';
import { encodePcap, type PcapRecord } from '../../../src/sim/pcap.ts';
import { DH_CURVE25519, DH_ECP_256, PRF_HMAC_SHA2_256 } from '../../../src/proto/ike/index.ts';
import { ADDR_B, childAtoB, Pair, pskConfigs, type Captured } from './harness.ts';

const TSHARK = '/usr/bin/tshark';

function records(captured: readonly Captured[], offsetUs = 0): PcapRecord[] {
  return captured
    .filter((c) => !c.dropped)
    .map((c) => {
      const d = c.datagram;
      const udp = encodeUdp({ srcPort: d.srcPort, dstPort: d.dstPort, payload: d.bytes }, d.srcAddr, d.dstAddr);
      const ip = encodeIpv4(
        { dscp: 0, ecn: 0, identification: 0, dontFragment: true, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: IP_PROTO_UDP, src: d.srcAddr, dst: d.dstAddr, options: new Uint8Array(0) },
        udp,
      );
      return { tUs: c.tUs + offsetUs, bytes: ip };
    });
}

function tshark(file: string, ...args: string[]): string {
  return execFileSync(TSHARK, ['-r', file, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
}

describe.skipIf(!existsSync(TSHARK))('IKEv2 on the wire, read by tshark', () => {
  it('every exchange type decodes with no malformed packet, and Wireshark decrypts SK with our keys', () => {
    // Run 1: INVALID_KE_PAYLOAD retry, IKE_AUTH, PFS rekey, Delete of the old Child SA, Delete of the IKE SA.
    const pfs = [{ encr: 'aes-gcm-128' as const, esn: false, pfsGroup: DH_CURVE25519 }];
    const c1 = pskConfigs({
      a: { ikeProposal: { encrs: ['aes-gcm-128'], prfs: [PRF_HMAC_SHA2_256], dhGroups: [DH_ECP_256, DH_CURVE25519] }, childSuites: pfs },
      b: { childSuites: pfs },
    });
    const p = new Pair(c1.a, c1.b, 3);
    p.command('a', { kind: 'request-child', peerAddr: ADDR_B, child: childAtoB() });
    p.run();
    const saId = p.events.find((e) => e.side === 'a' && e.event.kind === 'ike-sa-created')!.saId;
    const keys = p.a.sa(saId)!.exportKeys()!;
    const child = p.events.find((e) => e.side === 'a' && e.event.kind === 'child-sa-installed')!.event;
    if (child.kind !== 'child-sa-installed') throw new Error('no Child SA');
    p.command('a', { kind: 'sa', saId, command: { kind: 'rekey-child', spi: child.child.inbound.spi } });
    p.run();
    p.command('a', { kind: 'sa', saId, command: { kind: 'delete-ike' } });
    p.run();
    // Run 2: a wrong PSK (AUTHENTICATION_FAILED) and run 3: NO_PROPOSAL_CHOSEN, later in the same file.
    const c2 = pskConfigs({ pskB: new TextEncoder().encode('another secret') });
    const p2 = new Pair(c2.a, c2.b, 4);
    p2.command('a', { kind: 'request-child', peerAddr: ADDR_B, child: childAtoB() });
    p2.run();
    const c3 = pskConfigs({ a: { ikeProposal: { encrs: ['aes-gcm-256'], prfs: [PRF_HMAC_SHA2_256], dhGroups: [DH_CURVE25519] } } });
    const p3 = new Pair(c3.a, c3.b, 5);
    p3.command('a', { kind: 'request-child', peerAddr: ADDR_B, child: childAtoB() });
    p3.run();

    const dir = mkdtempSync(join(tmpdir(), 'ike-pcap-'));
    const file = join(dir, 'ike.pcap');
    try {
      writeFileSync(file, encodePcap([...records(p.captured), ...records(p2.captured, 100_000_000), ...records(p3.captured, 200_000_000)]));
      // tshark 4.0 names the exchange type field isakmp.exchangetype (there is no isakmp.exchtype).
      const fields = tshark(file, '-T', 'fields', '-e', 'isakmp.exchangetype', '-e', 'isakmp.nextpayload')
        .trim()
        .split('\n')
        .map((l) => l.split('\t'));
      const types = fields.map((f) => f[0]);
      expect(new Set(types)).toEqual(new Set(['34', '35', '36', '37']));
      expect(types.slice(0, 6)).toEqual(['34', '34', '34', '34', '35', '35']);
      // IKE_SA_INIT starts with SA; encrypted messages start with SK (46).
      expect(fields[0]![1]!.startsWith('33,34,')).toBe(true);
      expect(fields[4]![1]!.startsWith('46')).toBe(true);

      const verbose = tshark(file, '-V');
      expect(verbose).not.toMatch(/Malformed/i);
      for (const t of ['IKE_SA_INIT (34)', 'IKE_AUTH (35)', 'CREATE_CHILD_SA (36)', 'INFORMATIONAL (37)']) expect(verbose).toContain(`Exchange type: ${t}`);
      expect(verbose).toContain('INVALID_KE_PAYLOAD (17)');
      expect(verbose).toContain('NO_PROPOSAL_CHOSEN (14)');
      expect(verbose).toContain('Curve25519 (31)');
      expect(verbose).toContain('Supported Signature Hash Algorithm: Identity (5)');

      // Wireshark's own IKEv2 decryption (an implementation independent of ours) opens the SK
      // payloads of run 1 with the keys we derived: IDs, AUTH, TS, REKEY_SA and Delete appear.
      // UAT record: SPIi, SPIr, SK_ei, SK_er (hex, unquoted; with AES-GCM the 4-octet salt follows the key), algorithm names.
      const uat = `${hex(keys.spiI)},${hex(keys.spiR)},${hex(keys.skEi)},${hex(keys.skEr)},"AES-GCM-128 with 16 octet ICV [RFC5282]",,,"NONE [RFC4306]"`;
      const decrypted = tshark(file, '-o', `uat:ikev2_decryption_table:${uat}`, '-V', '-Y', `isakmp.ispi == ${hex(keys.spiI).replace(/(..)(?!$)/g, '$1:')}`);
      expect(decrypted).not.toMatch(/Malformed/i);
      expect(decrypted).toContain('Payload: Identification - Initiator (35)');
      expect(decrypted).toContain('Payload: Identification - Responder (36)');
      expect(decrypted).toContain('Payload: Authentication (39)');
      expect(decrypted).toContain('Payload: Traffic Selector - Initiator (44)');
      expect(decrypted).toContain('REKEY_SA');
      expect(decrypted).toContain('Payload: Delete (42)');
      // The PFS KE payloads inside CREATE_CHILD_SA show only once decrypted.
      const kes = (text: string) => text.match(/Payload: Key Exchange \(34\)/g)?.length ?? 0;
      expect(kes(decrypted) - kes(tshark(file, '-V', '-Y', `isakmp.ispi == ${hex(keys.spiI).replace(/(..)(?!$)/g, '$1:')}`))).toBe(2);
      // Every SK payload of run 1 (IKE_AUTH ×2, CREATE_CHILD_SA ×2, INFORMATIONAL ×4) verifies.
      expect(decrypted.match(/Integrity Checksum Data: .*\[correct\]/g)?.length).toBe(8);
      expect(decrypted).not.toMatch(/\[incorrect\]/);
    } finally {
      if (!process.env.KEEP_PCAP) rmSync(dir, { recursive: true, force: true });
    }
  });
});
