"""What the composition root starts for operators: the event fan-out and webhooks always,
and the HTTP server (REST, /api/events, /metrics) only when http.conf enables it.

FastAPI, pydantic, uvicorn and prometheus_client are imported when the HTTP server
starts, not before: they took half of the server's start-up, and a PBX without http.conf
never needs them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from switchboard.api.commands import ServerView
from switchboard.api.fanout import EventFanout
from switchboard.api.webhooks import Webhooks
from switchboard.config.diff import ReloadReport
from switchboard.config.loader import Config
from switchboard.core.cdr import CallRecord
from switchboard.core.events import EventBus
from switchboard.store.cdr import SqlCdrStore
from switchboard.store.tokens import SqlTokenStore

if TYPE_CHECKING:
    from switchboard.api.http import HttpServer
    from switchboard.api.metrics import Metrics
    from switchboard.services.calls.engine import CallEngine
    from switchboard.services.voicemail.service import VoicemailService


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


class ApiService:
    """Webhooks always (when configured), and the HTTP server when http.conf enables it."""

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
        from switchboard.api.http import HttpServer, build_app
        from switchboard.api.metrics import Metrics

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
