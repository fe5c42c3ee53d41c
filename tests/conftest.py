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
