// Tensor packages (format version 2) in Node: the digits CNN (Keras, NHWC, grey pictures) through
// onnxruntime-web and TF.js, and an ONNX CNN (NCHW, BGR pictures with mean/std, named classes, a second plain
// tensor output) through onnxruntime-web. Expected values come from the source models (Keras; the ONNX file
// in onnxruntime) and from Pillow's preparation of the same pictures (fixtures/make_tensor_fixtures.py).

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { PackageError, RecordError, loadPackage, resizeBilinear, transpose } from '../src/index.js';
import { tensorPredictionLine } from '../node/tensor-lines.js';
import { WEB, maxAbsDiff, tampered, tensorFixtures } from './helpers.js';

let fx;
const scratch = join(tmpdir(), `edgepack-web-tensors-${process.pid}`);

before(async () => {
  fx = await tensorFixtures();
  rmSync(scratch, { recursive: true, force: true });
});

const argmax = (row) => row.indexOf(Math.max(...row));
const rowsOf = ({ data, dims }) => Array.from({ length: dims[0] }, (_, i) => Array.from(data.subarray(i * (data.length / dims[0]), (i + 1) * (data.length / dims[0])), Number));
/** The source model's top-k classes for a row of probabilities (highest first, first class on ties). */
const topClasses = (row, classes, k) => [...row.keys()].sort((a, b) => row[b] - row[a] || a - b).slice(0, k).map((j) => classes[j]);

describe('the digits CNN (Keras -> ONNX and TF.js)', () => {
  for (const backend of ['ort-wasm', 'tfjs-wasm', 'tfjs-cpu']) {
    test(`${backend}: outputs and top-k equal the Keras model's`, async () => {
      const { package: dir, records, source } = fx.expected.digits;
      const scorer = await loadPackage(dir, { backend });
      assert.equal(scorer.tensor, true);
      assert.equal(scorer.describe().backend, backend);
      const raw = await scorer.raw(records.map((image) => ({ image })));
      const got = rowsOf(raw.probabilities);
      assert.ok(maxAbsDiff(got, source.probabilities) <= 1e-4, `max error ${maxAbsDiff(got, source.probabilities)}`);
      const { kept, predictions, rejections } = await scorer.score(records.map((image) => ({ image })));
      assert.equal(kept.length, records.length);
      assert.deepEqual(rejections, []);
      predictions.forEach((p, i) => {
        const want = source.probabilities[i];
        assert.equal(p.label, argmax(want));
        assert.deepEqual(p.top_k.map((t) => t.class), topClasses(want, scorer.classes, 5));
        p.top_k.forEach((t) => assert.ok(Math.abs(t.probability - want[t.class]) <= 1e-4));
      });
      const check = await scorer.selftest();
      assert.ok(check.passed, JSON.stringify(check));
      assert.equal(check.top1Agreement, 1);
      await scorer.dispose();
    });
  }

  test('typed arrays with a shape score as the nested arrays do', async () => {
    const { package: dir, records } = fx.expected.digits;
    const scorer = await loadPackage(dir, { backend: 'ort-wasm' });
    const nested = await scorer.predict({ image: records });
    const typed = await scorer.predict({ image: { data: Float32Array.from(records.flat(3)), shape: [records.length, 8, 8, 1] } });
    assert.deepEqual(Array.from(typed.probabilities.data), Array.from(nested.probabilities.data));
    const one = await scorer.score([{ image: { data: Float64Array.from(records[2].flat(2)), shape: [8, 8, 1] } }]);
    assert.equal(one.predictions[0].label, (await scorer.score([{ image: records[2] }])).predictions[0].label);
    await assert.rejects(scorer.predict({ image: { data: new Float32Array(10), shape: [1, 8, 8, 1] } }), RecordError);
    await scorer.dispose();
  });

  test('bad records are rejected with the Python scorer\'s reasons, the others scored', async () => {
    const { package: dir, records } = fx.expected.digits;
    const scorer = await loadPackage(dir, { backend: 'ort-wasm' });
    const bad = [
      { image: records[0].slice(0, 7) }, {}, [1, 2], { image: 'an image' }, { image: records[0].map((r) => r.map(() => [null])) },
      { image: [[[1]], [[1, 2]]] }, { image: Array(64).fill(0.5) },
    ];
    const { kept, rejections } = await scorer.score([records[0], ...bad].map((r, i) => (i === 0 ? { image: r } : r)));
    assert.deepEqual(kept, [0]);
    assert.deepEqual(rejections.map((r) => [r.record, r.field, r.reason]), [
      [1, 'image', 'shape [7, 8, 1] where the model takes [8, 8, 1]'],
      [2, 'image', 'missing input(s) image'],
      [3, null, 'expected a JSON object of named tensors'],
      [4, 'image', 'expected a nested array of numbers with shape [8, 8, 1]'],
      [5, 'image', 'NaN or infinity in a tensor input'],
      [6, 'image', 'expected a nested array of numbers with shape [8, 8, 1]'],
      [7, 'image', 'shape [64] where the model takes [8, 8, 1]'],
    ]);
    await scorer.dispose();
  });
});

