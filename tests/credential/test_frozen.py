"""slot_constructor: the quick constructor makes the same frozen objects as the dataclass's own."""

from __future__ import annotations

import dataclasses

import pytest

from credential import (
    CredentialClaims,
    DecodedPayload,
    HolderProof,
    LicenceClaims,
    Sign1,
    StatusReference,
    TrustList,
    UnverifiedCredential,
    slot_constructor,
)


@pytest.mark.parametrize(
    "cls",
    [
        Sign1,
        CredentialClaims,
        LicenceClaims,
        StatusReference,
        UnverifiedCredential,
        HolderProof,
        DecodedPayload,
    ],
)
def test_same_object_as_the_dataclass_constructor(cls: type) -> None:
    names = [f.name for f in dataclasses.fields(cls)]
    values = [f"value-{n}" for n in range(len(names))]
    made = slot_constructor(cls)(*values)
    assert type(made) is cls
    assert made == cls(*values) and hash(made) == hash(cls(*values))
    assert [getattr(made, name) for name in names] == values
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(made, names[0], "changed")
    with pytest.raises(TypeError):
        slot_constructor(cls)(*values[:-1])  # every field is required


def test_refuses_classes_it_would_build_wrongly() -> None:
    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    with pytest.raises(TypeError):
        slot_constructor(NoSlots)
    with pytest.raises(TypeError):
        slot_constructor(TrustList)  # indices made in __post_init__
