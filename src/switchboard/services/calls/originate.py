"""Originate (Asterisk's ``channel originate PJSIP/alice extension 102@from-internal``, the
CRM's click-to-call): ring an endpoint's phones; the first to answer runs the dialplan at
the extension, as if it had dialled it, and the others are cancelled.

The call gets its own relay up front (the INVITEs offer its ports); the answered leg
takes it over, so whatever the dialplan does next (Dial, Playback, VoiceMail) finds a
leg with media in place, as a blind-transferred one does.
"""

from __future__ import annotations

import asyncio
import logging

from switchboard.media.dtmf import DtmfEvent
from switchboard.media.errors import MediaError
from switchboard.media.relay import LegName, MediaRelay
from switchboard.services.calls.bridge import point
from switchboard.services.calls.causes import NO_ANSWER
from switchboard.services.calls.channel import Channel
from switchboard.services.calls.engine import RELAY_REPORT_INTERVAL, CallEngine

log = logging.getLogger(__name__)

_running: set[asyncio.Task[None]] = set()
"""Originated calls still waiting for an answer (kept so their tasks are not collected)."""


class OriginateError(Exception):
    """The call cannot be placed: ``status`` is the HTTP-like status saying why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def originate(
    engine: CallEngine,
    endpoint_name: str,
    exten: str,
    *,
    context: str | None = None,
    caller_id: tuple[str, str] | None = None,
    timeout: float = 30.0,
) -> list[Channel]:
    """Ring every contact of ``endpoint_name`` (showing ``caller_id``, by default the
    extension); the legs ringing. An answer within ``timeout`` seconds runs
    ``context,exten,1`` on that leg (the endpoint's context by default)."""
    endpoint = engine.pjsip.endpoints.get(endpoint_name)
    if endpoint is None:
        raise OriginateError(404, f"no endpoint {endpoint_name!r}")
    context = context or endpoint.context
    found = engine.dialplan.find(context, exten)
    if found is None or 1 not in found[1].steps:
        raise OriginateError(404, f"no extension {exten!r} in context {context!r}")
    if not any(engine.location.contacts(aor) for aor in endpoint.aors):
        raise OriginateError(409, f"{endpoint_name} has no registered phone")
    answered: list[Channel] = []

    def on_dtmf(leg: LegName, event: DtmfEvent) -> None:
        if answered:
            engine.on_relay_dtmf(answered[0], leg, event)

    def on_timeout(leg: LegName) -> None:
        if answered:
            engine.on_rtp_timeout(answered[0], leg)

    relay = MediaRelay(
        engine.pool,
        strictrtp=engine.config.rtp.strictrtp,
        probation=engine.config.rtp.probation,
        rtp_timeout=float(endpoint.rtp_timeout),
        dtmf_timeout=engine.config.rtp.dtmftimeout / 8000,
        report_interval=RELAY_REPORT_INTERVAL,
        on_dtmf=on_dtmf,
        on_timeout=on_timeout,
    )
    try:
        await relay.start()
    except (OSError, MediaError) as error:
        raise OriginateError(503, f"no media port: {error}") from None
    queue: asyncio.Queue[tuple[Channel, str]] = asyncio.Queue()

    def listener(leg: Channel, what: str) -> None:
        queue.put_nowait((leg, what))

    legs = engine.dial(
        endpoint_name,
        listener,
        relay=relay,
        far=relay.a,
        preferences=endpoint.codecs,
        linkedid=None,
        caller_id=caller_id or (exten, ""),
        who="originate",
    )
    if not legs:
        relay.close()
        raise OriginateError(409, f"{endpoint_name} cannot be dialled")
    task = asyncio.create_task(
        _until_answered(
            engine,
            relay,
            legs,
            queue=queue,
            context=context,
            exten=exten,
            timeout=timeout,
            answered=answered,
        )
    )
    _running.add(task)
    task.add_done_callback(_running.discard)
    return legs


async def _until_answered(
    engine: CallEngine,
    relay: MediaRelay,
    legs: list[Channel],
    *,
    queue: asyncio.Queue[tuple[Channel, str]],
    context: str,
    exten: str,
    timeout: float,
    answered: list[Channel],
) -> None:
    """Wait for the first answer, hand it the dialplan; or give up and clean up."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    pending = set(legs)
    try:
        while pending:
            left = deadline - loop.time()
            if left <= 0:
                break
            try:
                leg, what = await asyncio.wait_for(queue.get(), left)
            except TimeoutError:
                break
            if what == "ended":
                pending.discard(leg)
            elif what == "answered":
                engine.cancel_others(legs, leg)
                answered.append(leg)
                if leg.streams:
                    point(relay.a, leg.streams[0], leg.endpoint.rtp_symmetric)
                    relay.a.set_telephone_event(engine.event_types(leg)[0])
                log.info("%s answered; running %s,%s,1", leg.name, context, exten)
                engine.transfers.adopt(leg, context, exten)
                return
    except asyncio.CancelledError:
        for leg in legs:
            engine.hangup(leg, NO_ANSWER)
        relay.close()
        raise
    finally:
        for leg in legs:  # nothing reads the queue now; a leg keeping it is a cycle
            leg.listener = None
    for leg in pending:
        engine.hangup(leg, NO_ANSWER)
    relay.close()
