"""The property catalogue (元数据管理): every event name, event property and person property a project has
received, with its detected type, first / last seen, volume and top values; plus descriptions, display
names and hidden flags that people edit.

Statistics come from the events store in a few statements built with the query builder: event names in
one scan of two columns; event properties in one scan (every top-level key of every event); top values of
event properties from the latest `SAMPLE_EVENTS` events (exact when the project has no more); person
properties from the persons replica. They are cached in the metadata store and refreshed on demand.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlglot import exp

from opsloop.analytics.builder import QueryBuilder, col, num
from opsloop.analytics.runner import Fetch
from opsloop.analytics.timeframe import ProjectContext
from opsloop.store.events import EventStore
from opsloop.store.metadata import MetadataStore
from opsloop.store.models import utcnow
from opsloop.users.tables import CatalogueEntry

EntryKind = Literal["event", "event_property", "person_property"]
ValueType = Literal["string", "number", "boolean", "datetime", "object"]
KINDS: tuple[EntryKind, ...] = ("event", "event_property", "person_property")
#: Events the top values of event properties are counted over (the latest ones).
SAMPLE_EVENTS = 100_000
TOP_VALUES = 10
#: Text that reads as an ISO 8601 date or date-time.
_DATETIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)?$"
#: Order in which types win a tie in the number of values.
_TYPE_ORDER = ("string", "number", "boolean", "object")


class TopValue(BaseModel):
    """A frequent value and how many events (or persons) carry it."""

    value: str
    count: int


class CatalogueItem(BaseModel):
    """One catalogue entry as the API returns it."""

    kind: EntryKind
    name: str
    type: ValueType | None = Field(description="detected type; none for event names")
    first_seen: dt.datetime | None
    last_seen: dt.datetime | None
    volume: int = Field(description="events (event names, event properties) or persons (person properties)")
    top_values: list[TopValue]
    sampled: bool = Field(description="top values counted over the latest events only")
    present: bool = Field(description="false when the last refresh no longer found it")
    description: str
    display_name: str
    hidden: bool


class CatalogueEdit(BaseModel):
    """What people may change on an entry (fields left out stay as they are)."""

    model_config = {"extra": "forbid"}

    description: str | None = Field(None, max_length=5000)
    display_name: str | None = Field(None, max_length=200)
    hidden: bool | None = None


class CatalogueEntryMissing(LookupError):
    """No such entry in the project's catalogue."""


# -- statistics from the events store ------------------------------------------------------------------------


#: Keys typed per scan: each row carries one type name per key through the grouping.
KEYS_PER_SCAN = 200


def _key_stats(
    fetch: Fetch, builder: QueryBuilder, source: exp.Select, time: str, document: str
) -> tuple[dict[str, dict[str, int]], dict[str, list[dt.datetime]]]:
    """Per key: how many values of each type, and the first and last time it had a value.

    The keys come first (one cheap scan); then every row's pattern of value types at those keys is grouped,
    so the engine parses each document once and returns one row per distinct pattern (a few dozen: events
    of one kind carry the same properties), which are added up here per key.
    """
    dialect = builder.dialect
    doc = col(document)
    keys_query = exp.select(exp.alias_(dialect.json_key_each(doc), "k")).from_(source.subquery("s")).distinct()
    keys = sorted(str(row["k"]) for row in fetch.rows(keys_query))
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    times: dict[str, list[dt.datetime]] = defaultdict(list)
    for start in range(0, len(keys), KEYS_PER_SCAN):
        chunk = keys[start : start + KEYS_PER_SCAN]
        patterns = (
            exp.select(
                exp.alias_(dialect.json_types(doc.copy(), chunk), "ty"),
                exp.alias_(exp.Count(this=exp.Star()), "n"),
                exp.alias_(exp.Min(this=col(time)), "fs"),
                exp.alias_(exp.Max(this=col(time)), "ls"),
            )
            .from_(source.subquery("s"))
            .group_by(exp.column("ty"))
        )
        for row in fetch.rows(patterns):
            seen = [t for t in (_when(row["fs"]), _when(row["ls"])) if t is not None]
            for key, raw in zip(chunk, row["ty"], strict=True):
                kind = dialect.json_type_name(raw)
                if kind is not None:
                    counts[key][kind] += int(row["n"])
                    times[key] += seen
    return counts, times


