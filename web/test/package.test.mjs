// The package as untrusted input: the committed JSON Schema (read by Python too) accepts what
// `edgepack build` writes; unknown format versions, altered bytes, missing files and path escapes are refused.

import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { after, before, describe, test } from 'node:test';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { Package, PackageError, UsageError, loadPackage } from '../src/index.js';
import { ROOT, fixtures, tampered } from './helpers.js';

let clf;
let reg;
const scratch = join(tmpdir(), `edgepack-web-package-test-${process.pid}`);

after(() => rmSync(scratch, { recursive: true, force: true }));

before(async () => {
  const { expected } = await fixtures();
  clf = expected.clf.package;
  reg = expected.reg.package;
});

function copyWithManifest(source, edit) {
  const target = join(scratch, `m${Math.random().toString(16).slice(2)}`);
  cpSync(source, target, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(target, 'manifest.json'), 'utf8'));
  edit(manifest);
  writeFileSync(join(target, 'manifest.json'), JSON.stringify(manifest));
  return target;
}

describe('the manifest JSON Schema (runtime/manifest.schema.json)', () => {
  const schema = JSON.parse(readFileSync(join(ROOT, 'runtime', 'manifest.schema.json'), 'utf8'));
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats(ajv);
  const validate = ajv.compile(schema);

  test('accepts the manifests edgepack build wrote (ONNX and TF.js artifacts)', () => {
    for (const dir of [clf, reg]) {
      const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
      assert.ok(validate(manifest), JSON.stringify(validate.errors));
    }
  });

  test('refuses what the library refuses: another format_version, an artifact without sha256', () => {
    const manifest = JSON.parse(readFileSync(join(clf, 'manifest.json'), 'utf8'));
    assert.equal(validate({ ...manifest, format_version: 2 }), false);
    const broken = structuredClone(manifest);
    delete broken.artifacts[0].sha256;
    assert.equal(validate(broken), false);
    assert.equal(validate({ ...manifest, model: { ...manifest.model, created: 'yesterday' } }), false);
  });
});

describe('loading refuses a package it cannot trust', () => {
  test('an unknown format_version', async () => {
    const dir = copyWithManifest(clf, (m) => { m.format_version = 3; });
    await assert.rejects(loadPackage(dir), (err) => err instanceof PackageError && /unknown package format version 3 \(an integer\); this runtime reads versions 1, 2/.test(err.what) && err.exitCode === 4);
  });

  test('not an edgepack manifest', async () => {
    const dir = copyWithManifest(clf, (m) => { m.format = 'other'; });
    await assert.rejects(loadPackage(dir), /not an edgepack manifest/);
  });

  test('a flipped byte in the ONNX artifact', async () => {
    const dir = tampered(clf, join(scratch, 'flip-onnx'), 'model.onnx');
    await assert.rejects(loadPackage(dir, { backend: 'ort-wasm' }), (err) => {
      assert.ok(err instanceof PackageError);
      assert.match(err.what, /artifact 'model.onnx' failed its checksum/);
      assert.match(err.fix, /altered or damaged/);
      return true;
    });
  });

  test('a flipped byte in a TF.js weight shard (every file of the artifact is checked)', async () => {
    const dir = tampered(clf, join(scratch, 'flip-shard'), 'tfjs/tfjs/group1-shard1of1.bin');
    await assert.rejects(loadPackage(dir, { backend: 'tfjs-cpu' }), /group1-shard1of1.bin' failed its checksum/);
    // The ONNX artifact of the same package is intact and still loads: only used files are checked.
    const scorer = await loadPackage(dir, { backend: 'ort-wasm' });
    await scorer.dispose();
  });

  test('a file of another size, a missing file, an unknown artifact', async () => {
    const short = copyWithManifest(clf, (m) => { m.artifacts[0].size += 1; });
    await assert.rejects(loadPackage(short), /failed its checksum/);
    const missing = join(scratch, 'missing');
    cpSync(clf, missing, { recursive: true });
    rmSync(join(missing, 'model.onnx'));
    await assert.rejects(loadPackage(missing), /missing file 'model.onnx'/);
    await assert.rejects(loadPackage(clf, { artifact: 'nope' }), (err) => err instanceof PackageError && /choose one of: onnx, tfjs/.test(err.fix));
  });

  test("artifact paths with '..' or absolute paths are refused before any read", async () => {
    for (const file of ['../outside.onnx', '/etc/passwd', 'a/../../b', 'C:\\model.onnx']) {
      const dir = copyWithManifest(clf, (m) => { m.artifacts[0].file = file; });
      await assert.rejects(Package.open(dir), (err) => err instanceof PackageError && /unsafe path/.test(err.what), file);
    }
  });

  test('a backend that does not run the artifact is a usage error', async () => {
    await assert.rejects(loadPackage(clf, { artifact: 'onnx', backend: 'tfjs-cpu' }), (err) => err instanceof UsageError && err.exitCode === 2);
    await assert.rejects(loadPackage(clf, { backend: 'tfjs-webgl' }), /not available here: WebGL needs a browser/);
    await assert.rejects(loadPackage(reg, { backend: 'tfjs-wasm' }), /no tfjs artifact/);
  });
});

describe('a .edgepack file (the zipped package)', () => {
  let zips;
  before(async () => { zips = join((await fixtures()).dir, 'zips'); });

  test('scores like the directory, from a path or from the bytes of a dropped file', async () => {
    const fromPath = await loadPackage(join(zips, 'clf.edgepack'));
    assert.ok((await fromPath.selftest()).passed);
    const fromBytes = await loadPackage(new Blob([readFileSync(join(zips, 'clf.edgepack'))]), { backend: 'tfjs-cpu' });
    assert.equal(fromBytes.describe().artifact, 'tfjs');
    await fromPath.dispose();
    await fromBytes.dispose();
  });

  test("an entry named '../evil.txt' and a zip-bomb ratio are refused as runtime/package.py refuses them", async () => {
    await assert.rejects(loadPackage(join(zips, 'evil.edgepack')), (err) => err instanceof PackageError && /unsafe path "..\/evil.txt": '..' is refused/.test(err.what));
    await assert.rejects(loadPackage(join(zips, 'bomb.edgepack')), /entry 'big.bin' has a compression ratio typical of a zip bomb/);
    await assert.rejects(loadPackage(new Uint8Array(100)), /not a readable .edgepack file/);
  });
});

describe('loading from memory (files of a dropped folder)', () => {
  test('a Map of relative paths to bytes scores like the directory', async () => {
    const files = new Map();
    for (const name of ['manifest.json', 'model.onnx', 'golden.json']) files.set(name, new Uint8Array(readFileSync(join(reg, name))));
    const scorer = await loadPackage(files);
    const result = await scorer.selftest();
    assert.ok(result.passed, JSON.stringify(result));
    await scorer.dispose();
  });
});
