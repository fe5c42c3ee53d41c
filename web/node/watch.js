// score.mjs's watch-folder mode: edgepack-score --watch (runtime/watch.py) in Node, with the same folders,
// file names, commit markers, output files and lines. Each input IN_DIR/NAME.jsonl (.ndjson, .json, .csv)
// becomes OUT_DIR/NAME.jsonl (+ NAME.errors.jsonl when records were rejected; NAME.1.jsonl... when taken);
// the input goes to IN_DIR/done/, or to IN_DIR/failed/ with NAME.reason when it cannot be scored at all.
//
// Exactly once, as runtime/watch.py: claim (rename into IN_DIR/.processing), score into hidden temporaries,
// fsync, write the commit marker (runtime/watch_ledger.py's format, so either scorer finishes what the other
// left), publish by renames, release, forget; a restart publishes what a marker vouches for and scores
// again what has none. What Node does not allow: no flock on the folders (one watcher per folder is the
// operator's to keep), and file names are read as UTF-8 text (a name that is not UTF-8 is not matched).

import { createHash } from 'node:crypto';
import { closeSync, constants, createReadStream, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, readSync,
  readdirSync, readFileSync, realpathSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, extname, join, resolve, sep } from 'node:path';
import { UsageError } from '../src/index.js';
import { InputRefused, scoreStream } from './score-stream.js';

export const WATCH_OPTIONS = {
  watch: { type: 'string' },
  out: { type: 'string' },
  once: { type: 'boolean', default: false },
  interval: { type: 'string', default: '1' },
  'min-age': { type: 'string', default: '1' },
};

export const WATCH_HELP = `watch-folder mode (edgepack-score --watch's folders, files, lines and exit codes):
  --watch IN_DIR     score each new .jsonl/.csv file dropped in IN_DIR (regular files only: links are moved
                     to IN_DIR/failed, never followed)
  --out OUT_DIR      where NAME.jsonl (and NAME.errors.jsonl) are written, or NAME.1.jsonl... when those are
                     taken; a folder of its own (not IN_DIR, not around it)
  --once             process the files present, then exit
  --interval S       seconds between scans (default 1)
  --min-age S        ignore files modified less than S seconds ago, still being written (default 1)
  Each record is delivered exactly once across a kill -9 (commit markers in IN_DIR/.processing, the same as
  edgepack-score's). Node has no folder lock: run one watcher per folder.
  example: node web/bin/score.mjs build/churn/package --watch /data/in --out /data/out`;

const SUFFIXES = { '.jsonl': 'jsonl', '.ndjson': 'jsonl', '.json': 'jsonl', '.csv': 'csv', '.npy': 'npy' };
const PROCESSING = '.processing';
const DONE = 'done';
const FAILED = 'failed';
const REASON_SUFFIX = '.reason';
const OUTPUT_SUFFIX = '.jsonl';
const ERRORS_SUFFIX = '.errors.jsonl';
const NAME_MAX = 255;
const MARKER_PREFIX = '.commit-';

/** A usage problem with the watch flags (edgepack-score's parser errors), or null. */
export function checkWatchArgs(values) {
  if ((values.watch === undefined) !== (values.out === undefined)) return '--watch and --out go together';
  for (const flag of ['interval', 'min-age']) {
    if (!Number.isFinite(Number(values[flag])) || values[flag].trim() === '') return `argument --${flag}: invalid float value: '${values[flag]}'`;
  }
  if (values.watch !== undefined && (values.format !== 'jsonl' || values.errors !== undefined || values['line-buffered'])) {
    return "in watch mode the format comes from each file's suffix and errors go to OUT_DIR";
  }
  return null;
}

/** Run the watch loop until SIGTERM/SIGINT (or, with --once, until IN_DIR holds no eligible file). */
export async function runWatch(scorer, values, opts, prog) {
  const say = (text) => { if (!values.quiet) process.stderr.write(`${prog}: ${text}\n`); };
  let stop = false;
  const onSignal = () => { stop = true; };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    const folder = new WatchFolder(scorer, values.watch, values.out, opts, say);
    await folder.recover();
    while (!stop) {
      for (const path of folder.pending(Number(values['min-age']))) {
        if (stop) break;
        await folder.processNew(path);
      }
      if (values.once) break;
      const deadline = Date.now() + Number(values.interval) * 1000;
      while (!stop && Date.now() < deadline) await new Promise((r) => setTimeout(r, Math.min(100, Number(values.interval) * 1000)));
    }
  } catch (err) {
    const usage = err instanceof UsageError ? err
      : err?.code ? new UsageError(`the watch folder cannot go on: ${err.message}`, {
        fix: `fix the disk or the permissions, then restart: inputs in flight wait in ${join(values.watch, PROCESSING)} and are finished then` })
        : null;
    if (!usage) throw err;
    process.stderr.write(`${prog}: error: ${usage.toString()}\n`);
    return 2;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    await scorer.dispose();
  }
  return 0;
}

