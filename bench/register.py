"""Authenticated REGISTER throughput of ``switchboard serve`` against Kamailio 5.6, with SIPp.

Each registration is one SIPp call: REGISTER, 401 challenge, REGISTER with digest
credentials (MD5, qop=auth), 200 OK. Users (1,000 by default, strong random passwords)
come from an injection file read in sequence, so every user re-registers many times.

The server is pinned to core 0 (``taskset -c 0``) and SIPp to core 1. The call rate goes up
in steps, each bounded in calls (``-m``) and time (``-timeout``); the figure is the highest
step with fewer than 0.1 % failed calls. For every step the script records the achieved
rate, response times (SIPp ``-trace_rtt``: the whole registration and the authenticated
round trip), and the server's CPU time and RSS (psutil, children included).

Kamailio 5.6 runs the same users through an equivalent registrar without a database
(``htable`` passwords, ``pv_auth_check``, ``usrloc`` in memory), same driver, same steps,
in the same run; the last line is the ratio of the two peak rates.

Run: ``.venv/bin/python bench/register.py [--users 1000] [--step-seconds 4]``.
``--in-process`` runs the real server in this process instead and feeds it the same
datagrams through its UDP protocol, with no socket, SIPp or Kamailio: the server's own CPU
per registration without the system calls, steadier on a busy machine (and ``--profile``
counts its Python calls with cProfile).
Target (issue 3): at least 3,000 registrations/s with p99 under 20 ms, server on one core.
Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

RATES = (250, 500, 750, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 5000, 6000, 8000, 10000)
MAX_FAILED = 0.001
P99_TARGET_MS = 20.0
SERVER_CORE = "0"
SIPP_CORE = "1"
KAMAILIO_MODULES = Path("/usr/lib/x86_64-linux-gnu/kamailio/modules")

SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="register-digest">
<send retrans="500" start_rtd="1"><![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[field0]@[remote_ip]>;tag=[pid]t[call_number]
To: <sip:[field0]@[remote_ip]>
Call-ID: [call_id]
CSeq: 1 REGISTER
Contact: <sip:[field0]@[local_ip]:[local_port]>
Expires: 3600
Max-Forwards: 70
User-Agent: SIPp
Content-Length: 0

]]></send>
<recv response="401" auth="true"/>
<send retrans="500" start_rtd="2"><![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[field0]@[remote_ip]>;tag=[pid]t[call_number]
To: <sip:[field0]@[remote_ip]>
Call-ID: [call_id]
CSeq: 2 REGISTER
Contact: <sip:[field0]@[local_ip]:[local_port]>
Expires: 3600
Max-Forwards: 70
User-Agent: SIPp
[authentication]
Content-Length: 0

]]></send>
<recv response="200" rtd="1"/>
<nop rtd="2"/>
</scenario>
"""


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port")


def make_users(count: int) -> list[tuple[str, str]]:
    return [(f"user{i:04d}", secrets.token_urlsafe(18)) for i in range(count)]


def write_injection(path: Path, users: list[tuple[str, str]]) -> None:
    lines = ["SEQUENTIAL", *(f"{name};{password}" for name, password in users)]
    path.write_text("\n".join(lines) + "\n")


# -- the servers ---------------------------------------------------------------------------


def switchboard_config(folder: Path, port: int, users: list[tuple[str, str]]) -> None:
    """The reference's templates with ``users`` endpoints on 127.0.0.1:port."""
    folder.mkdir(parents=True)
    parts = [
        f"[transport-udp]\ntype=transport\nprotocol=udp\nbind=127.0.0.1:{port}\n",
        "[endpoint_internal](!)\ntype=endpoint\ncontext=from-internal\ndisallow=all\nallow=ulaw\n",
        "[auth_userpass](!)\ntype=auth\nauth_type=userpass\n",
        "[aor_dynamic](!)\ntype=aor\nmax_contacts=1\n",
    ]
    for name, password in users:
        parts.append(
            f"[{name}](endpoint_internal)\nauth={name}\naors={name}\n"
            f"[{name}](auth_userpass)\npassword={password}\nusername={name}\n"
            f"[{name}](aor_dynamic)\n"
        )
    (folder / "pjsip.conf").write_text("".join(parts))
    (folder / "extensions.conf").write_text("[from-internal]\nexten=>100,1,Hangup()\n")
    # SIPp sends all 1,000 users from one address, which the per-source limit on live
    # transactions (500 by default; each lives 32 s for Timer J) would answer with 503.
    # Raise the limit rather than trust the address, so the edge's checks still run.
    (folder / "switchboard.conf").write_text("[security]\nmax_transactions = 1000000\n")


