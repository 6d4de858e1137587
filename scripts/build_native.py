"""Compile Switchboard's pure core and its hot paths with mypyc into C extensions beside
their sources.

The sans-I/O core is fully typed, so mypyc (shipped with mypy) turns it into C extensions
that run the same code about 1.5x faster. Nothing else changes: the sources stay the
truth, ``switchboard.native`` runs any module whose source changed since the build from
source, and ``SWITCHBOARD_NATIVE=0`` runs everything from source. A build whose sources
are unchanged is skipped, so ``scripts/install.sh`` calls this every time.

    python scripts/build_native.py          build when a source changed
    python scripts/build_native.py --clean  remove the extensions and the manifest
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"


def _native_module() -> ModuleType:
    """``switchboard.native`` (the manifest format's one definition), loaded alone: importing
    the package would run its guard against the build about to be replaced."""
    spec = importlib.util.spec_from_file_location("_native", SRC / "switchboard" / "native.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


native = _native_module()

PACKAGES = (
    "switchboard/sip",
    "switchboard/sdp",
    "switchboard/dialplan",
    "switchboard/services/calls",
)
"""Packages compiled whole (with their subpackages), minus :data:`SKIP`."""

MODULES = (
    "switchboard/core/events.py",
    "switchboard/media/rtcp.py",
    "switchboard/media/stats.py",
    "switchboard/media/dtmf.py",
    "switchboard/services/authenticate.py",
    "switchboard/services/location.py",
    "switchboard/services/registrar.py",
    "switchboard/services/replies.py",
    "switchboard/services/requests.py",
    "switchboard/services/security.py",
    "switchboard/transport/stack.py",
    "switchboard/transport/udp.py",
    "switchboard/apps/dial.py",
    "switchboard/media/latch.py",
    "switchboard/media/portpool.py",
    "switchboard/media/relay.py",
    "switchboard/media/rtp.py",
)
"""Single modules compiled besides: the REGISTER path above the SIP core, Dial, and the
anchored relay with its RTCP, statistics and DTMF receiver. Services left as source
subclass ``core.events.Event``, which therefore allows interpreted subclasses.
``core/cdr.py`` stays source: a compiled dataclass's ``X | None`` annotations read as
``type`` at run time, and the API's pydantic models are built from ``CallRecord``'s."""

SKIP = frozenset(
    {
        "switchboard/sip/memo.py",
        "switchboard/dialplan/expressions.py",
        "switchboard/services/calls/channel.py",
    }
)
"""Modules left as source: ``memo`` subclasses ``set`` and ``dict``, which native classes
cannot; ``expressions`` refuses over-long chains by catching RecursionError, and compiled
recursion is bounded by the C stack instead; ``Channel`` takes test doubles of the call
engine (Playback's unit tests), which a compiled constructor refuses by type."""

GROUP = "switchboard_native"
"""The name of the shared library that holds the compiled modules' common code."""


def sources() -> list[str]:
    """The compiled modules' paths, relative to ``src/``."""
    found = []
    for package in PACKAGES:
        for path in sorted((SRC / package).rglob("*.py")):
            relative = path.relative_to(SRC).as_posix()
            if path.name != "__init__.py" and relative not in SKIP:
                found.append(relative)
    return [*found, *MODULES]


def module_name(relative: str) -> str:
    """``switchboard/sip/message.py`` -> ``switchboard.sip.message``."""
    return relative.removesuffix(".py").replace("/", ".")


def extensions() -> list[Path]:
    """Every extension file a build left under ``src/``."""
    return [*SRC.glob(f"{GROUP}__mypyc*.so"), *SRC.joinpath("switchboard").rglob("*.so")]


def has_extension(relative: str) -> bool:
    """Whether a build left the extension of ``relative`` beside it."""
    source = SRC / relative
    return any(source.parent.glob(f"{source.stem}.*.so"))


def clean() -> None:
    """Remove the extensions and the manifest, so everything runs from source."""
    for path in extensions():
        path.unlink()
    native.MANIFEST.unlink(missing_ok=True)


def wanted(paths: list[str]) -> dict[str, str]:
    """The manifest's module table for ``paths`` as they are now."""
    return {module_name(p): native.digest(SRC / p) for p in paths}


def build(paths: list[str], log: Path) -> None:
    """Run mypyc and the C compiler on ``paths``, the extensions landing beside them."""
    from mypyc.build import mypycify
    from setuptools import setup

    with tempfile.TemporaryDirectory(prefix="switchboard-native-") as scratch:
        cwd = Path.cwd()
        os.chdir(SRC)
        try:
            with (
                log.open("w") as out,
                contextlib.redirect_stdout(out),
                contextlib.redirect_stderr(out),
            ):
                modules = mypycify(paths, opt_level="3", group_name=GROUP, target_dir=scratch)
                setup(
                    name="switchboard-native",
                    ext_modules=modules,
                    script_args=[
                        "build_ext", "--inplace", "--build-temp", f"{scratch}/temp",
                        "--build-lib", f"{scratch}/lib",
                        "--parallel", str(os.cpu_count() or 1),
                    ],
                )  # fmt: skip
        finally:
            os.chdir(cwd)


def main() -> int:
    """Build when a compiled module's source changed; print what was done."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clean", action="store_true", help="remove extensions and manifest")
    args = parser.parse_args()
    if args.clean:
        clean()
        print("native: removed; everything runs from source")
        return 0
    paths = sources()
    modules = wanted(paths)
    if native.built() == modules and all(has_extension(p) for p in paths):
        print(f"native: {len(paths)} modules up to date")
        return 0
    clean()
    log = ROOT / "build" / "native.log"
    log.parent.mkdir(exist_ok=True)
    print(f"native: compiling {len(paths)} modules with mypyc (log: {log})", flush=True)
    try:
        build(paths, log)
    except (Exception, SystemExit) as error:
        clean()
        tail = log.read_text(errors="replace").splitlines()[-15:]
        print("\n".join(tail), file=sys.stderr)
        print(f"native: build failed ({error}); everything runs from source", file=sys.stderr)
        return 1
    native.MANIFEST.write_text(json.dumps({"modules": modules}, indent=1) + "\n")
    print(f"native: {len(paths)} modules compiled")
    return 0


if __name__ == "__main__":
    sys.exit(main())
