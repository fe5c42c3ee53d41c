"""A device following a registry channel (runtime/follow.py), against a real registry directory written
by the toolchain (edgepack publish / promote). Outcomes are hand-worked: a signed, verified, self-tested
version is switched to; a tampered, unsigned or self-test-failing one never is; a version rejecting
too many records after the switch is rolled back; a restart resumes on the recorded version."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from edgepack.runtime import Scorer
from edgepack.runtime.errors import EXIT_OK
from edgepack.runtime.follow import CURRENT, REFUSED, STATUS, Follower, FollowOptions
from edgepack.runtime.package import sha256_bytes
from edgepack.runtime.signing import TrustSet
from edgepack.toolchain.cli import main as edgepack
from edgepack.toolchain.registry.registry import Registry


@pytest.fixture
def setup(numeric_package, tmp_path):
    assert edgepack(["keygen", str(tmp_path / "keys" / "release")]) == EXIT_OK
    key = tmp_path / "keys" / "release"
    registry = Registry(str(tmp_path / "registry"))

    def version(number: str, edit=None) -> Path:
        pkg = tmp_path / f"v{number}"
        shutil.copytree(numeric_package.path, pkg)
        manifest = json.loads((pkg / "manifest.json").read_text())
        manifest["model"]["version"] = number
        (pkg / "manifest.json").write_text(json.dumps(manifest, indent=2))
        if edit:
            edit(pkg)
        assert edgepack(["sign", str(pkg), "--key", str(key)]) == EXIT_OK
        registry.publish(pkg, "ci")
        return pkg

    v1 = version("1")
    scorer = Scorer.load(v1, trust=key.parent)
    options = FollowOptions(registry=str(tmp_path / "registry"), channel="production", every=0, watch_records=50)
    follower = Follower.start(scorer, options, TrustSet.load(key.parent), str(tmp_path / "state"))
    return {"registry": registry, "key": key, "version": version, "follower": follower, "tmp": tmp_path,
            "options": options, "v1": v1}


def _status(setup) -> dict:
    return json.loads((setup["tmp"] / "state" / STATUS).read_text())


def test_a_promoted_signed_version_is_switched_to_between_files(setup):
    follower, registry = setup["follower"], setup["registry"]
    assert follower.poll() is False or follower.scorer.package.version == "1"
    setup["version"]("2")
    registry.promote("numeric", "2", "production", setup["key"], "alice")
    assert follower.poll() is True
    assert follower.scorer.package.version == "2"
    assert _status(setup)["event"] == "switched"
    assert follower.poll() is False  # nothing new
    # a restart resumes on the recorded, verified version, not on the package given on the command line
    again = Follower.start(Scorer.load(setup["v1"]), setup["options"], follower.trust, str(setup["tmp"] / "state"))
    assert again.scorer.package.version == "2"


def _fail_selftest(pkg: Path) -> None:
    golden = json.loads((pkg / "golden.json").read_text())
    golden["outputs"]["probabilities"] = [[1 - p[0], 1 - p[1]] for p in golden["outputs"]["probabilities"]]
    data = (json.dumps(golden) + "\n").encode()
    (pkg / "golden.json").write_bytes(data)
    manifest = json.loads((pkg / "manifest.json").read_text())
    manifest["golden"]["sha256"] = sha256_bytes(data)
    (pkg / "manifest.json").write_text(json.dumps(manifest, indent=2))


def test_a_version_failing_its_self_test_is_never_used(setup):
    follower, registry = setup["follower"], setup["registry"]
    setup["version"]("2", _fail_selftest)
    registry.promote("numeric", "2", "production", setup["key"], "alice")
    assert follower.poll() is False
    assert follower.scorer.package.version == "1"
    assert "self-test failed" in _status(setup)["reason"]
    assert follower.poll() is False  # refused once, not retried
    assert len(json.loads((setup["tmp"] / "state" / REFUSED).read_text())) == 1


def test_a_tampered_archive_or_pointer_is_refused(setup):
    follower, registry, tmp = setup["follower"], setup["registry"], setup["tmp"]
    setup["version"]("2")
    pointer = registry.promote("numeric", "2", "production", setup["key"], "alice")
    archive = tmp / "registry" / pointer["archive"]
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 1
    archive.write_bytes(bytes(data))
    assert follower.poll() is False
    assert follower.scorer.package.version == "1"
    assert "does not match the channel's sha256" in _status(setup)["reason"]
    # a pointer rewritten by someone without the key
    channel = tmp / "registry" / "models" / "numeric" / "channels" / "production.json"
    body = json.loads(channel.read_text())
    body["sha256"] = "0" * 64
    channel.write_text(json.dumps(body))
    follower._next_poll = 0
    assert follower.poll() is False
    assert _status(setup)["event"] == "channel pointer refused"


def test_an_unsigned_version_is_refused(setup, tmp_path):
    follower, registry = setup["follower"], setup["registry"]
    pkg = setup["version"]("2")
    # publish a version 3 that nobody signed
    unsigned = tmp_path / "v3"
    shutil.copytree(pkg, unsigned)
    (unsigned / "signatures.json").unlink()
    manifest = json.loads((unsigned / "manifest.json").read_text())
    manifest["model"]["version"] = "3"
    (unsigned / "manifest.json").write_text(json.dumps(manifest, indent=2))
    registry.publish(unsigned, "mallory")
    registry.promote("numeric", "3", "production", setup["key"], "mallory")
    assert follower.poll() is False
    assert "not signed" in _status(setup)["reason"]


def test_a_version_rejecting_too_many_records_is_rolled_back(setup):
    follower, registry = setup["follower"], setup["registry"]
    setup["version"]("2")
    registry.promote("numeric", "2", "production", setup["key"], "alice")
    assert follower.poll() is True
    assert follower.observe(scored=10, rejected=20) is False  # not enough records yet
    assert follower.observe(scored=0, rejected=30) is True  # 50 of 60 rejected: over the 50 % limit
    assert follower.scorer.package.version == "1"
    assert "rolled back" in _status(setup)["reason"]
    assert not (setup["tmp"] / "state" / CURRENT).exists()
    follower._next_poll = 0
    assert follower.poll() is False  # the rolled-back version is not taken again


def test_a_version_that_behaves_stays(setup):
    follower, registry = setup["follower"], setup["registry"]
    setup["version"]("2")
    registry.promote("numeric", "2", "production", setup["key"], "alice")
    assert follower.poll() is True
    assert follower.observe(scored=100, rejected=1) is False
    assert follower.previous is None and follower.scorer.package.version == "2"


def test_edgepack_score_follows_a_channel_in_watch_mode(setup, numeric_package, tmp_path):
    """The real CLI: version 1 scores the first file; after a promotion, the next file is scored by
    version 2, and each output line names the version that scored it."""
    import os
    import subprocess
    import sys

    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    records = "".join(json.dumps(r) + "\n" for r in numeric_package.records(5))
    registry_dir, key = setup["tmp"] / "registry", setup["key"]
    command = [sys.executable, "-m", "edgepack.runtime", str(setup["v1"]), "--watch", str(inbox), "--out", str(out),
               "--once", "--min-age", "0", "--follow", str(registry_dir), "--every", "1", "--trust", str(key.parent)]
    (inbox / "a.jsonl").write_text(records)
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=os.environ)
    assert done.returncode == 0, done.stderr
    setup["version"]("2")
    setup["registry"].promote("numeric", "2", "production", key, "alice")
    (inbox / "b.jsonl").write_text(records)
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=os.environ)
    assert done.returncode == 0, done.stderr
    versions = {name: {json.loads(line)["version"] for line in (out / name).read_text().splitlines()}
                for name in ("a.jsonl", "b.jsonl")}
    assert versions == {"a.jsonl": {"1"}, "b.jsonl": {"2"}}
    assert json.loads((inbox / ".follow" / STATUS).read_text())["event"] == "switched"
    without_trust = subprocess.run(command[:-2], capture_output=True, text=True, timeout=120)
    assert without_trust.returncode == 2 and "--follow needs --trust" in without_trust.stderr


def _opposite_model(numeric_package, tmp_path: Path):
    """An edit for `version` that swaps the package for one of a model trained on the opposite labels:
    a whole, self-consistent package (its self-test passes) whose every label disagrees with version 1."""
    import joblib
    from edgepack.toolchain.build import BuildOptions, build
    from sklearn.base import clone

    frame = numeric_package.frame.copy()
    frame["churn"] = 1 - frame["churn"]
    model = clone(numeric_package.model).fit(frame[numeric_package.features], frame["churn"])
    joblib.dump(model, tmp_path / "opposite.joblib")
    frame[numeric_package.features + ["churn"]].to_csv(tmp_path / "opposite.csv", index=False)
    built = build(BuildOptions(model=tmp_path / "opposite.joblib", sample=tmp_path / "opposite.csv",
                               out=tmp_path / "opposite", label_column="churn", name="numeric", version="2", quiet=True))

    def edit(pkg: Path) -> None:
        shutil.rmtree(pkg)
        shutil.copytree(built.path, pkg)

    return edit


@pytest.mark.parametrize("agreeing", [True, False], ids=["agreeing-version-switched-in", "disagreeing-version-refused"])
def test_shadow_before_switch(setup, numeric_package, tmp_path, agreeing):
    """Promoted with --shadow 5: the candidate scores beside the live version without answering; it is
    switched in only when its labels agree (an identical model), and refused when they do not (a model
    trained on the opposite labels)."""
    import subprocess
    import sys

    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    records = "".join(json.dumps(r) + "\n" for r in numeric_package.records(6))
    key = setup["key"]
    setup["version"]("2", None if agreeing else _opposite_model(numeric_package, tmp_path))
    assert edgepack(["registry", "promote", str(setup["tmp"] / "registry"), "numeric", "2", "--channel", "production",
                     "--key", str(key), "--shadow", "5"]) == EXIT_OK
    command = [sys.executable, "-m", "edgepack.runtime", str(setup["v1"]), "--watch", str(inbox), "--out", str(out),
               "--once", "--min-age", "0", "--follow", str(setup["tmp"] / "registry"), "--trust", str(key.parent)]
    for name in ("a.jsonl", "b.jsonl"):
        (inbox / name).write_text(records)
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    versions = {name: {json.loads(line)["version"] for line in (out / name).read_text().splitlines()}
                for name in ("a.jsonl", "b.jsonl")}
    status = json.loads((inbox / ".follow" / STATUS).read_text())
    if agreeing:
        assert versions == {"a.jsonl": {"1"}, "b.jsonl": {"2"}} and status["event"] == "switched"
    else:
        assert versions == {"a.jsonl": {"1"}, "b.jsonl": {"1"}} and status["event"] == "refused"
        assert "in shadow it agreed" in status["reason"]


def test_sigkill_at_any_moment_leaves_a_whole_verified_version(setup, numeric_package, tmp_path):
    """Kill the following scorer at random moments while it fetches, verifies and switches: after every
    kill, current.json is absent or names an archive that is whole (its sha256) and signed; the final run
    ends on version 2 and every output line was scored by version 1 or 2."""
    import random
    import signal
    import subprocess
    import sys
    import time

    inbox, out, state = tmp_path / "in", tmp_path / "out", tmp_path / "in" / ".follow"
    inbox.mkdir()
    key = setup["key"]
    setup["version"]("2")
    setup["registry"].promote("numeric", "2", "production", key, "alice")
    command = [sys.executable, "-m", "edgepack.runtime", str(setup["v1"]), "--watch", str(inbox), "--out", str(out),
               "--min-age", "0", "--interval", "0.05", "--follow", str(setup["tmp"] / "registry"), "--every", "1",
               "--trust", str(key.parent)]
    rng = random.Random(20261201)
    records = "".join(json.dumps(r) + "\n" for r in numeric_package.records(3))
    trust = TrustSet.load(key.parent)
    for i in range(8):
        (inbox / f"f{i}.jsonl").write_text(records)
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2, 1.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        current = state / CURRENT
        if current.exists():
            record = json.loads(current.read_text())
            archive = state / "versions" / f"{record['sha256']}.edgepack"
            assert sha256_bytes(archive.read_bytes()) == record["sha256"]
            Scorer.load(archive, trust=trust)
    done = subprocess.run([*command, "--once"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads((state / CURRENT).read_text())["version"] == "2"
    seen = {json.loads(line)["version"] for f in out.glob("*.jsonl") for line in f.read_text().splitlines()}
    assert seen <= {"1", "2"} and len(list(out.glob("f*.jsonl"))) == 8
