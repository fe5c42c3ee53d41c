"""The Core ML target: a float32 artifact plus the variants that apply, and an iOS snippet.

| source       | artifact                               | variants                                      |
|--------------|----------------------------------------|-----------------------------------------------|
| scikit-learn | model.mlmodel: a pipeline of classic   | only where the final model is a neural network |
|              | model types (sklearn_*.py)             | (MLP, multinomial logistic regression):        |
|              |                                        | float16, int8 (linear), palette (4-bit table)  |
| keras        | model.mlpackage: an ML Program from a  | float16 compute, int8 weights (linear),        |
|              | TensorFlow concrete function           | palette (4-bit k-means weights)                |

The scikit-learn chain, in the order the files are numbered: sklearn_1_artifacts (float32 artifact and
variants) -> sklearn_2_pipeline (preprocessing as classic models) -> sklearn_3_final_model (one builder
per estimator family) -> sklearn_4_trees (TreeEnsemble* from the shared tree reader); issue 18's families
and steps: sklearn_5_families (GLM, SVM, NeuralNetwork builders; REFUSED), sklearn_6_step_trees (exact
comparisons as TreeEnsemble stages), sklearn_7_ensembles (Voting*/Stacking*), sklearn_8_float32_steps
(NeuralNetwork preprocessing stages), sklearn_9_svc_scores (SVC decision scores). keras.py builds ML
Programs, proto.py holds the protobuf helpers both use, ios.py the Swift snippet.

Tree ensembles, GLMs and the preprocessing models have no reduced-precision form in Core ML (their
parameters are doubles by specification), so scikit-learn models without a neural network get the
float32 artifact only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ....runtime.errors import ModelError, UsageError
from ..base import Artifact, check_options
from . import keras, sklearn_1_artifacts
from .ios import snippet_files

VARIANTS = ("float16", "int8", "palette")
OPTIONS: dict[str, Any] = {
    # comma-separated variants to build beside the float32 artifact where they apply, or "none"
    "variants": ",".join(VARIANTS),
}


# source framework -> builder of the Core ML artifacts
BUILDERS: dict[str, Callable[[Any, Any, list[str]], list[Artifact]]] = {
    "scikit-learn": sklearn_1_artifacts.artifacts,
    "keras": keras.artifacts,
}


def parse_variants(value: str) -> list[str]:
    wanted = [v.strip() for v in str(value).split(",") if v.strip() and v.strip() != "none"]
    unknown = [v for v in wanted if v not in VARIANTS]
    if unknown:
        raise UsageError(f"unknown Core ML variant(s): {', '.join(unknown)}", fix=f"choose from: {', '.join(VARIANTS)}, or none")
    return wanted


def emit(source: Any, schema: Any, options: dict[str, Any] | None = None) -> list[Artifact]:
    """The Core ML artifacts for the source's model (float32 first, marked default), the iOS snippet
    riding along with the float32 artifact. Raises ModelError when Core ML cannot express the model."""
    opts = check_options("coreml", options or {}, OPTIONS)
    builder = BUILDERS.get(source.framework)
    if builder is None:
        raise ModelError(f"no Core ML converter for {source.framework} models", fix=f"supported: {', '.join(BUILDERS)}")
    built = builder(source, schema, parse_variants(opts["variants"]))
    main = built[0]
    main.files.update(snippet_files(main.entry, schema))
    return built
