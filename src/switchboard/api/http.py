"""The HTTP server of the REST API, the event WebSocket and /metrics: FastAPI served by
uvicorn inside the PBX's own event loop (no thread, no process), at http.conf's address.

Every route is a coroutine, so it runs on the loop and reads the live objects (location,
channels, bans) without locks; blocking work (the spool, SQL) goes to the executors the
services already own.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import uvicorn
from fastapi import Depends, FastAPI

from switchboard import __version__
from switchboard.api import errors
from switchboard.api.commands import ServerView
from switchboard.api.events_ws import EventFanout
from switchboard.api.metrics import Metrics
from switchboard.api.tokens import require_caller
from switchboard.api.webhooks import Webhooks
from switchboard.api.ws_protocol import WireProtocol
from switchboard.config.diff import ReloadReport
from switchboard.config.http import HttpConfig
from switchboard.config.loader import Config
from switchboard.core.cdr import CallRecord
from switchboard.core.events import EventBus
from switchboard.store.cdr import SqlCdrStore
from switchboard.store.tokens import SqlTokenStore

if TYPE_CHECKING:
    from switchboard.services.calls.engine import CallEngine
    from switchboard.services.voicemail.service import VoicemailService

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


@dataclass(slots=True)
class ApiContext:
    """What the routes may use: the console's read model plus the services they act on."""

    view: ServerView
    tokens: SqlTokenStore
    cdr_store: SqlCdrStore
    calls: CallEngine | None = None
    voicemail: VoicemailService | None = None
    fanout: EventFanout | None = None
    """Live event listeners (the WebSocket, webhooks)."""
    metrics: Metrics | None = None
    reload: Callable[[], Awaitable[ReloadReport]] | None = None
    """``Server.reload``: re-read the config folder (POST /api/reload)."""
    extra: dict[str, object] = field(default_factory=dict)


def build_app(context: ApiContext | None) -> FastAPI:
    """The application: /api/* behind a token, /openapi.json open (None: an application
    that only describes itself, for :func:`openapi_document`)."""
    from switchboard.api import (
        events_ws,
        metrics,
        routes_calls,
        routes_cdr,
        routes_console,
        routes_pbx,
        routes_voicemail,
    )

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


class ApiService:
    """What the composition root starts for operators: webhooks always (when configured),
    and the HTTP server (REST, /api/events, /metrics) when http.conf enables it."""

    def __init__(self, context: ApiContext, config: Config, bus: EventBus) -> None:
        self.context = context
        self.config = config
        self.bus = bus
        fanout = context.fanout = EventFanout(bus)
        self.webhooks = Webhooks(config.webhooks, fanout)
        self.http: HttpServer | None = None
        self._probe: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.webhooks.start()
        if not self.config.http.enabled:
            return
        context = self.context
        assert context.fanout is not None
        context.metrics = Metrics(
            self.bus,
            time.monotonic,
            location=context.view.location,
            guard=context.view.guard,
            calls=context.calls,
            fanout=context.fanout,
            webhooks=self.webhooks,
            sip_messages=context.calls.stack.messages if context.calls is not None else None,
        )
        self.http = HttpServer(build_app(context), self.config.http)
        await self.http.start()
        self._probe = asyncio.create_task(context.metrics.probe_loop_lag())

    def record(self, record: CallRecord) -> None:
        """A finished call's record, for the RTP quality metrics."""
        if self.context.metrics is not None:
            self.context.metrics.record(record)

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
        if self.http is not None:
            await self.http.close()
        await self.webhooks.close()
