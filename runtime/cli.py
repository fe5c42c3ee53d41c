"""`edgepack-score`: score records offline with an edge package (numpy + onnxruntime only).

    edgepack-score PACKAGE [--artifact ID] [--format jsonl|csv] [--id-field NAME] [--keep-fields A,B] [--strict]
                   [--errors FILE] [--line-buffered] [--max-line-bytes N]
                   [--stats DIR [--stats-every N|SECONDS] [--stats-device NAME]]
    edgepack-score PACKAGE --watch IN_DIR --out OUT_DIR [--once] [--interval S] [--min-age S]
    edgepack-score selftest PACKAGE [--artifact ID]

Also `python -m edgepack.runtime ...`. Exit codes: runtime/errors.py (0, 1, 2, 3, 4, 6).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from typing import Any, TextIO

from .errors import EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EdgepackError, UsageError, did_you_mean

PROG = "edgepack-score"
DEFAULT_MAX_LINE_BYTES = 1 << 20  # runtime/stream.py's default (not imported: --help stays light)
RESERVED_OUTPUT_KEYS = ("id", "label", "probabilities", "value", "package", "version")

EXIT_CODES = """exit codes:
  0  every record was scored (empty input included); selftest within tolerance
  1  selftest out of the package's tolerance
  2  usage error (bad arguments, an --errors file that cannot be written, unreadable folders, watch
     folders that overlap or that another watcher holds); stdin, stdout or a watch folder failing (a full disk)
  3  some records were rejected (the others were scored; one error line per rejected record)
  4  the package is invalid or cannot be trusted (a malformed manifest, checksum mismatch of an artifact
     or golden.json, unknown format version, missing artifact, a path or symlink out of the package,
     ONNX external data, a zip with two entries of one name); one line says what and where
  6  the CSV header does not match the model's inputs

environment:
  EDGEPACK_MAX_MANIFEST_BYTES  refuse a larger manifest.json before parsing it (default 8388608, 8 MiB)
  EDGEPACK_MAX_GOLDEN_BYTES    selftest: refuse larger golden vectors before parsing them (default 16777216)
"""

EXAMPLES = """examples:
  # score JSON lines, one prediction line per record
  cat records.jsonl | edgepack-score build/churn/package > predictions.jsonl
  # CSV with a header, ids carried through, rejected records to a file
  edgepack-score churn.edgepack --format csv --id-field customer_id --errors rejected.jsonl < batch.csv
  # copy fields the model does not use (a flowfile's ids) into each prediction line
  edgepack-score churn.edgepack --keep-fields customer_id,region < records.jsonl
  # refuse records holding fields the model does not use (they are ignored by default)
  edgepack-score churn.edgepack --strict < records.jsonl
  # a long-lived process fed by a pipe: each prediction is written as soon as its line arrives
  sensor-feed | edgepack-score churn.edgepack --line-buffered
  # a watch folder (MiNiFi PutFile -> IN, GetFile <- OUT): each record delivered exactly once, even
  # across SIGKILL; outputs never overwrite a file (NAME.1.jsonl when NAME.jsonl is taken)
  edgepack-score churn.edgepack --watch /data/in --out /data/out
  # statistics for drift monitoring: one window file per 10,000 records in stats/ (edgepack drift reads them)
  edgepack-score churn.edgepack --stats stats/ --stats-every 10000 < records.jsonl > predictions.jsonl
  # check the package against its golden vectors
  edgepack-score selftest churn.edgepack
  # accept only packages signed by a key this device trusts (edgepack keygen / edgepack sign)
  edgepack-score churn.edgepack --trust /etc/edgepack/trusted/ < records.jsonl

output line:  {"label": 1, "probabilities": {"0": 0.31, "1": 0.69}, "package": "churn", "version": "1"}
              (regression: {"value": 12.5, ...}; "id" first with --id-field, then the --keep-fields)
error line:   {"line": 7, "field": "tenure_months", "reason": "expected a number, got str 'x'"}

