"""Every supported scikit-learn family: the package's model.onnx, run in onnxruntime on held-out rows,
agrees with scikit-learn itself (label agreement 100 %, probability error <= 1e-5; regression error
<= 1e-5 of the target's scale). Expected values come from the original model, never from edgepack."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import zoo


def _feeds(package_manifest: dict, frame) -> dict:
    art = package_manifest["artifacts"][0]
    feeds = {}
    for tensor in art["inputs"]:
        cols = tensor["features"]
        if tensor["dtype"] == "string":
            feeds[tensor["name"]] = frame[cols].astype(str).to_numpy(dtype=object)
        else:
            feeds[tensor["name"]] = frame[cols].to_numpy(dtype=np.dtype(tensor["dtype"]))
    return feeds


@pytest.mark.parametrize("family", zoo.FAMILIES)
def test_onnx_agrees_with_sklearn_on_holdout(family, built_packages):
    import json

    model, path = built_packages(family)
    manifest = json.loads((path / "manifest.json").read_text())
    holdout = model.holdout.drop(columns=[model.label])
    session = ort.InferenceSession(str(path / "model.onnx"), providers=["CPUExecutionProvider"])
    outputs = dict(zip([o.name for o in session.get_outputs()], session.run(None, _feeds(manifest, holdout))))
    X = holdout if model.fitted_on_frame else holdout.to_numpy()
    if model.task == "classification":
        want = model.model.predict_proba(X)
        got = outputs["probabilities"]
        assert np.abs(got - want).max() <= 1e-5
        labels = np.asarray(manifest["outputs"]["classes"], dtype=object)[np.argmax(got, axis=1)]
        assert list(labels) == list(model.model.predict(X))
    else:
        want = model.model.predict(X)
        scale = float(np.std(model.sample[model.label]))
        assert np.abs(outputs["value"].reshape(-1) - want).max() <= 1e-5 * scale
    # the build recorded its own check, and it passed
    assert manifest["parity"] and all(c["passed"] for c in manifest["parity"])
