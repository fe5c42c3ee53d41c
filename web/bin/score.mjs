#!/usr/bin/env node
// Score JSON lines with an edge package in Node (generated JS, onnxruntime-web or TF.js): the web counterpart of
// edgepack-score, used by the parity harness's Node runners. See --help.

import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { EdgepackError, EXIT_OK, EXIT_PACKAGE, EXIT_REJECTED, EXIT_USAGE, BACKEND_NAMES, UsageError, loadPackage } from '../src/index.js';
import { createWriteStream } from 'node:fs';
import { pyG, pyRepr, renderTable } from '../node/score-lines.js';
import { InputRefused, scoreStream } from '../node/score-stream.js';
import { WATCH_HELP, WATCH_OPTIONS, checkWatchArgs, runWatch } from '../node/watch.js';
import { scoreTensorLines, tensorSelftestText } from '../node/tensor-lines.js';

const PROG = 'score.mjs';

const HELP = `usage: node web/bin/score.mjs PACKAGE [--artifact ID] [--backend NAME] [--id-field NAME] [--keep-fields A,B]
                                [--strict] [--errors FILE] [--quiet]
       node web/bin/score.mjs PACKAGE --watch IN_DIR --out OUT_DIR [--once] [--interval S] [--min-age S]
       node web/bin/score.mjs selftest PACKAGE [--artifact ID] [--backend NAME]

Read JSON records (one per line) on stdin, write one JSON line per scored record on stdout, and one
line per rejected record on stderr (or --errors FILE): the lines of edgepack-score, byte for byte.
  {"label": L, "probabilities": {"<class>": p, ...}, "package": NAME, "version": V}   classification
  {"value": v, "package": NAME, "version": V}                                        regression
  {"line":n,"field":f,"reason":r}                                                    a rejected record
A tensor package (format version 2) takes one JSON object of named nested arrays per line and writes
edgepack-score's tensor lines: {"label": L, "top_k": [{"class": C, "probability": p}, ...]} for a
classifier, {"<output>": [...]} for a plain tensor (--id-field, --errors, --line-buffered, --quiet apply).
Records are validated like edgepack-score does (same rules and messages): fields the model does not use
are ignored unless --strict; a nullable field left out is a missing value. At the end a summary line on
stderr ("score.mjs: N scored, M rejected") unless --quiet.

options:
  --artifact ID      artifact to run (default: the package's js artifact, else ONNX, else TF.js)
  --backend NAME     auto (default), ${BACKEND_NAMES.filter((b) => b !== 'tfjs-webgl').join(', ')}
  --id-field NAME    copy this field of each record into its output line as "id" (not a model input)
  --keep-fields A,B  copy these fields of each record into its output line (null when a record lacks one)
  --strict           reject records holding fields the model does not use (default: ignore them)
  --format jsonl|csv input on stdin: JSON lines (default), or CSV with a header row (exit 6 when it lacks a
                     column the model needs; a quoted field may not span lines here)
  --line-buffered    score and write each record as its line arrives (default: batches of --batch)
  --max-line-bytes N reject lines longer than N bytes (default 1048576); Node still reads such a line whole
  --errors FILE      write the rejected-record lines to FILE instead of stderr
  --quiet            no summary line at the end
  --batch N          records per backend call (default 2048)
  --trust KEY|DIR    accept only a package signed by this public key (or any .pub in DIR); else exit 4
  -h, --help         this text

example:
  node web/bin/score.mjs build/churn/package --backend ort-wasm < records.jsonl > scores.jsonl

${WATCH_HELP}

selftest scores the golden vectors and prints edgepack-score selftest's table and verdict.

exit codes: 0 all records scored (selftest: within tolerance), 1 selftest out of tolerance, 2 usage error, 3 some records rejected (the others were scored),
4 invalid package (unknown format version, checksum mismatch, missing file).`;

function fail(message, code) {
  process.stderr.write(`${PROG}: error: ${message}\n`);
  return code;
}

