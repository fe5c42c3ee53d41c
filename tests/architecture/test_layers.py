"""The layers stay visible in the import graph: runtime (leaf) < converters < parity < toolchain (top).

- an import never runs up a layer;
- parity reaches into converters only for the model sources (to run a reference model, read a sample,
  start Spark) and Core ML's protobuf messages (the evaluator reads the format the converter writes);
- no loop between edgepack's modules, deferred imports included;
- an edgepack import inside a function says why it is deferred (`# deferred: ...` on its line).
"""

from __future__ import annotations

import pytest
from import_graph import LAYERS, ROOT, Edge, cycles, edges, layer_of, modules

ORDER = list(LAYERS)
# What parity may import from converters (prefixes of module names).
PARITY_FROM_CONVERTERS = ("edgepack.converters.sources", "edgepack.converters.coreml_protobuf")

EDGES = edges()


def _where(edge: Edge) -> str:
    return f"{edge.importer} (line {edge.line}) -> {edge.imported}"


def test_the_graph_is_read():
    assert len(modules()) > 100
    assert any(e.importer.startswith("edgepack.toolchain") for e in EDGES)


def _runs_up(edge: Edge) -> bool:
    return ORDER.index(layer_of(edge.imported) or "runtime") > ORDER.index(layer_of(edge.importer) or "runtime")


def test_no_import_runs_up_a_layer():
    assert [_where(e) for e in EDGES if _runs_up(e)] == []


def test_parity_uses_only_the_sources_of_converters():
    reaching = [_where(e) for e in EDGES if layer_of(e.importer) == "parity" and layer_of(e.imported) == "converters"
                and not e.imported.startswith(PARITY_FROM_CONVERTERS)]
    assert reaching == []


def test_no_import_loop():
    graph: dict[str, set[str]] = {}
    for e in EDGES:
        graph.setdefault(e.importer, set()).add(e.imported)
    assert cycles(graph) == []


def test_deferred_imports_say_why():
    known = modules()
    silent = []
    for e in EDGES:
        if not e.deferred:
            continue
        line = known[e.importer].read_text().splitlines()[e.line - 1]
        if "# deferred:" not in line:
            silent.append(_where(e))
    assert silent == []


@pytest.mark.parametrize("folder", ORDER)
def test_every_layer_is_a_declared_package(folder):
    text = (ROOT / "pyproject.toml").read_text()
    assert f'"{LAYERS[folder]}" = "{folder}"' in text
    for init in (ROOT / folder).rglob("__init__.py"):
        package = ".".join([LAYERS[folder], *init.parent.relative_to(ROOT / folder).parts])
        assert f'"{package}"' in text, f"{package} is missing from pyproject.toml's packages"


def test_a_loop_and_an_upward_import_are_caught():
    """The checks themselves can fail: a hand-made loop and an upward edge."""
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert _runs_up(Edge("edgepack.runtime.scorer", "edgepack.parity.metrics", 1, False))
    assert _runs_up(Edge("edgepack.converters.build", "edgepack.toolchain.build", 1, True))
    assert not _runs_up(Edge("edgepack.toolchain.build", "edgepack.converters.targets", 1, False))


def test_every_edgepack_import_names_a_module_that_exists():
    """A module moved without its importers updated (seen once: a stale path in toolchain/support.py)."""
    known = modules()
    missing = [_where(e) for e in EDGES if e.imported not in known]
    assert missing == []
