import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatIpv4, parseIpv4 } from '../../../src/lib/addr.ts';
import { formatTopologyErrors, loadTopology, type LoadResult, type TopologyError } from '../../../src/sim/topology/load.ts';
import type { Topology } from '../../../src/sim/topology/types.ts';

const example = (name: string): string =>
  readFileSync(new URL(`../../../public/topologies/${name}`, import.meta.url), 'utf8');

function loaded(r: LoadResult): Topology {
  if (!r.ok) throw new Error(`expected a topology, got errors:\n${formatTopologyErrors(r.errors)}`);
  return r.topology;
}

function errorsOf(r: LoadResult): TopologyError[] {
  if (r.ok) throw new Error('expected errors, got a topology');
  return r.errors;
}

const lines = (r: LoadResult): string[] => formatTopologyErrors(errorsOf(r)).split('\n');

describe('examples', () => {
  it('seed001-figure2.yaml loads: four sites, two PEs, a P, the S/R device, group 1', () => {
    const t = loaded(loadTopology(example('seed001-figure2.yaml')));
    expect(t.name).toBe('Seed 001 Figure 2');
    expect(t.mode).toBe('group');
    expect(t.nodes).toHaveLength(12);
    expect(t.links).toHaveLength(11);
    const byRole = (role: string) => t.nodes.filter((n) => n.role === role).map((n) => n.id);
    expect(byRole('host')).toEqual(['h-a', 'h-b', 'h-c', 'h-d']);
    expect(byRole('ce')).toEqual(['ce-a', 'ce-b', 'ce-c', 'ce-d']);
    expect(byRole('pe')).toEqual(['pe1', 'pe2']);
    expect(byRole('p')).toEqual(['p1']);
    expect(byRole('sr')).toEqual(['sr']);
    for (const n of t.nodes) {
      expect(n.position, n.id).toBeDefined();
      expect(n.position!.x).toBeGreaterThanOrEqual(0);
      expect(n.position!.x).toBeLessThanOrEqual(900);
      expect(n.position!.y).toBeGreaterThanOrEqual(0);
      expect(n.position!.y).toBeLessThanOrEqual(560);
      if (n.role === 'ce') expect(n.trustedSubnets).toHaveLength(1);
      if (n.role === 'pe') expect(n.vrfs).toHaveLength(1);
      if (n.role !== 'host') expect(n.asn).toBeDefined();
    }
    expect(t.groups).toEqual([
      {
        groupId: 1,
        name: 'sites',
        sr: 'sr',
        members: ['ce-a', 'ce-b', 'ce-c', 'ce-d'],
        discovery: 'member-list',
        rekeyOnMembershipChange: true,
      },
    ]);
    expect(t.vpns).toHaveLength(1);
    expect(t.traffic.map((f) => f.kind)).toEqual(['ping', 'ping', 'ping', 'udp']);
    const ping = t.traffic.find((f) => f.kind === 'ping' && f.from === 'h-a' && f.toLabel === 'h-d');
    expect(ping).toMatchObject({ count: 5, intervalUs: 1_000_000, startUs: 1_000_000, sizeBytes: 56 });
    expect(formatIpv4(ping!.to)).toBe('10.4.0.10');
  });

  it('seed002-figure1.yaml loads: three security-gateway CEs, three PEs, one VPN', () => {
    const t = loaded(loadTopology(example('seed002-figure1.yaml')));
    expect(t.mode).toBe('gateway');
    expect(t.nodes).toHaveLength(13); // with the S/R device added for group mode
    expect(t.links).toHaveLength(12);
    expect(t.nodes.filter((n) => n.role === 'ce').map((n) => n.trustedSubnets)).toEqual([
      ['10.1.0.0/24'],
      ['10.2.0.0/24'],
      ['10.3.0.0/24'],
    ]);
    expect(t.nodes.filter((n) => n.role === 'pe')).toHaveLength(3);
    expect(t.vpns).toEqual([{ id: 'corp', routeTarget: '65000:100', sites: ['ce-a', 'ce-b', 'ce-c'], psk: 'corp-vpn-2026' }]);
    // FIG. 3's four kinds of entry in CE 140-3's policy, and the host that ends entry #4's tunnel.
    expect(t.nodes.find((n) => n.id === 'ce-c')!.policy!.map((e) => [e.action, e.destination, e.gateway ?? '-'])).toEqual([
      ['protect', ['10.1.0.99/32'], 'h-z'],
      ['bypass', ['10.1.0.128/25'], '-'],
      ['protect', ['10.2.0.0/24'], 'ce-b'],
      ['protect', 'bgp', '-'],
    ]);
    expect(t.nodes.find((n) => n.id === 'h-z')!.policy![0]!.source).toEqual(['10.1.0.99/32']);
    expect(t.groups.map((g) => [g.sr, g.members])).toEqual([['sr', ['ce-a', 'ce-b', 'ce-c']]]); // used in group mode only
    expect(t.traffic.filter((f) => f.kind === 'ping')).toHaveLength(5);
    for (const n of t.nodes) expect(n.position, n.id).toBeDefined();
  });

  it('the resolved topology is plain data (survives structured clone)', () => {
    const t = loaded(loadTopology(example('seed001-figure2.yaml')));
    expect(structuredClone(t)).toEqual(t);
  });
});

