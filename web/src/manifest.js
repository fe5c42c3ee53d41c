// The manifest's shape (runtime/manifest.py, the same rules): untrusted JSON becomes a PackageError
// naming the field (`artifacts[0].size: expected an integer, got "big" (a string)`), never a TypeError
// later. checkShape interprets the keywords runtime/manifest.schema.json uses; checkManifest adds what a
// schema cannot say and the scorer relies on.

import { PackageError } from './errors.js';
import { MANIFEST_SCHEMA } from './manifest-schema.js';

export const FORMAT_NAME = 'edgepack';
export const FORMAT_VERSION = 1;
// Version 2: tensor packages (named tensor inputs: images, sequences; runtime/manifest.py). Tabular packages
// stay version 1.
export const TENSOR_FORMAT_VERSION = 2;
export const READABLE_VERSIONS = [FORMAT_VERSION, TENSOR_FORMAT_VERSION];
const FIX = 'rebuild the package with edgepack build (a manifest edited by hand or damaged in transit is refused)';
// An artifact's extra files: each read and checked like the artifact itself (runtime/manifest.py: _PART).
const PART = {
  file: { type: 'string', minLength: 1 },
  sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
  size: { type: 'integer', minimum: 0 },
};
const TYPE_WORDS = { object: 'an object', array: 'a list', string: 'a string', integer: 'an integer', number: 'a number', boolean: 'true or false', null: 'null' };

function isType(value, kind) {
  switch (kind) {
    case 'object': return value !== null && typeof value === 'object' && !Array.isArray(value);
    case 'array': return Array.isArray(value);
    case 'string': return typeof value === 'string';
    case 'integer': return Number.isInteger(value); // JSON.parse cannot tell 1.0 from 1: both are integers here
    case 'number': return typeof value === 'number';
    case 'boolean': return typeof value === 'boolean';
    default: return value === null;
  }
}

/** A value in a message, as JSON (at most 40 characters) with its JSON type: `"big" (a string)`. */
export function shown(value) {
  if (Array.isArray(value)) return 'a list';
  if (value !== null && typeof value === 'object') return 'an object';
  let text = JSON.stringify(value) ?? String(value);
  if (text.length > 40) text = `${text.slice(0, 40)}...`;
  if (value === null || value === undefined) return text;
  const kind = typeof value === 'boolean' ? 'a boolean' : typeof value === 'string' ? 'a string' : Number.isInteger(value) ? 'an integer' : 'a number';
  return `${text} (${kind})`;
}

