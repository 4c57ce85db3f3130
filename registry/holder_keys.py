"""Holder keys: one ES256 key pair per citizen, created on first issuance.

The private scalar is stored AES-256-GCM encrypted under a subkey derived (HKDF) from the
private-key encryption key (``app.state.key_secret``), with the
citizen's blind index as associated data (a ciphertext moved to another citizen's row does not
decrypt). AES-GCM rather than passphrase PKCS#8: a key is made on every first issuance and read
on every wallet presentation, and a password KDF costs tens of milliseconds each time.

``HolderKey.public_cose_key`` holds the CBOR-encoded COSE_Key. The wallet service signs
presentations with
``load_holder_signer(session=..., box=HolderKeyBox(app.state.key_secret), id_index=...)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from credential import PublicKey, cose_key_to_public_key, public_key_to_cose_key
from keys import KeyStoreError, LocalSigner, SealedBox
from registry.db import (
    bind_values,
    insert_all_unless_taken,
    insert_bound_unless_taken,
    insert_unless_taken,
    one_of,
    padded,
    table_order,
)
from registry.models import HolderKey, utcnow

PURPOSE_HOLDER_KEY = "elicence/holder-key-encryption/v1"


class HolderKeyBox:
    """Seals and opens holder private keys; ``key_secret`` is the private-key encryption key
    (``derive_subkey(master, PURPOSE_KEY_ENCRYPTION)``)."""

    __slots__ = ("_box",)

    def __init__(self, key_secret: bytes) -> None:
        subkey = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=PURPOSE_HOLDER_KEY.encode()
        ).derive(key_secret)
        self._box = SealedBox(subkey)

    def __repr__(self) -> str:
        return "HolderKeyBox()"

    def seal(self, private_key: ec.EllipticCurvePrivateKey, *, id_index: bytes) -> bytes:
        """Encrypt a P-256 private key for the citizen with blind index ``id_index``."""
        scalar = private_key.private_numbers().private_value.to_bytes(32, "big")
        return self._box.seal(scalar, aad=id_index)

    def open(self, blob: bytes, *, id_index: bytes) -> ec.EllipticCurvePrivateKey:
        """Decrypt a holder key. Raises ``KeyStoreError`` on a wrong key, row or damage."""
        scalar = self._box.open(blob, aad=id_index, what="holder key", length=32)
        return ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP256R1())

    def signer(self, blob: bytes, *, id_index: bytes) -> LocalSigner:
        """A ``LocalSigner`` over the decrypted holder key."""
        return LocalSigner(self.open(blob, id_index=id_index))


def new_holder_key() -> ec.EllipticCurvePrivateKey:
    """A fresh ES256 holder key pair."""
    return ec.generate_private_key(ec.SECP256R1())


@dataclass(frozen=True, slots=True)
class PreparedHolderKey:
    """A fresh key pair for one citizen, sealed and encoded but not yet stored: made before a
    write transaction, it keeps the key generation out of it."""

    id_index: str
    encrypted_private_key: bytes
    public_cose_key: bytes  # CBOR COSE_Key
    public_key: PublicKey

    def __repr__(self) -> str:
        return "PreparedHolderKey()"


def prepare_holder_key(*, box: HolderKeyBox, id_index: str) -> PreparedHolderKey:
    """A fresh key pair for the citizen with blind index ``id_index``."""
    private_key = new_holder_key()
    public_key = private_key.public_key()
    return PreparedHolderKey(
        id_index=id_index,
        encrypted_private_key=box.seal(private_key, id_index=id_index.encode("ascii")),
        public_cose_key=cbor2.dumps(public_key_to_cose_key(public_key)),
        public_key=public_key,
    )


# Built once (issuance runs these on every request; see registry.audit).
_STORED_PUBLIC_KEY = select(HolderKey.public_cose_key).where(
    HolderKey.id_index == bindparam("id_index")
)


def holder_public_key(
    *,
    session: Session,
    box: HolderKeyBox,
    id_index: str,
    prepared: PreparedHolderKey | None = None,
) -> PublicKey:
    """The citizen's holder public key, storing a new key pair on first issuance (``prepared``
    from ``prepare_holder_key`` if given, else made here).
    ``public_cose_key`` holds the CBOR-encoded COSE_Key (``credential.public_key_to_cose_key``).
    """
    connection = session.connection()
    stored = connection.execute(_STORED_PUBLIC_KEY, {"id_index": id_index}).scalar()
    if stored is not None:
        return cose_key_to_public_key(cbor2.loads(stored))
    key = prepared if prepared is not None else prepare_holder_key(box=box, id_index=id_index)
    if key.id_index != id_index:
        raise ValueError("the prepared holder key belongs to another citizen")
    row = {
        "id_index": id_index,
        "encrypted_private_key": key.encrypted_private_key,
        "public_cose_key": key.public_cose_key,
    }
    if insert_unless_taken(connection, HolderKey, row):
        return key.public_key
    # Another request created this citizen's key at the same moment: use that one.
    stored = connection.execute(_STORED_PUBLIC_KEY, {"id_index": id_index}).scalar()
    if stored is None:
        raise RuntimeError("a holder key conflicted but none is stored")
    return cose_key_to_public_key(cbor2.loads(stored))


_STORED_PUBLIC_KEYS = select(HolderKey.id_index, HolderKey.public_cose_key).where(
    one_of(HolderKey.id_index, "id_indexes")
)


def holder_public_keys(
    *, session: Session, box: HolderKeyBox, prepared: list[PreparedHolderKey]
) -> dict[str, PublicKey]:
    """``holder_public_key`` for many citizens at once (bulk import): blind index -> public
    key, storing the ``prepared`` key pair of each citizen who has none yet (the first one
    when a citizen appears twice). One read and one insert for the lot."""
    connection = session.connection()
    wanted = {key.id_index: key for key in reversed(prepared)}  # the first of a citizen wins

    def stored(id_indexes: list[str]) -> dict[str, PublicKey]:
        result = connection.execute(_STORED_PUBLIC_KEYS, {"id_indexes": id_indexes})
        return {i: cose_key_to_public_key(cbor2.loads(cose)) for i, cose in result}

    keys = stored(sorted(wanted))
    new = [wanted[i] for i in sorted(wanted) if i not in keys]
    created_at = utcnow()
    rows = [
        {
            "id_index": key.id_index,
            "encrypted_private_key": key.encrypted_private_key,
            "public_cose_key": key.public_cose_key,
            "created_at": created_at,
        }
        for key in new
    ]
    landed = insert_all_unless_taken(connection, HolderKey, rows)
    keys.update((key.id_index, key.public_key) for key in new)
    if landed < len(new):  # others made some of these citizens' keys meanwhile: use theirs
        keys.update(stored([key.id_index for key in new]))
    return keys


def stored_holder_cose_keys(*, session: Session, id_indexes: list[str]) -> dict[str, bytes]:
    """Blind index -> stored public COSE_Key (CBOR) of those of ``id_indexes`` who have a
    holder key; the bytes, not keys: a pooled import passes them to its worker processes."""
    if not id_indexes:
        return {}
    result = session.connection().execute(
        _STORED_PUBLIC_KEYS, {"id_indexes": padded(sorted(set(id_indexes)))}
    )
    return {id_index: cose for id_index, cose in result}


_SEALED_KEY_COLUMNS = table_order(
    HolderKey, ("id_index", "encrypted_private_key", "public_cose_key", "created_at")
)


def store_sealed_holder_keys(
    *, session: Session, keys: dict[str, tuple[bytes, bytes]], wanted: list[str]
) -> dict[str, bytes]:
    """``holder_public_keys`` with keys made elsewhere (a pooled import's worker processes):
    ``keys`` maps blind index -> (sealed private key, public COSE_Key) of the fresh pairs;
    those of citizens who have no key yet are stored. Returns blind index -> the public
    COSE_Key each of ``wanted`` (and of ``keys``) has now, stored before or just now."""
    connection = session.connection()
    current = stored_holder_cose_keys(session=session, id_indexes=[*wanted, *keys])
    new = [id_index for id_index in sorted(keys) if id_index not in current]
    (created_at,) = bind_values(
        connection.dialect.name, HolderKey, ("created_at",), {"created_at": utcnow()}
    )
    rows = [(id_index, keys[id_index][0], keys[id_index][1], created_at) for id_index in new]
    landed = insert_bound_unless_taken(connection, HolderKey, _SEALED_KEY_COLUMNS, rows)
    current.update((id_index, keys[id_index][1]) for id_index in new)
    if landed < len(rows):  # others made some of these citizens' keys meanwhile: use theirs
        current.update(stored_holder_cose_keys(session=session, id_indexes=new))
    return current


def load_holder_signer(*, session: Session, box: HolderKeyBox, id_index: str) -> LocalSigner:
    """The citizen's holder signer (for presentations). Raises ``KeyStoreError`` if none."""
    row = session.scalars(select(HolderKey).where(HolderKey.id_index == id_index)).first()
    if row is None:
        raise KeyStoreError("this citizen has no holder key yet")
    return box.signer(row.encrypted_private_key, id_index=id_index.encode("ascii"))
