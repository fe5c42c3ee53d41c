"""scikit-learn to ONNX through skl2onnx, shaped so that the graph agrees with scikit-learn.

Why the graph is built in two parts: scikit-learn preprocesses in float64 and tree models then cast to
float32 before comparing with their thresholds. A float32 preprocessing graph lands a few ulps away from
scikit-learn's values, which flips a tree decision whenever a value sits at a split (measured on the
churn example: 2 of 1,000 rows off by 0.026 in probability). So numeric inputs are float64, the
preprocessing runs in float64, one Cast to float32 happens where scikit-learn casts, and the final
estimator runs in float32 with skl2onnx's sklearn-adjusted thresholds. Tree models are the exception:
their estimator is built from the shared tree reader (onnx_trees.py) and takes the float64 values
itself, so each split decides in the precision the source decides in. Plain tensor outputs (no ZipMap),
because browser runtimes cannot read sequences of maps.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...runtime.errors import ModelError
from ...runtime.schema import STRING_TYPES
from ..sources.sklearn import TEXT_VECTORIZERS, TREE_FAMILIES, walk
from ..sources.trees import read
from . import onnx_boosting, onnx_sklearn_steps
from .onnx_trees import tree_graph

OPSET = {"": 17, "ai.onnx.ml": 3}


def _initial_types(source: Any, schema: Any, numbers: str = "float64") -> tuple[list[tuple[str, Any]], list[dict[str, Any]]]:
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType

    NumberType = DoubleTensorType if numbers == "float64" else FloatTensorType

    if getattr(source, "text", False):  # one text column; the runtime lowercases it (_text_graph)
        name = schema.features[0].name
        return [(name, StringTensorType([None, 1]))], [{"name": name, "features": [name], "dtype": "string",
                                                         "lowercase": True}]
    if source.fitted_on_frame and (any(not f.numeric for f in schema.features) or _has_column_transformer(source)):
        types, binding = [], []
        for feat in schema.features:
            kind = "string" if feat.type in STRING_TYPES else numbers
            types.append((feat.name, StringTensorType([None, 1]) if kind == "string" else NumberType([None, 1])))
            # text reaches the graph lowercased by the runtime (_text_graph)
            binding.append({"name": feat.name, "features": [feat.name], "dtype": kind,
                            **({"lowercase": True} if feat.type == "text" else {})})
        return types, binding
    n = len(schema.features)
    return [("input", NumberType([None, n]))], [{"name": "input", "features": schema.names, "dtype": numbers}]


def _has_column_transformer(source: Any) -> bool:
    return any(type(p).__name__ == "ColumnTransformer" for p in walk(source.model))


def _split(model: Any) -> tuple[Any | None, Any]:
    """(preprocessing pipeline or None, final estimator)."""
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline):
        head = model[:-1] if len(model.steps) > 1 else None
        pre, final = _split(model.steps[-1][1])
        if pre is not None:
            head = pre if head is None else Pipeline([("head", head), ("inner", pre)])
        return head, final
    return None, model


def _fitted_imputers(model: Any) -> list[Any]:
    return [p for p in walk(model) if type(p).__name__ == "SimpleImputer" and np.asarray(p.statistics_).dtype.kind == "f"]


def _imputers_to_standard_ops(graph: Any, model: Any = None) -> None:
    """onnxruntime implements ai.onnx.ml Imputer for float32 only; express it with IsNaN/Where for float64.
    The fill is the imputer's own float64 statistic: skl2onnx's float32 copy of a mean is another number,
    and a tree that splits at the imputed value (XGBoost cuts at data values) then sends the row the other
    way (measured: 22 of 569 breast-cancer rows off by up to 0.04 behind SimpleImputer(mean)).
    skl2onnx also ignores `add_indicator` (the next step then gets half its columns): the missing-value
    indicator columns of `indicator_.features_` are appended here, as scikit-learn appends them."""
    from onnx import TensorProto, helper, numpy_helper

    imputers = _fitted_imputers(model) if model is not None else []
    nodes = []
    for node in graph.node:
        if node.op_type != "Imputer":
            nodes.append(node)
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        fill = np.asarray(attrs.get("imputed_value_floats") or attrs.get("imputed_value_int64s"), dtype=np.float64)
        match = next((p for p in imputers if np.shape(p.statistics_) == fill.shape and np.array_equal(
            np.asarray(p.statistics_, dtype=np.float32), fill.astype(np.float32), equal_nan=True)), None)
        if match is not None:
            fill = np.asarray(match.statistics_, dtype=np.float64)
        replaced = float(attrs.get("replaced_value_float", np.nan))
        const = f"{node.name}_fill"
        graph.initializer.append(numpy_helper.from_array(fill.reshape(1, -1), const))
        mask = f"{node.name}_mask"
        if np.isnan(replaced):
            nodes.append(helper.make_node("IsNaN", [node.input[0]], [mask], name=f"{node.name}_isnan"))
        else:
            value = f"{node.name}_replaced"
            graph.initializer.append(numpy_helper.from_array(np.array(replaced, dtype=np.float64), value))
            nodes.append(helper.make_node("Equal", [node.input[0], value], [mask], name=f"{node.name}_eq"))
        indicator = getattr(match, "indicator_", None) if match is not None else None
        if indicator is None:
            nodes.append(helper.make_node("Where", [mask, const, node.input[0]], [node.output[0]], name=f"{node.name}_where"))
            continue
        filled, columns = f"{node.name}_filled", f"{node.name}_indicator_columns"
        graph.initializer.append(numpy_helper.from_array(np.asarray(indicator.features_, dtype=np.int64), columns))
        nodes += [
            helper.make_node("Where", [mask, const, node.input[0]], [filled], name=f"{node.name}_where"),
            helper.make_node("Gather", [mask, columns], [f"{node.name}_ind_bool"], axis=1, name=f"{node.name}_ind_gather"),
            helper.make_node("Cast", [f"{node.name}_ind_bool"], [f"{node.name}_ind"], to=TensorProto.DOUBLE,
                             name=f"{node.name}_ind_cast"),
            helper.make_node("Concat", [filled, f"{node.name}_ind"], [node.output[0]], axis=1, name=f"{node.name}_with_indicator"),
        ]
    del graph.node[:]
    graph.node.extend(nodes)


# Python's \w as RE2 (onnxruntime's Tokenizer) spells it: letters, numbers and "_". Equal to Python's on every
# code point Python's Unicode tables assign (checked on all of them; RE2's newer tables add letters Python
# leaves unassigned). Runs of two or more are what (?u)\b\w\w+\b finds; skl2onnx's default is ASCII-only.
TOKEN_EXP = r"[\p{L}\p{N}_][\p{L}\p{N}_]+"


def _text_options(model: Any) -> dict[int, dict[str, Any]]:
    return {id(p): {"tokenexp": TOKEN_EXP} for p in walk(model) if type(p).__name__ in TEXT_VECTORIZERS}


def _text_graph(graph: Any, model: Any) -> None:
    """The text part of skl2onnx's graph made scikit-learn's. Its StringNormalizer is dropped: it lowercases by
    a C++ locale (not Python's str.lower: "İ", a final "Σ"; and a session fails to load where the locale is
    missing), and it removes a stop word as a whole document, where scikit-learn drops it as a token, which a
    unigram vocabulary already leaves out. The input is lowercased by the runtime instead (its binding says
    `lowercase`). The n-gram pool is rewritten from the vocabulary (_vocabulary_pool)."""
    if not any(type(p).__name__ in TEXT_VECTORIZERS for p in walk(model)):
        return
    _vocabulary_pool(graph, model)
    for node in [n for n in graph.node if n.op_type == "StringNormalizer"]:
        for other in graph.node:
            other.input[:] = [node.input[0] if i == node.output[0] else i for i in other.input]
        graph.node.remove(node)


def _vocabulary_pool(graph: Any, model: Any) -> None:
    """The TfIdfVectorizer's n-gram pool written from the vocabulary. skl2onnx guesses whether "w1 w2" is a pair
    of words or one token (a custom token pattern may match a space), and takes a pair for one token when
    max_features or min_df/max_df cut one of its words, which is then never counted (measured: "mean sd" on
    scikit-learn's data set descriptions, 13 of 98 documents off). With the default pattern a token never
    holds a space, so every entry with one is a pair."""
    from onnx import helper

    vectorizer = next(p for p in walk(model) if type(p).__name__ in TEXT_VECTORIZERS)
    vocabulary = {str(k): int(v) for k, v in vectorizer.vocabulary_.items()}
    words = sorted((k, v) for k, v in vocabulary.items() if " " not in k)
    pairs = sorted((k.split(" "), v) for k, v in vocabulary.items() if " " in k)
    new_attrs: dict[str, Any] = {
        "ngram_counts": [0, len(words)] if pairs else [0],
        "pool_strings": [w for w, _ in words] + [w for pair, _ in pairs for w in pair],
        "ngram_indexes": [v for _, v in words] + [v for _, v in pairs],
    }
    for node in [n for n in graph.node if n.op_type == "TfIdfVectorizer"]:
        if any(a.name == "weights" for a in node.attribute):  # one per pool entry; mode TF does not read them
            new_attrs["weights"] = [1.0] * len(new_attrs["ngram_indexes"])
        for i, attr in enumerate(node.attribute):
            if attr.name in new_attrs:
                node.attribute[i].CopyFrom(helper.make_attribute(attr.name, new_attrs[attr.name]))


def _constants_to_double(graph: Any) -> None:
    """skl2onnx's PolynomialFeatures starts its Concat with ConstantOfShape's default float32 ones, which a
    float64 graph cannot concatenate: make those constants float64."""
    from onnx import TensorProto, helper, numpy_helper

    for node in graph.node:
        if node.op_type != "ConstantOfShape":
            continue
        for attr in node.attribute:
            if attr.name == "value" and attr.t.data_type == TensorProto.FLOAT:
                attr.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(attr.t).astype(np.float64), attr.t.name))
        if not any(a.name == "value" for a in node.attribute):  # no value means float32 zeros
            node.attribute.append(helper.make_attribute("value", numpy_helper.from_array(np.zeros(1, dtype=np.float64))))


def _for_missing_categories(pre: Any) -> Any:
    """The preprocessing as skl2onnx can convert it when a category may be missing. A missing category reaches
    the graph as "" (contract 2); skl2onnx converts a string SimpleImputer only when its missing value is a
    string, so a copy (the user's model is not touched) imputes "" instead of NaN/None."""
    import copy

    string_imputers = [p for p in walk(pre) if type(p).__name__ == "SimpleImputer"
                       and np.asarray(p.statistics_).dtype.kind == "O" and not isinstance(p.missing_values, str)]
    if not string_imputers:
        return pre
    pre = copy.deepcopy(pre)
    for part in walk(pre):
        if type(part).__name__ == "SimpleImputer" and np.asarray(part.statistics_).dtype.kind == "O":
            part.missing_values = ""
    return pre


def _missing_category_as_empty(graph: Any, model: Any) -> None:
    """A OneHotEncoder that learnt NaN/None as a category matches it in skl2onnx's graph as the text "nan";
    the graph receives a missing category as "" (contract 2), so that category is renamed "". (A genuine
    category spelled "nan" next to a learnt missing one cannot be told apart; scikit-learn can.)"""
    from onnx import helper

    learnt_missing = any(type(p).__name__ == "OneHotEncoder" and any(
        not isinstance(c, str) for cats in p.categories_ for c in cats) for p in walk(model))
    if not learnt_missing:
        return
    for node in graph.node:
        for i, attr in enumerate(node.attribute):
            if attr.name in ("cats_strings", "keys_strings") and b"nan" in attr.strings:
                values = [b"" if v == b"nan" else v for v in attr.strings]
                node.attribute[i].CopyFrom(helper.make_attribute(attr.name, values))


def _align_opsets(*models: Any) -> None:
    """onnx.compose needs equal opset imports; the ops emitted here mean the same across these versions."""
    from onnx import helper

    want: dict[str, int] = {}
    for m in models:
        for o in m.opset_import:
            want[o.domain] = max(want.get(o.domain, 0), o.version)
    ir = max(m.ir_version for m in models)
    for m in models:
        del m.opset_import[:]
        m.opset_import.extend(helper.make_opsetid(d, v) for d, v in sorted(want.items()))
        m.ir_version = ir


def _rename_outputs(model: Any, names: dict[str, str]) -> None:
    """Give the graph outputs the package's names (label, probabilities, value)."""
    from onnx import helper

    graph = model.graph
    for out in list(graph.output):
        new = names.get(out.name)
        if new and new != out.name:
            graph.node.append(helper.make_node("Identity", [out.name], [new], name=f"rename_{new}"))
            out.name = new


# Final estimators that scikit-learn computes in float64 without casting (kernels, distances, likelihoods,
# decision scores): their ONNX tail runs in double where skl2onnx can write it so (a float32 tail put a hinge
# SGDClassifier's scores 7e-5 off on breast cancer), else in float32.
FLOAT64_FINALS = {
    "SVC", "SVR", "LinearSVC", "LinearSVR", "SGDClassifier", "SGDRegressor", "Perceptron", "RidgeClassifier",
    "ElasticNet", "HuberRegressor", "KNeighborsClassifier", "KNeighborsRegressor", "GaussianNB", "MultinomialNB",
    "BernoulliNB", "CalibratedClassifierCV", "VotingClassifier", "VotingRegressor", "StackingClassifier",
    "StackingRegressor",
}


def _names(model: Any) -> str:
    return " > ".join(dict.fromkeys(type(p).__name__ for p in walk(model)))


def _final_model(final: Any, n_features: int, classifier: bool) -> tuple[Any, int]:
    """The final estimator alone as ONNX from a `features` tensor, and that tensor's element type."""
    import copy

    from onnx import TensorProto
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    if getattr(final, "flatten_transform", None) is True:
        # VotingClassifier's flatten_transform shapes transform() only; skl2onnx refuses it. A shallow copy
        # changes it without touching the user's model.
        final = copy.copy(final)
        final.flatten_transform = False
    tried = [(DoubleTensorType, TensorProto.DOUBLE)] if type(final).__name__ in FLOAT64_FINALS else []
    tried.append((FloatTensorType, TensorProto.FLOAT))
    error: Exception | None = None
    for tensor_type, dtype in tried:
        for options in ([{id(final): {"zipmap": False}}] if classifier else []) + [{}]:
            try:
                model = convert_sklearn(final, initial_types=[("features", tensor_type([None, n_features]))],
                                        options=options, target_opset=OPSET)
                # skl2onnx writes some double graphs onnxruntime has no kernel for (SVMRegressor) or that mix
                # types (soft voting): those fall back to float32.
                _loads(model)
                return _widen_binary_scores(model), dtype
            except NameError as exc:  # this converter has no zipmap option (LinearSVC, ...): plain outputs already
                error = exc
            except Exception as exc:  # skl2onnx raises RuntimeError, NotImplementedError, ... per converter
                error = exc
                break
    assert error is not None
    raise error


def _loads(model: Any) -> None:
    import onnxruntime as ort

    ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def _widen_binary_scores(model: Any) -> Any:
    """A binary classifier without predict_proba (LinearSVC, ...) gets one decision score column from skl2onnx;
    the package's scores are [-d, d] (argmax = scikit-learn's predict), as the source computes them."""
    from onnx import helper

    out = next((o for o in model.graph.output if o.name == "probabilities"), None)
    if out is None or len(out.type.tensor_type.shape.dim) != 2 or out.type.tensor_type.shape.dim[1].dim_value != 1:
        return model
    out.name = "score_d"
    for node in model.graph.node:
        node.output[:] = ["score_d" if o == "probabilities" else o for o in node.output]
    model.graph.node.extend([helper.make_node("Neg", ["score_d"], ["score_neg"], name="score_neg"),
                             helper.make_node("Concat", ["score_neg", "score_d"], ["probabilities"], axis=1, name="scores")])
    out.name = "probabilities"
    out.type.tensor_type.shape.dim[1].dim_value = 2
    return model


def convert(source: Any, schema: Any) -> tuple[bytes, dict[str, Any]]:
    """The scikit-learn model as ONNX bytes, plus the manifest fields for its inputs and outputs."""
    import onnx
    from onnx import TensorProto, compose, helper
    from skl2onnx import convert_sklearn

    onnx_sklearn_steps.register()  # FunctionTransformer, TargetEncoder, SplineTransformer
    types, binding = _initial_types(source, schema)
    pre, final = _split(source.model)
    ensemble = source.ensemble  # XGBoost/LightGBM/CatBoost: edgepack's own double TreeEnsemble tail
    trees = ensemble is None and type(final).__name__ in TREE_FAMILIES  # the shared tree reader's exact graph
    try:
        if pre is not None:
            try:
                head = convert_sklearn(_for_missing_categories(pre), initial_types=types, target_opset=OPSET,
                                       options=_text_options(pre))
                _text_graph(head.graph, pre)
                _missing_category_as_empty(head.graph, pre)
                _imputers_to_standard_ops(head.graph, pre)
                _constants_to_double(head.graph)
            except RuntimeError:  # skl2onnx cannot write every transformer in double (PowerTransformer:
                # "Conflicted constraint 'T'"): the preprocessing then runs in float32, declared so in the
                # artifact's inputs, and parity judges the result.
                types, binding = _initial_types(source, schema, "float32")
                head = convert_sklearn(pre, initial_types=types, target_opset=OPSET, options=_text_options(pre))
                _text_graph(head.graph, pre)
            # CatBoost's n_features_in_ reads 0 in a Pipeline; its trees know how many columns they take
            n_features = ensemble.n_features if ensemble is not None else int(final.n_features_in_)
        else:
            n_features = len(schema.features)
            head = helper.make_model(
                helper.make_graph([], "inputs", [helper.make_tensor_value_info("input", TensorProto.DOUBLE, [None, n_features])],
                                  [helper.make_tensor_value_info("input", TensorProto.DOUBLE, [None, n_features])]),
                opset_imports=[helper.make_opsetid("", OPSET[""])],
            )
        if trees:
            tail = tree_graph(read(final), n_features, getattr(final, "classes_", None))
        elif ensemble is None:
            tail, tail_dtype = _final_model(final, n_features, source.task == "classification")
    except Exception as exc:  # skl2onnx raises RuntimeError, NotImplementedError, ...
        raise ModelError(f"skl2onnx could not convert {_names(source.model)} to ONNX: {type(exc).__name__}: {exc}",
                         fix="report the model's structure; the estimators listed by edgepack build --help convert") from exc

    if ensemble is not None:
        tail = onnx_boosting.tail_model(ensemble, "features")
    head_out = head.graph.output[0].name
    if not trees:  # scikit-learn's trees take the float64 input and compare it exactly (onnx_trees.py)
        # The one float64 -> float32 cast, where scikit-learn's estimators cast (a booster's tail rounds itself;
        # the FLOAT64_FINALS compute in float64 as scikit-learn does).
        dtype = TensorProto.DOUBLE if ensemble is not None else tail_dtype
        head.graph.node.append(helper.make_node("Cast", [head_out], ["features_cast"], to=dtype, name="to_estimator_type"))
        del head.graph.output[:]
        head.graph.output.append(helper.make_tensor_value_info("features_cast", dtype, [None, n_features]))
        head_out = "features_cast"
    _align_opsets(head, tail)
    merged = compose.merge_models(head, tail, io_map=[(head_out, "features")], prefix2="est_")

    if ensemble is not None:
        outputs = onnx_boosting.output_names(ensemble)
        _rename_outputs(merged, {f"est_{name}": name for name in outputs})
    elif source.task == "classification":
        outputs = {"label": "label", "probabilities": "probabilities"}
        _rename_outputs(merged, {"est_label": "label", "est_probabilities": "probabilities"})
    else:
        outputs = {"value": "value"}
        _rename_outputs(merged, {"est_variable": "value"})
    merged.producer_name = "edgepack"
    merged.graph.name = "edgepack_model"
    onnx.checker.check_model(merged, full_check=True)
    opsets = {o.domain or "ai.onnx": o.version for o in merged.opset_import}
    return merged.SerializeToString(), {"inputs": binding, "outputs": outputs, "opset": opsets}


def convert_with_info(source: Any, schema: Any) -> tuple[bytes, dict[str, Any], dict[str, str]]:
    """convert() plus the converter's name and version for the manifest."""
    import skl2onnx

    data, fields = convert(source, schema)
    return data, fields, {"name": "skl2onnx", "version": skl2onnx.__version__}
