"""The Target interface: one emitter per artifact format, with its options declared."""

from __future__ import annotations

from collections.abc import Callable
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


# What every target's `emit(source, schema, options)` returns: its artifacts, the float32 default first,
# then the reduced-precision variants the format builds itself (TFLite, TF.js, Core ML).
Emit = Callable[[Any, Any, dict[str, Any]], list[Artifact]]


def check_options(target: str, given: dict[str, Any], accepted: dict[str, Any]) -> dict[str, Any]:
    """Unknown options are an error, not ignored. Returns the options with defaults filled in."""
    unknown = sorted(set(given) - set(accepted))
    if unknown:
        raise UsageError(f"unknown option(s) for the {target} target: {', '.join(unknown)}",
                         fix=f"accepted: {', '.join(sorted(accepted)) or 'none'}")
    return {**accepted, **given}


def chosen_variants(target: str, given: str, known: dict[str, Any]) -> list[str]:
    """A comma-separated `variants` option as a list; it must include float32 (the default artifact)."""
    chosen = [v.strip() for v in str(given).split(",") if v.strip()]
    if any(v not in known for v in chosen) or "float32" not in chosen:
        raise UsageError(f"bad {target} variants {given!r}",
                         fix=f"a comma-separated list including float32, from: {', '.join(known)}")
    return chosen
