// Run a TF.js graph model (model.json + shards on disk) in Node on one float32 input tensor ([N, F], or
// [N, F, 3] for float64 parts), with the
// tfjs cpu or wasm backend: the tests' direct check of TF.js artifacts, independent of web/.
// usage: node tests/tfjs_predict.mjs MODEL_JSON --backend cpu|wasm --modules NODE_MODULES_DIR [--time N]
// stdin: {"input": NAME, "data": [[...], ...], "outputs": [NODE, ...]}; stdout: {NODE: nested arrays}
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const modelPath = args[0];
const backend = opt('--backend', 'cpu');
const require = createRequire(join(opt('--modules', 'web/node_modules'), 'package.json'));

const tf = require('@tensorflow/tfjs-core');
tf.env().set('IS_TEST', true);
require('@tensorflow/tfjs-backend-cpu');
const converter = require('@tensorflow/tfjs-converter');
if (backend === 'wasm') {
  const wasm = require('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + '/');
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
}
if (!(await tf.setBackend(backend))) throw new Error(`cannot start the ${backend} backend`);
await tf.ready();

const modelJson = JSON.parse(readFileSync(modelPath, 'utf8'));
const handler = {
  load: () => tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
    const specs = [];
    const buffers = [];
    for (const group of manifest) {
      specs.push(...group.weights);
      for (const p of group.paths) {
        const b = readFileSync(join(dirname(modelPath), p));
        buffers.push(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
      }
    }
    return [specs, tf.io.concatenateArrayBuffers(buffers)];
  }),
};
const model = await converter.loadGraphModel(handler);
const request = JSON.parse(readFileSync(0, 'utf8'));
const rows = request.data.length;
// [N, F] or [N, F, 3] (float64 parts): the shape of the nested lists, null for NaN
const shape = [rows];
for (let level = request.data[0]; Array.isArray(level); level = level[0]) shape.push(level.length);
const x = tf.tensor(request.data.flat(Infinity).map((v) => (v === null ? NaN : v)), shape, 'float32');
let results = model.execute({ [request.input]: x }, request.outputs);
if (!Array.isArray(results)) results = [results];
const out = {};
request.outputs.forEach((name, i) => { out[name] = results[i].arraySync(); });
out.backend = tf.getBackend();
// --time N: median milliseconds of N runs (execute + read back), after one warm-up run above.
const repeats = Number(opt('--time', 0));
if (repeats > 0) {
  const times = [];
  for (let i = 0; i < repeats; i += 1) {
    const start = process.hrtime.bigint();
    tf.tidy(() => {
      let r = model.execute({ [request.input]: x }, request.outputs);
      if (!Array.isArray(r)) r = [r];
      r.forEach((t) => t.dataSync());
    });
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  out.median_ms = times[Math.floor(times.length / 2)];
}
process.stdout.write(JSON.stringify(out, (k, v) => (typeof v === 'number' && Number.isNaN(v) ? null : v)));
