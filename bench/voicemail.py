"""Concurrent voicemail deposits through ``switchboard serve``: lost frames, CPU per minute.

SIPp callers (user ``caller``, every INVITE digest-challenged) dial one mailbox each of
``voicemail.conf`` (boxes 1000, 1001, ...; one message per box) in a context whose dialplan
is ``exten => _X.,1,VoiceMail(${EXTEN},s)`` (``s``: no instructions, only the beep before
the recording). ``format=wav49|gsm|wav|ulaw`` as in the reference, ``review=no``: each
caller waits ``--pause`` ms after the ACK (longer than the beep), sends a continuous 1 kHz
tone as 20 ms µ-law RTP (SIPp ``rtp_stream`` of a raw µ-law file, or ``--media pcap``:
``play_pcap_audio``) for ``T`` seconds, then hangs up (BYE) ``--tail`` ms later; a caller
who hangs up keeps the message. Scenario: ``bench/scenarios/voicemail_uac.xml``.

For each step of ``--steps`` (simultaneous recordings, default 50, 100, 200, 300) the N calls
are set up at ``--ramp-rate`` per second and each tone lasts the ramp plus ``--window``
seconds, so all N recordings run together for the window. Then, per step:

- every box holds ``msg0000`` in all four formats plus ``msg0000.txt``;
- frames lost: every stored sound is decoded (``switchboard.services.voicemail.formats``)
  and cut in 20 ms frames; the recorder places packets by RTP timestamp, so a lost packet is
  a silent frame inside the message, and packets missed before the recording started
  (the caller's tone began before the beep ended) make it short at the head. Lost = frames
  sent - tone frames found, per format; the relay's own packet counts (CDR of each call,
  ``caller_packets_received``/``_lost``) are printed beside them;
- server CPU (psutil, user + system of the server process) from the first INVITE until the
  last message's files are written, per recorded minute; the same over the window when all
  N record (the steady cost of recording alone);
- write latency: for each message, the ``msg0000.txt`` mtime (the last file written, just
  before it is linked into INBOX) minus the time SIPp sent that caller's BYE (SIPp's
  ``[timestamp]`` in ``-trace_logs``); and the drain: SIPp done -> last message written.

Baseline, same run: the CPU per recorded minute of encoding the same audio (the recorded
tone, ``T`` seconds) to the four formats in this process with the same code
(``formats.encode``); the last line is the live path's CPU per recorded minute over it at
the headline step (200 by default).

The server runs on core 0 (``taskset``), SIPp on core 1. Ports: SIP 43000-43999, server
RTP 52000-60000 (``rtp.conf``), SIPp media 30000-32000; 127.0.0.1 only; every SIPp run has
``-m``, ``-timeout`` and ``timeout``.

Run: ``.venv/bin/python bench/voicemail.py [--steps 50,100,200,300] [--profile --keep DIR]``.
Target (issue 5): 200 simultaneous recordings with no lost audio frame.
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import calls  # the sibling benchmark's SIPp, profile and tone helpers
import register  # its server helpers
from switchboard.media.g711 import decode_payload
from switchboard.services.voicemail import formats

Server = register.Server
wait_until = register.wait_until

HERE = Path(__file__).resolve().parent
SIP_PORTS = range(43000, 44000)
RTP_START, RTP_END = 52000, 60000
SIPP_MEDIA = 30000
"""SIPp's media port (``-mp``); ``rtp_stream`` takes its per-call ports from here up."""
FORMATS = ("wav49", "gsm", "wav", "ulaw")
EXTENSIONS = tuple(formats.extension(f) for f in FORMATS)
STEPS = (50, 100, 200, 300)
FRAME = 160
"""Samples in 20 ms at 8 kHz: one RTP packet."""
SILENT_RMS = 500.0
"""A 20 ms frame quieter than this is silence (the tone's RMS is about 5,600; GSM keeps it
above 4,000)."""
FIRST_BOX = 1000


# -- setup -----------------------------------------------------------------------------------


def sip_port(taken: set[int]) -> int:
    """A port of 43000-43999 free on 127.0.0.1, not yet handed out."""
    saved = calls.SIP_PORTS
    calls.SIP_PORTS = SIP_PORTS
    try:
        return calls.sip_port(taken)
    finally:
        calls.SIP_PORTS = saved


