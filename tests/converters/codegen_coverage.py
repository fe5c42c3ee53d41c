"""Which model families the `c` and `js` targets generate code for, derived from real conversions: each
family's test case (tests/tabular_zoo.py FAMILY_CASES) is loaded as the build loads it, converted to ONNX by
the ONNX target and handed to the codegen targets (converters/targets/codegen: the operators of shapes.py's
SUPPORTED table and their shape rules). The result, yes or the targets' refusal, is recorded in
toolchain/codegen_coverage.json, which edgepack.toolchain.support renders as the c and js columns of
docs/support.md; tests/converters/test_support_table.py derives it again and compares (slow).

    python tests/converters/codegen_coverage.py            print the derived record
    python tests/converters/codegen_coverage.py --write    rewrite toolchain/codegen_coverage.json
                                                           (then: python -m edgepack.toolchain.support --write)
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tabular_zoo  # noqa: E402
import zoo  # noqa: E402
from edgepack.toolchain import support  # noqa: E402


def _saved(name: str, directory: Path) -> tuple[Path, Path, str]:
    if name in zoo.FAMILIES:
        case = zoo.get(name)
        model, sample = zoo.save(case, directory)
        return model, sample, case.label
    model, sample = tabular_zoo.save(tabular_zoo.get(name), directory)
    return model, sample, tabular_zoo.LABEL


def coverage_of(name: str) -> dict[str, str | None]:
    """{"case": name, "c": None or the refusal, "js": ...} for the test case `name` (with its preprocessing)."""
    from edgepack.converters.sources import load_source
    from edgepack.converters.sources.sample import feature_frame, infer_schema, read_table
    from edgepack.converters.targets.codegen.target import emit_c, emit_js
    from edgepack.runtime.errors import ModelError

    with tempfile.TemporaryDirectory(prefix="edgepack-codegen-") as tmp:
        model, sample, label = _saved(name, Path(tmp))
        source = load_source(model)
        frame = feature_frame(source, read_table(sample), label, str(sample))
        schema = infer_schema(source, frame)
        source.sample = frame
        out: dict[str, str | None] = {"case": name}
        for fmt, emit in (("c", emit_c), ("js", emit_js)):
            try:
                emit(source, schema, {})
                out[fmt] = None
            except ModelError as err:
                out[fmt] = err.what
        return out


def derive(families: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """The record for every row of the support table that has a test case (all rows, when complete)."""
    wanted = families or [row.family for row in support._format_rows()]  # the rows, before their c/js cells
    return {family: coverage_of(tabular_zoo.FAMILY_CASES[family])
            for family in wanted if family in tabular_zoo.FAMILY_CASES}


def main(argv: list[str]) -> int:
    record = derive()
    text = json.dumps(record, indent=1, sort_keys=True) + "\n"
    if "--write" in argv:
        support.CODEGEN_RECORD.write_text(text)
        print(f"wrote {support.CODEGEN_RECORD} ({len(record)} families)")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
