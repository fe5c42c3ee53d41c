#!/usr/bin/env node
// Per-image latency of a TF.js graph model in Node (benchmarks/tensor_formats.py): the median of REPEATS
// single-image calls after one warm-up, through edgepack-web's engine (web/src/backends/tfjs.js).
// usage: node tfjs_latency.mjs DIR INPUT_NAME DIMS(comma) OUTPUT_NAMES(comma) BACKEND REPEATS
// DIR holds model.json and its weight shards. Prints {"median_ms": x, "runs": n}.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEngine } from '../web/src/backends/tfjs.js';

const [dir, inputName, dimsText, outputsText, backend = 'wasm', repeatsText = '20'] = process.argv.slice(2);
const files = {};
for (const name of readdirSync(dir)) files[name] = new Uint8Array(readFileSync(join(dir, name)));
const engine = await createEngine(backend, files, { file: 'model.json' });
const dims = dimsText.split(',').map(Number);
const data = new Float32Array(dims.reduce((a, b) => a * b, 1)).map((_, i) => Math.sin(i) * 0.5);
const feeds = { [inputName]: { data, dims, dtype: 'float32' } };
const outputs = outputsText.split(',');
await engine.run(feeds, outputs);
const times = [];
for (let i = 0; i < Number(repeatsText); i++) {
  const start = process.hrtime.bigint();
  await engine.run(feeds, outputs);
  times.push(Number(process.hrtime.bigint() - start) / 1e6);
}
times.sort((a, b) => a - b);
process.stdout.write(JSON.stringify({ median_ms: times[Math.floor(times.length / 2)], runs: times.length }));
await engine.dispose();
