"""Migration 0005 creates exactly the feedback tables the models describe (SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from opsloop.store.metadata import MetadataStore
from opsloop.store.models import Base


def test_migrated_schema_matches_the_feedback_models(metadata_url: str) -> None:
    store = MetadataStore(metadata_url)
    try:
        with store.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        feedback = [d for d in diff if "feedback" in repr(d)]
        assert feedback == []
    finally:
        store.close()