class WatchFolder {
  constructor(scorer, inDir, outDir, opts, say) {
    if (!isDir(inDir)) throw new UsageError(`no folder ${inDir}`, { fix: 'create the input folder first, or fix --watch' });
    checkLayout(inDir, outDir);
    Object.assign(this, { scorer, inDir, outDir, opts, say });
    this.work = join(inDir, PROCESSING);
    this.done = join(inDir, DONE);
    this.failed = join(inDir, FAILED);
    for (const folder of [outDir, this.work, this.done, this.failed]) {
      try {
        mkdirSync(folder, { recursive: true });
      } catch (err) {
        throw new UsageError(`cannot create ${err.path ?? folder}: ${err.message}`, { fix: 'check --watch/--out and permissions' });
      }
    }
    for (const folder of [this.work, this.done, this.failed]) {
      if (lstatSync(folder).isSymbolicLink()) {
        throw new UsageError(`${folder} is a symbolic link; the watcher keeps inputs inside IN_DIR`, { fix: `replace it with a folder (mkdir ${folder})` });
      }
    }
  }

  /** Candidate inputs, by name: known suffix, not hidden, not a folder, old enough (links included). */
  pending(minAge) {
    const now = Date.now() / 1000;
    const found = [];
    for (const name of readdirSync(this.inDir)) {
      if (name.startsWith('.') || !(extname(name).toLowerCase() in SUFFIXES)) continue;
      let st;
      try { st = lstatSync(join(this.inDir, name)); } catch { continue; }
      if (st.isDirectory() || now - st.mtimeMs / 1000 < minAge) continue;
      found.push(name);
    }
    return found.sort().map((n) => join(this.inDir, n));
  }

  async recover() {
    const rescore = [];
    for (const name of readdirSync(this.work).filter((n) => !n.startsWith('.')).sort()) {
      const claimed = join(this.work, name);
      const commit = this.commitOf(claimed);
      if (commit === null) rescore.push(claimed);
      else this.finish(claimed, commit, true);
    }
    for (const name of readdirSync(this.work)) if (name.startsWith(MARKER_PREFIX)) unlinkSync(join(this.work, name));
    for (const name of readdirSync(this.outDir)) {
      if (name.startsWith('.') && name.endsWith(`${OUTPUT_SUFFIX}.tmp`) && lstatSync(join(this.outDir, name)).isFile()) {
        unlinkSync(join(this.outDir, name));
      }
    }
    for (const claimed of rescore) await this.process(claimed);
  }

  async processNew(path) {
    let st;
    try { st = lstatSync(path); } catch { return null; }
    if (!st.isFile()) return this.fail(path, notRegular(st));
    const claimed = join(this.work, basename(path));
    try { renameSync(path, claimed); } catch (err) { if (err.code === 'ENOENT') return null; throw err; }
    fsyncDir(this.inDir);
    fsyncDir(this.work);
    return this.process(claimed);
  }

