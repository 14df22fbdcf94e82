"""Ingest pipeline: durable acceptance (log + group-commit fsync), then batched writes by one flusher thread."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from opsloop.ingest.stats import IngestStats
from opsloop.ingest.wal import IngestLog, LogPosition
from opsloop.ingest.writer import EventWriter

log = logging.getLogger("opsloop.ingest")
_REPLAY_CHUNK_BYTES = 32 * 1024 * 1024
_FLUSHER_NICE = 10
#: How often, at most, the flusher asks the store to keep its derived tables current (`EventStore.maintain`).
MAINTAIN_EVERY_S = 1.0


def _lower_priority() -> None:
    """Let request handling win the CPU over the flusher (Linux: per-thread nice value).

    Acknowledged events are already durable in the log, so under a burst the store may lag a little (see
    `pending_events`, `lag_seconds`); `max_pending_events` bounds how far before capture slows down.
    """
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _FLUSHER_NICE)


class IngestUnavailable(Exception):
    """The ingest log could not make events durable (disk full, I/O error); the client should retry."""


@dataclass
class _Pending:
    position: LogPosition
    payload: bytes  # one ingest-log record: a `WireRecord` as JSON
    count: int
    received_at: float


class IngestPipeline:
    """Accepts events durably and moves them into the events store in batches."""

    def __init__(
        self,
        log_: IngestLog,
        writer: EventWriter,
        stats: IngestStats,
        *,
        flush_interval: float = 0.5,
        flush_max_events: int = 50_000,
        max_pending_events: int = 1_000_000,
    ) -> None:
        self.log = log_
        self.writer = writer
        self.stats = stats
        self.flush_interval = flush_interval
        self.flush_max_events = flush_max_events
        self.max_pending_events = max_pending_events
        self._pending = 0  # events queued or being written (kept in step under `_cond`)
        self._queue: deque[_Pending] = deque()
        self._cond = threading.Condition()
        self._stop = False
        self._in_flight = 0  # events the flusher has taken and not yet written
        self._oldest_in_flight = 0.0
        self._maintained = 0.0  # when the flusher last asked the store to keep its derived tables current
        self._thread: threading.Thread | None = None
        self._sync_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="opsloop-fsync")
        # Group commit state, touched only from the event loop thread.
        self._waiting: list[tuple[bytes, int, asyncio.Future[None]]] = []
        self._committer: asyncio.Task[None] | None = None

    # -- start-up -------------------------------------------------------------------------------------

    def recover(self) -> int:
        """Store every logged record not yet known to be in the events store; returns records replayed."""
        checkpoint = self.log.read_checkpoint()
        replayed = 0
        chunk: list[bytes] = []
        size = 0
        last = checkpoint
        for position, payload in self.log.replay(checkpoint):
            chunk.append(payload)
            size += len(payload)
            last = position
            if size >= _REPLAY_CHUNK_BYTES:
                self._write_with_retry(chunk, replay=True)
                self.log.write_checkpoint(last)
                replayed += len(chunk)
                chunk, size = [], 0
        if chunk:
            self._write_with_retry(chunk, replay=True)
            replayed += len(chunk)
        if last != checkpoint:
            self.log.write_checkpoint(last)
        if replayed:
            log.info("replayed %d ingest-log records", replayed)
        return replayed

    def start(self) -> None:
        """Start the flusher thread."""
        self._thread = threading.Thread(target=self._run, name="opsloop-flusher", daemon=True)
        self._thread.start()

    # -- accepting ------------------------------------------------------------------------------------

    async def submit(self, record: bytes, count: int) -> None:
        """Return once `record` (a `WireRecord` of `count` events) is durable; concurrent calls share one fsync."""
        if not count:
            return
        while self._pending >= self.max_pending_events and not self._stop:
            await asyncio.sleep(0.01)  # back-pressure: the events store is behind; the client waits
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._waiting.append((record, count, future))
        if self._committer is None or self._committer.done():
            self._committer = loop.create_task(self._commit_loop())
        await future

    async def _commit_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            group, self._waiting = self._waiting, []
            try:
                positions = self.log.append([payload for payload, _, _ in group])
                await loop.run_in_executor(self._sync_pool, self.log.sync)
            except OSError as exc:
                log.error("ingest log write failed: %s", exc)
                for _, _, future in group:
                    if not future.done():
                        future.set_exception(IngestUnavailable(f"could not write the ingest log: {exc}"))
                continue
            self._enqueue([(pos, payload, n) for pos, (payload, n, _) in zip(positions, group, strict=True)])
            for _, _, future in group:
                if not future.done():
                    future.set_result(None)

    def _enqueue(self, items: list[tuple[LogPosition, bytes, int]]) -> None:
        now = time.monotonic()
        with self._cond:
            for position, payload, count in items:
                self._queue.append(_Pending(position, payload, count, now))
                self._pending += count
            self._cond.notify()

    # -- flushing -------------------------------------------------------------------------------------

    def _take(self) -> list[_Pending]:
        with self._cond:
            if not self._queue and not self._stop:
                self._cond.wait(self.flush_interval)
            taken: list[_Pending] = []
            count = 0
            while self._queue and count < self.flush_max_events:
                item = self._queue.popleft()
                taken.append(item)
                count += item.count
            self._in_flight = count
            self._oldest_in_flight = taken[0].received_at if taken else 0.0
            return taken

    def _run(self) -> None:
        _lower_priority()
        while True:
            taken = self._take()
            if not taken:
                if self._stop:
                    return
                self._maintain()
                continue
            started = time.monotonic()
            self._write_with_retry([item.payload for item in taken])
            self.stats.last_flush_seconds = time.monotonic() - started
            self.log.write_checkpoint(taken[-1].position)
            with self._cond:
                self._pending -= self._in_flight
                self._in_flight = 0
                self._cond.notify_all()
            self._maintain()

    def _maintain(self) -> None:
        """Between writes, at most once a second, let the store keep its derived tables current (DuckDB's
        hourly rollup): one step, so events waiting to be written wait at most that long."""
        now = time.monotonic()
        if now - self._maintained < MAINTAIN_EVERY_S:
            return
        self._maintained = now
        try:
            self.writer.store.maintain()
        except Exception:  # noqa: BLE001 - upkeep may fail and be retried; it never holds up writes
            log.exception("keeping the events store's derived tables current failed; retrying later")

    def _write_with_retry(self, payloads: list[bytes], *, replay: bool = False) -> None:
        """Write until it succeeds: the events are already acknowledged, so giving up would lose them.

        A retry treats the records as replayed: the failed attempt may have stored part of them.
        """
        delay = 0.2
        while True:
            try:
                result = self.writer.write_log(payloads, replay=replay)
                self.stats.add(stored=result.stored, duplicates=result.duplicates)
                return
            except Exception:  # noqa: BLE001 - any store failure is retried; the log keeps the events safe
                self.stats.add(flush_errors=1)
                log.exception("writing %d log records failed; retrying in %.1f s", len(payloads), delay)
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
                replay = True

    # -- observing and stopping -----------------------------------------------------------------------

    def lag_seconds(self) -> float:
        """Age of the oldest acknowledged event not yet in the events store."""
        with self._cond:
            oldest = self._oldest_in_flight if self._in_flight else None
            if oldest is None and self._queue:
                oldest = self._queue[0].received_at
        return 0.0 if oldest is None else time.monotonic() - oldest

    def pending_events(self) -> int:
        """Acknowledged events not yet in the events store (queued, or being written)."""
        with self._cond:
            return self._pending

    def wait_flushed(self, timeout: float = 30.0) -> bool:
        """Block until every event accepted so far is in the events store (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._cond.notify_all()
        while time.monotonic() < deadline:
            with self._cond:
                if not self._pending:
                    return True
                self._cond.wait(0.05)
        return False

    def stop(self) -> None:
        """Flush what is queued, stop the flusher and close the log."""
        self.wait_flushed(timeout=60.0)
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread:
            self._thread.join(timeout=60.0)
        self._sync_pool.shutdown(wait=True)
        self.log.close()
