"""The runtime opens the events store under the serving or the import memory limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsloop.config import Settings
from opsloop.runtime import Runtime


@pytest.mark.parametrize(("importing", "expected"), [(False, "1.8 GiB"), (True, "286.1 MiB")])
def test_store_memory_limit_depends_on_the_process_role(tmp_path: Path, importing: bool, expected: str) -> None:
    # 2 GB and 300 MB as DuckDB reports them (in binary units).
    settings = Settings(data_dir=tmp_path, duckdb_memory_limit="2GB", import_memory_limit="300MB")
    runtime = Runtime(settings, importing=importing)
    try:
        limit = runtime.store.query("SELECT current_setting('memory_limit')").rows[0][0]
    finally:
        runtime.close()
    assert limit == expected
