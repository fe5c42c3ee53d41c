// The demo page in headless Chromium (Debian's chromium, driven by playwright-core): the form's
// prediction equals the Python scorer's (edgepack.runtime.Scorer) for the same record, a dropped CSV is
// scored in the page and downloaded, TF.js backends run in the browser, and an altered package is
// refused with a visible error. Screenshots go to test-artifacts/web/.

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { launch } from '../node/chromium.js';
import { parseCsv } from '../src/csv.js';
import { ARTIFACTS, fixtures, maxAbsDiff, serve, tampered } from './helpers.js';

let fx;
let browser;
const servers = [];

before(async () => {
  fx = await fixtures();
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await Promise.all(servers.map((s) => s.stop()));
});

async function servePackage(dir) {
  const server = await serve(dir);
  servers.push(server);
  return server.url;
}

async function openPage(url) {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 }, acceptDownloads: true });
  const problems = [];
  const requests = [];
  page.on('pageerror', (err) => problems.push(err.message));
  page.on('request', (request) => requests.push(request.url()));
  await page.goto(url);
  await page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset.state), null, { timeout: 60000 });
  return { page, problems, requests };
}

async function fillForm(page, record, schema) {
  for (const feature of schema.features) {
    const selector = `#f-${feature.name}`;
    const value = record[feature.name];
    if (feature.type === 'category' || feature.type === 'bool') await page.selectOption(selector, value === null ? '' : String(value));
    else await page.fill(selector, value === null ? '' : String(value));
  }
  await page.evaluate(() => window.edgepack.settled());
}

describe('the demo page (ONNX through onnxruntime-web)', () => {
  let url;
  let schema;
  before(async () => {
    url = await servePackage(fx.expected.clf.package);
    schema = JSON.parse(readFileSync(join(fx.expected.clf.package, 'manifest.json'), 'utf8')).inputs;
  });

  test('a record entered in the form gets the Python scorer\'s prediction', async () => {
    const { page, problems, requests } = await openPage(url);
    assert.equal(await page.evaluate(() => document.body.dataset.state), 'ready');
    // No CDN: every script, .wasm and package file came from edgepack serve itself.
    const origin = new URL(url).origin;
    assert.deepEqual(requests.filter((r) => !r.startsWith(origin) && !r.startsWith('data:') && !r.startsWith('blob:')), []);
    assert.ok(requests.some((r) => r.endsWith('.wasm')), requests.join('\n'));
    assert.match(await page.textContent('#artifact'), /^onnx \(onnx, float32\)/);
    assert.match(await page.textContent('#backend'), /ort-wasm · onnxruntime-web 1\.30\.0/);
    assert.match(await page.textContent('#package-version'), /version 1\.2/);
    assert.match(await page.textContent('#selftest'), /^pass · 128 golden rows/);
    const { record, python } = fx.expected.form;
    await fillForm(page, record, schema);
    assert.equal(await page.textContent('#prediction-value'), String(python.label));
    const bars = await page.$$eval('.bar', (els) => els.map((e) => ({ cls: e.dataset.class, p: Number(e.dataset.probability), pct: e.querySelector('.pct').textContent })));
    assert.deepEqual(bars.map((b) => b.cls), Object.keys(python.probabilities));
    for (const bar of bars) {
      const want = python.probabilities[bar.cls];
      assert.ok(Math.abs(bar.p - want) <= 1e-6, `${bar.cls}: ${bar.p} vs ${want}`);
      assert.equal(bar.pct, `${(100 * want).toFixed(2)} %`);
    }
    // Range inputs carry the sample's observed range.
    assert.equal(await page.getAttribute('#f-tenure_months', 'max'), String(schema.features[0].max));
    await page.screenshot({ path: join(ARTIFACTS, 'form.png'), fullPage: true });
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('a bad value is named under its field with the Python scorer\'s message', async () => {
    const { page } = await openPage(url);
    await page.fill('#f-tenure_months', '2.5');
    await page.evaluate(() => window.edgepack.settled());
    assert.equal(await page.textContent('.field[data-feature="tenure_months"] .problem'), 'expected an integer, got 2.5');
    assert.ok(await page.isVisible('#record-error'));
    await page.screenshot({ path: join(ARTIFACTS, 'form-invalid.png'), fullPage: true });
    await page.close();
  });

  test('a dropped CSV is scored in the page and downloaded with the results', async () => {
    const { page } = await openPage(url);
    const text = readFileSync(join(fx.dir, 'drop.csv'), 'utf8');
    // A real drop event on the drop zone, carrying the file as a DataTransfer does.
    await page.evaluate((csv) => {
      const data = new DataTransfer();
      data.items.add(new File([csv], 'drop.csv', { type: 'text/csv' }));
      const zone = document.getElementById('dropzone');
      zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: data, bubbles: true, cancelable: true }));
      zone.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
    }, text);
    await page.waitForSelector('#csv-result:not([hidden])');
    const { kept, predictions, rejections } = fx.expected.drop;
    assert.equal(await page.getAttribute('#csv-result', 'data-scored'), String(kept.length));
    assert.equal(await page.getAttribute('#csv-result', 'data-rejected'), String(rejections.length));
    assert.match(await page.textContent('#csv-summary'), /not model inputs, kept in the download: customer_id, churn/);
    await page.screenshot({ path: join(ARTIFACTS, 'csv.png'), fullPage: true });

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv-download')]);
    assert.equal(download.suggestedFilename(), 'drop.scores.csv');
    const [header, ...rows] = parseCsv(readFileSync(await download.path(), 'utf8'));
    assert.deepEqual(header.slice(-4), ['label', 'p_0', 'p_1', 'error']);
    assert.equal(rows.length, kept.length + rejections.length);
    const col = (name) => header.indexOf(name);
    kept.forEach((i, k) => {
      assert.equal(rows[i][col('label')], String(predictions[k].label));
      assert.ok(maxAbsDiff([Number(rows[i][col('p_0')]), Number(rows[i][col('p_1')])],
        [predictions[k].probabilities['0'], predictions[k].probabilities['1']]) <= 1e-6);
      assert.equal(rows[i][col('error')], '');
    });
    for (const r of rejections) assert.equal(rows[r.record][col('error')], `${r.field}: ${r.reason}`);
    assert.equal(rows[0][col('customer_id')], 'C0000');
    await page.close();
  });

  test('TF.js in the page (wasm, webgl, cpu) equals the Keras network', async () => {
    const { records, keras } = fx.expected.clf;
    for (const backend of ['tfjs-wasm', 'tfjs-webgl', 'tfjs-cpu']) {
      const { page, requests } = await openPage(`${url}?backend=${backend}`);
      assert.deepEqual(requests.filter((r) => !r.startsWith(new URL(url).origin)), []);
      const info = await page.evaluate(() => window.edgepack.ready);
      assert.equal(info.backend, backend);
      assert.equal(info.artifact, 'tfjs');
      const raw = await page.evaluate((recs) => window.edgepack.raw(recs), records);
      const error = maxAbsDiff(raw.probabilities, keras.probabilities);
      assert.ok(error <= 1e-5, `${backend}: max error ${error}`);
      if (backend === 'tfjs-webgl') await page.screenshot({ path: join(ARTIFACTS, 'tfjs-webgl.png'), fullPage: true });
      await page.close();
    }
  });
});

