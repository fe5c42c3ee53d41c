"""`edgepack-serve` run as a real process on a free loopback port: the API answers what `edgepack-score`
answers (lines, reasons), models/health/readiness/metrics, limits, version switching, exit codes, SIGTERM.

Expected predictions: `edgepack-score`'s own lines for the same records, and the scikit-learn model the
package was built from."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time

import numpy as np
import pytest
from scorer_helpers import jsonl, read_lines, run_scorer
from service_helpers import PREDICT, SERVE, another_version, bad_records, serving, start, stop


def test_single_records_answer_edgepack_scores_lines_and_reasons(strict_package):
    good = strict_package.records(6)
    bad = bad_records(good[0])
    expected = run_scorer([strict_package.path], jsonl(good)).stdout.decode().splitlines()
    with serving([strict_package.path]) as server:
        for record, line in zip(good, expected):
            status, headers, body = server.request("POST", PREDICT, record)
            got, want = json.loads(body), json.loads(line)
            assert status == 200 and list(got) == list(want) and got["label"] == want["label"]  # edgepack-score's line
            assert got["version"] == want["version"] == "2" and got["package"] == "strict"
            # float32: a batch of one and a batch of six may round the last digit differently
            np.testing.assert_allclose(list(got["probabilities"].values()), list(want["probabilities"].values()), atol=1e-6)
            assert headers["x-edgepack-version"] == "2"
        frame_probs = strict_package.model.predict_proba(__import__("pandas").DataFrame(good)[strict_package.features])
        got = [json.loads(line)["probabilities"]["1"] for line in expected]
        np.testing.assert_allclose(got, frame_probs[:, 1], atol=1e-5)
        for name, (record, field, words) in bad.items():
            status, body = server.json("POST", PREDICT, record)
            assert status == 422, name
            assert body["field"] == field and words in body["reason"], (name, body)
            assert body["package"] == "strict" and body["version"] == "2" and body["record"] == 0
        status, headers, data = server.request("POST", PREDICT, b'{"tenure_months": ')
        assert status == 400 and "not JSON" in json.loads(data)["error"] and headers["x-edgepack-version"] == "2"


def test_one_record_path_and_batch_path_agree(strict_package):
    """An idle request takes check_record + predict_array; a micro-batch takes the batch validator: both
    give the same lines and the same reasons."""
    from edgepack.runtime.scorer import Scorer
    from edgepack.runtime.service.scoring import LoadedVersion

    version = LoadedVersion(Scorer.load(strict_package.path), str(strict_package.path))
    good = strict_package.records(4)
    records = [*good, *(record for record, _, _ in bad_records(good[0]).values())]
    batch = version.score(records)
    for i, record in enumerate(records):
        one = version.score([record])
        if batch.lines[i] is None:
            assert one.lines == [None] and [(r.field, r.reason) for r in one.rejected] == \
                [(r.field, r.reason) for r in batch.rejected if r.index == i]
        else:
            a, b = json.loads(one.lines[0]), json.loads(batch.lines[i])
            assert a["label"] == b["label"] and one.keys[0] == batch.keys[i]
            np.testing.assert_allclose(list(a["probabilities"].values()), list(b["probabilities"].values()), atol=1e-6)


def test_lists_jsonl_and_csv_bodies(strict_package):
    good = strict_package.records(3)
    bad = bad_records(good[0])["text"][0]
    with serving([strict_package.path]) as server:
        status, body = server.json("POST", PREDICT, good)
        assert status == 200 and len(body["predictions"]) == 3 and body["rejected"] == []
        assert body["version"] == "2" and all(p["version"] == "2" for p in body["predictions"])
        status, body = server.json("POST", PREDICT, [good[0], bad, good[1]])
        assert status == 422 and body["predictions"][1] is None and body["predictions"][2]["label"] in (0, 1)
        assert body["rejected"] == [{"record": 1, "field": "monthly_charges",
                                     "reason": "expected a number, got str 'seventy'"}]
        # JSON lines and CSV: the stream path of edgepack-score, error lines numbered as it numbers them
        status, body = server.json("POST", PREDICT, jsonl([good[0], bad]).encode(),
                                   headers={"Content-Type": "application/x-ndjson"})
        assert status == 422 and len(body["predictions"]) == 1 and body["rejected"][0]["line"] == 2
        header = ",".join(strict_package.features)
        rows = [",".join(str(r[f]) for f in strict_package.features) for r in good]
        status, body = server.json("POST", PREDICT, "\n".join([header, *rows]).encode(),
                                   headers={"Content-Type": "text/csv"})
        assert status == 200 and len(body["predictions"]) == 3
        expected = read_lines(run_scorer([strict_package.path], jsonl(good)).stdout)
        assert [p["label"] for p in body["predictions"]] == [e["label"] for e in expected]
        status, body = server.json("POST", PREDICT, b"colour\nred\n", headers={"Content-Type": "text/csv"})
        assert status == 400 and "missing column(s)" in body["error"] and "fix" in body
        # curl's "Expect: 100-continue" (bodies over 1 KiB) is answered at once, not after curl's 1 s wait
        data = json.dumps(good * 10).encode()
        conn = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        conn.sendall(b"POST %s HTTP/1.1\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n" % (PREDICT.encode(), len(data)))
        assert conn.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        conn.sendall(data)
        assert conn.recv(100).startswith(b"HTTP/1.1 200 OK")
        conn.close()


def test_models_health_ready_and_metrics(strict_package):
    manifest = json.loads((strict_package.path / "manifest.json").read_text())
    with serving([strict_package.path]) as server:
        assert server.json("GET", "/healthz") == (200, {"status": "alive"})
        assert server.json("GET", "/readyz") == (200, {"status": "ready"})
        status, body = server.json("GET", "/v1/models")
        model = body["models"][0]
        assert model["name"] == "strict" and model["route"]["live"] == "2"
        version = model["versions"][0]
        assert version["version"] == "2" and [f["name"] for f in version["inputs"]] == strict_package.features
        assert version["sha256"]["artifact"] == manifest["artifacts"][0]["sha256"]
        server.request("POST", PREDICT, strict_package.records(1)[0])
        server.request("POST", PREDICT, {"tenure_months": "x"})
        text = server.metrics()
        assert 'edgepack_requests_total{model="strict",version="2",code="200"} 1' in text
        assert 'edgepack_requests_total{model="strict",version="2",code="422"} 1' in text
        assert 'edgepack_records_rejected_total{model="strict",version="2",reason="expected a number, got str"} 1' in text
        assert 'edgepack_request_seconds_count{model="strict",version="2"} 2' in text
        # no file serving, no unknown endpoints
        for path in ("/", "/manifest.json", "/../etc/passwd", "/v1/models/strict/../../etc/passwd", "/v1/models/nope/predict"):
            assert server.request("GET", path)[0] in (404, 405), path
        assert server.json("POST", "/v1/models/nope/predict", {})[0] == 404


def test_request_size_time_and_connection_limits(strict_package):
    with serving([strict_package.path], "--max-body", "2000", "--request-timeout", "0.5",
                 "--max-connections", "2") as server:
        status, body = server.json("POST", PREDICT, b"[" + b"1," * 2000 + b"1]")
        assert status == 413 and "over 2000 bytes" in body["error"]
        slow = socket.create_connection(("127.0.0.1", server.port))
        slow.sendall(b"POST /v1/models/strict/predict HTTP/1.1\r\nContent-Length: 50\r\n\r\n{")
        held = socket.create_connection(("127.0.0.1", server.port))
        time.sleep(0.1)
        third = socket.create_connection(("127.0.0.1", server.port))
        assert b" 503 " in third.recv(1000)
        third.close()
        slow.settimeout(5)
        assert b" 408 " in slow.recv(1000)  # the partial request timed out and was answered
        slow.close()
        held.close()
        time.sleep(0.1)
        assert server.json("GET", "/readyz")[0] == 200
        assert 'edgepack_http_errors_total{code="503"} 1' in server.metrics()


def test_blue_green_canary_shadow_and_rollback(strict_package, tmp_path):
    v3 = another_version(strict_package.path, tmp_path, "3")
    record = strict_package.records(1)[0]
    with serving([strict_package.path, v3]) as server:
        def versions(n: int) -> list[str]:
            return [server.request("POST", PREDICT, record)[1]["x-edgepack-version"] for _ in range(n)]

        assert versions(3) == ["2", "2", "2"]
        status, body = server.json("POST", "/v1/models/strict/switch", {"live": "2", "canary": "3", "percent": 25})
        assert status == 200 and body["previous"]["live"] == "2" and body["route"]["percent"] == 25
        assert sorted(versions(8)) == ["2"] * 6 + ["3"] * 2
        assert server.json("POST", "/v1/models/strict/switch", {"live": "3"})[0] == 200
        assert versions(2) == ["3", "3"]
        assert server.json("POST", "/v1/models/strict/switch", {"live": "2", "shadow": "3"})[0] == 200
        assert versions(4) == ["2"] * 4
        assert 'edgepack_shadow_agreement_ratio{model="strict",live="2",candidate="3"} 1.0' in server.metrics()
        assert 'edgepack_shadow_records_total{model="strict",live="2",candidate="3"} 4' in server.metrics()
        header = ",".join(strict_package.features)
        rows = [",".join(str(r[f]) for f in strict_package.features) for r in strict_package.records(3)]
        status, body = server.json("POST", PREDICT, "\n".join([header, *rows]).encode(), headers={"Content-Type": "text/csv"})
        assert status == 200 and body["version"] == "2"
        assert 'edgepack_shadow_records_total{model="strict",live="2",candidate="3"} 7' in server.metrics()
        status, body = server.json("POST", "/v1/models/strict/switch", {"live": "9"})
        assert status == 409 and "no version '9'" in body["error"]
        assert server.json("POST", "/v1/models/strict/switch", {"live": "2", "percent": 150})[0] == 409
        assert [v["version"] for v in server.json("GET", "/v1/models/strict")[1]["versions"]] == ["2", "3"]


def test_no_switch_refuses_switching(strict_package):
    with serving([strict_package.path], "--no-switch") as server:
        status, body = server.json("POST", "/v1/models/strict/switch", {"live": "2"})
        assert status == 403 and "--no-switch" in body["error"]


def test_exit_codes_and_readiness_gate(strict_package, tmp_path):
    broken = another_version(strict_package.path, tmp_path, "4", break_golden=True)
    server = start([broken])
    code, log = stop(server)
    assert code == 1 and "failed its self-test" in log and "Traceback" not in log
    missing = start([tmp_path / "nothing"])
    code, log = stop(missing)
    assert code == 4 and "no package at" in log
    twice = start([strict_package.path, strict_package.path])
    code, log = stop(twice)
    assert code == 2 and "loaded twice" in log
    result = subprocess.run([*SERVE, str(strict_package.path), "--port", "70000"], capture_output=True, text=True)
    assert result.returncode == 2 and "--port" in result.stderr
    with serving([strict_package.path]) as server:
        taken = subprocess.run([*SERVE, str(strict_package.path), "--port", str(server.port)], capture_output=True,
                               text=True, timeout=60)
        assert taken.returncode == 2 and "cannot listen" in taken.stderr and "Traceback" not in taken.stderr


def test_help_has_an_example_and_version():
    result = subprocess.run([*SERVE, "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "edgepack-serve churn-v1.edgepack" in result.stdout and "exit codes" in result.stdout
    result = subprocess.run([*SERVE, "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("edgepack-serve ")


def test_sigterm_finishes_the_request_in_flight(strict_package):
    server = start([strict_package.path])
    body = json.dumps(strict_package.records(1)[0]).encode()
    conn = socket.create_connection(("127.0.0.1", server.port))
    conn.sendall(b"POST /v1/models/strict/predict HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:10])
    time.sleep(0.2)
    server.process.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    conn.sendall(body[10:])
    conn.settimeout(10)
    answer = b""
    while chunk := conn.recv(4096):
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 ") and b"Connection: close" in answer and b'"version": "2"' in answer
    code, log = stop(server)
    assert code == 0 and "stopped" in log
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1)


def test_only_signed_packages_with_trust(strict_package, tmp_path):
    """--trust: a package signed by a trusted key is served; an unsigned one is refused with exit 4."""
    import shutil

    from edgepack.toolchain.cli import main as edgepack

    assert edgepack(["keygen", str(tmp_path / "keys" / "release")]) == 0
    trusted = str(tmp_path / "keys" / "release.pub")
    unsigned = start([strict_package.path], "--trust", trusted)
    code, log = stop(unsigned)
    assert code == 4 and "not signed" in log and "Traceback" not in log
    signed = tmp_path / "signed"
    shutil.copytree(strict_package.path, signed)
    assert edgepack(["sign", str(signed), "--key", str(tmp_path / "keys" / "release")]) == 0
    with serving([signed], "--trust", trusted) as server:
        status, body = server.json("POST", "/v1/models/strict/predict", strict_package.records(1)[0])
        assert status == 200 and body["version"] == "2"


def test_a_second_sigterm_while_stopping_still_exits_0(strict_package):
    """A supervisor may send SIGTERM twice; the drained stop must still end with exit 0 (seen once in CI:
    the second signal landed after the event loop had closed and killed the process, -15)."""
    server = start([strict_package.path])
    for _ in range(20):  # signals spread over the whole shutdown, teardown included
        if server.process.poll() is not None:
            break
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.02)
    code, log = stop(server)
    assert code == 0 and "stopped" in log
