"""Lifecycle: daily new / returning / resurrecting / dormant persons by pageviews over the benchmark range."""

from __future__ import annotations

import pandas as pd

QUERY = {
    "kind": "lifecycle",
    "event": "pageview",
    "interval": "day",
    "date_from": "2024-01-01",
    "date_to": "2024-04-29",
}

#: The same numbers in one statement per engine (UTC project: local days are UTC days). Every pageview
#: before the end of the range is history (for "new"); the day before the range classifies its first day.
HANDWRITTEN = {
    "duckdb": """
        WITH pairs AS (
            SELECT DISTINCT person_id, CAST("timestamp" AS DATE) AS d
            FROM events
            WHERE project_id = 1 AND event = 'pageview' AND "timestamp" < TIMESTAMPTZ '2024-04-30 00:00:00+00'
        ), seq AS (
            SELECT d, lag(d) OVER (PARTITION BY person_id ORDER BY d) AS prev FROM pairs
        ), per_day AS (
            SELECT d, count(*) AS active, count(*) FILTER (WHERE prev IS NULL) AS new,
                   count(*) FILTER (WHERE prev = d - 1) AS ret
            FROM seq WHERE d >= DATE '2023-12-31' GROUP BY d
        ), days AS (
            SELECT CAST(range AS DATE) AS d FROM range(DATE '2024-01-01', DATE '2024-04-30', INTERVAL 1 DAY)
        )
        SELECT days.d, coalesce(c.new, 0) AS new, coalesce(c.ret, 0) AS returning,
               coalesce(c.active - c.new - c.ret, 0) AS resurrecting,
               coalesce(p.active, 0) - coalesce(c.ret, 0) AS dormant
        FROM days
        LEFT JOIN per_day AS c ON c.d = days.d
        LEFT JOIN per_day AS p ON p.d = days.d - 1
        ORDER BY days.d
    """,
    "clickhouse": """
        SELECT toDate('1970-01-01') + item.1 AS day, countIf(item.2 = 1) AS new, countIf(item.2 = 2) AS returning,
               countIf(item.2 = 3) AS resurrecting, countIf(item.2 = 4) AS dormant
        FROM (
            SELECT arraySort(groupUniqArray(toRelativeDayNum(toDate(timestamp, 'UTC')))) AS ds
            FROM events
            WHERE project_id = 1 AND event = 'pageview'
              AND timestamp < toDateTime64('2024-04-30 00:00:00', 6, 'UTC')
            GROUP BY person_id
        )
        ARRAY JOIN arrayConcat(
            arrayMap((d, i) -> (d, if(i = 1, 1, if(ds[i - 1] = d - 1, 2, 3))), ds, arrayEnumerate(ds)),
            arrayMap(
                d -> (d + 1, 4),
                arrayFilter((d, i) -> i = length(ds) OR ds[i + 1] != d + 1, ds, arrayEnumerate(ds))
            )
        ) AS item
        WHERE day BETWEEN toDate('2024-01-01') AND toDate('2024-04-29')
        GROUP BY day
        ORDER BY day WITH FILL FROM toDate('2024-01-01') TO toDate('2024-04-30')
    """,
}


def pandas_impl(df: pd.DataFrame) -> object:
    """Daily lifecycle counts with pandas."""
    end = pd.Timestamp("2024-04-30", tz="UTC")
    rows = df[(df["event"] == "pageview") & (df["timestamp"] < end)]
    pairs = pd.DataFrame({"person_id": rows["person_id"], "d": rows["timestamp"].dt.floor("D")}).drop_duplicates()
    pairs = pairs.sort_values(["person_id", "d"])
    pairs["prev"] = pairs.groupby("person_id")["d"].shift()
    pairs["new"] = pairs["prev"].isna()
    pairs["ret"] = pairs["prev"] == pairs["d"] - pd.Timedelta(days=1)
    per_day = pairs.groupby("d").agg(active=("person_id", "size"), new=("new", "sum"), ret=("ret", "sum"))
    days = pd.date_range("2024-01-01", "2024-04-29", freq="D", tz="UTC")
    current = per_day.reindex(days, fill_value=0)
    previous = per_day.reindex(days - pd.Timedelta(days=1), fill_value=0)
    return pd.DataFrame(
        {
            "new": current["new"].to_numpy(),
            "returning": current["ret"].to_numpy(),
            "resurrecting": (current["active"] - current["new"] - current["ret"]).to_numpy(),
            "dormant": previous["active"].to_numpy() - current["ret"].to_numpy(),
        },
        index=days,
    )
