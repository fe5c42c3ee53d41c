"""Helpers that change a copied package the way a broken converter or a careless edit would: an artifact's
bytes replaced (checksum fixed, so only parity can catch it), a weight or threshold nudged, a float16
variant added. Tests use them on copies, never on the session's shared packages."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper


def copy_package(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def copy_with_model(src: Path, dst: Path) -> Path:
    """Copy a package built by the zoo fixture, with its model file beside it (for --reference)."""
    copy_package(src, dst)
    name = src.parent.name
    (dst.parent / f"{name}.joblib").symlink_to(src.parent / f"{name}.joblib")
    return dst


def flipped_copy(src: Path, dst: Path, file: str) -> Path:
    """A copy of the package with one byte of `file` flipped and the manifest left alone: a checksum
    mismatch every consumer must refuse."""
    copy_package(src, dst)
    data = bytearray((dst / file).read_bytes())
    data[len(data) // 2] ^= 0x01
    (dst / file).write_bytes(bytes(data))
    return dst


def set_file_bytes(package: Path, file: str, data: bytes) -> None:
    """Write `data` as `file` and fix its sha256 and size wherever the manifest lists it (an entry's main
    file and its `files`), so only the numbers can tell."""
    manifest = json.loads((package / "manifest.json").read_text())
    (package / file).write_bytes(data)
    for entry in manifest["artifacts"]:
        for part in [entry, *entry.get("files", [])]:
            if part["file"] == file:
                part["sha256"], part["size"] = hashlib.sha256(data).hexdigest(), len(data)
    (package / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def edit_attribute(package: Path, op_type: str, name: str, change: Callable[[list[Any]], list[Any]]) -> None:
    """Change one attribute of the first `op_type` node of model.onnx and fix the artifact's checksum."""
    model = load_onnx(package)
    target = node(model, op_type)
    set_attribute(target, name, change(attribute(target, name)))
    set_artifact_bytes(package, "onnx", model.SerializeToString())


def set_artifact_bytes(package: Path, artifact_id: str, data: bytes, file: str | None = None,
                       entry_changes: dict[str, Any] | None = None) -> None:
    """Write `data` as the artifact (adding the entry, copied from the onnx one, when the id is new) and fix
    its sha256 and size in the manifest."""
    manifest = json.loads((package / "manifest.json").read_text())
    entries = {a["id"]: a for a in manifest["artifacts"]}
    entry = entries.get(artifact_id)
    if entry is None:
        entry = {**json.loads(json.dumps(entries["onnx"])), "id": artifact_id, "default": False}
        manifest["artifacts"].append(entry)
    entry.update(entry_changes or {})
    if file:
        entry["file"] = file
    (package / entry["file"]).write_bytes(data)
    entry["sha256"] = hashlib.sha256(data).hexdigest()
    entry["size"] = len(data)
    (package / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def load_onnx(package: Path, file: str = "model.onnx") -> onnx.ModelProto:
    return onnx.load(str(package / file))


def node(model: onnx.ModelProto, op_type: str) -> onnx.NodeProto:
    return next(n for n in model.graph.node if n.op_type == op_type)


def set_attribute(n: onnx.NodeProto, name: str, values: list[Any]) -> None:
    """Replace an attribute's values; a tensor attribute keeps its element type."""
    from onnx import numpy_helper

    for i, attr in enumerate(n.attribute):
        if attr.name == name:
            if attr.type == attr.TENSOR:
                dtype = numpy_helper.to_array(attr.t).dtype
                n.attribute[i].CopyFrom(helper.make_attribute(name, numpy_helper.from_array(np.asarray(values, dtype=dtype))))
            else:
                n.attribute[i].CopyFrom(helper.make_attribute(name, values))
            return
    raise KeyError(name)


def attribute(n: onnx.NodeProto, name: str) -> list[Any]:
    """An attribute's values as a list (a tensor attribute's elements too)."""
    from onnx import numpy_helper

    attr = next(a for a in n.attribute if a.name == name)
    if attr.type == attr.TENSOR:
        return numpy_helper.to_array(attr.t).tolist()
    return list(helper.get_attribute_value(attr))


def float16_copy(model: onnx.ModelProto) -> bytes:
    """onnxconverter-common's float16 conversion with float32 inputs and outputs (keep_io_types).

    The converter declares a Cast node's output float16 but leaves its `to` attribute at float32, and
    onnxruntime refuses the model ("Type (tensor(float16)) of output arg ... does not match"): such Casts
    get `to` = float16, matching what the graph declares. ai.onnx.ml operators stay float32 (the
    converter's default block list) with casts around them; MatMul/Add weights become float16."""
    from onnx import TensorProto
    from onnxconverter_common import float16

    converted = float16.convert_float_to_float16(model, keep_io_types=True)
    declared = {v.name: v.type.tensor_type.elem_type for v in [*converted.graph.value_info, *converted.graph.output]}
    for cast in (n for n in converted.graph.node if n.op_type == "Cast"):
        if declared.get(cast.output[0]) == TensorProto.FLOAT16:
            for attr in cast.attribute:
                if attr.name == "to" and attr.i == TensorProto.FLOAT:
                    attr.i = TensorProto.FLOAT16
    return converted.SerializeToString()
