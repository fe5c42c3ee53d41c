// The package as hostile input in web/, with the checks of the Python runtime (issue 15): malformed
// manifests refused with a reason naming the field, ONNX external data refused before onnxruntime-web
// sees the model, and a .edgepack with two entries of one name refused.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { PackageError, checkManifest, checkSelfContained, loadPackage, Package } from '../src/index.js';
import { MANIFEST_SCHEMA } from '../src/manifest-schema.js';
import { PYTHON, ROOT, WEB, fixtures } from './helpers.js';

let clf;
const scratch = join(tmpdir(), `edgepack-web-trust-test-${process.pid}`);
after(() => rmSync(scratch, { recursive: true, force: true }));
before(async () => { ({ clf } = (await fixtures()).expected); clf = clf.package; });

function copy(edit = () => {}) {
  const target = join(scratch, `p${Math.random().toString(16).slice(2)}`);
  cpSync(clf, target, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(target, 'manifest.json'), 'utf8'));
  edit(manifest, target);
  writeFileSync(join(target, 'manifest.json'), JSON.stringify(manifest));
  return target;
}

const refused = (pattern) => (err) => {
  assert.ok(err instanceof PackageError, String(err));
  assert.equal(err.exitCode, 4);
  assert.match(err.what, pattern);
  assert.ok(!err.what.includes('\n'), err.what);
  return true;
};

