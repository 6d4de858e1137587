"""What live-event listeners cost call handling: ``bench/calls.py``'s signalling-only calls
(a: INVITE with digest, 180, 200, the direct-media re-INVITEs, BYE after 500 ms) at a fixed
rate through one server with the HTTP API on, in one SIPp run cut into phases that
alternate without and with N WebSocket listeners on /api/events taking every event.

Each phase's figure is the server's CPU (user + system of its process, which includes the
loopback delivery of what it writes) over the phase, per call set up inside it. After an
uncounted warm-up of 35 s (a UDP transaction lives 32 s, so only then does the server's
cost per call settle), phases of ``--phase-seconds`` follow in the order without, with,
with, without, ...: each pair of phases holds one of each side, in both orders in turn, so
load from other work on the shared machine falls on both sides alike and a steady drift
cancels. The listeners connect before a "with" phase opens and close after it ends, so
their handshakes are not counted. A phase whose p99 setup went over ``KEPT_UP_MS`` or
that set up fewer than ``KEPT_UP_SHARE`` of the calls offered (the server had a backlog,
or SIPp retransmitted) is shown but left out: its calls and its CPU no longer line up.
The last line is the median, over the pairs where both phases kept up, of the with/without
ratio of CPU per call (the DoD: within 5 %): one burst of other work landing on one phase
does not move it. The ratio of each side's CPU seconds over its calls across the phases
kept is printed too. A call's CallEnded comes 500 ms after its setup, so a phase's last
calls report theirs in the next phase: phases of 4 s or more keep that small, and it runs
both ways. The phase-to-phase spread on the shared 2-core machine is about 10 %, so a
figure from few pairs is only good to a few per cent: ``--pairs 12`` or more.

Processes and cores (``taskset``): the server on core 0 (``register.SERVER_CORE``), both
SIPps on core 1 (``register.SIPP_CORE``), the listeners in one child process on
``--listener-core`` (default: core 1, at niceness 10, so they never take the server's core;
the SIPp and listener CPU figures show whether they crowd SIPp). The listeners are a bare
client that only counts frames, and take every event (no filter: the most the fan-out can
be asked to do).

``--in-process`` measures the fan-out alone instead (see :func:`in_process`).

Run: ``.venv/bin/python bench/api_overhead.py [--ws-listeners 10] [--rate 100]
[--pairs 6] [--phase-seconds 4] [--nice -10] [--in-process]``. Needs ``sipp``; 127.0.0.1
only; ports as in calls.py.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import functools
import os
import resource
import secrets
import select
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import uvloop
from fastapi import FastAPI

from switchboard.api import events_ws
from switchboard.api.fanout import EventFanout
from switchboard.api.http import HttpServer
from switchboard.config.http import default_http
from switchboard.core.events import Event, EventBus
from switchboard.services.calls.events import CallAnswered, CallEnded, CallRinging, CallStarted
from switchboard.store.contacts import sqlite_engine
from switchboard.store.tokens import SqlTokenStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
import calls  # the call benchmark's server, SIPp and measurement helpers
import register

HERE = Path(__file__).resolve().parent

LISTENER_NICE = 10

KEPT_UP_MS = 500.0
"""A phase's p99 setup time above this (SIPp's first INVITE retransmission) means the
server had a backlog, or SIPp's packets were lost: its CPU per call is then not a
steady-state figure, and its pair is left out of the headline."""

KEPT_UP_SHARE = 0.9
"""Nor is it when fewer calls than this share of the rate were set up in the phase."""

ORDER = ("without", "with", "with", "without")
"""The phases' sides, repeated: each pair of phases holds one of each, in both orders
in turn, so a steady rise or fall of the server's cost over the run cancels out."""


def frames_in(buffer: bytearray) -> int:
    """Count and remove the whole unmasked frames at the start of ``buffer``."""
    count = 0
    offset = 0
    while len(buffer) - offset >= 2:
        size = buffer[offset + 1] & 0x7F
        header = 2 if size < 126 else 4 if size == 126 else 10
        if len(buffer) - offset < header:
            break
        if size == 126:
            size = int.from_bytes(buffer[offset + 2 : offset + 4], "big")
        elif size == 127:
            size = int.from_bytes(buffer[offset + 2 : offset + 10], "big")
        if len(buffer) - offset < header + size:
            break
        offset += header + size
        count += 1
    del buffer[:offset]
    return count


