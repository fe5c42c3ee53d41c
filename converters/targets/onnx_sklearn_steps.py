"""skl2onnx converters for the scikit-learn transformers skl2onnx has none for here (issue 18): FunctionTransformer
with numpy ufuncs, TargetEncoder and SplineTransformer, registered through skl2onnx's documented
`update_registered_converter` (a shape calculator and a converter each) and written with standard ONNX
operators, in the input's precision (float64 in edgepack's preprocessing graph, see onnx_sklearn.py).

Only operators the c/js code generator also covers (codegen/shapes.py SUPPORTED) are used: no Gather, no Clip.
- FunctionTransformer: Log1p as Log(Add(x, 1)) (relative error ~1e-16 / x in float64), Sqrt, Log, Exp, Abs.
- TargetEncoder: per input column, ai.onnx.ml OneHotEncoder over the fitted categories (unknown -> a zero
  row) and one MatMul with [encodings; target mean] against [one-hot, 1 - sum(one-hot)]: one nonzero term
  times 1 plus exact zeros, so each output is the fitted double itself. A learnt missing category is "" in
  the graph (contract 2).
- SplineTransformer: each feature's B-splines as piecewise polynomials (Taylor coefficients at each knot
  interval's left end, from scipy's own derivatives), the segment a value falls in picked by comparisons
  (-inf/+inf bounds, NaN replaced first so that 0 x NaN cannot leak), one MatMul of the masked powers with a
  block matrix of coefficients; scikit-learn's `constant`/`linear` extrapolation are two more segments of
  degree 0/1, `continue` extends the end polynomials.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...runtime.errors import ModelError
from ..sources.sklearn import FUNCTION_TRANSFORMER_UFUNCS, function_transformer_refusal, spline_refusal

CONVERTED_STEPS = ("FunctionTransformer", "TargetEncoder", "SplineTransformer")  # registered by register()
UNARY = {"log": "Log", "sqrt": "Sqrt", "exp": "Exp", "absolute": "Abs"}  # numpy ufunc -> ONNX op (log1p: two ops)
_registered = False


def register() -> None:
    """Register the three converters with skl2onnx (once per process; replaces skl2onnx's identity-only
    FunctionTransformer converter, whose behaviour for func=None is kept)."""
    global _registered
    if _registered:
        return
    from skl2onnx import update_registered_converter
    from sklearn.preprocessing import FunctionTransformer, SplineTransformer, TargetEncoder

    update_registered_converter(FunctionTransformer, "SklearnFunctionTransformer", _same_type_shape(_function_width),
                                _convert_function)
    update_registered_converter(TargetEncoder, "EdgepackTargetEncoder", _target_encoder_shape, _convert_target_encoder)
    update_registered_converter(SplineTransformer, "EdgepackSplineTransformer", _same_type_shape(_spline_width),
                                _convert_spline)
    _registered = True


# --- helpers ------------------------------------------------------------------------------------


def _dtype(operator: Any) -> tuple[int, type]:
    """(ONNX element type, numpy type) of the operator's numeric input: double unless it is float32."""
    from onnx import TensorProto
    from skl2onnx.common.data_types import FloatTensorType

    if isinstance(operator.inputs[0].type, FloatTensorType):
        return TensorProto.FLOAT, np.float32
    return TensorProto.DOUBLE, np.float64


def _width(operator: Any) -> int:
    return sum(int(v.get_second_dimension() or 1) for v in operator.inputs)


def _same_type_shape(width: Any) -> Any:
    def calculate(operator: Any) -> None:
        from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

        kind = FloatTensorType if isinstance(operator.inputs[0].type, FloatTensorType) else DoubleTensorType
        operator.outputs[0].type = kind([operator.inputs[0].get_first_dimension(), width(operator)])

    return calculate


