"""Config loading speed and memory: the reference folder, and a generated large site.

Prints ``figure: value unit`` lines; the last line is the ratio of Switchboard's load of the
large site (parse, typed models, all checks) to Python's configparser merely reading the
same files, measured in the same run. Targets: reference < 50 ms; 10,000 endpoints (each
with auth and aor) and a 10,000-extension dialplan < 2 s and < 200 MB RSS.

    python bench/config_load.py [--endpoints 10000] [--extensions 10000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).parents[1]
REFERENCE = ROOT / "examples" / "reference"

CHILD = r"""
import configparser, json, resource, sys, time
from pathlib import Path
folder, mode = Path(sys.argv[1]), sys.argv[2]
imported = time.perf_counter()
if mode == "switchboard":
    from switchboard.app import load_and_check
import_seconds = time.perf_counter() - imported
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
if mode == "switchboard":
    loaded = load_and_check(folder)
    count = len(loaded.config.pjsip.endpoints)
    errors = loaded.diagnostics.has_errors
else:
    errors = False
    count = 0
    for name in ("pjsip.conf", "extensions.conf", "voicemail.conf"):
        parser = configparser.ConfigParser(
            strict=False, interpolation=None, comment_prefixes=(";",),
            inline_comment_prefixes=(";",), delimiters=("=>", "="),
        )
        parser.read(folder / name)
        count += len(parser.sections())
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": elapsed, "peak_kb": peak, "start_kb": before,
                  "count": count, "errors": errors, "import_seconds": import_seconds}))
"""


def generate(folder: Path, endpoints: int, extensions: int) -> None:
    """A site shaped like the reference, scaled up."""
    pjsip = [
        "[transport-udp]\ntype=transport\nprotocol=udp\nbind=0.0.0.0\n",
        "[endpoint_internal](!)\ntype=endpoint\ncontext=from-internal\ndisallow=all\n"
        "allow=ulaw\nlanguage=fr\n",
        "[auth_userpass](!)\ntype=auth\nauth_type=userpass\n",
        "[aor_dynamic](!)\ntype=aor\nmax_contacts=1\n",
    ]
    for i in range(endpoints):
        name = f"u{i:05d}"
        pjsip.append(
            f"[{name}](endpoint_internal)\nauth={name}\naors={name}\nmailboxes={1000 + i}@default\n"
            f"[{name}](auth_userpass)\npassword=Zq8vT3rW9pL{i:05d}x\nusername={name}\n"
            f"[{name}](aor_dynamic)\n"
        )
    dialplan = ["[from-internal]\n"]
    voicemail = ["[general]\nformat=wav49|gsm|wav|ulaw\nmaxmsg=30\n[default]\n"]
    for i in range(extensions):
        number = 1000 + i
        target = f"u{i % endpoints:05d}"
        dialplan.append(
            f"exten => {number},1,Dial(PJSIP/{target},10)\nsame => n,VoiceMail({number})\n"
        )
        voicemail.append(f"{number} => {480215 + i:06d},{target}\n")
    (folder / "pjsip.conf").write_text("".join(pjsip))
    (folder / "extensions.conf").write_text("".join(dialplan))
    (folder / "voicemail.conf").write_text("".join(voicemail))


def measure(folder: Path, mode: str) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder), mode],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(output)


def reference_ms(rounds: int = 50) -> float:
    """Median in-process time to load and check the reference folder."""
    from switchboard.app import load_and_check

    load_and_check(REFERENCE)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        load_and_check(REFERENCE)
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=10_000)
    parser.add_argument("--extensions", type=int, default=10_000)
    args = parser.parse_args()

    print(f"reference_load: {reference_ms():.2f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        generate(folder, args.endpoints, args.extensions)
        size = sum(p.stat().st_size for p in folder.iterdir())
        ours = measure(folder, "switchboard")
        base = measure(folder, "configparser")
    if ours["errors"] or ours["count"] != args.endpoints:
        sys.exit(f"generated site did not load cleanly: {ours}")
    print(f"site_files: {size / 1e6:.2f} MB")
    print(f"server_import: {ours['import_seconds']:.3f} s (not part of site_load)")
    print(f"site_load: {ours['seconds']:.3f} s")
    print(f"site_peak_rss: {ours['peak_kb'] / 1024:.1f} MB")
    print(f"site_rss_growth: {(ours['peak_kb'] - ours['start_kb']) / 1024:.1f} MB")
    print(f"configparser_read: {base['seconds']:.3f} s")
    print(f"configparser_peak_rss: {base['peak_kb'] / 1024:.1f} MB")
    print(f"ratio_load_vs_configparser: {ours['seconds'] / base['seconds']:.2f}x")


if __name__ == "__main__":
    main()