def listen(url: str, count: int, limit: float) -> None:
    """Child process: on ``on`` (a line on stdin) open ``count`` WebSockets on ``url``, on
    ``off`` close them, each answered with the same word on stdout once done; at ``quit``
    (or EOF, or after ``limit`` seconds) print the frames seen and its CPU seconds.

    A bare client (handshake, then count frames in the bytes, one select loop), so that
    what the listeners cost their own core stays small next to SIPp's."""
    host_port, _, path = url.removeprefix("ws://").partition("/")
    host, _, port = host_port.partition(":")
    chooser = selectors.DefaultSelector()
    chooser.register(sys.stdin, selectors.EVENT_READ)
    buffers: dict[socket.socket, bytearray] = {}
    frames = 0
    deadline = time.monotonic() + limit

    def open_one() -> socket.socket:
        sock = socket.create_connection((host, int(port)), timeout=10)
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        sock.sendall(
            f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 4096:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(head.decode(errors="replace"))
        buffers[sock] = bytearray(head.partition(b"\r\n\r\n")[2])
        sock.setblocking(False)
        chooser.register(sock, selectors.EVENT_READ)
        return sock

    def close_all() -> None:
        for sock in list(buffers):
            chooser.unregister(sock)
            sock.close()
        buffers.clear()

    def answer(word: str) -> None:
        sys.stdout.write(word + "\n")
        sys.stdout.flush()

    running = True
    while running and time.monotonic() < deadline:
        for key, _ in chooser.select(timeout=1.0):
            if key.fileobj is sys.stdin:
                command = sys.stdin.readline().strip()
                if command == "on":
                    for _ in range(count):
                        open_one()
                    answer("on")
                elif command == "off":
                    close_all()
                    answer("off")
                else:
                    running = False
                continue
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                data = sock.recv(262144)
            except BlockingIOError:
                continue
            buffers[sock] += data
            frames += frames_in(buffers[sock])
    close_all()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    answer(f"{frames} {usage.ru_utime + usage.ru_stime}")


class Listeners:
    """The listener child process, pinned to ``core`` at niceness ``LISTENER_NICE``,
    switched on and off by the benchmark."""

    def __init__(self, url: str, count: int, core: str, limit: float) -> None:
        self.process = subprocess.Popen(
            [
                *("taskset", "-c", core),
                *("nice", "-n", str(LISTENER_NICE)),
                sys.executable,
                __file__,
                *("--listen", url),
                *("--ws-listeners", str(count)),
                *("--limit", str(limit)),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def tell(self, command: str, timeout: float = 20) -> str:
        """Send ``command``; the child's one-line answer."""
        assert self.process.stdin is not None and self.process.stdout is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"the listeners exited ({self.process.returncode})")
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            raise RuntimeError(f"the listeners did not answer {command!r}")
        return self.process.stdout.readline().strip()

    def stop(self) -> tuple[int, float]:
        """Stop them: the frames they received and the CPU seconds they used."""
        if self.process.poll() is not None:
            return 0, 0.0
        try:
            frames, cpu = self.tell("quit").split()
        finally:
            self.process.wait(timeout=20)
        return int(frames), float(cpu)


@dataclass
class Phase:
    """A stretch of the run without or with the listeners, and the server CPU it took."""

    side: str
    start: float
    """Wall-clock time it opened (after the listeners were switched)."""
    end: float = 0.0
    cpu: float = 0.0
    calls: int = 0
    """Calls set up inside it."""
    offered: float = 0.0
    """Calls SIPp placed over the phase's span at its rate."""
    setup_ms: list[float] = field(default_factory=list)

    @property
    def per_call(self) -> float:
        """Server CPU seconds per call set up in the phase."""
        return self.cpu / max(self.calls, 1)

    @property
    def kept_up(self) -> bool:
        """Whether the server kept up with the calls (see ``KEPT_UP_MS``)."""
        return (
            bool(self.setup_ms)
            and quantile(self.setup_ms, 0.99) <= KEPT_UP_MS
            and self.calls >= KEPT_UP_SHARE * self.offered
        )


class Phases:
    """The ``during`` actions of the one SIPp run: at each boundary, close the open phase,
    switch the listeners for the next one, and open it."""

    def __init__(self, server: register.Server, listeners: Listeners, count: int) -> None:
        self.server = server
        self.listeners = listeners
        self.count = count
        self.done: list[Phase] = []
        self.open: Phase | None = None
        self.open_cpu = 0.0
        self.listening = False
        self.error: Exception | None = None
        """What went wrong switching the listeners (raised once SIPp is done)."""

    def boundary(self, number: int) -> None:
        if self.error is not None:
            return
        try:
            self._boundary(number)
        except (OSError, RuntimeError) as error:
            self.error = error

    def _boundary(self, number: int) -> None:
        cpu, now = self.server.cpu_seconds(), time.time()
        if self.open is not None:
            self.open.end, self.open.cpu = now, cpu - self.open_cpu
            self.done.append(self.open)
            self.open = None
        side = ORDER[number % len(ORDER)]
        wanted = side == "with" and number < self.count
        if wanted != self.listening:
            self.listeners.tell("on" if wanted else "off")
            self.listening = wanted
        if number < self.count:
            self.open_cpu, self.open = self.server.cpu_seconds(), Phase(side, time.time())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ws-listeners", type=int, default=10)
    parser.add_argument("--rate", type=int, default=100, help="calls per second")
    parser.add_argument("--pairs", type=int, default=6, help="phases without and with")
    parser.add_argument("--phase-seconds", type=float, default=4.0)
    parser.add_argument(
        "--warmup",
        type=float,
        default=35.0,
        help="uncounted seconds first: a UDP transaction lives 32 s (Timer J), so the "
        "server's cost per call only settles after that",
    )
    parser.add_argument(
        "--listener-core", default=calls.SIPP_CORE, help="core of the listener process"
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="niceness of the server and SIPp, as bench/register.py --nice (root for < 0)",
    )
    parser.add_argument(
        "--in-process", action="store_true", help="the fan-out alone, in this process"
    )
    parser.add_argument("--keep", type=Path, help="keep the work folder here")
    parser.add_argument("--listen", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=float, default=600, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.listen:
        listen(args.listen, args.ws_listeners, args.limit)
        return 0
    if args.pairs < 1 or args.phase_seconds < 1:
        parser.error("--pairs must be at least 1 and --phase-seconds at least 1")
    register.set_nice(args.nice)
    if args.in_process:
        return in_process(args)
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-api-"))
    work.mkdir(parents=True, exist_ok=True)
    passwords = {name: secrets.token_urlsafe(18) for name in ("caller", "callee")}
    ports: set[int] = set()
    port, http_port = calls.sip_port(ports), calls.sip_port(ports)
    uac_port, uas_port = calls.sip_port(ports), calls.sip_port(ports)
    target = f"127.0.0.1:{port}"
    config, state = work / "config", work / "state"
    calls.write_config(config, port, passwords, direct=True)
    (config / "http.conf").write_text(
        f"[general]\nenabled=yes\nbindaddr=127.0.0.1\nbindport={http_port}\n"
    )
    script = Path(sys.executable).with_name("switchboard")
    token = subprocess.run(
        [str(script), "api-token", "create", "bench", "--state-dir", str(state)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    url = f"ws://127.0.0.1:{http_port}/api/events?token={token}"
    count = 2 * args.pairs
    seconds = args.warmup + count * args.phase_seconds + 1
    load_before = os.getloadavg()
    server = register.serve(config, state, work / "switchboard.log")
    listeners = Listeners(url, args.ws_listeners, args.listener_core, seconds + 120)
    phases = Phases(server, listeners, count)
    frames, listener_cpu = 0, 0.0
    try:
        calls.register_user(work, port, uas_port, "callee", passwords["callee"])
        calls.register_user(work, port, uac_port, "caller", passwords["caller"])
        uac_xml = calls.scenario(work, "calls_uac", direct=True, media=None)
        uas_xml = calls.scenario(work, "calls_uas", direct=True, media=None)
        callee = calls.start_callee(work, target, uas_port, uas_xml, budget=seconds + 60)
        sipp_before = calls.sipp_cpu_seconds()
        try:
            step = calls.run_uac(
                server,
                target,
                work / "run",
                uac_xml,
                local_port=uac_port,
                rate=args.rate,
                calls=int(args.rate * seconds),
                hold_ms=500,
                password=passwords["caller"],
                during=[
                    (args.warmup + n * args.phase_seconds, functools.partial(phases.boundary, n))
                    for n in range(count + 1)
                ],
            )
            sipp_cpu = (calls.sipp_cpu_seconds() - sipp_before) / step.wall_seconds
            if phases.error is not None:
                raise phases.error
        finally:
            callee.stop()
    finally:
        try:
            frames, listener_cpu = listeners.stop()
        finally:
            server.stop()
            if args.keep is None:
                shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()
    done = phases.done
    for phase in done:
        start, end = phase.start - step.started, phase.end - step.started
        phase.offered = args.rate * (end - start)
        for at, ms in zip(step.setup_at, step.setup_ms, strict=True):
            if start <= at < end:
                phase.calls += 1
                phase.setup_ms.append(ms)
        print(
            f"# {phase.side:>7} {start:5.1f}-{end:5.1f} s: {phase.calls} calls, "
            f"{phase.per_call * 1e6:.0f} us server CPU per call, "
            f"p99 setup {quantile(phase.setup_ms, 0.99):.0f} ms",
            file=sys.stderr,
        )
    sides = {side: [p for p in done if p.side == side] for side in ("without", "with")}
    if not sides["with"]:
        print("the run ended before a phase with listeners", file=sys.stderr)
        return 1
    print(
        f"cores: server {register.SERVER_CORE}, SIPp {calls.SIPP_CORE}, "
        f"listeners {args.listener_core} (nice {LISTENER_NICE}); server and SIPp at nice "
        f"{args.nice}"
    )
    figures: dict[str, float] = {}
    for side, found in sides.items():
        label = "without_ws" if side == "without" else f"with_{args.ws_listeners}_ws"
        figures[side] = statistics.median(p.per_call for p in found)
        print(f"{label}_cpu_per_call: {figures[side] * 1e6:.0f} us")
        print(f"{label}_cpu_per_call_phases: " + " ".join(f"{p.per_call * 1e6:.0f}" for p in found))
        setup = statistics.median(quantile(p.setup_ms, 0.5) for p in found)
        print(f"{label}_p50_setup: {setup:.2f} ms")
        print(f"{label}_calls: {sum(p.calls for p in found)}")
    print(f"failed_calls: {step.calls - step.successful} of {step.calls}")
    print(f"retransmissions: {step.retransmissions}")
    print(f"sipp_cpu: {sipp_cpu:.2f} cores")
    print(f"ws_frames_received: {frames} frames")
    print(f"ws_listener_process_cpu: {listener_cpu:.2f} s")
    print(f"load_average_1min: {load_before[0]:.2f} before, {load_after[0]:.2f} after")
    pairs = [
        (first, second) if first.side == "without" else (second, first)
        for first, second in zip(done[::2], done[1::2], strict=False)
    ]
    ratios = [w.per_call / wo.per_call for wo, w in pairs]
    print(
        "ratio_cpu_per_call_by_pair: "
        + " ".join(
            f"{ratio:.3f}{'' if wo.kept_up and w.kept_up else '*'}"
            for (wo, w), ratio in zip(pairs, ratios, strict=True)
        )
        + " x (* a phase that did not keep up)"
    )
    kept = {side: [p for p in found if p.kept_up] for side, found in sides.items()}
    print(
        f"phases_kept_up: {len(kept['without'])} of {len(sides['without'])} without, "
        f"{len(kept['with'])} of {len(sides['with'])} with"
    )
    if not kept["without"] or not kept["with"]:
        print(f"ratio_cpu_per_call_with_{args.ws_listeners}_ws_vs_without: nan x")
        return 1
    pooled = {
        side: sum(p.cpu for p in found) / max(sum(p.calls for p in found), 1)
        for side, found in kept.items()
    }
    print(f"without_ws_cpu_per_call_kept_up: {pooled['without'] * 1e6:.0f} us")
    print(f"with_{args.ws_listeners}_ws_cpu_per_call_kept_up: {pooled['with'] * 1e6:.0f} us")
    print(f"ratio_pooled_kept_up: {pooled['with'] / pooled['without']:.3f} x")
    print(f"ratio_paired_median_all_pairs: {statistics.median(ratios):.3f} x")
    both = [r for (wo, w), r in zip(pairs, ratios, strict=True) if wo.kept_up and w.kept_up]
    print(f"pairs_kept_up: {len(both)} of {len(pairs)}")
    headline = f"{statistics.median(both):.3f}" if both else "nan"
    print(f"ratio_cpu_per_call_with_{args.ws_listeners}_ws_vs_without: {headline} x")
    return 0


def call_events(number: int) -> list[Event]:
    """One call's events as the engine publishes them (what the listeners got per call)."""
    uniqueid = f"1764280000.{number}"
    caller, callee = f"PJSIP/caller-{number:08x}", f"PJSIP/callee-{number:08x}"
    return [
        CallStarted(uniqueid, caller, "caller", "100", "from-internal"),
        CallRinging(uniqueid, callee, "caller", "caller"),
        CallAnswered(uniqueid, callee, caller),
        CallAnswered(uniqueid, caller, callee),
        CallEnded(uniqueid, caller, 16, "ANSWERED", 0, 0),
    ]


def in_process(args: argparse.Namespace) -> int:
    """``--in-process``: the fan-out alone, without SIPp or calls: the API's real uvicorn
    server, WebSocket protocol and fan-out in this process, pinned to the server core,
    publishing one call's events every 1/rate s, in phases without and with the same
    listener child. The with-minus-without CPU per call is what the listeners cost by
    construction, with none of the call benchmark's noise."""
    os.sched_setaffinity(0, {int(register.SERVER_CORE)})
    return uvloop.run(_in_process(args))


async def _in_process(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-api-"))
    bus = EventBus()
    fanout = EventFanout(bus)
    tokens = SqlTokenStore(sqlite_engine(str(work / "state.db")))
    app = FastAPI()
    app.include_router(events_ws.router)
    app.state.context = SimpleNamespace(tokens=tokens, fanout=fanout)
    server = HttpServer(app, dataclasses.replace(default_http(), enabled=True, bindport=0))
    await server.start()
    url = f"ws://127.0.0.1:{server.port}/api/events?token={tokens.create('bench')}"
    count = int(args.rate * args.phase_seconds)
    listeners = Listeners(url, args.ws_listeners, args.listener_core, 4 * args.pairs * 60)
    per_call: dict[str, list[float]] = {"without": [], "with": []}
    loop = asyncio.get_running_loop()
    try:
        for number in range(2 * args.pairs + 1):
            side = "without" if number % 2 == 0 else "with"
            if number:  # the server answers the handshakes meanwhile
                await asyncio.to_thread(listeners.tell, "on" if side == "with" else "off")
            usage = resource.getrusage(resource.RUSAGE_SELF)
            before = usage.ru_utime + usage.ru_stime
            start = loop.time()
            for call in range(count):
                await asyncio.sleep(max(start + call / args.rate - loop.time(), 0))
                for event in call_events(call):
                    bus.publish(event)
            await asyncio.sleep(0.1)
            usage = resource.getrusage(resource.RUSAGE_SELF)
            if number:  # the first phase warms up
                per_call[side].append((usage.ru_utime + usage.ru_stime - before) / count)
    finally:
        frames, _ = await asyncio.to_thread(listeners.stop)
        await server.close()
        shutil.rmtree(work, ignore_errors=True)
    for side, values in per_call.items():
        print(f"in_process_{side}_cpu_per_call: " + " ".join(f"{v * 1e6:.0f}" for v in values))
    cost = statistics.median(per_call["with"]) - statistics.median(per_call["without"])
    print(f"ws_frames_received: {frames} frames")
    print(f"in_process_fanout_cpu_per_call_{args.ws_listeners}_ws: {cost * 1e6:.0f} us")
    return 0


def quantile(values: list[float], q: float) -> float:
    """Quantile ``q`` of ``values`` (nan when empty)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


if __name__ == "__main__":
    raise SystemExit(main())
