// A `.edgepack` file (the package directory zipped) read as untrusted input, with the bounds of
// runtime/package.py: at most 10,000 entries, 1 GiB per entry, 2 GiB in all, no zip-bomb compression
// ratios, no absolute paths or '..'. Stored and deflated entries; inflating uses DecompressionStream
// (browsers, Node 20), capped at the declared size.

import { PackageError } from './errors.js';
import { safeRelPath } from './paths.js';

const MAX_MEMBER_BYTES = 2 ** 30;
const MAX_TOTAL_BYTES = 2 * 2 ** 30;
const MAX_MEMBERS = 10_000;
const MAX_RATIO = 200; // uncompressed / compressed, for members above 1 MiB
const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

export class ZipSource {
  /** @param {Uint8Array} bytes  the whole .edgepack file  @param {string} where */
  constructor(bytes, where) {
    this.bytes = bytes;
    this.where = where;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.members = new Map();
    this._index();
  }

  _bad(what) {
    return new PackageError(what, { where: this.where, fix: 'pass a package directory or a .edgepack file written by edgepack build' });
  }

  _index() {
    const { view, bytes } = this;
    let eocd = -1;
    for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
      if (view.getUint32(i, true) === EOCD) { eocd = i; break; }
    }
    if (eocd < 0) throw this._bad('not a readable .edgepack file: no zip directory found');
    const count = view.getUint16(eocd + 10, true);
    let at = view.getUint32(eocd + 16, true);
    if (count === 0xffff || at === 0xffffffff) throw this._bad('not a readable .edgepack file: zip64 is not supported');
    if (count > MAX_MEMBERS) throw new PackageError(`${count} entries exceed the limit of ${MAX_MEMBERS}`, { where: this.where });
    let total = 0;
    const decoder = new TextDecoder();
    for (let n = 0; n < count; n++) {
      if (at + 46 > bytes.length || view.getUint32(at, true) !== CENTRAL) throw this._bad('not a readable .edgepack file: damaged zip directory');
      const flags = view.getUint16(at + 8, true);
      const method = view.getUint16(at + 10, true);
      const compressed = view.getUint32(at + 20, true);
      const size = view.getUint32(at + 24, true);
      const nameLength = view.getUint16(at + 28, true);
      const skip = nameLength + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
      const offset = view.getUint32(at + 42, true);
      const name = decoder.decode(bytes.subarray(at + 46, at + 46 + nameLength));
      at += 46 + skip;
      const rel = safeRelPath(name, this.where);
      if (name.endsWith('/')) continue;
      if (flags & 1) throw new PackageError(`entry '${rel}' is encrypted`, { where: this.where });
      if (method !== 0 && method !== 8) throw new PackageError(`entry '${rel}' uses zip method ${method}; only stored and deflated entries are read`, { where: this.where });
      if (size > MAX_MEMBER_BYTES) throw new PackageError(`entry '${rel}' unpacks to ${size} bytes, over the limit`, { where: this.where });
      if (size > 2 ** 20 && size > MAX_RATIO * Math.max(compressed, 1)) {
        throw new PackageError(`entry '${rel}' has a compression ratio typical of a zip bomb`, { where: this.where });
      }
      if (this.members.has(rel)) {
        // readers disagree on which copy wins (Python's zipfile and this code the last, unzip the first)
        throw new PackageError(`the zip holds two entries named '${rel}'`, { where: this.where, fix: 'the package was altered: use the .edgepack file written by edgepack build' });
      }
      total += size;
      this.members.set(rel, { method, compressed, size, offset });
    }
    if (total > MAX_TOTAL_BYTES) throw new PackageError(`package unpacks to ${total} bytes, over the limit of ${MAX_TOTAL_BYTES}`, { where: this.where });
  }

  async read(rel) {
    const info = this.members.get(rel);
    if (!info) throw new PackageError(`missing file '${rel}'`, { where: this.where, fix: 'the package is incomplete: rebuild it' });
    const { view } = this;
    if (view.getUint32(info.offset, true) !== LOCAL) throw this._bad(`entry '${rel}': damaged zip entry`);
    const start = info.offset + 30 + view.getUint16(info.offset + 26, true) + view.getUint16(info.offset + 28, true);
    const raw = this.bytes.subarray(start, start + info.compressed);
    const data = info.method === 0 ? raw.slice() : await inflate(raw, info.size);
    // The sizes in the zip headers are themselves untrusted: read at most one byte past the declared size.
    if (data === null || data.length !== info.size) throw new PackageError(`entry '${rel}' does not match its declared size`, { where: this.where });
    return data;
  }
}

/** Inflate raw deflate data, giving up (null) past `limit` bytes. */
async function inflate(raw, limit) {
  const stream = new Blob([raw]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
  const reader = stream.getReader();
  const out = new Uint8Array(limit);
  let length = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (length + value.length > limit) {
        await reader.cancel();
        return null;
      }
      out.set(value, length);
      length += value.length;
    }
  } catch {
    return null;
  }
  return length === limit ? out : out.subarray(0, length);
}