// The 4th link (links[3]) has latency "fast"; nearly every line holds a mistake.
const BROKEN = `name: Broken
mode: star
seed: -1
colour: red
nodes:
  - { id: h-a, role: host }
  - { id: ce-a, role: ce, trustedSubnets: [10.1.0.1/24], asn: 0 }
  - { id: pe1, role: pe, trustedSubnets: [10.9.0.0/24], vrfs: [{ name: v, rd: "1:1", attachments: [ce-z, h-a] }] }
  - { id: pe1, role: router }
  - { id: h-b, role: host }
  - { id: p1, role: p, vrfs: [] }
links:
  - { endpoints: [h-a, ce-a] }
  - { endpoints: [ce-a, pe-9] }
  - { endpoints: [{ node: ce-a, address: 10.1.0.1/24 }, pe1] }
  - { endpoints: [pe1, ce-a], latency: fast, loss: 2 }
  - { endpoints: [pe1, pe1], latncy: 1ms }
  - { id: l5, endpoints: [{ node: h-a, address: 10.2.0.1/24 }, { node: ce-a, address: 10.3.0.2/24 }], jitter: 0.5us }
  - { id: l6, endpoints: [{ node: ce-a, address: 10.2.0.1/24 }, { node: p1, address: 10.2.0.255/24 }] }
  - { endpoints: [h-a] }
vpns:
  - { id: v, routeTarget: "65000:1", sites: [ce-a, h-a, ce-q] }
groups:
  - { groupId: 1, members: [ce-a, pe1], sr: pe1 }
  - { groupId: 1, members: [ce-a] }
traffic:
  - { kind: ping, from: ce-a, to: h-z }
  - { kind: sctp, from: h-a, to: h-b }
  - { kind: udp, from: h-a, to: 10.9.9.9, rate: 0bps }
  - { kind: ping, from: h-b, to: h-a, count: 0 }
`;

