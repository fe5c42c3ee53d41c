// Read an edge package as untrusted input: a known format version, no path escapes, and every file
// an artifact uses checked against the manifest's sha256 and size (Web Crypto) before it is used.
// Mirrors runtime/package.py.

import { PackageError } from './errors.js';
import { safeRelPath } from './paths.js';
import { MANIFEST, sourceFor } from './sources.js';
import { FORMAT_NAME, FORMAT_VERSION, checkManifest as checkManifestFields } from './manifest.js';
import { checkSelfContained } from './onnx.js';

export { FORMAT_NAME, FORMAT_VERSION, MANIFEST, safeRelPath };

// A manifest larger than this is refused before it is parsed (runtime/package.py: MAX_MANIFEST_BYTES).
export const MAX_MANIFEST_BYTES = 8 * 2 ** 20;

/** The structural checks the device scorer makes (runtime/package.py: Package.open), paths included. */
export function checkManifest(manifest, where) {
  checkManifestFields(manifest, where);
  safeRelPath(manifest.golden.file, where);
  for (const entry of manifest.artifacts) {
    safeRelPath(entry.file, where);
    for (const part of entry.files ?? []) safeRelPath(part.file, where);
  }
}

/** Hex sha256 of bytes, with Web Crypto (browsers, and Node 20 as globalThis.crypto). */
export async function sha256Hex(bytes) {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

export class Package {
  constructor(source, manifest) {
    this.source = source;
    this.manifest = manifest;
    this.where = source.where;
  }

  /** Read and check manifest.json (at most `maxManifestBytes`, default 8 MiB as in runtime/package.py).
   * Throws PackageError when it cannot be trusted. */
  static async open(location, { maxManifestBytes = MAX_MANIFEST_BYTES } = {}) {
    const source = await sourceFor(location);
    const raw = await source.read(MANIFEST);
    if (raw.length > maxManifestBytes) {
      throw new PackageError(`'manifest.json' is larger than the limit of ${maxManifestBytes} bytes`, {
        where: source.where, fix: 'raise the limit (maxManifestBytes) if this package is trusted and really that large',
      });
    }
    let manifest;
    try {
      manifest = JSON.parse(new TextDecoder().decode(raw));
    } catch (err) {
      throw new PackageError(`manifest.json is not valid JSON: ${err.message}`, { where: source.where });
    }
    checkManifest(manifest, source.where);
    return new Package(source, manifest);
  }

  get name() { return String(this.manifest.model.name); }
  get version() { return String(this.manifest.model.version); }
  get task() { return String(this.manifest.model.task); }
  get artifacts() { return this.manifest.artifacts; }

  /** The artifact with id `id`, or the default artifact of `format`. */
  artifact(id = null, format = 'onnx') {
    const all = this.manifest.artifacts;
    if (id !== null && id !== undefined) {
      const found = all.find((a) => a.id === id);
      if (!found) {
        throw new PackageError(`no artifact '${id}' in this package`, { where: this.where, fix: `choose one of: ${all.map((a) => a.id).join(', ')}` });
      }
      return found;
    }
    const ofFormat = all.filter((a) => a.format === format);
    if (!ofFormat.length) throw new PackageError(`the package has no ${format} artifact`, { where: this.where, fix: 'rebuild it with that target' });
    return ofFormat.find((a) => a.default) ?? ofFormat[0];
  }

  /** A file's bytes after checking its sha256 and size against the manifest's record of it. */
  async verifiedFile(rel, sha256, size, kind = 'artifact') {
    const safe = safeRelPath(rel, this.where);
    const data = await this.source.read(safe);
    const digest = await sha256Hex(data);
    if (digest !== sha256 || (size !== undefined && size !== null && data.length !== size)) {
      throw new PackageError(
        `${kind ? `${kind} ` : ''}'${rel}' failed its checksum (manifest sha256 ${String(sha256).slice(0, 12)}..., file ${digest.slice(0, 12)}...)`,
        { where: this.where, fix: 'the package was altered or damaged in transit: copy it again from the build' },
      );
    }
    return data;
  }

  /** Every file of an artifact, verified: {relative path: bytes}. The main file is always included; an
   * ONNX artifact must be self-contained (no external data: src/onnx.js). */
  async artifactFiles(entry) {
    const parts = entry.files?.length ? entry.files : [];
    const files = {};
    if (!parts.some((p) => p.file === entry.file)) files[entry.file] = await this.verifiedFile(entry.file, entry.sha256, entry.size);
    for (const part of parts) files[part.file] = await this.verifiedFile(part.file, part.sha256, part.size);
    if (entry.format === 'onnx') checkSelfContained(files[entry.file], `${this.where}: ${entry.file}`);
    return files;
  }

  /** The golden vectors (sample records and the source model's outputs), checksum-verified. */
  async golden() {
    const { file, sha256 } = this.manifest.golden;
    return JSON.parse(new TextDecoder().decode(await this.verifiedFile(file, sha256, undefined, null)));
  }
}
