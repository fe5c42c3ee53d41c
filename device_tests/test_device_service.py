"""`edgepack-serve` from the minimal device install (numpy + onnxruntime + edgepack, nothing else): it
starts, turns ready after the self-test, scores the churn holdout like scikit-learn over HTTP, loads no
toolchain library, and exits 0 on SIGTERM."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import urllib.request

import pytest
from device_support import MAX_PROBABILITY_ERROR, clean_env, compare_outputs, reference_probabilities

pytestmark = pytest.mark.device

# Run in the device venv: start the service's main, then report which heavy modules it had loaded.
PROBE = """
import sys
from edgepack.runtime.service import cli
code = cli.main(sys.argv[1:])
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("sklearn", "tensorflow", "coremltools", "pandas"))
print("HEAVY " + ",".join(heavy), file=sys.stderr)
sys.exit(code)
"""


def test_service_from_the_minimal_install(device_install, churn):
    process = subprocess.Popen([device_install.python, "-c", PROBE, str(churn.package), "--port", "0"],
                               stderr=subprocess.PIPE, text=True, env=clean_env())
    try:
        assert process.stderr is not None
        port = 0
        for line in process.stderr:
            found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            port = int(found.group(1)) if found else port
            if "ready:" in line or "error" in line:
                break
        assert port, "the service did not start"
        records = churn.holdout_records()[:50]
        lines = []
        for record in records:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/models/churn/predict",
                                             data=json.dumps(record).encode())
            with urllib.request.urlopen(request, timeout=30) as answer:
                lines.append(json.loads(answer.read()))
        worst = compare_outputs(lines, reference_probabilities(churn.model(), records), churn.classes)
        assert worst <= MAX_PROBABILITY_ERROR, f"max probability error {worst:.2e} against scikit-learn"
    finally:
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=60)
    assert process.returncode == 0, rest
    assert "HEAVY \n" in rest, rest
