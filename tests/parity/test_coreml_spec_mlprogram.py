"""The evaluator's ML Program part on a program written by hand: immediate and weight-file constants,
int8 affine dequantization, a 4-bit palette, linear, relu, softmax. Expected values worked by hand."""

from __future__ import annotations

import struct

import numpy as np
from edgepack.converters.coreml_protobuf import module
from edgepack.parity.coreml_spec import CoreMLModel

MIL = module("MIL_pb2")


def _tensor_type(dtype: str, shape: tuple[int, ...]):
    t = MIL.ValueType()
    t.tensorType.dataType = getattr(MIL, dtype)
    t.tensorType.rank = len(shape)
    for s in shape:
        t.tensorType.dimensions.add().constant.size = s
    return t


def _const(block, name: str, dtype: str, shape, *, floats=None, raw: bytes | None = None, blob_offset=None, ints=None):
    op = block.operations.add()
    op.type = "const"
    out = op.outputs.add()
    out.name = name
    out.type.CopyFrom(_tensor_type(dtype, shape))
    val = op.attributes["val"]
    val.type.CopyFrom(out.type)
    if blob_offset is not None:
        val.blobFileValue.fileName = "@model_path/weights/weight.bin"
        val.blobFileValue.offset = blob_offset
    elif raw is not None:
        val.immediateValue.tensor.bytes.values = raw
    elif ints is not None:
        val.immediateValue.tensor.ints.values.extend(ints)
    else:
        val.immediateValue.tensor.floats.values.extend(floats)


def _op(block, kind: str, out: str, dtype: str, shape, **inputs):
    op = block.operations.add()
    op.type = kind
    o = op.outputs.add()
    o.name = out
    o.type.CopyFrom(_tensor_type(dtype, shape))
    for key, ref in inputs.items():
        op.inputs[key].arguments.add().name = ref
    return op


def _weight_file(payload: bytes) -> tuple[bytes, int]:
    """Header (64 bytes), one metadata record (64 bytes) at offset 64, data at 128."""
    header = struct.pack("<II", 1, 2) + bytes(56)
    meta = struct.pack("<IIQQ", 0xDEADBEEF, 2, len(payload), 128) + bytes(40)
    return header + meta + payload, 64


def test_hand_written_program():
    model = module("Model_pb2").Model()
    model.specificationVersion = 7
    for name, shape in (("x", (2, 2)),):
        f = model.description.input.add()
        f.name = name
        f.type.multiArrayType.shape.extend(shape)
        f.type.multiArrayType.dataType = module("FeatureTypes_pb2").ArrayFeatureType.FLOAT32
    f = model.description.output.add()
    f.name = "p"
    f.type.multiArrayType.dataType = module("FeatureTypes_pb2").ArrayFeatureType.FLOAT32
    fn = model.mlProgram.functions["main"]
    fn.opset = "CoreML6"
    inp = fn.inputs.add()
    inp.name = "x"
    inp.type.CopyFrom(_tensor_type("FLOAT32", (2, 2)))
    block = fn.block_specializations["CoreML6"]
    # W1 = dequantize(int8 [[2, 0], [0, -4]], zero point 0, scale 0.5 per row [0.5, 0.25]) = [[1, 0], [0, -1]]
    op = block.operations.add()
    op.type = "constexpr_affine_dequantize"
    out = op.outputs.add()
    out.name = "W1"
    out.type.CopyFrom(_tensor_type("FLOAT32", (2, 2)))
    for key, dtype, shape, kw in (("quantized_data", "INT8", (2, 2), {"raw": np.array([2, 0, 0, -4], np.int8).tobytes()}),
                                  ("zero_point", "INT8", (), {"raw": np.array([0], np.int8).tobytes()}),
                                  ("scale", "FLOAT32", (2,), {"floats": [0.5, 0.25]}),
                                  ("axis", "INT32", (), {"ints": [0]})):
        v = op.attributes[key]
        v.type.CopyFrom(_tensor_type(dtype, shape))
        if "raw" in kw:
            v.immediateValue.tensor.bytes.values = kw["raw"]
        elif "ints" in kw:
            v.immediateValue.tensor.ints.values.extend(kw["ints"])
        else:
            v.immediateValue.tensor.floats.values.extend(kw["floats"])
    # b1 from the weight file: [1, 2]
    weights, offset = _weight_file(np.array([1.0, 2.0], "<f4").tobytes())
    _const(block, "b1", "FLOAT32", (2,), blob_offset=offset)
    _op(block, "linear", "h", "FLOAT32", (2, 2), x="x", weight="W1", bias="b1")
    _op(block, "relu", "r", "FLOAT32", (2, 2), x="h")
    # W2 = palette [-1, 0, 1, 2, ...] (16 entries, 4 bits), indices [3, 1, 0, 2] packed LSB first: [[2, 0], [-1, 1]]
    op = block.operations.add()
    op.type = "constexpr_lut_to_dense"
    out = op.outputs.add()
    out.name = "W2"
    out.type.CopyFrom(_tensor_type("FLOAT32", (2, 2)))
    lut = op.attributes["lut"]
    lut.type.CopyFrom(_tensor_type("FLOAT32", (16,)))
    lut.immediateValue.tensor.floats.values.extend([-1.0, 0.0, 1.0, 2.0] + [9.0] * 12)
    idx = op.attributes["indices"]
    idx.type.CopyFrom(_tensor_type("UINT8", (2,)))
    idx.immediateValue.tensor.bytes.values = bytes([3 | (1 << 4), 0 | (2 << 4)])
    shape = op.attributes["shape"]
    shape.type.CopyFrom(_tensor_type("UINT32", (2,)))
    shape.immediateValue.tensor.bytes.values = np.array([2, 2], "<u4").tobytes()
    _op(block, "matmul", "z", "FLOAT32", (2, 2), x="r", y="W2")
    _const(block, "axis", "INT32", (), ints=[-1])
    _op(block, "softmax", "p", "FLOAT32", (2, 2), x="z", axis="axis")
    block.outputs.append("p")

    files = {"@model_path/weights/weight.bin": weights}
    out = CoreMLModel.from_bytes(model.SerializeToString(), files.__getitem__).predict(
        {"x": np.array([[1.0, 1.0], [3.0, -1.0]], dtype=np.float32)})["p"]
    # row 0: h = [1+1, -1+2] = [2, 1] -> relu [2, 1] -> z = [2*2 + 1*-1, 2*0 + 1*1] = [3, 1]
    # row 1: h = [3+1, 1+2] = [4, 3] -> z = [8 - 3, 0 + 3] = [5, 3]
    z = np.array([[3.0, 1.0], [5.0, 3.0]])
    assert np.allclose(out, np.exp(z) / np.exp(z).sum(axis=1, keepdims=True), atol=1e-6)
