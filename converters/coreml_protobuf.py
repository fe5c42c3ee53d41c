"""Core ML's protobuf message classes, without importing the rest of coremltools.

coremltools' package import pulls in TensorFlow and its converters (seconds, hundreds of MiB); the
evaluator needs only the generated `*_pb2` modules, which describe the file format. They are loaded
under their own package name so that a later `import coremltools` in the same process reuses them
(protobuf refuses to register the same .proto file twice).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

PACKAGE = "coremltools.proto"


def _load_package() -> None:
    if PACKAGE in sys.modules:
        return
    found = importlib.util.find_spec("coremltools")
    if found is None or not found.submodule_search_locations:
        raise ImportError("coremltools is not installed: pip install 'edgepack[coreml]'")
    folder = Path(list(found.submodule_search_locations)[0]) / "proto"
    spec = importlib.util.spec_from_file_location(PACKAGE, folder / "__init__.py", submodule_search_locations=[str(folder)])
    # The package object only, without running its __init__ (which imports coremltools itself).
    sys.modules[PACKAGE] = importlib.util.module_from_spec(spec)


def module(name: str) -> ModuleType:
    """A generated module by short name, e.g. module("Model_pb2")."""
    full = f"{PACKAGE}.{name}"
    if full in sys.modules:
        return sys.modules[full]
    _load_package()
    # While the generated modules import each other, a bare placeholder stands in for the parent
    # package so that the import system does not run coremltools/__init__.py; it is removed after.
    placeholder = "coremltools" not in sys.modules
    if placeholder:
        sys.modules["coremltools"] = ModuleType("coremltools")
    try:
        return importlib.import_module(full)
    finally:
        if placeholder:
            del sys.modules["coremltools"]
