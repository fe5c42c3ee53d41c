"""The manifest's shape, checked on the device without jsonschema: untrusted JSON becomes a PackageError
naming the field (`artifacts[0].size: expected an integer, got str 'big'`), never a KeyError later.

One rule book: `manifest.schema.json` beside this file (the build validates with jsonschema against the
same file; web/src/manifest.js interprets it the same way). `check_shape` interprets the keywords that
schema uses (type, const, enum, required, properties, items, minItems, minLength, minimum, maximum,
exclusiveMinimum, pattern, additionalProperties, if/then); `check_manifest` adds what a schema cannot say
and the scorer relies on (unique names, an ONNX artifact's tensors naming known features, outputs that fit
the task).
"""

from __future__ import annotations

import json
import math
import os
import re
from typing import Any

from .errors import PackageError, quoted
from .schema import STRING_TYPES

FORMAT_NAME = "edgepack"
FORMAT_VERSION = 1
# Version 2: tensor packages (named tensor inputs: images, sequences; docs/package-format.md). Tabular
# packages stay version 1, so every runtime released before version 2 keeps reading them.
TENSOR_FORMAT_VERSION = 2
READABLE_VERSIONS = (FORMAT_VERSION, TENSOR_FORMAT_VERSION)
SCHEMA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "manifest.schema.json")
FIX = "rebuild the package with edgepack build (a manifest edited by hand or damaged in transit is refused)"
_schema: dict[str, Any] | None = None


def schema() -> dict[str, Any]:
    """The committed JSON Schema, read once per process."""
    global _schema
    if _schema is None:
        with open(SCHEMA_FILE, encoding="utf-8") as handle:
            _schema = json.load(handle)
    return _schema


