"""Benchmark the device scorer against baselines measured in the same run (`make bench`).

    python benchmarks/scorer.py [--churn build/churn] [--work build/bench] [--runs 7] [--records 50000]
                                [--json build/bench/scorer.json] [--plot build/bench/scorer.svg]

1. Cold start to first prediction, whole process (wall and peak RSS, medians of --runs):
   `edgepack-score` on one churn record vs bare `python -c "import onnxruntime"`, in a device install
   (build/bench/device-venv: `pip install .` and nothing else, the targets' setting) and in the toolchain
   venv (numpy and onnxruntime pinned older for tensorflowjs), and vs a joblib + scikit-learn scorer.
2. Persistent throughput (records/s, in a loaded process, paired rounds) on a 30-feature logistic
   regression, 5 rounds run back to back: edgepack's JSONL path (orjson, and the standard-library path) vs a naive
   json.loads -> numpy -> onnxruntime (batches of 512) -> json.dumps loop; edgepack's CSV path.
3. In-process single-record latency p50/p99 of `Scorer.predict_array` (churn) vs scikit-learn's
   `predict_proba` on a one-row DataFrame, with onnxruntime's `session.run` and its binding (`_sess.run`,
   no Python wrapper) on prepared tensors for reference: rounds of 2,000 calls taking turns.
4. The cost of `--stats` (issue 20): JSONL throughput with and without a statistics collector (paired
   rounds in alternating order, one window per run written at its end) on the 30-feature logistic
   regression and on churn records (numbers and categories); the counting alone on the same batches
   against the stream without it (best of 7 each); the collector's memory as tracemalloc's peak.

Each measurement runs in its own process (`--worker KIND`) so that imports do not leak between them.
Targets (issue 3): cold start <= 1.3x import onnxruntime and <= 60 MiB; JSONL >= 2x naive;
CSV >= 300,000 records/s; predict_array p99 <= 30 us. Issue 20: --stats costs <= 10 % of JSONL
throughput and <= 2 MiB. `--stats-only` measures that alone (needs only churn.joblib, sample.csv and
holdout.csv in --churn).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
sys.path.insert(0, str(ROOT / "device_tests"))
from device_support import base_python, clean_env, copy_source  # noqa: E402  (the device tests' own install helpers)

FEATURES = 30
LATENCY_ROUNDS = 15


# -- fixtures: the 30-feature logistic regression package and its data ----------------------------------
def lr30_package(work: Path) -> Path:
    """Build (once) a package of a logistic regression on 30 numeric features, fitted on a numpy array."""
    package = work / "lr30" / "package"
    if (package / "manifest.json").exists() and (package / "profile.json").exists():
        return package
    shutil.rmtree(package, ignore_errors=True)  # built before packages carried a reference profile
    import joblib
    import numpy as np
    import pandas as pd
    from edgepack.toolchain.build import BuildOptions, build
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, FEATURES))
    y = (X @ rng.normal(size=FEATURES) + rng.normal(0, 0.5, 3000) > 0).astype(int)
    model = LogisticRegression(max_iter=500).fit(X, y)
    folder = work / "lr30"
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, folder / "lr30.joblib")
    frame = pd.DataFrame(X, columns=[f"f{i:02d}" for i in range(FEATURES)])
    frame["label"] = y
    frame.iloc[:1000].to_csv(folder / "sample.csv", index=False)
    build(BuildOptions(model=folder / "lr30.joblib", sample=folder / "sample.csv", out=package, label_column="label",
                       name="lr30", quiet=True))
    return package


def lr30_data(work: Path, records: int) -> tuple[Path, Path]:
    jsonl, csv_path = work / f"lr30_{records}.jsonl", work / f"lr30_{records}.csv"
    if jsonl.exists() and csv_path.exists():
        return jsonl, csv_path
    import numpy as np

    rng = np.random.default_rng(1)
    names = [f"f{i:02d}" for i in range(FEATURES)]
    X = np.round(rng.normal(size=(records, FEATURES)), 6).tolist()
    with open(jsonl, "w") as handle:
        for row in X:
            handle.write(json.dumps(dict(zip(names, row))) + "\n")
    with open(csv_path, "w") as handle:
        handle.write(",".join(names) + "\n")
        for row in X:
            handle.write(",".join(map(repr, row)) + "\n")
    return jsonl, csv_path


# -- workers: one measurement per process --------------------------------------------------------------
def naive_loop(package: str, data: str) -> tuple[Any, int]:
    """The baseline: json.loads per line -> numpy -> onnxruntime in batches of 512 -> json.dumps per line."""
    import numpy as np
    import onnxruntime as ort

    manifest = json.loads(Path(package, "manifest.json").read_text())
    art = manifest["artifacts"][0]
    (tensor,) = art["inputs"]
    names, dtype = tensor["features"], np.dtype(tensor["dtype"])
    classes = [str(c) for c in manifest["outputs"]["classes"]]
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(Path(package, art["file"])), options, providers=["CPUExecutionProvider"])
    prob_name = art["outputs"]["probabilities"]
    lines = Path(data).read_bytes().splitlines()

    def run() -> None:
        out = io.StringIO()
        batch: list[list[float]] = []

        def flush() -> None:
            probs = sess.run([prob_name], {tensor["name"]: np.array(batch, dtype=dtype)})[0]
            for p in probs:
                out.write(json.dumps({"label": classes[int(np.argmax(p))],
                                      "probabilities": {c: float(v) for c, v in zip(classes, p)}}) + "\n")
            batch.clear()

        for line in lines:
            record = json.loads(line)
            batch.append([record[n] for n in names])
            if len(batch) == 512:
                flush()
        if batch:
            flush()

    return run, len(lines)


def stream_loop(package: str, data: str, fmt: str, stats_dir: str | None = None) -> tuple[Any, int]:
    from edgepack.runtime import Scorer
    from edgepack.runtime.jsonlines import ACCELERATOR
    from edgepack.runtime.stats import StatsCollector
    from edgepack.runtime.stream import StreamOptions, StreamScorer

    scorer = Scorer.load(package)
    raw = Path(data).read_bytes()
    records = raw.count(b"\n") - (1 if fmt == "csv" else 0)

    def run() -> None:
        errors = io.StringIO()
        # --stats DIR with the default window (1h): one window written (and fsynced) at the end of the run
        stats = StatsCollector(scorer.package, stats_dir) if stats_dir else None
        counts = StreamScorer(scorer, io.BytesIO(), errors, StreamOptions(format=fmt), stats=stats).run(io.BytesIO(raw))
        if stats is not None:
            stats.close()
        assert counts.scored == records and not counts.rejected, errors.getvalue()[:500]

    run.parser = ACCELERATOR  # type: ignore[attr-defined]
    return run, records


def worker_throughput(package: str, jsonl: str, csv_path: str, rounds: str = "5") -> dict[str, Any]:
    """Naive loop, edgepack JSONL and edgepack CSV, run back to back round by round; the ratios are
    medians of each round's own ratio, so that a change in the machine's load between rounds (other
    processes share these cores) cancels out."""
    naive, n_naive = naive_loop(package, jsonl)
    ours, n_ours = stream_loop(package, jsonl, "jsonl")
    csv_run, n_csv = stream_loop(package, csv_path, "csv")
    rates: dict[str, list[float]] = {"naive": [], "jsonl": [], "csv": []}
    for _ in range(int(rounds)):
        for key, run, count in (("naive", naive, n_naive), ("jsonl", ours, n_ours), ("csv", csv_run, n_csv)):
            start = time.perf_counter()
            run()
            rates[key].append(count / (time.perf_counter() - start))
    out: dict[str, Any] = {k: statistics.median(v) for k, v in rates.items()}
    out["jsonl_ratio"] = statistics.median(a / b for a, b in zip(rates["jsonl"], rates["naive"]))
    out["csv_ratio"] = statistics.median(a / b for a, b in zip(rates["csv"], rates["naive"]))
    out["parser"] = ours.parser  # type: ignore[attr-defined]
    return out


def worker_stats(package: str, jsonl: str, rounds: str = "11") -> dict[str, Any]:
    """JSONL throughput without and with --stats (paired rounds, median of the per-round ratios), and the
    statistics' memory: tracemalloc's peak while a collector counts every batch of one run (its windows,
    the per-batch temporaries of binning, the JSON of each window written), batches prepared beforehand."""
    import tracemalloc

    from edgepack.runtime import Scorer
    from edgepack.runtime.stats import StatsCollector
    from edgepack.runtime.stream import StreamOptions, StreamScorer

    folder = tempfile.mkdtemp(prefix="edgepack-bench-stats-")
    try:
        plain, n = stream_loop(package, jsonl, "jsonl")
        with_stats, _ = stream_loop(package, jsonl, "jsonl", folder)
        rates: dict[str, list[float]] = {"plain": [], "stats": []}
        for i in range(int(rounds)):
            pair = (("plain", plain), ("stats", with_stats))
            for key, run in pair if i % 2 == 0 else pair[::-1]:  # alternating order: a load trend cancels out
                start = time.perf_counter()
                run()
                rates[key].append(n / (time.perf_counter() - start))
        windows = len(os.listdir(folder))

        class Keep:  # records each batch's observe() arguments
            def __init__(self) -> None:
                self.batches: list[Any] = []

            def observe(self, *args: Any) -> None:
                self.batches.append(args)

        scorer = Scorer.load(package)
        keep = Keep()
        StreamScorer(scorer, io.BytesIO(), io.StringIO(), StreamOptions(), stats=keep).run(io.BytesIO(Path(jsonl).read_bytes()))
        # the counting alone, on the same batches, against the whole stream without it (best of 7 each)
        observe_s, stream_s = [], []
        for _ in range(7):
            counting = StatsCollector(scorer.package, folder)
            start = time.perf_counter()
            for args in keep.batches:
                counting.observe(*args)
            observe_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            plain()
            stream_s.append(time.perf_counter() - start)
        tracemalloc.start()
        collector = StatsCollector(scorer.package, folder)
        for args in keep.batches:
            collector.observe(*args)
        collector.close()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        # the cost of each further window: one batch counted, then written (JSON, temporary, fsync, rename)
        writes = []
        for _ in range(15):
            collector.observe(*keep.batches[0])
            start = time.perf_counter()
            collector.flush()
            writes.append(time.perf_counter() - start)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"plain": statistics.median(rates["plain"]), "stats": statistics.median(rates["stats"]),
            "ratio": statistics.median(a / b for a, b in zip(rates["stats"], rates["plain"])),
            "memory_mib": peak / 2**20, "batches": len(keep.batches), "windows_per_run": windows / int(rounds),
            "window_write_ms": 1000 * statistics.median(writes), "counting_share": min(observe_s) / min(stream_s)}


def churn_stats_data(churn: Path, work: Path, records: int) -> tuple[Path, Path]:
    """A churn package with its reference profile (built here from the example's model and sample; the
    holdout as reference) and `records` holdout rows as JSON lines (the holdout repeated)."""
    package = work / "churn-profile" / "package"
    jsonl = work / f"churn_{records}.jsonl"
    if not (package / "profile.json").exists():
        from edgepack.toolchain.build import BuildOptions, build

        shutil.rmtree(package, ignore_errors=True)
        build(BuildOptions(model=churn / "churn.joblib", sample=churn / "sample.csv", out=package, label_column="churn",
                           name="churn", quiet=True, reference_data=churn / "holdout.csv"))
    if not jsonl.exists():
        import pandas as pd

        features = [f["name"] for f in json.loads((package / "manifest.json").read_text())["inputs"]["features"]]
        frame = pd.read_csv(churn / "holdout.csv")[features]
        rows = [{k: (None if v != v else v) for k, v in r.items()} for r in frame.to_dict(orient="records")]
        with open(jsonl, "w") as handle:
            for i in range(records):
                handle.write(json.dumps(rows[i % len(rows)]) + "\n")
    return package, jsonl


def stats_rows(fast_lr30: dict[str, Any], fast_churn: dict[str, Any], verdict: Any) -> list[list[Any]]:
    rows = []
    for name, fig in (("lr30", fast_lr30), ("churn", fast_churn)):
        rows.append([f"JSONL rec/s with --stats vs without ({name})", fig["stats"], fig["plain"], fig["ratio"],
                     ">= 0.9x (<= 10 % cost)", verdict(fig["ratio"] >= 0.9)])
        rows.append([f"  --stats memory (tracemalloc peak), MiB ({name})", fig["memory_mib"], "", "", "<= 2 MiB",
                     verdict(fig["memory_mib"] <= 2)])
        rows.append([f"  counting alone / stream without stats, best of 7 ({name})", fig["counting_share"], "", "",
                     "<= 0.1", verdict(fig["counting_share"] <= 0.1)])
        rows.append([f"  each further window written, ms ({name})", fig["window_write_ms"], "", "", "", ""])
    return rows


def worker_latency(package: str, holdout: str, model: str) -> dict[str, float]:
    import csv

    import numpy as np
    from edgepack.runtime import Scorer

    scorer = Scorer.load(package)
    with open(holdout, newline="") as handle:
        row = next(csv.DictReader(handle))
    types = {f.name: f.type for f in scorer.schema.features}
    values = [row[n] if types[n] == "category" else float(row[n]) for n in scorer.schema.names]
    X = np.array([values], dtype=object)

    def percentiles(call: Any, n: int) -> tuple[float, float]:
        for _ in range(min(n // 10, 500)):
            call()
        samples = []
        clock = time.perf_counter_ns
        for _ in range(n):
            t0 = clock()
            call()
            samples.append(clock() - t0)
        arr = np.array(samples) / 1000.0
        return float(np.percentile(arr, 50)), float(np.percentile(arr, 99))

    feeds = {name: (np.array([[row[n]]], dtype=object) if dt == "string" else np.array([[float(row[n])]], dtype=dt))
             for name, n, dt in ((t["name"], t["features"][0], t["dtype"]) for t in scorer.artifact.entry["inputs"])}
    session = scorer._session
    # Rounds of 2,000 calls, ours and bare onnxruntime taking turns, so that the machine's changing speed
    # (a shared VM here) hits both alike; each figure is the median over rounds of that round's percentile.
    # The binding under InferenceSession.run is onnxruntime's floor: its C++ run with no Python wrapper.
    binding = session._sess
    rounds: dict[str, list[tuple[float, float]]] = {"ours": [], "ort": [], "binding": []}
    for _ in range(LATENCY_ROUNDS):
        rounds["ours"].append(percentiles(lambda: scorer.predict_array(X), 2000))
        rounds["ort"].append(percentiles(lambda: session.run(["probabilities"], feeds), 2000))
        rounds["binding"].append(percentiles(lambda: binding.run(["probabilities"], feeds, None), 2000))
    ours, bare, floor = ([statistics.median(r[k] for r in rounds[key]) for k in (0, 1)]
                         for key in ("ours", "ort", "binding"))
    import joblib
    import pandas as pd

    pipeline = joblib.load(model)
    frame = pd.DataFrame([{n: v for n, v in zip(scorer.schema.names, values)}])
    sk = percentiles(lambda: pipeline.predict_proba(frame), 2000)
    return {"ours_p50": ours[0], "ours_p99": ours[1], "ort_p50": bare[0], "ort_p99": bare[1],
            "binding_p50": floor[0], "binding_p99": floor[1],
            "sklearn_p50": sk[0], "sklearn_p99": sk[1], "rounds": LATENCY_ROUNDS,
            "ours_p99_rounds": sorted(r[1] for r in rounds["ours"])}


def worker_cold(package: str, model: str, record: str, runs: str, device: str) -> dict[str, Any]:
    """Cold starts, launched from this small process: a child's peak RSS counts the memory of the process
    it was forked from, so the driver (which built packages with scikit-learn) must not launch them.
    The commands take turns, run by run, so that a change in the machine's load hits all alike.
    `device`: the python of the device install (device_venv); the others run in this toolchain venv."""
    data = record.encode()
    device_env = clean_env()
    scorer = str(Path(device).parent / "edgepack-score")
    commands = {"device_onnxruntime": ([device, "-c", "import onnxruntime"], b"", device_env),
                "device_edgepack": ([scorer, package, "--quiet"], data, device_env),
                "onnxruntime": ([PY, "-c", "import onnxruntime"], b"", None),
                "edgepack": ([PY, "-m", "edgepack.runtime", package, "--quiet"], data, None),
                "sklearn": ([PY, "-c", SKLEARN_SCORER, model], data, None)}
    samples: dict[str, list[tuple[float, float]]] = {k: [] for k in commands}
    for _ in range(int(runs)):
        for key, (cmd, stdin, env) in commands.items():
            samples[key].append(cold_start(cmd, stdin, env))
    out: dict[str, Any] = {k: (statistics.median(w for w, _ in v), statistics.median(m for _, m in v))
                           for k, v in samples.items()}
    # Where the peak memory is: anonymous (the process's own) vs file-backed (pages of shared libraries
    # such as onnxruntime's 30 MB one, shared with the page cache), read at the end of one run of each.
    probes = {"onnxruntime_split": (PY, ["onnxruntime"], None), "edgepack_split": (PY, ["edgepack", package, "--quiet"], None),
              "device_onnxruntime_split": (device, ["onnxruntime"], device_env),
              "device_edgepack_split": (device, ["edgepack", package, "--quiet"], device_env)}
    for key, (python, args, env) in probes.items():
        with tempfile.NamedTemporaryFile(suffix=".json") as report:
            proc = subprocess.run([python, "-c", MEMORY_PROBE, report.name, *args], capture_output=True, env=env,
                                  input=data if args[0] == "edgepack" else b"")
            if proc.returncode != 0:
                raise SystemExit(f"memory probe {key} failed: {proc.stderr.decode()[-500:]}")
            out[key] = json.loads(Path(report.name).read_text())
    versions = subprocess.run([device, "-c", "import numpy, onnxruntime; print(numpy.__version__, onnxruntime.__version__)"],
                              capture_output=True, text=True, env=device_env, check=True).stdout.split()
    out["device_versions"] = {"numpy": versions[0], "onnxruntime": versions[1]}
    return out


def device_venv(work: Path) -> Path:
    """The python of a venv holding only `pip install .` (numpy, onnxruntime, edgepack; no extras), as on
    a gateway, with whatever numpy and onnxruntime pip picks today. Made once; the project is reinstalled
    on every run (without its dependencies) so that the checkout's runtime is what is measured."""
    venv = work / "device-venv"
    python = venv / "bin" / "python"
    env = clean_env(PIP_DISABLE_PIP_VERSION_CHECK="1")
    fresh = not python.exists()
    if fresh:
        subprocess.run([base_python(), "-m", "venv", str(venv)], check=True, env=env)
    src = copy_source(work / "device-src")
    try:
        pip = [str(venv / "bin" / "pip"), "install", "--quiet", str(src)]
        done = subprocess.run(pip if fresh else [*pip, "--no-deps", "--force-reinstall"], capture_output=True, text=True,
                              env=env)
        if done.returncode != 0:  # pip's warnings are noise on success; on failure they are the story
            raise SystemExit(f"pip install into {venv} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    finally:
        shutil.rmtree(src, ignore_errors=True)
    return python


MEMORY_PROBE = """
import json, sys
report, what, *args = sys.argv[1:]
if what == "onnxruntime":
    import onnxruntime
else:
    from edgepack.runtime.cli import main
    main(args)
    sys.stdout.flush()
fields = {}
for line in open("/proc/self/status"):
    key, _, value = line.partition(":")
    if key in ("VmHWM", "RssAnon", "RssFile"):
        fields[key] = int(value.split()[0]) / 1024
open(report, "w").write(json.dumps(fields))
"""


SKLEARN_SCORER = """
import json, sys
import joblib, pandas as pd
model = joblib.load(sys.argv[1])
record = json.loads(sys.stdin.readline())
probs = model.predict_proba(pd.DataFrame([record]))[0]
print(json.dumps({"label": int(model.classes_[probs.argmax()]), "probabilities": probs.tolist()}))
"""


# -- the plot -----------------------------------------------------------------------------------------
def plot(bare: Any, ours: Any, sk: Any, split_bare: dict[str, float], split_ours: dict[str, float],
         fast: dict[str, Any], stdlib: dict[str, Any], lat: dict[str, Any], versions: dict[str, str]) -> str:
    """Bars against the targets; cold start and memory are the device install's (`bare`, `ours`)."""
    from svg_bars import Panel, bar_panels

    def split(figures: dict[str, float]) -> list[tuple[str, float]]:
        return [("anonymous", figures["RssAnon"]), ("file-backed", figures["VmHWM"] - figures["RssAnon"])]

    panels = [
        Panel(f"device install (onnxruntime {versions['onnxruntime']}): cold start to first prediction, ms", [("edgepack-score", ours[0]), ("import onnxruntime", bare[0])],
              target=(1.3 * bare[0], "1.3x import onnxruntime"), note=f"joblib + scikit-learn: {sk[0]:,.0f} ms"),
        Panel("device install: peak memory of the process, MiB", [("edgepack-score", ours[1]), ("import onnxruntime", bare[1])],
              target=(60.0, "60 MiB"), note=f"joblib + scikit-learn: {sk[1]:,.0f} MiB; light: file-backed pages",
              fmt="{:,.1f}", stacks={"edgepack-score": split(split_ours), "import onnxruntime": split(split_bare)}),
        Panel("persistent scoring, records/s (30-feature logistic regression)",
              [("edgepack CSV", fast["csv"]), (f"edgepack JSONL ({fast['parser']})", fast["jsonl"]),
               (f"edgepack JSONL ({stdlib['parser']})", stdlib["jsonl"]), ("naive json + onnxruntime", fast["naive"])],
              target=(300_000, "300,000 rec/s (CSV)"), note=f"JSONL target: 2x naive = {2 * fast['naive']:,.0f}"),
        Panel("one record in process, us (p99)", [("Scorer.predict_array", lat["ours_p99"]),
                                                  ("InferenceSession.run", lat["ort_p99"]),
                                                  ("onnxruntime binding", lat["binding_p99"])],
              target=(30.0, "30 us"), fmt="{:,.1f}", note=f"p50: {lat['ours_p50']:.1f} / {lat['ort_p50']:.1f} / "
                                                         f"{lat['binding_p50']:.1f} us; scikit-learn p99 {lat['sklearn_p99']:,.0f} us"),
    ]
    return bar_panels(panels, title=f"edgepack-score against its baselines ({os.cpu_count()} cores, same run)")


# -- the driver ---------------------------------------------------------------------------------------
def _run_worker(args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    result = subprocess.run([PY, __file__, "--worker", *args], capture_output=True, text=True,
                            env={**os.environ, **(env or {})})
    if result.returncode != 0:
        raise SystemExit(f"worker {args[0]} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def cold_start(cmd: list[str], stdin: bytes, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall (ms) and peak RSS (MiB) of one whole process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    proc.stdin.write(stdin)  # type: ignore[union-attr]
    proc.stdin.close()  # type: ignore[union-attr]
    _, status, usage = os.wait4(proc.pid, 0)
    wall = (time.perf_counter() - start) * 1000
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd} exited {proc.returncode}")
    return wall, usage.ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--churn", type=Path, default=ROOT / "build" / "churn",
                        help="folder with package/, churn.joblib and holdout.csv (make demo builds it)")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "bench")
    parser.add_argument("--runs", type=int, default=7, help="process starts per cold-start figure")
    parser.add_argument("--records", type=int, default=50_000, help="records per throughput run")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    parser.add_argument("--plot", type=Path, help="also draw the figures as an SVG file (bars against their targets)")
    parser.add_argument("--stats-only", action="store_true",
                        help="measure only the cost of edgepack-score --stats (throughput and memory; no cold starts)")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        kind, *rest = args.worker
        workers = {"throughput": worker_throughput, "latency": worker_latency, "cold": worker_cold, "stats": worker_stats}
        print(json.dumps(workers[kind](*rest)))
        return 0

    from edgepack.runtime.table import render_table

    churn_pkg = args.churn / "package"
    if not (churn_pkg / "manifest.json").exists():
        raise SystemExit(f"no churn package in {churn_pkg}: run `make demo` (or pass --churn)")
    args.work.mkdir(parents=True, exist_ok=True)
    print("building the 30-feature logistic regression package and data...", file=sys.stderr)
    lr30 = lr30_package(args.work)
    jsonl, csv_path = lr30_data(args.work, args.records)
    print("--stats cost (lr30 and churn JSONL)...", file=sys.stderr)
    churn_stats_pkg, churn_jsonl = churn_stats_data(args.churn, args.work, args.records)
    stats_lr30 = _run_worker(["stats", str(lr30), str(jsonl)])
    stats_churn = _run_worker(["stats", str(churn_stats_pkg), str(churn_jsonl)])
    if args.stats_only:
        rows = stats_rows(stats_lr30, stats_churn, lambda ok: "met" if ok else "MISSED")
        print(render_table(["measure", "edgepack", "baseline", "ratio", "target", "verdict"], rows,
                           title=f"edgepack-score --stats cost ({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; "
                                 f"{args.records:,} records, 11 paired rounds, one window per run)"))
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({"stats": {"lr30": stats_lr30, "churn": stats_churn}}, indent=1))
        return 0

    with open(args.churn / "holdout.csv", newline="") as handle:
        import csv

        row = next(csv.DictReader(handle))
    row.pop("churn", None)
    types = {f["name"]: f["type"] for f in json.loads((churn_pkg / "manifest.json").read_text())["inputs"]["features"]}
    record = json.dumps({k: v if types[k] == "category" else float(v) for k, v in row.items()}).encode() + b"\n"

    print("cold starts...", file=sys.stderr)
    # As `pip install` does on a device: byte-compile the runtime, or every start would compile its modules
    # (editable checkouts, and sessions with PYTHONDONTWRITEBYTECODE set, have no .pyc files).
    subprocess.run([PY, "-m", "compileall", "-q", str(ROOT / "runtime")], check=True)
    print("device install (a venv with `pip install .` only)...", file=sys.stderr)
    device = device_venv(args.work)
    cold = _run_worker(["cold", str(churn_pkg), str(args.churn / "churn.joblib"), record.decode(), str(args.runs),
                        str(device)])
    bare, ours, sk = cold["onnxruntime"], cold["edgepack"], cold["sklearn"]
    split_bare, split_ours = cold["onnxruntime_split"], cold["edgepack_split"]
    dev_bare, dev_ours = cold["device_onnxruntime"], cold["device_edgepack"]
    dsplit_bare, dsplit_ours = cold["device_onnxruntime_split"], cold["device_edgepack_split"]
    versions = cold["device_versions"]

    print("throughput...", file=sys.stderr)
    fast = _run_worker(["throughput", str(lr30), str(jsonl), str(csv_path)])
    stdlib = _run_worker(["throughput", str(lr30), str(jsonl), str(csv_path)], env={"EDGEPACK_NO_ORJSON": "1"})
    naive, csv_rate = fast["naive"], fast["csv"]

    print("latency...", file=sys.stderr)
    lat = _run_worker(["latency", str(churn_pkg), str(args.churn / "holdout.csv"), str(args.churn / "churn.joblib")])

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    rows = [
        ["device: cold start wall, ms", dev_ours[0], dev_bare[0], dev_ours[0] / dev_bare[0], "<= 1.3x import onnxruntime",
         verdict(dev_ours[0] <= 1.3 * dev_bare[0])],
        ["device: cold start peak RSS, MiB", dev_ours[1], dev_bare[1], dev_ours[1] / dev_bare[1], "<= 60 MiB",
         verdict(dev_ours[1] <= 60)],
        ["  at exit: anonymous memory, MiB", dsplit_ours["RssAnon"], dsplit_bare["RssAnon"],
         dsplit_ours["RssAnon"] / dsplit_bare["RssAnon"], "", ""],
        ["  at exit: file-backed (library pages), MiB", dsplit_ours["RssFile"], dsplit_bare["RssFile"],
         dsplit_ours["RssFile"] / dsplit_bare["RssFile"], "", ""],
        ["toolchain venv: cold start wall, ms", ours[0], bare[0], ours[0] / bare[0], "", ""],
        ["toolchain venv: cold start wall vs scikit-learn", ours[0], sk[0], ours[0] / sk[0], "", ""],
        ["toolchain venv: peak RSS, MiB", ours[1], bare[1], ours[1] / bare[1], "", ""],
        ["toolchain venv: peak RSS vs scikit-learn, MiB", ours[1], sk[1], ours[1] / sk[1], "", ""],
        ["  at exit: anonymous / file-backed, MiB", f"{split_ours['RssAnon']:.1f} / {split_ours['RssFile']:.1f}",
         f"{split_bare['RssAnon']:.1f} / {split_bare['RssFile']:.1f}", "", "", ""],
        [f"JSONL rec/s ({fast['parser']}) vs naive", fast["jsonl"], naive, fast["jsonl_ratio"], ">= 2x naive",
         verdict(fast["jsonl_ratio"] >= 2)],
        [f"JSONL rec/s ({stdlib['parser']}) vs naive", stdlib["jsonl"], stdlib["naive"], stdlib["jsonl_ratio"], "", ""],
        ["CSV rec/s vs naive JSONL", csv_rate, naive, fast["csv_ratio"], ">= 300,000 rec/s", verdict(csv_rate >= 300_000)],
        [f"CSV rec/s ({stdlib['parser']}) vs naive", stdlib["csv"], stdlib["naive"], stdlib["csv_ratio"], "", ""],
        *stats_rows(stats_lr30, stats_churn, verdict),
        ["predict_array p50, us vs sklearn", lat["ours_p50"], lat["sklearn_p50"], lat["ours_p50"] / lat["sklearn_p50"], "", ""],
        ["predict_array p99, us vs sklearn", lat["ours_p99"], lat["sklearn_p99"], lat["ours_p99"] / lat["sklearn_p99"],
         "<= 30 us", verdict(lat["ours_p99"] <= 30)],
        ["predict_array p50, us vs bare ORT run", lat["ours_p50"], lat["ort_p50"], lat["ours_p50"] / lat["ort_p50"], "", ""],
        ["predict_array p99, us vs bare ORT run", lat["ours_p99"], lat["ort_p99"], lat["ours_p99"] / lat["ort_p99"], "", ""],
        ["predict_array p50, us vs ORT binding", lat["ours_p50"], lat["binding_p50"], lat["ours_p50"] / lat["binding_p50"], "", ""],
        ["predict_array p99, us vs ORT binding", lat["ours_p99"], lat["binding_p99"], lat["ours_p99"] / lat["binding_p99"], "", ""],
    ]
    print(render_table(["measure", "edgepack", "baseline", "ratio", "target", "verdict"], rows,
                       title=f"edgepack-score benchmark ({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; "
                             f"cold start: medians of {args.runs}; throughput: {args.records:,} records, 5 paired rounds)"))
    print(f"  cold start scikit-learn scorer: {sk[0]:.0f} ms, {sk[1]:.0f} MiB; sklearn predict_proba p99 "
          f"{lat['sklearn_p99']:.0f} us")
    print(f"  latency: medians over {lat['rounds']} rounds of 2,000 calls, ours, ORT run and ORT binding in turns; "
          f"predict_array p99 per round: {', '.join(f'{v:.1f}' for v in lat['ours_p99_rounds'])} us")
    print(f"  device install: a venv with `pip install .` only: numpy {versions['numpy']}, onnxruntime "
          f"{versions['onnxruntime']}; toolchain venv: numpy and onnxruntime pinned for tensorflowjs "
          f"(pyproject.toml), scikit-learn scorer run there")
    if args.plot:
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        args.plot.write_text(plot(dev_bare, dev_ours, sk, dsplit_bare, dsplit_ours, fast, stdlib, lat, versions))
    if args.json:
        args.json.write_text(json.dumps({"cold": {"ours": ours, "onnxruntime": bare, "sklearn": sk,
                                                  "split": {"ours": split_ours, "onnxruntime": split_bare},
                                                  "device": {"ours": dev_ours, "onnxruntime": dev_bare,
                                                             "split": {"ours": dsplit_ours, "onnxruntime": dsplit_bare},
                                                             "versions": versions}},
                                         "throughput": {"naive": naive, "jsonl": fast, "jsonl_stdlib": stdlib, "csv": csv_rate},
                                         "latency": lat, "stats": {"lr30": stats_lr30, "churn": stats_churn}},
                                        indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
