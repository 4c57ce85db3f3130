"""Test-only helpers for the credential tests: a real signer on cryptography (tongsuopy for SM2)
and a licence builder.

``keys.LocalSigner`` is the product's signer; these tests sign with their own small one so that
``credential`` is tested on its own, with nothing but the crypto libraries underneath.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tongsuopy.crypto import hashes as tongsuo_hashes
from tongsuopy.crypto.asymciphers import ec as tongsuo_ec

from credential import (
    CredentialClaims,
    LicenceClaims,
    PublicKey,
    StatusReference,
    der_to_raw,
    kid_for,
)

PrivateKey = ec.EllipticCurvePrivateKey | Ed25519PrivateKey | tongsuo_ec.EllipticCurvePrivateKey


def shared_vectors_dir() -> Path:
    """The project's shared vectors: ``shared/vectors`` beside the clone (CI puts a copy there),
    else ``/work/shared/vectors`` (a worktree lives elsewhere than the main clone)."""
    here = Path(__file__).resolve()
    root = next(parent for parent in here.parents if (parent / "pyproject.toml").is_file())
    beside = root.parent / "shared" / "vectors"
    return beside if beside.is_dir() else Path("/work/shared/vectors")


# 2026-01-01T00:00:00Z: every test and vector runs on this clock.
NOW = 1_767_225_600
SIX_YEARS = 6 * 365 * 24 * 3600


class TestSigner:
    """A ``credential.Signer`` over a cryptography private key (tests and vectors only)."""

    __test__ = False  # not a pytest test class

    def __init__(self, private_key: PrivateKey) -> None:
        self.private_key = private_key
        self.public_key: PublicKey = private_key.public_key()
        if isinstance(private_key, Ed25519PrivateKey):
            self.alg = "EdDSA"
        elif isinstance(private_key, tongsuo_ec.EllipticCurvePrivateKey):
            self.alg = "SM2"
        else:
            self.alg = "ES256"
        self.kid = kid_for(self.public_key)

    @classmethod
    def from_seed(cls, alg: str, seed: int) -> TestSigner:
        """A fixed key (tests only): P-256 or SM2 scalar, or Ed25519 seed, from ``seed``."""
        if alg == "EdDSA":
            return cls(Ed25519PrivateKey.from_private_bytes(seed.to_bytes(32, "big")))
        if alg == "SM2":
            return cls(tongsuo_ec.derive_private_key(seed, tongsuo_ec.SM2()))
        return cls(ec.derive_private_key(seed, ec.SECP256R1()))

    @classmethod
    def generate(cls, alg: str = "ES256") -> TestSigner:
        if alg == "EdDSA":
            return cls(Ed25519PrivateKey.generate())
        if alg == "SM2":
            return cls(tongsuo_ec.generate_private_key(tongsuo_ec.SM2()))
        return cls(ec.generate_private_key(ec.SECP256R1()))

    def sign(self, data: bytes) -> bytes:
        if isinstance(self.private_key, Ed25519PrivateKey):
            return self.private_key.sign(data)
        if isinstance(self.private_key, tongsuo_ec.EllipticCurvePrivateKey):
            # SM2 signing is randomised (no RFC 6979 form); the size is fixed all the same.
            sm2_sm3 = tongsuo_ec.ECDSA(tongsuo_hashes.SM3())
            return der_to_raw(self.private_key.sign(data, sm2_sm3))
        # RFC 6979 deterministic ECDSA: vectors and sizes repeat exactly from run to run.
        algorithm = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
        return der_to_raw(self.private_key.sign(data, algorithm))

    def __repr__(self) -> str:
        return f"TestSigner({self.alg})"


def driving_licence(holder_key: PublicKey, **overrides: Any) -> CredentialClaims:
    """A realistic driving licence claim set: the size test and the vectors use it."""
    claims = CredentialClaims(
        issuer="110000-JTJ",
        issued_at=NOW,
        not_before=NOW,
        expires_at=NOW + SIX_YEARS,
        credential_id=bytes.fromhex("5f1c0e9a2b7d4c3e"),
        holder_key=holder_key,
        status=StatusReference(uri="12", index=131_071),
        licence=LicenceClaims(
            type_code="DL",
            number="110105194912310",
            holder_name="张秀英",
            masked_id="110105********002X",
            categories=("C1",),
        ),
    )
    licence = overrides.pop("licence", None)
    if licence is not None:
        claims = replace(claims, licence=licence)
    return replace(claims, **overrides)
