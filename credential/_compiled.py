"""Refuse compiled modules older than their source.

Some modules of ``credential`` and ``verifier`` are compiled to C extension modules by
./scripts/setup (mypyc; the list is pyproject.toml ``[tool.elicence] compiled``). Python imports
an extension module before a ``.py`` of the same name, so after an edit, a checkout or a pull the
old build would run in place of the new source, silently. Each of the two packages calls
``refuse_stale_builds`` before importing its modules: a compiled module older than its source
is an ``ImportError`` that says to run ./scripts/setup, which compiles them again.
"""

from __future__ import annotations

import importlib.machinery
import os


def refuse_stale_builds(package_file: str) -> None:
    """Raise ``ImportError`` if a module of the package whose ``__init__`` is ``package_file``
    has a compiled twin older than its ``.py`` source."""
    directory = os.path.dirname(package_file)
    with os.scandir(directory) as entries:
        files = {entry.name: entry for entry in entries if entry.is_file()}
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        for name, entry in files.items():
            if not name.endswith(suffix):
                continue
            source = files.get(name[: -len(suffix)] + ".py")
            if source is not None and entry.stat().st_mtime < source.stat().st_mtime:
                raise ImportError(
                    f"{os.path.join(directory, source.name)} is newer than its compiled module "
                    f"{name}: run ./scripts/setup to compile it again"
                )


refuse_stale_builds(__file__)  # this package's; ``verifier/_compiled.py`` checks that one
