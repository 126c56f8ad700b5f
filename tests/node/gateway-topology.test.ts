// The CE policy and IKE fields of a topology file (seed 002 FIG. 3): what loads, what is refused and how.
import { describe, expect, it } from 'vitest';
import { formatTopologyErrors, loadTopology } from '../../src/sim/topology/load.ts';
import { gatewayPlan, gatewayPsk } from '../../src/sim/gateway-plan.ts';

const file = (ceA: string, extraNodes = '') => `
name: t
mode: gateway
nodes:
  - { id: h-a, role: host${extraNodes} }
  - { id: ce-a, role: ce, asn: 65001, trustedSubnets: [10.1.0.0/24]${ceA} }
  - { id: pe1, role: pe, asn: 65000, vrfs: [{ name: v, rd: "65000:1", import: ["65000:1"], export: ["65000:1"], attachments: [ce-a, ce-b] }] }
  - { id: ce-b, role: ce, asn: 65002, trustedSubnets: [10.2.0.0/24] }
links:
  - { endpoints: [{ node: h-a, address: 10.1.0.10/24 }, { node: ce-a, address: 10.1.0.1/24 }] }
  - { endpoints: [{ node: ce-a, address: 172.16.1.1/30 }, { node: pe1, address: 172.16.1.2/30 }] }
  - { endpoints: [{ node: pe1, address: 172.16.2.2/30 }, { node: ce-b, address: 172.16.2.1/30 }] }
vpns:
  - { id: v, routeTarget: "65000:1", sites: [ce-a, ce-b] }
`;

const errors = (text: string) => {
  const r = loadTopology(text);
  return r.ok ? [] : formatTopologyErrors(r.errors).split('\n');
};

