#!/usr/bin/env node
// Run one TF.js artifact of a tensor package (format version 2) on batched inputs, for the parity runner
// parity/runners/tensor.py. stdin: {"package": DIR, "artifact": ID, "backend": "wasm"|"cpu",
// "inputs": {artifact input name: {"dims": [...], "data": [...]}}}; stdout: {output node: {"dims", "data"}}.
// The package's files are checked against their sha256 in the manifest before use.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEngine } from '../src/backends/tfjs.js';

const request = JSON.parse(readFileSync(0, 'utf8'));
const manifest = JSON.parse(readFileSync(join(request.package, 'manifest.json'), 'utf8'));
const entry = manifest.artifacts.find((a) => a.id === request.artifact);
if (!entry) {
  process.stderr.write(`no artifact ${request.artifact}\n`);
  process.exit(4);
}
const files = {};
for (const f of entry.files ?? [{ file: entry.file, sha256: entry.sha256 }]) {
  const bytes = readFileSync(join(request.package, f.file));
  if (createHash('sha256').update(bytes).digest('hex') !== f.sha256) {
    process.stderr.write(`${f.file} failed its checksum\n`);
    process.exit(4);
  }
  files[f.file] = new Uint8Array(bytes);
}
const engine = await createEngine(request.backend ?? 'wasm', files, entry);
const feeds = {};
for (const [name, t] of Object.entries(request.inputs)) {
  const int = t.dtype === 'int32';
  feeds[name] = { data: int ? Int32Array.from(t.data) : Float32Array.from(t.data), dims: t.dims, dtype: int ? 'int32' : 'float32' };
}
const out = await engine.run(feeds, Object.values(entry.outputs));
const result = {};
for (const [name, t] of Object.entries(out)) result[name] = { dims: t.dims, data: Array.from(t.data) };
process.stdout.write(JSON.stringify(result));
await engine.dispose();
