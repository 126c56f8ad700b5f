// Writes public/topology.schema.json from the zod schema of the topology file format.
// Run: npx tsx src/sim/topology/write-schema.ts  (a test fails when the committed file is stale)

import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { topologyJsonSchemaText } from './schema.ts';

const SCHEMA_FILE = fileURLToPath(new URL('../../../public/topology.schema.json', import.meta.url));

writeFileSync(SCHEMA_FILE, topologyJsonSchemaText());
console.log(`wrote ${SCHEMA_FILE}`);
