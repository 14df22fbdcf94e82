"""Migration 0008 creates exactly the tables of tags, tag rules and user-operations settings (SQLite and
PostgreSQL), and downgrades cleanly."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from opsloop.store.metadata import MetadataStore, alembic_config
from opsloop.store.models import Base

TABLES = ("person_tags", "tag_rules", "user_ops_settings")


def test_migrated_schema_matches_the_tag_models(metadata_url: str) -> None:
    store = MetadataStore(metadata_url)
    try:
        with store.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        ours = [d for d in diff if any(t in repr(d) for t in TABLES)]
        assert ours == []
        with store.engine.connect() as connection:
            names = set(store.engine.dialect.get_table_names(connection))
        assert set(TABLES) <= names
        config = alembic_config(store.engine.url.render_as_string(hide_password=False))
        command.downgrade(config, "0004")
        with store.engine.connect() as connection:
            assert not set(TABLES) & set(store.engine.dialect.get_table_names(connection))
        command.upgrade(config, "head")
    finally:
        store.close()