def write_config(folder: Path, port: int, password: str, boxes: int) -> None:
    """pjsip.conf with ``caller``, the VoiceMail dialplan, ``boxes`` mailboxes, rtp.conf."""
    folder.mkdir(parents=True)
    (folder / "pjsip.conf").write_text(
        f"[transport-udp]\ntype=transport\nprotocol=udp\nbind=127.0.0.1:{port}\n"
        "[caller]\ntype=endpoint\ncontext=vm\ndisallow=all\nallow=ulaw\n"
        "direct_media=no\nauth=caller\naors=caller\n"
        f"[caller]\ntype=auth\nauth_type=userpass\nusername=caller\npassword={password}\n"
        "[caller]\ntype=aor\nmax_contacts=1\n"
    )
    (folder / "extensions.conf").write_text(
        "[vm]\nexten => _X.,1,VoiceMail(${EXTEN},s)\n same => n,Hangup()\n"
    )
    mailboxes = "".join(
        f"{FIRST_BOX + i} => {secrets.randbelow(900000) + 100000},Bench {FIRST_BOX + i}\n"
        for i in range(boxes)
    )
    (folder / "voicemail.conf").write_text(
        f"[general]\nformat={'|'.join(FORMATS)}\nreview=no\nmaxsecs=0\nminsecs=0\n"
        f"[default]\n{mailboxes}"
    )
    (folder / "rtp.conf").write_text(f"[general]\nrtpstart={RTP_START}\nrtpend={RTP_END}\n")
    (folder / "switchboard.conf").write_text("[security]\ntrusted = 127.0.0.0/8\n")


def start_server(work: Path, port: int, password: str, boxes: int) -> Server:
    """``switchboard serve`` on core 0 with a fresh config and state folder."""
    config, state = work / "config", work / "state"
    write_config(config, port, password, boxes)
    return register.serve(config, state, work / "switchboard.log")


def media_exec(folder: Path, frames: int, media: str) -> tuple[str, str]:
    """(the SIPp ``exec`` attribute sending ``frames`` 20 ms tone packets, the SDP port)."""
    if media == "rtpstream":
        path = folder / "tone.ulaw"
        path.write_bytes(calls.tone_frame() * frames)
        return f'rtp_stream="{path},1,0"', "[rtpstream_audio_port]"
    path = folder / "tone.pcap"
    calls.write_pcap(path, frames * calls.PACKET_MS / 1000)
    return f'play_pcap_audio="{path}"', "[media_port]"


def scenario(folder: Path, *, media: str, frames: int, pause_ms: int, tail_ms: int) -> Path:
    """The caller's scenario for one step."""
    exec_attribute, port = media_exec(folder, frames, media)
    tone_ms = frames * calls.PACKET_MS
    text = (HERE / "scenarios" / "voicemail_uac.xml").read_text()
    for key, value in {
        "@MEDIA@": exec_attribute,
        "@MPORT@": port,
        "@PAUSE@": str(pause_ms),
        "@HOLD@": str(tone_ms + tail_ms),
        "@TONE@": str(tone_ms),
        "@TAIL@": str(tail_ms),
    }.items():
        text = text.replace(key, value)
    path = folder / "voicemail_uac.xml"
    path.write_text(text)
    return path


# -- one step --------------------------------------------------------------------------------


