"""Turn a trained model and a sample of its input into a verified edge package.

The sample (CSV or Parquet, with a header row) gives the input schema, the golden vectors and the rows
every artifact is checked on. OUT is a directory, or a single file when it ends in .edgepack.

OUT may already exist when it is empty or holds an earlier edgepack package: that package's own files are
replaced (atomically when the folder holds nothing else) and every other file is kept. A non-empty OUT
without a package (`-o .` in a project folder) is refused (exit 2) unless --force. Nothing is ever
deleted recursively.

Loading a .joblib/.pkl file executes code from it: build only from models you trust.

examples:
  edgepack build spark_model_dir --sample sample.parquet --label-column churn -o build/churn-spark
  edgepack build build/churn/churn.joblib --sample build/churn/sample.csv --label-column churn \\
      --name churn -o build/churn/package
  edgepack build model.keras --sample sample.csv --label-column y --targets onnx,tflite,tfjs \\
      --option tflite.variants=float32,int8-dynamic -o build/keras-package
  edgepack build mlp.joblib --sample sample.csv --label-column digit --quantize auto -o build/mlp
  edgepack build model.keras --sample sample.csv --label-column y --targets onnx,tflite,tfjs,coreml \\
      --quantize tflite-int8-weights,tfjs-uint8,coreml-palette --tolerance int8:max_probability_error=0.05 -o build/k
  edgepack build resnet.onnx --sample images.npz --targets onnx,tflite,tfjs,coreml -o build/resnet
  edgepack build booster.json --sample sample.csv --label-column y -o build/xgb   (XGBoost; LightGBM .txt, CatBoost .cbm)

--quantize auto builds every quantized variant each target offers (onnx: float16, int8-dynamic,
int8-static, int8-weights; tflite: float16, int8-weights, int8-dynamic, int8; tfjs: float16, uint16,
uint8, int8-weights; coreml: float16, int8, palette), checks each in its runtime on the sample, on 20 % of it held out
from calibration and on rows interpolated between those, and keeps per format the smallest one that
passes its tolerance profile beside the float32 artifact; the table says why each other one was dropped.
A mode name applies to every target offering it; FORMAT-MODE names one target's. --tolerance sets the
profile a precision is judged by (the grammar of edgepack parity) and is recorded in the manifest's
tolerance_profiles.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ...converters.targets import TARGETS
from ...runtime.errors import EXIT_CHECK_FAILED, EXIT_OK, UsageError
from ...runtime.table import render_table
from ..build import BuildOptions, build
from ..variants.report import render_variants


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", type=Path,
                   help="trained model file (.joblib, .pkl, .keras, .onnx; XGBoost .json/.ubj, LightGBM .txt, CatBoost "
                        ".cbm) or a Spark ML PipelineModel directory (PipelineModel.save)")
    p.add_argument("--sample", type=Path, required=True,
                   help="CSV/Parquet sample of the model's input; for image/sequence models an .npz (one array per "
                        "input name) or, for one image input, a folder of PNG/JPEG pictures")
    p.add_argument("-o", "--out", type=Path, required=True,
                   help="output directory, or FILE.edgepack. An existing OUT must be empty or hold an edgepack "
                        "package (whose own files are replaced; other files there are kept)")
    p.add_argument("--force", action="store_true",
                   help="write into a non-empty OUT that holds no package: the package's files are written beside "
                        "the files there (same-named ones replaced); nothing else is removed")
    p.add_argument("--label-column", help="column of the sample that holds the label (left out of the inputs)")
    p.add_argument("--name", help="package name (default: the model file's name)")
    p.add_argument("--version", default="1", help="model version recorded in the manifest (default 1)")
    p.add_argument("--author", help="written into the manifest and every artifact's metadata (ONNX, Core ML, TFLite, TF.js)")
    p.add_argument("--license", help="the model's license, e.g. CC-BY-4.0 (manifest and artifact metadata)")
    p.add_argument("--description", help="one line on what the model does (manifest and artifact metadata)")
    p.add_argument("--targets", default="onnx", help=f"comma-separated formats: {', '.join(TARGETS)} (default onnx)")
    p.add_argument("--option", action="append", default=[], metavar="FORMAT.KEY=VALUE",
                   help="a target option, e.g. tflite.tree_strategy=gemm (repeatable; unknown options are refused)")
    p.add_argument("--quantize", default="none", metavar="none|auto|MODE[,MODE...]",
                   help="quantized variants: none (default: the targets' own default variants), auto (keep the "
                        "smallest that passes per format), or modes such as float16,int8-weights or ids such as "
                        "onnx-int8-static, tflite-int8-weights, tfjs-uint8, coreml-palette")
    p.add_argument("--tolerance", action="append", default=[], metavar="PRECISION:KEY=VALUE",
                   help="the profile a precision is judged by, e.g. int8:max_probability_error=0.05 (repeatable; "
                        "recorded in the manifest)")
    p.add_argument("--default-variant", metavar="ID",
                   help="make this artifact (e.g. onnx-int8-dynamic) its format's default (default: the float32 one)")
    p.add_argument("--reference-data", type=Path, metavar="FILE",
                   help="CSV/Parquet rows for the drift reference profile (profile.json; default: the sample). "
                        "A holdout with the label column gives honest build-time AUROC for `edgepack drift`")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="show what the converters print (TensorFlow, absl...); by default it goes to a log file, "
                        "kept and named when the build fails")


def parse_options(items: list[str]) -> dict[str, dict[str, str]]:
    """["tflite.tree_strategy=gemm"] -> {"tflite": {"tree_strategy": "gemm"}}."""
    options: dict[str, dict[str, str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        fmt, dot, name = key.partition(".")
        if not sep or not dot or not fmt or not name:
            raise UsageError(f"bad --option {item!r}", fix="write FORMAT.KEY=VALUE, e.g. tflite.tree_strategy=gemm")
        options.setdefault(fmt, {})[name] = value
    return options


def run(args: argparse.Namespace) -> int:
    result = build(BuildOptions(
        model=args.model, sample=args.sample, out=args.out, label_column=args.label_column,
        name=args.name, version=args.version, targets=[t.strip() for t in args.targets.split(",") if t.strip()],
        quiet=args.quiet, verbose=args.verbose, target_options=parse_options(args.option), quantize=args.quantize,
        default_variant=args.default_variant, force=args.force, reference_data=args.reference_data,
        tolerance=args.tolerance, author=args.author, license=args.license, description=args.description,
    ))
    rows = []
    for check in result.checks:
        m = check["metrics"]
        err = m.get("max_probability_error", m.get("max_scaled_error", m.get("max_abs_error")))
        rows.append([check["artifact"], check["runtime"], check["data"], check["rows"],
                     m.get("label_agreement"), err, _result(check)])
    print(render_table(["artifact", "runtime", "data", "rows", "agreement", "max error", "result"], rows,
                       title=f"package written to {result.path}"))
    for check in result.checks:
        if "dropped" in check:
            print(f"{check['artifact']}: {check['dropped']}")
    if result.manifest.get("quantization"):
        print()

        print(render_variants(result.manifest))
    for artifact, why in result.unverified.items():
        print(f"{artifact}: not verified ({why}); run edgepack parity where its runtime is installed")
    if not result.passed:
        print("some artifacts disagree with the model beyond their tolerance profile (see the table above)")
        return EXIT_CHECK_FAILED
    return EXIT_OK


def _result(check: dict) -> str:
    """The result column: pass, FAIL, dropped, or not verified (its runtime is missing here)."""
    if "dropped" in check:
        return "dropped"
    if "unavailable" in check:
        return "not verified"
    return "pass" if check["passed"] else "FAIL"

