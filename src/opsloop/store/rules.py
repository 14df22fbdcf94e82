"""Import rules as SQL: how each column of an import batch is checked and shaped, for the Stager's query.

Identifiers are the batch's column names, quoted here; values reach the query as parameters.
"""

from __future__ import annotations

import pyarrow as pa

_NUMBER = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$"


def quote(name: str) -> str:
    """A column name as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def is_text(arrow_type: pa.DataType) -> bool:
    """Whether an Arrow column holds text (which DuckDB reads as VARCHAR as it is)."""
    return bool(
        pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_string_view(arrow_type)
    )


def trimmed(name: str, arrow_type: pa.DataType) -> str:
    """The column as text without surrounding spaces, NULL when empty.

    Text without a space in it is taken as it is: `trim` would copy every value to change none.
    """
    col = quote(name)
    if not is_text(arrow_type):
        return f"NULLIF(trim(CAST({col} AS VARCHAR)), '')"
    return f"CASE WHEN contains({col}, ' ') OR {col} = '' THEN NULLIF(trim({col}), '') ELSE {col} END"


def changed_text(name: str, value: str) -> str:
    """`value` where trimming changed the column's text, else NULL (the column itself is then reused)."""
    col = quote(name)
    return f"CASE WHEN contains({col}, ' ') OR {col} = '' THEN {value} END"


def json_problem(name: str) -> str:
    """Why a JSON-object column's value is refused, or NULL; a cheap prefix test spares most rows a second parse."""
    col = f"CAST({quote(name)} AS VARCHAR)"
    return (
        f"CASE WHEN {col} IS NULL THEN NULL "
        f"WHEN NOT json_valid({col}) THEN '{name} is not valid JSON' "
        f"WHEN starts_with({col}, '{{') THEN NULL "  # valid JSON that opens with a brace is an object
        f"WHEN json_type({col}) <> 'OBJECT' THEN '{name} must be a JSON object' "
        "ELSE NULL END"
    )


def _json_value(name: str, arrow_type: pa.DataType) -> str:
    """A column value as JSON; text that looks like a number or boolean becomes one (CSV has no types)."""
    col = quote(name)
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return (
            f"CASE WHEN {col} IS NULL OR {col} = '' THEN NULL "
            f"WHEN regexp_matches({col}, '{_NUMBER}') THEN CAST(CAST({col} AS DOUBLE) AS JSON) "
            f"WHEN lower({col}) IN ('true', 'false') THEN CAST(lower({col}) AS JSON) "
            f"ELSE to_json({col}) END"
        )
    return f"to_json({col})"


def merged_object(base: str | None, extras: list[tuple[str, str, pa.DataType]]) -> str:
    """JSON object text: `base` (a JSON column) patched with extra columns (null values drop the key)."""
    parts = [f"'{key.replace(chr(39), chr(39) * 2)}', {_json_value(col, typ)}" for key, col, typ in extras]
    expr = f"coalesce(CAST({quote(base)} AS JSON), '{{}}'::JSON)" if base else "'{}'::JSON"
    if parts:
        expr = f"json_merge_patch({expr}, json_object({', '.join(parts)}))"
    return expr


def properties_passthrough(base_type: pa.DataType | None, extras: list[tuple[str, str, pa.DataType]]) -> bool:
    """Whether the staged `properties` are the column's own text (a checked JSON object, `{}` for none)."""
    return base_type is not None and not extras and is_text(base_type)


def properties_text(base_type: pa.DataType | None, extras: list[tuple[str, str, pa.DataType]]) -> str:
    """The `properties` object as text: the column's own text when it passes through, else merged JSON."""
    if properties_passthrough(base_type, extras):
        # The same text `CAST(... AS JSON)` returns, without parsing it a second time (it was checked).
        return f"coalesce({quote('properties')}, '{{}}')"
    return f"CAST({merged_object('properties' if base_type is not None else None, extras)} AS VARCHAR)"


def timestamp(arrow_type: pa.DataType) -> str:
    """The `timestamp` column as TIMESTAMPTZ: date-times, epoch seconds or milliseconds, or ISO text."""
    col = quote("timestamp")
    if pa.types.is_timestamp(arrow_type):
        return f"CAST({col} AS TIMESTAMPTZ)"
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type):
        return f"to_timestamp(CASE WHEN abs({col}) > 1e11 THEN {col} / 1000.0 ELSE {col} END)"
    if pa.types.is_date(arrow_type):
        return f"CAST({col} AS TIMESTAMPTZ)"
    return f"try_cast(trim(CAST({col} AS VARCHAR)) AS TIMESTAMPTZ)"


def timestamp_passthrough(arrow_type: pa.DataType) -> bool:
    """Whether the column's values are already the staged instants (microseconds; no zone means UTC)."""
    return bool(pa.types.is_timestamp(arrow_type) and arrow_type.unit == "us")
