// The node console's interpreter over a real snapshot (mesh run): show commands, abbreviations,
// errors an engineer can act on, acting commands as Lab API actions, completion.
import { describe, expect, it } from 'vitest';
import { complete, prompt, runCommand, spdRows, type ConsoleContext } from '../../src/sim/console.ts';
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
    expect(runCommand('clear bgp *', at('ce-a')).error).toBe(true);
  });

  it('tab completion: keywords, VRF names, interface names', () => {
    expect(complete('show b', at('pe1'))).toEqual({ line: 'show bgp ', options: ['bgp'] });
    expect(complete('sh', at('pe1')).options).toEqual(['show', 'shutdown']);
    expect(complete('show ip route vrf c', at('pe1')).line).toBe('show ip route vrf corp ');
    expect(complete('shutdown ', at('ce-a')).options).toEqual(['eth0', 'eth1', 'eth2', 'eth3']);
    expect(complete('show cr', at('ce-a')).line).toBe('show crypto ');
    expect(complete('zzz', at('ce-a'))).toEqual({ line: 'zzz', options: [] });
  });
});
