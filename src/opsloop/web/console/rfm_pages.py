"""The RFM console page: the value event, amount and look-back window, the 5 x 5 R x F grid, the segments of
an (editable) map, the movement between segments, "Make a segment" from a cell or a segment, and saving the
settings as the project's default; thin shells over `opsloop.users.rfm`, `rfm_movement`, `rfm_settings` and
`operations`."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from opsloop.accounts.audit import AuditAction
from opsloop.accounts.roles import Role
from opsloop.store.events import QueryFailed, QueryTimeout
from opsloop.users.operations import movement, segment_from_rfm
from opsloop.users.rfm import STANDARD_MAP, UNMAPPED, RfmQuery, RfmResult, RfmRule, run_rfm
from opsloop.users.rfm_movement import NOT_A_BUYER, RfmMovement
from opsloop.users.rfm_settings import RfmSettings
from opsloop.users.segment_library import SegmentInvalid
from opsloop.web.console.access import ConsoleError, ProjectAccess, console_router, require_member, runtime_of
from opsloop.web.console.auth_pages import _field
from opsloop.web.console.home_pages import suggested_names
from opsloop.web.console.rendering import N_, gettext_for, render

router = console_router()

#: Display names of the standard map's segments (a custom name is shown as written).
RFM_LABELS = {
    "Champions": N_("Champions"),
    "Loyal": N_("Loyal"),
    "Potential Loyalists": N_("Potential Loyalists"),
    "New": N_("New customers"),
    "Promising": N_("Promising"),
    "Need Attention": N_("Need Attention"),
    "About to Sleep": N_("About to Sleep"),
    "Can't Lose": N_("Can't Lose"),
    "At Risk": N_("At Risk"),
    "Hibernating": N_("Hibernating"),
    UNMAPPED: N_("Other"),
    NOT_A_BUYER: N_("(not a buyer)"),
}
#: Blank rows under the map's rules, to add rules.
SPARE_RULES = 2
TOP_MOVES = 20
PERIODS = (7, 30, 90)


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "query"
    return f"{where}: {str(first.get('msg', 'invalid value')).removeprefix('Value error, ')}"


def _whole(raw: str, field: str) -> int:
    """A whole number typed in a form field, or a clear error naming the field."""
    try:
        return int(raw.strip())
    except ValueError:
        raise ValueError(f"{field}: must be a whole number, not {raw[:20]!r}") from None


def _map_from(params: Any) -> list[RfmRule] | None:
    """The segment map sent by the form (rows with a name), or None when the form sent none."""
    names = params.getlist("rule_name")
    if not names:
        return None
    bounds = {k: params.getlist(f"rule_{k}") for k in ("r_lo", "r_hi", "f_lo", "f_hi")}
    rules: list[RfmRule] = []
    for i, name in enumerate(names[:25]):
        if not name.strip():
            continue
        try:
            lo_r, hi_r, lo_f, hi_f = (_whole(bounds[k][i], f"rule_{k}") for k in ("r_lo", "r_hi", "f_lo", "f_hi"))
        except IndexError:
            raise ValueError("segment_map: every rule needs its R and F bounds") from None
        try:
            rules.append(RfmRule(name=name.strip()[:100], r=(lo_r, hi_r), f=(lo_f, hi_f)))
        except ValidationError as exc:
            raise ValueError(f"segment_map.{i} ({name.strip()[:40]}): {_first_error(exc).split(': ', 1)[-1]}") from None
    if not rules:
        raise ValueError("segment_map: give at least one named rule")
    return rules


def query_from(params: Any, saved: RfmSettings) -> tuple[RfmQuery, int]:
    """The RFM query and movement period of the page's form (what it leaves out: the project's settings)."""
    period = _whole(params.get("period", "30") or "30", "period")
    if not 1 <= period <= 3660:
        raise ValueError("period: 1 to 3660 days")
    raw = {
        "value_event": (params.get("event") or saved.value_event).strip(),
        "amount_property": (params.get("amount") or saved.amount_property).strip(),
        "lookback_days": _whole(params.get("days") or str(saved.lookback_days), "days"),
    }
    rules = _map_from(params)
    raw["segment_map"] = rules if rules is not None else saved.segment_map
    try:
        return RfmQuery.model_validate(raw), period
    except ValidationError as exc:
        raise ValueError(
            _first_error(exc).replace("value_event", "event").replace("amount_property", "amount")
        ) from None


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _views(result: RfmResult, query: RfmQuery, label: Any) -> dict[str, Any]:
    """The grid (R rows 5..1, F columns 1..5) and the segment table, ready for the template."""
    colour = {rule.name: i % 10 for i, rule in reversed(list(enumerate(query.segment_map)))}
    grid = [
        [
            {
                "r": c.r,
                "f": c.f,
                "segment": c.segment,
                "label": label(c.segment),
                "persons": c.persons,
                "revenue": _money(c.revenue),
                "colour": colour.get(c.segment, "x"),
            }
            for c in result.cells[row * 5 : row * 5 + 5]
        ]
        for row in range(5)
    ]
    order = [r.name for r in query.segment_map] + [UNMAPPED]
    found = {s.segment: s for s in result.segments}
    segments = [
        {
            "segment": name,
            "label": label(name),
            "persons": found[name].persons,
            "share": f"{100 * found[name].persons / result.persons:.1f}%" if result.persons else "—",
            "revenue": _money(found[name].revenue),
            "colour": colour.get(name, "x"),
        }
        for name in dict.fromkeys(order)
        if name in found
    ]
    return {"grid": grid, "segments": segments, "revenue": _money(result.revenue)}


def _moves(moved: RfmMovement, label: Any) -> list[dict[str, Any]]:
    changes = sorted((m for m in moved.moves if m.previous != m.current), key=lambda m: (-m.persons, m.previous))
    return [
        {"previous": label(m.previous), "current": label(m.current), "persons": m.persons} for m in changes[:TOP_MOVES]
    ]


def _map_rows(query: RfmQuery | None, saved: RfmSettings) -> list[dict[str, Any]]:
    rules = list(query.segment_map if query else saved.segment_map)
    rows = [{"name": r.name, "r": r.r, "f": r.f} for r in rules]
    return rows + [{"name": "", "r": (1, 5), "f": (1, 5)}] * min(SPARE_RULES, 25 - len(rows))


@router.get("/projects/{project_id}/rfm")
async def rfm_page(request: Request, access: ProjectAccess = Depends(require_member())) -> Response:
    """RFM of the project's buyers: grid, segments, movement; the form's values are in the query string."""
    runtime = runtime_of(request)
    pid = access.project.id
    _ = gettext_for(request)

    def label(name: str) -> str:
        return _(RFM_LABELS[name]) if name in RFM_LABELS else name

    saved = await run_in_threadpool(runtime.segments.rfm_settings.settings, pid)
    done = request.query_params.get("done")
    context: dict[str, Any] = {"error": None, "result": None, "periods": PERIODS, "label": label, "done": done}
    status = 200
    query: RfmQuery | None = None
    period = 30
    try:
        query, period = query_from(request.query_params, saved)
    except ValueError as exc:
        context["error"], status = str(exc), 400
    if query is not None:
        ctx = runtime.project_context(pid)
        timeout = runtime.settings.query_timeout_seconds
        try:
            result = await run_in_threadpool(run_rfm, runtime.store, ctx, query, timeout=timeout)
            moved = await run_in_threadpool(movement, runtime.segments, ctx, query, period)
            context.update(_views(result, query, label), result=result, moved=moved, moves=_moves(moved, label))
        except (QueryTimeout, QueryFailed, ValueError) as exc:
            context["error"], status = f"{type(exc).__name__}: {exc}", 400
    names = await run_in_threadpool(suggested_names, runtime, pid, "event")
    props = await run_in_threadpool(suggested_names, runtime, pid, "event_property")
    context.update(
        query=query,
        form={
            "event": request.query_params.get("event") or saved.value_event,
            "amount": request.query_params.get("amount") or saved.amount_property,
            "days": request.query_params.get("days") or str(saved.lookback_days),
            "period": period,
        },
        map_rows=_map_rows(query, saved),
        rfm_json=query.model_dump_json() if query else "",
        event_names=names,
        property_names=props,
        can_make=access.can(Role.operator),
        saved=saved,
        is_saved=query is not None and query.model_dump() == saved.model_dump(),
        is_standard=list(saved.segment_map) == list(STANDARD_MAP),
    )
    return render(request, "console/rfm.html", context, status=status)


async def _posted_query(request: Request, access: ProjectAccess, text: str) -> RfmQuery:
    """The RFM settings a form carries as JSON (what they leave out: the project's settings); 400 if bad."""
    try:
        raw = orjson.loads(text or "null")
    except orjson.JSONDecodeError:
        raw = None
    if not isinstance(raw, dict):
        raise ConsoleError(400, "rfm: the RFM settings are missing; run RFM again")
    service = runtime_of(request).segments.rfm_settings
    try:
        return await run_in_threadpool(service.query, access.project.id, raw)
    except ValidationError as exc:
        raise ConsoleError(400, "rfm." + _first_error(exc)) from None


@router.post("/projects/{project_id}/rfm/settings")
async def save_settings(request: Request, access: ProjectAccess = Depends(require_member(Role.operator))) -> Response:
    """Save the page's value event, amount, look-back window and map as the project's RFM settings
    (`action=reset`: the standard map again, the rest kept); audited."""
    form = await request.form()
    runtime = runtime_of(request)
    service = runtime.segments.rfm_settings
    pid = access.project.id
    reset = _field(form, "action", 20) == "reset"
    if reset:
        current = await run_in_threadpool(service.settings, pid)
        raw = {**current.model_dump(mode="json"), "segment_map": [r.model_dump(mode="json") for r in STANDARD_MAP]}
    else:
        raw = (await _posted_query(request, access, _field(form, "rfm", 20_000))).model_dump(mode="json")
    try:
        settings = RfmSettings.model_validate(raw)
    except ValidationError as exc:
        raise ConsoleError(400, "rfm." + _first_error(exc)) from None
    await run_in_threadpool(service.save, pid, settings)
    details = {
        "value_event": settings.value_event,
        "amount_property": settings.amount_property,
        "lookback_days": str(settings.lookback_days),
        "segment_map": "standard" if reset else ", ".join(r.name for r in settings.segment_map)[:400],
    }
    await run_in_threadpool(
        runtime.accounts.audit.record,
        AuditAction.rfm_settings_changed,
        actor=access.user,
        project_id=pid,
        details=details,
    )
    return RedirectResponse(f"/projects/{pid}/rfm?done={'reset' if reset else 'saved'}", status_code=303)


def _create(runtime: Any, pid: int, query: RfmQuery, segment: str | None, cell: tuple[int, int] | None) -> int:
    """Save the segment under its default name, numbered when that name is taken."""
    for attempt in range(1, 51):
        base = f"RFM {segment}" if segment is not None else f"RFM R{cell[0]} F{cell[1]}"  # type: ignore[index]
        name = base if attempt == 1 else f"{base} ({attempt})"
        try:
            return segment_from_rfm(runtime.segments, pid, query, segment=segment, cell=cell, name=name).id
        except SegmentInvalid as exc:
            if not str(exc).startswith("name:"):
                raise
    raise SegmentInvalid("name: too many segments with this name; rename some first")


@router.post("/projects/{project_id}/rfm/segment")
async def make_segment(request: Request, access: ProjectAccess = Depends(require_member(Role.operator))) -> Response:
    """Save a dynamic segment holding the buyers of one RFM segment or (R, F) cell, then open it."""
    form = await request.form()
    query = await _posted_query(request, access, _field(form, "rfm", 20_000))
    segment = _field(form, "segment", 100).strip() or None
    cell: tuple[int, int] | None = None
    raw_cell = _field(form, "cell", 10).strip()
    if raw_cell:
        parts = raw_cell.split(",")
        if len(parts) != 2 or not all(p.strip() in {"1", "2", "3", "4", "5"} for p in parts):
            raise ConsoleError(400, "cell: give R and F scores from 1 to 5, as `r,f`")
        cell = (int(parts[0]), int(parts[1]))
    if (segment is None) == (cell is None):
        raise ConsoleError(400, "segment: give an RFM segment name or a cell, one of them")
    try:
        sid = await run_in_threadpool(_create, runtime_of(request), access.project.id, query, segment, cell)
    except (SegmentInvalid, ValueError) as exc:
        raise ConsoleError(400, str(exc)) from None
    return RedirectResponse(f"/projects/{access.project.id}/segments/{sid}", status_code=303)
