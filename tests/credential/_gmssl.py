"""gmssl (pure-Python SM2/SM3, a test-only dependency) as the independent SM2 implementation:
it shares no code with Tongsuo, so agreement in both directions checks the curve, SM3, the Z
value over the signer ID and the raw ``r || s`` form."""

from __future__ import annotations

import secrets

from gmssl import sm2 as gmssl_sm2
from gmssl import sm3 as gmssl_sm3

from credential import (
    ALG_SM2,
    PublicKey,
    b64url,
    b64url_decode,
    jwk_to_public_key,
    kid_for,
    public_key_to_jwk,
)

DEFAULT_ID = b"1234567812345678"
OTHER_ID = b"ALICE123@YAHOO.COM"  # the signer ID of the worked examples of GB/T 32918.2


def _xy_hex(public_key: PublicKey) -> str:
    jwk = public_key_to_jwk(public_key)
    return (b64url_decode(jwk["x"]) + b64url_decode(jwk["y"])).hex()


def _gmssl(public_xy_hex: str, private_hex: str | None = None) -> gmssl_sm2.CryptSM2:
    crypt = gmssl_sm2.CryptSM2(private_key=private_hex, public_key=public_xy_hex)
    # gmssl drops a leading "04" with lstrip("04"), which mangles x||y when its hex starts with
    # 04 (then any further 0 and 4 go too): set the key as given
    crypt.public_key = public_xy_hex
    return crypt


def _digest_with_id(crypt: gmssl_sm2.CryptSM2, data: bytes, signer_id: bytes) -> bytes:
    """e = SM3(Z || M), Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA) (GB/T 32918.2
    5.5), computed with gmssl's SM3 for any signer ID."""
    table = crypt.ecc_table
    z = (
        (8 * len(signer_id)).to_bytes(2, "big")
        + signer_id
        + bytes.fromhex(table["a"] + table["b"] + table["g"] + crypt.public_key)
    )
    za = bytes.fromhex(gmssl_sm3.sm3_hash(list(z)))
    return bytes.fromhex(gmssl_sm3.sm3_hash(list(za + data)))


def gmssl_public(public_key: PublicKey) -> gmssl_sm2.CryptSM2:
    """gmssl's SM2 for a public key (verification only)."""
    return _gmssl(_xy_hex(public_key))


def gmssl_verifies(public_key: PublicKey, signature: bytes, data: bytes, signer_id: bytes) -> bool:
    """gmssl's verdict on a raw ``r || s`` SM2 signature, with Z over ``signer_id``."""
    crypt = gmssl_public(public_key)
    return bool(crypt.verify(signature.hex(), _digest_with_id(crypt, data, signer_id)))


class GmsslSigner:
    """A ``credential.Signer`` whose SM2 signatures come from gmssl, not from tongsuopy."""

    alg = ALG_SM2

    def __init__(self, signer_id: bytes = DEFAULT_ID) -> None:
        self.private_hex = secrets.token_hex(31)  # < n: a valid scalar
        # the public key d·G, computed by gmssl too, and loaded as the product loads a JWK
        generator = gmssl_sm2.default_ecc_table["g"]
        xy = _gmssl("", self.private_hex)._kg(int(self.private_hex, 16), generator)
        jwk = {"kty": "EC", "crv": "SM2"}
        jwk |= {"x": b64url(bytes.fromhex(xy[:64])), "y": b64url(bytes.fromhex(xy[64:]))}
        self.public_key = jwk_to_public_key(jwk)
        self.kid = kid_for(self.public_key)
        self.signer_id = signer_id
        self._crypt = _gmssl(xy, self.private_hex)

    def sign(self, data: bytes) -> bytes:
        digest = _digest_with_id(self._crypt, data, self.signer_id)
        return bytes.fromhex(self._crypt.sign(digest, secrets.token_hex(31)))
