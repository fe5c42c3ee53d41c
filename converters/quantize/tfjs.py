"""TF.js's quantized variants, as `--quantize` names them.

The TF.js target builds them itself (targets/tfjs.py: tensorflowjs' weight quantization), so this module
has MODES and no emit_variant: the build hands the wanted modes to the target's `variants` option. Every
TF.js mode is weight-only already: weights are stored in fewer bits and dequantized when the model loads;
compute stays float32. uint8 is the near-25 % variant.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .weights import quantize_per_channel, with_float32

TARGET_OPTION = "variants"  # the target option that takes the wanted modes
target_option = with_float32  # the target always builds float32, its default
MODES: dict[str, str] = {
    "float16": "float16 weight storage, dequantized at load; float32 compute",
    "uint16": "16-bit affine weight storage per tensor, dequantized at load; float32 compute",
    "uint8": "8-bit affine weight storage per tensor, dequantized at load; float32 compute",
    "int8-weights": "int8 weights per output channel (uint8 storage + a per-channel scale Mul); float32 compute",
}
MATMUL_OPS = ("MatMul", "_FusedMatMul")
MIN_WEIGHTS = 64  # as for TFLite: smaller weights cost more in scales and nodes than they save
BYTES = {"float32": 4, "int32": 4}


def int8_weights(model_json: dict[str, Any], shards: list[bytes]) -> tuple[dict[str, Any], bytes]:
    """The float32 graph model (model.json, its weight shards in manifest order) with MatMul weights as
    per-channel int8: (new model.json, the one new shard). Raises ValueError for a layout it does not know
    (quantized or string weights, several weight groups)."""
    groups = model_json["weightsManifest"]
    if len(groups) != 1:
        raise ValueError(f"{len(groups)} weight groups (one expected)")
    blob, offset, values = b"".join(shards), 0, {}
    for spec in groups[0]["weights"]:
        if spec["dtype"] not in BYTES or "quantization" in spec:
            raise ValueError(f"weight {spec['name']} is {spec['dtype']}{' (quantized)' if 'quantization' in spec else ''}")
        n = int(np.prod(spec["shape"], dtype=np.int64)) * BYTES[spec["dtype"]]
        values[spec["name"]] = blob[offset:offset + n]
        offset += n
    nodes = model_json["modelTopology"]["node"]
    axis = {}  # weight name -> output-channel axis
    for node in nodes:
        if node["op"] in MATMUL_OPS and len(node.get("input", [])) > 1:
            transpose_b = node.get("attr", {}).get("transpose_b", {}).get("b", False)
            axis.setdefault(node["input"][1], 0 if transpose_b else 1)
    new_specs, parts, renamed, added = [], [], {}, []
    for spec in groups[0]["weights"]:
        data, name = values[spec["name"]], spec["name"]
        if name in axis and spec["dtype"] == "float32" and len(spec["shape"]) == 2 and len(data) >= 4 * MIN_WEIGHTS:
            weights = np.frombuffer(data, dtype="<f4").reshape(spec["shape"])
            q, scale = quantize_per_channel(weights, axis[name])
            shape = [1, -1] if axis[name] == 1 else [-1, 1]
            scale = scale.reshape(shape)
            new_specs.append({**spec, "quantization": {"dtype": "uint8", "min": -127.0, "scale": 1.0}})
            parts.append((q.astype(np.int16) + 127).astype(np.uint8).tobytes())
            scale_name = f"{name}/edgepack_scale"
            new_specs.append({"name": scale_name, "shape": list(scale.shape), "dtype": "float32"})
            parts.append(scale.astype("<f4").tobytes())
            renamed[name] = f"{name}/edgepack_dequantized"
            dims = [{"size": str(d)} for d in scale.shape]
            added += [{"name": scale_name, "op": "Const", "attr": {"value": {"tensor": {"dtype": "DT_FLOAT", "tensorShape": {"dim": dims}}},
                                                                   "dtype": {"type": "DT_FLOAT"}}},
                      {"name": renamed[name], "op": "Mul", "input": [name, scale_name], "attr": {"T": {"type": "DT_FLOAT"}}}]
        else:
            new_specs.append(spec)
            parts.append(data)
    if not renamed:
        raise ValueError("no MatMul weight tensors to quantize")
    for node in nodes:
        node["input"] = [renamed.get(i, i) for i in node.get("input", [])]
    model_json["modelTopology"]["node"] = nodes + added
    model_json["weightsManifest"] = [{"paths": ["group1-shard1of1.bin"], "weights": new_specs}]
    return model_json, b"".join(parts)


