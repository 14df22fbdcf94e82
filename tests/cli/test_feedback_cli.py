"""`opsloop feedback import` and `opsloop feedback themes` end to end, and Python access to feedback."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

import opsloop
from opsloop.cli.main import app

runner = CliRunner()
DATA = Path(__file__).parents[1] / "feedback" / "data" / "feedback_eval.jsonl"


def _project(data: list[str]) -> int:
    created = runner.invoke(app, ["project", "create", "Shop", "--json", *data])
    assert created.exit_code == 0, created.output
    return int(json.loads(created.stdout)["project_id"])


def _csv(tmp_path: Path) -> Path:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    lines = ["text,distinct_id,tags"] + [
        '"{}",u{},{}'.format(r["text"].replace('"', '""'), i, r["theme"]) for i, r in enumerate(rows[::2])
    ]
    lines.append(",u-empty,")  # line 152: no text
    path = tmp_path / "feedback.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_import_then_themes(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    project = _project(data)
    result = runner.invoke(app, ["feedback", "import", str(_csv(tmp_path)), "--project", str(project), *data])
    assert result.exit_code == 0, result.output
    assert "151 rows" in result.output and "150 stored" in result.output and "line 152: text" in result.output
    listed = runner.invoke(app, ["feedback", "themes", "--project", str(project), "--json", *data])
    assert listed.exit_code == 0, listed.output
    themes = json.loads(listed.stdout)
    assert len(themes) >= 5 and sum(t["size"] for t in themes) >= 140
    table = runner.invoke(app, ["feedback", "themes", "--project", str(project), "--no-analyse", *data])
    assert table.exit_code == 0 and themes[0]["label"].split(" / ")[0] in table.stdout

    with opsloop.connect(tmp_path / "data") as ops:
        fb = ops.project(project).feedback
        item = fb.add("应用一打开就闪退，太烦了", distinct_id="u-zh", tags=["android"])
        assert (item.language, item.sentiment) == ("zh", "negative") and item.theme_id is not None
        assert fb.search(tag="android").total == 1
        assert fb.update(item.id, status="closed").status == "closed"
        assert [t.id for t in fb.themes()] == [t["id"] for t in themes]


def test_errors_are_clear(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    project = _project(data)
    missing = runner.invoke(app, ["feedback", "import", str(tmp_path / "nope.csv"), "--project", str(project), *data])
    assert missing.exit_code == 2 and "nope.csv" in missing.output
    no_text = tmp_path / "bad.csv"
    no_text.write_text("body\nhello\n")
    result = runner.invoke(app, ["feedback", "import", str(no_text), "--project", str(project), *data])
    assert result.exit_code == 2 and "`text` column" in result.output
    result = runner.invoke(app, ["feedback", "import", str(_csv(tmp_path)), "--project", "99", *data])
    assert result.exit_code == 2 and "project 99 does not exist" in result.output
    empty = runner.invoke(app, ["feedback", "themes", "--project", str(project), *data])
    assert empty.exit_code == 2 and "at least 2" in empty.output
