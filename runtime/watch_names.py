"""File names in the watch folder: outputs that never collide, names that fit, names that can be shown.

A file name is whatever bytes the producer chose: not necessarily UTF-8 (Python carries such bytes as
surrogate escapes), and up to the filesystem's limit (255 bytes on Linux), so a name built from it by
appending (`NAME.reason`, `NAME.1`, `.STEM.errors.jsonl.tmp`) may not fit. Every derived name is made here.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from itertools import count
from pathlib import Path

OUTPUT_SUFFIX = ".jsonl"
ERRORS_SUFFIX = ".errors.jsonl"
TEMP_PREFIX, TEMP_SUFFIX = ".", ".tmp"
_NAME_MAX = 255  # bytes: ext4, xfs, btrfs, tmpfs, vfat (as UTF-16 units; bytes are the stricter count here)


def name_max(folder: Path) -> int:
    """The longest file name `folder`'s filesystem takes, in bytes."""
    try:
        return min(os.pathconf(folder, "PC_NAME_MAX"), _NAME_MAX)
    except (OSError, ValueError, AttributeError):
        return _NAME_MAX


def shown(name: str) -> str:
    """`name` as text that can be printed and written anywhere: bytes that are not UTF-8 as `\\xNN`."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def fit(head: str, tail: str, limit: int) -> str:
    """`head + tail`, with `head` cut (by bytes) so that the whole fits in `limit` bytes."""
    room = limit - len(os.fsencode(tail))
    encoded = os.fsencode(head)
    if len(encoded) <= room:
        return head + tail
    return os.fsdecode(encoded[:max(room, 1)]) + tail


def free_name(folder: Path, name: str, limit: int) -> Path:
    """`folder/name`, or `name.1`, `name.2`, ... (cut to fit) when an earlier file of that name is there."""
    for n in count():
        candidate = folder / (fit(name, "", limit) if n == 0 else fit(name, f".{n}", limit))
        if not os.path.lexists(candidate):
            return candidate
    raise AssertionError("unreachable")


def temp_name(final: str) -> str:
    """The hidden name an output is written under before its rename (GetFile skips hidden files)."""
    return TEMP_PREFIX + final + TEMP_SUFFIX


def is_temp_name(name: str) -> bool:
    return name.startswith(TEMP_PREFIX) and name.endswith(OUTPUT_SUFFIX + TEMP_SUFFIX)


def output_names(stem: str, taken: Callable[[str], bool], limit: int) -> tuple[str, str]:
    """(predictions, errors) file names for an input whose name without its suffix is `stem`.

    `STEM.jsonl` and `STEM.errors.jsonl` when both are free; otherwise `STEM.1.jsonl` and
    `STEM.1.errors.jsonl`, then `.2`, ... A predictions name never ends in `.errors.jsonl` (an input
    called `x.errors.jsonl` would otherwise write its predictions where `x.jsonl`'s error report goes), and
    both names, with their hidden temporaries, fit in `limit` bytes.
    """
    room = limit - len(TEMP_PREFIX) - len(TEMP_SUFFIX)
    for n in count():
        base = fit(stem, "" if n == 0 else f".{n}", room - len(ERRORS_SUFFIX))
        if base.lower().endswith(ERRORS_SUFFIX[: -len(OUTPUT_SUFFIX)]):
            continue
        output, errors = base + OUTPUT_SUFFIX, base + ERRORS_SUFFIX
        if not (taken(output) or taken(errors)):
            return output, errors
    raise AssertionError("unreachable")


def alternative(final: str, taken: Callable[[str], bool], limit: int) -> str:
    """Another name of the same kind as the output name `final` (`x.jsonl` -> `x.1.jsonl`, `x.errors.jsonl`
    -> `x.1.errors.jsonl`, ...) that is not taken."""
    suffix = ERRORS_SUFFIX if final.endswith(ERRORS_SUFFIX) else OUTPUT_SUFFIX
    base = final[: -len(suffix)]
    room = limit - len(TEMP_PREFIX) - len(TEMP_SUFFIX) - len(suffix)
    for n in count(1):
        name = fit(base, f".{n}", room) + suffix
        if not taken(name):
            return name
    raise AssertionError("unreachable")
