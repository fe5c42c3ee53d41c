"""The CI examples stay runnable: every `edgepack` command in them parses with today's CLI, and both
build a package and then gate on `edgepack parity` with a JUnit report."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from edgepack.toolchain.cli import make_parser

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "ci"


def _commands(node: object) -> list[str]:
    if isinstance(node, str):
        return [node.strip()] if node.strip().startswith("edgepack ") else []
    if isinstance(node, dict):
        return [c for v in node.values() for c in _commands(v)]
    if isinstance(node, list):
        return [c for v in node for c in _commands(v)]
    return []


@pytest.mark.parametrize("name", ["github-actions.yml", "gitlab-ci.yml"])
def test_ci_example_commands_parse(name):
    yaml = pytest.importorskip("yaml")
    commands = _commands(yaml.safe_load((EXAMPLES / name).read_text()))
    assert [c.split()[1] for c in commands] == ["build", "parity"]
    parser = make_parser()
    for command in commands:
        args = parser.parse_args(shlex.split(command.replace('"$', '"').replace("\n", " "))[1:])
        if args.command == "parity":
            assert args.junit and args.reference and args.data
