"""Logs every cyclic garbage collection of a benchmarked server (``--gc`` in calls.py).

Python imports ``sitecustomize`` at start-up from the path; the benchmark puts this
folder on the server's PYTHONPATH and names the log in ``SWITCHBOARD_BENCH_GC_LOG``. One
line per collection: wall-clock end time, generation, seconds it took, objects it freed.
"""

from __future__ import annotations

import gc
import os
import time

_path = os.environ.get("SWITCHBOARD_BENCH_GC_LOG")
if _path:
    _log = open(_path, "a", buffering=1)  # noqa: SIM115 - open for the process's life
    _started = [0.0]

    def _note(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            _started[0] = time.perf_counter()
            return
        took = time.perf_counter() - _started[0]
        _log.write(f"{time.time():.3f} {info['generation']} {took:.6f} {info['collected']}\n")

    gc.callbacks.append(_note)
