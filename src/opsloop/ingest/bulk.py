"""Bulk import of CSV, JSONL and Parquet files: streaming, bounded memory, rejects with line numbers."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal, TextIO

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select

from opsloop.ingest.known import KnownPersons
from opsloop.ingest.stages import Sink, read_ahead
from opsloop.ingest.writer import EventWriter
from opsloop.store.models import ImportRun, utcnow
from opsloop.store.staging import PROPERTY_PREFIX, SET_ONCE_PREFIX, SET_PREFIX, StagedBatch, Stager

ImportFormat = Literal["csv", "jsonl", "parquet"]
CANONICAL = ("uuid", "event", "distinct_id", "timestamp", "properties", "$set", "$set_once")
_FIELD_PREFIXES = {"properties.": PROPERTY_PREFIX, "$set.": SET_PREFIX, "$set_once.": SET_ONCE_PREFIX}
ProgressCallback = Callable[[int, int, str], None]


class ImportFailed(ValueError):
    """The file cannot be imported at all (unreadable, unknown format, bad mapping)."""


@dataclass(frozen=True)
class ColumnMapping:
    """How source columns become event fields: `event`, `properties.NAME`, `$set.NAME`, `-` (ignore)..."""

    rules: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, items: list[str]) -> ColumnMapping:
        """Parse `--map column=field` items."""
        rules: dict[str, str] = {}
        for item in items:
            column, sep, target = item.partition("=")
            column, target = column.strip(), target.strip()
            if not sep or not column or not target:
                raise ImportFailed(f"--map {item!r}: write it as COLUMN=FIELD, e.g. user_id=distinct_id")
            if target != "-" and target not in CANONICAL and not target.startswith(tuple(_FIELD_PREFIXES)):
                raise ImportFailed(
                    f"--map {item!r}: FIELD must be one of {', '.join(CANONICAL)}, properties.NAME, "
                    "$set.NAME, $set_once.NAME or - (ignore)"
                )
            rules[column] = target
        return cls(rules)

    def target(self, column: str) -> str | None:
        """Staging column name for a source column (None: ignored)."""
        target = self.rules.get(column)
        if target is None:
            return column if column in CANONICAL else PROPERTY_PREFIX + column
        if target == "-":
            return None
        for prefix, staged in _FIELD_PREFIXES.items():
            if target.startswith(prefix):
                return staged + target[len(prefix) :]
        return target


@dataclass
class ImportSummary:
    """What an import did."""

    path: str
    rows_read: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    seconds: float = 0.0
    rejects_path: str | None = None
    previously_imported_at: str | None = None

    @property
    def events_per_second(self) -> float:
        """Read throughput."""
        return self.rows_read / self.seconds if self.seconds > 0 else 0.0


@dataclass
class _Chunk:
    table: pa.Table  # staging column names plus `_row` (1-based line or row number)
    rejects: list[dict[str, Any]]  # rows refused while reading (malformed CSV / JSON lines)
    done: int  # progress so far, in the reader's unit


def detect_format(path: Path, declared: str | None) -> ImportFormat:
    """The file's format from `--format` or its extension."""
    fmt = (declared or path.suffix.lstrip(".")).lower()
    fmt = {"ndjson": "jsonl", "json": "jsonl", "pq": "parquet"}.get(fmt, fmt)
    if fmt not in ("csv", "jsonl", "parquet"):
        raise ImportFailed(f"cannot tell the format of {path.name}: pass --format csv|jsonl|parquet")
    return fmt  # type: ignore[return-value]


def _renamed(table: pa.Table, mapping: ColumnMapping) -> pa.Table:
    keep, names = [], []
    for name in table.schema.names:
        target = mapping.target(name)
        if target is not None:
            if target in names:
                raise ImportFailed(f"two columns map to {target!r}; drop one with --map COLUMN=-")
            keep.append(table.column(name))
            names.append(target)
    return pa.Table.from_arrays(keep, names=names)


