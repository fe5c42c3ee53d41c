"""Core ML ML Programs (.mlpackage) of tensor models, from the source's TensorFlow function
(coremltools' TensorFlow front end): float32 compute, and float16 compute as a variant.

Inputs are TensorType multi-arrays in the function's layout (channels-last), batch 1..MAX_ROWS; the
classifier's labels go to the model's metadata (`edgepack.classes`) and the package manifest. On Linux
the artifact is checked by the coreml-spec evaluator (parity/coreml_spec), never by coremltools.
"""

from __future__ import annotations

import importlib.metadata
import json
from typing import Any

import numpy as np

from ....runtime.errors import ModelError
from ..base import Artifact, check_options, chosen_variants
from ..coreml.keras import _package_files, _renamed
from ..coreml.proto import OS_FOR_SPEC
from .tf_graph import input_dtype, tf_function

OPTIONS: dict[str, Any] = {"variants": "float32,float16"}
VARIANTS = {"float32": ("coreml", "float32"), "float16": ("coreml-float16", "float16")}
MAX_ROWS = 64


def _convert(fn: Any, source: Any, precision: str) -> Any:
    import coremltools as ct

    func = fn.function
    placeholders = [t.name.split(":")[0] for t in func.inputs if t.dtype != "resource"][: len(fn.inputs)]
    inputs = [ct.TensorType(name=p, shape=(ct.RangeDim(1, MAX_ROWS), *[int(d) for d in t.shape[1:]]),
                            dtype=np.int32 if t.dtype.is_integer else np.float32)
              for p, t in zip(placeholders, func.inputs)]
    try:
        ml = ct.convert([func], source="tensorflow", convert_to="mlprogram", inputs=inputs,
                        compute_precision=ct.precision.FLOAT32 if precision == "float32" else ct.precision.FLOAT16)
    except Exception as exc:  # coremltools raises many types for unsupported graphs
        raise ModelError(f"coremltools could not convert the model: {type(exc).__name__}: {exc}") from exc
    spec = ml.get_spec()
    names = dict(zip(placeholders, fn.inputs))
    # A tf.function's dict outputs flatten in sorted key order.
    names.update(dict(zip([o.name for o in spec.description.output], sorted(fn.outputs))))
    ml = _renamed(ml, names)
    if source.task == "classification":
        ml.user_defined_metadata["edgepack.classes"] = json.dumps([str(c) for c in source.classes])
    return ml


def emit(source: Any, options: dict[str, Any] | None = None) -> list[Artifact]:
    opts = check_options("coreml", options or {}, OPTIONS)
    fn = tf_function(source)
    artifacts = []
    for variant in chosen_variants("coreml", opts["variants"], VARIANTS):
        ident, precision = VARIANTS[variant]
        ml = _convert(fn, source, precision)
        bundle = "model.mlpackage" if ident == "coreml" else f"{ident.replace('coreml', 'model')}.mlpackage"
        files = _package_files(ml, bundle)
        spec_file = f"{bundle}/Data/com.apple.CoreML/model.mlmodel"
        version = int(ml.get_spec().specificationVersion)
        entry: dict[str, Any] = {
            "id": ident, "format": "coreml", "file": spec_file, "bundle": bundle, "precision": precision,
            "default": ident == "coreml",
            "converter": {"name": f"coremltools (from {fn.converter['name']} {fn.converter['version']})",
                          "version": importlib.metadata.version("coremltools")},
            "inputs": [{"name": n, "input": n, "dtype": input_dtype(fn, n), **({"layout": fn.layouts[n]} if fn.layouts.get(n) else {})}
                       for n in fn.inputs],
            "outputs": {o: o for o in fn.outputs},
            "spec_version": version, **OS_FOR_SPEC.get(version, {}),
        }
        artifacts.append(Artifact(ident, "coreml", files, entry))
    return artifacts
