"""Active users: DAU, rolling WAU / MAU of any event, every day of the benchmark range."""

from __future__ import annotations

import pandas as pd

QUERY = {"kind": "active_users", "event": "$any", "date_from": "2024-01-01", "date_to": "2024-04-29"}

#: The same numbers in one statement per engine (UTC project: local days are UTC days). Both use the rewrite
#: a careful analyst would: a person counts in the window ending on `day` through their last active day in it,
#: `k` days back, exactly when the gap since their previous active day is at least `window - k`; so the
#: (day, capped gap) counts of the distinct (person, day) pairs are summed over the 30 offsets.
HANDWRITTEN = {
    "duckdb": """
        WITH pairs AS (
            SELECT DISTINCT person_id, CAST("timestamp" AS DATE) AS d
            FROM events
            WHERE project_id = 1
              AND "timestamp" >= TIMESTAMPTZ '2023-12-03 00:00:00+00'
              AND "timestamp" < TIMESTAMPTZ '2024-04-30 00:00:00+00'
        ), gaps AS (
            SELECT d, least(coalesce(gap, 30), 30) AS gap, count(*) AS n
            FROM (SELECT d, d - lag(d) OVER (PARTITION BY person_id ORDER BY d) AS gap FROM pairs)
            GROUP BY ALL
        )
        SELECT d + CAST(k AS INTEGER) AS day,
               sum(n) FILTER (WHERE k = 0) AS dau,
               sum(n) FILTER (WHERE k < 7 AND gap >= 7 - k) AS wau,
               sum(n) FILTER (WHERE gap >= 30 - k) AS mau,
               sum(n) FILTER (WHERE k = 0) / sum(n) FILTER (WHERE gap >= 30 - k) AS dau_mau
        FROM gaps, range(30) AS t(k)
        WHERE d + CAST(k AS INTEGER) BETWEEN DATE '2024-01-01' AND DATE '2024-04-29'
        GROUP BY day ORDER BY day
    """,
    "clickhouse": """
        WITH gaps AS (
            SELECT d, if(diff = 0, 30, least(diff, 30)) AS gap, count() AS n
            FROM (
                SELECT arraySort(groupUniqArray(toDate(timestamp))) AS ds
                FROM events
                WHERE project_id = 1
                  AND timestamp >= toDateTime64('2023-12-03 00:00:00', 6, 'UTC')
                  AND timestamp < toDateTime64('2024-04-30 00:00:00', 6, 'UTC')
                GROUP BY person_id
            )
            ARRAY JOIN ds AS d, arrayDifference(ds) AS diff
            GROUP BY d, gap
        )
        SELECT d + k AS day,
               sumIf(n, k = 0) AS dau,
               sumIf(n, k < 7 AND gap >= 7 - k) AS wau,
               sumIf(n, gap >= 30 - k) AS mau,
               dau / mau AS dau_mau
        FROM gaps ARRAY JOIN range(30) AS k
        WHERE day BETWEEN toDate('2024-01-01') AND toDate('2024-04-29')
        GROUP BY day ORDER BY day
    """,
}


def pandas_impl(df: pd.DataFrame) -> object:
    """DAU, WAU, MAU and DAU/MAU with pandas: active days per person, then a rolling window per day."""
    start, end = pd.Timestamp("2023-12-03", tz="UTC"), pd.Timestamp("2024-04-30", tz="UTC")
    rows = df[(df["timestamp"] >= start) & (df["timestamp"] < end)]
    pairs = pd.DataFrame({"person_id": rows["person_id"], "day": rows["timestamp"].dt.floor("D")}).drop_duplicates()
    out = []
    for day in pd.date_range("2024-01-01", "2024-04-29", tz="UTC"):
        dau = pairs.loc[pairs["day"] == day, "person_id"].nunique()
        week = pairs.loc[(pairs["day"] > day - pd.Timedelta(days=7)) & (pairs["day"] <= day), "person_id"].nunique()
        month = pairs.loc[(pairs["day"] > day - pd.Timedelta(days=30)) & (pairs["day"] <= day), "person_id"].nunique()
        out.append((day, dau, week, month, dau / month if month else None))
    return pd.DataFrame(out, columns=["day", "dau", "wau", "mau", "dau_mau"])