class _Writer:
    """Unique names, constants and nodes for one operator."""

    def __init__(self, scope: Any, container: Any, operator: Any) -> None:
        self.scope, self.container, self.operator = scope, container, operator

    def name(self, hint: str) -> str:
        return self.scope.get_unique_variable_name(hint)

    def const(self, hint: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        name = self.name(hint)
        tensor = numpy_helper.from_array(np.asarray(value), name)
        self.container.add_initializer(name, tensor.data_type, list(tensor.dims), np.asarray(value).flatten().tolist())
        return name

    def node(self, op: str, inputs: list[str], hint: str, out: str | None = None, domain: str = "", **attrs: Any) -> str:
        out = out or self.name(hint)
        self.container.add_node(op, inputs, [out], op_domain=domain, name=self.scope.get_unique_operator_name(hint), **attrs)
        return out

    def joined_input(self) -> str:
        names = [v.full_name for v in self.operator.inputs]
        return names[0] if len(names) == 1 else self.node("Concat", names, "joined", axis=1)


# --- FunctionTransformer --------------------------------------------------------------------------


def _function_width(operator: Any) -> int:
    return _width(operator)


def _convert_function(scope: Any, operator: Any, container: Any) -> None:
    step = operator.raw_operator
    refusal = function_transformer_refusal(step)
    if refusal:
        raise ModelError(refusal)
    w = _Writer(scope, container, operator)
    x, out = w.joined_input(), operator.outputs[0].full_name
    name = None if step.func is None else step.func.__name__
    if name is None:
        w.node("Identity", [x], "identity", out)
    elif name == "log1p":
        one = w.const("one", np.array(1.0, dtype=_dtype(operator)[1]))
        w.node("Log", [w.node("Add", [x, one], "one_plus")], "log1p", out)
    elif name in UNARY:
        w.node(UNARY[name], [x], name, out)
    else:  # function_transformer_refusal keeps this table and FUNCTION_TRANSFORMER_UFUNCS together
        raise AssertionError(f"{name} in FUNCTION_TRANSFORMER_UFUNCS {FUNCTION_TRANSFORMER_UFUNCS} without an ONNX op")


# --- TargetEncoder --------------------------------------------------------------------------------


def _per_class(enc: Any) -> int:
    return len(enc.classes_) if getattr(enc, "target_type_", "") == "multiclass" else 1


def _target_encoder_shape(operator: Any) -> None:
    from skl2onnx.common.data_types import DoubleTensorType, StringTensorType

    enc = operator.raw_operator
    if not all(isinstance(v.type, StringTensorType) for v in operator.inputs):
        raise ModelError("TargetEncoder on a numeric column is not supported in ONNX",
                         fix="target-encode string columns (categories as text)")
    operator.outputs[0].type = DoubleTensorType([operator.inputs[0].get_first_dimension(),
                                                 len(enc.categories_) * _per_class(enc)])


def _category_text(value: Any) -> str:
    """A fitted category as the graph receives it: text, "" for a learnt missing value (contract 2)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


def _convert_target_encoder(scope: Any, operator: Any, container: Any) -> None:
    from onnx import TensorProto

    enc = operator.raw_operator
    w = _Writer(scope, container, operator)
    x = w.joined_input()
    per_class = _per_class(enc)
    means = np.atleast_1d(np.asarray(enc.target_mean_, dtype=np.float64))
    parts = []
    for j, cats in enumerate(enc.categories_):
        texts = [_category_text(c) for c in cats]
        column = w.node("ArrayFeatureExtractor", [x, w.const("column", np.array([j], dtype=np.int64))], "column",
                        domain="ai.onnx.ml")
        hot = w.node("OneHotEncoder", [column], "onehot", domain="ai.onnx.ml", cats_strings=texts, zeros=1)
        hot = w.node("Reshape", [hot, w.const("shape", np.array([-1, len(texts)], dtype=np.int64))], "onehot_2d")
        hot = w.node("Cast", [hot], "onehot_double", to=TensorProto.DOUBLE)
        known = w.node("ReduceSum", [hot, w.const("axis", np.array([1], dtype=np.int64))], "known", keepdims=1)
        unknown = w.node("Sub", [w.const("one", np.array(1.0)), known], "unknown")
        rows = w.node("Concat", [hot, unknown], "rows", axis=1)
        table = np.stack([np.append(np.asarray(enc.encodings_[j * per_class + k], dtype=np.float64), means[k])
                          for k in range(per_class)], axis=1)  # [categories + 1, per_class]
        parts.append(w.node("MatMul", [rows, w.const("encodings", table)], "encoded"))
    out = operator.outputs[0].full_name
    if len(parts) == 1:
        w.node("Identity", parts, "encoded", out)
    else:
        w.node("Concat", parts, "encoded", out, axis=1)


# --- SplineTransformer ----------------------------------------------------------------------------

def _kept(step: Any) -> list[int]:
    n = len(step.bsplines_[0].t) - step.degree - 1
    return [c for c in range(n) if step.include_bias or c != n - 1]  # include_bias=False drops each feature's last


def _spline_width(operator: Any) -> int:
    step = operator.raw_operator
    return len(step.bsplines_) * len(_kept(step))


def _segments(spline: Any, k: int, mode: str) -> list[tuple[float, float, float, np.ndarray]]:
    """(lower bound (>=), upper bound (<), origin, coefficients [k + 1, n]) of each piece of one feature's
    bases: value = sum_p coef[p] * (x - origin) ** p."""
    t = np.asarray(spline.t, dtype=np.float64)
    n = len(t) - k - 1
    lo, hi = t[k], t[n]
    up = np.nextafter(hi, np.inf)  # x < up is x <= hi: scikit-learn's last interval includes hi
    pieces = []
    for i in range(k, n):
        coef = np.stack([spline(t[i], nu=p) / float(np.prod(range(1, p + 1))) for p in range(k + 1)])  # right-hand
        lower = -np.inf if (i == k and mode == "continue") else t[i]
        upper = np.inf if (i == n - 1 and mode == "continue") else (up if i == n - 1 else t[i + 1])
        pieces.append((lower, upper, t[i], coef))
    if mode != "continue":
        reach = k if mode == "constant" else max(k, 2)
        for lower, upper, origin, cols in ((-np.inf, lo, lo, slice(0, reach)), (up, np.inf, hi, slice(n - reach, n))):
            coef = np.zeros((k + 1, n))
            coef[0, cols] = spline(origin)[cols]
            if mode == "linear":
                coef[1, cols] = spline(origin, nu=1)[cols]
            pieces.append((lower, upper, origin, coef))
    return pieces


def _convert_spline(scope: Any, operator: Any, container: Any) -> None:

    step = operator.raw_operator
    refusal = spline_refusal(step)
    if refusal:
        raise ModelError(refusal)
    onnx_type, np_type = _dtype(operator)
    w = _Writer(scope, container, operator)
    x = w.joined_input()
    k, kept = int(step.degree), _kept(step)
    features = len(step.bsplines_)
    pieces = [_segments(s, k, step.extrapolation) for s in step.bsplines_]
    per = len(pieces[0])  # pieces per feature (the same for every feature)
    lower = np.array([p[0] for f in pieces for p in f])
    upper = np.array([p[1] for f in pieces for p in f])
    origin = np.array([p[2] for f in pieces for p in f])
    # weights: row (power p, feature f, piece s) -> column (feature f, kept spline c)
    weights = np.zeros(((k + 1) * features * per, features * len(kept)))
    for f, feature_pieces in enumerate(pieces):
        for s, (_, _, _, coef) in enumerate(feature_pieces):
            for p in range(k + 1):
                weights[(p * features + f) * per + s, f * len(kept):(f + 1) * len(kept)] = coef[p, kept]
    repeat = np.kron(np.eye(features), np.ones((1, per)))  # [F, F * per]: each feature copied per piece (exact)

    def typed(v: np.ndarray) -> np.ndarray:
        return v.astype(np_type).reshape(1, -1) if v.ndim == 1 else v.astype(np_type)

    missing = w.node("IsNaN", [x], "missing")
    safe = w.node("Where", [missing, w.const("fill", typed(origin[::per])), x], "safe")
    xr = w.node("MatMul", [safe, w.const("repeat", typed(repeat))], "per_piece")
    inside = w.node("And", [w.node("GreaterOrEqual", [xr, w.const("lower", typed(lower))], "above_lower"),
                            w.node("Less", [xr, w.const("upper", typed(upper))], "below_upper")], "in_piece")
    mask = w.node("Cast", [inside], "mask", to=onnx_type)
    dx = w.node("Sub", [xr, w.const("origin", typed(origin))], "dx")
    terms, term = [mask], mask
    for _ in range(k):
        term = w.node("Mul", [term, dx], "term")
        terms.append(term)
    stacked = w.node("Concat", terms, "terms", axis=1) if len(terms) > 1 else mask
    values = w.node("MatMul", [stacked, w.const("coefficients", typed(weights))], "bases")
    # a missing value: zeros with handle_missing='zeros'; scikit-learn raises otherwise, the graph gives NaN
    fill = 0.0 if getattr(step, "handle_missing", "error") == "zeros" else np.nan
    spread = np.kron(np.eye(features), np.ones((1, len(kept))))
    missing_cols = w.node("MatMul", [w.node("Cast", [missing], "missing_num", to=onnx_type),
                                     w.const("spread", typed(spread))], "missing_cols")
    is_missing = w.node("Greater", [missing_cols, w.const("half", np.array(0.5, dtype=np_type))], "missing_out")
    w.node("Where", [is_missing, w.const("missing_fill", np.array(fill, dtype=np_type)), values], "splines",
           operator.outputs[0].full_name)
