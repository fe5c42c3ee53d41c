"""docs/support.md is what the registries say (rendered by edgepack.toolchain.support); every refusal in it
names the estimator, the format and the reason; every family it says yes to in ONNX has a test case that
exercises it (tests/tabular_zoo.py FAMILY_CASES), and that case's final estimator is that family."""

from __future__ import annotations

import pytest
import tabular_zoo
import zoo
from edgepack.toolchain import support


def test_docs_support_md_is_the_rendered_registries():
    assert support.generated_section(support.DOC.read_text()) == support.render(), \
        "docs/support.md is stale: run python -m edgepack.toolchain.support --write"


def test_every_refusal_names_estimator_format_and_reason():
    for row in support.rows():
        for fmt, cell in row.cells.items():
            if not cell.supported:
                name = row.family if row.family in cell.note else row.source
                assert name in cell.note and len(cell.note) > len(name) + 10, (row.family, fmt, cell.note)


def test_every_onnx_yes_has_a_test_case():
    yes = {row.family for row in support.rows() if row.cells["onnx"].supported}
    assert yes <= set(tabular_zoo.FAMILY_CASES), sorted(yes - set(tabular_zoo.FAMILY_CASES))
    runs = set(zoo.FAMILIES) | set(tabular_zoo.BOOSTING) | set(tabular_zoo.SKLEARN)
    assert set(tabular_zoo.FAMILY_CASES.values()) <= runs  # each named case is in a parametrised matrix


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(tabular_zoo.FAMILY_CASES))
def test_the_case_named_for_a_family_is_that_family(family):
    from edgepack.converters.sources.sklearn import final_estimator

    name = tabular_zoo.FAMILY_CASES[family]
    model = zoo.get(name).model if name in zoo.FAMILIES else tabular_zoo.get(name).model
    if " " in family:  # a booster file: the case saves the library's own format
        assert tabular_zoo.get(name).save_as != "joblib"
        return
    assert type(final_estimator(model)).__name__ == family


def test_the_codegen_record_names_each_family_s_test_case():
    record = support.codegen_record()
    families = {row.family for row in support.rows()}
    assert record and set(record) <= families
    for family, entry in record.items():
        assert entry["case"] == tabular_zoo.FAMILY_CASES[family] and set(entry) == {"case", "c", "js"}
    onnx_no = [r for r in support.rows() if not r.cells["onnx"].supported]
    assert all(not r.cells[f].supported for r in onnx_no for f in support.CODEGEN_FORMATS)  # code comes from ONNX


@pytest.mark.slow
def test_the_codegen_record_is_what_the_targets_do_now():
    """Every row with an ONNX graph is converted again with the c and js targets (about a minute)."""
    import codegen_coverage

    wanted = [row.family for row in support.rows() if row.cells["onnx"].supported]
    assert codegen_coverage.derive(wanted) == support.codegen_record(), \
        "toolchain/codegen_coverage.json is stale: run python tests/converters/codegen_coverage.py --write, then " \
        "python -m edgepack.toolchain.support --write"
