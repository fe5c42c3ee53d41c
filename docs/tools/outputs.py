"""Regenerate (or check) the sample outputs shown in the docs from what the code prints.

A doc shows a command's output between two markers:

    <!-- output: KEY -->
    ```text
    ...what the command printed...
    ```
    <!-- end output -->

KEY names a row of OUTPUTS below (the command that makes it). `python docs/tools/outputs.py` rewrites
every block; `--check` exits 1 naming each block that differs (tests/toolchain/test_docs_outputs.py runs
it). Only quick, deterministic commands are here: help texts, versions of this package, and the Python
API walk-through (whose figures are rounded).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

def _shown(command: str) -> list[str]:
    """Shell steps that print `$ command` (the scripts' directory left out) and then run it, stderr included."""
    return [f"echo {shlex.quote('$ ' + command.replace(str(BIN) + '/', ''))}", f"{command} 2>&1"]


# KEY -> argv (run from the repository root; `edgepack...` names the scripts beside this Python)
OUTPUTS: dict[str, list[str]] = {
    "edgepack --help": [str(BIN / "edgepack"), "--help"],
    "edgepack build --help": [str(BIN / "edgepack"), "build", "--help"],
    "edgepack-score selftst": [str(BIN / "edgepack-score"), "selftst", "build/churn/package"],
    "python examples/python_api/walkthrough.py": [sys.executable, "examples/python_api/walkthrough.py", "{tmp}"],
    # the churn example (smaller than make demo's) built to ONNX and gated in the two Python runtimes
    "edgepack parity churn": ["bash", "-c", " && ".join([
        f"{sys.executable} examples/churn/generate.py --rows 1500 --seed 7 -o {{tmp}}/churn.csv >/dev/null",
        f"{sys.executable} examples/churn/train.py --data {{tmp}}/churn.csv --out {{tmp}} >/dev/null",
        f"{BIN / 'edgepack'} build {{tmp}}/churn.joblib --sample {{tmp}}/sample.csv --label-column churn --name churn "
        "-o {tmp}/package -q >/dev/null",
        f"{BIN / 'edgepack'} parity {{tmp}}/package --reference {{tmp}}/churn.joblib --data {{tmp}}/holdout.csv "
        "--label-column churn --runtimes onnxruntime,onnx-reference --quiet"])],
    # the README's walk-through: the churn example built, three records scored, the package self-tested
    "README churn": ["bash", "-c", " && ".join([
        "cd {tmp}",
        f"{sys.executable} {ROOT}/examples/churn/generate.py --rows 1500 --seed 7 -o churn.csv >/dev/null",
        f"{sys.executable} {ROOT}/examples/churn/train.py --data churn.csv --out . >/dev/null",
        *_shown(f"{BIN / 'edgepack'} build churn.joblib --sample sample.csv --label-column churn --name churn -o package -q"),
        *_shown(f"head -4 holdout.csv | {BIN / 'edgepack-score'} package --format csv"),
        *_shown(f"{BIN / 'edgepack-score'} selftest package")])],
}

BLOCK = re.compile(r"(<!-- output: (?P<key>[^>]+?) -->\n```text\n)(?P<body>.*?)(```\n<!-- end output -->)", re.S)


def run(key: str) -> str:
    with tempfile.TemporaryDirectory(prefix="edgepack-docs-") as tmp:
        argv = [a.replace("{tmp}", tmp) for a in OUTPUTS[key]]
        env = {**os.environ, "COLUMNS": "110"}  # argparse wraps help at the terminal's width
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, env=env, timeout=600, check=False)
    return done.stdout + done.stderr


def docs() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _fresh(m: re.Match[str], doc: Path, cache: dict[str, str], stale: list[str]) -> str:
    """The block `m` of `doc` with what its command prints now; a differing block is noted in `stale`."""
    key = m.group("key")
    if key not in OUTPUTS:
        raise SystemExit(f"{doc.name}: no command for output block {key!r} in docs/tools/outputs.py")
    if key not in cache:
        cache[key] = run(key)
    if cache[key] != m.group("body"):
        stale.append(f"{doc.relative_to(ROOT)}: {key}")
    return m.group(1) + cache[key] + m.group(4)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report blocks that differ instead of rewriting them")
    args = parser.parse_args(argv)
    cache: dict[str, str] = {}
    stale: list[str] = []
    for doc in docs():
        text = doc.read_text()
        new = BLOCK.sub(lambda m, doc=doc: _fresh(m, doc, cache, stale), text)
        if new != text and not args.check:
            doc.write_text(new)
    if args.check and stale:
        print("outputs that differ from what the code prints (python docs/tools/outputs.py rewrites them):")
        print("\n".join(f"  {s}" for s in stale))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
