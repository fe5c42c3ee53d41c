"""`edgepack parity` on tensor packages: every artifact in every tensor runtime on the golden inputs and the
user's holdout (.npz or a folder of pictures), judged per precision; a broken
artifact (one conv weight moved by 0.5) is caught; the reports (text, JSON, JUnit, HTML with the worst inputs as pictures) are written."""

from __future__ import annotations

import importlib.util
import json
import shutil

import numpy as np
import pytest
from edgepack.converters.package_writer import file_record
from edgepack.toolchain.build import BuildOptions, build
from edgepack.toolchain.cli import main

from .models import onnx_cnn


def _holdout(tmp_path, rows=24, seed=5):
    """Inputs the build never saw (another seed than the sample's)."""
    x = np.random.default_rng(seed).uniform(0, 1, (rows, 1, 8, 8)).astype(np.float32)
    np.savez(tmp_path / "holdout.npz", x=x)
    return tmp_path / "holdout.npz"


def _broken_copy(package_dir, tmp_path, artifact_id="onnx"):
    """The package with one weight of the first conv changed (checksums updated: only parity can tell)."""
    import onnx
    from onnx import numpy_helper

    copy = tmp_path / "broken"
    shutil.copytree(package_dir, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    entry = next(a for a in manifest["artifacts"] if a["id"] == artifact_id)
    model = onnx.load(str(copy / entry["file"]))
    for init in model.graph.initializer:
        if init.name == "w1":
            w = numpy_helper.to_array(init).copy()
            w[0, 0, 1, 1] += 0.5
            init.CopyFrom(numpy_helper.from_array(w, "w1"))
    data = model.SerializeToString()
    (copy / entry["file"]).write_bytes(data)
    entry.update(file_record(data))
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


def test_parity_runs_every_artifact_and_writes_every_report(onnx_package, tmp_path, capsys):
    result, _ = onnx_package
    model = result.path.parent / "cnn.onnx"
    out = {k: tmp_path / f"parity.{k}" for k in ("json", "xml", "html")}
    code = main(["parity", str(result.path), "--reference", str(model), "--data", str(_holdout(tmp_path)), "--quiet",
                 "--json", str(out["json"]), "--junit", str(out["xml"]), "--html", str(out["html"])])
    text = capsys.readouterr().out
    assert code == 0, text
    report = json.loads(out["json"].read_text())
    ran = {(r["artifact"], r["runtime"]): r for r in report["results"] if r["status"] != "unavailable"}
    for pair in [("onnx", "onnxruntime"), ("onnx", "onnx-reference"), ("tflite", "tflite"), ("coreml", "coreml-spec")]:
        assert ran[pair]["status"] == "pass", ran[pair]
        assert ran[pair]["rows"] == 16 + 24  # golden inputs + the holdout
        assert ran[pair]["metrics"]["top1_agreement"] == 1.0 and ran[pair]["metrics"]["max_abs_error"] <= 1e-4
    assert report["reference_check"]["status"] == "pass"
    assert "PASSED" in text and "24 from holdout.npz" in text
    assert out["xml"].read_text().count("<testcase") == len(report["results"]) + 1  # + the reference check
    html = out["html"].read_text()
    assert "Worst inputs" in html and "data:image/png;base64," in html  # [1, 8, 8] inputs shown as pictures


def test_a_changed_conv_weight_fails_the_gate(onnx_package, tmp_path, capsys):
    result, _ = onnx_package
    broken = _broken_copy(result.path, tmp_path)
    html = tmp_path / "broken.html"
    code = main(["parity", str(broken), "--quiet", "--runtimes", "onnxruntime,onnx-reference,tflite",
                 "--html", str(html)])
    text = capsys.readouterr().out
    assert code == 1, text
    assert "onnx in onnxruntime fails" in text and "onnx in onnx-reference fails" in text
    assert "absolute error" in text or "max_abs_error" in text
    assert "tflite in tflite" not in text.split("FAILED")[-1]  # only the broken artifact fails
    assert "FAIL" in html.read_text()


def test_tensor_tolerances_take_tensor_keys(onnx_package, tmp_path, capsys):
    result, _ = onnx_package
    broken = _broken_copy(result.path, tmp_path)
    # Loosened on purpose for this artifact: the same broken package then passes, the profile is reported.
    assert main(["parity", str(broken), "--quiet", "--runtimes", "onnxruntime",
                 "--tolerance", "onnx:max_abs_error=0.5,min_cosine=0.9"]) == 0
    assert main(["parity", str(broken), "--quiet", "--tolerance", "float32:max_probability_error=0.5"]) == 2
    assert "tensor profile keys" in capsys.readouterr().err


@pytest.fixture(scope="module")
def picture_package(tmp_path_factory):
    """The ONNX CNN with its input declared as an 8x8 grey picture (scale 1/255), built to ONNX only."""
    folder = tmp_path_factory.mktemp("pictures")
    model, sample = onnx_cnn(folder)
    (folder / "cnn.inputs.json").write_text(json.dumps({"x": {"image": {"size": [8, 8], "channels": "L",
                                                                         "scale": 1 / 255, "mean": [0], "std": [1]}}}))
    result = build(BuildOptions(model=model, sample=sample, out=folder / "package", quiet=True, targets=["onnx"],
                                target_options={"onnx": {"variants": "float32"}}))
    return folder, result


def test_a_folder_of_pictures_is_a_holdout(picture_package, tmp_path, capsys):
    from PIL import Image

    folder, result = picture_package
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    rng = np.random.default_rng(11)
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8), mode="L").save(pictures / f"p{i}.png")
    html = tmp_path / "report.html"
    code = main(["parity", str(result.path), "--reference", str(folder / "cnn.onnx"), "--data", str(pictures),
                 "--quiet", "--html", str(html)])
    assert code == 0
    assert "6 from pictures" in capsys.readouterr().out
    page = html.read_text()
    assert page.count("<img class=input") >= 5  # the worst inputs of each pair, as pictures


