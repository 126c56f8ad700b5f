// A whole BGP session written as a pcap of IPv4/TCP port 179 packets and read back by tshark: no
// malformed packet, no bad checksum, and the fields we care about print as we meant them.
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { concat } from '../../../src/lib/bytes.ts';
import { IP_PROTO_TCP, encodeIpv4, internetChecksum, ipv4PseudoHeaderSum } from '../../../src/proto/ip/index.ts';
import { encodePcap, type PcapRecord } from '../../../src/sim/pcap.ts';
import {
  AS4_CONTEXT,
  CEASE,
  ERROR_CODE,
  KEEPALIVE,
  attribute,
  encodeMessage,
  endOfRib,
  extendedCommunityBytes,
  multiprotocol,
  openMessage,
  packUpdates,
  packWithdrawals,
  parseRouteDistinguisher,
  parseRouteTarget,
  securityGatewayIdentity,
  type BgpMessage,
} from '../../../src/proto/bgp/index.ts';

const ctx = AS4_CONTEXT;
const PE1 = 0x0a000001; // 10.0.0.1
const PE2 = 0x0a000002; // 10.0.0.2
const BGP_PORT = 179;

/** A 20-octet TCP header (RFC 9293 §3.1) with PSH+ACK, and the checksum over the IPv4 pseudo-header. */
function tcpSegment(src: number, dst: number, srcPort: number, dstPort: number, seq: number, ack: number, payload: Uint8Array): Uint8Array {
  const seg = new Uint8Array(20 + payload.length);
  const dv = new DataView(seg.buffer);
  dv.setUint16(0, srcPort);
  dv.setUint16(2, dstPort);
  dv.setUint32(4, seq >>> 0);
  dv.setUint32(8, ack >>> 0);
  seg[12] = 5 << 4; // data offset: 5 words, no options
  seg[13] = 0x18; // PSH, ACK
  dv.setUint16(14, 65535); // window
  seg.set(payload, 20);
  dv.setUint16(16, internetChecksum(seg, ipv4PseudoHeaderSum(src, dst, IP_PROTO_TCP, seg.length)));
  return seg;
}

/** One direction of the connection: sequence numbers advance by the bytes sent; the ACK follows the other side. */
class Side {
  seq: number;
  constructor(
    readonly addr: number,
    readonly port: number,
    isn: number,
  ) {
    this.seq = isn + 1; // as if SYN had been sent (the capture starts after the handshake)
  }
}

function buildSession(): PcapRecord[] {
  const pe1 = new Side(PE1, 50179, 1000);
  const pe2 = new Side(PE2, BGP_PORT, 7000);
  const records: PcapRecord[] = [];
  let tUs = 1_000_000;
  let ipId = 1;
  const send = (from: Side, to: Side, ...messages: (BgpMessage | Uint8Array)[]): void => {
    const payload = concat(...messages.map((m) => (m instanceof Uint8Array ? m : encodeMessage(m, ctx))));
    const seg = tcpSegment(from.addr, to.addr, from.port, to.port, from.seq, to.seq, payload);
    const ip = encodeIpv4({ dscp: 48, ecn: 0, identification: ipId++, dontFragment: true, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: IP_PROTO_TCP, src: from.addr, dst: to.addr, options: new Uint8Array(0) }, seg);
    records.push({ tUs, bytes: ip });
    from.seq += payload.length;
    tUs += 1000;
  };

  const caps = [multiprotocol('vpn-ipv4'), multiprotocol('rt-membership'), { type: 'ROUTE_REFRESH' as const }, { type: 'FOUR_OCTET_AS' as const, asNumber: 65000 }];
  send(pe1, pe2, openMessage({ asNumber: 65000, holdTimeS: 90, bgpIdentifier: PE1, capabilities: caps }));
  send(pe2, pe1, openMessage({ asNumber: 65000, holdTimeS: 90, bgpIdentifier: PE2, capabilities: caps }));
  send(pe1, pe2, KEEPALIVE);
  send(pe2, pe1, KEEPALIVE);

  // RFC 4684: PE1 wants routes with route target 65000:1.
  const rt = parseRouteTarget('65000:1')!;
  const rtc = packUpdates([attribute('ORIGIN', 0), attribute('AS_PATH', [])], { family: 'rt-membership', nextHop: PE1, nlri: [{ prefixLength: 96, originAs: 65000, routeTarget: extendedCommunityBytes(rt) }] }, ctx);
  if (!rtc.ok) throw new Error(rtc.error.message);
  send(pe1, pe2, ...rtc.value);

  // Seed 002: PE2 carries a CE's trusted subnets in VPN-IPv4 with the route target and the Security Gateway Identity.
  const attrs = [
    attribute('ORIGIN', 0),
    attribute('AS_PATH', [{ type: 2, asNumbers: [65101] }]),
    attribute('LOCAL_PREF', 100),
    attribute('EXTENDED_COMMUNITIES', [rt, securityGatewayIdentity(0xc0a80a01, { preEstablish: true }), securityGatewayIdentity(0xc0a80a02, { transitive: false })]),
  ];
  const rd = parseRouteDistinguisher('65000:1')!;
  const vpn = packUpdates(attrs, { family: 'vpn-ipv4', nextHop: PE2, nlri: [{ labels: [1001], rd, prefix: { family: 4, addr: 0xac100000, len: 16 } }, { labels: [1002], rd, prefix: { family: 4, addr: 0xac110100, len: 24 } }] }, ctx);
  if (!vpn.ok) throw new Error(vpn.error.message);
  // Two BGP messages in one TCP segment: tshark must split them.
  send(pe2, pe1, ...vpn.value, endOfRib('vpn-ipv4', ctx));
  send(pe1, pe2, { type: 'ROUTE-REFRESH', afi: 1, reserved: 0, safi: 128 });
  send(pe2, pe1, ...packWithdrawals({ family: 'vpn-ipv4', withdrawnRoutes: [{ labels: [], rd, prefix: { family: 4, addr: 0xac110100, len: 24 } }] }));
  send(pe1, pe2, { type: 'NOTIFICATION', errorCode: ERROR_CODE.CEASE, errorSubcode: CEASE.ADMINISTRATIVE_SHUTDOWN, data: new Uint8Array(0) });
  return records;
}

