// Scenario tests: a GCKS and four members over in-memory queues with virtual time (seed 001 FIG. 4–5).
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { equalBytes, hex } from '../../../src/lib/bytes.ts';
import {
  buildGsa,
  buildKd,
  encodeGsaRekey,
  GKM_EXCHANGE,
  GKM_NOTIFY,
  GKM_PROTOCOL,
  gsaPayload,
  kdPayload,
  wrapKey,
  type GcksEvent,
  type MemberEvent,
} from '../../../src/proto/gkm/index.ts';
import { aeadKeyFrom, decodeHeader, EXCHANGE, spiBytes } from '../../../src/proto/ike/index.ts';
import { MemberDataPlane, innerText } from './dataplane.ts';
import { GROUP_ID, GroupLab, fqdn, memberAddr, memberId, type LabOptions } from './harness.ts';

const S = 1_000_000;

function exchangeOf(bytes: Uint8Array): number | undefined {
  const h = decodeHeader(bytes);
  return h.ok ? h.value.exchangeType : undefined;
}

function withDataPlanes(lab: GroupLab): MemberDataPlane[] {
  const dps = lab.members.map((_, i) => new MemberDataPlane(memberAddr(i)));
  lab.onMemberEvent = (i, e) => dps[i]?.onEvent(e);
  return dps;
}

function registered(lab: GroupLab): Extract<GcksEvent, { kind: 'member-registered' }>[] {
  return lab.gcksEvents.map((e) => e.event).filter((e): e is Extract<GcksEvent, { kind: 'member-registered' }> => e.kind === 'member-registered');
}

function failures(lab: GroupLab, i: number): Extract<MemberEvent, { kind: 'registration-failed' }>[] {
  return lab.eventsOf(i).filter((e): e is Extract<MemberEvent, { kind: 'registration-failed' }> => e.kind === 'registration-failed');
}

/** The four-site group of seed 001 FIG. 2: members 0 and 1 name the others, 2 and 3 do not. */
function fourSites(over: Partial<LabOptions> = {}): GroupLab {
  return new GroupLab({
    members: 4,
    seed: 7,
    member: (i) => (i < 2 ? { memberList: [0, 1, 2, 3].filter((j) => j !== i).map(memberId) } : {}),
    ...over,
  });
}

function registerAll(lab: GroupLab): void {
  for (let i = 0; i < lab.members.length; i++) lab.register(i);
  lab.run(S);
}

