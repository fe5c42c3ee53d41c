"""Watch-folder mode: each input file dropped in IN_DIR becomes one output file in OUT_DIR.

The shape of MiNiFi's PutFile -> (scorer) -> GetFile. For an input `IN_DIR/NAME.jsonl` (or `.ndjson`,
`.json` for JSON lines, `.csv` with a header):
    OUT_DIR/NAME.jsonl           one prediction line per scored record, in input order
    OUT_DIR/NAME.errors.jsonl    one error line per rejected record (only when some were rejected)
    IN_DIR/done/NAME.jsonl       the input, once its output is committed
    IN_DIR/failed/NAME.jsonl     an input that cannot be read at all, with NAME.jsonl.reason beside it

Crash safety (SIGKILL at any moment, then restart: no record lost, none written twice) comes from
the order of four atomic renames; the output rename is the commit point:
    1. claim:   IN_DIR/NAME -> IN_DIR/.processing/NAME
    2. score into hidden temporary files in OUT_DIR, fsync them
    3. commit:  errors temp -> NAME.errors.jsonl, then output temp -> NAME.jsonl; fsync OUT_DIR
    4. release: IN_DIR/.processing/NAME -> IN_DIR/done/NAME
At start, files left in `.processing` were in flight: when their output exists they were committed and
only step 4 remains, otherwise they are scored again (the temporaries are overwritten). A new input whose
output name is already taken goes to `failed/` rather than overwrite an earlier file's predictions.
SIGTERM (or Ctrl-C) finishes the current file and exits 0.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import EXIT_OK, DataError, UsageError
from .scorer import Scorer
from .stream import StreamOptions, StreamScorer

SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".npy": "npy"}
PROCESSING, DONE, FAILED = ".processing", "done", "failed"


@dataclass(frozen=True)
class WatchOptions:
    once: bool = False  # process what is there, then return
    interval: float = 1.0  # seconds between scans of IN_DIR
    min_age: float = 1.0  # skip files modified more recently (a producer may still be writing them)
    id_field: str | None = None
    quiet: bool = False


@dataclass(frozen=True)
class FileResult:
    name: str
    scored: int
    rejected: int
    output: Path | None
    failed: str | None = None


class _Stop:
    """Set by SIGTERM/SIGINT: the current file is finished, then the loop ends."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, frame: object) -> None:
        self.requested = True


def watch(scorer: Scorer, in_dir: str | Path, out_dir: str | Path, options: WatchOptions = WatchOptions()) -> int:
    """Run the watch loop until SIGTERM (or, with `once`, until IN_DIR holds no eligible file). Returns 0.

    Raises UsageError when IN_DIR is missing or the folders cannot be created.
    """
    folder = WatchFolder(scorer, Path(in_dir), Path(out_dir), options)
    stop = _Stop()
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        folder.recover()
        while not stop.requested:
            for path in folder.pending():
                if stop.requested:
                    break
                folder.process_new(path)
            if options.once:
                break
            deadline = time.monotonic() + options.interval
            while not stop.requested and time.monotonic() < deadline:
                time.sleep(min(0.1, options.interval))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return EXIT_OK


