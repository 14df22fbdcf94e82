"""The dashboards suite reuses the analytics harness: a real store per engine (DuckDB and chdb)."""

from tests.analytics.conftest import engine

__all__ = ["engine"]