/** PEM public keys from a .pub/.pem file or a directory of them (as edgepack-score --trust). */
async function readTrust(path) {
  const { readFile, readdir, stat } = await import('node:fs/promises');
  const { join } = await import('node:path');
  let files;
  try {
    files = (await stat(path)).isDirectory()
      ? (await readdir(path)).filter((f) => f.endsWith('.pub') || f.endsWith('.pem')).sort().map((f) => join(path, f))
      : [path];
  } catch {
    throw new UsageError(`no trusted key at ${path}`, { fix: 'pass a public key file written by `edgepack keygen`, or a directory of them' });
  }
  if (files.length === 0) throw new UsageError(`no public key (*.pub, *.pem) in ${path}`, { fix: 'copy the .pub file written by `edgepack keygen` there' });
  return Promise.all(files.map((f) => readFile(f, 'utf8')));
}

async function main(argv) {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        artifact: { type: 'string' },
        backend: { type: 'string', default: 'auto' },
        'id-field': { type: 'string' },
        'keep-fields': { type: 'string', default: '' },
        strict: { type: 'boolean', default: false },
        batch: { type: 'string', default: '2048' },
        trust: { type: 'string' },
        errors: { type: 'string' },
        format: { type: 'string', default: 'jsonl' },
        'line-buffered': { type: 'boolean', default: false },
        'max-line-bytes': { type: 'string', default: String(1 << 20) },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
        ...WATCH_OPTIONS,
      },
    });
  } catch (err) {
    return fail(`${err.message}\n${HELP}`, EXIT_USAGE);
  }
  if (args.values.help) {
    process.stdout.write(`${HELP}\n`);
    return EXIT_OK;
  }
  const selftest = args.positionals[0] === 'selftest';
  if (selftest) args.positionals.shift();
  if (args.positionals.length !== 1) return fail(`give exactly one PACKAGE\n${HELP}`, EXIT_USAGE);
  const batchSize = args.values['line-buffered'] ? 1 : Number(args.values.batch);
  const maxLineBytes = Number(args.values['max-line-bytes']);
  if (!Number.isInteger(maxLineBytes) || maxLineBytes < 1) return fail('--max-line-bytes takes a positive integer', EXIT_USAGE);
  if (!Number.isInteger(batchSize) || batchSize < 1) return fail('--batch takes a positive integer', EXIT_USAGE);
  const watchUsage = checkWatchArgs(args.values);
  if (watchUsage) return fail(watchUsage, EXIT_USAGE);

  let scorer;
  try {
    const trust = args.values.trust === undefined ? undefined : await readTrust(args.values.trust);
    scorer = await loadPackage(args.positionals[0], { artifact: args.values.artifact, backend: args.values.backend, trust });
  } catch (err) {
    if (err instanceof EdgepackError) return fail(err.toString(), err.exitCode);
    return fail(String(err?.stack ?? err), EXIT_PACKAGE);
  }
  if (selftest) return scorer.tensor ? runTensorSelftest(scorer) : runSelftest(scorer);
  if (scorer.tensor) return scoreTensors(scorer, args.values);
  if (!['jsonl', 'csv'].includes(args.values.format)) return fail(`--format: choose jsonl or csv, not ${args.values.format}`, EXIT_USAGE);
  const opts = {
    format: args.values.format,
    idField: args.values['id-field'],
    keepFields: args.values['keep-fields'].split(',').map((f) => f.trim()).filter(Boolean),
    strict: args.values.strict,
    batchSize,
    maxLineBytes,
  };
  if (args.values.watch !== undefined) return runWatch(scorer, args.values, opts, PROG);

  const write = (text) => new Promise((resolve) => {
    if (process.stdout.write(text)) resolve();
    else process.stdout.once('drain', resolve);
  });
  let errors = process.stderr;
  if (args.values.errors !== undefined) {
    errors = createWriteStream(args.values.errors);
    const opened = await new Promise((resolve) => { errors.once('open', () => resolve(null)); errors.once('error', resolve); });
    if (opened) return fail(`cannot write --errors ${args.values.errors}: ${opened.message}`, EXIT_USAGE);
  }
  let counts;
  try {
    counts = await scoreStream(scorer, process.stdin, opts, write, (text) => { errors.write(text); });
  } catch (err) {
    if (!(err instanceof InputRefused)) throw err;
    await scorer.dispose();
    return fail(err.message, EXIT_DATA);
  }
  await scorer.dispose();
  if (errors !== process.stderr) await new Promise((resolve) => errors.end(resolve));
  if (!args.values.quiet) {
    const where = args.values.errors !== undefined && counts.rejected ? ` (see ${args.values.errors})` : '';
    process.stderr.write(`${PROG}: ${counts.scored} scored, ${counts.rejected} rejected${where}\n`);
  }
  return counts.rejected ? EXIT_REJECTED : EXIT_OK;
}

