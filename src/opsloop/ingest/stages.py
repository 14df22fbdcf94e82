"""Batch stages on their own threads, so that reading, resolving and storing a stream of batches overlap.

The work of each stage happens in DuckDB and Arrow, which release the GIL, so two cores run two stages at
once. Queues are short (a batch or two), so memory stays bounded by the batch size, and an error in any
stage is raised in the thread that drives the stream.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterator
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")
_POLL_SECONDS = 0.1


class _Done:
    """End of a stream."""


class _Failed:
    """A stage raised `error`."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def _put(q: queue.Queue[object], item: object, stop: threading.Event) -> bool:
    """Put `item`, waiting for room; False when `stop` was set first."""
    while not stop.is_set():
        try:
            q.put(item, timeout=_POLL_SECONDS)
            return True
        except queue.Full:
            continue
    return False


def read_ahead(items: Iterator[T], *, depth: int, name: str) -> Generator[T, None, None]:
    """Pull `items` on a worker thread, at most `depth` ahead of the consumer; their errors raise here."""
    waiting: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for item in items:
                if not _put(waiting, item, stop):
                    return
            _put(waiting, _Done(), stop)
        except BaseException as exc:  # raised again by the consumer
            _put(waiting, _Failed(exc), stop)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # a generator's clean-up runs on the thread that ran it

    worker = threading.Thread(target=work, name=name, daemon=True)
    worker.start()
    try:
        while True:
            item = waiting.get()
            if isinstance(item, _Done):
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()


class Sink(Generic[T]):
    """Hands items to `consume` on a worker thread, in order, at most `depth` waiting.

    Use it as a context manager: leaving the block normally waits until every item is consumed; leaving it
    by an exception drops what is still waiting. A failure of `consume` is raised by the next `put` or at
    the end of the block, and nothing after the failed item is consumed.
    """

    def __init__(self, consume: Callable[[T], None], *, depth: int, name: str) -> None:
        self._consume = consume
        self._waiting: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._worker = threading.Thread(target=self._work, name=name, daemon=True)
        self._worker.start()

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._waiting.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                continue
            if isinstance(item, _Done):
                return
            try:
                self._consume(item)  # type: ignore[arg-type]
            except BaseException as exc:  # raised again by the producer
                self._error = exc
                return

    def put(self, item: T) -> None:
        """Queue `item` for consumption (waits while the queue is full)."""
        while True:
            self._raise_failure()
            try:
                self._waiting.put(item, timeout=_POLL_SECONDS)
                return
            except queue.Full:
                if not self._worker.is_alive():
                    self._raise_failure()
                    raise RuntimeError("the sink's worker stopped") from None

    def _raise_failure(self) -> None:
        if self._error is not None:
            raise self._error

    def __enter__(self) -> Sink[T]:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if kind is None:
            while self._worker.is_alive():
                try:
                    self._waiting.put(_Done(), timeout=_POLL_SECONDS)
                    break
                except queue.Full:
                    continue
            self._worker.join()
            self._raise_failure()
        else:
            self._stop.set()
            self._worker.join()
