// Validate input records against the package's input schema and encode them into the tensors an
// artifact takes. The rules and the messages are those of the Python scorer (runtime/records.py):
// keep the two in step. One bad record never stops the others.

import { RecordError } from './errors.js';
import { pyRepr, pyTypeName } from './pyrepr.js';

/**
 * The value to store for one feature: a number, a string (categories) or null (missing).
 * Throws RecordError with the reason.
 */
export function checkValue(feature, value) {
  if (value === null || value === undefined || (typeof value === 'number' && Number.isNaN(value))) {
    if (feature.nullable) return null;
    throw new RecordError('missing value (null or NaN) where the model needs one', { field: feature.name });
  }
  if (feature.type === 'text') {
    // any string: its words are the model's business (an unseen word counts for nothing)
    if (typeof value !== 'string') {
      throw new RecordError(`expected text (a string), got ${pyTypeName(value)} ${pyRepr(value)}`, { field: feature.name });
    }
    if (!value.isWellFormed()) {
      throw new RecordError(`not valid Unicode text (a lone surrogate) in ${pyRepr(value)}`, { field: feature.name });
    }
    return value;
  }
  if (feature.type === 'category') {
    if (typeof value !== 'string') {
      throw new RecordError(`expected a category (string), got ${pyTypeName(value)} ${pyRepr(value)}`, { field: feature.name });
    }
    if (!value.isWellFormed()) {
      throw new RecordError(`not valid Unicode text (a lone surrogate) in ${pyRepr(value)}`, { field: feature.name });
    }
    const cats = feature.categories;
    if (cats && !cats.includes(value) && (feature.unknown ?? 'error') === 'error') {
      const shown = cats.slice(0, 8).join(', ') + (cats.length > 8 ? ', ...' : '');
      throw new RecordError(`unknown category ${pyRepr(value)}; the model knows: ${shown}`, { field: feature.name });
    }
    return value;
  }
  if (typeof value === 'boolean') {
    if (feature.type === 'bool') return value ? 1 : 0;
    throw new RecordError(`expected a number, got boolean ${pyRepr(value)}`, { field: feature.name });
  }
  if (typeof value !== 'number') {
    throw new RecordError(`expected a number, got ${pyTypeName(value)} ${pyRepr(value)}`, { field: feature.name });
  }
  if (!Number.isFinite(value)) throw new RecordError('infinity is not a valid value', { field: feature.name });
  if (feature.type === 'int' && !Number.isInteger(value)) {
    throw new RecordError(`expected an integer, got ${pyRepr(value)}`, { field: feature.name });
  }
  if (feature.type === 'bool' && value !== 0 && value !== 1) {
    throw new RecordError(`expected a boolean (true/false or 0/1), got ${pyRepr(value)}`, { field: feature.name });
  }
  return value;
}

/**
 * The record's values in schema order, or RecordError naming the first bad field.
 * The input contract (runtime/records.py): fields the model does not use are ignored, unless `strict`,
 * where only the features and `allowedExtra` may appear; a nullable feature left out is missing (null).
 * @param {{features: object[]}} schema  the manifest's `inputs`
 * @param {Set<string>} [allowedExtra]   fields allowed besides the features when strict (an id field)
 * @param {boolean} [strict]             refuse fields the model does not use
 */
export function checkRecord(schema, record, allowedExtra = new Set(), strict = false) {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) {
    throw new RecordError(`a record must be a JSON object, got ${pyTypeName(record)}`);
  }
  if (strict) {
    const names = new Set(schema.features.map((f) => f.name));
    for (const key of Object.keys(record)) {
      if (!allowedExtra.has(key) && !names.has(key)) {
        throw new RecordError('unknown field: the model has no such input (--strict)', { field: key });
      }
    }
  }
  return schema.features.map((feature) => {
    if (!Object.prototype.hasOwnProperty.call(record, feature.name)) {
      if (feature.nullable) return null;
      throw new RecordError('missing field', { field: feature.name });
    }
    return checkValue(feature, record[feature.name]);
  });
}

/**
 * Validate records. Returns the good rows (values in schema order), their indices and the rejections
 * ({record, field, reason}); `start` numbers the records (the CLI counts lines from 1).
 */
export function validateRecords(schema, records, { allowedExtra = new Set(), start = 0, strict = false } = {}) {
  const rows = [];
  const kept = [];
  const rejections = [];
  let index = start;
  for (const record of records) {
    try {
      rows.push(checkRecord(schema, record, allowedExtra, strict));
      kept.push(index);
    } catch (err) {
      if (!(err instanceof RecordError)) throw err;
      rejections.push({ record: index, field: err.field, reason: err.reason });
    }
    index += 1;
  }
  return { rows, kept, rejections };
}