describe('registration (IKE_SA_INIT + GSA_AUTH)', () => {
  it('four members register, by member list and without, and hold identical TEKs and KEK', () => {
    const lab = fourSites();
    const dps = withDataPlanes(lab);
    registerAll(lab);
    expect(lab.members.map((m) => m.state)).toEqual(['registered', 'registered', 'registered', 'registered']);
    const regs = registered(lab);
    expect(regs).toHaveLength(4);
    // Seed 001 FIG. 5 step 200: the member list arrives with the registration, or not at all.
    const byMember = new Map(regs.map((r) => [new TextDecoder().decode(r.memberId.data), r]));
    expect(byMember.get('ce-0.example')!.memberList!.map((m) => new TextDecoder().decode(m.data))).toEqual(['ce-1.example', 'ce-2.example', 'ce-3.example']);
    expect(byMember.get('ce-1.example')!.memberList).toHaveLength(3);
    expect(byMember.get('ce-2.example')!.memberList).toBeUndefined();
    expect(byMember.get('ce-3.example')!.memberList).toBeUndefined();
    // Every member holds the same TEK (same SPI, key, salt) and the same KEK.
    const teks = lab.members.map((m) => m.teks());
    for (const t of teks) {
      expect(t).toHaveLength(1);
      expect(t[0]!.sa.spi).toBe(teks[0]![0]!.sa.spi);
      expect(hex(t[0]!.sa.key)).toBe(hex(teks[0]![0]!.sa.key));
      expect(hex(t[0]!.sa.salt)).toBe(hex(teks[0]![0]!.sa.salt));
      expect(t[0]!.sa.suite).toBe('aes-gcm-128');
      expect(t[0]!.sa.replayWindow).toBe(0);
      expect(t[0]!.sa.esn).toBe(false);
    }
    const keks = lab.members.map((m) => m.exportKek()!);
    for (const k of keks) expect(hex(k.skE)).toBe(hex(keks[0]!.skE));
    expect(hex(lab.gcks.exportKek(GROUP_ID)!.skE)).toBe(hex(keks[0]!.skE));
    // The GCKS's SA table holds the same TEK; its registration table the four members.
    const table = lab.gcks.saTable(GROUP_ID)!;
    expect(table.teks.map((t) => t.spi)).toEqual([teks[0]![0]!.spi]);
    expect(hex(table.teks[0]!.sa.key)).toBe(hex(teks[0]![0]!.sa.key));
    expect(lab.gcks.registrationTable(GROUP_ID).map((r) => r.senderIds)).toEqual([[0], [1], [2], [3]]);
    // Disjoint sequence-number ranges: the Sender-ID in the top 12 bits.
    expect(teks.map((t) => t[0]!.seqFirst)).toEqual([1n, 1n << 20n, 2n << 20n, 3n << 20n]);
    // A message sealed by one member with the TEK is opened by every other one.
    for (let from = 0; from < 4; from++) {
      const outer = dps[from]!.seal(0x0a000001, `hello from ${from}`)!;
      expect(outer).toBeDefined();
      for (let to = 0; to < 4; to++) {
        if (to === from) continue;
        const r = dps[to]!.open(outer);
        expect(r.ok).toBe(true);
        if (r.ok) expect(innerText(r.bytes)).toBe(`hello from ${from}`);
      }
    }
  });

  it('registers with Ed25519 authentication (RFC 8420) both ways', () => {
    const lab = fourSites({ ed25519: (i) => i % 2 === 0 });
    registerAll(lab);
    expect(lab.members.map((m) => m.state)).toEqual(['registered', 'registered', 'registered', 'registered']);
  });

  it('survives lost datagrams: IKE_SA_INIT and GSA_AUTH are retransmitted, answered from the cache', () => {
    const lab = fourSites();
    let lost = 0;
    lab.lose = (c) => {
      // The first IKE_SA_INIT of member 0 and the first GSA_AUTH response to member 1.
      const x = exchangeOf(c.datagram.bytes);
      if (c.from === 0 && x === EXCHANGE.IKE_SA_INIT && lost === 0) return ++lost > 0;
      if (c.to === 1 && x === GKM_EXCHANGE.GSA_AUTH && lost === 1) return ++lost > 0;
      return false;
    };
    registerAll(lab);
    lab.run(5 * S);
    expect(lost).toBe(2);
    expect(lab.members.map((m) => m.state)).toEqual(['registered', 'registered', 'registered', 'registered']);
    expect(registered(lab).filter((r) => r.reregistration)).toHaveLength(0);
    expect(lab.logs.some((l) => l.includes('response from cache'))).toBe(true);
  });

  it('registering again while the registration SA lives uses GSA_REGISTRATION (RFC 9838 §2.3.2), later IKE_SA_INIT', () => {
    const lab = fourSites();
    registerAll(lab);
    const spi = lab.members[0]!.outboundTek()!.spi;
    let from = lab.captured.length;
    lab.register(0);
    lab.run(S);
    expect(lab.captured.slice(from).map((c) => exchangeOf(c.datagram.bytes))).toEqual([GKM_EXCHANGE.GSA_REGISTRATION, GKM_EXCHANGE.GSA_REGISTRATION]);
    const again = registered(lab).at(-1)!;
    expect(again).toMatchObject({ reregistration: true, senderIds: [4] });
    expect(lab.members[0]!.counters.registrations).toBe(2);
    expect(lab.members[0]!.outboundTek()!.spi).toBe(spi);
    // Fresh Sender-IDs at every registration (RFC 9838 §2.5.1): the new TEKs start at Sender-ID 4's range.
    lab.command({ kind: 'command', command: { kind: 'rekey', groupId: GROUP_ID } });
    lab.run(3 * S);
    expect(lab.members[0]!.outboundTek()!.seqFirst).toBe(4n << 20n);
    // Past the lifetime of the registration SA, a new one.
    lab.run(30 * S);
    from = lab.captured.length;
    lab.register(0);
    lab.run(S);
    expect(lab.captured.slice(from).map((c) => exchangeOf(c.datagram.bytes))).toEqual([EXCHANGE.IKE_SA_INIT, EXCHANGE.IKE_SA_INIT, GKM_EXCHANGE.GSA_AUTH, GKM_EXCHANGE.GSA_AUTH]);
    expect(lab.members[0]!.state).toBe('registered');
  });
});