@dataclass
class Result:
    """One step: N simultaneous deposits and what the server kept of them."""

    calls: int
    frames_sent: int
    successful: int = 0
    failed: int = 0
    complete: int = 0
    """Boxes holding msg0000 in all four formats and its .txt."""
    missing: list[str] = field(default_factory=list)
    lost: dict[str, int] = field(default_factory=dict)
    """Per extension: frames sent - tone frames found, over every message."""
    head_short: dict[str, int] = field(default_factory=dict)
    interior_silent: dict[str, int] = field(default_factory=dict)
    recorded_seconds: float = 0.0
    relay_received: int = 0
    relay_lost: int = 0
    cdrs: int = 0
    cpu_total: float = 0.0
    cpu_window: float = 0.0
    window_seconds: float = 0.0
    cpu_after_sipp: float = 0.0
    latency: list[float] = field(default_factory=list)
    drain_seconds: float = 0.0
    all_written: bool = False

    @property
    def minutes(self) -> float:
        return self.recorded_seconds / 60

    @property
    def cpu_per_minute(self) -> float:
        return self.cpu_total / self.minutes if self.minutes else float("nan")

    @property
    def window_cpu_per_minute(self) -> float:
        """Server CPU while all N record, per recorded minute (N minutes per minute)."""
        if not self.window_seconds:
            return float("nan")
        return self.cpu_window / self.window_seconds * 60 / self.calls

    def quantile(self, q: float) -> float:
        if not self.latency:
            return float("nan")
        ordered = sorted(self.latency)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_step(
    server: Server,
    target: str,
    work: Path,
    state: Path,
    *,
    calls_n: int,
    first_box: int,
    args: argparse.Namespace,
    local_port: int,
    password: str,
    profile: bool,
) -> Result:
    """N deposits into boxes ``first_box ..``; waits for every message, then checks them."""
    folder = work / f"step-{calls_n}"
    folder.mkdir(parents=True)
    ramp = calls_n / args.ramp_rate
    frames = int((ramp + args.window + 1.0) * 1000 / calls.PACKET_MS)
    xml = scenario(folder, media=args.media, frames=frames, pause_ms=args.pause,
                   tail_ms=args.tail)  # fmt: skip
    boxes = [str(first_box + i) for i in range(calls_n)]
    inf = folder / "boxes.csv"
    inf.write_text("SEQUENTIAL\n" + "".join(f"{box};\n" for box in boxes))
    result = Result(calls_n, frames)
    hold_s = args.pause / 1000 + frames * calls.PACKET_MS / 1000 + args.tail / 1000
    limit = int(ramp + hold_s + 60)
    command = [
        "timeout",
        str(limit + 20),
        *calls.sipp(
            target,
            *("-sf", str(xml), "-inf", str(inf), "-au", "caller", "-ap", password),
            *("-p", str(local_port), "-mp", str(SIPP_MEDIA)),
            *("-r", str(args.ramp_rate), "-rp", "1000", "-m", str(calls_n)),
            *("-l", str(max(calls_n, 1000)), "-timeout", f"{limit}s", "-timeout_error"),
            *("-recv_timeout", "20000", "-trace_stat", "-fd", "1", "-trace_err"),
            "-trace_logs",
        ),
    ]
    calls.gc_settle(server)
    database = state / "switchboard.db"
    started_epoch = time.time()
    cpu0 = server.cpu_seconds()
    started = time.monotonic()
    if profile:
        seconds = ramp + hold_s + 4
        calls.profile_during(server, work / f"profile-voicemail-{calls_n}.txt", seconds)
    process = subprocess.Popen(
        command, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    window_open = ramp + args.pause / 1000 + 1.0
    marks: dict[str, float] = {}
    for at, key in ((window_open, "open"), (window_open + args.window - 1.0, "close")):
        delay = started + at - time.monotonic()
        if delay > 0 and process.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=delay)
        if process.poll() is None:
            marks[f"cpu_{key}"], marks[f"t_{key}"] = server.cpu_seconds(), time.monotonic()
    _, stderr = process.communicate(timeout=limit + 30)
    sipp_done_epoch = time.time()
    cpu_sipp_done = server.cpu_seconds()
    if "t_close" in marks:
        result.cpu_window = marks["cpu_close"] - marks["cpu_open"]
        result.window_seconds = marks["t_close"] - marks["t_open"]
    stats = sorted(folder.glob("*_.csv"))
    if not stats:
        raise RuntimeError(
            f"SIPp wrote no statistics (exit {process.returncode}):\n"
            + stderr.decode(errors="replace")
        )
    rows = stats[-1].read_text().splitlines()
    header, last = rows[0].split(";"), rows[-1].split(";")
    result.successful = int(last[header.index("SuccessfulCall(C)")])
    result.failed = int(last[header.index("FailedCall(C)")])
    # every message written: msg0000.txt is linked last
    inboxes = [state / "voicemail" / "default" / box / "INBOX" for box in boxes]

    def written() -> int:
        return sum((inbox / "msg0000.txt").exists() for inbox in inboxes)

    deadline = time.monotonic() + args.write_timeout
    while written() < result.successful and time.monotonic() < deadline:
        time.sleep(0.05)
    result.all_written = written() >= calls_n
    result.cpu_total = server.cpu_seconds() - cpu0
    result.cpu_after_sipp = server.cpu_seconds() - cpu_sipp_done
    byes = bye_times(folder)
    mtimes = []
    for box, inbox in zip(boxes, inboxes, strict=True):
        txt = inbox / "msg0000.txt"
        if not txt.exists():
            continue
        mtime = txt.stat().st_mtime
        mtimes.append(mtime)
        if box in byes:
            result.latency.append(mtime - byes[box])
    if mtimes:
        result.drain_seconds = max(0.0, max(mtimes) - sipp_done_epoch)
    check_messages(result, inboxes)
    relay_counts(result, database, started_epoch)
    return result


