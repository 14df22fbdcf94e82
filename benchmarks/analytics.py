"""Analytics benchmark: every query kind at 1M and 10M events, on DuckDB and on ClickHouse (chdb).

    python benchmarks/analytics.py                              # 1M and 10M rows, both engines, every kind
    python benchmarks/analytics.py --rows 1000000 --engines duckdb --kinds trends,retention

For each engine and size, synthetic events (200 persons per 10,000 events, 120 days, a product's event mix,
5% of persons with an anonymous id merged into them) are written into a fresh store. Each kind
(`benchmarks/kinds/<kind>.py`) is then timed three ways, each the median of `--repeats` runs:

- opsloop: the query object run by the analytics engine (`run_analysis`), identity merges resolved;
- hand-written: one SQL statement per engine computing the same numbers, over a view `resolved_events` that
  resolves merges by joining every event to the distinct-id map (opsloop resolves per-person rows through
  `person_overrides` instead where the kind allows it, see docs/metrics.md "Persons and identity");
- pandas: a straightforward pandas implementation over the same events in memory (loading them is not timed;
  resolving identity merges is, as opsloop and the hand-written SQL pay for it too).

It prints the ratios opsloop / hand-written (target <= 1.5) and pandas / opsloop (target >= 10) and the time
(target < 3 s at 10M), and the process's peak RSS while querying (before pandas loads the events), with how
much of it the queries themselves added above the generated events the process holds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
KIND_NAMES = [
    "trends",
    "active_users",
    "stickiness",
    "retention",
    "funnel",
    "paths",
    "lifecycle",
    "distribution",
    "growth",
]
START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
DAYS = 120
#: Event mix: name, share of events, properties variants.
EVENTS = [
    ("pageview", 0.50),
    ("click", 0.15),
    ("search", 0.10),
    ("view_item", 0.10),
    ("add_to_cart", 0.05),
    ("signup", 0.03),
    ("purchase", 0.03),
    ("share", 0.02),
    ("login", 0.015),
    ("logout", 0.005),
]
BROWSERS = ["Chrome", "Safari", "Firefox", "Edge", "Opera"]
COUNTRIES = ["CN", "ES", "US", "MX", "DE", "FR", "BR", "IN"]


def peak_rss_mib() -> float:
    """This process's peak resident set size since the last `reset_peak_rss()` (or since it started)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mib() -> float:
    """This process's resident set size now."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_rss() -> None:
    """Start a new peak-RSS measurement (Linux: writing 5 to clear_refs resets VmHWM to the current RSS)."""
    clear = Path("/proc/self/clear_refs")
    if clear.exists():
        clear.write_text("5")


def generate(rows: int, seed: int = 7) -> tuple[pa.Table, pa.Table]:
    """Events (time-ordered, as ingestion appends them) and the distinct-id map, from a fixed seed."""
    from opsloop.store.schema import DISTINCT_IDS_SCHEMA, EVENTS_SCHEMA

    rng = np.random.default_rng(seed)
    persons = max(rows // 50, 10)
    person_ids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(persons)]
    # Each person is active in a window of the 120 days; events fall inside it (so retention decays).
    first = rng.integers(0, DAYS * 86_400, persons)
    span = rng.exponential(20 * 86_400, persons).astype(np.int64)
    who = rng.zipf(1.3, rows) % persons
    offset = (rng.random(rows) * np.minimum(span[who], DAYS * 86_400 - first[who])).astype(np.int64)
    seconds = first[who] + offset
    order = np.argsort(seconds, kind="stable")
    who, seconds = who[order], seconds[order]
    names = np.array([n for n, _ in EVENTS])
    kinds = rng.choice(len(EVENTS), rows, p=[p for _, p in EVENTS])
    variants = [json.dumps({"browser": b, "country": c}) for b in BROWSERS for c in COUNTRIES]
    amounts = [json.dumps({"amount": a, "browser": "Chrome"}) for a in range(5, 500, 5)]
    dictionary = pa.array(variants + amounts)
    prop_index = np.where(
        names[kinds] == "purchase",
        len(variants) + rng.integers(0, len(amounts), rows),
        rng.integers(0, len(variants), rows),
    ).astype(np.int32)
    properties = pa.DictionaryArray.from_arrays(pa.array(prop_index), dictionary).cast(pa.string())
    # 5% of persons also used an anonymous id before identifying; their first events carry it.
    merged = rng.random(persons) < 0.05
    anon = np.array([f"anon-{n}" for n in range(persons)])
    ident = np.array([f"user-{n}" for n in range(persons)])
    early = offset[order] < 3600
    distinct = np.where(merged[who] & early, anon[who], ident[who])
    person_text = np.array(person_ids)
    # An anonymous id's events carry the anonymous person id it had before the merge.
    anon_person = np.array([anon_person_id(n) for n in range(persons)])
    stored_person = np.where(merged[who] & early, anon_person[who], person_text[who])
    timestamps = pa.array((START.timestamp() + seconds) * 1_000_000, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    uuids = pa.array([f"{n:08x}-0000-4000-8000-000000000000" for n in range(rows)])
    events = pa.table(
        {
            "uuid": uuids,
            "project_id": pa.array(np.ones(rows, dtype=np.int64)),
            "event": pa.array(names[kinds]),
            "distinct_id": pa.array(distinct),
            "person_id": pa.array(stored_person),
            "timestamp": timestamps,
            "properties": properties,
            "session_id": pa.nulls(rows, pa.string()),
            "inserted_at": timestamps,
        },
        schema=EVENTS_SCHEMA,
    )
    ids = [
        {"project_id": 1, "distinct_id": ident[n], "person_id": person_ids[n], "is_deleted": False, "version": 1}
        for n in range(persons)
    ] + [
        {"project_id": 1, "distinct_id": anon[n], "person_id": person_ids[n], "is_deleted": False, "version": 2}
        for n in np.flatnonzero(merged)
    ]
    return events, pa.Table.from_pylist(ids, schema=DISTINCT_IDS_SCHEMA)


def anon_person_id(n: int) -> str:
    """The person an anonymous id `anon-n` had before it was merged into `user-n`'s."""
    return f"00000000-0000-4000-9000-{n:012d}"


