"""Query results as CSV: one header row and the result's tidy rows, RFC 4180 quoting, UTF-8."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from opsloop.analytics.tables import TableResult

#: Byte order mark that makes Excel read a CSV file as UTF-8 (Chinese text otherwise turns to mojibake).
UTF8_BOM = "\ufeff"
#: First characters that make a spreadsheet read a cell as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any, *, guard_formulas: bool = False) -> str:
    """One value as CSV cell text: null empty, lists and objects as JSON, numbers as Python writes them."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        text = orjson.dumps(value).decode()
    elif isinstance(value, int | float):
        return repr(value)
    else:
        text = str(value)
    if guard_formulas and text.startswith(_FORMULA_STARTS):
        # A leading apostrophe makes Excel and LibreOffice show the text instead of running it.
        return "'" + text
    return text


def rows_csv(rows: Iterable[Mapping[str, Any]], columns: list[str] | None = None, *, excel: bool = False) -> str:
    """Rows as CSV text. Columns: as given, else every key in order of first appearance. `excel`: start with a
    UTF-8 byte order mark and neutralise cells that a spreadsheet would run as formulas."""
    rows = list(rows)
    if columns is None:
        seen: dict[str, None] = {}
        for row in rows:
            seen.update(dict.fromkeys(row))
        columns = list(seen)
    out = io.StringIO()
    if excel:
        out.write(UTF8_BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([csv_cell(c, guard_formulas=excel) for c in columns])
    writer.writerows([csv_cell(row.get(c), guard_formulas=excel) for c in columns] for row in rows)
    return out.getvalue()


def result_csv(result: TableResult, *, excel: bool = False) -> bytes:
    """A query result's tidy rows (`result.rows()`) as UTF-8 CSV bytes; `excel` as in `rows_csv`."""
    columns = list(getattr(result, "columns", [])) or None
    return rows_csv(result.rows(), columns, excel=excel).encode("utf-8")
