// The node console's interpreter over a real snapshot (mesh run): show commands, abbreviations,
// errors an engineer can act on, acting commands as Lab API actions, completion.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { complete, followOutput, pingLines, prompt, runCommand, spdRows, tracerouteLines, type ConsoleContext, type ConsoleResult } from '../../src/sim/console.ts';
import type { RuntimePingReport, RuntimeTracerouteReport } from '../../src/node/types.ts';
import { SingleThreadLab } from '../../src/runtime/lab.ts';
import { loadTopology } from '../../src/sim/topology/load.ts';
import { meshRun } from './fixtures/mesh-run.ts';

describe('console', async () => {
  const run = await meshRun();
  const at = (id: string): ConsoleContext => ({ topology: run.topology, snapshot: run.snapshot, nodeIndex: run.topology.nodes.findIndex((n) => n.id === id) });

  it('show bgp summary: one row per neighbour with its state and prefixes received', () => {
    const r = runCommand('show bgp summary', at('pe1'));
    expect(r.error).toBe(false);
    expect(r.output).toMatch(/^BGP router identifier 10\.255\.0\.1, local AS number 65000/);
    expect(r.output).toMatch(/172\.16\.1\.1\s+4\s+65001\s+\d+\s+\d+\s+ce-a\s+1\n/);
    expect(r.output).toContain('Total number of neighbors 3');
  });

  it('show bgp vpnv4 unicast (abbreviated): routes grouped by route distinguisher', () => {
    const r = runCommand('sh bgp vpn uni', at('pe1'));
    expect(r.output).toContain('Route Distinguisher: 65000:2');
    expect(r.output).toMatch(/\*>\s+10\.2\.0\.0\/24\s+10\.255\.0\.2\s+pe2/);
    expect(r.output).toContain('Displayed 3 routes');
  });

  it('show ip route [vrf NAME]', () => {
    expect(runCommand('show ip route vrf corp', at('pe1')).output).toMatch(/B> 10\.3\.0\.0\/24\s+via 10\.255\.0\.3 \(import pe3\)/);
    const global = runCommand('show ip route', at('ce-a')).output;
    expect(global).toMatch(/C> 172\.16\.1\.0\/30\s+is directly connected, eth3 \(to pe1\)/);
    expect(global).toMatch(/B> 10\.2\.0\.0\/24\s+via 172\.16\.1\.2, pe1/);
    const bad = runCommand('show ip route vrf nope', at('pe1'));
    expect(bad.error).toBe(true);
    expect(bad.output).toBe('% VRF nope does not exist (VRFs: corp)');
    expect(runCommand('show ip route vrf', at('pe1')).output).toMatch(/^% Incomplete command/);
  });

  it('show crypto ipsec sa and show spd on a mesh CE', () => {
    const sa = runCommand('show crypto ipsec sa', at('ce-a')).output;
    expect(sa).toContain('tunnel: ce-a-ce-c');
    expect(sa).toMatch(/outbound esp sa: #pkts encaps: \d+/);
    expect(sa).toMatch(/172\.16\.1\.1\s+172\.16\.3\.1\s+0x00010002\s+aes-gcm-128/);
    expect(sa).not.toMatch(/[0-9a-f]{40}/); // keys are never printed
    const spd = runCommand('show spd', at('ce-a')).output;
    expect(spd).toMatch(/#2\s+10\.3\.0\.0\/24\s+10\.1\.0\.0\/24/);
    expect(spdRows([{ name: 'r1', origin: 'bgp', selectors: { remote: '10.9.0.0/24', local: '10.1.0.0/24' }, action: { kind: 'protect', tunnelRemote: '172.16.9.1', template: { establish: 'on-demand' } } }])).toEqual([
      { name: 'r1', destination: '10.9.0.0/24', source: '10.1.0.0/24', action: 'protect', gateway: '172.16.9.1', establish: 'on-demand', origin: 'bgp' },
    ]);
  });

  it('show crypto gsa renders the member app generically when present, says why when absent', () => {
    const none = runCommand('show crypto gsa', at('ce-a'));
    expect(none.error).toBe(true);
    expect(none.output).toContain('no group security association on ce-a');
    const snap = structuredClone(run.snapshot);
    const i = at('ce-a').nodeIndex;
    snap.nodes[i]!.apps.member = { groups: [{ groupId: 'vpn-blue', state: 'registered', tek: { spi: '0x1234' } }] };
    const r = runCommand('show crypto gsa', { ...at('ce-a'), snapshot: snap });
    expect(r.output).toContain('Group member');
    expect(r.output).toContain('groupId: vpn-blue');
    expect(r.output).toContain('spi: 0x1234');
  });

  it('errors: unknown, ambiguous, incomplete; BGP-less nodes', () => {
    expect(runCommand('show foo', at('ce-a')).output).toBe('% Invalid input: "show foo" (type help)');
    expect(runCommand('show i', at('ce-a')).output).toMatch(/Ambiguous command: "show i" could be show ip, show interfaces/);
    expect(runCommand('show bgp', at('ce-a')).output).toMatch(/Incomplete command.*summary \| vpnv4 \| ipv4/);
    expect(runCommand('show bgp summary', at('h-a')).output).toBe('% BGP is not running on this node');
    expect(runCommand('', at('ce-a'))).toMatchObject({ output: '', error: false });
  });

  it('shutdown / no shutdown become interface-up node commands; interface mode keeps the name', () => {
    const ni = at('ce-a').nodeIndex;
    expect(runCommand('shutdown pe1', at('ce-a')).actions).toEqual([{ kind: 'node-command', nodeIndex: ni, command: { kind: 'interface-up', ifIndex: 3, up: false } }]);
    const sel = runCommand('interface eth1', at('ce-a'));
    expect(sel.state).toEqual({ interface: 'eth1' });
    expect(prompt('ce-a', sel.state)).toBe('ce-a(config-if eth1)# ');
    const up = runCommand('no shut', at('ce-a'), sel.state);
    expect(up.actions).toEqual([{ kind: 'node-command', nodeIndex: ni, command: { kind: 'interface-up', ifIndex: 1, up: true } }]);
    expect(runCommand('shutdown', at('ce-a')).error).toBe(true);
    expect(runCommand('shutdown eth7', at('ce-a')).output).toBe('% no interface eth7');
  });

  it('tab completion: keywords, VRF names, interface names', () => {
    expect(complete('show b', at('pe1'))).toEqual({ line: 'show bgp ', options: ['bgp'] });
    expect(complete('sh', at('pe1')).options).toEqual(['show', 'shutdown']);
    expect(complete('show ip route vrf c', at('pe1')).line).toBe('show ip route vrf corp ');
    expect(complete('shutdown ', at('ce-a')).options).toEqual(['eth0', 'eth1', 'eth2', 'eth3']);
    expect(complete('show cr', at('ce-a')).line).toBe('show crypto ');
    expect(complete('zzz', at('ce-a'))).toEqual({ line: 'zzz', options: [] });
  });

  it('ping: options in any order, node names as destinations, a node command and what to follow', () => {
    const ni = at('h-a').nodeIndex;
    const r = runCommand('ping h-c size 100 count 3', at('h-a'));
    expect(r.error).toBe(false);
    expect(r.actions).toEqual([{ kind: 'node-command', nodeIndex: ni, command: { kind: 'ping', dst: '10.3.0.10', count: 3, sizeBytes: 100, intervalUs: 1_000_000 } }]);
    expect(r.follow).toEqual({ kind: 'ping', nodeIndex: ni, dst: '10.3.0.10', afterId: 0 });
    expect(runCommand('ping 10.3.0.10', at('h-a')).actions[0]).toMatchObject({ command: { count: 5, sizeBytes: 56, intervalUs: 1_000_000 } });
    expect(runCommand('ping 10.3.0.10 int 2 c 1', at('h-a')).actions[0]).toMatchObject({ command: { count: 1, intervalUs: 2_000_000 } });
    expect(runCommand('ping 10.3.0.10 count 0', at('h-a')).output).toBe('% ping: count needs a whole number 1..1000');
    expect(runCommand('ping 10.3.0.10 count', at('h-a')).error).toBe(true);
    expect(runCommand('ping 10.3.0.10 ttl 3', at('h-a')).output).toMatch(/^% ping: unknown option ttl/);
    expect(runCommand('ping nowhere', at('h-a'))).toMatchObject({ error: true, actions: [], output: '% ping: unknown host nowhere' });
    expect(complete('ping 10.3.0.10 c', at('h-a')).line).toBe('ping 10.3.0.10 count ');
    expect(complete('ping 10.3.0.10 count ', at('h-a')).options).toEqual([]);
  });

  it('traceroute and clear bgp become node commands; clear bgp checks the neighbour', () => {
    const ni = at('ce-a').nodeIndex;
    const tr = runCommand('traceroute 10.3.0.10 max-hops 5', at('h-a'));
    expect(tr.actions).toEqual([{ kind: 'node-command', nodeIndex: at('h-a').nodeIndex, command: { kind: 'traceroute', dst: '10.3.0.10', maxHops: 5 } }]);
    expect(tr.follow).toMatchObject({ kind: 'traceroute', dst: '10.3.0.10' });
    expect(runCommand('trace h-c', at('h-a')).actions[0]).toMatchObject({ command: { maxHops: 30 } });
    expect(runCommand('clear bgp', at('ce-a')).actions).toEqual([{ kind: 'node-command', nodeIndex: ni, command: { kind: 'clear-bgp' } }]);
    expect(runCommand('clear bgp *', at('ce-a')).actions).toEqual([{ kind: 'node-command', nodeIndex: ni, command: { kind: 'clear-bgp' } }]);
    const one = runCommand('clear bgp pe1', at('ce-a'));
    expect(one.actions).toEqual([{ kind: 'node-command', nodeIndex: ni, command: { kind: 'clear-bgp', neighbor: 'pe1' } }]);
    expect(one.output).toMatch(/^Resetting BGP with pe1 \(172\.16\.1\.2\): Cease NOTIFICATION, Administrative Reset/);
    expect(runCommand('clear bgp 172.16.1.2', at('ce-a')).actions[0]).toMatchObject({ command: { neighbor: '172.16.1.2' } });
    expect(runCommand('clear bgp pe9', at('ce-a'))).toMatchObject({ error: true, actions: [] });
    expect(runCommand('clear bgp', at('h-a'))).toMatchObject({ error: true, output: '% BGP is not running on this node' });
    expect(complete('clear bgp ', at('ce-a')).options).toEqual(['*', 'pe1']);
    expect(runCommand('show ping', at('h-a'))).toMatchObject({ error: true, output: '% no ping has run on this node (type `ping ADDRESS`)' });
  });

  it('prints ping and traceroute output line by line, growing only, with the summary at the end', () => {
    const p: RuntimePingReport = { kind: 'ping', id: 1, dst: '10.3.0.10', src: '10.1.0.10', count: 3, sizeBytes: 56, intervalUs: 1e6, startUs: 1, sent: 2, received: 1, rttMinUs: 30_500, rttAvgUs: 30_500, rttMaxUs: 30_500, done: false,
      events: [{ kind: 'reply', seq: 1, from: '10.3.0.10', ttl: 60, bytes: 64, rttUs: 30_500 }, { kind: 'host-unreachable', seq: 2, from: '10.1.0.1' }] };
    const running = pingLines(p);
    expect(running).toEqual(['PING 10.3.0.10 from 10.1.0.10: 56 data bytes', '64 bytes from 10.3.0.10: icmp_seq=1 ttl=60 time=30.500 ms', 'From 10.1.0.1 icmp_seq=2 Destination Host Unreachable']);
    const done = pingLines({ ...p, sent: 3, done: true });
    expect(done.slice(0, running.length)).toEqual(running);
    expect(done.slice(running.length)).toEqual(['', '--- 10.3.0.10 ping statistics ---', '3 packets transmitted, 1 received, +1 errors, 67% packet loss', 'rtt min/avg/max = 30.500/30.500/30.500 ms']);
    expect(pingLines({ ...p, error: 'no route to 10.3.0.10' })).toEqual(['% ping 10.3.0.10: no route to 10.3.0.10']);
    const t: RuntimeTracerouteReport = { kind: 'traceroute', id: 2, dst: '10.3.0.10', src: '10.1.0.10', maxHops: 30, startUs: 1, reached: false, done: false,
      hops: [{ ttl: 1, probes: [{ from: '10.1.0.1', answer: 'time-exceeded', rttUs: 200 }, {}, { from: '10.1.0.2', answer: 'time-exceeded', rttUs: 300 }] }, { ttl: 2, probes: [{ from: '172.16.1.2', answer: 'net-unreachable', rttUs: 4000 }] }] };
    expect(tracerouteLines(t)).toEqual(['traceroute to 10.3.0.10 from 10.1.0.10, 30 hops max, 60 byte packets', ' 1  10.1.0.1  0.200 ms * 10.1.0.2  0.300 ms']);
    expect(tracerouteLines({ ...t, done: true })[2]).toBe(' 2  172.16.1.2  4.000 ms !N');
  });

  it('end to end: the console\'s ping and traceroute run in the lab and print its real results', async () => {
    const r0 = loadTopology(readFileSync('public/topologies/seed002-figure1.yaml', 'utf8'), { mode: 'mesh' });
    if (!r0.ok) throw new Error('seed002-figure1.yaml does not load');
    const topology = r0.topology;
    console.log(`seed ${topology.seed}: ${topology.name} (${topology.mode})`);
    const lab = new SingleThreadLab(topology, { dataplane: 'ts' });
    await lab.runUntil(5_000_000);
    const ha = topology.nodes.findIndex((n) => n.id === 'h-a');
    const type = async (line: string): Promise<ConsoleResult> => {
      const r = runCommand(line, { topology, snapshot: await lab.snapshot(), nodeIndex: ha });
      for (const a of r.actions) if (a.kind === 'node-command') await lab.command(a.nodeIndex, a.command);
      return r;
    };
    const ping = await type('ping h-c count 2');
    expect(followOutput(ping.follow!, await lab.snapshot())).toBeUndefined(); // not yet at the node
    await lab.runUntil(5_500_000);
    const half = followOutput(ping.follow!, await lab.snapshot())!;
    expect(half.done).toBe(false);
    expect(half.lines[0]).toBe('PING 10.3.0.10 from 10.1.0.10: 56 data bytes');
    expect(half.lines[1]).toMatch(/^64 bytes from 10\.3\.0\.10: icmp_seq=1 ttl=\d+ time=\d+\.\d{3} ms$/);
    await lab.runUntil(7_000_000);
    const all = followOutput(ping.follow!, await lab.snapshot())!;
    expect(all.done).toBe(true);
    expect(all.lines.slice(0, 2)).toEqual(half.lines.slice(0, 2));
    expect(all.lines).toContain('2 packets transmitted, 2 received, 0% packet loss');
    expect((await type('show ping')).output.split('\n')).toEqual(all.lines);
    // A second ping follows its own run-time flow, not the first one's.
    const again = await type('ping 10.3.0.10 count 1');
    expect(again.follow!.afterId).toBe(1);
    const tr = await type('traceroute h-c');
    await lab.runUntil(9_000_000);
    const trace = followOutput(tr.follow!, await lab.snapshot())!;
    expect(trace.done).toBe(true);
    // Mesh mode: the CEs tunnel the probes in ESP, so the backbone's hops are not seen; ce-c answers
    // from the interface its reply leaves by (RFC 1812 4.3.2.4).
    expect(trace.lines.slice(1).map((l) => l.trim().split(/\s+/)[1])).toEqual(['10.1.0.1', '172.16.3.1', '10.3.0.10']);
    expect(followOutput(again.follow!, await lab.snapshot())!.lines).toContain('1 packets transmitted, 1 received, 0% packet loss');
    await lab.close();
  });
});
