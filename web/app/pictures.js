// The demo page's cards for tensor packages. With one image input: a canvas to draw on (white ink on black),
// a drop zone for PNG/JPEG files (decoded without colour management, put on the canvas pixel for pixel),
// the model's view of the picture, and the top-k classes scored in the page. The canvas is scored as a
// picture is by the build: src/images.js (channels, Pillow's bilinear resize, scale/mean/std, layout).
// Other tensor packages (sequences, several inputs): a JSON record of named nested arrays.

import { decodeImage } from '/lib/images.js';
import { shapeText } from '/lib/tensors.js';

const $ = (id) => document.getElementById(id);
const DRAWING_SIZE = 160;

/** The model's input [1, ...] back to 8-bit RGBA at the input's size (what the model sees). */
function modelPixels(tensor, spec) {
  const { size: [height, width], channels, scale, mean, std } = spec.image;
  const depth = channels === 'L' ? 1 : 3;
  const rgba = new Uint8ClampedArray(width * height * 4);
  const at = (list, c) => (list.length === 1 ? list[0] : list[c]);
  for (let p = 0; p < width * height; p++) {
    const values = [];
    for (let c = 0; c < depth; c++) {
      const x = tensor.data[spec.layout === 'NCHW' ? c * width * height + p : p * depth + c];
      values.push((x * at(std, c) + at(mean, c)) / scale);
    }
    const [r, g, b] = depth === 1 ? [values[0], values[0], values[0]] : channels === 'BGR' ? values.reverse() : values;
    rgba.set([r, g, b, 255], 4 * p);
  }
  return new ImageData(rgba, width, height);
}

/** The record error under the prediction (null: none); while one shows, the last prediction is greyed out. */
export function setProblem(text) {
  $('record-error').hidden = text === null;
  $('record-error').textContent = text ?? '';
  $('prediction').classList.toggle('stale', text !== null);
}

/** One scored row: top-k bars for a classifier, else the output tensors as JSON. */
function showRow(row) {
  if (row.top_k) return showTopK(row);
  $('prediction-kind').textContent = 'outputs';
  $('prediction-value').textContent = '';
  const text = JSON.stringify(row);
  const pre = Object.assign(document.createElement('pre'), { className: 'outputs', textContent: text.length > 4000 ? `${text.slice(0, 4000)}...` : text });
  $('chart').replaceChildren(pre);
  return undefined;
}

function showTopK(row) {
  const value = $('prediction-value');
  value.textContent = String(row.label);
  value.dataset.label = JSON.stringify(row.label);
  $('prediction-kind').textContent = 'top class';
  const chart = $('chart');
  chart.replaceChildren();
  const key = 'probability' in row.top_k[0] ? 'probability' : 'score';
  const top = Math.max(...row.top_k.map((t) => Math.abs(t[key]))) || 1;
  row.top_k.forEach((t, i) => {
    const share = key === 'probability' ? t[key] : Math.max(0, t[key]) / top;
    const bar = document.createElement('div');
    bar.className = `bar${i === 0 ? ' top' : ''}`;
    bar.dataset.class = String(t.class);
    bar.dataset[key] = String(t[key]);
    bar.innerHTML = '<span class="cls"></span><span class="track"><span class="fill"></span></span><span class="pct"></span>';
    bar.querySelector('.cls').textContent = String(t.class);
    bar.querySelector('.fill').style.width = `${(100 * share).toFixed(2)}%`;
    bar.querySelector('.pct').textContent = key === 'probability' ? `${(100 * t[key]).toFixed(2)} %` : t[key].toPrecision(4);
    chart.append(bar);
  });
}

/**
 * Wire the picture card for `scorer` (a TensorScorer). `queue(task)` runs tasks one after the other (the
 * page's pending chain). Returns {scoreCanvas, putPicture} for the page's test hooks.
 */
