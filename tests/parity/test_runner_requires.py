"""A runner declares the modules its runtime needs; a missing one makes it 'unavailable' with the reason."""

from __future__ import annotations

from edgepack.parity.runners import RUNNERS, runner_class
from edgepack.parity.runners.base import Runner


class _Needs(Runner):
    requires = (("json", "json missing"), ("no_such_runtime_xyz.sub", "install no-such-runtime"))

    def _predict(self, batch):  # pragma: no cover - never run
        raise AssertionError


def test_missing_module_gives_its_reason():
    assert _Needs.availability() == "install no-such-runtime"


def test_present_modules_are_available():
    class Present(_Needs):
        requires = (("json", "json missing"),)

    assert Present.availability() is None


def test_the_python_runtimes_installed_here_are_available():
    for name in ("onnxruntime", "onnx-reference", "tflite", "coreml-spec", "scorer-cli"):
        assert name in [row[0] for row in RUNNERS]
        assert runner_class(name).availability() is None, name
