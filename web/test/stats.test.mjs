// Drift statistics in edgepack-web (src/stats.js): the same records give the same window as the Python
// scorer's runtime/stats.py, so edgepack drift merges a browser's windows with a gateway's.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { StatsCollector, loadPackage } from '../src/index.js';
import { PYTHON, fixtures } from './helpers.js';

test('a window counted in Node equals the Python scorer\'s for the same records', async () => {
  const { dir } = await fixtures();
  const pkgDir = join(dir, 'clf', 'package');
  const golden = JSON.parse(readFileSync(join(pkgDir, 'golden.json'), 'utf8')).records;
  const records = [...golden, { ...golden[0], [Object.keys(golden[0])[0]]: 'not a number' }];
  const scorer = await loadPackage(pkgDir, { backend: 'ort-wasm' });
  const stats = await StatsCollector.open(scorer.package, { device: 'node' });
  await scorer.score(records.slice(0, 50), { stats });
  await scorer.score(records.slice(50), { stats });
  const ours = stats.take();
  await scorer.dispose();

  const work = mkdtempSync(join(tmpdir(), 'edgepack-stats-'));
  try {
    const input = records.map((r) => JSON.stringify(r)).join('\n') + '\n';
    const done = spawnSync(PYTHON, ['-m', 'edgepack.runtime', pkgDir, '--stats', work, '--quiet'], { input, encoding: 'utf8' });
    assert.equal(done.status, 3, done.stderr); // the one bad record rejected, the others scored
    const [file] = readdirSync(work).filter((f) => f.endsWith('.stats.json'));
    const python = JSON.parse(readFileSync(join(work, file), 'utf8'));
    for (const key of ['format', 'version', 'package', 'records', 'scored', 'rejected', 'rejected_by_field', 'features']) {
      assert.deepEqual(ours[key], python[key], key);
    }
    assert.deepEqual(ours.outputs.labels, python.outputs.labels);
    assert.equal(ours.records, records.length);
    assert.equal(ours.rejected, 1);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
