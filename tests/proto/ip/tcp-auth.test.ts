// TCP-AO against the RFC 9235 IPv4 test vectors, TCP-MD5 against an independent node:crypto digest,
// and property round trips of both option codecs.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { fromHex, hex } from '../../../src/lib/bytes.ts';
import { parseIpv4 } from '../../../src/lib/addr.ts';
import {
  TCP_OPTION_AO,
  TCP_OPTION_MD5,
  decodeTcpAoOption,
  decodeTcpMd5Option,
  encodeTcpAoOption,
  encodeTcpMd5Option,
  findTcpAuthOptions,
} from '../../../src/proto/ip/tcp-auth-option.ts';
import {
  TcpAoSne,
  type TcpAoAlgorithm,
  type TcpAuthConfig,
  tcpAoContext,
  tcpAoMac,
  tcpAoTrafficKey,
  tcpAuthSign,
  tcpAuthVerify,
  tcpMd5Digest,
} from '../../../src/proto/ip/tcp-auth.ts';
import { TCP_FLAG_ACK, TCP_FLAG_PSH, decodeTcpSegment, encodeTcpSegment, tcpRewriteChecksum, type TcpSegment } from '../../../src/proto/ip/tcp-segment.ts';

// --- RFC 9235 §3: the connection every vector belongs to. ---
const MASTER_KEY = new TextEncoder().encode('testvector');
const CLIENT = parseIpv4('10.11.12.13')!;
const SERVER = parseIpv4('172.27.28.29')!;
/** Client MKT: SendID 61, RecvID 84; the server's is the mirror image (RFC 9235 §3.1). */
const CLIENT_KEY_ID = 61;
const SERVER_KEY_ID = 84;

type Sender = 'client' | 'server';
interface Vector {
  section: string;
  label: string;
  sender: Sender;
  /** The whole IPv4 packet of the RFC (20-byte IPv4 header, then TCP). */
  packet: string;
  trafficKey: string;
  mac: string;
}
interface Suite {
  title: string;
  algorithm: TcpAoAlgorithm;
  excludeOptions: boolean;
  clientIsn: number;
  serverIsn: number;
  vectors: Vector[];
}

