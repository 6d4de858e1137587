"""The compiled core (scripts/build_native.py) and its guard, switchboard.native: built
modules load as extensions, a changed source runs as source, and SWITCHBOARD_NATIVE=0
runs everything from source."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from switchboard import native

MESSAGE = "switchboard.sip.message"


def imported_from(module: str, **env: str) -> str:
    """The file a fresh interpreter imports ``module`` from, with ``env`` added."""
    return subprocess.run(
        [sys.executable, "-c", f"import {module} as m; print(m.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    ).stdout.strip()


built = pytest.mark.skipif(
    not native.built(), reason="no compiled core (scripts/build_native.py not run)"
)


@built
def test_the_install_builds_the_core_and_this_process_runs_it_compiled() -> None:
    modules = native.built()
    assert MESSAGE in modules
    assert native.stale(modules) == []
    assert not importlib.import_module(MESSAGE).__file__.endswith(".py")  # type: ignore[union-attr]


@built
def test_switchboard_native_0_runs_every_module_from_source() -> None:
    assert imported_from(MESSAGE, SWITCHBOARD_NATIVE="0").endswith("message.py")
    assert not imported_from(MESSAGE).endswith(".py")


def make_package(root: Path, body: str) -> Path:
    """A one-module package ``pkg.mod`` under ``root``, returning the module's path."""
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    module = root / "pkg" / "mod.py"
    module.write_text(body)
    return module


def test_a_source_changed_since_the_build_is_stale(tmp_path: Path) -> None:
    module = make_package(tmp_path, "VALUE = 1\n")
    recorded = {"pkg.mod": native.digest(module)}
    assert native.stale(recorded, tmp_path) == []
    module.write_text("VALUE = 2\n")
    assert native.stale(recorded, tmp_path) == ["pkg.mod"]
    module.unlink()
    assert native.stale(recorded, tmp_path) == ["pkg.mod"]


def test_the_source_finder_imports_the_py_file_even_beside_an_extension(tmp_path: Path) -> None:
    module = make_package(tmp_path, "VALUE = 'source'\n")
    finder = native.SourceFinder({"pkg.mod": module})
    spec = finder.find_spec("pkg.mod", None)
    assert spec is not None and spec.origin == str(module)
    assert finder.find_spec("pkg.other", None) is None


def test_a_missing_or_unreadable_manifest_means_nothing_built(tmp_path: Path) -> None:
    assert native.built(tmp_path / "absent.json") == {}
    broken = tmp_path / "native.json"
    broken.write_text("{not json")
    assert native.built(broken) == {}
    broken.write_text(json.dumps({"modules": {"a.b": "00"}}))
    assert native.built(broken) == {"a.b": "00"}