def load(url: str, events: pa.Table, distinct_ids: pa.Table) -> Any:
    """A fresh store holding the events, with the `resolved_events` view for the hand-written SQL."""
    import pyarrow.compute as pc

    from opsloop.config import Settings
    from opsloop.store.events import open_event_store
    from opsloop.store.schema import OVERRIDES_SCHEMA

    # The product's own memory limit (OPSLOOP_DUCKDB_MEMORY_LIMIT), so the figures are what users get.
    store = open_event_store(url, memory_limit=Settings().duckdb_memory_limit)
    for batch in events.to_batches(max_chunksize=1_000_000):
        store.append_events(pa.Table.from_batches([batch]))
    store.upsert_distinct_ids(distinct_ids)
    # Each anonymous person was merged into the person of the id it identified as (as identity records it).
    anon = distinct_ids.filter(pc.starts_with(distinct_ids.column("distinct_id"), "anon-"))
    numbers = [int(did.removeprefix("anon-")) for did in anon.column("distinct_id").to_pylist()]
    store.record_merges(
        pa.table(
            {
                "project_id": anon.column("project_id"),
                "old_person_id": [anon_person_id(n) for n in numbers],
                "person_id": anon.column("person_id"),
                "version": anon.column("version"),
            },
            schema=OVERRIDES_SCHEMA,
        )
    )
    final = " FINAL" if store.dialect.replicas_need_final else ""
    view = f"""
        CREATE VIEW resolved_events AS
        SELECT e.uuid AS uuid, e.project_id AS project_id, e.event AS event, e.distinct_id AS distinct_id,
               coalesce(pdi.person_id, e.person_id) AS person_id, e.timestamp AS timestamp,
               e.properties AS properties
        FROM events AS e
        LEFT JOIN (SELECT distinct_id, person_id FROM person_distinct_ids{final}
                   WHERE project_id = 1 AND NOT is_deleted) AS pdi ON pdi.distinct_id = e.distinct_id
    """
    # Derived tables caught up, as a running server's flusher keeps them (DuckDB's hourly rollup).
    while store.maintain(now=True):
        pass
    # Benchmark-only DDL through the store's own connection (the store API has no DDL for views).
    if store.dialect.name == "duckdb":
        store._con.execute(view)
    else:
        store._query_arrow(view, {})
        # Settle the parts the inserts left, as a store that has been running a while has them: otherwise
        # background merges run during the first kinds' timings and slow whichever side runs first.
        for table in ("events", "event_hours", "person_distinct_ids", "person_overrides"):
            store._query_arrow(f"OPTIMIZE TABLE {table} FINAL", {})
    return store


def timed(fn: Any, repeats: int) -> tuple[float, Any]:
    """Median wall time of `repeats` calls, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def handwritten_sql(kind: Any, engine: str) -> str:
    """The kind's hand-written statement, reading the resolved view."""
    sql: str = kind.HANDWRITTEN[engine]
    return sql.replace("FROM events", "FROM resolved_events").replace("from events", "from resolved_events")


#: Runs of each pandas implementation (their median is the time compared).
PANDAS_REPEATS = 3


