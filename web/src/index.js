// edgepack-web: load, verify and score edge packages in the browser and in Node.
//
//   import { loadPackage } from 'edgepack-web';
//   const scorer = await loadPackage('/package/');            // or a directory in Node, or dropped files
//   const [p] = await scorer.predict([{ tenure_months: 3, contract: 'month-to-month', ... }]);
//   p.label, p.probabilities                                  // contract 3: label = classes[argmax]

import { chooseBackend } from './backends/index.js';
import { PackageError, UsageError } from './errors.js';
import { Package } from './package.js';
import { Scorer } from './scorer.js';
import { TensorScorer } from './tensor-scorer.js';
import { isTensorPackage } from './tensors.js';
import { openFromChannel } from './registry.js';
import { verifyPackage } from './signing.js';

export { BACKENDS, BACKEND_NAMES } from './backends/index.js';
export { EdgepackError, PackageError, RecordError, UsageError, EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE, EXIT_REJECTED, EXIT_PACKAGE } from './errors.js';
export { FORMAT_VERSION, MAX_MANIFEST_BYTES, Package, checkManifest, safeRelPath, sha256Hex } from './package.js';
export { checkSelfContained } from './onnx.js';
export { checkRecord, tensorsFor, validateRecords } from './records.js';
export { parseCsv, recordsFromCsv, toCsv } from './csv.js';
export { Scorer } from './scorer.js';
export { TensorScorer } from './tensor-scorer.js';
export { isTensorPackage, transpose } from './tensors.js';
export { imageToInput, pictureInput, pixelsOf, resizeBilinear } from './images.js';
export { READABLE_VERSIONS, TENSOR_FORMAT_VERSION } from './manifest.js';
export { StatsCollector } from './stats.js';
export { verifyPackage } from './signing.js';
export { openFromChannel } from './registry.js';

/**
 * Open a package, verify the chosen artifact's files against the manifest and start a backend.
 *
 * @param {string|URL|Map<string, any>|Record<string, any>|FileList|File[]|Package} location
 *        a URL (pages), a directory path (Node), the package's files, or a Package already opened
 * @param {{artifact?: string, backend?: string, wasmPaths?: {ort?: string, tfjs?: string}, threads?: number, trust?: string[]}} [options]
 *        trust: PEM public keys; the package must then carry a valid signature by one of them
 * @returns {Promise<Scorer|TensorScorer>} a TensorScorer for a tensor package (format version 2)
 * @throws {PackageError} unknown format version, missing file, checksum mismatch, artifact the runtime cannot load,
 *        with `trust`: unsigned, signed by another key, or changed after signing
 * @throws {UsageError}   unknown backend or artifact/backend mismatch
 */
export async function loadPackage(location, options = {}) {
  const pkg = location instanceof Package ? location : await Package.open(location);
  if (options.trust !== undefined) await verifyPackage(pkg, options.trust);
  const backend = options.backend ?? 'auto';
  const artifactId = options.artifact ?? null;
  // `auto` with no artifact named moves on to the next format when no backend of one starts (a page
  // whose Content-Security-Policy forbids importing the generated module, say). A file that fails its
  // checksum stops everything: the package is damaged, and no other artifact is trusted instead.
  const failures = [];
  // A js artifact is code that runs with the page's rights, where an ONNX graph can only compute: `auto`
  // runs it only for a package whose signature a trust set verified (`backend: 'js'` asks for it outright).
  const triedFormats = options.trust === undefined ? ['js'] : [];
  for (;;) {
    let plan;
    try {
      plan = chooseBackend(pkg, artifactId, backend, triedFormats);
    } catch (err) {
      if (!failures.length) throw err;
      break;
    }
    const { entry, candidates } = plan;
    const files = await pkg.artifactFiles(entry);
    for (const row of candidates) {
      try {
        const engine = await row.create(files, entry, options);
        return new (isTensorPackage(pkg.manifest) ? TensorScorer : Scorer)(pkg, entry, engine, row.name);
      } catch (err) {
        failures.push({ backend: row.name, entry, err });
      }
    }
    if (backend !== 'auto' || artifactId !== null) break;
    triedFormats.push(entry.format);
  }
  const { backend: name, entry, err } = failures[0];
  throw new PackageError(`${name} cannot load artifact '${entry.id}' (${entry.file}): ${err?.message ?? err}`, {
    where: pkg.where, fix: 'check the artifact with edgepack inspect; try another backend or artifact',
  });
}

/**
 * Load the version a registry channel serves, verified by `trust` (PEM public keys) at every step.
 * @param {string|URL} registry  the registry's base URL (pages) or directory (Node)
 * @returns {Promise<Scorer>}
 */
export async function loadFromChannel(registry, model, channel, options) {
  if (!options?.trust) throw new UsageError('loadFromChannel needs options.trust: the public keys to accept', { fix: 'pass {trust: [pemText]}' });
  const { pkg } = await openFromChannel(registry, model, channel, options.trust);
  return loadPackage(pkg, { ...options, trust: undefined });
}

export const version = '0.1.0';
