// Group key management speed: registrations per second at the GCKS for 1000 members (IKE_SA_INIT +
// GSA_AUTH, PSK and Ed25519), and the rekey of a 1000-member group (time and bytes). Measures only.
import { parseIpv4 } from '../../src/lib/addr.ts';
import { Pcg32 } from '../../src/lib/rng.ts';
import { ed25519PublicKey, ID_TYPE, type IkeId, type PeerCredential } from '../../src/proto/ike/index.ts';
import { Gcks, GroupMember, type GcksOutput, type GkmDatagram, type MemberOutput } from '../../src/proto/gkm/index.ts';

type Row = Record<string, string | number>;

const GCKS_ADDR = parseIpv4('198.51.100.1')!;
const text = (s: string) => new TextEncoder().encode(s);
const GCKS_ID: IkeId = { idType: ID_TYPE.ID_FQDN, data: text('sr.example') };
const GROUP_ID: IkeId = { idType: ID_TYPE.ID_KEY_ID, data: text('vpn-blue') };
const GCKS_SECRET = new Uint8Array(32).fill(0x5a);
const memberAddr = (i: number) => (0x0a000000 + i + 1) >>> 0;
const memberId = (i: number): IkeId => ({ idType: ID_TYPE.ID_FQDN, data: text(`ce-${i}.example`) });

interface World {
  gcks: Gcks;
  members: GroupMember[];
  gcksS: number;
  membersS: number;
  /** Bytes and datagrams the GCKS sent since the last reset. */
  gcksTx: { datagrams: number; bytes: number };
}

function world(n: number, auth: 'psk' | 'ed25519'): World {
  const creds: { gcksSide: PeerCredential; memberSide: PeerCredential; secret?: Uint8Array }[] = Array.from({ length: n }, (_, i) => {
    if (auth === 'psk') return { gcksSide: { method: 'psk', psk: text(`psk ${i}`) }, memberSide: { method: 'psk', psk: text(`psk ${i}`) } };
    const secret = new Uint8Array(32);
    new DataView(secret.buffer).setUint32(0, i + 1);
    return { gcksSide: { method: 'ed25519', publicKey: ed25519PublicKey(secret) }, memberSide: { method: 'ed25519', publicKey: ed25519PublicKey(GCKS_SECRET) }, secret };
  });
  const gcks = new Gcks(
    {
      localAddr: GCKS_ADDR,
      localId: GCKS_ID,
      ed25519SecretKey: GCKS_SECRET,
      members: creds.map((c, i) => ({ id: memberId(i), credential: c.gcksSide })),
      groups: [{ groupId: GROUP_ID, authorized: creds.map((_, i) => memberId(i)), membersMax: n, tekLifetimeS: 3600, rekeyLeadS: 300 }],
      registrationSasMax: 2 * n,
      halfOpenMax: 2 * n,
    },
    new Pcg32(1n, 1n),
  );
  const members = creds.map(
    (c, i) =>
      new GroupMember(
        { localAddr: memberAddr(i), gcksAddr: GCKS_ADDR, localId: memberId(i), gcksId: GCKS_ID, credential: c.memberSide, groupId: GROUP_ID, ...(c.secret ? { ed25519SecretKey: c.secret } : {}) },
        new Pcg32(2n, BigInt(100 + i)),
      ),
  );
  return { gcks, members, gcksS: 0, membersS: 0, gcksTx: { datagrams: 0, bytes: 0 } };
}

/** Delivers datagrams at once (no latency, no timers: everything here completes in one instant). */
function pump(w: World, nowUs: number): void {
  const toMember = new Map(w.members.map((m, i) => [memberAddr(i), m]));
  const toGcks: GkmDatagram[] = [];
  const toMembers: [GroupMember, GkmDatagram][] = [];
  const drainGcks = () => {
    for (let o: GcksOutput | undefined = w.gcks.poll(); o; o = w.gcks.poll())
      if (o.kind === 'tx') {
        w.gcksTx.datagrams += 1;
        w.gcksTx.bytes += o.datagram.bytes.length;
        toMembers.push([toMember.get(o.datagram.dstAddr)!, o.datagram]);
      }
  };
  const drainMember = (m: GroupMember) => {
    for (let o: MemberOutput | undefined = m.poll(); o; o = m.poll()) if (o.kind === 'tx') toGcks.push(o.datagram);
  };
  w.members.forEach(drainMember);
  drainGcks();
  while (toGcks.length > 0 || toMembers.length > 0) {
    let t0 = performance.now();
    for (const d of toGcks.splice(0)) w.gcks.handle({ kind: 'rx', datagram: d }, nowUs);
    drainGcks();
    w.gcksS += (performance.now() - t0) / 1000;
    t0 = performance.now();
    for (const [m, d] of toMembers.splice(0)) {
      m.handle({ kind: 'rx', datagram: d }, nowUs);
      drainMember(m);
    }
    w.membersS += (performance.now() - t0) / 1000;
  }
}

