"""Capture routes: PostHog- and Segment-compatible endpoints (thin: parsing lives in `ingest.capture`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from opsloop.ingest.capture import (
    CaptureBatch,
    CaptureError,
    decode_body,
    parse_posthog,
    parse_segment,
    posthog_token,
    segment_write_key,
)
from opsloop.ingest.pipeline import IngestUnavailable
from opsloop.runtime import Runtime

router = APIRouter()

_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Content-Encoding, Authorization",
}
POSTHOG_PATHS = ["/i/v0/e", "/e", "/capture", "/batch", "/track", "/engage"]
SEGMENT_KINDS = ["track", "identify", "page", "screen", "group", "alias", "batch"]


def _json(status: int, body: Any) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=_CORS)


async def _read_body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise CaptureError(413, "body_too_large", f"the body is {length} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise CaptureError(413, "body_too_large", f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _decode(request: Request, runtime: Runtime, body: bytes) -> Any:
    return decode_body(
        body,
        content_encoding=request.headers.get("content-encoding", ""),
        compression=request.query_params.get("compression", ""),
        content_type=request.headers.get("content-type", ""),
        limit=runtime.settings.max_body_bytes,
    )


async def _store(runtime: Runtime, batch: CaptureBatch) -> None:
    runtime.stats.add(received=batch.total, rejected=len(batch.errors))
    if not batch.count:
        detail = batch.errors[0]["reason"] if batch.errors else "no events in the request"
        raise CaptureError(400, "invalid_event", detail if batch.total <= 1 else f"no valid events: {detail}")
    try:
        await runtime.pipeline.submit(batch.record, batch.count)
    except IngestUnavailable as exc:
        raise CaptureError(503, "unavailable", str(exc)) from exc


# Parsing is synchronous and returns only the encoded record: the parsed JSON is freed before the request
# waits for the ingest log, so concurrent requests do not keep thousands of objects alive (measured: JSON
# parsing ran ~2x slower when they did).


def _project_for(runtime: Runtime, token: str | None, *, missing: tuple[str, str], invalid: tuple[str, str]) -> int:
    """The project a capture token writes to; 401 with the protocol's (code, message) when absent or unknown."""
    if not token:
        raise CaptureError(401, *missing)
    project_id = runtime.projects.project_for_token(token)
    if project_id is None:
        raise CaptureError(401, *invalid)
    return project_id


def _posthog_batch(request: Request, runtime: Runtime, body: bytes) -> CaptureBatch:
    payload = _decode(request, runtime, body)
    token = posthog_token(payload, request.query_params.get("token") or request.query_params.get("api_key"))
    project_id = _project_for(
        runtime,
        token,
        missing=("missing_token", "no project token: send it as `api_key`, `token` or `$token`"),
        invalid=("invalid_token", "the project token is not valid"),
    )
    return parse_posthog(
        payload,
        project_id,
        dt.datetime.now(dt.UTC),
        max_events=runtime.settings.max_events_per_request,
        max_event_bytes=runtime.settings.max_event_bytes,
        body_bytes=len(body),
    )


def _segment_batch(request: Request, runtime: Runtime, body: bytes, kind: str) -> CaptureBatch:
    payload = _decode(request, runtime, body)
    key = segment_write_key(payload, request.headers.get("authorization", ""))
    project_id = _project_for(
        runtime,
        key,
        missing=("missing_write_key", "no write key: use Basic auth `writekey:` or `writeKey`"),
        invalid=("invalid_write_key", "the write key is not valid"),
    )
    return parse_segment(
        payload,
        kind,
        project_id,
        dt.datetime.now(dt.UTC),
        max_events=runtime.settings.max_events_per_request,
        max_event_bytes=runtime.settings.max_event_bytes,
        body_bytes=len(body),
    )


async def posthog_capture(request: Request) -> Response:
    """PostHog capture: single event, array, or `{"batch": [...]}`; token as api_key / token / $token."""
    runtime: Runtime = request.app.state.runtime
    try:
        batch = _posthog_batch(request, runtime, await _read_body(request, runtime.settings.max_body_bytes))
        await _store(runtime, batch)
    except CaptureError as exc:
        body: dict[str, Any] = {"type": "validation_error", "code": exc.code, "detail": exc.message}
        return _json(exc.status, body)
    if batch.errors:
        return _json(200, {"status": 1, "accepted": batch.count, "errors": batch.errors})
    return _json(200, {"status": 1})


async def segment_capture(request: Request) -> Response:
    """Segment HTTP tracking API: `/v1/{track,identify,page,screen,group,alias,batch}`."""
    runtime: Runtime = request.app.state.runtime
    kind = request.path_params["kind"]
    try:
        if kind not in SEGMENT_KINDS:
            raise CaptureError(404, "unknown_endpoint", f"/v1/{kind} is not a Segment endpoint")
        batch = _segment_batch(request, runtime, await _read_body(request, runtime.settings.max_body_bytes), kind)
        await _store(runtime, batch)
    except CaptureError as exc:
        return _json(exc.status, {"code": exc.code, "message": exc.message})
    if batch.errors:
        return _json(200, {"success": True, "accepted": batch.count, "errors": batch.errors})
    return _json(200, {"success": True})


async def preflight(request: Request) -> Response:
    """CORS pre-flight for browser SDKs."""
    return Response(status_code=204, headers=_CORS)


class CaptureFastPath:
    """ASGI middleware: capture requests go straight to their endpoint instead of through the router.

    The app has hundreds of routes (API, console) and FastAPI's matching through included routers cost about
    60 us per capture request before its endpoint ran, a tenth of a request. Anything this table does not
    name exactly (another method, an unknown `/v1/` kind) goes on to the router, which answers as before.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.paths: dict[str, tuple[Any, dict[str, str]]] = {}
        for path in POSTHOG_PATHS:
            for variant in (path, path + "/"):
                self.paths[variant] = (posthog_capture, {})
        for kind in SEGMENT_KINDS:
            self.paths[f"/v1/{kind}"] = (segment_capture, {"kind": kind})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("POST", "OPTIONS"):
            target = self.paths.get(scope["path"])
            if target is not None:
                endpoint, path_params = target
                scope["path_params"] = dict(path_params)
                request = Request(scope, receive)
                response = await (endpoint(request) if scope["method"] == "POST" else preflight(request))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


for _path in POSTHOG_PATHS:
    for _variant in (_path, _path + "/"):
        router.add_api_route(_variant, posthog_capture, methods=["POST"], include_in_schema=_variant == _path)
        router.add_api_route(_variant, preflight, methods=["OPTIONS"], include_in_schema=False)
router.add_api_route("/v1/{kind}", segment_capture, methods=["POST"])
router.add_api_route("/v1/{kind}", preflight, methods=["OPTIONS"], include_in_schema=False)