describe('refusals', () => {
  it('an identity the GCKS does not know gets AUTHENTICATION_FAILED', () => {
    const lab = fourSites();
    lab.addMember(4, { localId: fqdn('intruder.example') });
    lab.register(4);
    lab.run(S);
    const f = failures(lab, 4);
    expect(f).toHaveLength(1);
    expect(f[0]!.failure).toMatchObject({ code: 'AUTHENTICATION_FAILED', detectedBy: 'remote', notify: 24 });
    expect(f[0]!.willRetry).toBe(false);
    expect(lab.members[4]!.state).toBe('refused');
    expect(lab.gcks.counters.refused.UNKNOWN_PEER).toBe(1);
  });

  it('a wrong pre-shared key gets AUTHENTICATION_FAILED', () => {
    const lab = fourSites({ member: (i) => (i === 2 ? { credential: { method: 'psk', psk: new TextEncoder().encode('a guess') } } : {}) });
    registerAll(lab);
    expect(failures(lab, 2)[0]!.failure).toMatchObject({ code: 'AUTHENTICATION_FAILED', notify: 24 });
    expect(lab.gcks.counters.refused.AUTHENTICATION_FAILED).toBe(1);
    expect(lab.members.map((m) => m.state)).toEqual(['registered', 'registered', 'refused', 'registered']);
  });

  it('an authenticated member not allowed into the group gets AUTHORIZATION_FAILED (RFC 9838)', () => {
    const lab = fourSites({ authorized: (i) => i !== 3 });
    registerAll(lab);
    expect(failures(lab, 3)[0]!.failure).toMatchObject({ code: 'AUTHORIZATION_FAILED', notify: GKM_NOTIFY.AUTHORIZATION_FAILED });
    expect(lab.members[3]!.state).toBe('refused');
  });

  it('an unknown group gets INVALID_GROUP_ID', () => {
    const lab = fourSites({ member: (i) => (i === 1 ? { groupId: fqdn('no-such-group') } : {}) });
    registerAll(lab);
    expect(failures(lab, 1)[0]!.failure).toMatchObject({ code: 'INVALID_GROUP_ID', notify: GKM_NOTIFY.INVALID_GROUP_ID });
  });

  it('a full group gets REGISTRATION_FAILED', () => {
    const lab = fourSites({ group: { membersMax: 3 } });
    registerAll(lab);
    expect(lab.members.filter((m) => m.state === 'refused')).toHaveLength(1);
    expect(failures(lab, 3)[0]!.failure).toMatchObject({ code: 'REGISTRATION_FAILED', notify: GKM_NOTIFY.REGISTRATION_FAILED });
  });
});

