"""Call throughput, setup time, anchored-media ceiling and memory of ``switchboard serve``.

SIPp UAC (user ``caller``) -> Switchboard -> SIPp UAS (user ``callee``), both registered
with digest first, every INVITE digest-challenged (401), dialplan
``exten => _X.,1,Dial(PJSIP/callee,30)``. Scenarios: ``bench/scenarios/calls_*.xml``.

(a) signalling only: both endpoints ``direct_media=yes``; after the answer the server
    re-INVITEs both phones towards each other and the SIPp scripts *require* that re-INVITE
    (answered 200 + SDP), so a call is INVITE/401/ACK/INVITE/180/200/ACK on each side plus
    two re-INVITEs and the BYE: the whole direct-media signalling cost, no RTP (the relay
    ports are still allocated, as the engine does).
(b) media anchored: ``direct_media=no``; the UAC plays a generated 20 ms µ-law pcap, the UAS
    echoes it (``-rtp_echo``), so each call relays 50 packets/s each way through the server.

For (a) and (b) the call rate goes up in steps (``-m rate x seconds``, bounded by
``-timeout`` and ``timeout``) until a step has 0.1 % or more failed calls; setup time is
SIPp's rtd from the first INVITE to the 200 (both round trips, 401 included). Then the
concurrent-call ceiling for (b): N calls ramped over ``--ramp`` seconds, held ``--hold``
seconds; loss and jitter per leg come from the server's CDRs (``state/switchboard.db``,
table ``cdr``: what the relay received, RFC 3550 jitter, which is SIPp's own send
jitter); the jitter the relay *adds* is measured from outside with tcpdump (``capture``:
each sampled packet's time inside the relay, in and out, minus its stream's least), and
that is the figure the ceiling's jitter target applies to; server CPU per relayed packet
is measured over a window in which all N calls stream; memory per active call is the
server's RSS with N calls up minus its RSS before (after a warm-up run), and whether RSS
returns after they end. The allocators keep a new high-water mark after the largest step
so far, so growth is judged by repeating a count (``--ceiling 1000,1000,1000``): each
round's RSS after its calls ended, against the previous round's.

Baseline, same run: ``bench/c_relay.c`` (compiled with gcc into a temp dir), a minimal epoll
UDP relay with two sockets per call, driven by the same SIPp media (UAC -> UAS directly,
the UAS's SDP pointing at the C relay) at the same N; the last line is Switchboard's CPU
per relayed packet over the C relay's.

The server runs on core 0 (``taskset``), both SIPps on core 1. Ports: SIP 41000-41999,
server RTP 42000-52000, SIPp media 52000-60000; 127.0.0.1 only.

Run: ``.venv/bin/python bench/calls.py [--step-seconds 4] [--ceiling 250,500,1000,1500]``.
Targets (issue 4): (a) >= 500 calls/s; (b) >= 1,500 concurrent anchored calls with loss
< 0.1 % and added jitter p99 < 5 ms; < 50 KB per active call.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import math
import re
import resource
import secrets
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
import register  # the sibling benchmark's server and SIPp helpers
from capture import Capture, Delays

Server = register.Server
wait_until = register.wait_until

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE / "scenarios"
SIP_PORTS = range(41000, 42000)
RTP_START, RTP_END = 42000, 52000
UAC_MEDIA, UAS_MEDIA, C_RELAY_BASE = 52000, 56000, RTP_START
RATES_A = (50, 100, 150, 200, 300, 400, 500, 750, 1000)
RATES_B = (25, 50, 75, 100, 150, 200, 300, 500)
CEILING = (250, 500, 1000, 1500, 2000)
MAX_FAILED = 0.001
PACKET_MS = 20
MEDIA = "rtpstream"
"""How SIPp sends RTP (``--media``): ``rtpstream`` or ``pcap``."""
PROFILE_CALLS = 0
"""The ceiling step whose window py-spy records (``--profile``)."""
PROFILE_DIR: Path | None = None
SERVER_CORE, SIPP_CORE = register.SERVER_CORE, register.SIPP_CORE


# -- setup -----------------------------------------------------------------------------------


def sip_port(taken: set[int]) -> int:
    """A port of 41000-41999 free for UDP and TCP on 127.0.0.1, not yet handed out."""
    for port in SIP_PORTS:
        if port in taken:
            continue
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.bind(("127.0.0.1", port))
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                tcp.bind(("127.0.0.1", port))
        except OSError:
            continue
        taken.add(port)
        return port
    raise RuntimeError("no free port in 41000-41999")


def write_config(folder: Path, port: int, passwords: dict[str, str], *, direct: bool) -> None:
    """pjsip.conf with ``caller`` and ``callee``, the Dial dialplan and rtp.conf."""
    folder.mkdir(parents=True)
    media = "yes" if direct else "no"
    parts = [
        f"[transport-udp]\ntype=transport\nprotocol=udp\nbind=127.0.0.1:{port}\n",
        f"[phone](!)\ntype=endpoint\ncontext=calls\ndisallow=all\nallow=ulaw\n"
        f"direct_media={media}\n",
    ]
    for name, password in passwords.items():
        parts.append(
            f"[{name}](phone)\nauth={name}\naors={name}\n"
            f"[{name}]\ntype=auth\nauth_type=userpass\nusername={name}\npassword={password}\n"
            f"[{name}]\ntype=aor\nmax_contacts=1\nremove_existing=yes\n"
        )
    (folder / "pjsip.conf").write_text("".join(parts))
    (folder / "extensions.conf").write_text(
        "[calls]\nexten => _X.,1,Dial(PJSIP/callee,30)\n same => n,Hangup()\n"
    )
    (folder / "rtp.conf").write_text(f"[general]\nrtpstart={RTP_START}\nrtpend={RTP_END}\n")
    (folder / "switchboard.conf").write_text("[security]\ntrusted = 127.0.0.0/8\n")


def write_pcap(path: Path, seconds: float) -> int:
    """A pcap of 20 ms µ-law RTP packets (a 1 kHz tone), as SIPp's play_pcap_audio reads it;
    returns the packet count."""
    frame = tone_frame()
    count = int(seconds * 1000 / PACKET_MS)
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    ssrc = secrets.randbits(32)
    for seq in range(count):
        rtp = struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, seq * 160, ssrc) + frame
        udp = struct.pack("!HHHH", 6000, 6000, 8 + len(rtp), 0) + rtp
        ip = struct.pack(
            "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), seq & 0xFFFF, 0, 64, 17, 0,
            bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]),
        ) + udp  # fmt: skip
        packet = b"\0" * 12 + b"\x08\x00" + ip
        millis = seq * PACKET_MS
        stamp = (millis // 1000, (millis % 1000) * 1000, len(packet), len(packet))
        out.append(struct.pack("<IIII", *stamp))
        out.append(packet)
    path.write_bytes(b"".join(out))
    return count


def tone_frame() -> bytes:
    """20 ms of a 1 kHz tone in µ-law."""
    return bytes(_ulaw(int(8000 * math.sin(2 * math.pi * 1000 * n / 8000))) for n in range(160))


def _ulaw(sample: int) -> int:
    """G.711 µ-law of one 16-bit sample."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), 32635) + 0x84
    exponent = max(0, magnitude.bit_length() - 8)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (min(exponent, 7) << 4) | mantissa) & 0xFF


