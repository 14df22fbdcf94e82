"""Results as tables: every analysis result can be turned into Arrow, pandas or polars."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa

from opsloop.analytics.common import Model

if TYPE_CHECKING:
    import pandas
    import polars


class TableResult(Model):
    """A result that also reads as one tidy table (one row per point, cohort, step...)."""

    def rows(self) -> list[dict[str, Any]]:
        """The result as tidy rows. By default: with a `dates` list, one row per date holding every list of
        the same length (a time series per field); otherwise one row per item of the first list of objects
        (cohorts, steps...). Kinds override it where a row means something else."""
        data = self.model_dump(mode="json")
        dates = data.get("dates")
        if isinstance(dates, list):
            series = {k: v for k, v in data.items() if isinstance(v, list) and len(v) == len(dates)}
            return [{k: v[i] for k, v in series.items()} for i in range(len(dates))]
        for value in data.values():
            if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
                return list(value)
        return [data]

    def to_arrow(self) -> pa.Table:
        """The tidy rows as an Arrow table."""
        return pa.Table.from_pylist(self.rows())

    def to_pandas(self) -> pandas.DataFrame:
        """The tidy rows as a pandas DataFrame (needs `pip install opsloop[dataframes]`)."""
        return self.to_arrow().to_pandas()

    def to_polars(self) -> polars.DataFrame:
        """The tidy rows as a polars DataFrame (needs `pip install opsloop[dataframes]`)."""
        import polars

        frame = polars.from_arrow(self.to_arrow())
        assert isinstance(frame, polars.DataFrame)
        return frame


class SqlResult(TableResult):
    """Rows of the read-only SQL API (`data` holds them as lists; JSON names it `rows`)."""

    columns: list[str]
    data: list[list[Any]]
    truncated: bool = False
    types: list[str] = []

    def rows(self) -> list[dict[str, Any]]:
        """One dict per row, by column name."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.data]

    def to_json(self) -> dict[str, Any]:
        """The SQL API's JSON: `{"columns", "rows", "truncated", "types"}`."""
        return {"columns": self.columns, "rows": self.data, "truncated": self.truncated, "types": self.types}