describe('rekeys (GSA_REKEY)', () => {
  it('a scheduled rekey under continuous traffic loses nothing: old and new TEK overlap', () => {
    const lab = fourSites();
    const dps = withDataPlanes(lab);
    registerAll(lab);
    let sent = 0;
    let delivered = 0;
    const lost: string[] = [];
    const usedSpis = new Set<number>();
    // Every member sends to every other one every 50 ms for 150 s (two and a half TEK lifetimes of 60 s).
    const tick = (t: number) => {
      if (t > 150 * S) return;
      dps.forEach((dp, from) => {
        const outer = dp.seal(0x0a000001, `${from}@${t}`);
        if (!outer) {
          lost.push(`${from} had no outbound TEK at ${t}`);
          return;
        }
        usedSpis.add(dp.outboundSpi!);
        for (let to = 0; to < 4; to++) {
          if (to === from) continue;
          sent += 1;
          lab.at(t + 3_000, () => {
            const r = dps[to]!.open(outer);
            if (r.ok && innerText(r.bytes) === `${from}@${t}`) delivered += 1;
            else lost.push(`${from}→${to} at ${t}: ${r.ok ? 'wrong text' : r.reason}`);
          });
        }
      });
      lab.at(t + 50_000, () => tick(t + 50_000));
    };
    lab.at(lab.nowUs, () => tick(lab.nowUs));
    lab.runUntil(155 * S);
    expect(lost).toEqual([]);
    expect(delivered).toBe(sent);
    expect(sent).toBeGreaterThan(30_000);
    // Rekeys at 50, 100 and 150 s (10 s before each 60 s lifetime ends); senders move over 1 s (GWP_ATD)
    // later, so the traffic, which ends at 150 s, used three TEKs.
    expect(usedSpis.size).toBe(3);
    const rekeys = lab.gcksEvents.filter((e) => e.event.kind === 'rekey-sent').map((e) => e.event);
    expect(rekeys.map((e) => (e.kind === 'rekey-sent' ? e.reason : ''))).toEqual(['scheduled-rekey', 'scheduled-rekey', 'scheduled-rekey']);
    expect(lab.members.every((m) => m.counters.rekeysAccepted === 3 && m.counters.registrations === 1)).toBe(true);
  });

  it('a member that misses the rekeys registers again before its TEK runs out', () => {
    const lab = fourSites();
    registerAll(lab);
    lab.lose = (c) => c.to === 3 && exchangeOf(c.datagram.bytes) === GKM_EXCHANGE.GSA_REKEY;
    lab.runUntil(70 * S);
    expect(lab.members[3]!.counters.registrations).toBe(2);
    expect(registered(lab).filter((r) => r.reregistration).map((r) => new TextDecoder().decode(r.memberId.data))).toEqual(['ce-3.example']);
    // After its second registration it holds the TEK the others got by GSA_REKEY.
    const spis = lab.members.map((m) => m.outboundTek()?.spi);
    expect(new Set(spis).size).toBe(1);
  });

  it('an evicted member cannot open what is sealed with the new TEK; the others can', () => {
    const lab = fourSites();
    const dps = withDataPlanes(lab);
    registerAll(lab);
    const oldSpi = lab.members[0]!.outboundTek()!.spi;
    const rekeyBytes: Uint8Array[] = [];
    const before = lab.captured.length;
    lab.command({ kind: 'command', command: { kind: 'evict', groupId: GROUP_ID, memberId: memberId(3) } });
    lab.run(5 * S);
    // Two GSA_REKEY messages (RFC 9838 §3.2.1), each to the three remaining members only.
    const rekeys = lab.captured.slice(before).filter((c) => c.from === 'gcks');
    expect(rekeys.map((c) => c.to)).toEqual([0, 1, 2, 0, 1, 2]);
    rekeyBytes.push(rekeys[0]!.datagram.bytes, rekeys[3]!.datagram.bytes);
    expect(lab.gcksEvents.some((e) => e.event.kind === 'member-removed')).toBe(true);
    const newSpi = lab.members[0]!.outboundTek()!.spi;
    expect(newSpi).not.toBe(oldSpi);
    for (let i = 0; i < 3; i++) expect(lab.members[i]!.outboundTek()!.spi).toBe(newSpi);
    expect(lab.members[3]!.teks().map((t) => t.spi)).toEqual([oldSpi]);
    // The old TEK is deleted at the remaining members after GWP_DTD.
    for (let i = 0; i < 3; i++) expect(lab.members[i]!.teks().map((t) => t.spi)).toEqual([newSpi]);
    const outer = dps[0]!.seal(0x0a000001, 'after the eviction')!;
    expect(dps[1]!.open(outer).ok).toBe(true);
    expect(dps[2]!.open(outer).ok).toBe(true);
    expect(dps[3]!.open(outer)).toEqual({ ok: false, reason: 'unknown-spi' });
    // Even holding both rekey messages (as on a multicast link) it learns nothing new.
    const dgram = (bytes: Uint8Array) => ({ srcAddr: rekeys[0]!.datagram.srcAddr, srcPort: 848, dstAddr: memberAddr(3), dstPort: 848, bytes });
    const excludedBefore = lab.eventsOf(3).filter((e) => e.kind === 'excluded').length;
    lab.inject(3, dgram(rekeyBytes[1]!)); // under the new KEK: it cannot even open it
    expect(lab.members[3]!.counters.rekeyDropped.UNKNOWN_REKEY_SA).toBe(1);
    lab.inject(3, dgram(rekeyBytes[0]!)); // under the old KEK: opens, verifies, unwraps nothing
    expect(lab.eventsOf(3).filter((e) => e.kind === 'excluded').length).toBe(excludedBefore + 1);
    expect(lab.members[3]!.teks()).toEqual([]);
    // It tries to register again (RFC 9838 §3.3) and is refused: evicted members stay out.
    lab.run(S);
    expect(failures(lab, 3).at(-1)!.failure).toMatchObject({ code: 'AUTHORIZATION_FAILED' });
    const stillOut = dps[0]!.seal(0x0a000001, 'later')!;
    expect(dps[3]!.open(stillOut).ok).toBe(false);
  });

  it('a member that missed the GSA_REKEY bringing a new KEK notices the next one and registers again', () => {
    const lab = fourSites();
    const dps = withDataPlanes(lab);
    registerAll(lab);
    let dropped = 0;
    // Member 2 loses the first GSA_REKEY of the eviction (the one carrying the new KEK).
    lab.lose = (c) => c.to === 2 && exchangeOf(c.datagram.bytes) === GKM_EXCHANGE.GSA_REKEY && dropped++ === 0;
    lab.command({ kind: 'command', command: { kind: 'evict', groupId: GROUP_ID, memberId: memberId(3) } });
    lab.run(5 * S);
    expect(lab.members[2]!.counters.rekeyDropped.UNKNOWN_REKEY_SA).toBe(1);
    expect(lab.members[2]!.counters.registrations).toBe(2);
    const spi = lab.members[0]!.outboundTek()!.spi;
    expect(lab.members[2]!.outboundTek()!.spi).toBe(spi);
    const outer = dps[2]!.seal(0x0a000001, 'still here')!;
    expect(dps[0]!.open(outer).ok).toBe(true);
    expect(dps[1]!.open(outer).ok).toBe(true);
  });

  it('forged and replayed rekeys are dropped and counted', () => {
    const lab = fourSites();
    registerAll(lab);
    const before = lab.captured.length;
    lab.command({ kind: 'command', command: { kind: 'rekey', groupId: GROUP_ID } });
    lab.run(S);
    const genuine = lab.captured.slice(before).find((c) => c.to === 1)!.datagram;
    expect(lab.members[1]!.counters.rekeysAccepted).toBe(1);
    // Replayed: the very same bytes again.
    lab.inject(1, genuine);
    expect(lab.members[1]!.counters.rekeyDropped).toEqual({ REPLAYED_REKEY: 1 });
    // Altered on the way: the KEK's ICV fails.
    const bent = genuine.bytes.slice();
    bent[bent.length - 20]! ^= 1;
    // Give it a fresh Message ID so that the replay check passes and the ICV check is reached.
    new DataView(bent.buffer).setUint32(20, 1000);
    lab.inject(1, { ...genuine, bytes: bent });
    expect(lab.members[1]!.counters.rekeyDropped.INTEGRITY).toBe(1);
    // Forged by an insider: a member knows the KEK, so it can seal a GSA_REKEY; it cannot sign as the GCKS.
    const forged = forgeRekey(lab, 0, 2000);
    lab.inject(1, { ...genuine, bytes: forged });
    expect(lab.members[1]!.counters.rekeyDropped.BAD_SIGNATURE).toBe(1);
    expect(lab.members[1]!.counters.rekeysAccepted).toBe(1);
    expect(lab.members[1]!.teks()).toHaveLength(2);
  });

  it('with rekeyOnJoin the members already there move to a new KEK and TEK the joiner never saw the old of', () => {
    const lab = fourSites({ group: { rekeyOnJoin: true } });
    for (let i = 0; i < 3; i++) lab.register(i);
    lab.run(S);
    const oldTek = lab.members[0]!.outboundTek()!.spi;
    const oldKek = hex(lab.members[0]!.exportKek()!.skE);
    lab.register(3);
    lab.run(5 * S);
    const newTek = lab.members[3]!.outboundTek()!.spi;
    expect(newTek).not.toBe(oldTek);
    expect(lab.members[3]!.teks().map((t) => t.spi)).toEqual([newTek]);
    for (let i = 0; i < 4; i++) expect(lab.members[i]!.outboundTek()!.spi).toBe(newTek);
    const keks = lab.members.map((m) => hex(m.exportKek()!.skE));
    expect(new Set(keks).size).toBe(1);
    expect(keks[0]).not.toBe(oldKek);
    // Later evictions still reach everyone else through the refreshed key tree.
    lab.command({ kind: 'command', command: { kind: 'evict', groupId: GROUP_ID, memberId: memberId(1) } });
    lab.run(5 * S);
    const after = lab.members.map((m) => m.outboundTek()?.spi);
    expect(after[0]).toBe(after[2]);
    expect(after[0]).toBe(after[3]);
    expect(after[0]).not.toBe(newTek);
    expect(lab.members.every((m, i) => i === 1 || equalBytes(m.exportKek()!.skE, lab.gcks.exportKek(GROUP_ID)!.skE))).toBe(true);
  });

  it('joinRekeyHoldoffS: joins within the window share one rekey at its end; everyone ends on one KEK and TEK', () => {
    const rekeys = (lab: GroupLab) => lab.gcksEvents.filter((e) => e.event.kind === 'rekey-sent' && e.event.reason === 'join').length;
    const run = (holdoffS: number) => {
      const lab = fourSites({ group: { rekeyOnJoin: true, joinRekeyHoldoffS: holdoffS } });
      lab.register(0);
      lab.run(S);
      for (let i = 1; i < 4; i++) {
        lab.register(i);
        lab.run(S / 10);
      }
      lab.run(5 * S);
      return lab;
    };
    const each = run(0);
    const batched = run(2);
    expect(rekeys(each)).toBe(3); // members 1, 2, 3: one rekey each
    expect(rekeys(batched)).toBe(2); // member 1 at once; members 2 and 3 at the window's end
    for (const lab of [each, batched]) {
      const teks = lab.members.map((m) => m.outboundTek()!.spi);
      expect(new Set(teks).size).toBe(1);
      expect(new Set(lab.members.map((m) => hex(m.exportKek()!.skE))).size).toBe(1);
      expect(hex(lab.members[0]!.exportKek()!.skE)).toBe(hex(lab.gcks.exportKek(GROUP_ID)!.skE));
    }
    // The batched rekey left the joiners of the window on a TEK made after they joined.
    const joined3 = batched.memberEvents.find((e) => e.member === 3 && e.event.kind === 'registered')!;
    const firstTek3 = (joined3.event as Extract<MemberEvent, { kind: 'registered' }>).teks[0]!.spi;
    expect(batched.members[3]!.outboundTek()!.spi).not.toBe(firstTek3);
  });

  it('a KEK rekey moves everyone to the new KEK; the next GSA_REKEY arrives on it', () => {
    const lab = fourSites();
    registerAll(lab);
    lab.command({ kind: 'command', command: { kind: 'rekey', groupId: GROUP_ID, what: 'kek' } });
    lab.run(S);
    lab.command({ kind: 'command', command: { kind: 'rekey', groupId: GROUP_ID } });
    lab.run(S);
    for (const m of lab.members) {
      expect(m.counters.rekeysAccepted).toBe(2);
      expect(hex(m.exportKek()!.skE)).toBe(hex(lab.gcks.exportKek(GROUP_ID)!.skE));
    }
  });
});

