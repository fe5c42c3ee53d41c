"""Typed errors: what went wrong, where, and how to fix it, each with a documented exit code.

Exit codes (shared by `edgepack`, `edgepack-score` and `edgepack-serve`; docs/cli.md lists them):
    0  success
    1  a check failed (parity gate, self-test out of tolerance)
    2  usage error (bad arguments, a missing or unreadable input file)
    3  some records were rejected (the others were scored)
    4  the package is invalid (checksum mismatch, unknown format version, missing artifact, unsafe zip)
    5  the model cannot be converted (unsupported estimator, conversion failed, unreadable model)
    6  the data is unusable (unreadable sample, columns that do not match the model)
"""

from __future__ import annotations

from collections.abc import Iterable

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_REJECTED = 3
EXIT_PACKAGE = 4
EXIT_MODEL = 5
EXIT_DATA = 6


def quoted(value: object, limit: int = 60) -> str:
    """`repr(value)` cut to `limit` characters: a name taken from an untrusted package or record goes into
    a one-line message however long it is (repr escapes newlines and control characters)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class EdgepackError(Exception):
    """Base error. `what` is one sentence, `where` names the file/record/field, `fix` says what to do."""

    exit_code = EXIT_CHECK_FAILED

    def __init__(self, what: str, *, where: str | None = None, fix: str | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.where = where
        self.fix = fix

    def __str__(self) -> str:
        text = self.what
        if self.where:
            text += f" [{self.where}]"
        if self.fix:
            text += f"\n  how to fix: {self.fix}"
        return text


class UsageError(EdgepackError):
    exit_code = EXIT_USAGE


class PackageError(EdgepackError):
    """The package cannot be trusted or read: refused as a whole."""

    exit_code = EXIT_PACKAGE


class ModelError(EdgepackError):
    exit_code = EXIT_MODEL


class DataError(EdgepackError):
    exit_code = EXIT_DATA


class RecordError(EdgepackError):
    """One input record fails validation. The scorer reports it and goes on with the others."""

    exit_code = EXIT_REJECTED

    def __init__(self, reason: str, *, field: str | None = None, record: int | None = None) -> None:
        where = ", ".join(p for p in (f"record {record}" if record is not None else "", f"field {field!r}" if field else "") if p)
        super().__init__(reason, where=where or None)
        self.reason = reason
        self.field = field
        self.record = record


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """'; did you mean 'build'?' for a close match among `choices`, else ''. For unknown subcommands,
    targets and runtimes: the suffix of the error line."""
    import difflib  # deferred: only on an error path; the device's start-up stays light

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