def _datetime_strings(source: exp.Select, document: str, builder: QueryBuilder) -> exp.Select:
    """Per key: its text values and how many of them read as ISO date(-time)s (over the sample)."""
    entries = builder.dialect.json_entries(source, document, [])
    is_string = exp.EQ(this=exp.column("jt"), expression=exp.Literal.string("string"))
    is_datetime = exp.RegexpLike(this=exp.column("jv"), expression=exp.Literal.string(_DATETIME))
    return (
        exp.select(
            "k",
            exp.alias_(exp.Count(this=exp.Star()), "ns"),
            exp.alias_(exp.Filter(this=exp.Count(this=exp.Star()), expression=exp.Where(this=is_datetime)), "nd"),
        )
        .from_(entries.subquery("x"))
        .where(is_string)
        .group_by("k")
    )


def _datetime_counts(
    fetch: Fetch,
    builder: QueryBuilder,
    source: exp.Select,
    document: str,
    keys: list[str],
    types: dict[str, dict[str, int]],
) -> dict[str, tuple[int, int]]:
    """For text keys the sample did not see (properties of older events only): (text values, how many read
    as date(-time)s) over every row, one filtered count per key in one scan."""
    found: dict[str, tuple[int, int]] = {}
    for start in range(0, len(keys), KEYS_PER_SCAN):
        chunk = keys[start : start + KEYS_PER_SCAN]
        counts = [
            exp.alias_(
                exp.Filter(
                    this=exp.Count(this=exp.Star()),
                    expression=exp.Where(
                        this=exp.RegexpLike(
                            this=builder.dialect.json_text(col(document), key),
                            expression=exp.Literal.string(_DATETIME),
                        )
                    ),
                ),
                f"d{i}",
            )
            for i, key in enumerate(chunk)
        ]
        for row in fetch.rows(exp.select(*counts).from_(source.subquery("s"))):
            found.update({key: (types[key]["string"], int(row[f"d{i}"])) for i, key in enumerate(chunk)})
    return found


def _top(source: exp.Select, document: str, builder: QueryBuilder) -> exp.Select:
    """Per key, its `TOP_VALUES` most frequent scalar values (ties by value) with their counts."""
    entries = builder.dialect.json_entries(source, document, [])
    scalar = exp.In(this=exp.column("jt"), expressions=[exp.Literal.string(t) for t in ("string", "number", "boolean")])
    counted = (
        exp.select("k", "jv", exp.alias_(exp.Count(this=exp.Star()), "c"))
        .from_(entries.subquery("x"))
        .where(scalar)
        .group_by("k", "jv")
    )
    rank = exp.Window(
        this=exp.RowNumber(),
        partition_by=[exp.column("k")],
        order=exp.Order(expressions=[exp.Ordered(this=exp.column("c"), desc=True), exp.Ordered(this=exp.column("jv"))]),
    )
    ranked = exp.select("k", "jv", "c", exp.alias_(rank, "r")).from_(counted.subquery("cv"))
    return (
        exp.select("k", "jv", "c")
        .from_(ranked.subquery("rv"))
        .where(exp.LTE(this=exp.column("r"), expression=num(TOP_VALUES)))
    )


def _detected(types: dict[str, int], text: tuple[int, int] | None) -> ValueType:
    """The type most values have; a text property whose every sampled text value (`text`: how many, how
    many read as ISO date(-time)s) is a date or date-time is `datetime`."""
    best = max(types, key=lambda t: (types[t], -_TYPE_ORDER.index(t)))
    if best == "string" and text is not None and text[0] > 0 and text[1] == text[0]:
        return "datetime"
    return best  # type: ignore[return-value]


