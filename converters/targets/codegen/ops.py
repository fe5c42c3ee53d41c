"""One emitter per ONNX operator (the table EMITTERS), each writing the operator's arithmetic for one
record in the statement syntax C and JavaScript share. Semantics follow the ONNX specification and its
reference implementation (onnx.reference), in the tensor types the graph declares."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np

from ....runtime.errors import ModelError
from .ir import Node, Value
from .printer import Printer


def _each(p: Printer, node: Node, expr: str) -> None:
    """The element-by-element operators: out[i] = expr (written with `i`) over the output's values."""
    y = node.outputs[0]
    out = p.array(y)
    p.loop("i", y.size)
    p.line(f"{out}[i] = {expr};")
    p.close()


def _elementwise(p: Printer, node: Node) -> None:
    x, y = node.inputs[0], node.outputs[0]
    d = y.dtype
    a = p.operand(x, "i")
    expr = {
        "Identity": a, "Neg": f"-({a})", "Abs": f"(({a}) < 0 ? -({a}) : ({a}))",
        "Relu": f"(({a}) > 0 ? ({a}) : 0)",
        "Sigmoid": p.round(f"1 / (1 + {p.fn('exp', f'-({a})', d)})", d),
        "Tanh": p.fn("tanh", a, d), "Exp": p.fn("exp", a, d), "Sqrt": p.fn("sqrt", a, d), "Log": p.fn("log", a, d),
    }[node.op]
    _each(p, node, expr)


def _cast(p: Printer, node: Node) -> None:
    x, y = node.inputs[0], node.outputs[0]
    a = p.operand(x, "i")
    if y.dtype in ("f32", "f64"):
        _each(p, node, p.round(a, y.dtype))
    elif y.dtype == "i64":
        _each(p, node, f"Math.trunc({a})" if p.lang == "js" else f"(long long)({a})")
    elif y.dtype == "bool":
        _each(p, node, f"({a}) != 0 ? 1 : 0")
    else:
        raise_unsupported(node, "a cast to string")


def _isnan(p: Printer, node: Node) -> None:
    _each(p, node, f"{p.is_nan(p.operand(node.inputs[0], 'i'))} ? 1 : 0")


def _binary(p: Printer, node: Node) -> None:
    a, b = node.inputs
    sym = {"Add": "+", "Sub": "-", "Mul": "*", "Div": "/"}[node.op]
    _each(p, node, p.round(f"{_index(p, a)} {sym} {_index(p, b)}", node.outputs[0].dtype))


def _compare(p: Printer, node: Node) -> None:
    a, b = node.inputs
    sym = {"Equal": "==", "Less": "<", "Greater": ">", "LessOrEqual": "<=", "GreaterOrEqual": ">=", "And": "&&", "Or": "||"}[node.op]
    left, right = _index(p, a), _index(p, b)
    if node.op == "Equal" and "str" in (a.dtype, b.dtype):
        test = p.streq(left, right)
    else:
        test = f"({left} {sym} {right})"
    _each(p, node, f"{test} ? 1 : 0")


def _reduce(p: Printer, node: Node) -> None:
    """Over the record's values (per record a tensor is flat: its axes after the batch one are all reduced)."""
    x, y = node.inputs[0], node.outputs[0]
    out = p.array(y)
    src = p.ref(x)
    d = y.dtype
    p.scalar("acc", d, f"{src}[0]")
    p.open(f"for ({p.int_decl('i')} = 1; i < {x.size}; i++)")
    if node.op == "ReduceMax":
        p.line(f"if ({src}[i] > acc) acc = {src}[i];")
    else:
        p.line(f"acc = {p.round(f'acc + {src}[i]', d)};")
    p.close()
    p.line(f"{out}[0] = {p.round(f'acc / {x.size}', d) if node.op == 'ReduceMean' else 'acc'};")


def _not(p: Printer, node: Node) -> None:
    _each(p, node, f"{p.operand(node.inputs[0], 'i')} ? 0 : 1")


def _index(p: Printer, v: Value) -> str:
    """Element i of a value broadcast over the row: constants and 1-element values repeat."""
    if v.const is not None:
        if v.const.size == 1:
            return p.lit(v.const.reshape(-1)[0], v.dtype)
        return f"{p.table(v)}[i]"
    return p.operand(v, "i")


