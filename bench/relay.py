"""Benchmark the anchored media relay on loopback: N concurrent calls of 20 ms G.711 both ways.

Three processes: this orchestrator, a *server* running N :class:`MediaRelay` calls on
uvloop (pool from an rtp.conf-like range, strictrtp=yes, statistics folded every second),
and a *load generator* with one UDP socket per stream (2 per call) that sends 172-octet
RTP packets every 20 ms per stream, spread over 20 groups 1 ms apart as unsynchronised
phones would, and counts what comes back. With ``--pin`` (default) the server runs on CPU 0
and the generator on CPU 1.

The baseline, measured in the same run with the same generator, is a bare uvloop
``DatagramProtocol`` relay: per packet one counter and ``sendto`` to a fixed address (no
header check, latching, statistics, RTCP sockets or timers).

Printed per run (``mode`` is ``relay`` or ``baseline``, ``N`` the call count):
packets/s relayed, loss % (sent by the generator vs received back, after a drain),
added jitter p99 in ms (per-packet one-way delay through the relay minus that stream's
minimum, on every 10th call), server CPU % and µs of CPU per relayed packet, RSS per call
(warm, after the traffic) and RSS left after the calls are closed; the last line is the
ratio of the relay's µs per packet to the baseline's at the largest N.

Run: ``.venv/bin/python bench/relay.py [--calls 100 500 1500] [--seconds 5] [--warmup 2]
[--setup 2000] [--nice -10]``. ``--setup N`` first sets up and closes N relays with the
pool's warm pairs and N without (``cold``: four sockets opened and closed per call), and
prints the CPU per call of each and, under ``strace -c``, the system calls per call.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PACKET_MS = 20
GROUPS = 20
PAYLOAD = 160
TIMED_EVERY = 10


def rss_bytes() -> int:
    """Resident set size of this process from /proc."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def raise_fd_limit() -> None:
    """Raise the soft open-file limit to the hard one (6 sockets per call here)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def command_lines() -> asyncio.StreamReader:
    """stdin as a stream of JSON command lines."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


def reply(value: dict[str, Any]) -> None:
    """One JSON line to the orchestrator."""
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


# --- server -----------------------------------------------------------------------------------


class BareRelay(asyncio.DatagramProtocol):
    """The baseline: a counter and sendto to a fixed address."""

    __slots__ = ("destination", "packets", "sendto", "transport")

    def __init__(self) -> None:
        self.packets = 0
        self.destination: tuple[str, int] = ("127.0.0.1", 9)
        self.sendto: Any = None
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.packets += 1
        self.sendto(data, self.destination)


async def serve(mode: str, rtpstart: int, rtpend: int, report_interval: float) -> None:
    """The server process: set up calls on command, report CPU and memory."""
    from switchboard.media.portpool import PortPool
    from switchboard.media.relay import MediaRelay

    loop = asyncio.get_running_loop()
    reader = await command_lines()
    pool = PortPool(rtpstart, rtpend, "127.0.0.1")
    relays: list[MediaRelay] = []
    bare: list[tuple[BareRelay, BareRelay, Any, Any]] = []

    def relayed() -> int:
        if mode == "relay":
            return sum(r.a.rtp.packets - r.a.rtp.unsent + r.b.rtp.packets for r in relays)
        return sum(a.packets + b.packets for a, b, _, _ in bare)

    samples: list[tuple[float, float, int]] = []
    sampler = loop.call_soon(lambda: None)

    def take_sample() -> None:
        """Every 0.2 s: (monotonic time, CPU seconds, packets relayed), stamped when taken."""
        nonlocal sampler
        times = os.times()
        samples.append((time.monotonic(), times.user + times.system, relayed()))
        sampler = loop.call_later(0.2, take_sample)

    gc.collect()
    reply({"ready": True, "rss": rss_bytes()})
    while line := await reader.readline():
        request = json.loads(line)
        command = request["cmd"]
        if command == "setup":
            gc.collect()
            before = rss_bytes()
            ports = []
            for remote_a, remote_b in request["remotes"]:
                if mode == "relay":
                    relay = MediaRelay(
                        pool,
                        strictrtp="yes",
                        probation=4,
                        rtp_timeout=30.0,
                        report_interval=report_interval,
                    )
                    await relay.start()
                    relay.a.set_remote(("127.0.0.1", remote_a))
                    relay.b.set_remote(("127.0.0.1", remote_b))
                    relays.append(relay)
                    ports.append((relay.a.port, relay.b.port))
                else:
                    pair_a, pair_b = pool.allocate(), pool.allocate()
                    _, a = await loop.create_datagram_endpoint(BareRelay, sock=pair_a.rtp)
                    _, b = await loop.create_datagram_endpoint(BareRelay, sock=pair_b.rtp)
                    a.sendto, b.sendto = b.transport.sendto, a.transport.sendto
                    a.destination = ("127.0.0.1", remote_b)
                    b.destination = ("127.0.0.1", remote_a)
                    bare.append((a, b, pair_a, pair_b))
                    ports.append((pair_a.port, pair_b.port))
            reply({"ports": ports, "rss_before": before, "rss_after": rss_bytes()})
        elif command == "start":
            samples.clear()
            take_sample()
            reply({"ok": True})
        elif command == "stop":
            sampler.cancel()
            reply({"samples": samples, "rss": rss_bytes()})
        elif command == "close":
            quality = [r.stats() for r in relays[:1]]
            for relay in relays:
                relay.close()
            for a, b, pair_a, pair_b in bare:
                a.transport.close()
                b.transport.close()
                pool.release(pair_a)
                pool.release(pair_b)
            relays.clear()
            bare.clear()
            await asyncio.sleep(0.2)  # let the transports finish closing
            gc.collect()
            sample = None
            if quality:
                legs = quality[0]
                sample = {name: [legs[name].jitter_ms, legs[name].mos] for name in legs}
            reply({"rss": rss_bytes(), "sample": sample})
        elif command == "quit":
            break


