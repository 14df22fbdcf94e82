"""Retention: weekly first-time cohorts of `signup`, returning with any event, 8 periods, over the benchmark range."""

from __future__ import annotations

import pandas as pd

QUERY = {
    "kind": "retention",
    "date_from": "2024-01-01",
    "date_to": "2024-04-29",
    "start_event": "signup",
    "return_event": "$any",
    "period": "week",
    "intervals": 8,
    "retention_type": "first_time",
}

#: The same numbers in one statement per engine (UTC project, weeks from Monday): rows (cohort week, period k,
#: persons) for every k < 8 whose week has ended by 2024-04-29 (k = 0 is the cohort size). A person's cohort
#: is the week of their first `signup` ever, when that is inside the range; events before the range are read
#: only for that. 2024-04-29 is a Monday: its week has not ended, so it only has period 0.
HANDWRITTEN = {
    "duckdb": """
        WITH per AS (
            SELECT person_id, CAST(date_trunc('week', "timestamp") AS DATE) AS w,
                   min(CASE WHEN event = 'signup' THEN "timestamp" END) AS s
            FROM events
            WHERE project_id = 1 AND "timestamp" < TIMESTAMPTZ '2024-04-30 00:00:00+00'
              AND (event = 'signup' OR "timestamp" >= TIMESTAMPTZ '2024-01-01 00:00:00+00')
            GROUP BY ALL
        ), cohorts AS (
            SELECT person_id, arg_min(w, s) AS cw FROM per GROUP BY person_id
            HAVING min(s) >= TIMESTAMPTZ '2024-01-01 00:00:00+00'
        )
        SELECT c.cw AS cohort, date_diff('day', c.cw, p.w) // 7 AS k, count(*) AS persons
        FROM cohorts AS c JOIN per AS p ON p.person_id = c.person_id
        WHERE p.w >= c.cw AND p.w < c.cw + 56 AND (p.w = c.cw OR p.w + 7 <= DATE '2024-04-30')
        GROUP BY ALL ORDER BY ALL
    """,
    "clickhouse": """
        SELECT cw AS cohort, k, count() AS persons
        FROM (
            SELECT person_id, minIf(timestamp, event = 'signup') AS t0, toStartOfWeek(t0, 1, 'UTC') AS cw,
                   groupUniqArrayIf(toStartOfWeek(timestamp, 1, 'UTC'),
                                    timestamp >= toDateTime64('2024-01-01 00:00:00', 6, 'UTC')) AS weeks
            FROM events
            WHERE project_id = 1 AND timestamp < toDateTime64('2024-04-30 00:00:00', 6, 'UTC')
              AND (event = 'signup' OR timestamp >= toDateTime64('2024-01-01 00:00:00', 6, 'UTC'))
            GROUP BY person_id
            HAVING countIf(event = 'signup') > 0 AND t0 >= toDateTime64('2024-01-01 00:00:00', 6, 'UTC')
        )
        ARRAY JOIN arrayFilter(
            x -> x >= 0 AND x < 8 AND (x = 0 OR addDays(cw, 7 * (x + 1)) <= toDate('2024-04-30')),
            arrayMap(w -> intDiv(toRelativeDayNum(w) - toRelativeDayNum(cw), 7), weeks)
        ) AS k
        GROUP BY cohort, k ORDER BY cohort, k
    """,
}


def pandas_impl(df: pd.DataFrame) -> object:
    """Weekly first-time retention with pandas: persons per (cohort week, period)."""
    start, end = pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-04-30", tz="UTC")
    rows = df[df["timestamp"] < end]
    signups = rows[rows["event"] == "signup"]
    first = signups.groupby("person_id")["timestamp"].min()
    first = first[first >= start]
    cohort = first.dt.tz_localize(None).dt.to_period("W-SUN").dt.start_time.rename("cohort")
    active = rows[rows["timestamp"] >= start][["person_id", "timestamp"]]
    week = active["timestamp"].dt.tz_localize(None).dt.to_period("W-SUN").dt.start_time
    weeks = pd.DataFrame({"person_id": active["person_id"], "week": week}).drop_duplicates()
    joined = weeks.merge(cohort, left_on="person_id", right_index=True)
    joined["k"] = (joined["week"] - joined["cohort"]).dt.days // 7
    ended = joined["week"] + pd.Timedelta(days=7) <= pd.Timestamp("2024-04-30")
    kept = joined[(joined["k"] >= 0) & (joined["k"] < 8) & ((joined["k"] == 0) | ended)]
    return kept.groupby(["cohort", "k"]).size().rename("persons")
