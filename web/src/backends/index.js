// The backends table: one row per engine. `auto` takes the first available row whose format the
// package (or the chosen artifact) has: the generated ES module first (the `js` target: nothing to
// download or compile, float64 like scikit-learn, exact), then onnxruntime-web (ONNX is the hub, and
// its float64 preprocessing is what scikit-learn computes), then TF.js wasm (exact float32, and faster
// than WebGL for small tabular graphs), WebGL when the browser offers it, and the plain JavaScript cpu
// backend.

import { isNode } from './assets.js';
import { UsageError } from '../errors.js';

const hasWasm = () => (typeof WebAssembly === 'object' ? null : 'this JavaScript engine has no WebAssembly');

function hasWebgl() {
  if (isNode() || typeof document === 'undefined') return 'WebGL needs a browser';
  try {
    const canvas = document.createElement('canvas');
    return canvas.getContext('webgl2') || canvas.getContext('webgl') ? null : 'this browser offers no WebGL';
  } catch {
    return 'this browser offers no WebGL';
  }
}

const tfjs = (name) => async (files, entry, options) => (await import('./tfjs.js')).createEngine(name, files, entry, options);

/** name, artifact format, why it is unavailable here (null when available), engine factory */
export const BACKENDS = [
  { name: 'js', format: 'js', unavailable: () => null, create: async (files, entry) => (await import('./js.js')).createEngine(files, entry) },
  { name: 'ort-wasm', format: 'onnx', unavailable: hasWasm, create: async (files, entry, options) => (await import('./ort.js')).createEngine(files, entry, options) },
  { name: 'tfjs-wasm', format: 'tfjs', unavailable: hasWasm, create: tfjs('wasm') },
  { name: 'tfjs-webgl', format: 'tfjs', unavailable: hasWebgl, create: tfjs('webgl') },
  { name: 'tfjs-cpu', format: 'tfjs', unavailable: () => null, create: tfjs('cpu') },
];

export const BACKEND_NAMES = BACKENDS.map((b) => b.name);

function row(name) {
  const found = BACKENDS.find((b) => b.name === name);
  if (!found) throw new UsageError(`unknown backend '${name}'`, { fix: `choose one of: auto, ${BACKEND_NAMES.join(', ')}` });
  return found;
}

/**
 * The artifact entry and the backends to try, in order, for a package.
 * @param {import('../package.js').Package} pkg
 * @param {string|null} artifactId   an artifact id, or null for the package's default
 * @param {string} backend           'auto' or a backend name
 * @returns {{entry: object, candidates: object[]}}
 */
export function chooseBackend(pkg, artifactId, backend = 'auto', skipFormats = []) {
  if (backend !== 'auto') {
    const chosen = row(backend);
    const entry = artifactId ? pkg.artifact(artifactId) : pkg.artifact(null, chosen.format);
    if (entry.format !== chosen.format) {
      throw new UsageError(`backend ${chosen.name} runs ${chosen.format} artifacts; artifact '${entry.id}' is ${entry.format}`, {
        fix: `choose a backend for ${entry.format}: ${BACKENDS.filter((b) => b.format === entry.format).map((b) => b.name).join(', ') || 'none yet'}`,
      });
    }
    const reason = chosen.unavailable();
    if (reason) throw new UsageError(`backend ${chosen.name} is not available here: ${reason}`, { fix: 'choose another backend, or auto' });
    return { entry, candidates: [chosen] };
  }
  const formats = artifactId ? [pkg.artifact(artifactId).format] : [...new Set(BACKENDS.map((b) => b.format))];
  for (const format of formats) {
    if (skipFormats.includes(format) || !pkg.artifacts.some((a) => a.format === format)) continue;
    const candidates = BACKENDS.filter((b) => b.format === format && !b.unavailable());
    if (candidates.length) return { entry: artifactId ? pkg.artifact(artifactId) : pkg.artifact(null, format), candidates };
  }
  const have = [...new Set(pkg.artifacts.map((a) => a.format))].join(', ');
  throw new UsageError(`no backend here runs this package's artifacts (${have})`, {
    fix: `edgepack-web runs ${[...new Set(BACKENDS.map((b) => b.format))].join(' and ')} artifacts: rebuild with one of those targets`,
  });
}
