"""TFLite metadata of a tensor package (issue 19 item 5): the digits CNN's .tflite says it takes an image
(ImageProperties: grayscale, 8x8) normalized as the package declares it, restated for 0..255 pixels as
TFLite's NormalizationOptions; its probabilities carry labels.txt. Read with the independent decoder of
tests/tflite_meta_reader.py. The build checks the stamped artifact itself (its parity entry passes)."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
import tflite_meta_reader as meta


def test_the_digits_tflite_describes_its_image_input_and_labels(digits_package):
    manifest = digits_package.manifest
    data = (digits_package.path / "model.tflite").read_bytes()
    model = meta.root(meta.read_metadata(data))
    assert model.string(meta.MM_NAME) == "digits" and model.string(meta.MM_MIN_PARSER) == "1.0.0"
    (subgraph,) = model.tables(meta.MM_SUBGRAPHS)
    (image,) = subgraph.tables(meta.SG_INPUTS)
    assert image.string(meta.T_NAME) == "image"
    content = image.table(meta.T_CONTENT)
    assert content.u8(meta.C_TYPE) == 2  # ImageProperties
    properties = content.table(meta.C_PROPERTIES)
    assert properties.u8(meta.I_COLOR) == 2  # GRAYSCALE
    size = properties.table(meta.I_SIZE)
    assert (size.u32(meta.S_WIDTH), size.u32(meta.S_HEIGHT)) == (8, 8)
    (unit,) = image.tables(meta.T_PROCESS_UNITS)
    assert unit.u8(meta.PU_TYPE) == 1  # NormalizationOptions
    declared = manifest["inputs"]["tensors"][0]["image"]
    norm = unit.table(meta.PU_OPTIONS)
    pixels = np.array([0.0, 128.0, 255.0])
    # TFLite's rule on 0..255 pixels must give what the package's rule gives: (p * scale - mean) / std
    want = (pixels * declared["scale"] - declared["mean"][0]) / declared["std"][0]
    got = (pixels - meta.floats(norm, meta.N_MEAN)[0]) / meta.floats(norm, meta.N_STD)[0]
    assert np.allclose(got, want, rtol=1e-6)
    (probabilities,) = subgraph.tables(meta.SG_OUTPUTS)
    assert probabilities.string(meta.T_NAME) == "probabilities"
    (labels,) = probabilities.tables(meta.T_FILES)
    assert (labels.string(meta.F_NAME), labels.u8(meta.F_TYPE)) == ("labels.txt", 2)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.read("labels.txt").decode().splitlines() == [str(c) for c in manifest["outputs"]["classes"]]
    check = next(c for c in manifest["parity"] if c["artifact"] == "tflite")
    assert check["passed"], json.dumps(check)


@pytest.mark.parametrize("artifact", ["tflite-float16", "tflite-int8"])
def test_every_tflite_variant_has_it(digits_package, artifact):
    entry = next((a for a in digits_package.manifest["artifacts"] if a["id"] == artifact), None)
    if entry is None:
        pytest.skip(f"{artifact} was not kept")
    data = (digits_package.path / entry["file"]).read_bytes()
    assert meta.root(meta.read_metadata(data)).string(meta.MM_NAME) == "digits"