// RFC 9235 §4.1, §4.2, §5.1, §5.2 (IPv4). Packets: IPv4 header | TCP header with MSS, NOP, WS,
// SACK-permitted, timestamps and TCP-AO (kind 0x1d) | in the non-SYN ones a BGP OPEN.
const SUITES: Suite[] = [
  {
    title: 'RFC 9235 §4.1 HMAC-SHA-1-96, options covered',
    algorithm: 'hmac-sha1-96',
    excludeOptions: false,
    clientIsn: 0xfbfbab5a,
    serverIsn: 0x11c14261,
    vectors: [
      {
        section: '4.1.1',
        label: 'send SYN',
        sender: 'client',
        packet: `45 e0 00 4c dd 0f 40 00 ff 06 bf 6b 0a 0b 0c 0d ac 1b 1c 1d e9 d7 00 b3 fb fb ab 5a 00 00 00 00
                 e0 02 ff ff ca c4 00 00 02 04 05 b4 01 03 03 08 04 02 08 0a 00 15 5a b7 00 00 00 00 1d 10 3d 54
                 2e e4 37 c6 f8 ed e6 d7 c4 d6 02 e7`,
        trafficKey: '6d 63 ef 1b 02 fe 15 09 d4 b1 40 27 07 fd 7b 04 16 ab b7 4f',
        mac: '2e e4 37 c6 f8 ed e6 d7 c4 d6 02 e7',
      },
      {
        section: '4.1.2',
        label: 'receive SYN-ACK',
        sender: 'server',
        packet: `45 e0 00 4c 65 06 40 00 ff 06 37 75 ac 1b 1c 1d 0a 0b 0c 0d 00 b3 e9 d7 11 c1 42 61 fb fb ab 5b
                 e0 12 ff ff 37 76 00 00 02 04 05 b4 01 03 03 08 04 02 08 0a 84 a5 0b eb 00 15 5a b7 1d 10 54 3d
                 ee ab 0f e2 4c 30 10 81 51 16 b3 be`,
        trafficKey: 'd9 e2 17 e4 83 4a 80 ca 2f 3f d8 de 2e 41 b8 e6 79 7f ea 96',
        mac: 'ee ab 0f e2 4c 30 10 81 51 16 b3 be',
      },
      {
        section: '4.1.3',
        label: 'send non-SYN (BGP OPEN)',
        sender: 'client',
        packet: `45 e0 00 87 36 a1 40 00 ff 06 65 9f 0a 0b 0c 0d ac 1b 1c 1d e9 d7 00 b3 fb fb ab 5b 11 c1 42 62
                 c0 18 01 04 a1 62 00 00 01 01 08 0a 00 15 5a c1 84 a5 0b eb 1d 10 3d 54 70 64 cf 99 8c c6 c3 15
                 c2 c2 e2 bf ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff 00 43 01 04 da bf 00 b4 0a 0b 0c 0d
                 26 02 06 01 04 00 01 00 01 02 02 80 00 02 02 02 00 02 02 42 00 02 06 41 04 00 00 da bf 02 08 40
                 06 00 64 00 01 01 00`,
        trafficKey: 'd2 e5 9c 65 ff c7 b1 a3 93 47 65 64 63 b7 0e dc 24 a1 3d 71',
        mac: '70 64 cf 99 8c c6 c3 15 c2 c2 e2 bf',
      },
      {
        section: '4.1.4',
        label: 'receive non-SYN (BGP OPEN)',
        sender: 'server',
        packet: `45 e0 00 87 1f a9 40 00 ff 06 7c 97 ac 1b 1c 1d 0a 0b 0c 0d 00 b3 e9 d7 11 c1 42 62 fb fb ab 9e
                 c0 18 01 00 40 0c 00 00 01 01 08 0a 84 a5 0b f5 00 15 5a c1 1d 10 54 3d a6 3f 0e cb bb 2e 63 5c
                 95 4d ea c7 ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff 00 43 01 04 da c0 00 b4 ac 1b 1c 1d
                 26 02 06 01 04 00 01 00 01 02 02 80 00 02 02 02 00 02 02 42 00 02 06 41 04 00 00 da c0 02 08 40
                 06 00 64 00 01 01 00`,
        trafficKey: 'd9 e2 17 e4 83 4a 80 ca 2f 3f d8 de 2e 41 b8 e6 79 7f ea 96',
        mac: 'a6 3f 0e cb bb 2e 63 5c 95 4d ea c7',
      },
    ],
  },
  {
    title: 'RFC 9235 §4.2 HMAC-SHA-1-96, options excluded',
    algorithm: 'hmac-sha1-96',
    excludeOptions: true,
    clientIsn: 0xcb0efbee,
    serverIsn: 0xacd5b5e1,
    vectors: [
      {
        section: '4.2.1',
        label: 'send SYN',
        sender: 'client',
        packet: `45 e0 00 4c 53 99 40 00 ff 06 48 e2 0a 0b 0c 0d ac 1b 1c 1d ff 12 00 b3 cb 0e fb ee 00 00 00 00
                 e0 02 ff ff 54 1f 00 00 02 04 05 b4 01 03 03 08 04 02 08 0a 00 02 4c ce 00 00 00 00 1d 10 3d 54
                 80 af 3c fe b8 53 68 93 7b 8f 9e c2`,
        trafficKey: '30 ea a1 56 0c f0 be 57 da b5 c0 45 22 9f b1 0a 42 3c d7 ea',
        mac: '80 af 3c fe b8 53 68 93 7b 8f 9e c2',
      },
      {
        section: '4.2.2',
        label: 'receive SYN-ACK',
        sender: 'server',
        packet: `45 e0 00 4c 32 84 40 00 ff 06 69 f7 ac 1b 1c 1d 0a 0b 0c 0d 00 b3 ff 12 ac d5 b5 e1 cb 0e fb ef
                 e0 12 ff ff 38 8e 00 00 02 04 05 b4 01 03 03 08 04 02 08 0a 57 67 72 f3 00 02 4c ce 1d 10 54 3d
                 09 30 6f 9a ce a6 3a 8c 68 cb 9a 70`,
        trafficKey: 'b5 b2 89 6b b3 66 4e 81 76 b0 ed c6 e7 99 52 41 01 a8 30 7f',
        mac: '09 30 6f 9a ce a6 3a 8c 68 cb 9a 70',
      },
      {
        section: '4.2.3',
        label: 'send non-SYN (BGP OPEN)',
        sender: 'client',
        packet: `45 e0 00 87 a8 f5 40 00 ff 06 f3 4a 0a 0b 0c 0d ac 1b 1c 1d ff 12 00 b3 cb 0e fb ef ac d5 b5 e2
                 c0 18 01 04 6c 45 00 00 01 01 08 0a 00 02 4c ce 57 67 72 f3 1d 10 3d 54 71 06 08 cc 69 6c 03 a2
                 71 c9 3a a5 ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff 00 43 01 04 da bf 00 b4 0a 0b 0c 0d
                 26 02 06 01 04 00 01 00 01 02 02 80 00 02 02 02 00 02 02 42 00 02 06 41 04 00 00 da bf 02 08 40
                 06 00 64 00 01 01 00`,
        trafficKey: 'f3 db 17 93 d7 91 0e cd 80 6c 34 f1 55 ea 1f 00 34 59 53 e3',
        mac: '71 06 08 cc 69 6c 03 a2 71 c9 3a a5',
      },
      {
        section: '4.2.4',
        label: 'receive non-SYN (BGP OPEN)',
        sender: 'server',
        packet: `45 e0 00 87 54 37 40 00 ff 06 48 09 ac 1b 1c 1d 0a 0b 0c 0d 00 b3 ff 12 ac d5 b5 e2 cb 0e fc 32
                 c0 18 01 00 46 b6 00 00 01 01 08 0a 57 67 72 f3 00 02 4c ce 1d 10 54 3d 97 76 6e 48 ac 26 2d e9
                 ae 61 b4 f9 ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff 00 43 01 04 da c0 00 b4 ac 1b 1c 1d
                 26 02 06 01 04 00 01 00 01 02 02 80 00 02 02 02 00 02 02 42 00 02 06 41 04 00 00 da c0 02 08 40
                 06 00 64 00 01 01 00`,
        trafficKey: 'b5 b2 89 6b b3 66 4e 81 76 b0 ed c6 e7 99 52 41 01 a8 30 7f',
        mac: '97 76 6e 48 ac 26 2d e9 ae 61 b4 f9',
      },
    ],
  },
  {
    title: 'RFC 9235 §5.1 AES-128-CMAC-96, options covered',
    algorithm: 'aes-128-cmac-96',
    excludeOptions: false,
    clientIsn: 0x787a1ddf,
    serverIsn: 0xfadd6de9,
    vectors: [
      {
        section: '5.1.1',
        label: 'send SYN',
        sender: 'client',
        packet: `45 e0 00 4c 7b 9f 40 00 ff 06 20 dc 0a 0b 0c 0d ac 1b 1c 1d c4 fa 00 b3 78 7a 1d df 00 00 00 00
                 e0 02 ff ff 5a 0f 00 00 02 04 05 b4 01 03 03 08 04 02 08 0a 00 01 7e d0 00 00 00 00 1d 10 3d 54
                 e4 77 e9 9c 80 40 76 54 98 e5 50 91`,
        trafficKey: 'f5 b8 b3 d5 f3 4f db b6 eb 8d 4a b9 66 0e 60 e3',
        mac: 'e4 77 e9 9c 80 40 76 54 98 e5 50 91',
      },
      {
        section: '5.1.2',
        label: 'receive SYN-ACK',
        sender: 'server',
        packet: `45 e0 00 4c 4b ad 40 00 ff 06 50 ce ac 1b 1c 1d 0a 0b 0c 0d 00 b3 c4 fa fa dd 6d e9 78 7a 1d e0
                 e0 12 ff ff f3 f2 00 00 02 04 05 b4 01 03 03 08 04 02 08 0a 93 f4 e9 e8 00 01 7e d0 1d 10 54 3d
                 d6 ad a7 bc 4c dd 53 6d 17 69 db 5f`,
        trafficKey: '4b c7 57 1a 48 6f 32 64 bb d8 88 47 40 66 b4 b1',
        mac: 'd6 ad a7 bc 4c dd 53 6d 17 69 db 5f',
      },
      {
        section: '5.1.3',
        label: 'send non-SYN (BGP OPEN)',
        sender: 'client',
        packet: `45 e0 00 87 fb 4f 40 00 ff 06 a0 f0 0a 0b 0c 0d ac 1b 1c 1d c4 fa 00 b3 78 7a 1d e0 fa dd 6d ea
                 c0 18 01 04 95 05 00 00 01 01 08 0a 00 01 7e d0 93 f4 e9 e8 1d 10 3d 54 77 41 27 42 fa 4d c4 33
                 ef f0 97 3e ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff 00 43 01 04 da bf 00 b4 0a 0b 0c 0d
                 26 02 06 01 04 00 01 00 01 02 02 80 00 02 02 02 00 02 02 42 00 02 06 41 04 00 00 da bf 02 08 40
                 06 00 64 00 01 01 00`,
        trafficKey: '8c 8a e0 e8 37 1e c5 cb b9 7e a7 9d 90 41 83 91',
        mac: '77 41 27 42 fa 4d c4 33 ef f0 97 3e',
      },
      {
        section: '5.1.4',
        label: 'receive non-SYN (BGP OPEN)',
        sender: 'server',
        packet: `45 e0 00 87 b9 14 40 00 ff 06 e3 2b ac 1b 1c 1d 0a 0b 0c 0d 00 b3 c4 fa fa dd 6d ea 78 7a 1e 23
                 c0 18 01 00 e7 db 00 00 01 01 08 0a 93 f4 e9 e8 00 01 7e d0 1d 10 54 3d f6 d9 65 a7 83 82 a7 48
                 45 f7 2d ac ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff 00 43 01 04 da c0 00 b4 ac 1b 1c 1d
                 26 02 06 01 04 00 01 00 01 02 02 80 00 02 02 02 00 02 02 42 00 02 06 41 04 00 00 da c0 02 08 40
                 06 00 64 00 01 01 00`,
        trafficKey: '4b c7 57 1a 48 6f 32 64 bb d8 88 47 40 66 b4 b1',
        mac: 'f6 d9 65 a7 83 82 a7 48 45 f7 2d ac',
      },
    ],
  },
  {
    title: 'RFC 9235 §5.2 AES-128-CMAC-96, options excluded',
    algorithm: 'aes-128-cmac-96',
    excludeOptions: true,
    clientIsn: 0x389bed71,
    serverIsn: 0xd3844a6f,
    vectors: [
      {
        section: '5.2.1',
        label: 'send SYN',
        sender: 'client',
        packet: `45 e0 00 4c f2 2e 40 00 ff 06 aa 4c 0a 0b 0c 0d ac 1b 1c 1d da 1c 00 b3 38 9b ed 71 00 00 00 00
                 e0 02 ff ff 70 bf 00 00 02 04 05 b4 01 03 03 08 04 02 08 0a 00 01 85 e1 00 00 00 00 1d 10 3d 54
                 c4 4e 60 cb 31 f7 c0 b1 de 3d 27 49`,
        trafficKey: '2c db ae 13 92 c4 94 49 fa 92 c4 50 97 35 d5 0e',
        mac: 'c4 4e 60 cb 31 f7 c0 b1 de 3d 27 49',
      },
      {
        section: '5.2.2',
        label: 'receive SYN-ACK',
        sender: 'server',
        packet: `45 e0 00 4c 6c c0 40 00 ff 06 2f bb ac 1b 1c 1d 0a 0b 0c 0d 00 b3 da 1c d3 84 4a 6f 38 9b ed 72
                 e0 12 ff ff e4 45 00 00 02 04 05 b4 01 03 03 08 04 02 08 0a ce 45 98 38 00 01 85 e1 1d 10 54 3d
                 3a 6a bb 20 7e 49 b1 be 71 36 db 90`,
        trafficKey: '3c e6 7a 55 18 69 50 6b 63 47 b6 33 c5 0a 62 4a',
        mac: '3a 6a bb 20 7e 49 b1 be 71 36 db 90',
      },
      {
        section: '5.2.3',
        label: 'send non-SYN (BGP OPEN)',
        sender: 'client',
        packet: `45 e0 00 87 ee 91 40 00 ff 06 ad ae 0a 0b 0c 0d ac 1b 1c 1d da 1c 00 b3 38 9b ed 72 d3 84 4a 70
                 c0 18 01 04 88 51 00 00 01 01 08 0a 00 01 85 e1 ce 45 98 38 1d 10 3d 54 75 85 e9 e9 d5 c3 ec 85
                 7b 96 f8 37 ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff 00 43 01 04 da bf 00 b4 0a 0b 0c 0d
                 26 02 06 01 04 00 01 00 01 02 02 80 00 02 02 02 00 02 02 42 00 02 06 41 04 00 00 da bf 02 08 40
                 06 00 64 00 01 01 00`,
        trafficKey: '03 5b c4 00 a3 41 ff e5 95 f5 9f 58 00 50 06 ca',
        mac: '75 85 e9 e9 d5 c3 ec 85 7b 96 f8 37',
      },
      {
        section: '5.2.4',
        label: 'receive non-SYN (BGP OPEN)',
        sender: 'server',
        packet: `45 e0 00 87 6a 21 40 00 ff 06 32 1f ac 1b 1c 1d 0a 0b 0c 0d 00 b3 da 1c d3 84 4a 70 38 9b ed 72
                 c0 18 01 00 04 49 00 00 01 01 08 0a ce 45 98 38 00 01 85 e1 1d 10 54 3d 5c 04 0f d9 23 33 04 76
                 5c 09 82 f4 ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff 00 43 01 04 da c0 00 b4 ac 1b 1c 1d
                 26 02 06 01 04 00 01 00 01 02 02 80 00 02 02 02 00 02 02 42 00 02 06 41 04 00 00 da c0 02 08 40
                 06 00 64 00 01 01 00`,
        trafficKey: '3c e6 7a 55 18 69 50 6b 63 47 b6 33 c5 0a 62 4a',
        mac: '5c 04 0f d9 23 33 04 76 5c 09 82 f4',
      },
    ],
  },
];