// digit2.png (13x19 -> 8x8) is a picture Pillow 13 would resize height first by itself: the build resizes
// width first (tensor_io.resize), as src/images.js does.
describe('pictures are prepared as the build prepares them (Pillow)', () => {
  for (const name of ['digits', 'rgb']) {
    test(`${name}: every picture's model input equals Pillow's, and its top-k the Python scorer's`, async () => {
      const { package: dir, pictures } = fx.expected[name];
      const scorer = await loadPackage(dir, { backend: 'ort-wasm' });
      const images = pictures.map((p) => ({ width: p.width, height: p.height, data: Uint8ClampedArray.from(p.rgba) }));
      for (const [i, picture] of pictures.entries()) {
        const tensor = await scorer.pictureTensor(images[i]);
        const want = picture.input.flat(Infinity);
        assert.equal(tensor.data.length, want.length);
        tensor.data.forEach((v, j) => assert.equal(v, Math.fround(want[j]), `${picture.file}: value ${j}`));
      }
      const rows = await scorer.scorePictures(images);
      rows.forEach((row, i) => {
        const python = pictures[i].python[0];
        const source = Object.values(pictures[i].source)[0][0];
        assert.equal(row.label, python.label);
        assert.deepEqual(row.top_k.map((t) => t.class), python.top_k.map((t) => t.class));
        assert.deepEqual(row.top_k.map((t) => t.class), topClasses(source, scorer.classes, row.top_k.length));
        assert.ok(maxAbsDiff(row.top_k.map((t) => t.probability), python.top_k.map((t) => t.probability)) <= 1e-5);
      });
      await scorer.dispose();
    });
  }
});

