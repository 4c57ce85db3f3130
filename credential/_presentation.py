"""Holder presentations: the credential plus a fresh proof signed with the holder key (``cnf``).

The proof is an untagged COSE_Sign1 whose payload is ``[time]`` or ``[time, challenge]`` and whose
external AAD is SHA-256 of the credential bytes, so the proof binds to exactly one credential
without repeating it.
"""

from __future__ import annotations

from dataclasses import dataclass

from mypy_extensions import mypyc_attr

from . import _cbor
from ._cose import Sign1, parse_sign1, sign1
from ._frozen import frozen_builder
from ._keyformat import PublicKey, Signer
from ._signature import sha256
from .errors import BadSignature, HolderSignatureInvalid, MalformedCredential

_MAX_CHALLENGE = 64


@mypyc_attr(native_class=False)  # compiled module, Python class: _frozen.py
@dataclass(frozen=True, slots=True)
class HolderProof:
    """A parsed holder proof whose signature has not been checked yet."""

    envelope: Sign1
    presented_at: int
    challenge: str | None

    def verify(self, holder_key: PublicKey, credential: bytes) -> None:
        """Raises ``HolderSignatureInvalid`` unless the holder key signed this proof for
        this credential."""
        try:
            self.envelope.verify(holder_key, external_aad=credential_digest(credential))
        except BadSignature as exc:
            raise HolderSignatureInvalid() from exc


_new_proof = frozen_builder(HolderProof)  # one per presentation: _frozen.py


def credential_digest(credential: bytes) -> bytes:
    return sha256(credential)


def sign_holder_proof(
    credential: bytes, holder: Signer, *, presented_at: int, challenge: str | None = None
) -> bytes:
    """Sign a holder proof over ``credential`` at ``presented_at`` (epoch seconds)."""
    if challenge is not None and not 0 < len(challenge) <= _MAX_CHALLENGE:
        raise ValueError("challenge must be 1 to 64 characters")
    body: list[int | str] = [presented_at] if challenge is None else [presented_at, challenge]
    return sign1(
        _cbor.dumps(body),
        holder,
        include_kid=False,
        external_aad=credential_digest(credential),
        tagged=False,
    )


def read_holder_proof(data: bytes) -> HolderProof:
    """Parse a holder proof.

    Raises ``BadCbor``, ``MalformedCredential`` or ``UnsupportedAlgorithm``.
    """
    envelope = parse_sign1(data, require_tag=False)
    body = _cbor.loads(envelope.payload, "holder proof")
    if not isinstance(body, list) or len(body) not in (1, 2):
        raise MalformedCredential("holder proof must carry [time] or [time, challenge]")
    presented_at = body[0]
    if type(presented_at) is not int or presented_at < 0:
        raise MalformedCredential("holder proof time must be integer seconds")
    challenge = body[1] if len(body) == 2 else None
    if challenge is not None and (
        not isinstance(challenge, str) or not 0 < len(challenge) <= _MAX_CHALLENGE
    ):
        raise MalformedCredential("holder proof challenge must be 1 to 64 characters")
    return _new_proof(envelope, presented_at, challenge)