const TSHARK = '/usr/bin/tshark';
const tshark = (args: string[]): string => execFileSync(TSHARK, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });

describe('tshark reads our BGP session', () => {
  it('decodes every message with no malformed packet and prints the fields', (t) => {
    if (!existsSync(TSHARK)) t.skip();
    const file = join(mkdtempSync(join(tmpdir(), 'vpnlab-bgp-')), 'bgp-session.pcap');
    writeFileSync(file, encodePcap(buildSession()));
    const checks = ['-o', 'tcp.check_checksum:TRUE', '-o', 'ip.check_checksum:TRUE'];

    const verbose = tshark(['-r', file, '-n', '-V', ...checks]);
    expect(verbose).not.toMatch(/Malformed/i);
    expect(verbose).not.toMatch(/\[(Checksum Status|Header checksum status): Bad\]/);
    expect(verbose.match(/\[Checksum Status: Good\]/g)?.length).toBe(9); // every TCP checksum verified
    expect(verbose).toContain('Border Gateway Protocol - OPEN Message');
    expect(verbose).toContain('Route Target: 65000:1');
    expect(verbose).toContain('Unknown subtype 0x50: 0xc0a8 0x0a01 0x8000 [Transitive Opaque]');
    expect(verbose).toContain('Unknown subtype 0x50: 0xc0a8 0x0a02 0x0000 [Non-Transitive Opaque]');
    expect(verbose).toContain('Label Stack: 0 (withdrawn)');
    expect(verbose).toMatch(/Minor error Code \(Cease\): Administratively Shutdown/);
    const expert = tshark(['-r', file, '-n', '-q', '-z', 'expert,error', ...checks]);
    expect(expert).not.toMatch(/Malformed|Error/);

    const fields = tshark(['-r', file, '-n', ...checks, '-T', 'fields', '-E', 'separator=|', '-e', 'bgp.type', '-e', 'bgp.ext_com.type', '-e', 'bgp.ext_com.stype_tr_opaque', '-e', 'bgp.ext_com.stype_ntr_opaque', '-e', 'bgp.mp_reach_nlri_ipv4_prefix', '-e', 'bgp.label_stack', '-e', 'bgp.rd', '-e', 'bgp.originating_as', '-e', 'bgp.cap.type', '-e', '_ws.malformed'])
      .trim()
      .split('\n');
    expect(fields).toEqual([
      '1||||||||1,1,2,65|', // OPEN: multiprotocol ×2, route refresh, 4-octet AS
      '1||||||||1,1,2,65|',
      '4|||||||||',
      '4|||||||||',
      '2|||||||65000||', // route target membership from origin AS 65000
      '2,2|0x00,0x03,0x43|0x50|0x50|172.16.0.0,172.17.1.0|1001 (bottom),1002 (bottom)|65000:1,65000:1|||', // VPN-IPv4 UPDATE + End-of-RIB
      '5|||||||||',
      '2|||||0 (withdrawn)|65000:1|||', // MP_UNREACH_NLRI with the 0x800000 label field
      '3|||||||||',
    ]);
  });
});
