"""The OpenAPI document itself: error answers as ``ErrorBody``, a description on every property,
an example for every request body, and ``POST /verify``'s result as ``to_json()`` makes it.

What the service really answers is checked against this document by ``test_openapi_fuzz``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from elicence.app import create_app
from registry.settings import Settings
from verifier import Check, LicenceShown, VerificationResult

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    built: dict[str, Any] = create_app(Settings(environment="development")).openapi()
    return built


def operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield f"{method.upper()} {path}", item[method]


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = document["components"]["schemas"][name]
    return schema


def object_schemas(schema: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema with ``properties`` in ``schema``, nested ones too, with where it is."""
    if isinstance(schema, dict):
        if "properties" in schema:
            yield where, schema
        for key, value in schema.items():
            yield from object_schemas(value, f"{where}.{key}")
    elif isinstance(schema, list):
        for n, value in enumerate(schema):
            yield from object_schemas(value, f"{where}[{n}]")


def test_every_error_answer_is_an_error_body(document: dict[str, Any]) -> None:
    components = document["components"]["schemas"]
    assert "HTTPValidationError" not in components  # FastAPI's 422, which the app never sends
    assert set(components["ErrorBody"]["required"]) == {"error", "detail"}
    errors = 0
    for name, operation in operations(document):
        for status, answer in operation["responses"].items():
            if int(status) < 400:
                continue
            errors += 1
            schema = answer["content"]["application/json"]["schema"]
            # the OpenID4VCI endpoints answer third-party wallets in the OAuth shape
            expected = "OAuthErrorBody" if " /openid4vci/" in name else "ErrorBody"
            assert resolve(document, schema).get("title") == expected, (name, status)
            assert answer["description"], (name, status)
    assert errors > 60


@pytest.mark.parametrize(
    ("operation", "codes"),
    [
        ("POST /issuer/licences", {400, 401, 404, 409, 413, 422}),
        ("GET /issuer/licences/{licence_id}", {401, 404, 422}),
        ("POST /issuer/licences/search", {400, 401, 413, 422}),
        ("POST /issuer/licences/{licence_id}/revoke", {400, 401, 404, 409, 413, 422}),
        ("POST /issuer/admin/departments", {400, 401, 409, 413, 422}),
        ("GET /wallet/licences/{licence_id}/qr.png", {401, 404, 409, 422, 503}),
        ("GET /status-lists/{list_id}", {400, 404, 422}),
        ("POST /verify", {400, 401, 403, 413, 415, 422, 429}),
        ("POST /sharing/requests", {400, 401, 403, 413, 422, 429}),
        ("GET /sharing/consents/{consent_id}/data", {401, 403, 404, 422, 429, 503}),
    ],
)
def test_routes_document_the_errors_they_give(
    document: dict[str, Any], operation: str, codes: set[int]
) -> None:
    found = dict(operations(document))[operation]
    assert {int(s) for s in found["responses"] if int(s) >= 400} == codes


def test_every_operation_that_takes_a_body_documents_the_400_of_one_it_cannot_parse(
    document: dict[str, Any],
) -> None:
    """A body that is not UTF-8 is a 400 ("There was an error parsing the body") on every route
    that takes one, before the route runs (the fuzz test found it undocumented on a key rotation;
    which routes it reaches depends on Hypothesis's draw, so this says it for all of them)."""
    taking = [name for name, operation in operations(document) if "requestBody" in operation]
    without = [
        name
        for name, operation in operations(document)
        if "requestBody" in operation and "400" not in operation["responses"]
    ]
    assert len(taking) >= 15
    assert without == []


def test_every_schema_property_has_a_description(document: dict[str, Any]) -> None:
    where_schemas = [("components", document["components"]["schemas"])]
    for name, operation in operations(document):
        where_schemas.append((f"{name} body", operation.get("requestBody", {})))
        where_schemas.append((f"{name} answers", operation["responses"]))
    missing = [
        f"{where}.{prop}"
        for place, schemas in where_schemas
        for where, schema in object_schemas(schemas, place)
        for prop, spec in schema["properties"].items()
        if not spec.get("description")
    ]
    assert missing == []


def test_every_request_body_has_an_example(document: dict[str, Any]) -> None:
    bodies = 0
    for name, operation in operations(document):
        for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
            bodies += 1
            schema = resolve(document, content["schema"])
            assert content.get("example") or content.get("examples") or schema.get("examples"), (
                name,
                media_type,
            )
    assert bodies >= 10


def test_verify_documents_the_result_it_answers(document: dict[str, Any]) -> None:
    answer = dict(operations(document))["POST /verify"]["responses"]["200"]
    schema = answer["content"]["application/json"]["schema"]
    licence = LicenceShown(
        holder_name="张三",
        masked_id="110105********002X",
        type_code="DRIVING",
        type_name=None,
        number="TRANSPORT-DRIVING-1",
        categories=("B1",),
        fields={"points": 0},
        issued_at=1,
        not_before=1,
        expires_at=2,
        department_code="TRANSPORT",
        department_name=None,
    )
    result = VerificationResult(
        valid=False,
        outcome="revoked",
        detail="revoked",
        checks=(Check("decode", True, "ok"), Check("status", False, "revoked")),
        kind="static",
        licence=licence,
        credential_id="AAAA",
        status_age=3,
        checked_at=5,
    ).to_json()
    assert set(schema["properties"]) == set(schema["required"]) == set(result)
    check_schema = schema["properties"]["checks"]["items"]
    assert set(check_schema["properties"]) == set(result["checks"][0])
    licence_schema = schema["properties"]["licence"]
    assert set(licence_schema["properties"]) == set(licence_schema["required"])
    assert set(licence_schema["properties"]) == set(result["licence"])
    assert schema["additionalProperties"] is False  # a new key must be documented to pass
