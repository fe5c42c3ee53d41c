"""The TF.js target: graph models (model.json + weight shards), float32 and weight-quantized variants.

The TensorFlow function (converters/lowering/) is saved as a SavedModel and converted with
tensorflowjs_converter --input_format=tf_saved_model. The converter fuses MatMul + BiasAdd + activation
into `_FusedMatMul`; the cpu and wasm backends cannot run every fused activation (tanh: "not yet
supported"), so such nodes are split back into the fused product and a separate activation node.
Weight quantization (float16, uint16, uint8, per-channel int8-weights: converters/quantize/tfjs.py) only
changes how weights are stored: compute stays float32.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from ...runtime.errors import ModelError
from ..lowering import INPUT_NAME, lower
from ..quantize.tfjs import int8_weights
from .base import Artifact, check_options, chosen_variants

# int8-weights is built on request (--quantize): each TF.js variant costs a Node run at check time
OPTIONS: dict[str, Any] = {"tree_strategy": "auto", "variants": "float32,float16,uint16,uint8"}

# variant -> (artifact id, precision, weight storage dtype or None, quantization or None)
VARIANTS: dict[str, tuple[str, str, str | None, str | None]] = {
    "float32": ("tfjs", "float32", None, None),
    "float16": ("tfjs-float16", "float16", "float16", "weights-float16"),
    "uint16": ("tfjs-uint16", "uint16", "uint16", "weights-uint16"),
    "uint8": ("tfjs-uint8", "uint8", "uint8", "weights-uint8"),
    "int8-weights": ("tfjs-int8-weights", "int8", None, "weights-int8"),
}
# Activations the TF.js cpu and wasm backends both run inside a fused op.
FUSABLE_ACTIVATIONS = {"Relu", "Relu6", "Elu", "Prelu", "LeakyRelu", "Sigmoid"}


def save_model(graph: Any, directory: Path) -> None:
    import tensorflow as tf

    module = tf.Module()
    module.serve = graph.function
    if graph.keep is not None:
        module.keep = graph.keep  # track the variables the function reads
    tf.saved_model.save(module, str(directory), signatures={"serving_default": graph.function})


def run_converter(saved: Path, out: Path, dtype: str | None) -> None:
    """tensorflowjs' SavedModel converter, in this process (a subprocess would import TensorFlow again)."""
    # tensorflowjs imports tensorflow_decision_forests, whose welcome banner imports IPython whenever
    # stdout is not a terminal (pytest, CI, pipes) and fails without it.
    os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")
    from tensorflowjs.converters.tf_saved_model_conversion_v2 import convert_tf_saved_model

    try:
        convert_tf_saved_model(str(saved), str(out), signature_def="serving_default",
                               quantization_dtype_map={dtype: True} if dtype else None)
    except Exception as exc:  # the converter raises ValueError for unsupported ops, and others
        raise ModelError(f"tensorflowjs could not convert the model: {type(exc).__name__}: {exc}") from exc


def unfuse_activations(model_json: dict[str, Any]) -> int:
    """Split fused activations the backends cannot run into their own node. Returns how many were split."""
    nodes = model_json["modelTopology"]["node"]
    added, count = [], 0
    for node in nodes:
        ops = node.get("attr", {}).get("fused_ops", {}).get("list", {}).get("s", [])
        names = [base64.b64decode(s).decode() for s in ops]
        if not names or names[-1] in FUSABLE_ACTIVATIONS or names[-1] in ("BiasAdd", "FusedBatchNorm"):
            continue
        activation = names[-1]
        product = f"{node['name']}/edgepack_unfused"
        added.append({"name": node["name"], "op": activation, "input": [product],
                      "attr": {"T": {"type": "DT_FLOAT"}}})
        node["name"] = product
        node["attr"]["fused_ops"]["list"]["s"] = ops[:-1]
        count += 1
    nodes.extend(added)
    return count


