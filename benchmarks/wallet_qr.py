"""Wallet QR benchmark: render a driving licence presentation QR as PNG and SVG with
``wallet_api.qr`` (zxing-cpp's writer) (p50, p99) next to the ``qrcode`` library's default
rendering of the same payload, in the same run, with the ratio of the p50s (goal: at most 0.50);
then the presentations per second that ``GET /wallet/licences/{id}/presentation`` serves under
concurrent load.

Run: ``.venv/bin/python benchmarks/wallet_qr.py [--rounds 300] [--requests 600 --concurrency 16]``
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import qrcode
import qrcode.image.svg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _load import drive, free_port, get_request

from credential import (
    CredentialClaims,
    LicenceClaims,
    StatusReference,
    encode_presentation_qr,
    sign_credential,
    sign_holder_proof,
)
from keys import LocalSigner, generate_signing_key
from wallet_api.qr import qr_version, render_png, render_svg

SIX_YEARS = 6 * 365 * 24 * 3600
GOAL_RATIO = 0.5  # p50 of wallet_api.qr at most half of qrcode's default


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
    render(text)  # warm up (imports, first-call set-up)
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
    print(
        f"presentation payload: {len(text)} characters, QR version {qr_version(text)}-M, "
        f"{rounds} rounds each"
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
    print(
        f"{'renderer':32} {'p50 ms':>8} {'p99 ms':>8}   ratio p50 vs qrcode (goal <= {GOAL_RATIO})"
    )
    for ours_name, ours, theirs_name, theirs in rows:
        mine = timings_ms(ours, text, rounds)
        base = timings_ms(theirs, text, rounds)
        ratio = statistics.median(mine) / statistics.median(base)
        print(f"{theirs_name:32} {p(base, 0.5):8.2f} {p(base, 0.99):8.2f}")
        verdict = "goal met" if ratio <= GOAL_RATIO else "goal MISSED"
        print(f"{ours_name:32} {p(mine, 0.5):8.2f} {p(mine, 0.99):8.2f}   {ratio:.2f} {verdict}")


def bench_presentations(requests: int, concurrency: int) -> None:
    """Presentations/s from ``GET /wallet/licences/{id}/presentation`` served by uvicorn."""
    import tempfile

    from fastapi.testclient import TestClient

    from elicence.app import create_app
    from issuer.auth import DepartmentCaller
    from issuer.departments.schemas import LicenceTypeCreate
    from issuer.departments.service import create_department, create_licence_type
    from issuer.licences.schemas import LicenceCreate
    from issuer.licences.service import issue_licence
    from registry.migrate import upgrade
    from registry.settings import Settings
    from wallet_api.dev_idp import issue_dev_token

    data = Path(tempfile.mkdtemp(prefix="wallet-bench-"))
    url = f"sqlite:///{data / 'elicence.db'}"
    upgrade(url)
    settings = Settings(environment="development", data_dir=data, database_url=url, dev_idp=True)
    app = create_app(settings)
    id_number = "11010519491231002X"
    with TestClient(app):  # run the lifespan once to set up keys, then issue one licence
        context = app.state.context
        with context.database.writing() as session:
            row = create_department(
                session=session,
                code="TRANSPORT",
                name="Transport",
                actor="bench",
                key_secret=context.key_secret,
            )
            create_licence_type(
                session=session,
                department_code="TRANSPORT",
                actor="bench",
                licence_type_in=LicenceTypeCreate(
                    code="DL", name="Driving", validity_days=2190, categories=["C1"]
                ),
            )
            licence, _ = issue_licence(
                session=session,
                runtime=context.issuer,
                caller=DepartmentCaller(row.id, "TRANSPORT", "bench"),
                licence_in=LicenceCreate(
                    licence_type="DL", id_number=id_number, holder_name="张秀英", categories=["C1"]
                ),
            )
            licence_id = licence.id
    token = issue_dev_token(settings, id_number)
    port = free_port()
    # The server runs in its own process, so the load generator does not share its GIL.
    env = {
        **os.environ,
        "ELICENCE_ENVIRONMENT": "development",
        "ELICENCE_DATA_DIR": str(data),
        "ELICENCE_DATABASE_URL": url,
        "ELICENCE_DEV_IDP": "1",
    }
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "uvicorn", "elicence.app:create_app", "--factory"),
            *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
            "--no-access-log",
        ],
        env=env,
        cwd=Path(__file__).resolve().parents[1],
    )
    path = f"/wallet/licences/{licence_id}/presentation"
    request = get_request(path, {"Authorization": f"Bearer {token}"})
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                asyncio.run(drive(port, [request], 1, expect=200))
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.1)
        elapsed, seconds = asyncio.run(drive(port, [request] * requests, concurrency, expect=200))
    finally:
        server.terminate()
        server.wait(timeout=30)
    latencies = [value * 1000 for value in seconds]
    print(
        f"GET .../presentation: {requests} requests, {concurrency} concurrent clients, "
        f"one uvicorn worker (SQLite): {requests / elapsed:.0f} presentations/s, "
        f"latency p50 {p(latencies, 0.5):.1f} ms, p99 {p(latencies, 0.99):.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    bench_rendering(args.rounds)
    bench_presentations(args.requests, args.concurrency)


if __name__ == "__main__":
    main()
