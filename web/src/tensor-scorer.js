// A scorer for tensor packages (format version 2): one verified artifact in one backend (ort-wasm for ONNX,
// tfjs-* for TF.js), with the Python TensorScorer's rules (runtime/tensor_scorer.py): records of named
// nested arrays or typed arrays, pictures prepared as the build prepares them (src/images.js), outputs as
// top-k rows for a classifier and nested arrays for plain tensors.

import { RecordError, UsageError } from './errors.js';
import { pictureInput, decodeImage } from './images.js';
import { describeScorer } from './scorer.js';
import { CLASS_KINDS, artifactFeeds, asBatch, formatOutputs, inputSpecs, outputSpecs, stackRecords } from './tensors.js';

// The float32 profile a package falls back to when its manifest names none (runtime/tensor_scorer.py).
export const DEFAULT_TENSOR_TOLERANCE = { min_top1_agreement: 1.0, max_abs_error: 1e-4, min_cosine: 0.9999 };
// Records per backend call (runtime/tensor_stream.py scores batches of 32): bounds memory for pictures.
const CHUNK = 32;

export class TensorScorer {
  constructor(pkg, entry, engine, backend) {
    this.package = pkg;
    this.artifact = entry;
    this.backend = backend;
    this.tensor = true; // the CLIs' cue: JSON lines of named tensors, not records of features
    this.task = pkg.task;
    this.inputs = inputSpecs(pkg.manifest);
    this.outputs = outputSpecs(pkg.manifest);
    this.classes = pkg.manifest.outputs.classes ?? [];
    this.topK = Number(pkg.manifest.outputs.top_k ?? 5);
    this._engine = engine;
    this._binding = entry.inputs;
    this._names = entry.outputs;
  }

  describe() {
    return describeScorer(this, this._engine);
  }

  /**
   * Batched inputs by package input name (nested arrays [N, ...] or {data: typed array, shape}) -> raw
   * outputs by package output name, {data, dims}. Throws RecordError when an input is missing or mis-shaped.
   */
  async predict(inputs) {
    const batches = {};
    for (const spec of this.inputs) {
      if (!Object.hasOwn(inputs, spec.name)) throw new RecordError(`missing input '${spec.name}'`, { field: spec.name });
      batches[spec.name] = asBatch(inputs[spec.name], spec, { batched: true });
    }
    return this._run(batches);
  }

  async _run(batches) {
    const names = Object.values(this._names);
    const results = await this._engine.run(artifactFeeds(this._binding, this.inputs, batches), names);
    return Object.fromEntries(Object.entries(this._names).map(([output, node]) => [output, results[node]]));
  }

  /** Raw outputs -> one JSON-ready row per record: {label, top_k: [{class, probability}]} or {output: nested}. */
  format(raw) {
    return formatOutputs(raw, this.outputs, this.classes, this.topK);
  }

  /**
   * Validate and score records ({input name: nested array or {data, shape}}), in chunks. Returns {kept,
   * predictions, rejections} like Scorer.score: indices of the scored records (numbered from `start`), their
   * rows, and {record, field, reason} for the others.
   */
  async score(records, { start = 0 } = {}) {
    const kept = [];
    const predictions = [];
    const rejections = [];
    for (let from = 0; from < records.length; from += CHUNK) {
      const part = stackRecords(records.slice(from, from + CHUNK), this.inputs, start + from);
      rejections.push(...part.rejections);
      if (!part.kept.length) continue;
      kept.push(...part.kept);
      predictions.push(...this.format(await this._run(part.inputs)));
    }
    return { kept, predictions, rejections };
  }

  /** Raw outputs for records; throws RecordError on the first bad one. */
  async raw(records) {
    const { inputs, kept, rejections } = stackRecords(records, this.inputs);
    if (rejections.length) {
      const first = rejections[0];
      throw new RecordError(first.reason, { field: first.field, record: first.record });
    }
    if (!kept.length) return {};
    return this._run(inputs);
  }

