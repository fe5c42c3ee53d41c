"""The device runtime imports numpy and onnxruntime, and never scikit-learn, TensorFlow, coremltools or pandas."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ["sklearn", "tensorflow", "coremltools", "pandas", "keras", "torch", "scipy"]


def test_runtime_import_is_light():
    code = (
        "import sys, edgepack.runtime, edgepack.runtime.scorer, edgepack.runtime.records\n"
        f"print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
