// Tensor packages (format version 2): named tensor inputs (images, sequences, several inputs) instead of a
// row of features. The rules and messages of runtime/tensors.py, kept in step with it: a record's value
// (nested arrays, or {data, shape} with a typed array) becomes a batch of the input's dtype, a batch is
// transposed to the layout an artifact takes, and raw outputs become top-k rows or plain nested arrays.
//
// A tensor here is {data, dims}: data a typed array (or a Float64Array of values before the dtype cast),
// dims its shape, batch first.

import { RecordError, PackageError } from './errors.js';

/** The manifest's dtypes and the typed array each is stored in (bool as bytes, as onnxruntime-web takes it). */
export const TYPED_ARRAYS = {
  float32: Float32Array, float64: Float64Array, int64: BigInt64Array, int32: Int32Array, uint8: Uint8Array, bool: Uint8Array,
};
export const CLASS_KINDS = ['probabilities', 'scores'];

export function isTensorPackage(manifest) {
  return Object.hasOwn(manifest?.inputs ?? {}, 'tensors');
}

function spec(entry) {
  return { name: entry.name, dtype: entry.dtype, shape: entry.shape, layout: entry.layout ?? null, kind: entry.kind ?? 'tensor', image: entry.image ?? null };
}

/** The package's input tensors: [{name, dtype, shape (shape[0] null: any batch), layout, kind, image}]. */
export function inputSpecs(manifest) {
  return manifest.inputs.tensors.map(spec);
}

export function outputSpecs(manifest) {
  return manifest.outputs.tensors.map(spec);
}

export function shapeText(shape) {
  return `[${shape.map((d) => (d === null || d === undefined ? 'N' : String(d))).join(', ')}]`;
}

const size = (dims) => dims.reduce((a, b) => a * b, 1);

// A leaf numpy cannot turn into a number: for float inputs np.asarray(value, float64) raises (the first
// message); for integer inputs it makes a text or object array (the second).
class Unreadable extends Error {}
class NotNumeric extends Error {}

// A sequence level of a nested array: a JS array, or a typed array as the innermost rows.
const isSeq = (v) => Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));

/** Nested arrays -> {values: number[], dims} as np.asarray reads them (null -> NaN for float inputs). */
function flatten(value, float) {
  const dims = [];
  for (let probe = value; isSeq(probe); probe = probe[0]) dims.push(probe.length);
  const values = [];
  const walk = (v, depth) => {
    if (depth < dims.length) {
      if (!isSeq(v) || v.length !== dims[depth]) throw new Unreadable(); // ragged
      for (const item of v) walk(item, depth + 1);
      return;
    }
    if (isSeq(v)) throw new Unreadable();
    if (typeof v === 'number') values.push(v);
    else if (typeof v === 'bigint') values.push(Number(v));
    else if (typeof v === 'boolean') values.push(v ? 1 : 0);
    else if (v === null && float) values.push(NaN);
    else if (float && typeof v === 'object') throw new Unreadable();
    else if (float && typeof v === 'string') throw new Unreadable(); // numpy would parse "1.5"; we do not
    else throw new NotNumeric();
  };
  walk(value, 0);
  return { values, dims };
}

/** {data: a typed array, shape (or dims)}: a tensor from code. JSON cannot make one, so JSON lines are read
 * as the Python scorer reads them. */
function isTensorLike(value) {
  return value !== null && typeof value === 'object' && ArrayBuffer.isView(value.data)
    && (Array.isArray(value.shape) || Array.isArray(value.dims));
}

/**
 * One record's value (nested arrays, or {data, shape} of shape spec.shape[1:]) or, with `batched`, a whole
 * batch -> {data: Float64Array, dims} with a batch dimension, values checked for the spec's dtype.
 * Throws RecordError naming the input and the expected shape (runtime/tensors.py: as_batch).
 */
export function asBatch(value, spec, { record = null, batched = false } = {}) {
  const want = batched ? spec.shape : spec.shape.slice(1);
  const float = spec.dtype.startsWith('float');
  const fail = (reason) => new RecordError(reason, { field: spec.name, record });
  let values;
  let dims;
  if (isTensorLike(value)) {
    dims = Array.from(value.dims ?? value.shape, Number);
    if (dims.some((d) => !Number.isInteger(d) || d < 0) || value.data.length !== size(dims)) {
      throw fail(`a tensor of shape ${shapeText(dims)} needs ${size(dims)} values, got ${value.data.length}`);
    }
    values = Float64Array.from(value.data, Number);
  } else {
    try {
      ({ values, dims } = flatten(value, float));
    } catch (err) {
      if (err instanceof Unreadable) throw fail(`expected a nested array of numbers with shape ${shapeText(want)}`);
      throw fail(`expected a nested array of numbers with shape ${shapeText(want)} (ragged or not numeric)`);
    }
  }
  if (dims.length !== want.length || want.some((w, i) => w !== null && w !== dims[i])) {
    throw fail(`shape ${shapeText(dims)} where the model takes ${shapeText(want)}`);
  }
  for (const v of values) if (!Number.isFinite(v)) throw fail('NaN or infinity in a tensor input');
  if (!float) {
    for (const v of values) if (!Number.isInteger(v)) throw fail(`expected integers (${spec.dtype})`);
  }
  return { data: values instanceof Float64Array ? values : Float64Array.from(values), dims: batched ? dims : [1, ...dims] };
}

/**
 * Validate JSON records ({input name: nested array}) into batched inputs: {inputs: {name: tensor}, kept
 * (indices of the valid records), rejections: [{record, field, reason}]} (runtime/tensors.py: stack_records).
 */
