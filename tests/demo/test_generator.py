"""Tests for the deterministic demo data generator."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections import Counter, defaultdict

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from opsloop.demo import catalog
from opsloop.demo.generator import BATCH_ROWS, EVENT_BATCH_SCHEMA, DemoData, DemoSpec, generate_demo

END = dt.date(2025, 3, 31)
SMALL = DemoSpec(persons=500, days=30, seed=7, end_date=END)


@pytest.fixture(scope="module")
def demo() -> DemoData:
    return generate_demo(SMALL)


@pytest.fixture(scope="module")
def table(demo: DemoData) -> pa.Table:
    return pa.Table.from_batches(list(demo.event_batches()), schema=EVENT_BATCH_SCHEMA)


@pytest.fixture(scope="module")
def rows(table: pa.Table) -> list[dict]:
    """Rows with JSON columns parsed."""
    out = table.to_pylist()
    for row in out:
        for col in ("properties", "$set", "$set_once"):
            if row[col] is not None:
                row[col] = orjson.loads(row[col])
    return out


def _ipc_bytes(data: DemoData) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, EVENT_BATCH_SCHEMA) as writer:
        for batch in data.event_batches():
            writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def _person_of(rows: list[dict]) -> dict[str, str]:
    """distinct id -> person key (the user id when the anonymous id was identified)."""
    person = {r["distinct_id"]: r["distinct_id"] for r in rows}
    for r in rows:
        if r["event"] == "$identify":
            person[r["properties"]["$anon_distinct_id"]] = r["distinct_id"]
    return person


def test_same_spec_gives_identical_bytes(demo: DemoData) -> None:
    first = _ipc_bytes(demo)
    assert _ipc_bytes(demo) == first  # replaying the same DemoData
    assert _ipc_bytes(generate_demo(SMALL)) == first  # regenerating from the same spec
    again = generate_demo(SMALL)
    assert again.channel_costs == demo.channel_costs


def test_different_seed_gives_different_data(demo: DemoData) -> None:
    other = generate_demo(DemoSpec(persons=500, days=30, seed=8, end_date=END))
    assert _ipc_bytes(other) != _ipc_bytes(demo)
    assert other.channel_costs != demo.channel_costs


def test_spec_validation() -> None:
    with pytest.raises(TypeError):
        DemoSpec(persons=10)  # type: ignore[call-arg]  # end_date is required
    with pytest.raises(TypeError):
        DemoSpec(end_date=dt.datetime(2025, 1, 1))
    with pytest.raises(ValueError):
        DemoSpec(persons=0, end_date=END)
    assert DemoSpec(end_date=END).start_date == END - dt.timedelta(days=119)


def test_schema_and_batches(demo: DemoData, table: pa.Table) -> None:
    batches = list(demo.event_batches())
    assert all(b.schema == EVENT_BATCH_SCHEMA for b in batches)
    assert all(0 < b.num_rows <= BATCH_ROWS for b in batches)
    assert table.num_rows == demo.n_events == sum(demo.event_counts().values())
    assert table.column("properties").null_count == 0
    for b in batches:  # each batch is in time order
        ts = b.column("timestamp")
        assert pc.all(pc.greater_equal(ts[1:], ts[:-1])).as_py()


def test_uuids_unique_and_valid(table: pa.Table) -> None:
    uuids = table.column("uuid").to_pylist()
    assert len(set(uuids)) == len(uuids)
    assert all(uuid.UUID(u).version == 4 for u in uuids[:1000])


def test_timestamps_within_days(table: pa.Table) -> None:
    lo = dt.datetime.combine(END - dt.timedelta(days=SMALL.days - 1), dt.time(), dt.UTC)
    hi = dt.datetime.combine(END + dt.timedelta(days=1), dt.time(), dt.UTC)
    ts = table.column("timestamp")
    assert pc.min(ts).as_py() >= lo
    assert pc.max(ts).as_py() < hi


def test_json_columns_are_objects(table: pa.Table) -> None:
    for col in ("properties", "$set", "$set_once"):
        values = [v for v in table.column(col).to_pylist() if v is not None]
        assert values, col
        assert all(isinstance(orjson.loads(v), dict) for v in values), col


def test_every_event_has_session_and_geo(rows: list[dict]) -> None:
    countries = Counter()
    for r in rows:
        props = r["properties"]
        assert props["$session_id"]
        assert props["$lib"] and props["$os"] and props["$device_type"] in ("Mobile", "Desktop")
        countries[props["$geoip_country_code"]] += 1
        if r["event"] == "$pageview":
            assert props["$current_url"].startswith("https://")
        if r["event"] == "$screen":
            assert props["$screen_name"]
    assert {"CN", "ES", "US"} <= set(countries)


def test_identity_flow(rows: list[dict]) -> None:
    identifies = [r for r in rows if r["event"] == "$identify"]
    assert identifies
    first_event: dict[str, dict] = {}
    for r in rows:
        first_event.setdefault(r["distinct_id"], r)
    for r in identifies:
        anon = r["properties"]["$anon_distinct_id"]
        assert anon.startswith("anon-") and r["distinct_id"].startswith("user-")
        assert first_event[anon]["timestamp"] < r["timestamp"]  # anonymous activity came first
        person = r["$set"]
        assert person["email"].endswith(("@example.com", "@example.org"))
        expected = {"name", "gender", "birth_year", "age", "country", "city", "device_type", "plan"}
        assert expected <= set(person)
        assert {"signup_date", "$initial_utm_source"} <= set(r["$set_once"])
    anons = {r["distinct_id"] for r in rows if r["distinct_id"].startswith("anon-")}
    never = anons - {r["properties"]["$anon_distinct_id"] for r in identifies}
    assert 0.03 < len(never) / len(anons) < 0.25  # some visitors never sign up


def test_landing_pageviews_carry_channel(rows: list[dict]) -> None:
    landings = [r for r in rows if r["$set_once"] is not None and r["event"] == "$pageview"]
    assert len(landings) == SMALL.persons  # one landing per person, the first event of the anonymous id
    channels = {ch.name for ch in catalog.CHANNELS}
    for r in landings:
        props = r["properties"]
        assert props["utm_source"] in channels and props["utm_medium"] and props["utm_campaign"]
        assert props["$referrer"]
        assert r["distinct_id"].startswith("anon-")
    assert {r["properties"]["utm_source"] for r in landings} == channels
    referred = [r for r in landings if "ref" in r["properties"]]
    assert referred and all(r["properties"]["utm_source"] == "referral" for r in referred)


def test_funnels_decrease(demo: DemoData) -> None:
    counts = demo.event_counts()
    assert counts["sign_up_started"] > counts["signed_up"] > counts["onboarding_completed"] > 0
    assert counts["signed_up"] == counts["$identify"] == demo.n_signed_up
    steps = [counts[e] for e in ("view_item", "add_to_cart", "checkout_started", "purchase")]
    assert steps == sorted(steps, reverse=True) and len(set(steps)) == 4 and steps[-1] > 0
    assert counts["content_viewed"] > counts["content_liked"] > 0
    assert counts["content_shared"] > 0 and counts["comment_posted"] > 0 and counts["upgraded_plan"] > 0


def test_purchases(rows: list[dict]) -> None:
    purchases = [r["properties"] for r in rows if r["event"] == "purchase"]
    assert purchases
    assert all(p["revenue"] > 0 and p["items"] >= 1 and p["currency"] == "USD" for p in purchases)
    assert all(p["category"] and p["payment_method"] for p in purchases)
    assert len({p["order_id"] for p in purchases}) == len(purchases)
    assert all(not r["distinct_id"].startswith("anon-") for r in rows if r["event"] == "purchase")


def test_upgrades_set_plan(rows: list[dict]) -> None:
    upgrades = [r for r in rows if r["event"] == "upgraded_plan"]
    assert upgrades and all(r["$set"]["plan"] == "pro" for r in upgrades)


def test_channel_costs_cover_paid_channels(demo: DemoData) -> None:
    paid = {ch.name for ch in catalog.CHANNELS if ch.cac is not None}
    by_channel = defaultdict(list)
    for cost in demo.channel_costs:
        by_channel[cost.channel].append(cost)
        assert cost.spend > 0 and cost.currency == "USD"
    assert set(by_channel) == paid
    days = {END - dt.timedelta(days=i) for i in range(SMALL.days)}
    for costs in by_channel.values():
        assert {c.date for c in costs} == days


def test_resurrection_exists(rows: list[dict]) -> None:
    person = _person_of(rows)
    active: dict[str, set[dt.date]] = defaultdict(set)
    for r in rows:
        active[person[r["distinct_id"]]].add(r["timestamp"].date())
    gaps = [
        max((b - a).days for a, b in zip(sorted(d), sorted(d)[1:], strict=False)) for d in active.values() if len(d) > 1
    ]
    assert any(g > 14 for g in gaps)  # >= 14 whole inactive days, then active again
    opens = [r for r in rows if r["event"] in ("push_opened", "email_opened")]
    assert opens and all(r["properties"]["campaign"] for r in opens)


@pytest.mark.slow
def test_default_spec_volume(record_property: pytest.RecordProperty) -> None:
    start = time.perf_counter()
    data = generate_demo(DemoSpec(end_date=END))
    n_rows = 0
    anons: set[str] = set()
    for batch in data.event_batches():
        n_rows += batch.num_rows
        assert 100_000 <= batch.num_rows <= 200_000
        anons.update(pc.unique(batch.column("distinct_id")).to_pylist())
    seconds = time.perf_counter() - start
    record_property("generate_seconds", round(seconds, 2))
    print(f"default demo: {n_rows} events, {data.n_persons} persons in {seconds:.1f}s")
    assert n_rows == data.n_events >= 1_000_000
    assert data.n_persons >= 20_000
    assert len({a for a in anons if a.startswith("anon-")}) == data.n_persons