describe('CE policy in the topology file', () => {
  it('resolves the four kinds of entry, with sources defaulting to the trusted subnets', () => {
    const r = loadTopology(
      file(`, policy: [
        { action: protect, destination: 10.1.0.99/32, gateway: h-a },
        { action: bypass, destination: [10.2.0.128/25] },
        { action: protect, source: 10.1.0.0/25, destination: 10.2.0.0/24, gateway: ce-b, establish: pre-established },
        { action: protect, destination: bgp }],
        ike: { psk: "k", rekey: 20s, lifetime: 30s, announce: pre-established }`),
    );
    if (!r.ok) throw new Error(formatTopologyErrors(r.errors));
    const ce = r.topology.nodes.find((n) => n.id === 'ce-a')!;
    expect(ce.policy).toEqual([
      { action: 'protect', source: ['10.1.0.0/24'], destination: ['10.1.0.99/32'], gateway: 'h-a' },
      { action: 'bypass', source: ['10.1.0.0/24'], destination: ['10.2.0.128/25'] },
      { action: 'protect', source: ['10.1.0.0/25'], destination: ['10.2.0.0/24'], gateway: 'ce-b', establish: 'pre-established' },
      { action: 'protect', source: ['10.1.0.0/24'], destination: 'bgp' },
    ]);
    expect(ce.ike).toEqual({ psk: 'k', establish: 'on-demand', announce: 'pre-established', lifetimeUs: 30_000_000, rekeyUs: 20_000_000, queueMax: 32 });
    const plan = gatewayPlan(r.topology, ce.index)!;
    expect(plan.announcePreEstablish).toBe(true);
    expect(plan.gateway.tunnelLocal).toBe(0xac100101); // 172.16.1.1, its address towards the PE = its SGI
    expect(plan.gateway.policy.map((e) => [e.kind, 'gateway' in e ? e.gateway : undefined])).toEqual([
      ['protect', 0x0a01000a], // the host's address
      ['bypass', undefined],
      ['protect', 0xac100201], // ce-b's tunnel address
      ['bgp', undefined],
    ]);
    expect(plan.gateway.template.suite).toBe('aes-gcm-128');
    expect(plan.gateway.template.esn).toBe(false);
    expect(plan.ike.childLifetime).toEqual({ softUs: 20_000_000, hardUs: 30_000_000 });
    // The node's key wins; ce-b has none and no VPN psk: a key derived from the seed and the VPN.
    expect(new TextDecoder().decode(plan.ike.psk)).toBe('k');
    const b = r.topology.nodes.find((n) => n.id === 'ce-b')!;
    expect(gatewayPsk(r.topology, b)).toHaveLength(32);
    expect(gatewayPlan(r.topology, b.index)!.gateway.policy).toEqual([{ kind: 'bgp', name: 'policy1', sources: ['10.2.0.0/24'] }]);
  });

  it('no gateway plan outside gateway mode', () => {
    const r = loadTopology(file(''), { mode: 'mesh' });
    if (!r.ok) throw new Error('does not load');
    expect(gatewayPlan(r.topology, 1)).toBeUndefined();
  });

  it('refuses bad entries with errors that name the field', () => {
    expect(
      errors(
        file(`, policy: [
          { action: bypass, destination: bgp },
          { action: protect, destination: 10.2.0.0/24 },
          { action: protect, destination: bgp, gateway: ce-b },
          { action: protect, destination: bgp },
          { action: bypass, destination: 10.2.0.0/24, gateway: ce-b, establish: on-demand },
          { action: protect, destination: 10.2.0.0/24, gateway: pe1 },
          { action: protect, destination: 10.2.0.0/24, gateway: ce-x },
          { action: protect, destination: 10.2.0.0/24, gateway: ce-a }],
          ike: { rekey: 10s, lifetime: 5s }`),
      ),
    ).toEqual([
      'nodes[1].policy[0].destination: expected prefixes for a bypass entry, got "bgp" (only protect entries take their destinations from BGP)',
      'nodes[1].policy[1].gateway: expected the gateway (a ce or host node id, or an IPv4 address) of a protect entry with explicit destinations, got nothing',
      'nodes[1].policy[2].gateway: expected no gateway with destination "bgp" (BGP names each gateway), got "ce-b"',
      'nodes[1].policy[3].destination: expected one entry with destination "bgp" per node, got another (also policy[2])',
      'nodes[1].policy[4].gateway: expected no gateway on a bypass entry, got "ce-b"',
      'nodes[1].policy[4].establish: expected no establish on a bypass entry, got "on-demand"',
      'nodes[1].policy[5].gateway: expected a ce or host node (a security gateway), got "pe1" (role pe)',
      expect.stringMatching(/^nodes\[1\]\.policy\[6\]\.gateway: expected a node id defined in nodes, got "ce-x"/),
      'nodes[1].policy[7].gateway: expected another node than "ce-a" itself, got "ce-a"',
      'nodes[1].ike.rekey: expected a rekey time shorter than the lifetime (5s), got "10s"',
    ]);
  });

  it('refuses policy on a pe, a host "bgp" entry, bad values', () => {
    const text = file('', ', policy: [{ action: protect, destination: bgp }]').replace('vrfs: [', 'policy: [], vrfs: [');
    expect(errors(text)).toEqual([
      'nodes[0].policy[0].destination: expected prefixes on a host (it speaks no BGP), got "bgp"',
      'nodes[2].policy: expected policy only on a ce or host node, got role "pe"',
    ]);
    const bad = errors(file(', policy: [{ action: encrypt, destination: 10.2.0.0/33 }], ike: { establish: sometimes }'));
    expect(bad.some((l) => l.startsWith('nodes[1].policy[0].action: expected protect, bypass or discard'))).toBe(true);
    expect(bad.some((l) => l.startsWith('nodes[1].policy[0].destination: expected a prefix such as "10.1.0.0/24", got "10.2.0.0/33"'))).toBe(true);
    expect(bad.some((l) => l.startsWith('nodes[1].ike.establish: expected on-demand or pre-established'))).toBe(true);
  });
});
