"""Start-up time: importing the server, and ``switchboard serve`` from launch to "ready",
with http.conf's server off and on.

Each round starts fresh processes, interleaved: a bare interpreter, one that imports
``switchboard.app``, ``switchboard serve`` on the reference folder (loopback, free ports)
without and with the HTTP API, and ``switchboard check-config`` on it. With
``--baseline REF`` the same round also runs the sources of that git commit (exported to a
temporary folder, put first on ``PYTHONPATH``), so both builds see the same machine load.
Prints the median of each as ``figure: value unit`` lines; the last line is this build's
serve-to-ready (HTTP off) against the baseline build's, or else against the bare
interpreter.

    python bench/startup.py [--rounds 5] [--baseline 7cbf4fa]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

from register import free_port  # the benchmarks' free loopback port

ROOT = Path(__file__).parents[1]
REFERENCE = ROOT / "examples" / "reference"
READY = "ready; stop with"
DEADLINE = 120.0
"""Seconds a server gets to become ready before the round is abandoned."""

IMPORT_CHILD = (
    "import time; t = time.perf_counter(); import switchboard.app; print(time.perf_counter() - t)"
)

FIGURES = ("import_app", "check_config", "serve_ready_http_off", "serve_ready_http_on")


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


def build_env(sources: Path | None) -> dict[str, str]:
    """The environment of a child: this checkout's package, or ``sources``' first."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if sources is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(sources), env.get("PYTHONPATH")]))
    return env


def export_sources(ref: str, folder: Path) -> Path:
    """``src/`` of git commit ``ref``, extracted under ``folder`` and byte-compiled."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", ref, "src"],
        check=True,
        capture_output=True,
    ).stdout
    target = folder / "baseline"
    target.mkdir()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    byte_compile(target / "src")
    return target / "src"


def byte_compile(sources: Path) -> None:
    """Write the ``.pyc`` files of ``sources``, as installing a wheel does: with
    PYTHONDONTWRITEBYTECODE set, an editable checkout would otherwise compile some 150
    modules at every start (half a second on the development machine)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(sources)], check=True)


def bare_start() -> float:
    """Seconds for an interpreter that imports nothing of ours to start and exit."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - start


def import_time(env: dict[str, str]) -> float:
    """Seconds to import ``switchboard.app``, measured inside a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_CHILD], check=True, capture_output=True, text=True, env=env
    )
    return float(result.stdout)


def check_config(config: Path, env: dict[str, str]) -> float:
    """Seconds for ``switchboard check-config`` on the folder, launch to exit."""
    start = time.perf_counter()
    subprocess.run(
        [*switchboard_command(), "check-config", "--config-dir", str(config)],
        check=False,
        capture_output=True,
        env=env,
    )
    return time.perf_counter() - start


def serve_to_ready(config: Path, state: Path, env: dict[str, str]) -> float:
    """Seconds from launching ``switchboard serve`` to its "ready" line; then stops it."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [*switchboard_command(), "serve", "--config-dir", str(config), "--state-dir", str(state)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
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


def measure(folder: Path, env: dict[str, str], figures: dict[str, list[float]]) -> None:
    """One round of each figure for one build."""
    figures["import_app"].append(import_time(env))
    for http in (False, True):
        name = "on" if http else "off"
        config = config_folder(folder / f"config-{name}", http=http)
        seconds = serve_to_ready(config, folder / f"state-{name}", env)
        figures[f"serve_ready_http_{name}"].append(seconds)
    figures["check_config"].append(check_config(config, env))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", metavar="REF", help="git commit to compare with")
    args = parser.parse_args()
    bare: list[float] = []
    builds: dict[str, dict[str, list[float]]] = {"": {name: [] for name in FIGURES}}
    byte_compile(ROOT / "src")
    with tempfile.TemporaryDirectory(prefix="sb-startup-") as work:
        base = Path(work)
        envs = {"": build_env(None)}
        if args.baseline:
            builds["baseline_"] = {name: [] for name in FIGURES}
            envs["baseline_"] = build_env(export_sources(args.baseline, base))
        for round_ in range(args.rounds):
            bare.append(bare_start())
            for prefix, figures in builds.items():
                measure(base / f"round{round_}{prefix}", envs[prefix], figures)
    print(f"bare_interpreter: {statistics.median(bare):.3f} s")
    medians = {
        prefix + name: statistics.median(values)
        for prefix, figures in builds.items()
        for name, values in figures.items()
    }
    for name, value in medians.items():
        print(f"{name}: {value:.3f} s")
    if args.baseline:
        ratio = medians["serve_ready_http_off"] / medians["baseline_serve_ready_http_off"]
        print(f"ratio_serve_ready_http_off_vs_{args.baseline}: {ratio:.2f}x")
    else:
        ratio = medians["serve_ready_http_off"] / statistics.median(bare)
        print(f"ratio_serve_ready_http_off_vs_bare_interpreter: {ratio:.1f}x")


if __name__ == "__main__":
    main()