def _when(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(str(value)).replace(tzinfo=dt.UTC)


def compute_catalogue(store: EventStore, project_id: int, *, sample: int = SAMPLE_EVENTS) -> list[dict[str, Any]]:
    """The catalogue's statistics, freshly computed: one dict per entry (kind, name, type, first_seen,
    last_seen, volume, top_values, sampled)."""
    builder = QueryBuilder(store.dialect, ProjectContext(project_id))
    fetch = Fetch(store, builder, timeout=None)
    own = exp.EQ(this=col("project_id"), expression=num(project_id))
    events = exp.select("event", "timestamp", "properties").from_("events").where(own)
    names = (
        exp.select(
            "event",
            exp.alias_(exp.Count(this=exp.Star()), "n"),
            exp.alias_(exp.Min(this=col("timestamp")), "fs"),
            exp.alias_(exp.Max(this=col("timestamp")), "ls"),
        )
        .from_("events")
        .where(own.copy())
        .group_by("event")
    )
    out: list[dict[str, Any]] = []
    total = 0
    for row in fetch.rows(names):
        total += int(row["n"])
        entry = {"kind": "event", "name": row["event"], "type": None, "volume": int(row["n"])}
        out.append({**entry, "first_seen": _when(row["fs"]), "last_seen": _when(row["ls"])})
        out[-1].update(top_values=[], sampled=False)
    latest = events.copy().order_by(exp.Ordered(this=col("timestamp"), desc=True)).limit(sample)
    persons = (
        exp.select("created_at", "properties")
        .from_(store.dialect.replica_table("persons"))
        .where(own.copy())
        .where(exp.Not(this=col("is_deleted")))
    )
    for kind, stats_source, top_source, time, sampled in (
        ("event_property", events, latest, "timestamp", total > sample),
        ("person_property", persons, persons, "created_at", False),
    ):
        types, times = _key_stats(fetch, builder, stats_source, time, "properties")
        text = {
            row["k"]: (int(row["ns"]), int(row["nd"]))
            for row in fetch.rows(_datetime_strings(top_source, "properties", builder))
        }
        unsampled = [k for k in sorted(types) if "string" in types[k] and k not in text]
        text.update(_datetime_counts(fetch, builder, stats_source, "properties", unsampled, types))
        tops: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for row in fetch.rows(_top(top_source, "properties", builder)):
            tops[row["k"]].append((str(row["jv"]), int(row["c"])))
        for key in sorted(types):
            values = sorted(tops.get(key, []), key=lambda vc: (-vc[1], vc[0]))
            out.append(
                {
                    "kind": kind,
                    "name": key,
                    "type": _detected(types[key], text.get(key)),
                    "first_seen": min(times[key], default=None),
                    "last_seen": max(times[key], default=None),
                    "volume": sum(types[key].values()),
                    "top_values": [{"value": v, "count": c} for v, c in values],
                    "sampled": sampled,
                }
            )
    return sorted(out, key=lambda e: (KINDS.index(e["kind"]), e["name"]))


# -- the cached catalogue in the metadata store --------------------------------------------------------------


class CatalogueService:
    """Reads, refreshes and edits a project's catalogue."""

    def __init__(self, metadata: MetadataStore, store: EventStore) -> None:
        self.metadata = metadata
        self.store = store

    def refresh(self, project_id: int) -> int:
        """Recompute the statistics (keeping descriptions, display names and hidden flags); returns the
        number of entries present."""
        fresh = {(e["kind"], e["name"]): e for e in compute_catalogue(self.store, project_id)}
        now = utcnow()
        with self.metadata.session() as session, session.begin():
            stored = {
                (row.kind, row.name): row
                for row in session.scalars(select(CatalogueEntry).where(CatalogueEntry.project_id == project_id))
            }
            for key, row in stored.items():
                if key not in fresh:
                    row.present = False
                    row.refreshed_at = now
            for key, values in fresh.items():
                row = stored.get(key) or CatalogueEntry(project_id=project_id, kind=key[0], name=key[1])
                for field, value in values.items():
                    setattr(row, field, value)
                row.present = True
                row.refreshed_at = now
                session.add(row)
        return len(fresh)

    def refreshed_at(self, project_id: int) -> dt.datetime | None:
        """When the catalogue was last refreshed (None: never)."""
        with self.metadata.session() as session:
            when = session.scalar(
                select(CatalogueEntry.refreshed_at)
                .where(CatalogueEntry.project_id == project_id)
                .order_by(CatalogueEntry.refreshed_at.desc())
                .limit(1)
            )
        return _when(when)

    def entries(
        self, project_id: int, kind: EntryKind | None = None, *, include_hidden: bool = True
    ) -> list[CatalogueItem]:
        """The catalogue (computed first if it never was), by kind then name."""
        if self.refreshed_at(project_id) is None:
            self.refresh(project_id)
        query = select(CatalogueEntry).where(CatalogueEntry.project_id == project_id)
        if kind is not None:
            query = query.where(CatalogueEntry.kind == kind)
        if not include_hidden:
            query = query.where(CatalogueEntry.hidden.is_(False))
        with self.metadata.session() as session:
            rows = list(session.scalars(query))
        rows.sort(key=lambda r: (KINDS.index(r.kind), r.name))  # type: ignore[arg-type]
        return [_item(r) for r in rows]

    def edit(self, project_id: int, kind: EntryKind, name: str, change: CatalogueEdit) -> CatalogueItem:
        """Change an entry's description, display name or hidden flag."""
        with self.metadata.session() as session, session.begin():
            row = session.scalar(
                select(CatalogueEntry).where(
                    CatalogueEntry.project_id == project_id, CatalogueEntry.kind == kind, CatalogueEntry.name == name
                )
            )
            if row is None:
                raise CatalogueEntryMissing(f"no {kind.replace('_', ' ')} named {name!r} in the catalogue")
            for field, value in change.model_dump(exclude_none=True).items():
                setattr(row, field, value)
            item = _item(row)
        return item

    def known(self, project_id: int) -> dict[EntryKind, set[str]]:
        """Names present in the catalogue, by kind (hidden ones included: hiding is for menus only)."""
        found: dict[EntryKind, set[str]] = {k: set() for k in KINDS}
        for item in self.entries(project_id):
            if item.present:
                found[item.kind].add(item.name)
        return found


def _item(row: CatalogueEntry) -> CatalogueItem:
    return CatalogueItem(
        kind=row.kind,  # type: ignore[arg-type]
        name=row.name,
        type=row.type,  # type: ignore[arg-type]
        first_seen=_when(row.first_seen),
        last_seen=_when(row.last_seen),
        volume=row.volume,
        top_values=[TopValue(**v) for v in row.top_values or []],
        sampled=row.sampled,
        present=row.present,
        description=row.description,
        display_name=row.display_name,
        hidden=row.hidden,
    )


def event_volumes(store: EventStore, project_id: int, *, timeout: float | None = None) -> dict[str, int]:
    """Every event name the project has received and its number of events, live: the catalogue's cheap part
    (one scan of two columns), for menus that must offer a new event at once."""
    builder = QueryBuilder(store.dialect, ProjectContext(project_id))
    own = exp.EQ(this=col("project_id"), expression=num(project_id))
    names = exp.select("event", exp.alias_(exp.Count(this=exp.Star()), "n")).from_("events").where(own)
    return {str(r["event"]): int(r["n"]) for r in Fetch(store, builder, timeout).rows(names.group_by("event"))}
