// index.d.ts: it compiles under TypeScript's strict mode, types a typical use, and declares exactly
// what src/index.js exports.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as library from '../src/index.js';
import { WEB } from './helpers.js';

test('the declarations compile and type a typical use (tsc --strict)', () => {
  const tsc = join(WEB, 'node_modules', '.bin', 'tsc');
  execFileSync(tsc, ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022',
    '--lib', 'es2022,dom', 'test/types-usage.ts'], { cwd: WEB, stdio: 'pipe' });
});

test('every export of src/index.js is declared, and nothing else', () => {
  const declared = new Set();
  const text = readFileSync(join(WEB, 'index.d.ts'), 'utf8');
  for (const m of text.matchAll(/^export (?:declare )?(?:class|function|const) (\w+)/gm)) declared.add(m[1]);
  const runtime = new Set(Object.keys(library));
  assert.deepEqual([...runtime].filter((n) => !declared.has(n)).sort(), []);
  assert.deepEqual([...declared].filter((n) => !runtime.has(n)).sort(), []);
});
