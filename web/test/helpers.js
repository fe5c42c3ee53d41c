// Shared by the node:test files: the fixture packages (built once by fixtures/make_fixtures.py with
// `edgepack build`), the Python of the repo's virtual environment, and `edgepack serve` as a subprocess.

import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

export const WEB = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = resolve(WEB, '..');
export const PYTHON = process.env.EDGEPACK_PYTHON ?? join(ROOT, '.venv', 'bin', 'python');
export const FIXTURES = process.env.EDGEPACK_WEB_FIXTURES ?? join(ROOT, 'build', 'web-fixtures');
export const ARTIFACTS = join(ROOT, 'test-artifacts', 'web');

export const TENSOR_FIXTURES = process.env.EDGEPACK_WEB_TENSOR_FIXTURES ?? join(ROOT, 'build', 'web-tensor-fixtures');

/** Build the fixtures unless built (a lock directory keeps parallel test files from building twice). */
export async function fixtures() {
  await buildOnce(FIXTURES, 'make_fixtures.py');
  const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8'));
  return { dir: FIXTURES, expected, cases: JSON.parse(readFileSync(join(FIXTURES, 'records.json'), 'utf8')) };
}

/** The tensor packages (fixtures/make_tensor_fixtures.py) and their expected outputs. */
export async function tensorFixtures() {
  await buildOnce(TENSOR_FIXTURES, 'make_tensor_fixtures.py');
  return { dir: TENSOR_FIXTURES, expected: JSON.parse(readFileSync(join(TENSOR_FIXTURES, 'expected.json'), 'utf8')) };
}

async function buildOnce(out, script) {
  const lock = `${out}.lock`;
  mkdirSync(dirname(out), { recursive: true });
  for (let waited = 0; ; waited += 1) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (waited > 600) throw new Error(`fixture lock ${lock} held for 10 minutes; remove it if no test runs`);
      await sleep(1000);
    }
  }
  try {
    execFileSync(PYTHON, [join(WEB, 'test', 'fixtures', script), out], { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 << 20 });
  } catch (err) {
    throw new Error(`building the fixtures failed:\n${err.stderr?.toString().slice(-3000)}`);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** `edgepack serve PACKAGE --port 0` as a user runs it; resolves to {url, stop}. */
export async function serve(packagePath) {
  const child = spawn(PYTHON, ['-m', 'edgepack.toolchain.cli', 'serve', packagePath, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const url = await new Promise((ok, fail) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const match = /at (http:\/\/\S+)/.exec(out);
      if (match) ok(match[1]);
    });
    child.on('exit', (code) => fail(new Error(`edgepack serve exited with ${code}: ${stderr}`)));
  });
  return {
    url,
    stop: () => new Promise((done) => {
      if (child.exitCode !== null) return done();
      child.once('exit', done);
      child.kill('SIGTERM');
    }),
  };
}

/** Copy a package directory and flip one byte of `file` in the copy. */
export function tampered(packageDir, target, file) {
  rmSync(target, { recursive: true, force: true });
  cpSync(packageDir, target, { recursive: true });
  const path = join(target, file);
  const bytes = readFileSync(path);
  bytes[Math.floor(bytes.length / 2)] ^= 0x01;
  writeFileSync(path, bytes);
  return target;
}

export function maxAbsDiff(a, b) {
  let worst = 0;
  a.forEach((x, i) => {
    if (Array.isArray(x)) worst = Math.max(worst, maxAbsDiff(x, b[i]));
    else worst = Math.max(worst, Math.abs(x - b[i]));
  });
  return worst;
}