def _where(p: Printer, node: Node) -> None:
    c, a, b = node.inputs
    _each(p, node, f"{_index(p, c)} ? {_index(p, a)} : {_index(p, b)}")


def _concat(p: Printer, node: Node) -> None:
    y = node.outputs[0]
    out = p.array(y)
    offset = 0
    for v in node.inputs:
        n = v.size if v.const is None else int(v.const.size)
        src = p.ref(v)
        p.loop("i", n)
        p.line(f"{out}[{offset} + i] = {p.round(f'{src}[i]', y.dtype) if v.dtype != y.dtype else f'{src}[i]'};")
        p.close()
        offset += n


def _reshape(p: Printer, node: Node) -> None:
    x, y = node.inputs[0], node.outputs[0]
    p._names[y.name] = p.name(x)  # the same values, in the same order


def _matmul(p: Printer, node: Node, w: np.ndarray, bias: np.ndarray | None = None) -> None:
    x, y = node.inputs[0], node.outputs[0]
    out = p.array(y)
    k, m = w.shape
    table = p.table(Value(node.inputs[1].name + "_w", y.dtype, w.shape, w.astype(np.float64)))
    src = p.operand(x, "r")
    p.loop("j", m)
    p.scalar("s", y.dtype, p.lit(0.0, y.dtype))
    p.loop("r", k)
    p.line(f"s = {p.round(f's + {src} * {table}[r * {m} + j]', y.dtype)};")
    p.close()
    if bias is not None:
        btab = p.table(Value(node.inputs[1].name + "_b", y.dtype, (m,), np.broadcast_to(bias.reshape(-1), (m,)).astype(np.float64)))
        p.line(f"s = {p.round(f's + {btab}[j]', y.dtype)};")
    p.line(f"{out}[j] = s;")
    p.close()


def _matmul_op(p: Printer, node: Node) -> None:
    _matmul(p, node, np.asarray(node.inputs[1].const))


def _gemm(p: Printer, node: Node) -> None:
    w = np.asarray(node.inputs[1].const, dtype=np.float64)
    if node.attrs.get("transA", 0):
        raise_unsupported(node, "transA")
    if node.attrs.get("transB", 0):
        w = w.T
    w = w * float(node.attrs.get("alpha", 1.0))
    bias = None
    if len(node.inputs) > 2:
        bias = np.asarray(node.inputs[2].const, dtype=np.float64) * float(node.attrs.get("beta", 1.0))
    _matmul(p, node, w, bias)


def _softmax(p: Printer, node: Node) -> None:
    x, y = node.inputs[0], node.outputs[0]
    _softmax_into(p, p.ref(x), p.array(y), y.size, y.dtype)


def _softmax_into(p: Printer, src: str, out: str, n: int, d: str) -> None:
    p.scalar("mx", d, f"{src}[0]")
    p.loop("i", n)
    p.line(f"if ({src}[i] > mx) mx = {src}[i];")
    p.close()
    p.scalar("sm", d, p.lit(0.0, d))
    p.loop("i", n)
    p.line(f"{out}[i] = {p.fn('exp', p.round(f'{src}[i] - mx', d), d)};")
    p.line(f"sm = {p.round(f'sm + {out}[i]', d)};")
    p.close()
    p.loop("i", n)
    p.line(f"{out}[i] = {p.round(f'{out}[i] / sm', d)};")
    p.close()


def _argmax(p: Printer, node: Node) -> None:
    x, y = node.inputs[0], node.outputs[0]
    out = p.array(y)
    src = p.ref(x)
    p.line(f"{out}[0] = 0;")
    p.loop("i", x.size)
    p.line(f"if ({src}[i] > {src}[{'Math.trunc(' + out + '[0])' if p.lang == 'js' else '(int)' + out + '[0]'}]) {out}[0] = i;")
    p.close()


def _one_hot(p: Printer, node: Node) -> None:
    x, y = node.inputs[0], node.outputs[0]
    out = p.array(y)
    strings = node.attrs.get("cats_strings")
    cats = strings if strings is not None else node.attrs.get("cats_int64s", [])
    kind = "str" if strings is not None else "i64"
    src = p.ref(x)
    p.loop("i", y.size)
    p.line(f"{out}[i] = 0;")
    p.close()
    p.loop("r", x.size)
    for j, cat in enumerate(cats):
        test = p.streq(f"{src}[r]", p.lit(cat, "str")) if kind == "str" else f"{src}[r] == {int(cat)}"
        p.line(f"{'if' if j == 0 else 'else if'} ({test}) {out}[r * {len(cats)} + {j}] = 1;")
    p.close()
    # handle_unknown: zeros=1 (the only mode skl2onnx writes) leaves unknown values as all zeros.


