"""Statistics on the device: count each scored batch in the package's reference bins, write windows.

    edgepack-score PKG --stats DIR [--stats-every N|SECONDS]      (stdin and the watch folder)
    stats = StatsCollector(scorer.package, "stats/", every="10000"); scorer.score(records, stats=stats)

One `observe` call per batch (the validated feature columns, the raw outputs, the fields of the rejected
records) adds to a window of counts held in numpy arrays shaped by the profile (runtime/profile.py: the
same bins and the same binning rule as the build's reference). A window closes at the first batch
boundary after N records or SECONDS (`--stats-every 10000`, `--stats-every 300s`, `5m`, `1h`) and at the
end of the input, and is written to DIR as one small JSON file, atomically (a hidden temporary, fsync,
rename): a reader never sees half a window. Windows are sums of counts, so files of many runs and devices
merge exactly (`edgepack drift`).

Cost per batch: the numeric features as one [N, F] block, each column sorted once and its bin edges
(two more find the values out of the reference's range, one more the NaN) looked up by binary search
(profile.bin_counts); per category column a Counter. Batches of fewer than SMALL_BATCH records (`--line-buffered` scores one record
at a time) wait until PENDING_ROWS records are there and are counted together. Memory: the
counts of one window (a few hundred integers) and at most MAX_UNSEEN unseen names per category.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np

from .errors import UsageError
from .profile import (
    MAX_UNSEEN,
    VERSION,
    WINDOW_FORMAT,
    bin_counts,
    category_counts,
    load_profile,
    padded_edges,
)

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
DEFAULT_EVERY = "1h"
SMALL_BATCH, PENDING_ROWS = 64, 512  # batches under SMALL_BATCH rows wait until PENDING_ROWS are there


def parse_every(text: str) -> tuple[int | None, float | None]:
    """`--stats-every`: a whole number of records ("10000") or a duration ("300s", "5m", "1h", "1d").
    Returns (records, seconds), one of them None. Raises UsageError for anything else."""
    text = str(text).strip().lower()
    try:
        if text and text[-1] in _UNITS:
            seconds = float(text[:-1]) * _UNITS[text[-1]]
            if seconds > 0:
                return None, seconds
        elif text.isdigit() and int(text) > 0:
            return int(text), None
    except ValueError:
        pass
    raise UsageError(f"--stats-every {text!r}: not a record count or a duration",
                     fix="give a number of records (10000) or seconds with a unit (300s, 5m, 1h, 1d)")


def _utc(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class _Numbers:
    """Numeric columns counted together (the features, or the class scores): counts in the reference bins,
    missing, and out of the reference's range.

    Each column's edges are the profile's with two more around them, the largest double below the
    reference minimum and the reference maximum, so that the same lookups that find the bins also find
    the values below and above the reference range: slot 0 below, slot 1 the first bin's
    in-range part, ..., slot k+1 the last bin's in-range part, slot k+2 above (then missing, last)."""

    __slots__ = ("names", "sizes", "edges", "slots")

    def __init__(self, entries: list[tuple[str, dict[str, Any]]]) -> None:
        self.names = [name for name, _ in entries]
        self.sizes = [len(e["edges"]) for _, e in entries]
        lows = [-np.inf if e["min"] is None else float(np.nextafter(e["min"], -np.inf)) for _, e in entries]
        highs = [np.inf if e["max"] is None else e["max"] for _, e in entries]
        self.edges = padded_edges([[lo, *e["edges"], hi] for lo, (_, e), hi in zip(lows, entries, highs)])
        self.slots = np.zeros((len(entries), len(self.edges) + 2), dtype=np.int64)

    def add(self, block: np.ndarray) -> None:
        """Count a [N, F] float64 block (columns in `names` order)."""
        if block.size:
            self.slots += bin_counts(block, self.edges)

    def as_dict(self) -> dict[str, dict[str, Any]]:
        out = {}
        for j, (name, k) in enumerate(zip(self.names, self.sizes)):
            s = self.slots[j]
            counts = s[1: k + 2].copy()  # in range, per profile bin
            counts[0] += s[0]  # below the range: the first bin (-inf, e1]
            counts[-1] += s[k + 2]  # above it: the last bin (ek, inf)
            out[name] = {"counts": counts.tolist(), "missing": int(s[-1]), "below": int(s[0]), "above": int(s[k + 2])}
        return out


