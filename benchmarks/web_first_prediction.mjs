// The measuring half of benchmarks/web_first_prediction.py (run it, not this). One measurement per
// process, printed as one JSON line:
//   node benchmarks/web_first_prediction.mjs node PACKAGE BACKEND RECORDS_JSON
//     in this fresh process: edgepack-web imported, then loadPackage(PACKAGE, {backend}) + predict([record])
//     timed (seconds) and the process's time from its start to that prediction; then, warm, the records
//     of RECORDS_JSON (a list) scored in one call, again and again for about a second: records per second
//   node benchmarks/web_first_prediction.mjs page URL BACKEND RUNS
//     headless Chromium, a new browser context per run (nothing cached; edgepack serve sends no-store):
//     the demo page's navigation start to its first form prediction, per run (seconds)

import { performance } from 'node:perf_hooks';

const [mode, target, backend, extra] = process.argv.slice(2);

if (mode === 'node') {
  const { loadPackage } = await import('../web/src/index.js');
  const start = performance.now();
  const scorer = await loadPackage(target, { backend });
  const records = JSON.parse(extra);
  const [prediction] = await scorer.predict(records.slice(0, 1));
  const done = performance.now();
  let scored = 0;
  const warm = performance.now();
  while (performance.now() - warm < 1000) scored += (await scorer.predict(records)).length;
  const recordsPerS = scored / ((performance.now() - warm) / 1e3);
  process.stdout.write(`${JSON.stringify({ backend: scorer.backend, load_and_predict_s: (done - start) / 1e3, process_s: done / 1e3, records_per_s: recordsPerS, prediction })}\n`);
  await scorer.dispose();
} else if (mode === 'page') {
  const { launch } = await import('../web/node/chromium.js');
  const browser = await launch();
  const runs = [];
  try {
    for (let i = 0; i < Number(extra); i++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      const url = new URL(target);
      url.searchParams.set('backend', backend);
      await page.goto(url.href);
      const info = await page.evaluate(() => window.edgepack.ready);
      if (info.backend !== backend) throw new Error(`the page ran ${info.backend}, not ${backend}`);
      runs.push(info.firstPredictionMs / 1e3);
      await context.close();
    }
  } finally {
    await browser.close();
  }
  process.stdout.write(`${JSON.stringify({ backend, first_prediction_s: runs })}\n`);
} else {
  process.stderr.write('usage: see benchmarks/web_first_prediction.py\n');
  process.exitCode = 2;
}
