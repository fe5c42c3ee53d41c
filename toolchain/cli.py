"""The `edgepack` command line. One table of subcommands; each lives in converters/commands/.

Exit codes: 0 ok, 1 a check failed, 2 usage error, 3 records rejected, 4 invalid package,
5 model cannot be converted, 6 unusable data (docs/cli.md).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ..runtime.errors import EXIT_USAGE, EdgepackError, did_you_mean
from .versions import silence_stdout, version_text

# subcommand -> (module under edgepack.toolchain.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "build": ("build", "turn a trained model and a sample of its input into an edge package"),
    "inspect": ("inspect", "print a readable summary of a package"),
    "parity": ("parity", "run every artifact in its runtimes against the original model; exit 1 on drift"),
    "serve": ("serve", "serve a package's demo page: scoring in the browser, form and CSV drop zone"),
    "drift": ("drift", "compare devices' statistics with the package's reference: shift, performance; exit 1 on alert"),
    "batch-score": ("batch_score", "score a Parquet dataset with a package's ONNX artifact (locally or on Spark)"),
    "keygen": ("keygen", "make an Ed25519 key pair for signing packages"),
    "sign": ("sign", "sign a package so that devices can check who built it"),
    "publish": ("publish", "publish a package to a registry (a directory or object store, with a SQL catalog)"),
    "registry": ("registry", "list, show, promote and retire the versions in a registry"),
}

EPILOG = """examples:
  edgepack build model.joblib --sample sample.csv --label-column churn -o build/churn
  edgepack inspect build/churn
  edgepack serve build/churn/package --port 8765

Loading a .joblib/.pkl model executes code from that file: build only from models you trust.
exit codes: 0 ok, 1 a check failed, 2 usage error, 3 records rejected, 4 invalid package,
5 model cannot be converted, 6 unusable data."""


class _VersionAction(argparse.Action):
    """--version: the text is built only when asked (it reads package metadata and runs `node --version`)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help=str(kwargs.get("help", "")))

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(version_text())
        parser.exit()


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgepack", description="Build, inspect and verify edge packages of trained models.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_VersionAction,
                        help="print edgepack's version and the versions of the runtimes it converts for and checks with")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        mod = importlib.import_module(f"edgepack.toolchain.commands.{module}")
        p = sub.add_parser(name, help=help_text, description=mod.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `edgepack`; returns the exit code. A reader that goes away (`| head`) ends it quietly."""
    try:
        code = _main(sys.argv[1:] if argv is None else list(argv))
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        silence_stdout()
        return 0


def _main(argv: list[str]) -> int:
    if argv and not argv[0].startswith("-") and argv[0] not in COMMANDS:
        print(f"edgepack: error: unknown command {argv[0]!r}{did_you_mean(argv[0], COMMANDS)}\n"
              f"  commands: {', '.join(COMMANDS)}", file=sys.stderr)
        return EXIT_USAGE
    parser = make_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args._run(args))
    except EdgepackError as err:
        print(f"edgepack {args.command}: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
