"""COSE_Sign1 (RFC 9052 section 4.2): one signer, alg and kid in the protected header."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2
from mypy_extensions import mypyc_attr

from . import _cbor
from ._frozen import frozen_builder
from ._keyformat import COSE_ALG, COSE_ALG_NAME, PublicKey, Signer, algorithms_text
from ._signature import verify_raw
from .errors import BadCbor, BadSignature, MalformedCredential, UnsupportedAlgorithm

COSE_SIGN1_TAG = 18
HEADER_ALG = 1
HEADER_KID = 4
_ARRAY_TYPES = (list, tuple)  # not ``list | tuple``: that builds a union object on every call
# What cbor2 makes of a map: a dict, or inside a tag (a credential's COSE_Sign1) a frozendict,
# which ``isinstance(..., Mapping)`` accepts only through the ABC's registry: 0.25 us against
# 0.02 us for this exact-type test (timeit), once per scanned credential.
_MAP_TYPES = (dict, cbor2.frozendict)


@mypyc_attr(native_class=False)  # compiled module, Python class: _frozen.py
@dataclass(frozen=True, slots=True)
class Sign1:
    """A parsed, not yet verified COSE_Sign1."""

    protected_bytes: bytes
    alg: str
    kid: bytes | None
    payload: bytes
    signature: bytes

    def to_be_signed(self, external_aad: bytes = b"") -> bytes:
        return _sig_structure(self.protected_bytes, external_aad, self.payload)

    def verify(self, public_key: PublicKey, external_aad: bytes = b"") -> None:
        """Raises ``BadSignature`` unless the signature verifies with ``public_key``."""
        if not verify_raw(public_key, self.alg, self.signature, self.to_be_signed(external_aad)):
            raise BadSignature()


_new_sign1 = frozen_builder(Sign1)  # one per credential and per holder proof: _frozen.py
_SIG_STRUCTURE_HEAD = b"\x84\x6aSignature1"  # array(4), text(10) "Signature1"


def _bstr_head(length: int) -> bytes:
    """The CBOR head of a byte string of ``length`` bytes (major type 2, shortest form)."""
    if length < 24:
        return bytes((0x40 + length,))
    if length < 0x100:
        return bytes((0x58, length))
    if length < 0x10000:
        return b"\x59" + length.to_bytes(2, "big")
    if length < 0x100000000:
        return b"\x5a" + length.to_bytes(4, "big")
    return b"\x5b" + length.to_bytes(8, "big")


# The heads of strings under 256 bytes (every protected header and AAD, a holder proof's
# payload, the claim set of a credential with a few fields), looked up instead of built:
# Sig_structure 0.20 against 0.42 us a call (timeit), two calls per presentation.
_SHORT_BSTR_HEADS = {length: _bstr_head(length) for length in range(0x100)}


def _sig_structure(protected: bytes, external_aad: bytes, payload: bytes) -> bytes:
    """Deterministic CBOR of ``["Signature1", protected, external_aad, payload]``, built directly
    (the same bytes as ``_cbor.dumps`` of that list, without going through the encoder)."""
    head = _SHORT_BSTR_HEADS.get
    return b"".join(
        (
            _SIG_STRUCTURE_HEAD,
            head(len(protected)) or _bstr_head(len(protected)),
            protected,
            head(len(external_aad)) or _bstr_head(len(external_aad)),
            external_aad,
            head(len(payload)) or _bstr_head(len(payload)),
            payload,
        )
    )


def sign1(
    payload: bytes,
    signer: Signer,
    *,
    include_kid: bool = True,
    external_aad: bytes = b"",
    tagged: bool = True,
) -> bytes:
    """Sign ``payload`` as a COSE_Sign1 and return its CBOR encoding."""
    if signer.alg not in COSE_ALG:
        raise UnsupportedAlgorithm(f"algorithm {signer.alg!r} is not allowed")
    protected = _encoded_protected_header(COSE_ALG[signer.alg], signer.kid if include_kid else None)
    signature = signer.sign(_sig_structure(protected, external_aad, payload))
    body = [protected, {}, payload, signature]
    # no map with keys in it: the encoder's order is the deterministic one
    return _cbor.dumps_in_key_order(cbor2.CBORTag(COSE_SIGN1_TAG, body) if tagged else body)


@functools.lru_cache(maxsize=256)
def _encoded_protected_header(alg: int, kid: bytes | None) -> bytes:
    """The encoded protected header, the same for every signature of one key."""
    header: dict[int, Any] = {HEADER_ALG: alg}
    if kid is not None:
        header[HEADER_KID] = kid
    return _cbor.dumps(header)


def parse_sign1(data: bytes, *, require_tag: bool = True) -> Sign1:
    """Parse a COSE_Sign1.

    Raises ``MalformedCredential``, ``BadCbor`` or ``UnsupportedAlgorithm``.
    """
    item = _cbor.loads(data, "COSE_Sign1")
    if isinstance(item, cbor2.CBORTag):
        if item.tag != COSE_SIGN1_TAG:
            raise MalformedCredential(f"unexpected CBOR tag {item.tag}")
        item = item.value
    elif require_tag:
        raise MalformedCredential("COSE_Sign1 tag 18 missing")
    if not isinstance(item, _ARRAY_TYPES) or len(item) != 4:
        raise MalformedCredential("COSE_Sign1 must be an array of four items")
    protected_bytes, unprotected, payload, signature = item
    if not isinstance(protected_bytes, bytes) or not (
        type(unprotected) in _MAP_TYPES or isinstance(unprotected, Mapping)
    ):
        raise MalformedCredential("COSE_Sign1 headers have the wrong types")
    if not isinstance(payload, bytes) or not isinstance(signature, bytes):
        raise MalformedCredential("COSE_Sign1 payload and signature must be byte strings")
    alg, kid = _protected_header(protected_bytes)
    if HEADER_ALG in unprotected:
        raise UnsupportedAlgorithm("alg must be in the protected header")
    return _new_sign1(protected_bytes, alg, kid, payload, signature)


# Parsed protected headers by their bytes: a pure function of a few distinct, short byte strings
# (one per issuer key, one for all holder proofs), so parse each once. Bounded; only successes.
_PROTECTED_CACHE: dict[bytes, tuple[str, bytes | None]] = {}
_PROTECTED_CACHE_SIZE = 1024


def _protected_header(protected_bytes: bytes) -> tuple[str, bytes | None]:
    """``(alg, kid)`` from a protected header. Raises ``MalformedCredential`` or
    ``UnsupportedAlgorithm``."""
    cached = _PROTECTED_CACHE.get(protected_bytes)
    if cached is not None:
        return cached
    try:
        protected = _cbor.loads(protected_bytes, "protected header") if protected_bytes else {}
    except BadCbor as exc:
        raise MalformedCredential("protected header is not CBOR") from exc
    if not isinstance(protected, Mapping):
        raise MalformedCredential("protected header must be a map")
    alg_value = protected.get(HEADER_ALG)
    alg = COSE_ALG_NAME.get(alg_value) if type(alg_value) is int else None
    if alg is None:
        raise UnsupportedAlgorithm(f"alg missing or not allowed ({algorithms_text()} only)")
    kid = protected.get(HEADER_KID)  # only the protected kid counts: it is signed
    if kid is not None and not isinstance(kid, bytes):
        raise MalformedCredential("kid must be a byte string")
    if len(_PROTECTED_CACHE) >= _PROTECTED_CACHE_SIZE:
        _PROTECTED_CACHE.clear()
    _PROTECTED_CACHE[protected_bytes] = (alg, kid)
    return alg, kid
