"""ML Programs (MIL): run the main function's operations in order with numpy, each as the MIL operation
reference documents it. Tensors keep the type the program gives them (fp16 programs compute in
float16), as Core ML does on the CPU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .blob import NUMPY_DTYPES, decode_value, unpack_bits
from .mil_tensor_ops import TENSOR_OPS
from .values import SpecError, feature_kind

_DTYPE_STRINGS = {"fp16": np.float16, "fp32": np.float32, "fp64": np.float64, "int32": np.int32, "int64": np.int64,
                  "int8": np.int8, "uint8": np.uint8, "bool": np.bool_}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (1 / (1 + np.exp(-x))).astype(x.dtype)


def _softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - x.max(axis=int(axis), keepdims=True))
    return (e / e.sum(axis=int(axis), keepdims=True)).astype(x.dtype)


def _matmul(x: np.ndarray, y: np.ndarray, transpose_x: bool = False, transpose_y: bool = False) -> np.ndarray:
    if transpose_x:
        x = np.swapaxes(x, -1, -2)
    if transpose_y:
        y = np.swapaxes(y, -1, -2)
    return np.matmul(x, y)


def _linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    y = np.matmul(x, weight.T)
    return y + bias if bias is not None else y


def _per_axis(param: np.ndarray, rank: int, axis: int) -> np.ndarray:
    """A scalar or per-axis vector, shaped to broadcast along `axis` of a rank-`rank` tensor."""
    param = np.asarray(param)
    if param.ndim == 0 or param.size == 1:
        return param.reshape(())
    shape = [1] * rank
    shape[axis] = param.size
    return param.reshape(shape)


def _affine_dequantize(quantized_data: np.ndarray, zero_point: np.ndarray, scale: np.ndarray, axis: int) -> np.ndarray:
    rank, axis = quantized_data.ndim, int(axis) % max(quantized_data.ndim, 1)
    q = quantized_data.astype(np.float32) - _per_axis(zero_point, rank, axis).astype(np.float32)
    return (q * _per_axis(scale, rank, axis).astype(np.float32)).astype(np.asarray(scale).dtype)


def _lut_to_dense(lut: np.ndarray, indices: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """iOS 16 form: one palette `lut` [2^nbits]; `indices` uint8 bytes packed LSB first."""

    shape = tuple(int(s) for s in np.asarray(shape).reshape(-1))
    count = int(np.prod(shape))
    nbits = int(np.log2(lut.shape[-1]))
    if lut.ndim != 1:
        raise SpecError("constexpr_lut_to_dense with per-channel palettes is outside the supported subset")
    idx = unpack_bits(np.asarray(indices, dtype=np.uint8).tobytes(), nbits, count, signed=False) if nbits < 8 else np.asarray(indices).reshape(-1)[:count]
    return lut[idx.astype(np.int64)].reshape(shape)


def _blockwise_shift_scale(data: np.ndarray, scale: np.ndarray, offset: np.ndarray | None = None) -> np.ndarray:
    """iOS 18 form: scale (and offset) hold one value per block; each broadcasts over its block."""
    def expand(p: np.ndarray) -> np.ndarray:
        for ax in range(data.ndim):
            p = np.repeat(p, data.shape[ax] // p.shape[ax], axis=ax)
        return p

    d = data.astype(np.float32)
    if offset is not None:
        d = d - expand(np.asarray(offset)).astype(np.float32)
    return (d * expand(np.asarray(scale)).astype(np.float32)).astype(np.asarray(scale).dtype)


def _batch_norm(x: np.ndarray, mean: np.ndarray, variance: np.ndarray, gamma: np.ndarray | None = None,
                beta: np.ndarray | None = None, epsilon: float = 1e-5) -> np.ndarray:
    shape = [1, -1] + [1] * (x.ndim - 2)
    y = (x - mean.reshape(shape)) / np.sqrt(variance.reshape(shape) + x.dtype.type(epsilon))
    if gamma is not None:
        y = y * gamma.reshape(shape)
    if beta is not None:
        y = y + beta.reshape(shape)
    return y.astype(x.dtype)


OPS: dict[str, Callable[..., Any]] = {
    "identity": lambda x: x,
    "cast": lambda x, dtype: np.asarray(x).astype(_DTYPE_STRINGS[str(dtype)]),
    "matmul": _matmul,
    "linear": _linear,
    "add": lambda x, y: x + y,
    "sub": lambda x, y: x - y,
    "mul": lambda x, y: x * y,
    "real_div": lambda x, y: x / y,
    "maximum": lambda x, y: np.maximum(x, y),
    "minimum": lambda x, y: np.minimum(x, y),
    "relu": lambda x: np.maximum(x, x.dtype.type(0)),
    "relu6": lambda x: np.clip(x, 0, 6).astype(x.dtype),
    "leaky_relu": lambda x, alpha=0.01: np.where(x >= 0, x, x.dtype.type(alpha) * x),
    "elu": lambda x, alpha=1.0: np.where(x > 0, x, x.dtype.type(alpha) * (np.exp(x) - 1)).astype(x.dtype),
    "tanh": lambda x: np.tanh(x),
    "sigmoid": _sigmoid,
    "silu": lambda x: (x * _sigmoid(x)).astype(x.dtype),
    "softmax": _softmax,
    "exp": lambda x: np.exp(x),
    "log": lambda x, epsilon=0.0: np.log(x + x.dtype.type(epsilon)),
    "sqrt": lambda x: np.sqrt(x),
    "rsqrt": lambda x, epsilon=1e-12: (1 / np.sqrt(x + x.dtype.type(epsilon))).astype(x.dtype),
    "abs": lambda x: np.abs(x),
    "clip": lambda x, alpha, beta: np.clip(x, alpha, beta).astype(x.dtype),
    "reshape": lambda x, shape: np.reshape(x, [int(s) for s in np.asarray(shape).reshape(-1)]),
    "squeeze": lambda x, axes=None: np.squeeze(x, axis=None if axes is None else tuple(int(a) for a in np.asarray(axes).reshape(-1))),
    "expand_dims": lambda x, axes: np.expand_dims(x, tuple(int(a) for a in np.asarray(axes).reshape(-1))),
    "transpose": lambda x, perm: np.transpose(x, [int(p) for p in np.asarray(perm).reshape(-1)]),
    # Scalars concatenate as 1-element vectors (the converter packs a batch size read by `shape` so)
    "concat": lambda values, axis, interleave=False: np.concatenate([np.atleast_1d(v) for v in values], axis=int(axis)),
    "batch_norm": _batch_norm,
    "constexpr_affine_dequantize": _affine_dequantize,
    "constexpr_lut_to_dense": _lut_to_dense,
    "constexpr_blockwise_shift_scale": _blockwise_shift_scale,
    **TENSOR_OPS,  # conv, pooling, pad, reductions: image and sequence networks (mil_tensor_ops.py)
}


class Program:
    """The main function of an ML Program, ready to run."""

    def __init__(self, model: Any, read_file: Callable[[str], bytes], mil: Any) -> None:
        program = model.mlProgram
        if "main" not in program.functions:
            raise SpecError("the ML Program has no main function")
        self.function = program.functions["main"]
        self.block = self.function.block_specializations[self.function.opset]
        self.model = model
        self.read_file = read_file
        self.data_types = mil.DataType
        self._consts: dict[str, Any] = {}

    def _value(self, v: Any) -> Any:
        return decode_value(v, self.data_types, self.read_file)

    def _arguments(self, op: Any, env: dict[str, Any]) -> dict[str, Any]:
        args: dict[str, Any] = {}
        if op.type.startswith("constexpr_") or op.type == "const":
            for name, value in op.attributes.items():
                if name not in ("name",):
                    args[name] = self._value(value)
        for name, argument in op.inputs.items():
            bound = [env[b.name] if b.WhichOneof("binding") == "name" else self._value(b.value)
                     for b in argument.arguments]
            args[name] = bound if name == "values" else bound[0]
        return args

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        env: dict[str, Any] = {}
        for inp in self.function.inputs:
            kind = self.data_types.Name(inp.type.tensorType.dataType)
            env[inp.name] = np.asarray(feeds[inp.name]).astype(NUMPY_DTYPES[kind])
        for op in self.block.operations:
            if op.type == "const":
                out = self._value(op.attributes["val"])
            else:
                fn = OPS.get(op.type)
                if fn is None:
                    raise SpecError(f"ML Program operation {op.type!r} is outside the supported subset")
                out = fn(**self._arguments(op, env))
            if isinstance(out, tuple):  # an operation with several outputs (split)
                if len(out) != len(op.outputs):
                    raise SpecError(f"operation {op.type} gave {len(out)} outputs where the program names {len(op.outputs)}")
                env.update((o.name, v) for o, v in zip(op.outputs, out))
                continue
            if len(op.outputs) != 1:
                raise SpecError(f"operation {op.type} with {len(op.outputs)} outputs is outside the supported subset")
            env[op.outputs[0].name] = out
        return {name: env[name] for name in self.block.outputs}


# ImageFeatureType.ColorSpace: GRAYSCALE 10, RGB 20, BGR 30, GRAYSCALE_FLOAT16 40 -> channels
_IMAGE_CHANNELS = {10: 1, 20: 3, 30: 3, 40: 1}


def image_input(feature: Any, pixels: Any) -> np.ndarray:
    """How Core ML hands an image input to an ML Program: the picture (a CVPixelBuffer's content, here
    [N, height, width, channels] or [N, height, width] values on the 0..255 scale, already in the declared
    color space's channel order) as a float32 [N, channels, height, width] tensor. The program's own
    first operations then apply the converter's scale and bias."""
    image = feature.type.imageType
    channels = _IMAGE_CHANNELS.get(int(image.colorSpace))
    if channels is None:
        raise SpecError(f"image input {feature.name!r} has a color space outside the supported subset")
    x = np.asarray(pixels, dtype=np.float32)
    if x.ndim == 3 and channels == 1:
        x = x[..., None]
    if x.ndim != 4 or x.shape[1:] != (image.height, image.width, channels):
        raise SpecError(f"image input {feature.name!r} takes pictures of {image.height}x{image.width} with {channels} "
                        f"channel(s), got an array of shape {list(x.shape)}")
    return np.ascontiguousarray(np.transpose(x, (0, 3, 1, 2)))


def ml_program(model: Any, feeds: dict[str, Any], read_file: Callable[[str], bytes], mil: Any) -> dict[str, Any]:
    feeds = {**feeds, **{i.name: image_input(i, feeds[i.name]) for i in model.description.input
                         if i.type.WhichOneof("Type") == "imageType"}}
    results = Program(model, read_file, mil).run(feeds)
    out = {}
    for o in model.description.output:
        if o.name not in results:
            raise SpecError(f"the program does not produce the output {o.name!r}")
        value = np.asarray(results[o.name])
        out[o.name] = value.astype(np.float64) if feature_kind(o.type) == "multiArray" else value
    return out
