"""keys: signers, encrypted storage, master key; no private material in reprs or logs."""

from __future__ import annotations

import base64
import logging
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tongsuopy.crypto import serialization as tongsuo_serialization
from tongsuopy.crypto.asymciphers import ec as tongsuo_ec

import credential
from credential import (
    CredentialClaims,
    LicenceClaims,
    StatusReference,
    errors,
    kid_for,
    kid_text,
    read_credential,
    sign_credential,
)
from keys import (
    PURPOSE_BLIND_INDEX,
    PURPOSE_ID_ENCRYPTION,
    PURPOSE_KEY_ENCRYPTION,
    KeyStoreError,
    LocalSigner,
    PrivateKey,
    decrypt_private_key,
    derive_subkey,
    encode_master_key,
    encrypt_private_key,
    generate_signing_key,
    load_or_create_master_key,
)
from tests.credential._gmssl import DEFAULT_ID, OTHER_ID, gmssl_public, gmssl_verifies


def _claims(holder: PrivateKey) -> CredentialClaims:
    return CredentialClaims(
        issuer="transport",
        issued_at=1_700_000_000,
        not_before=1_700_000_000,
        expires_at=1_900_000_000,
        credential_id=b"\x01" * 16,
        holder_key=holder.public_key(),
        status=StatusReference("https://example.test/status-lists/1", 7),
        licence=LicenceClaims("DL", "A123", "张三", "110105********002X", ("C1",)),
    )


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "SM2"])
def test_signed_credential_verifies_with_public_key(alg: str) -> None:
    key = generate_signing_key(alg)
    signer = LocalSigner(key)
    assert signer.alg == alg
    assert signer.kid == kid_for(key.public_key())
    cose = sign_credential(_claims(generate_signing_key("EdDSA")), signer)
    parsed = read_credential(cose)
    assert parsed.kid == signer.kid
    assert parsed.alg == alg
    parsed.verify_signature(key.public_key())  # raises on failure
    with pytest.raises(errors.BadSignature):
        parsed.verify_signature(generate_signing_key(alg).public_key())


def test_es256_signature_is_raw_r_s() -> None:
    signer = LocalSigner(generate_signing_key("ES256"))
    signature = signer.sign(b"data")
    assert len(signature) == 64
    assert credential.verify_raw(signer.public_key, "ES256", signature, b"data")
    assert not credential.verify_raw(signer.public_key, "ES256", signature, b"other")


def test_unknown_algorithm_refused() -> None:
    with pytest.raises(ValueError, match="RS256"):
        generate_signing_key("RS256")
    with pytest.raises(errors.UnsupportedAlgorithm, match="'SM2SM3'"):
        generate_signing_key("SM2SM3")


def test_sm2_signatures_verify_with_gmssl_and_the_default_signer_id() -> None:
    """The product's signer, checked by an independent SM2 (gmssl, pure Python)."""
    signer = LocalSigner(generate_signing_key("SM2"))
    data = b"Signature1 over a licence"
    signature = signer.sign(data)
    assert len(signature) == 64
    assert gmssl_verifies(signer.public_key, signature, data, DEFAULT_ID)
    assert gmssl_public(signer.public_key).verify_with_sm3(signature.hex(), data)
    assert not gmssl_verifies(signer.public_key, signature, data, OTHER_ID)
    assert not gmssl_verifies(signer.public_key, signature, data + b"!", DEFAULT_ID)


def test_sm2_key_is_stored_with_sm4_and_signs_after_loading() -> None:
    """tongsuopy's PKCS#8 encryption for SM2 keys is PBES2 with SM4-CBC (OID 1.2.156.10197.1.104.2),
    which cryptography cannot read: loading falls through to tongsuopy."""
    key = generate_signing_key("SM2")
    blob = encrypt_private_key(key, b"correct horse")
    der = base64.b64decode("".join(blob.decode().splitlines()[1:-1]))
    assert bytes.fromhex("06082a811ccf55016802") in der  # OID 1.2.156.10197.1.104.2, SM4-CBC
    signer = LocalSigner(decrypt_private_key(blob, b"correct horse"))
    assert signer.alg == "SM2" and signer.kid == kid_for(key.public_key())
    assert credential.verify_raw(key.public_key(), "SM2", signer.sign(b"data"), b"data")
    with pytest.raises(KeyStoreError, match="wrong secret") as caught:
        decrypt_private_key(blob, b"wrong secret")
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "SM2"])
def test_encrypted_key_round_trip(alg: str) -> None:
    key = generate_signing_key(alg)
    blob = encrypt_private_key(key, b"correct horse")
    assert b"ENCRYPTED PRIVATE KEY" in blob
    loaded = decrypt_private_key(blob, b"correct horse")
    assert kid_for(loaded.public_key()) == kid_for(key.public_key())


def test_wrong_secret_is_a_clear_error_without_key_material() -> None:
    key = generate_signing_key("ES256")
    blob = encrypt_private_key(key, b"right secret")
    with pytest.raises(KeyStoreError, match="wrong secret") as caught:
        decrypt_private_key(blob, b"wrong secret")
    message = str(caught.value)
    assert "BEGIN" not in message
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_damaged_blob_and_unsupported_key_refused() -> None:
    with pytest.raises(KeyStoreError):
        decrypt_private_key(b"not a key", b"secret")
    p384 = ec.generate_private_key(ec.SECP384R1())
    blob = p384.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"s"),
    )
    with pytest.raises(KeyStoreError, match="P-256"):
        decrypt_private_key(blob, b"s")


