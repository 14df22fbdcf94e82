"""The ingest log: an append-only, checksummed, fsynced file that makes an acknowledged event durable.

A capture request is answered 200 only after its events are in this log and the log is fsynced. A
background flusher then moves them into the events store and records a checkpoint; on start-up,
everything after the checkpoint is replayed. Replays are safe because the store de-duplicates on uuid.
"""

from __future__ import annotations

import os
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_HEADER = struct.Struct("<II")  # payload length, crc32 of payload
_SUFFIX = ".wal"


@dataclass(frozen=True, order=True)
class LogPosition:
    """A place in the log: segment number and byte offset just after a record."""

    segment: int
    offset: int


class IngestLog:
    """Segmented write-ahead log with explicit `sync()` so callers can group many appends per fsync."""

    def __init__(self, directory: Path, *, segment_bytes: int = 64 * 1024 * 1024, fsync: bool = True) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.fsync = fsync
        directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._repair_tail()
        existing = self.segments()
        # Always append to a fresh segment so a damaged tail is never extended.
        self._segment = (existing[-1] + 1) if existing else 1
        self._fd = self._open_segment(self._segment)
        self._offset = 0

    def _path(self, segment: int) -> Path:
        return self.directory / f"{segment:012d}{_SUFFIX}"

    def _open_segment(self, segment: int) -> int:
        fd = os.open(self._path(segment), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._fsync_dir()
        return fd

    def _fsync_dir(self) -> None:
        if not self.fsync:
            return
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def segments(self) -> list[int]:
        """Segment numbers present on disk, oldest first."""
        return sorted(int(p.stem) for p in self.directory.glob(f"*{_SUFFIX}") if p.stem.isdigit())

    def append(self, payloads: list[bytes]) -> list[LogPosition]:
        """Write records (not yet fsynced); returns the position after each."""
        with self._lock:
            if self._offset >= self.segment_bytes:
                os.close(self._fd)
                self._segment += 1
                self._fd = self._open_segment(self._segment)
                self._offset = 0
            chunks: list[bytes] = []
            positions: list[LogPosition] = []
            offset = self._offset
            for payload in payloads:
                chunks.append(_HEADER.pack(len(payload), zlib.crc32(payload)))
                chunks.append(payload)
                offset += _HEADER.size + len(payload)
                positions.append(LogPosition(self._segment, offset))
            data = b"".join(chunks)
            written = 0
            view = memoryview(data)
            while written < len(data):
                written += os.write(self._fd, view[written:])
            self._offset = offset
            return positions

    def sync(self) -> None:
        """Make every record appended so far durable."""
        if self.fsync:
            with self._lock:
                fd = self._fd
            os.fdatasync(fd)

    def read_checkpoint(self) -> LogPosition:
        """Position up to which records are known to be in the events store."""
        path = self.directory / "checkpoint"
        try:
            segment, offset = path.read_text().split()
            return LogPosition(int(segment), int(offset))
        except (FileNotFoundError, ValueError):
            return LogPosition(0, 0)

    def write_checkpoint(self, position: LogPosition) -> None:
        """Record that everything up to `position` is stored, and delete segments wholly before it."""
        tmp = self.directory / "checkpoint.tmp"
        with open(tmp, "w") as fh:
            fh.write(f"{position.segment} {position.offset}\n")
            fh.flush()
            if self.fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, self.directory / "checkpoint")
        self._fsync_dir()
        with self._lock:
            current = self._segment
        for segment in self.segments():
            if segment < position.segment and segment < current:
                self._path(segment).unlink(missing_ok=True)

    def replay(self, after: LogPosition) -> Iterator[tuple[LogPosition, bytes]]:
        """Records written after `after`, with their end positions, in order."""
        for segment in self.segments():
            if segment < after.segment:
                continue
            start = after.offset if segment == after.segment else 0
            for end, payload in _read_records(self._path(segment)):
                if end > start:
                    yield LogPosition(segment, end), payload

    def _repair_tail(self) -> None:
        """Cut a torn or corrupt record off the end of each segment (it was never acknowledged)."""
        for segment in self.segments():
            path = self._path(segment)
            good = 0
            for end, _payload in _read_records(path):
                good = end
            if good < path.stat().st_size:
                with open(path, "r+b") as fh:
                    fh.truncate(good)

    def close(self) -> None:
        """Sync and close the current segment."""
        with self._lock:
            if self.fsync:
                os.fdatasync(self._fd)
            os.close(self._fd)


def _read_records(path: Path) -> Iterator[tuple[int, bytes]]:
    """Valid records of one segment file, stopping at the first torn or corrupt one."""
    with open(path, "rb") as fh:
        data = fh.read()
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, offset)
        start = offset + _HEADER.size
        end = start + length
        if end > len(data):
            return
        payload = data[start:end]
        if zlib.crc32(payload) != crc:
            return
        offset = end
        yield offset, payload
