"""Survey interactions as opsloop events, through the same durable ingest path as the capture API."""

from __future__ import annotations

import datetime as dt
import uuid

from opsloop.ingest.capture import parse_posthog
from opsloop.runtime import Runtime
from opsloop.surveys.delivery import SurveyEvent


async def capture_survey_events(runtime: Runtime, project_id: int, events: list[SurveyEvent], now: dt.datetime) -> None:
    """Write the events to the ingest log (durable once this returns), as a PostHog-shaped batch would be."""
    if not events:
        return
    payload = [
        {
            "event": e.event,
            "distinct_id": e.distinct_id,
            "uuid": str(uuid.uuid4()),
            "timestamp": now.isoformat(),
            "properties": {**e.properties, "$lib": "opsloop-surveys"},
        }
        for e in events
    ]
    batch = parse_posthog(
        payload,
        project_id,
        dt.datetime.now(dt.UTC),
        max_events=runtime.settings.max_events_per_request,
        max_event_bytes=runtime.settings.max_event_bytes * 4,
        body_bytes=0,
    )
    if batch.count:
        await runtime.pipeline.submit(batch.record, batch.count)