async def churn(kind: str, calls: int, rtpstart: int, rtpend: int) -> None:
    """Set up and close ``calls`` relays, ``CONCURRENT`` up at a time, with remotes set as the
    engine sets them; report CPU per call. ``kind`` is ``cold`` (no warm pairs: four
    sockets opened and closed per call, as before the pool kept them) or ``warm``."""
    from switchboard.media.portpool import PortPool
    from switchboard.media.relay import MediaRelay

    warm_limit = 0 if kind == "cold" else None
    pool = PortPool(rtpstart, rtpend, "127.0.0.1", warm_limit=warm_limit, quarantine=0.0)
    up: list[MediaRelay] = []

    async def one_round(count: int) -> None:
        for index in range(count):
            relay = MediaRelay(pool, rtp_timeout=30.0)
            await relay.start()
            relay.a.set_remote(("127.0.0.1", 20000 + index % 1000))
            relay.b.set_remote(("127.0.0.1", 21000 + index % 1000))
            up.append(relay)
            if len(up) > CONCURRENT:
                up.pop(0).close()
            if index % 50 == 0:
                await asyncio.sleep(0)  # let the loop run, as between SIP messages

    await one_round(2 * CONCURRENT)  # warm-up: the pool's steady state
    times = os.times()
    cpu0 = times.user + times.system
    await one_round(calls)
    times = os.times()
    for relay in up:
        relay.close()
    pool.close()
    reply({"cpu_per_call": (times.user + times.system - cpu0) / calls})


CONCURRENT = 100
"""Relays up at once in the set-up phase."""


def setup_cost(kind: str, options: argparse.Namespace, trace: Path | None) -> float:
    """One child churning relays; under ``strace -c -f`` when ``trace`` is given."""
    rtp = [str(options.rtpstart), str(options.rtpend)]
    args = [sys.executable, __file__, "--role", "churn", "--mode", kind,
            "--calls", str(options.setup), "--rtp", *rtp]  # fmt: skip
    if trace is not None:
        args = ["strace", "-f", "-c", "-o", str(trace), *args]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, check=True)
    value: float = json.loads(done.stdout.splitlines()[-1])["cpu_per_call"]
    return value


def syscall_counts(trace: Path) -> dict[str, int]:
    """``strace -c`` summary: calls per system call name."""
    counts: dict[str, int] = {}
    for line in trace.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[3].isdigit() and fields[-1] != "total":
            counts[fields[-1]] = int(fields[3])
    return counts


