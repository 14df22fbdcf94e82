"""Funnel: pageview -> signup -> purchase, ordered, 14-day window, over the benchmark range.

The hand-written statements compute the same numbers (per step: persons, median and total microseconds from
the previous step) with the same definition: each person's events in time order (events at one instant in step
order); each step event completes that step for the latest-starting attempt that completed the previous step
at an earlier event, inside the window; per person the furthest step, and the times of the latest-starting
attempt that reached it.
"""

from __future__ import annotations

import pandas as pd

QUERY = {
    "kind": "funnel",
    "date_from": "2024-01-01",
    "date_to": "2024-04-29",
    "steps": [{"event": "pageview"}, {"event": "signup"}, {"event": "purchase"}],
    "window": {"value": 14, "unit": "day"},
}

_WINDOW_US = 14 * 86_400 * 1_000_000

#: One statement per engine (UTC project): reads to 14 days past date_to for the later steps. `l{k}`: the start
#: (key = microseconds * 128; no breakdown, so the value index is 0) of the latest-starting attempt that this
#: event completes step k of. Step 2 takes the latest step-1 key before the event (keys only grow along a
#: person's events); after it, only the rows a later step or the result can use go on (the step-2 events
#: that continue an attempt, the purchases, and each person's latest step 1). DuckDB computes CTEs used
#: twice once, so the per-person step-1 maximum is a plain aggregate there; ClickHouse inlines CTEs, so its
#: statement is one chain.
HANDWRITTEN = {
    "duckdb": f"""
        WITH e AS (
            SELECT person_id, epoch_us("timestamp") AS t,
                   CASE WHEN event = 'pageview' AND "timestamp" < TIMESTAMPTZ '2024-04-30 00:00:00+00'
                        THEN 1 ELSE 0 END + CASE WHEN event = 'signup' THEN 2 ELSE 0 END
                   + CASE WHEN event = 'purchase' THEN 4 ELSE 0 END AS m
            FROM events
            WHERE project_id = 1 AND event IN ('pageview', 'signup', 'purchase')
              AND "timestamp" >= TIMESTAMPTZ '2024-01-01 00:00:00+00'
              AND "timestamp" < TIMESTAMPTZ '2024-05-14 00:00:00+00'
        ),
        w2 AS (SELECT person_id, t, m,
                      last_value(CASE WHEN m & 1 = 1 THEN t * 128 END IGNORE NULLS) OVER (
                          PARTITION BY person_id ORDER BY t, m ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS q
               FROM e WHERE m <> 0),
        r3 AS (SELECT person_id, t, m, CASE WHEN m & 2 = 2 AND (t - {_WINDOW_US}) * 128 <= q THEN q END AS l2
               FROM w2 WHERE m >= 2),
        w3 AS (SELECT person_id, t, m, l2,
                      max(l2) OVER (PARTITION BY person_id ORDER BY t, m, l2 NULLS FIRST
                                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS q
               FROM r3 WHERE l2 IS NOT NULL OR m & 4 = 4),
        r4 AS (SELECT person_id, t, CASE WHEN m & 4 = 4 AND (t - {_WINDOW_US}) * 128 <= q THEN q END AS l3 FROM w3),
        hits AS (SELECT person_id, 2 AS k, l2 AS l, t FROM r3 WHERE l2 IS NOT NULL
                 UNION ALL SELECT person_id, 3, l3, t FROM r4 WHERE l3 IS NOT NULL),
        firsts AS (SELECT person_id, max(t * 128) AS l FROM e WHERE m & 1 = 1 GROUP BY person_id),
        levels AS (SELECT person_id, k, max(l) AS l FROM hits GROUP BY person_id, k),
        best AS (SELECT f.person_id, coalesce(max(v.k), 1) AS lv, coalesce(arg_max(v.l, v.k), max(f.l)) AS sk
                 FROM firsts AS f LEFT JOIN levels AS v USING (person_id) GROUP BY f.person_id),
        persons AS (
            SELECT b.person_id, b.lv, b.sk // 128 AS t1, min(h.t) FILTER (WHERE h.k = 2) AS t2,
                   min(h.t) FILTER (WHERE h.k = 3) AS t3
            FROM best AS b LEFT JOIN hits AS h ON h.person_id = b.person_id AND h.l = b.sk
            GROUP BY b.person_id, b.lv, b.sk
        )
        SELECT count(*) FILTER (WHERE lv >= 1) AS c1,
               count(*) FILTER (WHERE lv >= 2) AS c2,
               count(*) FILTER (WHERE lv >= 3) AS c3,
               quantile_cont(CASE WHEN lv >= 2 THEN t2 - t1 END, 0.5) AS med2,
               sum(CASE WHEN lv >= 2 THEN t2 - t1 END) AS sum2,
               quantile_cont(CASE WHEN lv >= 3 THEN t3 - t2 END, 0.5) AS med3,
               sum(CASE WHEN lv >= 3 THEN t3 - t2 END) AS sum3
        FROM persons
    """,
    "clickhouse": f"""
        WITH e AS (
            SELECT person_id, toUnixTimestamp64Micro(timestamp) AS t,
                   (event = 'pageview' AND timestamp < toDateTime64('2024-04-30 00:00:00', 6, 'UTC'))
                   + 2 * (event = 'signup') + 4 * (event = 'purchase') AS m
            FROM events
            WHERE project_id = 1 AND event IN ('pageview', 'signup', 'purchase')
              AND timestamp >= toDateTime64('2024-01-01 00:00:00', 6, 'UTC')
              AND timestamp < toDateTime64('2024-05-14 00:00:00', 6, 'UTC')
        )
        SELECT countIf(lv >= 1) AS c1, countIf(lv >= 2) AS c2, countIf(lv >= 3) AS c3,
               quantileExactInclusiveIf(0.5)(t2 - t1, lv >= 2) AS med2, sumIf(t2 - t1, lv >= 2) AS sum2,
               quantileExactInclusiveIf(0.5)(t3 - t2, lv >= 3) AS med3, sumIf(t3 - t2, lv >= 3) AS sum3
        FROM (
            SELECT person_id, max(multiIf(l3 IS NOT NULL, 3, l2 IS NOT NULL, 2, 1)) AS lv,
                   intDiv(max(sk), 128) AS t1, minIf(t, l2 = sk) AS t2, minIf(t, l3 = sk) AS t3
            FROM (
                SELECT *, coalesce(max(l3) OVER p, max(l2) OVER p, max(l1) OVER p) AS sk
                FROM (
                    SELECT *, if(bitAnd(m, 4) = 4 AND (t - {_WINDOW_US}) * 128 <= q3, q3, NULL) AS l3
                    FROM (
                        SELECT *, max(l2) OVER (PARTITION BY person_id ORDER BY t, m, l2 NULLS FIRST
                                                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS q3
                        FROM (
                            SELECT person_id, t, m, if(bitAnd(m, 1) = 1, t * 128, NULL) AS l1, p1,
                                   if(bitAnd(m, 2) = 2 AND (t - {_WINDOW_US}) * 128 <= q2, q2, NULL) AS l2
                            FROM (
                                SELECT person_id, t, m,
                                       last_value(if(bitAnd(m, 1) = 1, t * 128, NULL)) OVER (
                                           PARTITION BY person_id ORDER BY t, m
                                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS q2,
                                       max(if(bitAnd(m, 1) = 1, t * 128, NULL)) OVER (PARTITION BY person_id) AS p1
                                FROM e WHERE m != 0
                            )
                        )
                        WHERE l2 IS NOT NULL OR m >= 4 OR l1 = p1
                    )
                )
                WHERE l2 IS NOT NULL OR l3 IS NOT NULL OR l1 = p1
                WINDOW p AS (PARTITION BY person_id)
            )
            GROUP BY person_id
        )
    """,
}


