"""Quick construction of frozen, slotted dataclasses on the verification path."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def slot_constructor(cls: type[T]) -> Callable[..., T]:
    """A positional constructor giving the same object as ``cls(*values)`` for a frozen dataclass
    with slots and no ``__post_init__``.

    The generated ``__init__`` of a frozen dataclass sets every field with a looked-up
    ``object.__setattr__``; this one calls each slot's descriptor directly, about twice as fast,
    which counts for the few objects made for every scanned QR code. The objects stay frozen.
    """
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if not getattr(cls, "__slots__", None) or hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} is not a slotted dataclass without __post_init__")
    if any(not f.init for f in fields):
        raise TypeError(f"{cls.__name__} has fields its constructor does not take")
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    for n, f in enumerate(fields):
        namespace[f"_set{n}"] = getattr(cls, f.name).__set__
    arguments = ", ".join(f"v{n}" for n in range(len(fields)))
    sets = "".join(f"    _set{n}(obj, v{n})\n" for n in range(len(fields)))
    source = f"def make({arguments}):\n    obj = _new(_cls)\n{sets}    return obj\n"
    # the technique dataclasses itself uses for __init__; the source holds only indices
    exec(source, namespace)  # noqa: S102
    make: Callable[..., T] = namespace["make"]
    make.__qualname__ = make.__name__ = f"make_{cls.__name__}"
    return make