def report_setup(options: argparse.Namespace) -> None:
    """Relay set-up and close per call, cold sockets against warm ones, same run."""
    import shutil
    import tempfile

    cpu = {kind: setup_cost(kind, options, None) for kind in ("cold", "warm")}
    for kind in ("cold", "warm"):
        print(f"setup_{kind}_cpu_per_call: {cpu[kind] * 1e6:.0f} us")
    print(f"setup_cpu_saved_per_call: {(cpu['cold'] - cpu['warm']) * 1e6:.0f} us")
    if shutil.which("strace") is None:
        return
    with tempfile.TemporaryDirectory() as folder:
        base = {}
        for kind in ("cold", "warm"):
            trace = Path(folder) / f"{kind}.txt"
            setup_cost(kind, options, trace)
            base[kind] = syscall_counts(trace)
        # A second, longer warm run: the difference per extra call is the steady state.
        for kind in ("cold", "warm"):
            options.setup *= 2
            trace = Path(folder) / f"{kind}-2.txt"
            setup_cost(kind, options, trace)
            options.setup //= 2
            longer = syscall_counts(trace)
            names = sorted(set(longer) | set(base[kind]))
            per_call = {
                name: (longer.get(name, 0) - base[kind].get(name, 0)) / options.setup
                for name in names
            }
            total = sum(per_call.values())
            listed = ", ".join(
                f"{name} {value:.1f}"
                for name, value in sorted(per_call.items(), key=lambda i: -i[1])
                if value >= 0.05
            )
            print(f"setup_{kind}_syscalls_per_call: {total:.1f} ({listed})")


# --- load generator ---------------------------------------------------------------------------


class Phone(asyncio.DatagramProtocol):
    """One stream's receiving end: counts packets, logs arrival times when timed."""

    __slots__ = ("arrivals", "count", "datagrams", "timed")

    def __init__(self, timed: bool) -> None:
        self.count = 0
        self.timed = timed
        self.datagrams: list[bytes] = []
        self.arrivals: list[float] = []

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.count += 1
        if self.timed:
            self.datagrams.append(data)
            self.arrivals.append(time.perf_counter())


