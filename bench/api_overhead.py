"""What live-event listeners cost call handling: ``bench/calls.py``'s signalling-only calls
(a), at a fixed rate, against one server with the HTTP API on, alternately without and with
N WebSocket listeners on /api/events taking every event.

The headline is the server's CPU per call in the steady part of each round (from
``WINDOW_START`` seconds after SIPp starts until it has placed its last call, over the
calls set up in that window), as the median over the rounds; the last line is the
with/without ratio of it (the DoD: within 5 %). The ratio of each with-round to the
without-round just before it is printed too: drifting load affects it less. The window
leaves out the ramp and the tail, where a single call SIPp gives up on stretches the round
by its 10 s receive timeout and would charge the server's idle CPU of that time to the side
it fell on; the whole-round figure is printed too. Rounds alternate (without, with,
without, with, ...) after an uncounted warm-up, so drift on the shared machine falls on
both sides.

Processes and cores (``taskset``): the server on core 0 (``register.SERVER_CORE``), both
SIPps on core 1 (``register.SIPP_CORE``), the listeners in one child process on
``--listener-core`` (default: core 1, at niceness 10, so they never take the server's core;
the SIPp CPU figure shows whether they crowd SIPp). The listeners are a bare client that
only counts frames and take every event (no filter: the most the fan-out can be asked to
do); the CPU they used is printed.

Run: ``.venv/bin/python bench/api_overhead.py [--ws-listeners 10] [--rate 100]
[--seconds 8] [--rounds 3]``. Needs ``sipp``; 127.0.0.1 only; ports as in calls.py.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import calls  # the call benchmark's server, SIPp and measurement helpers
import register

HERE = Path(__file__).resolve().parent

WINDOW_START = 1.5
"""Seconds after SIPp starts when the measured window opens (the ramp is over)."""

LISTENER_NICE = 10


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


def listen(url: str, count: int, report: Path) -> None:
    """Child process: ``count`` WebSockets on ``url`` until SIGTERM; then writes the frames
    seen and the CPU seconds it used to ``report``.

    A bare client (handshake, then count frames in the bytes), so that what the listeners
    cost their own core stays small next to SIPp's."""
    host_port, _, path = url.removeprefix("ws://").partition("/")
    host, _, port = host_port.partition(":")
    frames = 0
    stop = asyncio.Event()

    async def one() -> None:
        nonlocal frames
        reader, writer = await asyncio.open_connection(host, int(port))
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        writer.write(
            f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(head.decode(errors="replace"))
        buffer = bytearray()
        while data := await reader.read(262144):
            buffer += data
            frames += frames_in(buffer)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        tasks = [asyncio.create_task(one()) for _ in range(count)]
        await asyncio.sleep(0.5)
        for task in tasks:
            if task.done():
                task.result()
        report.with_suffix(".ready").write_text("ok")
        await asyncio.wait_for(stop.wait(), 600)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    report.write_text(f"{frames} {usage.ru_utime + usage.ru_stime}")


class Listeners:
    """The listener child process, pinned to ``core`` at niceness ``LISTENER_NICE``."""

    def __init__(self, url: str, count: int, work: Path, core: str) -> None:
        self.report = work / f"listeners-{time.monotonic_ns()}.txt"
        self.process = subprocess.Popen(
            [
                *("taskset", "-c", core),
                *("nice", "-n", str(LISTENER_NICE)),
                sys.executable,
                __file__,
                "--listen",
                url,
                "--ws-listeners",
                str(count),
                "--report",
                str(self.report),
            ]
        )
        calls.wait_until(
            lambda: self.report.with_suffix(".ready").exists(), 20, "the WebSocket listeners"
        )

    def stop(self) -> tuple[int, float]:
        """Stop them: the frames they received and the CPU seconds they used."""
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=20)
        if not self.report.exists():
            return 0, 0.0
        frames, cpu = self.report.read_text().split()
        return int(frames), float(cpu)


@dataclass
class Round:
    """One SIPp run and what was measured over its steady window."""

    side: str
    step: calls.Step
    window_cpu: float = 0.0
    window_seconds: float = 0.0
    window_calls: int = 0
    sipp_cpu: float = 0.0
    listener_cpu: float = 0.0
    frames: int = 0

    @property
    def per_call(self) -> float:
        """Server CPU seconds per call set up in the window."""
        return self.window_cpu / max(self.window_calls, 1)

    @property
    def per_call_whole(self) -> float:
        """Server CPU seconds per successful call over the whole run, tail included."""
        return self.step.cpu_seconds / max(self.step.successful, 1)


