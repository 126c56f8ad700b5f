// `vpnlab generate`: writes a generated topology (src/sim/generate.ts) to a file or stdout, after
// checking it loads. Owns argument parsing and the file; the topology itself is built in sim/.

import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { checkGenerateOptions, generateTopology, GenerateError, type GenerateOptions } from '../sim/generate.ts';
import { formatTopologyErrors, loadTopology } from '../sim/topology/load.ts';
import type { Mode } from '../sim/topology/types.ts';

export const GENERATE_USAGE = `       vpnlab generate --sites N [--vpns V] [--mode l3vpn|mesh|gateway|group] [--seed S] [--out FILE]`;

/** Parses an integer option; undefined when absent, NaN-free error text when malformed. */
export function intOption(name: string, text: string | undefined, problems: string[], min: number): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(v) || v < min) {
    problems.push(`--${name}: expected an integer >= ${min}, got "${text}"`);
    return undefined;
  }
  return v;
}

/** Exit codes: 0 ok, 1 could not write, 2 bad arguments. */
export async function generateCommand(argv: string[], out: (s: string) => void, errOut: (s: string) => void): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: false,
      options: { sites: { type: 'string' }, vpns: { type: 'string' }, mode: { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (e) {
    errOut(`vpnlab generate: ${(e as Error).message}\nusage:\n${GENERATE_USAGE}\n`);
    return 2;
  }
  const v = parsed.values;
  if (v.help) {
    out(`usage:\n${GENERATE_USAGE}\n`);
    return 0;
  }
  const problems: string[] = [];
  const sites = intOption('sites', v.sites, problems, 2);
  if (v.sites === undefined) problems.push('--sites: required (the number of sites, e.g. --sites 50)');
  const vpns = intOption('vpns', v.vpns, problems, 1) ?? 1;
  const seed = intOption('seed', v.seed, problems, 0);
  if (problems.length) {
    errOut(`${problems.map((p) => `vpnlab generate: ${p}`).join('\n')}\n`);
    return 2;
  }
  const opts: GenerateOptions = { sites: sites!, vpns, ...(v.mode !== undefined ? { mode: v.mode as Mode } : {}), ...(seed !== undefined ? { seed } : {}) };
  let text: string;
  try {
    checkGenerateOptions(opts);
    text = generateTopology(opts);
  } catch (e) {
    if (e instanceof GenerateError) {
      errOut(`vpnlab generate: --${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const loaded = loadTopology(text);
  if (!loaded.ok) {
    // Our own bug: the generator must always produce a valid file.
    errOut(`vpnlab generate: internal error, the generated topology does not load:\n${formatTopologyErrors(loaded.errors)}\n`);
    return 1;
  }
  if (v.out === undefined) {
    out(text);
    return 0;
  }
  try {
    await writeFile(v.out, text);
  } catch (e) {
    errOut(`vpnlab generate: cannot write ${v.out}: ${(e as Error).message}\n`);
    return 1;
  }
  out(`${v.out}: ${loaded.topology.nodes.length} nodes, ${loaded.topology.links.length} links, ${opts.sites} sites, ${vpns} VPN(s), mode ${loaded.topology.mode}\n`);
  return 0;
}