def sampled(index: int) -> bool:
    """Phones of every TIMED_EVERY-th call are read, timed and counted."""
    return (index // 2) % TIMED_EVERY == 0


async def generate() -> None:
    """The load-generator process: bind phones, then send and count on command."""
    loop = asyncio.get_running_loop()
    reader = await command_lines()
    sockets: list[socket.socket] = []
    reply({"ready": True})
    while line := await reader.readline():
        request = json.loads(line)
        if request["cmd"] == "bind":
            for index in range(2 * request["calls"]):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                # Only sampled phones are read; the others' kernel buffers just overflow.
                size = 1 << 18 if sampled(index) else 1024
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
                sock.bind(("127.0.0.1", 0))
                sock.setblocking(False)
                sockets.append(sock)
            reply({"ports": [sock.getsockname()[1] for sock in sockets]})
        elif request["cmd"] == "run":
            reply(await run_load(loop, sockets, request))
        elif request["cmd"] == "quit":
            break


async def run_load(
    loop: asyncio.AbstractEventLoop, sockets: list[socket.socket], request: dict[str, Any]
) -> dict[str, Any]:
    """Send 20 ms streams for warmup + seconds, count what comes back, compute the figures."""
    targets: list[int] = request["targets"]
    phones: dict[int, Phone] = {}
    for index, (sock, port) in enumerate(zip(sockets, targets, strict=True)):
        sock.connect(("127.0.0.1", port))
        if sampled(index):
            _, phone = await loop.create_datagram_endpoint(lambda: Phone(True), sock=sock)
            phones[index] = phone
    groups = [[sock.send for sock in sockets[g::GROUPS]] for g in range(GROUPS)]
    packet = bytearray(12 + PAYLOAD)
    packet[0] = 0x80
    packet[12:] = b"\xff" * PAYLOAD
    struct.pack_into("!I", packet, 8, 0x5EED)
    pack = struct.Struct("!HI").pack_into
    total_ticks = int((request["warmup"] + request["seconds"]) * 1000 / PACKET_MS)
    warm_ticks = int(request["warmup"] * 1000 / PACKET_MS)
    send_times = [[0.0] * GROUPS for _ in range(total_ticks)]
    sent = 0
    errors = 0
    group_sent = [0] * GROUPS
    start = time.perf_counter() + 0.05
    done = loop.create_future()
    marks: dict[str, Any] = {}
    step = PACKET_MS / 1000 / GROUPS
    cpu0 = os.times()
    slot = 0

    lag = [0.0]

    def tick() -> None:
        nonlocal sent, errors, slot
        now = time.perf_counter()
        lag[0] = max(lag[0], now - (start + slot * step))
        due = min(int((now - start) / step) + 1, total_ticks * GROUPS)
        while slot < due:
            seq, group = divmod(slot, GROUPS)
            if seq == warm_ticks and group == 0:
                marks["sent"] = sent
                marks["server_start"] = True
                times = os.times()
                marks["cpu"] = times.user + times.system
                marks["wall"] = now
                marks["window_start"] = time.monotonic()
            pack(packet, 2, seq, seq * PAYLOAD)
            send_times[seq][group] = time.perf_counter()
            for send in groups[group]:
                try:
                    send(packet)
                except OSError:
                    errors += 1
            sent += len(groups[group])
            group_sent[group] += 1
            slot += 1
        if slot >= total_ticks * GROUPS:
            done.set_result(None)
            return
        loop.call_at(loop.time() + max(0.0, start + slot * step - time.perf_counter()), tick)

    loop.call_at(loop.time() + 0.05, tick)
    reply({"started": True})
    await done
    end_wall = time.perf_counter()
    window_end = time.monotonic()
    times = os.times()
    cpu = times.user + times.system - marks.get("cpu", cpu0.user + cpu0.system)
    await asyncio.sleep(0.5)  # drain what is still in flight
    received = sum(p.count for p in phones.values())
    expected = sum(group_sent[(index ^ 1) % GROUPS] for index in phones)
    delays = []
    for index, phone in phones.items():
        group = (index ^ 1) % GROUPS  # what phone A hears, phone B of the call sent
        stream = []
        for data, arrival in zip(phone.datagrams, phone.arrivals, strict=True):
            seq = struct.unpack_from("!H", data, 2)[0]
            if warm_ticks <= seq < total_ticks:
                stream.append(arrival - send_times[seq][group])
        if stream:
            low = min(stream)
            delays.extend(delay - low for delay in stream)
    delays.sort()
    p99 = delays[int(0.99 * (len(delays) - 1))] * 1000 if delays else float("nan")
    p50 = delays[len(delays) // 2] * 1000 if delays else float("nan")
    return {
        "sent": sent,
        "expected": expected,
        "received": received,
        "errors": errors,
        "window_sent": sent - marks["sent"],
        "jitter_p99_ms": p99,
        "max_lag_ms": lag[0] * 1000,
        "jitter_p50_ms": p50,
        "cpu": cpu,
        "wall": end_wall - marks["wall"],
        "window": (marks["window_start"], window_end),
    }


# --- orchestrator -----------------------------------------------------------------------------


class Child:
    """A child process spoken to in JSON lines."""

    def __init__(self, args: list[str], cpu: int | None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if cpu is not None:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(self.process.pid, {cpu})
        self.first = self.read()

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self.read()

    def read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"child {self.process.args} ended: {self.process.wait()}")
        value: dict[str, Any] = json.loads(line)
        return value

    def quit(self) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            self.ask_nowait({"cmd": "quit"})
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def ask_nowait(self, request: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()


def one_run(mode: str, calls: int, options: argparse.Namespace) -> dict[str, float]:
    """Start a server and a generator, run the load, return the figures."""
    pin = options.pin and len(os.sched_getaffinity(0)) >= 2
    rtp = ["--rtp", str(options.rtpstart), str(options.rtpend)]
    server = Child(
        ["--role", "server", "--mode", mode, "--interval", str(options.interval), *rtp],
        0 if pin else None,
    )
    closes: list[int] = []
    first: tuple[dict[str, Any], ...] = ()
    try:
        for _ in range(options.cycles):
            load = Child(["--role", "load"], 1 if pin else None)
            try:
                phones = load.ask({"cmd": "bind", "calls": calls})["ports"]
                remotes = [(phones[2 * i], phones[2 * i + 1]) for i in range(calls)]
                setup = server.ask({"cmd": "setup", "remotes": remotes})
                targets = [port for pair in setup["ports"] for port in pair]
                run = {"targets": targets, "seconds": options.seconds, "warmup": options.warmup}
                load.ask_nowait({"cmd": "run", **run})
                load.read()  # sending starts
                server.ask({"cmd": "start"})
                result = load.read()
                stopped = server.ask({"cmd": "stop"})
                closed = server.ask({"cmd": "close"})
            finally:
                load.quit()
            closes.append(closed["rss"])
            first = first or (setup, result, stopped, closed)
    finally:
        server.quit()
    setup, result, stopped, closed = first
    low, high = result["window"]
    samples = stopped["samples"]
    # The samples that bracket the generator's window (the server may run late when loaded).
    before = [item for item in samples if item[0] <= low] or samples[:1]
    after = [item for item in samples if item[0] >= high] or samples[-1:]
    (t0, cpu0, n0), (t1, cpu1, n1) = before[-1], after[0]
    wall, cpu, packets = max(t1 - t0, 1e-9), cpu1 - cpu0, n1 - n0
    lost = max(0, result["expected"] - result["received"])
    return {
        "pps": packets / wall,
        "loss": 100.0 * lost / max(result["expected"], 1),
        "jitter_p99": result["jitter_p99_ms"],
        "jitter_p50": result["jitter_p50_ms"],
        "cpu": 100.0 * cpu / wall,
        "us_per_packet": 1e6 * cpu / max(packets, 1),
        "rss_per_call": (stopped["rss"] - setup["rss_before"]) / calls,
        "rss_setup_per_call": (setup["rss_after"] - setup["rss_before"]) / calls,
        "rss_left": closed["rss"] - setup["rss_before"],
        "rss_growth": closes[-1] - closes[0],
        "load_cpu": 100.0 * result["cpu"] / result["wall"],
        "offered_pps": result["window_sent"] / options.seconds,
        "send_errors": result["errors"],
        "lag": result["max_lag_ms"],
        "lost": lost,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=["bench", "server", "load", "churn"], default="bench")
    parser.add_argument("--mode", choices=["relay", "baseline", "cold", "warm"], default="relay")
    parser.add_argument(
        "--setup", type=int, default=0, help="calls set up and closed per set-up run (0: none)"
    )
    parser.add_argument("--calls", type=int, nargs="+", default=[100, 500, 1500])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rtp", dest="rtp", type=int, nargs=2, default=[30000, 40000])
    parser.add_argument("--cycles", type=int, default=2, help="set-up/run/close rounds")
    parser.add_argument(
        "--interval", type=float, default=1.0, help="MediaRelay report_interval (s)"
    )
    parser.add_argument("--modes", nargs="+", default=["baseline", "relay"])
    parser.add_argument("--no-pin", dest="pin", action="store_false")
    parser.add_argument(
        "--nice", type=int, default=0, help="niceness of the whole run (root for < 0)"
    )
    options = parser.parse_args()
    if options.nice and options.role == "bench":
        # As in register.py: with autogroup scheduling, the session group's niceness is
        # what weighs against other jobs on the machine; the children inherit both.
        with contextlib.suppress(OSError):
            Path("/proc/self/autogroup").write_text(str(options.nice))
        os.nice(options.nice)
    options.rtpstart, options.rtpend = options.rtp
    raise_fd_limit()
    if options.role != "bench":
        import uvloop

        if options.role == "server":
            uvloop.run(serve(options.mode, options.rtpstart, options.rtpend, options.interval))
        elif options.role == "churn":
            uvloop.run(churn(options.mode, options.calls[0], options.rtpstart, options.rtpend))
        else:
            uvloop.run(generate())
        return
    if options.setup:
        report_setup(options)
    results: dict[tuple[str, int], dict[str, float]] = {}
    for calls in options.calls:
        for mode in options.modes:
            figures = one_run(mode, calls, options)
            results[mode, calls] = figures
            prefix = f"{mode}_{calls}"
            print(f"{prefix}_offered: {figures['offered_pps']:,.0f} packets/s")
            print(f"{prefix}_relayed: {figures['pps']:,.0f} packets/s")
            print(f"{prefix}_loss: {figures['loss']:.3f} %")
            print(f"{prefix}_added_jitter_p99: {figures['jitter_p99']:.2f} ms")
            print(f"{prefix}_added_jitter_p50: {figures['jitter_p50']:.2f} ms")
            print(f"{prefix}_server_cpu: {figures['cpu']:.0f} %")
            print(f"{prefix}_cpu_per_packet: {figures['us_per_packet']:.2f} us")
            print(f"{prefix}_rss_per_call: {figures['rss_per_call'] / 1024:.1f} KB")
            print(f"{prefix}_rss_after_close: {figures['rss_left'] / 1024:.0f} KB")
            if options.cycles > 1:
                growth = figures["rss_growth"] / 1024
                print(f"{prefix}_rss_growth_after_{options.cycles}_cycles: {growth:.0f} KB")
            print(f"{prefix}_generator_cpu: {figures['load_cpu']:.0f} %")
            print(f"{prefix}_generator_max_lag: {figures['lag']:.1f} ms", flush=True)
    top = max(options.calls)
    if ("relay", top) not in results or ("baseline", top) not in results:
        return
    relay, bare = results["relay", top], results["baseline", top]
    ratio = relay["us_per_packet"] / bare["us_per_packet"]
    print(f"ratio_relay_vs_bare_uvloop_cpu_per_packet_{top}_calls: {ratio:.2f} x")


if __name__ == "__main__":
    main()
