"""The HTTP server of the REST API, the event WebSocket and /metrics: FastAPI served by
uvicorn inside the PBX's own event loop (no thread, no process), at http.conf's address.

Every route is a coroutine, so it runs on the loop and reads the live objects (location,
channels, bans) without locks; blocking work (the spool, SQL) goes to the executors the
services already own.
"""

from __future__ import annotations

import json
import logging
import re
import socket

import uvicorn
from fastapi import Depends, FastAPI

from switchboard import __version__
from switchboard.api import (
    errors,
    events_ws,
    metrics,
    routes_calls,
    routes_cdr,
    routes_console,
    routes_pbx,
    routes_voicemail,
)
from switchboard.api.service import ApiContext
from switchboard.api.tokens import require_caller
from switchboard.api.ws_protocol import WireProtocol
from switchboard.config.http import HttpConfig

log = logging.getLogger(__name__)

TOKEN_IN_QUERY = re.compile(r"(token=)[^&\s\"']+")


class RedactTokens(logging.Filter):
    """uvicorn logs each WebSocket's path with its query string, where ``?token=`` may
    be: the token is replaced by ``***`` before the line is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                TOKEN_IN_QUERY.sub(r"\1***", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        return True


SHUTDOWN_GRACE = 2.0
"""Seconds open HTTP connections get to finish when the server stops."""


def build_app(context: ApiContext | None) -> FastAPI:
    """The application: /api/* behind a token, /openapi.json open (None: an application
    that only describes itself, for :func:`openapi_document`)."""
    app = FastAPI(
        title="Switchboard",
        version=__version__,
        description="The REST API of the Switchboard IP-PBX. Every /api route needs "
        "`Authorization: Bearer TOKEN` (`switchboard api-token create NAME`); errors are "
        '`{"error": "..."}`.',
        docs_url=None,
        redoc_url=None,
    )
    app.state.context = context
    errors.install(app)
    secured = [Depends(require_caller)]
    for module in (routes_pbx, routes_calls, routes_voicemail, routes_cdr):
        app.include_router(
            module.router, prefix="/api", dependencies=secured, responses=errors.ERROR_RESPONSES
        )
    app.include_router(events_ws.router)
    app.include_router(metrics.router)
    routes_console.install(app)
    return app


def openapi_document() -> str:
    """The OpenAPI document as served at /openapi.json, as the JSON text kept in
    docs/openapi.json."""
    return json.dumps(build_app(None).openapi(), indent=2, sort_keys=True) + "\n"


class HttpServer:
    """uvicorn's server, started and stopped by the composition root on the running loop."""

    def __init__(self, app: FastAPI, config: HttpConfig) -> None:
        self.app = app
        self.config = config
        self.server: uvicorn.Server | None = None
        self.port = 0

    async def start(self) -> None:
        """Bind (OSError when the address is taken) and serve."""
        host = self.config.bindaddr
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, self.config.bindport))
            sock.listen(128)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            date_header=False,
            proxy_headers=False,
            ws=WireProtocol,
            ws_max_size=65536,
            ws_per_message_deflate=False,
            timeout_graceful_shutdown=int(SHUTDOWN_GRACE),
        )
        config.load()
        uvicorn_log = logging.getLogger("uvicorn.error")
        if not any(isinstance(f, RedactTokens) for f in uvicorn_log.filters):
            uvicorn_log.addFilter(RedactTokens())
        server = self.server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        await server.startup(sockets=[sock])
        self._sock = sock
        log.info("HTTP API listening on http://%s:%d/api/", host, self.port)

    async def close(self) -> None:
        if self.server is not None and self.server.started:
            self.server.force_exit = False
            await self.server.shutdown(sockets=[self._sock])
