"""CSV export of query results: quoting, Unicode, Excel's byte order mark and formula guard."""

from __future__ import annotations

import csv
import io

from opsloop.analytics.active_users import ActiveUsersResult
from opsloop.analytics.tables import SqlResult
from opsloop.query.export import UTF8_BOM, result_csv, rows_csv


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.removeprefix(UTF8_BOM), newline="")))


def test_awkward_text_survives_a_round_trip() -> None:
    awkward = ["a,b", 'say "hi"', "two\nlines", "中文事件 · 浏览", "cr\r\nlf", "", "  spaced  "]
    result = SqlResult(columns=["name", "n"], data=[[v, i] for i, v in enumerate(awkward)])
    text = result_csv(result).decode("utf-8")
    assert parse(text) == [["name", "n"]] + [[v, str(i)] for i, v in enumerate(awkward)]
    # RFC 4180: CRLF between records, quotes doubled inside quoted cells.
    assert text.startswith("name,n\r\n")
    assert '"say ""hi"""' in text and '"a,b"' in text


def test_values_and_columns() -> None:
    rows = [{"a": None, "b": [1, "x"]}, {"a": True, "c": 1.5}]
    # Columns in order of first appearance; null empty; lists as JSON; booleans lower case.
    assert parse(rows_csv(rows)) == [["a", "b", "c"], ["", '[1,"x"]', ""], ["true", "", "1.5"]]


def test_excel_gets_a_bom_and_no_formulas() -> None:
    rows = [{"event": '=HYPERLINK("http://evil")'}, {"event": "+1"}, {"event": "@sum"}, {"event": "浏览"}]
    text = rows_csv(rows, excel=True)
    assert text.startswith(UTF8_BOM)
    assert [r[0] for r in parse(text)] == ["event", '\'=HYPERLINK("http://evil")', "'+1", "'@sum", "浏览"]
    # Numbers stay numbers (a negative number is not text that could run as a formula).
    assert parse(rows_csv([{"n": -5}], excel=True)) == [["n"], ["-5"]]
    # Without `excel` the text is exactly the data.
    assert parse(rows_csv(rows))[1] == ['=HYPERLINK("http://evil")']


def test_a_typed_result_exports_its_tidy_rows() -> None:
    result = ActiveUsersResult(
        dates=["2024-05-01", "2024-05-02"], dau=[1, 2], wau=[1, 3], mau=[1, 3], dau_mau=[1.0, None]
    )
    data = result_csv(result, excel=True)
    assert data.startswith(UTF8_BOM.encode("utf-8"))
    assert parse(data.decode("utf-8")) == [
        ["date", "dau", "wau", "mau", "dau_mau"],
        ["2024-05-01", "1", "1", "1", "1.0"],
        ["2024-05-02", "2", "3", "3", ""],
    ]
