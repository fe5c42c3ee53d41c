"""A progress display for long steps: one line per step on stderr, with its time."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO


class Progress:
    """`with progress.step("converting to ONNX"):` prints `[2/5] converting to ONNX ... done (1.3 s)`."""

    def __init__(self, total: int, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.quiet = quiet

    @contextmanager
    def step(self, label: str) -> Iterator[None]:
        self.done += 1
        start = time.perf_counter()
        if not self.quiet:
            self.stream.write(f"[{self.done}/{self.total}] {label} ... ")
            self.stream.flush()
        try:
            yield
        except BaseException:
            if not self.quiet:
                self.stream.write("failed\n")
            raise
        if not self.quiet:
            self.stream.write(f"done ({time.perf_counter() - start:.1f} s)\n")
            self.stream.flush()