/** Index of a category in the manifest's list, -1 when the list does not hold it, NaN when missing (contract 2:
 * a model may treat a missing category otherwise than an unknown one). */
export function categoryIndex(categories, value) {
  return value === null ? NaN : (categories ?? []).indexOf(value);
}

const TYPED = {
  float64: (n) => new Float64Array(n),
  float32: (n) => new Float32Array(n),
  int32: (n) => new Int32Array(n),
  int64: (n) => new BigInt64Array(n),
};

/** A checked value in a numeric tensor: a category as its index (-1 unknown), NaN for missing. */
function numberOf(feature, v) {
  if (feature.type === 'category') return categoryIndex(feature.categories, v);
  return v === null ? NaN : v;
}

// A tree artifact whose source decides in float64 takes each number as three float32 parts
// (runtime/records.py FLOAT64_PARTS; docs/ARCHITECTURE.md, "Exact tree decisions").
export const FLOAT64_PARTS = 'float64-parts';
const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * A double as its three float32 parts [hi, mid, lo] (hi = fround(x), mid = fround(x - hi),
 * lo = fround(x - hi - mid): their sum is x exactly, and the triples order like the numbers). NaN stays
 * NaN; a number beyond float32's range is carried as (+-its largest value, 0, 0). runtime/records.py
 * float64_parts splits the same way.
 */
export function float64Parts(x) {
  const hi = Math.fround(x);
  if (hi === Infinity || hi === -Infinity) return [Math.sign(x) * FLOAT32_MAX, 0, 0];
  const rest = x - hi;
  const mid = Math.fround(rest);
  return [hi, mid, Math.fround(rest - mid)];
}

/**
 * Arrange checked rows into the artifact's input tensors, as its manifest entry declares (contract 2):
 * a `string` tensor takes categories and text as strings (text lowercased where the entry says `lowercase`); a numeric tensor takes numbers (NaN for missing) and
 * categories as their index in the manifest's `categories`, -1 when unknown. Shape [N, features], or
 * [N, features, 3] float32 for dtype `float64-parts` (each value as float64Parts).
 * @returns {Record<string, {dtype: string, data: ArrayLike<any>, dims: number[]}>}
 */
export function tensorsFor(binding, rows, schema) {
  const position = new Map(schema.features.map((f, j) => [f.name, j]));
  const feeds = {};
  for (const tensor of binding) {
    const cols = tensor.features.map((name) => {
      const j = position.get(name);
      if (j === undefined) throw new Error(`the artifact's input ${tensor.name} names an unknown feature ${name}`);
      return j;
    });
    const n = rows.length;
    const f = cols.length;
    let data;
    let [dtype, dims] = [tensor.dtype, [n, f]];
    if (tensor.dtype === 'string') {
      data = new Array(n * f);
      for (let i = 0; i < n; i++) for (let k = 0; k < f; k++) data[i * f + k] = rows[i][cols[k]] ?? '';
      // text as Python's str.lower gives it (runtime/records.py lowercased): toLowerCase is the same full
      // Unicode mapping ("İ" -> "i̇", a final "Σ" -> "ς")
      if (tensor.lowercase) for (let i = 0; i < data.length; i++) data[i] = data[i].toLowerCase();
    } else if (tensor.dtype === FLOAT64_PARTS) {
      data = new Float32Array(n * f * 3);
      for (let k = 0; k < f; k++) {
        const feature = schema.features[cols[k]];
        for (let i = 0; i < n; i++) data.set(float64Parts(numberOf(feature, rows[i][cols[k]])), (i * f + k) * 3);
      }
      [dtype, dims] = ['float32', [n, f, 3]];
    } else {
      const make = TYPED[tensor.dtype];
      if (!make) throw new Error(`unsupported tensor dtype ${tensor.dtype}`);
      data = make(n * f);
      const big = tensor.dtype === 'int64';
      for (let k = 0; k < f; k++) {
        const feature = schema.features[cols[k]];
        for (let i = 0; i < n; i++) {
          const x = numberOf(feature, rows[i][cols[k]]);
          if (big && Number.isNaN(x)) throw new Error(`feature ${feature.name}: an int64 tensor cannot hold a missing value`);
          data[i * f + k] = big ? BigInt(Math.trunc(x)) : x;
        }
      }
    }
    feeds[tensor.name] = { dtype, data, dims };
  }
  return feeds;
}