def media_exec(work: Path, seconds: float) -> str:
    """The SIPp ``exec`` attribute that sends one 20 ms µ-law stream for ``seconds``:
    ``rtp_stream`` (a looped raw µ-law file, own port per call) or ``play_pcap_audio``."""
    if MEDIA == "rtpstream":
        path = work / "tone.ulaw"
        if not path.exists():
            path.write_bytes(tone_frame() * 50)
        return f'rtp_stream="{path},-1,0"'
    path = work / f"stream-{seconds:.1f}s.pcap"
    if not path.exists():
        write_pcap(path, seconds)
    return f'play_pcap_audio="{path}"'


def scenario(
    work: Path,
    name: str,
    *,
    direct: bool,
    media: str | None,
    auth: bool = True,
    media_port: str | None = None,
) -> Path:
    """A scenario file from the template, with the direct/media/auth blocks kept or cut;
    ``media`` is the ``exec`` attribute from :func:`media_exec` (None: no RTP sent)."""
    text = (SCENARIOS / f"{name}.xml").read_text()
    keep = {"direct": direct, "media": media is not None, "auth": auth}
    for block, wanted in keep.items():
        pattern = re.compile(rf"<!--{block}-->(.*?)<!--/{block}-->\n?", re.S)
        text = pattern.sub((lambda m: m.group(1)) if wanted else "", text)
    if media_port is None:
        streams = media is not None and media.startswith("rtp_stream")
        media_port = "[rtpstream_audio_port]" if streams else "[media_port]"
    text = text.replace("@MEDIA@", media or "").replace("@MPORT@", media_port)
    text = text.replace("@RTD2@", "" if auth else ' start_rtd="1"')
    if not auth:
        text = text.replace("[authentication]\n", "")
    kind = "direct" if direct else "anchored" if media else "silent"
    path = work / f"{name}-{kind}{'' if auth else '-bare'}.xml"
    path.write_text(text)
    return path


def sipp(*args: str) -> list[str]:
    """SIPp on its core, with the options every run here shares."""
    return [
        *register.pinned(SIPP_CORE),
        shutil.which("sipp") or "sipp",
        *args,
        *("-i", "127.0.0.1", "-t", "u1", "-nostdin", "-timer_resol", "1"),
        *("-max_recv_loops", "10000", "-max_sched_loops", "10000"),
    ]


SOURCE_CORE = False
"""Run the server's compiled modules from source (``--core source``, ``SWITCHBOARD_NATIVE=0``)."""

GC_LOG = False
"""Have the server log its garbage collections (``--gc``); each step reports its own."""


def start_server(work: Path, port: int, passwords: dict[str, str], *, direct: bool) -> Server:
    """``switchboard serve`` on core 0 with a fresh config and state folder."""
    tag = ("direct" if direct else "anchored") + ("-source" if SOURCE_CORE else "")
    config, state = work / f"config-{tag}", work / f"state-{tag}"
    write_config(config, port, passwords, direct=direct)
    return register.serve(
        config,
        state,
        work / f"switchboard-{tag}.log",
        source=SOURCE_CORE,
        gc_log=work / f"gc-{tag}.log" if GC_LOG else None,
    )


def register_user(work: Path, server_port: int, local_port: int, user: str, password: str) -> None:
    """One digest REGISTER of ``user`` from 127.0.0.1:local_port (register.py's scenario)."""
    folder = work / f"register-{user}-{local_port}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "register.xml").write_text(register.SCENARIO)
    register.write_injection(folder / "user.csv", [(user, password)])
    command = sipp(
        f"127.0.0.1:{server_port}",
        *("-sf", str(folder / "register.xml"), "-inf", str(folder / "user.csv")),
        *("-au", "[field0]", "-ap", "[field1]", "-p", str(local_port), "-m", "1"),
        *("-timeout", "10s", "-timeout_error", "-recv_timeout", "5000"),
    )
    done = subprocess.run(command, cwd=folder, capture_output=True, timeout=30, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"REGISTER of {user} failed: {done.stderr.decode(errors='replace')}")