def test_parity_of_a_tensor_package_without_reference_uses_the_golden_inputs(picture_package, tmp_path, capsys):
    _, result = picture_package
    copy = tmp_path / "package"
    shutil.copytree(result.path, copy)
    assert main(["parity", str(copy), "--runtimes", "onnxruntime", "--quiet", "--record"]) == 0
    assert "compared on the golden inputs only" in capsys.readouterr().out
    recorded = json.loads((copy / "manifest.json").read_text())["parity"]
    assert {"artifact": "onnx", "runtime": "onnxruntime", "data": "16 golden inputs", "status": "pass"}.items() <= \
        next(p for p in recorded if p["data"] == "16 golden inputs").items()


@pytest.fixture(scope="module")
def int8_io_package(tmp_path_factory):
    """The ONNX CNN's full int8 TFLite with int8 inputs and outputs (--option tflite.int8_io=int8)."""
    if importlib.util.find_spec("onnx2tf") is None:
        pytest.skip("onnx2tf is not installed")
    folder = tmp_path_factory.mktemp("int8_io")
    model, sample = onnx_cnn(folder, rows=60)
    result = build(BuildOptions(model=model, sample=sample, out=folder / "package", quiet=True, targets=["tflite"],
                                target_options={"tflite": {"variants": "float32,int8", "int8_io": "int8"}}))
    return result


