"""``frozen_builder``: the instances it builds are the ones the class's own ``__init__`` makes."""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass, field

import pytest

from credential import CredentialClaims, LicenceClaims, StatusReference, frozen_builder


@dataclass(frozen=True, slots=True)
class _Shown:
    name: str
    number: int
    categories: tuple[str, ...] = ()
    fields: dict[str, str] = field(default_factory=dict)


def test_built_instance_is_the_class_instance() -> None:
    build = frozen_builder(_Shown)
    built, made = build("Wang", 7, ("C1",), {"a": "b"}), _Shown("Wang", 7, ("C1",), {"a": "b"})
    assert type(built) is _Shown
    assert built == made
    assert hash(frozen_builder(StatusReference)("12", 3)) == hash(StatusReference("12", 3))
    assert repr(built) == repr(made)
    assert dataclasses.astuple(built) == dataclasses.astuple(made)
    assert dataclasses.replace(built, number=8) == _Shown("Wang", 8, ("C1",), {"a": "b"})
    assert pickle.loads(pickle.dumps(built)) == made
    for instance in (built, made):
        with pytest.raises(dataclasses.FrozenInstanceError):
            instance.number = 8  # type: ignore[misc]
        # CPython 3.11's frozen slots __setattr__ fails with TypeError for other names: the same
        with pytest.raises((AttributeError, TypeError)):
            instance.other = 1  # type: ignore[attr-defined]


def test_every_field_is_required_in_order() -> None:
    build = frozen_builder(StatusReference)
    assert build("12", 3) == StatusReference("12", 3)
    with pytest.raises(TypeError):
        build("12")
    licence = frozen_builder(LicenceClaims)("DL", "1", "Wang", "***", (), {}, None, False)
    assert licence == LicenceClaims("DL", "1", "Wang", "***")
    assert frozen_builder(CredentialClaims).__name__ == "build_CredentialClaims"


@dataclass(frozen=True, slots=True)
class _Checked:
    value: int

    def __post_init__(self) -> None:
        if self.value < 0:
            raise ValueError("negative")


@dataclass(frozen=True)
class _NoSlots:
    value: int


@dataclass(slots=True)
class _Mutable:
    value: int


@dataclass(frozen=True, slots=True)
class _Derived:
    value: int
    derived: int = field(init=False, default=0)


@pytest.mark.parametrize("cls", [_Checked, _NoSlots, _Mutable, _Derived, int])
def test_refuses_classes_whose_init_does_more_than_store(cls: type) -> None:
    with pytest.raises(TypeError):
        frozen_builder(cls)