input contract: fields the model does not use are ignored (--strict refuses them); a nullable field left
out is a missing value; any other field left out rejects its record.
limits: a line (a CSV record) longer than --max-line-bytes (default 1 MiB) is rejected with a reason
and skipped unread; the rest is scored. The defaults keep the scorer under 256 MiB of memory.
"""


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's layout at the terminal's width, found without `shutil`, which argparse would import
    for it (with bz2 and lzma: half a MiB of a device's memory on every start, --help or not)."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=max(_terminal_columns(), 40) - 2)  # 2 columns kept free, as argparse does


def _terminal_columns() -> int:
    """$COLUMNS, else the terminal's width, else 80: shutil.get_terminal_size's answer."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit():
        return int(columns)
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
    except (AttributeError, OSError, ValueError):
        return 80


def _field_list(text: str) -> tuple[str, ...]:
    fields = tuple(f.strip() for f in text.split(",") if f.strip())
    taken = [f for f in fields if f in RESERVED_OUTPUT_KEYS]
    if taken:
        raise argparse.ArgumentTypeError(f"{', '.join(taken)}: already a key of the output line")
    return fields


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def version_text() -> str:
    """`edgepack-score --version`: the runtime's version and its two dependencies', from the installed
    distributions' metadata (onnxruntime is not imported for it)."""
    from importlib import metadata

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return (f"{PROG} {version('edgepack')}\n  python {sys.version.split()[0]}\n  numpy {version('numpy')}\n"
            f"  onnxruntime {version('onnxruntime')}")


def _score_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, formatter_class=_HelpFormatter,
        description="Score records read on stdin with an edge package; one JSON line per record on stdout.\n"
                    "Never opens a network connection. `edgepack-score selftest PACKAGE` checks a package.",
        epilog=EXAMPLES + "\n" + EXIT_CODES)
    parser.add_argument("package", help="package directory or .edgepack file")
    parser.add_argument("-V", "--version", action="store_true", help="print the runtime's version and its dependencies' and exit")
    parser.add_argument("--artifact", metavar="ID", help="artifact id to run (default: the package's default ONNX "
                        "artifact); a TFLite one (e.g. tflite) runs in ai-edge-litert: pip install 'edgepack[tflite]'")
    parser.add_argument("--trust", metavar="KEY.pub|DIR", help="accept only packages signed by this public key (or by "
                        "any key in DIR); unsigned or wrongly signed packages exit 4. Needs edgepack[signing]")
    parser.add_argument("--format", choices=("jsonl", "csv"), default="jsonl",
                        help="input format on stdin: JSON lines, or CSV with a header row (default: jsonl)")
    parser.add_argument("--id-field", metavar="NAME", help="field (or CSV column) copied into each output line as \"id\"")
    parser.add_argument("--keep-fields", metavar="A,B", type=_field_list, default=(),
                        help="fields (or CSV columns) copied under their own names into each output line; "
                             "null where a record lacks one")
    parser.add_argument("--strict", action="store_true",
                        help="reject records holding fields the model does not use (other than --id-field and "
                             "--keep-fields); default: ignore them")
    parser.add_argument("--max-line-bytes", type=_positive, default=DEFAULT_MAX_LINE_BYTES, metavar="N",
                        help=f"reject lines (CSV records) longer than N bytes, unread (default {DEFAULT_MAX_LINE_BYTES})")
    parser.add_argument("--errors", metavar="FILE", help="write rejected-record lines to FILE instead of stderr")
    parser.add_argument("--line-buffered", action="store_true",
                        help="score and flush each record as its line arrives (default: micro-batches)")
    parser.add_argument("--batch-bytes", type=int, default=1 << 20, metavar="N", help=argparse.SUPPRESS)
    parser.add_argument("--quiet", action="store_true", help="no summary line on stderr at the end")
    stats = parser.add_argument_group("statistics for drift monitoring (edgepack drift)")
    stats.add_argument("--stats", metavar="DIR", help="count every scored batch in the package's reference bins and "
                       "write one small JSON window file to DIR per window (atomically)")
    stats.add_argument("--stats-every", default="1h", metavar="N|SECONDS",
                       help="close a window after N records (10000) or a duration (300s, 5m, 1h; default 1h), "
                            "and at the end of the input")
    stats.add_argument("--stats-device", metavar="NAME", help="device name recorded in each window (default: the host name)")
    watch = parser.add_argument_group("watch-folder mode")
    watch.add_argument("--watch", metavar="IN_DIR",
                       help="score each new .jsonl/.csv file dropped in IN_DIR (regular files only: links are "
                            "moved to IN_DIR/failed, never followed)")
    watch.add_argument("--out", metavar="OUT_DIR",
                       help="where NAME.jsonl (and NAME.errors.jsonl) are written, or NAME.1.jsonl... when those "
                            "are taken; a folder of its own (not IN_DIR, not around it)")
    watch.add_argument("--once", action="store_true", help="process the files present, then exit")
    watch.add_argument("--follow", metavar="REGISTRY", help="take new versions of the model from a registry channel "
                       "(directory or http(s) URL): verified, self-tested, switched between files; needs --trust")
    watch.add_argument("--channel", default="production", help="registry channel to follow (default production)")
    watch.add_argument("--every", type=float, default=60.0, metavar="S", help="seconds between registry polls (default 60)")
    watch.add_argument("--state", metavar="DIR", help="where followed versions and status.json live (default IN_DIR/.follow)")
    watch.add_argument("--shadow-agreement", type=float, default=0.95, metavar="SHARE",
                       help="label agreement a version promoted with --shadow needs before the switch (default 0.95)")
    watch.add_argument("--interval", type=float, default=1.0, metavar="S", help="seconds between scans (default 1)")
    watch.add_argument("--min-age", type=float, default=1.0, metavar="S",
                       help="ignore files modified less than S seconds ago, still being written (default 1)")
    return parser


