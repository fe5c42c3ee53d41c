// A scorer: one verified artifact of a package in one backend. Validates records like the Python
// scorer, encodes them per contract 2, and labels outputs per contract 3 (classes[argmax], first on ties).

import { RecordError } from './errors.js';
import { tensorsFor, validateRecords } from './records.js';

// The float32 profile a package falls back to when its manifest names none (runtime/scorer.py).
const DEFAULT_TOLERANCE = { min_label_agreement: 1.0, max_probability_error: 1e-5, max_value_error: 1e-5 };
// Rows per backend call: bounds memory for a large CSV while keeping calls few.
const CHUNK = 4096;

/** Python's str() of a class value: the probability keys of the Python scorer's output. */
export function classKey(value) {
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  return String(value);
}

/** A scorer's package, version, task, artifact, backend and runtime (Scorer and TensorScorer). */
export function describeScorer(scorer, engine) {
  return {
    package: scorer.package.name,
    version: scorer.package.version,
    task: scorer.task,
    artifact: scorer.artifact.id,
    format: scorer.artifact.format,
    precision: scorer.artifact.precision ?? 'float32',
    backend: scorer.backend,
    runtime: engine.runtime,
    runtimeVersion: engine.version,
  };
}

/** Index of the largest value, the first one on ties. */
export function argmax(row) {
  let best = 0;
  for (let j = 1; j < row.length; j++) if (row[j] > row[best]) best = j;
  return best;
}

export class Scorer {
  constructor(pkg, entry, engine, backend) {
    this.package = pkg;
    this.artifact = entry;
    this.backend = backend;
    this.schema = pkg.manifest.inputs;
    this.task = pkg.task;
    this.classes = pkg.manifest.outputs.classes ?? [];
    this.classKeys = this.classes.map(classKey);
    this._engine = engine;
    this._binding = entry.inputs;
    this._outputs = entry.outputs;
  }

  /** What scores: package, version, artifact, backend and runtime versions (for pages and reports). */
  describe() {
    return describeScorer(this, this._engine);
  }

  /** Raw outputs for checked rows (schema order): {probabilities: number[][]} or {value: number[]}. */
  async runRows(rows) {
    // Generated code (the js backend) takes checked rows as records, not tensors.
    if (this._engine.runRows) return this._engine.runRows(rows, this.schema, this.classes);
    const probabilities = [];
    const value = [];
    for (let start = 0; start < rows.length; start += CHUNK) {
      const part = rows.slice(start, start + CHUNK);
      const feeds = tensorsFor(this._binding, part, this.schema);
      const names = Object.values(this._outputs);
      const results = await this._engine.run(feeds, names);
      if ('probabilities' in this._outputs) {
        const { data, dims } = results[this._outputs.probabilities];
        const c = dims[dims.length - 1];
        for (let i = 0; i < part.length; i++) probabilities.push(Array.from(data.subarray(i * c, (i + 1) * c), Number));
      } else {
        const { data } = results[this._outputs.value];
        for (let i = 0; i < part.length; i++) value.push(Number(data[i]));
      }
    }
    return 'probabilities' in this._outputs ? { probabilities } : { value };
  }

  /** Raw outputs to one JSON-ready prediction per row (the Python scorer's shape). */
  format(raw) {
    if (raw.probabilities) {
      return raw.probabilities.map((row) => ({
        label: this.classes[argmax(row)],
        probabilities: Object.fromEntries(this.classKeys.map((k, j) => [k, row[j]])),
      }));
    }
    return raw.value.map((v) => ({ value: v }));
  }

  /**
   * Validate and score. Returns the indices of the scored records, their predictions and the
   * rejections ({record, field, reason}), numbering records from `start`. Fields the model does not
   * use are ignored unless `strict` (then only `allowedExtra` may appear besides the features).
   * `stats` (a StatsCollector of src/stats.js) counts the batch for drift monitoring.
   */
  async score(records, { allowedExtra = new Set(), start = 0, strict = false, stats = null } = {}) {
    const { rows, kept, rejections } = validateRecords(this.schema, records, { allowedExtra, start, strict });
    const raw = rows.length ? await this.runRows(rows) : null;
    stats?.observe(rows, raw, rejections); // src/stats.js: counts in the package's reference bins
    if (!raw) return { kept, predictions: [], rejections };
    return { kept, predictions: this.format(raw), rejections };
  }

  /** Predictions for records (objects keyed by feature name). Throws RecordError on the first bad one. */
  async predict(records) {
    const { predictions, rejections } = await this.score(records);
    if (rejections.length) {
      const first = rejections[0];
      throw new RecordError(first.reason, { field: first.field, record: first.record });
    }
    return predictions;
  }

  /** Raw outputs for records; throws RecordError on the first bad one (used by parity runners). */
  async raw(records) {
    const { rows, rejections } = validateRecords(this.schema, records);
    if (rejections.length) {
      const first = rejections[0];
      throw new RecordError(first.reason, { field: first.field, record: first.record });
    }
    return this.runRows(rows);
  }

  /** Score the package's golden vectors and compare with the source model's stored outputs. */
  async selftest() {
    const golden = await this.package.golden();
    const raw = await this.raw(golden.records);
    const precision = this.artifact.precision ?? 'float32';
    const tolerance = { ...DEFAULT_TOLERANCE, ...(this.package.manifest.tolerance_profiles?.[precision] ?? {}) };
    const rows = golden.records.length;
    if (raw.probabilities) {
      const want = golden.outputs.probabilities;
      let agree = 0;
      let err = 0;
      raw.probabilities.forEach((row, i) => {
        if (this.classes[argmax(row)] === golden.outputs.label[i]) agree += 1;
        row.forEach((p, j) => { err = Math.max(err, Math.abs(p - want[i][j])); });
      });
      const labelAgreement = rows ? agree / rows : 1;
      const passed = labelAgreement >= tolerance.min_label_agreement && err <= tolerance.max_probability_error;
      return { rows, labelAgreement, maxError: err, tolerance, passed };
    }
    const scale = Number(this.package.manifest.outputs.value_scale ?? 1) || 1;
    let err = 0;
    raw.value.forEach((v, i) => { err = Math.max(err, Math.abs(v - golden.outputs.value[i]) / scale); });
    return { rows, labelAgreement: null, maxError: err, tolerance, passed: err <= tolerance.max_value_error };
  }

  async dispose() {
    await this._engine.dispose();
  }
}
