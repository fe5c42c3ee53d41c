"""No network: the scorer self-tests and scores inside a network namespace that has no usable interface.

The namespace is made by `unshare -n` for each command (root is needed, as on CI here). A probe run the
same way proves the namespace really is cut off: only a downed loopback, no routes, and a TCP connect to
a listener that the host reaches fails inside.
"""

from __future__ import annotations

import json
import socket
import textwrap

import pytest
from device_support import (
    MAX_PROBABILITY_ERROR,
    compare_outputs,
    jsonl,
    reference_probabilities,
    run_measured,
    save_figures,
)

pytestmark = pytest.mark.device

NO_NETWORK = ["unshare", "--net", "--"]

PROBE = textwrap.dedent("""
    import json, socket, sys
    port = int(sys.argv[1])
    interfaces = [line.split(":")[0].strip() for line in open("/proc/self/net/dev").readlines()[2:]]
    routes = open("/proc/self/net/route").readlines()[1:]
    try:
        socket.create_connection(("127.0.0.1", port), timeout=3).close()
        error = None
    except OSError as exc:
        error = f"{type(exc).__name__}: {exc}"
    print(json.dumps({"interfaces": interfaces, "routes": len(routes), "connect_error": error}))
""")


def test_namespace_really_has_no_network(device_install):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        # Outside the namespace the same probe connects: the probe can tell the two apart.
        outside = run_measured([device_install.python, "-c", PROBE, str(port)])
        inside = run_measured(NO_NETWORK + [device_install.python, "-c", PROBE, str(port)])
    assert outside.returncode == 0 and inside.returncode == 0, inside.explain()
    assert json.loads(outside.stdout)["connect_error"] is None
    found = json.loads(inside.stdout)
    assert found["interfaces"] == ["lo"], found
    assert found["routes"] == 0, found
    assert found["connect_error"] is not None, found
    save_figures("no_network_probe", {"host": json.loads(outside.stdout), "namespace": found})


def test_scorer_selftests_and_scores_without_network(device_install, churn):
    selftest = run_measured(NO_NETWORK + [device_install.scorer, "selftest", str(churn.package)])
    assert selftest.returncode == 0, selftest.explain()
    records = churn.holdout_records()
    scored = run_measured(NO_NETWORK + [device_install.scorer, str(churn.package)], stdin=jsonl(records))
    assert scored.returncode == 0, scored.explain()
    worst = compare_outputs(scored.lines(), reference_probabilities(churn.model(), records), churn.classes)
    assert worst <= MAX_PROBABILITY_ERROR
    save_figures("no_network", {
        "command": "unshare --net -- edgepack-score ...",
        "selftest_exit": selftest.returncode,
        "scored_records": len(records),
        "max_probability_error_vs_sklearn": worst,
        "score_wall_ms": round(scored.wall_s * 1000),
    })