describe('errors', () => {
  it('reports every mistake at once, in file order, with exact paths and messages', () => {
    expect(lines(loadTopology(BROKEN))).toEqual([
      'mode: expected one of "l3vpn", "mesh", "gateway", "group", got "star"',
      'seed: expected a non-negative whole number, got -1',
      'colour: expected one of the fields $schema, name, description, mode, seed, defaults, nodes, links, vpns, groups, traffic, got unknown field "colour"',
      'nodes[1].trustedSubnets[0]: expected a prefix with the host bits zero, such as "10.1.0.0/24", got "10.1.0.1/24"',
      'nodes[1].asn: expected an AS number from 1 to 4294967295, got 0',
      'nodes[2].trustedSubnets: expected trustedSubnets only on a ce node, got role "pe"',
      'nodes[2].vrfs[0].attachments[0]: expected a node id defined in nodes, got "ce-z" (did you mean "ce-a"?)',
      'nodes[2].vrfs[0].attachments[1]: expected a node linked to "pe1", got "h-a" (no link between them)',
      'nodes[3].id: expected a unique node id, got "pe1" (also nodes[2].id)',
      'nodes[3].role: expected one of "host", "ce", "pe", "p", "sr", got "router"',
      'nodes[5].vrfs: expected vrfs only on a pe node, got role "p"',
      'links[1].endpoints[1]: expected a node id defined in nodes, got "pe-9"',
      'links[2].endpoints: expected an address on both endpoints or on neither, got one only on endpoints[0] (ce-a)',
      'links[3].latency: expected a duration such as "2ms", got "fast"',
      'links[3].loss: expected a loss probability from 0 to 1 or a percentage such as "1%", got 2',
      'links[4].endpoints: expected two different nodes, got "pe1" at both ends',
      'links[4].latncy: expected one of the fields id, endpoints, latency, jitter, bandwidth, loss, up, got unknown field "latncy" (did you mean "latency"?)',
      'links[5].endpoints[1].address: expected an address in 10.2.0.0/24 like endpoints[0], got "10.3.0.2/24"',
      'links[5].jitter: expected a whole number of microseconds, got "0.5us"',
      'links[6].endpoints[0].address: expected an address not used elsewhere, got "10.2.0.1/24" (also links[5].endpoints[0].address)',
      'links[6].endpoints[1].address: expected a host address, got "10.2.0.255/24" (the broadcast address of 10.2.0.0/24)',
      'links[7].endpoints: expected two endpoints such as [ce-a, pe1], got a list of 1 item',
      'vpns[0].sites[1]: expected a ce node, got "h-a" (role host)',
      'vpns[0].sites[2]: expected a node id defined in nodes, got "ce-q" (did you mean "ce-a"?)',
      'groups[0].members[1]: expected a ce node, got "pe1" (role pe)',
      'groups[0].sr: expected an sr node, got "pe1" (role pe)',
      // groups[1].sr is not reported: nodes[3] failed the schema and might be meant as the sr node.
      'groups[1].groupId: expected a unique group id, got 1 (also groups[0].groupId)',
      'traffic[0].from: expected a host node, got "ce-a" (role ce)',
      'traffic[0].to: expected a node id defined in nodes, got "h-z" (did you mean "h-a"?)',
      'traffic[1].kind: expected kind "ping", "udp" or "tcp", got "sctp"',
      'traffic[2].rate: expected a rate above 0, got "0bps"',
      'traffic[3].from: expected a host with a link, got "h-b" (it has no links)',
      'traffic[3].count: expected a number >= 1, got 0',
    ]);
  });

  it('gives the line and column of each value', () => {
    const latency = errorsOf(loadTopology(BROKEN)).find((e) => e.path === 'links[3].latency');
    expect(latency).toEqual({
      path: 'links[3].latency',
      message: 'expected a duration such as "2ms", got "fast"',
      line: 16,
      column: 40,
    });
  });

  it('a single bad latency is the only error (no cascade)', () => {
    const text = example('seed001-figure2.yaml').replace('latency: 5ms }', 'latency: fast }');
    expect(lines(loadTopology(text))).toEqual(['links[8].latency: expected a duration such as "2ms", got "fast"']);
  });

  it('an invalid node is not reported again wherever it is referenced', () => {
    const text = example('seed002-figure1.yaml').replace('role: p\n', 'role: router\n');
    expect(lines(loadTopology(text))).toEqual(['nodes[11].role: expected one of "host", "ce", "pe", "p", "sr", got "router"']);
  });

  it('reports YAML syntax errors with line and column, and nothing else', () => {
    const errors = errorsOf(loadTopology('name: x\nnodes:\n  - { id: a, role: host\n  - { id: b, role: host }\n'));
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]!.path).toBe('(root)');
    expect(errors[0]!.message).toMatch(/^YAML syntax error at line \d+, column \d+: /);
    expect(errors[0]!.line).toBeGreaterThanOrEqual(3);

    const dup = errorsOf(loadTopology('name: x\nname: y\nnodes: []\n'));
    expect(formatTopologyErrors(dup)).toBe('(root): YAML syntax error at line 2, column 1: Map keys must be unique');
  });

  it('reports a bad root', () => {
    expect(lines(loadTopology(''))).toEqual(['(root): expected a topology mapping with name and nodes, got an empty document']);
    expect(lines(loadTopology('- a\n- b\n'))).toEqual(['(root): expected a topology mapping with name and nodes, got a list of 2 items']);
    expect(lines(loadTopology('nodes: [{ id: a, role: host }]\n'))).toEqual(['name: expected a string, got nothing']);
    expect(lines(loadTopology('name: x\nnodes: []\n'))).toEqual(['nodes: expected at least 1 item, got 0']);
  });

  it('checks endpoint forms, addresses and the traffic destination', () => {
    const text = `name: t
nodes:
  - { id: h, role: host }
  - { id: r, role: ce }
  - { id: lonely, role: p }
links:
  - { endpoints: [h, 5] }
  - { endpoints: [{ node: h, address: 10.0.0.1 }, { node: r, address: 10.0.0.2/24 }] }
  - { endpoints: [{ node: h, address: 10.0.0.1/24 }, { node: r, address: 10.0.0.1/24 }] }
  - { id: x, endpoints: [h, r], bandwidth: fast }
  - { id: y, endpoints: [h, r], bandwidth: 0.5bps, latency: 0ms }
traffic:
  - { kind: ping, from: h, to: lonely }
  - { kind: udp, from: h, to: "300.1.1.1" }
`;
    expect(lines(loadTopology(text))).toEqual([
      'links[0].endpoints[1]: expected a node id or { node, address }, got 5',
      'links[1].endpoints[0].address: expected an interface address such as "10.1.0.1/24", got "10.0.0.1"',
      'links[2].endpoints[1].address: expected an address not used elsewhere, got "10.0.0.1/24" (also links[2].endpoints[0].address)',
      'links[3].bandwidth: expected a bandwidth such as "100Mbps", 0 or "unlimited", got "fast"',
      'links[4].bandwidth: expected a whole number of bits per second, got "0.5bps"',
      'links[4].latency: expected a latency of at least 1us, got "0ms"',
      'traffic[0].to: expected a node with an address, got "lonely" (no loopback and no links)',
      'traffic[1].to: expected a node id or an IPv4 address, got "300.1.1.1"',
    ]);
  });

  it('needs ids on parallel links and names the sr when there are several', () => {
    const text = `name: t
nodes:
  - { id: a, role: ce }
  - { id: b, role: ce }
  - { id: s1, role: sr }
  - { id: s2, role: sr }
links:
  - { endpoints: [a, b] }
  - { endpoints: [a, b] }
groups:
  - { groupId: 7, members: [a, b, a] }
`;
    expect(lines(loadTopology(text))).toEqual([
      'links[1]: expected a unique link id, got "a--b" (also links[0]; give parallel links an id)',
      'groups[0].sr: expected the id of one of the sr nodes "s1", "s2", got nothing',
      'groups[0].members[2]: expected each node once, got "a" again (also [0])',
    ]);
  });

  it('formats one error per line', () => {
    expect(
      formatTopologyErrors([
        { path: 'a', message: 'x' },
        { path: '(root)', message: 'y' },
      ]),
    ).toBe('a: x\n(root): y');
  });
});

