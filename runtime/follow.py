"""A device following a registry channel: new versions arrive without a restart, only verified ones are
used, and a version that misbehaves after the switch is rolled back.

    edgepack-score PKG --watch IN --out OUT --follow REGISTRY --channel production --trust KEYS [--every 60]

Each poll reads the channel pointer (`models/<model>/channels/<channel>.json`) and its signatures from
the registry (a directory, or an http(s) URL: the device has no fsspec) and, when it names a version not
in use and not refused before:
  1. the pointer's signature is checked against the trust set;
  2. the archive is downloaded to STATE/versions/<sha256>.edgepack (temporary name, fsync, rename) and its
     sha256 compared with the pointer's;
  3. the package's own signature, checksums and self-test must pass (Scorer.load(trust=...), selftest);
  4. STATE/current.json is replaced atomically: from then on the watch folder scores with the new version,
     starting with the next file (a file is never scored by two versions).
After a switch the first `watch_records` records are watched: a rejected-record rate above
`max_rejected_rate` rolls back to the previous version. Any refusal or rollback is written to
STATE/status.json with its reason, and the refused sha256 is never tried again (STATE/refused.json).
A SIGKILL at any step leaves current.json naming a whole, verified version (or none: the package given on
the command line), which is what a restart loads.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import EdgepackError, PackageError, UsageError
from .package import sha256_bytes
from .scorer import Scorer
from .signing import TrustSet, parse_signatures, verify_signed
from .watch_ledger import fsync_dir

MAX_POINTER_BYTES = 64 << 10
MAX_ARCHIVE_BYTES = 2 << 30
CURRENT, STATUS, REFUSED, VERSIONS = "current.json", "status.json", "refused.json", "versions"


@dataclass(frozen=True)
class FollowOptions:
    registry: str  # a directory, file:// or http(s):// URL
    channel: str = "production"
    every: float = 60.0  # seconds between polls
    max_rejected_rate: float = 0.5  # over the first watch_records records after a switch
    watch_records: int = 100
    shadow_agreement: float = 0.95  # a shadowed version must agree on this share of labels to be switched in


def _read(registry: str, rel: str, limit: int) -> bytes:
    """Bytes of `rel` under the registry, at most `limit` of them. Raises UsageError when unreachable."""
    if registry.startswith(("http://", "https://")):
        import urllib.error
        import urllib.request

        url = registry.rstrip("/") + "/" + rel
        try:
            with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (http(s) only, checked above)
                data: bytes = response.read(limit + 1)
        except (urllib.error.URLError, OSError) as exc:
            raise UsageError(f"cannot read {url}: {exc}", where=url, fix="check the registry URL and the network") from None
    else:
        path = os.path.join(registry.removeprefix("file://"), *rel.split("/"))
        try:
            with open(path, "rb") as handle:
                data = handle.read(limit + 1)
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror}", where=path, fix="check --follow") from None
    if len(data) > limit:
        raise PackageError(f"{rel} is larger than {limit} bytes", where=registry)
    return data


def _write_atomic(path: str, data: bytes) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(Path(os.path.dirname(path) or "."))


@dataclass
class Follower:
    """The channel follower of one watch folder. `scorer` is the version in use."""

    scorer: Scorer
    options: FollowOptions
    trust: TrustSet
    state: str
    model: str = ""
    # sha256 the given package is known by (its archive, or a directory's manifest): hashed once at start,
    # not at every poll (a poll runs before every file)
    given_sha: str = ""
    previous: Scorer | None = None
    shadow: Scorer | None = None  # a verified candidate scoring alongside, when its channel asks for it
    _shadow_plan: dict[str, Any] = field(default_factory=dict)  # sha256, version, records wanted, current
    _shadow_seen: list[int] = field(default_factory=lambda: [0, 0])  # compared, labels agreeing
    _since_switch: list[int] = field(default_factory=lambda: [0, 0])  # scored, rejected
    _next_poll: float = 0.0

    @classmethod
    def start(cls, given: Scorer, options: FollowOptions, trust: TrustSet, state: str) -> Follower:
        """The follower, on the version STATE/current.json names when it is still whole and verified,
        else on `given` (the package on the command line)."""
        os.makedirs(os.path.join(state, VERSIONS), exist_ok=True)
        follower = cls(given, options, trust, state, model=given.package.name, given_sha=sha256_bytes(_archive_of(given)))
        current = follower._json(CURRENT)
        if current:
            try:
                follower.scorer = Scorer.load(os.path.join(state, VERSIONS, f"{current['sha256']}.edgepack"), trust=trust)
            except EdgepackError as err:
                follower._status("kept the given package", f"the recorded version cannot be used: {err.what}")
        return follower

    # -- state files -----------------------------------------------------------------------------------
    def _json(self, name: str) -> Any:
        try:
            with open(os.path.join(self.state, name), "rb") as handle:
                return json.loads(handle.read())
        except (OSError, ValueError):
            return None

    def _status(self, event: str, reason: str = "", **extra: Any) -> None:
        body = {"event": event, "reason": reason, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "version": self.scorer.package.version, "channel": self.options.channel, **extra}
        _write_atomic(os.path.join(self.state, STATUS), (json.dumps(body, indent=2) + "\n").encode())

    def _refuse(self, sha: str, version: str, reason: str) -> None:
        refused = self._json(REFUSED) or {}
        refused[sha] = {"version": version, "reason": reason}
        _write_atomic(os.path.join(self.state, REFUSED), (json.dumps(refused, indent=2) + "\n").encode())
        self._status("refused", reason, refused_version=version)

    # -- the loop's two calls --------------------------------------------------------------------------
    def poll(self, now: float | None = None) -> bool:
        """Between two files: look for a new version when due; switch to it when it passes every check.
        Returns True when the scorer changed. Never raises for a bad version (it is refused and recorded);
        an unreachable registry is recorded and retried at the next poll."""
        now = time.monotonic() if now is None else now
        if now < self._next_poll:
            return False
        self._next_poll = now + self.options.every
        rel = f"models/{self.model}/channels/{self.options.channel}"
        try:
            raw = _read(self.options.registry, rel + ".json", MAX_POINTER_BYTES)
            entries = parse_signatures(_read(self.options.registry, rel + ".sig.json", MAX_POINTER_BYTES), rel)
            verify_signed(raw, entries, self.trust, rel)
            pointer = json.loads(raw)
            sha, version = str(pointer["sha256"]), str(pointer["version"])
        except UsageError as err:
            self._status("registry unreachable", err.what)
            return False
        except (PackageError, ValueError, KeyError, TypeError) as err:
            self._status("channel pointer refused", getattr(err, "what", str(err)))
            return False
        current = self._json(CURRENT)
        if (current and current.get("sha256") == sha) or sha in (self._json(REFUSED) or {}):
            return False
        if self.shadow is not None and self._shadow_plan.get("sha256") == sha:
            return False  # already scoring in shadow
        if current is None and self.given_sha == sha:
            return False
        try:
            candidate = self._fetch(pointer, sha)
        except EdgepackError as err:
            self._refuse(sha, version, err.what)
            return False
        check = candidate.selftest()
        if not check.passed:
            self._refuse(sha, version, f"self-test failed on {check.rows} golden rows (max error {check.max_error:.3g})")
            return False
        wanted = int(pointer.get("shadow_records") or 0)
        if wanted > 0:
            if self.shadow is None or self._shadow_plan.get("sha256") != sha:
                self.shadow, self._shadow_seen = candidate, [0, 0]
                self._shadow_plan = {"sha256": sha, "version": version, "records": wanted, "current": current}
                self._status("shadowing", f"{version} scores beside {self.scorer.package.version} for {wanted} records")
            return False
        self._switch(candidate, sha, version, current)
        return True

    def _switch(self, candidate: Scorer, sha: str, version: str, current: Any) -> None:
        record = {"sha256": sha, "version": version, "previous": current}
        _write_atomic(os.path.join(self.state, CURRENT), (json.dumps(record, indent=2) + "\n").encode())
        self.previous, self.scorer = self.scorer, candidate
        self._since_switch = [0, 0]
        self.shadow, self._shadow_plan = None, {}
        self._status("switched", f"{self.options.channel} now serves {version}", previous_version=self.previous.package.version)

    def compare_shadow(self, live_lines: list[bytes], shadow_lines: list[bytes]) -> bool:
        """Count how the shadowed version's prediction lines agree with the live ones for the same records;
        once enough were seen, switch to it (agreement at least shadow_agreement) or refuse it.
        Returns True when the scorer changed."""
        if self.shadow is None:
            return False
        for live, other in zip(live_lines, shadow_lines):
            a, b = json.loads(live), json.loads(other)
            self._shadow_seen[0] += 1
            self._shadow_seen[1] += int(a.get("label", a.get("value")) == b.get("label", b.get("value")))
        seen, agreeing = self._shadow_seen
        plan = self._shadow_plan
        if seen < plan["records"]:
            return False
        share = agreeing / seen
        if share >= self.options.shadow_agreement:
            self._switch(self.shadow, plan["sha256"], plan["version"], plan["current"])
            return True
        self.shadow, self._shadow_plan = None, {}
        self._refuse(plan["sha256"], plan["version"], f"in shadow it agreed with the live version on {share:.1%} of "
                                                      f"{seen} records (needs {self.options.shadow_agreement:.0%})")
        return False

    def _fetch(self, pointer: dict[str, Any], sha: str) -> Scorer:
        target = os.path.join(self.state, VERSIONS, f"{sha}.edgepack")
        if not os.path.exists(target):
            data = _read(self.options.registry, str(pointer["archive"]), MAX_ARCHIVE_BYTES)
            if sha256_bytes(data) != sha:
                raise PackageError("the downloaded archive does not match the channel's sha256", where=str(pointer["archive"]))
            _write_atomic(target, data)
        scorer = Scorer.load(target, trust=self.trust)
        if scorer.package.name != self.model:
            raise PackageError(f"the channel serves model {scorer.package.name!r}, not {self.model!r}", where=target)
        return scorer

    def observe(self, scored: int, rejected: int) -> bool:
        """After a file: count its records; roll back when the new version rejects too many.
        Returns True when the scorer changed back."""
        if self.previous is None:
            return False
        self._since_switch[0] += scored
        self._since_switch[1] += rejected
        total = sum(self._since_switch)
        if total < self.options.watch_records:
            return False
        rate = self._since_switch[1] / total
        failed = self.scorer
        if rate <= self.options.max_rejected_rate:
            self.previous = None  # watched long enough: the new version stays
            return False
        current = self._json(CURRENT) or {}
        sha = str(current.get("sha256", ""))  # the version switched to: the archive current.json names
        back = current.get("previous")
        if back:
            _write_atomic(os.path.join(self.state, CURRENT), (json.dumps(back, indent=2) + "\n").encode())
        else:
            os.remove(os.path.join(self.state, CURRENT))
        self.scorer, self.previous = self.previous, None
        self._refuse(sha, failed.package.version, f"rolled back: {rate:.0%} of the first {total} records rejected "
                                                  f"(limit {self.options.max_rejected_rate:.0%})")
        return True


def _archive_of(scorer: Scorer) -> bytes:
    """The bytes a version is known by: its archive file, or for a package directory its manifest."""
    location = scorer.package.location
    if os.path.isfile(location):
        with open(location, "rb") as handle:
            return handle.read()
    return scorer.package.read_file("manifest.json")