def read_parquet(path: Path, mapping: ColumnMapping, batch_rows: int) -> tuple[int, Iterator[_Chunk]]:
    """Parquet row batches (unit: rows)."""
    try:
        # A buffered stream without pre-buffering reads column chunks as batches need them, so memory
        # follows the batch size rather than the file's row-group size.
        parquet = pq.ParquetFile(path, buffer_size=1024 * 1024, pre_buffer=False)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ImportFailed(f"{path} is not a readable Parquet file: {exc}") from None
    total = parquet.metadata.num_rows

    def chunks() -> Iterator[_Chunk]:
        done = 0
        for batch in parquet.iter_batches(batch_size=batch_rows, use_threads=False):
            table = _renamed(pa.Table.from_batches([batch]), mapping)
            rows = pa.array(np.arange(done + 1, done + 1 + table.num_rows, dtype=np.int64))
            done += table.num_rows
            yield _Chunk(table.append_column("_row", rows), [], done)

    return total, chunks()


def read_csv(path: Path, mapping: ColumnMapping, batch_rows: int) -> tuple[int, Iterator[_Chunk]]:
    """CSV with a header row (unit: bytes); `_row` is the physical line number, multi-line fields included."""
    total = path.stat().st_size

    def chunks() -> Iterator[_Chunk]:
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
            reader = csv.reader(fh)
            try:
                header = next(reader)
            except StopIteration:
                return
            width = len(header)
            targets = [mapping.target(name.strip()) for name in header]
            seen = [t for t in targets if t is not None]
            if len(seen) != len(set(seen)):
                raise ImportFailed("two columns map to the same field; drop one with --map COLUMN=-")
            columns: list[list[str | None]] = [[] for _ in header]
            lines: list[int] = []
            rejects: list[dict[str, Any]] = []
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    rejects.append({"line": reader.line_num, "reason": f"malformed CSV: {exc}", "row": None})
                    continue
                if not row:
                    continue
                if len(row) != width:
                    rejects.append(
                        {
                            "line": reader.line_num,
                            "reason": f"expected {width} fields, found {len(row)}",
                            "row": row,
                        }
                    )
                    continue
                for i, value in enumerate(row):
                    columns[i].append(value)
                lines.append(reader.line_num)
                if len(lines) >= batch_rows:
                    yield _Chunk(_csv_table(columns, targets, lines), rejects, _tell(fh))
                    columns, lines, rejects = [[] for _ in header], [], []
            if lines or rejects:
                yield _Chunk(_csv_table(columns, targets, lines), rejects, total)

    return total, chunks()


def _tell(fh: TextIO) -> int:
    try:
        return fh.buffer.tell()
    except (OSError, AttributeError):
        return 0


def _csv_table(columns: list[list[str | None]], targets: list[str | None], lines: list[int]) -> pa.Table:
    arrays = {t: pa.array(col, type=pa.string()) for t, col in zip(targets, columns, strict=True) if t is not None}
    arrays["_row"] = pa.array(lines, type=pa.int64())
    return pa.table(arrays)


def _jsonl_value(target: str, value: Any) -> Any:
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    if target == "timestamp" and isinstance(value, int | float) and not isinstance(value, bool):
        # Epoch seconds or milliseconds; rows of one file may mix them with ISO strings.
        try:
            return dt.datetime.fromtimestamp(value / 1000 if abs(value) > 1e11 else value, dt.UTC).isoformat()
        except (OverflowError, OSError, ValueError):
            return str(value)
    return value


def read_jsonl(path: Path, mapping: ColumnMapping, batch_rows: int) -> tuple[int, Iterator[_Chunk]]:
    """JSON Lines, one event object per line (unit: bytes); `_row` is the line number."""
    total = path.stat().st_size

    def chunks() -> Iterator[_Chunk]:
        rows: list[dict[str, Any]] = []
        rejects: list[dict[str, Any]] = []
        with open(path, "rb") as fh:
            for line_no, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    obj = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    rejects.append(
                        {
                            "line": line_no,
                            "reason": f"invalid JSON: {exc}",
                            "row": line[:2000].decode("utf-8", "replace"),
                        }
                    )
                    continue
                if not isinstance(obj, dict):
                    rejects.append({"line": line_no, "reason": "a line must hold a JSON object", "row": obj})
                    continue
                staged: dict[str, Any] = {"_row": line_no}
                for key, value in obj.items():
                    target = mapping.target(key)
                    if target is not None:
                        staged[target] = _jsonl_value(target, value)
                rows.append(staged)
                if len(rows) >= batch_rows:
                    yield _Chunk(_jsonl_table(rows), rejects, fh.tell())
                    rows, rejects = [], []
        if rows or rejects:
            yield _Chunk(_jsonl_table(rows), rejects, total)

    return total, chunks()


