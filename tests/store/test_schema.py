"""UUID and JSON conversions between Arrow forms, against Python's own `uuid` module."""

from __future__ import annotations

import uuid

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from opsloop.store.schema import checked_json, uuid_text, uuid_values, with_text_uuids


@given(st.lists(st.uuids() | st.none(), max_size=50), st.integers(min_value=0, max_value=5))
def test_uuid_text_matches_python(values: list[uuid.UUID | None], skip: int) -> None:
    array = pa.array([v.bytes if v else None for v in values], pa.uuid()).slice(min(skip, len(values)))
    expected = [str(v) if v else None for v in values[min(skip, len(values)) :]]
    assert uuid_text(array).to_pylist() == expected


@given(st.lists(st.uuids(), max_size=50))
def test_uuid_values_round_trip(values: list[uuid.UUID]) -> None:
    texts = [str(v) for v in values]
    assert [str(u) for u in uuid_values(texts).to_pylist()] == texts
    assert uuid_text(uuid_values(texts)).to_pylist() == texts


def test_uuid_values_parse_other_spellings_one_by_one() -> None:
    # Upper case and no dashes are not the canonical form: parsed by `uuid.UUID`, same value.
    value = uuid.UUID("0b7e5a1c-0000-4000-8000-000000000001")
    assert uuid_values(["0B7E5A1C-0000-4000-8000-000000000001", value.hex]).to_pylist() == [value, value]


def test_with_text_uuids_turns_extension_columns_into_plain_text() -> None:
    value = uuid.uuid4()
    batch = pa.table(
        {
            "uuid": uuid_values([str(value)]),
            "person_id": pa.array([str(value)]),
            "properties": checked_json(pa.chunked_array([pa.array(['{"a": 1}'])])),
        }
    )
    plain = with_text_uuids(batch)
    assert plain.schema.types == [pa.string(), pa.string(), pa.string()]
    assert plain.to_pylist() == [{"uuid": str(value), "person_id": str(value), "properties": '{"a": 1}'}]