/** A GSA_REKEY sealed with member `insider`'s KEK but signed with a key that is not the GCKS's. */
function forgeRekey(lab: GroupLab, insider: number, messageId: number): Uint8Array {
  const kek = lab.members[insider]!.exportKek()!;
  const spi = Uint8Array.from([...kek.spiI, ...kek.spiR]);
  const any = { kind: 'ipv4-range' as const, ipProtocolId: 0, startPort: 0, endPort: 0xffff, startAddr: 0, endAddr: 0xffffffff };
  const tekKeymat = new Uint8Array(20).fill(0x42);
  const inner = [
    gsaPayload(buildGsa({ teks: [{ spi: 0xbad0bad0, suite: 'aes-gcm-128', lifetimeS: 60, sn: 2, src: any, dst: any }] })),
    // The insider does not know GSK_w of the Rekey SA either… but tries with the encryption key.
    kdPayload(buildKd({ saKeys: [{ protocol: GKM_PROTOCOL.ESP, spi: spiBytes(0xbad0bad0), keys: [{ keyId: 0, kwkId: 0, wrapped: wrapKey(kek.skE.subarray(0, 16), tekKeymat) }] }], wrapKeys: [], senderIds: [] })),
  ];
  return encodeGsaRekey({ spi, messageId, inner, kek: aeadKeyFrom('aes-gcm-128', kek.skE), iv: new Uint8Array(8).fill(7), signingKey: new Uint8Array(32).fill(0x66) });
}

