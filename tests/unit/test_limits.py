"""The open-file limit the server raises at start, checked in a child process whose limits
the test sets (so this process keeps its own)."""

from __future__ import annotations

import resource
import subprocess
import sys

import pytest

CHILD = """
import logging, resource, sys
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", stream=sys.stdout)
resource.setrlimit(resource.RLIMIT_NOFILE, ({soft}, {hard}))
from switchboard.limits import raise_open_file_limit
print("returned", raise_open_file_limit({pairs}))
print("soft", resource.getrlimit(resource.RLIMIT_NOFILE)[0])
"""


def run_child(soft: int, hard: int, pairs: int) -> str:
    code = CHILD.format(soft=soft, hard=hard, pairs=pairs)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    return done.stdout


@pytest.fixture
def hard() -> int:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard < 8192:
        pytest.skip(f"needs a finite hard limit of at least 8192, not {hard}")
    return hard


def test_the_soft_limit_is_raised_to_the_hard_one(hard: int) -> None:
    out = run_child(1024, hard, pairs=5000)
    assert f"returned {hard}\n" in out and f"soft {hard}\n" in out
    assert "WARNING" not in out
    assert f"INFO open-file limit {hard}: about {(hard - 256) // 4} anchored calls" in out


def test_a_low_hard_limit_is_reported_with_what_it_allows() -> None:
    out = run_child(512, 1024, pairs=5000)
    assert "returned 1024\n" in out
    assert "WARNING open-file limit 1024 holds about 192 anchored calls" in out
    assert "at least 4256 for 1000 calls" in out


def test_a_small_rtp_range_needs_no_warning() -> None:
    out = run_child(1024, 1024, pairs=50)  # 25 calls fit in the range: the limit is not short
    assert "WARNING" not in out and "returned 1024\n" in out