describe('an NCHW ONNX model with named classes and a plain tensor output', () => {
  test('ort-wasm: probabilities and features equal the ONNX file\'s outputs; rows name the classes', async () => {
    const { package: dir, records, source } = fx.expected.rgb;
    const scorer = await loadPackage(dir, { backend: 'ort-wasm' });
    assert.deepEqual(scorer.classes, ['cat', 'dog', 'bird', 'fish']);
    const raw = await scorer.predict({ x: records });
    assert.ok(maxAbsDiff(rowsOf(raw.probs), source.probs) <= 1e-5);
    assert.ok(maxAbsDiff(rowsOf(raw.features), source.features) <= 1e-5);
    const { predictions } = await scorer.score(records.map((x) => ({ x })));
    predictions.forEach((p, i) => {
      assert.deepEqual(Object.keys(p), ['label', 'top_k', 'features']);
      assert.equal(p.label, scorer.classes[argmax(source.probs[i])]);
      assert.equal(p.top_k.length, 4);
      assert.ok(maxAbsDiff(p.features, source.features[i]) <= 1e-5);
    });
    await scorer.dispose();
  });

  test('TF.js made by onnx2tf (NHWC) from an NCHW ONNX graph: the input is transposed, outputs equal the ONNX file\'s', async () => {
    const { package: dir, records, source } = fx.expected.nchw;
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    const tfjs = manifest.artifacts.find((a) => a.id === 'tfjs');
    assert.equal(manifest.inputs.tensors[0].layout, 'NCHW');
    assert.equal(tfjs.inputs[0].layout, 'NHWC');
    for (const backend of ['tfjs-wasm', 'ort-wasm']) {
      const scorer = await loadPackage(dir, { backend });
      const raw = await scorer.predict({ x: records });
      assert.ok(maxAbsDiff(rowsOf(raw[scorer.outputs[0].name]), source.probabilities) <= 1e-4, backend);
      assert.ok((await scorer.selftest()).passed, backend);
      await scorer.dispose();
    }
  });

  test('Pillow\'s bilinear filter, worked by hand: [0, 255] shrunk to one pixel and stretched to four', () => {
    // shrink: a triangle twice as wide, both weights 1/2: 127.5 rounds up in 22-bit fixed point -> 128;
    // stretch: centres at 0.25, 0.75, 1.25, 1.75 source pixels, edges clamped -> 0, 63.75 -> 64, 191.25 -> 191, 255
    assert.deepEqual(Array.from(resizeBilinear(Uint8Array.from([0, 255]), 2, 1, 1, 1, 1)), [128]);
    assert.deepEqual(Array.from(resizeBilinear(Uint8Array.from([0, 255]), 2, 1, 1, 4, 1)), [0, 64, 191, 255]);
    assert.deepEqual(Array.from(resizeBilinear(Uint8Array.from([0, 255]), 1, 2, 1, 1, 4)), [0, 64, 191, 255]);
  });

  test('transpose moves axes as numpy.transpose does', () => {
    const t = transpose({ data: Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]), dims: [1, 2, 3, 2] }, [0, 3, 1, 2]);
    assert.deepEqual(t.dims, [1, 2, 2, 3]);
    assert.deepEqual(Array.from(t.data), [0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11]); // np.arange(12).reshape(1,2,3,2).transpose(0,3,1,2)
  });
});

describe('a two-input sequence model (int32 tokens and numbers)', () => {
  test('ort-wasm: top-k equals the Keras model\'s; a fractional token is refused as the Python scorer refuses it', async () => {
    const { package: dir, records, source } = fx.expected.sequence;
    const scorer = await loadPackage(dir, { backend: 'ort-wasm' });
    assert.deepEqual(scorer.inputs.map((s) => [s.name, s.dtype]), [['tokens', 'int32'], ['extra', 'float32']]);
    const raw = await scorer.raw(records);
    assert.ok(maxAbsDiff(rowsOf(raw.probabilities), source.probabilities) <= 1e-5);
    const bad = { tokens: [1.5, ...records[0].tokens.slice(1)], extra: records[0].extra };
    const { kept, predictions, rejections } = await scorer.score([...records, bad, { tokens: records[0].tokens }]);
    assert.deepEqual(kept, records.map((_, i) => i));
    predictions.forEach((p, i) => assert.deepEqual(p.top_k.map((t) => t.class), topClasses(source.probabilities[i], scorer.classes, 4)));
    assert.deepEqual(rejections.map((r) => [r.field, r.reason]), [['tokens', 'expected integers (int32)'], ['extra', 'missing input(s) extra']]);
    await scorer.dispose();
  });
});

