// edgepack-score's lines for tensor packages (runtime/tensor_stream.py, runtime/cli.py), byte for byte, for
// web/bin/score.mjs. Python writes them with json.dumps: ", " and ": " separators, non-ASCII escaped, floats
// as repr (1.0, 1e-05):
//   prediction  {"id": I, "label": L, "top_k": [{"class": C, "probability": p}, ...]}   a classifier
//               {"id": I, "<output>": [[...], ...]}                                     a plain tensor
//   rejection   {"line": 7, "field": "image", "reason": "...", "id": I}                  (stderr or --errors FILE)

import { createInterface } from 'node:readline';
import { parseJson } from '../src/jsonl.js';
import { pyRepr, renderTable } from './score-lines.js';

const BATCH_RECORDS = 32; // runtime/tensor_stream.py
const BATCH_BYTES = 4 << 20;

/** Python's repr of a float. */
export function pyFloat(x) {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  return Object.is(x, -0) ? '-0.0' : pyRepr(x);
}

/** json.dumps of a string (ensure_ascii: everything outside ' '..'~' escaped, as \\uXXXX). */
export function pyString(text) {
  return JSON.stringify(text).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** json.dumps of a value read from JSON (ids, class names): integers as integers, other numbers as floats. */
export function pyValue(v) {
  if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) < 2 ** 53 ? String(v) : pyFloat(v);
  if (typeof v === 'string') return pyString(v);
  if (Array.isArray(v)) return `[${v.map(pyValue).join(', ')}]`;
  if (v && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${pyString(k)}: ${pyValue(x)}`).join(', ')}}`;
  return JSON.stringify(v ?? null);
}

const floats = (v) => (Array.isArray(v) ? `[${v.map(floats).join(', ')}]` : pyFloat(v));

/** One prediction line (newline-terminated) from a TensorScorer row; `id` first when not null. */
export function tensorPredictionLine(row, id = null) {
  const parts = id === null || id === undefined ? [] : [`"id": ${pyValue(id)}`];
  for (const [key, value] of Object.entries(row)) {
    if (key === 'label') parts.push(`"label": ${pyValue(value)}`);
    else if (key === 'top_k') {
      const best = value.map((entry) => `{${Object.entries(entry).map(([k, x]) => `${pyString(k)}: ${k === 'class' ? pyValue(x) : pyFloat(x)}`).join(', ')}}`);
      parts.push(`"top_k": [${best.join(', ')}]`);
    } else parts.push(`${pyString(key)}: ${floats(value)}`);
  }
  return `{${parts.join(', ')}}\n`;
}

export function tensorRejectionLine(line, field, reason, id = null) {
  const tail = id === null || id === undefined ? '' : `, "id": ${pyValue(id)}`;
  return `{"line": ${line}, "field": ${field === null || field === undefined ? 'null' : pyString(field)}, "reason": ${pyString(reason)}${tail}}\n`;
}

/**
 * Score JSON lines of named tensors from `input` with a TensorScorer: prediction lines to `write` (async),
 * rejection lines to `errors`, in batches of 32 records or 4 MiB as edgepack-score. Returns {scored, rejected}.
 */
export async function scoreTensorLines(scorer, input, write, errors, { idField = null, lineBuffered = false } = {}) {
  const counts = { scored: 0, rejected: 0 };
  let pending = [];
  let bytes = 0;
  const limit = lineBuffered ? 1 : BATCH_RECORDS;
  const flush = async () => {
    const records = [];
    const lines = [];
    const ids = [];
    const failed = [];
    for (const { number, text } of pending) {
      let record;
      try {
        record = parseJson(text);
      } catch (err) {
        failed.push({ number, field: null, reason: `not valid JSON: ${err.message}`, id: null });
        continue;
      }
      let id = null;
      if (idField !== null && record !== null && typeof record === 'object' && !Array.isArray(record) && Object.hasOwn(record, idField)) {
        id = record[idField];
        delete record[idField];
      }
      records.push(record);
      lines.push(number);
      ids.push(id);
    }
    const { kept, predictions, rejections } = await scorer.score(records);
    for (const r of rejections) failed.push({ number: lines[r.record], field: r.field, reason: r.reason, id: ids[r.record] });
    failed.sort((a, b) => a.number - b.number); // error lines in input order
    errors.write(failed.map((f) => tensorRejectionLine(f.number, f.field, f.reason, f.id)).join(''));
    counts.rejected += failed.length;
    const out = kept.map((index, k) => tensorPredictionLine(predictions[k], ids[index])).join('');
    if (out) await write(out);
    counts.scored += kept.length;
    pending = [];
    bytes = 0;
  };
  let number = 0;
  for await (const text of createInterface({ input, crlfDelay: Infinity })) {
    number += 1;
    if (!text.trim()) continue;
    pending.push({ number, text });
    bytes += Buffer.byteLength(text) + 1;
    if (pending.length >= limit || bytes >= BATCH_BYTES) await flush();
  }
  if (pending.length) await flush();
  return counts;
}

/** edgepack-score selftest's table and verdict for a tensor package (runtime/cli.py: _tensor_selftest). */
export function tensorSelftestText(scorer, result) {
  const tol = result.tolerance;
  const rows = [['rows', result.rows, '']];
  if (result.top1Agreement !== null) rows.push(['top-1 agreement', result.top1Agreement, `>= ${pyRepr(tol.min_top1_agreement)}`]);
  rows.push(['max abs error', result.maxAbsError, `<= ${pyRepr(tol.max_abs_error)}`]);
  rows.push(['min cosine similarity', result.minCosine, `>= ${pyRepr(tol.min_cosine)}`]);
  const title = `selftest ${scorer.package.name} ${scorer.package.version}, artifact ${scorer.artifact.id}`;
  return `${renderTable(['check', 'measured', 'tolerance'], rows, title)}\n${result.passed ? 'PASS' : "FAIL: outside the package's tolerance"}\n`;
}
