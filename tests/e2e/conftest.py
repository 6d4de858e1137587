"""Run the real ``switchboard`` command, as an admin would."""

from __future__ import annotations

import compileall
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
REFERENCE = ROOT / "examples" / "reference"


def switchboard_command() -> list[str]:
    """The installed console script next to this Python, else the module."""
    script = Path(sys.executable).with_name("switchboard")
    return [str(script)] if script.exists() else [sys.executable, "-m", "switchboard.cli"]


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*switchboard_command(), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="session", autouse=True)
def byte_compiled_sources() -> None:
    """Write the package's ``.pyc`` files once per run. With PYTHONDONTWRITEBYTECODE set
    (as in the development sessions) nothing else writes them, and every server a test
    starts compiled some 150 modules first: half a second of CPU, far more under load."""
    compileall.compile_dir(ROOT / "src", quiet=1)


@pytest.fixture
def reference_copy(tmp_path: Path) -> Path:
    """A writable copy of the reference deployment's config folder."""
    target = tmp_path / "config"
    shutil.copytree(REFERENCE, target)
    return target
