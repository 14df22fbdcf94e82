"""The ingest log: records survive, torn tails are cut, checkpoints bound replay and delete old segments."""

from __future__ import annotations

from pathlib import Path

from opsloop.ingest.wal import IngestLog, LogPosition


def test_append_replay_checkpoint_and_rotation(tmp_path: Path) -> None:
    log = IngestLog(tmp_path, segment_bytes=100)
    positions = [log.append([f"record-{i}".encode() * 5])[0] for i in range(6)]
    log.sync()
    assert len(log.segments()) >= 2, "small segments must rotate"
    assert [p for _, p in log.replay(LogPosition(0, 0))] == [f"record-{i}".encode() * 5 for i in range(6)]
    log.write_checkpoint(positions[3])
    assert [p for _, p in log.replay(log.read_checkpoint())] == [f"record-{i}".encode() * 5 for i in (4, 5)]
    assert min(log.segments()) == positions[3].segment, "segments before the checkpoint are deleted"
    log.close()


def test_torn_tail_is_cut_and_earlier_records_kept(tmp_path: Path) -> None:
    log = IngestLog(tmp_path)
    log.append([b"one", b"two"])
    log.sync()
    log.close()
    segment = sorted(tmp_path.glob("*.wal"))[-1]
    with open(segment, "ab") as fh:  # a record cut off mid-write, as after a power loss
        fh.write(b"\x40\x00\x00\x00\x00\x00\x00\x00half")
    reopened = IngestLog(tmp_path)
    assert [p for _, p in reopened.replay(LogPosition(0, 0))] == [b"one", b"two"]
    reopened.append([b"three"])
    reopened.sync()
    assert [p for _, p in reopened.replay(LogPosition(0, 0))] == [b"one", b"two", b"three"]
    reopened.close()


def test_corrupt_record_stops_replay_of_that_segment(tmp_path: Path) -> None:
    log = IngestLog(tmp_path)
    log.append([b"good", b"flipped"])
    log.sync()
    log.close()
    segment = sorted(tmp_path.glob("*.wal"))[-1]
    data = bytearray(segment.read_bytes())
    data[-1] ^= 0xFF  # the checksum no longer matches
    segment.write_bytes(bytes(data))
    assert [p for _, p in IngestLog(tmp_path).replay(LogPosition(0, 0))] == [b"good"]
