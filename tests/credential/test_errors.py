"""The error hierarchy: one machine code per class, details that default to the docstring."""

from __future__ import annotations

import inspect

from credential import errors

CLASSES = [
    cls
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, errors.ElicenceError)
]


def test_one_base_serves_wire_format_and_service_errors() -> None:
    from registry.errors import NotFound, ServiceError

    assert issubclass(errors.CredentialError, errors.ElicenceError)
    assert issubclass(ServiceError, errors.ElicenceError)
    missing = NotFound("no such licence")
    assert (missing.code, missing.detail, missing.status_code) == (
        "not_found",
        "no such licence",
        404,
    )


def test_every_class_is_exported() -> None:
    assert {cls.__name__ for cls in CLASSES} == set(errors.__all__)
    assert len(CLASSES) >= 30


def test_every_class_has_its_own_code() -> None:
    codes = [cls.code for cls in CLASSES]
    assert len(set(codes)) == len(codes), sorted(codes)
    for cls in CLASSES:
        assert "code" in vars(cls), f"{cls.__name__} inherits its code"
        assert cls.code.replace("_", "").isalnum() and cls.code == cls.code.lower()


def test_detail_defaults_to_the_docstring() -> None:
    error = errors.Revoked()
    assert error.detail == "The credential has been revoked."
    assert str(error) == error.detail
    assert errors.Expired("expired on 2026-01-01").detail == "expired on 2026-01-01"


def test_groups() -> None:
    assert issubclass(errors.BadBase45, errors.MalformedPayload)
    assert issubclass(errors.UnsupportedAlgorithm, errors.MalformedPayload)
    assert issubclass(errors.BadSignature, errors.TrustError)
    assert issubclass(errors.UnknownKey, errors.TrustError)
    assert issubclass(errors.Expired, errors.ValidityError)
    assert issubclass(errors.Suspended, errors.StatusError)
    assert issubclass(errors.StalePresentation, errors.PresentationError)
    assert not issubclass(errors.CredentialError, ValueError)


def test_invalid_id_number_carries_a_reason() -> None:
    error = errors.InvalidIdNumber("check_digit", "ID number check digit is wrong")
    assert (error.reason, error.code, error.detail) == (
        "check_digit",
        "invalid_id_number",
        "ID number check digit is wrong",
    )
