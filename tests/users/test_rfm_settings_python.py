"""The project's RFM settings from Python and the CLI: read, save, and the saved map used by `rfm`,
movement and one-click segments when none is given (an explicit map wins)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

import opsloop
from opsloop.cli.main import app
from opsloop.users.rfm import STANDARD_MAP

#: One rule covering the whole grid: every buyer is "Everyone".
ONE_RULE = [{"name": "Everyone", "r": [1, 5], "f": [1, 5]}]


def test_rfm_settings_from_python_and_the_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path / "data")]
    project = json.loads(runner.invoke(app, ["project", "create", "Shop", "--json", *data]).stdout)["project_id"]
    today = dt.datetime.now(dt.UTC).date().isoformat()
    events = tmp_path / "events.csv"
    events.write_text(f"uid,what,when,amount\nann,purchase,{today}T00:00:01Z,30\nbob,purchase,{today}T00:00:02Z,5\n")
    mapping = ["--map", "uid=distinct_id", "--map", "what=event", "--map", "when=timestamp"]
    mapping += ["--map", "amount=properties.amount"]
    assert runner.invoke(app, ["import", str(events), "--project", str(project), *mapping, *data]).exit_code == 0

    with opsloop.connect(tmp_path / "data") as ops:
        shop = ops.project(project)
        assert shop.rfm_settings().segment_map == list(STANDARD_MAP)
        assert shop.rfm_settings().value_event == "purchase" and shop.rfm_settings().amount_property == "revenue"
        # Keyword changes apply to the current settings.
        saved = shop.save_rfm_settings(amount_property="amount", lookback_days=7, segment_map=ONE_RULE)
        assert (saved.value_event, saved.amount_property, saved.lookback_days) == ("purchase", "amount", 7)
        assert shop.rfm_settings() == saved == shop.user_ops.rfm_settings()
        with pytest.raises(ValidationError, match="used by two rules"):
            shop.save_rfm_settings(segment_map=ONE_RULE * 2)
        # Nothing given: all saved. Two buyers, 30 + 5, both "Everyone".
        result = shop.rfm()
        assert [(s.segment, s.persons, s.revenue) for s in result.segments] == [("Everyone", 2, 35.0)]
        # An explicit map wins.
        standard = shop.rfm("purchase", "amount", segment_map=list(STANDARD_MAP))
        assert "Everyone" not in {s.segment for s in standard.segments}
        moved = shop.user_ops.rfm_movement(period_days=30)
        assert {(m.previous, m.current, m.persons) for m in moved.moves} == {("(none)", "Everyone", 2)}
        made = shop.user_ops.rfm_segment(segment="Everyone")
        assert made.name == "RFM Everyone" and shop.refresh_segment(made.id).size == 2
        # A whole `settings` replaces: what it leaves out takes the defaults (the KPI revenue property, 365 days).
        replaced = shop.save_rfm_settings({"segment_map": ONE_RULE})
        assert (replaced.amount_property, replaced.lookback_days) == ("revenue", 365)
        shop.save_rfm_settings(amount_property="amount")

    # The CLI takes event, amount and days from its options and the map from the settings.
    out = runner.invoke(
        app, ["rfm", "--project", str(project), "--event", "purchase", "--amount", "amount", "--json", *data]
    )
    assert out.exit_code == 0, out.stdout
    assert [s["segment"] for s in json.loads(out.stdout)["segments"]] == ["Everyone"]
    out = runner.invoke(
        app,
        ["rfm-segment", "--project", str(project), "--event", "purchase", "--amount", "amount"]
        + ["--segment", "Everyone", "--name", "all buyers", *data],
    )
    assert out.exit_code == 0
    with opsloop.connect(tmp_path / "data") as ops:
        made = {s.name: s for s in ops.project(project).segments()}["all buyers"]
        assert made.definition is not None
        assert made.definition.model_dump(mode="json")["conditions"][0]["rfm"]["segment_map"] == ONE_RULE
