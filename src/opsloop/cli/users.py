"""`opsloop catalogue ...` and `opsloop segment ...`: thin commands over the user-operations services."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from opsloop.cli.main import DataDir, _runtime, _settings, app, console
from opsloop.projects import ProjectError
from opsloop.runtime import Runtime
from opsloop.store.events import QueryFailed, QueryTimeout
from opsloop.users.catalogue import CatalogueEdit, CatalogueEntryMissing
from opsloop.users.definitions import Group
from opsloop.users.rfm import RfmQuery, run_rfm
from opsloop.users.segment_library import SegmentInvalid
from opsloop.users.segments import SegmentInput, SegmentMissing
from opsloop.users.static_lists import ListInvalid

catalogue_app = typer.Typer(
    help="The property catalogue: event names, event and person properties.", no_args_is_help=True
)
segment_app = typer.Typer(help="Segments: definitions, sizes, members, static lists.", no_args_is_help=True)
app.add_typer(catalogue_app, name="catalogue")
app.add_typer(segment_app, name="segment")

ProjectId = Annotated[int, typer.Option("--project", help="Project id.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
T = TypeVar("T")
_ERRORS = (
    SegmentInvalid,
    ListInvalid,
    SegmentMissing,
    CatalogueEntryMissing,
    ProjectError,
    QueryFailed,
    QueryTimeout,
)


@contextmanager
def _service(data_dir: Path | None) -> Iterator[Runtime]:
    """A runtime whose service errors print as one line and exit with status 2."""
    with _runtime(_settings(data_dir)) as runtime:
        try:
            yield runtime
        except _ERRORS as exc:
            console.print(f"[red]error:[/] {exc.args[0] if exc.args else exc}")
            raise typer.Exit(2) from None


def _definition(path: Path) -> Group:
    """A definition from a JSON file (`-`: standard input)."""
    raw = sys.stdin.read() if str(path) == "-" else path.read_text()
    try:
        return Group.model_validate(orjson.loads(raw))
    except (orjson.JSONDecodeError, ValidationError) as exc:
        console.print(f"[red]error:[/] {path} is not a valid segment definition: {exc}")
        raise typer.Exit(2) from None


def _print(rows: list[dict[str, Any]], columns: list[str], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(rows, default=str, ensure_ascii=False, indent=2))
        return
    table = Table(*columns)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    Console().print(table)


def _call(work: Callable[[Runtime], T], data_dir: Path | None) -> T:
    with _service(data_dir) as runtime:
        return work(runtime)


# -- catalogue ----------------------------------------------------------------------------------------------


@catalogue_app.command("list")
def catalogue_list(
    project: ProjectId,
    kind: Annotated[str | None, typer.Option(help="event, event_property or person_property.")] = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """List the catalogue with types, volumes, first / last seen and top values."""
    if kind not in (None, "event", "event_property", "person_property"):
        console.print("[red]error:[/] --kind is event, event_property or person_property")
        raise typer.Exit(2)
    items = _call(lambda rt: rt.catalogue.entries(project, kind), data_dir)  # type: ignore[arg-type]
    rows = [i.model_dump(mode="json") for i in items]
    for row in rows:
        row["top_values"] = ", ".join(f"{v['value']} ({v['count']})" for v in row["top_values"][:5])
    columns = ["kind", "name", "type", "volume", "first_seen", "last_seen", "top_values", "display_name", "hidden"]
    _print(rows, columns, as_json)


@catalogue_app.command("refresh")
def catalogue_refresh(project: ProjectId, data_dir: DataDir = None) -> None:
    """Recompute the catalogue's statistics from the events."""
    count = _call(lambda rt: rt.catalogue.refresh(project), data_dir)
    console.print(f"catalogue refreshed: {count} entries")


