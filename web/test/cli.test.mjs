// web/bin/score.mjs (contract 5): JSON lines in, one line per record out, the Python scorer's exit codes.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { before, describe, test } from 'node:test';
import { WEB, fixtures, maxAbsDiff, tampered } from './helpers.js';

const CLI = join(WEB, 'bin', 'score.mjs');
let expected;
before(async () => { ({ expected } = await fixtures()); });

function score(args, input) {
  const proc = spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'utf8', timeout: 120000 });
  const lines = proc.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  return { code: proc.status, lines, stderr: proc.stderr };
}

const jsonl = (records) => records.map((r) => JSON.stringify(r)).join('\n') + '\n';

describe('score.mjs', () => {
  test('--help shows an example and the exit codes', () => {
    const proc = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
    assert.equal(proc.status, 0);
    assert.match(proc.stdout, /example:\n {2}node web\/bin\/score.mjs/);
    assert.match(proc.stdout, /exit codes: 0/);
  });

  for (const [key, backend, reference] of [['clf', 'ort-wasm', 'onnxruntime'], ['reg', 'ort-wasm', 'onnxruntime'], ['clf', 'tfjs-cpu', 'keras'], ['clf', 'tfjs-wasm', 'keras']]) {
    test(`${key} with ${backend}: every record scored, equal to ${reference} (exit 0)`, () => {
      const { records } = expected[key];
      const ref = expected[key][reference];
      const { code, lines, stderr } = score([expected[key].package, '--backend', backend], jsonl(records));
      assert.equal(code, 0, stderr);
      assert.equal(lines.length, records.length);
      assert.equal(lines[0].package, key === 'clf' ? 'logreg_binary' : 'random_forest_reg');
      assert.equal(lines[0].version, '1.2');
      const tolerance = reference === 'keras' ? 1e-5 : 1e-6;
      if (key === 'clf') {
        const probs = lines.map((l) => [l.probabilities['0'], l.probabilities['1']]);
        assert.ok(maxAbsDiff(probs, ref.probabilities) <= tolerance);
        lines.forEach((l, i) => assert.equal(l.label, probs[i][1] > probs[i][0] ? 1 : 0));
      } else {
        assert.ok(maxAbsDiff(lines.map((l) => l.value), ref.value) <= tolerance);
      }
    });
  }

  test('rejected records: one line each on stderr with line, field and reason, as edgepack-score (exit 3)', () => {
    const [a, b] = expected.clf.records;
    const input = `${JSON.stringify(a)}\n\nnot json\n${JSON.stringify({ ...b, support_calls: 1.5 })}\n`
      // NaN, as Python's json writes a missing value: accepted where the feature is nullable.
      + `${JSON.stringify({ ...a, monthly_charges: 0 }).replace('"monthly_charges":0', '"monthly_charges":NaN')}\n`
      + `${JSON.stringify(b)}\n`;
    const { code, lines, stderr } = score([expected.clf.package], input);
    assert.equal(code, 3);
    assert.equal(lines.length, 3);
    lines.forEach((l) => assert.ok('label' in l, JSON.stringify(l)));
    const errors = stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    assert.equal(errors.length, 2);
    assert.equal(errors[0].line, 3);
    assert.equal(errors[0].reason, 'not a JSON object: Expecting value: line 1 column 1 (char 0)'); // Python's words
    assert.deepEqual(errors[1], { line: 4, field: 'support_calls', reason: 'expected an integer, got 1.5' });
    assert.match(stderr, /^score\.mjs: 3 scored, 2 rejected$/m);
  });

  test('--id-field copies the id into each line and is not a model input', () => {
    const records = expected.clf.records.slice(0, 2).map((r, i) => ({ ...r, key: `k${i}` }));
    const { code, lines } = score([expected.clf.package, '--id-field', 'key'], jsonl(records));
    assert.equal(code, 0);
    assert.deepEqual(lines.map((l) => l.id), ['k0', 'k1']);
  });

  test('an altered package is refused (exit 4), usage errors exit 2', () => {
    const bad = tampered(expected.clf.package, join(tmpdir(), `edgepack-web-cli-${process.pid}`), 'model.onnx');
    const refused = score([bad], jsonl(expected.clf.records.slice(0, 1)));
    assert.equal(refused.code, 4);
    assert.match(refused.stderr, /failed its checksum/);
    assert.doesNotMatch(refused.stderr, /at .*\.js:\d+/);
    assert.equal(score([], '').code, 2);
    assert.equal(score([expected.clf.package, '--backend', 'nope'], '').code, 2);
    assert.equal(score([expected.clf.package, '--bogus'], '').code, 2);
  });
});
