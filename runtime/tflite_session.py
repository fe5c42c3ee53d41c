"""A TFLite artifact behind the onnxruntime session interface (`run(output names, feeds) -> list`), for
boards where onnxruntime publishes no wheel (32-bit ARM) or TFLite is already installed. Needs the optional
`tflite` extra (ai-edge-litert), imported only when a TFLite artifact is chosen (`--artifact tflite`).

Two shapes of artifact: a tensor package's (format version 2) is run through its signature, by the
package's input and output names; a tabular package's (contract 2: one float32 [N, F] tensor) through the
interpreter's tensors, by the names the manifest's artifact entry records (converters/targets/tflite.py)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import PackageError, quoted
from .tensors import dequantize_outputs

MISSING_EXTRA_FIX = "pip install 'edgepack[tflite]', or choose the ONNX artifact (--artifact onnx)"


def _interpreter(data: bytes, entry: dict[str, Any], threads: int, delegates: bool = True) -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError:
        raise PackageError("running a TFLite artifact needs ai-edge-litert, which is not installed",
                           fix=MISSING_EXTRA_FIX) from None
    try:
        if delegates:
            return Interpreter(model_content=data, num_threads=threads)
        return Interpreter(model_content=data, num_threads=threads,
                           experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    except (ValueError, RuntimeError) as exc:
        raise PackageError(f"ai-edge-litert cannot load {quoted(entry['file'])}: {exc}",
                           fix="rebuild the package with edgepack build") from exc


class TFLiteSession:
    """A tensor package's TFLite artifact, run through its signature in steps of the artifact's batch."""

    def __init__(self, data: bytes, entry: dict[str, Any], threads: int = 1) -> None:
        interpreter = _interpreter(data, entry, threads)
        try:
            self._runner = interpreter.get_signature_runner(entry.get("signature", "serving_default"))
        except (ValueError, RuntimeError) as exc:
            raise PackageError(f"ai-edge-litert cannot load {quoted(entry['file'])}: {exc}",
                               fix="rebuild the package with edgepack build") from exc
        self._step = int(entry.get("batch") or 256)  # a fixed-batch artifact takes exactly `batch` rows a call
        self._entry = entry

    def run(self, names: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        n = len(next(iter(feeds.values())))
        parts: list[list[np.ndarray]] = [[] for _ in names]
        for start in range(0, n, self._step):
            out = self._runner(**{k: v[start:start + self._step] for k, v in feeds.items()})
            for store, name in zip(parts, names):
                store.append(np.asarray(out[name]))
        joined = dequantize_outputs(self._entry, {name: np.concatenate(p) for name, p in zip(names, parts)})
        return [joined[name] for name in names]


class TFLiteTableSession:
    """A tabular package's TFLite artifact: float32 [N, F] inputs by tensor name, the batch dimension
    resized to each call's rows (the interpreter is re-planned only when the row count changes).

    The scorer runs the builtin kernels only (`delegates=False`), without the default XNNPACK delegate:
    applying it prints an INFO line on stderr, where the scorer's error lines go, and a tabular model's few
    small layers gain nothing from it. The parity runner keeps the default delegates, as an app has them."""

    def __init__(self, data: bytes, entry: dict[str, Any], threads: int = 1, delegates: bool = False) -> None:
        self._interpreter = _interpreter(data, entry, threads, delegates)
        self._inputs = {d["name"]: d["index"] for d in self._interpreter.get_input_details()}
        self._outputs = {d["name"]: d["index"] for d in self._interpreter.get_output_details()}
        declared = [t["name"] for t in entry["inputs"]]
        if sorted(declared) != sorted(self._inputs) or not set(entry["outputs"].values()) <= set(self._outputs):
            raise PackageError(f"artifact {quoted(entry['id'])}: the manifest's tensors {declared} -> "
                               f"{sorted(entry['outputs'].values())} are not the model's {sorted(self._inputs)} -> "
                               f"{sorted(self._outputs)}", fix="rebuild the package with edgepack build")
        self._interpreter.allocate_tensors()
        self._rows = -1

    def run(self, names: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        rows = len(next(iter(feeds.values())))
        if rows == 0:
            return [np.zeros((0, *self._interpreter.get_tensor(self._outputs[n]).shape[1:]), np.float32) for n in names]
        if rows != self._rows:
            for name, array in feeds.items():
                self._interpreter.resize_tensor_input(self._inputs[name], list(array.shape))
            self._interpreter.allocate_tensors()
            self._rows = rows
        for name, array in feeds.items():
            self._interpreter.set_tensor(self._inputs[name], np.ascontiguousarray(array, dtype=np.float32))
        self._interpreter.invoke()
        # get_tensor copies: the next invoke would overwrite the interpreter's buffers
        return [self._interpreter.get_tensor(self._outputs[name]) for name in names]
