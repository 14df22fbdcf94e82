"""The FastAPI application: capture API, query API and operational endpoints on one server."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from opsloop import __version__
from opsloop.config import Settings
from opsloop.runtime import Runtime
from opsloop.web import api, capture, ops

log = logging.getLogger("opsloop.web")


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """Build the app; the runtime's ingest pipeline starts with the server and stops with it."""
    runtime = runtime or Runtime(settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime.metadata  # noqa: B018 - open and migrate before the first request
        replayed = runtime.start_ingest()
        if replayed:
            log.info("recovered %d acknowledged events from the ingest log", replayed)
        try:
            yield
        finally:
            runtime.close()

    app = FastAPI(title="opsloop", version=__version__, lifespan=lifespan)
    app.state.runtime = runtime
    app.include_router(capture.router, tags=["capture"])
    app.include_router(api.router, tags=["api"])
    app.include_router(ops.router, tags=["operations"])

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return JSONResponse({"detail": f"{where}: {first.get('msg', 'invalid request')}"}, status_code=400)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error; see the server log"}, status_code=500)

    return app