const h = (s: string) => hex(fromHex(s));

/**
 * The RFC's packets were captured before checksum offload: their TCP checksums do not verify (they
 * are outside the MAC, RFC 5925 §5.1). `tcp` is the segment with the checksum made right, `rfcTcp`
 * the bytes as printed.
 */
function unpack(v: Vector) {
  const ip = fromHex(v.packet);
  const rfcTcp = ip.subarray(20);
  const [src, dst] = v.sender === 'client' ? [CLIENT, SERVER] : [SERVER, CLIENT];
  const tcp = rfcTcp.slice();
  tcpRewriteChecksum(tcp, src, dst);
  expect(hex(tcp.subarray(16, 18))).not.toBe(hex(rfcTcp.subarray(16, 18)));
  const seg = decodeTcpSegment(tcp, src, dst);
  if (!seg.ok) throw new Error(`${v.section}: ${seg.error.message}`);
  return { tcp, rfcTcp, src, dst, seg: seg.value };
}

describe.each(SUITES)('$title', (suite) => {
  const senderIsns = (v: Vector, seg: TcpSegment) => {
    const [mine, theirs] = v.sender === 'client' ? [suite.clientIsn, suite.serverIsn] : [suite.serverIsn, suite.clientIsn];
    // RFC 5925 §5.2: a SYN without ACK is keyed with the peer's ISN as zero.
    return { local: mine, remote: seg.flags & TCP_FLAG_ACK ? theirs : 0 };
  };
  const mkt = (sender: Sender): Extract<TcpAuthConfig, { kind: 'ao' }> => ({
    kind: 'ao',
    keyId: sender === 'client' ? CLIENT_KEY_ID : SERVER_KEY_ID,
    rnextKeyId: sender === 'client' ? SERVER_KEY_ID : CLIENT_KEY_ID,
    algorithm: suite.algorithm,
    masterKey: MASTER_KEY,
    excludeOptions: suite.excludeOptions,
  });

  it.each(suite.vectors)('§$section $label: traffic key and MAC', (v) => {
    const { tcp, rfcTcp, src, dst, seg } = unpack(v);
    const isns = senderIsns(v, seg);
    const key = tcpAoTrafficKey(suite.algorithm, MASTER_KEY, tcpAoContext(src, dst, seg.srcPort, seg.dstPort, isns.local, isns.remote));
    expect(hex(key)).toBe(h(v.trafficKey));
    const found = findTcpAuthOptions(seg.options);
    expect(found.ok).toBe(true);
    const ao = found.ok ? found.value.ao! : undefined!;
    expect([ao.keyId, ao.rnextKeyId]).toEqual(v.sender === 'client' ? [CLIENT_KEY_ID, SERVER_KEY_ID] : [SERVER_KEY_ID, CLIENT_KEY_ID]);
    expect(hex(ao.mac)).toBe(h(v.mac));
    expect(hex(tcpAoMac(suite.algorithm, key, 0, tcp, src, dst, ao.offset, suite.excludeOptions))).toBe(h(v.mac));
    expect(hex(tcpAoMac(suite.algorithm, key, 0, rfcTcp, src, dst, ao.offset, suite.excludeOptions))).toBe(h(v.mac));
  });

  it.each(suite.vectors)('§$section $label: signing the segment gives the RFC bytes; the receiver verifies them', (v) => {
    const { tcp, src, dst, seg } = unpack(v);
    const isns = senderIsns(v, seg);
    const bare = { ...seg, options: seg.options.slice(0, -1) }; // TCP-AO is the last option in every vector
    expect(hex(tcpAuthSign(mkt(v.sender), bare, src, dst, isns, 0))).toBe(hex(tcp));
    // The receiver holds the mirror MKT and sees the ISNs the other way round.
    const receiver: Sender = v.sender === 'client' ? 'server' : 'client';
    const found = findTcpAuthOptions(seg.options);
    if (!found.ok) throw new Error('options');
    const rxIsns = { local: isns.remote, remote: isns.local };
    expect(tcpAuthVerify(mkt(receiver), tcp, seg, found.value, src, dst, rxIsns, 0)).toBeUndefined();
    // A wrong SNE, a flipped data or header bit, the wrong KeyID or the wrong key: all refused.
    expect(tcpAuthVerify(mkt(receiver), tcp, seg, found.value, src, dst, rxIsns, 1)).toBe('bad-mac');
    const flipped = tcp.slice();
    flipped[seg.payload.length > 0 ? flipped.length - 1 : 7]! ^= 1; // the last data byte, else the sequence number
    expect(tcpAuthVerify(mkt(receiver), flipped, seg, found.value, src, dst, rxIsns, 0)).toBe('bad-mac');
    const window = tcp.slice();
    window[14]! ^= 0x80;
    expect(tcpAuthVerify(mkt(receiver), window, seg, found.value, src, dst, rxIsns, 0)).toBe('bad-mac');
    expect(tcpAuthVerify(mkt(v.sender), tcp, seg, found.value, src, dst, rxIsns, 0)).toBe('bad-key-id');
    expect(tcpAuthVerify({ ...mkt(receiver), masterKey: new TextEncoder().encode('testvectoR') }, tcp, seg, found.value, src, dst, rxIsns, 0)).toBe('bad-mac');
    expect(tcpAuthVerify(mkt(receiver), tcp, { ...seg, options: bare.options }, {}, src, dst, rxIsns, 0)).toBe('missing');
  });
});

