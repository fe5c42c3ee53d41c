#!/usr/bin/env node
// Score JSON lines with an edge package in Node (generated JS, onnxruntime-web or TF.js): the web counterpart of
// edgepack-score, used by the parity harness's Node runners. See --help.

import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { EdgepackError, EXIT_OK, EXIT_PACKAGE, EXIT_REJECTED, EXIT_USAGE, BACKEND_NAMES, UsageError, loadPackage } from '../src/index.js';
import { parseLine, resultObjects } from '../node/lines.js';

const HELP = `usage: node web/bin/score.mjs PACKAGE [--artifact ID] [--backend NAME] [--id-field NAME] [--keep-fields A,B] [--strict]

Read JSON records (one per line) on stdin, write one JSON line per record on stdout:
  {"label": L, "probabilities": {"<class>": p, ...}, "package": NAME, "version": V}   classification
  {"value": v, "package": NAME, "version": V}                                        regression
  {"error": {"line": n, "field": f, "reason": r}}                                    a rejected record
Records are validated like edgepack-score does (same rules and messages): fields the model does not use
are ignored unless --strict; a nullable field left out is a missing value.

options:
  --artifact ID      artifact to run (default: the package's js artifact, else ONNX, else TF.js)
  --backend NAME     auto (default), ${BACKEND_NAMES.filter((b) => b !== 'tfjs-webgl').join(', ')}
  --id-field NAME    copy this field of each record into its output line as "id" (not a model input)
  --keep-fields A,B  copy these fields of each record into its output line (null when a record lacks one)
  --strict           reject records holding fields the model does not use (default: ignore them)
  --batch N          records per backend call (default 2048)
  --trust KEY|DIR    accept only a package signed by this public key (or any .pub in DIR); else exit 4
  -h, --help         this text

example:
  node web/bin/score.mjs build/churn/package --backend ort-wasm < records.jsonl > scores.jsonl

exit codes: 0 all records scored, 2 usage error, 3 some records rejected (the others were scored),
4 invalid package (unknown format version, checksum mismatch, missing file).`;

function fail(message, code) {
  process.stderr.write(`edgepack-web score: error: ${message}\n`);
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
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    return fail(`${err.message}\n${HELP}`, EXIT_USAGE);
  }
  if (args.values.help) {
    process.stdout.write(`${HELP}\n`);
    return EXIT_OK;
  }
  if (args.positionals.length !== 1) return fail(`give exactly one PACKAGE\n${HELP}`, EXIT_USAGE);
  const batchSize = Number(args.values.batch);
  if (!Number.isInteger(batchSize) || batchSize < 1) return fail('--batch takes a positive integer', EXIT_USAGE);

  let scorer;
  try {
    const trust = args.values.trust === undefined ? undefined : await readTrust(args.values.trust);
    scorer = await loadPackage(args.positionals[0], { artifact: args.values.artifact, backend: args.values.backend, trust });
  } catch (err) {
    if (err instanceof EdgepackError) return fail(err.toString(), err.exitCode);
    return fail(String(err?.stack ?? err), EXIT_PACKAGE);
  }
  const idField = args.values['id-field'];
  const keepFields = args.values['keep-fields'].split(',').map((f) => f.trim()).filter(Boolean);
  const allowedExtra = new Set([...(idField ? [idField] : []), ...keepFields]);
  const strict = args.values.strict;
  const stamp = { package: scorer.package.name, version: scorer.package.version };
  let rejected = 0;

  const write = (text) => new Promise((resolve) => {
    if (process.stdout.write(text)) resolve();
    else process.stdout.once('drain', resolve);
  });

  // Lines are scored in batches, in input order.
  async function flush(batch) {
    const records = batch.filter((b) => !b.error).map((b) => b.record);
    const results = resultObjects(batch, await scorer.score(records, { allowedExtra, strict }), stamp, idField, keepFields);
    rejected += results.filter((r) => r.error).length;
    await write(results.map((r) => `${JSON.stringify(r)}\n`).join(''));
  }

  let batch = [];
  let line = 0;
  const input = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const text of input) {
    line += 1;
    if (!text.trim()) continue;
    batch.push(parseLine(text, line));
    if (batch.length >= batchSize) {
      await flush(batch);
      batch = [];
    }
  }
  if (batch.length) await flush(batch);
  await scorer.dispose();
  return rejected ? EXIT_REJECTED : EXIT_OK;
}

process.exitCode = await main(process.argv.slice(2));