def run_round(
    side: str,
    server: register.Server,
    folder: Path,
    *,
    target: str,
    xml: Path,
    args: argparse.Namespace,
    uac_port: int,
    password: str,
) -> Round:
    """One UAC run with CPU marks at the window's edges."""
    marks: dict[str, float] = {}

    def mark(name: str) -> None:
        marks[f"cpu{name}"], marks[f"t{name}"] = server.cpu_seconds(), time.monotonic()
        marks[f"sipp{name}"] = calls.sipp_cpu_seconds()

    step = calls.run_uac(
        server,
        target,
        folder,
        xml,
        local_port=uac_port,
        rate=args.rate,
        calls=int(args.rate * args.seconds),
        hold_ms=500,
        password=password,
        during=[(WINDOW_START, lambda: mark("0")), (args.seconds, lambda: mark("1"))],
    )
    result = Round(side, step)
    if "t1" in marks:
        result.window_cpu = marks["cpu1"] - marks["cpu0"]
        result.window_seconds = marks["t1"] - marks["t0"]
        result.sipp_cpu = (marks["sipp1"] - marks["sipp0"]) / result.window_seconds
        result.window_calls = sum(WINDOW_START <= at < args.seconds for at in step.setup_at)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ws-listeners", type=int, default=10)
    parser.add_argument("--rate", type=int, default=100, help="calls per second")
    parser.add_argument("--seconds", type=float, default=8.0, help="per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per side")
    parser.add_argument("--warmup", type=float, default=2.0, help="uncounted seconds first")
    parser.add_argument(
        "--listener-core", default=calls.SIPP_CORE, help="core of the listener process"
    )
    parser.add_argument("--keep", type=Path, help="keep the work folder here")
    parser.add_argument("--listen", help=argparse.SUPPRESS)
    parser.add_argument("--report", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.listen:
        listen(args.listen, args.ws_listeners, args.report)
        return 0
    if args.seconds <= WINDOW_START + 1:
        parser.error(f"--seconds must be over {WINDOW_START + 1}")
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
    load_before = os.getloadavg()
    server = register.serve(config, state, work / "switchboard.log")
    sides: dict[str, list[Round]] = {"without": [], "with": []}
    try:
        calls.register_user(work, port, uas_port, "callee", passwords["callee"])
        calls.register_user(work, port, uac_port, "caller", passwords["caller"])
        uac_xml = calls.scenario(work, "calls_uac", direct=True, media=None)
        uas_xml = calls.scenario(work, "calls_uas", direct=True, media=None)
        budget = args.rounds * 2 * (args.seconds + 30) + args.warmup + 90
        callee = calls.start_callee(work, target, uas_port, uas_xml, budget=budget)
        try:
            if args.warmup > 0:
                calls.run_uac(
                    server,
                    target,
                    work / "warmup",
                    uac_xml,
                    local_port=uac_port,
                    rate=args.rate,
                    calls=int(args.rate * args.warmup),
                    hold_ms=500,
                    password=passwords["caller"],
                )
            for number in range(args.rounds * 2):
                side = "without" if number % 2 == 0 else "with"
                listeners = (
                    Listeners(url, args.ws_listeners, work, args.listener_core)
                    if side == "with"
                    else None
                )
                frames, listener_cpu = 0, 0.0
                try:
                    result = run_round(
                        side,
                        server,
                        work / f"round-{number}-{side}",
                        target=target,
                        xml=uac_xml,
                        args=args,
                        uac_port=uac_port,
                        password=passwords["caller"],
                    )
                finally:
                    if listeners is not None:
                        frames, listener_cpu = listeners.stop()
                result.frames, result.listener_cpu = frames, listener_cpu
                calls.describe(f"{side} listeners", result.step)
                print(
                    f"#   window {result.window_seconds:.1f} s, {result.window_calls} calls: "
                    f"{result.per_call * 1e6:.0f} us server CPU per call "
                    f"({result.per_call_whole * 1e6:.0f} over the whole run), "
                    f"SIPp {result.sipp_cpu:.2f} cores, "
                    f"{result.step.retransmissions} retransmissions",
                    file=sys.stderr,
                )
                sides[side].append(result)
        finally:
            callee.stop()
    finally:
        server.stop()
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()
    print(
        f"cores: server {register.SERVER_CORE}, SIPp {calls.SIPP_CORE}, "
        f"listeners {args.listener_core} (nice {LISTENER_NICE})"
    )
    figures: dict[str, float] = {}
    for side, rounds in sides.items():
        label = "without_ws" if side == "without" else f"with_{args.ws_listeners}_ws"
        per_call = [r.per_call for r in rounds]
        figures[side] = statistics.median(per_call)
        figures[f"{side}_whole"] = statistics.median(r.per_call_whole for r in rounds)
        print(f"{label}_cpu_per_call: {figures[side] * 1e6:.0f} us")
        print(
            f"{label}_cpu_per_call_rounds: "
            + " ".join(f"{value * 1e6:.0f}" for value in per_call)
            + " us"
        )
        print(f"{label}_cpu_per_call_whole_run: {figures[f'{side}_whole'] * 1e6:.0f} us")
        print(f"{label}_p50_setup: {statistics.median(r.step.p(0.5) for r in rounds):.2f} ms")
        failed = sum(r.step.calls - r.step.successful for r in rounds)
        print(f"{label}_failed_calls: {failed} of {sum(r.step.calls for r in rounds)}")
        print(f"{label}_retransmissions: {sum(r.step.retransmissions for r in rounds)}")
        print(f"{label}_sipp_cpu: {statistics.median(r.sipp_cpu for r in rounds):.2f} cores")
    pairs = [
        w.per_call / wo.per_call
        for wo, w in zip(sides["without"], sides["with"], strict=True)
        if wo.per_call > 0
    ]
    print(
        "ratio_cpu_per_call_by_pair: "
        + " ".join(f"{ratio:.3f}" for ratio in pairs)
        + f" (median {statistics.median(pairs):.3f}) x"
    )
    rounds_with = sides["with"]
    listener_seconds = sum(r.step.wall_seconds for r in rounds_with)
    print(f"ws_frames_received: {sum(r.frames for r in rounds_with)} frames")
    print(
        "ws_listener_process_cpu: "
        f"{sum(r.listener_cpu for r in rounds_with) / max(listener_seconds, 1e-9):.3f} cores"
    )
    print(f"load_average_1min: {load_before[0]:.2f} before, {load_after[0]:.2f} after")
    print(
        f"ratio_cpu_per_call_whole_run_with_{args.ws_listeners}_ws_vs_without: "
        f"{figures['with_whole'] / figures['without_whole']:.3f} x"
    )
    print(
        f"ratio_cpu_per_call_with_{args.ws_listeners}_ws_vs_without: "
        f"{figures['with'] / figures['without']:.3f} x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
