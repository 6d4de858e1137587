"""What live-event listeners cost call handling: ``bench/calls.py``'s signalling-only calls
(a: INVITE with digest, 180, 200, the direct-media re-INVITEs, BYE after 500 ms) at a fixed
rate through one server with the HTTP API on, in one SIPp run cut into phases that
alternate without and with N WebSocket listeners on /api/events taking every event.

Each phase's figure is the server's CPU (user + system of its process, which includes the
loopback delivery of what it writes) over the phase, per call set up inside it. Phases
alternate every ``--phase-seconds`` after an uncounted warm-up, so load from other work on
the shared machine, which comes and goes over seconds to minutes, falls on both sides
alike; the listeners connect before a "with" phase opens and close after it ends, so
their handshakes are not counted. The last line is the median over the pairs (a phase
without, the phase with just after it) of with/without CPU per call (the DoD: within 5 %);
the ratio of the two sides' medians is printed too. A call's CallEnded comes 500 ms after
its setup, so a phase's last calls report theirs in the next phase: phases of 4 s or more
keep that small, and it runs both ways.

Processes and cores (``taskset``): the server on core 0 (``register.SERVER_CORE``), both
SIPps on core 1 (``register.SIPP_CORE``), the listeners in one child process on
``--listener-core`` (default: core 1, at niceness 10, so they never take the server's core;
the SIPp and listener CPU figures show whether they crowd SIPp). The listeners are a bare
client that only counts frames, and take every event (no filter: the most the fan-out can
be asked to do).

Run: ``.venv/bin/python bench/api_overhead.py [--ws-listeners 10] [--rate 100]
[--pairs 6] [--phase-seconds 4]``. Needs ``sipp``; 127.0.0.1 only; ports as in calls.py.
"""

from __future__ import annotations

import argparse
import base64
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
import calls  # the call benchmark's server, SIPp and measurement helpers
import register

HERE = Path(__file__).resolve().parent

LISTENER_NICE = 10

KEPT_UP_MS = 500.0
"""A phase's p99 setup time above this (SIPp's first INVITE retransmission) means the
server had a backlog, or SIPp's packets were lost: its CPU per call is then not a
steady-state figure, and its pair is left out of the headline."""


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
    setup_ms: list[float] = field(default_factory=list)

    @property
    def per_call(self) -> float:
        """Server CPU seconds per call set up in the phase."""
        return self.cpu / max(self.calls, 1)

    @property
    def kept_up(self) -> bool:
        """Whether the server kept up with the calls (see ``KEPT_UP_MS``)."""
        return bool(self.setup_ms) and quantile(self.setup_ms, 0.99) <= KEPT_UP_MS


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
        side = "without" if number % 2 == 0 else "with"
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
    parser.add_argument("--warmup", type=float, default=2.0, help="uncounted seconds first")
    parser.add_argument(
        "--listener-core", default=calls.SIPP_CORE, help="core of the listener process"
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="niceness of the server and SIPp, as bench/register.py --nice (root for < 0)",
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
    pairs = list(zip(sides["without"], sides["with"], strict=False))
    ratios = [w.per_call / wo.per_call for wo, w in pairs]
    kept = [ratio for (wo, w), ratio in zip(pairs, ratios, strict=True) if wo.kept_up and w.kept_up]
    print(
        "ratio_cpu_per_call_by_pair: "
        + " ".join(
            f"{ratio:.3f}{'' if wo.kept_up and w.kept_up else '*'}"
            for (wo, w), ratio in zip(pairs, ratios, strict=True)
        )
        + f" x (* p99 setup over {KEPT_UP_MS:.0f} ms in the pair: left out)"
    )
    print(f"pairs_kept_up: {len(kept)} of {len(pairs)}")
    print(f"ratio_all_pairs_median: {statistics.median(ratios):.3f} x")
    headline = f"{statistics.median(kept):.3f}" if kept else "nan"
    print(f"ratio_cpu_per_call_with_{args.ws_listeners}_ws_vs_without: {headline} x")
    return 0


def quantile(values: list[float], q: float) -> float:
    """Quantile ``q`` of ``values`` (nan when empty)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


if __name__ == "__main__":
    raise SystemExit(main())
