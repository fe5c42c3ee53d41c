// The demo page of `edgepack serve`: a form generated from the package's input schema with live
// predictions, a CSV drop zone scored in the page, and what runs shown; for a tensor package with an image
// input, a canvas to draw on or drop a picture into, with the top-k classes (pictures.js). Query parameters:
// ?backend=NAME&artifact=ID choose what runs (default: auto).
// window.edgepack exposes the scorer to tests and to the chromium parity runner.

import { BACKENDS, Package, loadPackage, recordsFromCsv, toCsv, version } from '/lib/index.js';
import { setProblem, startPictures, startTensorRecord } from '/app/pictures.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const PACKAGE_URL = new URL('/package/', location.href).href;
// Form predictions run one after the other, in input order; tests await the chain.
let pending = Promise.resolve();
let pictures = null; // a tensor package's picture card (pictures.js)

function setState(state) {
  document.body.dataset.state = state;
}

function showError(err) {
  setState('error');
  $('error').hidden = false;
  $('main').hidden = true;
  $('error-text').textContent = err.what ? `${err.what}${err.where ? ` [${err.where}]` : ''}` : String(err?.message ?? err);
  $('error-fix').textContent = err.fix ? `How to fix: ${err.fix}` : '';
  for (const id of ['artifact', 'backend', 'selftest']) $(id).textContent = '–';
  $('footer').textContent = 'Nothing was scored: the page refuses a package it cannot verify.';
}

function formatNumber(x, digits = 6) {
  if (x === null || x === undefined || Number.isNaN(x)) return '–';
  return Number(x.toPrecision(digits)).toString();
}

// -- the form --------------------------------------------------------------------------------------

function fieldFor(feature, initial) {
  const wrap = document.createElement('div');
  wrap.className = 'field';
  wrap.dataset.feature = feature.name;
  const label = document.createElement('label');
  label.htmlFor = `f-${feature.name}`;
  label.innerHTML = `<span class="name"></span> <span class="type muted small"></span>`;
  label.querySelector('.name').textContent = feature.name;
  label.querySelector('.type').textContent = feature.type + (feature.nullable ? ', may be empty' : '');
  wrap.append(label);
  let input;
  if (feature.type === 'category' || feature.type === 'bool') {
    input = document.createElement('select');
    const options = feature.type === 'bool' ? ['true', 'false'] : feature.categories;
    if (feature.nullable) input.append(new Option('(missing)', ''));
    for (const option of options) input.append(new Option(option, option));
    input.value = initial === null || initial === undefined ? '' : String(initial);
    wrap.append(input);
  } else {
    input = document.createElement('input');
    input.type = 'number';
    input.step = feature.type === 'int' ? '1' : 'any';
    if (feature.min !== undefined) input.min = feature.min;
    if (feature.max !== undefined) input.max = feature.max;
    input.value = initial === null || initial === undefined ? '' : String(initial);
    input.placeholder = feature.nullable ? 'empty = missing' : '';
    const row = document.createElement('div');
    row.className = 'numeric';
    row.append(input);
    if (feature.min !== undefined && feature.max !== undefined && feature.max > feature.min) {
      const slider = document.createElement('input');
      slider.type = 'range';
      slider.min = feature.min;
      slider.max = feature.max;
      slider.step = feature.type === 'int' ? '1' : String((feature.max - feature.min) / 200);
      slider.value = input.value || feature.mean || feature.min;
      slider.tabIndex = -1;
      slider.setAttribute('aria-hidden', 'true');
      slider.addEventListener('input', () => {
        input.value = feature.type === 'int' ? slider.value : formatNumber(Number(slider.value), 5);
        input.dispatchEvent(new Event('input', { bubbles: true }));
      });
      input.addEventListener('input', () => { if (input.value !== '') slider.value = input.value; });
      row.append(slider);
    }
    wrap.append(row);
    const range = document.createElement('div');
    range.className = 'range muted small';
    range.textContent = feature.min !== undefined ? `observed ${formatNumber(feature.min)} – ${formatNumber(feature.max)}` : '';
    wrap.append(range);
  }
  input.id = `f-${feature.name}`;
  input.name = feature.name;
  const problem = document.createElement('div');
  problem.className = 'problem';
  wrap.append(problem);
  return wrap;
}

function readForm(schema) {
  const record = {};
  for (const feature of schema.features) {
    const raw = $(`f-${feature.name}`).value;
    if (raw === '') record[feature.name] = null;
    else if (feature.type === 'category') record[feature.name] = raw;
    else if (feature.type === 'bool') record[feature.name] = raw === 'true';
    else record[feature.name] = Number(raw);
  }
  return record;
}

// -- the prediction --------------------------------------------------------------------------------