describe('resolution', () => {
  const base = `name: t
nodes:
  - { id: h1, role: host }
  - { id: ce1, role: ce, trustedSubnets: [10.1.0.0/24] }
  - { id: pe1, role: pe, loopback: 10.255.0.1, vrfs: [{ name: blue, rd: "65000:1", import: ["65000:1"], export: ["65000:1"], attachments: [ce1] }] }
  - { id: pe2, role: pe }
  - { id: h2, role: host }
`;

  it('numbers unaddressed links from 100.64.0.0 in /30s by link index', () => {
    const t = loaded(
      loadTopology(`${base}links:
  - { endpoints: [h1, ce1] }
  - { endpoints: [{ node: ce1, address: 172.16.0.1/30 }, { node: pe1, address: 172.16.0.2/30 }] }
  - { endpoints: [pe1, pe2] }
  - { endpoints: [pe2, h2] }
`),
    );
    const ends = t.links.map((l) => [`${formatIpv4(l.a.addr)}/${l.a.len}`, `${formatIpv4(l.b.addr)}/${l.b.len}`]);
    expect(ends).toEqual([
      ['100.64.0.1/30', '100.64.0.2/30'],
      ['172.16.0.1/30', '172.16.0.2/30'],
      ['100.64.0.9/30', '100.64.0.10/30'],
      ['100.64.0.13/30', '100.64.0.14/30'],
    ]);
    expect(t.links.map((l) => l.id)).toEqual(['h1--ce1', 'ce1--pe1', 'pe1--pe2', 'pe2--h2']);
    expect(t.links.map((l) => l.index)).toEqual([0, 1, 2, 3]);
  });

  it('numbers interfaces per node in the order links name it', () => {
    const t = loaded(
      loadTopology(`${base}links:
  - { endpoints: [pe1, pe2] }
  - { endpoints: [h1, ce1] }
  - { endpoints: [ce1, pe1] }
  - { endpoints: [h2, pe2] }
  - { id: second, endpoints: [pe2, pe1] }
`),
    );
    const ifs = t.links.map((l) => `${l.a.node}:${l.a.ifIndex}-${l.b.node}:${l.b.ifIndex}`);
    expect(ifs).toEqual(['pe1:0-pe2:0', 'h1:0-ce1:0', 'ce1:1-pe1:1', 'h2:0-pe2:1', 'pe2:2-pe1:2']);
    expect(t.links.map((l) => [l.a.nodeIndex, l.b.nodeIndex])).toEqual([
      [2, 3],
      [0, 1],
      [1, 2],
      [4, 3],
      [3, 2],
    ]);
  });

  it('applies link defaults and converts units', () => {
    const t = loaded(
      loadTopology(`${base}defaults:
  link: { latency: 3ms, bandwidth: 10Mbps, loss: "2%" }
links:
  - { endpoints: [h1, ce1] }
  - { endpoints: [ce1, pe1], latency: 1.5s, jitter: 250us, bandwidth: unlimited, loss: 0.25, up: false }
  - { endpoints: [pe1, pe2], bandwidth: 2.5kbps, loss: 0 }
`),
    );
    expect(t.links.map((l) => [l.latencyUs, l.jitterUs, l.bandwidthBps, l.loss, l.up])).toEqual([
      [3000, 0, 10_000_000, 0.02, true],
      [1_500_000, 250, 0, 0.25, false],
      [3000, 0, 2500, 0, true],
    ]);
    const plain = loaded(loadTopology(`${base}links:\n  - { endpoints: [h1, ce1] }\n  - { endpoints: [ce1, pe1] }\n`));
    expect(plain.links[0]).toMatchObject({ latencyUs: 1000, jitterUs: 0, bandwidthBps: 1_000_000_000, loss: 0, up: true });
    expect(plain).toMatchObject({ description: '', mode: 'l3vpn', seed: 1, vpns: [], groups: [], traffic: [] });
  });

  it('resolves nodes, VRFs and traffic destinations', () => {
    const t = loaded(
      loadTopology(`${base}links:
  - { endpoints: [{ node: h1, address: 10.1.0.10/24 }, { node: ce1, address: 10.1.0.1/24 }] }
  - { endpoints: [ce1, pe1] }
  - { endpoints: [pe1, pe2] }
  - { endpoints: [pe2, h2] }
traffic:
  - { kind: ping, from: h2, to: h1 }
  - { kind: ping, from: h2, to: pe1, count: 2, interval: 500ms, start: 0s, size: 1000 }
  - { kind: udp, from: h1, to: 192.0.2.1, rate: 2Mbps, duration: 1.25s }
`),
    );
    expect(t.nodes[2]).toEqual({
      index: 2,
      id: 'pe1',
      role: 'pe',
      loopback: parseIpv4('10.255.0.1'),
      trustedSubnets: [],
      routeReflector: false,
      vrfs: [{ name: 'blue', rd: '65000:1', importTargets: ['65000:1'], exportTargets: ['65000:1'], attachments: ['ce1'] }],
    });
    expect(t.nodes[1]!.trustedSubnets).toEqual(['10.1.0.0/24']);
    expect(t.traffic).toEqual([
      { kind: 'ping', index: 0, from: 'h2', to: parseIpv4('10.1.0.10'), toLabel: 'h1', count: 5, intervalUs: 1_000_000, startUs: 1_000_000, sizeBytes: 56 },
      { kind: 'ping', index: 1, from: 'h2', to: parseIpv4('10.255.0.1'), toLabel: 'pe1', count: 2, intervalUs: 500_000, startUs: 0, sizeBytes: 1000 },
      {
        kind: 'udp',
        index: 2,
        from: 'h1',
        to: parseIpv4('192.0.2.1'),
        toLabel: '192.0.2.1',
        rateBps: 2_000_000,
        sizeBytes: 512,
        startUs: 1_000_000,
        durationUs: 1_250_000,
        srcPort: 5000,
        dstPort: 5001,
      },
    ]);
  });

  it('defaults a group to the only sr node', () => {
    const t = loaded(
      loadTopology(`name: g
nodes: [{ id: a, role: ce }, { id: b, role: ce }, { id: s, role: sr }]
groups: [{ groupId: 3, members: [a, b], discovery: auto }]
`),
    );
    expect(t.groups).toEqual([
      { groupId: 3, name: 'group-3', sr: 's', members: ['a', 'b'], discovery: 'auto', rekeyOnMembershipChange: true },
    ]);
  });
});

