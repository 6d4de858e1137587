"""The protocol and config core is sans-I/O (docs/design.md): no module of it imports I/O,
a clock or entropy. import-linter checks the same from pyproject.toml; this test also
names the offending file when it fails."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import switchboard

FORBIDDEN = {"asyncio", "socket", "time", "random", "os", "pathlib", "glob", "subprocess", "ssl"}
ROOT = Path(switchboard.__file__).parent
PURE_PACKAGES = ("sip", "sdp", "config", "dialplan")
PURE_MEDIA = ("errors", "rtp", "rtcp", "stats", "g711", "dtmf", "tones", "latch", "jitter")
MODULES = sorted(
    [
        ROOT / "diagnostics.py",
        *(p for package in PURE_PACKAGES for p in (ROOT / package).rglob("*.py")),
        *(ROOT / "media" / f"{name}.py" for name in PURE_MEDIA),
    ]
)


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_io_clock_or_entropy_imports(path: Path) -> None:
    assert not imported_modules(path) & FORBIDDEN
