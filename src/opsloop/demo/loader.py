"""Load the demo product: generate it, write it as Parquet, and import it through the bulk-import path."""

from __future__ import annotations

import csv
import datetime as dt
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from opsloop.demo.generator import EVENT_BATCH_SCHEMA, DemoSpec, generate_demo
from opsloop.ingest.bulk import ImportSummary, ProgressCallback, import_file
from opsloop.projects import ProjectInfo
from opsloop.runtime import Runtime

CREDENTIALS_FILE = "demo-credentials.json"
DEMO_PROJECT_NAME = "Demo shop"
DEMO_CONSOLE_EMAIL = "demo@example.com"


@dataclass(frozen=True)
class DemoResult:
    """What the demo loaded and where its credentials are."""

    project: ProjectInfo
    token: str
    api_key: str
    credentials_path: Path
    summary: ImportSummary
    events_file: Path
    console_email: str = ""
    console_password: str = ""


def _demo_project(runtime: Runtime, credentials: Path) -> tuple[ProjectInfo, str, str]:
    """Reuse the project recorded in the credentials file, or create a new one."""
    if credentials.is_file():
        saved = json.loads(credentials.read_text())
        project = runtime.projects.get(int(saved.get("project_id", 0)))
        if project is not None and runtime.projects.project_for_api_key(saved.get("api_key", "")) == project.id:
            return project, saved["project_token"], saved["api_key"]
    created = runtime.projects.create(DEMO_PROJECT_NAME, timezone="UTC")
    return created.project, created.token, created.api_key


def _demo_console_user(runtime: Runtime, project_id: int, credentials: Path) -> tuple[str, str]:
    """The demo's console admin: keep the saved password when it still works, otherwise set a new one."""
    from opsloop.accounts.roles import Role

    users = runtime.accounts.users
    saved = json.loads(credentials.read_text()) if credentials.is_file() else {}
    password = saved.get("console_password", "")
    user = users.find(DEMO_CONSOLE_EMAIL)
    if user is None:
        password = secrets.token_urlsafe(12)
        user = users.create(DEMO_CONSOLE_EMAIL, password, display_name="Demo admin")
    elif not password or users.authenticate(DEMO_CONSOLE_EMAIL, password) is None:
        password = secrets.token_urlsafe(12)
        users.set_password(user.id, password)
    if users.role_in(user.id, project_id) != Role.admin:
        users.set_role(project_id, user.id, Role.admin)
    return DEMO_CONSOLE_EMAIL, password


def write_events_file(spec: DemoSpec, path: Path, on_progress: ProgressCallback | None = None) -> int:
    """Generate the demo events into a Parquet file; returns the number of rows written."""
    data = generate_demo(spec)
    rows = 0
    with pq.ParquetWriter(path, EVENT_BATCH_SCHEMA, compression="zstd") as writer:
        for batch in data.event_batches():
            writer.write_batch(batch)
            rows += batch.num_rows
            if on_progress:
                on_progress(rows, 0, "rows")
    if on_progress:
        on_progress(rows, rows, "rows")  # done: the bar stops its clock
    with open(path.with_name("demo-channel-costs.csv"), "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["date", "channel", "spend", "currency"])
        for cost in data.channel_costs:
            out.writerow([cost.date.isoformat(), cost.channel, f"{cost.spend:.2f}", cost.currency])
    return rows


def load_demo(
    runtime: Runtime,
    spec: DemoSpec,
    *,
    on_generate: ProgressCallback | None = None,
    on_import: ProgressCallback | None = None,
) -> DemoResult:
    """Generate the demo and import it into the demo project (re-running it adds nothing twice)."""
    data_dir = runtime.settings.resolved_data_dir
    credentials = data_dir / CREDENTIALS_FILE
    project, token, api_key = _demo_project(runtime, credentials)
    console_email, console_password = _demo_console_user(runtime, project.id, credentials)
    events_file = data_dir / "demo-events.parquet"
    write_events_file(spec, events_file, on_generate)
    summary = import_file(
        runtime.writer,
        events_file,
        project.id,
        batch_rows=runtime.settings.import_batch_rows,
        on_progress=on_import,
    )
    credentials.write_text(
        json.dumps(
            {
                "project_id": project.id,
                "project_name": project.name,
                "project_token": token,
                "api_key": api_key,
                "url": f"http://{runtime.settings.host}:{runtime.settings.port}",
                "console_email": console_email,
                "console_password": console_password,
                "generated": {
                    "persons": spec.persons,
                    "days": spec.days,
                    "seed": spec.seed,
                    "end_date": spec.end_date.isoformat(),
                },
                "loaded_at": dt.datetime.now(dt.UTC).isoformat(),
            },
            indent=2,
        )
    )
    credentials.chmod(0o600)
    return DemoResult(project, token, api_key, credentials, summary, events_file, console_email, console_password)
