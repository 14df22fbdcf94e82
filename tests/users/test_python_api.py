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
