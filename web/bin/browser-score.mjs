#!/usr/bin/env node
// Score JSON lines in a real browser: open the demo page served by `edgepack serve` in headless
// Chromium, score the records in the page, and write the same lines as score.mjs. The chromium parity
// runner uses it. See --help.

import { parseArgs } from 'node:util';
import { launch } from '../node/chromium.js';
import { parseLine, resultObjects } from '../node/lines.js';
import { tensorPredictionLine } from '../node/tensor-lines.js';

const HELP = `usage: node web/bin/browser-score.mjs URL [--backend NAME] [--artifact ID] [--screenshot FILE]

URL is the page of \`edgepack serve PACKAGE\`. Reads JSON records (one per line) on stdin, scores them
in headless Chromium (Debian's /usr/bin/chromium, or $EDGEPACK_CHROMIUM) and writes one JSON line per
record, as web/bin/score.mjs does. For a tensor package (JSON objects of named nested arrays) a scored
record's line is edgepack-score's tensor line ({"label", "top_k": [...]}, or {"<output>": [...]}).

options:
  --backend NAME       auto (default), js, ort-wasm, tfjs-wasm, tfjs-webgl, tfjs-cpu
  --artifact ID        artifact to run (default: the package's default)
  --screenshot FILE    save a screenshot of the page after scoring
  --timeout MS         how long the page may take to load the package (default 60000)

example:
  edgepack serve build/churn/package --port 8765 &
  node web/bin/browser-score.mjs http://127.0.0.1:8765/ --backend tfjs-wasm < records.jsonl

exit codes: 0 all scored, 2 usage error, 3 some records rejected, 4 the page refused the package.`;

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(argv) {
  let args;
  try {
    args = parseArgs({ args: argv, allowPositionals: true, options: {
      backend: { type: 'string', default: 'auto' }, artifact: { type: 'string' }, screenshot: { type: 'string' },
      timeout: { type: 'string', default: '60000' }, help: { type: 'boolean', short: 'h' },
    } });
  } catch (err) {
    process.stderr.write(`browser-score: error: ${err.message}\n${HELP}\n`);
    return 2;
  }
  if (args.values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (args.positionals.length !== 1) {
    process.stderr.write(`browser-score: error: give the page URL\n${HELP}\n`);
    return 2;
  }
  const url = new URL(args.positionals[0]);
  if (args.values.backend !== 'auto') url.searchParams.set('backend', args.values.backend);
  if (args.values.artifact) url.searchParams.set('artifact', args.values.artifact);

  const text = await readStdin();
  const batch = [];
  text.split(/\r?\n/).forEach((line, i) => { if (line.trim()) batch.push(parseLine(line, i + 1)); });
  const records = batch.filter((b) => !b.error).map((b) => b.record);

  const browser = await launch();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 960 } });
    await page.goto(url.href);
    const info = await page.evaluate(() => window.edgepack.ready.then((r) => ({ ok: r }), (e) => ({ error: e.toString() })));
    if (info.error) {
      process.stderr.write(`browser-score: the page refused the package: ${info.error}\n`);
      if (args.values.screenshot) await page.screenshot({ path: args.values.screenshot, fullPage: true });
      return 4;
    }
    process.stderr.write(`browser-score: ${info.ok.package} ${info.ok.version}, artifact ${info.ok.artifact}, backend ${info.ok.backend} (${info.ok.runtime} ${info.ok.runtimeVersion})\n`);
    // Playwright carries NaN and infinities across; records are scored in one call, in order.
    const scored = await page.evaluate((recs) => window.edgepack.score(recs), records);
    const results = info.ok.tensor ? resultObjects(batch, scored, {}) : resultObjects(batch, scored, { package: info.ok.package, version: info.ok.version });
    const line = (r) => (info.ok.tensor && !r.error ? tensorPredictionLine(r) : `${JSON.stringify(r)}\n`);
    process.stdout.write(results.map(line).join(''));
    if (args.values.screenshot) await page.screenshot({ path: args.values.screenshot, fullPage: true });
    return results.some((r) => r.error) ? 3 : 0;
  } finally {
    await browser.close();
  }
}

process.exitCode = await main(process.argv.slice(2));
