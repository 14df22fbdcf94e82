"""Batch stages on threads: order kept, errors raised where the stream is driven, no thread left behind."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from opsloop.ingest.stages import Sink, read_ahead


def test_read_ahead_keeps_order_and_raises_the_producers_error() -> None:
    def numbers() -> Iterator[int]:
        yield from range(5)
        raise ValueError("unreadable row group")

    seen = []
    with pytest.raises(ValueError, match="unreadable"):
        for n in read_ahead(numbers(), depth=1, name="test-read"):
            seen.append(n)
    assert seen == [0, 1, 2, 3, 4]


def test_read_ahead_stops_its_worker_when_the_consumer_stops_early() -> None:
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.set()  # the generator's clean-up ran

    stream = read_ahead(endless(), depth=2, name="test-early")
    assert [next(stream) for _ in range(3)] == [0, 1, 2]
    stream.close()
    assert closed.wait(5)
    assert not any(t.name == "test-early" for t in threading.enumerate())


def test_sink_consumes_in_order_and_waits_for_the_last_item() -> None:
    consumed: list[int] = []
    with Sink(consumed.append, depth=1, name="test-sink") as sink:
        for n in range(100):
            sink.put(n)
    assert consumed == list(range(100))


def test_sink_failure_is_raised_and_nothing_after_it_is_consumed() -> None:
    consumed: list[int] = []

    def consume(n: int) -> None:
        if n == 3:
            raise OSError("disk full")
        consumed.append(n)

    with pytest.raises(OSError, match="disk full"), Sink(consume, depth=1, name="test-fail") as sink:
        for n in range(50):
            sink.put(n)
    assert consumed == [0, 1, 2]
    assert not any(t.name == "test-fail" for t in threading.enumerate())