def _label_encoder(p: Printer, node: Node) -> None:
    x, y = node.inputs[0], node.outputs[0]
    a = node.attrs
    keys = a.get("keys_strings") or a.get("keys_int64s") or a.get("keys_floats")
    values = a.get("values_strings") or a.get("values_int64s") or a.get("values_floats")
    if "keys_tensor" in a:
        keys = list(np.asarray(a["keys_tensor"]).reshape(-1))
    if "values_tensor" in a:
        values = list(np.asarray(a["values_tensor"]).reshape(-1))
    if keys is None or values is None:
        raise_unsupported(node, "its key/value attributes")
    default = {"str": a.get("default_string", "_Unused"), "i64": a.get("default_int64", -1),
               "f32": a.get("default_float", -0.0), "f64": a.get("default_float", -0.0)}[y.dtype]
    if "default_tensor" in a:
        default = np.asarray(a["default_tensor"]).reshape(-1)[0]
    out = p.array(y)
    src = p.ref(x)
    p.loop("r", x.size)
    p.line(f"{out}[r] = {p.lit(default, y.dtype)};")
    key_kind = "str" if isinstance(keys[0], str) else x.dtype
    for j, (k, v) in enumerate(zip(keys, values)):
        test = p.streq(f"{src}[r]", p.lit(k, "str")) if key_kind == "str" else f"{src}[r] == {p.lit(k, x.dtype)}"
        p.line(f"{'if' if j == 0 else 'else if'} ({test}) {out}[r] = {p.lit(v, y.dtype)};")
    p.close()


def _normalizer(p: Printer, node: Node) -> None:
    x, y = node.inputs[0], node.outputs[0]
    out = p.array(y)
    src = p.ref(x)
    norm = node.attrs.get("norm", "MAX")
    d = y.dtype
    p.scalar("nz", d, p.lit(0.0, d))
    p.loop("i", x.size)
    a = p.round(f"{src}[i]", d)
    if norm == "L1":
        p.line(f"nz = {p.round(f'nz + ({a} < 0 ? -{a} : {a})', d)};")
    elif norm == "L2":
        p.line(f"nz = {p.round(f'nz + {a} * {a}', d)};")
    else:
        p.line(f"if (({a} < 0 ? -{a} : {a}) > nz) nz = ({a} < 0 ? -{a} : {a});")
    p.close()
    if norm == "L2":
        p.line(f"nz = {p.fn('sqrt', 'nz', d)};")
    p.loop("i", x.size)
    p.line(f"{out}[i] = nz == 0 ? {a} : {p.round(f'{a} / nz', d)};")
    p.close()


def _scaler(p: Printer, node: Node) -> None:
    x, y = node.inputs[0], node.outputs[0]
    out = p.array(y)
    n = y.size
    offset = np.broadcast_to(np.asarray(node.attrs.get("offset", [0.0]), dtype=np.float64), (n,))
    scale = np.broadcast_to(np.asarray(node.attrs.get("scale", [1.0]), dtype=np.float64), (n,))
    off = p.table(Value(node.outputs[0].name + "_off", "f32", (n,), offset.astype(np.float32)))
    sc = p.table(Value(node.outputs[0].name + "_sc", "f32", (n,), scale.astype(np.float32)))
    src = p.ref(x)
    p.loop("i", n)
    p.line(f"{out}[i] = {p.round(f'({src}[i] - {off}[i]) * {sc}[i]', y.dtype)};")
    p.close()


def _imputer(p: Printer, node: Node) -> None:
    x, y = node.inputs[0], node.outputs[0]
    out = p.array(y)
    n = y.size
    fill = np.broadcast_to(np.asarray(node.attrs.get("imputed_value_floats", [0.0]), dtype=np.float64), (n,))
    tab = p.table(Value(node.outputs[0].name + "_fill", "f32", (n,), fill.astype(np.float32)))
    replaced = float(node.attrs.get("replaced_value_float", np.nan))
    src = p.ref(x)
    test = p.is_nan(f"{src}[i]") if np.isnan(replaced) else f"{src}[i] == {p.lit(replaced, 'f32')}"
    p.loop("i", n)
    p.line(f"{out}[i] = {test} ? {tab}[i] : {src}[i];")
    p.close()


