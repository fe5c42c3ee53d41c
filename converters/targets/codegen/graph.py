"""The verified ONNX artifact as a straight-line program over one record, ready to be printed as C or
JavaScript (printer.py). Every source reaches ONNX first, so one compiler serves scikit-learn, Spark and
Keras packages alike, and the code follows the exact arithmetic of the graph that parity verified
(float64 preprocessing, the cast to float32 where the model casts, the trees' own thresholds).

Per-record view: a graph tensor of shape [N, k] becomes an array of k values; initializers stay constant
tables; a node whose inputs are all constant is folded with numpy. Only the nodes the `probabilities` /
`value` output needs are kept (labels are classes[argmax(probabilities)], contract 3).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ....runtime.errors import ModelError
from .ir import Node, Program, Value, np_dtype
from .shapes import infer

DTYPES = {1: "f32", 11: "f64", 7: "i64", 6: "i64", 8: "str", 9: "bool"}  # onnx TensorProto element types


def _attrs(node: Any) -> dict[str, Any]:
    from onnx import helper, numpy_helper

    out: dict[str, Any] = {}
    for a in node.attribute:
        value = helper.get_attribute_value(a)
        if a.type == a.TENSOR:
            value = numpy_helper.to_array(value)
        elif isinstance(value, bytes):
            value = value.decode()
        elif isinstance(value, list) and value and isinstance(value[0], bytes):
            value = [v.decode() for v in value]
        out[a.name] = value
    return out


def _dtype_of(elem: int, where: str) -> str:
    if elem not in DTYPES:
        raise ModelError(f"tensor {where!r} has an element type code generation does not handle ({elem})")
    return DTYPES[elem]


def load(model_bytes: bytes, output_name: str) -> Program:
    """The program computing `output_name` (probabilities or value) for one record. Raises ModelError
    naming the first operator outside the supported set."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load_from_string(model_bytes)
    graph = model.graph
    values: dict[str, Value] = {}
    for init in graph.initializer:
        arr = numpy_helper.to_array(init)
        values[init.name] = Value(init.name, np_dtype(arr), tuple(arr.shape), arr)
    inputs = []
    for inp in graph.input:
        if inp.name in values:
            continue
        t = inp.type.tensor_type
        dims = [d.dim_value for d in t.shape.dim]
        per_record = tuple(int(d) for d in dims[1:]) or (1,)
        v = Value(inp.name, _dtype_of(t.elem_type, inp.name), per_record)
        values[inp.name] = v
        inputs.append(v)
    producers = {o: n for n in graph.node for o in n.output}
    needed: set[int] = set()
    stack = [output_name]
    while stack:
        name = stack.pop()
        node = producers.get(name)
        if node is None or id(node) in needed:
            continue
        needed.add(id(node))
        stack.extend(i for i in node.input if i)
    nodes: list[Node] = []
    for node in graph.node:
        if id(node) not in needed:
            continue
        ins = [values[i] for i in node.input if i]
        attrs = _attrs(node)
        if node.op_type == "Constant":
            arr = next(iter(attrs.values()))
            arr = np.asarray(arr)
            values[node.output[0]] = Value(node.output[0], np_dtype(arr), tuple(arr.shape), arr)
            continue
        outs = infer(node.op_type, node.domain or "", ins, attrs, list(node.output))
        for o in outs:
            values[o.name] = o
        if all(o.const is not None for o in outs):
            continue  # folded
        nodes.append(Node(node.op_type, node.domain or "", ins, outs, attrs))
    if output_name not in values:
        raise ModelError(f"the ONNX graph has no output {output_name!r}")
    return Program(inputs, *_double_output(nodes, values[output_name]), output_name)


def _double_output(nodes: list[Node], output: Value) -> tuple[list[Node], Value]:
    """Leave out a final narrowing to float32 of a float64 result (a Cast, then Identity copies): the
    generated code returns doubles, so it keeps the float64 the graph computed (trees and Spark graphs
    compute in float64 and cast only to satisfy the ONNX output type)."""
    kept = list(nodes)
    current = output
    while kept and kept[-1].outputs[0] is current and kept[-1].op == "Identity":
        current = kept.pop().inputs[0]
    last = kept[-1] if kept else None
    if last is not None and last.outputs[0] is current and last.op == "Cast" and last.inputs[0].dtype == "f64" \
            and current.dtype == "f32" and last.inputs[0].const is None:
        kept.pop()
        return kept, last.inputs[0]
    return nodes, output
