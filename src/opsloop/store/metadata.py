"""Metadata store: the SQLAlchemy engine, sessions, and Alembic migrations applied on start."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_BULK_CHUNK = 10_000


def create_metadata_engine(url: str) -> Engine:
    """An engine for the metadata URL; SQLite gets WAL mode, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config(url: str) -> Config:
    """Alembic configuration pointing at the packaged migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the metadata schema to the latest revision (idempotent)."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "heads")  # one head per domain until migrations are re-chained


def bulk_insert(connection: Connection, table: Table, columns: Mapping[str, Sequence[Any]]) -> None:
    """Insert many rows, given column by column, with one driver `executemany` per chunk, skipping the ORM.

    The statement is compiled once for the dialect and values go through each column's own bind processor,
    so what is stored is exactly what a normal insert would store (JSON text, SQLite date-time strings...).
    A value object repeated in a column (the same `{}` for every new person) is converted once.
    """
    keys = list(columns)
    count = len(columns[keys[0]]) if keys else 0
    if not count:
        return
    dialect = connection.dialect
    compiled = table.insert().compile(dialect=dialect, column_keys=keys)
    processors = {key: table.c[key].type._cached_bind_processor(dialect) for key in keys}
    order = [compiled.binds[name].key for name in compiled.positiontup or ()]
    names = {name: bind.key for name, bind in compiled.binds.items()}
    # Chunks keep the converted copies of the rows small, whatever the number of rows.
    for start in range(0, count, _BULK_CHUNK):
        processed = {key: _processed(processors[key], columns[key][start : start + _BULK_CHUNK]) for key in keys}
        params: list[Any] = (
            list(zip(*(processed[key] for key in order), strict=True))
            if compiled.positional
            else [
                dict(zip(names, row, strict=True)) for row in zip(*(processed[k] for k in names.values()), strict=True)
            ]
        )
        connection.exec_driver_sql(compiled.string, params)


def _processed(process: Callable[[Any], Any] | None, values: Sequence[Any]) -> Sequence[Any]:
    if process is None:
        return values
    done: dict[int, Any] = {}  # by object identity: the values are alive, and not changed, during the call
    out = []
    for value in values:
        key = id(value)
        if key not in done:
            done[key] = process(value)
        out.append(done[key])
    return out


class MetadataStore:
    """Owns the engine and hands out sessions."""

    def __init__(self, url: str, *, run_migrations: bool = True) -> None:
        self.url = url
        self.engine = create_metadata_engine(url)
        if run_migrations:
            migrate(self.engine)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> Session:
        """A new ORM session (use as a context manager)."""
        return self.sessions()

    def close(self) -> None:
        """Dispose of pooled connections."""
        self.engine.dispose()
