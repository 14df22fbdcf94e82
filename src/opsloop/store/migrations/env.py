"""Alembic environment: runs on the connection opsloop hands it, or on the configured URL."""

from alembic import context
from sqlalchemy import create_engine

from opsloop.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    """Apply migrations online, on the caller's connection when there is one."""
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("alembic: no connection given and no sqlalchemy.url set")
    engine = create_engine(url)
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