describe('score.mjs on a tensor package', () => {
  test('the lines of edgepack-score: errors byte for byte, predictions the same apart from the runtimes\' last bits', () => {
    const { package: dir } = fx.expected.digits;
    const errors = join(tmpdir(), `edgepack-web-tensor-errors-${process.pid}.jsonl`);
    const run = spawnSync(process.execPath, [join(WEB, 'bin', 'score.mjs'), dir, '--backend', 'ort-wasm', '--id-field', 'id', '--errors', errors, '--quiet'],
      { input: readFileSync(join(fx.dir, 'lines.jsonl')), encoding: 'utf8' });
    assert.equal(run.status, fx.expected.lines.exit, run.stderr);
    assert.equal(readFileSync(errors, 'utf8'), readFileSync(join(fx.dir, 'python-errors.jsonl'), 'utf8'));
    const python = readFileSync(join(fx.dir, 'python-stdout.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const node = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(node.length, python.length);
    node.forEach((row, i) => {
      assert.deepEqual(Object.keys(row), Object.keys(python[i]));
      assert.equal(row.id, python[i].id);
      assert.deepEqual(row.top_k.map((t) => t.class), python[i].top_k.map((t) => t.class));
      assert.ok(maxAbsDiff(row.top_k.map((t) => t.probability), python[i].top_k.map((t) => t.probability)) <= 1e-6);
    });
    rmSync(errors, { force: true });
  });

  test('the line writer gives Python\'s own rows byte for byte', () => {
    const text = readFileSync(join(fx.dir, 'python-stdout.jsonl'), 'utf8');
    const lines = text.trim().split('\n').map((l) => {
      const { id, ...row } = JSON.parse(l);
      return tensorPredictionLine(row, id);
    });
    assert.equal(lines.join(''), text);
    assert.equal(tensorPredictionLine({ label: 'café', top_k: [{ class: 'café', score: 1e-5 }], f: [[1, -0, 2.5e16]] }),
      '{"label": "caf\\u00e9", "top_k": [{"class": "caf\\u00e9", "score": 1e-05}], "f": [[1.0, -0.0, 2.5e+16]]}\n');
  });

  test('selftest prints edgepack-score selftest\'s table and PASS', () => {
    const out = execFileSync(process.execPath, [join(WEB, 'bin', 'score.mjs'), 'selftest', fx.expected.digits.package, '--backend', 'tfjs-wasm'], { encoding: 'utf8' });
    assert.match(out, /^selftest digits 1\.0, artifact tfjs\ncheck +measured +tolerance\n[- ]+\nrows +16 *\ntop-1 agreement +1 +>= 1\.0\nmax abs error .+<= 0\.0001\nmin cosine similarity .+>= 0\.9999\nPASS\n$/);
  });
});

describe('a broken tensor package is caught', () => {
  test('a flipped byte in the ONNX file or a TF.js weight shard is refused (checksum)', async () => {
    const { package: dir } = fx.expected.digits;
    const onnx = tampered(dir, join(scratch, 'onnx'), 'model.onnx');
    await assert.rejects(loadPackage(onnx, { backend: 'ort-wasm' }), (err) => err instanceof PackageError && /artifact 'model\.onnx' failed its checksum/.test(err.what));
    const shard = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')).artifacts.find((a) => a.id === 'tfjs').files.find((f) => f.file.endsWith('.bin')).file;
    const tfjs = tampered(dir, join(scratch, 'tfjs'), shard);
    await assert.rejects(loadPackage(tfjs, { backend: 'tfjs-wasm' }), (err) => err instanceof PackageError && /failed its checksum/.test(err.what) && err.exitCode === 4);
  });

  test('a changed weight with a re-computed sha256 loads, and its selftest and outputs disagree with the source', async () => {
    const { package: dir, records, source } = fx.expected.digits;
    const copy = join(scratch, 'weight');
    cpSync(dir, copy, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(copy, 'manifest.json'), 'utf8'));
    const entry = manifest.artifacts.find((a) => a.id === 'tfjs');
    const part = entry.files.find((f) => f.file.endsWith('.bin'));
    const bytes = readFileSync(join(copy, part.file));
    const weights = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
    for (let i = weights.length - 1300; i < weights.length; i++) weights[i] *= 1.5; // the last layers' weights
    writeFileSync(join(copy, part.file), bytes);
    part.sha256 = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(join(copy, 'manifest.json'), JSON.stringify(manifest));
    const scorer = await loadPackage(copy, { backend: 'tfjs-wasm' });
    const check = await scorer.selftest();
    assert.equal(check.passed, false);
    const raw = await scorer.raw(records.map((image) => ({ image })));
    assert.ok(maxAbsDiff(rowsOf(raw.probabilities), source.probabilities) > 1e-3);
    await scorer.dispose();
  });

  test('a manifest whose artifact does not bind every input is refused', async () => {
    const copy = join(scratch, 'binding');
    cpSync(fx.expected.digits.package, copy, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(copy, 'manifest.json'), 'utf8'));
    manifest.artifacts[0].inputs[0].input = 'picture';
    writeFileSync(join(copy, 'manifest.json'), JSON.stringify(manifest));
    await assert.rejects(loadPackage(copy), /artifacts\[0\]\.inputs: must bind every package input exactly once/);
  });
});
