"""Tensor sources and samples: what is refused, with which words."""

from __future__ import annotations

import numpy as np
import pytest
from edgepack.converters.sources import load_source
from edgepack.converters.sources.tensor_io import read_npz
from edgepack.runtime.errors import DataError, ModelError

from .models import onnx_cnn


def test_onnx_source_declares_its_tensors(tmp_path):
    model, sample = onnx_cnn(tmp_path)
    source = load_source(model)
    assert [(s.name, s.shape, s.layout) for s in source.inputs] == [("x", (None, 1, 8, 8), "NCHW")]
    assert source.task == "classification" and source.outputs[0].kind == "probabilities"
    out = source.predict_tensors(read_npz(sample, source.inputs))
    assert out["probs"].shape == (40, 10)
    assert np.allclose(out["probs"].sum(axis=1), 1.0, atol=1e-5)


def test_npz_sample_errors_say_what_is_wrong(tmp_path):
    model, _ = onnx_cnn(tmp_path)
    source = load_source(model)
    np.savez(tmp_path / "wrong_name.npz", image=np.zeros((2, 1, 8, 8), np.float32))
    with pytest.raises(DataError, match="no array 'x'"):
        read_npz(tmp_path / "wrong_name.npz", source.inputs)
    np.savez(tmp_path / "wrong_shape.npz", x=np.zeros((2, 8, 8, 1), np.float32))
    with pytest.raises(DataError, match=r"the model takes \[N, 1, 8, 8\]"):
        read_npz(tmp_path / "wrong_shape.npz", source.inputs)
    with pytest.raises(DataError, match="needs an .npz sample"):
        read_npz(tmp_path / "cnn.onnx", source.inputs)


def test_old_opset_and_garbage_are_refused(tmp_path):
    import onnx

    model, _ = onnx_cnn(tmp_path)
    proto = onnx.load(str(model))
    proto.opset_import[0].version = 11
    onnx.save(proto, str(tmp_path / "old.onnx"))
    with pytest.raises(ModelError, match="opset 11"):
        load_source(tmp_path / "old.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="cannot read junk.onnx"):
        load_source(tmp_path / "junk.onnx")


def test_a_folder_of_pictures_is_a_sample(digits, tmp_path):
    """Pictures (8-bit grey PNGs) read with Pillow through the declared preprocessing give the model the
    same inputs as the arrays they were made from, to within the 8-bit rounding."""
    from edgepack.converters.sources.tensor_io import read_sample
    from PIL import Image

    images = np.load(digits / "holdout.npz")["image"][:12]  # 0..16
    folder = tmp_path / "pictures"
    folder.mkdir()
    for i, img in enumerate(images):
        Image.fromarray(np.round(img[..., 0] * 255 / 16).astype(np.uint8), mode="L").save(folder / f"{i:02d}.png")
    source = load_source(digits / "digits.keras")
    got = read_sample(folder, source.inputs)["image"]
    assert got.shape == images.shape
    assert np.max(np.abs(got - images)) <= 16 / 255 / 2 + 1e-6
    (folder / "broken.png").write_bytes(b"not a picture")
    with pytest.raises(DataError, match="cannot read the picture broken.png"):
        read_sample(folder, source.inputs)


def test_incomplete_image_preprocessing_is_refused(tmp_path):
    import json

    model, _ = onnx_cnn(tmp_path)
    (tmp_path / "cnn.inputs.json").write_text(json.dumps({"x": {"image": {"size": [8, 8], "channels": "RGB"}}}))
    with pytest.raises(ModelError, match="image preprocessing declared for input 'x' is incomplete"):
        load_source(model)
    good = {"size": [8, 8], "channels": "L", "scale": 1 / 255, "mean": [0.5], "std": [0.25]}
    (tmp_path / "cnn.inputs.json").write_text(json.dumps({"x": {"image": {**good, "size": [9, 9]}}}))
    with pytest.raises(ModelError, match=r"takes \[1, 8, 8\] \(NCHW\)"):
        load_source(model)
    (tmp_path / "cnn.inputs.json").write_text(json.dumps({"x": {"image": good}}))
    assert load_source(model).inputs[0].image == good
