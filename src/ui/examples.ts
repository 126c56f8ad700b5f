// The example topologies shipped in public/topologies and how the page picks one from its URL
// (`?topology=<file>`, `?runtime=single`). Page configuration only.
import type { RuntimeKind } from '../runtime/lab.ts';

export interface Example {
  file: string;
  title: string;
}

export const EXAMPLES: readonly Example[] = [
  { file: 'seed001-figure2.yaml', title: 'Seed 001 \u00b7 Figure 2' },
  { file: 'seed002-figure1.yaml', title: 'Seed 002 \u00b7 Figure 1' },
  { file: 'two-customers.yaml', title: 'Two customers, overlapping addresses' },
  { file: 'generated-50.yaml', title: 'Generated \u00b7 50 sites' },
];

/** The labs shipped in public/labs. */
export const LABS: readonly Example[] = [
  { file: 'join-group.yaml', title: 'Lab · Join a site to the group' },
  { file: 'unprotected-host.yaml', title: 'Lab · Find why a host is unprotected' },
  { file: 'mesh-vs-group.yaml', title: 'Lab · Compare mesh and group as N grows' },
];

export function labUrl(file: string): string {
  return `./labs/${encodeURIComponent(file)}`;
}

export const DEFAULT_EXAMPLE = 'seed001-figure2.yaml';

/** URL of a file in public/topologies, relative to the page. */
export function exampleUrl(file: string): string {
  return `./topologies/${encodeURIComponent(file)}`;
}

/** The topology file named by `?topology=`, if it is a plain file name; else the default. */
export function topologyFromQuery(search: string): string {
  const name = new URLSearchParams(search).get('topology');
  return name && /^[A-Za-z0-9][A-Za-z0-9_.-]*\.(?:ya?ml|json)$/.test(name) ? name : DEFAULT_EXAMPLE;
}

/** `?runtime=single` runs the nodes on this thread; anything else uses Web Workers. */
export function runtimeFromQuery(search: string): RuntimeKind {
  return new URLSearchParams(search).get('runtime') === 'single' ? 'single' : 'workers';
}