def _jsonl_table(rows: list[dict[str, Any]]) -> pa.Table:
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    columns: dict[str, pa.Array] = {}
    for name in names:
        values = [row.get(name) for row in rows]
        if name == "_row":
            columns[name] = pa.array(values, type=pa.int64())
        else:
            # Mixed JSON scalars: keep text, so the staging rules (numbers, booleans) apply uniformly.
            columns[name] = pa.array(
                [None if v is None else v if isinstance(v, str) else orjson.dumps(v).decode() for v in values],
                type=pa.string(),
            )
    return pa.table(columns) if columns else pa.table({"_row": pa.array([], type=pa.int64())})


READERS = {"parquet": read_parquet, "csv": read_csv, "jsonl": read_jsonl}


def fingerprint(path: Path) -> str:
    """Cheap identity of a file's contents: size plus hashes of its first and last MiB."""
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as fh:
        digest.update(fh.read(1 << 20))
        if size > 2 << 20:
            fh.seek(-(1 << 20), io.SEEK_END)
            digest.update(fh.read(1 << 20))
    return digest.hexdigest()


def import_file(
    writer: EventWriter,
    path: Path,
    project_id: int,
    *,
    fmt: str | None = None,
    mapping: ColumnMapping | None = None,
    rejects_path: Path | None = None,
    batch_rows: int = 100_000,
    on_progress: ProgressCallback | None = None,
) -> ImportSummary:
    """Import a file into a project; re-running it stores nothing twice (uuids derive from row contents)."""
    if not path.is_file():
        raise ImportFailed(f"{path} does not exist or is not a file")
    fmt_ = detect_format(path, fmt)
    mapping = mapping or ColumnMapping()
    rejects_path = rejects_path or path.with_name(path.name + ".rejects.jsonl")
    summary = ImportSummary(path=str(path))
    print_ = fingerprint(path)
    with writer.metadata.session() as session, session.begin():
        previous = session.scalar(
            select(ImportRun)
            .where(
                ImportRun.project_id == project_id,
                ImportRun.fingerprint == print_,
                ImportRun.status == "done",
            )
            .order_by(ImportRun.id.desc())
        )
        if previous is not None and previous.finished_at is not None:
            summary.previously_imported_at = previous.finished_at.isoformat()
        run = ImportRun(project_id=project_id, path=str(path), fingerprint=print_)
        session.add(run)
        session.flush()
        run_id = run.id
    started = time.perf_counter()
    insert_rows = writer.store.dialect.bulk_insert_rows
    total, chunks = READERS[fmt_](path, mapping, _aligned(batch_rows, insert_rows))
    unit = "rows" if fmt_ == "parquet" else "bytes"
    known = KnownPersons()  # this import's own map: the writer's serves the live flusher
    valid_rows = 0

    def store(events: pa.Table, given_uuids: bool) -> Callable[[], None]:
        # Uuids derived from the rows' contents include their times: such a row can only repeat a stored event
        # of the same time, so the check against stored events looks at the batch's own time span alone.
        window = None if given_uuids else dt.timedelta(0)

        def write() -> None:
            summary.stored += writer.store_events(events, window)

        return write

    gathered: list[pa.Table] = []  # resolved events waiting to be stored together
    gathered_given = False  # whether some of them carried their own uuids

    # Three stages overlap, each on its own thread: reading and validating the next batch, resolving the
    # persons of this one (here), storing earlier ones, gathered up to the size the engine writes best.
    # Batches are resolved and stored in file order: identity rows apply in file order, and de-duplication
    # across batches holds.
    staged_batches = read_ahead(_staged(chunks, project_id), depth=1, name="opsloop-import-stage")
    rejects_file = None
    try:
        with Sink(_call, depth=1, name="opsloop-import-store") as writes:
            for chunk, staged, now in staged_batches:
                summary.rows_read += chunk.table.num_rows + len(chunk.rejects)
                rejected = list(chunk.rejects)
                if staged is not None:
                    if staged.rejected.num_rows:
                        rejected += _describe_rejects(chunk.table, staged.rejected)
                    valid_rows += staged.valid.num_rows
                    resolved = writer.resolve_persons(project_id, staged.valid, now, known)
                    if resolved.replicas:
                        writes.put(partial(writer.write_replicas, resolved.replicas))
                    if resolved.events.num_rows:
                        gathered.append(resolved.events)
                        gathered_given = gathered_given or staged.given_uuids
                    ready, gathered = _in_multiples(gathered, insert_rows)
                    if ready is not None:
                        writes.put(store(ready, gathered_given))
                        gathered_given = gathered_given and bool(gathered)  # the rest may hold some
                if rejected:
                    if rejects_file is None:
                        rejects_file = open(rejects_path, "wb")  # noqa: SIM115 - closed in finally
                    for item in sorted(rejected, key=lambda r: r["line"]):
                        rejects_file.write(orjson.dumps(item, default=str) + b"\n")
                    summary.rejected += len(rejected)
                if on_progress:
                    on_progress(chunk.done, total, unit)
            if gathered:
                writes.put(store(pa.concat_tables(gathered).combine_chunks(), gathered_given))
    finally:
        staged_batches.close()
        if rejects_file is not None:
            rejects_file.close()
    summary.duplicates = valid_rows - summary.stored
    summary.seconds = time.perf_counter() - started
    summary.rejects_path = str(rejects_path) if summary.rejected else None
    with writer.metadata.session() as session, session.begin():
        finished = session.get(ImportRun, run_id)
        if finished is not None:
            finished.status, finished.finished_at = "done", utcnow()
            finished.rows_read, finished.rows_stored, finished.rows_rejected = (
                summary.rows_read,
                summary.stored,
                summary.rejected,
            )
    return summary


