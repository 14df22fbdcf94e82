"""Known persons: the writer's in-memory map of the registry's decisions, against a plain dict."""

from __future__ import annotations

import uuid

import duckdb
import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from opsloop.ingest.known import KnownPersons, id_hashes

ids = st.text(min_size=1, max_size=12)


@given(st.lists(st.text(max_size=30), max_size=30), st.integers(min_value=0, max_value=3))
def test_hashes_are_duckdbs_wherever_a_value_lies(values: list[str], skip: int) -> None:
    # The same hash as staging's `hash(distinct_id)`, for a slice of an array as for a whole one.
    kept = values[min(skip, len(values)) :]
    array = pa.array(values, pa.string()).slice(min(skip, len(values)))
    con = duckdb.connect()
    expected = [con.execute("SELECT hash(?::VARCHAR)", [v]).fetchone()[0] for v in kept]
    assert [int(h) for h in id_hashes(array)] == expected


@settings(max_examples=50)
@given(st.lists(st.dictionaries(ids, st.sampled_from(range(5)), max_size=20), max_size=6), st.lists(ids, max_size=20))
def test_lookups_agree_with_a_dict_after_any_decisions(batches: list[dict[str, int]], probe: list[str]) -> None:
    persons = [str(uuid.UUID(int=n + 1)) for n in range(5)]
    known = KnownPersons()
    known.sync(0)
    expected: dict[str, str] = {}
    for decided in batches:  # later decisions move ids to other persons
        chosen = {did: persons[n] for did, n in decided.items()}
        known.remember(7, chosen)
        expected.update(chosen)
    names = list(dict.fromkeys(probe))
    found = known.lookup(7, pa.array(names, pa.string())).to_pylist()
    assert [str(f) if f else None for f in found] == [expected.get(n) for n in names]
    assert known.lookup(8, pa.array(names, pa.string())).null_count == len(names), "other projects know nothing"


def test_a_new_generation_forgets_everything() -> None:
    known = KnownPersons()
    known.sync(0)
    known.remember(1, {"a": str(uuid.uuid4())})
    known.sync(1)
    assert known.lookup(1, pa.array(["a"])).to_pylist() == [None]


def test_hash_collisions_only_make_ids_look_unseen() -> None:
    known = KnownPersons()
    known.sync(0)
    person = str(uuid.uuid4())
    known.remember(1, {"a": person})
    # Force every id onto one hash: "b" must not get "a"'s person.
    entry = known._projects[1]
    entry.hashes = np.zeros_like(entry.hashes)
    found = entry.lookup(pa.array(["a", "b"]), np.zeros(2, np.uint64)).to_pylist()
    assert [str(f) if f else None for f in found] == [person, None]