describe('TCP-AO with options excluded (RFC 5925 §3.1 TCP option flag)', () => {
  it('covering or excluding the other options changes the MAC only when there are other options', () => {
    const v = SUITES[0]!.vectors[2]!;
    const { tcp, src, dst } = unpack(v);
    const key = fromHex(v.trafficKey);
    // The timestamps option (kind 8) lies before TCP-AO here, so the two MACs differ.
    expect(hex(tcpAoMac('hmac-sha1-96', key, 0, tcp, src, dst, 32, true))).not.toBe(hex(tcpAoMac('hmac-sha1-96', key, 0, tcp, src, dst, 32, false)));
  });
});

// --- RFC 2385: the MD5 digest, checked against node:crypto over the input the RFC lists. ---

describe('TCP MD5 signature (RFC 2385 §2)', () => {
  const A = parseIpv4('100.64.0.1')!;
  const B = parseIpv4('100.64.0.2')!;
  const key = new TextEncoder().encode('s3cret-bgp');
  const seg: TcpSegment = {
    srcPort: 179,
    dstPort: 50123,
    seq: 0x01020304,
    ack: 0xa0b0c0d0,
    flags: TCP_FLAG_ACK | TCP_FLAG_PSH,
    reserved: 0,
    window: 65535,
    urgentPointer: 0,
    options: [{ kind: 'mss', mssBytes: 1460 }],
    payload: fromHex('ffffffffffffffffffffffffffffffff 0013 04'), // a BGP KEEPALIVE
  };

  it('the digest is MD5(pseudo-header | header without options, checksum 0 | data | key)', () => {
    const bytes = tcpAuthSign({ kind: 'md5', key }, seg, A, B, { local: 0, remote: 0 }, 0);
    // Expected, built by hand from RFC 2385 §2's list:
    const tcpLen = bytes.length;
    const pseudo = Buffer.from([100, 64, 0, 1, 100, 64, 0, 2, 0, 6, tcpLen >> 8, tcpLen & 0xff]);
    const header = Buffer.from(bytes.subarray(0, 20));
    header[16] = 0;
    header[17] = 0;
    const headerLen = (bytes[12]! >> 4) * 4;
    expect(headerLen).toBe(20 + 4 + 20); // MSS, then MD5 (18) padded to 20
    const expected = createHash('md5').update(pseudo).update(header).update(bytes.subarray(headerLen)).update(key).digest('hex');
    // Layout: MSS at 20..23, MD5 kind 19 length 18 at 24, digest at 26..41, padding.
    expect([bytes[24], bytes[25]]).toEqual([TCP_OPTION_MD5, 18]);
    expect(hex(bytes.subarray(26, 42))).toBe(expected);
    expect(hex(tcpMd5Digest(bytes, A, B, key))).toBe(expected);
    // The checksum covers the digest: the signed segment decodes.
    const d = decodeTcpSegment(bytes, A, B);
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    const found = findTcpAuthOptions(d.value.options);
    if (!found.ok) throw new Error('options');
    expect(tcpAuthVerify({ kind: 'md5', key }, bytes, d.value, found.value, A, B, { local: 0, remote: 0 }, 0)).toBeUndefined();
    expect(tcpAuthVerify({ kind: 'md5', key: new TextEncoder().encode('s3cret-bgq') }, bytes, d.value, found.value, A, B, { local: 0, remote: 0 }, 0)).toBe('bad-mac');
    const tampered = bytes.slice();
    tampered[tampered.length - 1]! ^= 0x01;
    expect(tcpAuthVerify({ kind: 'md5', key }, tampered, d.value, found.value, A, B, { local: 0, remote: 0 }, 0)).toBe('bad-mac');
    // The addresses are in the digest: the same bytes between other hosts fail.
    expect(tcpAuthVerify({ kind: 'md5', key }, bytes, d.value, found.value, A, parseIpv4('100.64.0.3')!, { local: 0, remote: 0 }, 0)).toBe('bad-mac');
    expect(tcpAuthVerify({ kind: 'md5', key }, bytes, { ...d.value, options: [] }, {}, A, B, { local: 0, remote: 0 }, 0)).toBe('missing');
  });

  it('an MD5 option where TCP-AO is configured (and the reverse) is unexpected', () => {
    const bytes = tcpAuthSign({ kind: 'md5', key }, seg, A, B, { local: 0, remote: 0 }, 0);
    const d = decodeTcpSegment(bytes, A, B);
    if (!d.ok) throw new Error('decode');
    const found = findTcpAuthOptions(d.value.options);
    if (!found.ok) throw new Error('options');
    const ao: TcpAuthConfig = { kind: 'ao', keyId: 1, rnextKeyId: 1, algorithm: 'hmac-sha1-96', masterKey: key };
    expect(tcpAuthVerify(ao, bytes, d.value, found.value, A, B, { local: 1, remote: 2 }, 0)).toBe('unexpected');
  });
});

