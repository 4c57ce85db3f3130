"""A driving licence must fit a QR code a cheap counter scanner reads: version ≤ 11-M static,
≤ 13-M as a presentation with an 8-character challenge."""

from __future__ import annotations

from dataclasses import replace

import pytest
import qrcode
from qrcode.constants import ERROR_CORRECT_M

from credential import (
    StatusReference,
    encode_presentation_qr,
    encode_static_qr,
    identifier_credential_id,
    new_licence_serial,
    sign_credential,
    sign_holder_proof,
)
from tests.credential._support import NOW, TestSigner, driving_licence


def qr_version(text: str) -> int:
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M)
    qr.add_data(text)
    qr.make(fit=True)
    assert qr.data_list[0].mode == qrcode.util.MODE_ALPHA_NUM
    return int(qr.version)


def _sizes(
    alg: str,
    seed: int,
    index: int,
    holder_alg: str | None = None,
    credential_id: bytes | None = None,
) -> tuple[int, int]:
    issuer = TestSigner.from_seed(alg, 1000 + seed)
    holder = TestSigner.from_seed(holder_alg or alg, 2000 + seed)
    claims = driving_licence(holder.public_key, status=StatusReference("12", index))
    if credential_id is not None:
        claims = replace(claims, credential_id=credential_id)
    assert claims.expires_at - claims.issued_at >= 6 * 365 * 86400
    assert len(claims.licence.number) == 15 and len(claims.licence.holder_name) == 3
    credential = sign_credential(claims, issuer)
    proof = sign_holder_proof(credential, holder, presented_at=NOW, challenge="K7Q2M9XA")
    return qr_version(encode_static_qr(credential)), qr_version(
        encode_presentation_qr(credential, proof)
    )


@pytest.mark.parametrize("index", [0, 65_535, 131_071])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_es256_driving_licence_fits(index: int, seed: int) -> None:
    """ES256 is the default algorithm: static ≤ 11-M, presentation ≤ 13-M."""
    static, presentation = _sizes("ES256", seed, index)
    assert static <= 11
    assert presentation <= 13


@pytest.mark.parametrize("version", [1, 2, 999])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_es256_driving_licence_with_its_identifier_fits(seed: int, version: int) -> None:
    """With a licence identifier (serial and version in a 7-byte cti, wire format section
    15) the presentation still takes ≤ 13-M: the cti is a byte shorter than the 8 random bytes
    of a licence without one. Random serials, the largest status index."""
    for _ in range(4):
        cti = identifier_credential_id(new_licence_serial(), version)
        assert cti is not None
        static, presentation = _sizes("ES256", seed, 131_071, credential_id=cti)
        assert static <= 11
        assert presentation <= 13


@pytest.mark.parametrize("index", [0, 131_071])
def test_eddsa_driving_licence_size(index: int) -> None:
    """The preset dictionary is tuned for ES256 (EC2 holder key, alg -7): with EdDSA the
    presentation is ~20 characters longer and takes version 14-M. Measured, not a goal."""
    static, presentation = _sizes("EdDSA", 1, index)
    assert static <= 11
    assert presentation <= 14


@pytest.mark.parametrize("holder_alg", ["ES256", "SM2"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sm2_driving_licence_size(seed: int, holder_alg: str) -> None:
    """SM2 does not meet the 13-M presentation goal (483 characters): measured 493-495
    characters with an SM2 issuer key and a P-256 holder key (a phone's key store holds P-256,
    not SM2), 507-510 with SM2 for both, so version 14-M. Why: the private-use COSE alg value
    -65537 takes 5 bytes of CBOR where -7 takes 1, in the credential's and in the proof's
    protected header, an SM2 ``cnf`` key's curve (-65537) 4 more, and the preset zlib
    dictionary holds the ES256 header bytes but not these. The static copy still fits 11-M."""
    static, presentation = _sizes("SM2", seed, 131_071, holder_alg)
    assert static <= 11
    assert presentation <= 14