def test_empty_secret_refused() -> None:
    with pytest.raises(KeyStoreError):
        encrypt_private_key(generate_signing_key(), b"")


def test_master_key_file_created_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "master.key"
    master = load_or_create_master_key(env_value=None, path=path, create=True)
    assert len(master) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = load_or_create_master_key(env_value=None, path=path, create=True)
    assert again == master


def test_master_key_file_with_loose_mode_refused(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    load_or_create_master_key(env_value=None, path=path, create=True)
    os.chmod(path, 0o644)
    with pytest.raises(KeyStoreError, match="0644"):
        load_or_create_master_key(env_value=None, path=path, create=False)


def test_master_key_missing_without_create(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    with pytest.raises(KeyStoreError, match="ELICENCE_MASTER_KEY"):
        load_or_create_master_key(env_value=None, path=path, create=False)
    assert not path.exists()


def test_environment_master_key_wins(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    file_key = load_or_create_master_key(env_value=None, path=path, create=True)
    env_key = os.urandom(32)
    loaded = load_or_create_master_key(env_value=encode_master_key(env_key), path=path, create=True)
    assert loaded == env_key != file_key


@pytest.mark.parametrize("bad", ["not base64!!", encode_master_key(b"short")])
def test_malformed_environment_master_key(tmp_path: Path, bad: str) -> None:
    with pytest.raises(KeyStoreError, match="environment"):
        load_or_create_master_key(env_value=bad, path=tmp_path / "m", create=True)


def test_subkeys_differ_per_purpose_and_are_stable() -> None:
    master = os.urandom(32)
    subkeys = {
        p: derive_subkey(master, p)
        for p in (PURPOSE_KEY_ENCRYPTION, PURPOSE_BLIND_INDEX, PURPOSE_ID_ENCRYPTION)
    }
    assert len(set(subkeys.values())) == 3
    assert all(len(k) == 32 for k in subkeys.values())
    assert derive_subkey(master, PURPOSE_BLIND_INDEX) == subkeys[PURPOSE_BLIND_INDEX]
    assert derive_subkey(os.urandom(32), PURPOSE_BLIND_INDEX) != subkeys[PURPOSE_BLIND_INDEX]
    assert master not in subkeys.values()


def _secret_forms(key: PrivateKey) -> list[str]:
    """Every text form of the private key that must never show up anywhere."""
    formats: Any = (
        tongsuo_serialization
        if isinstance(key, tongsuo_ec.EllipticCurvePrivateKey)
        else serialization
    )
    der = key.private_bytes(
        formats.Encoding.DER,
        formats.PrivateFormat.PKCS8,
        formats.NoEncryption(),
    )
    pem = key.private_bytes(
        formats.Encoding.PEM,
        formats.PrivateFormat.PKCS8,
        formats.NoEncryption(),
    ).decode()
    if isinstance(key, Ed25519PrivateKey):
        raw = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        scalar = int.from_bytes(raw, "big")
    else:
        scalar = key.private_numbers().private_value
        raw = scalar.to_bytes(32, "big")
    pem_body = "".join(pem.splitlines()[1:-1])
    return [
        der.hex(),
        der.hex().upper(),
        raw.hex(),
        raw.hex().upper(),
        str(scalar),
        format(scalar, "x"),
        pem_body[:40],
        credential.b64url(raw),
    ]


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "SM2"])
def test_no_private_material_in_reprs_or_logs(
    alg: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = generate_signing_key(alg)
    signer = LocalSigner(key)
    blob = encrypt_private_key(key, b"passphrase")
    loaded = decrypt_private_key(blob, b"passphrase")
    with pytest.raises(KeyStoreError) as wrong:
        decrypt_private_key(blob, b"not the passphrase")
    master = load_or_create_master_key(env_value=None, path=tmp_path / "m.key", create=True)
    texts = [
        repr(signer),
        str(signer),
        repr(LocalSigner(loaded)),
        str(wrong.value),
        repr(wrong.value),
        caplog.text,
    ]
    assert repr(signer) == f"LocalSigner(alg={alg!r}, kid={kid_text(signer.kid)!r})"
    forms = [*_secret_forms(key), master.hex(), encode_master_key(master)]
    for text in texts:
        for form in forms:
            assert form not in text
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(signer)


def test_a_sealed_blob_opens_only_with_its_key_aad_and_length() -> None:
    """The one versioned AES-GCM format of ID numbers and holder keys (keys.SealedBox)."""
    import os as _os

    from keys import KeyStoreError, SealedBox

    box, other = SealedBox(_os.urandom(32)), SealedBox(_os.urandom(32))
    blob = box.seal(b"secret", aad=b"row-1")
    assert box.open(blob, aad=b"row-1", what="test") == b"secret"
    assert box.seal(b"secret", aad=b"row-1") != blob  # a fresh nonce each time
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    for bad, aad, length in (
        (blob, b"row-2", None),  # another row's associated data
        (tampered, b"row-1", None),
        (b"\x02" + blob[1:], b"row-1", None),  # another format version
        (blob[:20], b"row-1", None),  # cut short
        (blob, b"row-1", 7),  # not the expected length
    ):
        with pytest.raises(KeyStoreError, match="test"):
            box.open(bad, aad=aad, what="test", length=length)
    with pytest.raises(KeyStoreError):
        other.open(blob, aad=b"row-1", what="test")
