// One stream of records (JSON lines or CSV with a header) scored into prediction lines and error lines, in
// input order: what score.mjs runs on stdin and what its watch mode (web/node/watch.js) runs on each file,
// as runtime/stream.py is for edgepack-score. Lines are split on bytes, so that a line that is not UTF-8 is
// rejected with edgepack-score's reason instead of being read with replacement characters.

import { parseCsv } from '../src/index.js';
import { cellValue } from '../src/csv.js';
import { parseLine } from './lines.js';
import { predictionLine, rejectionLine } from './score-lines.js';

const UTF8 = new TextDecoder('utf-8', { fatal: true });
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** A whole input refused (a CSV header without the model's columns): edgepack-score's DataError, exit 6. */
export class InputRefused extends Error {}

/**
 * Score `input` (an async iterable of Buffers: stdin or a file stream).
 * `opts`: {format, idField, keepFields, strict, batchSize, maxLineBytes}; `write(text)` takes prediction
 * lines (may return a promise), `writeErrors(text)` rejection lines. Returns {scored, rejected}; throws
 * InputRefused when a CSV header lacks a column the model needs.
 */
export async function scoreStream(scorer, input, opts, write, writeErrors) {
  const { idField, keepFields, strict, batchSize, maxLineBytes } = opts;
  const allowedExtra = new Set([...(idField ? [idField] : []), ...keepFields]);
  const stamp = { package: scorer.package.name, version: scorer.package.version };
  const carriedOf = (record) => {
    const has = (k) => record && typeof record === 'object' && Object.prototype.hasOwnProperty.call(record, k);
    return [...(idField ? [['id', has(idField) ? record[idField] : null]] : []),
      ...keepFields.map((k) => [k, has(k) ? record[k] : null])];
  };
  let scored = 0;
  let rejected = 0;

  async function flush(batch) {
    const good = batch.filter((b) => !b.error);
    const result = await scorer.score(good.map((b) => b.record), { allowedExtra, strict });
    const why = new Map(result.rejections.map((r) => [r.record, r]));
    let out = '';
    let err = '';
    let next = 0;
    let g = 0;
    for (const b of batch) {
      if (b.error) { err += rejectionLine(b.line, null, b.error); continue; }
      const r = why.get(g);
      if (r) err += rejectionLine(b.line, r.field, r.reason, idField ? carriedOf(b.record)[0][1] : null);
      else { out += predictionLine(result.predictions[next], stamp, carriedOf(b.record)); next += 1; }
      g += 1;
    }
    scored += next;
    rejected += batch.length - next;
    if (err) await writeErrors(err);
    if (out) await write(out);
  }

  let batch = [];
  let csv = null; // {header, byName}: the CSV layout, from its first line
  for await (const { line, bytes } of byteLines(input)) {
    const raw = line === 1 && bytes.subarray(0, 3).equals(BOM) ? bytes.subarray(3) : bytes; // as edgepack-score
    if (raw.length > maxLineBytes) { // as edgepack-score: rejected, the rest scored
      batch.push({ line, error: `the line is longer than ${maxLineBytes} bytes (--max-line-bytes): skipped` });
    } else {
      let text;
      try {
        text = UTF8.decode(raw);
      } catch {
        if (raw.toString('latin1').trim()) batch.push({ line, error: 'the line is not valid UTF-8' });
        continue;
      }
      if (!text.trim()) continue;
      if (opts.format === 'csv' && csv === null) {
        csv = csvLayout(text, scorer.package.manifest.inputs.features, opts);
        continue;
      }
      batch.push(csv ? csvRecord(csv, text, line) : parseLine(text, line));
    }
    if (batch.length >= batchSize) {
      await flush(batch);
      batch = [];
    }
  }
  if (batch.length) await flush(batch);
  return { scored, rejected };
}

/** Numbered lines of a byte stream, split on "\n", a trailing "\r" dropped (as runtime/stream.py). */
async function* byteLines(input) {
  let rest = Buffer.alloc(0);
  let line = 0;
  for await (const chunk of input) {
    let data = rest.length ? Buffer.concat([rest, chunk]) : Buffer.from(chunk);
    let at;
    while ((at = data.indexOf(0x0a)) >= 0) {
      line += 1;
      yield { line, bytes: stripCr(data.subarray(0, at)) };
      data = data.subarray(at + 1);
    }
    rest = data;
  }
  if (rest.length) yield { line: line + 1, bytes: stripCr(rest) };
}

function stripCr(bytes) {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0x0d) end -= 1;
  return bytes.subarray(0, end);
}

/** The CSV header against the model's inputs (runtime/stream.py's _CsvLayout, the same message): every
 * feature that is not nullable is a column; with --strict nothing else but the copied fields; no repeats. */
function csvLayout(text, features, opts) {
  const header = (text.includes('"') ? (parseCsv(text)[0] ?? []) : text.split(',')).map((h) => h.trim());
  const names = features.map((f) => f.name);
  const carried = [...(opts.idField ? [opts.idField] : []), ...opts.keepFields];
  const missing = features.filter((f) => !f.nullable && !header.includes(f.name)).map((f) => f.name);
  const allowed = new Set([...names, ...carried]);
  const unknown = opts.strict ? header.filter((h) => !allowed.has(h)) : [];
  const repeated = new Set(header).size !== header.length;
  if (missing.length || unknown.length || repeated) {
    const parts = [];
    if (missing.length) parts.push(`missing column(s) ${missing.join(', ')}`);
    if (unknown.length) parts.push(`unknown column(s) ${unknown.join(', ')} (--strict)`);
    if (repeated) parts.push('repeated column names');
    throw new InputRefused(`the CSV header does not match the model's inputs: ${parts.join('; ')} [line 1]\n`
      + `  how to fix: the header must name: ${names.join(', ')}`
      + (carried.length ? ` (and the copied column(s) ${carried.join(', ')})` : '')
      + (opts.strict ? ' and nothing else' : ''));
  }
  return { header, byName: new Map(features.map((f) => [f.name, f])) };
}

/** One CSV line as {line, record} (features typed as edgepack-score types them; other columns as text)
 * or {line, error}. A quoted field spanning lines is not supported here (edgepack-score joins them). */
function csvRecord(csv, text, line) {
  const cells = text.includes('"') ? (parseCsv(text)[0] ?? []) : text.split(',');
  if (cells.length !== csv.header.length) {
    return { line, error: `expected ${csv.header.length} comma-separated fields, found ${cells.length}` };
  }
  const record = {};
  csv.header.forEach((name, j) => {
    const feature = csv.byName.get(name);
    record[name] = feature ? cellValue(feature, cells[j]) : cells[j];
  });
  return { line, record };
}
