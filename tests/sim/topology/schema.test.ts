import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadTopology } from '../../../src/sim/topology/load.ts';
import {
  parseDurationUs,
  parseLoss,
  parseRateBps,
  routeTargetInRange,
  topologyJsonSchema,
  topologyJsonSchemaText,
} from '../../../src/sim/topology/schema.ts';

describe('JSON Schema', () => {
  it('public/topology.schema.json is up to date (regenerate: npx tsx src/sim/topology/write-schema.ts)', () => {
    const committed = readFileSync(new URL('../../../public/topology.schema.json', import.meta.url), 'utf8');
    expect(committed).toBe(topologyJsonSchemaText());
  });

  it('is draft 2020-12 with titles, descriptions and defaults', () => {
    const s = topologyJsonSchema() as {
      $schema: string;
      title: string;
      required: string[];
      additionalProperties: boolean;
      properties: Record<string, { description?: string; default?: unknown }>;
    };
    expect(s.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(s.title).toBe('VPN Lab topology');
    expect(s.required).toEqual(['name', 'nodes']);
    expect(s.additionalProperties).toBe(false);
    expect(s.properties.mode?.default).toBe('l3vpn');
    expect(s.properties.seed?.default).toBe(1);
    for (const [key, prop] of Object.entries(s.properties)) expect(prop.description, key).toBeTruthy();
  });
});

describe('units', () => {
  it('durations', () => {
    expect(parseDurationUs('500us')).toBe(500);
    expect(parseDurationUs('2ms')).toBe(2000);
    expect(parseDurationUs('1.5s')).toBe(1_500_000);
    expect(parseDurationUs('1.1ms')).toBe(1100);
    expect(parseDurationUs('0.000001s')).toBe(1);
    expect(parseDurationUs('1.0us')).toBe(1);
    expect(parseDurationUs('0.5us')).toBeUndefined();
    expect(parseDurationUs('0.0000001s')).toBeUndefined();
    for (const bad of ['fast', '2', 'ms', '-1ms', '1 ms', '1.ms', '.5s', '2MS', '1e3ms']) {
      expect(parseDurationUs(bad), bad).toBeUndefined();
    }
  });

  it('rates', () => {
    expect(parseRateBps('100Mbps')).toBe(100_000_000);
    expect(parseRateBps('1Gbps')).toBe(1_000_000_000);
    expect(parseRateBps('2.5kbps')).toBe(2500);
    expect(parseRateBps('64bps')).toBe(64);
    expect(parseRateBps(0)).toBe(0);
    expect(parseRateBps('unlimited')).toBe(0);
    expect(parseRateBps('0.5bps')).toBeUndefined();
    expect(parseRateBps('5')).toBeUndefined();
    expect(parseRateBps(5)).toBeUndefined();
    expect(parseRateBps('1mbps')).toBeUndefined();
  });

  it('loss', () => {
    expect(parseLoss(0.01)).toBe(0.01);
    expect(parseLoss('1%')).toBe(0.01);
    expect(parseLoss('100%')).toBe(1);
    expect(parseLoss('0.5%')).toBe(0.005);
    expect(parseLoss(1.5)).toBeUndefined();
    expect(parseLoss('101%')).toBeUndefined();
    expect(parseLoss('-1%')).toBeUndefined();
  });

  it('route target ranges', () => {
    expect(routeTargetInRange('65000:4294967295')).toBe(true);
    expect(routeTargetInRange('65536:65535')).toBe(true);
    expect(routeTargetInRange('65536:65536')).toBe(false);
    expect(routeTargetInRange('10.0.0.1:65535')).toBe(true);
    expect(routeTargetInRange('10.0.0.1:65536')).toBe(false);
    expect(routeTargetInRange('4294967296:1')).toBe(false);
  });
});

describe('properties', () => {
  it('`${n}ms` is n*1000 microseconds, `${n}us` is n, `${n}s` is n*1e6', () => {
    fc.assert(
      fc.property(fc.nat({ max: 1_000_000_000 }), (n) => {
        expect(parseDurationUs(`${n}ms`)).toBe(n * 1000);
        expect(parseDurationUs(`${n}us`)).toBe(n);
        expect(parseDurationUs(`${n}s`)).toBe(n * 1_000_000);
      }),
    );
  });

  it('decimal seconds with up to six fraction digits are exact', () => {
    fc.assert(
      fc.property(fc.nat({ max: 100_000 }), fc.nat({ max: 999_999 }), (whole, micros) => {
        const frac = String(micros).padStart(6, '0').replace(/0+$/, '') || '0';
        expect(parseDurationUs(`${whole}.${frac}s`)).toBe(whole * 1_000_000 + micros);
      }),
    );
  });

  it('`${n}ms` in a file becomes a link latency of n*1000 us', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000_000 }), (n) => {
        const r = loadTopology(
          `name: p\nnodes: [{ id: a, role: host }, { id: b, role: ce }]\nlinks: [{ endpoints: [a, b], latency: ${n}ms }]\n`,
        );
        expect(r.ok && r.topology.links[0]!.latencyUs).toBe(n * 1000);
      }),
      { numRuns: 50 },
    );
  });

  it('rates in Mbps are n*1e6 bits per second', () => {
    fc.assert(
      fc.property(fc.nat({ max: 1_000_000 }), (n) => {
        expect(parseRateBps(`${n}Mbps`)).toBe(n * 1_000_000);
      }),
    );
  });

  it('the loader never throws, and either loads or explains', () => {
    const value = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.constantFrom('h', 'c', '1ms', '10.0.0.1/24'));
    const arbitraryFile = fc.record(
      {
        name: value,
        mode: value,
        nodes: fc.array(fc.record({ id: fc.constantFrom('h', 'c', 'x', 5), role: fc.constantFrom('host', 'ce', 'sr', 'bad') }, { requiredKeys: [] })),
        links: fc.array(fc.record({ endpoints: fc.array(fc.oneof(value, fc.record({ node: value, address: value }))), latency: value })),
        groups: fc.array(fc.record({ groupId: value, members: fc.array(value), sr: value }, { requiredKeys: [] })),
        traffic: fc.array(fc.record({ kind: fc.constantFrom('ping', 'udp', 'x'), from: value, to: value }, { requiredKeys: [] })),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(arbitraryFile.map((f) => stringify(f)), fc.string()), (text) => {
        const r = loadTopology(text);
        if (!r.ok) {
          expect(r.errors.length).toBeGreaterThan(0);
          for (const e of r.errors) expect(e.message).toMatch(/^(expected |YAML )/);
        }
      }),
      { numRuns: 300 },
    );
  });
});