def kamailio_config(path: Path, port: int, users: list[tuple[str, str]]) -> None:
    """A registrar with digest auth and no database: passwords in an htable."""
    assignments = "".join(f'    $sht(users=>{name}) = "{password}";\n' for name, password in users)
    path.write_text(
        f"""#!KAMAILIO
debug=0
log_stderror=yes
memdbg=5
memlog=5
children=2
auto_aliases=no
listen=udp:127.0.0.1:{port}
mpath="{KAMAILIO_MODULES}/"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "htable.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"
modparam("htable", "htable", "users=>size=12;")
modparam("usrloc", "db_mode", 0)

request_route {{
    if ($rm != "REGISTER") {{
        sl_send_reply("405", "Method Not Allowed");
        exit;
    }}
    if (!pv_auth_check("$fd", "$sht(users=>$fU)", "0", "1")) {{
        auth_challenge("$fd", "1");
        exit;
    }}
    consume_credentials();
    if (!save("location")) {{
        sl_reply_error();
    }}
    exit;
}}

event_route[htable:mod-init] {{
{assignments}}}
"""
    )


@dataclass
class Server:
    """A server process started for the run, with its CPU and memory readings."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    gc_log: Path | None = None
    """Where the server logs its garbage collections (``bench/gcprobe``), if asked to."""

    def tree(self) -> list[psutil.Process]:
        root = psutil.Process(self.process.pid)
        return [root, *root.children(recursive=True)]

    def cpu_seconds(self) -> float:
        total = 0.0
        for proc in self.tree():
            try:
                times = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def rss_bytes(self) -> int:
        """Resident memory; for Kamailio's processes (which share memory) the sum of
        unique set sizes plus the shared segment once, approximated by psutil's USS + the
        root's shared pages."""
        procs = self.tree()
        if len(procs) == 1:
            return int(procs[0].memory_info().rss)
        total = 0
        for proc in procs:
            try:
                total += int(proc.memory_full_info().uss)
            except psutil.NoSuchProcess:
                continue
        return total + int(procs[0].memory_info().shared)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


NICE = 0
"""Scheduling priority of the server and SIPp (``--nice``; negative needs root)."""


def set_nice(niceness: int) -> None:
    """Run the servers and SIPp started from now on at ``niceness``, and give this
    session's autogroup the same: with autogroup scheduling, niceness only ranks tasks
    inside their session's group; the group's own niceness is what weighs against other
    jobs' sessions."""
    global NICE  # noqa: PLW0603 - one setting for the whole run
    NICE = niceness
    if niceness:
        try:
            Path("/proc/self/autogroup").write_text(str(niceness))
        except OSError as exc:
            print(f"# cannot set the autogroup niceness: {exc}", file=sys.stderr)


