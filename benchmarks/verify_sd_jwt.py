"""SD-JWT VC verification speed: presentations (issuer JWT, disclosures, KB-JWT) verified per
second on one core with ``credential.verify_sd_jwt_vc``, next to the raw floor of the same run
(the two ES256 verifications a presentation needs, the holder key loaded from its JWK each time,
as a verifier must) and next to the reference implementation (PyPI ``sd-jwt``) verifying the same
presentations. Goal: at least 70% of the floor and ahead of the reference library.

Times are CPU seconds of this process (``time.process_time``), measured in alternating rounds of
the floor and of each verifier, so that other work on a shared machine disturbs the figures and
the ratios less than wall-clock time would.

``benchmarks/verify.py`` prints the same figures, and ``verify_payload`` (the verifier with its
trust list and status list from a synced bundle) beside them, through the functions here.

Run: ``.venv/bin/python benchmarks/verify_sd_jwt.py [--count N] [--rounds N]``
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwcrypto.jwk import JWK
from sd_jwt.verifier import SDJWTVerifier

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from credential import (
    CredentialClaims,
    LicenceClaims,
    PublicKey,
    StatusReference,
    b64url_decode,
    jwk_to_public_key,
    kid_text,
    present_sd_jwt,
    public_key_to_jwk,
    read_jws,
    sd_jwt_vc_of_licence,
    verify_sd_jwt_vc,
)
from keys import LocalSigner, generate_signing_key

NOW = int(time.time())
BASE = "https://licences.example.gov.cn"
AUDIENCE = "https://bank.example.cn/verifier"
NONCE = "bench-nonce-0001"


def presentations(
    department: LocalSigner, count: int, *, base: str = BASE, issuer: str = "110000-JTJ"
) -> list[str]:
    """``count`` presentations of driving licences of ``issuer`` signed by ``department``, each
    with its own holder, two decoys, three of six disclosures and a KB-JWT for ``AUDIENCE`` and
    ``NONCE``; status entries spread over list 12 of 131,072."""
    out = []
    for n in range(count):
        holder = LocalSigner(generate_signing_key("ES256"))
        claims = CredentialClaims(
            issuer=issuer,
            issued_at=NOW - 3600,
            not_before=NOW - 3600,
            expires_at=NOW + 365 * 86400,
            credential_id=n.to_bytes(8, "big"),
            holder_key=holder.public_key,
            status=StatusReference("12", (n * 7919 + 1) % 131_072),
            licence=LicenceClaims(
                type_code="DL",
                number=f"110000-JTJ-DL-{n:010d}",
                holder_name="王小明",
                masked_id="110105********002X",
                categories=("C1",),
                fields={"archive_number": f"1101{n:08d}", "points": 12},
            ),
        )
        issued = sd_jwt_vc_of_licence(claims, department, public_base_url=base, decoys=2)
        out.append(
            present_sd_jwt(
                issued,
                holder,
                disclose=["holder_name", "categories", ("fields", "points")],
                audience=AUDIENCE,
                nonce=NONCE,
                presented_at=NOW - 2,
            )
        )
    return out


Prepared = tuple[dict[str, str], bytes, bytes, bytes, bytes]
Measure = Callable[[], float]  # one round: CPU seconds for the whole list


def _der(raw: bytes) -> bytes:
    return encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))


def floor_measure(presentations: list[str], issuer_key: ec.EllipticCurvePublicKey) -> Measure:
    """The raw floor: per presentation, verify the issuer's ES256 signature, load the holder key
    from its JWK, verify the holder's ES256 signature (signing inputs and DER signatures
    prepared beforehand)."""
    prepared: list[Prepared] = []
    for text in presentations:
        issuer_jwt = read_jws(text.split("~", 1)[0], typ="dc+sd-jwt")
        kb = read_jws(text.rsplit("~", 1)[1], typ="kb+jwt")
        prepared.append(
            (
                issuer_jwt.payload["cnf"]["jwk"],
                issuer_jwt.signing_input,
                _der(issuer_jwt.signature),
                kb.signing_input,
                _der(kb.signature),
            )
        )
    algorithm = ec.ECDSA(hashes.SHA256())
    curve = ec.SECP256R1()

    def measure() -> float:
        start = time.process_time()
        for jwk, issuer_input, issuer_sig, kb_input, kb_sig in prepared:
            issuer_key.verify(issuer_sig, issuer_input, algorithm)
            point = b"\x04" + b64url_decode(jwk["x"]) + b64url_decode(jwk["y"])
            ec.EllipticCurvePublicKey.from_encoded_point(curve, point).verify(
                kb_sig, kb_input, algorithm
            )
        return time.process_time() - start

    return measure


def credential_measure(
    presentations: list[str], issuer_key: PublicKey, kid: str, base: str = BASE
) -> Measure:
    """``credential.verify_sd_jwt_vc`` with a resolver that knows the one issuer key."""

    def resolve_key(iss: str, key_id: str | None) -> PublicKey:
        if iss != base or key_id != kid:
            raise SystemExit("benchmark presentation names another key")
        return issuer_key

    def measure() -> float:
        start = time.process_time()
        for text in presentations:
            verified = verify_sd_jwt_vc(
                text, resolve_key=resolve_key, audience=AUDIENCE, nonce=NONCE, now=NOW
            )
            if verified.claims["fields"] != {"points": 12}:
                raise SystemExit("benchmark presentation did not disclose what it should")
        return time.process_time() - start

    return measure


def reference_measure(presentations: list[str], issuer_key: PublicKey) -> Measure:
    """The reference implementation (PyPI ``sd-jwt``) verifying the same presentations."""
    issuer_jwk = JWK(**public_key_to_jwk(issuer_key))

    def measure() -> float:
        start = time.process_time()
        for text in presentations:
            claims = SDJWTVerifier(
                text, lambda iss, header: issuer_jwk, expected_aud=AUDIENCE, expected_nonce=NONCE
            ).get_verified_payload()
            if claims["fields"] != {"points": 12}:
                raise SystemExit("the reference library disagrees on the disclosed claims")
        return time.process_time() - start

    return measure


def alternate(measures: dict[str, Measure], rounds: int) -> dict[str, float]:
    """Each measure once per round, in turn (a burst of load from other processes then falls on
    all of them); the CPU seconds of each, summed over the rounds."""
    for measure in measures.values():  # warm up: caches, imports, first-use costs
        measure()
    totals = dict.fromkeys(measures, 0.0)
    for _ in range(rounds):
        for name, measure in measures.items():
            totals[name] += measure()
    return totals


def report(
    presentations: list[str], rounds: int, totals: dict[str, float], labels: dict[str, str]
) -> None:
    """Print presentations per CPU second of each measure in ``totals`` (``floor`` and
    ``reference`` among them), with its ratio to the floor and to the reference library."""
    done = len(presentations) * rounds
    size = sum(map(len, presentations)) / len(presentations)
    floor, reference = totals["floor"], totals["reference"]
    print(
        f"SD-JWT VC + KB-JWT presentations, 1 core: {len(presentations)} x {rounds} rounds, "
        f"{size:.0f} characters, CPU time"
    )
    print(f"  raw floor (2 x ES256 verify + holder JWK load): {done / floor:8.0f} /s")
    for name, label in labels.items():
        seconds = totals[name]
        print(
            f"  {label:<46} {done / seconds:8.0f} /s = {floor / seconds:6.1%} of the floor, "
            f"{reference / seconds:5.2f}x the reference library"
        )
    print(f"  sd-jwt reference library (SDJWTVerifier):      {done / reference:8.0f} /s")
    print("  goal: >= 70% of the floor and ahead of the reference library")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="presentations (default 2000)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    args = parser.parse_args()
    department = LocalSigner(generate_signing_key("ES256"))
    issuer_key = jwk_to_public_key(public_key_to_jwk(department.public_key))
    assert isinstance(issuer_key, ec.EllipticCurvePublicKey)
    texts = presentations(department, args.count)
    measures = {
        "floor": floor_measure(texts, issuer_key),
        "ours": credential_measure(texts, issuer_key, kid_text(department.kid)),
        "reference": reference_measure(texts, issuer_key),
    }
    totals = alternate(measures, args.rounds)
    report(texts, args.rounds, totals, {"ours": "credential.verify_sd_jwt_vc:"})


if __name__ == "__main__":
    main()
