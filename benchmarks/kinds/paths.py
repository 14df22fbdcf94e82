"""Paths: five steps from each person's first pageview in the range, repeats collapsed, top 50 links."""

from __future__ import annotations

import pandas as pd

QUERY = {
    "kind": "paths",
    "date_from": "2024-01-01",
    "date_to": "2024-04-29",
    "start_event": "pageview",
    "steps": 5,
    "limit": 50,
}

#: The same numbers in one statement per engine: persons per (step, event, event at the step before), from
#: which the top links, the nodes and the drop-offs follow (UTC project: the range is UTC days).
HANDWRITTEN = {
    "duckdb": """
        WITH seqs AS (
            SELECT list(event ORDER BY "timestamp", event) AS raw
            FROM events
            WHERE project_id = 1
              AND "timestamp" >= TIMESTAMPTZ '2024-01-01 00:00:00+00'
              AND "timestamp" < TIMESTAMPTZ '2024-04-30 00:00:00+00'
            GROUP BY person_id
        ), collapsed AS (
            SELECT list_filter(raw, lambda x, i: i = 1 OR x <> raw[i - 1]) AS seq FROM seqs
        ), paths AS (
            SELECT seq[list_position(seq, 'pageview'):list_position(seq, 'pageview') + 4] AS path
            FROM collapsed
            WHERE list_position(seq, 'pageview') IS NOT NULL
        )
        SELECT k AS step, path[k] AS event, CASE WHEN k > 1 THEN path[k - 1] END AS source, count(*) AS persons
        FROM (SELECT path, generate_subscripts(path, 1) AS k FROM paths)
        GROUP BY ALL
    """,
    # Each person's events sorted as integers: microseconds into the range times (names + 1) plus the name's
    # rank, so ties at an instant go by name (sorting (time, name) tuples instead took three times as long).
    "clickhouse": """
        WITH (
            SELECT arraySort(groupUniqArray(toString(event)))
            FROM events
            WHERE project_id = 1
              AND timestamp >= toDateTime64('2024-01-01 00:00:00', 6, 'UTC')
              AND timestamp < toDateTime64('2024-04-30 00:00:00', 6, 'UTC')
        ) AS names
        SELECT k AS step, names[path[k] + 1] AS event, if(k > 1, names[path[k - 1] + 1], NULL) AS source,
               count() AS persons
        FROM (
            SELECT arrayCompact(arrayMap(x -> x % (length(names) + 1), arraySort(groupArray(
                       (toUnixTimestamp64Micro(timestamp) - 1704067200000000) * (length(names) + 1)
                       + transform(toString(event), names, range(length(names)), 0))))) AS seq,
                   indexOf(seq, indexOf(names, 'pageview') - 1) AS first,
                   arraySlice(seq, first, 5) AS path
            FROM events
            WHERE project_id = 1
              AND timestamp >= toDateTime64('2024-01-01 00:00:00', 6, 'UTC')
              AND timestamp < toDateTime64('2024-04-30 00:00:00', 6, 'UTC')
            GROUP BY person_id
            HAVING first > 0
        )
        ARRAY JOIN arrayEnumerate(path) AS k
        GROUP BY step, event, source
    """,
}


def pandas_impl(df: pd.DataFrame) -> object:
    """Persons per (step, event, previous event) with pandas, and the top 50 links."""
    start, end = pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-04-30", tz="UTC")
    rows = df[(df["timestamp"] >= start) & (df["timestamp"] < end)]
    rows = rows.sort_values(["person_id", "timestamp", "event"], kind="stable")[["person_id", "event"]]
    person, event = rows["person_id"], rows["event"]
    # Collapse repeats: drop an event equal to the one before it of the same person.
    repeat = (person == person.shift()) & (event == event.shift())
    rows = rows[~repeat]
    seen = (rows["event"] == "pageview").astype(int).groupby(rows["person_id"]).cumsum()
    rows = rows[seen >= 1].copy()
    rows["step"] = rows.groupby("person_id").cumcount() + 1
    rows["source"] = rows.groupby("person_id")["event"].shift()
    rows = rows[rows["step"] <= 5]
    counts = rows.groupby(["step", "event", "source"], dropna=False).size().rename("persons").reset_index()
    links = counts.dropna(subset=["source"])
    return counts, links.sort_values(["persons", "step", "source", "event"], ascending=[False, True, True, True]).head(
        50
    )
