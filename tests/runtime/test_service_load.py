"""Under load: 10,000 single-record requests on 32 connections, one in seven a bad record, while the
route switches (canary, blue-green, rollback) mid-load. None is lost; every bad one is answered 422 with
edgepack-score's reason; every answer names a version that was loaded whole before it was routed."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path

from service_helpers import PREDICT, another_version, bad_records, serving

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from loadgen import Connection, exchange  # noqa: E402  (the benchmark's own load generator)

REQUESTS = 10_000
SWITCHES = {2_500: {"live": "2", "canary": "3", "percent": 50}, 5_000: {"live": "3"}, 7_500: {"live": "2"}}


def test_ten_thousand_requests_with_bad_records_and_switches(strict_package, tmp_path):
    v3 = another_version(strict_package.path, tmp_path, "3")
    goods = strict_package.records(20)
    bads = list(bad_records(goods[0]).values())
    plan: list[tuple[str, object, str | None, str | None]] = []  # (kind, record, field, words)
    for i in range(REQUESTS):
        if i % 7 == 3:
            record, field, words = bads[(i // 7) % len(bads)]
            plan.append(("bad", record, field, words))
        else:
            plan.append(("good", goods[i % len(goods)], None, None))
    bodies = [(PREDICT, json.dumps(record).encode()) for _, record, _, _ in plan]
    with serving([strict_package.path, v3]) as server:
        switched: list[int] = []

        async def drive() -> list[tuple[int, bytes]]:
            control = await Connection.open("127.0.0.1", server.port)

            async def on_progress(i: int) -> None:
                if i in SWITCHES:
                    status, _ = await control.send("POST", "/v1/models/strict/switch", json.dumps(SWITCHES[i]).encode())
                    assert status == 200
                    switched.append(i)

            try:
                return await exchange("127.0.0.1", server.port, bodies, connections=32, on_progress=on_progress)
            finally:
                control.close()

        answers = asyncio.run(drive())
        metrics = server.metrics()
    assert sorted(switched) == sorted(SWITCHES)
    assert len(answers) == REQUESTS
    versions = {"2": 0, "3": 0}
    for (kind, _, field, words), (status, body) in zip(plan, answers):
        assert status in (200, 422), (status, body)  # 0 would be a lost request
        answer = json.loads(body)
        versions[answer["version"]] += 1
        if kind == "good":
            assert status == 200 and answer["label"] in (0, 1) and set(answer["probabilities"]) == {"0", "1"}
        else:
            assert status == 422 and answer["field"] == field and words in answer["reason"], answer
    assert versions["2"] > 0 and versions["3"] > 0 and sum(versions.values()) == REQUESTS
    counted = sum(int(n) for n in re.findall(r'^edgepack_requests_total\{[^}]*\} (\d+)$', metrics, re.M))
    assert counted == REQUESTS