@dataclass
class Callee:
    """The SIPp UAS answering for ``callee``, running for the whole phase."""

    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        """SIGTERM (``timeout`` passes it on to SIPp), then kill."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_callee(
    work: Path, target: str, port: int, xml: Path, *, budget: float, inf: Path | None = None
) -> Callee:
    """The UAS on ``port`` (already registered from it), echoing RTP on ``UAS_MEDIA``."""
    folder = work / f"uas-{xml.stem}"
    folder.mkdir(parents=True, exist_ok=True)
    extra = ["-inf", str(inf)] if inf is not None else []
    command = [
        "timeout",
        str(int(budget) + 30),
        *sipp(
            target,
            *("-sf", str(xml), "-p", str(port), "-mp", str(UAS_MEDIA)),
            *(["-rtp_echo"] if MEDIA == "pcap" else []),
            *extra,
            *("-timeout", f"{int(budget)}s", "-l", "20000", "-aa"),
            *("-trace_err",),
        ),
    ]
    process = subprocess.Popen(
        command, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(0.5)
    if process.poll() is not None:
        raise RuntimeError(f"the UAS exited at once ({process.returncode}); see {folder}")
    return Callee(process)


# -- one UAC run -----------------------------------------------------------------------------


@dataclass
class Step:
    """One SIPp UAC run and the server's readings over it."""

    rate: int
    calls: int
    successful: int = 0
    failed: int = 0
    retransmissions: int = 0
    achieved: float = 0.0
    setup_ms: list[float] = field(default_factory=list)
    setup_at: list[float] = field(default_factory=list)
    """When each of ``setup_ms`` was measured, seconds after SIPp started."""
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    rss: int = 0
    started: float = 0.0
    collections: str = ""
    """The server's garbage collections over the step (``--gc``)."""

    @property
    def failed_ratio(self) -> float:
        """Calls that did not complete the scenario, of those asked for."""
        return 1.0 if self.calls == 0 else 1 - self.successful / self.calls

    @property
    def ok(self) -> bool:
        """Under 0.1 % failed calls."""
        return self.failed_ratio < MAX_FAILED

    def p(self, q: float) -> float:
        """Quantile ``q`` of the setup times (ms)."""
        if not self.setup_ms:
            return float("nan")
        ordered = sorted(self.setup_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_uac(
    server: Server | None,
    target: str,
    folder: Path,
    xml: Path,
    *,
    local_port: int,
    rate: int,
    calls: int,
    hold_ms: int,
    password: str,
    during: list[tuple[float, object]] | None = None,
    inf: Path | None = None,
) -> Step:
    """SIPp UAC: ``calls`` calls at ``rate``/s, each held ``hold_ms``; bounded in time.

    ``during`` lists (seconds after start, callable) run while SIPp runs."""
    folder.mkdir(parents=True)
    step = Step(rate, calls)
    limit = int(calls / rate + hold_ms / 1000 + 40)
    command = [
        "timeout",
        str(limit + 20),
        *sipp(
            target,
            *("-sf", str(xml), "-s", "100", "-au", "caller", "-ap", password),
            *("-p", str(local_port), "-mp", str(UAC_MEDIA)),
            *(["-inf", str(inf)] if inf is not None else []),
            *("-r", str(rate), "-rp", "1000", "-m", str(calls), "-d", str(hold_ms)),
            *("-l", str(max(calls, 1000)), "-timeout", f"{limit}s", "-timeout_error"),
            *("-recv_timeout", "10000", "-trace_rtt", "-rtt_freq", "20"),
            *("-trace_stat", "-fd", "1", "-trace_err"),
        ),
    ]
    cpu_before = server.cpu_seconds() if server else 0.0
    step.started = time.time()
    started = time.monotonic()
    process = subprocess.Popen(
        command, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    for at, action in during or []:
        delay = started + at - time.monotonic()
        if delay > 0 and process.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=delay)
        if process.poll() is None:
            action()  # type: ignore[operator]
    _, stderr = process.communicate(timeout=limit + 30)
    step.wall_seconds = time.monotonic() - started
    if server:
        step.cpu_seconds = server.cpu_seconds() - cpu_before
        step.rss = server.rss_bytes()
        if server.gc_log is not None:
            step.collections = collections(server.gc_log, step.started, time.time(), calls)
    stats = sorted(folder.glob("*_.csv"))
    if not stats:
        raise RuntimeError(
            f"SIPp wrote no statistics (exit {process.returncode}):\n"
            + stderr.decode(errors="replace")
        )
    with stats[-1].open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    step.successful = int(rows[-1]["SuccessfulCall(C)"])
    step.failed = int(rows[-1]["FailedCall(C)"])
    step.retransmissions = int(rows[-1].get("Retransmissions(C)") or 0)
    stamps = step.setup_at
    for path in folder.glob("*_rtt.csv"):
        with path.open(newline="") as handle:
            reader = csv.reader(handle, delimiter=";")
            next(reader, None)
            for row in reader:
                if len(row) >= 3 and row[2] == "1":
                    step.setup_ms.append(float(row[1]))
                    stamps.append(float(row[0]) / 1000)
    if len(stamps) > 1 and max(stamps) > min(stamps):
        step.achieved = (len(stamps) - 1) / (max(stamps) - min(stamps))
    return step


def collections(log: Path, start: float, end: float, calls: int) -> str:
    """What the server's collector did between ``start`` and ``end`` (epoch seconds):
    passes, total and longest pause per generation, and objects freed per call (objects
    only the collector could free: reference cycles)."""
    passes: dict[int, list[float]] = {0: [], 1: [], 2: []}
    freed = 0
    for line in log.read_text().splitlines():
        at, generation, took, collected = line.split()
        if start <= float(at) <= end:
            passes[int(generation)].append(float(took))
            freed += int(collected)
    parts = [
        f"gen{generation} {len(pauses)} passes {1000 * sum(pauses):.0f} ms"
        + (f" (longest {1000 * max(pauses):.1f} ms)" if pauses else "")
        for generation, pauses in passes.items()
    ]
    return f"{', '.join(parts)}; {freed / max(calls, 1):.1f} objects freed per call"


def describe(name: str, step: Step) -> None:
    """One progress line on stderr."""
    cpu = step.cpu_seconds / step.wall_seconds if step.wall_seconds else 0.0
    print(
        f"# {name} rate {step.rate}/s: achieved {step.achieved:.0f}/s, "
        f"{step.successful}/{step.calls} ok, failed {step.failed_ratio:.3%}, "
        f"p99 setup {step.p(0.99):.1f} ms, server cpu {cpu:.2f}",
        file=sys.stderr,
    )
    if step.collections:
        print(f"# {name} rate {step.rate}/s collector: {step.collections}", file=sys.stderr)


# -- CDRs --------------------------------------------------------------------------------------


@dataclass
class Quality:
    """What the relay saw over a set of calls (from the CDRs)."""

    records: int
    received: int
    lost: int
    jitter_ms: list[float]
    caller_lost: int = 0
    callee_lost: int = 0
    packets_per_s: float = 0.0

    @property
    def loss(self) -> float:
        """Lost over expected, both legs of every call."""
        expected = self.received + self.lost
        return self.lost / expected if expected else 0.0

    def jitter_p(self, q: float) -> float:
        """Quantile of the per-leg RFC 3550 jitter (ms)."""
        if not self.jitter_ms:
            return float("nan")
        ordered = sorted(self.jitter_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cdr_quality(database: Path, since: float, expected: int, timeout: float = 30.0) -> Quality:
    """The CDRs of calls started after ``since`` (epoch), waiting for ``expected`` of them."""
    query = (
        "SELECT caller_packets_received, caller_packets_lost, caller_jitter_ms, "
        "callee_packets_received, callee_packets_lost, callee_jitter_ms, answer, end "
        "FROM cdr WHERE start >= ?"
    )
    rows: list[tuple[object, ...]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as db:
                rows = db.execute(query, (since - 1,)).fetchall()
        except sqlite3.Error:
            rows = []
        if len(rows) >= expected:
            break
        time.sleep(0.5)
    quality = Quality(len(rows), 0, 0, [])
    for row in rows:
        call_received = 0
        for base in (0, 3):
            got, gone, jit = row[base], row[base + 1], row[base + 2]
            call_received += int(got or 0)  # type: ignore[call-overload]
            gone_count = max(0, int(gone or 0))  # type: ignore[call-overload]
            quality.lost += gone_count
            if base:
                quality.callee_lost += gone_count
            else:
                quality.caller_lost += gone_count
            if jit is not None:
                quality.jitter_ms.append(float(jit))  # type: ignore[arg-type]
        quality.received += call_received
        answer, end = row[6], row[7]
        if answer is not None and end is not None and float(end) > float(answer) + 1:  # type: ignore[arg-type]
            quality.packets_per_s += call_received / (float(end) - float(answer))  # type: ignore[arg-type]
    return quality


# -- phases ------------------------------------------------------------------------------------


def sweep(
    name: str, run: object, rates: tuple[int, ...], seconds: float, deadline: float
) -> list[Step]:
    """Raise the rate until a step fails or the time budget is spent."""
    steps: list[Step] = []
    for rate in rates:
        if time.monotonic() + seconds * 3 + 20 > deadline:
            print(f"# {name}: time budget spent before {rate}/s", file=sys.stderr)
            break
        step: Step = run(rate)  # type: ignore[operator]
        describe(name, step)
        steps.append(step)
        if not step.ok:
            break
    return steps


def report_rate(name: str, steps: list[Step]) -> None:
    """The figures of the highest step under 0.1 % failed calls."""
    good = [s for s in steps if s.ok]
    if not good:
        print(f"{name}_calls_per_s: 0 calls/s")
        return
    top = max(good, key=lambda s: s.rate)
    rate = min(top.achieved, float(top.rate)) if top.achieved else float(top.rate)
    print(f"{name}_calls_per_s: {rate:.0f} calls/s")
    print(f"{name}_step_rate: {top.rate} calls/s")
    print(f"{name}_failed_calls: {top.failed_ratio * 100:.3f} %")
    print(f"{name}_p50_setup: {top.p(0.5):.2f} ms")
    print(f"{name}_p99_setup: {top.p(0.99):.2f} ms")
    print(f"{name}_server_cpu: {top.cpu_seconds / top.wall_seconds:.2f} cores")
    per_call = top.cpu_seconds / max(top.successful, 1)
    print(f"{name}_cpu_per_call: {per_call * 1e6:.0f} us")
    print(f"{name}_one_core_capacity: {1 / per_call:.0f} calls/s (from CPU)")
    failing = [s for s in steps if not s.ok]
    if failing:
        print(f"{name}_first_failing_step: {failing[0].rate} calls/s")


@dataclass
class Ceiling:
    """One concurrency step of (b)."""

    calls: int
    step: Step
    quality: Quality
    window_cpu: float = 0.0
    window_seconds: float = 0.0
    rss_before: int = 0
    rss_full: int = 0
    rss_after: int = 0

    sipp_cpu: float = 0.0
    delays: Delays | None = None
    """The jitter the relay added, from tcpdump (None without it)."""

    @property
    def added_jitter_p99(self) -> float:
        """p99 of the delay variation the relay added (ms); the received jitter's p99
        when there was no capture."""
        if self.delays is None or not self.delays.added_ms:
            return self.quality.jitter_p(0.99)
        return Delays.quantile(self.delays.added_ms, 0.99)

    @property
    def us_per_packet(self) -> float:
        """Server CPU per relayed packet while all calls stream; the packet rate is the sum
        over calls of what the relay received from both phones over the answered time."""
        packets = self.quality.packets_per_s * self.window_seconds
        return self.window_cpu / packets * 1e6 if packets else float("nan")

    @property
    def ok(self) -> bool:
        """Calls completed, loss under 0.1 %, added jitter p99 under 5 ms."""
        return self.step.ok and self.quality.loss < 0.001 and self.added_jitter_p99 < 5.0


def ceiling_step(
    server: Server,
    target: str,
    work: Path,
    *,
    calls: int,
    ramp_rate: int,
    window: float,
    local_port: int,
    password: str,
    database: Path,
) -> Ceiling:
    """``calls`` anchored calls set up at ``ramp_rate``/s, each held until ``window``
    seconds after the last one is up (and its pcap streams that long)."""
    ramp = calls / ramp_rate
    hold = ramp + window + 2.0
    folder = work / f"ceiling-{calls}"
    for repeat in range(2, 100):  # the same N again (--ceiling 500,500): RSS across rounds
        if not folder.exists():
            break
        folder = work / f"ceiling-{calls}-{repeat}"
    folder.mkdir(parents=True)
    xml = scenario(folder, "calls_uac", direct=False, media=media_exec(folder, hold - 0.3))
    gc_settle(server)
    result = Ceiling(calls, Step(0, 0), Quality(0, 0, 0, []))
    result.rss_before = server.rss_bytes()
    marks: dict[str, float] = {}
    window_start, window_end = ramp + 0.7, ramp + 0.7 + window
    capture = media_capture(folder)

    def open_window() -> None:
        if capture is not None:
            capture.start()
        marks["cpu0"], marks["t0"] = server.cpu_seconds(), time.monotonic()
        marks["sipp0"] = sipp_cpu_seconds()
        if calls == PROFILE_CALLS and PROFILE_DIR is not None:
            profile_during(server, PROFILE_DIR / f"profile-ceiling-{calls}.txt", window)

    def close_window() -> None:
        marks["cpu1"], marks["t1"] = server.cpu_seconds(), time.monotonic()
        marks["sipp1"] = sipp_cpu_seconds()
        result.rss_full = server.rss_bytes()
        if capture is not None:
            capture.stop()

    result.step = run_uac(
        server,
        target,
        folder / "run",
        xml,
        local_port=local_port,
        rate=ramp_rate,
        calls=calls,
        hold_ms=int(hold * 1000),
        password=password,
        during=[(window_start, open_window), (window_end, close_window)],
    )
    if "t1" in marks:
        result.window_cpu = marks["cpu1"] - marks["cpu0"]
        result.window_seconds = marks["t1"] - marks["t0"]
        result.sipp_cpu = (marks["sipp1"] - marks["sipp0"]) / result.window_seconds
    result.quality = cdr_quality(database, result.step.started, result.step.successful)
    if capture is not None:
        result.delays = capture.delays()
    time.sleep(3)
    result.rss_after = server.rss_bytes()
    return result


def media_capture(folder: Path) -> Capture | None:
    """A tcpdump of a sample of the calls' RTP, when tcpdump is there and SIPp streams
    from one port per side (``rtp_stream``); else None (the figure is left out)."""
    if MEDIA != "rtpstream" or not Capture.available():
        return None
    return Capture(folder / "rtp.pcap", (UAC_MEDIA, UAS_MEDIA), register.pinned(SIPP_CORE))


def sipp_cpu_seconds() -> float:
    """User + system CPU of every SIPp this script started (the load generators)."""
    total = 0.0
    for proc in psutil.Process().children(recursive=True):
        try:
            if proc.name() == "sipp":
                times = proc.cpu_times()
                total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def gc_settle(server: Server) -> None:
    """Let the server go idle for a moment (transactions expire, collector runs)."""
    deadline = time.monotonic() + 5
    last = server.cpu_seconds()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = server.cpu_seconds()
        if now - last < 0.02:
            return
        last = now


@dataclass
class CRelayRun:
    """The C relay's figures at one N."""

    us_per_packet: float
    packets_per_s: float
    jitter_p99: float
    cores: float
    sipp_cores: float
    calls_up: int
    delays: Delays | None = None


def c_relay_baseline(
    work: Path, ports: set[int], *, calls: int, ramp_rate: int, window: float
) -> CRelayRun:
    """The same media through bench/c_relay.c: µs CPU per relayed packet, packets/s, p99
    of the legs' RFC 3550 jitter in ms as the C relay saw it, its CPU and SIPp's."""
    binary = work / "c_relay"
    subprocess.run(
        ["gcc", "-O2", "-o", str(binary), str(HERE / "c_relay.c")], check=True, timeout=60
    )
    relay = subprocess.Popen(
        [*register.pinned(SERVER_CORE), str(binary), str(C_RELAY_BASE), str(calls)],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert relay.stdout is not None
        if not relay.stdout.readline().startswith("ready"):
            raise RuntimeError("c_relay did not start")
        # the UAS answers with leg A's port (the caller sends there), the UAC offers leg B's
        leg_a, leg_b = work / "c-relay-a.csv", work / "c-relay-b.csv"
        for path, offset in ((leg_a, 0), (leg_b, 2)):
            ports_text = "".join(f"{C_RELAY_BASE + 4 * i + offset};\n" for i in range(calls))
            path.write_text("SEQUENTIAL\n" + ports_text)
        uas_port, uac_port = sip_port(ports), sip_port(ports)
        ramp = calls / ramp_rate
        hold = ramp + window + 2.0
        media = media_exec(work, hold - 0.3)
        streams = MEDIA == "rtpstream"
        uas_xml = scenario(work, "calls_uas", direct=False, media=media if streams else None,
                           auth=False, media_port="[field0]")  # fmt: skip
        uac_xml = scenario(work, "calls_uac", direct=False, media=media, auth=False,
                           media_port="[field0]")  # fmt: skip
        budget = ramp + hold + 60
        callee = start_callee(
            work, f"127.0.0.1:{uac_port}", uas_port, uas_xml, budget=budget, inf=leg_a
        )
        proc = psutil.Process(relay.pid)
        marks: dict[str, float] = {}
        (work / f"c-relay-{calls}").mkdir(exist_ok=True)
        capture = media_capture(work / f"c-relay-{calls}")

        def counted() -> int:
            relay.send_signal(signal.SIGUSR1)
            assert relay.stdout is not None
            return int(relay.stdout.readline().split()[1])

        def open_window() -> None:
            if capture is not None:
                capture.start()
            times = proc.cpu_times()
            marks["cpu0"], marks["t0"] = times.user + times.system, time.monotonic()
            marks["n0"], marks["sipp0"] = counted(), sipp_cpu_seconds()

        def close_window() -> None:
            times = proc.cpu_times()
            marks["cpu1"], marks["t1"] = times.user + times.system, time.monotonic()
            marks["n1"], marks["sipp1"] = counted(), sipp_cpu_seconds()
            if capture is not None:
                capture.stop()

        try:
            step = run_uac(
                None,
                f"127.0.0.1:{uas_port}",
                work / f"c-relay-run-{calls}",
                uac_xml,
                local_port=uac_port,
                rate=ramp_rate,
                calls=calls,
                hold_ms=int(hold * 1000),
                password="-",
                during=[(ramp + 0.7, open_window), (ramp + 0.7 + window, close_window)],
                inf=leg_b,
            )
        finally:
            callee.stop()
        describe("c_relay", step)
        if "n1" not in marks:
            raise RuntimeError("the C relay run ended before its measurement window")
        packets = marks["n1"] - marks["n0"]
        seconds = marks["t1"] - marks["t0"]
        cpu = (marks["cpu1"] - marks["cpu0"]) / seconds
        print(
            f"# c_relay {calls} calls: {packets / seconds:.0f} packets/s, cpu {cpu:.2f}, "
            f"sipp cpu {(marks['sipp1'] - marks['sipp0']) / seconds:.2f}",
            file=sys.stderr,
        )
        relay.send_signal(signal.SIGTERM)
        out, _ = relay.communicate(timeout=10)
        jitter = sorted(
            float(value)
            for line in out.splitlines()
            if line.startswith("jitter_ms")
            for value in line.split()[1:]
        )
        p99 = jitter[min(len(jitter) - 1, int(0.99 * len(jitter)))] if jitter else float("nan")
        return CRelayRun(
            (marks["cpu1"] - marks["cpu0"]) / max(packets, 1) * 1e6,
            packets / seconds,
            p99,
            cpu,
            (marks["sipp1"] - marks["sipp0"]) / seconds,
            step.successful,
            capture.delays() if capture is not None else None,
        )
    finally:
        if relay.poll() is None:
            relay.kill()
            relay.wait()


def phase(
    work: Path,
    ports: set[int],
    passwords: dict[str, str],
    *,
    direct: bool,
    args: argparse.Namespace,
    deadline: float,
) -> tuple[list[Step], list[Ceiling]]:
    """One server (direct or anchored): register both phones, sweep rates, then (anchored)
    the concurrency ceiling."""
    port = sip_port(ports)
    target = f"127.0.0.1:{port}"
    uac_port, uas_port = sip_port(ports), sip_port(ports)
    server = start_server(work, port, passwords, direct=direct)
    tag = "direct" if direct else "anchored"
    database = work / f"state-{tag}" / "switchboard.db"
    ceilings: list[Ceiling] = []
    try:
        register_user(work, port, uas_port, "callee", passwords["callee"])
        register_user(work, port, uac_port, "caller", passwords["caller"])
        media = None if direct else media_exec(work, args.short_seconds + 0.1)
        uac_xml = scenario(work, "calls_uac", direct=direct, media=media)
        uas_xml = scenario(
            work, "calls_uas", direct=direct, media=media if MEDIA == "rtpstream" else None
        )
        callee = start_callee(work, target, uas_port, uas_xml, budget=deadline - time.monotonic())
        name = "a_direct" if direct else "b_anchored"
        hold_ms = 500 if direct else int(args.short_seconds * 1000) + 200

        def run(rate: int) -> Step:
            calls = max(int(rate * args.step_seconds), 50)
            if args.profile and rate == (args.profile_a if direct else args.profile_b):
                profile_during(server, work / f"profile-{name}-{rate}.txt", args.step_seconds)
            return run_uac(
                server,
                target,
                work / f"{name}-{rate}",
                uac_xml,
                local_port=uac_port,
                rate=rate,
                calls=calls,
                hold_ms=hold_ms,
                password=passwords["caller"],
            )

        try:
            rates = args.rates_a if direct else args.rates_b
            budget = deadline if direct else time.monotonic() + (deadline - time.monotonic()) / 2
            steps = sweep(name, run, rates, args.step_seconds, budget)
            report_rate(name, steps)
            if not direct:
                ceilings = ceiling_run(server, target, work, args, deadline,
                                       uac_port=uac_port, password=passwords["caller"],
                                       database=database)  # fmt: skip
        finally:
            callee.stop()
    finally:
        server.stop()
    return steps, ceilings


def ceiling_run(
    server: Server,
    target: str,
    work: Path,
    args: argparse.Namespace,
    deadline: float,
    *,
    uac_port: int,
    password: str,
    database: Path,
) -> list[Ceiling]:
    """A warm-up, then the concurrency steps of (b) until one misses a target."""
    kwargs = {"ramp_rate": args.ramp_rate, "window": args.window, "local_port": uac_port,
              "password": password, "database": database}  # fmt: skip
    warm = ceiling_step(server, target, work / "warm", calls=args.ceiling[0], **kwargs)  # type: ignore[arg-type]
    print(f"# warm-up: {warm.step.successful}/{warm.calls} calls", file=sys.stderr)
    results = []
    for calls in args.ceiling:
        if time.monotonic() + 2 * calls / args.ramp_rate + args.window + 30 > deadline:
            print(f"# ceiling: time budget spent before {calls} calls", file=sys.stderr)
            break
        result = ceiling_step(server, target, work, calls=calls, **kwargs)  # type: ignore[arg-type]
        results.append(result)
        print(
            f"# ceiling {calls} calls: {result.step.successful}/{calls} ok, "
            f"loss {result.quality.loss:.4%} ({result.quality.records} CDRs), "
            f"jitter p99 {result.quality.jitter_p(0.99):.2f} ms as received, "
            + (f"{result.delays.describe()}, " if result.delays else "")
            + f"{result.quality.packets_per_s:.0f} packets/s, "
            f"{result.us_per_packet:.1f} us/packet, "
            f"cpu {result.window_cpu / max(result.window_seconds, 1e-9):.2f}, "
            f"sipp cpu {result.sipp_cpu:.2f}, "
            f"rss/call {(result.rss_full - result.rss_before) / calls / 1024:.1f} KB, "
            f"rss left after {(result.rss_after - result.rss_before) / 1e6:+.1f} MB",
            file=sys.stderr,
        )
        if result.step.failed_ratio >= 0.01 or result.quality.loss >= 0.05:
            break  # far past the ceiling: larger steps would only take longer
    return results


def profile_during(server: Server, out: Path, seconds: float) -> None:
    """py-spy top-down sampling of the server for ``seconds``, in the background."""
    spy = Path(sys.executable).with_name("py-spy")
    if not spy.exists():
        print("# py-spy not installed in the venv; no profile", file=sys.stderr)
        return
    subprocess.Popen(
        ["timeout", str(int(seconds) + 30), str(spy), "record", "-p", str(server.process.pid),
         "-d", str(int(seconds)), "-r", "200", "-f", "raw", "-o", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def hotspots(path: Path, count: int = 15) -> list[str]:
    """The top self-time and inclusive frames of a py-spy ``raw`` (collapsed) profile."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, samples = line.rpartition(" ")
        if not stack or not samples.isdigit():
            continue
        number = int(samples)
        total += number
        frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]
        own[frames[-1]] = own.get(frames[-1], 0) + number
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + number
    if not total:
        return [f"{path.name}: no samples"]
    lines = [f"{path.name}: {total} samples; self time:"]
    for frame, number in sorted(own.items(), key=lambda item: -item[1])[:count]:
        lines.append(f"  {number / total:6.1%}  {frame}")
    lines.append("inclusive (switchboard frames):")
    ours = [(f, n) for f, n in inclusive.items() if "switchboard" in f and n < total]
    for frame, number in sorted(ours, key=lambda item: -item[1])[:count]:
        lines.append(f"  {number / total:6.1%}  {frame}")
    return lines


def report_ceiling(results: list[Ceiling]) -> Ceiling | None:
    """The ceiling figures; returns the largest step that met every target (or None)."""
    for result in results:
        q = result.quality
        print(
            f"b_ceiling_{result.calls}: {result.step.successful}/{result.calls} calls ok, "
            f"loss {q.loss * 100:.3f} % (caller leg {q.caller_lost}, callee leg "
            f"{q.callee_lost} packets), jitter p99 {q.jitter_p(0.99):.2f} ms as received, "
            + (f"{result.delays.describe()}, " if result.delays else "")
            + f"{q.packets_per_s:.0f} packets/s relayed, {result.us_per_packet:.1f} us/packet, "
            f"server {result.window_cpu / max(result.window_seconds, 1e-9):.2f} cores, "
            f"SIPp {result.sipp_cpu:.2f} cores"
        )
    for previous, result in pairwise(results):
        if result.calls == previous.calls:
            growth = result.rss_after - previous.rss_after
            print(
                f"b_rss_growth_{result.calls}: {growth / 1e6:+.1f} MB after another round "
                f"({previous.rss_after / 1e6:.1f} -> {result.rss_after / 1e6:.1f} MB once "
                "its calls ended)"
            )
    good = [r for r in results if r.ok]
    top = max(good, key=lambda r: r.calls) if good else None
    print(f"b_concurrent_ceiling: {top.calls if top else 0} calls")
    lossless = [r for r in results if r.step.ok and r.quality.loss < MAX_FAILED]
    if lossless:
        print(f"b_max_calls_all_up_no_loss: {max(r.calls for r in lossless)} calls (any jitter)")
    # CPU and memory figures from the largest step whose calls all completed
    completed = [r for r in results if r.step.ok]
    measured = top or (max(completed, key=lambda r: r.calls) if completed else None)
    if measured is None:
        return None
    per_call = (measured.rss_full - measured.rss_before) / measured.calls
    print(f"b_server_cpu_per_packet: {measured.us_per_packet:.1f} us ({measured.calls} calls)")
    print(f"b_memory_per_active_call: {per_call / 1024:.1f} KB ({measured.calls} calls)")
    print(f"b_rss_before: {measured.rss_before / 1e6:.1f} MB")
    print(f"b_rss_with_calls: {measured.rss_full / 1e6:.1f} MB")
    print(f"b_rss_after_calls: {measured.rss_after / 1e6:.1f} MB")
    returned = measured.rss_after - measured.rss_before
    print(f"b_rss_left_after_calls: {returned / 1e6:+.1f} MB")
    return measured


def main() -> int:
    """Parse the options, run both phases and the baseline, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ints = lambda s: tuple(int(x) for x in s.split(","))  # noqa: E731
    parser.add_argument("--step-seconds", type=float, default=4.0)
    parser.add_argument("--rates-a", type=ints, default=RATES_A)
    parser.add_argument("--rates-b", type=ints, default=RATES_B)
    parser.add_argument("--ceiling", type=ints, default=CEILING)
    parser.add_argument("--ramp-rate", type=int, default=50, help="ceiling set-up calls/s")
    parser.add_argument("--window", type=float, default=8.0, help="ceiling: seconds measured")
    parser.add_argument("--short-seconds", type=float, default=2.0, help="(b) rate-step calls")
    parser.add_argument("--budget", type=float, default=900.0, help="seconds for the whole run")
    parser.add_argument("--phases", default="a,b,baseline")
    parser.add_argument(
        "--core",
        choices=("compiled", "source"),
        default="compiled",
        help="the server's compiled modules as built, or from source (SWITCHBOARD_NATIVE=0)",
    )
    parser.add_argument(
        "--gc",
        action="store_true",
        help="log the server's garbage collections (bench/gcprobe) and report each step's",
    )
    parser.add_argument(
        "--baseline-calls",
        type=ints,
        default=(),
        help="also run the C relay at these N (does the machine, with SIPp, carry them?)",
    )
    parser.add_argument("--profile", action="store_true", help="py-spy the server (needs --keep)")
    parser.add_argument("--profile-a", type=int, default=100, help="(a) step to profile")
    parser.add_argument("--profile-b", type=int, default=50, help="(b) step to profile")
    parser.add_argument("--profile-ceiling", type=int, default=500, help="ceiling to profile")
    parser.add_argument("--keep", type=Path, help="keep the work folder here")
    parser.add_argument(
        "--nice", type=int, default=0, help="niceness of the server and SIPp (root for < 0)"
    )
    parser.add_argument(
        "--media",
        choices=("rtpstream", "pcap"),
        default="rtpstream",
        help="SIPp rtp_stream both ways, or play_pcap_audio from the UAC echoed by the UAS",
    )
    args = parser.parse_args()
    register.NICE = args.nice
    if args.nice:
        # As in register.py: with autogroup scheduling the session's group niceness is what
        # weighs against other jobs on the machine.
        try:
            Path("/proc/self/autogroup").write_text(str(args.nice))
        except OSError as exc:
            print(f"# cannot set the autogroup niceness: {exc}", file=sys.stderr)
    global MEDIA, PROFILE_CALLS, PROFILE_DIR  # noqa: PLW0603 - settings for the whole run
    MEDIA = args.media
    PROFILE_CALLS = args.profile_ceiling if args.profile else 0
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    deadline = time.monotonic() + args.budget
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-calls-"))
    work.mkdir(parents=True, exist_ok=True)
    PROFILE_DIR = work
    passwords = {name: secrets.token_urlsafe(18) for name in ("caller", "callee")}
    ports: set[int] = set()
    phases = args.phases.split(",")
    global SOURCE_CORE, GC_LOG  # noqa: PLW0603 (one run, one setting, read by start_server)
    SOURCE_CORE = args.core == "source"
    GC_LOG = args.gc
    print(f"core: {args.core}")
    measured: Ceiling | None = None
    try:
        if "a" in phases:
            share = deadline if "b" not in phases else time.monotonic() + args.budget * 0.3
            phase(work, ports, passwords, direct=True, args=args, deadline=share,
                  )  # fmt: skip
        if "b" in phases:
            _, ceilings = phase(work, ports, passwords, direct=False, args=args,
                                deadline=deadline - 90)  # fmt: skip
            measured = report_ceiling(ceilings)
        if "baseline" in phases:
            calls = measured.calls if measured else args.ceiling[0]
            base = c_relay_baseline(
                work, ports, calls=calls, ramp_rate=args.ramp_rate, window=args.window
            )
            print(f"c_relay_cpu_per_packet: {base.us_per_packet:.2f} us ({calls} calls)")
            print(f"c_relay_packets_per_s: {base.packets_per_s:.0f} packets/s")
            print(
                f"c_relay_jitter_p99: {base.jitter_p99:.2f} ms "
                "(the load generator's own, as received)"
            )
            if base.delays is not None:
                print(f"c_relay_added: {base.delays.describe()} ({calls} calls)")
            if measured is not None:
                ratio = measured.us_per_packet / base.us_per_packet
                print(f"ratio_switchboard_vs_c_relay_cpu_per_packet: {ratio:.1f} x")
            for more in args.baseline_calls:
                if more == calls:
                    continue  # measured just above
                run = c_relay_baseline(
                    work, ports, calls=more, ramp_rate=args.ramp_rate, window=args.window
                )
                print(
                    f"c_relay_{more}: {run.calls_up}/{more} calls up, "
                    f"{run.packets_per_s:.0f} of {more * 2000 // PACKET_MS} packets/s relayed, "
                    f"{run.us_per_packet:.2f} us/packet, relay {run.cores:.2f} cores, "
                    f"SIPp {run.sipp_cores:.2f} cores, jitter p99 {run.jitter_p99:.2f} ms"
                    + (f", {run.delays.describe()}" if run.delays else "")
                )
        if args.profile:
            for path in sorted(work.glob("profile-*.txt")):
                for line in hotspots(path):
                    print(f"# {line}", file=sys.stderr)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
