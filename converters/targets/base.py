"""The Target interface: one emitter per artifact format, with its options declared."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...runtime.errors import UsageError


@dataclass
class Artifact:
    """What a target emits: files (relative path -> bytes) and the manifest entry describing them.

    `entry` holds everything but sha256 and size, which the package writer fills in from the bytes.
    """

    id: str
    format: str
    files: dict[str, bytes]
    entry: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def check_options(target: str, given: dict[str, Any], accepted: dict[str, Any]) -> dict[str, Any]:
    """Unknown options are an error, not ignored. Returns the options with defaults filled in."""
    unknown = sorted(set(given) - set(accepted))
    if unknown:
        raise UsageError(f"unknown option(s) for the {target} target: {', '.join(unknown)}",
                         fix=f"accepted: {', '.join(sorted(accepted)) or 'none'}")
    return {**accepted, **given}