def bye_times(folder: Path) -> dict[str, float]:
    """Box -> epoch at which SIPp sent its caller's BYE (the scenario's log action)."""
    times: dict[str, float] = {}
    for path in folder.glob("*_logs.log"):
        for line in path.read_text(errors="replace").splitlines():
            fields = line.split()
            if len(fields) >= 3 and fields[0] == "bye":
                with contextlib.suppress(ValueError):
                    times[fields[1]] = float(fields[-1])
    return times


def check_messages(result: Result, inboxes: list[Path]) -> None:
    """All four formats present; frames lost per format (see the module's docstring)."""
    for ext in EXTENSIONS:
        result.lost[ext] = 0
        result.head_short[ext] = 0
        result.interior_silent[ext] = 0
    for inbox in inboxes:
        paths = [inbox / f"msg0000.{ext}" for ext in (*EXTENSIONS, "txt")]
        absent = [p.name for p in paths if not p.exists()]
        if absent:
            result.missing.append(f"{inbox.parent.name}: {', '.join(absent)}")
        else:
            result.complete += 1
        for ext in EXTENSIONS:
            path = inbox / f"msg0000.{ext}"
            if not path.exists():
                result.lost[ext] += result.frames_sent
                continue
            samples = formats.decode(ext, path.read_bytes()).astype(np.float64)
            if ext == "wav":
                result.recorded_seconds += len(samples) / 8000
            found, head, interior = tone_frames(samples, result.frames_sent)
            result.lost[ext] += result.frames_sent - found
            result.head_short[ext] += head
            result.interior_silent[ext] += interior