class _Categories:
    __slots__ = ("known", "counts", "unseen", "unseen_total")

    def __init__(self, entry: dict[str, Any]) -> None:
        self.known = {c: i for i, c in enumerate(entry["categories"])}
        self.counts = np.zeros(len(self.known) + 1, dtype=np.int64)  # categories, then missing
        self.unseen: Counter[Any] = Counter()
        self.unseen_total = 0

    def add(self, col: Any) -> None:
        counts, unseen = category_counts(col, self.known)
        self.counts += counts
        for value, n in unseen.items():
            self.unseen_total += n
            if value in self.unseen or len(self.unseen) < MAX_UNSEEN:
                self.unseen[str(value)] += n

    def as_dict(self) -> dict[str, Any]:
        return {"counts": self.counts[:-1].tolist(), "missing": int(self.counts[-1]), "unseen": self.unseen_total,
                "unseen_names": dict(self.unseen)}


class StatsCollector:
    """Accumulates windows of statistics for one package and writes them to a folder.

    Raises UsageError when the package has no reference profile or the folder cannot be created."""

    def __init__(self, package: Any, directory: str | os.PathLike[str] | None, every: str | None = DEFAULT_EVERY,
                 device: str | None = None) -> None:
        """`directory` None and `every` None: one window kept in memory (`window()`), never written, e.g. a
        Spark partition's, merged by the driver."""
        self.directory = os.fspath(directory) if directory is not None else None
        self.every_records, self.every_seconds = parse_every(every) if every is not None else (None, None)
        self.device = device or _hostname()
        if self.directory is not None:
            try:
                os.makedirs(self.directory, exist_ok=True)
            except OSError as exc:
                raise UsageError(f"cannot create the --stats folder {self.directory}: {exc.strerror}",
                                 fix="choose a writable folder for --stats") from exc
        self.written: list[str] = []
        self._seq = 0
        self.bind(package)

    def bind(self, package: Any) -> None:
        """Count for `package` from now on (a device following a registry switched versions); the open
        window, counted in the previous package's bins, is written first."""
        if getattr(self, "_records", 0):
            self.flush()
        try:
            profile = load_profile(package)
        except KeyError:
            raise UsageError(f"package {package.name} {package.version} has no reference profile",
                             fix="rebuild it with edgepack build (packages carry profile.json since issue 20)") from None
        self.package = {"name": package.name, "version": package.version,
                        "profile_sha256": package.manifest["reference_profile"]["sha256"]}
        self._profile = profile
        self._reset()

    def follow(self, package: Any) -> None:
        """Rebind when `package` is another version than the one counted for (a followed registry switched)."""
        if (package.name, package.version) != (self.package["name"], self.package["version"]):
            self.bind(package)

    def _reset(self) -> None:
        profile = self._profile
        features = profile["features"]
        self._numbers = _Numbers([(n, e) for n, e in features.items() if e["kind"] != "category"])
        self._categories = [(n, _Categories(e)) for n, e in features.items() if e["kind"] == "category"]
        outs = profile["outputs"]
        self._scores = _Numbers(list(outs["scores"].items())) if "scores" in outs else None
        self._labels = np.zeros(len(outs["scores"]) if "scores" in outs else 0, dtype=np.int64)
        self._value = _Numbers([("value", outs["value"])]) if "value" in outs else None
        self._records = self._scored = self._rejected = 0
        self._rejected_by_field: Counter[str] = Counter()
        self._pending: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self._pending_rows = 0
        self._start = time.time()
        self._started = time.monotonic()

    # -- per batch ----------------------------------------------------------------------------------
    def observe(self, columns: dict[str, Any] | None, raw: dict[str, np.ndarray] | None,
                rejected_fields: Iterable[str | None] = ()) -> None:
        """Count one batch: the validated columns of its scored records and their raw outputs (None when
        none was scored), and the field named by each rejected record's reason (None: the whole record)."""
        if columns is not None and raw is not None:
            n = len(columns[next(iter(columns))]) if columns else 0
            if n < SMALL_BATCH:
                # one record at a time (--line-buffered): the per-call cost of the numpy passes would be
                # several times the scoring; small batches wait and are counted together
                self._pending.append((columns, raw))
                self._pending_rows += n
                if self._pending_rows >= PENDING_ROWS:
                    self._count_pending()
            else:
                self._count(columns, raw)
            self._scored += n
            self._records += n
        fields = [f or "(record)" for f in rejected_fields]
        if fields:
            self._rejected += len(fields)
            self._records += len(fields)
            self._rejected_by_field.update(fields)
        if (self.every_records is not None and self._records >= self.every_records) or (
                self.every_seconds is not None and time.monotonic() - self._started >= self.every_seconds):
            self.flush()

    def _count(self, columns: dict[str, Any], raw: dict[str, Any]) -> None:
        names = self._numbers.names
        if names:
            # one [N, F] block for every numeric feature: bin_counts sorts it column by column in one call
            self._numbers.add(_block(columns, names))
        for name, acc in self._categories:
            acc.add(columns[name])
        probs = raw.get("probabilities")
        if probs is not None and self._scores is not None:
            probs = np.asarray(probs, dtype=np.float64)
            self._scores.add(probs)
            if probs.shape[1] == 2:  # argmax over 2 columns is a slow strided loop; same rule (first on ties)
                ones = int(np.count_nonzero(probs[:, 1] > probs[:, 0]))
                self._labels += (len(probs) - ones, ones)
            else:
                self._labels += np.bincount(np.argmax(probs, axis=1), minlength=len(self._labels))
        elif self._value is not None and "value" in raw:
            self._value.add(np.asarray(raw["value"], dtype=np.float64).reshape(-1, 1))

    def _count_pending(self) -> None:
        if not self._pending:
            return
        pending, self._pending, self._pending_rows = self._pending, [], 0
        columns = {name: np.concatenate([c[name] for c, _ in pending]) for name in pending[0][0]}
        raw = {key: np.concatenate([np.asarray(r[key]) for _, r in pending]) for key in pending[0][1]}
        self._count(columns, raw)

    # -- windows ------------------------------------------------------------------------------------
    def window(self) -> dict[str, Any]:
        """The open window as the JSON object written to DIR."""
        self._count_pending()
        outputs: dict[str, Any] = {}
        if self._scores is not None:
            outputs["scores"] = self._scores.as_dict()
            outputs["labels"] = self._labels.tolist()
        if self._value is not None:
            outputs["value"] = self._value.as_dict()["value"]
        features = {**self._numbers.as_dict(), **{name: acc.as_dict() for name, acc in self._categories}}
        return {"format": WINDOW_FORMAT, "version": VERSION, "package": dict(self.package), "device": self.device,
                "start": _utc(self._start), "end": _utc(time.time()), "records": self._records, "scored": self._scored,
                "rejected": self._rejected, "rejected_by_field": dict(self._rejected_by_field),
                "features": {name: features[name] for name in self._profile["features"]}, "outputs": outputs}

    def flush(self) -> str | None:
        """Write the open window (when it counted anything) and start a new one. Returns the file written."""
        if not self._records:
            self._reset()
            return None
        if self.directory is None:
            raise ValueError("this collector keeps its window in memory (no --stats folder)")
        self._seq += 1
        path = write_window(self.directory, self.window(), self._start, self._seq)
        self.written.append(path)
        self._reset()
        return path

    def close(self) -> str | None:
        """Write the last window (the end of the input)."""
        return self.flush()