function showPrediction(scorer, prediction) {
  const value = $('prediction-value');
  const chart = $('chart');
  chart.replaceChildren();
  if ('value' in prediction) {
    $('prediction-kind').textContent = 'value';
    value.textContent = formatNumber(prediction.value);
    value.dataset.value = String(prediction.value);
    return;
  }
  $('prediction-kind').textContent = 'label';
  value.textContent = String(prediction.label);
  value.dataset.label = JSON.stringify(prediction.label);
  for (const [key, p] of Object.entries(prediction.probabilities)) {
    const bar = document.createElement('div');
    bar.className = `bar${key === scorer.classKeys[scorer.classes.indexOf(prediction.label)] ? ' top' : ''}`;
    bar.dataset.class = key;
    bar.dataset.probability = String(p);
    bar.innerHTML = '<span class="cls"></span><span class="track"><span class="fill"></span></span><span class="pct"></span>';
    bar.querySelector('.cls').textContent = key;
    bar.querySelector('.fill').style.width = `${(100 * p).toFixed(2)}%`;
    bar.querySelector('.pct').textContent = `${(100 * p).toFixed(2)} %`;
    chart.append(bar);
  }
}

async function predictForm(scorer) {
  const record = readForm(scorer.schema);
  const started = performance.now();
  const { predictions, rejections } = await scorer.score([record]);
  const elapsed = performance.now() - started;
  for (const el of document.querySelectorAll('.field')) {
    el.classList.remove('invalid');
    el.querySelector('.problem').textContent = '';
  }
  if (rejections.length) {
    const { field, reason } = rejections[0];
    const el = field && document.querySelector(`.field[data-feature="${CSS.escape(field)}"]`);
    if (el) {
      el.classList.add('invalid');
      el.querySelector('.problem').textContent = reason;
    }
    setProblem(field ? `${field}: ${reason}` : reason);
    return;
  }
  setProblem(null);
  showPrediction(scorer, predictions[0]);
  $('timing').textContent = `scored in ${elapsed.toFixed(1)} ms`;
}

// -- the CSV drop zone -----------------------------------------------------------------------------

async function scoreCsv(scorer, file) {
  const text = await file.text();
  const { header, rows, records, extra } = recordsFromCsv(scorer.schema, text);
  const started = performance.now();
  const { kept, predictions, rejections } = await scorer.score(records);
  const elapsed = performance.now() - started;
  const outHeader = scorer.task === 'classification'
    ? [...header, 'label', ...scorer.classKeys.map((k) => `p_${k}`), 'error']
    : [...header, 'value', 'error'];
  const outRows = rows.map((cells) => [...header.map((_, j) => cells[j] ?? ''), ...outHeader.slice(header.length).map(() => '')]);
  kept.forEach((i, k) => {
    const p = predictions[k];
    const tail = 'value' in p ? [p.value] : [p.label, ...scorer.classKeys.map((key) => p.probabilities[key])];
    tail.forEach((v, j) => { outRows[i][header.length + j] = v; });
  });
  for (const r of rejections) outRows[r.record][outHeader.length - 1] = r.field ? `${r.field}: ${r.reason}` : r.reason;
  const csv = toCsv(outHeader, outRows);
  const link = $('csv-download');
  if (link.href) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(new Blob([csv], { type: 'text/csv' }));
  link.download = file.name.replace(/\.csv$/i, '') + '.scores.csv';
  $('csv-summary').textContent = `${file.name}: scored ${kept.length} of ${records.length} rows in ${elapsed.toFixed(0)} ms`
    + (rejections.length ? `; ${rejections.length} rejected (see the error column)` : '')
    + (extra.length ? `. Columns that are not model inputs, kept in the download: ${extra.join(', ')}.` : '.');
  // The preview shows the results first (the download keeps the file's own column order).
  const order = [...outHeader.keys()].slice(header.length).concat([...header.keys()]);
  const table = $('csv-preview');
  table.replaceChildren();
  const head = table.createTHead().insertRow();
  for (const j of order) head.append(Object.assign(document.createElement('th'), { textContent: outHeader[j] }));
  const body = table.createTBody();
  for (const r of outRows.slice(0, 12)) {
    const tr = body.insertRow();
    for (const j of order) tr.insertCell().textContent = typeof r[j] === 'number' ? formatNumber(r[j], 5) : String(r[j] ?? '');
    if (r[outHeader.length - 1]) tr.classList.add('rejected');
  }
  $('csv-result').hidden = false;
  $('csv-result').dataset.scored = String(kept.length);
  $('csv-result').dataset.rejected = String(rejections.length);
  return { csv, kept: kept.length, rejected: rejections.length };
}

