"""Static lists: CSV of ids, every malformed row reported with its line number."""

from __future__ import annotations

import pytest

from opsloop.users.static_lists import ListInvalid, parse_id_list


def test_ids_in_order_without_repeats() -> None:
    parsed = parse_id_list("\ufeffdistinct_id\nu1\n\n u2 \nu1\n")
    assert parsed.kind == "distinct_id" and parsed.ids == ("u1", "u2")
    person = "6F1C0D1E-8D2B-4C1A-9D0E-0A11C0FFEE00"
    assert parse_id_list(f"person_id\n{person}\n").ids == (person.lower(),)


def test_malformed_rows_are_listed_with_line_numbers() -> None:
    text = "distinct_id\nok\na,b\n" + "x" * 401 + "\nbad\x01id\nfine\n"
    with pytest.raises(ListInvalid) as caught:
        parse_id_list(text)
    assert caught.value.errors == [
        "line 3: expected 1 value, found 2",
        "line 4: the id is longer than 400 characters",
        "line 5: the id holds control characters",
    ]
    assert "3 malformed row(s)" in str(caught.value)
    with pytest.raises(ListInvalid, match="line 2: 'nope' is not a person id"):
        parse_id_list("person_id\nnope\n")


def test_header_is_required() -> None:
    with pytest.raises(ListInvalid, match="line 1: the first line must name the one column"):
        parse_id_list("u1\nu2\n")
    with pytest.raises(ListInvalid, match="the CSV is empty"):
        parse_id_list("\n\n")


def test_many_errors_are_summarised() -> None:
    text = "distinct_id\n" + "a,b\n" * 30
    with pytest.raises(ListInvalid, match=r"30 malformed row\(s\).*\(and 10 more\)"):
        parse_id_list(text)
