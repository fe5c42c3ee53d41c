"""ARM64: an emulated arm64 Debian device (debootstrap root, qemu-user through binfmt_misc) installs the
runtime from this repository with pip (no extras; numpy and onnxruntime aarch64 wheels from PyPI), passes
the self-test and scores the churn package with the same outputs as x86-64 within the float32 profile.

Slow the first time (the root is made with debootstrap, then cached under build/device/arm64-root), so it
runs only when EDGEPACK_ARM64=1: `make device-test-arm64` sets it, `.ci/run` calls that target on request.
Needs root and the packages of `make device-tools`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from device_support import (
    MAX_PROBABILITY_ERROR,
    REPO,
    clean_env,
    compare_outputs,
    copy_source,
    jsonl,
    reference_probabilities,
    run_measured,
    save_figures,
)

ROOT = REPO / "build" / "device" / "arm64-root"
ELF_MACHINE_AARCH64 = 183  # e_machine of an ELF built for ARM64

pytestmark = [
    pytest.mark.device,
    pytest.mark.skipif(os.environ.get("EDGEPACK_ARM64") != "1",
                       reason="emulated ARM64 device: run `make device-test-arm64` (EDGEPACK_ARM64=1)"),
]


def _inside(root: Path, path: str) -> Path:
    """`path` as seen from inside the root: symlinks (the venv's python -> /usr/bin/python3) resolved there."""
    current = root / path.lstrip("/")
    for _ in range(10):
        if not current.is_symlink():
            return current
        target = os.readlink(current)
        current = root / target.lstrip("/") if target.startswith("/") else current.parent / target
    raise AssertionError(f"symlink loop at {path}")


def _elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", f"{path} is not an ELF file"
    return int.from_bytes(header[18:20], "little")


@pytest.fixture(scope="module")
def arm64_root():
    """The prepared root with /proc mounted (never /sys: onnxruntime segfaults under qemu with it)."""
    start = time.perf_counter()
    done = subprocess.run(["bash", str(REPO / "device_tests" / "arm64_root.sh"), str(ROOT)],
                          capture_output=True, text=True, timeout=1500)
    prepare_s = time.perf_counter() - start
    assert done.returncode == 0, f"preparing the arm64 root failed:\n{done.stdout}\n{done.stderr}"
    proc = ROOT / "proc"
    mounted = subprocess.run(["mountpoint", "-q", str(proc)]).returncode == 0
    if not mounted:
        subprocess.run(["mount", "-t", "proc", "proc", str(proc)], check=True)
    try:
        yield ROOT, prepare_s
    finally:
        if not mounted:
            subprocess.run(["umount", str(proc)], check=False)


def _in_root(root: Path, *args: str) -> list[str]:
    return ["chroot", str(root), *args]


def test_arm64_device_scores_like_x86_64(arm64_root, device_install, churn):
    root, prepare_s = arm64_root
    assert _elf_machine(_inside(root, "/opt/venv/bin/python")) == ELF_MACHINE_AARCH64
    env = clean_env(HOME="/root", PIP_DISABLE_PIP_VERSION_CHECK="1")
    machine = run_measured(_in_root(root, "/opt/venv/bin/python", "-c", "import platform; print(platform.machine())"),
                           env=env)
    assert machine.stdout.strip() == "aarch64", machine.explain()

    # Install this repository's runtime the way a device would: pip, no extras (deps already in the venv).
    shutil.rmtree(root / "opt" / "edgepack-src", ignore_errors=True)
    copy_source(root / "opt" / "edgepack-src")
    install = run_measured(_in_root(root, "/opt/venv/bin/pip", "install", "--quiet", "--no-build-isolation",
                                    "/opt/edgepack-src"), env=env, timeout=900)
    assert install.returncode == 0, install.explain()
    shutil.rmtree(root / "opt" / "churn-package", ignore_errors=True)
    shutil.copytree(churn.package, root / "opt" / "churn-package")

    selftest = run_measured(_in_root(root, "/opt/venv/bin/edgepack-score", "selftest", "/opt/churn-package"),
                            env=env, timeout=300)
    assert selftest.returncode == 0, selftest.explain()

    records = churn.holdout_records()
    arm = run_measured(_in_root(root, "/opt/venv/bin/edgepack-score", "/opt/churn-package"), stdin=jsonl(records),
                       env=env, timeout=600)
    assert arm.returncode == 0, arm.explain()
    x86 = run_measured([device_install.scorer, str(churn.package)], stdin=jsonl(records))
    assert x86.returncode == 0, x86.explain()

    # ARM64 against x86-64 (the check) and both against the original scikit-learn model.
    arm_lines, x86_lines = arm.lines(), x86.lines()
    x86_as_rows = [[line["probabilities"][str(c)] for c in churn.classes] for line in x86_lines]
    vs_x86 = compare_outputs(arm_lines, x86_as_rows, churn.classes)
    assert vs_x86 <= MAX_PROBABILITY_ERROR, f"arm64 vs x86-64: max probability error {vs_x86:.2e}"
    assert [line["label"] for line in arm_lines] == [line["label"] for line in x86_lines]
    vs_sklearn = compare_outputs(arm_lines, reference_probabilities(churn.model(), records), churn.classes)
    assert vs_sklearn <= MAX_PROBABILITY_ERROR

    versions = run_measured(_in_root(root, "/opt/venv/bin/python", "-c",
                                     "import numpy, onnxruntime, sys; "
                                     "print(sys.version.split()[0], numpy.__version__, onnxruntime.__version__)"),
                            env=env)
    python, numpy, ort = versions.stdout.split()
    (REPO / "test-artifacts" / "device").mkdir(parents=True, exist_ok=True)
    (REPO / "test-artifacts" / "device" / "arm64_outputs.jsonl").write_text(arm.stdout)
    save_figures("arm64", {
        "what": "debootstrap bookworm arm64 root under qemu-aarch64-static (binfmt_misc), chroot",
        "machine": machine.stdout.strip(),
        "python": python, "numpy": numpy, "onnxruntime": ort,
        "prepare_root_s": round(prepare_s, 1),
        "pip_install_repo_s": round(install.wall_s, 1),
        "selftest_wall_s": round(selftest.wall_s, 2),
        "scored_records": len(records),
        "score_wall_s": round(arm.wall_s, 2),
        "x86_64_score_wall_s": round(x86.wall_s, 2),
        "max_probability_error_vs_x86_64": vs_x86,
        "max_probability_error_vs_sklearn": vs_sklearn,
        "labels_equal_x86_64": True,
        "outputs": "test-artifacts/device/arm64_outputs.jsonl",
    })
