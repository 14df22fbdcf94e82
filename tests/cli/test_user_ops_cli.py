"""`opsloop tag`, `opsloop lifecycle`, `opsloop rfm-movement`, `opsloop rfm-segment`, `opsloop portrait` and
`opsloop refresh` end to end on a data dir, with clear errors."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

from typer.testing import CliRunner

from opsloop.cli.main import app

runner = CliRunner()


def test_user_ops_commands(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    project = str(json.loads(runner.invoke(app, ["project", "create", "Shop", "--json", *data]).stdout)["project_id"])
    at = ["--project", project, *data]
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
    assert runner.invoke(app, ["import", str(events), *mapping, *at]).exit_code == 0

    assert runner.invoke(app, ["tag", "set", "ann", "vip", "--value", "gold", *at]).exit_code == 0
    r = runner.invoke(app, ["tag", "set", "zed", "vip", *at])
    assert r.exit_code == 2 and "no person has the distinct_id 'zed'" in r.output
    tags_csv = tmp_path / "tags.csv"
    tags_csv.write_text("distinct_id,tag,value\nbob,vip,silver\n,vip\n")
    r = runner.invoke(app, ["tag", "import", str(tags_csv), "--json", *at])
    assert json.loads(r.stdout) == {"stored": 1, "errors": ["line 3: the distinct_id is empty"]}
    rule = tmp_path / "rule.json"
    tiers = [{"value": "high", "min": 100}, {"value": "low", "min": 0}]
    rule.write_text(json.dumps({"event": "purchase", "aggregate": "sum", "property": "amount", "thresholds": tiers}))
    r = runner.invoke(app, ["tag", "rule", "value_tier", "--rule", str(rule), *at])
    assert r.exit_code == 0 and "2 person(s)" in r.output, r.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"event": "purchase", "aggregate": "sum"}))
    r = runner.invoke(app, ["tag", "rule", "x", "--rule", str(bad), *at])
    assert r.exit_code == 2 and "property" in r.output
    listed = json.loads(runner.invoke(app, ["tag", "list", "--json", *at]).stdout)
    assert {t["tag"]: t["values"] for t in listed} == {
        "value_tier": {"high": 1, "low": 1},
        "vip": {"gold": 1, "silver": 1},
    }

    r = runner.invoke(app, ["lifecycle", "settings", "--churn-days", "20", *at])
    assert r.exit_code == 2 and "active_days must be below churn_days" in r.output
    r = runner.invoke(app, ["lifecycle", "settings", "--new-days", "3", *at])
    assert json.loads(r.stdout) == {"new_days": 3, "active_days": 30, "churn_days": 90}
    r = runner.invoke(app, ["lifecycle", "counts", "--from", today, "--json", *at])
    assert json.loads(r.stdout)[-1]["new"] == 3  # everyone was first seen today

    rfm = ["--event", "purchase", "--amount", "amount", "--days", "30"]
    r = runner.invoke(app, ["rfm-movement", *rfm, "--json", *at])
    assert r.exit_code == 0 and json.loads(r.stdout)["moved"] == 2  # both buyers are new since 30 days ago
    r = runner.invoke(app, ["rfm-segment", *rfm, "--segment", "Hibernating", *at])
    assert r.exit_code == 0 and "RFM Hibernating" in r.output, r.output
    segment = r.output.split()[1]
    r = runner.invoke(app, ["rfm-segment", *rfm, "--cell", "9", *at])
    assert r.exit_code == 2 and "--cell" in r.output
    r = runner.invoke(app, ["portrait", segment, "--dimension", "person:plan", "--dimension", "tag:vip", *at])
    assert r.exit_code == 0, r.output
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows[0][:3] == ["dimension", "value", "segment_persons"] and rows[1][0] == "person:plan"
    r = runner.invoke(app, ["portrait", segment, "--dimension", "tag", *at])
    assert r.exit_code == 2 and "property" in r.output

    r = runner.invoke(app, ["refresh", *at])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["tags"] == {"value_tier": 2} and list(report["segments"].values()) == [1]
