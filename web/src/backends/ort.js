// onnxruntime-web (WebAssembly) for ONNX artifacts: float64 numbers and string categories go in as the
// manifest binds them, ai.onnx.ml operators included. The wasm files come from the package/app itself.

import { moduleDir } from './assets.js';

/**
 * @param {Record<string, Uint8Array>} files  the artifact's verified files
 * @param {object} entry                      the manifest's artifact entry
 * @param {{wasmPaths?: {ort?: string}, threads?: number}} options
 */
export async function createEngine(files, entry, options = {}) {
  const ort = await import('onnxruntime-web');
  // One thread: tabular models are small, and threads need a cross-origin-isolated page anyway.
  ort.env.wasm.numThreads = options.threads ?? 1;
  ort.env.logLevel = 'error';
  const wasmDir = options.wasmPaths?.ort ?? moduleDir('onnxruntime-web');
  if (wasmDir) ort.env.wasm.wasmPaths = wasmDir;
  const session = await ort.InferenceSession.create(files[entry.file], {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
  });
  return {
    runtime: 'onnxruntime-web',
    version: ort.env.versions?.web ?? 'unknown',

    /** feeds: {name: {dtype, data, dims}} -> {output node name: {data, dims}} */
    async run(feeds, outputNames) {
      const tensors = {};
      for (const [name, t] of Object.entries(feeds)) tensors[name] = new ort.Tensor(t.dtype, t.data, t.dims);
      const results = await session.run(tensors, outputNames);
      const out = {};
      for (const name of outputNames) {
        out[name] = { data: results[name].data, dims: results[name].dims };
        results[name].dispose?.();
      }
      return out;
    },

    async dispose() {
      await session.release();
    },
  };
}