function quoted(value) {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

const same = (a, b) => typeof a === typeof b && a === b;

/** `value` against the schema `rule`; PackageError naming `path` on the first mismatch. */
export function checkShape(value, rule, path, where) {
  const fail = (what) => new PackageError(`manifest.json: ${path || 'the top level'}: ${what}`, { where, fix: FIX });
  if (rule.type !== undefined) {
    const kinds = Array.isArray(rule.type) ? rule.type : [rule.type];
    if (!kinds.some((k) => isType(value, k))) throw fail(`expected ${kinds.map((k) => TYPE_WORDS[k]).join(' or ')}, got ${shown(value)}`);
  }
  if ('const' in rule && !same(value, rule.const)) throw fail(`expected ${shown(rule.const)}, got ${shown(value)}`);
  if (rule.enum && !rule.enum.some((o) => same(value, o))) throw fail(`expected one of ${rule.enum.map(shown).join(', ')}, got ${shown(value)}`);
  if (typeof value === 'string') {
    if (value.length < (rule.minLength ?? 0)) throw fail('must not be empty');
    if (rule.pattern && !new RegExp(rule.pattern, 'u').test(value)) throw fail(`${shown(value)} does not match ${rule.pattern}`);
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw fail(`expected a finite number, got ${value}`);
    if (rule.minimum !== undefined && value < rule.minimum) throw fail(`must be >= ${rule.minimum}, got ${value}`);
    if (rule.maximum !== undefined && value > rule.maximum) throw fail(`must be <= ${rule.maximum}, got ${value}`);
    if (rule.exclusiveMinimum !== undefined && value <= rule.exclusiveMinimum) throw fail(`must be > ${rule.exclusiveMinimum}, got ${value}`);
  }
  if (Array.isArray(value)) {
    if (value.length < (rule.minItems ?? 0)) throw fail(`needs at least ${rule.minItems} item(s), got ${value.length}`);
    if (rule.items) for (let i = 0; i < value.length; i++) checkShape(value[i], rule.items, `${path}[${i}]`, where); // holes too
  } else if (isType(value, 'object')) {
    for (const key of rule.required ?? []) if (!Object.hasOwn(value, key)) throw fail(`lacks '${key}'`);
    const properties = rule.properties ?? {};
    const extra = rule.additionalProperties;
    for (const [key, item] of Object.entries(value)) {
      const sub = Object.hasOwn(properties, key) ? properties[key] : (extra && typeof extra === 'object' ? extra : null);
      if (sub) checkShape(item, sub, path ? `${path}.${key}` : key, where);
    }
    if (rule.if && matches(value, rule.if)) checkShape(value, rule.then ?? {}, path, where);
  }
}

function matches(value, rule) {
  try {
    checkShape(value, rule, '', '');
    return true;
  } catch {
    return false;
  }
}

function firstDuplicate(items) {
  const seen = new Set();
  for (const item of items) {
    if (seen.has(item)) return item;
    seen.add(item);
  }
  return null;
}

/** Throw PackageError (exit 4) unless `manifest` is a format-1 (tabular) or format-2 (tensor) edgepack
 * manifest this library can use. */
export function checkManifest(manifest, where) {
  if (!isType(manifest, 'object') || manifest.format !== FORMAT_NAME) {
    throw new PackageError('manifest.json is not an edgepack manifest', { where, fix: FIX });
  }
  const version = manifest.format_version;
  if (!Number.isInteger(version) || !READABLE_VERSIONS.includes(version)) {
    throw new PackageError(
      `unknown package format version ${shown(version ?? null)}; this runtime reads versions ${READABLE_VERSIONS.join(', ')}`,
      { where, fix: 'upgrade edgepack-web, or rebuild the package with a matching edgepack' },
    );
  }
  checkShape(manifest, MANIFEST_SCHEMA, '', where);
  if (version === TENSOR_FORMAT_VERSION) checkTensorMeaning(manifest, where); // the schema's `else`, which checkShape does not read
  else checkTabularMeaning(manifest, where);
}

/** A version 2 manifest: named tensor inputs and outputs, artifacts binding them (runtime/manifest.py). */
function checkTensorMeaning(manifest, where) {
  const fail = (path, what) => new PackageError(`manifest.json: ${path}: ${what}`, { where, fix: FIX });
  const names = {};
  for (const section of ['inputs', 'outputs']) {
    const tensors = manifest[section].tensors;
    if (!Array.isArray(tensors) || !tensors.length) throw fail(`${section}.tensors`, 'a format version 2 manifest lists its tensors here');
    names[section] = tensors.map((t) => t.name);
    const dup = firstDuplicate(names[section]);
    if (dup !== null) throw fail(`${section}.tensors`, `tensor ${quoted(dup)} is listed twice`);
  }
  const dupId = firstDuplicate(manifest.artifacts.map((a) => a.id));
  if (dupId !== null) throw fail('artifacts', `artifact id ${quoted(dupId)} is listed twice`);
  if (manifest.model.task === 'classification' && !manifest.outputs.classes?.length) throw fail('outputs.classes', "a classifier's manifest must list its classes");
  const sorted = (list) => JSON.stringify([...list].map(String).sort());
  manifest.artifacts.forEach((art, i) => {
    (art.files ?? []).forEach((part, j) => {
      for (const [key, rule] of Object.entries(PART)) checkShape(part[key], rule, `artifacts[${i}].files[${j}].${key}`, where);
    });
    if (sorted(art.inputs.map((t) => t.input)) !== sorted(names.inputs)) {
      throw fail(`artifacts[${i}].inputs`, 'must bind every package input exactly once (by `input`)');
    }
    if (sorted(Object.keys(art.outputs)) !== sorted(names.outputs)) throw fail(`artifacts[${i}].outputs`, 'must name every package output');
  });
}

function checkTabularMeaning(manifest, where) {
  const fail = (path, what) => new PackageError(`manifest.json: ${path}: ${what}`, { where, fix: FIX });
  const features = manifest.inputs.features;
  const names = features.map((f) => f.name);
  const types = new Map(features.map((f) => [f.name, f.type]));
  const dupFeature = firstDuplicate(names);
  if (dupFeature !== null) throw fail('inputs.features', `feature ${quoted(dupFeature)} is listed twice`);
  const dupId = firstDuplicate(manifest.artifacts.map((a) => a.id));
  if (dupId !== null) throw fail('artifacts', `artifact id ${quoted(dupId)} is listed twice`);
  const classification = manifest.model.task === 'classification';
  const classes = manifest.outputs.classes ?? [];
  if (classification && !classes.length) throw fail('outputs.classes', "a classifier's manifest must list its classes");
  if (new Set(classes.map((c) => `${typeof c}:${c}`)).size !== classes.length) throw fail('outputs.classes', 'a class is listed twice');
  const needed = classification ? 'probabilities' : 'value';
  manifest.artifacts.forEach((art, i) => {
    (art.files ?? []).forEach((part, j) => { // the schema names these keys without typing them
      for (const [key, rule] of Object.entries(PART)) checkShape(part[key], rule, `artifacts[${i}].files[${j}].${key}`, where);
    });
    if (art.format !== 'onnx') return;
    if (!art.inputs.length) throw fail(`artifacts[${i}].inputs`, 'an ONNX artifact needs at least one input tensor');
    art.inputs.forEach((tensor, j) => {
      const unknown = tensor.features.find((n) => !types.has(n));
      if (unknown !== undefined) throw fail(`artifacts[${i}].inputs[${j}].features`, `${quoted(unknown)} is not an input feature`);
      const number = tensor.features.find((n) => types.get(n) !== 'category' && types.get(n) !== 'text');
      if (tensor.dtype === 'string' && number !== undefined) {
        throw fail(`artifacts[${i}].inputs[${j}]`, `a string tensor cannot carry the ${types.get(number)} feature ${quoted(number)}`);
      }
      const text = tensor.features.find((n) => types.get(n) === 'text');
      if (tensor.dtype !== 'string' && text !== undefined) { // a category can go as its index; text has none
        throw fail(`artifacts[${i}].inputs[${j}]`, `a ${tensor.dtype} tensor cannot carry the text feature ${quoted(text)}`);
      }
    });
    if (!Object.hasOwn(art.outputs, needed)) throw fail(`artifacts[${i}].outputs`, `a ${manifest.model.task} artifact must name its '${needed}' output`);
  });
}
