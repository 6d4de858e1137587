"""What a test block leaves for the cyclic garbage collector: objects that reference
counting alone cannot free, which cost the server a collector pass, in pauses that grow
with the call rate."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cyclic_garbage(package: str = "switchboard.") -> Iterator[list[str]]:
    """Collects, on leaving the block, the type names (``module.Class``) of the objects
    from ``package`` that were dropped inside it but freed only by the cyclic collector."""
    gc.collect()
    gc.disable()
    found: list[str] = []
    try:
        yield found
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        for thing in gc.garbage:
            kind = type(thing)
            if kind.__module__.startswith(package):
                found.append(f"{kind.__module__}.{kind.__qualname__}")
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
