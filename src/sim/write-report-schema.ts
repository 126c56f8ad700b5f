// Writes public/report.schema.json from the zod schema of the report.
// Run: npx tsx src/sim/write-report-schema.ts  (tests/sim/report.test.ts fails when the file is stale)

import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { reportJsonSchemaText } from './report-schema.ts';

const SCHEMA_FILE = fileURLToPath(new URL('../../public/report.schema.json', import.meta.url));
writeFileSync(SCHEMA_FILE, reportJsonSchemaText());
console.log(`wrote ${SCHEMA_FILE}`);
