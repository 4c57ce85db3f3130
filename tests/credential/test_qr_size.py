"""A driving licence must fit a QR code a cheap counter scanner reads: version ≤ 11-M static,
≤ 13-M as a presentation with an 8-character challenge (ES256 and SM2; EdDSA takes 14-M)."""

from __future__ import annotations

import zlib
from dataclasses import replace

import base45
import cbor2
import pytest
import qrcode
from qrcode.constants import ERROR_CORRECT_M

from credential import (
    StatusReference,
    decode_qr,
    encode_presentation_qr,
    encode_static_qr,
    identifier_credential_id,
    new_licence_serial,
    sign_credential,
    sign_holder_proof,
)
from credential._qr import PRESET_DICTIONARY
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


@pytest.mark.parametrize("with_identifier", [True, False])
@pytest.mark.parametrize("holder_alg", ["ES256", "SM2"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sm2_driving_licence_fits(seed: int, holder_alg: str, with_identifier: bool) -> None:
    """With an SM2 issuer key the presentation takes ≤ 13-M too, with a P-256 holder key (a
    phone's key store holds P-256) or an SM2 one, because its QR text is compressed with the SM2
    preset dictionary (wire format section 3): measured 457-477 characters of 13-M's 483."""
    for _ in range(3 if with_identifier else 1):
        cti = identifier_credential_id(new_licence_serial(), 1) if with_identifier else None
        static, presentation = _sizes("SM2", seed, 131_071, holder_alg, credential_id=cti)
        assert static <= 11
        assert presentation <= 13


@pytest.mark.parametrize("holder_alg", ["ES256", "SM2"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sm2_needs_its_own_dictionary_for_13_m(seed: int, holder_alg: str) -> None:
    """Why the SM2 dictionary exists: compressed with the ES256 one, the same SM2 presentation
    takes version 14-M, 4-24 characters over 13-M's 483 (measured 487-495 with a P-256 holder
    key, 499-507 with an SM2 one). The private-use COSE alg value -65537 takes 5 bytes of CBOR
    where -7 takes 1, in the credential's and in the proof's protected header (an SM2 ``cnf``
    key's curve 4 more), which breaks the ES256 skeleton's longest matches. Nothing in the COSE
    encoding itself is left to trim: the signature is already raw ``r || s`` (64 bytes, not the
    70-72 of DER), the kid 8 bytes as for ES256, and -65537 is the shortest private-use value."""
    issuer = TestSigner.from_seed("SM2", 1000 + seed)
    holder = TestSigner.from_seed(holder_alg, 2000 + seed)
    claims = replace(
        driving_licence(holder.public_key, status=StatusReference("12", 131_071)),
        credential_id=identifier_credential_id(new_licence_serial(), 1),
    )
    credential = sign_credential(claims, issuer)
    proof = sign_holder_proof(credential, holder, presented_at=NOW, challenge="K7Q2M9XA")
    cbor_bytes = cbor2.dumps([credential, proof])
    deflater = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, PRESET_DICTIONARY)
    with_es256 = (
        "EP1:" + base45.b45encode(deflater.compress(cbor_bytes) + deflater.flush()).decode()
    )
    assert decode_qr(with_es256).credential == credential  # valid, just longer
    assert len(with_es256) > 483 and qr_version(with_es256) == 14
    own = encode_presentation_qr(credential, proof)
    assert len(own) <= 483 and qr_version(own) <= 13
    assert len(with_es256) - len(own) >= 20
