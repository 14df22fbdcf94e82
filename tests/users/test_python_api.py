"""User operations from Python: `opsloop.connect(...).project(id)` catalogue, segments and RFM."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from typer.testing import CliRunner

import opsloop
from opsloop.cli.main import app


def test_python_api(tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path / "data")]
    project = json.loads(runner.invoke(app, ["project", "create", "Shop", "--json", *data]).stdout)["project_id"]
    today = dt.datetime.now(dt.UTC).date().isoformat()
    events = tmp_path / "events.csv"
    events.write_text(
        "uid,what,when,amount,plan\n"
        f"ann,purchase,{today}T00:00:01Z,30,pro\n"
        f"bob,purchase,{today}T00:00:02Z,5,free\n"
        f"cat,pageview,{today}T00:00:03Z,,pro\n"
    )
    mapping = ["--map", "uid=distinct_id", "--map", "what=event", "--map", "when=timestamp"]
    mapping += ["--map", "amount=properties.amount", "--map", "plan=$set.plan"]
    assert runner.invoke(app, ["import", str(events), "--project", str(project), *mapping, *data]).exit_code == 0

    with opsloop.connect(tmp_path / "data") as ops:
        shop = ops.project(project)
        names = {(e.kind, e.name) for e in shop.catalogue()}
        assert {("event", "purchase"), ("event_property", "amount"), ("person_property", "plan")} <= names
        pro_buyers = {
            "conditions": [
                {"type": "person", "property": "plan", "value": "pro"},
                {"type": "event", "event": "purchase", "within_days": 7},
            ]
        }
        assert shop.segment_size(pro_buyers) == 1  # ann: cat is pro but did not buy
        saved = shop.create_segment("pro buyers", pro_buyers)
        assert shop.refresh_segment(saved.id).size == 1
        assert len(shop.segment_members(saved.id)) == 1
        static = shop.create_segment("list")
        assert shop.import_segment_list(static.id, "distinct_id\nbob\ncat\n").list_size == 2
        assert [s.name for s in shop.segments()] == ["list", "pro buyers"]
        # Two buyers: ann (last at :01, 30) and bob (later, 5): R 1 / 3, F 3 / 1, M 3 / 1.
        rfm = shop.rfm("purchase", "amount", lookback_days=7)
        assert rfm.persons == 2 and rfm.revenue == 35
        filtered = shop.query(
            {"kind": "trends", "series": [{"event": "$any"}], "filters": [{"type": "segment", "segment_id": static.id}]}
        )
        assert filtered.series[0].total == 2  # bob's purchase and cat's pageview


def test_user_ops_from_python(tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path / "data")]
    project = json.loads(runner.invoke(app, ["project", "create", "Shop", "--json", *data]).stdout)["project_id"]
    today = dt.datetime.now(dt.UTC).date().isoformat()
    events = tmp_path / "events.csv"
    events.write_text(
        "uid,what,when,amount,plan\n"
        f"ann,purchase,{today}T00:00:01Z,130,pro\n"
        f"bob,purchase,{today}T00:00:02Z,5,free\n"
        f"cat,pageview,{today}T00:00:03Z,,pro\n"
    )
    mapping = ["--map", "uid=distinct_id", "--map", "what=event", "--map", "when=timestamp"]
    mapping += ["--map", "amount=properties.amount", "--map", "plan=$set.plan"]
    assert runner.invoke(app, ["import", str(events), "--project", str(project), *mapping, *data]).exit_code == 0

    with opsloop.connect(tmp_path / "data") as ops:
        shop = ops.project(project).user_ops
        assert shop.tag("cat", "vip").stored == 1
        tiers = [{"value": "high", "min": 100}, {"value": "low", "min": 0}]
        rule = {"event": "purchase", "aggregate": "sum", "property": "amount", "thresholds": tiers}
        assert shop.save_tag_rule("value_tier", rule) == 2
        assert {t.tag: t.values for t in shop.tags()} == {"value_tier": {"high": 1, "low": 1}, "vip": {"": 1}}
        assert shop.lifecycle_thresholds(churn_days=60).churn_days == 60
        assert shop.stage_counts(dt.date.fromisoformat(today))[-1].counts["new"] == 3
        # ann bought first (R 1) and bob later: one purchase each -> ann (1, 1) Hibernating, bob (3, 3).
        rfm = {"value_event": "purchase", "amount_property": "amount", "lookback_days": 30}
        saved = shop.rfm_segment(rfm, cell=(3, 3))
        assert ops.project(project).refresh_segment(saved.id).size == 1
        assert shop.rfm_movement("purchase", "amount", 30).moved == 2
        high = {"conditions": [{"type": "tag", "tag": "value_tier", "value": "high"}]}
        picture = shop.portrait([{"type": "person", "property": "plan"}], definition=high)
        # ann (pro) is the whole segment: pro 1/1 against 2/3 overall.
        assert [(r.value, r.segment_persons, r.all_persons) for r in picture.dimensions[0].rows][0] == ("pro", 1, 2)
        assert shop.refresh().tags == {"value_tier": 2}
