"""Outgoing webhooks (switchboard.conf ``[webhook NAME]``): each matching domain event is
POSTed as JSON, signed with HMAC-SHA256, retried with exponential back-off.

Each hook has its own bounded feed from the event fan-out and one delivery task, so
events reach a receiver in order, a slow or dead receiver never delays call handling or
another hook, and what overflows the feed is dropped and counted.

Signature: ``X-Switchboard-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with
secret=>``, as GitHub does; ``X-Switchboard-Event`` names the event type and
``X-Switchboard-Delivery`` identifies the event across retries.

aiohttp is imported when the first hook starts: a server without webhooks never needs it
(it was a tenth of the server's import time).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

from switchboard import __version__
from switchboard.api.fanout import EventFanout, Feed, event_kinds
from switchboard.config.switchboard import WebhookConfig

if TYPE_CHECKING:
    import aiohttp

log = logging.getLogger(__name__)


def signature(secret: str, body: bytes) -> str:
    """The ``X-Switchboard-Signature`` value of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Webhook:
    """One configured hook: its feed and its delivery task."""

    def __init__(self, config: WebhookConfig, feed: Feed) -> None:
        self.config = config
        self.feed = feed
        self.task: asyncio.Task[None] | None = None
        self.outcomes: Counter[str] = Counter()
        """Deliveries by outcome: ``delivered``, ``retried`` (attempts that failed and were
        tried again), ``failed`` (given up)."""

    async def run(self, session: aiohttp.ClientSession) -> None:
        while True:
            kind, text = await self.feed.queue.get()
            await self._deliver(session, kind, text.encode())

    async def _deliver(self, session: aiohttp.ClientSession, kind: str, body: bytes) -> None:
        import aiohttp

        hook = self.config
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"Switchboard/{__version__}",
            "X-Switchboard-Event": kind,
            "X-Switchboard-Delivery": secrets.token_hex(8),
        }
        if hook.secret:
            headers["X-Switchboard-Signature"] = signature(hook.secret, body)
        delay = hook.retry_delay
        timeout = aiohttp.ClientTimeout(total=hook.timeout)
        for attempt in range(1, hook.attempts + 1):
            try:
                async with session.post(
                    hook.url, data=body, headers=headers, timeout=timeout, allow_redirects=False
                ) as response:
                    if 200 <= response.status < 300:
                        self.outcomes["delivered"] += 1
                        return
                    problem = f"HTTP {response.status}"
            except (aiohttp.ClientError, TimeoutError) as error:
                problem = str(error) or type(error).__name__
            if attempt == hook.attempts:
                break
            self.outcomes["retried"] += 1
            log.info(
                "webhook %s: %s delivery failed (%s); retry %d in %gs",
                hook.name,
                kind,
                problem,
                attempt,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, hook.retry_max)
        self.outcomes["failed"] += 1
        log.warning(
            "webhook %s: %s not delivered after %d attempts (%s)",
            hook.name,
            kind,
            hook.attempts,
            problem,
        )


class Webhooks:
    """Every configured hook, started and stopped with the server, changed on reload."""

    def __init__(self, configs: Iterable[WebhookConfig], fanout: EventFanout) -> None:
        self.fanout = fanout
        self.hooks: list[Webhook] = [self._hook(config) for config in configs]
        self.session: aiohttp.ClientSession | None = None

    def _hook(self, config: WebhookConfig) -> Webhook:
        _warn_unknown(config)
        return Webhook(config, self.fanout.attach(config.events or None, role="webhook"))

    async def start(self) -> None:
        for hook in self.hooks:
            self._run(hook)

    def _run(self, hook: Webhook) -> None:
        if self.session is None:
            import aiohttp

            self.session = aiohttp.ClientSession()
        hook.task = asyncio.create_task(hook.run(self.session), name=f"webhook {hook.config.name}")

    async def reconfigure(self, configs: Iterable[WebhookConfig]) -> None:
        """A reloaded switchboard.conf: a hook still named takes its new URL, secret,
        retries and event types at once and keeps the events queued for it; a new hook
        starts; a removed one stops (what it still had queued is dropped)."""
        wanted = {config.name: config for config in configs}
        kept: list[Webhook] = []
        for hook in self.hooks:
            config = wanted.pop(hook.config.name, None)
            if config is None:
                await self._stop(hook)
                continue
            if config != hook.config:
                _warn_unknown(config)
                hook.config = config
                hook.feed.kinds = frozenset(config.events) if config.events else None
            kept.append(hook)
        for config in wanted.values():
            hook = self._hook(config)
            kept.append(hook)
            self._run(hook)
        self.hooks = kept

    async def _stop(self, hook: Webhook) -> None:
        self.fanout.detach(hook.feed)
        if hook.task is not None:
            hook.task.cancel()
            await asyncio.gather(hook.task, return_exceptions=True)

    async def close(self) -> None:
        for hook in self.hooks:
            await self._stop(hook)
        if self.session is not None:
            await self.session.close()


def _warn_unknown(config: WebhookConfig) -> None:
    """Say which of a hook's event types no event has (a typo would never fire)."""
    unknown = sorted(set(config.events) - event_kinds())
    if unknown:
        log.warning(
            "webhook %s: no event is named %s (%s)",
            config.name,
            ", ".join(unknown),
            config.where("events"),
        )
