"""Start-up time: importing the server, and ``switchboard serve`` from launch to "ready",
with http.conf's server off and on.

Each round starts fresh processes, interleaved: a bare interpreter (the baseline), one that
imports ``switchboard.app``, and ``switchboard serve`` on the reference folder (loopback,
free ports) without and with the HTTP API. Prints the median of each as ``figure: value
unit`` lines; the last line is serve-to-ready (HTTP off) against the bare interpreter.

    python bench/startup.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).parents[1]
REFERENCE = ROOT / "examples" / "reference"
READY = "ready; stop with"
DEADLINE = 120.0
"""Seconds a server gets to become ready before the round is abandoned."""

IMPORT_CHILD = (
    "import time; t = time.perf_counter(); import switchboard.app; print(time.perf_counter() - t)"
)


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


def config_folder(folder: Path, *, http: bool) -> Path:
    """The reference deployment on a free loopback port, with the HTTP API on or off."""
    folder.mkdir(parents=True)
    for item in REFERENCE.iterdir():
        shutil.copy(item, folder / item.name)
    pjsip = folder / "pjsip.conf"
    pjsip.write_text(pjsip.read_text().replace("bind=0.0.0.0", f"bind=127.0.0.1:{free_port()}", 1))
    (folder / "rtp.conf").write_text("[general]\nrtpstart=33000\nrtpend=40000\n")
    enabled = "yes" if http else "no"
    (folder / "http.conf").write_text(
        f"[general]\nenabled={enabled}\nbindaddr=127.0.0.1\nbindport={free_port()}\n"
    )
    return folder


def switchboard_command() -> list[str]:
    script = Path(sys.executable).with_name("switchboard")
    return [str(script)] if script.exists() else [sys.executable, "-m", "switchboard.cli"]


def bare_start() -> float:
    """Seconds for an interpreter that imports nothing of ours to start and exit."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - start


def import_time() -> float:
    """Seconds to import ``switchboard.app``, measured inside a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_CHILD], check=True, capture_output=True, text=True
    )
    return float(result.stdout)


def serve_to_ready(config: Path, state: Path) -> float:
    """Seconds from launching ``switchboard serve`` to its "ready" line; then stops it."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [*switchboard_command(), "serve", "--config-dir", str(config), "--state-dir", str(state)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    watchdog = threading.Timer(DEADLINE, process.kill)
    watchdog.start()
    lines: list[str] = []
    try:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if READY in line:
                return time.perf_counter() - start
        raise RuntimeError("switchboard did not become ready:\n" + "".join(lines))
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    figures: dict[str, list[float]] = {
        "bare_interpreter": [],
        "import_app": [],
        "serve_ready_http_off": [],
        "serve_ready_http_on": [],
    }
    with tempfile.TemporaryDirectory(prefix="sb-startup-") as work:
        base = Path(work)
        for round_ in range(args.rounds):
            here = base / f"round{round_}"
            figures["bare_interpreter"].append(bare_start())
            figures["import_app"].append(import_time())
            for http in (False, True):
                name = "on" if http else "off"
                config = config_folder(here / f"config-{name}", http=http)
                seconds = serve_to_ready(config, here / f"state-{name}")
                figures[f"serve_ready_http_{name}"].append(seconds)
    medians = {name: statistics.median(values) for name, values in figures.items()}
    for name, value in medians.items():
        print(f"{name}: {value:.3f} s")
    ratio = medians["serve_ready_http_off"] / medians["bare_interpreter"]
    print(f"ratio_serve_ready_http_off_vs_bare_interpreter: {ratio:.1f}x")


if __name__ == "__main__":
    main()
