// Both backends on real packages built by `edgepack build`: onnxruntime-web against onnxruntime in
// Python (1e-6) and the source model (golden vectors, float32 profile); TF.js cpu and wasm against the
// Keras network the TF.js artifact was converted from.

import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { loadPackage } from '../src/index.js';
import { fixtures, maxAbsDiff } from './helpers.js';

let expected;
before(async () => { ({ expected } = await fixtures()); });

describe('onnxruntime-web (ort-wasm)', () => {
  for (const key of ['clf', 'reg']) {
    test(`${key}: raw outputs equal onnxruntime in Python to 1e-6, self-test passes`, async () => {
      const { package: dir, records, onnxruntime } = expected[key];
      const scorer = await loadPackage(dir);
      assert.equal(scorer.backend, 'ort-wasm');
      const raw = await scorer.raw(records);
      const output = key === 'clf' ? 'probabilities' : 'value';
      assert.equal(raw[output].length, records.length);
      const error = maxAbsDiff(raw[output], onnxruntime[output]);
      assert.ok(error <= 1e-6, `max error ${error}`);
      const selftest = await scorer.selftest();
      assert.ok(selftest.passed, JSON.stringify(selftest));
      assert.equal(selftest.rows, 128);
      await scorer.dispose();
    });
  }

  test('labels are classes[argmax] and agree with the source model on every golden row', async () => {
    const { package: dir } = expected.clf;
    const scorer = await loadPackage(dir);
    const golden = await scorer.package.golden();
    const predictions = await scorer.predict(golden.records);
    assert.deepEqual(predictions.map((p) => p.label), golden.outputs.label);
    predictions.forEach((p, i) => {
      assert.deepEqual(Object.keys(p.probabilities), ['0', '1']);
      assert.ok(Math.abs(p.probabilities['1'] - golden.outputs.probabilities[i][1]) <= 1e-5);
    });
    await scorer.dispose();
  });

  test('predict() throws the first rejection; score() scores the rest', async () => {
    const { package: dir, records } = expected.clf;
    const scorer = await loadPackage(dir);
    const bad = { ...records[0], contract: 7 };
    await assert.rejects(scorer.predict([records[0], bad]), (err) => err.record === 1 && err.field === 'contract'
      && err.reason === 'expected a category (string), got int 7');
    const { kept, predictions, rejections } = await scorer.score([records[0], bad, records[1]]);
    assert.deepEqual(kept, [0, 2]);
    assert.equal(predictions.length, 2);
    assert.deepEqual(rejections, [{ record: 1, field: 'contract', reason: 'expected a category (string), got int 7' }]);
    await scorer.dispose();
  });
});

describe('TF.js graph model', () => {
  for (const backend of ['tfjs-cpu', 'tfjs-wasm']) {
    test(`${backend}: probabilities equal the Keras network's to 1e-5 (index-encoded categories, NaN)`, async () => {
      const { package: dir, records, keras } = expected.clf;
      const scorer = await loadPackage(dir, { backend });
      assert.equal(scorer.describe().artifact, 'tfjs');
      const raw = await scorer.raw(records);
      const error = maxAbsDiff(raw.probabilities, keras.probabilities);
      assert.ok(error <= 1e-5, `max error ${error}`);
      await scorer.dispose();
    });
  }

  test('auto picks ort-wasm for ONNX and tfjs-wasm for a TF.js artifact', async () => {
    const { package: dir } = expected.clf;
    const onnx = await loadPackage(dir);
    const tfjs = await loadPackage(dir, { artifact: 'tfjs' });
    assert.equal(onnx.backend, 'ort-wasm');
    assert.equal(tfjs.backend, 'tfjs-wasm');
    await onnx.dispose();
    await tfjs.dispose();
  });
});