describe('several groups (seed 001)', () => {
  const file = (groups: string, srs = '{ id: s, role: sr, asn: 65030 }, { id: s2, role: sr, asn: 65030 }') => `name: g
mode: group
nodes: [{ id: a, role: ce }, { id: b, role: ce }, { id: c, role: ce }, ${srs}]
groups:
${groups}
`;

  it('accepts one S/R serving several groups and a CE in several groups (same or another S/R in the same AS)', () => {
    const t = loaded(
      loadTopology(
        file(
          [
            '  - { groupId: 1, sr: s, members: [a, b] }',
            '  - { groupId: 2, sr: s, members: [b, c], discovery: auto }',
            '  - { groupId: 3, sr: s2, members: [a, c], discovery: auto }',
            '  - { groupId: 65537, sr: s, members: [a, c] }',
          ].join('\n'),
        ),
      ),
    );
    expect(t.groups.map((g) => [g.groupId, g.sr, g.members])).toEqual([
      [1, 's', ['a', 'b']],
      [2, 's', ['b', 'c']],
      [3, 's2', ['a', 'c']],
      [65537, 's', ['a', 'c']],
    ]);
  });

  it('refuses a CE in two groups whose other members share a trusted subnet (it could not tell the routes apart)', () => {
    const r = loadTopology(`name: g
mode: group
nodes:
  - { id: a, role: ce, trustedSubnets: [10.1.0.0/24] }
  - { id: b, role: ce, trustedSubnets: [10.2.0.0/24] }
  - { id: c, role: ce, trustedSubnets: [10.2.0.0/24] }
  - { id: d, role: ce, trustedSubnets: [10.4.0.0/24] }
  - { id: s, role: sr }
groups:
  - { groupId: 1, members: [a, b, d] }
  - { groupId: 2, members: [c, a] }
  - { groupId: 3, members: [b, d] }
`);
    // b and c, in different groups of a, both hold 10.2.0.0/24. b is in two groups too, with no clash.
    expect(lines(r)).toEqual([
      'groups[1].members[1]: expected the members of "a"\'s groups to have distinct trusted subnets (it is in several groups), got 10.2.0.0/24 at "c" here and at "b" in groups[0]',
    ]);
  });

  it('refuses, at the field, a CE whose groups have S/Rs in different ASes and two auto groups of one S/R sharing a route target', () => {
    const r = loadTopology(
      file(
        [
          '  - { groupId: 1, sr: s, members: [a, b], discovery: auto }',
          '  - { groupId: 2, sr: s2, members: [c, b] }',
          '  - { groupId: 65537, sr: s, members: [c], discovery: auto }',
          '  - { groupId: 4, sr: s2, members: [c, a, a] }',
        ].join('\n'),
        '{ id: s, role: sr, asn: 65030 }, { id: s2, role: sr, asn: 65031 }',
      ),
    );
    expect(lines(r)).toEqual([
      'groups[1].members[1]: expected the S/R devices of "b"\'s groups in one AS (its BGP with them is iBGP in their AS), got "s2" in AS 65031 here and AS 65030 in groups[0]',
      'groups[2].groupId: expected auto-discovery groups of one S/R to differ in the low 16 bits of their group id (their route target is <S/R AS>:<those bits>), got 65537 (groups[0].groupId is 1, also served by "s")',
      'groups[2].members[0]: expected the S/R devices of "c"\'s groups in one AS (its BGP with them is iBGP in their AS), got "s" in AS 65030 here and AS 65031 in groups[1]',
      'groups[3].members[1]: expected the S/R devices of "a"\'s groups in one AS (its BGP with them is iBGP in their AS), got "s2" in AS 65031 here and AS 65030 in groups[0]',
      'groups[3].members[2]: expected each node once, got "a" again (also [1])',
    ]);
  });
});

