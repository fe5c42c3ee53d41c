"""One SparkSession for the whole test session (local[2], offline, quiet), and the Spark zoo built in it.

Skipped with a reason where pyspark or Java is missing; on the project's machines both are installed, so
these tests run. All Spark tests share one xdist group so that one worker starts Spark once.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.xdist_group("spark"))


@pytest.fixture(scope="session")
def spark():
    from edgepack.converters.sources import spark_session

    reason = spark_session.availability()
    if reason:
        pytest.skip(reason)
    session = spark_session.acquire("local[2]")
    yield session
    spark_session.release()


@pytest.fixture(scope="session")
def spark_models(spark, tmp_path_factory: pytest.TempPathFactory):
    """name -> SparkZooModel, fitted once per session."""
    import spark_zoo

    root = tmp_path_factory.mktemp("spark_zoo")
    cache: dict[str, spark_zoo.SparkZooModel] = {}

    def get(name: str) -> spark_zoo.SparkZooModel:
        if name not in cache:
            cache[name] = spark_zoo.fit(spark, name, root)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def spark_packages(spark_models, tmp_path_factory: pytest.TempPathFactory):
    """name -> (SparkZooModel, package path), each built once per session."""
    from edgepack.toolchain.build import BuildOptions, build

    root = tmp_path_factory.mktemp("spark_packages")
    cache: dict[str, tuple] = {}

    def get(name: str):
        if name not in cache:
            model = spark_models(name)
            result = build(BuildOptions(model=model.path, sample=model.sample, out=root / name,
                                        label_column=model.label, name=name, quiet=True))
            cache[name] = (model, result.path)
        return cache[name]

    return get
