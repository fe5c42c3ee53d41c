// Signed packages in edgepack-web (web/src/signing.js): keys and signatures made by the Python toolchain
// (`edgepack keygen` / `edgepack sign`), checked with Web Crypto Ed25519 in Node, as the device does.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PackageError, loadFromChannel, loadPackage } from '../src/index.js';
import { PYTHON, WEB, fixtures } from './helpers.js';

const CLI = join(WEB, 'bin', 'score.mjs');
let work, signed, trusted, intruder, record;

const edgepack = (...args) => execFileSync(PYTHON, ['-m', 'edgepack.toolchain.cli', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });

before(async () => {
  const { dir } = await fixtures();
  record = JSON.parse(readFileSync(join(dir, 'clf', 'package', 'golden.json'), 'utf8')).records[0];
  work = mkdtempSync(join(tmpdir(), 'edgepack-signing-'));
  signed = join(work, 'package');
  cpSync(join(dir, 'clf', 'package'), signed, { recursive: true });
  edgepack('keygen', join(work, 'release'));
  edgepack('keygen', join(work, 'intruder'));
  edgepack('sign', signed, '--key', join(work, 'release'));
  trusted = readFileSync(join(work, 'release.pub'), 'utf8');
  intruder = readFileSync(join(work, 'intruder.pub'), 'utf8');
});
after(() => rmSync(work, { recursive: true, force: true }));

describe('signatures', () => {
  test('a package signed by a trusted key loads and scores', async () => {
    const scorer = await loadPackage(signed, { trust: [trusted], backend: 'ort-wasm' });
    const [p] = await scorer.predict([record]);
    assert.ok(p.probabilities);
    await scorer.dispose();
  });

  test('a key the package was not signed with is refused', async () => {
    await assert.rejects(loadPackage(signed, { trust: [intruder] }), (err) => err instanceof PackageError && /no signature by a trusted key/.test(err.message));
  });

  test('an unsigned package is refused', async () => {
    const unsigned = join(work, 'unsigned');
    cpSync(signed, unsigned, { recursive: true });
    rmSync(join(unsigned, 'signatures.json'));
    await assert.rejects(loadPackage(unsigned, { trust: [trusted] }), /not signed/);
  });

  test('a manifest changed after signing is refused', async () => {
    const altered = join(work, 'altered');
    cpSync(signed, altered, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(altered, 'manifest.json'), 'utf8'));
    manifest.outputs.classes.reverse();
    writeFileSync(join(altered, 'manifest.json'), JSON.stringify(manifest));
    await assert.rejects(loadPackage(altered, { trust: [trusted] }), /changed after signing/);
  });

  test('a reference profile (drift bins) changed after signing is refused', async () => {
    const altered = join(work, 'altered-profile');
    cpSync(signed, altered, { recursive: true });
    const { file } = JSON.parse(readFileSync(join(altered, 'manifest.json'), 'utf8')).reference_profile;
    writeFileSync(join(altered, file), readFileSync(join(altered, file), 'utf8').replace('"bins": 10', '"bins": 11'));
    await assert.rejects(loadPackage(altered, { trust: [trusted] }), /changed after signing/);
  });

  test('score.mjs --trust: exit 0 for the signed package, 4 with another key', () => {
    const input = JSON.stringify(record) + '\n';
    const ok = spawnSync(process.execPath, [CLI, signed, '--trust', join(work, 'release.pub')], { input, encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    const refused = spawnSync(process.execPath, [CLI, signed, '--trust', join(work, 'intruder.pub')], { input, encoding: 'utf8' });
    assert.equal(refused.status, 4);
    assert.equal(refused.stdout, '');
  });

  test('loadFromChannel: the version a registry channel serves, verified at every step', async () => {
    const registry = join(work, 'registry');
    const manifest = JSON.parse(readFileSync(join(signed, 'manifest.json'), 'utf8'));
    edgepack('publish', signed, registry, '--promote', 'production', '--key', join(work, 'release'));
    const scorer = await loadFromChannel(registry, manifest.model.name, 'production', { trust: [trusted], backend: 'ort-wasm' });
    assert.equal(scorer.package.version, manifest.model.version);
    await scorer.dispose();
    await assert.rejects(loadFromChannel(registry, manifest.model.name, 'production', { trust: [intruder] }), /no signature by a trusted key/);
    await assert.rejects(loadFromChannel(registry, manifest.model.name, 'nosuch', { trust: [trusted] }), /cannot read/);
    const pointerPath = join(registry, 'models', manifest.model.name, 'channels', 'production.json');
    const pointer = JSON.parse(readFileSync(pointerPath, 'utf8'));
    pointer.version = '999';
    writeFileSync(pointerPath, JSON.stringify(pointer));
    await assert.rejects(loadFromChannel(registry, manifest.model.name, 'production', { trust: [trusted] }), /changed after signing/);
  });
});
