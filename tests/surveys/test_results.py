"""Results from responses (pure): weekly NPS / CSAT in the project's timezone, breakdown by a person property,
choice distributions, response rate, CSV export; and the migration down and up on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import importlib
import io
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext

from opsloop.store.metadata import MetadataStore
from opsloop.surveys.definitions import parse_definition
from opsloop.surveys.results import ResponseRecord, compile_results, responses_csv, week_start
from tests.surveys.factories import nps_survey

DEFINITION = parse_definition(nps_survey())


def response(n: int, person: str, at: str, answers: dict[str, Any], completed: bool = True) -> ResponseRecord:
    return ResponseRecord(f"r{n}", person, person, "en", answers, completed, dt.datetime.fromisoformat(at))


RESPONSES = [
    # Week of Mon 2026-11-09 (Asia/Shanghai): two promoters and a detractor.
    response(1, "p1", "2026-11-09T03:00:00+00:00", {"nps": 10, "like": "fast", "plan": "pro", "csat": 5}),
    response(2, "p2", "2026-11-10T03:00:00+00:00", {"nps": 9, "plan": "pro", "csat": 4}),
    response(3, "p3", "2026-11-11T03:00:00+00:00", {"nps": 2, "wrong": "crash", "plan": "free", "csat": 1}),
    # Sunday 2026-11-15 20:00 UTC is Monday 04:00 in Shanghai: it belongs to the week of 2026-11-16.
    response(4, "p4", "2026-11-15T20:00:00+00:00", {"nps": 5, "wrong": "=cmd|' /C calc'!A0", "plan": "free"}),
    response(5, "p5", "2026-11-17T03:00:00+00:00", {"nps": 8}, completed=False),
]
PROPERTIES = {"p1": {"country": "CN"}, "p2": {"country": "ES"}, "p3": {"country": "CN"}, "p4": {"country": "CN"}}


def test_weekly_scores_in_the_project_timezone() -> None:
    results = compile_results(7, DEFINITION, RESPONSES, {"p1", "p2", "p3", "p4", "p5", "p6"}, timezone="Asia/Shanghai")
    nps_q = results.questions[0]
    # All five: promoters 10, 9; passive 8; detractors 2, 5 -> (2 - 2) / 5 = NPS 0.
    assert nps_q.nps is not None and (nps_q.nps.value, nps_q.nps.n) == (0.0, 5)
    weeks = {w.key: w.nps for w in nps_q.weekly}
    assert list(weeks) == ["2026-11-09", "2026-11-16"]
    # Week 1: 2 promoters, 1 detractor of 3 -> 33.33; week 2: a detractor (5) and a passive (8) -> -50.
    assert weeks["2026-11-09"] is not None and weeks["2026-11-09"].value == pytest.approx(100 / 3)
    assert weeks["2026-11-16"] is not None and weeks["2026-11-16"].value == pytest.approx(-50.0)
    csat = results.questions[4]
    # CSAT answers 5, 4, 1: 2 of 3 satisfied -> 66.67%.
    assert csat.csat is not None and csat.csat.value == pytest.approx(200 / 3)
    # Shown to 6, answered by 5 -> 5/6; 4 complete, 1 partial.
    assert results.response_rate == pytest.approx(5 / 6)
    assert (results.completed, results.partial) == (4, 1)
    plan = {c.value: (c.count, c.label) for c in results.questions[3].distribution}
    assert plan == {"free": (2, "Free"), "pro": (2, "Pro")}
    assert [a.text for a in results.questions[1].open_text] == ["=cmd|' /C calc'!A0", "crash"]  # newest first


def test_sunday_weeks() -> None:
    # 2026-11-15 is a Sunday: with Sunday-start weeks it starts its own week.
    assert week_start(dt.datetime(2026, 11, 15, 12, tzinfo=dt.UTC), "UTC", "sunday") == dt.date(2026, 11, 15)
    assert week_start(dt.datetime(2026, 11, 15, 12, tzinfo=dt.UTC), "UTC", "monday") == dt.date(2026, 11, 9)


def test_breakdown_by_person_property() -> None:
    results = compile_results(
        7, DEFINITION, RESPONSES, set(), breakdown="country", person_properties=PROPERTIES, timezone="UTC"
    )
    groups = {g.key: g.nps for g in results.questions[0].breakdown}
    # CN: 10, 2, 5 -> 1 promoter, 2 detractors of 3 = -33.33; ES: 9 -> 100; p5 has no country: 8 -> 0.
    assert groups["CN"] is not None and groups["CN"].value == pytest.approx(-100 / 3)
    assert groups["ES"] is not None and groups["ES"].value == 100.0
    assert groups["$none"] is not None and groups["$none"].value == 0.0
    assert results.response_rate is None  # nobody recorded as shown


def test_csv_export_neutralises_formulas() -> None:
    text = responses_csv(DEFINITION, RESPONSES)
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text[1:])))
    assert rows[3]["wrong"] == "'=cmd|' /C calc'!A0"
    assert (rows[0]["nps"], rows[0]["plan"], rows[4]["completed"]) == ("10", "pro", "false")


@pytest.fixture
def metadata(metadata_url: str) -> MetadataStore:
    return MetadataStore(metadata_url)


def test_migration_0006_goes_down_and_up(metadata: MetadataStore) -> None:
    revision = importlib.import_module("opsloop.store.migrations.versions.0006_surveys")
    mine = {"surveys", "survey_impressions", "survey_responses", "survey_settings"}
    with metadata.engine.begin() as connection:
        with Operations.context(MigrationContext.configure(connection)):
            revision.downgrade()
        assert not mine & set(sa.inspect(connection).get_table_names())
        with Operations.context(MigrationContext.configure(connection)):
            revision.upgrade()
        assert mine <= set(sa.inspect(connection).get_table_names())
    metadata.close()


def test_results_in_the_readers_language() -> None:
    from opsloop.surveys.results import results_language

    definition = parse_definition(nps_survey())
    # The survey has en, es and zh_Hans: exact match, base language (zh -> zh_Hans, es-MX -> es), else default.
    assert results_language(definition, "zh_Hans") == "zh_Hans"
    assert results_language(definition, "zh") == "zh_Hans"
    assert results_language(definition, "es-MX") == "es"
    assert results_language(definition, "fr") == "en"
    assert results_language(definition, None) == "en"
    record = ResponseRecord(
        "r1", "p1", "d1", "en", {"nps": 9, "like": "ok", "plan": "pro"}, False, dt.datetime.now(dt.UTC)
    )
    results = compile_results(1, definition, [record], {"p1"}, language="es")
    assert results.questions[0].text == "¿Qué probabilidad hay de que nos recomiendes?"
    plan = next(q for q in results.questions if q.id == "plan")
    assert [c.label for c in plan.distribution] == ["Gratis", "Pro"]