describe('the demo page for a package with generated JavaScript (js)', () => {
  test('?backend=js runs model.mjs: the page says js, fetches no WebAssembly, and scores as scikit-learn', async () => {
    const { records, sklearn, package: dir } = fx.expected.gen;
    const { page, problems, requests } = await openPage(`${await servePackage(dir)}?backend=js`);
    assert.equal(await page.evaluate(() => document.body.dataset.state), 'ready');
    assert.match(await page.textContent('#backend'), /^js · generated ES module edgepack /);
    assert.match(await page.textContent('#artifact'), /^js \(js, float64\)/);
    assert.match(await page.textContent('#selftest'), /^pass · /);
    assert.deepEqual(requests.filter((r) => r.endsWith('.wasm') || r.includes('/vendor/')), []);
    assert.ok(requests.some((r) => r.endsWith('/package/model.mjs')), requests.join('\n'));
    const raw = await page.evaluate((recs) => window.edgepack.raw(recs), records);
    assert.ok(maxAbsDiff(raw.probabilities, sklearn.probabilities) <= 1e-12);
    await page.screenshot({ path: join(ARTIFACTS, 'generated-js.png'), fullPage: true });
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('auto on an unsigned package runs the ONNX artifact, never the package\'s code', async () => {
    const url = await servePackage(fx.expected.gen.package);
    const page = await browser.newPage();
    // The page's own policy, as a site might set it: its inline import map and WebAssembly allowed, blob: not.
    const policy = "script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'";
    await page.route((u) => u.pathname === '/', async (route) => {
      const response = await route.fetch();
      await route.fulfill({ response, headers: { ...response.headers(), 'content-security-policy': policy } });
    });
    await page.goto(url);
    const info = await page.evaluate(() => window.edgepack.ready);
    assert.equal(info.backend, 'ort-wasm');
    assert.equal(info.artifact, 'onnx');
    assert.ok(info.selftest.passed);
    await page.close();
  });
});

describe('the demo page for a regressor', () => {
  test('the value shown equals the Python scorer\'s', async () => {
    const dir = fx.expected.reg.package;
    const { page } = await openPage(await servePackage(dir));
    const schema = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')).inputs;
    const { record, python } = fx.expected.reg.form;
    await fillForm(page, record, schema);
    assert.equal(await page.textContent('#prediction-kind'), 'value');
    const shown = Number(await page.getAttribute('#prediction-value', 'data-value'));
    assert.ok(Math.abs(shown - python.value) <= 1e-6 * Math.max(1, Math.abs(python.value)));
    await page.screenshot({ path: join(ARTIFACTS, 'regression.png'), fullPage: true });
    await page.close();
  });
});

describe('an altered package', () => {
  test('a flipped byte in the artifact is refused with a visible error', async () => {
    const dir = tampered(fx.expected.clf.package, join(tmpdir(), `edgepack-web-browser-${process.pid}`), 'model.onnx');
    const { page } = await openPage(await servePackage(dir));
    assert.equal(await page.evaluate(() => document.body.dataset.state), 'error');
    assert.ok(await page.isVisible('#error'));
    assert.match(await page.textContent('#error'), /This package was refused\.[\s\S]*artifact 'model\.onnx' failed its checksum/);
    assert.match(await page.textContent('#error-fix'), /altered or damaged/);
    assert.equal(await page.isVisible('#main'), false);
    await page.screenshot({ path: join(ARTIFACTS, 'tampered.png'), fullPage: true });
    await page.close();
  });
});