class WatchFolder:
    """The folders and the commit protocol; one file at a time."""

    def __init__(self, scorer: Scorer, in_dir: Path, out_dir: Path, options: WatchOptions) -> None:
        if not in_dir.is_dir():
            raise UsageError(f"no folder {in_dir}", fix="create the input folder first, or fix --watch")
        self.scorer = scorer
        self.in_dir, self.out_dir, self.options = in_dir, out_dir, options
        self.work, self.done, self.failed = in_dir / PROCESSING, in_dir / DONE, in_dir / FAILED
        try:
            for folder in (out_dir, self.work, self.done, self.failed):
                folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create {exc.filename}: {exc.strerror}", fix="check --watch/--out and permissions") from exc

    # -- which files ----------------------------------------------------------------------------------
    def pending(self) -> list[Path]:
        """Eligible inputs in IN_DIR, by name: known suffix, not hidden, old enough."""
        now = time.time()
        found = []
        with os.scandir(self.in_dir) as entries:
            for entry in entries:
                if entry.name.startswith(".") or Path(entry.name).suffix.lower() not in SUFFIXES:
                    continue
                try:
                    if not entry.is_file() or now - entry.stat().st_mtime < self.options.min_age:
                        continue
                except OSError:
                    continue  # vanished meanwhile
                found.append(Path(entry.path))
        return sorted(found)

    def outputs_for(self, name: str) -> tuple[Path, Path]:
        stem = Path(name).stem
        return self.out_dir / f"{stem}.jsonl", self.out_dir / f"{stem}.errors.jsonl"

    # -- the protocol ------------------------------------------------------------------------------
    def recover(self) -> None:
        """Finish what a killed run left in `.processing` (see the module docstring).

        Hidden temporaries in OUT_DIR are a killed run's unfinished writes: one watcher owns OUT_DIR.
        """
        for tmp in self.out_dir.glob(".*.tmp"):
            if tmp.is_file():
                tmp.unlink(missing_ok=True)
        for path in sorted(self.work.iterdir()):
            if path.is_file():
                self._process(path)

    def process_new(self, path: Path) -> FileResult | None:
        """Claim, score and commit one new input. None when the file vanished before the claim."""
        output, _ = self.outputs_for(path.name)
        if output.exists():
            # Checked before the claim: a claimed file whose output exists counts as committed.
            return self._fail(path, f"the output {output} already exists (an earlier input had the same name); "
                                    "rename this input and drop it again")
        claimed = self.work / path.name
        try:
            os.rename(path, claimed)  # step 1: claim
        except FileNotFoundError:
            return None
        _fsync_dir(self.in_dir)
        return self._process(claimed)

    def _process(self, claimed: Path) -> FileResult:
        output, errors_path = self.outputs_for(claimed.name)
        if output.exists():  # committed before a crash: only the release is left
            self._release(claimed)
            return FileResult(claimed.name, 0, 0, output)
        tmp_out = self.out_dir / f".{output.name}.tmp"
        tmp_err = self.out_dir / f".{errors_path.name}.tmp"
        fmt = SUFFIXES.get(claimed.suffix.lower(), "jsonl")
        try:
            source = open(claimed, "rb")  # noqa: SIM115  (closed below)
            head = source.read(4096)
        except OSError as exc:
            return self._fail(claimed, f"cannot read the file: {exc}")
        tensor = getattr(self.scorer, "tensor", False)  # a tensor package (format version 2)
        with source:
            refused = _refusal(fmt, tensor, head)
            if refused:
                return self._fail(claimed, refused)
            source.seek(0)
            try:
                with open(tmp_out, "wb") as sink, open(tmp_err, "w", encoding="utf-8") as errors:
                    if tensor:
                        from .tensor_stream import score_npy, score_stream  # deferred: tensor packages only

                        counts = score_npy(self.scorer, source, sink, errors) if fmt == "npy" else \
                            score_stream(self.scorer, source, sink, errors, self.options.id_field)
                    else:
                        stream = StreamScorer(self.scorer, sink, errors, StreamOptions(format=fmt, id_field=self.options.id_field))
                        counts = stream.run(source)
                    for handle in (sink, errors):
                        handle.flush()
                        os.fsync(handle.fileno())
            except DataError as exc:
                _remove(tmp_out, tmp_err)
                return self._fail(claimed, str(exc))
            except OSError as exc:
                # Most likely the output side (a full disk, permissions): the input is not to blame. It stays
                # claimed in .processing and is scored again when the watcher restarts.
                _remove(tmp_out, tmp_err)
                raise UsageError(f"cannot write the output for {claimed.name}: {exc}", where=str(self.out_dir),
                                 fix="free space or fix permissions in OUT_DIR, then restart; the input waits in "
                                     f"{self.work}") from exc
        # Step 3: commit. The errors file first, so that a committed output always has its errors beside it.
        if counts.rejected:
            os.replace(tmp_err, errors_path)
        else:
            tmp_err.unlink(missing_ok=True)
        os.replace(tmp_out, output)
        _fsync_dir(self.out_dir)
        self._release(claimed)
        self._say(f"{claimed.name} -> {output}: {counts.scored} scored, {counts.rejected} rejected")
        return FileResult(claimed.name, counts.scored, counts.rejected, output)

    def _release(self, claimed: Path) -> None:
        os.replace(claimed, _free_name(self.done / claimed.name))
        _fsync_dir(self.work)
        _fsync_dir(self.done)

    def _fail(self, claimed: Path, reason: str) -> FileResult:
        target = _free_name(self.failed / claimed.name)
        reason_file = target.with_name(target.name + ".reason")
        reason_file.write_text(reason + "\n", encoding="utf-8")
        os.replace(claimed, target)
        _fsync_dir(self.failed)
        self._say(f"{claimed.name} -> {target}: {reason}")
        return FileResult(claimed.name, 0, 0, None, failed=reason)

    def _say(self, text: str) -> None:
        if not self.options.quiet:
            print(f"edgepack-score: {text}", file=sys.stderr, flush=True)


def _refusal(fmt: str, tensor: bool, head: bytes) -> str | None:
    """Why a file cannot be scored by this package at all (None: go ahead)."""
    if fmt == "npy":
        return None if tensor else "a .npy file holds tensors; this package takes JSON lines or CSV records"
    if tensor and fmt == "csv":
        return "a tensor package takes JSON lines of named arrays or .npy files, not CSV"
    if b"\x00" in head:
        return "the file is binary (NUL bytes), not JSON lines or CSV"
    return None


def _remove(*paths: Path) -> None:
    """Remove temporaries, best effort: a failure here must not hide the error being reported."""
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass


def _free_name(path: Path) -> Path:
    """`path`, or `path.1`, `path.2`, ... when an earlier file of that name is there."""
    if not path.exists():
        return path
    n = 1
    while path.with_name(f"{path.name}.{n}").exists():
        n += 1
    return path.with_name(f"{path.name}.{n}")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a directory; the renames are still atomic
    finally:
        os.close(fd)
