"""What live-event listeners cost call handling: ``bench/calls.py``'s signalling-only calls
(a), at a fixed rate, against one server with the HTTP API on, alternately without and with
N WebSocket listeners on /api/events taking every event.

Figures: server CPU per call and SIPp's setup time (INVITE to 200, both round trips) for
each side, as the median over the rounds; the last line is the with/without ratio of CPU
per call (the DoD: within 5 %). Rounds alternate (without, with, without, with, ...) so
drift on the shared machine falls on both sides. The listeners run in one child process
pinned to the SIPp core at a lower priority (niceness 10), a bare client that only counts
frames, and take every event (no filter: the most the fan-out can be asked to do).

Run: ``.venv/bin/python bench/api_overhead.py [--ws-listeners 10] [--rate 100]
[--seconds 8] [--rounds 3]``. Needs ``sipp``; 127.0.0.1 only; ports as in calls.py.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import calls  # the call benchmark's server, SIPp and measurement helpers
import register

HERE = Path(__file__).resolve().parent


def frames_in(buffer: bytearray) -> int:
    """Count and remove the whole unmasked frames at the start of ``buffer``."""
    count = 0
    while len(buffer) >= 2:
        size = buffer[1] & 0x7F
        header = 2 if size < 126 else 4 if size == 126 else 10
        if len(buffer) < header:
            break
        if size == 126:
            size = int.from_bytes(buffer[2:4], "big")
        elif size == 127:
            size = int.from_bytes(buffer[2:10], "big")
        if len(buffer) < header + size:
            break
        del buffer[: header + size]
        count += 1
    return count


def listen(url: str, count: int, report: Path) -> None:
    """Child process: ``count`` WebSockets on ``url`` until SIGTERM; writes frames seen.

    A bare client (handshake, then count frames in the bytes): the listeners share the
    SIPp core, so what they cost must not slow the phones and blur the server's figure."""
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
        while data := await reader.read(65536):
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
        await stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())
    report.write_text(str(frames))


class Listeners:
    """The listener child process."""

    def __init__(self, url: str, count: int, work: Path) -> None:
        self.report = work / f"listeners-{time.monotonic_ns()}.txt"
        self.process = subprocess.Popen(
            [
                *register.pinned(calls.SIPP_CORE),
                *("nice", "-n", "10"),
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

    def stop(self) -> int:
        """Stop them; the frames they received."""
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=20)
        return int(self.report.read_text()) if self.report.exists() else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ws-listeners", type=int, default=10)
    parser.add_argument("--rate", type=int, default=100, help="calls per second")
    parser.add_argument("--seconds", type=float, default=8.0, help="per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per side")
    parser.add_argument("--keep", type=Path, help="keep the work folder here")
    parser.add_argument("--listen", help=argparse.SUPPRESS)
    parser.add_argument("--report", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.listen:
        listen(args.listen, args.ws_listeners, args.report)
        return 0
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
    server = register.serve(config, state, work / "switchboard.log")
    sides: dict[str, list[calls.Step]] = {"without": [], "with": []}
    frames = 0
    try:
        calls.register_user(work, port, uas_port, "callee", passwords["callee"])
        calls.register_user(work, port, uac_port, "caller", passwords["caller"])
        uac_xml = calls.scenario(work, "calls_uac", direct=True, media=None)
        uas_xml = calls.scenario(work, "calls_uas", direct=True, media=None)
        budget = args.rounds * 2 * (args.seconds + 30) + 60
        callee = calls.start_callee(work, target, uas_port, uas_xml, budget=budget)
        try:
            for round_ in range(args.rounds * 2):
                side = "without" if round_ % 2 == 0 else "with"
                listeners = Listeners(url, args.ws_listeners, work) if side == "with" else None
                try:
                    step = calls.run_uac(
                        server,
                        target,
                        work / f"round-{round_}-{side}",
                        uac_xml,
                        local_port=uac_port,
                        rate=args.rate,
                        calls=int(args.rate * args.seconds),
                        hold_ms=500,
                        password=passwords["caller"],
                    )
                finally:
                    if listeners is not None:
                        frames += listeners.stop()
                calls.describe(f"{side} listeners", step)
                sides[side].append(step)
        finally:
            callee.stop()
    finally:
        server.stop()
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    figures: dict[str, float] = {}
    for side, steps in sides.items():
        label = "without_ws" if side == "without" else f"with_{args.ws_listeners}_ws"
        per_call = statistics.median(s.cpu_seconds / max(s.successful, 1) for s in steps)
        setup = statistics.median(s.p(0.5) for s in steps)
        failed = sum(s.calls - s.successful for s in steps)
        figures[side] = per_call
        print(f"{label}_cpu_per_call: {per_call * 1e6:.0f} us")
        print(f"{label}_p50_setup: {setup:.2f} ms")
        print(f"{label}_failed_calls: {failed}")
    print(f"ws_frames_received: {frames} frames")
    print(
        f"ratio_cpu_per_call_with_{args.ws_listeners}_ws_vs_without: "
        f"{figures['with'] / figures['without']:.3f} x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
