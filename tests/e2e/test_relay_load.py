"""The relay under load from a separate process: bench/relay.py at a small size, no loss."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "relay.py"


@pytest.mark.slow
def test_fifty_anchored_calls_relay_every_packet_both_ways() -> None:
    options = ["--calls", "50", "--seconds", "2", "--warmup", "1", "--cycles", "1"]
    options += ["--modes", "relay", "--rtp", "42000", "42800"]
    result = subprocess.run(
        [sys.executable, str(BENCH), *options],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    figures = dict(re.findall(r"^(\w+): ([\d.,]+)", result.stdout, re.MULTILINE))
    assert float(figures["relay_50_loss"]) < 0.1
    relayed = float(figures["relay_50_relayed"].replace(",", ""))
    assert 4000 < relayed < 6000  # 50 calls x 2 streams x 50 packets/s
    assert float(figures["relay_50_rss_per_call"]) < 100
