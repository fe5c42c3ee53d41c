"""Watch-folder mode: each input file dropped in IN_DIR becomes one output file in OUT_DIR.

The shape of MiNiFi's PutFile -> (scorer) -> GetFile. For an input `IN_DIR/NAME.jsonl` (or `.ndjson`,
`.json` for JSON lines, `.csv` with a header):
    OUT_DIR/NAME.jsonl           one prediction line per scored record, in input order
    OUT_DIR/NAME.errors.jsonl    one error line per rejected record (only when some were rejected)
    IN_DIR/done/NAME.jsonl       the input, once its outputs are committed
    IN_DIR/failed/NAME.jsonl     an input that cannot be read at all, with NAME.jsonl.reason beside it
When `NAME.jsonl` or `NAME.errors.jsonl` is already in OUT_DIR (an earlier input of the same stem whose
output has not been taken yet), or NAME itself ends in `.errors`, the outputs are `NAME.1.jsonl` and
`NAME.1.errors.jsonl` (then `.2`, ...): no output ever replaces another, and a predictions file is never
named like an error report (runtime/watch_names.py).

Exactly once, with any consumer that takes the outputs (GetFile deletes what it reads), across SIGKILL
or a power cut at any moment. Every step is an atomic rename or an fsynced write, in this order:
    1. claim:    IN_DIR/NAME -> IN_DIR/.processing/NAME
    2. score into hidden temporaries in OUT_DIR (`.NAME.jsonl.tmp`), fsync them
    3. commit:   write the commit marker IN_DIR/.processing/.commit-*.json (input name, sha256 of its
                 content, the temporary -> final names), fsync          (runtime/watch_ledger.py)
    4. publish:  rename each temporary to its final name (errors first), fsync OUT_DIR
    5. release:  IN_DIR/.processing/NAME -> IN_DIR/done/NAME
    6. forget:   remove the marker
At start, before anything new is claimed: an input in `.processing` with its marker (same name, same
content hash) is committed, so the temporaries still hidden are published, the input released and never
scored again, whether or not a consumer has already taken the published outputs; every other marker is
stale and removed; hidden temporaries left in OUT_DIR are unfinished writes and removed; inputs left in
`.processing` without a marker published nothing and are scored again.

Only regular files are read: a symbolic link (or a FIFO, a device) placed in IN_DIR is moved to `failed/`
with a reason, never followed. One watcher per IN_DIR and per OUT_DIR (both are locked), and OUT_DIR is
neither IN_DIR nor inside it nor around it. SIGTERM (or Ctrl-C) finishes the current file and exits 0.
"""

from __future__ import annotations

import os
import signal
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from .errors import EXIT_OK, DataError, UsageError
from .scorer import Scorer
from .stream import DEFAULT_MAX_LINE_BYTES, StreamOptions, StreamScorer
from .watch_ledger import Commit, Ledger, content_sha256, fsync_dir
from .watch_names import alternative, free_name, is_temp_name, name_max, output_names, shown, temp_name

try:
    import fcntl
except ImportError:  # not on Windows: the one-watcher rule is then the user's to keep
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from .follow import Follower
    from .stats import StatsCollector

SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".npy": "npy"}
PROCESSING, DONE, FAILED = ".processing", "done", "failed"
REASON_SUFFIX = ".reason"


@dataclass(frozen=True)
class WatchOptions:
    once: bool = False  # process what is there, then return
    interval: float = 1.0  # seconds between scans of IN_DIR
    min_age: float = 1.0  # skip files modified more recently (a producer may still be writing them)
    id_field: str | None = None
    quiet: bool = False
    strict: bool = False  # the input contract and limits of runtime/stream.py, per file
    keep_fields: tuple[str, ...] = ()
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES


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


class _NotReadable(Exception):
    """The claimed entry is not a regular file we may read (a link, a FIFO...): its reason."""


