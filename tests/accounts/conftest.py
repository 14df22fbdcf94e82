"""Account services over a real metadata store (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from argon2 import PasswordHasher

from opsloop.accounts import passwords
from opsloop.accounts.signin import Accounts
from opsloop.config import Settings
from opsloop.projects import ProjectInfo, ProjectService
from opsloop.store.metadata import MetadataStore


@pytest.fixture
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id with the smallest parameters: the same code path, a thousandth of the time."""
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=256, parallelism=1))


@pytest.fixture
def metadata(metadata_url: str) -> Iterator[MetadataStore]:
    """A migrated metadata store; PostgreSQL tables are emptied afterwards."""
    store = MetadataStore(metadata_url)
    yield store
    if store.engine.dialect.name == "postgresql":
        from opsloop.store.models import Base

        with store.engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
    store.close()


@pytest.fixture
def accounts(metadata: MetadataStore, fast_hashing: None) -> Accounts:
    """Every account service, with the default settings."""
    return Accounts(metadata, Settings())


@pytest.fixture
def make_project(metadata: MetadataStore) -> Callable[..., ProjectInfo]:
    """Create a project by name."""
    service = ProjectService(metadata)

    def make(name: str = "shop") -> ProjectInfo:
        return service.create(name).project

    return make
