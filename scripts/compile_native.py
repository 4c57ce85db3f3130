"""Compile the modules listed in pyproject.toml ``[tool.elicence] compiled`` with mypyc.

Run by ./scripts/setup with the project's virtualenv (mypyc comes with mypy, a test extra that
setup installs). Does nothing when every listed module has a compiled twin newer than its source
and the sources of the compiled packages are those of the last build (a fingerprint kept in
``.venv/.elicence-compiled-stamp``); otherwise compiles them all again in one mypyc group (so
calls between them stay C calls) and prints mypyc's output only if it fails.

Why compiled (docs/internals.md, "Compiled parse"): the pure-Python parse of a scanned QR code
was the part of ``verify_payload`` above its cryptographic floor; compiled, a presentation
costs 167 instead of 176 us on one core, 82% of the floor instead of 77%.

A compiled module shadows its source (Python imports an extension module before a ``.py`` of the
same name), so ``credential/_compiled.py`` refuses, at import, a compiled module older than its
source: an edited module is never run from a stale build.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAMP = ROOT / ".venv" / ".elicence-compiled-stamp"
BUILD = ROOT / "build"
# The shared runtime of the compiled modules: credential/_native__mypyc.<suffix>
GROUP = "credential._native"


def compiled_sources() -> list[Path]:
    """The listed modules' source files."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        listed = tomllib.load(file)["tool"]["elicence"]["compiled"]
    return [ROOT / name for name in listed]


def compiled_twin(source: Path) -> Path | None:
    """The extension module built from ``source``, if there is one."""
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = source.with_name(source.stem + suffix)
        if candidate.exists():
            return candidate
    return None


def fingerprint(sources: list[Path]) -> str:
    """Every source of the packages the compiled modules are in (compiled code relies on the
    types of the modules it imports), the list itself and the compiler's version."""
    digest = hashlib.sha256()
    digest.update(
        subprocess.run(
            [sys.executable, "-m", "mypyc", "--version"], capture_output=True, check=True
        ).stdout
    )
    for source in sources:
        digest.update(str(source.relative_to(ROOT)).encode() + b"\0")
    for package in sorted({source.parent for source in sources}):
        for path in sorted(package.glob("*.py")):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def up_to_date(sources: list[Path], expected: str) -> bool:
    if not STAMP.exists() or STAMP.read_text().strip() != expected:
        return False
    for source in sources:
        twin = compiled_twin(source)
        if twin is None or twin.stat().st_mtime < source.stat().st_mtime:
            return False
    return True


def main() -> int:
    sources = compiled_sources()
    expected = fingerprint(sources)
    if up_to_date(sources, expected):
        return 0
    names = [str(source.relative_to(ROOT)) for source in sources]
    print(f"setup: compiling {len(names)} modules with mypyc", file=sys.stderr)
    # What the `mypyc` command does, with the group's shared runtime inside the credential
    # package: at the project's root it would not be importable from the editable install.
    BUILD.mkdir(exist_ok=True)
    script = BUILD / "compile_native_setup.py"
    script.write_text(
        "from setuptools import setup\n"
        "from mypyc.build import mypycify\n"
        f"setup(name='elicence-compiled', ext_modules=mypycify({names!r}, group_name={GROUP!r}))\n"
    )
    build = subprocess.run(  # noqa: S603  (this interpreter, the script above)
        [sys.executable, str(script), "build_ext", "--inplace"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if build.returncode != 0:
        sys.stderr.write(build.stdout + build.stderr)
        print("setup: mypyc failed (output above)", file=sys.stderr)
        return 1
    missing = [
        name for name, source in zip(names, sources, strict=True) if not compiled_twin(source)
    ]
    if missing:
        print(f"setup: mypyc built no extension module for {', '.join(missing)}", file=sys.stderr)
        return 1
    for source in sources:  # a module whose C code did not change is copied with its old time
        twin = compiled_twin(source)
        assert twin is not None
        twin.touch()
    STAMP.write_text(expected + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