def watch(scorer: Scorer, in_dir: str | Path, out_dir: str | Path, options: WatchOptions = WatchOptions(),
          follower: Follower | None = None, stats: StatsCollector | None = None) -> int:
    """Run the watch loop until SIGTERM (or, with `once`, until IN_DIR holds no eligible file). Returns 0.
    With a `follower` (runtime/follow.py) the scorer may change between two files, never inside one.

    Raises UsageError when IN_DIR is missing, the folders overlap or cannot be created, another watcher
    holds them, or an output cannot be written.
    """
    folder = WatchFolder(follower.scorer if follower else scorer, Path(in_dir), Path(out_dir), options)
    folder.stats = stats

    def poll() -> None:  # before a file: a new version takes over from the next file on
        if follower is not None and follower.poll():
            folder.scorer = follower.scorer
        folder.shadow, folder.shadow_lines = (follower.shadow if follower else None), None

    def observe(result: FileResult | None) -> None:  # after a file: a new version that rejects too much goes
        if follower is None or result is None:
            return
        if folder.shadow_lines is not None and follower.compare_shadow(*folder.shadow_lines):
            folder.scorer = follower.scorer
        if follower.observe(result.scored, result.rejected):
            folder.scorer = follower.scorer

    stop = _Stop()
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        folder.recover()
        while not stop.requested:
            for path in folder.pending():
                if stop.requested:
                    break
                poll()
                observe(folder.process_new(path))
            if options.once:
                break
            deadline = time.monotonic() + options.interval
            while not stop.requested and time.monotonic() < deadline:
                time.sleep(min(0.1, options.interval))
    except OSError as exc:  # a full disk, a permission taken away: every step is safe to repeat on restart
        where = shown(os.fsdecode(exc.filename)) if exc.filename else None
        raise UsageError(f"the watch folder cannot go on: {exc.strerror or exc}", where=where,
                         fix="fix the disk or the permissions, then restart: inputs in flight wait in "
                             f"{folder.work} and are finished then") from exc
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        folder.close()
    return EXIT_OK


