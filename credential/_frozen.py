"""Positional builders for the frozen slots dataclasses a verification makes per presentation.

A ``@dataclass(frozen=True, slots=True)`` refuses attribute stores, so its generated
``__init__`` sets every field through ``object.__setattr__``: a call through a slot wrapper with
an argument tuple per field, where a plain store to a slot is a specialised bytecode. A QR
presentation builds about 60 fields (payload, two COSE envelopes, claims, proof, licence shown,
result), an SD-JWT VC one about as many. Built through ``frozen_builder`` instead, a QR
presentation of ``benchmarks/verify.py`` runs 2,391.6K instead of 2,453.9K instructions and an
SD-JWT VC one 2,396.3K instead of 2,455.1K (callgrind, per presentation; the floor with the holder
key loaded is 2,060.5K, so that is a sixth of what lies above it). Timed alone (best of 5 x
100,000, CPython 3.11): 0.72 us against 2.57 us for a 13-field class, 0.37 against 0.74 us for a
3-field one.

``frozen_builder(cls)`` fills a draft, a plain slots class with the very same slots, with plain
stores, then makes the draft an instance of ``cls`` (``__class__`` assignment, which CPython
allows between classes of the same layout and checks). The result is the object ``cls(...)``
makes: its type, equality, hash, repr, ``dataclasses.replace`` and ``fields`` are ``cls``'s, and
it is frozen from then on. Only for classes whose ``__init__`` just stores its arguments: no
``__post_init__``, every field an ``__init__`` argument, all of them given, in field order.

In a module compiled with mypyc (pyproject.toml ``[tool.elicence] compiled``) a class would be a
native C class, with no slots to share with a draft, and its instances would no longer be plain
dataclass instances to ``replace``, pickle or compare; so each such dataclass is marked
``@mypyc_attr(native_class=False)`` and stays the Python class it is in the source.
``frozen_builder`` refuses a native class (it has no ``__slots__``), at import.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar, cast

T = TypeVar("T")


def frozen_builder(cls: type[T]) -> Callable[..., T]:
    """A constructor taking every field of the frozen slots dataclass ``cls`` positionally, in
    field order, and returning the instance ``cls(*values)`` would.

    Raises ``TypeError`` for a class it cannot build that way (not a frozen slots dataclass, a
    ``__post_init__``, a field that is not an ``__init__`` argument)."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__} is not a frozen slots dataclass")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} has a __post_init__: build it with its __init__")
    fields = dataclasses.fields(cast(Any, cls))
    if not all(field.init for field in fields):
        raise TypeError(f"{cls.__name__} has fields its __init__ does not take")
    draft = dataclasses.make_dataclass(
        f"_{cls.__name__}Draft",
        [field.name for field in fields],
        slots=True,
        eq=False,
        repr=False,
        match_args=False,
    )
    if draft.__slots__ != cls.__slots__:  # type: ignore[attr-defined]
        raise TypeError(f"{cls.__name__}'s slots are not its fields")

    def build(*values: Any) -> T:
        instance: Any = draft(*values)  # Any, not typing.cast: a call more per instance
        instance.__class__ = cls  # the same layout: CPython checks it
        return instance

    build.__name__ = build.__qualname__ = f"build_{cls.__name__}"
    return build
