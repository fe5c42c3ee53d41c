"""The service's micro-batcher, in process: requests submitted in one loop turn share one onnxruntime
call, each gets its own records' lines and rejections (re-indexed), an idle request is not delayed by
--batch-wait-ms, and one request that breaks scoring fails alone."""

from __future__ import annotations

import asyncio
import json

import pytest
from edgepack.runtime.scorer import Scorer
from edgepack.runtime.service.scoring import LoadedVersion, MicroBatcher
from service_helpers import bad_records


def submit(batcher: MicroBatcher, records: list) -> asyncio.Future:
    """The batcher's answer as a future (the service passes a callback that writes the response)."""
    future = asyncio.get_running_loop().create_future()
    batcher.submit(records, lambda r: future.set_exception(r) if isinstance(r, Exception) else future.set_result(r))
    return future


@pytest.fixture(scope="module")
def version(strict_package) -> LoadedVersion:
    return LoadedVersion(Scorer.load(strict_package.path), str(strict_package.path))


def test_concurrent_requests_share_one_call(version, strict_package):
    good = strict_package.records(3)
    bad, field, words = bad_records(good[0])["text"]

    async def go():
        batcher = MicroBatcher(version)
        futures = [submit(batcher, [good[0]]), submit(batcher, [good[1], bad]), submit(batcher, [bad]),
                   submit(batcher, [good[2], good[0]])]
        return batcher, await asyncio.gather(*futures)

    batcher, results = asyncio.run(go())
    assert batcher.batches == 1
    alone = [version.score([r]) for r in (good[0], good[1], good[2])]
    assert [len(r.lines) for r in results] == [1, 2, 1, 2]
    assert [json.loads(r.lines[0])["label"] for r in (results[0], results[3])] == \
        [json.loads(alone[0].lines[0])["label"], json.loads(alone[2].lines[0])["label"]]
    assert results[1].lines[1] is None and [(r.index, r.field) for r in results[1].rejected] == [(1, field)]
    assert results[2].lines == [None] and results[2].rejected[0].index == 0 and words in results[2].rejected[0].reason
    assert results[0].rejected == [] and results[3].rejected == []


def test_idle_request_is_not_delayed_by_the_wait(version, strict_package):
    record = strict_package.records(1)[0]

    async def go():
        batcher = MicroBatcher(version, max_wait=30.0)  # a wait only under load: never reached here
        first = await asyncio.wait_for(submit(batcher, [record]), timeout=10)
        second = await asyncio.wait_for(submit(batcher, [record]), timeout=10)
        return first, second

    first, second = asyncio.run(go())
    assert first.lines[0] is not None and second.lines[0] == first.lines[0]


class _Breaks(LoadedVersion):
    """A version whose scoring fails on one marked record (fault injection: a bug in scoring)."""

    def score(self, records):
        if any(isinstance(r, dict) and r.get("poison") for r in records):
            raise RuntimeError("scoring failed")
        return super().score(records)


def test_a_request_that_breaks_scoring_fails_alone(version, strict_package):
    broken = _Breaks(version.scorer, version.path)
    record = strict_package.records(1)[0]

    async def go():
        batcher = MicroBatcher(broken)
        futures = [submit(batcher, [record]), submit(batcher, [{"poison": True}]), submit(batcher, [record])]
        return await asyncio.gather(*futures, return_exceptions=True)

    ok1, failed, ok2 = asyncio.run(go())
    assert isinstance(failed, RuntimeError)
    assert ok1.lines[0] is not None and ok2.lines[0] is not None
