"""Project-scoped relations every query reads: events with merged persons resolved, and live persons."""

from __future__ import annotations

from sqlglot import exp

from opsloop.store.dialects import Dialect


def _project(column: str, project_id: int, table: str | None = None) -> exp.Expression:
    return exp.EQ(this=exp.column(column, table), expression=exp.Literal.number(int(project_id)))


def project_distinct_ids(project_id: int, dialect: Dialect) -> exp.Select:
    """`distinct_id -> person_id` of one project, latest version, merged ids pointing at the survivor."""
    return (
        exp.select("distinct_id", "person_id")
        .from_(dialect.replica_table("person_distinct_ids"))
        .where(_project("project_id", project_id))
        .where(exp.Not(this=exp.column("is_deleted")))
    )


def project_overrides(project_id: int, dialect: Dialect) -> exp.Select:
    """The identity merges of one project: `old_person_id`, a person merged away, and `person_id`, the person
    it is part of now (chains followed). A merge moves every distinct id of a person, so every event stored
    with `old_person_id` belongs to `person_id` now."""
    return (
        exp.select("old_person_id", "person_id")
        .from_(dialect.replica_table("person_overrides"))
        .where(_project("project_id", project_id))
    )


def project_events(project_id: int, dialect: Dialect) -> exp.Select:
    """Events of one project; `person_id` is the person the event's distinct id belongs to *now*: the person
    it was stored with, or the one that person was merged into (one row per merged-away person to join,
    rather than one per distinct id)."""
    person = exp.func("coalesce", exp.column("person_id", "o"), exp.column("person_id", "e"))
    return (
        exp.select(
            exp.column("uuid", "e"),
            exp.column("event", "e"),
            exp.column("distinct_id", "e"),
            exp.alias_(person, "person_id"),
            exp.column("timestamp", "e"),
            exp.column("properties", "e"),
            exp.column("session_id", "e"),
            exp.column("inserted_at", "e"),
        )
        .from_(exp.to_table("events").as_("e"))
        .join(
            project_overrides(project_id, dialect).subquery("o"),
            on=exp.EQ(this=exp.column("old_person_id", "o"), expression=exp.column("person_id", "e")),
            join_type="left",
        )
        .where(_project("project_id", project_id, "e"))
    )


def project_persons(project_id: int, dialect: Dialect) -> exp.Select:
    """Persons of one project that have not been merged away."""
    return (
        exp.select("id", "created_at", "properties", "is_identified")
        .from_(dialect.replica_table("persons"))
        .where(_project("project_id", project_id))
        .where(exp.Not(this=exp.column("is_deleted")))
    )
