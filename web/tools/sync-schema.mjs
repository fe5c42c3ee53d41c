// Write src/manifest-schema.js from runtime/manifest.schema.json, the one rule book (browsers cannot read
// the Python package's file). Run after changing the schema: `node web/tools/sync-schema.mjs`;
// test/trust.test.mjs fails while the two differ.

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const schema = JSON.parse(readFileSync(join(web, '..', 'runtime', 'manifest.schema.json'), 'utf8'));
writeFileSync(join(web, 'src', 'manifest-schema.js'),
  '// Generated from runtime/manifest.schema.json (the one rule book, read by Python too) by\n'
  + '// `node web/tools/sync-schema.mjs`; test/trust.test.mjs fails when the two differ.\n\n'
  + `export const MANIFEST_SCHEMA = ${JSON.stringify(schema, null, 2)};\n`);
