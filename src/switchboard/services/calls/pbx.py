"""One task per inbound channel: media set up, then the dialplan, then the hangup.

Applications are coroutines ``handler(channel, args) -> Outcome`` registered in the
interpreter's :class:`ApplicationRegistry`. When the caller hangs up while one runs, the
engine cancels the task; the cancellation is caught here, the interpreter is told
(:meth:`Interpreter.hangup`), and the ``h`` extension still runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from switchboard.dialplan.events import MessageLogged, VerboseLogged, WarningLogged
from switchboard.dialplan.interpreter import (
    Execute,
    Hangup,
    Interpreter,
    Outcome,
    Terminate,
)
from switchboard.services.calls.causes import (
    CONGESTION,
    NORMAL_CLEARING,
    TEMPORARY_FAILURE,
    USER_BUSY,
)
from switchboard.services.calls.channel import Channel
from switchboard.services.calls.engine import CallEngine

log = logging.getLogger(__name__)
dialplan_log = logging.getLogger("switchboard.dialplan")

AppHandler = Callable[[Channel, str], Awaitable[Outcome]]


def run_channel(engine: CallEngine, channel: Channel) -> asyncio.Task[None]:
    """Start ``channel``'s task (on the engine's loop: ``asyncio.get_running_loop`` makes a
    ``getpid`` system call each time on Python 3.11)."""
    return engine.loop.create_task(_run(engine, channel), name=channel.name)


async def _run(engine: CallEngine, channel: Channel) -> None:
    try:
        if channel.relay is None:  # a transferred leg arrives with its media in place
            refused = await engine.prepare_media(channel)
            if refused:
                engine.hangup(channel, status=refused)
                return
        assert channel.dialplan is not None
        interpreter = Interpreter(
            engine.dialplan, channel.dialplan, applications=engine.applications
        )
        action = await _dialplan(interpreter, channel)
        channel.dialplan.hangupcause = action.cause
        if channel.handed_over:
            engine.transfers.hand_over(channel)
            return
        if action.indication == "busy":
            engine.hangup(channel, USER_BUSY)
        elif action.indication == "congestion":
            engine.hangup(channel, CONGESTION)
        else:
            engine.hangup(channel, action.cause or channel.cause or NORMAL_CLEARING)
    except Exception:
        log.exception("%s: the call failed", channel.name)
        engine.hangup(channel, TEMPORARY_FAILURE)
    finally:
        if not channel.handed_over:
            engine.release(channel)


async def _dialplan(interpreter: Interpreter, channel: Channel) -> Terminate:
    """Run priorities until the dialplan (and ``h``) ends."""
    task = asyncio.current_task()
    assert task is not None
    while True:
        action = interpreter.next_action()
        _log(interpreter)
        if action is None:  # cannot happen: no application is left running here
            raise RuntimeError("the interpreter waits for an application")
        if isinstance(action, Terminate):
            return action
        outcome = await _execute(channel, action, task)
        if outcome is not None:
            interpreter.complete(outcome, action)
        elif not interpreter.finished:
            interpreter.hangup(channel.cause)


async def _execute(channel: Channel, action: Execute, task: asyncio.Task[None]) -> Outcome | None:
    """Run one application; None when the channel hung up meanwhile."""
    application = channel.engine.applications.get(action.app)
    handler: AppHandler | None = application.handler if application is not None else None  # type: ignore[assignment]
    if handler is None:
        return Hangup()
    if channel.hung_up and not action.in_hangup_handler:
        return None
    channel.last_app, channel.last_data = action.app, action.args
    channel.in_app = True
    try:
        return await handler(channel, action.args)
    except asyncio.CancelledError:
        if not channel.hung_up:
            raise
        task.uncancel()
        return None
    finally:
        channel.in_app = False


def _log(interpreter: Interpreter) -> None:
    for event in interpreter.drain_events():
        where = f" ({event.location})" if event.location is not None else ""
        if isinstance(event, WarningLogged):
            dialplan_log.warning("%s: %s%s", event.channel, event.message, where)
        elif isinstance(event, VerboseLogged):
            dialplan_log.info("%s: %s", event.channel, event.message)
        elif isinstance(event, MessageLogged):
            dialplan_log.info("%s: [%s] %s", event.channel, event.level, event.message)
