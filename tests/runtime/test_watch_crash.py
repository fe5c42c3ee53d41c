"""Watch folder, exactly once: SIGKILL before every filesystem step, with a GetFile-like consumer.

The watcher runs under an audit hook (the same mechanism as tests/runtime/test_imports.py) that counts
the filesystem operations it makes under the test's folder (open, rename, remove, mkdir, scandir...) and
SIGKILLs the process just before the k-th one, for every k of a whole run: so a kill lands between every
two steps of the protocol, between the commit and the publish, between the publish and the release, in
recovery itself. A consumer takes every output as GetFile does (read, then delete), concurrently, and at
each kill; then the watcher restarts (and is killed again, in its recovery) until it finishes. Every
record must then have been delivered exactly once, as a prediction or an error line.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from scorer_helpers import SCORER, read_lines

# A fork server: loads the scorer once, then for each request forks a watcher that SIGKILLs itself just
# before its k-th filesystem operation under `root` (k = 0: never), and answers with the child's exit code.
# The session runs single-threaded (Scorer.load's default), so a forked child can use it.
FORK_SERVER = r"""
import json, os, signal, sys, traceback
from edgepack.runtime.errors import EdgepackError
from edgepack.runtime.scorer import Scorer
from edgepack.runtime.watch import WatchOptions, watch
EVENTS = {"open", "os.rename", "os.remove", "os.mkdir", "os.rmdir", "os.scandir", "os.listdir", "os.link",
          "os.truncate", "os.chmod"}
scorer = Scorer.load(sys.argv[1])

def killer(root, kill_at, log):
    seen = 0
    def hook(event, args):
        nonlocal seen
        if event not in EVENTS or not args or not isinstance(args[0], (str, bytes, os.PathLike)):
            return
        path = os.path.abspath(os.fsdecode(args[0]))
        if not path.startswith(root) or path == log:
            return
        seen += 1
        if log:
            with open(log, "a", encoding="utf-8", errors="backslashreplace") as handle:
                handle.write(f"{seen} {event} {os.path.relpath(path, root)}\n")
        if seen == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
    return hook

for line in sys.stdin:
    job = json.loads(line)
    pid = os.fork()
    if pid == 0:
        sys.addaudithook(killer(job["root"], job["kill_at"], job["log"]))
        try:
            code = watch(scorer, os.path.join(job["root"], "in"), os.path.join(job["root"], "out"),
                         WatchOptions(once=True, min_age=0, id_field="id", quiet=True))
        except EdgepackError as err:
            print(err, file=sys.stderr, flush=True)
            code = err.exit_code
        except BaseException:
            traceback.print_exc()
            code = 99
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    print(os.waitstatus_to_exitcode(status), flush=True)
"""


class Watchers:
    """Runs watcher processes through the fork server (a fresh process per run, as after a restart)."""

    def __init__(self, package: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", FORK_SERVER, str(package)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def run(self, root: Path, kill_at: int, log: str = "") -> int:
        """One watcher over root/in -> root/out, killed before its `kill_at`-th step; its exit code."""
        self.proc.stdin.write(json.dumps({"root": str(root), "kill_at": kill_at, "log": log}) + "\n")
        self.proc.stdin.flush()
        code = int(self.proc.stdout.readline())
        assert code in (0, -9), f"the watcher exited {code} (see the captured stderr)"
        return code

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


class GetFile:
    """Takes every output as MiNiFi's GetFile does with `Keep Source File: false` and the File Filter of
    docs/minifi.md (`[^.].*\\.jsonl`): read the whole file, then delete it. Safe to call from two threads."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.delivered: Counter[str] = Counter()  # record id -> times delivered
        self.files: list[tuple[str, list[str]]] = []  # (name, record ids) of each file taken
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def take(self) -> None:
        with self._lock:
            if not self.folder.is_dir():
                return
            for path in sorted(self.folder.iterdir()):
                if path.name.startswith(".") or not path.name.endswith(".jsonl") or not path.is_file():
                    continue
                ids = [line["id"] for line in read_lines(path)]
                path.unlink()
                self.files.append((path.name, ids))
                self.delivered.update(ids)

    def _poll(self) -> None:
        while not self._stop.wait(0.002):
            self.take()

    def __enter__(self) -> GetFile:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.take()


def _inputs(folder: Path, records: list[dict]) -> tuple[set[str], set[str]]:
    """Three inputs whose names invite collisions; returns (ids to score, ids to reject)."""
    folder.mkdir(parents=True)
    good, bad = set(), set()
    for name in ("x.jsonl", "x.errors.jsonl", "y.csv"):
        rows = []
        for j, rec in enumerate(records):
            rec = {"id": f"{name}-{j}", **rec}
            if j == 1 and name != "y.csv":
                rec["monthly_charges"] = "n/a"
                bad.add(rec["id"])
            else:
                good.add(rec["id"])
            rows.append(rec)
        if name.endswith(".csv"):
            header = list(rows[0])
            text = ",".join(header) + "\n" + "".join(",".join(str(r[h]) for h in header) + "\n" for r in rows)
        else:
            text = "".join(json.dumps(r) + "\n" for r in rows)
        (folder / name).write_text(text)
    return good, bad