  commitOf(claimed) {
    const commit = readMarker(this.work, basename(claimed));
    if (commit === null) return null;
    let fd;
    try {
      fd = openRegular(claimed);
      return sha256Of(fd) === commit.sha256 ? commit : null;
    } catch {
      return null;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  async process(claimed) {
    const name = basename(claimed);
    let fd;
    try {
      fd = openRegular(claimed);
    } catch (err) {
      return this.fail(claimed, err instanceof NotReadable ? err.message : `cannot read the file: ${err.message}`);
    }
    let tmpOut;
    let tmpErr;
    let counts;
    let output;
    let errors;
    let digest;
    try {
      const fmt = SUFFIXES[extname(name).toLowerCase()] ?? 'jsonl';
      const head = Buffer.alloc(4096);
      const refused = refusal(fmt, head.subarray(0, readSync(fd, head, 0, 4096, 0)));
      if (refused) return this.fail(claimed, refused);
      [output, errors] = outputNames(basename(name, extname(name)), (n) => lexists(join(this.outDir, n)));
      tmpOut = join(this.outDir, `.${output}.tmp`);
      tmpErr = join(this.outDir, `.${errors}.tmp`);
      const out = openSync(tmpOut, 'w');
      const err = openSync(tmpErr, 'w');
      try {
        const input = createReadStream(null, { fd, start: 0, autoClose: false });
        counts = await scoreStream(this.scorer, input, { ...this.opts, format: fmt }, (t) => { writeSync(out, t); },
          (t) => { writeSync(err, t); });
        fsyncSync(out);
        fsyncSync(err);
      } finally {
        closeSync(out);
        closeSync(err);
      }
      digest = sha256Of(fd);
    } catch (err) {
      if (tmpOut) remove(tmpOut, tmpErr);
      if (err instanceof InputRefused) return this.fail(claimed, err.message);
      if (!err?.code) throw err;
      throw new UsageError(`cannot write the output for ${name}: ${err.message}`, { where: this.outDir,
        fix: `free space or fix permissions in OUT_DIR, then restart; the input waits in ${this.work}` });
    } finally {
      closeSync(fd);
    }
    const publish = [];
    if (counts.rejected) publish.push([basename(tmpErr), errors]); // the errors first, as edgepack-score
    else unlinkSync(tmpErr);
    publish.push([basename(tmpOut), output]);
    const commit = { input: name, sha256: digest, publish, scored: counts.scored, rejected: counts.rejected };
    writeMarker(this.work, commit); // the commit point
    return this.finish(claimed, commit);
  }

  finish(claimed, commit, recovered = false) {
    for (const [tmp, final] of commit.publish) {
      const source = join(this.outDir, tmp);
      if (!lexists(source)) continue; // published already, and perhaps taken by the consumer since
      let target = join(this.outDir, final);
      if (lexists(target)) target = join(this.outDir, alternative(final, (n) => lexists(join(this.outDir, n))));
      renameSync(source, target);
    }
    fsyncDir(this.outDir);
    renameSync(claimed, freeName(this.done, basename(claimed), NAME_MAX));
    fsyncDir(this.work);
    fsyncDir(this.done);
    unlinkSync(markerPath(this.work, commit.input));
    const output = join(this.outDir, commit.publish.at(-1)[1]);
    const note = recovered ? ' (committed before a restart)' : '';
    this.say(`${basename(claimed)} -> ${output}: ${commit.scored} scored, ${commit.rejected} rejected${note}`);
    return commit;
  }

  fail(path, reason) {
    const target = freeName(this.failed, basename(path), NAME_MAX - REASON_SUFFIX.length);
    writeFileSync(target + REASON_SUFFIX, `${reason}\n`);
    try {
      renameSync(path, target); // a link is moved, not followed
    } catch (err) {
      if (err.code !== 'ENOENT') throw err;
      unlinkSync(target + REASON_SUFFIX);
      return null;
    }
    fsyncDir(this.failed);
    this.say(`${basename(path)} -> ${target}: ${reason}`);
    return null;
  }
}

class NotReadable extends Error {}

function refusal(fmt, head) {
  if (fmt === 'npy') return 'a .npy file holds tensors; this package takes JSON lines or CSV records';
  if (head.includes(0)) return 'the file is binary (NUL bytes), not JSON lines or CSV';
  return null;
}

function notRegular(st) {
  const kind = st.isSymbolicLink() ? 'a symbolic link' : st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket'
    : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : 'not a regular file';
  return `the entry is ${kind}; the watcher reads only regular files and never follows links (it could read a file outside IN_DIR)`;
}

/** A regular file opened for reading, never through a link, never blocking on a FIFO. */
function openRegular(path) {
  let fd;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (st?.isSymbolicLink()) throw new NotReadable(notRegular(st));
    throw err;
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    throw new NotReadable(notRegular(st));
  }
  return fd;
}

function sha256Of(fd) {
  const hash = createHash('sha256');
  const block = Buffer.alloc(1 << 20);
  let at = 0;
  for (let n; (n = readSync(fd, block, 0, block.length, at)) > 0; at += n) hash.update(block.subarray(0, n));
  return hash.digest('hex');
}

// -- names (runtime/watch_names.py) ---------------------------------------------------------------------
const bytesOf = (text) => Buffer.byteLength(text);

/** `head + tail`, `head` cut (by bytes, at a character boundary) so that the whole fits in `limit` bytes. */
function fit(head, tail, limit) {
  const room = limit - bytesOf(tail);
  if (bytesOf(head) <= room) return head + tail;
  let cut = '';
  for (const ch of head) {
    if (bytesOf(cut + ch) > Math.max(room, 1)) break;
    cut += ch;
  }
  return cut + tail;
}

function freeName(folder, name, limit) {
  for (let n = 0; ; n += 1) {
    const candidate = join(folder, n === 0 ? fit(name, '', limit) : fit(name, `.${n}`, limit));
    if (!lexists(candidate)) return candidate;
  }
}

function outputNames(stem, taken) {
  const room = NAME_MAX - 1 - '.tmp'.length;
  for (let n = 0; ; n += 1) {
    const base = fit(stem, n === 0 ? '' : `.${n}`, room - ERRORS_SUFFIX.length);
    if (base.toLowerCase().endsWith('.errors')) continue;
    const [output, errors] = [base + OUTPUT_SUFFIX, base + ERRORS_SUFFIX];
    if (!(taken(output) || taken(errors))) return [output, errors];
  }
}

function alternative(final, taken) {
  const suffix = final.endsWith(ERRORS_SUFFIX) ? ERRORS_SUFFIX : OUTPUT_SUFFIX;
  const base = final.slice(0, -suffix.length);
  const room = NAME_MAX - 1 - '.tmp'.length - suffix.length;
  for (let n = 1; ; n += 1) {
    const name = fit(base, `.${n}`, room) + suffix;
    if (!taken(name)) return name;
  }
}

// -- commit markers (runtime/watch_ledger.py: the same file names and JSON text) -------------------------
function markerPath(folder, name) {
  return join(folder, `${MARKER_PREFIX}${createHash('sha256').update(name).digest('hex').slice(0, 40)}.json`);
}

/** JSON text as Python's json.dumps(ensure_ascii=True) writes it. */
function pyJson(value) {
  if (Array.isArray(value)) return `[${value.map(pyJson).join(', ')}]`;
  if (value && typeof value === 'object') return `{${Object.entries(value).map(([k, v]) => `${pyJson(k)}: ${pyJson(v)}`).join(', ')}}`;
  if (typeof value === 'string') return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return JSON.stringify(value);
}

function writeMarker(folder, commit) {
  const final = markerPath(folder, commit.input);
  const fd = openSync(`${final}.tmp`, 'w');
  try {
    writeSync(fd, `${pyJson(commit)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(`${final}.tmp`, final);
  fsyncDir(folder);
}

function readMarker(folder, name) {
  try {
    const data = JSON.parse(readFileSync(markerPath(folder, name), 'ascii'));
    const publish = data.publish.map(([tmp, final]) => [String(tmp), String(final)]);
    const commit = { input: String(data.input), sha256: String(data.sha256), publish,
      scored: Number(data.scored), rejected: Number(data.rejected) };
    return commit.input === name && Number.isInteger(commit.scored) ? commit : null;
  } catch {
    return null;
  }
}

// -- folders ----------------------------------------------------------------------------------------------
function isDir(path) {
  try { return statSync(path).isDirectory(); } catch { return false; }
}

function lexists(path) {
  return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
}

function fsyncDir(path) {
  let fd;
  try { fd = openSync(path, 'r'); } catch { return; }
  try { fsyncSync(fd); } catch { /* the renames are still atomic */ } finally { closeSync(fd); }
}

function remove(...paths) {
  for (const p of paths) { try { unlinkSync(p); } catch { /* best effort */ } }
}

/** `path` with links resolved as far as it exists (Python's Path.resolve(strict=False)). */
function resolved(path) {
  const abs = resolve(path);
  try { return realpathSync(abs); } catch { /* not there yet */ }
  const parent = dirname(abs);
  return parent === abs ? abs : join(resolved(parent), basename(abs));
}

function checkLayout(inDir, outDir) {
  const realIn = resolved(inDir);
  const realOut = resolved(outDir);
  const own = { fix: 'give --out a folder of its own, e.g. a sibling of IN_DIR' };
  if (realIn === realOut) throw new UsageError(`--out ${outDir} is the --watch folder: outputs would be read back as inputs`, own);
  for (const sub of [PROCESSING, DONE, FAILED]) {
    const inner = join(realIn, sub);
    if (realOut === inner || realOut.startsWith(inner + sep)) {
      throw new UsageError(`--out ${outDir} is inside IN_DIR/${sub}, a folder the watcher manages`, own);
    }
  }
  if (realIn.startsWith(realOut + sep)) {
    throw new UsageError(`--watch ${inDir} is inside --out ${outDir}: a consumer taking OUT_DIR's files (GetFile `
      + "looks into subfolders by default) would take the inputs too", own);
  }
}
