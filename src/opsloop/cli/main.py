"""The `opsloop` command line: thin Typer commands over the same services as the web API."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from opsloop.config import Settings
from opsloop.ingest.bulk import ColumnMapping, ImportFailed, ProgressCallback, import_file
from opsloop.projects import ProjectError
from opsloop.query.registry import QueryInvalid, execute_query, result_json
from opsloop.query.sql import SqlRejected
from opsloop.runtime import Runtime
from opsloop.store.events import QueryFailed, QueryTimeout, StoreLocked

app = typer.Typer(help="opsloop: self-hosted product operations platform.", no_args_is_help=True)
project_app = typer.Typer(help="Manage projects.", no_args_is_help=True)
app.add_typer(project_app, name="project")
console = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data folder (default: $OPSLOOP_DATA_DIR or ./opsloop-data)."),
]


def _settings(data_dir: Path | None = None, **overrides: Any) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    return Settings(**values)


@contextmanager
def _runtime(settings: Settings, *, importing: bool = False) -> Iterator[Runtime]:
    runtime = Runtime(settings, importing=importing)
    try:
        yield runtime
    except StoreLocked as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    finally:
        runtime.close()


def _progress(*descriptions: str) -> tuple[Progress, list[ProgressCallback]]:
    """A Rich progress display with one task per description, and a callback updating each."""
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[unit]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    callbacks: list[ProgressCallback] = []
    for description in descriptions:
        task = progress.add_task(description, total=None, unit="", start=False)

        def update(done: int, total: int, unit: str, task: Any = task) -> None:
            progress.start_task(task)
            progress.update(task, completed=done, total=total or None, unit=unit)

        callbacks.append(update)
    return progress, callbacks


@app.command()
def serve(
    data_dir: DataDir = None,
    host: Annotated[str | None, typer.Option(help="Listen address.")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port.")] = None,
) -> None:
    """Serve the capture API, query API and console."""
    settings = _settings(data_dir, host=host, port=port)
    _serve(settings)


def _serve(settings: Settings) -> None:
    from opsloop.web.app import create_app, serve

    console.print(
        f"opsloop serving on [bold]http://{settings.host}:{settings.port}[/] (data: {settings.resolved_data_dir})"
    )
    try:
        serve(create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level)
    except StoreLocked as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None


@app.command()
def migrate(data_dir: DataDir = None) -> None:
    """Apply metadata-store migrations (also done automatically on start)."""
    settings = _settings(data_dir)
    with _runtime(settings) as runtime:
        runtime.metadata  # noqa: B018 - opening the store migrates it
    console.print("metadata store is up to date")


@project_app.command("create")
def project_create(
    name: str,
    timezone: Annotated[str, typer.Option(help="IANA timezone for day/week/month buckets.")] = "UTC",
    week_start: Annotated[str, typer.Option(help="monday or sunday.")] = "monday",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Create a project; prints its id, capture token and a new API key (shown only once)."""
    with _runtime(_settings(data_dir)) as runtime:
        try:
            created = runtime.projects.create(name, timezone=timezone, week_start=week_start)
        except ProjectError as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None
    out = {
        "project_id": created.project.id,
        "name": created.project.name,
        "timezone": created.project.timezone,
        "token": created.token,
        "api_key": created.api_key,
    }
    if as_json:
        typer.echo(json.dumps(out))
        return
    for key, value in out.items():
        typer.echo(f"{key}: {value}")
    console.print("[yellow]Keep the API key now: it is stored hashed and cannot be shown again.[/]")


