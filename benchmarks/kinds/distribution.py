"""Distribution: persons by number of pageviews per week (default buckets), and by active days in the range."""

from __future__ import annotations

import numpy as np
import pandas as pd

QUERY = {
    "kind": "distribution",
    "event": "pageview",
    "per": "week",
    "date_from": "2024-01-01",
    "date_to": "2024-04-29",
}

#: The same numbers in one statement per engine (UTC project; the range starts on a Monday): rows
#: `(what, week, k, persons)`: `what` 'times' with `k` the bucket index of a person's pageviews in the week
#: (default buckets 1, 2, 3, 4, 5, 6-10, 11-20, 21-50, 51-100, 101+), `what` 'days' with `k` the number of
#: distinct days with a pageview in the range.
HANDWRITTEN = {
    "duckdb": """
        WITH per_day AS (
            SELECT person_id, CAST("timestamp" AS DATE) AS day, count(*) AS times
            FROM events
            WHERE project_id = 1 AND event = 'pageview'
              AND "timestamp" >= TIMESTAMPTZ '2024-01-01 00:00:00+00'
              AND "timestamp" < TIMESTAMPTZ '2024-04-30 00:00:00+00'
            GROUP BY ALL
        )
        SELECT 'times' AS what, week,
               CASE WHEN n >= 101 THEN 9 WHEN n >= 51 THEN 8 WHEN n >= 21 THEN 7 WHEN n >= 11 THEN 6
                    WHEN n >= 6 THEN 5 ELSE n - 1 END AS k,
               count(*) AS persons
        FROM (
            SELECT person_id, CAST(date_trunc('week', day) AS DATE) AS week, sum(times) AS n
            FROM per_day GROUP BY ALL
        )
        GROUP BY ALL
        UNION ALL
        SELECT 'days', NULL, days, count(*)
        FROM (SELECT person_id, count(*) AS days FROM per_day GROUP BY ALL)
        GROUP BY ALL
    """,
    "clickhouse": """
        WITH per_day AS (
            SELECT person_id, toDate(timestamp) AS day, count() AS times
            FROM events
            WHERE project_id = 1 AND event = 'pageview'
              AND timestamp >= toDateTime64('2024-01-01 00:00:00', 6, 'UTC')
              AND timestamp < toDateTime64('2024-04-30 00:00:00', 6, 'UTC')
            GROUP BY person_id, day
        )
        SELECT 'times' AS what, week, multiIf(n >= 101, 9, n >= 51, 8, n >= 21, 7, n >= 11, 6, n >= 6, 5, n - 1) AS k,
               count() AS persons
        FROM (SELECT person_id, toStartOfWeek(day, 1) AS week, sum(times) AS n FROM per_day GROUP BY person_id, week)
        GROUP BY week, k
        UNION ALL
        SELECT 'days', NULL, days, count()
        FROM (SELECT person_id, count() AS days FROM per_day GROUP BY person_id)
        GROUP BY days
    """,
}

EDGES = np.array([1, 2, 3, 4, 5, 6, 11, 21, 51, 101])


def pandas_impl(df: pd.DataFrame) -> object:
    """Persons per (week, bucket of pageviews) and per number of active days, with pandas."""
    start, end = pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-04-30", tz="UTC")
    rows = df[(df["event"] == "pageview") & (df["timestamp"] >= start) & (df["timestamp"] < end)]
    day = rows["timestamp"].dt.floor("D")
    week = day - pd.to_timedelta(day.dt.weekday, unit="D")
    times = pd.DataFrame({"person_id": rows["person_id"], "week": week}).groupby(["week", "person_id"]).size()
    bucket = np.searchsorted(EDGES, times.to_numpy(), side="right") - 1
    frequency = pd.DataFrame({"week": times.index.get_level_values("week"), "bucket": bucket})
    frequency = frequency.groupby(["week", "bucket"]).size()
    days = pd.DataFrame({"person_id": rows["person_id"], "day": day}).groupby("person_id")["day"].nunique()
    return frequency, days.value_counts().sort_index()
