"""Per-record output shapes and dtypes of the supported operators, with constant folding (numpy) when every
input is constant. The table SUPPORTED is the one list of what code generation covers."""

from __future__ import annotations

from typing import Any

import numpy as np

from ....runtime.errors import ModelError
from .ir import Value, np_dtype

# (domain, op) of every operator the generated code implements.
SUPPORTED = {
    ("", "Identity"), ("", "Cast"), ("", "IsNaN"), ("", "Relu"), ("", "Sigmoid"), ("", "Tanh"), ("", "Exp"),
    ("", "Abs"), ("", "Neg"), ("", "Sqrt"), ("", "Log"), ("", "Add"), ("", "Sub"), ("", "Mul"), ("", "Div"),
    ("", "Where"), ("", "Concat"), ("", "Reshape"), ("", "Flatten"), ("", "Squeeze"), ("", "Unsqueeze"),
    ("", "MatMul"), ("", "Gemm"), ("", "Softmax"), ("", "ArgMax"),
    ("", "Equal"), ("", "Less"), ("", "Greater"), ("", "LessOrEqual"), ("", "GreaterOrEqual"), ("", "Not"),
    ("", "And"), ("", "Or"), ("", "ReduceSum"), ("", "ReduceMax"), ("", "ReduceMean"),
    ("ai.onnx.ml", "OneHotEncoder"), ("ai.onnx.ml", "LabelEncoder"), ("ai.onnx.ml", "Normalizer"),
    ("ai.onnx.ml", "ArrayFeatureExtractor"), ("ai.onnx.ml", "LinearClassifier"), ("ai.onnx.ml", "LinearRegressor"),
    ("ai.onnx.ml", "TreeEnsembleClassifier"), ("ai.onnx.ml", "TreeEnsembleRegressor"), ("ai.onnx.ml", "Scaler"),
    ("ai.onnx.ml", "TreeEnsemble"),
    ("ai.onnx.ml", "Imputer"),
    # text (JavaScript only; ops.py): the tokens of a string, then their n-gram counts
    ("com.microsoft", "Tokenizer"), ("", "TfIdfVectorizer"),
}
ELEMENTWISE = {"Identity", "Relu", "Sigmoid", "Tanh", "Exp", "Abs", "Neg", "Sqrt", "Log"}
BINARY = {"Add", "Sub", "Mul", "Div"}
COMPARE = {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or"}
CAST_TO = {1: "f32", 11: "f64", 7: "i64", 6: "i64", 9: "bool", 8: "str"}


def infer(op: str, domain: str, ins: list[Any], attrs: dict[str, Any], names: list[str]) -> list[Any]:
    if (domain, op) not in SUPPORTED:
        raise ModelError(f"ONNX operator {domain + '.' if domain else ''}{op} is outside what the c/js targets "
                         "generate", fix="build this model without the c and js targets (onnx still works)")
    const = all(v.const is not None for v in ins) and op not in ("TreeEnsembleClassifier", "TreeEnsembleRegressor",
                                                                  "TreeEnsemble", "LinearClassifier", "LinearRegressor")

    def out(i: int, dtype: str, shape: tuple[int, ...], value: np.ndarray | None = None) -> Value:
        return Value(names[i], dtype, shape, value)

    x = ins[0] if ins else None
    if op in ELEMENTWISE:
        return [out(0, x.dtype, x.shape)] if not const else [_fold(op, ins, attrs, names)]
    if op == "Cast":
        to = CAST_TO[attrs["to"]]
        if const:
            return [Value(names[0], to, x.shape, x.const.astype({"f32": np.float32, "f64": np.float64, "i64": np.int64,
                                                                  "bool": np.bool_, "str": object}[to]))]
        return [out(0, to, x.shape)]
    if op == "IsNaN":
        return [out(0, "bool", x.shape)]
    if op in BINARY:
        if const:
            return [_fold(op, ins, attrs, names)]
        return [out(0, _result_dtype(ins), (_broadcast_size(ins),))]
    if op in COMPARE:
        if const:
            return [_fold(op, ins, attrs, names)]
        return [out(0, "bool", (_broadcast_size(ins),))]
    if op in ("ReduceSum", "ReduceMax", "ReduceMean"):
        axes = attrs.get("axes")
        if axes is None and len(ins) > 1 and ins[1].const is not None:
            axes = [int(a) for a in np.asarray(ins[1].const).reshape(-1)]
        if not axes or 0 in axes or -len(x.shape) - 1 in axes:
            raise ModelError(f"{op} over the batch axis is outside what the c/js targets generate")
        return [out(0, x.dtype, (1,))]
    if op == "Not":
        return [out(0, "bool", x.shape)] if not const else [_fold(op, ins, attrs, names)]
    if op == "Where":
        return [out(0, ins[1].dtype, (_broadcast_size(ins),))]
    if op == "Concat":
        return [out(0, _result_dtype(ins), (sum(_row_size(v) for v in ins),))]
    if op in ("Reshape", "Flatten", "Squeeze", "Unsqueeze"):
        return [out(0, x.dtype, (x.size,))] if x.const is None else [Value(names[0], x.dtype, (x.size,), x.const.reshape(-1))]
    if op == "MatMul":
        w = ins[1]
        if w.const is None or w.const.ndim != 2:
            raise ModelError("MatMul with a non-constant or non-2-D right operand is outside what the c/js targets generate")
        return [out(0, x.dtype, (int(w.const.shape[1]),))]
    if op == "Gemm":
        w = ins[1].const
        if w is None:
            raise ModelError("Gemm with a non-constant B is outside what the c/js targets generate")
        m = w.shape[0] if attrs.get("transB", 0) else w.shape[1]
        return [out(0, x.dtype, (int(m),))]
    if op == "Softmax":
        return [out(0, x.dtype, x.shape)]
    if op == "ArgMax":
        return [out(0, "i64", (1,))]
    if op == "OneHotEncoder":
        cats = attrs.get("cats_strings") or attrs.get("cats_int64s") or []
        return [out(0, "f32", (x.size * len(cats),))]
    if op == "LabelEncoder":
        kind = "str" if "values_strings" in attrs else "i64" if "values_int64s" in attrs else "f32"
        if "values_tensor" in attrs:
            kind = {np.dtype(np.float64): "f64", np.dtype(np.float32): "f32", np.dtype(np.int64): "i64"}.get(
                np.asarray(attrs["values_tensor"]).dtype, "str")
        return [out(0, kind, x.shape)]
    if op in ("Normalizer", "Scaler", "Imputer"):
        return [out(0, "f32" if op == "Normalizer" else x.dtype, x.shape)]
    if op == "ArrayFeatureExtractor":
        idx = ins[1].const
        if idx is None:
            raise ModelError("ArrayFeatureExtractor with non-constant indices is outside what the c/js targets generate")
        return [out(0, x.dtype, (int(np.asarray(idx).size),))]
    if op in ("LinearClassifier", "TreeEnsembleClassifier"):
        n = len(attrs.get("classlabels_ints") or attrs.get("classlabels_int64s") or attrs.get("classlabels_strings") or [])
        return [out(0, "i64", (1,)), out(1, "f32", (n,))][: len(names)]
    if op == "LinearRegressor":
        return [out(0, "f32", (int(attrs.get("targets", 1)),))]
    if op == "TreeEnsemble":
        return [out(0, x.dtype, (int(attrs.get("n_targets", 1)),))]
    if op == "Tokenizer":  # one list of tokens per record
        return [out(0, "tok", (1,))]
    if op == "TfIdfVectorizer":
        return [out(0, "f32", (int(max(attrs["ngram_indexes"])) + 1,))]
    if op == "TreeEnsembleRegressor":
        return [out(0, "f32", (int(attrs.get("n_targets", 1)),))]
    raise ModelError(f"no shape rule for {op}")  # pragma: no cover - SUPPORTED and the rules agree


def _row_size(v: Any) -> int:
    return v.size if v.const is None else int(v.const.size)


def _broadcast_size(ins: list[Any]) -> int:
    return max(_row_size(v) for v in ins)


def _result_dtype(ins: list[Any]) -> str:
    kinds = {v.dtype for v in ins if v.const is None} or {ins[0].dtype}
    for k in ("f64", "f32", "i64", "bool", "str"):
        if k in kinds:
            return k
    return ins[0].dtype


def _fold(op: str, ins: list[Any], attrs: dict[str, Any], names: list[str]) -> Any:
    a = [v.const for v in ins]
    fn = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide, "Identity": lambda x: x,
          "Neg": np.negative, "Abs": np.abs, "Exp": np.exp, "Sqrt": np.sqrt, "Log": np.log,
          "Relu": lambda x: np.maximum(x, 0), "Tanh": np.tanh, "Sigmoid": lambda x: 1 / (1 + np.exp(-x)),
          "Equal": np.equal, "Less": np.less, "Greater": np.greater, "LessOrEqual": np.less_equal,
          "GreaterOrEqual": np.greater_equal, "And": np.logical_and, "Or": np.logical_or, "Not": np.logical_not}[op]
    result = np.asarray(fn(*a))
    return Value(names[0], np_dtype(result), tuple(result.shape), result)