@pytest.fixture(scope="module")
def watchers(strict_package):
    server = Watchers(strict_package.path)
    yield server
    server.close()


@pytest.fixture(scope="module")
def crash_case(strict_package, watchers, tmp_path_factory):
    """The inputs, and the list of filesystem steps of an uninterrupted run over them."""
    template = tmp_path_factory.mktemp("crash-template")
    good, bad = _inputs(template / "in", strict_package.records(4))
    probe = tmp_path_factory.mktemp("crash-probe")
    shutil.copytree(template / "in", probe / "in")
    log = probe / "steps.log"
    assert watchers.run(probe, 0, str(log)) == 0
    return template, good, bad, log.read_text().splitlines()


@pytest.mark.parametrize("take_before_restart", [True, False], ids=["consumer-took-outputs", "outputs-waiting"])
def test_sigkill_before_every_step_delivers_every_record_exactly_once(watchers, crash_case, tmp_path,
                                                                      take_before_restart):
    template, good, bad, steps = crash_case
    # The probe saw the steps that matter: three claims (renames in IN), five outputs published (in OUT).
    renames = Counter(step.split()[2].rsplit("/", 1)[0] for step in steps if step.split()[1] == "os.rename")
    assert (renames["in"], renames["out"]) == (3, 5), renames
    for kill_at in range(1, len(steps) + 1):
        root = tmp_path / f"kill-{kill_at:03d}"
        shutil.copytree(template / "in", root / "in")
        with GetFile(root / "out") as consumer:
            assert watchers.run(root, kill_at) == -9
            if take_before_restart:
                consumer.take()
            # The restart is killed too, just past its set-up (folders, locks: 6 steps), in its recovery or
            # early in its new work, then a last one runs to the end.
            for again in (7 + kill_at % 10, 0):
                watchers.run(root, again)
        where = f"killed before step {steps[kill_at - 1]!r}"
        assert set(consumer.delivered) == good | bad, f"{where}: missing {sorted(good | bad - set(consumer.delivered))}"
        assert set(consumer.delivered.values()) == {1}, f"{where}: delivered twice {consumer.delivered.most_common(3)}"
        for name, ids in consumer.files:  # a predictions file is never named like an error report
            assert set(ids) <= (bad if name.endswith(".errors.jsonl") else good), f"{where}: {name} holds {ids}"
        inbox = root / "in"
        assert sorted(p.name for p in (inbox / "done").iterdir()) == ["x.errors.jsonl", "x.jsonl", "y.csv"], where
        assert not list((inbox / ".processing").iterdir()) and not list((root / "out").glob(".*.tmp")), where


def _count(folder: Path) -> int:
    return len(list(folder.iterdir())) if folder.is_dir() else 0


def test_random_sigkills_of_the_real_command_with_getfile_running(strict_package, tmp_path):
    """The issue's reproduction: `edgepack-score --watch` killed at random moments while a consumer takes
    every output; each record must reach the consumer exactly once."""
    inbox = tmp_path / "in"
    good, bad = set(), set()
    records = strict_package.records(20)
    inbox.mkdir()
    for i in range(60):
        rows = []
        for j, rec in enumerate(records):
            rec = {"id": f"f{i:02d}-{j}", **rec}
            if j % 6 == 5:
                rec["contract"] = 3
            (bad if j % 6 == 5 else good).add(rec["id"])
            rows.append(json.dumps(rec))
        (inbox / f"f{i:02d}.jsonl").write_text("\n".join(rows) + "\n")
    args = [*SCORER, str(strict_package.path), "--watch", str(inbox), "--out", str(tmp_path / "out"),
            "--id-field", "id", "--min-age", "0", "--interval", "0.02", "--quiet"]
    rng = random.Random(15)
    with GetFile(tmp_path / "out") as consumer:
        for _ in range(12):
            # Killed a random 0-15 ms after this run has released 1-3 files: inside some file's cycle.
            released = _count(inbox / "done") + rng.randint(1, 3)
            proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            deadline = time.monotonic() + 60
            while _count(inbox / "done") < released and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.001)
            time.sleep(rng.uniform(0, 0.015))
            proc.send_signal(signal.SIGKILL)
            assert proc.wait() == -9, proc.stderr.read()
        final = subprocess.run([*args, "--once"], capture_output=True, timeout=120)
        assert final.returncode == 0, final.stderr
    assert set(consumer.delivered) == good | bad and set(consumer.delivered.values()) == {1}, \
        consumer.delivered.most_common(3)
    assert len(list((inbox / "done").iterdir())) == 60
