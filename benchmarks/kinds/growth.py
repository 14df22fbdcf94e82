"""Growth accounting: weekly active, new, retained, resurrected and churned persons (any event) and the rates."""

from __future__ import annotations

import pandas as pd

QUERY = {"kind": "growth", "event": "$any", "interval": "week", "date_from": "2024-01-01", "date_to": "2024-04-29"}

#: The same numbers in one statement per engine (UTC project, Monday weeks: 2024-01-01 is a Monday, and the last
#: week, of 2024-04-29, holds that day only). Every event before the end of the range is history.
HANDWRITTEN = {
    "duckdb": """
        WITH pairs AS (
            SELECT DISTINCT person_id, CAST(date_trunc('week', "timestamp") AS DATE) AS w
            FROM events
            WHERE project_id = 1 AND "timestamp" < TIMESTAMPTZ '2024-04-30 00:00:00+00'
        ), seq AS (
            SELECT w, lag(w) OVER (PARTITION BY person_id ORDER BY w) AS prev FROM pairs
        ), per_week AS (
            SELECT w, count(*) AS active, count(*) FILTER (WHERE prev IS NULL) AS new,
                   count(*) FILTER (WHERE prev = w - 7) AS retained
            FROM seq WHERE w >= DATE '2023-12-25' GROUP BY w
        ), weeks AS (
            SELECT CAST(range AS DATE) AS w FROM range(DATE '2024-01-01', DATE '2024-04-30', INTERVAL 7 DAY)
        ), g AS (
            SELECT weeks.w, coalesce(c.active, 0) AS active, coalesce(c.new, 0) AS new,
                   coalesce(c.retained, 0) AS retained, coalesce(p.active, 0) AS previous
            FROM weeks
            LEFT JOIN per_week AS c ON c.w = weeks.w
            LEFT JOIN per_week AS p ON p.w = weeks.w - 7
        )
        SELECT w, active, new, retained, active - new - retained AS resurrected, previous - retained AS churned,
               (previous - retained) / nullif(previous, 0) AS churn_rate,
               (active - previous) / nullif(previous, 0) AS growth_rate,
               (active - retained) / nullif(previous - retained, 0) AS quick_ratio
        FROM g ORDER BY w
    """,
    "clickhouse": """
        SELECT week, active, new, retained, resurrected, churned,
               churned / nullIf(retained + churned, 0) AS churn_rate,
               (active - retained - churned) / nullIf(retained + churned, 0) AS growth_rate,
               (new + resurrected) / nullIf(churned, 0) AS quick_ratio
        FROM (
            SELECT toDate('1970-01-01') + item.1 AS week, countIf(item.2 = 1) AS new, countIf(item.2 = 2) AS retained,
                   countIf(item.2 = 3) AS resurrected, countIf(item.2 = 4) AS churned,
                   new + retained + resurrected AS active
            FROM (
                SELECT arraySort(groupUniqArray(toRelativeDayNum(toStartOfWeek(timestamp, 1, 'UTC')))) AS ws
                FROM events
                WHERE project_id = 1 AND timestamp < toDateTime64('2024-04-30 00:00:00', 6, 'UTC')
                GROUP BY person_id
            )
            ARRAY JOIN arrayConcat(
                arrayMap((w, i) -> (w, if(i = 1, 1, if(ws[i - 1] = w - 7, 2, 3))), ws, arrayEnumerate(ws)),
                arrayMap(
                    w -> (w + 7, 4),
                    arrayFilter((w, i) -> i = length(ws) OR ws[i + 1] != w + 7, ws, arrayEnumerate(ws))
                )
            ) AS item
            WHERE week BETWEEN toDate('2024-01-01') AND toDate('2024-04-29')
            GROUP BY week
        )
        ORDER BY week WITH FILL FROM toDate('2024-01-01') TO toDate('2024-04-30') STEP 7
    """,
}


def pandas_impl(df: pd.DataFrame) -> object:
    """Weekly growth accounting with pandas."""
    end = pd.Timestamp("2024-04-30", tz="UTC")
    rows = df[df["timestamp"] < end]
    day = rows["timestamp"].dt.floor("D")
    week = day - pd.to_timedelta(day.dt.weekday, unit="D")
    pairs = pd.DataFrame({"person_id": rows["person_id"], "w": week}).drop_duplicates()
    pairs = pairs.sort_values(["person_id", "w"])
    pairs["prev"] = pairs.groupby("person_id")["w"].shift()
    pairs["new"] = pairs["prev"].isna()
    pairs["retained"] = pairs["prev"] == pairs["w"] - pd.Timedelta(days=7)
    per_week = pairs.groupby("w").agg(active=("person_id", "size"), new=("new", "sum"), retained=("retained", "sum"))
    weeks = pd.date_range("2024-01-01", "2024-04-29", freq="7D", tz="UTC")
    out = per_week.reindex(weeks, fill_value=0)
    previous = per_week["active"].reindex(weeks - pd.Timedelta(days=7), fill_value=0).to_numpy()
    out["resurrected"] = out["active"] - out["new"] - out["retained"]
    out["churned"] = previous - out["retained"]
    nonzero = pd.Series(previous, index=weeks).replace(0, float("nan"))
    out["churn_rate"] = out["churned"] / nonzero
    out["growth_rate"] = (out["active"] - nonzero) / nonzero
    out["quick_ratio"] = (out["new"] + out["resurrected"]) / out["churned"].replace(0, float("nan"))
    return out
