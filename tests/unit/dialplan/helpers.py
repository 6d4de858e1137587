"""Build dialplans from extensions.conf text and drive an interpreter like a call engine."""

from __future__ import annotations

from switchboard.dialplan.interpreter import (
    Application,
    ApplicationRegistry,
    Continue,
    Execute,
    Interpreter,
    Terminate,
)
from switchboard.dialplan.model import Dialplan
from switchboard.dialplan.state import ChannelState
from tests.unit.config.helpers import load

ENGINE_APPS = ("Answer", "Dial", "VoiceMail", "VoiceMailMain", "Playback", "Wait", "Echo")


def dialplan(text: str) -> Dialplan:
    """The Dialplan of an extensions.conf text (config errors fail the test)."""
    config, messages = load({"extensions.conf": text})
    errors = [m for m in messages if ": error:" in m]
    assert not errors, errors
    return config.extensions.dialplan


def registry() -> ApplicationRegistry:
    return ApplicationRegistry(Application(name) for name in ENGINE_APPS)


def start(
    text: str, exten: str, context: str = "default", max_steps: int = 1000, **fields: object
) -> Interpreter:
    state = ChannelState(
        channel="PJSIP/bob-00000001",
        uniqueid="1700000000.1",
        context=context,
        exten=exten,
        clock=lambda: 1_700_000_000.5,
        **fields,  # type: ignore[arg-type]
    )
    return Interpreter(dialplan(text), state, applications=registry(), max_steps=max_steps)


def run(interp: Interpreter, outcomes: dict[str, object] | None = None) -> list[object]:
    """Drive to the end: every Execute gets Continue (or the outcome mapped to its app);
    returns the Executes and the final Terminate."""
    seen: list[object] = []
    outcomes = outcomes or {}
    for _ in range(10_000):
        action = interp.next_action()
        assert action is not None
        seen.append(action)
        if isinstance(action, Terminate):
            return seen
        assert isinstance(action, Execute)
        interp.complete(outcomes.get(action.app, Continue()))  # type: ignore[arg-type]
    raise AssertionError("the interpreter never terminated")
