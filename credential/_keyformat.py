"""Public key formats: JWK (RFC 7517, 8037), COSE_Key (RFC 9052, 9053), thumbprint (RFC 7638),
and the signature algorithms this product knows: ES256, EdDSA and SM2 (SM2 with SM3, private-use
identifiers written in docs/wire-format.md)."""

from __future__ import annotations

import binascii
import hashlib
import json
from typing import Any, Protocol, TypeAlias

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ._sm2 import SM2PublicKey, is_sm2_public_key, sm2_public_key_from_point
from .errors import MalformedPayload, UnsupportedAlgorithm

PublicKey: TypeAlias = ec.EllipticCurvePublicKey | Ed25519PublicKey | SM2PublicKey

ALG_ES256 = "ES256"
ALG_EDDSA = "EdDSA"
ALG_SM2 = "SM2"  # the JOSE "alg" too: no IANA name exists (docs/wire-format.md)
# Private use (RFC 9053 section 16.4: values below -65536); never -48, now ML-DSA-44.
COSE_ALG_SM2 = -65537
# The algorithm registry: every name here is signed and verified, nothing else is.
COSE_ALG = {ALG_ES256: -7, ALG_EDDSA: -8, ALG_SM2: COSE_ALG_SM2}
COSE_ALG_NAME = {v: k for k, v in COSE_ALG.items()}
ALGORITHMS = tuple(COSE_ALG)

KID_LENGTH = 8


class Signer(Protocol):
    """Anything that signs: a local key, an HSM, a remote signing service."""

    @property
    def alg(self) -> str: ...

    @property
    def kid(self) -> bytes: ...

    def sign(self, data: bytes) -> bytes:
        """Return the raw signature over ``data`` (r||s for ES256)."""
        ...


_TO_BASE64URL = bytes.maketrans(b"+/", b"-_")


def b64url(data: bytes) -> str:
    """Unpadded base64url. binascii directly: ``base64.urlsafe_b64encode`` is two Python calls
    around it, and a QR verification encodes its credential id."""
    return binascii.b2a_base64(data, newline=False).translate(_TO_BASE64URL).rstrip(b"=").decode()


# "-" and "_" become base64's "+" and "/"; "+", "/" and "=" (not base64url) become "!", which the
# strict decoder refuses: one pass translates and checks the alphabet.
_FROM_BASE64URL = bytes.maketrans(b"-_+/=", b"+/!!!")
_PADDING = (b"", b"", b"==", b"=")  # by length mod 4; 1 is never valid and fails below


def b64url_decode(text: object) -> bytes:
    """Decode unpadded base64url. Raises ``MalformedPayload`` on bad input.

    ``base64.b64decode(..., altchars=b"-_", validate=True)`` does the same with a translation
    table built per call; an SD-JWT VC presentation decodes eleven parts, so the table is made
    once here and binascii is called directly (same strict alphabet: anything else, white space
    included, fails).
    """
    if not isinstance(text, str):  # an argument of any type: a compiled module checks str ones
        raise MalformedPayload("not base64url")
    try:
        data = text.encode("ascii").translate(_FROM_BASE64URL)
        return binascii.a2b_base64(data + _PADDING[len(data) % 4], strict_mode=True)
    except ValueError as exc:  # also UnicodeEncodeError and binascii.Error
        raise MalformedPayload("not base64url") from exc


# Concrete key class -> (its algorithm, the curve class its keys must have, if any). Filled on
# first sight of a class: ``isinstance`` against cryptography's abstract key classes costs ~3 us
# (an ABC check), a dict look-up by ``type`` ~0.1 us, and a presentation checks several keys.
_ALG_OF_CLASS: dict[type, tuple[str, type | None]] = {}


def _classify(public_key: Any) -> tuple[str, type | None]:
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return ALG_ES256, ec.SECP256R1
    if isinstance(public_key, Ed25519PublicKey):
        return ALG_EDDSA, None
    if is_sm2_public_key(public_key):
        return ALG_SM2, type(public_key.curve)
    raise UnsupportedAlgorithm("only P-256 (ES256), Ed25519 (EdDSA) and SM2 keys are supported")


def alg_of(public_key: PublicKey) -> str:
    """The signature algorithm a public key is used with.

    Raises ``UnsupportedAlgorithm`` for any other key (P-384, RSA, X25519, ...).
    """
    known = _ALG_OF_CLASS.get(type(public_key))
    if known is None:
        known = _ALG_OF_CLASS[type(public_key)] = _classify(public_key)
    alg, curve = known
    if curve is not None and not isinstance(public_key.curve, curve):  # type: ignore[union-attr]
        raise UnsupportedAlgorithm("only P-256 (ES256), Ed25519 (EdDSA) and SM2 keys are supported")
    return alg


def algorithms_text() -> str:
    """The allowed algorithms, for error messages."""
    return ", ".join(ALGORITHMS)


# COSE_Key labels (RFC 9052 section 7, RFC 9053 section 7)
_KTY, _CRV, _X, _Y = 1, -1, -2, -3
_KTY_OKP, _KTY_EC2 = 1, 2
_CRV_P256, _CRV_ED25519 = 1, 6
_CRV_SM2 = -65537  # private use (COSE Elliptic Curves registry: values below -65536)

