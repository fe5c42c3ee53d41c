"""TF.js graph models of tensor models: the source's TensorFlow function saved as a SavedModel and
converted by tensorflowjs (the tabular target's converter call and its fix for fused activations the
cpu/wasm backends cannot run are reused); float32 and weight-quantized float16/uint8 variants."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

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
            files = {f"tfjs/{art_id}/model.json": json.dumps(model_json).encode()}
            for shard in sorted(p for p in out.iterdir() if p.name != "model.json"):
                files[f"tfjs/{art_id}/{shard.name}"] = shard.read_bytes()
            signature = model_json.get("signature", {})
            entry = {"id": art_id, "format": "tfjs", "file": f"tfjs/{art_id}/model.json", "precision": precision,
                     "default": variant == "float32",
                     "converter": {"name": f"tensorflowjs (from {fn.converter['name']} {fn.converter['version']})",
                                   "version": version("tensorflowjs")},
                     "inputs": [{"name": signature["inputs"][n]["name"].split(":")[0], "input": n, "dtype": input_dtype(fn, n),
                                 **({"layout": fn.layouts[n]} if fn.layouts.get(n) else {})} for n in fn.inputs],
                     "outputs": {o: signature["outputs"][o]["name"].split(":")[0] for o in fn.outputs}}
            if quantization:
                entry["quantization"] = quantization
            artifacts.append(Artifact(id=art_id, format="tfjs", files=files, entry=entry))
    return artifacts
