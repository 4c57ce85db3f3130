"""Verification speed: fresh presentations per second from a synced bundle on one core, next to
two raw floors measured in the same run with the crypto libraries themselves: the issuer's and the
holder's signature verified with keys already loaded, and the same with the holder key loaded from
its compressed point first (the form it travels in, so loading it is part of what a presentation
must cost); and ``POST /verify`` under load.

Each department key algorithm (``--alg``, repeatable; by default ES256 and then SM2 in the same
run) gets its own bundle, presentations and floors: the issuer's signature is ES256
(``cryptography``) or SM2 with SM3 (``tongsuopy``); the holder key is P-256 either way (the
wallet's holder keys are). The SM2 figures print next to the ES256 ones, with their ratio.
Then, for ES256, SD-JWT VC + KB-JWT presentations (issue 16): ``verify_payload`` from the
bundle and ``credential.verify_sd_jwt_vc`` next to their raw floor (two ES256 verifications and
the holder JWK load) and the reference library ``sd-jwt``, measured by ``verify_sd_jwt.py``'s
functions in the same run.

It first says how many of the modules ./scripts/setup compiles with mypyc are imported from their
build (pyproject.toml ``[tool.elicence] compiled``): the library figures depend on it.

The floors and the library are measured in alternating rounds and each keeps its best round, so a
burst of load from other processes on a shared machine does not fall on one side only; every
one-core figure is per CPU second of this process (``time.process_time``), so time spent waiting
for the core while other processes run is not counted (the HTTP figures stay in wall time).

Run: ``.venv/bin/python benchmarks/verify.py [--alg ES256|SM2] [--count N] [--requests N]
[--concurrency N]``
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from typing import Any, cast

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import verify_sd_jwt
from _load import drive, free_port, percentile, post_request

from credential import (
    STATUS_LIST_TYP,
    TRUST_LIST_TYP,
    CredentialClaims,
    LicenceClaims,
    PublicKey,
    StatusList,
    StatusReference,
    decode_qr,
    encode_presentation_qr,
    kid_text,
    public_key_to_jwk,
    read_jws,
    sign_credential,
    sign_holder_proof,
    sign_status_list_token,
    sign_trust_list,
)
from keys import LocalSigner, generate_signing_key
from verifier import Bundle, Policy, sync_bundle, verify_payload

NOW = int(time.time())
STATUS_SIZE = 131_072


ALGS = ("ES256", "SM2")


def _signer(alg: str = "ES256") -> LocalSigner:
    return LocalSigner(generate_signing_key(alg))


def _publish(root: LocalSigner, department: LocalSigner) -> dict[str, str]:
    status = StatusList(2, STATUS_SIZE)
    for index in range(0, STATUS_SIZE, 97):
        status.set(index, 1)  # some revocations, so the list is not all zeros
    trust = {
        "iss": "platform",
        "iat": NOW - 60,
        "exp": NOW + 7 * 86400,
        "ttl": 3600,
        "departments": [
            {
                "code": "transport",
                "name": "Transport Bureau",
                "licence_types": [{"code": "DL", "name": "Driving licence"}],
                "status_lists": ["12"],
                "keys": [
                    {
                        "kid": kid_text(department.kid),
                        "jwk": public_key_to_jwk(department.public_key),
                        "not_before": NOW - 86400,
                        "not_after": None,
                        "state": "active",
                        "licence_types": ["DL"],
                    }
                ],
            }
        ],
    }
    return {
        "/trust-list": sign_trust_list(trust, root),
        "/status-lists/12": sign_status_list_token(
            status, department, uri="12", issued_at=NOW - 60, expires_at=NOW + 86400, ttl=3600
        ),
    }


def _sync(root: LocalSigner, documents: dict[str, str], bundle_dir: Path) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = documents.get(self.path)
            self.send_response(200 if body else 404)
            self.end_headers()
            self.wfile.write((body or "").encode())

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        sync_bundle(
            source=url,
            bundle_dir=bundle_dir,
            root_key=root.public_key,
            credential_issuer=verify_sd_jwt.BASE,  # the SD-JWT VCs' iss
        )
    finally:
        server.shutdown()
        server.server_close()


def _presentations(department: LocalSigner, count: int) -> list[str]:
    out = []
    for n in range(count):
        holder = _signer()
        claims = CredentialClaims(
            issuer="transport",
            issued_at=NOW - 3600,
            not_before=NOW - 3600,
            expires_at=NOW + 365 * 86400,
            credential_id=n.to_bytes(16, "big"),
            holder_key=holder.public_key,
            status=StatusReference("12", (n * 7919 + 1) % STATUS_SIZE),
            licence=LicenceClaims(
                type_code="DL",
                number=f"DL-2026-{n:06d}",
                holder_name="王小明",
                masked_id="110105********002X",
                categories=("C1",),
                fields={"vehicle": "car"},
            ),
        )
        credential = sign_credential(claims, department)
        proof = sign_holder_proof(credential, holder, presented_at=NOW - 2)
        out.append(encode_presentation_qr(credential, proof))
    return out


def _issuer_key(alg: str) -> tuple[Any, Any]:
    """A raw issuer private key of ``alg`` and the signature algorithm object to use with it:
    P-256 with ECDSA-SHA256 (cryptography) or SM2 with SM3 (tongsuopy, default signer ID)."""
    if alg == "SM2":
        from tongsuopy.crypto import hashes as sm_hashes
        from tongsuopy.crypto.asymciphers import ec as sm_ec

        return sm_ec.generate_private_key(sm_ec.SM2()), sm_ec.ECDSA(sm_hashes.SM3())
    return ec.generate_private_key(ec.SECP256R1()), ec.ECDSA(hashes.SHA256())


def _floors(count: int, alg: str = "ES256") -> tuple[Callable[[], float], Callable[[], float]]:
    """Two raw floors, each a callable giving pairs per second over ``count`` messages: the
    issuer's ``alg`` verification and the holder's ES256 one with both keys already loaded, and
    the same where the holder key is loaded first from a compressed P-256 point (a different
    holder each time, as in the presentations)."""
    data = [os.urandom(300) for _ in range(count)]
    algorithm = ec.ECDSA(hashes.SHA256())
    issuer, issuer_algorithm = _issuer_key(alg)
    holders = [ec.generate_private_key(ec.SECP256R1()) for _ in range(count)]
    other = holders[0]
    signed = [
        (
            message,
            issuer.sign(message, issuer_algorithm),
            other.sign(message, algorithm),
            holder.sign(message, algorithm),
            holder.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint),
        )
        for message, holder in zip(data, holders, strict=True)
    ]
    issuer_key, other_key, curve = issuer.public_key(), other.public_key(), ec.SECP256R1()

    def preloaded() -> float:
        start = time.process_time()
        for message, first, second, _, _ in signed:
            issuer_key.verify(first, message, issuer_algorithm)
            other_key.verify(second, message, algorithm)
        return count / (time.process_time() - start)

    def holder_key_loaded() -> float:
        start = time.process_time()
        for message, first, _, second, point in signed:
            issuer_key.verify(first, message, issuer_algorithm)
            holder_key = ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
            holder_key.verify(second, message, algorithm)
        return count / (time.process_time() - start)

    return preloaded, holder_key_loaded


def _library(bundle_dir: Path, payloads: list[str]) -> Callable[[], float]:
    """Fresh presentations per second through ``verify_payload`` (a callable, one round each)."""
    bundle = Bundle.load(bundle_dir)
    policy = Policy()
    verify_payload(
        payloads[0], trust=bundle.trust, status=bundle.status, now=lambda: NOW, policy=policy
    )

    def rate() -> float:
        start = time.process_time()
        for text in payloads:
            result = verify_payload(
                text, trust=bundle.trust, status=bundle.status, now=lambda: NOW, policy=policy
            )
            if not result.valid and result.outcome != "revoked":
                raise SystemExit(f"benchmark payload did not verify: {result.outcome}")
        return len(payloads) / (time.process_time() - start)

    return rate


def _sd_jwt(bundle_dir: Path, department: LocalSigner, count: int, rounds: int) -> dict[str, int]:
    """SD-JWT VC + KB-JWT presentations per CPU second: the verifier from the bundle, the
    credential-level verifier, the raw floor and the reference library, in alternating rounds."""
    texts = verify_sd_jwt.presentations(department, count, issuer="transport")
    bundle = Bundle.load(bundle_dir)
    policy = Policy()

    def verifier() -> float:
        start = time.process_time()
        for text in texts:
            result = verify_payload(
                text,
                trust=bundle.trust,
                status=bundle.status,
                now=lambda: verify_sd_jwt.NOW,
                policy=policy,
                challenge=verify_sd_jwt.NONCE,
                audience=verify_sd_jwt.AUDIENCE,
                credential_issuer=bundle.credential_issuer,
            )
            if not result.valid and result.outcome != "revoked":
                raise SystemExit(f"benchmark SD-JWT VC did not verify: {result.outcome}")
        return time.process_time() - start

    issuer_key = cast(ec.EllipticCurvePublicKey, department.public_key)
    totals = verify_sd_jwt.alternate(
        {
            "floor": verify_sd_jwt.floor_measure(texts, issuer_key),
            "verifier": verifier,
            "credential": verify_sd_jwt.credential_measure(
                texts, issuer_key, kid_text(department.kid)
            ),
            "reference": verify_sd_jwt.reference_measure(texts, issuer_key),
        },
        rounds,
    )
    verify_sd_jwt.report(
        texts,
        rounds,
        totals,
        {
            "verifier": "verify_payload from the bundle (with status):",
            "credential": "credential.verify_sd_jwt_vc:",
        },
    )
    done = count * rounds
    return {f"sd_jwt_{name}_per_s": round(done / seconds) for name, seconds in totals.items()}


def _compare_jws(
    root: LocalSigner, department: LocalSigner, documents: dict[str, str], rounds: int
) -> None:
    """Time to check one trust-list and one status-list token (parse, ES256 signature, typ) with
    ``credential``'s own compact JWS code and with joserfc: the figure ``credential/_jws.py``
    gives for existing beside joserfc."""
    from joserfc import jws
    from joserfc.jwk import ECKey

    cases = [
        ("trust list", documents["/trust-list"], root, TRUST_LIST_TYP),
        ("status list", documents["/status-lists/12"], department, STATUS_LIST_TYP),
    ]
    repeat = 200
    for name, token, signer, typ in cases:
        key = signer.public_key
        jwk_key = ECKey.import_key(cast(ec.EllipticCurvePublicKey, key))

        def ours(token: str = token, key: PublicKey = key, typ: str = typ) -> float:
            start = time.process_time()
            for _ in range(repeat):
                read_jws(token, typ=typ).verify(key)
            return repeat / (time.process_time() - start)

        def theirs(token: str = token, key: ECKey = jwk_key, typ: str = typ) -> float:
            start = time.process_time()
            for _ in range(repeat):
                signed = jws.deserialize_compact(token, key, algorithms=["ES256", "EdDSA"])
                if signed.protected.get("typ") != typ:
                    raise SystemExit("joserfc read another typ")
                json.loads(signed.payload)
            return repeat / (time.process_time() - start)

        own, library = _best_of_rounds(rounds, ours, theirs)
        print(
            f"{name} token ({len(token)} characters), parse + ES256 verify: "
            f"credential._jws {1e6 / own:.0f} us, joserfc {1e6 / library:.0f} us"
        )


def _best_of_rounds(rounds: int, *measures: Callable[[], float]) -> list[float]:
    """Run the measures in turn, ``rounds`` times, and keep each one's best figure."""
    best = [0.0] * len(measures)
    for _ in range(rounds):
        for n, measure in enumerate(measures):
            best[n] = max(best[n], measure())
    return best


