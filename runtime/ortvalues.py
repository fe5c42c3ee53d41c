"""One record's inputs as OrtValues that onnxruntime reads in place, for `Scorer.predict_array`.

Handing onnxruntime numpy arrays costs about 0.5 us per input tensor per call (each becomes a tensor
anew, each string copied); a churn record has nine tensors. Instead, each thread keeps its numeric
tensors as OrtValues over its own numpy buffers (writing a value into the buffer is all a call does),
and every known category of a string input is an OrtValue made once per scorer and picked per call.

onnxruntime's Python API cannot make a string OrtValue from Python. It can return one: a tiny ONNX
model of Constant nodes, one output per category, is run once and its outputs are kept. The model is
encoded here by hand (a dozen protobuf fields), because the device runtime has no `onnx` package;
tests/runtime/test_ortvalues.py checks the bytes with `onnx.checker`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_STRING = 8  # onnx TensorProto.STRING
_TENSOR_ATTRIBUTE = 4  # onnx AttributeProto.TENSOR


class RowFeeds:
    """Per scorer: runs one record through `session` (onnxruntime's binding) from each thread's own
    feeds; the shared category OrtValues are made on first use."""

    def __init__(self, session: Any, plan: list[tuple[str, Any, Any, Any, str]], categories: dict[str, list[str]]) -> None:
        import threading  # here, not at the top: the command-line scorer never gets this far (0.2 MiB)

        self._session = session
        self._plan = plan
        self._categories = categories  # string tensor name -> the categories of its one feature
        self._strings: dict[str, dict[str, Any]] | None = None
        self._lock = threading.Lock()
        self._local = threading.local()

    @staticmethod
    def supported(session: Any, plan: list[tuple[str, Any, Any, Any, str]], categories: dict[str, list[str]]) -> bool:
        """Whether this onnxruntime has what the path needs and every string tensor is one feature wide with
        a known list of categories (otherwise the slicing path of predict_array serves)."""
        from onnxruntime.capi import _pybind_state as binding

        if not hasattr(session, "run_with_ort_values") or not hasattr(binding.OrtValue, "ortvalue_from_numpy"):
            return False
        return all(kind != "text" for *_, kind in plan) and all(
            name in categories and type(in_x) is slice and in_x.stop - in_x.start == 1
            for name, in_x, _, _, kind in plan if kind == "string")

    def run(self, values: list[Any], outputs: list[str]) -> np.ndarray | None:
        """The first of `outputs` for one record (`values` in schema order), or None when a value is not
        something the OrtValues can hold (a category the manifest does not list, a text in a number)."""
        feeds = self._feeds(values)
        if feeds is None:
            return None
        return self._session.run_with_ort_values(feeds, outputs, None)[0].numpy()

    def _feeds(self, values: list[Any]) -> dict[str, Any] | None:
        try:
            feeds, numbers, strings = self._local.state
        except AttributeError:
            feeds, numbers, strings = self._local.state = self._thread_state()
        try:
            for buffer, at in numbers:
                if type(at) is int:
                    buffer[0, 0] = values[at]
                else:
                    buffer[0] = values[at] if type(at) is slice else [values[j] for j in at]
            for name, j, known in strings:
                feeds[name] = known[values[j]]
        except (KeyError, TypeError, ValueError):
            return None
        return feeds

    def _thread_state(self) -> tuple[dict[str, Any], list[tuple[np.ndarray, Any]], list[tuple[str, int, dict[str, Any]]]]:
        from onnxruntime.capi import _pybind_state as binding

        device = binding.OrtDevice(binding.OrtDevice.cpu(), binding.OrtDevice.default_memory(), 0)
        shared = self._string_values()
        feeds: dict[str, Any] = {}
        numbers, strings = [], []
        for name, in_x, _, dtype, kind in self._plan:
            if kind == "string":
                strings.append((name, in_x.start, shared[name]))
                continue
            width = in_x.stop - in_x.start if type(in_x) is slice else len(in_x)
            buffer = np.zeros((1, width), dtype=dtype)  # kept alive here: the OrtValue reads this memory
            feeds[name] = binding.OrtValue.ortvalue_from_numpy(buffer, device)
            numbers.append((buffer, in_x.start if type(in_x) is slice and width == 1 else in_x))
        return feeds, numbers, strings

    def _string_values(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            if self._strings is None:
                self._strings = _constant_strings(self._categories)
            return self._strings


def _constant_strings(categories: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    """{tensor name: {category: [1, 1] string OrtValue}}, from one run of a model of Constant nodes."""
    import onnxruntime as ort

    flat = [(name, value) for name, values in categories.items() for value in values]
    if not flat:
        return {name: {} for name in categories}
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(strings_model([v for _, v in flat]), options, providers=["CPUExecutionProvider"])
    io = session.io_binding()
    for i in range(len(flat)):
        io.bind_output(f"v{i}")
    session.run_with_iobinding(io)
    out: dict[str, dict[str, Any]] = {name: {} for name in categories}
    for (name, value), held in zip(flat, io.get_outputs()):
        out[name][value] = held._ortvalue
    return out


# -- a hand-encoded ONNX model (onnx.proto field numbers) ---------------------------------------------
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        if not n:
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)


def _field(number: int, payload: bytes | int) -> bytes:
    if isinstance(payload, int):
        return _varint(number << 3) + _varint(payload)  # wire type 0: varint
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload  # wire type 2: length-delimited


def strings_model(values: list[str]) -> bytes:
    """An ONNX model (opset 13) with no input and one output `v{i}` per value: a [1, 1] string tensor."""
    dim_one = _field(1, _field(1, 1))  # TensorShapeProto.dim { dim_value: 1 }
    tensor_type = _field(1, _field(1, _STRING) + _field(2, dim_one + dim_one))  # TypeProto.tensor_type
    nodes, outputs = b"", b""
    for i, value in enumerate(values):
        name = f"v{i}".encode()
        tensor = _field(1, 1) + _field(1, 1) + _field(2, _STRING) + _field(6, value.encode("utf-8")) + _field(8, name)
        attribute = _field(1, b"value") + _field(5, tensor) + _field(20, _TENSOR_ATTRIBUTE)
        nodes += _field(1, _field(2, name) + _field(3, b"c" + name) + _field(4, b"Constant") + _field(5, attribute))
        outputs += _field(12, _field(1, name) + _field(2, tensor_type))  # GraphProto.output: ValueInfoProto
    graph = nodes + _field(2, b"edgepack_strings") + outputs
    return _field(1, 8) + _field(7, graph) + _field(8, _field(2, 13))  # ir_version 8, graph, opset 13
