// The demo page for tensor packages in headless Chromium: a PNG dropped on the picture card, a picture put
// on the canvas and a drawing made with the mouse are scored in the page, and the top-k shown equals the
// Python scorer's for the same picture (Pillow's preparation of it) and the source model's top classes.
// An altered package is refused. Screenshots go to test-artifacts/web/.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { launch } from '../node/chromium.js';
import { loadPackage } from '../src/index.js';
import { ARTIFACTS, WEB, maxAbsDiff, serve, tampered, tensorFixtures } from './helpers.js';

let fx;
let browser;
const servers = [];

before(async () => {
  fx = await tensorFixtures();
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await Promise.all(servers.map((s) => s.stop()));
});

async function openPage(dir, query = '') {
  const server = await serve(dir);
  servers.push(server);
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const problems = [];
  const requests = [];
  page.on('pageerror', (err) => problems.push(err.message));
  page.on('request', (request) => requests.push(request.url()));
  await page.goto(server.url + query);
  await page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset.state), null, { timeout: 60000 });
  return { page, problems, requests, origin: new URL(server.url).origin };
}

/** A real drop of the picture file on the picture card, as a DataTransfer carries it. */
async function dropPicture(page, path) {
  const before = await page.getAttribute('#prediction', 'data-scored');
  await page.evaluate(({ bytes, name }) => {
    const data = new DataTransfer();
    data.items.add(new File([new Uint8Array(bytes)], name, { type: 'image/png' }));
    const zone = document.getElementById('picture-drop');
    zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: data, bubbles: true, cancelable: true }));
    zone.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
  }, { bytes: [...readFileSync(path)], name: path.split('/').pop() });
  await page.waitForFunction((n) => document.getElementById('prediction').dataset.scored !== n, before);
  await page.evaluate(() => window.edgepack.settled());
}

const shown = (page) => page.$$eval('.bar', (els) => els.map((e) => ({ cls: e.dataset.class, p: Number(e.dataset.probability) })));

function assertTopK(bars, python, label) {
  assert.deepEqual(bars.map((b) => b.cls), python.top_k.map((t) => String(t.class)), label);
  assert.ok(maxAbsDiff(bars.map((b) => b.p), python.top_k.map((t) => t.probability)) <= 1e-5, label);
}

const topClass = (row) => row.indexOf(Math.max(...row));

