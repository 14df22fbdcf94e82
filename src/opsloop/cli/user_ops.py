"""`opsloop tag ...`, `opsloop lifecycle ...`, `opsloop rfm-movement`, `opsloop rfm-segment`, `opsloop portrait`
and `opsloop refresh`: thin commands over the user-operations services."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
import typer
from pydantic import BaseModel, ValidationError

from opsloop.cli.main import DataDir, app, console
from opsloop.cli.users import AsJson, ProjectId, _call, _print
from opsloop.runtime import Runtime
from opsloop.users.lifecycle import LifecycleThresholds
from opsloop.users.operations import movement, save_tag_rule, segment_from_rfm, segment_portrait
from opsloop.users.portrait import Dimension, portrait_csv
from opsloop.users.refresh import refresh_project
from opsloop.users.rfm import RfmQuery
from opsloop.users.rfm_movement import RfmMovement
from opsloop.users.tag_rules import TagRule
from opsloop.users.tags import TagAssignment, TagMissing

tag_app = typer.Typer(help="Tags: manual tags on persons and rule tags computed from behaviour.", no_args_is_help=True)
lifecycle_app = typer.Typer(help="User lifecycle stages: thresholds, counts, a person's stage.", no_args_is_help=True)
app.add_typer(tag_app, name="tag")
app.add_typer(lifecycle_app, name="lifecycle")


def _valid(make: Any) -> Any:
    """Build a model, printing its first error (with the field) and exiting 2 when it is invalid."""
    try:
        return make()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        console.print(f"[red]error:[/] {where + ': ' if where else ''}{first['msg'].removeprefix('Value error, ')}")
        raise typer.Exit(2) from None
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None


def _json_file(path: Path) -> Any:
    raw = sys.stdin.read() if str(path) == "-" else path.read_text()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        console.print(f"[red]error:[/] {path} is not valid JSON: {exc}")
        raise typer.Exit(2) from None


def _run(work: Any, data_dir: Path | None) -> Any:
    """`_call`, with missing tags and the services' value errors as one-line errors."""
    try:
        return _call(work, data_dir)
    except (TagMissing, ValueError) as exc:
        console.print(f"[red]error:[/] {exc.args[0] if exc.args else exc}")
        raise typer.Exit(2) from None


def _echo(result: BaseModel | list[Any] | dict[str, Any]) -> None:
    if isinstance(result, BaseModel):
        typer.echo(result.model_dump_json(indent=2))
    else:
        typer.echo(json.dumps(result, default=str, ensure_ascii=False, indent=2))


# -- tags ---------------------------------------------------------------------------------------------------


@tag_app.command("list")
def tag_list(project: ProjectId, as_json: AsJson = False, data_dir: DataDir = None) -> None:
    """Every tag of the project with its persons per value."""
    infos = _run(lambda rt: rt.segments.tags.listing(project), data_dir)
    if as_json:
        _echo([i.model_dump(mode="json") for i in infos])
        return
    _print([{**i.model_dump(), "values": json.dumps(i.values, ensure_ascii=False)} for i in infos],
           ["tag", "kind", "persons", "values"], False)  # fmt: skip


@tag_app.command("set")
def tag_set(distinct_id: str, tag: str, project: ProjectId, value: str = "", data_dir: DataDir = None) -> None:
    """Set a manual tag on the person behind a distinct id."""
    row = _valid(lambda: TagAssignment(distinct_id=distinct_id, tag=tag, value=value))
    result = _run(lambda rt: rt.segments.tags.assign(project, [row]), data_dir)
    if result.errors:
        console.print(f"[red]error:[/] {result.errors[0]}")
        raise typer.Exit(2)
    console.print(f"tagged {distinct_id}: {tag}={value}")


