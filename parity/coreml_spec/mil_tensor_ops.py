"""ML Program (MIL) operations of image and sequence networks, in numpy, as the MIL operation reference
documents them: conv (groups: depthwise), max/avg pooling, pad, reductions (global pooling), flatten.

Layouts are MIL's: channels first, x [N, C, *spatial], conv weight [C_out, C_in / groups, *kernel].
Accumulation is float32 (float64 inputs stay float64); the result takes the input's dtype, as Core ML's
CPU keeps a float16 program's tensors in float16.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .values import SpecError


def _ints(value: Any, n: int, default: int) -> list[int]:
    if value is None:
        return [default] * n
    out = [int(v) for v in np.asarray(value).reshape(-1)]
    return out if out else [default] * n


def _pads(sizes: tuple[int, ...], kernel: list[int], strides: list[int], dilations: list[int], pad_type: str,
          pad: Any, ceil_mode: bool = False) -> list[tuple[int, int]]:
    n = len(sizes)
    if pad_type == "valid":
        pads = [(0, 0)] * n
    elif pad_type == "custom":
        flat = _ints(pad, 2 * n, 0)
        pads = [(flat[2 * i], flat[2 * i + 1]) for i in range(n)]
    elif pad_type in ("same", "same_lower"):
        pads = []
        for size, k, s, d in zip(sizes, kernel, strides, dilations):
            total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
            small, big = total // 2, total - total // 2
            pads.append((small, big) if pad_type == "same" else (big, small))
    else:
        raise SpecError(f"pad_type {pad_type!r} is outside the supported subset")
    if ceil_mode:  # one more window where a partial one is left at the end
        extended = []
        for (lo, hi), size, k, s in zip(pads, sizes, kernel, strides):
            rest = (size + lo + hi - k) % s
            extended.append((lo, hi + (s - rest if rest else 0)))
        pads = extended
    return pads


def _windows(x: np.ndarray, kernel: list[int], strides: list[int], dilations: list[int]) -> np.ndarray:
    """[N, C, *out, *kernel] views of x (already padded) for every output position."""
    n = len(kernel)
    extent = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    view = sliding_window_view(x, extent, axis=tuple(range(2, 2 + n)))
    index = (slice(None), slice(None), *(slice(None, None, s) for s in strides), *(slice(None, None, d) for d in dilations))
    return view[index]


def _conv(x: np.ndarray, weight: np.ndarray, strides: Any = None, pad_type: Any = "valid", pad: Any = None,
          dilations: Any = None, groups: Any = 1, bias: np.ndarray | None = None) -> np.ndarray:
    n = x.ndim - 2
    kernel = list(weight.shape[2:])
    s, d = _ints(strides, n, 1), _ints(dilations, n, 1)
    work = np.float64 if x.dtype == np.float64 else np.float32
    xp = np.pad(x.astype(work), [(0, 0), (0, 0), *_pads(x.shape[2:], kernel, s, d, str(pad_type), pad)])
    win = _windows(xp, kernel, s, d)  # [N, C, *out, *k]
    g = int(groups)
    batch, channels = x.shape[:2]
    out_shape = win.shape[2:2 + n]
    win = win.reshape(batch, g, channels // g, *out_shape, *kernel)
    w = weight.astype(work).reshape(g, weight.shape[0] // g, weight.shape[1], *kernel)
    letters = "hwd"[:n] if n <= 3 else None
    if letters is None:
        raise SpecError("conv over more than 3 spatial dimensions is outside the supported subset")
    k_letters = "ijk"[:n]
    y = np.einsum(f"ngc{letters}{k_letters},goc{k_letters}->ngo{letters}", win, w, optimize=True)
    y = y.reshape(batch, weight.shape[0], *out_shape)
    if bias is not None:
        y = y + bias.astype(work).reshape(1, -1, *([1] * n))
    return y.astype(x.dtype)


def _pool(reduce: str) -> Callable[..., np.ndarray]:
    def pool(x: np.ndarray, kernel_sizes: Any, strides: Any = None, pad_type: Any = "valid", pad: Any = None,
             exclude_padding_from_average: Any = False, ceil_mode: Any = False) -> np.ndarray:
        n = x.ndim - 2
        kernel = _ints(kernel_sizes, n, 1)
        s = _ints(strides, n, 1)
        pads = _pads(x.shape[2:], kernel, s, [1] * n, str(pad_type), pad, bool(ceil_mode))
        work = np.float64 if x.dtype == np.float64 else np.float32
        fill = -np.inf if reduce == "max" else 0.0
        xp = np.pad(x.astype(work), [(0, 0), (0, 0), *pads], constant_values=fill)
        axes = tuple(range(-n, 0))
        win = _windows(xp, kernel, s, [1] * n)
        if reduce == "max":
            return win.max(axis=axes).astype(x.dtype)
        total = win.sum(axis=axes)
        if bool(exclude_padding_from_average):
            ones = np.pad(np.ones((1, 1, *x.shape[2:]), dtype=work), [(0, 0), (0, 0), *pads])
            count = _windows(ones, kernel, s, [1] * n).sum(axis=axes)
        else:
            count = float(np.prod(kernel))
        return (total / count).astype(x.dtype)

    return pool


def _pad(x: np.ndarray, pad: Any, mode: Any = "constant", constant_val: Any = 0.0) -> np.ndarray:
    flat = _ints(pad, 0, 0)
    pairs = [(flat[2 * i], flat[2 * i + 1]) for i in range(len(flat) // 2)]
    widths = [(0, 0)] * (x.ndim - len(pairs)) + pairs
    mode = str(mode)
    if mode == "constant":
        return np.pad(x, widths, constant_values=x.dtype.type(float(np.asarray(constant_val))))
    if mode in ("reflect", "replicate"):
        return np.pad(x, widths, mode="reflect" if mode == "reflect" else "edge")
    raise SpecError(f"pad mode {mode!r} is outside the supported subset")


def _reduce(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    def reduce(x: np.ndarray, axes: Any = None, keep_dims: Any = False) -> np.ndarray:
        ax = None if axes is None else tuple(int(a) for a in np.asarray(axes).reshape(-1))
        work = np.float64 if x.dtype == np.float64 else np.float32
        return np.asarray(fn(x.astype(work) if x.dtype.kind == "f" else x, axis=ax, keepdims=bool(keep_dims))).astype(x.dtype)

    return reduce


def _flatten2d(x: np.ndarray, axis: Any = 1) -> np.ndarray:
    a = int(axis)
    return x.reshape(int(np.prod(x.shape[:a])), -1)


def _slice_by_index(x: np.ndarray, begin: Any, end: Any, stride: Any = None, begin_mask: Any = None,
                    end_mask: Any = None, squeeze_mask: Any = None) -> np.ndarray:
    n = x.ndim
    b, e = _ints(begin, n, 0), _ints(end, n, 0)
    st = _ints(stride, n, 1)
    bm = [bool(v) for v in np.asarray(begin_mask if begin_mask is not None else [False] * n).reshape(-1)]
    em = [bool(v) for v in np.asarray(end_mask if end_mask is not None else [False] * n).reshape(-1)]
    sq = [bool(v) for v in np.asarray(squeeze_mask if squeeze_mask is not None else [False] * n).reshape(-1)]
    index = tuple(slice(None if bm[i] else b[i], None if em[i] else e[i], st[i]) for i in range(n))
    y = x[index]
    return np.squeeze(y, axis=tuple(i for i in range(n) if sq[i])) if any(sq) else y


def _gather(x: np.ndarray, indices: Any, axis: Any = 0, batch_dims: Any = 0, validate_indices: Any = False) -> np.ndarray:
    if int(batch_dims) != 0:
        raise SpecError("gather with batch_dims is outside the supported subset")
    idx = np.asarray(indices).astype(np.int64)
    size = x.shape[int(axis)]
    if np.any((idx < -size) | (idx >= size)):
        raise SpecError("gather index out of range")
    return np.take(x, idx, axis=int(axis))


def _gather_along_axis(x: np.ndarray, indices: Any, axis: Any = 0, validate_indices: Any = False) -> np.ndarray:
    return np.take_along_axis(x, np.asarray(indices).astype(np.int64), axis=int(axis))


def _split(x: np.ndarray, axis: Any, num_splits: Any = None, split_sizes: Any = None) -> tuple[np.ndarray, ...]:
    """MIL `split`: `split_sizes` along `axis`, or `num_splits` parts of ceil(size / num_splits) (the last
    one smaller when it does not divide). Several outputs: an unrolled GRU/LSTM unstacks its time steps."""
    a = int(axis) % x.ndim
    size = x.shape[a]
    if split_sizes is not None:
        sizes = [int(s) for s in np.asarray(split_sizes).reshape(-1)]
    elif num_splits is not None:
        n = int(num_splits)
        step = -(-size // n)
        sizes = [min(step, size - i * step) for i in range(n)]
    else:
        raise SpecError("split needs num_splits or split_sizes")
    if sum(sizes) != size or min(sizes) <= 0:
        raise SpecError(f"split sizes {sizes} do not cover axis {a} of size {size}")
    return tuple(np.split(x, np.cumsum(sizes)[:-1], axis=a))


def _fill(shape: Any, value: Any = 0.0) -> np.ndarray:
    value = np.asarray(value)
    return np.full([int(s) for s in np.asarray(shape).reshape(-1)], value, dtype=value.dtype)


TENSOR_OPS: dict[str, Callable[..., Any]] = {
    # an unrolled GRU/LSTM: time steps split apart, zero initial states filled to the batch's size
    "split": _split,
    "fill": _fill,
    "stack": lambda values, axis: np.stack(values, axis=int(axis)),  # return_sequences: steps stacked back
    "reverse": lambda x, axes=None: np.flip(x, axis=None if axes is None else tuple(int(a) for a in np.asarray(axes).reshape(-1))),
    # comparisons, selection and gathers (Embedding lowers to a bounds check, select and gather)
    "less": lambda x, y: np.less(x, y),
    "less_equal": lambda x, y: np.less_equal(x, y),
    "greater": lambda x, y: np.greater(x, y),
    "greater_equal": lambda x, y: np.greater_equal(x, y),
    "equal": lambda x, y: np.equal(x, y),
    "not_equal": lambda x, y: np.not_equal(x, y),
    "logical_and": lambda x, y: np.logical_and(x, y),
    "logical_or": lambda x, y: np.logical_or(x, y),
    "logical_not": lambda x: np.logical_not(x),
    "select": lambda cond, a, b: np.where(cond, a, b),
    "gather": _gather,
    "gather_along_axis": _gather_along_axis,
    "floor": lambda x: np.floor(x),
    "square": lambda x: (x * x).astype(x.dtype),
    "pow": lambda x, y: np.power(x, y),
    "reduce_min": _reduce(np.min),
    "reduce_prod": _reduce(np.prod),
    "tile": lambda x, reps: np.tile(x, [int(r) for r in np.asarray(reps).reshape(-1)]),
    "conv": _conv,
    "max_pool": _pool("max"),
    "avg_pool": _pool("avg"),
    "pad": _pad,
    "reduce_mean": _reduce(np.mean),
    "reduce_sum": _reduce(np.sum),
    "reduce_max": _reduce(np.max),
    "flatten2d": _flatten2d,
    "slice_by_index": _slice_by_index,
    "shape": lambda x: np.asarray(x.shape, dtype=np.int32),
}
