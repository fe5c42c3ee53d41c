// Where a package's bytes come from: a URL, a directory (Node), a .edgepack zip, or files in memory.
// Each source has `where` (for messages) and `read(rel)` -> Uint8Array, throwing PackageError.

import { isNode } from './backends/assets.js';
import { PackageError } from './errors.js';
import { ZipSource } from './zip.js';

export const MANIFEST = 'manifest.json';

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
