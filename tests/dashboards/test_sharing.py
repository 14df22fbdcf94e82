"""Shareable query codes: compact, URL-safe, round-trip exactly, and garbage is refused with a clear error."""

from __future__ import annotations

import base64
import json
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsloop.dashboards.sharing import MAX_CODE_LENGTH, ShareCodeInvalid, decode_query, encode_query
from opsloop.query.registry import parse_query

QUERIES = [
    {"kind": "trends", "series": [{"event": "pageview", "math": "persons"}], "interval": "week"},
    {
        "kind": "funnel",
        "steps": [{"event": "浏览"}, {"event": "purchase", "filters": [{"property": "it's", "value": "a&b=c?"}]}],
        "window": {"value": 2, "unit": "hour"},
        "date_from": "2024-05-01",
        "date_to": "2024-05-31",
    },
    {"kind": "retention", "start_event": "signup", "breakdown": {"property": "$browser", "limit": 3}},
    {"kind": "sql", "query": "select event, count(*) from events group by 1"},
]


def _raw(text: str) -> str:
    packed = zlib.compress(text.encode(), 9)[2:-4]
    return base64.urlsafe_b64encode(packed).rstrip(b"=").decode()


@pytest.mark.parametrize("query", QUERIES)
def test_round_trip(query: dict[str, object]) -> None:
    code = encode_query(query)
    assert set(code) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert decode_query(code) == parse_query(query)
    assert encode_query(decode_query(code)) == code  # stable: the same query always gives the same code


def test_codes_are_compact() -> None:
    query = QUERIES[1]
    # Defaults are left out and the JSON is deflated: shorter than the plain JSON text itself.
    assert len(encode_query(query)) < len(json.dumps(query))
    assert len(encode_query({"kind": "active_users"})) < 40


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("", "q: the shareable query code is empty"),
        ("not base64!*", "not base64url"),
        ("____", "does not unpack"),
        (_raw("{not json"), "does not hold JSON"),
        (_raw('{"kind": "nope"}'), "not valid: unknown query kind 'nope'"),
        (_raw('{"kind": "trends", "series": []}'), "not valid: series"),
        (_raw("[1, 2]"), "must be a JSON object"),
        (_raw('{"kind": "active_users"}')[:-3], "cut short|does not unpack"),
        ("A" * (MAX_CODE_LENGTH + 1), "longer than"),
    ],
)
def test_garbage_is_refused_naming_q(code: str, message: str) -> None:
    with pytest.raises(ShareCodeInvalid, match=message) as caught:
        decode_query(code)
    assert str(caught.value).startswith("q: ")


def test_a_small_code_cannot_inflate_into_a_huge_body() -> None:
    bomb = _raw('{"kind": "sql", "query": "' + "a" * 2_000_000 + '"}')
    assert len(bomb) < MAX_CODE_LENGTH
    with pytest.raises(ShareCodeInvalid, match="larger than"):
        decode_query(bomb)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_any_text_is_a_query_or_a_clear_error(text: str) -> None:
    try:
        decode_query(text)
    except ShareCodeInvalid as exc:
        assert str(exc).startswith("q: ")


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.text(min_size=1, max_size=30).filter(lambda s: all(ord(c) >= 32 for c in s)), min_size=2, max_size=5)
)
def test_any_funnel_round_trips(events: list[str]) -> None:
    query = {"kind": "funnel", "steps": [{"event": e} for e in events]}
    assert decode_query(encode_query(query)) == parse_query(query)
