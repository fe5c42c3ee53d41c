"""Commit markers of the watch folder: the durable record that an input's outputs are being published.

A consumer such as MiNiFi's GetFile takes (reads and deletes) each output as soon as it appears, so
after a crash the absence of an output proves nothing: it may never have been written, or it may have
been delivered already. The marker says which: it is written (atomically, fsynced) after the outputs are
complete under hidden temporary names and before the first of them is renamed into view. Present, it means
"committed: publish what is still hidden, release the input, never score it again"; absent, "nothing was
published: score again". It is keyed by the input's name and the sha256 of its content, so a marker left
by an earlier file of the same name can never vouch for a new one.

Markers live in IN_DIR/.processing beside the claimed inputs, hidden (`.commit-<hash of the name>.json`),
one per input, between its commit and its release.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

MARKER_PREFIX, MARKER_SUFFIX = ".commit-", ".json"


@dataclass(frozen=True)
class Commit:
    """One input's commit: its name and content hash, and the (hidden temporary, final) output names."""

    input: str
    sha256: str
    publish: tuple[tuple[str, str], ...]
    scored: int
    rejected: int

    def to_json(self) -> str:
        # ensure_ascii: a name that is not UTF-8 (surrogate escapes) round-trips as \\udcNN escapes.
        return json.dumps({"input": self.input, "sha256": self.sha256, "publish": [list(p) for p in self.publish],
                           "scored": self.scored, "rejected": self.rejected}, ensure_ascii=True)

    @classmethod
    def from_json(cls, text: str) -> Commit | None:
        """The marker's commit, or None when the text is not a marker (then it vouches for nothing)."""
        try:
            data: Any = json.loads(text)
            publish = tuple((str(tmp), str(final)) for tmp, final in data["publish"])
            return cls(str(data["input"]), str(data["sha256"]), publish, int(data["scored"]), int(data["rejected"]))
        except (ValueError, TypeError, KeyError):
            return None


def content_sha256(handle: BinaryIO) -> str:
    """sha256 of an open file's whole content (read from the start)."""
    handle.seek(0)
    digest = hashlib.sha256()
    for block in iter(lambda: handle.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


class Ledger:
    """The commit markers in one folder (IN_DIR/.processing)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_for(self, name: str) -> Path:
        # A hash of the name, not the name: any input name fits, and a marker is never taken for an input.
        key = hashlib.sha256(os.fsencode(name)).hexdigest()[:40]
        return self.folder / f"{MARKER_PREFIX}{key}{MARKER_SUFFIX}"

    def read(self, name: str) -> Commit | None:
        """The marker for input `name`, if one is there and readable."""
        try:
            commit = Commit.from_json(self.path_for(name).read_text(encoding="ascii"))
        except (OSError, UnicodeDecodeError):
            return None
        return commit if commit is not None and commit.input == name else None

    def write(self, commit: Commit) -> None:
        """Record the commit durably: written aside, fsynced, renamed into place, the folder fsynced."""
        final = self.path_for(commit.input)
        tmp = final.with_name(final.name + ".tmp")
        with open(tmp, "w", encoding="ascii") as handle:
            handle.write(commit.to_json() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, final)
        fsync_dir(self.folder)

    def remove(self, name: str) -> None:
        self.path_for(name).unlink(missing_ok=True)

    def markers(self) -> list[Path]:
        """Every marker file (and a marker's unfinished temporary) in the folder."""
        return sorted(p for p in self.folder.iterdir() if p.name.startswith(MARKER_PREFIX))


def fsync_dir(path: Path) -> None:
    """Make the renames in `path` durable (best effort: some filesystems refuse fsync on a directory)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # the renames are still atomic
    finally:
        os.close(fd)