def pandas_impl(df: pd.DataFrame) -> object:
    """The same funnel with pandas: per person, a loop over their sorted step events crediting each step
    event to the latest-starting attempt waiting for it."""
    start, end = pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-04-30", tz="UTC")
    window = pd.Timedelta(days=14).value // 1000
    steps = {"pageview": 1, "signup": 2, "purchase": 4}
    rows = df[df["event"].isin(steps) & (df["timestamp"] >= start) & (df["timestamp"] < end + pd.Timedelta(days=14))]
    rows = rows.assign(
        t=rows["timestamp"].astype("datetime64[us, UTC]").astype("int64"),
        m=rows["event"].map(steps) - ((rows["event"] == "pageview") & (rows["timestamp"] >= end)).astype(int),
    )
    rows = rows.sort_values(["person_id", "t", "m"])
    found: list[tuple[int, int, int, int]] = []
    for _, group in rows.groupby("person_id", sort=False):
        waiting: list[int | None] = [None, None, None]  # latest start that completed step k at an earlier event
        credited: list[tuple[int, list[int | None]]] = []
        for t, m in zip(group["t"].to_numpy(), group["m"].to_numpy(), strict=True):
            own: list[int | None] = [None, None, None]
            if m & 1:
                own[0] = int(t)
            for k in (1, 2):
                q = waiting[k - 1]
                if (m >> k) & 1 and q is not None and t <= q + window:
                    own[k] = q
            for k in range(3):
                if own[k] is not None and (waiting[k] is None or own[k] > waiting[k]):  # type: ignore[operator]
                    waiting[k] = own[k]
            credited.append((int(t), own))
        level = max((k + 1 for _, own in credited for k in range(3) if own[k] is not None), default=0)
        if not level:
            continue
        chosen = waiting[level - 1]
        times = [min(t for t, own in credited if own[k] == chosen) for k in range(level)]
        found.append((level, times[0], times[1] if level > 1 else 0, times[2] if level > 2 else 0))
    frame = pd.DataFrame(found, columns=["level", "t1", "t2", "t3"])
    d2 = (frame["t2"] - frame["t1"])[frame["level"] >= 2].astype("float64")
    d3 = (frame["t3"] - frame["t2"])[frame["level"] >= 3].astype("float64")
    return {
        "counts": [int((frame["level"] >= k).sum()) for k in (1, 2, 3)],
        "median_us": [d2.median(), d3.median()],
        "sum_us": [d2.sum(), d3.sum()],
    }
