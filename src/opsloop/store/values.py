"""Conversion of engine results (Arrow) to JSON-ready Python values."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import uuid
from typing import Any

import pyarrow as pa


def json_value(value: Any) -> Any:
    """One result cell as a value `orjson` can write (ISO times, strings for UUIDs and big decimals)."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    return str(value)


def arrow_to_rows(table: pa.Table) -> list[list[Any]]:
    """An Arrow table as a list of JSON-ready rows."""
    columns = [[json_value(v) for v in _column_pylist(table.column(i))] for i in range(table.num_columns)]
    return [list(row) for row in zip(*columns, strict=True)] if columns else []


def _column_pylist(column: pa.ChunkedArray) -> list[Any]:
    # Extension types (DuckDB's UUID arrives as an arrow.uuid extension) convert via their storage.
    if isinstance(column.type, pa.ExtensionType):
        storage = pa.chunked_array([c.storage for c in column.chunks], type=column.type.storage_type)
        values = storage.to_pylist()
        if column.type.extension_name == "arrow.uuid":
            return [None if v is None else str(uuid.UUID(bytes=v)) for v in values]
        return values
    return column.to_pylist()
