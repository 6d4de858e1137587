"""Dialplan applications that need the call engine, one module each; ``registry()`` lists
them for the interpreter (the pure ones, Set, Goto, GotoIf..., live in the interpreter)."""

from __future__ import annotations

from switchboard.apps import (
    answer,
    busy,
    congestion,
    dial,
    echo,
    playback,
    progress,
    ringing,
    voicemail,
    voicemailmain,
    wait,
)
from switchboard.dialplan.interpreter import Application, ApplicationRegistry

_MODULES = (
    answer,
    busy,
    congestion,
    dial,
    echo,
    playback,
    progress,
    ringing,
    voicemail,
    voicemailmain,
    wait,
)


def registry() -> ApplicationRegistry:
    """Every application, its handler a coroutine ``run(channel, args) -> Outcome``."""
    return ApplicationRegistry(
        Application(module.NAME, module.SYNOPSIS, module.run) for module in _MODULES
    )
