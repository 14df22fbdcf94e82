"""`opsloop user ...`: create console users, give them roles, list them; clear errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from opsloop.cli.main import app
from opsloop.config import Settings
from opsloop.runtime import Runtime

runner = CliRunner()


def test_create_grant_and_list(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    project = json.loads(runner.invoke(app, ["project", "create", "Shop", "--json", *data]).stdout)
    pid = str(project["project_id"])
    r = runner.invoke(
        app,
        [
            "user",
            "create",
            "Ana@example.com",
            "--password",
            "correct horse battery",
            "--project",
            pid,
            "--role",
            "admin",
            *data,
        ],
    )
    assert r.exit_code == 0, r.output
    assert f"ana@example.com (admin of project {pid})" in r.stdout and "password:" not in r.stdout
    # --prompt asks twice without echo; no --password and no --prompt generates one and prints it once.
    r = runner.invoke(
        app, ["user", "create", "bo@example.com", "--prompt", *data], input="another password\nanother password\n"
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["user", "create", "cy@example.com", *data])
    generated = next(line.split(": ", 1)[1] for line in r.stdout.splitlines() if line.startswith("password: "))
    r = runner.invoke(app, ["user", "grant", "bo@example.com", "--project", pid, "--role", "Viewer", *data])
    assert r.exit_code == 0 and "viewer of project" in r.stdout, r.output

    listed = json.loads(runner.invoke(app, ["user", "list", "--json", *data]).stdout)
    assert [(u["email"], u["projects"]) for u in listed] == [
        ("ana@example.com", [{"project_id": int(pid), "role": "admin"}]),
        ("bo@example.com", [{"project_id": int(pid), "role": "viewer"}]),
        ("cy@example.com", []),
    ]
    runtime = Runtime(Settings(data_dir=tmp_path / "data"))
    try:
        users = runtime.accounts.users
        assert users.authenticate("ana@example.com", "correct horse battery") is not None
        assert users.authenticate("bo@example.com", "another password") is not None
        assert users.authenticate("cy@example.com", generated) is not None
        actions = [(e.action, e.actor) for e in reversed(runtime.accounts.audit.entries(int(pid)))]
        assert actions == [("member_added", "cli"), ("member_added", "cli")]
    finally:
        runtime.close()


def test_errors_are_clear(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    runner.invoke(app, ["project", "create", "Shop", *data])
    cases = [
        (["user", "create", "ana@example.com", "--password", "short"], "at least 10 characters"),
        (["user", "create", "nope", "--password", "correct horse battery"], "is not an email address"),
        (
            ["user", "create", "ana@example.com", "--password", "correct horse battery", "--project", "99"],
            "project 99 does not exist",
        ),
        (
            [
                "user",
                "create",
                "ana@example.com",
                "--password",
                "correct horse battery",
                "--project",
                "1",
                "--role",
                "owner",
            ],
            "role must be one of",
        ),
        (["user", "grant", "zed@example.com", "--project", "1"], "no user with email zed@example.com"),
    ]
    for args, message in cases:
        r = runner.invoke(app, [*args, *data])
        assert r.exit_code == 2, (args, r.output)
        assert message in r.output, (args, r.output)
    assert json.loads(runner.invoke(app, ["user", "list", "--json", *data]).stdout) == []  # nothing half-created
    runner.invoke(app, ["user", "create", "ana@example.com", "--password", "correct horse battery", *data])
    r = runner.invoke(app, ["user", "create", "ANA@example.com", "--password", "correct horse battery", *data])
    assert r.exit_code == 2 and "already exists" in r.output


def test_set_password_signs_out_everywhere(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    runner.invoke(app, ["user", "create", "ana@example.com", "--password", "correct horse battery", *data])
    runtime = Runtime(Settings(data_dir=tmp_path / "data"))
    try:
        user = runtime.accounts.users.find("ana@example.com")
        assert user is not None
        token = runtime.accounts.sessions.start(user.id).token
    finally:
        runtime.close()
    r = runner.invoke(app, ["user", "set-password", "ana@example.com", *data])
    assert r.exit_code == 0 and "1 session(s) signed out" in r.stdout, r.output
    new = next(line.split(": ", 1)[1] for line in r.stdout.splitlines() if line.startswith("password: "))
    runtime = Runtime(Settings(data_dir=tmp_path / "data"))
    try:
        assert runtime.accounts.sessions.resolve(token) is None
        assert runtime.accounts.users.authenticate("ana@example.com", new) is not None
        assert runtime.accounts.users.authenticate("ana@example.com", "correct horse battery") is None
    finally:
        runtime.close()
    r = runner.invoke(app, ["user", "set-password", "nobody@example.com", "--password", "x" * 12, *data])
    assert r.exit_code == 2 and "no user with email" in r.output
    r = runner.invoke(app, ["user", "set-password", "ana@example.com", "--password", "short", *data])
    assert r.exit_code == 2 and "at least 10" in r.output