# The two short-Weierstrass curves, by algorithm: JWK "crv", COSE_Key crv, point loader.
_EC_JWK_CRV = {ALG_ES256: "P-256", ALG_SM2: "SM2"}
_EC_COSE_CRV = {ALG_ES256: _CRV_P256, ALG_SM2: _CRV_SM2}
_P256 = ec.SECP256R1()


def _p256_from_point(point: bytes) -> ec.EllipticCurvePublicKey:
    return ec.EllipticCurvePublicKey.from_encoded_point(_P256, point)


_EC_FROM_POINT = {ALG_ES256: _p256_from_point, ALG_SM2: sm2_public_key_from_point}
_EC_ALG_OF_JWK_CRV = {crv: alg for alg, crv in _EC_JWK_CRV.items()}
_EC_ALG_OF_COSE_CRV = {crv: alg for alg, crv in _EC_COSE_CRV.items()}


def _ec_xy(public_key: PublicKey) -> tuple[bytes, bytes]:
    numbers = public_key.public_numbers()  # type: ignore[union-attr]  # EC keys only
    return numbers.x.to_bytes(32, "big"), numbers.y.to_bytes(32, "big")


def public_key_to_jwk(public_key: PublicKey) -> dict[str, str]:
    """Public JWK (only the required members, in RFC 7638 order)."""
    alg = alg_of(public_key)
    if alg == ALG_EDDSA:
        raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return {"crv": "Ed25519", "kty": "OKP", "x": b64url(raw)}
    x, y = _ec_xy(public_key)
    return {"crv": _EC_JWK_CRV[alg], "kty": "EC", "x": b64url(x), "y": b64url(y)}


def jwk_to_public_key(jwk: Any) -> PublicKey:
    """Load a public JWK. Raises ``UnsupportedAlgorithm`` or ``MalformedPayload``."""
    if not isinstance(jwk, dict):
        raise MalformedPayload("JWK must be an object")
    try:
        if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
            return Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))
        crv = jwk.get("crv")
        ec_alg = _EC_ALG_OF_JWK_CRV.get(crv) if isinstance(crv, str) else None
        if jwk.get("kty") == "EC" and ec_alg is not None:
            x, y = b64url_decode(jwk["x"]), b64url_decode(jwk["y"])
            if len(x) != 32 or len(y) != 32:
                raise MalformedPayload("bad EC coordinates")
            return _EC_FROM_POINT[ec_alg](b"\x04" + x + y)
    except (KeyError, ValueError, TypeError) as exc:
        raise MalformedPayload("bad JWK") from exc
    raise UnsupportedAlgorithm("JWK key type not supported")


def jwk_thumbprint(public_key: PublicKey) -> bytes:
    """RFC 7638 SHA-256 thumbprint."""
    canonical = json.dumps(public_key_to_jwk(public_key), separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(canonical.encode("ascii")).digest()


def kid_for(public_key: PublicKey) -> bytes:
    """The key id: the first 8 bytes of the RFC 7638 thumbprint."""
    return jwk_thumbprint(public_key)[:KID_LENGTH]


def kid_text(kid: bytes) -> str:
    """A kid as it appears in JSON documents (base64url, 11 characters)."""
    return b64url(kid)


def public_key_to_cose_key(public_key: PublicKey) -> dict[int, Any]:
    """COSE_Key; EC2 keys use point compression (y as its sign bit) to save 31 bytes."""
    alg = alg_of(public_key)
    if alg == ALG_EDDSA:
        raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return {_KTY: _KTY_OKP, _CRV: _CRV_ED25519, _X: raw}
    x, y = _ec_xy(public_key)
    return {_KTY: _KTY_EC2, _CRV: _EC_COSE_CRV[alg], _X: x, _Y: bool(y[-1] & 1)}


def cose_key_to_public_key(cose_key: Any) -> PublicKey:
    """Load a COSE_Key. Raises ``MalformedPayload`` or ``UnsupportedAlgorithm``."""
    if not isinstance(cose_key, dict):
        raise MalformedPayload("COSE_Key must be a map")
    kty, crv, x = cose_key.get(_KTY), cose_key.get(_CRV), cose_key.get(_X)
    if not isinstance(x, bytes) or len(x) != 32:
        raise MalformedPayload("COSE_Key x must be 32 bytes")
    try:
        if kty == _KTY_OKP and crv == _CRV_ED25519:
            return Ed25519PublicKey.from_public_bytes(x)
        ec_alg = _EC_ALG_OF_COSE_CRV.get(crv) if type(crv) is int else None
        if kty == _KTY_EC2 and ec_alg is not None:
            y = cose_key.get(_Y)
            if isinstance(y, bool):
                point = (b"\x03" if y else b"\x02") + x
            elif isinstance(y, bytes) and len(y) == 32:
                point = b"\x04" + x + y
            else:
                raise MalformedPayload("COSE_Key y must be 32 bytes or a sign bit")
            return _EC_FROM_POINT[ec_alg](point)
    except ValueError as exc:
        raise MalformedPayload("COSE_Key is not a point on the curve") from exc
    raise UnsupportedAlgorithm("COSE_Key type not supported")
