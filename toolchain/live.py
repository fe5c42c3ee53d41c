"""The build's progress display and the capture of third-party output.

Each step is one numbered line on stderr, `[3/8] converting to onnx, tflite ... done (4.2 s)`; the
total is fixed when the build starts, so the numbering never jumps. On a terminal the running step is
a live line (rich): a spinner, the elapsed seconds and what is happening inside the step (`detail`).

What converters print while a step runs (TensorFlow's C++ logging, absl, tensorflowjs' prints, Python
warnings) goes to a log file, not the terminal: the process's stdout and stderr descriptors point at it
for the step. `verbose` shows it instead. When the build fails the log is kept and its path printed;
otherwise it is removed.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any


class LiveProgress:
    """`with progress.step("converting to ONNX"): progress.detail("tflite float16")`."""

    def __init__(self, total: int, quiet: bool = False, verbose: bool = False) -> None:
        self.total = total
        self.done = 0
        self.quiet = quiet
        self.verbose = verbose
        self.log_path: str | None = None
        self._log_fd: int | None = None
        # Our own lines go to a copy of stderr taken now, so that they still reach the terminal while the
        # process's descriptor 2 points at the log.
        self._out: IO[str] = os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1) if _has_fd(sys.stderr) else sys.stderr
        self._status: Any = None
        self._label = ""
        self._began = 0.0

    # -- steps ---------------------------------------------------------------------------------------
    @contextmanager
    def step(self, label: str) -> Iterator[None]:
        self.done = min(self.done + 1, self.total)
        self._label, self._began = f"[{self.done}/{self.total}] {label}", time.perf_counter()
        self._start_line()
        try:
            with self._captured():
                yield
        except BaseException:
            self._end_line("failed")
            raise
        self._end_line(f"done ({time.perf_counter() - self._began:.1f} s)")

    def detail(self, text: str) -> None:
        """What the running step is doing now (shown live on a terminal; not printed otherwise)."""
        if self._status is not None:
            self._status.update(f"{self._label} ... {text}")

    def close(self, failed: bool) -> None:
        """End of the build: keep the log when it failed (and say where), else remove it."""
        if self._log_fd is not None:
            os.close(self._log_fd)
            self._log_fd = None
        if self.log_path is None:
            return
        if failed and os.path.getsize(self.log_path):
            self._out.write(f"output of the converters saved to {self.log_path}\n")
            self._out.flush()
        else:
            os.unlink(self.log_path)
            self.log_path = None
        if self._out is not sys.stderr:
            self._out.close()

    # -- display -------------------------------------------------------------------------------------
    def _start_line(self) -> None:
        if self.quiet:
            return
        if self._out.isatty():
            from rich.console import Console  # deferred: only on a terminal

            self._status = Console(file=self._out, stderr=True).status(f"{self._label} ...")
            self._status.start()
        else:
            self._out.write(f"{self._label} ... ")
            self._out.flush()

    def _end_line(self, outcome: str) -> None:
        if self.quiet:
            return
        if self._status is not None:
            self._status.stop()
            self._status = None
        self._out.write(f"{self._label} ... {outcome}\n" if self._out.isatty() else f"{outcome}\n")
        self._out.flush()

    # -- capture -------------------------------------------------------------------------------------
    @contextmanager
    def _captured(self) -> Iterator[None]:
        if self.verbose or not (_has_fd(sys.stdout) and _has_fd(sys.stderr)):
            yield
            return
        if self._log_fd is None:
            self._log_fd, self.log_path = tempfile.mkstemp(prefix="edgepack-build-", suffix=".log")
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(self._log_fd, 1)
        os.dup2(self._log_fd, 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


@contextmanager
def third_party_output_captured(verbose: bool = False) -> Iterator[None]:
    """For commands other than build (parity): what runtimes print at the C level (TensorFlow Lite's
    "INFO: Created TensorFlow Lite XNNPACK delegate", absl) goes to a log file while the block runs;
    edgepack's own lines still reach the terminal (sys.stderr points at a copy of the real stderr). The
    log is kept and named when the block raises, removed otherwise. `verbose`: nothing is captured."""
    if verbose or not (_has_fd(sys.stdout) and _has_fd(sys.stderr)):
        yield
        return
    log_fd, log_path = tempfile.mkstemp(prefix="edgepack-", suffix=".log")
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    real_stderr = sys.stderr
    sys.stderr = os.fdopen(os.dup(saved[1]), "w", buffering=1)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    failed = True
    try:
        yield
        failed = False
    finally:
        sys.stdout.flush()
        sys.stderr.close()
        sys.stderr = real_stderr
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, log_fd):
            os.close(fd)
        if failed and os.path.getsize(log_path):
            print(f"output of the runtimes saved to {log_path}", file=sys.stderr)
        else:
            os.unlink(log_path)


def _has_fd(stream: Any) -> bool:
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):  # a test's StringIO, pytest's capture
        return False
    return True
