"""Operational endpoints: liveness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from opsloop import __version__
from opsloop.runtime import Runtime

router = APIRouter()


@router.get("/healthz")
def healthz(request: Request) -> dict[str, object]:
    """Liveness: the process serves and its ingest log is being flushed."""
    runtime: Runtime = request.app.state.runtime
    return {
        "status": "ok",
        "version": __version__,
        "ingest_lag_seconds": round(runtime.pipeline.lag_seconds(), 3),
        "pending_events": runtime.pipeline.pending_events(),
    }


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> str:
    """Ingestion counters in the Prometheus text exposition format."""
    runtime: Runtime = request.app.state.runtime
    stats = runtime.stats
    rows = [
        ("opsloop_events_received_total", "counter", "Events received by the capture API.", stats.received),
        ("opsloop_events_rejected_total", "counter", "Events refused as invalid.", stats.rejected),
        ("opsloop_events_stored_total", "counter", "Events written to the events store.", stats.stored),
        (
            "opsloop_events_duplicate_total",
            "counter",
            "Events dropped as already stored (same uuid).",
            stats.duplicates,
        ),
        (
            "opsloop_flush_errors_total",
            "counter",
            "Failed writes to the events store (retried).",
            stats.flush_errors,
        ),
        (
            "opsloop_ingest_lag_seconds",
            "gauge",
            "Age of the oldest acknowledged event not yet stored.",
            round(runtime.pipeline.lag_seconds(), 6),
        ),
        (
            "opsloop_ingest_pending_events",
            "gauge",
            "Acknowledged events waiting to be stored.",
            runtime.pipeline.pending_events(),
        ),
        (
            "opsloop_last_flush_seconds",
            "gauge",
            "Duration of the last write to the events store.",
            round(stats.last_flush_seconds, 6),
        ),
    ]
    lines = []
    for name, kind, help_text, value in rows:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f"{name} {value}"]
    return "\n".join(lines) + "\n"
