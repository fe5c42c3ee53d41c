"""One quantization interface across formats (issue 16, item 4): `--quantize` names modes and artifact ids
of every target, unknown modes are refused naming the target's own modes, the targets that build their
variants themselves get the planned modes as their `variants` option, and `--tolerance` sets the profiles
the build judges by. Plus: a variant not smaller than float32 is dropped (item 5). No conversions here."""

from __future__ import annotations

import subprocess
import sys

import pytest
from edgepack.converters.quantize import VARIANT_EMITTERS, modes_of
from edgepack.runtime.errors import UsageError
from edgepack.toolchain.build import build_profiles
from edgepack.toolchain.check import drop_failed_variants
from edgepack.toolchain.variants.select import parse_quantize, target_options

ALL = ["onnx", "tflite", "tfjs", "coreml"]


def test_every_format_offers_modes_and_the_target_tables_agree():
    from edgepack.converters.targets import coreml, tfjs, tflite

    assert set(VARIANT_EMITTERS) == set(ALL)
    # the target's own table builds exactly the modes --quantize names (and float32)
    assert set(modes_of("tflite")) | {"float32"} == set(tflite.VARIANTS)
    assert set(modes_of("tfjs")) | {"float32"} == set(tfjs.VARIANTS)
    assert set(modes_of("coreml")) == set(coreml.VARIANTS)
    for fmt, table in (("tflite", tflite.VARIANTS), ("tfjs", tfjs.VARIANTS)):
        assert all(row[0] == (fmt if mode == "float32" else f"{fmt}-{mode}") for mode, row in table.items())


def test_artifact_ids_of_every_target_name_one_format():
    plan = parse_quantize("tflite-int8-weights,tfjs-uint8,coreml-palette,onnx-int8-weights", ALL)
    assert plan.wanted == {("tflite", "int8-weights"), ("tfjs", "uint8"), ("coreml", "palette"), ("onnx", "int8-weights")}
    assert parse_quantize("float16", ALL).wanted == {(f, "float16") for f in ALL}
    assert parse_quantize("int8-weights", ALL).wanted == {(f, "int8-weights") for f in ("onnx", "tflite", "tfjs")}
    assert parse_quantize("none", ALL) is None and parse_quantize("auto", ALL).auto


def test_the_planned_modes_become_the_targets_variants_option():
    options = target_options(parse_quantize("tflite-int8-weights,coreml-palette", ALL), ALL, {"tflite": {"tree_strategy": "gemm"}})
    assert options == {"tflite": {"tree_strategy": "gemm", "variants": "float32,int8-weights"},
                       "tfjs": {"variants": "float32"}, "coreml": {"variants": "palette"}}
    auto = target_options(parse_quantize("auto", ALL), ALL, {})
    assert auto["tflite"]["variants"] == "float32," + ",".join(modes_of("tflite"))
    assert "onnx" not in auto  # ONNX variants are built from the float32 file, not by the target
    assert target_options(None, ALL, {"tfjs": {"variants": "float32,uint8"}}) == {"tfjs": {"variants": "float32,uint8"}}
    with pytest.raises(UsageError) as err:
        target_options(parse_quantize("auto", ALL), ALL, {"tfjs": {"variants": "float32,uint8"}})
    assert "--option tfjs.variants" in err.value.what


@pytest.mark.parametrize("item, formats, says", [
    ("tflite-int4", ALL, ["tflite", "float16, int8-weights, int8-dynamic, int8"]),
    ("coreml-uint8", ALL, ["coreml", "float16, int8, palette"]),
    ("tfjs-uint8", ["onnx"], ["tfjs", "not among the targets"]),
    ("int4", ["onnx", "tfjs"], ["onnx: float16", "tfjs: float16, uint16, uint8, int8-weights"]),
])
def test_unknown_modes_are_refused_naming_the_targets_modes(item, formats, says):
    with pytest.raises(UsageError) as err:
        parse_quantize(item, formats)
    text = f"{err.value.what} {err.value.fix}"
    assert all(s in text for s in says), text


def test_tolerance_sets_whole_profiles_by_precision():
    profiles = build_profiles(["int8:max_probability_error=0.05", "float16:min_label_agreement=0.99"])
    assert profiles["int8"] == {"min_label_agreement": 0.995, "max_probability_error": 0.05, "max_value_error": 0.02}
    assert profiles["float16"]["min_label_agreement"] == 0.99
    for bad in ("int8:max_probability_error=-1", "int8:nonsense=1", "tflite-int8:max_probability_error=0.1"):
        with pytest.raises(UsageError):
            build_profiles([bad])


def test_the_cli_refuses_unknown_modes_and_bad_tolerances_with_exit_2(tmp_path):
    base = [sys.executable, "-m", "edgepack.toolchain.cli", "build", str(tmp_path / "m.joblib"), "--sample",
            str(tmp_path / "s.csv"), "-o", str(tmp_path / "o"), "--targets", "onnx,tflite"]
    for extra, says in ((["--quantize", "tflite-int4"], "int8-weights"),
                        (["--tolerance", "int8:max_probability_error=x"], "needs a number")):
        result = subprocess.run(base + extra, capture_output=True, text=True, timeout=120)
        assert result.returncode == 2 and says in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_a_variant_not_smaller_than_float32_is_dropped_even_when_it_passes():
    """TFLite's int8-dynamic of a logistic regression is the float32 file byte for byte (issue 16)."""
    entries = [{"id": "tflite", "format": "tflite", "file": "model.tflite", "size": 900, "default": True, "precision": "float32"},
               {"id": "tflite-int8-dynamic", "format": "tflite", "file": "model-int8-dynamic.tflite", "size": 900,
                "precision": "int8"},
               {"id": "tfjs", "format": "tfjs", "file": "tfjs/tfjs/model.json", "size": 500, "default": True,
                "precision": "float32", "files": [{"file": "tfjs/tfjs/model.json", "size": 500},
                                                  {"file": "tfjs/tfjs/w.bin", "size": 4000}]},
               {"id": "tfjs-uint8", "format": "tfjs", "file": "tfjs/tfjs-uint8/model.json", "size": 700,
                "precision": "uint8", "files": [{"file": "tfjs/tfjs-uint8/model.json", "size": 700},
                                                {"file": "tfjs/tfjs-uint8/w.bin", "size": 1000}]}]
    checks = [{"artifact": e["id"], "passed": True, "profile": e["precision"], "metrics": {}} for e in entries]
    files = {f: b"" for f in ("model.tflite", "model-int8-dynamic.tflite")}
    kept, files = drop_failed_variants(entries, files, checks, {})
    assert [e["id"] for e in kept] == ["tflite", "tfjs", "tfjs-uint8"]  # tfjs counts its shards, not model.json
    assert "model-int8-dynamic.tflite" not in files
    assert checks[1]["dropped"] == "dropped: not smaller than the float32 artifact (900 >= 900 bytes)"
