"""registry.vault: blind index and encryption of citizen ID numbers."""

from __future__ import annotations

import os

import pytest

from keys import KeyStoreError
from registry.vault import CitizenIdVault

ID = "11010519491231002X"


def test_blind_index_is_keyed_and_stable() -> None:
    master = os.urandom(32)
    vault = CitizenIdVault(master)
    index = vault.blind_index(ID)
    assert len(index) == 64 and int(index, 16) >= 0
    assert vault.blind_index(ID.lower()) == index  # check character x/X
    assert CitizenIdVault(master).blind_index(ID) == index
    assert CitizenIdVault(os.urandom(32)).blind_index(ID) != index
    assert vault.blind_index("110105194912310021") != index
    assert ID not in index


def test_encrypt_round_trip_with_random_nonce() -> None:
    vault = CitizenIdVault(os.urandom(32))
    first, second = vault.encrypt(ID), vault.encrypt(ID)
    assert first != second
    assert ID.encode() not in first
    assert vault.decrypt(first) == vault.decrypt(second) == ID


def test_decrypt_refuses_other_key_and_tampering() -> None:
    vault = CitizenIdVault(os.urandom(32))
    blob = vault.encrypt(ID)
    with pytest.raises(KeyStoreError):
        CitizenIdVault(os.urandom(32)).decrypt(blob)
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(KeyStoreError):
        vault.decrypt(tampered)
    with pytest.raises(KeyStoreError):
        vault.decrypt(b"\x01short")


def test_repr_shows_nothing_secret() -> None:
    master = os.urandom(32)
    vault = CitizenIdVault(master)
    assert repr(vault) == "CitizenIdVault()"
    assert master.hex() not in repr(vault)