@tag_app.command("import")
def tag_import(file: Path, project: ProjectId, as_json: AsJson = False, data_dir: DataDir = None) -> None:
    """Manual tags from a CSV `distinct_id,tag[,value]`; malformed rows are listed by line, good rows kept."""
    text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    result = _run(lambda rt: rt.segments.tags.import_csv(project, text), data_dir)
    if as_json:
        _echo(result)
        return
    console.print(f"{result.stored} tag(s) stored, {len(result.errors)} row(s) refused")
    for error in result.errors:
        console.print(f"  {error}")


@tag_app.command("remove")
def tag_remove(
    tag: str,
    project: ProjectId,
    distinct_id: Annotated[str | None, typer.Option(help="Only this person (default: everyone).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Remove a manual tag from one person or from everyone."""
    removed = _run(lambda rt: rt.segments.tags.remove(project, tag, distinct_id), data_dir)
    console.print(f"{removed} tag value(s) removed")


@tag_app.command("rule")
def tag_rule(
    tag: str,
    project: ProjectId,
    rule: Annotated[Path, typer.Option(help="The rule as a JSON file (`-`: standard input).")],
    data_dir: DataDir = None,
) -> None:
    """Create or replace a rule tag and compute it now."""
    parsed = _valid(lambda: TagRule.model_validate(_json_file(rule)))

    def work(rt: Runtime) -> int:
        save_tag_rule(rt.segments, project, tag, parsed)
        return rt.segments.tags.compute(rt.project_context(project), tag)

    console.print(f"rule tag {tag}: {_run(work, data_dir)} person(s)")


@tag_app.command("compute")
def tag_compute(tag: str, project: ProjectId, data_dir: DataDir = None) -> None:
    """Recompute a rule tag now."""
    persons = _run(lambda rt: rt.segments.tags.compute(rt.project_context(project), tag), data_dir)
    console.print(f"rule tag {tag}: {persons} person(s)")


@tag_app.command("delete-rule")
def tag_delete_rule(tag: str, project: ProjectId, data_dir: DataDir = None) -> None:
    """Delete a rule tag and its values."""
    _run(lambda rt: rt.segments.tags.delete_rule(project, tag), data_dir)
    console.print(f"rule tag {tag} deleted")


# -- lifecycle ----------------------------------------------------------------------------------------------


@lifecycle_app.command("settings")
def lifecycle_settings(
    project: ProjectId,
    new_days: Annotated[int | None, typer.Option(help="First seen within this many days: new.")] = None,
    active_days: Annotated[int | None, typer.Option(help="Seen within this many days: active.")] = None,
    churn_days: Annotated[int | None, typer.Option(help="Unseen for more than this many days: churned.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Show the project's lifecycle thresholds, or change those given."""

    def work(rt: Runtime) -> LifecycleThresholds:
        current = rt.segments.stages.thresholds(project).model_dump()
        changes = {k: v for k, v in (("new_days", new_days), ("active_days", active_days),
                                     ("churn_days", churn_days)) if v is not None}  # fmt: skip
        if not changes:
            return LifecycleThresholds.model_validate(current)
        return rt.segments.stages.set_thresholds(project, _valid(lambda: LifecycleThresholds(**{**current, **changes})))

    _echo(_run(work, data_dir))


@lifecycle_app.command("counts")
def lifecycle_counts(
    project: ProjectId,
    date_from: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD).")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last day (YYYY-MM-DD).")] = None,
    interval: Annotated[str, typer.Option(help="`day` or `week`.")] = "day",
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Persons per lifecycle stage as of the end of each day or week (default: the last 30 days)."""
    if interval not in ("day", "week"):
        console.print("[red]error:[/] --interval: `day` or `week`")
        raise typer.Exit(2)
    start = _valid(lambda: dt.date.fromisoformat(date_from)) if date_from else None
    end = _valid(lambda: dt.date.fromisoformat(date_to)) if date_to else None
    step: Literal["day", "week"] = "week" if interval == "week" else "day"
    points = _run(lambda rt: rt.segments.stages.counts(rt.project_context(project), start, end, step), data_dir)
    rows = [{"day": p.day, **p.counts} for p in points]
    _print(rows, ["day", "new", "active", "resurrected", "dormant", "churned"], as_json)


@lifecycle_app.command("stage")
def lifecycle_stage(person_id: str, project: ProjectId, data_dir: DataDir = None) -> None:
    """A person's current lifecycle stage (by person id)."""
    stage = _run(lambda rt: rt.segments.stages.stage_of(rt.project_context(project), person_id), data_dir)
    console.print(stage or "no stage (no events)")


# -- RFM, portraits, refresh --------------------------------------------------------------------------------

EventOpt = Annotated[str, typer.Option(help="The value event (e.g. purchase).")]
AmountOpt = Annotated[str, typer.Option(help="Its amount property (e.g. revenue).")]
DaysOpt = Annotated[int, typer.Option(help="Look-back window in days, today included.")]


@app.command("rfm-movement")
def rfm_movement(
    project: ProjectId,
    event: EventOpt,
    amount: AmountOpt,
    days: DaysOpt = 365,
    period: Annotated[int, typer.Option(help="Compare with this many days ago.")] = 30,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """How many persons moved between RFM segments since the previous period."""
    query = _valid(lambda: RfmQuery(value_event=event, amount_property=amount, lookback_days=days))

    def moved(rt: Runtime) -> RfmMovement:
        completed = rt.segments.rfm_settings.query(project, query)
        return movement(rt.segments, rt.project_context(project), completed, period)

    result = _run(moved, data_dir)
    if as_json:
        _echo(result)
        return
    _print([m.model_dump() for m in result.moves], ["previous", "current", "persons"], False)
    console.print(f"{result.moved} person(s) changed segment since {result.previous_day}")


@app.command("rfm-segment")
def rfm_segment(
    project: ProjectId,
    event: EventOpt,
    amount: AmountOpt,
    days: DaysOpt = 365,
    segment: Annotated[str | None, typer.Option(help="An RFM segment name (e.g. Champions).")] = None,
    cell: Annotated[str | None, typer.Option(help="A cell `R,F` (e.g. 5,4).")] = None,
    name: Annotated[str | None, typer.Option(help="The saved segment's name.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Save a segment holding the buyers of one RFM segment or cell."""
    query = _valid(lambda: RfmQuery(value_event=event, amount_property=amount, lookback_days=days))
    at: tuple[int, int] | None = None
    if cell is not None:
        parts = cell.split(",")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            console.print("[red]error:[/] --cell: give `R,F`, two scores 1 to 5")
            raise typer.Exit(2)
        at = (int(parts[0]), int(parts[1]))
    info = _run(
        lambda rt: segment_from_rfm(
            rt.segments, project, rt.segments.rfm_settings.query(project, query), segment=segment, cell=at, name=name
        ),
        data_dir,
    )
    console.print(f"segment {info.id} created: {info.name}")


@app.command()
def portrait(
    segment_id: int,
    project: ProjectId,
    dimension: Annotated[list[str], typer.Option(help="`person:PROP`, `tag:TAG`, `age_band`, `lifecycle_stage`.")],
    days: Annotated[int, typer.Option(help="Top events over the last N days.")] = 30,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """A segment's portrait against all persons, with the lift, and its top events (CSV unless --json)."""
    dims: list[Dimension] = []
    for text in dimension:
        kind, _, prop = text.partition(":")
        dims.append(_valid(lambda k=kind, p=prop: Dimension.model_validate({"type": k, "property": p or None})))
    result = _run(
        lambda rt: segment_portrait(
            rt.segments, rt.project_context(project), dims, segment_id=segment_id, events_days=days
        ),
        data_dir,
    )
    typer.echo(result.model_dump_json(indent=2) if as_json else portrait_csv(result), nl=False)


@app.command()
def refresh(project: ProjectId, data_dir: DataDir = None) -> None:
    """Recompute the project's rule tags and refresh its dynamic segments now (for cron)."""
    report = _run(lambda rt: refresh_project(rt.segments, rt.project_context(project)), data_dir)
    _echo(dataclasses.asdict(report))
    if report.errors:
        raise typer.Exit(1)
