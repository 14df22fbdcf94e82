"""`opsloop requirements list / export-prd` end to end, and Python access through `opsloop.connect()`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import opsloop
from opsloop.cli.main import app
from opsloop.requirements.errors import RequirementInvalid

runner = CliRunner()


def test_python_access_then_cli(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    created = runner.invoke(app, ["project", "create", "Shop", "--json", *data])
    assert created.exit_code == 0, created.output
    project = int(json.loads(created.stdout)["project_id"])
    with opsloop.connect(tmp_path / "data") as ops:
        p = ops.project(project)
        item = p.feedback.add("The [red]export[/red] button does nothing", distinct_id="u1")
        board = p.requirements
        req = board.create("Fix [bold]export[/bold]", feedback_ids=[item.id], impact=3, confidence=100, effort=2)
        other = board.create("Later", impact=0.25)
        assert board.vote(other.id, "li", voter_kind="user").votes == 1
        board.update(req.id, status="planned")
        assert [r.id for r in board.list().items] == [req.id, other.id]
        assert board.get(req.id).status == "planned"
        assert board.detail(req.id).feedback[0].id == item.id
        assert p.feedback.get(item.id).status == "linked"  # type: ignore[union-attr]
        with pytest.raises(RequirementInvalid):
            board.get(other.id + 100)
    listed = runner.invoke(app, ["requirements", "list", "--project", str(project), "--json", *data])
    assert listed.exit_code == 0, listed.output
    # u1 is no known person (no event named it), so reach and score are 0 for both; ties keep id order.
    assert [r["title"] for r in json.loads(listed.stdout)["items"]] == ["Fix [bold]export[/bold]", "Later"]
    table = runner.invoke(
        app, ["requirements", "list", "--project", str(project), "--status", "planned", *data], env={"COLUMNS": "200"}
    )
    assert table.exit_code == 0 and "Fix [bold]export[/bold]" in table.stdout and "Later" not in table.stdout
    bad = runner.invoke(app, ["requirements", "list", "--project", str(project), "--status", "done", *data])
    assert bad.exit_code == 2 and "--status" in bad.output
    out = tmp_path / "prd.md"
    exported = runner.invoke(
        app, ["requirements", "export-prd", str(req.id), "--project", str(project), "--out", str(out), *data]
    )
    assert exported.exit_code == 0, exported.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Fix \\[bold\\]export\\[/bold\\]\n") and "## Evidence" in text
    printed = runner.invoke(app, ["requirements", "export-prd", str(req.id), "--project", str(project), *data])
    assert printed.exit_code == 0 and printed.stdout == text
    missing = runner.invoke(app, ["requirements", "export-prd", "999", "--project", str(project), *data])
    assert missing.exit_code == 2 and "requirement_id" in missing.output
