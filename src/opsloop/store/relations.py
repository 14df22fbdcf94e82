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


def project_events(project_id: int, dialect: Dialect) -> exp.Select:
    """Events of one project; `person_id` is the person the event's distinct id belongs to *now*."""
    person = exp.func("coalesce", exp.column("person_id", "pdi"), exp.column("person_id", "e"))
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
            project_distinct_ids(project_id, dialect).subquery("pdi"),
            on=exp.EQ(this=exp.column("distinct_id", "pdi"), expression=exp.column("distinct_id", "e")),
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