def _feature_extractor(p: Printer, node: Node) -> None:
    x, idx, y = node.inputs[0], np.asarray(node.inputs[1].const).reshape(-1), node.outputs[0]
    out = p.array(y)
    src = p.ref(x)
    for j, k in enumerate(idx):
        p.line(f"{out}[{j}] = {src}[{int(k)}];")


def post_transform(p: Printer, out: str, n: int, d: str, transform: str) -> None:
    """The ai.onnx.ml post_transform of scores in place (NONE, LOGISTIC, SOFTMAX)."""
    if transform in ("NONE", None, ""):
        return
    if transform == "LOGISTIC":
        p.loop("i", n)
        e = p.fn("exp", f"-{out}[i]", d)
        p.line(f"{out}[i] = {p.round(f'1 / (1 + {e})', d)};")
        p.close()
    elif transform == "SOFTMAX":
        _softmax_into(p, out, out, n, d)
    else:
        raise ModelError(f"post_transform {transform} is outside what the c/js targets generate")


def _linear_classifier(p: Printer, node: Node) -> None:
    x = node.inputs[0]
    y = node.outputs[1]
    a = node.attrs
    n_in = x.size
    coef = np.asarray(a["coefficients"], dtype=np.float32).reshape(-1, n_in)
    inter = np.asarray(a.get("intercepts", [0.0] * coef.shape[0]), dtype=np.float32)
    n_classes = y.size
    d = "f64" if x.dtype == "f64" else "f32"
    out = p.array(y)
    src = p.ref(x)
    ctab = p.table(Value(y.name + "_coef", d, coef.shape, coef.astype(np.float64 if d == "f64" else np.float32)))
    itab = p.table(Value(y.name + "_int", d, inter.shape, inter.astype(np.float64 if d == "f64" else np.float32)))
    rows = coef.shape[0]
    p.loop("c", rows)
    p.scalar("s", d, f"{itab}[c]")
    p.loop("r", n_in)
    xr = p.round(f"{src}[r]", d)
    p.line(f"s = {p.round(f's + {xr} * {ctab}[c * {n_in} + r]', d)};")
    p.close()
    p.line(f"{out}[{'c + 1' if rows == 1 and n_classes == 2 else 'c'}] = s;")
    p.close()
    if rows == 1 and n_classes == 2:
        p.line(f"{out}[0] = -{out}[1];")
    transform = a.get("post_transform", "NONE")
    post_transform(p, out, n_classes, "f32", transform)


def _linear_regressor(p: Printer, node: Node) -> None:
    x, y = node.inputs[0], node.outputs[0]
    a = node.attrs
    n_in = x.size
    coef = np.asarray(a["coefficients"], dtype=np.float32).reshape(-1, n_in)
    inter = np.asarray(a.get("intercepts", [0.0] * coef.shape[0]), dtype=np.float32)
    d = "f64" if x.dtype == "f64" else "f32"
    out = p.array(y)
    src = p.ref(x)
    ctab = p.table(Value(y.name + "_coef", d, coef.shape, coef.astype(np.float64 if d == "f64" else np.float32)))
    itab = p.table(Value(y.name + "_int", d, inter.shape, inter.astype(np.float64 if d == "f64" else np.float32)))
    p.loop("c", coef.shape[0])
    p.scalar("s", d, f"{itab}[c]")
    p.loop("r", n_in)
    xr = p.round(f"{src}[r]", d)
    p.line(f"s = {p.round(f's + {xr} * {ctab}[c * {n_in} + r]', d)};")
    p.close()
    p.line(f"{out}[c] = {p.round('s', y.dtype)};")
    p.close()
    if a.get("post_transform", "NONE") not in ("NONE", None):
        raise_unsupported(node, f"post_transform {a['post_transform']}")


# Token patterns whose JavaScript spelling (u flag: Unicode classes) finds what onnxruntime's RE2 finds: the
# ONNX target's pattern for scikit-learn's (?u)\b\w\w+\b (onnx_sklearn.TOKEN_EXP). JavaScript's \w without
# Unicode property escapes is ASCII-only, hence the classes.
JS_TOKEN_PATTERNS = {r"[\p{L}\p{N}_][\p{L}\p{N}_]+"}
NGRAM_JOIN = "\u0001"  # between the words of an n-gram key: no token holds it (the patterns match no control)


