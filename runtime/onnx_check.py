"""Refuse an ONNX artifact that is not self-contained, before onnxruntime sees it.

An ONNX tensor may keep its bytes in an external file (`data_location: EXTERNAL`, `external_data`
{location: "secret.txt"}). onnxruntime, given a model as bytes, reads that file relative to the scorer's
working directory: outside the package, unchecked by any checksum, and its bytes can come out in the
predictions. edgepack packages never use external data (every artifact is one checksummed file), so any
tensor that declares it is refused, wherever it sits: graph initializers, sparse initializers, tensor
attributes of any node (Constant, ConstantOfShape...), subgraphs (If/Loop/Scan), model-local functions and
training graphs.

The device has no `onnx` package: this walks the protobuf wire format itself, following only the fields
that can lead to a TensorProto (numbers from onnx/onnx.proto). Runs of fields it does not descend into (a
tree ensemble's thousands of unpacked ints, floats and mode strings) are skipped by regular expressions,
in C. Nesting is walked with
an explicit stack: a hostile 100,000-deep model cannot overflow Python's recursion.
"""

from __future__ import annotations

import re

from .errors import PackageError

# message kind -> {field number: kind of the embedded message}; fields not listed are skipped.
_CHILDREN: dict[str, dict[int, str]] = {
    "model": {7: "graph", 20: "training", 25: "function"},  # ModelProto
    "training": {1: "graph", 2: "graph"},  # TrainingInfoProto: initialization, algorithm
    "function": {7: "node", 11: "attribute"},  # FunctionProto: node, attribute_proto
    "graph": {1: "node", 5: "tensor", 15: "sparse"},  # GraphProto: node, initializer, sparse_initializer
    "node": {5: "attribute"},  # NodeProto
    "attribute": {5: "tensor", 6: "graph", 10: "tensor", 11: "graph", 22: "sparse", 23: "sparse"},
    "sparse": {1: "tensor", 2: "tensor"},  # SparseTensorProto: values, indices
    "tensor": {},
}
_EXTERNAL_DATA = 13  # TensorProto.external_data (StringStringEntryProto, repeated)
_DATA_LOCATION = 14  # TensorProto.data_location (1 = EXTERNAL)
_LOCATION_TAG = (_DATA_LOCATION << 3) | 0


def _skippable_tags() -> dict[int, bytes]:
    """One-byte tags of fields no kind descends into -> the regex body of one such field: varints, fixed64s,
    fixed32s (data_location's tag excluded), and length-delimited fields shorter than 128 bytes whose number
    is no kind's child (a tree ensemble's node modes are tens of thousands of these)."""
    children = {n for fields in _CHILDREN.values() for n in fields} | {_EXTERNAL_DATA}
    short = b"(?:" + b"|".join(re.escape(bytes([n])) + b".{%d}" % n for n in range(128)) + b")"
    body = {0: b"[\x80-\xff]{0,9}[\x00-\x7f]", 1: b".{8}", 5: b".{4}", 2: short}
    return {t: re.escape(bytes([t])) + body[t & 7] for t in range(8, 128)
            if t & 7 in body and t != _LOCATION_TAG and not (t & 7 == 2 and t >> 3 in children)}


_SKIPPABLE = _skippable_tags()
_runs: dict[int, re.Pattern[bytes]] = {}


def _run_of(tag: int) -> re.Pattern[bytes] | None:
    """A regex matching a run of fields with this one-byte tag (compiled on first use: a model repeats a
    few tags thousands of times, and one tag's pattern runs about 8x faster than one for every tag)."""
    run = _runs.get(tag)
    if run is None and tag in _SKIPPABLE:
        run = _runs[tag] = re.compile(b"(?:" + _SKIPPABLE[tag] + b")*", re.DOTALL)
    return run


FIX = "rebuild the package with edgepack build: its artifacts keep every tensor inside the .onnx file"


def check_self_contained(data: bytes, where: str) -> None:
    """Raise PackageError if the serialized ModelProto `data` declares external data anywhere, or is not
    a well-formed protobuf message."""
    buf = memoryview(data)
    stack = [("model", 0, len(data))]
    while stack:
        kind, pos, end = stack.pop()
        children = _CHILDREN[kind]
        while pos < end:
            run = _run_of(data[pos])
            if run is not None:
                found = run.match(data, pos, end)  # a `*` pattern: always matches, maybe empty
                after = found.end() if found else pos
                if after != pos:  # else a truncated field: the slow path below says so
                    pos = after
                    continue
            tag, pos = _varint(buf, pos, end, where)
            field, wire = tag >> 3, tag & 7
            if wire == 0:
                value, pos = _varint(buf, pos, end, where)
                if kind == "tensor" and field == _DATA_LOCATION and value == 1:
                    raise PackageError("the ONNX artifact keeps tensor data in an external file "
                                       "(data_location EXTERNAL): refused, it would be read from outside the package",
                                       where=where, fix=FIX)
            elif wire == 1:
                pos += 8
            elif wire == 5:
                pos += 4
            elif wire == 2:
                length, pos = _varint(buf, pos, end, where)
                if pos + length > end:
                    raise _malformed(where)
                if kind == "tensor" and field == _EXTERNAL_DATA:
                    raise PackageError(f"the ONNX artifact names external data ({_location(data[pos:pos + length])}): "
                                       "refused, it would be read from outside the package", where=where, fix=FIX)
                child = children.get(field)
                if child is not None:
                    stack.append((child, pos, pos + length))
                pos += length
            else:  # groups (3, 4) and unknown wire types: not in ONNX
                raise _malformed(where)
        if pos != end:
            raise _malformed(where)


def _varint(buf: memoryview, pos: int, end: int, where: str) -> tuple[int, int]:
    value = shift = 0
    while pos < end and shift < 70:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
    raise _malformed(where)


def _location(entry: bytes) -> str:
    """The text of a StringStringEntryProto, shown in the refusal (at most 80 characters)."""
    text = entry.decode("utf-8", "replace")
    printable = "".join(c if c.isprintable() else " " for c in text).strip()
    return repr(printable[:80])


def _malformed(where: str) -> PackageError:
    return PackageError("the ONNX artifact is not a well-formed ONNX model (damaged protobuf)", where=where,
                        fix="rebuild the package with edgepack build")
