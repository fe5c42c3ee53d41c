// The `js` target (converters/targets/codegen/): the package's model.mjs, an ES module with no
// dependencies, imported from its verified bytes, so nothing else is fetched or compiled (no
// WebAssembly) and what runs is exactly what matched the manifest's sha256 (never a second fetch).
// Importing it runs its code with the page's (or the process's) rights: a checksum only proves the
// file matches its manifest; `trust` keys prove who built the package.

import { isNode } from './assets.js';

/** A URL that imports `bytes` as an ES module: a data: URL in Node (which cannot import blob:),
 * a blob: URL in pages (no size-doubling base64). Returns [url, release]. */
function moduleUrl(bytes) {
  if (isNode()) return [`data:text/javascript;base64,${Buffer.from(bytes).toString('base64')}`, () => {}];
  const url = URL.createObjectURL(new Blob([bytes], { type: 'text/javascript' }));
  return [url, () => URL.revokeObjectURL(url)];
}

/**
 * @param {Record<string, Uint8Array>} files  the artifact's verified files
 * @param {object} entry                      the manifest's artifact entry (format js)
 */
export async function createEngine(files, entry) {
  const [url, release] = moduleUrl(files[entry.file]);
  let mod;
  try {
    mod = await import(/* webpackIgnore: true */ /* @vite-ignore */ url);
  } finally {
    release();
  }
  if (typeof mod.predictOne !== 'function' || !mod.model || !Array.isArray(mod.model.features)) {
    throw new Error(`${entry.file} is not an edgepack generated module (no predictOne/model exports)`);
  }
  return {
    runtime: 'generated ES module',
    version: `edgepack ${entry.converter?.version ?? 'unknown'}`,

    /**
     * Checked rows (schema order, as records.js returns them) -> {probabilities} in `classes` order, or
     * {value}. The module checks each record again by the same rules; a refusal here means the module
     * and this library disagree, an error rather than a rejected record.
     */
    runRows(rows, schema, classes) {
      const names = schema.features.map((f) => f.name);
      const probabilities = [];
      const value = [];
      for (const row of rows) {
        const record = {};
        names.forEach((name, j) => { record[name] = row[j]; });
        const p = mod.predictOne(record);
        if ('value' in p) {
          value.push(p.value);
        } else {
          probabilities.push(classes.map((c) => {
            const q = p.probabilities[String(c)];
            if (typeof q !== 'number') throw new Error(`${entry.file} gives no probability for class ${String(c)}`);
            return q;
          }));
        }
      }
      return classes.length ? { probabilities } : { value };
    },

    async dispose() {},
  };
}
