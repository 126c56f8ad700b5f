// G-IKEv2 on the wire, read by tshark: registrations, refusals, scheduled and leave rekeys over UDP 848.
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hex } from '../../../src/lib/bytes.ts';
import { encodeIpv4, encodeUdp, IP_PROTO_UDP } from '../../../src/proto/ip/index.ts';
import { encodePcap, type PcapRecord } from '../../../src/sim/pcap.ts';
import { GROUP_ID, GroupLab, memberId, type Captured } from './harness.ts';

const TSHARK = '/usr/bin/tshark';

function records(captured: readonly Captured[]): PcapRecord[] {
  return captured
    .filter((c) => !c.dropped)
    .map((c) => {
      const d = c.datagram;
      const udp = encodeUdp({ srcPort: d.srcPort, dstPort: d.dstPort, payload: d.bytes }, d.srcAddr, d.dstAddr);
      const ip = encodeIpv4(
        { dscp: 0, ecn: 0, identification: 0, dontFragment: true, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: IP_PROTO_UDP, src: d.srcAddr, dst: d.dstAddr, options: new Uint8Array(0) },
        udp,
      );
      return { tUs: c.tUs, bytes: ip };
    });
}

/** tshark 4.0 does not dissect UDP 848 as ISAKMP by itself; we tell it to. */
function tshark(file: string, ...args: string[]): string {
  return execFileSync(TSHARK, ['-r', file, '-d', 'udp.port==848,isakmp', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
}

describe.skipIf(!existsSync(TSHARK))('G-IKEv2 on the wire, read by tshark', () => {
  it('every message decodes with no malformed packet; Wireshark opens GSA_REKEY with the KEK', () => {
    // Four members (one with a wrong PSK), a scheduled TEK rekey, then an eviction (two GSA_REKEYs).
    const lab = new GroupLab({ members: 4, seed: 11, member: (i) => (i === 3 ? { credential: { method: 'psk', psk: new TextEncoder().encode('wrong') } } : {}) });
    for (let i = 0; i < 4; i++) lab.register(i);
    lab.run(1_000_000);
    const kek = lab.gcks.exportKek(GROUP_ID)!;
    lab.command({ kind: 'command', command: { kind: 'rekey', groupId: GROUP_ID } });
    lab.run(1_000_000);
    const kekBeforeLeave = lab.gcks.exportKek(GROUP_ID)!;
    lab.command({ kind: 'command', command: { kind: 'evict', groupId: GROUP_ID, memberId: memberId(2) } });
    lab.run(1_000_000);
    const kekAfterLeave = lab.gcks.exportKek(GROUP_ID)!;
    expect(hex(kekBeforeLeave.spiI)).toBe(hex(kek.spiI));
    expect(hex(kekAfterLeave.spiI)).not.toBe(hex(kek.spiI));

    const dir = mkdtempSync(join(tmpdir(), 'gkm-pcap-'));
    const file = join(dir, 'gkm.pcap');
    try {
      writeFileSync(file, encodePcap(records(lab.captured)));
      const fields = tshark(file, '-T', 'fields', '-e', 'udp.dstport', '-e', 'isakmp.exchangetype', '-e', 'isakmp.nextpayload')
        .trim()
        .split('\n')
        .map((l) => l.split('\t'));
      // 4 × IKE_SA_INIT request and response, 4 × GSA_AUTH request and response, then GSA_REKEY:
      // 3 copies of the scheduled rekey, 2 × 2 copies for the eviction.
      expect(fields.map((f) => f[1])).toEqual([...Array(8).fill('34'), ...Array(8).fill('39'), ...Array(7).fill('41')]);
      expect(fields.every((f) => f[0] === '848')).toBe(true);
      // Encrypted messages start with SK (46); IKE_SA_INIT with SA (33).
      expect(fields[0]![2]!.startsWith('33,34')).toBe(true);
      expect(fields.slice(8).every((f) => f[2]!.startsWith('46'))).toBe(true);

      const verbose = tshark(file, '-V');
      expect(verbose).not.toMatch(/Malformed/i);
      // tshark 4.0 knows the payload names of RFC 9838 drafts but not exchange types 39–41, nor
      // transform type 13 (Key Wrap Algorithm) in IKE_SA_INIT: it prints them as unknown, not malformed.
      expect(verbose).toContain('Exchange type: IKE_SA_INIT (34)');
      expect(verbose).toContain('Exchange type: Unknown (39)');
      expect(verbose).toContain('Exchange type: Unknown (41)');
      expect(verbose).toContain('Transform Type: Reserved to IANA (13)');
      expect(verbose).toContain('Next payload: Group Security Association (51)');

      // Wireshark's own IKEv2 decryption opens the SK payload of the scheduled GSA_REKEY with the KEK
      // (GSK_e as SK_ei: the GCKS is the Rekey SA's initiator) and checks its ICV.
      const uat = (k: typeof kek) => `${hex(k.spiI)},${hex(k.spiR)},${hex(k.skE)},${hex(k.skE)},"AES-GCM-128 with 16 octet ICV [RFC5282]",,,"NONE [RFC4306]"`;
      const spiFilter = (k: typeof kek) => `isakmp.ispi == ${hex(k.spiI).replace(/(..)(?!$)/g, '$1:')}`;
      const decrypted = tshark(file, '-o', `uat:ikev2_decryption_table:${uat(kek)}`, '-V', '-Y', `${spiFilter(kek)} && isakmp.exchangetype == 41`);
      expect(decrypted).not.toMatch(/Malformed/i);
      expect(decrypted.match(/Integrity Checksum Data: .*\[correct\]/g)?.length).toBe(5); // 3 scheduled + 2 leave-1
      expect(decrypted).not.toMatch(/\[incorrect\]/);
      expect(decrypted).toContain('Payload: Group Security Association (51)');
      expect(decrypted).toContain('Payload: Key Download (52)');
      expect(decrypted).toContain('Payload: Authentication (39)');
      // The second leave message travels under the new KEK, which the first one delivered.
      const decrypted2 = tshark(file, '-o', `uat:ikev2_decryption_table:${uat(kekAfterLeave)}`, '-V', '-Y', spiFilter(kekAfterLeave));
      expect(decrypted2).not.toMatch(/Malformed/i);
      expect(decrypted2.match(/Integrity Checksum Data: .*\[correct\]/g)?.length).toBe(2);
      expect(decrypted2).toContain('Payload: Delete (42)');
    } finally {
      if (!process.env.KEEP_PCAP) rmSync(dir, { recursive: true, force: true });
    }
  });
});
