"""Migration 0007 creates exactly the tables the requirement and annotation models describe, and goes down
and up again (SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from opsloop.store.metadata import MetadataStore, alembic_config
from opsloop.store.models import Base

TABLES = {
    "annotations",
    "requirements",
    "requirement_status_changes",
    "requirement_feedback",
    "requirement_votes",
    "roadmap_settings",
}


def test_migrated_schema_matches_the_models_and_reverses(metadata_url: str) -> None:
    store = MetadataStore(metadata_url)
    try:
        with store.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert [d for d in diff if any(t in repr(d) for t in TABLES)] == []
        cfg = alembic_config(store.engine.url.render_as_string(hide_password=False))
        before = ScriptDirectory.from_config(cfg).get_revision("0007").down_revision  # the migration before it
        command.downgrade(cfg, before)
        assert not TABLES & set(inspect(store.engine).get_table_names())
        command.upgrade(cfg, "head")
        assert set(inspect(store.engine).get_table_names()) >= TABLES
    finally:
        store.close()