describe('the manifest rules are the Python runtime\'s', () => {
  test('src/manifest-schema.js is runtime/manifest.schema.json', () => {
    assert.deepEqual(MANIFEST_SCHEMA, JSON.parse(readFileSync(join(ROOT, 'runtime', 'manifest.schema.json'), 'utf8')));
  });

  const cases = [
    ['artifacts: [5]', (m) => { m.artifacts = [5]; }, /artifacts\[0\]: expected an object, got a list|artifacts\[0\]: expected an object, got 5 \(an integer\)/],
    ['file: 5', (m) => { m.artifacts[0].file = 5; }, /artifacts\[0\]\.file: expected a string, got 5 \(an integer\)/],
    ['size: "big"', (m) => { m.artifacts[0].size = 'big'; }, /artifacts\[0\]\.size: expected an integer, got "big" \(a string\)/],
    ['inputs: {}', (m) => { m.inputs = {}; }, /inputs: lacks 'features'/],
    ['no inputs', (m) => { delete m.artifacts[0].inputs; }, /artifacts\[0\]: lacks 'inputs'/],
    ['no input tensors', (m) => { m.artifacts[0].inputs = []; }, /needs at least one input tensor/],
    ['format_version: true', (m) => { m.format_version = true; }, /unknown package format version true \(a boolean\)/],
    ['format_version: "1"', (m) => { m.format_version = '1'; }, /unknown package format version "1" \(a string\)/],
    ['a file list entry naming a number', (m) => { m.artifacts[0].files = [{ file: 5, sha256: m.artifacts[0].sha256, size: 1 }]; }, /artifacts\[0\]\.files\[0\]\.file: expected a string, got 5 \(an integer\)/],
    ['golden outside', (m) => { m.golden.file = '../../etc/passwd'; }, /'\.\.' is refused/],
    ['a long unknown name, cut short', (m) => { m.artifacts[0].inputs[0].features = ['a'.repeat(100000)]; }, /"a{50,60}\.\.\. is not an input feature/],
  ];
  for (const [name, edit, pattern] of cases) {
    test(`${name}: PackageError naming the field, exit 4`, async () => {
      await assert.rejects(loadPackage(copy(edit), { backend: 'ort-wasm' }), refused(pattern));
    });
  }

  test('checkManifest alone, and 100,000-deep nesting in an unknown field', () => {
    const manifest = JSON.parse(readFileSync(join(clf, 'manifest.json'), 'utf8'));
    checkManifest(manifest, 'x');
    const deep = JSON.parse(`${'['.repeat(100000)}${']'.repeat(100000)}`);
    checkManifest({ ...manifest, extra: deep }, 'x');
    assert.throws(() => checkManifest({ ...manifest, artifacts: [5] }, 'x'), refused(/artifacts\[0\]/));
  });

  test('a manifest over the size limit is refused before it is parsed', async () => {
    await assert.rejects(Package.open(clf, { maxManifestBytes: 100 }), refused(/larger than the limit of 100 bytes/));
  });

  test('score.mjs says it in one line and exits 4', () => {
    const dir = copy((m) => { m.artifacts[0].size = 'big'; });
    const proc = spawnSync(process.execPath, [join(WEB, 'bin', 'score.mjs'), dir], { input: '{}\n', encoding: 'utf8' });
    assert.equal(proc.status, 4, proc.stderr);
    assert.match(proc.stderr.split('\n')[0], /size: expected an integer/);
    assert.doesNotMatch(proc.stderr, /at .*\.js:\d+/); // no stack trace
  });
});

// ModelProto { graph (7) { initializer (5) { TensorProto ... } } }, hand-encoded
const message = (field, body) => Uint8Array.from([(field << 3) | 2, body.length, ...body]);
const model = (tensor) => message(7, message(5, tensor));

describe('ONNX external data is refused', () => {
  test('data_location EXTERNAL, external_data entries, damaged protobuf', () => {
    assert.throws(() => checkSelfContained(model([0x70, 0x01]), 'm'), refused(/data_location EXTERNAL/));
    const entry = [...message(1, [...Buffer.from('location')]), ...message(2, [...Buffer.from('secret.txt')])];
    assert.throws(() => checkSelfContained(model([...message(13, entry)]), 'm'), refused(/external data \('location  secret\.txt'\)/));
    assert.throws(() => checkSelfContained(Uint8Array.from([0x3a, 0xff, 0xff, 0xff, 0x0f]), 'm'), refused(/not a well-formed/));
    checkSelfContained(model([0x70, 0x00]), 'm'); // DEFAULT location: fine
  });

  test('a package whose artifact declares external data fails to load', async () => {
    const bytes = model([0x08, 0x01, 0x70, 0x01]);
    const dir = copy((m, target) => {
      writeFileSync(join(target, 'model.onnx'), bytes);
      Object.assign(m.artifacts.find((a) => a.file === 'model.onnx'), { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length });
    });
    await assert.rejects(loadPackage(dir, { backend: 'ort-wasm' }), refused(/external file/));
  });

  test('the built artifacts pass the check', () => {
    checkSelfContained(new Uint8Array(readFileSync(join(clf, 'model.onnx'))), 'clf');
  });
});

describe('a .edgepack with two entries of one name', () => {
  test('is refused, in web/ as in Python', async () => {
    const out = join(scratch, 'twice.edgepack');
    execFileSync(PYTHON, ['-c', `
import sys, zipfile, pathlib, warnings
warnings.simplefilter("ignore")
src, out = pathlib.Path(sys.argv[1]), sys.argv[2]
with zipfile.ZipFile(out, "w") as zf:
    for p in sorted(src.rglob("*")):
        if p.is_file():
            zf.write(p, p.relative_to(src).as_posix())
    zf.writestr("model.onnx", b"a second model.onnx")
`, clf, out]);
    await assert.rejects(loadPackage(out, { backend: 'ort-wasm' }), refused(/two entries named 'model\.onnx'/));
  });
});

// A seeded mutator (tests/hostile/test_manifest_fuzz.py's, in JavaScript): one field of a built manifest
// changed in type, size or nesting, or deleted, or one added; checkManifest either accepts it or throws a
// one-line PackageError, never a TypeError.
function mulberry32(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function nested(depth) {
  let value = 0;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

const VALUES = [null, true, false, 0, -1, 1, 0.5, -1e308, 2 ** 70, '', 'x', '1', '../../etc/passwd', '/etc/passwd',
  'model.onnx', 'a'.repeat(100000), [], [5], ['x'], [null], [{}], {}, { a: 1 }, { name: 5 }, nested(60), nested(100000)];

function slots(value, path = []) {
  const out = path.length ? [path] : [];
  if (Array.isArray(value)) value.slice(0, 6).forEach((item, i) => out.push(...slots(item, [...path, i])));
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) out.push(...slots(v, [...path, k]));
  return out;
}

describe('manifest fuzzing', () => {
  test('240 mutated manifests: accepted, or refused with a one-line PackageError', () => {
    const original = JSON.parse(readFileSync(join(clf, 'manifest.json'), 'utf8'));
    const counts = { accepted: 0, refused: 0 };
    for (let seed = 0; seed < 240; seed++) {
      const random = mulberry32(seed);
      const pick = (items) => items[Math.floor(random() * items.length)];
      const m = structuredClone(original);
      const path = pick(slots(m));
      let parent = m;
      for (const key of path.slice(0, -1)) parent = parent[key];
      const key = path.at(-1);
      const op = pick(['replace', 'replace', 'replace', 'delete', 'add']);
      if (op === 'delete' && Array.isArray(parent)) parent.splice(key, 1);
      else if (op === 'delete') delete parent[key];
      else if (op === 'add' && !Array.isArray(parent)) parent[`unknown_${seed}`] = pick(VALUES);
      else parent[key] = pick(VALUES);
      try {
        checkManifest(m, 'fuzz');
        counts.accepted += 1;
      } catch (err) {
        assert.ok(err instanceof PackageError, `seed ${seed} (${op} ${path.join('.')}): ${err.stack}`);
        assert.ok(!err.what.includes('\n') && err.what.length < 600, `seed ${seed}: ${err.what}`);
        counts.refused += 1;
      }
    }
    assert.ok(counts.refused > 80 && counts.accepted > 10, JSON.stringify(counts));
  });
});