describe('bytes from a peer never throw', () => {
  it('mutated registration and rekey datagrams are dropped and counted, never thrown; the group carries on', () => {
    const lab = fourSites({ seed: 13 });
    registerAll(lab);
    lab.command({ kind: 'command', command: { kind: 'rekey', groupId: GROUP_ID } });
    lab.run(S);
    const samples = lab.captured.filter((c) => !c.dropped);
    fc.assert(
      fc.property(
        fc.nat(samples.length - 1),
        fc.array(fc.record({ at: fc.nat(2000), v: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 4 }),
        fc.option(fc.nat(2000), { nil: undefined }),
        (which, flips, cut) => {
          const c = samples[which]!;
          const bytes = c.datagram.bytes.slice(0, cut ?? c.datagram.bytes.length);
          for (const f of flips) if (bytes.length) bytes[f.at % bytes.length] = f.v;
          // Delivered both where it was going and to the other side.
          lab.inject(c.to ?? 'gcks', { ...c.datagram, bytes });
          lab.inject(c.from, { ...c.datagram, bytes });
        },
      ),
      { numRuns: 400 },
    );
    const drops = (o: Record<string, number | undefined>) => Object.values(o).reduce((a: number, b) => a + (b ?? 0), 0);
    expect(drops(lab.gcks.counters.rxDropped) + lab.members.reduce((a, m) => a + drops(m.counters.rxDropped) + drops(m.counters.rekeyDropped), 0)).toBeGreaterThan(300);
    // Nothing forged got in: every member still holds the GCKS's TEKs and nothing else.
    const gcksSpis = lab.gcks.saTable(GROUP_ID)!.teks.map((t) => t.spi).sort();
    for (const m of lab.members) expect(m.teks().map((t) => t.spi).sort()).toEqual(gcksSpis);
  });
});