def check_manifest(manifest: Any, where: str) -> None:
    """Raise PackageError (exit 4) unless `manifest` is a format-1 (tabular) or format-2 (tensor) edgepack
    manifest the runtime can use."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise PackageError("manifest.json is not an edgepack manifest", where=where, fix=FIX)
    version = manifest.get("format_version")
    if type(version) is not int or version not in READABLE_VERSIONS:  # true and 1.0 compare equal to 1: not versions
        raise PackageError(
            f"unknown package format version {_shown(version)}; this runtime reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}",
            where=where,
            fix="upgrade edgepack on this device, or rebuild the package with a matching edgepack",
        )
    check_shape(manifest, schema(), "", where)
    if version == TENSOR_FORMAT_VERSION:
        _check_tensor_meaning(manifest, where)  # the schema's `else` (version 2), which check_shape does not read
    else:
        _check_meaning(manifest, where)


def check_shape(value: Any, rule: dict[str, Any], path: str, where: str) -> None:
    """`value` against the schema `rule`; PackageError naming `path` on the first mismatch."""
    def fail(what: str) -> PackageError:
        return PackageError(f"manifest.json: {path or 'the top level'}: {what}", where=where, fix=FIX)

    kind = rule.get("type")
    if kind is not None and not any(_is(value, k) for k in (kind if isinstance(kind, list) else [kind])):
        names = " or ".join(_TYPE_WORDS[k] for k in (kind if isinstance(kind, list) else [kind]))
        raise fail(f"expected {names}, got {_shown(value)}")
    if "const" in rule and not _same(value, rule["const"]):
        raise fail(f"expected {_shown(rule['const'])}, got {_shown(value)}")
    if "enum" in rule and not any(_same(value, option) for option in rule["enum"]):
        raise fail(f"expected one of {', '.join(map(_shown, rule['enum']))}, got {_shown(value)}")
    if isinstance(value, str):
        if len(value) < rule.get("minLength", 0):
            raise fail("must not be empty")
        if "pattern" in rule and not re.search(rule["pattern"], value):
            raise fail(f"{_shown(value)} does not match {rule['pattern']}")
    if _is(value, "number"):
        if not math.isfinite(value):
            raise fail(f"expected a finite number, got {value}")
        if "minimum" in rule and value < rule["minimum"]:
            raise fail(f"must be >= {rule['minimum']}, got {value}")
        if "maximum" in rule and value > rule["maximum"]:
            raise fail(f"must be <= {rule['maximum']}, got {value}")
        if "exclusiveMinimum" in rule and value <= rule["exclusiveMinimum"]:
            raise fail(f"must be > {rule['exclusiveMinimum']}, got {value}")
    if isinstance(value, list):
        if len(value) < rule.get("minItems", 0):
            raise fail(f"needs at least {rule['minItems']} item(s), got {len(value)}")
        if "items" in rule and not _all_plain(value, rule["items"]):
            for i, item in enumerate(value):
                check_shape(item, rule["items"], f"{path}[{i}]", where)
    if isinstance(value, dict):
        for key in rule.get("required", ()):
            if key not in value:
                raise fail(f"lacks {quoted(key)}")
        properties = rule.get("properties", {})
        extra = rule.get("additionalProperties")
        if not properties and isinstance(extra, dict) and _all_plain(value.values(), extra):
            return
        for key, item in value.items():
            sub = properties.get(key, extra if isinstance(extra, dict) else None)
            if sub is not None:
                check_shape(item, sub, f"{path}.{key}" if path else key, where)
        if "if" in rule and _matches(value, rule["if"]):
            check_shape(value, rule.get("then", {}), path, where)


def _check_meaning(m: dict[str, Any], where: str) -> None:
    def fail(path: str, what: str) -> PackageError:
        return PackageError(f"manifest.json: {path}: {what}", where=where, fix=FIX)

    features = m["inputs"]["features"]
    names = [f["name"] for f in features]
    if len(set(names)) != len(names):
        raise fail("inputs.features", f"feature {quoted(_first_duplicate(names))} is listed twice")
    ids = [a["id"] for a in m["artifacts"]]
    if len(set(ids)) != len(ids):
        raise fail("artifacts", f"artifact id {quoted(_first_duplicate(ids))} is listed twice")
    classification = m["model"]["task"] == "classification"
    classes = m["outputs"].get("classes", [])
    if classification and not classes:
        raise fail("outputs.classes", "a classifier's manifest must list its classes")
    if len(set(map(_key, classes))) != len(classes):
        raise fail("outputs.classes", "a class is listed twice")
    needed = "probabilities" if classification else "value"
    known = set(names)
    types = {f["name"]: f["type"] for f in features}
    for i, art in enumerate(m["artifacts"]):
        for j, part in enumerate(art.get("files", [])):  # the schema names these keys without typing them
            for key, rule in _PART.items():
                check_shape(part[key], rule, f"artifacts[{i}].files[{j}].{key}", where)
        if art["format"] != "onnx":
            continue
        if not art["inputs"]:
            raise fail(f"artifacts[{i}].inputs", "an ONNX artifact needs at least one input tensor")
        for j, tensor in enumerate(art["inputs"]):
            unknown = [n for n in tensor["features"] if n not in known]
            if unknown:
                raise fail(f"artifacts[{i}].inputs[{j}].features", f"{quoted(unknown[0])} is not an input feature")
            numbers = [n for n in tensor["features"] if types[n] not in STRING_TYPES]
            if tensor["dtype"] == "string" and numbers:
                raise fail(f"artifacts[{i}].inputs[{j}]", f"a string tensor cannot carry the {types[numbers[0]]} "
                           f"feature {quoted(numbers[0])}")
            text = [n for n in tensor["features"] if types[n] == "text"]
            if tensor["dtype"] != "string" and text:  # a category can go as its index; text has none
                raise fail(f"artifacts[{i}].inputs[{j}]", f"a {tensor['dtype']} tensor cannot carry the text "
                           f"feature {quoted(text[0])}")
        if needed not in art["outputs"]:
            raise fail(f"artifacts[{i}].outputs", f"a {m['model']['task']} artifact must name its {quoted(needed)} output")


def _check_tensor_meaning(m: dict[str, Any], where: str) -> None:
    """A version 2 manifest: named tensor inputs and outputs, artifacts binding them."""
    def fail(path: str, what: str) -> PackageError:
        return PackageError(f"manifest.json: {path}: {what}", where=where, fix=FIX)

    for section in ("inputs", "outputs"):
        if not isinstance(m[section].get("tensors"), list) or not m[section]["tensors"]:
            raise fail(f"{section}.tensors", "a format version 2 manifest lists its tensors here")
        names = [t["name"] for t in m[section]["tensors"]]
        if len(set(names)) != len(names):
            raise fail(f"{section}.tensors", f"tensor {quoted(_first_duplicate(names))} is listed twice")
    ids = [a["id"] for a in m["artifacts"]]
    if len(set(ids)) != len(ids):
        raise fail("artifacts", f"artifact id {quoted(_first_duplicate(ids))} is listed twice")
    if m["model"]["task"] == "classification" and not m["outputs"].get("classes"):
        raise fail("outputs.classes", "a classifier's manifest must list its classes")
    inputs = {t["name"] for t in m["inputs"]["tensors"]}
    outputs = {t["name"] for t in m["outputs"]["tensors"]}
    for i, art in enumerate(m["artifacts"]):
        for j, part in enumerate(art.get("files", [])):
            for key, rule in _PART.items():
                check_shape(part[key], rule, f"artifacts[{i}].files[{j}].{key}", where)
        bound = [t.get("input") for t in art["inputs"]]
        if sorted(map(str, bound)) != sorted(inputs):
            raise fail(f"artifacts[{i}].inputs", "must bind every package input exactly once (by `input`)")
        if set(art["outputs"]) != outputs:
            raise fail(f"artifacts[{i}].outputs", "must name every package output")


# An artifact's extra files: each read and checked like the artifact itself.
_PART: dict[str, dict[str, Any]] = {
    "file": {"type": "string", "minLength": 1}, "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
         "size": {"type": "integer", "minimum": 0}}
_PLAIN = {"string": (str,), "number": (int, float), "integer": (int,), "boolean": (bool,)}


def _all_plain(values: Any, rule: dict[str, Any]) -> bool:
    """True when `rule` is a bare scalar type and every value has it (finite, for numbers): a feature's
    100,000 categories or frequencies pass in one C-speed sweep. False means: check them one by one."""
    if rule.keys() != {"type"} or not isinstance(rule["type"], str) or rule["type"] not in _PLAIN:
        return False
    kinds = _PLAIN[rule["type"]]
    if not all(type(v) in kinds for v in values):
        return False
    return rule["type"] != "number" or all(-math.inf < v < math.inf for v in values)


_TYPE_WORDS = {"object": "an object", "array": "a list", "string": "a string", "integer": "an integer",
               "number": "a number", "boolean": "true or false", "null": "null"}


def _is(value: Any, kind: str) -> bool:
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":  # 5.0 and true are not integers here: the build writes ints
        return type(value) is int
    if kind == "number":
        return type(value) in (int, float)
    if kind == "boolean":
        return type(value) is bool
    return value is None


def _same(a: Any, b: Any) -> bool:
    """JSON equality: true is not 1, 1.0 is not 1 (for const and enum)."""
    return type(a) is type(b) and a == b


def _matches(value: Any, rule: dict[str, Any]) -> bool:
    try:
        check_shape(value, rule, "", "")
    except PackageError:
        return False
    return True


def _key(value: Any) -> tuple[str, Any]:
    return type(value).__name__, value


def _first_duplicate(items: list[Any]) -> Any:
    seen: set[Any] = set()
    for item in items:
        if item in seen:
            return item
        seen.add(item)
    return None


def _shown(value: Any) -> str:
    """A value in a message, as JSON (at most 40 characters) with its JSON type: `"big" (a string)`."""
    if isinstance(value, (dict, list)):
        return "an object" if isinstance(value, dict) else "a list"
    text = json.dumps(value, ensure_ascii=True)
    text = text if len(text) <= 40 else text[:40] + "..."
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}.get(type(value), "null")
    return text if value is None else f"{text} ({kind})"


def artifact_size(entry: dict[str, Any]) -> int:
    """Bytes of every file of an artifact: its main file alone, or, for a multi-file artifact (TF.js's
    model.json and weight shards, a Core ML package), the sum of its `files` (the main one among them)."""
    parts = entry.get("files")
    if isinstance(parts, list) and parts:
        return sum(int(p["size"]) for p in parts)
    return int(entry["size"])
