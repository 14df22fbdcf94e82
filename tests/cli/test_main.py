"""The command line end to end: create a project, import a file, query it, and clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from opsloop.cli.main import app
from tests.conftest import free_port

runner = CliRunner()


def test_create_import_and_query(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    created = runner.invoke(app, ["project", "create", "Shop", "--timezone", "Europe/Madrid", "--json", *data])
    assert created.exit_code == 0, created.output
    project = json.loads(created.stdout)
    assert project["token"].startswith("olp_") and project["api_key"].startswith("olk_")
    assert project["timezone"] == "Europe/Madrid"

    events = tmp_path / "events.csv"
    events.write_text("uid,what,when,country\nu1,signup,2026-11-01T10:00:00Z,ES\nu2,,2026-11-01T11:00:00Z,CN\n")
    result = runner.invoke(
        app,
        [
            "import",
            str(events),
            "--project",
            str(project["project_id"]),
            "--map",
            "uid=distinct_id",
            "--map",
            "what=event",
            "--map",
            "when=timestamp",
            "--map",
            "country=$set.country",
            *data,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "1 stored" in result.output and "1 rejected" in result.output
    rejects = [json.loads(line) for line in (tmp_path / "events.csv.rejects.jsonl").read_text().splitlines()]
    assert rejects[0]["line"] == 3 and rejects[0]["reason"] == "event is missing"

    query = json.dumps({"kind": "sql", "query": "select distinct_id, event from events"})
    out = runner.invoke(app, ["query", "-", "--project", str(project["project_id"]), "--json", *data], input=query)
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["rows"] == [["u1", "signup"]]


def test_errors_are_clear(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    bad_tz = runner.invoke(app, ["project", "create", "X", "--timezone", "Mars/Base", *data])
    assert bad_tz.exit_code == 2 and "unknown timezone" in bad_tz.output
    missing = runner.invoke(app, ["import", str(tmp_path / "nope.csv"), "--project", "99", *data])
    assert missing.exit_code == 2 and "project 99 does not exist" in missing.output
    no_project = runner.invoke(app, ["query", "-", "--project", "7", *data], input='{"kind": "sql", "query": "x"}')
    assert no_project.exit_code == 2 and "project 7 does not exist" in no_project.output
    runner.invoke(app, ["project", "create", "Y", *data])
    bad_query = runner.invoke(
        app, ["query", "-", "--project", "1", *data], input='{"kind": "sql", "query": "drop table events"}'
    )
    assert bad_query.exit_code == 2 and "only SELECT" in bad_query.output


def test_import_while_the_server_runs_says_so(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    created = runner.invoke(app, ["project", "create", "Shop", "--json", "--data-dir", str(data_dir)])
    project_id = json.loads(created.stdout)["project_id"]
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "opsloop.cli.main", "serve", "--data-dir", str(data_dir), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ),
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        events = tmp_path / "e.csv"
        events.write_text("distinct_id,event,timestamp\nu1,x,2026-11-01T00:00:00Z\n")
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "opsloop.cli.main",
                "import",
                str(events),
                "--project",
                str(project_id),
                "--data-dir",
                str(data_dir),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 1
        assert "in use by another process" in proc.stderr and "Traceback" not in proc.stderr
    finally:
        server.terminate()
        server.wait(timeout=60)
