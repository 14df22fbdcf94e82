"""Settings: one object, read from the environment (prefix ``OPSLOOP_``); every field documents itself."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from opsloop.ingest.events import MAX_BLOCK_EVENTS


class Settings(BaseSettings):
    """Runtime configuration of an opsloop instance."""

    model_config = SettingsConfigDict(env_prefix="OPSLOOP_", extra="ignore", frozen=True)

    data_dir: Path = Field(
        default=Path("./opsloop-data"),
        description="Folder for the embedded stores (DuckDB events file, SQLite metadata) and the ingest log.",
    )
    database_url: str | None = Field(
        default=None,
        description="Metadata store as a SQLAlchemy URL. Default: SQLite file `DATA_DIR/opsloop.db`. "
        "PostgreSQL: `postgresql+psycopg://user:pass@host:5432/db`.",
    )
    events_url: str | None = Field(
        default=None,
        description="Events store. Default: DuckDB file `DATA_DIR/events.duckdb` (`duckdb://PATH`). "
        "`chdb://PATH` for the embedded ClickHouse engine, `clickhouse://user:pass@host:port/db` for a server.",
    )
    host: str = Field(default="127.0.0.1", description="Address `opsloop serve` listens on.")
    port: int = Field(default=8000, description="Port `opsloop serve` listens on.")
    max_body_bytes: int = Field(
        default=20 * 1024 * 1024,
        description="Largest request body accepted by the capture API, in bytes, after gzip decompression "
        "(larger bodies get HTTP 413).",
    )
    max_events_per_request: int = Field(
        default=10_000,
        ge=1,
        le=MAX_BLOCK_EVENTS,
        description=f"Most events in one capture request (more gets HTTP 413); at most {MAX_BLOCK_EVENTS}.",
    )
    max_event_bytes: int = Field(
        default=1024 * 1024,
        description="Largest single event (its JSON) in bytes; a larger one is rejected and the rest of the "
        "batch is stored.",
    )
    wal_fsync: bool = Field(
        default=True,
        description="fsync the ingest log before acknowledging a capture request. Turning it off keeps "
        "events safe from a process crash but not from a power loss.",
    )
    wal_segment_bytes: int = Field(
        default=64 * 1024 * 1024, description="Size at which the ingest log starts a new segment file."
    )
    flush_interval_ms: int = Field(
        default=500,
        description="How often acknowledged events are moved from the ingest log to the events store.",
    )
    flush_max_events: int = Field(default=50_000, description="Most events written to the events store in one batch.")
    max_pending_events: int = Field(
        default=1_000_000,
        ge=1,
        description="Most acknowledged events waiting for the events store. Past it, capture requests wait "
        "(back-pressure) until the store catches up, so a sustained overload cannot exhaust memory.",
    )
    dedup_window_hours: int = Field(
        default=48,
        description="Events are de-duplicated on `uuid` against stored events whose timestamp lies within this "
        "many hours of the incoming batch's timestamps.",
    )
    sql_timeout_seconds: float = Field(default=30.0, description="Time limit for one query of the read-only SQL API.")
    query_timeout_seconds: float = Field(
        default=60.0, description="Time limit for one analytics query (trends, funnels, retention...)."
    )
    sql_max_rows: int = Field(default=10_000, description="Most rows returned by one SQL API query.")
    import_batch_rows: int = Field(
        default=100_000, description="Rows read and written per batch by `opsloop import` (bounds memory)."
    )
    duckdb_memory_limit: str = Field(
        default="2GB",
        description="DuckDB memory limit for the events store while serving and querying (DuckDB syntax, "
        "e.g. `4GB`): analyses over tens of millions of events need room for their joins and windows; "
        "larger ones spill to disk.",
    )
    import_memory_limit: str = Field(
        default="384MB",
        description="DuckDB memory limit while a bulk import runs (`opsloop import`, the demo's load). It "
        "bounds what DuckDB keeps cached of the data it writes, which otherwise grows with every batch: with "
        "the default an import of 10 million events stays under 1 GiB of memory.",
    )
    duckdb_threads: int | None = Field(default=None, description="DuckDB worker threads; default: number of CPU cores.")
    log_level: str = Field(default="info", description="Log level of the server (`debug`, `info`, `warning`).")
    feedback_max_text_chars: int = Field(
        default=10_000,
        ge=1,
        description="Longest feedback text accepted, in characters; a longer one is refused (HTTP 413 for a "
        "single item, a per-item error in a batch or an import).",
    )
    session_hours: float = Field(
        default=12.0,
        gt=0,
        description="How long a console sign-in lasts, in hours; after it the user signs in again.",
    )
    cookie_secure: bool | None = Field(
        default=None,
        description="Mark console cookies `Secure` (sent over https only). Default: when the request came over "
        "https (behind a proxy, start uvicorn with `--proxy-headers`, or set this to `true`).",
    )
    login_max_failures_per_email: int = Field(
        default=5,
        ge=1,
        description="Failed console sign-ins for one email before it is locked out for a while.",
    )
    login_max_failures_per_ip: int = Field(
        default=20,
        ge=1,
        description="Failed console sign-ins from one client address before it is locked out for a while.",
    )
    login_lockout_seconds: int = Field(
        default=60,
        ge=1,
        description="First lock-out after too many failed sign-ins; each further failure doubles it.",
    )
    login_max_lockout_seconds: int = Field(
        default=3600,
        ge=1,
        description="Longest lock-out after failed sign-ins; failures older than this are forgotten.",
    )
    segment_refresh_minutes: float = Field(
        default=60.0,
        ge=0,
        description="How often the server refreshes every project's rule tags and segment memberships, in "
        "minutes (the first run comes one interval after start); 0 turns the scheduled refresh off (cron "
        "users run `opsloop refresh --project ID` instead).",
    )

    @cached_property
    def resolved_data_dir(self) -> Path:
        """The data folder as an absolute path (created on first use)."""
        path = self.data_dir.expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def resolved_database_url(self) -> str:
        """The metadata store URL, defaulting to a SQLite file in the data folder."""
        return self.database_url or f"sqlite:///{self.resolved_data_dir / 'opsloop.db'}"

    @property
    def resolved_events_url(self) -> str:
        """The events store URL, defaulting to a DuckDB file in the data folder."""
        return self.events_url or f"duckdb://{self.resolved_data_dir / 'events.duckdb'}"

    @property
    def wal_dir(self) -> Path:
        """Folder of the ingest write-ahead log."""
        return self.resolved_data_dir / "wal"