def unfuse_tensor_bias(model_json: dict[str, Any]) -> int:
    """Split `_FusedMatMul` nodes whose fused "bias" is a computed tensor, not a constant vector, into
    MatMul + AddV2 (+ the fused activation). The converter fuses `x @ W + h @ U` (an unrolled GRU/LSTM
    step) that way, and the wasm backend refuses it ("_FusedMatMul only supports rank-1 bias").
    Returns how many were split."""
    nodes = model_json["modelTopology"]["node"]
    consts = {n["name"]: n for n in nodes if n["op"] == "Const"}
    added, count = [], 0
    for node in nodes:
        ops = [base64.b64decode(s).decode() for s in node.get("attr", {}).get("fused_ops", {}).get("list", {}).get("s", [])]
        if node["op"] != "_FusedMatMul" or not ops or ops[0] != "BiasAdd" or len(node["input"]) < 3:
            continue
        bias = consts.get(node["input"][2].split(":")[0])
        if bias is not None and len(bias["attr"]["value"]["tensor"].get("tensorShape", {}).get("dim", [])) == 1:
            continue
        name, a, b, bias_input = node["name"], *node["input"][:3]
        product = f"{name}/edgepack_matmul"
        summed = f"{name}/edgepack_add" if len(ops) > 1 else name
        node.update(name=product, op="MatMul", input=[a, b],
                    attr={k: v for k, v in node["attr"].items() if k in ("transpose_a", "transpose_b", "T")})
        added.append({"name": summed, "op": "AddV2", "input": [product, bias_input], "attr": {"T": {"type": "DT_FLOAT"}}})
        if len(ops) > 1:
            added.append({"name": name, "op": ops[1], "input": [summed], "attr": {"T": {"type": "DT_FLOAT"}}})
        count += 1
    nodes.extend(added)
    return count


def graph_outputs(model_json: dict[str, Any], names: list[str]) -> dict[str, str]:
    """Package output name -> graph output node name, from the model's signature."""
    signature = model_json.get("signature", {}).get("outputs", {})
    return {name: signature[name]["name"].split(":")[0] for name in names}


def emit(source: Any, schema: Any, options: dict[str, Any] | None = None) -> list[Artifact]:
    """Every requested variant as an Artifact with files tfjs/<id>/model.json and its shards."""
    from importlib.metadata import version

    opts = check_options("tfjs", options or {}, OPTIONS)
    graph = lower(source, schema, {"tree_strategy": opts["tree_strategy"]})
    artifacts = []
    with tempfile.TemporaryDirectory(prefix="edgepack-tfjs-") as tmp:
        saved = Path(tmp) / "saved_model"
        save_model(graph, saved)
        # float32 first: the default, and what int8-weights rewrites
        for variant in sorted(chosen_variants("tfjs", opts["variants"], VARIANTS), key=lambda v: v != "float32"):
            art_id, precision, dtype, quantization = VARIANTS[variant]
            if variant != "float32" and graph.unquantizable:
                print(f"{art_id}: not built: {graph.unquantizable}", file=sys.stderr)
                continue
            out = Path(tmp) / (VARIANTS["float32"][0] if variant == "int8-weights" else art_id)
            if variant != "int8-weights":  # int8-weights rewrites the float32 conversion (quantize/tfjs.py)
                run_converter(saved, out, dtype)
            model_json = json.loads((out / "model.json").read_text())
            notes = list(graph.notes)
            if unfuse_activations(model_json):
                notes.append("split fused activations the TF.js cpu/wasm backends cannot run")
            shards = {name: (out / name).read_bytes() for group in model_json["weightsManifest"] for name in group["paths"]}
            if variant == "int8-weights":
                try:
                    model_json, blob = int8_weights(model_json, list(shards.values()))
                except ValueError as why:  # e.g. a tree lowered without MatMul weights
                    print(f"{art_id}: not built: {why}", file=sys.stderr)  # a variant, not the package, failed
                    continue
                shards = {"group1-shard1of1.bin": blob}
            files = {f"tfjs/{art_id}/model.json": json.dumps(model_json).encode()}
            files.update({f"tfjs/{art_id}/{name}": data for name, data in sorted(shards.items())})
            entry = {
                "id": art_id, "format": "tfjs", "file": f"tfjs/{art_id}/model.json", "precision": precision,
                "default": variant == "float32",
                "converter": {"name": "tensorflowjs", "version": version("tensorflowjs")},
                "inputs": [{"name": INPUT_NAME, "features": graph.features, "dtype": graph.dtype}],
                "outputs": graph_outputs(model_json, graph.outputs),
            }
            if quantization:
                entry["quantization"] = quantization
            artifacts.append(Artifact(id=art_id, format="tfjs", files=files, entry=entry, notes=notes))
    return artifacts
