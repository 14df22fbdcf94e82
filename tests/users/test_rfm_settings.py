"""A project's RFM settings: defaults from the KPI settings, a saved round trip per project (SQLite and
PostgreSQL), the map's checks, queries completed by what is saved (an explicit map wins), and migration 0009
adding the column to an existing database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from pydantic import ValidationError
from sqlalchemy import inspect, text

from opsloop.dashboards.kpi_settings import KpiConfig, save_kpi_config
from opsloop.projects import ProjectService
from opsloop.store.metadata import MetadataStore, alembic_config
from opsloop.users.rfm import STANDARD_MAP, RfmQuery, RfmRule
from opsloop.users.rfm_settings import RfmSettings, RfmSettingsService
from opsloop.users.stages import StageService

TWO_RULES = [RfmRule(name="Top", r=(4, 5), f=(4, 5)), RfmRule(name="Rest", r=(1, 5), f=(1, 5))]


@pytest.fixture
def metadata(metadata_url: str) -> Iterator[MetadataStore]:
    store = MetadataStore(metadata_url)
    yield store
    store.close()


def test_defaults_follow_the_kpi_settings_until_saved(metadata: MetadataStore) -> None:
    projects = ProjectService(metadata)
    mine, other = projects.create("shop").project.id, projects.create("other").project.id
    service = RfmSettingsService(metadata)
    # Nothing saved: the home dashboard's purchase event and revenue property, 365 days, the standard map.
    assert service.settings(mine) == RfmSettings(value_event="purchase", amount_property="revenue")
    assert service.settings(mine).segment_map == list(STANDARD_MAP)
    save_kpi_config(metadata, mine, KpiConfig(purchase_event="order_paid", revenue_property="total"))
    assert (service.settings(mine).value_event, service.settings(mine).amount_property) == ("order_paid", "total")
    # Saved: read back as saved, in this project only.
    saved = RfmSettings(value_event="order_paid", amount_property="total", lookback_days=90, segment_map=TWO_RULES)
    assert service.save(mine, saved) == saved
    assert service.settings(mine) == saved
    assert service.settings(other) == RfmSettings(value_event="purchase", amount_property="revenue")
    # Saving again replaces; the lifecycle thresholds in the same row are left alone, and the other way round.
    stages = StageService(metadata, None)  # type: ignore[arg-type]  # thresholds only: no events store needed
    thresholds = stages.thresholds(mine).model_copy(update={"churn_days": 120})
    stages.set_thresholds(mine, thresholds)
    service.save(mine, saved.model_copy(update={"lookback_days": 30}))
    assert service.settings(mine).lookback_days == 30 and stages.thresholds(mine).churn_days == 120
    stages.set_thresholds(mine, thresholds.model_copy(update={"churn_days": 150}))
    assert service.settings(mine).segment_map == TWO_RULES


def test_queries_take_what_is_left_out_from_the_saved_settings(metadata: MetadataStore) -> None:
    project = ProjectService(metadata).create("shop").project.id
    service = RfmSettingsService(metadata)
    saved = RfmSettings(value_event="buy", amount_property="amt", lookback_days=90, segment_map=TWO_RULES)
    service.save(project, saved)
    # Nothing given: all saved.
    assert service.query(project) == RfmQuery(
        value_event="buy", amount_property="amt", lookback_days=90, segment_map=TWO_RULES
    )
    # An explicit value wins, field by field; the map comes from the saved settings when the query has none.
    query = service.query(project, {"value_event": "purchase", "lookback_days": 7})
    assert (query.value_event, query.amount_property, query.lookback_days) == ("purchase", "amt", 7)
    assert query.segment_map == TWO_RULES
    # A query model counts only the fields that were set: the default (standard) map is not "given".
    built = RfmQuery(value_event="purchase", amount_property="revenue")
    assert service.query(project, built).segment_map == TWO_RULES
    explicit = RfmQuery(value_event="purchase", amount_property="revenue", segment_map=list(STANDARD_MAP))
    assert service.query(project, explicit).segment_map == list(STANDARD_MAP)
    with pytest.raises(ValidationError, match="lookback_days"):
        service.query(project, {"lookback_days": 0})


@pytest.mark.parametrize(
    ("segment_map", "where", "message"),
    [
        ([{"name": "A", "r": [1, 5], "f": [1, 5]}, {"name": "A", "r": [1, 1], "f": [1, 1]}], "segment_map", "two"),
        ([{"name": "  ", "r": [1, 5], "f": [1, 5]}], "segment_map", "blank name"),
        ([{"name": "", "r": [1, 5], "f": [1, 5]}], "segment_map.0.name", "at least 1 character"),
        ([{"name": "A", "r": [4, 2], "f": [1, 5]}], "segment_map.0", "low before high"),
        ([{"name": "A", "r": [0, 5], "f": [1, 5]}], "segment_map.0", "scores are 1 to 5"),
        ([], "segment_map", "at least 1 item"),
    ],
)
def test_a_bad_map_is_refused_naming_the_field(segment_map: list[object], where: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        RfmSettings.model_validate({"value_event": "buy", "amount_property": "amt", "segment_map": segment_map})
    first = caught.value.errors()[0]
    assert ".".join(str(p) for p in first["loc"]) == where
    assert message in first["msg"]


def test_migration_0009_adds_the_column_to_an_existing_database(metadata_url: str) -> None:
    store = MetadataStore(metadata_url)
    try:
        project = ProjectService(store).create("shop").project.id
        config = alembic_config(store.engine.url.render_as_string(hide_password=False))
        command.downgrade(config, "0008")
        with store.engine.connect() as connection:
            columns = {c["name"] for c in inspect(connection).get_columns("user_ops_settings")}
        assert columns == {"project_id", "lifecycle"}
        # A project with lifecycle thresholds saved before the upgrade.
        with store.engine.begin() as connection:
            connection.execute(
                text("INSERT INTO user_ops_settings (project_id, lifecycle) VALUES (:p, :l)"),
                {"p": project, "l": '{"new_days": 3, "active_days": 30, "churn_days": 90}'},
            )
        command.upgrade(config, "head")
        with store.engine.connect() as connection:
            columns = {c["name"]: c for c in inspect(connection).get_columns("user_ops_settings")}
        assert columns["rfm"]["nullable"]
        # The old row keeps its thresholds, has no RFM settings (the defaults), and can save some.
        assert StageService(store, None).thresholds(project).new_days == 3  # type: ignore[arg-type]
        service = RfmSettingsService(store)
        assert service.settings(project).segment_map == list(STANDARD_MAP)
        service.save(project, RfmSettings(value_event="buy", amount_property="amt", segment_map=TWO_RULES))
        assert service.settings(project).segment_map == TWO_RULES
        assert StageService(store, None).thresholds(project).new_days == 3  # type: ignore[arg-type]
    finally:
        store.close()
