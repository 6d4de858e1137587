"""The edge under an extension scan: what a banned scanner costs while phones keep registering.

A scanner sends REGISTER, INVITE and OPTIONS for users 100-999 (none of them configured) at
``--scan-rate`` requests/s (5,000 by default) over UDP, from a raw Python socket loop, while
SIPp registers the legitimate users from 127.0.0.1 at ``--legit-rate`` registrations/s
(digest, as ``bench/register.py`` does). After a warm-up in which every user registers
once (so that every phase measures refreshes), three phases on the same server, each
``--seconds`` long:

- ``baseline``: the legitimate registrations alone;
- ``scan``: the same, plus the scanner from 127.0.0.2 alone (the issue's case): it is
  banned after ``ban_threshold`` offences and every later request is dropped unanswered;
- ``rotating``: the same, but the scanner moves to a fresh source address (127.0.x.y)
  every ``--per-source`` requests, so the server keeps answering and banning new sources
  instead of only dropping (a distributed scan; the worst case for the edge).

Per phase: legitimate registrations succeeded/failed and their latency p50/p99 (SIPp's
rtd, REGISTER to the 200 after the challenge), server CPU (psutil, over the SIPp run),
requests sent and answered, kernel drops on the server's socket (``/proc/net/udp``), the
rate the server absorbed (sent minus dropped, over the scan's duration), server CPU per
scan request (the phase's CPU minus the baseline's, over the requests), the time to ban
(first request to the ``SourceBanned`` line, log time, millisecond resolution) and the
bans. The last lines are the legitimate p99, then the share of legitimate registrations
that succeeded, under the single-source scan over the baseline's.

The server runs on core 0, SIPp and the scanner on core 1; 127.0.0.0/8 only; every loop is
bounded by ``--seconds`` and SIPp by ``-m`` and ``-timeout``.

Run: ``.venv/bin/python bench/scan_load.py [--scan-rate 5000] [--legit-rate 200]
[--seconds 10] [--per-source 20] [--nice -10] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import os
import re
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import register  # the sibling benchmark's server and SIPp helpers

SCAN_USERS = range(100, 1000)
METHODS = ("REGISTER", "INVITE", "OPTIONS")
SCANNER = "127.0.0.2"
SCANNER_CORE = 1
RECENT_SOCKETS = 64
"""Source sockets of the rotating scan kept open to count late answers."""


def scan_request(number: int, method: str, user: int, source: tuple[str, int], port: int) -> bytes:
    """One scanner request, the way SIPVicious-like tools send them (no credentials)."""
    host, sport = source
    target = f"sip:127.0.0.1:{port}" if method == "REGISTER" else f"sip:{user}@127.0.0.1:{port}"
    return (
        f"{method} {target} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {host}:{sport};branch=z9hG4bK{number:x}scan;rport\r\n"
        f"From: <sip:{user}@127.0.0.1>;tag={number:x}\r\n"
        f"To: <sip:{user}@127.0.0.1>\r\n"
        f"Call-ID: {number:x}-scan@{host}\r\n"
        f"CSeq: 1 {method}\r\n"
        f"Contact: <sip:{user}@{host}:{sport}>\r\n"
        "Max-Forwards: 70\r\n"
        "User-Agent: friendly-scanner\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def rotating_source(index: int) -> str:
    """The ``index``-th fresh scanner address: 127.0.1.2, 127.0.1.3, ... (never 127.0.0.x)."""
    return f"127.0.{1 + index // 250}.{2 + index % 250}"


@dataclass
class ScanResult:
    sent: int = 0
    answered: int = 0
    answered_by_source: collections.Counter[str] = field(default_factory=collections.Counter)
    statuses: collections.Counter[str] = field(default_factory=collections.Counter)
    sources: list[str] = field(default_factory=list)
    started_wall: float = 0.0
    seconds: float = 0.0


def _bound(host: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.setblocking(False)
    return sock


def _drain(sockets: collections.deque[socket.socket], result: ScanResult) -> None:
    for sock in sockets:
        host = sock.getsockname()[0]
        for _ in range(10000):
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                break
            result.answered += 1
            result.answered_by_source[host] += 1
            result.statuses[data[8:11].decode(errors="replace")] += 1


def scan(port: int, rate: int, seconds: float, per_source: int | None) -> ScanResult:
    """Send ``rate`` requests/s for ``seconds``: from 127.0.0.2 alone, or from a fresh
    address every ``per_source`` requests. Answers are counted as they come."""
    result = ScanResult()
    sockets: collections.deque[socket.socket] = collections.deque()
    first = SCANNER if per_source is None else rotating_source(0)
    sockets.append(_bound(first))
    result.sources.append(first)
    users = [(method, user) for user in SCAN_USERS for method in METHODS]
    result.started_wall = time.time()
    start = time.monotonic()
    destination = ("127.0.0.1", port)
    while (elapsed := time.monotonic() - start) < seconds:
        due = min(int(elapsed * rate), int(seconds * rate))
        while result.sent < due:
            if per_source is not None and result.sent and result.sent % per_source == 0:
                source = rotating_source(len(result.sources))
                sockets.append(_bound(source))
                result.sources.append(source)
                if len(sockets) > RECENT_SOCKETS:
                    sockets.popleft().close()
            sock = sockets[-1]
            method, user = users[result.sent % len(users)]
            sock.sendto(
                scan_request(result.sent, method, user, sock.getsockname(), port), destination
            )
            result.sent += 1
        _drain(sockets, result)
        time.sleep(0.0005)
    result.seconds = time.monotonic() - start
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        _drain(sockets, result)
        time.sleep(0.01)
    for sock in sockets:
        sock.close()
    return result


def udp_drops(port: int) -> int:
    """Datagrams the kernel dropped for the socket bound to ``port`` (receive buffer full)."""
    wanted = f":{port:04X}"
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(wanted):
            return int(fields[-1])
    return 0


_BANNED = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) "
    r'.*"source": "([0-9.]+)".*"type": "SourceBanned"'
)


def bans(log: Path) -> dict[str, float]:
    """Source -> wall time of its first ``SourceBanned`` line in the server log."""
    found: dict[str, float] = {}
    for line in log.read_text(errors="replace").splitlines():
        match = _BANNED.match(line)
        if match and match.group(2) not in found:
            stamp = datetime.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")
            found[match.group(2)] = stamp.timestamp()
    return found


@dataclass
class Phase:
    name: str
    step: register.Step
    scan: ScanResult | None
    drops: int


def run_phase(
    name: str,
    server: register.Server,
    port: int,
    *,
    work: Path,
    local_port: int,
    args: argparse.Namespace,
    per_source: int | None = None,
    with_scan: bool = True,
) -> Phase:
    """The legitimate registrations for ``--seconds``, with the scanner beside them."""
    drops_before = udp_drops(port)
    outcome: list[ScanResult] = []
    scanner = threading.Thread(
        target=lambda: outcome.append(scan(port, args.scan_rate, args.seconds, per_source)),
        daemon=True,
    )
    if with_scan:
        scanner.start()
    step = register.run_step(
        server,
        port,
        work / name,
        local_port=local_port,
        rate=args.legit_rate,
        seconds=args.seconds,
    )
    if with_scan:
        scanner.join(timeout=args.seconds + 30)
    phase = Phase(name, step, outcome[0] if outcome else None, udp_drops(port) - drops_before)
    print(
        f"# {name}: {step.successful}/{step.calls} registrations, "
        f"p99 {step.p(step.registration_ms, 0.99):.1f} ms, "
        f"cpu {step.cpu_seconds / step.wall_seconds:.2f}"
        + (f", scan sent {phase.scan.sent} answered {phase.scan.answered}" if phase.scan else ""),
        file=sys.stderr,
    )
    return phase


def report(phase: Phase, baseline: Phase | None, log: Path) -> None:
    step, name = phase.step, phase.name
    cores = step.cpu_seconds / step.wall_seconds
    print(f"{name}_legit_registrations_ok: {step.successful} registrations")
    print(f"{name}_legit_registrations_failed: {step.calls - step.successful} registrations")
    print(f"{name}_legit_rate_achieved: {step.achieved:.0f} registrations/s")
    print(f"{name}_legit_p50: {step.p(step.registration_ms, 0.5):.0f} ms (SIPp: 4 ms steps)")
    print(f"{name}_legit_p99: {step.p(step.registration_ms, 0.99):.0f} ms (SIPp: 4 ms steps)")
    print(f"{name}_server_cpu: {cores:.3f} cores")
    scanned = phase.scan
    if scanned is None:
        return
    absorbed = (scanned.sent - phase.drops) / scanned.seconds
    print(f"{name}_scan_sent: {scanned.sent} requests ({len(scanned.sources)} source addresses)")
    print(f"{name}_scan_offered: {scanned.sent / scanned.seconds:.0f} requests/s")
    print(f"{name}_scan_absorbed: {absorbed:.0f} requests/s")
    print(f"{name}_scan_kernel_drops: {phase.drops} datagrams")
    statuses = ", ".join(f"{code} x{n}" for code, n in sorted(scanned.statuses.items()))
    print(f"{name}_scan_answered: {scanned.answered} responses ({statuses or 'none'})")
    used = set(scanned.sources)
    banned = {source: at for source, at in bans(log).items() if source in used}
    print(f"{name}_sources_banned: {len(banned)} of {len(used)}")
    if SCANNER in banned and phase.name == "scan":
        delay = (banned[SCANNER] - scanned.started_wall) * 1000
        print(f"{name}_time_to_ban: {max(delay, 0.0):.0f} ms")
        print(f"{name}_answers_before_ban: {scanned.answered_by_source[SCANNER]} responses")
    if baseline is not None:
        base = baseline.step.cpu_seconds / baseline.step.wall_seconds
        extra = max(cores - base, 0.0)
        print(f"{name}_extra_server_cpu: {extra:.3f} cores")
        print(f"{name}_cpu_per_scan_request: {extra / max(absorbed, 1.0) * 1e6:.2f} us")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scan-rate", type=int, default=5000, help="scanner requests/s")
    parser.add_argument("--legit-rate", type=int, default=200, help="registrations/s")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--users", type=int, default=200, help="legitimate users")
    parser.add_argument(
        "--per-source", type=int, default=20, help="rotating scan: requests per address"
    )
    parser.add_argument(
        "--phases", default="baseline,scan,rotating", help="which to run, comma-separated"
    )
    parser.add_argument("--nice", type=int, default=0, help="as bench/register.py --nice")
    parser.add_argument("--keep", type=Path, help="keep the work folder here")
    args = parser.parse_args()
    if not 0 < args.seconds <= 120 or not 0 < args.scan_rate <= 200_000:
        parser.error("--seconds must be in (0, 120] and --scan-rate in (0, 200000]")
    register.NICE = args.nice
    if args.nice:
        try:
            Path("/proc/self/autogroup").write_text(str(args.nice))
        except OSError as exc:
            print(f"# cannot set the autogroup niceness: {exc}", file=sys.stderr)
    os.sched_setaffinity(0, {SCANNER_CORE})
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-scan-"))
    work.mkdir(parents=True, exist_ok=True)
    users = register.make_users(args.users)
    register.write_injection(work / "users.csv", users)
    port = register.free_port()
    server = register.start_switchboard(work, port, users)
    log = work / "switchboard.log"
    local_port = register.free_port()
    wanted = args.phases.split(",")
    phases: dict[str, Phase] = {}
    try:
        # Every user registers once first, so that all phases measure refreshes.
        register.run_step(
            server,
            port,
            work / "warm-up",
            local_port=local_port,
            rate=args.legit_rate,
            seconds=args.users / args.legit_rate,
        )
        for name in ("baseline", "scan", "rotating"):
            if name not in wanted:
                continue
            phases[name] = run_phase(
                name,
                server,
                port,
                work=work,
                local_port=local_port,
                args=args,
                per_source=args.per_source if name == "rotating" else None,
                with_scan=name != "baseline",
            )
    finally:
        server.stop()
    print(f"scan_rate_target: {args.scan_rate} requests/s")
    print(f"legit_rate_target: {args.legit_rate} registrations/s")
    baseline = phases.get("baseline")
    for phase in phases.values():
        report(phase, baseline, log)
    scanned = phases.get("scan")
    if baseline is not None and scanned is not None:
        base, under = baseline.step, scanned.step
        p99 = under.p(under.registration_ms, 0.99) / max(base.p(base.registration_ms, 0.99), 1)
        print(f"ratio_legit_p99_under_scan_vs_baseline: {p99:.2f} x")
        ok = (under.successful / under.calls) / max(base.successful / base.calls, 1e-9)
        print(f"ratio_legit_registrations_ok_under_scan_vs_baseline: {ok:.3f} x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
