"""Which core modules run as mypyc-compiled C extensions, and the guard that keeps an
extension from running once its source has changed.

``scripts/build_native.py`` compiles the pure SIP core beside its sources and writes
``native.json``: each compiled module with the SHA-256 of the source it was built from.
Python imports an extension before a ``.py`` of the same name, so a source edited since
the build would silently run as its old extension; :func:`install` (run when the package
is imported) makes such modules import from source instead and warns. Setting
``SWITCHBOARD_NATIVE=0`` runs every module from source (the benchmarks' baseline).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

MANIFEST = Path(__file__).with_name("native.json")
SOURCE_ROOT = Path(__file__).parent.parent
SWITCH = "SWITCHBOARD_NATIVE"


class SourceFinder(MetaPathFinder):
    """Imports the named modules from their ``.py`` files, passing over their extensions."""

    def __init__(self, sources: Mapping[str, Path]) -> None:
        self.sources = dict(sources)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        source = self.sources.get(fullname)
        if source is None:
            return None
        return importlib.util.spec_from_file_location(fullname, source)


def source_path(module: str, root: Path = SOURCE_ROOT) -> Path:
    """The ``.py`` file of a dotted module name under ``root``."""
    return root.joinpath(*module.split(".")).with_suffix(".py")


def digest(path: Path) -> str:
    """The SHA-256 of a source file, as the manifest records it."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def built(manifest: Path = MANIFEST) -> dict[str, str]:
    """The compiled modules and their sources' digests; empty when nothing was built."""
    try:
        modules = json.loads(manifest.read_text())["modules"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {str(name): str(sha) for name, sha in modules.items()}


def stale(modules: Mapping[str, str], root: Path = SOURCE_ROOT) -> list[str]:
    """The modules whose source no longer matches the digest they were compiled from."""
    changed = []
    for name, sha in modules.items():
        path = source_path(name, root)
        try:
            if digest(path) != sha:
                changed.append(name)
        except OSError:
            changed.append(name)
    return sorted(changed)


def install() -> None:
    """Make stale (or, with ``SWITCHBOARD_NATIVE=0``, all) compiled modules import from
    source. Runs before any of them is imported: ``switchboard/__init__`` calls it."""
    modules = built()
    if not modules:
        return
    if os.environ.get(SWITCH) == "0":
        interpreted = sorted(modules)
    else:
        interpreted = stale(modules)
        if interpreted:
            warnings.warn(
                f"{len(interpreted)} compiled module(s) older than their source run as "
                f"source: {', '.join(interpreted)} (rebuild: python scripts/build_native.py)",
                RuntimeWarning,
                stacklevel=2,
            )
    if interpreted:
        sys.meta_path.insert(0, SourceFinder({m: source_path(m) for m in interpreted}))


def compiled() -> tuple[int, int]:
    """How many of the built modules run as extensions in this process, out of those built
    (for the start-up log). Imports them: they are the pure core, imported anyway."""
    modules = built()
    loaded = [importlib.import_module(name) for name in modules]
    return sum(1 for m in loaded if not str(m.__file__).endswith(".py")), len(modules)
