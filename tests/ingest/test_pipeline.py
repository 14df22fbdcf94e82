"""The ingest pipeline: durable acceptance, then batched writes; back-pressure when the store is behind."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from opsloop.ingest.capture import parse_posthog
from opsloop.ingest.pipeline import IngestPipeline
from opsloop.ingest.stats import IngestStats
from opsloop.ingest.wal import IngestLog
from opsloop.runtime import Runtime


def _record(project_id: int, n: int) -> bytes:
    events = [{"event": "e", "distinct_id": f"d{i}"} for i in range(n)]
    batch = parse_posthog(
        {"batch": events}, project_id, dt.datetime.now(dt.UTC), max_events=100, max_event_bytes=1 << 20, body_bytes=0
    )
    return batch.record


def test_capture_waits_while_the_store_is_behind(runtime: Runtime, tmp_path: Path) -> None:
    project_id = runtime.projects.create("pressure").project.id
    pipeline = IngestPipeline(IngestLog(tmp_path / "wal"), runtime.writer, IngestStats(), max_pending_events=5)

    async def scenario() -> None:
        await pipeline.submit(_record(project_id, 5), 5)  # durable and acknowledged: 5 events now pending
        assert pipeline.pending_events() == 5
        waiting = asyncio.ensure_future(pipeline.submit(_record(project_id, 1), 1))
        await asyncio.sleep(0.3)
        assert not waiting.done(), "a request over the pending bound must wait for the store"
        pipeline.start()  # the flusher writes the first 5; the waiting request is then accepted
        await asyncio.wait_for(waiting, 10)

    asyncio.run(scenario())
    assert pipeline.wait_flushed(10)
    assert pipeline.pending_events() == 0
    pipeline.stop()
    assert runtime.store.count_events(project_id) == 6
