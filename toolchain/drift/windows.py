"""The device's window files (runtime/stats.py): read, check against the package, merge, group.

Windows are sums of counts over the profile's bins, so merging is exact in any order
(runtime/profile.py: merge_into). A window of another package or profile is refused rather than merged
into bins it was not counted in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...runtime.errors import DataError
from ...runtime.profile import WINDOW_FORMAT, empty_window, merge_into

GROUPINGS = ("device", "day")


@dataclass
class Windows:
    """Windows read from files, in start order."""

    items: list[dict[str, Any]]
    files: list[str]


def expand(paths: list[Path]) -> list[Path]:
    """Files as given; a folder stands for its *.stats.json files (sorted)."""
    out: list[Path] = []
    for path in paths:
        out.extend(sorted(path.glob("*.stats.json")) if path.is_dir() else [path])
    return out


def read_windows(paths: list[Path], profile_sha256: str, package_name: str) -> Windows:
    """Read window files. Raises DataError for an unreadable file, a file that is not a window, or a window
    counted for another package or profile (what, which file, how to fix)."""
    items, files = [], []
    for path in expand(paths):
        try:
            window = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise DataError(f"cannot read the statistics file: {exc}", where=str(path),
                            fix="pass the *.stats.json files edgepack-score --stats wrote") from exc
        if not isinstance(window, dict) or window.get("format") != WINDOW_FORMAT:
            raise DataError("not an edgepack statistics window", where=str(path),
                            fix="pass the *.stats.json files edgepack-score --stats wrote")
        pkg = window.get("package", {})
        if pkg.get("profile_sha256") != profile_sha256:
            raise DataError(f"this window was counted for package {pkg.get('name')} {pkg.get('version')} with another "
                            f"reference profile than {package_name}'s", where=str(path),
                            fix="compare each window with the package version that scored it")
        items.append(window)
        files.append(str(path))
    if not items:
        raise DataError("no statistics windows to read", where=", ".join(map(str, paths)),
                        fix="pass *.stats.json files or folders holding them (edgepack-score --stats DIR)")
    order = sorted(range(len(items)), key=lambda i: (items[i].get("start", ""), files[i]))
    return Windows([items[i] for i in order], [files[i] for i in order])


def merge(profile: dict[str, Any], windows: list[dict[str, Any]]) -> dict[str, Any]:
    """One window holding the sums of `windows` (start: the earliest, end: the latest)."""
    total = empty_window(profile)
    for window in windows:
        try:
            merge_into(total, window)
        except (KeyError, ValueError) as exc:
            raise DataError(f"a window does not fit the package's profile: {exc}",
                            fix="compare each window with the package version that scored it") from exc
    total["start"] = min((w.get("start", "") for w in windows), default="")
    total["end"] = max((w.get("end", "") for w in windows), default="")
    total["windows"] = sum(int(w.get("windows", 1)) for w in windows)  # pre-merged windows (--engine spark) count theirs
    total["devices"] = sorted({str(w.get("device", "?")) for w in windows})
    return total


def group_key(window: dict[str, Any], by: str) -> str:
    return str(window.get("device", "?")) if by == "device" else str(window.get("start", "?"))[:10]


def groups(windows: list[dict[str, Any]], by: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for window in windows:
        out.setdefault(group_key(window, by), []).append(window)
    return dict(sorted(out.items()))
