"""`edgepack --version`: edgepack's version and those of the converters and runtimes it uses here.

Read from the installed distributions' metadata, never by importing them (TensorFlow alone takes
seconds); Node's from `node --version`. A runtime that is missing says "not installed"."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from importlib import metadata

# (label, distribution) in the order printed: the device runtime first, then converters and runtimes.
COMPONENTS: tuple[tuple[str, str], ...] = (
    ("numpy", "numpy"), ("onnxruntime", "onnxruntime"), ("onnx", "onnx"), ("scikit-learn", "scikit-learn"),
    ("skl2onnx", "skl2onnx"), ("tensorflow", "tensorflow"), ("tensorflowjs", "tensorflowjs"),
    ("ai-edge-litert (TFLite)", "ai-edge-litert"), ("coremltools", "coremltools"),
)


def distribution_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def node_version() -> str:
    node = shutil.which("node")
    if node is None:
        return "not installed (the tfjs, js and web checks need it)"
    try:
        done = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unusable ({type(exc).__name__})"
    return done.stdout.strip().lstrip("v") or "unknown"


def version_text() -> str:
    """The lines `edgepack --version` prints."""
    lines = [f"edgepack {distribution_version('edgepack')}",
             f"  python {platform.python_version()} ({sys.executable})"]
    width = max(len(label) for label, _ in COMPONENTS)
    lines += [f"  {label:<{width}} {distribution_version(dist)}" for label, dist in COMPONENTS]
    lines.append(f"  {'node':<{width}} {node_version()}")
    return "\n".join(lines)


def silence_stdout() -> None:
    """After a BrokenPipeError (the reader of `edgepack inspect PKG | head` went away): point stdout at
    /dev/null so that the interpreter's final flush does not print a second traceback."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout without a file descriptor (a test's StringIO)
        pass
    finally:
        os.close(devnull)
