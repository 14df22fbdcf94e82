"""Ingestion counters, exported at `/metrics` in the Prometheus text format."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class IngestStats:
    """Running totals since the process started."""

    received: int = 0
    rejected: int = 0
    stored: int = 0
    duplicates: int = 0
    flush_errors: int = 0
    last_flush_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **deltas: int) -> None:
        """Add to counters atomically."""
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)