describe('options', () => {
  it('mode and seed override the file', () => {
    const text = example('seed001-figure2.yaml');
    const t = loaded(loadTopology(text, { mode: 'l3vpn', seed: 42 }));
    expect(t.mode).toBe('l3vpn');
    expect(t.seed).toBe(42);
    const plain = loaded(loadTopology(text));
    expect([plain.mode, plain.seed]).toEqual(['group', 1]);
    expect({ ...t, mode: plain.mode, seed: plain.seed }).toEqual(plain);
  });

  it('rejects bad option values', () => {
    const text = 'name: x\nnodes: [{ id: a, role: host }]\n';
    expect(lines(loadTopology(text, { mode: 'bogus' as never, seed: -3 }))).toEqual([
      '(root): expected the mode option to be one of "l3vpn", "mesh", "gateway", "group", got "bogus"',
      '(root): expected the seed option to be a non-negative whole number, got -3',
    ]);
  });

  it('loads JSON, and the JSON schema rejects YAML-only plain scalars', () => {
    const json = JSON.stringify({
      $schema: '../topology.schema.json',
      name: 'j',
      nodes: [
        { id: 'a', role: 'host' },
        { id: 'b', role: 'ce' },
      ],
      links: [{ endpoints: ['a', 'b'], latency: '2ms' }],
    });
    const t = loaded(loadTopology(json, { format: 'json' }));
    expect(t.links[0]!.latencyUs).toBe(2000);
    expect(loaded(loadTopology(json)).links[0]!.latencyUs).toBe(2000);
    const bad = errorsOf(loadTopology('{"name": x, "nodes": []}', { format: 'json' }));
    expect(bad[0]!.message).toMatch(/^JSON syntax error at line 1, column 10: /);
  });

  it('group mode without a group is refused with the reason (file or --mode)', () => {
    const text = 'name: t\nnodes:\n  - { id: a, role: host }\n  - { id: b, role: host }\nlinks:\n  - { endpoints: [a, b] }\n';
    for (const r of [loadTopology(text.replace('name: t', 'name: t\nmode: group')), loadTopology(text, { mode: 'group' })]) {
      const errs = errorsOf(r);
      expect(errs).toHaveLength(1);
      expect(errs[0]!.message).toMatch(/^group mode needs at least one entry in `groups`/);
    }
    expect(loadTopology(text, { mode: 'mesh' }).ok).toBe(true);
  });
});