function wireDropzone(scorer) {
  const zone = $('dropzone');
  const run = (file) => scoreCsv(scorer, file).catch((err) => { $('csv-summary').textContent = `cannot score ${file.name}: ${err.message}`; $('csv-result').hidden = false; });
  $('csv-input').addEventListener('change', (e) => { if (e.target.files[0]) run(e.target.files[0]); });
  zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    if (e.dataTransfer.files[0]) run(e.dataTransfer.files[0]);
  });
}

// -- start -----------------------------------------------------------------------------------------

async function start() {
  setState('loading');
  const pkg = await Package.open(PACKAGE_URL);
  const m = pkg.manifest;
  document.title = `${pkg.name} ${pkg.version}: edgepack`;
  $('package-name').textContent = pkg.name;
  $('package-version').textContent = `version ${pkg.version}`;
  $('package-task').textContent = m.model.task + (m.outputs.classes ? ` · classes ${m.outputs.classes.join(', ')}` : '');
  const chooser = $('choose-backend');
  for (const b of BACKENDS) {
    if (!pkg.artifacts.some((a) => a.format === b.format)) continue;
    const why = b.unavailable();
    const option = new Option(why ? `${b.name} (unavailable)` : b.name, b.name);
    option.disabled = !!why;
    chooser.append(option);
  }
  chooser.value = params.get('backend') ?? '';
  chooser.addEventListener('change', () => {
    const next = new URLSearchParams(location.search);
    if (chooser.value) next.set('backend', chooser.value); else next.delete('backend');
    next.delete('artifact');
    location.search = next.toString();
  });

  const scorer = await loadPackage(pkg, { backend: params.get('backend') ?? 'auto', artifact: params.get('artifact') ?? undefined });
  const info = scorer.describe();
  $('artifact').textContent = `${info.artifact} (${info.format}, ${info.precision})`;
  $('backend').textContent = `${info.backend} · ${info.runtime} ${info.runtimeVersion}`;
  $('footer').textContent = `Scored in this page by edgepack-web ${version} with ${info.runtime} ${info.runtimeVersion}: records never leave the browser.`;

  if (scorer.tensor) { // a tensor package (format version 2): the picture or JSON card instead of the form and CSV
    $('main').hidden = false;
    const queue = (task) => { pending = pending.then(task).catch((err) => setProblem(err.what ?? err.message)); return pending; };
    const takesPictures = scorer.inputs.length === 1 && scorer.inputs[0].image;
    pictures = takesPictures ? await startPictures(scorer, queue) : await startTensorRecord(scorer, queue);
    await pending;
  } else {
    const golden = await pkg.golden();
    const form = $('record-form');
    for (const feature of m.inputs.features) form.append(fieldFor(feature, golden.records[0]?.[feature.name]));
    form.addEventListener('input', () => {
      pending = pending.then(() => predictForm(scorer));
    });
    form.addEventListener('submit', (e) => e.preventDefault());
    wireDropzone(scorer);
    $('main').hidden = false;
    await predictForm(scorer);
  }
  // Since the page's navigation started (benchmarks/web_first_prediction.py reads it).
  const firstPredictionMs = performance.now();

  const test = await scorer.selftest();
  const verdict = test.passed ? 'pass' : 'FAIL';
  const error = test.maxError ?? test.maxAbsError;
  $('selftest').textContent = `${verdict} · ${test.rows} golden rows, max error ${error.toExponential(1)}`;
  $('selftest').className = test.passed ? 'ok' : 'bad';
  setState('ready');
  return { scorer, info: { ...info, firstPredictionMs, tensor: !!scorer.tensor }, selftest: test };
}

const ready = start().catch((err) => {
  showError(err);
  throw err;
});
ready.catch(() => {});

const described = ready.then(({ info, selftest }) => ({ ...info, selftest }));
described.catch(() => {});  // shown on the page; awaiting callers still see the rejection

window.edgepack = {
  ready: described,
  /** Validate and score records: {kept, predictions, rejections}. */
  score: async (records) => (await ready).scorer.score(records),
  /** Raw outputs for records: {probabilities: [[...]]} or {value: [...]} (parity runners). */
  raw: async (records) => (await ready).scorer.raw(records),
  /** Resolves when the form's latest prediction is on the page. */
  settled: async () => { await ready; await pending; },
  /** Tensor packages: score pictures (ImageData, canvas, <img>, ImageBitmap, File) as TensorScorer.scorePictures. */
  scorePictures: async (list) => (await ready).scorer.scorePictures(list),
  /** Tensor packages: put 8-bit RGBA pixels {width, height, data} on the canvas; resolves when scored. */
  putPicture: async (pixels) => { await ready; pictures.putPicture(pixels); await pending; },
  /** Score a CSV text as the drop zone does; returns {csv, kept, rejected}. */
  scoreCsvText: async (text, name = 'records.csv') => scoreCsv((await ready).scorer, new File([text], name, { type: 'text/csv' })),
};
