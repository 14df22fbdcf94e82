"""Survey results through the Python API (`opsloop.connect`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import opsloop
from opsloop.surveys.delivery import SurveyDelivery
from opsloop.surveys.management import SurveyManager
from tests.surveys.factories import nps_survey


def test_results_from_python(tmp_path: Path) -> None:
    now = dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC)
    with opsloop.connect(tmp_path / "data") as ops:
        runtime = ops._runtime
        project = runtime.projects.create("shop").project.id
        manager = SurveyManager(runtime.metadata)
        sid = manager.create(project, nps_survey(), now=now).id
        manager.set_status(project, sid, "active", now=now)
        delivery = SurveyDelivery(runtime.metadata)
        # Two answers: 10 (promoter) and 6 (detractor) -> NPS 0.
        delivery.respond(project, sid, "a", {"nps": 10}, now=now)
        delivery.respond(project, sid, "b", {"nps": 6}, now=now)
        assert [s.id for s in ops.project(project).surveys()] == [sid]
        results = ops.project(project).survey_results(sid)
        nps = results.questions[0].nps
        assert nps is not None and (nps.value, nps.promoters, nps.detractors) == (0.0, 1, 1)