def _call(write: Callable[[], None]) -> None:
    write()


def _aligned(batch_rows: int, unit: int) -> int:
    """The rows to read per batch: `batch_rows` rounded to a whole number of the store's units, when it is at
    least half a unit. Each batch then fills whole row groups, so the first is written as soon as one batch is
    resolved, and batches need no cutting and joining on the way to the store."""
    if not unit or batch_rows < unit // 2:
        return batch_rows
    return max(1, round(batch_rows / unit)) * unit


def _in_multiples(tables: list[pa.Table], unit: int) -> tuple[pa.Table | None, list[pa.Table]]:
    """The largest whole number of `unit` rows of `tables`, as one contiguous table, and the rest, kept back.

    An engine that writes best in units of rows (DuckDB's row groups) then gets only whole units, until the
    last insert of an import: a partial unit would be written once now and again at the next checkpoint.
    """
    rows = sum(t.num_rows for t in tables)
    take = rows - rows % unit if unit else rows
    if not take:
        return None, tables
    if len(tables) == 1 and take == rows and all(c.num_chunks == 1 for c in tables[0].columns):
        return tables[0], []  # already one contiguous table (a batch of whole units, nothing refused)
    joined = pa.concat_tables(tables)
    rest = joined.slice(take)
    return joined.slice(0, take).combine_chunks(), [rest] if rest.num_rows else []


def _staged(chunks: Iterator[_Chunk], project_id: int) -> Iterator[tuple[_Chunk, StagedBatch | None, dt.datetime]]:
    """Each chunk with its rows validated and shaped, and the time the checks used as "now"."""
    stager = Stager(threads=1)  # one batch at a time; the other stages run beside it
    try:
        for chunk in chunks:
            now = dt.datetime.now(dt.UTC)
            yield chunk, stager.stage(chunk.table, project_id, now) if chunk.table.num_rows else None, now
    finally:
        stager.close()


def _describe_rejects(table: pa.Table, rejected: pa.Table) -> list[dict[str, Any]]:
    """Rejected rows with their line numbers, reasons and original values."""
    rows = rejected.column("_row").to_pylist()
    reasons = rejected.column("reason").to_pylist()
    index = {line: i for i, line in enumerate(table.column("_row").to_pylist())}
    originals = table.take(pa.array([index[r] for r in rows])).drop_columns(["_row"]).to_pylist()
    return [{"line": r, "reason": why, "row": orig} for r, why, orig in zip(rows, reasons, originals, strict=True)]
