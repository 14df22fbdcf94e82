"""Segments benchmark: a 3-condition behavioural segment and the RFM grid, on DuckDB and ClickHouse (chdb).

    python benchmarks/segments.py                               # 10M events, 200k persons, both engines
    python benchmarks/segments.py --rows 200000 --engines duckdb

The events are the analytics benchmark's (`benchmarks/analytics.py`: 200 persons per 10,000 events, 120 days
from 2024-01-01, 5% of persons with a merged anonymous id), plus one persons-replica row per person (the
anonymous persons merged away). "Today" is 2024-04-29. Each is timed as the median of `--repeats` runs:

- segment: purchased at least twice in the last 30 days AND viewed pages at least 5 times in the last 90
  days AND did not log out in the last 14 days, counted (opsloop: the compiled definition; hand-written: one
  statement over the `resolved_events` view, which resolves merges the same way);
- RFM: the 5 x 5 R x F grid of buyers and revenue over a 90-day look-back.

It checks that both sides agree, and prints the ratios opsloop / hand-written (target <= 1.5) and the peak RSS.
With `--user-ops` it also times (no hand-written baseline) a quantile rule tag over 90-day revenue, the
lifecycle stage counts as of today, a trends query filtered by that tag (its values travel as parameter
lists), and the portrait of the segment by plan and lifecycle stage.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.analytics import generate, load, peak_rss_mib, timed  # noqa: E402

TODAY = dt.date(2024, 4, 29)
SEGMENT = {
    "operator": "and",
    "conditions": [
        {"type": "event", "event": "purchase", "count_op": "gte", "count": 2, "within_days": 30},
        {"type": "event", "event": "pageview", "count_op": "gte", "count": 5, "within_days": 90},
        {"type": "event", "event": "logout", "did": False, "within_days": 14},
    ],
}
RFM = {"value_event": "purchase", "amount_property": "amount", "lookback_days": 90}

# Windows end at 2024-04-30 00:00 UTC (the end of "today"); 30, 90 and 14 days back.
_SEGMENT_DUCKDB = """
SELECT count(*) AS n FROM (SELECT id FROM persons WHERE project_id = 1 AND NOT is_deleted) AS p
LEFT JOIN (
    SELECT person_id,
           count(*) FILTER (WHERE event = 'purchase' AND "timestamp" >= TIMESTAMPTZ '2024-03-31 00:00:00+00') AS n0,
           count(*) FILTER (WHERE event = 'pageview') AS n1,
           count(*) FILTER (WHERE event = 'logout' AND "timestamp" >= TIMESTAMPTZ '2024-04-16 00:00:00+00') AS n2
    FROM resolved_events
    WHERE project_id = 1 AND event IN ('purchase', 'pageview', 'logout')
      AND "timestamp" >= TIMESTAMPTZ '2024-01-31 00:00:00+00' AND "timestamp" < TIMESTAMPTZ '2024-04-30 00:00:00+00'
    GROUP BY person_id
) AS b ON b.person_id = p.id
WHERE coalesce(n0, 0) >= 2 AND coalesce(n1, 0) >= 5 AND coalesce(n2, 0) = 0
"""
_SEGMENT_CLICKHOUSE = """
SELECT count() AS n FROM (SELECT id FROM persons FINAL WHERE project_id = 1 AND NOT is_deleted) AS p
LEFT JOIN (
    SELECT person_id,
           countIf(event = 'purchase' AND timestamp >= toDateTime64('2024-03-31 00:00:00', 6, 'UTC')) AS n0,
           countIf(event = 'pageview') AS n1,
           countIf(event = 'logout' AND timestamp >= toDateTime64('2024-04-16 00:00:00', 6, 'UTC')) AS n2
    FROM resolved_events
    WHERE project_id = 1 AND event IN ('purchase', 'pageview', 'logout')
      AND timestamp >= toDateTime64('2024-01-31 00:00:00', 6, 'UTC')
      AND timestamp < toDateTime64('2024-04-30 00:00:00', 6, 'UTC')
    GROUP BY person_id
) AS b ON b.person_id = p.id
WHERE coalesce(n0, 0) >= 2 AND coalesce(n1, 0) >= 5 AND coalesce(n2, 0) = 0
"""
_RFM = """
WITH b AS (
    SELECT person_id, max("timestamp") AS lt, count(*) AS fq, coalesce(sum({amount}), 0) AS mv
    FROM resolved_events
    WHERE project_id = 1 AND event = 'purchase'
      AND "timestamp" >= {start} AND "timestamp" < {end}
    GROUP BY person_id
), s AS (
    SELECT mv, {r} + 1 AS r, {f} + 1 AS f, {m} + 1 AS m
    FROM b
)
SELECT r, f, count(*) AS persons, sum(mv) AS revenue, avg(m) AS mean_m FROM s GROUP BY r, f ORDER BY r, f
"""
_PLACES = {
    "r": "rank() OVER (ORDER BY lt)",
    "f": "row_number() OVER (ORDER BY fq, lt, {text})",
    "m": "rank() OVER (ORDER BY mv)",
}
_SCALED = "({place} - 1) * 5"
HANDWRITTEN = {
    "duckdb": {
        "segment": _SEGMENT_DUCKDB,
        "rfm": _RFM.format(
            amount="TRY_CAST(json_extract_string(properties, '$.amount') AS DOUBLE)",
            start="TIMESTAMPTZ '2024-01-31 00:00:00+00'",
            end="TIMESTAMPTZ '2024-04-30 00:00:00+00'",
            **{
                k: f"({_SCALED.format(place=v.format(text='CAST(person_id AS VARCHAR)'))}) // count(*) OVER ()"
                for k, v in _PLACES.items()
            },
        ),
    },
    "clickhouse": {
        "segment": _SEGMENT_CLICKHOUSE,
        "rfm": _RFM.format(
            amount="toFloat64OrNull(JSONExtract(properties, 'amount', 'Nullable(String)'))",
            start="toDateTime64('2024-01-31 00:00:00', 6, 'UTC')",
            end="toDateTime64('2024-04-30 00:00:00', 6, 'UTC')",
            **{
                k: f"intDiv({_SCALED.format(place=v.format(text='toString(person_id)'))}, count() OVER ())"
                for k, v in _PLACES.items()
            },
        ),
    },
}


def persons_replica(distinct_ids: pa.Table) -> pa.Table:
    """One live person per person id of the distinct-id map (merged anonymous persons are deleted)."""
    from opsloop.store.schema import PERSONS_SCHEMA

    live = sorted(set(distinct_ids.column("person_id").to_pylist()))
    merged = sorted({f"00000000-0000-4000-9000-{p[-12:]}" for p in live})
    ids = live + merged
    created = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    plans = np.array([json.dumps({"plan": p}) for p in ("free", "pro", "team")])
    return pa.table(
        {
            "project_id": pa.array(np.ones(len(ids), dtype=np.int64)),
            "id": pa.array(ids),
            "created_at": pa.array([created] * len(ids), pa.timestamp("us", tz="UTC")),
            "properties": pa.array(plans[np.arange(len(ids)) % 3]),
            "is_identified": pa.array(np.ones(len(ids), dtype=bool)),
            "is_deleted": pa.array([False] * len(live) + [True] * len(merged)),
            "version": pa.array(np.ones(len(ids), dtype=np.int64)),
        },
        schema=PERSONS_SCHEMA,
    )


def user_ops_timings(store: Any, ctx: Any, repeats: int) -> None:
    """Print timings of rule tags, lifecycle counts, a tag-filtered trend and a portrait (no baseline)."""
    import dataclasses

    from opsloop.analytics.builder import QueryBuilder
    from opsloop.analytics.runner import Fetch, run_analysis
    from opsloop.query.registry import ANALYSES, parse_query
    from opsloop.users.definitions import Group
    from opsloop.users.lifecycle import LifecycleThresholds, stage_counts
    from opsloop.users.portrait import Dimension, portrait
    from opsloop.users.segment_library import SegmentLibrary
    from opsloop.users.segment_sql import definition_members
    from opsloop.users.tag_rules import TagRule, rule_values

    rule = TagRule(event="purchase", aggregate="sum", property="amount", quantiles=["low", "mid", "high"])

    def tag() -> dict[str, str]:
        builder = QueryBuilder(store.dialect, ctx)
        return {
            str(r["person_id"]): str(r["value"]) for r in Fetch(store, builder, None).rows(rule_values(rule, builder))
        }

    took, values = timed(tag, repeats)
    print(f"  rule tag (3 quantiles of 90-day revenue): {took:.3f} s ({len(values):,} persons)", flush=True)
    took, points = timed(lambda: stage_counts(LifecycleThresholds(), ctx, store, TODAY, TODAY), repeats)
    print(f"  lifecycle stage counts (one day): {took:.3f} s ({points[0].counts})", flush=True)
    tagged = dataclasses.replace(ctx, segments=SegmentLibrary.of({}, {"tier": values}))
    query = parse_query({"kind": "trends", "date_from": "2024-04-01", "date_to": str(TODAY),
                         "series": [{"event": "pageview"}], "filters": [{"type": "tag", "property": "tier",
                                                                           "op": "eq", "value": "high"}]})  # fmt: skip
    analysis = ANALYSES[query.kind]  # type: ignore[attr-defined]
    took, _ = timed(lambda: run_analysis(analysis, store, tagged, query, timeout=None), repeats)
    print(f"  trends filtered by a tag: {took:.3f} s", flush=True)
    dims = [Dimension(type="person", property="plan"), Dimension(type="lifecycle_stage")]

    def picture() -> int:
        builder = QueryBuilder(store.dialect, ctx)
        members = definition_members(Group.model_validate(SEGMENT), builder)
        return portrait(members, dims, builder, Fetch(store, builder, None)).segment_size

    took, size = timed(picture, repeats)
    print(f"  portrait of the segment (plan, lifecycle stage, top events): {took:.3f} s ({size:,} members)", flush=True)


def run_engine(engine: str, rows: int, repeats: int, user_ops: bool = False) -> list[dict[str, Any]]:
    """Time the segment and RFM on one engine."""
    from opsloop.analytics.builder import QueryBuilder
    from opsloop.analytics.runner import Fetch
    from opsloop.analytics.timeframe import ProjectContext
    from opsloop.users.definitions import Group
    from opsloop.users.rfm import RfmQuery, run_rfm
    from opsloop.users.segment_sql import count_members, definition_members

    t0 = time.perf_counter()
    events, distinct_ids = generate(rows)
    folder = Path(tempfile.mkdtemp(prefix=f"bench-segments-{engine}-"))
    url = f"duckdb://{folder / 'events.duckdb'}" if engine == "duckdb" else f"chdb://{folder / 'chdb'}"
    store = load(url, events, distinct_ids)
    store.upsert_persons(persons_replica(distinct_ids))
    print(f"[{engine} {rows:,}] generated and loaded in {time.perf_counter() - t0:.1f} s", flush=True)
    ctx = ProjectContext(1, "UTC", "monday", TODAY)
    definition = Group.model_validate(SEGMENT)

    def segment() -> int:
        builder = QueryBuilder(store.dialect, ctx)
        return int(Fetch(store, builder, None).rows(count_members(definition_members(definition, builder)))[0]["n"])

    hand_sql = HANDWRITTEN[store.dialect.name]
    results = []
    ours, ours_n = timed(segment, repeats)
    hand, hand_rows = timed(lambda: store.query_arrow(hand_sql["segment"]).to_pylist(), repeats)
    assert ours_n == int(hand_rows[0]["n"]), (ours_n, hand_rows)
    results.append({"what": "segment", "engine": engine, "rows": rows, "opsloop": ours, "hand": hand, "n": ours_n})
    query = RfmQuery.model_validate(RFM)
    ours, grid = timed(lambda: run_rfm(store, ctx, query), repeats)
    hand, hand_rows = timed(lambda: store.query_arrow(hand_sql["rfm"]).to_pylist(), repeats)
    expected = {(int(r["r"]), int(r["f"])): int(r["persons"]) for r in hand_rows}
    assert {(c.r, c.f): c.persons for c in grid.cells if c.persons} == expected
    results.append({"what": "rfm", "engine": engine, "rows": rows, "opsloop": ours, "hand": hand, "n": grid.persons})
    for r in results:
        print(f"  {r['what']}: opsloop {r['opsloop']:.3f} s, hand-written {r['hand']:.3f} s, "
              f"ratio {r['opsloop'] / r['hand']:.2f} ({r['n']:,} persons)", flush=True)  # fmt: skip
        r["peak_rss_mib"] = peak_rss_mib()
    if user_ops:
        user_ops_timings(store, ctx, repeats)
        results[-1]["peak_rss_mib"] = peak_rss_mib()
    store.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--engines", default="duckdb,chdb")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--user-ops", action="store_true", help="also time tags, lifecycle and portraits")
    args = parser.parse_args()
    results = []
    for engine in args.engines.split(","):
        results += run_engine(engine, args.rows, args.repeats, args.user_ops)
    print(f"\n{'what':<10}{'engine':<8}{'rows':>12}{'opsloop s':>11}{'hand s':>9}{'ratio':>7}  target")
    for r in results:
        ratio = r["opsloop"] / r["hand"]
        print(
            f"{r['what']:<10}{r['engine']:<8}{r['rows']:>12,}{r['opsloop']:>11.3f}{r['hand']:>9.3f}{ratio:>7.2f}"
            f"  {'met' if ratio <= 1.5 else 'NOT met'}"
        )
    print(f"peak RSS: {max(r['peak_rss_mib'] for r in results):.0f} MiB")


if __name__ == "__main__":
    main()
