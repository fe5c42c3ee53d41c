// Package signatures (runtime/signing.py): Ed25519 over the scheme's name, the sha256 of manifest.json
// and, in path order, the sha256 of every file the manifest lists, checked with Web Crypto (browsers,
// Node 20). A trust set is a list of PEM public keys (SubjectPublicKeyInfo), as `edgepack keygen` writes.

import { PackageError, UsageError } from './errors.js';
import { MANIFEST, sha256Hex } from './package.js';

export const SIGNATURES = 'signatures.json';
const SCHEME = 'edgepack-signed-package-v1';

/** Every file the manifest names (artifacts, their extra files, golden vectors, the reference profile), sorted, once each. */
export function listedFiles(manifest) {
  const names = new Set();
  for (const entry of manifest.artifacts ?? []) {
    names.add(String(entry.file));
    for (const part of entry.files ?? []) names.add(String(part.file));
  }
  for (const key of ['golden', 'reference_profile']) {
    const entry = manifest[key];
    if (entry && typeof entry === 'object' && 'file' in entry) names.add(String(entry.file));
  }
  // Python sorts str by code point; these are package paths, where UTF-16 order agrees for the BMP.
  return [...names].sort();
}

/** The bytes a signature covers, computed from the files in the package. */
export async function signedMessage(pkg) {
  const lines = [SCHEME, `${MANIFEST} ${await sha256Hex(await pkg.source.read(MANIFEST))}`];
  for (const name of listedFiles(pkg.manifest)) lines.push(`${name} ${await sha256Hex(await pkg.source.read(name))}`);
  return new TextEncoder().encode(lines.join('\n') + '\n');
}

function pemBody(pem) {
  const match = /-----BEGIN PUBLIC KEY-----([\s\S]+?)-----END PUBLIC KEY-----/.exec(String(pem));
  if (!match) throw new UsageError('not a PEM public key', { fix: 'pass the .pub file written by `edgepack keygen` (never the private key)' });
  const text = atob(match[1].replace(/\s+/g, ''));
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** [{keyId, key}] for PEM public keys (strings). Throws UsageError for anything else. */
export async function trustSet(pems) {
  if (!Array.isArray(pems) || pems.length === 0) throw new UsageError('the trust set holds no public key', { fix: 'pass one or more .pub files written by `edgepack keygen`' });
  const keys = [];
  for (const pem of pems) {
    let key;
    try {
      key = await globalThis.crypto.subtle.importKey('spki', pemBody(pem), { name: 'Ed25519' }, true, ['verify']);
    } catch (err) {
      if (err instanceof UsageError) throw err;
      throw new UsageError(`not an Ed25519 public key: ${err.message}`, { fix: 'make keys with `edgepack keygen`' });
    }
    const raw = new Uint8Array(await globalThis.crypto.subtle.exportKey('raw', key));
    keys.push({ keyId: (await sha256Hex(raw)).slice(0, 16), key });
  }
  return keys;
}

async function readSignatures(pkg) {
  let raw;
  try {
    raw = await pkg.source.read(SIGNATURES);
  } catch (err) {
    if (err instanceof PackageError && /missing|no such|HTTP 404/i.test(err.message)) return [];
    throw err;
  }
  return parseSignatures(raw, pkg.where);
}

/** The entries of a signatures document (signatures.json, or a registry channel's .sig.json). */
export function parseSignatures(raw, where) {
  let data;
  try {
    data = JSON.parse(new TextDecoder().decode(raw));
  } catch (err) {
    throw new PackageError(`signatures are not valid JSON: ${err.message}`, { where, fix: 'sign again with `edgepack sign` (or promote again)' });
  }
  const entries = data && data.format === 'edgepack-signatures' ? data.signatures : null;
  if (!Array.isArray(entries) || !entries.every((e) => e && typeof e === 'object')) {
    throw new PackageError('not an edgepack signatures document', { where, fix: 'sign again with `edgepack sign` (or promote again)' });
  }
  return entries;
}

/**
 * The id of a trusted key among `entries` whose Ed25519 signature over `message` is valid.
 * @throws {PackageError} no entry by a trusted key, or none verifies
 */
export async function verifySigned(message, entries, pems, where) {
  const trusted = new Map((await trustSet(pems)).map((k) => [k.keyId, k.key]));
  const known = entries.filter((e) => e.algorithm === 'ed25519' && trusted.has(e.key_id));
  if (known.length === 0) {
    throw new PackageError(`no signature by a trusted key (signed by: ${entries.map((e) => e.key_id).join(', ') || 'nobody'}; trusted: ${[...trusted.keys()].join(', ')})`, {
      where, fix: "sign it with a trusted key, or add the signer's .pub" });
  }
  for (const entry of known) {
    let signature;
    try {
      signature = Uint8Array.from(atob(String(entry.signature ?? '')), (c) => c.charCodeAt(0));
    } catch {
      continue;
    }
    if (await globalThis.crypto.subtle.verify({ name: 'Ed25519' }, trusted.get(entry.key_id), signature, message)) return entry.key_id;
  }
  throw new PackageError('the signature does not match the signed contents: they changed after signing', {
    where, fix: 'do not use it; fetch it again from its publisher' });
}

/**
 * The id of a trusted key whose signature over the package is valid.
 * @throws {PackageError} unsigned, signed only by other keys, or changed after signing (exit 4)
 */
export async function verifyPackage(pkg, pems) {
  const entries = await readSignatures(pkg);
  if (entries.length === 0) {
    throw new PackageError('the package is not signed, and only signed packages are accepted', {
      where: pkg.where, fix: 'sign it with `edgepack sign PKG --key KEY` using a trusted key' });
  }
  return verifySigned(await signedMessage(pkg), entries, pems, pkg.where);
}