def pinned(core: str) -> list[str]:
    """Prefix running a command on ``core`` (and at ``NICE`` when set)."""
    prefix = ["taskset", "-c", core]
    return ["nice", "-n", str(NICE), *prefix] if NICE else prefix


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def serve(
    config: Path,
    state: Path,
    log: Path,
    *,
    source: bool = False,
    name: str = "switchboard",
    gc_log: Path | None = None,
) -> Server:
    """``switchboard serve`` pinned to the server core, logging to ``log``; returns once it
    is ready (the other benchmarks start their servers through this too). ``source`` runs
    its SIP core from source even when compiled (``SWITCHBOARD_NATIVE=0``); ``gc_log``
    has it log every garbage collection there (``bench/gcprobe``)."""
    probe = (
        {
            "PYTHONPATH": os.pathsep.join(
                filter(
                    None, [str(Path(__file__).with_name("gcprobe")), os.environ.get("PYTHONPATH")]
                )
            ),
            "SWITCHBOARD_BENCH_GC_LOG": str(gc_log),
        }
        if gc_log is not None
        else {}
    )
    script = Path(sys.executable).with_name("switchboard")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "switchboard.cli"]
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [
                *pinned(SERVER_CORE),
                *(*command, "serve"),
                *("--config-dir", str(config), "--state-dir", str(state)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=handle,
            env={
                **os.environ,
                "PYTHONUNBUFFERED": "1",
                **({"SWITCHBOARD_NATIVE": "0"} if source else {}),
                **probe,
            },
        )
    server = Server(name, process, log, gc_log)
    wait_until(
        lambda: "ready; stop with" in log.read_text(errors="replace") or process.poll() is not None,
        60,
        "switchboard to start",
    )
    if process.poll() is not None:
        raise RuntimeError(f"switchboard exited:\n{log.read_text(errors='replace')}")
    return server


def start_switchboard(
    work: Path, port: int, users: list[tuple[str, str]], *, source: bool = False
) -> Server:
    name = "switchboard_source" if source else "switchboard"
    config, state = work / f"{name}-config", work / f"{name}-state"
    switchboard_config(config, port, users)
    return serve(config, state, work / f"{name}.log", source=source, name=name)


def start_switchboard_source(work: Path, port: int, users: list[tuple[str, str]]) -> Server:
    """The same server with its SIP core run from source: the compiled build's baseline."""
    return start_switchboard(work, port, users, source=True)


def start_kamailio(work: Path, port: int, users: list[tuple[str, str]]) -> Server:
    cfg = work / "kamailio.cfg"
    kamailio_config(cfg, port, users)
    binary = shutil.which("kamailio") or "/usr/sbin/kamailio"
    log = work / "kamailio.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [
                *pinned(SERVER_CORE),
                *(binary, "-f", str(cfg), "-DD", "-E"),
                *("-m", "128", "-M", "16", "-w", str(work), "-Y", str(work)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=handle,
        )
    server = Server("kamailio", process, log)
    wait_until(lambda: port_answers(port) or process.poll() is not None, 30, "kamailio")
    if process.poll() is not None:
        raise RuntimeError(f"kamailio exited:\n{log.read_text(errors='replace')}")
    return server


def port_answers(port: int) -> bool:
    """True once something answers an OPTIONS on 127.0.0.1:port."""
    request = (
        f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{secrets.token_hex(6)}\r\n"
        "From: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\n"
        f"Call-ID: {secrets.token_hex(8)}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.3)
        sock.sendto(
            request.replace(b"127.0.0.1:9", f"127.0.0.1:{sock.getsockname()[1]}".encode()),
            ("127.0.0.1", port),
        )
        try:
            sock.recvfrom(4096)
        except OSError:
            return False
    return True


# -- the driver ----------------------------------------------------------------------------


@dataclass
class Step:
    rate: int
    calls: int
    successful: int = 0
    failed: int = 0
    achieved: float = 0.0
    registration_ms: list[float] = field(default_factory=list)
    authenticated_ms: list[float] = field(default_factory=list)
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    rss: int = 0

    @property
    def failed_ratio(self) -> float:
        return 1.0 if self.calls == 0 else 1 - self.successful / self.calls

    @property
    def ok(self) -> bool:
        return self.failed_ratio < MAX_FAILED

    def p(self, values: list[float], q: float) -> float:
        if not values:
            return float("nan")
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_step(
    server: Server, port: int, folder: Path, *, local_port: int, rate: int, seconds: float
) -> Step:
    """One SIPp run at ``rate`` registrations/s for about ``seconds``, bounded.

    SIPp keeps ``local_port`` across steps: the contacts stay the same, so the users
    (``max_contacts=1``) refresh their binding instead of being refused a second one."""
    folder.mkdir(parents=True)
    scenario = folder / "register.xml"
    scenario.write_text(SCENARIO)
    calls = max(int(rate * seconds), 200)
    step = Step(rate, calls)
    limit = int(seconds * 3 + 10)
    command = [
        *pinned(SIPP_CORE),
        shutil.which("sipp") or "sipp",
        f"127.0.0.1:{port}",
        "-sf",
        str(scenario),
        "-inf",
        str(folder.parent / "users.csv"),
        "-au",
        "[field0]",
        "-ap",
        "[field1]",
        "-i",
        "127.0.0.1",
        "-p",
        str(local_port),
        "-t",
        "u1",
        "-r",
        str(rate),
        "-rp",
        "1000",
        "-m",
        str(calls),
        "-l",
        str(max(rate, 1000)),
        "-timeout",
        f"{limit}s",
        "-timeout_error",
        "-recv_timeout",
        "4000",
        "-nostdin",
        "-trace_rtt",
        "-rtt_freq",
        "1000",
        "-trace_stat",
        "-fd",
        "1",
        "-trace_err",
        "-max_recv_loops",
        "10000",
        "-max_sched_loops",
        "10000",
        "-timer_resol",
        "1",
    ]
    cpu_before = server.cpu_seconds()
    started = time.monotonic()
    completed = subprocess.run(
        command, cwd=folder, capture_output=True, timeout=limit + 20, check=False
    )
    step.wall_seconds = time.monotonic() - started
    step.cpu_seconds = server.cpu_seconds() - cpu_before
    step.rss = server.rss_bytes()
    stats = sorted(folder.glob("register_*_.csv"))
    if not stats:
        raise RuntimeError(
            f"SIPp wrote no statistics (exit {completed.returncode}):\n"
            + completed.stderr.decode(errors="replace")
        )
    with stats[-1].open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    last = rows[-1]
    step.successful = int(last["SuccessfulCall(C)"])
    step.failed = int(last["FailedCall(C)"])
    stamps: list[float] = []
    for path in folder.glob("register_*_rtt.csv"):
        with path.open(newline="") as handle:
            reader = csv.reader(handle, delimiter=";")
            next(reader, None)
            for row in reader:
                if len(row) < 3:
                    continue
                value = float(row[1])
                if row[2] == "1":
                    step.registration_ms.append(value)
                    stamps.append(float(row[0]) / 1000)
                elif row[2] == "2":
                    step.authenticated_ms.append(value)
    if len(stamps) > 1 and max(stamps) > min(stamps):
        step.achieved = (len(stamps) - 1) / (max(stamps) - min(stamps))
    return step


def sweep(
    server: Server,
    port: int,
    work: Path,
    *,
    rates: tuple[int, ...],
    seconds: float,
    deadline: float,
) -> list[Step]:
    """Raise the rate until a step fails (or the time budget is spent)."""
    steps = []
    local_port = free_port()
    for rate in rates:
        if time.monotonic() + seconds * 3 > deadline:
            print(f"# {server.name}: time budget spent before {rate}/s", file=sys.stderr)
            break
        step = run_step(
            server,
            port,
            work / f"{server.name}-{rate}",
            local_port=local_port,
            rate=rate,
            seconds=seconds,
        )
        steps.append(step)
        print(
            f"# {server.name} rate {rate}/s: achieved {step.achieved:.0f}/s, "
            f"{step.successful}/{step.calls} ok, failed {step.failed_ratio:.3%}, "
            f"p99 {step.p(step.registration_ms, 0.99):.1f} ms, "
            f"cpu {step.cpu_seconds / step.wall_seconds:.2f}",
            file=sys.stderr,
        )
        if not step.ok:
            break
    return steps


def best(steps: list[Step]) -> Step | None:
    good = [s for s in steps if s.ok]
    return max(good, key=lambda s: s.rate) if good else None


def report(name: str, steps: list[Step]) -> float:
    top = best(steps)
    if top is None:
        print(f"{name}_registrations_per_s: 0 registrations/s")
        return 0.0
    rate = min(top.achieved, float(top.rate)) if top.achieved else float(top.rate)
    within = [s for s in steps if s.ok and s.p(s.registration_ms, 0.99) < P99_TARGET_MS]
    print(f"{name}_registrations_per_s: {rate:.0f} registrations/s")
    print(f"{name}_step_rate: {top.rate} registrations/s")
    print(f"{name}_failed_calls: {top.failed_ratio * 100:.3f} %")
    print(f"{name}_p50_registration: {top.p(top.registration_ms, 0.5):.2f} ms")
    print(f"{name}_p99_registration: {top.p(top.registration_ms, 0.99):.2f} ms")
    print(f"{name}_p99_authenticated_request: {top.p(top.authenticated_ms, 0.99):.2f} ms")
    print(f"{name}_server_cpu: {top.cpu_seconds / top.wall_seconds:.2f} cores")
    print(f"{name}_cpu_per_registration: {top.cpu_seconds / max(top.successful, 1) * 1e6:.0f} us")
    print(f"{name}_rss: {top.rss / 1e6:.1f} MB")
    per_registration = top.cpu_seconds / max(top.successful, 1)
    print(f"{name}_one_core_capacity: {1 / per_registration:.0f} registrations/s (from CPU)")
    if within:
        print(f"{name}_max_rate_p99_under_20ms: {max(s.rate for s in within)} registrations/s")
    else:
        print(f"{name}_max_rate_p99_under_20ms: 0 registrations/s")
    return rate


# -- in process ----------------------------------------------------------------------------

_NONCE = re.compile(
    rb'WWW-Authenticate: Digest realm="([^"]*)",nonce="([^"]*)",opaque="([^"]*)"'
    rb"(?:,stale=true)?,algorithm=MD5,"
)


class _Capture:
    """Stands in for the UDP socket's transport: keeps what the server sends."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def sendto(self, data: bytes, _addr: object = None) -> None:
        self.sent.append(data)

    def close(self) -> None:
        """Nothing to close: the real transport is put back before the server stops."""


@dataclass
class _Driver:
    """SIPp's scenario written in Python: REGISTER, 401, REGISTER with MD5 digest, 200."""

    port: int
    users: list[tuple[str, str]]
    local: tuple[str, int] = ("127.0.0.1", 5999)
    failures: int = 0

    def first(self, number: int) -> bytes:
        name, _ = self.users[number % len(self.users)]
        return self._request(number, name, 1, "")

    def second(self, number: int, challenge: bytes) -> bytes | None:
        name, password = self.users[number % len(self.users)]
        found = _NONCE.search(challenge)
        if found is None:
            return None
        realm, nonce, opaque = (part.decode() for part in found.groups())
        uri = f"sip:127.0.0.1:{self.port}"
        cnonce = f"{number:08x}"
        ha1 = hashlib.md5(f"{name}:{realm}:{password}".encode()).hexdigest()
        ha2 = hashlib.md5(f"REGISTER:{uri}".encode()).hexdigest()
        response = hashlib.md5(f"{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}".encode()).hexdigest()
        authorization = (
            f'Authorization: Digest username="{name}",realm="{realm}",cnonce="{cnonce}",'
            f'nc=00000001,qop=auth,uri="{uri}",nonce="{nonce}",response="{response}",'
            f'algorithm=MD5,opaque="{opaque}"\r\n'
        )
        return self._request(number, name, 2, authorization)

    def _request(self, number: int, name: str, cseq: int, authorization: str) -> bytes:
        host, port = self.local
        return (
            f"REGISTER sip:127.0.0.1:{self.port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {host}:{port};branch=z9hG4bK-{number}-{cseq}\r\n"
            f"From: <sip:{name}@127.0.0.1>;tag=4242t{number}\r\n"
            f"To: <sip:{name}@127.0.0.1>\r\n"
            f"Call-ID: {number}-4242@{host}\r\n"
            f"CSeq: {cseq} REGISTER\r\n"
            f"Contact: <sip:{name}@{host}:{port}>\r\n"
            "Expires: 3600\r\nMax-Forwards: 70\r\nUser-Agent: SIPp\r\n"
            f"{authorization}Content-Length: 0\r\n\r\n"
        ).encode()


def in_process(args: argparse.Namespace) -> int:
    """``--in-process``: the real server in this process, pinned to the server core."""
    os.sched_setaffinity(0, {int(SERVER_CORE)})
    import uvloop

    return uvloop.run(_in_process(args))


async def _in_process(args: argparse.Namespace) -> int:
    """Registrations at ``--in-process-rate`` for ``--in-process-seconds`` after one round
    of every user to warm up; the CPU of this thread outside the driver's own code (the
    server's handling, its timers and housekeeping) plus the store's thread."""
    import cProfile
    import pstats

    from switchboard.app import Server, tune_collector
    from switchboard.configcheck import load_and_check

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-register-"))
    work.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO, handlers=[logging.FileHandler(work / "switchboard.log")]
    )
    port = free_port()
    users = make_users(args.users)
    switchboard_config(work / "sb-config", port, users)
    if args.t1_ms:
        with (work / "sb-config" / "pjsip.conf").open("a") as handle:
            handle.write(f"[system]\ntype=system\ntimer_t1={args.t1_ms}\n")
    loaded = load_and_check(work / "sb-config")
    assert not loaded.diagnostics.has_errors, loaded.diagnostics.sorted()
    (work / "sb-state").mkdir(exist_ok=True)
    server = Server(loaded.config, work / "sb-config", work / "sb-state")
    await server.start()
    tune_collector()
    assert server.stack is not None
    udp = server.stack.udp[0]
    real, capture = udp.transport, _Capture()
    udp.transport = capture  # type: ignore[assignment]
    driver = _Driver(port, users)
    receive = udp.datagram_received
    source = driver.local
    loop = asyncio.get_running_loop()
    profile = cProfile.Profile() if args.profile else None

    async def run(first: int, count: int, measure: bool) -> tuple[float, float]:
        """Registrations first..first+count at the rate; (server CPU, driver CPU)."""
        sent = capture.sent
        batch = max(1, int(args.in_process_rate / 100))
        start = loop.time()
        server_cpu = driver_cpu = 0.0
        clock = time.thread_time
        for base in range(first, first + count, batch):
            for number in range(base, min(base + batch, first + count)):
                t0 = clock()
                request = driver.first(number)
                t1 = clock()
                receive(request, source)
                t2 = clock()
                answer = sent.pop() if sent else b""
                retry = driver.second(number, answer)
                t3 = clock()
                if retry is None:
                    driver.failures += 1
                    continue
                receive(retry, source)
                t4 = clock()
                if not sent or not sent.pop().startswith(b"SIP/2.0 200 "):
                    driver.failures += 1
                sent.clear()
                server_cpu += (t2 - t1) + (t4 - t3)
                driver_cpu += (t1 - t0) + (t3 - t2)
            due = start + (base + batch - first) / args.in_process_rate
            await asyncio.sleep(max(0.0, due - loop.time()))
        return server_cpu, driver_cpu

    try:
        await run(0, len(users), False)
        count = int(args.in_process_rate * args.in_process_seconds)
        thread0, process0 = time.thread_time(), time.process_time()
        if profile is not None:
            profile.enable()
        server_cpu, driver_cpu = await run(len(users), count, True)
        if profile is not None:
            profile.disable()
        thread = time.thread_time() - thread0
        others = time.process_time() - process0 - thread
    finally:
        udp.transport = real
        await server.stop()
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    loop_rest = thread - server_cpu - driver_cpu
    total = server_cpu + loop_rest + others
    print(f"in_process_registrations: {count} registrations at {args.in_process_rate}/s")
    print(f"in_process_failed: {driver.failures} registrations")
    print(f"in_process_datagram_cpu_per_registration: {server_cpu / count * 1e6:.0f} us")
    print(f"in_process_timers_and_loop_cpu_per_registration: {loop_rest / count * 1e6:.0f} us")
    print(f"in_process_other_threads_cpu_per_registration: {others / count * 1e6:.0f} us")
    print(f"in_process_cpu_per_registration: {total / count * 1e6:.0f} us")
    print(f"in_process_driver_cpu_per_registration: {driver_cpu / count * 1e6:.0f} us")
    if profile is not None:
        stats = pstats.Stats(profile)
        stats.dump_stats(args.profile)
        calls = sum(entry[1] for entry in stats.stats.values())  # type: ignore[attr-defined]
        print(f"in_process_python_calls_per_registration: {calls / count:.1f} calls")
        print(f"# profile written to {args.profile}; heaviest by own time:", file=sys.stderr)
        stats.sort_stats("tottime").print_stats(args.profile_lines)
    return 0 if driver.failures == 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--step-seconds", type=float, default=4.0)
    parser.add_argument(
        "--rates", type=lambda s: tuple(int(x) for x in s.split(",")), default=RATES
    )
    parser.add_argument("--budget", type=float, default=600.0, help="seconds for the whole run")
    parser.add_argument(
        "--servers",
        default="switchboard,kamailio",
        help="which to measure, comma-separated: switchboard, switchboard_source (its SIP "
        "core from source), kamailio",
    )
    parser.add_argument("--keep", type=Path, help="keep the work folder here")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="run the servers and SIPp at this niceness (e.g. -10 on a machine shared with "
        "other jobs, so that the pinned core is really theirs)",
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="the real server in this process, fed datagrams without sockets or SIPp",
    )
    parser.add_argument("--in-process-rate", type=int, default=1500, help="registrations/s")
    parser.add_argument("--in-process-seconds", type=float, default=10.0)
    parser.add_argument(
        "--t1-ms", type=int, default=0, help="in process: timer_t1 (Timer J is 64 x T1)"
    )
    parser.add_argument("--profile", type=Path, help="in process: cProfile statistics file")
    parser.add_argument("--profile-lines", type=int, default=40)
    args = parser.parse_args()
    if args.in_process:
        return in_process(args)
    set_nice(args.nice)
    deadline = time.monotonic() + args.budget
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-register-"))
    work.mkdir(parents=True, exist_ok=True)
    users = make_users(args.users)
    write_injection(work / "users.csv", users)
    results: dict[str, float] = {}
    starters = {
        "switchboard": start_switchboard,
        "switchboard_source": start_switchboard_source,
        "kamailio": start_kamailio,
    }
    servers = [(name, starters[name]) for name in args.servers.split(",")]
    share = (deadline - time.monotonic()) / len(servers)
    try:
        for name, start in servers:
            port = free_port()
            server = start(work, port, users)
            try:
                steps = sweep(
                    server,
                    port,
                    work,
                    rates=args.rates,
                    seconds=args.step_seconds,
                    deadline=min(deadline, time.monotonic() + share),
                )
            finally:
                server.stop()
            results[name] = report(name, steps)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"users: {args.users} users")
    print(f"niceness: {args.nice}")
    if "kamailio" in results and "switchboard" in results:
        ratio = results["switchboard"] / results["kamailio"] if results["kamailio"] else 0.0
        print(f"ratio_switchboard_vs_kamailio: {ratio:.2f}")
    if "switchboard_source" in results and "switchboard" in results:
        source = results["switchboard_source"]
        print(f"ratio_compiled_vs_source: {results['switchboard'] / source if source else 0.0:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
