"""Reloading a large site while the server keeps answering: how long ``core reload`` takes,
and what the reload does to SIP answer times meanwhile.

The server runs the generated site of ``config_load.py`` (10,000 endpoints, auths, AORs,
extensions and mailboxes). A prober sends an OPTIONS every 20 ms over UDP and times each
answer, first with the server idle, then while ``core reload`` re-reads and applies the
site with one endpoint added and one password changed. The last line is the ratio of the
probes' p99 answer time during the reload to the idle one, in the same run.

    python bench/reload.py [--endpoints 10000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import config_load  # the sibling benchmark's site generator
import register  # the sibling benchmark's server helpers

PROBE_INTERVAL = 0.02
PROBE_TIMEOUT = 2.0
IDLE_SECONDS = 3.0


class Prober:
    """OPTIONS to the server every ``PROBE_INTERVAL`` from one socket, timing each answer."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(PROBE_TIMEOUT)
        self.rtts: list[float | None] = []
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _options(self) -> bytes:
        local = self.sock.getsockname()[1]
        return (
            f"OPTIONS sip:127.0.0.1:{self.port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK{secrets.token_hex(6)}\r\n"
            "From: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\n"
            f"Call-ID: {secrets.token_hex(8)}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()

    def _run(self) -> None:
        while self.running:
            request = self._options()
            call_id = request.split(b"Call-ID: ", 1)[1].split(b"\r\n", 1)[0]
            sent = time.perf_counter()
            self.sock.sendto(request, ("127.0.0.1", self.port))
            rtt = None
            while time.perf_counter() - sent < PROBE_TIMEOUT:
                try:
                    data, _ = self.sock.recvfrom(65536)
                except OSError:
                    break
                if call_id in data:
                    rtt = time.perf_counter() - sent
                    break
            self.rtts.append(rtt)
            time.sleep(max(PROBE_INTERVAL - (time.perf_counter() - sent), 0))

    def take(self) -> list[float | None]:
        taken, self.rtts = self.rtts, []
        return taken

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.running = False
        self.thread.join(timeout=PROBE_TIMEOUT + 1)
        self.sock.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * fraction), len(ordered) - 1)] if ordered else 0.0


def summary(rtts: list[float | None]) -> tuple[float, float, float, int]:
    """p50, p99 and max answer time in ms, and how many probes got no answer."""
    answered = [r * 1000 for r in rtts if r is not None]
    lost = sum(1 for r in rtts if r is None)
    return (
        percentile(answered, 0.5),
        percentile(answered, 0.99),
        max(answered, default=0.0),
        lost,
    )


def edit(folder: Path, round_number: int) -> None:
    """One endpoint more (with auth and aor) and one password changed, per round."""
    pjsip = folder / "pjsip.conf"
    name = f"new{round_number}"
    text = pjsip.read_text().replace(
        "password=Zq8vT3rW9pL00000x", f"password=Zq8vT3rW9pL00000x{round_number}", 1
    )
    pjsip.write_text(
        text + f"[{name}](endpoint_internal)\nauth={name}\naors={name}\n"
        f"[{name}](auth_userpass)\npassword=Qz7-{secrets.token_hex(8)}\nusername={name}\n"
        f"[{name}](aor_dynamic)\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    script = Path(sys.executable).with_name("switchboard")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config, state = work / "config", work / "state"
        config.mkdir()
        config_load.generate(config, args.endpoints, args.endpoints)
        port = register.free_port()
        pjsip = config / "pjsip.conf"
        pjsip.write_text(pjsip.read_text().replace("bind=0.0.0.0", f"bind=127.0.0.1:{port}", 1))
        server = register.serve(config, state, work / "server.log")
        prober = Prober(port)
        try:
            prober.start()
            time.sleep(IDLE_SECONDS)  # the idle baseline: a fixed span of probes
            idle = prober.take()
            during: list[float | None] = []
            seconds = []
            for round_number in range(args.rounds):
                edit(config, round_number)
                prober.take()
                start = time.perf_counter()
                result = subprocess.run(
                    [str(script), "cli", "--state-dir", str(state), "-x", "core reload"],
                    capture_output=True,
                    text=True,
                    timeout=300,
                    check=False,
                )
                seconds.append(time.perf_counter() - start)
                during += prober.take()
                if result.returncode != 0 or f"endpoint new{round_number} added" not in (
                    result.stdout
                ):
                    sys.exit(f"reload failed:\n{result.stdout}{result.stderr}")
        finally:
            prober.stop()
            server.stop()
    idle_p50, idle_p99, idle_max, idle_lost = summary(idle)
    p50, p99, worst, lost = summary(during)
    print(f"site_endpoints: {args.endpoints}")
    print(f"reload_seconds_median: {sorted(seconds)[len(seconds) // 2]:.3f} s")
    print(f"reload_seconds_max: {max(seconds):.3f} s")
    print(f"idle_options_rtt: p50 {idle_p50:.2f} ms, p99 {idle_p99:.2f} ms, max {idle_max:.2f} ms")
    print(f"reload_options_rtt: p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {worst:.2f} ms")
    print(
        f"options_probes: idle {len(idle)} ({idle_lost} unanswered), "
        f"during reloads {len(during)} ({lost} unanswered)"
    )
    print(f"ratio_options_rtt_p99_reload_vs_idle: {p99 / idle_p99 if idle_p99 else 0.0:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