@project_app.command("list")
def project_list(data_dir: DataDir = None) -> None:
    """List projects."""
    with _runtime(_settings(data_dir)) as runtime:
        table = Table("id", "name", "timezone", "week start")
        for p in runtime.projects.list():
            table.add_row(str(p.id), p.name, p.timezone, p.week_start)
    Console().print(table)


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="CSV, JSONL or Parquet file of events.")],
    project: Annotated[int, typer.Option("--project", help="Project id.")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv, jsonl or parquet (default: from extension).")
    ] = None,
    maps: Annotated[
        list[str] | None,
        typer.Option("--map", help="COLUMN=FIELD, e.g. user_id=distinct_id, plan=$set.plan, ts=timestamp, junk=-"),
    ] = None,
    rejects: Annotated[Path | None, typer.Option(help="Where refused rows go (default FILE.rejects.jsonl).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Import events from a file: streaming, idempotent, refused rows written with line numbers and reasons."""
    settings = _settings(data_dir)
    with _runtime(settings, importing=True) as runtime:
        if runtime.projects.get(project) is None:
            console.print(f"[red]error:[/] project {project} does not exist (see `opsloop project list`)")
            raise typer.Exit(2)
        progress, (update,) = _progress(f"importing {file.name}")
        try:
            with progress:
                summary = import_file(
                    runtime.writer,
                    file,
                    project,
                    fmt=fmt,
                    mapping=ColumnMapping.parse(maps or []),
                    rejects_path=rejects,
                    batch_rows=settings.import_batch_rows,
                    on_progress=update,
                )
        except ImportFailed as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None
    if summary.previously_imported_at:
        console.print(f"this file was imported before ({summary.previously_imported_at}); repeated rows were skipped")
    console.print(
        f"read {summary.rows_read:,} rows in {summary.seconds:.1f} s ({summary.events_per_second:,.0f}/s): "
        f"[green]{summary.stored:,} stored[/], {summary.duplicates:,} already present, "
        f"[red]{summary.rejected:,} rejected[/]"
    )
    if summary.rejects_path:
        console.print(f"rejected rows with line numbers and reasons: {summary.rejects_path}")


class OutputFormat(StrEnum):
    """How `opsloop query` prints its result."""

    table = "table"
    json = "json"
    csv = "csv"


@app.command()
def query(
    file: Annotated[Path, typer.Argument(help='JSON query object, e.g. {"kind": "trends", ...}; - for stdin.')],
    project: Annotated[int, typer.Option("--project", help="Project id.")],
    output: Annotated[OutputFormat, typer.Option("--format", help="table (Rich), json or csv.")] = OutputFormat.table,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Run a query object against a project (the same objects as POST /api/projects/{id}/query)."""
    raw = sys.stdin.read() if str(file) == "-" else file.read_text()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        console.print(f"[red]error:[/] {file} is not valid JSON: {exc}")
        raise typer.Exit(2) from None
    settings = _settings(data_dir)
    with _runtime(settings) as runtime:
        try:
            result = execute_query(runtime.store, runtime.project_context(project), body, settings)
        except (QueryInvalid, SqlRejected, QueryFailed, QueryTimeout, ProjectError) as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None
    if as_json or output == OutputFormat.json:
        typer.echo(orjson.dumps(result_json(result), option=orjson.OPT_INDENT_2).decode())
        return
    rows = result.rows()
    columns = list(rows[0]) if rows else list(getattr(result, "columns", []))
    if output == OutputFormat.csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows([_csv_cell(row.get(c)) for c in columns] for row in rows)
        return
    table = Table(*columns)
    for row in rows:
        table.add_row(*(_table_cell(row.get(c)) for c in columns))
    Console().print(table)


def _table_cell(value: Any) -> str:
    """A value as the table shows it: fractions to 4 decimals (JSON and CSV keep full precision)."""
    if value is None:
        return ""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.4f}"
    return str(value)


def _csv_cell(value: Any) -> Any:
    """Lists and dicts as JSON text in a CSV cell."""
    return orjson.dumps(value).decode() if isinstance(value, list | dict) else value


@app.command()
def demo(
    data_dir: DataDir = None,
    persons: Annotated[int, typer.Option(help="Persons to generate.")] = 20_000,
    days: Annotated[int, typer.Option(help="Days of history, ending yesterday.")] = 120,
    seed: Annotated[int, typer.Option(help="Random seed (same seed and date: same data).")] = 42,
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve after loading.")] = True,
    host: Annotated[str | None, typer.Option(help="Listen address.")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port.")] = None,
) -> None:
    """Generate and load a realistic demo product, then serve it."""
    from opsloop.demo.generator import DemoSpec
    from opsloop.demo.loader import load_demo

    settings = _settings(data_dir, host=host, port=port)
    # History ends yesterday (UTC) so that no demo event lies in the future.
    end_date = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    spec = DemoSpec(persons=persons, days=days, seed=seed, end_date=end_date)
    with _runtime(settings, importing=True) as runtime:
        progress, (on_generate, on_import) = _progress("generating demo events", "loading through bulk import")
        with progress:
            result = load_demo(runtime, spec, on_generate=on_generate, on_import=on_import)
    s = result.summary
    console.print(
        f"[green]demo loaded:[/] {s.stored:,} new events ({s.rows_read:,} generated, {s.duplicates:,} already "
        f"present) in {s.seconds:.1f} s; project {result.project.id} '{result.project.name}'"
    )
    console.print(f"credentials: {result.credentials_path}")
    console.print(f"  project token: {result.token}\n  API key:       {result.api_key}")
    console.print(f"  console:       {result.console_email} / {result.console_password}")
    if serve_after:
        console.print(f"open [bold]http://{settings.host}:{settings.port}[/]")
        _serve(settings)


feedback_app = typer.Typer(help="Feedback inbox and its themes.", no_args_is_help=True)
app.add_typer(feedback_app, name="feedback")


@feedback_app.command("import")
def feedback_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV file with a `text` column (optional: distinct_id, created_at, "
            "tags separated by `;`, language, source; other columns -> properties)."
        ),
    ],
    project: Annotated[int, typer.Option("--project", help="Project id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Import feedback from a CSV file; refused rows are listed with their line numbers."""
    from opsloop.feedback.errors import FeedbackInvalid

    with _runtime(_settings(data_dir)) as runtime:
        try:
            with file.open(encoding="utf-8-sig", newline="") as stream:
                report = runtime.feedback.import_csv(project, stream)
        except (FeedbackInvalid, OSError, UnicodeDecodeError) as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
        return
    console.print(
        f"{report.rows:,} rows: [green]{report.stored:,} stored[/] ({report.duplicates:,} near-duplicates of "
        f"earlier feedback), [red]{len(report.errors):,} refused[/]"
    )
    for error in report.errors:
        console.print(f"  line {error.line}: {error.field}: {error.reason}")


@feedback_app.command("themes")
def feedback_themes(
    project: Annotated[int, typer.Option("--project", help="Project id.")],
    analyse: Annotated[
        bool, typer.Option("--analyse/--no-analyse", help="Discover themes again first (default) or only list.")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Discover the themes of a project's feedback and list them: label, size, sentiment, trend, a quote."""
    from opsloop.feedback.errors import ThemeError

    with _runtime(_settings(data_dir)) as runtime:
        try:
            themes = runtime.themes.analyse(project).themes if analyse else runtime.themes.list_themes(project)
        except ThemeError as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None
    if as_json:
        typer.echo(orjson.dumps([t.model_dump(mode="json") for t in themes], option=orjson.OPT_INDENT_2).decode())
        return
    table = Table("id", "theme", "size", "languages", "+ / = / -", "last weeks", "example")
    for t in themes:
        s = t.sentiment
        weeks = " ".join(str(w.count) for w in t.trend[-6:])
        quote = t.examples[0].text if t.examples else ""
        table.add_row(
            str(t.id),
            t.label,
            str(t.size),
            ",".join(t.languages),
            f"{s['positive']} / {s['neutral']} / {s['negative']}",
            weeks,
            quote[:80],
        )
    Console().print(table)


user_app = typer.Typer(help="Manage console users and their project roles.", no_args_is_help=True)
app.add_typer(user_app, name="user")


def _grant(runtime: Runtime, user: Any, project: int, role: str) -> None:
    """Give a user a role in a project, audited as done from the command line."""
    from opsloop.accounts.audit import AuditAction
    from opsloop.accounts.roles import parse_role
    from opsloop.accounts.users import AccountError

    try:
        parsed = parse_role(role)
        previous = runtime.accounts.users.set_role(project, user.id, parsed)
    except (ValueError, AccountError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    action = AuditAction.member_added if previous is None else AuditAction.member_role_changed
    runtime.accounts.audit.record(
        action, actor="cli", project_id=project, details={"email": user.email, "role": parsed}
    )


@user_app.command("create")
def user_create(
    email: str,
    password: Annotated[str | None, typer.Option(help="The password (at least 10 characters).")] = None,
    prompt: Annotated[bool, typer.Option("--prompt", help="Ask for the password (not echoed).")] = False,
    name: Annotated[str, typer.Option("--name", help="Display name.")] = "",
    project: Annotated[int | None, typer.Option("--project", help="Project id to give the user a role in.")] = None,
    role: Annotated[str, typer.Option(help="admin, operator or viewer (with --project).")] = "viewer",
    data_dir: DataDir = None,
) -> None:
    """Create a console user; without --password or --prompt a random password is generated and printed once."""
    import secrets

    from opsloop.accounts.audit import AuditAction
    from opsloop.accounts.roles import parse_role
    from opsloop.accounts.users import AccountError

    try:
        parse_role(role)  # checked before anything is created
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    generated = password is None and not prompt
    if prompt:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    elif password is None:
        password = secrets.token_urlsafe(12)
    with _runtime(_settings(data_dir)) as runtime:
        if project is not None and runtime.projects.get(project) is None:
            console.print(f"[red]error:[/] project {project} does not exist (see `opsloop project list`)")
            raise typer.Exit(2)
        try:
            user = runtime.accounts.users.create(email, password, display_name=name)
        except AccountError as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None
        runtime.accounts.audit.record(AuditAction.user_created, actor="cli", details={"email": user.email})
        if project is not None:
            _grant(runtime, user, project, role)
    typer.echo(f"user {user.id}: {user.email}" + (f" ({role} of project {project})" if project is not None else ""))
    if generated:
        typer.echo(f"password: {password}")
        console.print("[yellow]Keep the password now: it is stored hashed and cannot be shown again.[/]")


@user_app.command("grant")
def user_grant(
    email: str,
    project: Annotated[int, typer.Option("--project", help="Project id.")],
    role: Annotated[str, typer.Option(help="admin, operator or viewer.")] = "viewer",
    data_dir: DataDir = None,
) -> None:
    """Give an existing user a role in a project (or change it)."""
    with _runtime(_settings(data_dir)) as runtime:
        user = runtime.accounts.users.find(email)
        if user is None:
            console.print(f"[red]error:[/] no user with email {email} (see `opsloop user list`)")
            raise typer.Exit(2)
        _grant(runtime, user, project, role)
    typer.echo(f"{user.email} is now {role.strip().lower()} of project {project}")


@user_app.command("set-password")
def user_set_password(
    email: str,
    password: Annotated[str | None, typer.Option(help="The new password (at least 10 characters).")] = None,
    prompt: Annotated[bool, typer.Option("--prompt", help="Ask for the password (not echoed).")] = False,
    data_dir: DataDir = None,
) -> None:
    """Set a user's password (for a forgotten one) and sign them out everywhere; without options one is generated."""
    import secrets

    from opsloop.accounts.audit import AuditAction
    from opsloop.accounts.users import AccountError

    generated = password is None and not prompt
    if prompt:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    elif password is None:
        password = secrets.token_urlsafe(12)
    with _runtime(_settings(data_dir)) as runtime:
        user = runtime.accounts.users.find(email)
        if user is None:
            console.print(f"[red]error:[/] no user with email {email} (see `opsloop user list`)")
            raise typer.Exit(2)
        try:
            runtime.accounts.users.set_password(user.id, password)
        except AccountError as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None
        ended = runtime.accounts.sessions.end_others(user.id)
        runtime.accounts.audit.record(AuditAction.password_changed, actor="cli", details={"email": user.email})
    typer.echo(f"password of {user.email} set; {ended} session(s) signed out")
    if generated:
        typer.echo(f"password: {password}")
        console.print("[yellow]Keep the password now: it is stored hashed and cannot be shown again.[/]")


@user_app.command("list")
def user_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    data_dir: DataDir = None,
) -> None:
    """List console users and their roles per project."""
    with _runtime(_settings(data_dir)) as runtime:
        users = runtime.accounts.users
        rows = [(u, users.projects_of(u.id)) for u in users.all()]
    if as_json:
        out = [
            {
                "id": u.id,
                "email": u.email,
                "name": u.display_name,
                "projects": [{"project_id": p.project_id, "role": p.role.value} for p in roles],
            }
            for u, roles in rows
        ]
        typer.echo(json.dumps(out))
        return
    table = Table("id", "email", "name", "roles")
    for u, roles in rows:
        table.add_row(str(u.id), u.email, u.display_name, ", ".join(f"{p.role.value} of {p.project_id}" for p in roles))
    Console().print(table)


# Command groups defined in their own modules register themselves on `app` (imported last: they import it).
from opsloop.cli import users as _users  # noqa: E402, F401

requirements_app = typer.Typer(help="The requirements board: list it, export a PRD.", no_args_is_help=True)
app.add_typer(requirements_app, name="requirements")


@requirements_app.command("list")
def requirements_list(
    project: Annotated[int, typer.Option("--project", help="Project id.")],
    status: Annotated[str | None, typer.Option("--status", help="Only this status.")] = None,
    sort: Annotated[str, typer.Option("--sort", help="score, reach, votes, created_at, updated_at, title.")] = "score",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    data_dir: DataDir = None,
) -> None:
    """List a project's requirements, highest RICE score first: status, reach, votes, score."""
    from rich.markup import escape

    from opsloop.requirements.schemas import STATUSES

    sorts = ("score", "reach", "votes", "created_at", "updated_at", "title")
    if status is not None and status not in STATUSES:
        console.print(f"[red]error:[/] --status must be one of {', '.join(STATUSES)}")
        raise typer.Exit(2)
    if sort not in sorts:
        console.print(f"[red]error:[/] --sort must be one of {', '.join(sorts)}")
        raise typer.Exit(2)
    with _runtime(_settings(data_dir)) as runtime:
        if runtime.projects.get(project) is None:
            console.print(f"[red]error:[/] project {project} does not exist")
            raise typer.Exit(2)
        page = runtime.requirements.list(project, status=status, sort=sort, descending=sort != "title")  # type: ignore[arg-type]
    if as_json:
        typer.echo(page.model_dump_json(indent=2))
        return
    table = Table("id", "title", "status", "reach", "votes", "feedback", "impact", "conf. %", "effort", "score")
    for r in page.items:
        table.add_row(
            str(r.id),
            escape(r.title),
            r.status,
            str(r.reach),
            str(r.votes),
            str(r.feedback_count),
            f"{r.impact:g}",
            f"{r.confidence:g}",
            f"{r.effort:g}",
            f"{r.score:,.2f}",
        )
    Console().print(table)


@requirements_app.command("export-prd")
def requirements_export_prd(
    requirement: Annotated[int, typer.Argument(help="Requirement id.")],
    project: Annotated[int, typer.Option("--project", help="Project id.")],
    out: Annotated[Path | None, typer.Option("--out", help="Write the Markdown here (default: print it).")] = None,
    revenue_days: Annotated[int, typer.Option("--revenue-days", help="Revenue window in days.")] = 90,
    data_dir: DataDir = None,
) -> None:
    """Export a requirement as a PRD in Markdown (problem, evidence, segments, target metric, criteria)."""
    from opsloop.requirements.errors import RequirementInvalid

    with _runtime(_settings(data_dir)) as runtime:
        try:
            text = runtime.requirement_reports.prd(project, requirement, revenue_days=revenue_days)
        except RequirementInvalid as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    console.print(f"wrote {out}")


if __name__ == "__main__":
    app()
