"""Tree fidelity on split boundaries, per family and format: the rows and the comparison of
tests/converters/test_tree_fidelity.py (each split's decision boundary and one float64 step either side;
the source model's own outputs expected), printed as label agreement and max error (probability, or
value over the predictions' spread) for docs/parity.md ("Trees on their split boundaries").

usage: python benchmarks/tree_fidelity.py [--formats onnx,tflite,coreml-spec]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--formats", default="onnx,tflite,coreml-spec",
                        help="comma-separated, from onnx, tflite, tfjs-cpu, tfjs-wasm, coreml-spec")
    formats = parser.parse_args().formats.split(",")
    sys.path[:0] = [str(ROOT / "tests" / "converters"), str(ROOT / "tests")]
    import test_tree_fidelity as fidelity

    root = Path(tempfile.mkdtemp(prefix="edgepack-fidelity-"))
    print("| family | rows | " + " | ".join(formats) + " |")
    print("|---|---:|" + "---|" * len(formats))
    for family in fidelity.FAMILIES:
        case = fidelity.Case(family, root / family)
        cells = []
        for fmt in formats:
            agreement, error = case.errors(case.run(*fidelity.RUNNERS[fmt]))
            labels = "" if case.task == "regression" else f"{100 * agreement:.1f} % labels, "
            cells.append(f"{labels}{error:.2g}")
        print(f"| {family} | {len(case.rows)} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
