"""Stickiness: persons by number of days with a pageview in each week of the benchmark range."""

from __future__ import annotations

import pandas as pd

QUERY = {
    "kind": "stickiness",
    "event": "pageview",
    "interval": "day",
    "period": "week",
    "date_from": "2024-01-01",
    "date_to": "2024-04-29",
}

#: The same numbers in one statement per engine (UTC project; the range starts on a Monday, so every week
#: lies inside it but the last, which is cut to its first day): persons per (week, number of active days).
HANDWRITTEN = {
    "duckdb": """
        SELECT week, days, count(*) AS persons
        FROM (
            SELECT CAST(date_trunc('week', "timestamp") AS DATE) AS week, person_id,
                   count(DISTINCT CAST("timestamp" AS DATE)) AS days
            FROM events
            WHERE project_id = 1 AND event = 'pageview'
              AND "timestamp" >= TIMESTAMPTZ '2024-01-01 00:00:00+00'
              AND "timestamp" < TIMESTAMPTZ '2024-04-30 00:00:00+00'
            GROUP BY ALL
        )
        GROUP BY ALL ORDER BY ALL
    """,
    "clickhouse": """
        SELECT week, days, count() AS persons
        FROM (
            SELECT toStartOfWeek(timestamp, 1) AS week, person_id, uniqExact(toDate(timestamp)) AS days
            FROM events
            WHERE project_id = 1 AND event = 'pageview'
              AND timestamp >= toDateTime64('2024-01-01 00:00:00', 6, 'UTC')
              AND timestamp < toDateTime64('2024-04-30 00:00:00', 6, 'UTC')
            GROUP BY week, person_id
        )
        GROUP BY week, days ORDER BY week, days
    """,
}


def pandas_impl(df: pd.DataFrame) -> object:
    """Persons per (week, active days) with pandas."""
    start, end = pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-04-30", tz="UTC")
    rows = df[(df["event"] == "pageview") & (df["timestamp"] >= start) & (df["timestamp"] < end)]
    day = rows["timestamp"].dt.floor("D")
    week = day - pd.to_timedelta(day.dt.weekday, unit="D")
    days = pd.DataFrame({"week": week, "person_id": rows["person_id"], "day": day}).groupby(["week", "person_id"])
    per_person = days["day"].nunique().rename("days").reset_index()
    return per_person.groupby(["week", "days"]).size().rename("persons").reset_index()
