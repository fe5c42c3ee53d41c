// A page (or Node) loading the version a registry channel serves (toolchain/registry, runtime/follow.py):
// the channel pointer's signature, the archive's sha256 and the package's own signature are all checked
// against the trust set before a backend starts.

import { PackageError, UsageError } from './errors.js';
import { Package, sha256Hex } from './package.js';
import { parseSignatures, verifyPackage, verifySigned } from './signing.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

async function readRegistry(registry, rel) {
  const text = String(registry);
  if (/^(https?|blob|data):/i.test(text) || typeof process === 'undefined') {
    const url = new URL(rel, text.endsWith('/') ? text : `${text}/`);
    const response = await fetch(url).catch((err) => { throw new UsageError(`cannot fetch ${url}: ${err.message}`, { where: String(url), fix: 'check the registry URL' }); });
    if (!response.ok) throw new UsageError(`cannot fetch ${url} (HTTP ${response.status})`, { where: String(url), fix: 'check the registry URL, model and channel' });
    return new Uint8Array(await response.arrayBuffer());
  }
  const { readFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const path = join(text.startsWith('file:') ? decodeURIComponent(new URL(text).pathname) : text, ...rel.split('/'));
  try {
    return new Uint8Array(await readFile(path));
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${err.code ?? err.message}`, { where: path, fix: 'check the registry path, model and channel' });
  }
}

/**
 * The Package a registry channel points at, verified: the pointer signed by a trusted key, the archive
 * matching the pointer's sha256, the package signed by a trusted key.
 * @returns {Promise<{pkg: Package, pointer: object}>}
 */
export async function openFromChannel(registry, model, channel, trust) {
  for (const [what, value] of [['model', model], ['channel', channel]]) {
    if (!NAME.test(String(value))) throw new UsageError(`${what} '${value}' cannot name a registry entry`, { fix: "use letters, digits, '.', '_' and '-'" });
  }
  const rel = `models/${model}/channels/${channel}`;
  const raw = await readRegistry(registry, `${rel}.json`);
  await verifySigned(raw, parseSignatures(await readRegistry(registry, `${rel}.sig.json`), rel), trust, rel);
  const pointer = JSON.parse(new TextDecoder().decode(raw));
  const archive = await readRegistry(registry, String(pointer.archive));
  if (await sha256Hex(archive) !== pointer.sha256) {
    throw new PackageError("the downloaded archive does not match the channel's sha256", { where: String(pointer.archive), fix: 'do not use it; ask the registry owner' });
  }
  const pkg = await Package.open(archive);
  await verifyPackage(pkg, trust);
  return { pkg, pointer };
}
