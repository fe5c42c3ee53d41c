"""Shared fixtures: packages built from the zoo, once per test session and worker."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import zoo  # noqa: E402


@pytest.fixture(scope="session")
def built_packages(tmp_path_factory: pytest.TempPathFactory):
    """A function name -> (ZooModel, package path), building each package once per worker."""
    from edgepack.toolchain.build import BuildOptions, build

    root = tmp_path_factory.mktemp("packages")
    cache: dict[str, tuple[zoo.ZooModel, Path]] = {}

    def get(name: str) -> tuple[zoo.ZooModel, Path]:
        if name not in cache:
            model = zoo.get(name)
            model_path, sample_path = zoo.save(model, root / name)
            result = build(BuildOptions(model=model_path, sample=sample_path, out=root / name / "package",
                                        label_column=model.label, name=name, quiet=True))
            cache[name] = (model, result.path)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def built_tabular(tmp_path_factory: pytest.TempPathFactory):
    """A function case name -> (TabularCase, model path, package path) for tests/tabular_zoo.py's real-data
    cases, building each package (ONNX) once per worker."""
    import tabular_zoo
    from edgepack.toolchain.build import BuildOptions, build

    root = tmp_path_factory.mktemp("tabular")
    cache: dict[str, tuple[tabular_zoo.TabularCase, Path, Path]] = {}

    def get(name: str) -> tuple[tabular_zoo.TabularCase, Path, Path]:
        if name not in cache:
            case = tabular_zoo.get(name)
            model_path, sample_path = tabular_zoo.save(case, root / name)
            result = build(BuildOptions(model=model_path, sample=sample_path, out=root / name / "package",
                                        label_column=tabular_zoo.LABEL, quiet=True))
            cache[name] = (case, model_path, result.path)
        return cache[name]

    return get
