// Read an edge package as untrusted input: a known format version, no path escapes, and every file
// an artifact uses checked against the manifest's sha256 and size (Web Crypto) before it is used.
// Mirrors runtime/package.py.

import { isNode } from './backends/assets.js';
import { PackageError } from './errors.js';
import { safeRelPath } from './paths.js';
import { ZipSource } from './zip.js';

export { safeRelPath };

export const FORMAT_NAME = 'edgepack';
export const FORMAT_VERSION = 1;
export const MANIFEST = 'manifest.json';

/** The structural checks the device scorer makes (runtime/package.py: check_manifest). */
export function checkManifest(manifest, where) {
  if (manifest === null || typeof manifest !== 'object' || manifest.format !== FORMAT_NAME) {
    throw new PackageError('manifest.json is not an edgepack manifest', { where });
  }
  const version = manifest.format_version;
  if (version !== FORMAT_VERSION) {
    throw new PackageError(
      `unknown package format version ${JSON.stringify(version ?? null)}; this runtime reads version ${FORMAT_VERSION}`,
      { where, fix: 'upgrade edgepack-web, or rebuild the package with a matching edgepack' },
    );
  }
  for (const key of ['model', 'source', 'inputs', 'outputs', 'artifacts', 'golden']) {
    if (!(key in manifest)) throw new PackageError(`manifest.json lacks '${key}'`, { where, fix: 'rebuild the package' });
  }
  for (const entry of manifest.artifacts) {
    for (const key of ['id', 'format', 'file', 'sha256', 'size']) {
      if (!(key in entry)) throw new PackageError(`artifact entry lacks '${key}'`, { where, fix: 'rebuild the package' });
    }
    safeRelPath(entry.file, where);
    for (const part of entry.files ?? []) safeRelPath(part.file, where);
  }
}