def test_int8_io_is_recorded_and_every_runner_quantizes_from_the_record(int8_io_package, tmp_path, capsys):
    from ai_edge_litert.interpreter import Interpreter

    result = int8_io_package
    entry = next(a for a in result.manifest["artifacts"] if a["id"] == "tflite-int8")
    check = next(c for c in result.checks if c["artifact"] == "tflite-int8")
    assert check["status"] == "pass", check
    # What the flatbuffer itself says (the interpreter, not edgepack's record) matches the record.
    runner = Interpreter(model_path=str(result.path / entry["file"])).get_signature_runner("serving_default")
    details = runner.get_input_details()[entry["inputs"][0]["name"]]
    assert details["dtype"] == np.int8 and entry["inputs"][0]["dtype"] == "int8"
    assert entry["inputs"][0]["quantization"] == {"scale": pytest.approx(details["quantization"][0]),
                                                  "zero_point": details["quantization"][1]}
    out_name = entry["outputs"]["probs"]
    assert runner.get_output_details()[out_name]["dtype"] == np.int8
    assert entry["output_quantization"][out_name]["dtype"] == "int8"
    assert main(["parity", str(result.path), "--quiet", "--runtimes", "tflite"]) == 0
    # The runner's outputs are the flatbuffer's own, quantized and dequantized by hand from its details.
    from edgepack.parity.runners.tensor import run_scorer
    from edgepack.runtime.package import Package

    package = Package.open(result.path)
    x = np.asarray(package.golden()["inputs"]["x"], dtype=np.float32)
    scale, zero = details["quantization"]
    q = np.clip(np.round(np.transpose(x, (0, 2, 3, 1)) / scale) + zero, -128, 127).astype(np.int8)
    raw = runner(**{entry["inputs"][0]["name"]: q})[out_name]
    out_scale, out_zero = runner.get_output_details()[out_name]["quantization"]
    by_hand = (raw.astype(np.float32) - out_zero) * np.float32(out_scale)
    np.testing.assert_allclose(run_scorer(package, package.artifact("tflite-int8"), {"x": x})["probs"], by_hand, atol=1e-7)
    # A record that lies about the output scale is caught by parity.
    copy = tmp_path / "lying"
    shutil.copytree(result.path, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    lying = next(a for a in manifest["artifacts"] if a["id"] == "tflite-int8")
    lying["output_quantization"][out_name]["scale"] *= 4
    (copy / "manifest.json").write_text(json.dumps(manifest))
    capsys.readouterr()
    assert main(["parity", str(copy), "--quiet", "--runtimes", "tflite"]) == 1
    assert "tflite-int8 in tflite fails" in capsys.readouterr().out


def test_int8_io_takes_known_types_only(tmp_path, capsys):
    from edgepack.converters.sources.onnx_graph import OnnxSource
    from edgepack.converters.targets.tensor import tflite
    from edgepack.runtime.errors import UsageError

    model, _ = onnx_cnn(tmp_path)
    with pytest.raises(UsageError, match="int8_io"):
        tflite.emit(OnnxSource.load(model), {"int8_io": "int4"})


def test_core_ml_takes_the_picture_itself(tmp_path, capsys):
    """An input with declared image preprocessing becomes a Core ML image (CVPixelBuffer on iOS): the spec
    says so, the evaluator hands the program pixels as Core ML does, parity passes; a program whose scale
    constant is doubled is caught."""
    if importlib.util.find_spec("onnx2tf") is None:
        pytest.skip("onnx2tf is not installed")
    from coremltools.proto import Model_pb2

    model, sample = onnx_cnn(tmp_path)
    (tmp_path / "cnn.inputs.json").write_text(json.dumps({"x": {"image": {"size": [8, 8], "channels": "L",
                                                                           "scale": 1 / 255, "mean": [0], "std": [1]}}}))
    result = build(BuildOptions(model=model, sample=sample, out=tmp_path / "package", quiet=True, targets=["coreml"],
                                target_options={"coreml": {"variants": "float32"}}))
    entry = next(a for a in result.manifest["artifacts"] if a["id"] == "coreml")
    assert entry["inputs"][0]["image"] == {"color_layout": "GRAYSCALE", "scale": pytest.approx(1 / 255), "bias": [0.0]}
    spec = Model_pb2.Model()
    spec.ParseFromString((result.path / entry["file"]).read_bytes())
    image = spec.description.input[0].type.imageType
    assert (image.width, image.height, Model_pb2.ImageFeatureType.ColorSpace.Name(image.colorSpace)) == (8, 8, "GRAYSCALE")
    assert json.loads(spec.description.metadata.userDefined["edgepack.classes"]) == [str(i) for i in range(10)]
    assert next(c for c in result.checks if c["artifact"] == "coreml")["status"] == "pass"
    assert main(["parity", str(result.path), "--quiet", "--runtimes", "coreml-spec"]) == 0
    # Broken: the program's image scale constant doubled (checksums updated: only parity can tell).
    copy = tmp_path / "broken"
    shutil.copytree(result.path, copy)
    main_fn = spec.mlProgram.functions["main"]
    ops = main_fn.block_specializations[main_fn.opset].operations
    scales = [o for o in ops if o.type == "const" and "scaled" in o.outputs[0].name]
    assert scales, [(o.type, o.outputs[0].name) for o in ops][:8]
    op = scales[0]
    op.attributes["val"].immediateValue.tensor.floats.values[0] *= 2
    data = spec.SerializeToString()
    (copy / entry["file"]).write_bytes(data)
    manifest = json.loads((copy / "manifest.json").read_text())
    broken = next(a for a in manifest["artifacts"] if a["id"] == "coreml")
    broken.update(file_record(data))
    for part in broken["files"]:
        if part["file"] == entry["file"]:
            part.update(file_record(data))
    (copy / "manifest.json").write_text(json.dumps(manifest))
    capsys.readouterr()
    assert main(["parity", str(copy), "--quiet", "--runtimes", "coreml-spec"]) == 1
    assert "coreml in coreml-spec fails" in capsys.readouterr().out


def test_core_ml_image_with_per_channel_std(tmp_path):
    """ImageNet-style preprocessing (std per channel): Core ML's single scale cannot hold it, so the image
    input gets scale and bias and the program divides by std itself; the evaluator's check passes."""
    import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 3), name="image")
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(6, 3, padding="same", activation="relu")(inp))
    keras.Model(inp, keras.layers.Dense(5, activation="softmax")(x)).save(tmp_path / "rgb.keras")
    image = {"size": [8, 8], "channels": "RGB", "scale": 1 / 255, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
    (tmp_path / "rgb.inputs.json").write_text(json.dumps({"image": {"image": image}}))
    pixels = np.random.default_rng(0).integers(0, 256, (20, 8, 8, 3)).astype(np.float32)
    np.savez(tmp_path / "sample.npz", image=((pixels / 255 - image["mean"]) / image["std"]).astype(np.float32))
    result = build(BuildOptions(model=tmp_path / "rgb.keras", sample=tmp_path / "sample.npz", out=tmp_path / "package",
                                quiet=True, targets=["coreml"], target_options={"coreml": {"variants": "float32"}}))
    entry = next(a for a in result.manifest["artifacts"] if a["id"] == "coreml")
    assert entry["inputs"][0]["image"] == {"color_layout": "RGB", "scale": pytest.approx(1 / 255),
                                           "bias": [-0.485, -0.456, -0.406], "std": [0.229, 0.224, 0.225]}
    check = next(c for c in result.checks if c["artifact"] == "coreml")
    assert check["status"] == "pass" and check["metrics"]["max_abs_error"] <= 1e-4, check


def test_report_pictures_are_pngs_that_pillow_reads_back():
    """The report's tiny PNG writer against an independent reader, grey and RGB."""
    import io

    from edgepack.parity.png import png_bytes
    from PIL import Image

    rng = np.random.default_rng(2)
    for pixels in (rng.integers(0, 256, (5, 7), dtype=np.uint8), rng.integers(0, 256, (4, 3, 3), dtype=np.uint8)):
        with Image.open(io.BytesIO(png_bytes(pixels))) as image:
            np.testing.assert_array_equal(np.asarray(image), pixels)


def test_unusable_holdouts_and_options_are_refused_in_words(picture_package, tmp_path, capsys):
    folder, result = picture_package
    (tmp_path / "rows.csv").write_text("x\n1\n")
    model = str(folder / "cnn.onnx")
    assert main(["parity", str(result.path), "--reference", model, "--data", str(tmp_path / "rows.csv"), "--quiet"]) == 6
    assert "needs an .npz sample" in capsys.readouterr().err
    assert main(["parity", str(result.path), "--reference", model, "--data", str(tmp_path / "rows.csv"),
                 "--label-column", "y", "--quiet"]) == 2
    np.savez(tmp_path / "wrong.npz", x=np.zeros((3, 1, 4, 4), np.float32))
    assert main(["parity", str(result.path), "--reference", model, "--data", str(tmp_path / "wrong.npz"), "--quiet"]) == 6
    assert "the model takes [N, 1, 8, 8]" in capsys.readouterr().err
