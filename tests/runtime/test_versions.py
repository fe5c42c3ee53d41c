"""runtime/versions.py: the version-switching mechanism the service (and fleet updates) use."""

from __future__ import annotations

import pytest
from edgepack.runtime.errors import UsageError
from edgepack.runtime.versions import Route, VersionSet


def test_first_version_goes_live_and_switches_are_checked():
    versions: VersionSet[str] = VersionSet("churn")
    with pytest.raises(UsageError, match="no version loaded"):
        versions.pick()
    versions.add("1", "scorer-1")
    versions.add("2", "scorer-2")
    assert versions.route == Route(live="1") and versions.pick()[:2] == ("1", "scorer-1")
    with pytest.raises(UsageError, match="loaded twice"):
        versions.add("2", "other")
    for bad, words in [(Route(live="3"), "no version '3'"), (Route(live="1", canary="2", percent=101), "percent"),
                       (Route(live="1", percent=10), "needs a canary"), (Route(live="1", canary="1", percent=5), "differ")]:
        with pytest.raises(UsageError, match=words):
            versions.switch(bad)
    assert versions.route == Route(live="1")  # a refused switch changes nothing
    assert versions.switch(Route(live="2")) == Route(live="1")
    assert versions.pick()[0] == "2"


def test_canary_split_is_exact_and_routed_versions_cannot_be_removed():
    versions: VersionSet[int] = VersionSet("m")
    for v in "123":
        versions.add(v, int(v))
    versions.switch(Route(live="1", canary="2", percent=30, shadow="3"))
    picks = [versions.pick()[0] for _ in range(100)]
    assert picks.count("2") == 30 and picks.count("1") == 70
    assert all(route.shadow == "3" for *_, route in [versions.pick()])
    with pytest.raises(UsageError, match="routed"):
        versions.remove("3")
    versions.switch(Route(live="1"))
    versions.remove("3")
    assert sorted(versions.versions) == ["1", "2"]
