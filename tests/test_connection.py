"""The Python API and `opsloop query` on a data dir filled through the real import path."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import opsloop
from opsloop.analytics.trends import TrendsQuery, TrendsResult
from opsloop.cli.main import app
from opsloop.projects import ProjectError

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path) -> tuple[Path, int]:
    """A data dir with one project (Madrid time) and five imported events."""
    data = tmp_path / "data"
    created = runner.invoke(
        app, ["project", "create", "Shop", "--timezone", "Europe/Madrid", "--json", "--data-dir", str(data)]
    )
    project = json.loads(created.stdout)["project_id"]
    events = tmp_path / "events.jsonl"
    rows = [
        ("u1", "signup", "2026-11-01T10:00:00Z"),
        ("u1", "pageview", "2026-11-01T11:00:00Z"),
        ("u2", "signup", "2026-11-01T23:30:00Z"),  # 00:30 on the 2nd in Madrid
        ("u2", "pageview", "2026-11-02T09:00:00Z"),
        ("u3", "pageview", "2026-11-02T10:00:00Z"),
    ]
    events.write_text("".join(json.dumps({"distinct_id": d, "event": e, "timestamp": t}) + "\n" for d, e, t in rows))
    imported = runner.invoke(app, ["import", str(events), "--project", str(project), "--data-dir", str(data)])
    assert imported.exit_code == 0, imported.output
    return data, project


QUERY = {"kind": "trends", "date_from": "2026-11-01", "date_to": "2026-11-02", "series": [{"event": "signup"}]}


def test_python_api_returns_typed_results_and_frames(data_dir: tuple[Path, int]) -> None:
    data, project = data_dir
    with opsloop.connect(data) as ops:
        result = ops.project(project).query(QUERY)
        assert isinstance(result, TrendsResult)
        # u2's signup is on the 2nd in Madrid.
        assert result.series[0].values == [1, 1]
        frame = result.to_pandas()
        assert list(frame.columns) == ["label", "breakdown_value", "compare", "date", "value"]
        assert frame["value"].tolist() == [1, 1]
        assert result.to_polars()["date"].to_list() == ["2026-11-01", "2026-11-02"]
        assert result.to_arrow().num_rows == 2
        # A query model works as well as a dict.
        again = ops.project(project).query(TrendsQuery.model_validate(QUERY))
        assert again == result
        sql = ops.project(project).query({"kind": "sql", "query": "select count(*) as n from events"})
        assert sql.rows() == [{"n": 5}]
        with pytest.raises(ProjectError, match="project 99 does not exist"):
            ops.project(99)


def test_cli_query_prints_table_json_and_csv(data_dir: tuple[Path, int], tmp_path: Path) -> None:
    data, project = data_dir
    query_file = tmp_path / "q.json"
    query_file.write_text(json.dumps(QUERY))
    common = ["query", str(query_file), "--project", str(project), "--data-dir", str(data)]
    table = runner.invoke(app, common)
    assert table.exit_code == 0, table.output
    assert "2026-11-02" in table.stdout and "signup" in table.stdout
    as_json = runner.invoke(app, [*common, "--format", "json"])
    assert json.loads(as_json.stdout)["series"][0]["values"] == [1, 1]
    as_csv = runner.invoke(app, [*common, "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [(r["date"], r["value"]) for r in rows] == [("2026-11-01", "1.0"), ("2026-11-02", "1.0")]
    bad = runner.invoke(app, common[:1] + ["-", *common[2:]], input='{"kind": "trends", "series": []}')
    assert bad.exit_code == 2 and "series" in bad.output