def run_engine(engine: str, rows: int, kinds: list[str], repeats: int, with_pandas: bool) -> list[dict[str, Any]]:
    """Time every kind on one engine and size."""
    from opsloop.analytics.runner import run_analysis
    from opsloop.analytics.timeframe import ProjectContext
    from opsloop.query.registry import ANALYSES, parse_query

    t0 = time.perf_counter()
    events, distinct_ids = generate(rows)
    folder = Path(tempfile.mkdtemp(prefix=f"bench-{engine}-"))
    url = f"duckdb://{folder / 'events.duckdb'}" if engine == "duckdb" else f"chdb://{folder / 'chdb'}"
    store = load(url, events, distinct_ids)
    print(f"[{engine} {rows:,}] generated and loaded in {time.perf_counter() - t0:.1f} s", flush=True)
    ctx = ProjectContext(1, "UTC", "monday", dt.date(2024, 4, 29))
    results: list[dict[str, Any]] = []
    # The generated events stay in this process for pandas: the queries' own memory is the peak above them.
    held = rss_mib()
    reset_peak_rss()
    for name in kinds:
        if name not in ANALYSES:
            print(f"  {name}: not available yet", flush=True)
            continue
        kind = importlib.import_module(f"benchmarks.kinds.{name}")
        model = parse_query(kind.QUERY)
        ours, _ = timed(lambda name=name, model=model: run_analysis(ANALYSES[name], store, ctx, model), repeats)
        hand_sql = handwritten_sql(kind, store.dialect.name)
        hand, _ = timed(lambda hand_sql=hand_sql: store.query_arrow(hand_sql), repeats)
        results.append({"kind": name, "engine": engine, "rows": rows, "opsloop": ours, "hand": hand})
        print(f"  {name}: opsloop {ours:.3f} s, hand-written {hand:.3f} s, ratio {ours / hand:.2f}", flush=True)
    rss = peak_rss_mib()
    print(
        f"  RSS after loading {held:.0f} MiB (the generated events are held for pandas); peak while querying "
        f"{rss:.0f} MiB (+{rss - held:.0f} MiB)",
        flush=True,
    )
    for r in results:
        r["peak_rss_mib"] = rss
        r["query_rss_mib"] = rss - held
    # pandas runs with the store closed, so that no engine thread competes with it.
    store.close()
    if with_pandas:
        frame = events.select(["distinct_id", "person_id", "event", "timestamp", "properties"]).to_pandas()
        ids = distinct_ids.select(["distinct_id", "person_id"]).to_pandas()
        for r in results:
            kind = importlib.import_module(f"benchmarks.kinds.{r['kind']}")
            # pandas resolves identity merges too, as opsloop does on every query. The median of a few runs:
            # one run of pandas moves by 20-30 % from one run to the next here.
            r["pandas"], _ = timed(lambda kind=kind: kind.pandas_impl(resolve_persons(frame, ids)), PANDAS_REPEATS)
            print(f"  {r['kind']}: pandas {r['pandas']:.3f} s", flush=True)
        del frame
    return results


def resolve_persons(frame: Any, distinct_ids: Any) -> Any:
    """Events with `person_id` replaced by the person each distinct id belongs to now (pandas)."""
    merged = frame.merge(distinct_ids, on="distinct_id", how="left", suffixes=("_stored", ""))
    merged["person_id"] = merged["person_id"].fillna(merged["person_id_stored"])
    return merged[["person_id", "event", "timestamp", "properties"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="1000000,10000000", help="comma-separated sizes")
    parser.add_argument("--engines", default="duckdb,chdb")
    parser.add_argument("--kinds", default=",".join(KIND_NAMES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-pandas", action="store_true", help="skip the pandas comparison")
    args = parser.parse_args()
    all_results = []
    for rows in [int(r) for r in args.rows.split(",")]:
        for engine in args.engines.split(","):
            all_results += run_engine(engine, rows, args.kinds.split(","), args.repeats, not args.no_pandas)
    print()
    print(
        f"{'kind':<14}{'engine':<8}{'rows':>12}{'opsloop s':>11}{'hand s':>9}{'ratio':>7}"
        f"{'pandas s':>10}{'x faster':>10}  targets"
    )
    for r in all_results:
        ratio = r["opsloop"] / r["hand"]
        faster = r.get("pandas", float("nan")) / r["opsloop"]
        ok = ratio <= 1.5 and (faster >= 10 or "pandas" not in r) and (r["opsloop"] < 3 or r["rows"] < 10_000_000)
        print(
            f"{r['kind']:<14}{r['engine']:<8}{r['rows']:>12,}{r['opsloop']:>11.3f}{r['hand']:>9.3f}{ratio:>7.2f}"
            f"{r.get('pandas', float('nan')):>10.2f}{faster:>10.1f}  {'met' if ok else 'NOT met'}"
        )
    print(
        f"peak RSS while querying (before pandas): {max(r['peak_rss_mib'] for r in all_results):.0f} MiB, of which "
        f"the queries' own at most {max(r['query_rss_mib'] for r in all_results):.0f} MiB"
    )


if __name__ == "__main__":
    main()