def tone_frames(samples: np.ndarray, sent: int) -> tuple[int, int, int]:
    """(tone frames among the first ``sent``, frames missing from the length, silent frames
    inside it). GSM pads the end with silence to whole frames: frames past ``sent`` are not
    looked at."""
    frames = min(len(samples) // FRAME, sent)
    if frames == 0:
        return 0, sent, 0
    cut = samples[: frames * FRAME].reshape(frames, FRAME)
    rms = np.sqrt((cut * cut).mean(axis=1))
    loud = int((rms >= SILENT_RMS).sum())
    return loud, sent - frames, frames - loud


def relay_counts(result: Result, database: Path, since: float) -> None:
    """What the relay received from the callers (their CDRs)."""
    query = "SELECT caller_packets_received, caller_packets_lost FROM cdr WHERE start >= ?"
    deadline = time.monotonic() + 15
    rows: list[tuple[object, ...]] = []
    while time.monotonic() < deadline:
        try:
            with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as db:
                rows = db.execute(query, (since - 1,)).fetchall()
        except sqlite3.Error:
            rows = []
        if len(rows) >= result.successful:
            break
        time.sleep(0.25)
    result.cdrs = len(rows)
    for received, lost in rows:
        result.relay_received += int(received or 0)  # type: ignore[call-overload]
        result.relay_lost += max(0, int(lost or 0))  # type: ignore[call-overload]


# -- baseline --------------------------------------------------------------------------------


def encode_baseline(frames: int, min_cpu: float = 2.0) -> float:
    """CPU seconds per recorded minute of ``formats.encode`` of a ``frames``-packet message
    of the same tone to the four formats, in this process (best of 3 rounds)."""
    samples = decode_payload(calls.tone_frame() * frames, "ulaw")
    minutes = frames * calls.PACKET_MS / 1000 / 60
    for ext in EXTENSIONS:
        formats.encode(ext, samples)  # warm-up (libsndfile loaded)
    best = float("inf")
    for _ in range(3):
        count = 0
        start = time.process_time()
        while time.process_time() - start < min_cpu / 3 or count < 3:
            for ext in EXTENSIONS:
                formats.encode(ext, samples)
            count += 1
        best = min(best, (time.process_time() - start) / count / minutes)
    return best


# -- report ----------------------------------------------------------------------------------


def report(result: Result) -> None:
    n = result.calls
    expected = result.frames_sent * n
    print(f"vm_{n}_calls_ok: {result.successful}/{n} calls")
    print(f"vm_{n}_messages_complete: {result.complete}/{n} messages (all four formats + .txt)")
    if result.missing:
        print(f"# vm_{n} missing: {'; '.join(result.missing[:10])}", file=sys.stderr)
    print(f"vm_{n}_recorded: {result.minutes:.1f} min ({result.frames_sent} frames sent per call)")
    lost = ", ".join(
        f"{ext} {result.lost[ext]} (head {result.head_short[ext]}, "
        f"inside {result.interior_silent[ext]})"
        for ext in EXTENSIONS
    )
    print(f"vm_{n}_frames_lost: {max(result.lost.values())} frames of {expected} ({lost})")
    print(
        f"vm_{n}_relay_packets: {result.relay_received} received of {expected} sent, "
        f"{result.relay_lost} lost by sequence ({result.cdrs} CDRs)"
    )
    print(f"vm_{n}_cpu_per_recorded_minute: {result.cpu_per_minute:.3f} s")
    print(f"vm_{n}_cpu_recording_only: {result.window_cpu_per_minute:.3f} s per recorded minute")
    cores = result.cpu_window / result.window_seconds if result.window_seconds else float("nan")
    print(f"vm_{n}_server_cpu_while_recording: {cores:.2f} cores")
    print(f"vm_{n}_server_cpu_total: {result.cpu_total:.2f} s")
    print(f"vm_{n}_write_latency_p50: {result.quantile(0.5) * 1000:.0f} ms")
    print(f"vm_{n}_write_latency_max: {result.quantile(1.0) * 1000:.0f} ms")
    print(f"vm_{n}_drain_after_last_bye: {result.drain_seconds * 1000:.0f} ms")


def main() -> int:
    """Parse the options, run the steps and the baseline, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ints = lambda s: tuple(int(x) for x in s.split(","))  # noqa: E731
    parser.add_argument("--steps", type=ints, default=STEPS, help="simultaneous recordings")
    parser.add_argument("--ramp-rate", type=int, default=50, help="calls set up per second")
    parser.add_argument("--window", type=float, default=8.0, help="seconds all N record")
    parser.add_argument("--pause", type=int, default=1000, help="ms after the ACK (beep)")
    parser.add_argument("--tail", type=int, default=300, help="ms after the tone to the BYE")
    parser.add_argument("--write-timeout", type=float, default=120.0)
    parser.add_argument("--headline", type=int, default=200, help="step of the ratio line")
    parser.add_argument("--media", choices=("rtpstream", "pcap"), default="rtpstream")
    parser.add_argument("--profile", action="store_true", help="py-spy the headline step")
    parser.add_argument("--keep", type=Path, help="keep the work folder here")
    parser.add_argument(
        "--nice", type=int, default=0, help="niceness of the server and SIPp (root for < 0)"
    )
    args = parser.parse_args()
    register.NICE = args.nice
    if args.nice:
        try:
            Path("/proc/self/autogroup").write_text(str(args.nice))
        except OSError as exc:
            print(f"# cannot set the autogroup niceness: {exc}", file=sys.stderr)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-voicemail-"))
    work.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(18)
    ports: set[int] = set()
    port, local_port = sip_port(ports), sip_port(ports)
    results: list[Result] = []
    try:
        server = start_server(work, port, password, sum(args.steps))
        try:
            first = FIRST_BOX
            for n in args.steps:
                result = run_step(
                    server, f"127.0.0.1:{port}", work, work / "state",
                    calls_n=n, first_box=first, args=args, local_port=local_port,
                    password=password, profile=args.profile and n == args.headline,
                )  # fmt: skip
                first += n
                results.append(result)
                report(result)
                sys.stdout.flush()
        finally:
            server.stop()
        headline = next((r for r in results if r.calls == args.headline), results[-1])
        baseline = encode_baseline(headline.frames_sent)
        print(f"encode_four_formats_cpu_per_recorded_minute: {baseline:.3f} s (in-process)")
        if args.profile:
            for path in sorted(work.glob("profile-*.txt")):
                for line in calls.hotspots(path, count=20):
                    print(f"# {line}", file=sys.stderr)
        ratio = headline.cpu_per_minute / baseline
        print(f"ratio_live_vs_encode_cpu_per_recorded_minute_{headline.calls}: {ratio:.1f} x")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