def _selftest_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} selftest", formatter_class=_HelpFormatter,
        description="Score the package's golden vectors and compare them with the source model's outputs.\n"
                    "Prints agreement and max error; exit 0 only within the package's tolerance.",
        epilog="example:\n  edgepack-score selftest build/churn/package --artifact onnx\n\n" + EXIT_CODES)
    parser.add_argument("package", help="package directory or .edgepack file")
    parser.add_argument("--artifact", metavar="ID", help="ONNX or TFLite artifact id (default: the package's default "
                        "ONNX artifact)")
    parser.add_argument("--trust", metavar="KEY.pub|DIR", help="accept only packages signed by a trusted key (exit 4)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (see EXIT_CODES)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv and argv[0] == "selftest":
            return _selftest(_selftest_parser().parse_args(argv[1:]))
        if argv and argv[0] in ("--version", "-V"):
            print(version_text())
            return EXIT_OK
        if argv and not argv[0].startswith("-") and not os.path.exists(argv[0]):
            hint = did_you_mean(argv[0], ("selftest",))
            if hint:  # `edgepack-score selftst PKG`: a misspelt subcommand, not a missing package
                raise UsageError(f"unknown command {argv[0]!r}{hint}", fix="edgepack-score selftest PACKAGE")
        args = _score_parser().parse_args(argv)
        if (args.watch is None) != (args.out is None):
            _score_parser().error("--watch and --out go together")
        return _watch(args) if args.watch else _score(args)
    except EdgepackError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        return 130


def run() -> None:
    """The `edgepack-score` command: `main()`, its output flushed, then an immediate exit.

    Skipping the interpreter's teardown (onnxruntime's session and environment, every module) saves
    about 25 ms of a 150 ms cold start, which an agent running one process per flowfile pays every
    time. Nothing is lost by it: every file is closed by then and stdout/stderr are flushed here."""
    code = main()
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # the reader went away (e.g. `| head`)
        _silence_stdout()
    except OSError as exc:
        code = _io_failed(exc)
    try:
        sys.stderr.flush()
    except OSError:
        pass
    os._exit(code)


def _load(package: str, artifact: str | None, trust: str | None = None):  # noqa: ANN202  (Scorer, lazily)
    from .package import Package  # deferred: --help and --version read no package
    from .scorer import Scorer  # deferred: onnxruntime loads here, not for --help or --version
    from .tensors import is_tensor_package  # deferred: --help and --version read no package

    opened = Package.open(package)
    if is_tensor_package(opened.manifest):
        from .tensor_scorer import TensorScorer  # deferred: only tensor packages need it

        return TensorScorer.load(opened, artifact, trust=trust)
    return Scorer.load(opened, artifact, trust=trust)


def _score_tensors(scorer: Any, args: argparse.Namespace, errors: TextIO) -> int:
    from .tensor_stream import score_stream  # deferred: only tensor packages need it

    if args.format != "jsonl":
        _score_parser().error("a tensor package takes --format jsonl (one object of named nested arrays per line)")
    try:
        counts = score_stream(scorer, sys.stdin.buffer, sys.stdout.buffer, errors, args.id_field, args.line_buffered)
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_OK
    except OSError as exc:
        return _io_failed(exc)
    finally:
        if errors is not sys.stderr:
            errors.close()
    if not args.quiet:
        print(f"{PROG}: {counts.scored} scored, {counts.rejected} rejected", file=sys.stderr)
    return EXIT_REJECTED if counts.rejected else EXIT_OK


def _score(args: argparse.Namespace) -> int:
    from .stream import StreamOptions, StreamScorer  # deferred: only the command that runs pays its start-up

    errors: TextIO = sys.stderr
    if args.errors:
        try:
            errors = _ErrorsFile(args.errors)
        except OSError as exc:
            print(f"{PROG}: error: cannot write --errors {args.errors}: {exc.strerror}", file=sys.stderr)
            return EXIT_USAGE
    scorer = _load(args.package, args.artifact, args.trust)
    if getattr(scorer, "tensor", False):  # a format version 2 package: JSON lines of named tensors
        return _score_tensors(scorer, args, errors)
    options = StreamOptions(format=args.format, id_field=args.id_field, line_buffered=args.line_buffered,
                            batch_bytes=max(4096, args.batch_bytes), strict=args.strict,
                            keep_fields=args.keep_fields, max_line_bytes=args.max_line_bytes)
    stats = _stats(args, scorer)
    stream = StreamScorer(scorer, sys.stdout.buffer, errors, options, stats=stats)
    try:
        try:
            counts = stream.run(sys.stdin.buffer)
        finally:
            if errors is not sys.stderr:
                errors.close()
            if stats is not None:
                stats.close()
    except BrokenPipeError:  # the reader went away (e.g. `| head`): stop quietly
        _silence_stdout()
        return EXIT_OK
    except OSError as exc:
        return _io_failed(exc)
    if not args.quiet:
        where = f" (see {args.errors})" if args.errors and counts.rejected else ""
        print(f"{PROG}: {counts.scored} scored, {counts.rejected} rejected{where}", file=sys.stderr)
    return EXIT_REJECTED if counts.rejected else EXIT_OK


class _ErrorsFile(io.TextIOWrapper):
    """The --errors file: a failure to write it (a full disk, /dev/full) is a usage error naming the file
    (exit 2), not a traceback and not mistaken for stdout failing."""

    def __init__(self, path: str) -> None:
        super().__init__(open(path, "wb"), encoding="utf-8")  # noqa: SIM115  (closed with the wrapper)
        self.path = path

    def _failed(self, exc: OSError) -> UsageError:
        return UsageError(f"cannot write --errors {self.path}: {exc.strerror or exc}",
                          fix="free space or choose another --errors file; the rejected records' lines are lost")

    def write(self, text: str) -> int:
        try:
            return super().write(text)
        except OSError as exc:
            raise self._failed(exc) from None

    def flush(self) -> None:
        try:
            super().flush()
        except OSError as exc:
            raise self._failed(exc) from None

    def close(self) -> None:
        try:
            super().close()
        except OSError as exc:
            raise self._failed(exc) from None


def _watch(args: argparse.Namespace) -> int:
    from .watch import WatchOptions, watch  # deferred: only the command that runs pays its start-up

    scorer = _load(args.package, args.artifact, args.trust)
    if args.format != "jsonl" or args.errors or args.line_buffered:
        _score_parser().error("in watch mode the format comes from each file's suffix and errors go to OUT_DIR")
    options = WatchOptions(once=args.once, interval=args.interval, min_age=args.min_age, id_field=args.id_field,
                           quiet=args.quiet, strict=args.strict, keep_fields=args.keep_fields,
                           max_line_bytes=args.max_line_bytes)
    follower = None
    if args.follow:
        from .follow import Follower, FollowOptions  # deferred: only a device that follows a registry
        from .signing import TrustSet  # deferred: only a device that follows a registry

        if not args.trust:
            raise UsageError("--follow needs --trust: a device takes new versions only from keys it trusts",
                             fix="add --trust KEY.pub|DIR")
        follower = Follower.start(scorer, FollowOptions(args.follow, args.channel, max(args.every, 1.0),
                                                                  shadow_agreement=args.shadow_agreement),
                                  TrustSet.load(args.trust), args.state or os.path.join(args.watch, ".follow"))
    stats = _stats(args, follower.scorer if follower else scorer)
    try:
        return watch(scorer, args.watch, args.out, options, follower, stats)
    finally:
        if stats is not None:
            stats.close()


def _stats(args: argparse.Namespace, scorer: Any) -> Any:
    """The --stats collector (runtime/stats.py), or None. Raises UsageError (bad --stats-every, no profile)."""
    if not args.stats:
        return None
    from .stats import StatsCollector  # deferred: only a device that keeps statistics

    return StatsCollector(scorer.package, args.stats, args.stats_every, args.stats_device)


def _selftest(args: argparse.Namespace) -> int:
    from .table import render_table  # deferred: only the command that runs pays its start-up

    scorer = _load(args.package, args.artifact, args.trust)
    result = scorer.selftest()
    tol = result.tolerance
    if getattr(scorer, "tensor", False):
        return _tensor_selftest(scorer, result)
    rows = [["rows", result.rows, ""]]
    if result.label_agreement is not None:
        rows.append(["label agreement", result.label_agreement, f">= {tol.min_label_agreement}"])
        rows.append(["max probability error", result.max_error, f"<= {tol.max_probability_error}"])
    else:
        rows.append(["max value error (scaled)", result.max_error, f"<= {tol.max_value_error}"])
    title = f"selftest {scorer.package.name} {scorer.package.version}, artifact {scorer.artifact.id}"
    print(render_table(["check", "measured", "tolerance"], rows, title=title))
    print("PASS" if result.passed else f"FAIL: outside the package's tolerance ({result.verdict.reasons()})")
    return EXIT_OK if result.passed else 1


def _tensor_selftest(scorer: Any, result: Any) -> int:
    from .table import render_table  # deferred: only the command that runs pays its start-up

    tol = result.tolerance
    rows = [["rows", result.rows, ""]]
    if result.top1_agreement is not None:
        rows.append(["top-1 agreement", result.top1_agreement, f">= {tol['min_top1_agreement']}"])
    rows.append(["max abs error", result.max_abs_error, f"<= {tol['max_abs_error']}"])
    rows.append(["min cosine similarity", result.min_cosine, f">= {tol['min_cosine']}"])
    title = f"selftest {scorer.package.name} {scorer.package.version}, artifact {scorer.artifact.id}"
    print(render_table(["check", "measured", "tolerance"], rows, title=title))
    print("PASS" if result.passed else "FAIL: outside the package's tolerance")
    return EXIT_OK if result.passed else 1


def _io_failed(exc: OSError) -> int:
    """stdin or stdout failed (e.g. a full disk behind a redirect): the output is incomplete; say so and
    write nothing more to stdout."""
    _silence_stdout()
    print(f"{PROG}: error: cannot write the output or read the input: {exc.strerror}", file=sys.stderr)
    return EXIT_USAGE


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":
    run()
