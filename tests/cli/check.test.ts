import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';

async function cli(args: string[]) {
  let out = '';
  let err = '';
  const code = await main(args, (s) => (out += s), (s) => (err += s));
  return { code, out, err };
}

describe('vpnlab check', () => {
  it('fails the unprotected-host lab as shipped, with JUnit and JSON results', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vpnlab-check-'));
    const res = await cli(['check', 'public/labs/unprotected-host.yaml', '--junit', join(dir, 'j.xml'), '--json', join(dir, 'r.json')]);
    expect(res.code).toBe(1);
    // Since CEs route by BGP, a CE that advertises no trusted subnet is unreachable: task 1 fails.
    expect(res.out).toContain('FAIL 1. Every site reaches every other');
    expect(res.out).toContain('✗ h-a reaches h-d: 0 of 5 replies back');
    expect(res.out).toContain('FAIL 3. ce-d holds its tunnels');
    const json = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8'));
    expect(json.passed).toBe(false);
    expect(json.tasks.map((t: { pass: boolean }) => t.pass)).toEqual([false, true, false]);
    const xml = readFileSync(join(dir, 'j.xml'), 'utf8');
    expect(xml).toContain('<testsuites tests="3" failures="2">');
    expect(xml).toContain('<failure message="h-a reaches h-d: 0 of 5 replies back');
  });

  it('passes once the trainee gives ce-d its trusted subnet (exit 0)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vpnlab-check-'));
    const topo = readFileSync('public/labs/unprotected-host.topology.yaml', 'utf8').replace('trustedSubnets: []', 'trustedSubnets: [10.4.0.0/24]');
    expect(topo).toContain('[10.4.0.0/24]');
    writeFileSync(join(dir, 'unprotected-host.topology.yaml'), topo);
    copyFileSync('public/labs/unprotected-host.yaml', join(dir, 'lab.yaml'));
    const res = await cli(['check', join(dir, 'lab.yaml')]);
    expect(res.out).toContain('3 of 3 tasks pass');
    expect(res.code).toBe(0);
  });

  it('join-group: task 1 passes as shipped; once ce-d joins group 1 it registers, gets the GSA and site 4 is reached through ESP', async () => {
    const shipped = await cli(['check', 'public/labs/join-group.yaml', '--json', join(mkdtempSync(join(tmpdir(), 'vpnlab-check-')), 'r.json')]);
    expect(shipped.out).toContain('PASS 1. Observe the group of three');
    expect(shipped.code).toBe(1);
    const dir = mkdtempSync(join(tmpdir(), 'vpnlab-check-'));
    const topo = readFileSync('public/labs/join-group.topology.yaml', 'utf8').replace('members: [ce-a, ce-b, ce-c]', 'members: [ce-a, ce-b, ce-c, ce-d]');
    expect(topo).toContain('[ce-a, ce-b, ce-c, ce-d]');
    writeFileSync(join(dir, 'join-group.topology.yaml'), topo);
    copyFileSync('public/labs/join-group.yaml', join(dir, 'lab.yaml'));
    const res = await cli(['check', join(dir, 'lab.yaml'), '--json', join(dir, 'r.json')]);
    // The tasks describe successive states: after the join, task 1 (a group of three) no longer holds.
    const json = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8'));
    expect(json.tasks.map((t: { pass: boolean }) => t.pass)).toEqual([false, true, true]);
    expect(res.out).toContain('✓ sr has 4 registered members');
  });

  it('rejects a bad lab file with every error and exit 2, and a missing link', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vpnlab-check-'));
    writeFileSync(join(dir, 'bad.yaml'), 'lab: x\ntopology: t.yaml\ntasks:\n  - { title: a, checks: [{ reaches: { from: 1 } }] }\n');
    let res = await cli(['check', join(dir, 'bad.yaml')]);
    expect(res.code).toBe(2);
    expect(res.err).toContain('tasks[0].checks[0]');
    copyFileSync('public/topologies/seed001-figure2.yaml', join(dir, 't.yaml'));
    writeFileSync(join(dir, 'nolink.yaml'), 'lab: x\ntopology: t.yaml\ntasks:\n  - { title: a, checks: [{ clearBytes: { link: nowhere } }] }\n');
    res = await cli(['check', join(dir, 'nolink.yaml')]);
    expect(res.code).toBe(2);
    expect(res.err).toContain('no link "nowhere"');
    res = await cli(['check']);
    expect(res.code).toBe(2);
    res = await cli(['check', join(dir, 'nolink.yaml'), '--until', 'soon']);
    expect(res.code).toBe(2);
  });
});
