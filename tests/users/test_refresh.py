"""The scheduled refresh: a real thread with a short interval refreshes segments and rule tags, and an error
(a project that cannot be read) is logged without stopping it; and the one-project refresh."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable

import pytest

from opsloop.config import Settings
from opsloop.ingest.capture import parse_posthog
from opsloop.runtime import Runtime
from opsloop.users.definitions import Group
from opsloop.users.refresh import RefreshScheduler, refresh_project
from opsloop.users.segments import SegmentInput
from opsloop.users.tag_rules import TagRule

EVERYONE = Group.model_validate({"conditions": [{"type": "event", "event": "$any"}]})


def wait_for(check: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the scheduler did not run in time"
        time.sleep(0.05)


def test_scheduler_refreshes_and_survives_errors(runtime: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    project = runtime.projects.create("shop").project.id
    segment = runtime.segments.create(project, SegmentInput(name="everyone", definition=EVERYONE))
    runtime.segments.tags.save_rule(project, "busy", TagRule(event="$any", thresholds=[{"value": "yes", "min": 5}]))  # type: ignore[list-item]
    missing = 999  # `project_context` raises for it: logged, and the real project is still refreshed
    scheduler = RefreshScheduler(runtime.segments, lambda: [missing, project], runtime.project_context, 0.1)
    with caplog.at_level(logging.ERROR, logger="opsloop.users.refresh"):
        scheduler.start()
        try:
            wait_for(lambda: scheduler.runs >= 2)
        finally:
            scheduler.stop()
    assert "scheduled refresh of project 999 failed" in caplog.text
    [report] = scheduler.reports
    assert report.project_id == project and report.tags == {"busy": 0} and report.segments == {segment.id: 0}
    assert len(runtime.segments.history(project, segment.id)) >= 2  # one size per run
    assert runtime.segments.tags.rule_rows(project)["busy"].computed_at is not None


def test_server_setting_starts_the_scheduler(make_settings: Callable[..., Settings]) -> None:
    runtime = Runtime(make_settings(segment_refresh_minutes=0.002))  # 0.12 s
    try:
        project = runtime.projects.create("shop").project.id
        segment = runtime.segments.create(project, SegmentInput(name="everyone", definition=EVERYONE))
        scheduler = runtime.start_refresh()
        assert scheduler is not None
        wait_for(lambda: runtime.segments.get(project, segment.id).refreshed_at is not None)
    finally:
        runtime.close()
    assert runtime.refresher is None  # stopped on close
    off = Runtime(make_settings())  # tests run with the scheduled refresh off unless they ask
    assert off.start_refresh() is None


def test_refresh_project_records_errors(runtime: Runtime) -> None:
    project = runtime.projects.create("shop").project.id
    runtime.segments.create(project, SegmentInput(name="everyone", definition=EVERYONE))
    runtime.segments.tags.save_rule(project, "busy", TagRule(event="$any", quantiles=["low", "high"]))

    def broken(*args: object) -> int:
        raise RuntimeError("engine unavailable")

    runtime.segments.tags.compute = broken  # type: ignore[method-assign]
    report = refresh_project(runtime.segments, runtime.project_context(project))
    assert report.errors == ["tag 'busy': engine unavailable"] and list(report.segments.values()) == [0]


def test_scheduler_computes_missing_catalogues_soon_and_refreshes_them_every_run(runtime: Runtime) -> None:
    """A project without a catalogue gets one shortly after start (before the first interval), and each
    scheduled run refreshes it; the report says how many entries it has."""
    project = runtime.projects.create("shop").project.id
    now = dt.datetime.now(dt.UTC)
    payload = {"batch": [{"event": "purchase", "distinct_id": "ann", "properties": {"amount": 10}}]}
    batch = parse_posthog(payload, project, now, max_events=10, max_event_bytes=10_000, body_bytes=100)
    runtime.writer.write_log([batch.record])
    assert runtime.catalogue.refreshed_at(project) is None
    scheduler = RefreshScheduler(
        runtime.segments,
        lambda: [project],
        runtime.project_context,
        3600,  # no scheduled run during the test: only the start-up pass
        catalogue=runtime.catalogue,
        first_catalogue_s=0.05,
    )
    scheduler.start()
    try:
        wait_for(lambda: runtime.catalogue.refreshed_at(project) is not None)
    finally:
        scheduler.stop()
    first = runtime.catalogue.refreshed_at(project)
    assert scheduler.runs == 0 and first is not None
    [report] = scheduler.run_once()
    refreshed = runtime.catalogue.refreshed_at(project)
    assert report.catalogue == 2 and report.errors == []  # the event `purchase` and its property `amount`
    assert refreshed is not None and refreshed >= first
    assert scheduler.fill_missing_catalogues() == []  # nothing missing any more