describe('the demo page for the digits CNN', () => {
  test('a dropped PNG (other sizes than 8x8, RGB) shows the Python scorer\'s top-k, the Keras model\'s top class first', async () => {
    const { package: dir, pictures } = fx.expected.digits;
    const { page, problems, requests, origin } = await openPage(dir);
    assert.equal(await page.evaluate(() => document.body.dataset.state), 'ready');
    assert.deepEqual(requests.filter((r) => !r.startsWith(origin) && !r.startsWith('data:') && !r.startsWith('blob:')), []);
    assert.match(await page.textContent('#selftest'), /^pass · 16 golden rows/);
    assert.ok(await page.isVisible('#picture-card'));
    assert.equal(await page.isVisible('#form-card'), false);
    assert.equal(await page.isVisible('#csv-card'), false);
    for (const picture of pictures) {
      await dropPicture(page, picture.file);
      assertTopK(await shown(page), picture.python[0], picture.file);
      assert.equal(await page.textContent('#prediction-value'), String(topClass(picture.source.probabilities[0])));
    }
    await page.screenshot({ path: join(ARTIFACTS, 'tensor-drop.png'), fullPage: true });
    // A file that is not a picture: named under the prediction, the last one greyed out, nothing thrown.
    await page.evaluate(() => {
      const data = new DataTransfer();
      data.items.add(new File([new TextEncoder().encode('not a picture')], 'broken.png', { type: 'image/png' }));
      document.getElementById('picture-drop').dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
    });
    await page.waitForSelector('#record-error:not([hidden])');
    assert.match(await page.textContent('#record-error'), /^cannot read the picture broken\.png: /);
    assert.match(await page.getAttribute('#prediction', 'class'), /stale/);
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('a picture put on the canvas, and one drawn with the mouse, are scored as the same pixels are in Node', async () => {
    const { package: dir, pictures } = fx.expected.digits;
    const { page, problems } = await openPage(dir);
    const picture = pictures[2];
    await page.evaluate((p) => window.edgepack.putPicture({ width: p.width, height: p.height, data: p.rgba }), picture);
    assertTopK(await shown(page), picture.python[0], 'canvas');

    await page.click('#picture-clear');
    const box = await page.locator('#picture').boundingBox();
    const at = (x, y) => [box.x + x * box.width, box.y + y * box.height];
    await page.mouse.move(...at(0.3, 0.2));
    await page.mouse.down();
    for (const [x, y] of [[0.7, 0.2], [0.45, 0.85]]) await page.mouse.move(...at(x, y), { steps: 8 });
    await page.mouse.up();
    await page.evaluate(() => window.edgepack.settled());
    const drawn = await page.evaluate(() => {
      const canvas = document.getElementById('picture');
      const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
      return { width: pixels.width, height: pixels.height, data: [...pixels.data] };
    });
    assert.ok(drawn.data.some((v, i) => i % 4 === 0 && v === 255), 'the stroke is on the canvas');
    const scorer = await loadPackage(dir, { backend: 'ort-wasm' });
    const [node] = await scorer.scorePictures([{ width: drawn.width, height: drawn.height, data: Uint8ClampedArray.from(drawn.data) }]);
    await scorer.dispose();
    assertTopK(await shown(page), node, 'drawing');
    await page.screenshot({ path: join(ARTIFACTS, 'tensor-drawing.png'), fullPage: true });
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('an ImageData, a canvas, an <img> and a File of the same PNG score alike, as the Python scorer does', async () => {
    const { package: dir, pictures } = fx.expected.digits;
    const { page, problems } = await openPage(dir);
    const picture = pictures[3];
    const rows = await page.evaluate(async ({ bytes, width, height }) => {
      const file = new File([new Uint8Array(bytes)], 'digit.png', { type: 'image/png' });
      const img = new Image();
      img.src = URL.createObjectURL(file);
      await img.decode();
      const canvas = Object.assign(document.createElement('canvas'), { width, height });
      canvas.getContext('2d').drawImage(img, 0, 0);
      const imageData = canvas.getContext('2d').getImageData(0, 0, width, height);
      return window.edgepack.scorePictures([imageData, canvas, img, file]);
    }, { bytes: [...readFileSync(picture.file)], width: picture.width, height: picture.height });
    assert.equal(rows.length, 4);
    for (const row of rows) assertTopK(row.top_k.map((t) => ({ cls: String(t.class), p: t.probability })), picture.python[0], 'kind');
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('TF.js (wasm) in the page gives the same top-k for a dropped picture', async () => {
    const { package: dir, pictures } = fx.expected.digits;
    const { page } = await openPage(dir, '?backend=tfjs-wasm');
    const info = await page.evaluate(() => window.edgepack.ready);
    assert.equal(info.backend, 'tfjs-wasm');
    assert.ok(info.selftest.passed);
    await dropPicture(page, pictures[1].file);
    assertTopK(await shown(page), pictures[1].python[0], 'tfjs-wasm');
    await page.close();
  });
});

describe('the demo page for an NCHW ONNX model with BGR pictures and named classes', () => {
  test('dropped pictures show the class names and the Python scorer\'s top-k', async () => {
    const { package: dir, pictures } = fx.expected.rgb;
    const { page, problems } = await openPage(dir);
    assert.match(await page.textContent('#picture-rule'), /BGR, 5×6 bilinear/);
    for (const picture of pictures) {
      await dropPicture(page, picture.file);
      assertTopK(await shown(page), picture.python[0], picture.file);
      assert.equal(await page.textContent('#prediction-value'), ['cat', 'dog', 'bird', 'fish'][topClass(picture.source.probs[0])]);
    }
    await page.screenshot({ path: join(ARTIFACTS, 'tensor-rgb.png'), fullPage: true });
    assert.deepEqual(problems, []);
    await page.close();
  });
});

describe('the demo page for a tensor package without pictures', () => {
  test('the JSON record card scores the first golden record and an edited one as the Keras model does', async () => {
    const { package: dir, records, source } = fx.expected.sequence;
    const { page, problems } = await openPage(dir);
    assert.ok(await page.isVisible('#tensor-card'));
    assert.equal(await page.isVisible('#picture-card'), false);
    assert.match(await page.textContent('#tensor-shapes'), /tokens: int32 \[12\], extra: float32 \[3\]/);
    await page.fill('#tensor-record', JSON.stringify(records[3]));
    await page.evaluate(() => window.edgepack.settled());
    const bars = await shown(page);
    assert.deepEqual(bars.map((b) => b.cls), [...source.probabilities[3].keys()].sort((a, b) => source.probabilities[3][b] - source.probabilities[3][a]).map(String));
    assert.ok(maxAbsDiff(bars.map((b) => b.p), bars.map((b) => source.probabilities[3][Number(b.cls)])) <= 1e-5);
    await page.fill('#tensor-record', JSON.stringify({ ...records[3], tokens: records[3].tokens.slice(1) }));
    await page.evaluate(() => window.edgepack.settled());
    assert.equal(await page.textContent('#record-error'), 'tokens: shape [11] where the model takes [12]');
    await page.screenshot({ path: join(ARTIFACTS, 'tensor-json.png'), fullPage: true });
    assert.deepEqual(problems, []);
    await page.close();
  });
});

describe('browser-score.mjs on a tensor package', () => {
  test('JSON lines scored in the page give edgepack-score\'s tensor lines (values to 1e-6), bad lines an error', async () => {
    const server = await serve(fx.expected.digits.package);
    servers.push(server);
    const lines = readFileSync(join(fx.dir, 'lines.jsonl'), 'utf8');
    const { stdout, status } = await new Promise((done) => {
      const child = spawn(process.execPath, [join(WEB, 'bin', 'browser-score.mjs'), server.url], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => { out += d; });
      child.on('exit', (code) => done({ stdout: out, status: code }));
      child.stdin.end(lines);
    });
    assert.equal(status, 3);
    const python = readFileSync(join(fx.dir, 'python-stdout.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const errors = readFileSync(join(fx.dir, 'python-errors.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const rows = stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(rows.length, python.length + errors.length);
    const scored = rows.filter((r) => !r.error);
    scored.forEach((row, i) => {
      assert.deepEqual(Object.keys(row), ['label', 'top_k']);
      assert.deepEqual(row.top_k.map((t) => t.class), python[i].top_k.map((t) => t.class));
      assert.ok(maxAbsDiff(row.top_k.map((t) => t.probability), python[i].top_k.map((t) => t.probability)) <= 1e-6);
    });
    assert.deepEqual(rows.filter((r) => r.error).map((r) => r.error), errors.map(({ line, field, reason }) => ({ line, field, reason })));
  });
});

describe('an altered tensor package', () => {
  test('a flipped byte in the ONNX file is refused with a visible error', async () => {
    const dir = tampered(fx.expected.digits.package, join(tmpdir(), `edgepack-web-tensor-browser-${process.pid}`), 'model.onnx');
    const { page } = await openPage(dir);
    assert.equal(await page.evaluate(() => document.body.dataset.state), 'error');
    assert.match(await page.textContent('#error'), /artifact 'model\.onnx' failed its checksum/);
    assert.equal(await page.isVisible('#main'), false);
    await page.close();
  });
});