@catalogue_app.command("edit")
def catalogue_edit(
    kind: Annotated[str, typer.Argument(help="event, event_property or person_property.")],
    name: Annotated[str, typer.Argument(help="The name as received.")],
    project: ProjectId,
    description: Annotated[str | None, typer.Option(help="What it means.")] = None,
    display_name: Annotated[str | None, typer.Option(help="Name shown in the console.")] = None,
    hidden: Annotated[bool | None, typer.Option("--hidden/--visible", help="Hide it from menus.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Set an entry's description, display name or hidden flag."""
    if kind not in ("event", "event_property", "person_property"):
        console.print("[red]error:[/] KIND is event, event_property or person_property")
        raise typer.Exit(2)
    change = CatalogueEdit(description=description, display_name=display_name, hidden=hidden)
    item = _call(lambda rt: rt.catalogue.edit(project, kind, name, change), data_dir)  # type: ignore[arg-type]
    typer.echo(item.model_dump_json(indent=2))


# -- segments -----------------------------------------------------------------------------------------------


@segment_app.command("list")
def segment_list(project: ProjectId, as_json: AsJson = False, data_dir: DataDir = None) -> None:
    """List the project's segments."""
    segments = _call(lambda rt: rt.segments.saved(project), data_dir)
    rows = [s.model_dump(mode="json", exclude={"definition"}) for s in segments]
    _print(rows, ["id", "name", "kind", "size", "refreshed_at", "list_size", "description"], as_json)


@segment_app.command("create")
def segment_create(
    name: str,
    project: ProjectId,
    definition: Annotated[Path | None, typer.Option(help="JSON file of the definition (- for stdin).")] = None,
    static: Annotated[bool, typer.Option("--static", help="A static list (load ids with `segment import`).")] = False,
    description: Annotated[str, typer.Option(help="What the segment is for.")] = "",
    data_dir: DataDir = None,
) -> None:
    """Save a segment: a definition, or (--static) an empty list."""
    if static == (definition is not None):
        console.print("[red]error:[/] give --definition FILE, or --static")
        raise typer.Exit(2)
    body = SegmentInput(
        name=name,
        description=description,
        kind="static" if static else "dynamic",
        definition=_definition(definition) if definition is not None else None,
    )
    created = _call(lambda rt: rt.segments.create(project, body), data_dir)
    typer.echo(created.model_dump_json(indent=2))


@segment_app.command("update")
def segment_update(
    segment_id: int,
    project: ProjectId,
    definition: Annotated[Path | None, typer.Option(help="JSON file of the new definition.")] = None,
    name: Annotated[str | None, typer.Option(help="New name.")] = None,
    description: Annotated[str | None, typer.Option(help="New description.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Change a segment's definition, name or description."""

    def work(rt: Runtime) -> Any:
        now = rt.segments.get(project, segment_id)
        body = SegmentInput(
            name=name or now.name,
            description=now.description if description is None else description,
            kind=now.kind,
            definition=_definition(definition) if definition is not None else now.definition,
        )
        return rt.segments.update(project, segment_id, body)

    typer.echo(_call(work, data_dir).model_dump_json(indent=2))


@segment_app.command("size")
def segment_size(
    project: ProjectId,
    definition: Annotated[Path | None, typer.Option(help="An unsaved definition (JSON file).")] = None,
    segment: Annotated[int | None, typer.Option(help="A saved segment's id.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Print the live size of a definition or of a saved segment."""
    if (definition is None) == (segment is None):
        console.print("[red]error:[/] give --definition FILE or --segment ID")
        raise typer.Exit(2)

    def work(rt: Runtime) -> int:
        ctx = rt.project_context(project)
        if definition is not None:
            return rt.segments.size_of(ctx, _definition(definition))
        return rt.segments.size_now(ctx, segment or 0)

    typer.echo(str(_call(work, data_dir)))


@segment_app.command("refresh")
def segment_refresh(segment_id: int, project: ProjectId, data_dir: DataDir = None) -> None:
    """Materialise a segment's members now (and add the size to its history)."""
    info = _call(lambda rt: rt.segments.refresh(rt.project_context(project), segment_id), data_dir)
    console.print(f"segment {info.id} {info.name!r}: {info.size} members")


@segment_app.command("history")
def segment_history(segment_id: int, project: ProjectId, as_json: AsJson = False, data_dir: DataDir = None) -> None:
    """Print a segment's size at every refresh."""
    points = _call(lambda rt: rt.segments.history(project, segment_id), data_dir)
    _print([p.model_dump(mode="json") for p in points], ["computed_at", "size"], as_json)


@segment_app.command("export")
def segment_export(
    segment_id: int,
    project: ProjectId,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="CSV file (default: stdout).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Write the members (at the last refresh) as CSV: person_id, distinct_ids."""
    text = _call(lambda rt: rt.segments.export_csv(rt.project_context(project), segment_id), data_dir)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)


@segment_app.command("import")
def segment_import(
    segment_id: int,
    file: Annotated[Path, typer.Argument(help="CSV with a header `distinct_id` or `person_id`.")],
    project: ProjectId,
    append: Annotated[bool, typer.Option("--append", help="Add to the list instead of replacing it.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Load a static segment's ids from CSV (malformed rows are listed with their line numbers)."""
    text = file.read_text(encoding="utf-8")
    info = _call(lambda rt: rt.segments.import_list(project, segment_id, text, replace=not append), data_dir)
    console.print(f"segment {info.id} {info.name!r}: {info.list_size} ids in the list")


@segment_app.command("delete")
def segment_delete(segment_id: int, project: ProjectId, data_dir: DataDir = None) -> None:
    """Delete a segment that no other segment refers to."""
    _call(lambda rt: rt.segments.delete(project, segment_id), data_dir)
    console.print(f"segment {segment_id} deleted")


@app.command()
def rfm(
    project: ProjectId,
    event: Annotated[str, typer.Option(help="The value event (e.g. purchase).")],
    amount: Annotated[str, typer.Option(help="Its amount property (e.g. revenue).")],
    days: Annotated[int, typer.Option(help="Look-back window in days, today included.")] = 365,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """RFM: the 5 x 5 R x F grid with buyers, revenue and segment names (the project's saved segment map)."""
    try:
        query = RfmQuery(value_event=event, amount_property=amount, lookback_days=days)
    except ValidationError as exc:
        console.print(f"[red]error:[/] {exc.errors()[0]['msg']}")
        raise typer.Exit(2) from None
    result = _call(
        lambda rt: run_rfm(rt.store, rt.project_context(project), rt.segments.rfm_settings.query(project, query)),
        data_dir,
    )
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    _print([s.model_dump() for s in result.segments], ["segment", "persons", "revenue"], False)
    _print([c.model_dump() for c in result.cells if c.persons], ["r", "f", "segment", "persons", "revenue"], False)


# More user-operations commands (tags, lifecycle, RFM movement, portraits, refresh) register themselves.
from opsloop.cli import user_ops as _user_ops  # noqa: E402, F401