class WatchFolder:
    """The folders and the commit protocol (see the module docstring); one file at a time."""

    def __init__(self, scorer: Scorer, in_dir: Path, out_dir: Path, options: WatchOptions) -> None:
        if not in_dir.is_dir():
            raise UsageError(f"no folder {in_dir}", fix="create the input folder first, or fix --watch")
        check_layout(in_dir, out_dir)
        self.scorer = scorer
        self.stats: StatsCollector | None = None  # runtime/stats.py, when the device keeps statistics
        # Shadow mode (runtime/follow.py): a candidate version scoring each input beside the live one.
        self.shadow: Scorer | None = None
        self.shadow_lines: tuple[list[bytes], list[bytes]] | None = None
        self.in_dir, self.out_dir, self.options = in_dir, out_dir, options
        self.work, self.done, self.failed = in_dir / PROCESSING, in_dir / DONE, in_dir / FAILED
        try:
            for folder in (out_dir, self.work, self.done, self.failed):
                folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create {exc.filename}: {exc.strerror}", fix="check --watch/--out and permissions") from exc
        for folder in (self.work, self.done, self.failed):
            if folder.is_symlink():
                raise UsageError(f"{folder} is a symbolic link; the watcher keeps inputs inside IN_DIR",
                                 fix=f"replace it with a folder (mkdir {folder})")
        self.ledger = Ledger(self.work)
        self.out_limit, self.in_limit = name_max(out_dir), name_max(in_dir)
        self._locks = [_lock(in_dir, "--watch"), _lock(out_dir, "--out")]

    def close(self) -> None:
        """Release the folder locks (the process's exit releases them too, SIGKILL included)."""
        for fd in self._locks:
            os.close(fd)
        self._locks = []

    # -- which files ----------------------------------------------------------------------------------
    def pending(self) -> list[Path]:
        """Candidate inputs in IN_DIR, by name: known suffix, not hidden, not a folder, old enough.
        Links and other non-regular entries are included: process_new refuses them with a reason."""
        now = time.time()
        found = []
        with os.scandir(self.in_dir) as entries:
            for entry in entries:
                if entry.name.startswith(".") or Path(entry.name).suffix.lower() not in SUFFIXES:
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        continue
                    if now - entry.stat(follow_symlinks=False).st_mtime < self.options.min_age:
                        continue
                except OSError:
                    continue  # vanished meanwhile
                found.append(Path(entry.path))
        return sorted(found)

    # -- the protocol ------------------------------------------------------------------------------
    def recover(self) -> None:
        """Finish what a killed run left behind (see the module docstring), before anything new."""
        claimed = sorted(p for p in self.work.iterdir() if not p.name.startswith("."))
        rescore = []
        for path in claimed:
            commit = self._commit_of(path)
            if commit is None:
                rescore.append(path)
            else:
                self._finish(path, commit, recovered=True)
        for marker in self.ledger.markers():  # what is left vouches for nothing: stale or unfinished
            marker.unlink(missing_ok=True)
        for entry in os.scandir(self.out_dir):  # one watcher owns OUT_DIR: these are unfinished writes
            if is_temp_name(entry.name) and entry.is_file(follow_symlinks=False):
                Path(entry.path).unlink(missing_ok=True)
        for path in rescore:
            self._process(path)

    def process_new(self, path: Path) -> FileResult | None:
        """Claim, score and commit one new input. None when the file vanished before the claim."""
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return None
        if not stat.S_ISREG(mode):
            return self._fail(path, _not_regular(mode))
        claimed = self.work / path.name
        try:
            os.rename(path, claimed)  # step 1: claim
        except FileNotFoundError:
            return None
        fsync_dir(self.in_dir)
        fsync_dir(self.work)
        return self._process(claimed)

    def _commit_of(self, claimed: Path) -> Commit | None:
        """The claimed input's commit marker when it is there and vouches for this very content."""
        commit = self.ledger.read(claimed.name)
        if commit is None:
            return None
        try:
            with _open_regular(claimed) as handle:
                return commit if content_sha256(handle) == commit.sha256 else None
        except (OSError, _NotReadable):
            return None

    def _process(self, claimed: Path) -> FileResult | None:
        try:
            handle = _open_regular(claimed)
        except _NotReadable as exc:
            return self._fail(claimed, str(exc))
        except OSError as exc:
            return self._fail(claimed, f"cannot read the file: {exc.strerror}")
        tensor = getattr(self.scorer, "tensor", False)  # a tensor package (format version 2)
        fmt = SUFFIXES.get(claimed.suffix.lower(), "jsonl")
        with handle:
            refused = _refusal(fmt, tensor, handle.read(4096))
            if refused:
                return self._fail(claimed, refused)
            handle.seek(0)
            output, errors = output_names(Path(claimed.name).stem, lambda n: os.path.lexists(self.out_dir / n),
                                          self.out_limit)
            tmp_out, tmp_err = self.out_dir / temp_name(output), self.out_dir / temp_name(errors)
            try:
                with open(tmp_out, "wb") as sink, open(tmp_err, "w", encoding="utf-8") as errors_sink:
                    if tensor:
                        from .tensor_stream import score_npy, score_stream  # deferred: tensor packages only

                        counts = score_npy(self.scorer, handle, sink, errors_sink) if fmt == "npy" else \
                            score_stream(self.scorer, handle, sink, errors_sink, self.options.id_field)
                    else:
                        options = self._stream_options(fmt)
                        if self.stats is not None:
                            self.stats.follow(self.scorer.package)  # a followed registry may have switched versions
                        counts = StreamScorer(self.scorer, sink, errors_sink, options, stats=self.stats).run(handle)
                    for written in (sink, errors_sink):
                        written.flush()
                        os.fsync(written.fileno())
                digest = content_sha256(handle)
                if self.shadow is not None and not tensor:  # shadow mode compares tabular packages only
                    self._shadow_score(handle, fmt, tmp_out)
            except DataError as exc:
                _remove(tmp_out, tmp_err)
                return self._fail(claimed, str(exc))
            except OSError as exc:
                # Most likely the output side (a full disk, permissions): the input is not to blame. It stays
                # claimed in .processing and is scored again when the watcher restarts.
                _remove(tmp_out, tmp_err)
                raise UsageError(f"cannot write the output for {shown(claimed.name)}: {exc}", where=str(self.out_dir),
                                 fix="free space or fix permissions in OUT_DIR, then restart; the input waits in "
                                     f"{self.work}") from exc
        publish = []
        if counts.rejected:  # the errors first, so that published predictions always have their errors beside
            publish.append((tmp_err.name, errors))
        else:
            tmp_err.unlink(missing_ok=True)
        publish.append((tmp_out.name, output))
        commit = Commit(claimed.name, digest, tuple(publish), counts.scored, counts.rejected)
        self.ledger.write(commit)  # step 3: the commit point
        return self._finish(claimed, commit)

    def _finish(self, claimed: Path, commit: Commit, recovered: bool = False) -> FileResult:
        """Steps 4-6 for a committed input; each is idempotent, so a restart can repeat them."""
        for tmp, final in commit.publish:
            source = self.out_dir / tmp
            if not os.path.lexists(source):
                continue  # published already, and perhaps taken by the consumer since
            target = self.out_dir / final
            if os.path.lexists(target):  # only a writer other than this watcher can have put it there
                target = self.out_dir / alternative(final, lambda n: os.path.lexists(self.out_dir / n), self.out_limit)
            os.rename(source, target)  # step 4: publish
        fsync_dir(self.out_dir)
        self._release(claimed)  # step 5
        self.ledger.remove(commit.input)  # step 6
        output = self.out_dir / commit.publish[-1][1]
        note = " (committed before a restart)" if recovered else ""
        self._say(f"{shown(claimed.name)} -> {shown(str(output))}: {commit.scored} scored, {commit.rejected} rejected{note}")
        return FileResult(claimed.name, commit.scored, commit.rejected, output)

    def _stream_options(self, fmt: str) -> StreamOptions:
        """How each file is read: its format, and the id, input contract and line limit of the watcher."""
        return StreamOptions(format=fmt, id_field=self.options.id_field, strict=self.options.strict,
                             keep_fields=self.options.keep_fields, max_line_bytes=self.options.max_line_bytes)

    def _shadow_score(self, handle: BinaryIO, fmt: str, live: Path) -> None:
        """Shadow mode: the prediction lines the candidate version writes for this input, beside the live
        version's (read from its temporary, before publishing); nothing of it reaches OUT_DIR."""
        import io

        assert self.shadow is not None
        handle.seek(0)
        sink = io.BytesIO()
        StreamScorer(self.shadow, sink, io.StringIO(), self._stream_options(fmt)).run(handle)
        self.shadow_lines = (live.read_bytes().splitlines(), sink.getvalue().splitlines())

    def _release(self, claimed: Path) -> None:
        os.rename(claimed, free_name(self.done, claimed.name, self.in_limit))
        fsync_dir(self.work)
        fsync_dir(self.done)

    def _fail(self, path: Path, reason: str) -> FileResult | None:
        """Move `path` (claimed, or a link refused in IN_DIR) to failed/ with a `.reason` file beside it."""
        target = free_name(self.failed, path.name, self.in_limit - len(REASON_SUFFIX))
        reason_file = target.with_name(target.name + REASON_SUFFIX)
        reason_file.write_text(reason + "\n", encoding="utf-8", errors="backslashreplace")
        try:
            os.rename(path, target)  # a link is moved, not followed
        except FileNotFoundError:
            reason_file.unlink(missing_ok=True)
            return None
        fsync_dir(self.failed)
        self._say(f"{shown(path.name)} -> {shown(str(target))}: {reason}")
        return FileResult(path.name, 0, 0, None, failed=reason)

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


