"""`opsloop catalogue`, `opsloop segment` and `opsloop rfm` end to end on a data dir."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

from typer.testing import CliRunner

from opsloop.cli.main import app

runner = CliRunner()


def test_catalogue_segments_and_rfm(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    created = runner.invoke(app, ["project", "create", "Shop", "--json", *data])
    project = str(json.loads(created.stdout)["project_id"])
    events = tmp_path / "events.csv"
    today = dt.datetime.now(dt.UTC).date().isoformat()
    events.write_text(
        "uid,what,when,amount,plan\n"
        f"ann,purchase,{today}T00:00:01Z,30,pro\n"
        f"ann,purchase,{today}T00:00:02Z,20,pro\n"
        f"bob,purchase,{today}T00:00:03Z,5,free\n"
    )
    mapping = ["--map", "uid=distinct_id", "--map", "what=event", "--map", "when=timestamp"]
    mapping += ["--map", "amount=properties.amount", "--map", "plan=$set.plan"]
    assert runner.invoke(app, ["import", str(events), "--project", project, *mapping, *data]).exit_code == 0

    listed = runner.invoke(
        app, ["catalogue", "list", "--project", project, "--kind", "person_property", "--json", *data]
    )
    assert listed.exit_code == 0, listed.output
    assert [(e["name"], e["type"], e["volume"]) for e in json.loads(listed.stdout)] == [("plan", "string", 2)]
    edited = runner.invoke(app, ["catalogue", "edit", "person_property", "plan", "--project", project,
                                 "--description", "Subscription plan", *data])  # fmt: skip
    assert edited.exit_code == 0 and json.loads(edited.stdout)["description"] == "Subscription plan"
    assert runner.invoke(app, ["catalogue", "refresh", "--project", project, *data]).exit_code == 0

    definition = tmp_path / "pro.json"
    definition.write_text(json.dumps({"conditions": [{"type": "person", "property": "plan", "value": "pro"}]}))
    size = runner.invoke(app, ["segment", "size", "--project", project, "--definition", str(definition), *data])
    assert size.exit_code == 0 and size.stdout.strip() == "1"
    made = runner.invoke(
        app, ["segment", "create", "pro", "--project", project, "--definition", str(definition), *data]
    )
    assert made.exit_code == 0, made.output
    segment = str(json.loads(made.stdout)["id"])
    assert runner.invoke(app, ["segment", "refresh", segment, "--project", project, *data]).exit_code == 0
    history = runner.invoke(app, ["segment", "history", segment, "--project", project, "--json", *data])
    assert [p["size"] for p in json.loads(history.stdout)] == [1]
    exported = runner.invoke(app, ["segment", "export", segment, "--project", project, *data])
    assert [r["distinct_ids"] for r in csv.DictReader(io.StringIO(exported.stdout))] == ["ann"]

    static = runner.invoke(app, ["segment", "create", "vip", "--static", "--project", project, *data])
    vip = str(json.loads(static.stdout)["id"])
    bad = tmp_path / "bad.csv"
    bad.write_text("distinct_id\nann\nbob,1\n")
    failed = runner.invoke(app, ["segment", "import", vip, str(bad), "--project", project, *data])
    assert failed.exit_code == 2 and "line 3: expected 1 value, found 2" in failed.output
    good = tmp_path / "good.csv"
    good.write_text("distinct_id\nbob\n")
    assert runner.invoke(app, ["segment", "import", vip, str(good), "--project", project, *data]).exit_code == 0
    sized = runner.invoke(app, ["segment", "size", "--project", project, "--segment", vip, *data])
    assert sized.stdout.strip() == "1"
    typo = tmp_path / "typo.json"
    typo.write_text(json.dumps({"conditions": [{"type": "person", "property": "plann", "value": "pro"}]}))
    refused = runner.invoke(app, ["segment", "create", "t", "--project", project, "--definition", str(typo), *data])
    assert refused.exit_code == 2 and "unknown person property 'plann'" in refused.output
    listed = runner.invoke(app, ["segment", "list", "--project", project, "--json", *data])
    assert [s["name"] for s in json.loads(listed.stdout)] == ["pro", "vip"]
    assert runner.invoke(app, ["segment", "delete", vip, "--project", project, *data]).exit_code == 0

    # ann: 2 purchases, 50, last at 00:00:02; bob: 1 purchase, 5, at 00:00:03. Two buyers: places 1 and 2
    # score floor(5 * 0 / 2) + 1 = 1 and floor(5 * 1 / 2) + 1 = 3. R: ann 1, bob 3 (later); F: bob 1, ann 3.
    rfm = runner.invoke(
        app, ["rfm", "--project", project, "--event", "purchase", "--amount", "amount", "--json", *data]
    )
    assert rfm.exit_code == 0, rfm.output
    result = json.loads(rfm.stdout)
    assert result["persons"] == 2 and result["revenue"] == 55
    cells = {(c["r"], c["f"]): c["persons"] for c in result["cells"] if c["persons"]}
    assert cells == {(1, 3): 1, (3, 1): 1}