const EXIT_DATA = 6;

/** `score.mjs selftest PACKAGE`: edgepack-score selftest's table and verdict line, exit 0 or 1. */
async function runSelftest(scorer) {
  const r = await scorer.selftest();
  const tol = r.tolerance;
  const rows = [['rows', r.rows, '']];
  const failures = [];
  if (r.labelAgreement !== null) {
    rows.push(['label agreement', r.labelAgreement, `>= ${pyRepr(tol.min_label_agreement)}`]);
    rows.push(['max probability error', r.maxError, `<= ${pyRepr(tol.max_probability_error)}`]);
    if (!(r.labelAgreement >= tol.min_label_agreement)) failures.push(`label agreement ${r.labelAgreement.toFixed(4)} < ${pyRepr(tol.min_label_agreement)}`);
    if (!(r.maxError <= tol.max_probability_error)) failures.push(`probability error ${pyG(r.maxError, 3)} > ${pyRepr(tol.max_probability_error)}`);
  } else {
    rows.push(['max value error (scaled)', r.maxError, `<= ${pyRepr(tol.max_value_error)}`]);
    if (!(r.maxError <= tol.max_value_error)) failures.push(`scaled value error ${pyG(r.maxError, 3)} > ${pyRepr(tol.max_value_error)}`);
  }
  const title = `selftest ${scorer.package.name} ${scorer.package.version}, artifact ${scorer.artifact.id}`;
  process.stdout.write(`${renderTable(['check', 'measured', 'tolerance'], rows, title)}\n`);
  process.stdout.write(r.passed ? 'PASS\n' : `FAIL: outside the package's tolerance (${failures.join('; ')})\n`);
  await scorer.dispose();
  return r.passed ? EXIT_OK : 1;
}

/** A tensor package's JSON lines, as edgepack-score scores them (web/node/tensor-lines.js). */
async function scoreTensors(scorer, options) {
  if (options.format !== 'jsonl') {
    await scorer.dispose();
    return fail('a tensor package takes --format jsonl (one object of named nested arrays per line)', EXIT_USAGE);
  }
  let errors = process.stderr;
  if (options.errors !== undefined) {
    errors = createWriteStream(options.errors);
    const opened = await new Promise((resolve) => { errors.once('open', () => resolve(null)); errors.once('error', resolve); });
    if (opened) return fail(`cannot write --errors ${options.errors}: ${opened.message}`, EXIT_USAGE);
  }
  const write = (text) => new Promise((resolve) => { if (process.stdout.write(text)) resolve(); else process.stdout.once('drain', resolve); });
  const counts = await scoreTensorLines(scorer, process.stdin, write, errors, { idField: options['id-field'] ?? null, lineBuffered: options['line-buffered'] });
  await scorer.dispose();
  if (errors !== process.stderr) await new Promise((resolve) => errors.end(resolve));
  if (!options.quiet) process.stderr.write(`${PROG}: ${counts.scored} scored, ${counts.rejected} rejected\n`);
  return counts.rejected ? EXIT_REJECTED : EXIT_OK;
}

/** `score.mjs selftest PACKAGE` for a tensor package: edgepack-score selftest's table and verdict. */
async function runTensorSelftest(scorer) {
  const result = await scorer.selftest();
  process.stdout.write(tensorSelftestText(scorer, result));
  await scorer.dispose();
  return result.passed ? EXIT_OK : 1;
}

process.exitCode = await main(process.argv.slice(2));