def check_layout(in_dir: Path, out_dir: Path) -> None:
    """Refuse folders that overlap. Raises UsageError."""
    real_in, real_out = in_dir.resolve(), out_dir.resolve()
    same = real_in == real_out or (out_dir.exists() and os.path.samefile(in_dir, out_dir))
    if same:
        raise UsageError(f"--out {out_dir} is the --watch folder: outputs would be read back as inputs",
                         fix="give --out a folder of its own, e.g. a sibling of IN_DIR")
    for own in (PROCESSING, DONE, FAILED):
        if real_out == real_in / own or real_in / own in real_out.parents:
            raise UsageError(f"--out {out_dir} is inside IN_DIR/{own}, a folder the watcher manages",
                             fix="give --out a folder of its own, e.g. a sibling of IN_DIR")
    if real_out in real_in.parents:
        raise UsageError(f"--watch {in_dir} is inside --out {out_dir}: a consumer taking OUT_DIR's files (GetFile "
                         "looks into subfolders by default) would take the inputs too",
                         fix="give --out a folder of its own, e.g. a sibling of IN_DIR")


def _lock(folder: Path, option: str) -> int:
    """An exclusive lock on `folder`, held until close (or the process ends). Raises UsageError when taken."""
    fd = os.open(folder, os.O_RDONLY)
    if fcntl is None:
        return fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        raise UsageError(f"another edgepack-score is watching with {option} {folder}",
                         fix="run one watcher per folder: stop the other one, or use other folders") from exc
    return fd


def _open_regular(path: Path) -> BinaryIO:
    """Open a regular file for reading, never through a symbolic link, never blocking on a FIFO."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        if os.path.islink(path):
            raise _NotReadable(_not_regular(os.lstat(path).st_mode)) from exc
        raise
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise _NotReadable(_not_regular(mode))
    return os.fdopen(fd, "rb")


def _not_regular(mode: int) -> str:
    kind = ("a symbolic link" if stat.S_ISLNK(mode) else "a FIFO" if stat.S_ISFIFO(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "not a regular file")
    return (f"the entry is {kind}; the watcher reads only regular files and never follows links "
            "(it could read a file outside IN_DIR)")


def _remove(*paths: Path) -> None:
    """Remove temporaries, best effort: a failure here must not hide the error being reported."""
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass
