// TF.js graph models (contract 5): file = tfjs/<id>/model.json, weight shards in `files`, run with
// model.execute({input: tensor}, Object.values(entry.outputs)). Backends cpu, wasm and webgl.

import { isNode, moduleDir } from './assets.js';

const BACKEND_MODULES = {
  cpu: () => import('@tensorflow/tfjs-backend-cpu'),
  wasm: () => import('@tensorflow/tfjs-backend-wasm'),
  webgl: () => import('@tensorflow/tfjs-backend-webgl'),
};

let quietNode = false;

async function tfjsCore() {
  const tf = await import('@tensorflow/tfjs-core');
  if (isNode() && !quietNode) {
    // tfjs-core suggests installing tfjs-node at startup; that package cannot install here, and the
    // advice would land in every CLI run's stderr.
    tf.env().set('IS_TEST', true);
    quietNode = true;
  }
  return tf;
}

/** Switch TF.js to `name` (one backend is active per page/process); load it on first use. */
export async function useBackend(name, options = {}) {
  const tf = await tfjsCore();
  if (tf.getBackend() === name && tf.engine().backendInstance) return tf;
  const module = await BACKEND_MODULES[name]();
  if (name === 'wasm') {
    const dir = options.wasmPaths?.tfjs ?? moduleDir('@tensorflow/tfjs-backend-wasm');
    if (dir) module.setWasmPaths(dir);
    // Threads need a cross-origin-isolated page; one thread is plenty for tabular models.
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  }
  if (!(await tf.setBackend(name))) throw new Error(`TF.js could not start its ${name} backend`);
  await tf.ready();
  return tf;
}

/** model.json + shards (verified bytes) -> tf.io ModelArtifacts, shards concatenated in manifest order. */
function artifactsFrom(tf, files, entry) {
  const modelJson = JSON.parse(new TextDecoder().decode(files[entry.file]));
  const dir = entry.file.includes('/') ? entry.file.slice(0, entry.file.lastIndexOf('/') + 1) : '';
  return tf.io.getModelArtifactsForJSON(modelJson, async (weightsManifest) => {
    const specs = [];
    const buffers = [];
    for (const group of weightsManifest) {
      specs.push(...group.weights);
      for (const path of group.paths) {
        const bytes = files[dir + path];
        if (!bytes) throw new Error(`weight shard ${dir + path} is not among the artifact's files`);
        buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      }
    }
    return [specs, tf.io.concatenateArrayBuffers(buffers)];
  });
}

// TF.js computes in float32, int32 and bool: wider or narrower integers (a tensor package's int64 or uint8
// inputs) go in as int32, float64 as float32.
const TFJS_DTYPES = { float64: 'float32', int64: 'int32', uint8: 'int32' };

function numeric(tf, t) {
  const dtype = TFJS_DTYPES[t.dtype] ?? t.dtype;
  const data = dtype === 'int32' && !(t.data instanceof Int32Array) ? Int32Array.from(t.data, Number) : t.data;
  return tf.tensor(data, t.dims, dtype);
}

/**
 * @param {'cpu'|'wasm'|'webgl'} backendName
 * @param {Record<string, Uint8Array>} files  the artifact's verified files
 */
export async function createEngine(backendName, files, entry, options = {}) {
  const tf = await useBackend(backendName, options);
  const { loadGraphModel } = await import('@tensorflow/tfjs-converter');
  const model = await loadGraphModel({ load: () => artifactsFrom(tf, files, entry) });
  return {
    runtime: `tfjs-${backendName}`,
    version: tf.version_core,

    async run(feeds, outputNames) {
      await useBackend(backendName, options);
      const inputs = {};
      for (const [name, t] of Object.entries(feeds)) {
        inputs[name] = t.dtype === 'string' ? tf.tensor(Array.from(t.data), t.dims, 'string') : numeric(tf, t);
      }
      let results;
      try {
        results = model.execute(inputs, outputNames);
      } catch (err) {
        // Graphs with control flow or dynamic shapes need the asynchronous executor.
        if (!/executeAsync/.test(String(err?.message))) throw err;
        results = await model.executeAsync(inputs, outputNames);
      } finally {
        tf.dispose(Object.values(inputs));
      }
      const list = Array.isArray(results) ? results : [results];
      const out = {};
      for (let i = 0; i < outputNames.length; i++) {
        out[outputNames[i]] = { data: await list[i].data(), dims: list[i].shape };
      }
      tf.dispose(list);
      return out;
    },

    async dispose() {
      model.dispose();
    },
  };
}
