"""The device runtime imports numpy and onnxruntime, and never scikit-learn, TensorFlow, coremltools or
pandas; and it never opens a network connection (checked with an audit hook on every socket event)."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ["sklearn", "tensorflow", "coremltools", "pandas", "keras", "torch", "scipy", "ai_edge_litert"]
RUNTIME_MODULES = ["edgepack.runtime", "edgepack.runtime.scorer", "edgepack.runtime.records", "edgepack.runtime.cli",
                   "edgepack.runtime.profile", "edgepack.runtime.stats",
                   "edgepack.runtime.stream", "edgepack.runtime.batch", "edgepack.runtime.watch",
                   "edgepack.runtime.output", "edgepack.runtime.jsonlines", "edgepack.runtime.signing",
                   "edgepack.runtime.judge", "edgepack.runtime.follow", "edgepack.runtime.versions",
                   "edgepack.runtime.service", "edgepack.runtime.service.app", "edgepack.runtime.service.cli",
                   "edgepack.runtime.service.http", "edgepack.runtime.service.metrics",
                   "edgepack.runtime.service.scoring", "edgepack.runtime.tensors", "edgepack.runtime.tensor_scorer",
                   "edgepack.runtime.tensor_stream", "edgepack.runtime.tflite_session", "edgepack.runtime.__main__"]


def test_runtime_import_is_light():
    code = (
        "import sys, importlib\n"
        f"for m in {RUNTIME_MODULES[:-1]!r}: importlib.import_module(m)\n"
        f"print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


NO_NETWORK = """
import sys
def refuse(event, args):
    if event.startswith("socket."):
        sys.stderr.write("NETWORK " + event + "\\n")
        sys.stderr.flush()
        import os; os._exit(99)
sys.addaudithook(refuse)
sys.argv = ["edgepack-score", *sys.argv[1:]]
from edgepack.runtime.cli import main
code = main()
print("FORBIDDEN", ",".join(sorted(m for m in sys.modules if m.split(".")[0] in {forbidden!r})), file=sys.stderr)
sys.exit(code)
"""


def test_scorer_opens_no_socket_and_loads_no_heavy_library(strict_package, tmp_path):
    code = NO_NETWORK.format(forbidden=FORBIDDEN)
    record = json.dumps(strict_package.records(1)[0]) + "\n"
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_text(record)
    runs = [
        ([str(strict_package.path)], record),
        (["selftest", str(strict_package.path)], ""),
        ([str(strict_package.path), "--watch", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--once",
          "--min-age", "0"], ""),
    ]
    for args, stdin in runs:
        result = subprocess.run([sys.executable, "-c", code, *args], input=stdin, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert "NETWORK" not in result.stderr
        assert "FORBIDDEN \n" in result.stderr
    assert (tmp_path / "out" / "a.jsonl").exists()