export async function startPictures(scorer, queue) {
  const spec = scorer.imageInput;
  const canvas = $('picture');
  const context = canvas.getContext('2d', { willReadFrequently: true });
  const view = $('model-view');
  [view.width, view.height] = [spec.image.size[1], spec.image.size[0]];
  view.style.height = `${(96 * view.height) / view.width}px`; // the CSS width is 96px: keep the picture's aspect
  const image = spec.image;
  $('picture-rule').textContent = `${image.channels}, ${image.size[1]}×${image.size[0]} bilinear, `
    + `× ${Number(image.scale.toPrecision(4))}, mean ${image.mean.join('/')}, std ${image.std.join('/')}, ${spec.layout ?? ''}`;
  $('picture-card').hidden = false;
  $('form-card').hidden = true;
  $('csv-card').hidden = true;

  async function scoreCanvas() {
    const started = performance.now();
    const tensor = await scorer.pictureTensor(context.getImageData(0, 0, canvas.width, canvas.height));
    const [row] = scorer.format(await scorer.predict({ [spec.name]: tensor }));
    view.getContext('2d').putImageData(modelPixels(tensor, spec), 0, 0);
    setProblem(null);
    showRow(row);
    $('timing').textContent = `scored in ${(performance.now() - started).toFixed(1)} ms`;
    $('prediction').dataset.scored = String(Number($('prediction').dataset.scored ?? 0) + 1);
    return row;
  }
  let queued = false;
  const rescore = () => {
    if (queued) return;
    queued = true;
    queue(() => { queued = false; return scoreCanvas(); });
  };

  function putPicture(pixels, name = '') {
    [canvas.width, canvas.height] = [pixels.width, pixels.height];
    context.putImageData(pixels instanceof ImageData ? pixels : new ImageData(Uint8ClampedArray.from(pixels.data), pixels.width, pixels.height), 0, 0);
    $('picture-name').textContent = name ? `${name}: ${pixels.width}×${pixels.height}` : '';
    rescore();
  }
  function clear() {
    [canvas.width, canvas.height] = [DRAWING_SIZE, DRAWING_SIZE];
    context.fillStyle = '#000';
    context.fillRect(0, 0, canvas.width, canvas.height);
    $('picture-name').textContent = '';
    rescore();
  }

  // Drawing: white ink, its width a tenth of the canvas, scored as the strokes go.
  let drawing = false;
  const point = (e) => {
    const box = canvas.getBoundingClientRect();
    return [(e.clientX - box.left) * (canvas.width / box.width), (e.clientY - box.top) * (canvas.height / box.height)];
  };
  canvas.addEventListener('pointerdown', (e) => {
    e.preventDefault();
    drawing = true;
    canvas.setPointerCapture?.(e.pointerId);
    Object.assign(context, { strokeStyle: '#fff', lineWidth: Math.max(1, canvas.width / 10), lineCap: 'round', lineJoin: 'round' });
    context.beginPath();
    context.moveTo(...point(e));
    context.lineTo(...point(e));
    context.stroke();
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!drawing) return;
    context.lineTo(...point(e));
    context.stroke();
    rescore();
  });
  const stop = () => { if (drawing) { drawing = false; rescore(); } };
  canvas.addEventListener('pointerup', stop);
  canvas.addEventListener('pointercancel', stop);
  $('picture-clear').addEventListener('click', clear);
  canvas.addEventListener('click', (e) => e.preventDefault()); // the canvas sits in the file label: drawing must not open the file chooser

  // Files: decoded as stored (no colour management), put on the canvas pixel for pixel.
  const zone = $('picture-drop');
  const open = (file) => queue(async () => {
    try {
      putPicture(await decodeImage(file), file.name);
    } catch (err) {
      setProblem(err.what ?? err.message);
    }
  });
  $('picture-input').addEventListener('change', (e) => { if (e.target.files[0]) open(e.target.files[0]); });
  zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    if (e.dataTransfer.files[0]) open(e.dataTransfer.files[0]);
  });

  // The first golden input, as a picture at the model's size: a real example on the canvas from the start.
  const golden = await scorer.package.golden();
  const first = golden.inputs[spec.name][0];
  const flat = first.flat(Infinity);
  putPicture(modelPixels({ data: flat }, spec), 'an example from the build\'s sample');
  return { scoreCanvas, putPicture, clear };
}

/** The JSON record card for a tensor package without a picture input; the first golden record to start. */
export async function startTensorRecord(scorer, queue) {
  const area = $('tensor-record');
  $('tensor-shapes').textContent = scorer.inputs.map((s) => `${s.name}: ${s.dtype} ${shapeText(s.shape.slice(1))}`).join(', ');
  $('tensor-card').hidden = false;
  $('form-card').hidden = true;
  $('csv-card').hidden = true;
  const golden = await scorer.package.golden();
  area.value = JSON.stringify(Object.fromEntries(scorer.inputs.map((s) => [s.name, golden.inputs[s.name][0]])));
  async function scoreRecord() {
    let record;
    try {
      record = JSON.parse(area.value);
    } catch (err) {
      setProblem(`not valid JSON: ${err.message}`);
      return;
    }
    const started = performance.now();
    const { predictions, rejections } = await scorer.score([record]);
    const [first] = rejections;
    setProblem(first ? (first.field ? `${first.field}: ${first.reason}` : first.reason) : null);
    if (first) return;
    showRow(predictions[0]);
    $('timing').textContent = `scored in ${(performance.now() - started).toFixed(1)} ms`;
    $('prediction').dataset.scored = String(Number($('prediction').dataset.scored ?? 0) + 1);
  }
  area.addEventListener('input', () => queue(scoreRecord));
  queue(scoreRecord);
  return { scoreRecord };
}
