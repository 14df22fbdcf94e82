"""Trends: daily pageviews and daily unique persons over the benchmark range."""

from __future__ import annotations

import pandas as pd

QUERY = {
    "kind": "trends",
    "date_from": "2024-01-01",
    "date_to": "2024-04-29",
    "series": [{"event": "pageview"}, {"event": "pageview", "math": "persons"}],
}

#: The same numbers in one statement per engine (UTC project: local days are UTC days): per day, and each
#: series' total over the range (the row whose day is NULL; unique persons over the range are not the sum).
HANDWRITTEN = {
    "duckdb": """
        SELECT CAST("timestamp" AS DATE) AS day, count(*) AS events, count(DISTINCT person_id) AS persons
        FROM events
        WHERE project_id = 1 AND event = 'pageview'
          AND "timestamp" >= TIMESTAMPTZ '2024-01-01 00:00:00+00' AND "timestamp" < TIMESTAMPTZ '2024-04-30 00:00:00+00'
        GROUP BY GROUPING SETS ((day), ()) ORDER BY day
    """,
    "clickhouse": """
        SELECT toDate(timestamp) AS day, count() AS events, uniqExact(person_id) AS persons
        FROM events
        WHERE project_id = 1 AND event = 'pageview'
          AND timestamp >= toDateTime64('2024-01-01 00:00:00', 6, 'UTC')
          AND timestamp < toDateTime64('2024-04-30 00:00:00', 6, 'UTC')
        GROUP BY GROUPING SETS ((day), ()) ORDER BY day
    """,
}


def pandas_impl(df: pd.DataFrame) -> object:
    """Daily pageviews and unique persons with pandas."""
    start, end = pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-04-30", tz="UTC")
    rows = df[(df["event"] == "pageview") & (df["timestamp"] >= start) & (df["timestamp"] < end)]
    day = rows["timestamp"].dt.floor("D")
    daily = rows.groupby(day).agg(events=("event", "size"), persons=("person_id", "nunique"))
    return daily, (len(rows), rows["person_id"].nunique())