function registerAll(w: World): void {
  const t0 = performance.now();
  w.gcks.handle({ kind: 'timer' }, 0);
  for (const m of w.members) m.handle({ kind: 'command', command: { kind: 'register' } }, 0);
  w.membersS += (performance.now() - t0) / 1000;
  pump(w, 0);
  const registered = w.members.filter((m) => m.state === 'registered').length;
  if (registered !== w.members.length) throw new Error(`only ${registered} of ${w.members.length} registered`);
}

function registrationRow(n: number, auth: 'psk' | 'ed25519'): Row {
  const w = world(n, auth);
  registerAll(w);
  return {
    bench: 'gkm',
    case: `register ${n} members (IKE_SA_INIT + GSA_AUTH, ${auth === 'psk' ? 'PSK' : 'Ed25519'}, X25519)`,
    gcksWallS: +w.gcksS.toFixed(3),
    registrationsPerS: Math.round(n / w.gcksS),
    membersWallS: +w.membersS.toFixed(3),
    bytesFromGcks: w.gcksTx.bytes,
  };
}

function rekeyRows(n: number): Row[] {
  const w = world(n, 'psk');
  registerAll(w);
  const rows: Row[] = [];
  const measure = (name: string, command: Parameters<Gcks['handle']>[0], nowUs: number, expectAccepted: number) => {
    w.gcksS = 0;
    w.membersS = 0;
    w.gcksTx = { datagrams: 0, bytes: 0 };
    const before = w.members.reduce((s, m) => s + m.counters.rekeysAccepted, 0);
    const t0 = performance.now();
    w.gcks.handle(command, nowUs);
    w.gcksS += (performance.now() - t0) / 1000;
    pump(w, nowUs);
    const accepted = w.members.reduce((s, m) => s + m.counters.rekeysAccepted, 0) - before;
    if (accepted !== expectAccepted) throw new Error(`${name}: ${accepted} rekeys accepted, expected ${expectAccepted}`);
    rows.push({
      bench: 'gkm',
      case: name,
      gcksMs: +(w.gcksS * 1000).toFixed(2),
      membersTotalMs: +(w.membersS * 1000).toFixed(1),
      datagrams: w.gcksTx.datagrams,
      bytesPerCopy: Math.round(w.gcksTx.bytes / Math.max(1, w.gcksTx.datagrams)),
      bytesTotal: w.gcksTx.bytes,
    });
  };
  measure(`scheduled TEK rekey of a ${n}-member group (one signed GSA_REKEY, sent to each)`, { kind: 'command', command: { kind: 'rekey', groupId: GROUP_ID } }, 1_000_000, n);
  measure(`KEK rekey of a ${n}-member group`, { kind: 'command', command: { kind: 'rekey', groupId: GROUP_ID, what: 'kek' } }, 2_000_000, n);
  measure(
    `eviction from a ${n}-member group (LKH: new KEK, then new TEK; two GSA_REKEYs)`,
    { kind: 'command', command: { kind: 'evict', groupId: GROUP_ID, memberId: memberId(n - 1) } },
    3_000_000,
    2 * (n - 1),
  );
  return rows;
}

export async function gkmBench(): Promise<Record<string, string | number>[]> {
  return [registrationRow(1000, 'psk'), registrationRow(1000, 'ed25519'), ...rekeyRows(1000)];
}

// `npx tsx tests/bench/gkm.ts` runs it alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await gkmBench();
  for (const r of rows) console.error(Object.entries(r).map(([k, v]) => `${k}=${v}`).join('  '));
  console.log(JSON.stringify({ node: process.version, results: rows }, null, 2));
}