def _decode_only(payloads: list[str]) -> float:
    start = time.process_time()
    for text in payloads:
        decode_qr(text)
    return len(payloads) / (time.process_time() - start)


def _http(
    bundle_dir: Path, payloads: list[str], requests: int, concurrency: int, alg: str
) -> float:
    port = free_port()
    code = (
        "import sys, uvicorn\n"
        "from verifier.api import create_app\n"
        f"app = create_app({str(bundle_dir)!r}, now=lambda: {NOW})\n"
        f"uvicorn.run(app, host='127.0.0.1', port={port}, log_level='warning', access_log=False)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    server = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        url = f"http://127.0.0.1:{port}/verify"
        for _ in range(100):
            try:
                httpx.post(url, json={"payload": payloads[0]}, timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        bodies = (
            post_request("/verify", json.dumps({"payload": payloads[n % len(payloads)]}).encode())
            for n in range(requests)
        )
        elapsed, latencies = asyncio.run(drive(port, bodies, concurrency, expect=200))
    finally:
        server.terminate()
        server.wait(timeout=10)
    latencies.sort()
    p50 = percentile(latencies, 0.50) * 1000
    p99 = percentile(latencies, 0.99) * 1000
    print(
        f"[{alg}] POST /verify (1 uvicorn worker, {concurrency} concurrent clients, "
        f"{requests} requests): {requests / elapsed:,.0f} req/s, p50 {p50:.1f} ms, "
        f"p99 {p99:.1f} ms"
    )
    return requests / elapsed


def _measure(alg: str, args: argparse.Namespace, all_cores: set[int]) -> dict[str, int]:
    """Every figure for department keys of ``alg``, printed; the headline ones returned."""
    os.sched_setaffinity(0, {min(all_cores)})  # library figures: one core
    root, department = _signer(), _signer(alg)
    with tempfile.TemporaryDirectory() as tmp:
        bundle_dir = Path(tmp) / "bundle"
        documents = _publish(root, department)
        _sync(root, documents, bundle_dir)
        payloads = _presentations(department, args.count)
        preloaded, holder_key_loaded = _floors(args.count, alg)
        floor, floor_loading, rate = _best_of_rounds(
            args.rounds, preloaded, holder_key_loaded, _library(bundle_dir, payloads)
        )
        print(
            f"[{alg}] raw floor ({alg} + ES256 verification, keys pre-loaded): {floor:,.0f} pairs/s"
        )
        print(
            f"[{alg}] raw floor with the holder key loaded (decompress the holder key + "
            f"{alg} + ES256 verification): {floor_loading:,.0f} /s"
        )
        print(
            f"[{alg}] verify_payload, fresh presentations from a bundle, 1 core: {rate:,.0f} /s "
            f"= {rate / floor:.0%} of the floor with pre-loaded keys, "
            f"{rate / floor_loading:.0%} of the floor with the holder key loaded (goal >= 80%)"
        )
        print(
            f"[{alg}] mean payload length: {statistics.mean(len(p) for p in payloads):.0f} "
            "characters"
        )
        (decode,) = _best_of_rounds(args.rounds, lambda: _decode_only(payloads))
        print(
            f"[{alg}] of which decode_qr alone (prefix, Base45, zlib, CBOR): {1e6 / decode:.0f} us "
            f"of {1e6 / rate:.0f} us per presentation (floor: {1e6 / floor:.0f} us)"
        )
        sd_jwt_figures = (
            _sd_jwt(bundle_dir, department, args.count, args.rounds) if alg == "ES256" else {}
        )
        os.sched_setaffinity(0, all_cores)  # the HTTP server and the load generator: all cores
        http = _http(bundle_dir, payloads, args.requests, args.concurrency, alg)
    return {
        "floor_per_s": round(floor),
        "floor_holder_key_loaded_per_s": round(floor_loading),
        "verify_per_s": round(rate),
        "http_per_s": round(http),
        **sd_jwt_figures,
    }


def _compiled_modules() -> str:
    """Which of the modules ./scripts/setup compiles are imported from their build (the figures
    below depend on it: docs/internals.md, "Compiled parse")."""
    with (Path(__file__).resolve().parents[1] / "pyproject.toml").open("rb") as file:
        listed = tomllib.load(file)["tool"]["elicence"]["compiled"]
    names = [path.removesuffix(".py").replace("/", ".") for path in listed]
    built = [
        name
        for name in names
        if str(importlib.import_module(name).__file__).endswith(tuple(EXTENSION_SUFFIXES))
    ]
    return f"compiled with mypyc: {len(built)} of the {len(names)} modules listed in pyproject.toml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--alg",
        action="append",
        choices=ALGS,
        help="department key algorithm, repeatable (default: ES256 and SM2 in the same run)",
    )
    parser.add_argument("--count", type=int, default=3000, help="presentations to verify")
    parser.add_argument("--requests", type=int, default=3000, help="HTTP requests")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (best kept)")
    parser.add_argument(
        "--compare-jws",
        action="store_true",
        help="only time status-list and trust-list token checks: credential._jws vs joserfc",
    )
    args = parser.parse_args()
    all_cores = os.sched_getaffinity(0)
    if args.compare_jws:
        os.sched_setaffinity(0, {min(all_cores)})
        root, department = _signer(), _signer()
        _compare_jws(root, department, _publish(root, department), args.rounds)
        return
    algs = list(dict.fromkeys(args.alg or ALGS))
    print(_compiled_modules())
    figures = {alg: _measure(alg, args, all_cores) for alg in algs}
    if "ES256" in figures and "SM2" in figures:
        es256, sm2 = figures["ES256"], figures["SM2"]
        print(
            f"SM2 next to ES256: verify_payload {sm2['verify_per_s']:,} /s vs "
            f"{es256['verify_per_s']:,} /s ({sm2['verify_per_s'] / es256['verify_per_s']:.2f}x), "
            f"raw floor {sm2['floor_holder_key_loaded_per_s']:,} /s vs "
            f"{es256['floor_holder_key_loaded_per_s']:,} /s, POST /verify "
            f"{sm2['http_per_s']:,} vs {es256['http_per_s']:,} req/s"
        )
    print(json.dumps(figures if len(figures) > 1 else figures[algs[0]]))


if __name__ == "__main__":
    main()