  /** The one input that takes pictures, or a UsageError saying why this package takes none. */
  get imageInput() {
    if (this.inputs.length !== 1 || !this.inputs[0].image) {
      throw new UsageError('this package takes no pictures: it needs one input with image preprocessing declared', {
        fix: 'score named tensors instead (score / predict)',
      });
    }
    return this.inputs[0];
  }

  /**
   * The model input [1, ...] for one picture: an ImageData (or {width, height, data} of 8-bit RGBA), a
   * canvas, an <img>, an ImageBitmap, or a File/Blob (decoded without colour management). Prepared as the
   * build prepares a picture: channels, bilinear resize to the declared size, scale/mean/std, layout.
   */
  async pictureTensor(picture) {
    const spec = this.imageInput;
    const source = typeof Blob !== 'undefined' && picture instanceof Blob ? await decodeImage(picture) : picture;
    return pictureInput(source, spec);
  }

  /** Score pictures: one row per picture (top-k for a classifier), as `score` writes them. */
  async scorePictures(pictures) {
    const spec = this.imageInput;
    const tensors = [];
    for (const picture of pictures) tensors.push(await this.pictureTensor(picture));
    const rows = [];
    for (let from = 0; from < tensors.length; from += CHUNK) {
      const part = tensors.slice(from, from + CHUNK);
      const data = new part[0].data.constructor(part.reduce((n, t) => n + t.data.length, 0));
      part.forEach((t, i) => data.set(t.data, i * t.data.length));
      rows.push(...this.format(await this._run({ [spec.name]: { data, dims: [part.length, ...part[0].dims.slice(1)] } })));
    }
    return rows;
  }

  /** Run the golden inputs and compare with the source model's stored outputs (runtime/tensor_scorer.py). */
  async selftest() {
    const golden = await this.package.golden();
    const raw = await this.predict(golden.inputs);
    const precision = this.artifact.precision ?? 'float32';
    const tolerance = { ...DEFAULT_TENSOR_TOLERANCE, ...(this.package.manifest.tolerance_profiles?.[precision] ?? {}) };
    let worst = 0;
    let cosine = 1;
    let agree = null;
    let rows = 0;
    for (const spec of this.outputs) {
      const { data, dims } = raw[spec.name];
      rows = dims[0];
      const want = golden.outputs[spec.name].flat(Infinity);
      const width = rows ? data.length / rows : 0;
      let same = 0;
      for (let i = 0; i < rows; i++) {
        let dot = 0;
        let na = 0;
        let nb = 0;
        let allEqual = true;
        for (let j = i * width; j < (i + 1) * width; j++) {
          const a = Number(data[j]);
          const b = Number(want[j]);
          worst = Math.max(worst, Math.abs(a - b));
          dot += a * b;
          na += a * a;
          nb += b * b;
          if (a !== b) allEqual = false;
        }
        const norms = Math.sqrt(na) * Math.sqrt(nb);
        cosine = Math.min(cosine, norms > 0 ? dot / norms : allEqual ? 1 : 0); // two all-zero rows: the same vector
        if (CLASS_KINDS.includes(spec.kind)) same += argmaxAt(data, i * width, width) === argmaxAt(want, i * width, width) ? 1 : 0;
      }
      if (CLASS_KINDS.includes(spec.kind)) agree = rows ? same / rows : 1;
    }
    const passed = worst <= tolerance.max_abs_error && cosine >= tolerance.min_cosine && (agree === null || agree >= tolerance.min_top1_agreement);
    return { rows, top1Agreement: agree, maxAbsError: worst, minCosine: cosine, tolerance, passed };
  }

  async dispose() {
    await this._engine.dispose();
  }
}

function argmaxAt(values, offset, width) {
  let best = 0;
  for (let j = 1; j < width; j++) if (Number(values[offset + j]) > Number(values[offset + best])) best = j;
  return best;
}
