// JSON lines in and out for the Node CLIs (score.mjs, browser-score.mjs): the same output shape as
// edgepack-score, so that parity runners read both the same way.

import { parseJson } from '../src/jsonl.js';
import { pythonJsonError } from './py-json-error.js';

/** One input line -> {line, record} or {line, error} (a line that is not JSON is a rejected record). */
export function parseLine(text, line) {
  let record;
  try {
    record = parseJson(text);
  } catch (err) {
    // worded as edgepack-score words it (runtime/stream.py with Python's json module's message)
    return { line, error: `not a JSON object: ${pythonJsonError(text) ?? err.message}` };
  }
  // As edgepack-score (runtime/jsonlines.py): a lone surrogate escape anywhere refuses the record.
  if (/\\u[dD][89a-fA-F]/.test(text) && !allText(record)) {
    return { line, error: 'a lone surrogate escape (such as \\ud800) is not Unicode text' };
  }
  return { line, record };
}

function allText(value) {
  if (typeof value === 'string') return value.isWellFormed();
  if (Array.isArray(value)) return value.every(allText);
  if (value && typeof value === 'object') return Object.entries(value).every(([k, v]) => k.isWellFormed() && allText(v));
  return true;
}

/**
 * Output objects, in input order, for a batch of parsed lines scored as {kept, predictions, rejections}
 * (indices into the batch's parsed records). `stamp` ({package, version}) is added to each prediction.
 */
export function resultObjects(batch, scored, stamp, idField = null, keepFields = []) {
  const slot = [];
  batch.forEach((b, i) => { if (!b.error) slot.push(i); });
  const results = batch.map((b) => (b.error ? { error: { line: b.line, field: null, reason: b.error } } : null));
  scored.kept.forEach((k, i) => { results[slot[k]] = { ...scored.predictions[i], ...stamp }; });
  for (const r of scored.rejections) {
    const i = slot[r.record];
    results[i] = { error: { line: batch[i].line, field: r.field, reason: r.reason } };
  }
  if (idField) {
    batch.forEach((b, i) => {
      const record = b.record;
      if (record && typeof record === 'object' && Object.prototype.hasOwnProperty.call(record, idField)) results[i].id = record[idField];
    });
  }
  if (keepFields.length) { // copied fields first, after the id, as edgepack-score writes them (null when absent)
    batch.forEach((b, i) => {
      if (results[i].error) return;
      const record = b.record ?? {};
      const kept = Object.fromEntries(keepFields.map((k) => [k, Object.prototype.hasOwnProperty.call(record, k) ? record[k] : null]));
      const { id, ...rest } = results[i];
      results[i] = id === undefined ? { ...kept, ...rest } : { id, ...kept, ...rest };
    });
  }
  return results;
}
