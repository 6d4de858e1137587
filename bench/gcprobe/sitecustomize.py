"""Watches a server's cyclic garbage collector, for the benchmarks and the tests.

Python imports ``sitecustomize`` at start-up from the path; a benchmark or test puts this
folder on the server's PYTHONPATH and names what it wants in the environment:

- ``SWITCHBOARD_BENCH_GC_LOG``: one line per collection (wall-clock end time, generation,
  seconds it took, objects it freed), for ``bench/calls.py --gc``;
- ``SWITCHBOARD_GC_CYCLES``: keep every object the collector finds unreachable (so none
  is freed, which is only for a short test) and, at exit, write one line per Switchboard
  class left in reference cycles: ``count module.Class``. Nothing of Switchboard's
  should be there: a finished call is freed by reference counting.
"""

from __future__ import annotations

import atexit
import collections
import gc
import os
import time

_log_path = os.environ.get("SWITCHBOARD_BENCH_GC_LOG")
if _log_path:
    _log = open(_log_path, "a", buffering=1)  # noqa: SIM115 - open for the process's life
    _started = [0.0]

    def _note(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            _started[0] = time.perf_counter()
            return
        took = time.perf_counter() - _started[0]
        _log.write(f"{time.time():.3f} {info['generation']} {took:.6f} {info['collected']}\n")

    gc.callbacks.append(_note)

_cycles_path = os.environ.get("SWITCHBOARD_GC_CYCLES")
if _cycles_path:
    gc.set_debug(gc.DEBUG_SAVEALL)

    def _report() -> None:
        gc.collect()
        kinds = collections.Counter(
            f"{type(thing).__module__}.{type(thing).__qualname__}" for thing in gc.garbage
        )
        with open(_cycles_path, "w") as report:
            for kind, count in sorted(kinds.items()):
                if kind.startswith("switchboard."):
                    report.write(f"{count} {kind}\n")

    atexit.register(_report)