def _tokenizer(p: Printer, node: Node) -> None:
    """com.microsoft Tokenizer as skl2onnx writes it (a regular expression, no marks): the record's tokens."""
    pattern, a = node.attrs.get("tokenexp"), node.attrs
    if p.lang != "js":
        raise_unsupported(node, "text (the generated C has no Unicode tokenizer)")
    if pattern not in JS_TOKEN_PATTERNS or a.get("mark", 0) or a.get("mincharnum", 1) != 1:
        raise_unsupported(node, f"tokenexp {pattern!r}, mark {a.get('mark', 0)}, mincharnum {a.get('mincharnum', 1)}")
    out = p.array(node.outputs[0])
    p.line(f"{out}[0] = String({p.operand(node.inputs[0], '0')}).match(/{pattern}/gu) ?? [];")


def _tfidf_vectorizer(p: Printer, node: Node) -> None:
    """TfIdfVectorizer in mode TF (what skl2onnx writes: idf and norm follow as Mul and Normalizer): the
    count of each pool n-gram among the record's consecutive tokens, at its output index."""
    a = node.attrs
    if a.get("mode", "TF") != "TF" or a.get("max_skip_count", 0) != 0:
        raise_unsupported(node, f"mode {a.get('mode')!r}, max_skip_count {a.get('max_skip_count', 0)}")
    counts, pool, index = list(a["ngram_counts"]), list(a["pool_strings"]), list(a["ngram_indexes"])
    lo, hi = int(a["min_gram_length"]), int(a["max_gram_length"])
    bounds = [*counts, len(pool)]
    keys: list[tuple[str, int]] = []
    entry = 0  # the pool's n-grams in order, each with its output index
    for n in range(1, len(counts) + 1):
        for start in range(bounds[n - 1], bounds[n], n):
            if lo <= n <= hi:
                keys.append((NGRAM_JOIN.join(pool[start:start + n]), int(index[entry])))
            entry += 1
    table = f"K_{p.name(node.outputs[0])}_ngrams"
    p.tables.append(f"const {table} = new Map({json.dumps(keys)});")
    out = p.array(node.outputs[0])
    p.loop("i", node.outputs[0].size)
    p.line(f"{out}[i] = 0;")
    p.close()
    p.line(f"const toks = {p.operand(node.inputs[0], '0')};")
    p.open("for (let i = 0; i < toks.length; i++)")
    p.line("let key = toks[i];")
    p.open(f"for (let n = 1; n <= {hi} && i + n <= toks.length; n++)")
    p.line(f"if (n > 1) key += {json.dumps(NGRAM_JOIN)} + toks[i + n - 1];")
    p.line(f"const k = n >= {lo} ? {table}.get(key) : undefined;")
    p.line(f"if (k !== undefined) {out}[k] += 1;")
    p.close()
    p.close()


EMITTERS: dict[str, Callable[[Printer, Node], None]] = {
    **{op: _elementwise for op in ("Identity", "Relu", "Sigmoid", "Tanh", "Exp", "Abs", "Neg", "Sqrt", "Log")},
    "Cast": _cast, "IsNaN": _isnan, "Add": _binary, "Sub": _binary, "Mul": _binary, "Div": _binary,
    **{op: _compare for op in ("Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or")},
    "ReduceSum": _reduce, "ReduceMax": _reduce, "ReduceMean": _reduce,
    "Not": _not, "Where": _where, "Concat": _concat, "Reshape": _reshape, "Flatten": _reshape, "Squeeze": _reshape,
    "Unsqueeze": _reshape, "MatMul": _matmul_op, "Gemm": _gemm, "Softmax": _softmax, "ArgMax": _argmax,
    "OneHotEncoder": _one_hot, "LabelEncoder": _label_encoder, "Normalizer": _normalizer, "Scaler": _scaler,
    "Imputer": _imputer, "ArrayFeatureExtractor": _feature_extractor, "LinearClassifier": _linear_classifier,
    "LinearRegressor": _linear_regressor, "Tokenizer": _tokenizer, "TfIdfVectorizer": _tfidf_vectorizer,
}


def raise_unsupported(node: Node, what: str) -> None:
    raise ModelError(f"ONNX {node.op} with {what} is outside what the c/js targets generate",
                     fix="build this model without the c and js targets (onnx still works)")