def write_window(directory: str, window: dict[str, Any], start: float, seq: int = 1) -> str:
    """Write one window to `directory` atomically (hidden temporary, fsync, rename); returns its path.
    Raises UsageError when the folder cannot be written."""
    name = (f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(start))}-{_safe(str(window.get('device', 'device')))}-"
            f"{os.getpid()}-{seq:05d}.stats.json")
    path = os.path.join(directory, name)
    tmp = os.path.join(directory, f".{name}.tmp")
    data = (json.dumps(window, separators=(",", ":")) + "\n").encode()
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise UsageError(f"cannot write statistics to {directory}: {exc.strerror}",
                         fix="free space or fix permissions in the --stats folder") from exc
    return path


def _block(columns: dict[str, Any], names: list[str]) -> np.ndarray:
    """The columns `names` as one [N, F] float64 block. When they are the columns, in order, of one
    matrix (batch.py validates an all-numeric JSON batch as one array and hands out its column views),
    that matrix itself: gathering strided columns again would cost more than counting them."""
    first = columns[names[0]]
    base = first.base if isinstance(first, np.ndarray) else None
    if (isinstance(base, np.ndarray) and base.ndim == 2 and base.dtype == np.float64 and base.shape == (len(first), len(names))
            and base.flags.c_contiguous):
        start, step = base.__array_interface__["data"][0], base.itemsize
        if all(columns[n].base is base and columns[n].__array_interface__["data"][0] == start + j * step
               for j, n in enumerate(names)):
            return base
    return np.column_stack([columns[n] for n in names]).astype(np.float64, copy=False)


def _hostname() -> str:
    try:
        return os.uname().nodename or "device"
    except AttributeError:  # Windows has no uname
        return os.environ.get("COMPUTERNAME", "device")


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)[:64] or "device"