export function stackRecords(records, specs, start = 0) {
  const parts = Object.fromEntries(specs.map((s) => [s.name, []]));
  const kept = [];
  const rejections = [];
  records.forEach((record, i) => {
    const index = start + i;
    if (record === null || typeof record !== 'object' || Array.isArray(record)) {
      rejections.push({ record: index, field: null, reason: 'expected a JSON object of named tensors' });
      return;
    }
    let batches;
    try {
      const missing = specs.filter((s) => !Object.hasOwn(record, s.name)).map((s) => s.name);
      if (missing.length) throw new RecordError(`missing input(s) ${missing.join(', ')}`, { field: missing[0], record: index });
      batches = specs.map((s) => asBatch(record[s.name], s, { record: index }));
    } catch (err) {
      if (!(err instanceof RecordError)) throw err;
      rejections.push({ record: index, field: err.field, reason: err.reason });
      return;
    }
    specs.forEach((s, j) => parts[s.name].push(batches[j]));
    kept.push(index);
  });
  const inputs = {};
  if (kept.length) for (const s of specs) inputs[s.name] = concat(parts[s.name]);
  return { inputs, kept, rejections };
}

function concat(tensors) {
  const data = new Float64Array(tensors.reduce((n, t) => n + t.data.length, 0));
  let offset = 0;
  for (const t of tensors) {
    data.set(t.data, offset);
    offset += t.data.length;
  }
  return { data, dims: [tensors.reduce((n, t) => n + t.dims[0], 0), ...tensors[0].dims.slice(1)] };
}

/** Transpose a batch from the package input's layout to an artifact's (same letters, another order). */
export function relayout(tensor, source, target) {
  if (!source || !target || source === target) return tensor;
  if ([...source].sort().join('') !== [...target].sort().join('') || source.length !== tensor.dims.length) {
    throw new PackageError(`cannot turn layout ${source} into ${target} for an array of rank ${tensor.dims.length}`, { fix: 'rebuild the package' });
  }
  return transpose(tensor, [...target].map((axis) => source.indexOf(axis)));
}

/** out.dims[k] = dims[perm[k]] (numpy.transpose). */
export function transpose({ data, dims }, perm) {
  const outDims = perm.map((p) => dims[p]);
  const strides = dims.map((_, k) => size(dims.slice(k + 1)));
  const step = perm.map((p) => strides[p]); // input stride of each output axis
  const out = new data.constructor(data.length);
  const index = new Array(outDims.length).fill(0);
  let from = 0;
  for (let i = 0; i < data.length; i++) {
    out[i] = data[from];
    for (let k = outDims.length - 1; k >= 0; k--) { // odometer over the output's axes
      index[k] += 1;
      from += step[k];
      if (index[k] < outDims[k]) break;
      from -= step[k] * outDims[k];
      index[k] = 0;
    }
  }
  return { data: out, dims: outDims };
}

/** Values in the typed array of `dtype` (float -> float32 rounds to nearest, as numpy's astype). */
export function cast(data, dtype) {
  const Typed = TYPED_ARRAYS[dtype];
  if (!Typed) throw new PackageError(`unsupported tensor dtype ${dtype}`, { fix: 'rebuild the package with this edgepack' });
  if (data instanceof Typed && dtype !== 'bool') return data;
  if (Typed === BigInt64Array) return BigInt64Array.from(data, (v) => BigInt(Math.trunc(Number(v))));
  if (dtype === 'bool') return Uint8Array.from(data, (v) => (Number(v) ? 1 : 0));
  return Typed.from(data, Number);
}

/** Package inputs -> the artifact's named tensors (dtype and layout as the artifact entry binds them). */
export function artifactFeeds(binding, specs, inputs) {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const feeds = {};
  for (const tensor of binding) {
    const s = byName.get(tensor.input);
    const moved = relayout(inputs[s.name], s.layout, tensor.layout ?? s.layout);
    feeds[tensor.name] = { dtype: tensor.dtype, data: cast(moved.data, tensor.dtype), dims: moved.dims };
  }
  return feeds;
}

/** Per row {label, top_k: [{class, <key>}]}: the highest score first, the first class on ties. */
export function topK(rows, classes, k, key = 'probability') {
  return rows.map((row) => {
    const order = [...row.keys()].sort((a, b) => row[b] - row[a] || a - b).slice(0, Math.min(k, row.length));
    const best = order.map((j) => ({ class: classes[j], [key]: row[j] }));
    return { label: best[0].class, top_k: best };
  });
}

/** Row i of a batched tensor as nested arrays of numbers (numpy's tolist of value[i]). */
function nested(data, dims, offset) {
  if (dims.length === 0) return Number(data[offset]);
  const inner = size(dims.slice(1));
  return Array.from({ length: dims[0] }, (_, j) => nested(data, dims.slice(1), offset + j * inner));
}

/**
 * Raw batched outputs ({package output name: {data, dims}}) -> one JSON-ready object per row: top-k for a
 * classifier's probabilities or scores, nested arrays for plain tensors (runtime/tensors.py: format_outputs).
 */
export function formatOutputs(raw, outputs, classes, k) {
  const n = raw[outputs[0].name].dims[0];
  const rows = Array.from({ length: n }, () => ({}));
  for (const s of outputs) {
    const { data, dims } = raw[s.name];
    const width = n ? data.length / n : 0;
    if (CLASS_KINDS.includes(s.kind)) {
      const scores = rows.map((_, i) => Array.from(data.subarray(i * width, (i + 1) * width), Number));
      topK(scores, classes, k, s.kind === 'probabilities' ? 'probability' : 'score').forEach((labelled, i) => Object.assign(rows[i], labelled));
    } else {
      rows.forEach((row, i) => { row[s.name] = nested(data, dims.slice(1), i * width); });
    }
  }
  return rows;
}