/** Hex sha256 of bytes, with Web Crypto (browsers, and Node 20 as globalThis.crypto). */
export async function sha256Hex(bytes) {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

// -- where the bytes come from -------------------------------------------------------------------


/** Files over HTTP(S) or any fetchable base URL (a trailing slash is added). */
class UrlSource {
  constructor(base) {
    this.base = base.endsWith('/') ? base : `${base}/`;
    this.where = this.base;
  }

  async read(rel) {
    const url = new URL(rel, this.base);
    let response;
    try {
      response = await fetch(url);
    } catch (err) {
      throw new PackageError(`cannot fetch ${rel}: ${err.message}`, { where: this.where, fix: 'check the package URL and that the server is running' });
    }
    if (!response.ok) {
      throw new PackageError(`missing file '${rel}' (HTTP ${response.status})`, { where: this.where, fix: 'the package is incomplete: copy it again or rebuild it' });
    }
    return new Uint8Array(await response.arrayBuffer());
  }
}

/** A package directory on disk (Node only). */
class DirSource {
  constructor(dir) {
    this.dir = dir;
    this.where = dir;
  }

  async read(rel) {
    const { readFile } = await import('node:fs/promises');
    const { join } = await import('node:path');
    try {
      return new Uint8Array(await readFile(join(this.dir, rel)));
    } catch (err) {
      const missing = err.code === 'ENOENT' || err.code === 'ENOTDIR';
      if (missing && rel === MANIFEST && !(await import('node:fs')).existsSync(this.dir)) {
        throw new PackageError(`no package at ${this.dir}`, { where: this.dir, fix: 'pass the directory written by edgepack build' });
      }
      throw new PackageError(missing ? `missing file '${rel}'` : `cannot read '${rel}': ${err.message}`, {
        where: this.dir, fix: missing ? 'the package is incomplete: copy it again or rebuild it' : null,
      });
    }
  }
}

/**
 * Files given in memory: a Map or object of relative path -> Uint8Array | ArrayBuffer | Blob/File,
 * or a FileList / File[] from <input webkitdirectory> (the first folder of each path is the package's own).
 */
class MemorySource {
  constructor(files) {
    this.files = new Map();
    this.where = 'the files given';
    const list = typeof files.length === 'number' && !(files instanceof Map) ? Array.from(files) : null;
    if (list) {
      for (const file of list) {
        const path = (file.webkitRelativePath || file.name).replaceAll('\\', '/');
        const rel = file.webkitRelativePath ? path.split('/').slice(1).join('/') : path;
        this.files.set(rel, file);
      }
    } else {
      const entries = files instanceof Map ? files.entries() : Object.entries(files);
      for (const [rel, data] of entries) this.files.set(rel.replaceAll('\\', '/'), data);
    }
  }

  async read(rel) {
    const data = this.files.get(rel);
    if (data === undefined) {
      throw new PackageError(`missing file '${rel}'`, { where: this.where, fix: 'give every file of the package directory' });
    }
    if (data instanceof Uint8Array) return data;
    if (data instanceof ArrayBuffer) return new Uint8Array(data);
    if (typeof data.arrayBuffer === 'function') return new Uint8Array(await data.arrayBuffer());
    throw new PackageError(`file '${rel}' is not bytes, a Blob or a File`, { where: this.where });
  }
}

/**
 * Where a package's bytes come from: a URL (a directory, or a file ending in .edgepack), a directory
 * or .edgepack path (Node), the bytes or Blob of a .edgepack file, or the files of a package directory.
 */
export async function sourceFor(location) {
  if (typeof location === 'string' || location instanceof URL) {
    const text = String(location);
    if (/^(https?|blob|data):/i.test(text) || !isNode()) {
      if (!/\.edgepack([?#].*)?$/.test(text)) return new UrlSource(text);
      const response = await fetch(text).catch((err) => { throw new PackageError(`cannot fetch ${text}: ${err.message}`, { where: text }); });
      if (!response.ok) throw new PackageError(`no package at ${text} (HTTP ${response.status})`, { where: text });
      return new ZipSource(new Uint8Array(await response.arrayBuffer()), text);
    }
    const path = text.startsWith('file:') ? decodeURIComponent(new URL(text).pathname) : text;
    const { stat, readFile } = await import('node:fs/promises');
    const info = await stat(path).catch(() => null);
    if (info?.isFile()) return new ZipSource(new Uint8Array(await readFile(path)), path);
    return new DirSource(path);
  }
  if (location instanceof Uint8Array) return new ZipSource(location, 'the .edgepack bytes given');
  if (location instanceof ArrayBuffer) return new ZipSource(new Uint8Array(location), 'the .edgepack bytes given');
  if (typeof Blob !== 'undefined' && location instanceof Blob) {
    return new ZipSource(new Uint8Array(await location.arrayBuffer()), location.name ?? 'the .edgepack file given');
  }
  if (location && typeof location === 'object') return new MemorySource(location);
  throw new PackageError('loadPackage needs a URL, a directory (Node), a .edgepack file or the package files', {
    fix: "pass e.g. '/package/' in a page, 'build/churn/package' in Node, or the files of a dropped folder",
  });
}

// -- the package ---------------------------------------------------------------------------------

export class Package {
  constructor(source, manifest) {
    this.source = source;
    this.manifest = manifest;
    this.where = source.where;
  }

  /** Read and check manifest.json. Throws PackageError when it cannot be trusted. */
  static async open(location) {
    const source = await sourceFor(location);
    const raw = await source.read(MANIFEST);
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

  /** Every file of an artifact, verified: {relative path: bytes}. The main file is always included. */
  async artifactFiles(entry) {
    const parts = entry.files?.length ? entry.files : [];
    const files = {};
    if (!parts.some((p) => p.file === entry.file)) files[entry.file] = await this.verifiedFile(entry.file, entry.sha256, entry.size);
    for (const part of parts) files[part.file] = await this.verifiedFile(part.file, part.sha256, part.size);
    return files;
  }

  /** The golden vectors (sample records and the source model's outputs), checksum-verified. */
  async golden() {
    const { file, sha256 } = this.manifest.golden;
    return JSON.parse(new TextDecoder().decode(await this.verifiedFile(file, sha256, undefined, null)));
  }
}
