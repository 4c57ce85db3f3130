"""DESIGN.md's import table: the wallet builds on credential, keys and registry, not the issuer."""

from __future__ import annotations

import subprocess
import sys


def test_wallet_api_does_not_import_the_issuer() -> None:
    code = (
        "import sys, wallet_api.routes, wallet_api.service; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'issuer'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    assert out == "[]"
