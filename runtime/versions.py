"""Several loaded versions of one model and the route traffic follows: the one version-switching mechanism
(`edgepack-serve` uses it; a fleet update swaps device versions through the same calls).

A version enters only whole: `load_verified` opens the package, checks its checksums, loads the
artifact and runs its self-test, and only then may `add` register it, so no request can reach a
half-loaded model. A `Route` is immutable and replaced in one reference
assignment, so every request reads one route: the switch is atomic without a lock on the scoring path.
Versions stay loaded after a switch (instant rollback) until `remove`, which refuses a routed version.

    versions = VersionSet("churn")
    scorer_v1 = load_verified("churn-v1.edgepack")
    versions.add("1", scorer_v1)            # the first version added goes live
    versions.add("2", scorer_v2)
    versions.switch(Route(live="1", canary="2", percent=10))   # 10 % of requests to version 2
    versions.switch(Route(live="1", shadow="2"))                # 2 scores the same requests, answers none
    version, scorer = versions.pick()                           # per request
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from .errors import EdgepackError, UsageError

if TYPE_CHECKING:
    from .scorer import Scorer

T = TypeVar("T")


@dataclass(frozen=True)
class Route:
    """Where requests go. `canary` takes `percent` of them (0-100, spread evenly: with 10, one request
    in ten); `shadow` scores every request without answering it."""

    live: str
    canary: str | None = None
    percent: float = 0.0
    shadow: str | None = None

    def versions(self) -> set[str]:
        return {v for v in (self.live, self.canary, self.shadow) if v is not None}

    def as_dict(self) -> dict[str, object]:
        return {"live": self.live, "canary": self.canary, "percent": self.percent, "shadow": self.shadow}


class VersionSet(Generic[T]):
    """The loaded versions of one model (version string -> loaded object) and its current route."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._loaded: dict[str, T] = {}
        self._route: Route | None = None
        self._lock = threading.Lock()  # serialises changes; readers take the current references
        self._credit = 0.0  # the canary split's running share (an exact 1-in-N spread, no randomness)

    @property
    def route(self) -> Route:
        route = self._route
        if route is None:
            raise UsageError(f"model {self.name!r} has no version loaded")
        return route

    @property
    def versions(self) -> dict[str, T]:
        return dict(self._loaded)

    def get(self, version: str) -> T:
        try:
            return self._loaded[version]
        except KeyError:
            raise UsageError(f"model {self.name!r} has no version {version!r} loaded",
                             fix=f"loaded versions: {', '.join(self._loaded) or 'none'}") from None

    def add(self, version: str, item: T) -> None:
        """Register a loaded, verified version. The first one goes live. Refuses a version already loaded
        (replacing it in place would change what a routed name means)."""
        with self._lock:
            if version in self._loaded:
                raise UsageError(f"model {self.name!r} version {version!r} is loaded twice",
                                 fix="give each package of a model a different version")
            self._loaded = {**self._loaded, version: item}
            if self._route is None:
                self._route = Route(live=version)

    def remove(self, version: str) -> None:
        with self._lock:
            self.get(version)
            if self._route is not None and version in self._route.versions():
                raise UsageError(f"version {version!r} of {self.name!r} is routed ({self._route.as_dict()})",
                                 fix="switch traffic away from it first")
            self._loaded = {k: v for k, v in self._loaded.items() if k != version}

    def switch(self, route: Route) -> Route:
        """Make `route` current (atomically) and return the previous one. Every version it names must be
        loaded; `percent` must be within 0-100."""
        if not 0.0 <= route.percent <= 100.0:
            raise UsageError(f"percent must be within 0 and 100, got {route.percent}")
        if route.canary is None and route.percent:
            raise UsageError("a percent needs a canary version")
        if route.canary is not None and route.canary == route.live:
            raise UsageError("the canary must differ from the live version")
        with self._lock:
            for version in route.versions():
                self.get(version)
            previous, self._route = self.route, route
            self._credit = 0.0
            return previous

    def pick(self) -> tuple[str, T, Route]:
        """The version that scores the next request, its loaded object and the route it came from."""
        route = self.route
        version = route.live
        if route.canary is not None and route.percent:
            # Not locked: under concurrent picks the split may drift by a request, never to an unrouted version.
            self._credit += route.percent
            if self._credit >= 100.0:
                self._credit -= 100.0
                version = route.canary
        return version, self._loaded[version], route


def load_verified(path: str, artifact: str | None = None, trust: str | None = None) -> Scorer:
    """Open a package, verify its checksums (and, with `trust`, its signature: runtime/signing.py), load its
    ONNX artifact and pass its self-test: a version ready to `add`. Raises PackageError (exit 4) for an
    invalid or wrongly signed package, EdgepackError (exit 1) when the self-test is out of the package's
    tolerance."""
    from .scorer import Scorer  # deferred: onnxruntime loads here, not when a caller only routes

    scorer = Scorer.load(path, artifact, trust=trust)
    result = scorer.selftest()
    if not result.passed:
        raise EdgepackError(f"package {scorer.package.name} {scorer.package.version} failed its self-test "
                            f"(max error {result.max_error:.3g}, tolerance {result.tolerance})", where=path,
                            fix="rebuild the package, or run `edgepack-score selftest` on it for the details")
    return scorer