// --- Option codecs. ---

describe('authentication option codecs', () => {
  it('reject a wrong MD5 length, a short TCP-AO and a second option of a kind, naming the field', () => {
    const md5 = decodeTcpMd5Option({ kind: 'raw', type: TCP_OPTION_MD5, data: new Uint8Array(15) });
    expect(md5.ok ? undefined : md5.error).toMatchObject({ code: 'BAD_OPTION', field: 'tcp.options.md5.length' });
    const ao = decodeTcpAoOption({ kind: 'raw', type: TCP_OPTION_AO, data: new Uint8Array(2) });
    expect(ao.ok ? undefined : ao.error).toMatchObject({ code: 'BAD_OPTION', field: 'tcp.options.ao.length' });
    const two = findTcpAuthOptions([encodeTcpAoOption({ keyId: 1, rnextKeyId: 2, mac: new Uint8Array(12) }), encodeTcpAoOption({ keyId: 1, rnextKeyId: 2, mac: new Uint8Array(12) })]);
    expect(two.ok ? undefined : two.error).toMatchObject({ code: 'BAD_OPTION', field: 'tcp.options[1]' });
  });

  it('TCP-AO round-trips through the option and the segment codecs (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ minLength: 1, maxLength: 32 }), fc.boolean(), (keyId, rnextKeyId, mac, withMss) => {
        const opt = encodeTcpAoOption({ keyId, rnextKeyId, mac });
        const back = decodeTcpAoOption(opt);
        expect(back.ok && back.value).toEqual({ keyId, rnextKeyId, mac });
        const options = withMss ? [{ kind: 'mss' as const, mssBytes: 1400 }, opt] : [opt];
        const bytes = encodeTcpSegment({ srcPort: 1, dstPort: 179, seq: 5, ack: 0, flags: 2, reserved: 0, window: 100, urgentPointer: 0, options, payload: new Uint8Array(0) }, 1, 2);
        const d = decodeTcpSegment(bytes, 1, 2);
        if (!d.ok) throw new Error(d.error.message);
        const found = findTcpAuthOptions(d.value.options);
        expect(found.ok && found.value.ao).toEqual({ keyId, rnextKeyId, mac, offset: withMss ? 24 : 20 });
      }),
    );
  });

  it('MD5 round-trips through the option and the segment codecs (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (digest) => {
        const opt = encodeTcpMd5Option({ digest });
        const back = decodeTcpMd5Option(opt);
        expect(back.ok && back.value).toEqual({ digest });
        const bytes = encodeTcpSegment({ srcPort: 1, dstPort: 179, seq: 5, ack: 0, flags: 2, reserved: 0, window: 100, urgentPointer: 0, options: [opt], payload: new Uint8Array(0) }, 1, 2);
        const d = decodeTcpSegment(bytes, 1, 2);
        if (!d.ok) throw new Error(d.error.message);
        const found = findTcpAuthOptions(d.value.options);
        expect(found.ok && found.value.md5).toEqual({ digest, offset: 20 });
      }),
    );
  });
});

// --- RFC 5925 §6.2: SNE. ---

describe('sequence number extension (RFC 5925 §6.2)', () => {
  it('counts a wrap, and gives a retransmission from before the wrap the old SNE', () => {
    const s = new TcpAoSne();
    s.advance(0xfffff000, 0);
    expect(s.sneFor(0xfffff800)).toBe(0);
    expect(s.sneFor(0x00000100)).toBe(1); // past the wrap
    s.advance(0x00000100, 1);
    expect(s.sneFor(0x00000200)).toBe(1);
    expect(s.sneFor(0xffffff00)).toBe(0); // a retransmission from just before it
    s.advance(0xffffff00, 0); // an older segment never moves the reference back
    expect(s.sneFor(0x00000300)).toBe(1);
  });

  it('the SNE is part of the MAC input: the same segment after 2^32 bytes gets another MAC', () => {
    const v = SUITES[0]!.vectors[2]!;
    const { tcp, src, dst } = unpack(v);
    const key = fromHex(v.trafficKey);
    expect(hex(tcpAoMac('hmac-sha1-96', key, 1, tcp, src, dst, 32, false))).not.toBe(h(v.mac));
  });
});
