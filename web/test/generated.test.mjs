// The `js` backend: a package built with `--targets onnx,js` loads its generated model.mjs by default
// (no WebAssembly runtime), predicts what scikit-learn predicts, refuses a model.mjs that fails its
// checksum, and falls back to ONNX under `auto` when the module cannot be imported.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { before, describe, test } from 'node:test';
import { PackageError, UsageError, loadPackage, sha256Hex } from '../src/index.js';
import { PYTHON, WEB, fixtures, maxAbsDiff, tampered } from './helpers.js';

let gen;
let clf;
before(async () => {
  const { expected } = await fixtures();
  gen = expected.gen;
  clf = expected.clf;
});

const jsonl = (records) => records.map((r) => JSON.stringify(r)).join('\n') + '\n';

describe('the js backend (generated model.mjs)', () => {
  test('auto runs generated code only for a package verified against trusted keys', async () => {
    assert.equal((await loadPackage(gen.package)).backend, 'ort-wasm');
    const dir = join(tmpdir(), 'edgepack-web-gen-signed');
    rmSync(dir, { recursive: true, force: true });
    cpSync(gen.package, dir, { recursive: true });
    const key = join(tmpdir(), `edgepack-web-gen-key-${process.pid}`);
    rmSync(key, { force: true });
    rmSync(`${key}.pub`, { force: true });
    for (const args of [['keygen', key], ['sign', dir, '--key', key]]) {
      const done = spawnSync(PYTHON, ['-m', 'edgepack.toolchain.cli', ...args], { encoding: 'utf8' });
      assert.equal(done.status, 0, done.stderr);
    }
    const scorer = await loadPackage(dir, { trust: [readFileSync(`${key}.pub`, 'utf8')] });
    assert.equal(scorer.backend, 'js');
    rmSync(dir, { recursive: true, force: true });
  });

  test('backend js runs model.mjs; predictions equal scikit-learn\'s', async () => {
    const scorer = await loadPackage(gen.package, { backend: 'js' });
    assert.equal(scorer.backend, 'js');
    const info = scorer.describe();
    assert.equal(info.artifact, 'js');
    assert.equal(info.format, 'js');
    assert.equal(info.runtime, 'generated ES module');
    const predictions = await scorer.predict(gen.records);
    assert.equal(predictions.length, gen.records.length);
    assert.deepEqual(predictions.map((p) => p.label), gen.sklearn.label);
    const probabilities = predictions.map((p) => scorer.classKeys.map((k) => p.probabilities[k]));
    // float64 all the way, as scikit-learn computes: equal to rounding.
    assert.ok(maxAbsDiff(probabilities, gen.sklearn.probabilities) <= 1e-12, String(maxAbsDiff(probabilities, gen.sklearn.probabilities)));
    const selftest = await scorer.selftest();
    assert.ok(selftest.passed, JSON.stringify(selftest));
    assert.ok(selftest.maxError <= 1e-12);
  });

  test('the records rules are edgepack-web\'s: a bad record is rejected with its field, the rest scored', async () => {
    const scorer = await loadPackage(gen.package, { backend: 'js' });
    const bad = { ...gen.records[0], contract: 7 };
    const { kept, predictions, rejections } = await scorer.score([gen.records[0], bad, gen.records[1]]);
    assert.deepEqual(kept, [0, 2]);
    assert.equal(predictions.length, 2);
    assert.deepEqual(rejections.map((r) => [r.record, r.field]), [[1, 'contract']]);
    assert.match(rejections[0].reason, /expected a category \(string\), got int 7/);
  });

  test('ort-wasm still runs the same package\'s ONNX artifact when asked', async () => {
    const scorer = await loadPackage(gen.package, { backend: 'ort-wasm' });
    assert.equal(scorer.backend, 'ort-wasm');
    assert.equal(scorer.describe().artifact, 'onnx');
  });

  test('backend js on a package without a js artifact is refused with the fix', async () => {
    await assert.rejects(loadPackage(clf.package, { backend: 'js' }), (err) => {
      assert.ok(err instanceof PackageError || err instanceof UsageError, String(err));
      assert.match(err.what, /no js artifact/);
      return true;
    });
  });

  test('a model.mjs changed after the build fails its checksum: refused, no fallback to ONNX', async () => {
    const dir = tampered(gen.package, join(tmpdir(), 'edgepack-web-gen-tampered'), 'model.mjs');
    for (const backend of ['js']) {
      await assert.rejects(loadPackage(dir, { backend }), (err) => {
        assert.ok(err instanceof PackageError, String(err));
        assert.match(err.what, /artifact 'model\.mjs' failed its checksum/);
        assert.equal(err.exitCode, 4);
        return true;
      });
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test('a module that cannot be imported (checksums updated): auto falls back to ONNX, js names the error', async () => {
    const dir = join(tmpdir(), 'edgepack-web-gen-broken');
    rmSync(dir, { recursive: true, force: true });
    cpSync(gen.package, dir, { recursive: true });
    const data = new TextEncoder().encode('export const model = ;\n');
    writeFileSync(join(dir, 'model.mjs'), data);
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    const digest = await sha256Hex(data);
    for (const entry of manifest.artifacts) {
      for (const part of [entry, ...(entry.files ?? [])]) {
        if (part.file === 'model.mjs') Object.assign(part, { sha256: digest, size: data.length });
      }
    }
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
    const scorer = await loadPackage(dir);
    assert.equal(scorer.backend, 'ort-wasm');
    await assert.rejects(loadPackage(dir, { backend: 'js' }), (err) => {
      assert.ok(err instanceof PackageError, String(err));
      assert.match(err.what, /^js cannot load artifact 'js' \(model\.mjs\)/);
      return true;
    });
    rmSync(dir, { recursive: true, force: true });
  });

  test('score.mjs --backend js scores JSON lines like scikit-learn (exit 0)', () => {
    const proc = spawnSync(process.execPath, [join(WEB, 'bin', 'score.mjs'), gen.package, '--backend', 'js'],
      { input: jsonl(gen.records), encoding: 'utf8', timeout: 120000 });
    assert.equal(proc.status, 0, proc.stderr);
    const lines = proc.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.label), gen.sklearn.label);
    assert.ok(maxAbsDiff(lines.map((l) => [l.probabilities['0'], l.probabilities['1']]), gen.sklearn.probabilities) <= 1e-12);
  });
});
