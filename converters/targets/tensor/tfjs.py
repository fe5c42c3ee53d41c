"""TF.js graph models of tensor models: the source's TensorFlow function saved as a SavedModel and
converted by tensorflowjs (the tabular target's converter call and its fix for fused activations the
cpu/wasm backends cannot run are reused); float32 and weight-quantized float16/uint8 variants."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ....runtime.errors import ModelError
from ..base import Artifact, check_options, chosen_variants
from ..tfjs import run_converter, unfuse_activations, unfuse_tensor_bias
from .tf_graph import input_dtype, save_model, tf_function

OPTIONS: dict[str, Any] = {"variants": "float32,float16,uint8"}
VARIANTS: dict[str, tuple[str, str, str | None, str | None]] = {
    "float32": ("tfjs", "float32", None, None),
    "float16": ("tfjs-float16", "float16", "float16", "weights-float16"),
    "uint8": ("tfjs-uint8", "uint8", "uint8", "weights-uint8"),
}


def emit(source: Any, options: dict[str, Any] | None = None) -> list[Artifact]:
    from importlib.metadata import version

    opts = check_options("tfjs", options or {}, OPTIONS)
    fn = tf_function(source)
    artifacts = []
    with tempfile.TemporaryDirectory(prefix="edgepack-tfjs-") as tmp:
        saved = Path(tmp) / "saved_model"
        save_model(fn, str(saved))
        for variant in chosen_variants("tfjs", opts["variants"], VARIANTS):
            art_id, precision, dtype, quantization = VARIANTS[variant]
            out = Path(tmp) / art_id
            run_converter(saved, out, dtype)
            model_json = json.loads((out / "model.json").read_text())
            unfuse_activations(model_json)
            unfuse_tensor_bias(model_json)
            shards = {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.name != "model.json"}
            shards = shared_weights(model_json, shards)
            files = {f"tfjs/{art_id}/model.json": json.dumps(model_json).encode()}
            files.update({f"tfjs/{art_id}/{name}": data for name, data in shards.items()})
            signature = model_json.get("signature", {})
            entry = {"id": art_id, "format": "tfjs", "file": f"tfjs/{art_id}/model.json", "precision": precision,
                     "default": variant == "float32",
                     "converter": {"name": f"tensorflowjs (from {fn.converter['name']} {fn.converter['version']})",
                                   "version": version("tensorflowjs")},
                     "inputs": [{"name": signature["inputs"][n]["name"].split(":")[0], "input": n, "dtype": input_dtype(fn, n),
                                 **({"layout": fn.layouts[n]} if fn.layouts.get(n) else {})} for n in fn.inputs],
                     "outputs": output_names(signature.get("outputs", {}), fn.outputs)}
            if quantization:
                entry["quantization"] = quantization
            artifacts.append(Artifact(id=art_id, format="tfjs", files=files, entry=entry))
    return artifacts


def output_names(signature_outputs: dict[str, Any], outputs: list[str]) -> dict[str, str]:
    """Our output name -> the graph model's tensor name. The converter keys one output by its name, but
    several by their tensors, `Identity:0`, `Identity_1:0`, ..., in the SavedModel signature's flattened
    (sorted-name) order (save_model writes them so)."""
    if all(o in signature_outputs for o in outputs):
        return {o: signature_outputs[o]["name"].split(":")[0] for o in outputs}

    def position(key: str) -> int:
        stem = key.split(":")[0]
        return 0 if stem == "Identity" else int(stem.rsplit("_", 1)[1])

    keys = sorted(signature_outputs, key=position)
    if len(keys) != len(outputs) or not all(k.split(":")[0].startswith("Identity") for k in keys):
        raise ModelError(f"the TF.js converter named the outputs {sorted(signature_outputs)}; cannot tell which is which",
                         fix="build without the tfjs target")
    return {o: signature_outputs[k]["name"].split(":")[0] for o, k in zip(sorted(outputs), keys)}


_BYTES = {"float32": 4, "int32": 4, "float16": 2, "uint16": 2, "uint8": 1, "int8": 1, "bool": 1}
SHARD_BYTES = 4 * 1024 * 1024  # the converter's own shard size


def shared_weights(model_json: dict[str, Any], shards: dict[str, bytes]) -> dict[str, bytes]:
    """Keep one copy of weights stored several times (same bytes, dtype, shape and quantization): the
    Const nodes that read a dropped copy read the kept one. Returns the new shards (model_json is updated).

    Why: a recurrent layer unrolled over T steps (tf_graph.unrolled) reads its kernels once per step;
    frozen, each read is its own constant, and the TF.js converter stores all T copies (measured: an
    LSTM(8) over 12 steps had 12 copies of each kernel, a shard 7 times the model's weights). The ONNX,
    TFLite and Core ML converters already keep one."""
    groups = model_json["weightsManifest"]
    weights = [w for g in groups for w in g["weights"]]
    if len(groups) != 1 or any(w["dtype"] not in _BYTES for w in weights) or model_json["modelTopology"].get("library"):
        return shards  # string weights, several groups or functions: left as converted
    data = b"".join(shards[p] for p in groups[0]["paths"])
    kept: dict[tuple[Any, ...], str] = {}
    renamed: dict[str, str] = {}
    out: list[dict[str, Any]] = []
    parts: list[bytes] = []
    at = 0
    for w in weights:
        size = int(np.prod(w["shape"], dtype=np.int64)) * _BYTES[w.get("quantization", {}).get("dtype", w["dtype"])]
        chunk, at = data[at:at + size], at + size
        key = (chunk, w["dtype"], tuple(w["shape"]), json.dumps(w.get("quantization"), sort_keys=True))
        if key in kept:
            renamed[w["name"]] = kept[key]
            continue
        kept[key] = w["name"]
        out.append(w)
        parts.append(chunk)
    if not renamed:
        return shards
    nodes = [n for n in model_json["modelTopology"]["node"] if n["name"] not in renamed]
    for node in nodes:
        node["input"] = [_renamed_input(i, renamed) for i in node.get("input", [])]
    model_json["modelTopology"]["node"] = nodes
    blob = b"".join(parts)
    count = max(1, -(-len(blob) // SHARD_BYTES))
    names = [f"group1-shard{i + 1}of{count}.bin" for i in range(count)]
    groups[0].update(paths=names, weights=out)
    return {name: blob[i * SHARD_BYTES:(i + 1) * SHARD_BYTES] for i, name in enumerate(names)}


def _renamed_input(name: str, renamed: dict[str, str]) -> str:
    """A node input ("node", "node:1" or "^node" for a control input) pointed at the kept copy."""
    control = name.startswith("^")
    base, _, port = name.lstrip("^").partition(":")
    base = renamed.get(base, base)
    return ("^" if control else "") + base + (f":{port}" if port else "")
