"""HTTP API: ``POST /verify`` (JSON or an uploaded image; QR payloads and SD-JWT VC
presentations), its sources from a ``VerifierContext``.

The combined app sets ``app.state.verifier_context`` (online sources and a ``record_check``);
``create_app(bundle_dir)`` serves from a synced bundle and records nothing.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.types import ASGIApp, Receive, Scope, Send

from ._sources import StatusSource, TrustSource
from ._verify import Policy, VerificationResult, verify_payload
from .bundle import Bundle
from .image import MAX_IMAGE_BYTES, ImageUnreadable, read_qr_text

MAX_JSON_BYTES = 64 * 1024
_MAX_NAME = 200


class VerifyingParty(Protocol):
    """An authenticated relying party, as the app's ``party_dependency`` made it (this package
    knows no registry: the combined app authenticates it)."""

    def admit(self, purpose: str | None) -> object:
        """Its registered purpose ``purpose``; raises (a 403) when it has none by that code."""
        ...


class RecordCheck(Protocol):
    """Records an online check for the citizen's "who checked my licence" list: only ever for
    an authenticated party naming one of its purposes."""

    async def __call__(
        self,
        *,
        credential_id: str | None,
        licence_number: str,
        department: str,
        party: Any,
        purpose: Any,
        outcome: str,
        checked_at: int,
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class VerifierContext:
    """Everything ``POST /verify`` needs. ``record_check`` is ``None`` offline; ``prepare``,
    when set, is awaited before each verification (the online sources make their documents
    current there, so verifying itself never waits for I/O). ``credential_issuer`` is the
    registry's public base URL, which SD-JWT VCs must name as ``iss`` (none: no SD-JWT VC is
    trusted)."""

    trust: TrustSource
    status: StatusSource
    now: Callable[[], int] = field(default=lambda: _wall_clock())
    policy: Policy = field(default_factory=Policy)
    record_check: RecordCheck | None = None
    prepare: Callable[[], Awaitable[None]] | None = None
    credential_issuer: str | None = None


def _wall_clock() -> int:
    return int(time.time())


def _error(status: int, code: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status)


@dataclass(frozen=True, slots=True)
class _VerifyInput:
    payload: str | None
    image: bytes | None
    challenge: str | None
    audience: str | None
    verifier_name: str | None
    purpose: str | None


def _opt_text(value: Any, what: str, limit: int) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise ValueError(f"{what} must be text of at most {limit} characters")
    return value


def _verify_input(
    *,
    payload: str | None,
    image: bytes | None,
    challenge: Any,
    audience: Any,
    verifier_name: Any,
    purpose: Any,
) -> _VerifyInput | JSONResponse:
    """The request's input with its optional texts checked (422 naming the bad one)."""
    try:
        return _VerifyInput(
            payload=payload,
            image=image,
            challenge=_opt_text(challenge, "challenge", 64),
            audience=_opt_text(audience, "audience", _MAX_NAME),
            verifier_name=_opt_text(verifier_name, "verifier name", _MAX_NAME),
            purpose=_opt_text(purpose, "verifier purpose", _MAX_NAME),
        )
    except ValueError as exc:
        return _error(422, "invalid_request", str(exc))


def _media_type(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


def _json_input(body: bytes) -> _VerifyInput | JSONResponse:
    """The input of a JSON body, or the refusal to answer (400, 413, 422)."""
    if len(body) > MAX_JSON_BYTES:
        return _error(413, "too_large", f"JSON body larger than {MAX_JSON_BYTES} bytes")
    try:
        data = orjson.loads(body)  # UTF-8 JSON only (RFC 8259); 1.9 -> 0.3 us here
    except ValueError:
        return _error(400, "bad_json", "the body is not valid JSON")
    if not isinstance(data, dict):
        return _error(422, "invalid_request", "the body must be a JSON object")
    payload = data.get("payload")
    if not isinstance(payload, str) or not payload:
        return _error(422, "invalid_request", "payload (text) is required")
    verifier = data.get("verifier")
    verifier = {} if verifier is None else verifier
    if not isinstance(verifier, dict):
        return _error(422, "invalid_request", "verifier must be an object")
    return _verify_input(
        payload=payload,
        image=None,
        challenge=data.get("challenge"),
        audience=data.get("audience"),
        verifier_name=verifier.get("name"),
        purpose=verifier.get("purpose"),
    )


async def _read_input(request: Request) -> _VerifyInput | JSONResponse:
    content_type = _media_type(request.headers.get("content-type", ""))
    if content_type == "application/json":
        return _json_input(await _bounded_body(request.receive, MAX_JSON_BYTES + 1))
    if content_type == "multipart/form-data":
        try:
            form = await request.form(max_files=1, max_fields=10)
        except (MultiPartException, HTTPException):
            return _error(400, "bad_multipart", "the multipart body cannot be parsed")
        upload = form.get("image")
        if not isinstance(upload, UploadFile):
            return _error(422, "invalid_request", "an image file field named 'image' is required")
        image = await upload.read(MAX_IMAGE_BYTES + 1)
        if len(image) > MAX_IMAGE_BYTES:
            return _error(413, "too_large", "image too large")
        return _verify_input(
            payload=None,
            image=image,
            challenge=form.get("challenge"),
            audience=form.get("audience"),
            verifier_name=form.get("verifier_name"),
            purpose=form.get("verifier_purpose"),
        )
    return _error(415, "unsupported_media_type", "send application/json or multipart/form-data")


def _nullable(kind: str, description: str) -> dict[str, Any]:
    return {"type": [kind, "null"], "description": description}


# The ``{"error", "detail"}`` body every refusal has (the combined app names it ``ErrorBody``;
# this package may not import it, so it is spelt out here under the same title).
_ERROR_BODY = {
    "title": "ErrorBody",
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {
            "type": "string",
            "description": "A short machine code",
            "examples": ["bad_json"],
        },
        "detail": {"type": "string", "description": "What is wrong, for people"},
    },
}
_CHECK = {
    "type": "object",
    "required": ["name", "passed", "code"],
    "additionalProperties": False,
    "properties": {
        "name": {
            "type": "string",
            "description": "decode, credential, trusted_key, issuer_signature, disclosures "
            "(SD-JWT VC only), validity, status, holder_proof, presentation_time, challenge or "
            "presentation",
        },
        "passed": {"type": "boolean", "description": "Whether the check passed"},
        "code": {
            "type": "string",
            "description": "ok, static_copy, or the error code of the failed check",
        },
    },
}
_LICENCE_SHOWN = {
    "type": ["object", "null"],
    "description": "The licence as the counter sees it; null unless the issuer signature verified",
    "required": [
        "holder_name",
        "masked_id",
        "type_code",
        "type_name",
        "number",
        "categories",
        "fields",
        "issued_at",
        "not_before",
        "expires_at",
        "department_code",
        "department_name",
        "identifier",
    ],
    "additionalProperties": False,
    "properties": {
        "holder_name": _nullable(
            "string", "The holder's name; null when an SD-JWT VC presentation did not disclose it"
        ),
        "masked_id": _nullable(
            "string",
            "The ID number with its middle masked; null when an SD-JWT VC presentation did not "
            "disclose it",
        ),
        "type_code": {"type": "string", "description": "The licence type's code"},
        "type_name": _nullable("string", "The licence type's name from the trust list"),
        "number": {"type": "string", "description": "The licence number"},
        "categories": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Categories held",
        },
        "fields": {
            "type": "object",
            "additionalProperties": {"type": ["string", "integer"]},
            "description": "Values of the type's fields",
        },
        "issued_at": {"type": "integer", "description": "When it was signed (Unix seconds)"},
        "not_before": {"type": "integer", "description": "Start of validity (Unix seconds)"},
        "expires_at": {"type": "integer", "description": "End of validity (Unix seconds)"},
        "department_code": {"type": "string", "description": "The issuing department's code"},
        "department_name": _nullable("string", "The department's name from the trust list"),
        "identifier": _nullable(
            "string",
            "Its GB/T 36904 licence identifier, rebuilt from the credential and the trust list; "
            "null for a licence without one",
        ),
    },
}
# ``VerificationResult.to_json()``: tests compare the two, so neither drifts alone.
VERIFICATION_RESULT_SCHEMA = {
    "title": "VerificationResult",
    "type": "object",
    "required": [
        "valid",
        "outcome",
        "detail",
        "checks",
        "kind",
        "licence",
        "credential_id",
        "status_age",
        "presented_at",
        "checked_at",
    ],
    "additionalProperties": False,
    "properties": {
        "valid": {"type": "boolean", "description": "True only if every check passed"},
        "outcome": {
            "type": "string",
            "description": "valid, or the error code of the first failing check (revoked, "
            "expired, bad_signature, stale_presentation, ...)",
            "examples": ["valid", "revoked"],
        },
        "detail": {"type": "string", "description": "The outcome in words"},
        "checks": {
            "type": "array",
            "items": _CHECK,
            "description": "The checks made, in order, up to the first that failed",
        },
        "kind": {
            "type": ["string", "null"],
            "enum": ["static", "presentation", None],
            "description": "static (a printed copy) or presentation (shown by its holder now); "
            "null if the payload could not be decoded",
        },
        "licence": _LICENCE_SHOWN,
        "credential_id": _nullable(
            "string", "The credential's id (base64url); null for an SD-JWT VC, which has none"
        ),
        "status_age": _nullable("integer", "Age of the status information used, in seconds"),
        "presented_at": _nullable("integer", "When the holder signed the presentation"),
        "checked_at": {"type": "integer", "description": "When it was checked (Unix seconds)"},
    },
}


def _error_answer(status_description: str) -> dict[str, Any]:
    return {
        "description": status_description,
        "content": {"application/json": {"schema": _ERROR_BODY}},
    }


_OPENAPI_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["payload"],
                    "properties": {
                        "payload": {
                            "type": "string",
                            "minLength": 1,
                            "description": "The scanned QR text: EL1: (static copy) or EP1: "
                            "(presentation); or an SD-JWT VC presentation "
                            "<issuer-jwt>~<disclosures>~<kb-jwt>",
                        },
                        "challenge": {
                            "type": ["string", "null"],
                            "maxLength": 64,
                            "description": "The challenge this counter showed the holder (for "
                            "an SD-JWT VC: the nonce its KB-JWT must carry)",
                        },
                        "audience": {
                            "type": ["string", "null"],
                            "maxLength": _MAX_NAME,
                            "description": "SD-JWT VC only: the aud its KB-JWT must carry (this "
                            "verifier's identifier)",
                        },
                        "verifier": {
                            "type": ["object", "null"],
                            "description": "Who checks and why. The check is listed in the "
                            "holder's wallet only for a relying party signed in with its API key "
                            "(Authorization: Bearer erp_...) naming one of its purposes",
                            "properties": {
                                "name": {
                                    "type": ["string", "null"],
                                    "maxLength": _MAX_NAME,
                                    "description": "Ignored: the wallet shows the signed-in "
                                    "party's registered name, never a typed one",
                                },
                                "purpose": {
                                    "type": ["string", "null"],
                                    "maxLength": _MAX_NAME,
                                    "description": "The code of one of the signed-in party's "
                                    "registered purposes (required when signed in)",
                                },
                            },
                        },
                    },
                },
                "example": {
                    "payload": "EP1:NCFOXN%TS3DH...",
                    "verifier": {"purpose": "VEHICLE_REGISTRATION"},
                },
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["image"],
                    "properties": {
                        "image": {
                            "type": "string",
                            "format": "binary",
                            "description": "A photo or scan of the QR code (PNG, JPEG, ...)",
                        },
                        "challenge": {
                            "type": "string",
                            "maxLength": 64,
                            "description": "The challenge this counter showed the holder",
                        },
                        "audience": {
                            "type": "string",
                            "maxLength": _MAX_NAME,
                            "description": "SD-JWT VC only: the aud its KB-JWT must carry",
                        },
                        "verifier_name": {
                            "type": "string",
                            "maxLength": _MAX_NAME,
                            "description": "Ignored (the signed-in party's registered name is "
                            "what the wallet shows)",
                        },
                        "verifier_purpose": {
                            "type": "string",
                            "maxLength": _MAX_NAME,
                            "description": "The code of one of the signed-in party's purposes",
                        },
                    },
                },
                "example": {"image": "(a PNG or JPEG file)"},
            },
        },
    },
    "responses": {
        "200": {
            "description": "The verdict: `valid` false with the failing check's code when the "
            "licence is not genuine, current and presented as required",
            "content": {"application/json": {"schema": VERIFICATION_RESULT_SCHEMA}},
        },
        "400": _error_answer("The JSON or multipart body cannot be parsed"),
        "413": _error_answer(
            f"JSON body over {MAX_JSON_BYTES} bytes or image over {MAX_IMAGE_BYTES}"
        ),
        "415": _error_answer("Neither application/json nor multipart/form-data"),
        "401": _error_answer(
            "An Authorization header whose relying-party API key is malformed, unknown or revoked"
        ),
        "403": _error_answer(
            "Signed in, but `verifier.purpose` is not one of the party's registered purposes"
        ),
        "422": _error_answer(
            "No payload or image, a text over its limit, an unreadable image or one without "
            "a QR code"
        ),
        "429": _error_answer("The relying party's rate limit is spent (see Retry-After)"),
    },
}


def _authorization_parameter(description: str) -> dict[str, Any]:
    """The optional ``Authorization`` header, as FastAPI documents a ``Header()`` parameter."""
    schema = {
        "anyOf": [{"type": "string"}, {"type": "null"}],
        "description": description,
        "title": "Authorization",
    }
    return {
        "name": "authorization",
        "in": "header",
        "required": False,
        "schema": schema,
        "description": description,
    }


async def _record(
    context: VerifierContext,
    result: VerificationResult,
    party: VerifyingParty | None,
    purpose: object,
) -> None:
    # Only an authenticated party's check is listed (a typed name proves nothing), and only for
    # a credential whose issuer signature verified: a forgery names no real licence.
    if context.record_check is None or party is None:
        return
    if result.licence is None:
        return
    await context.record_check(
        credential_id=result.credential_id,
        licence_number=result.licence.number,
        department=result.licence.department_code,
        party=party,
        purpose=purpose,
        outcome=result.outcome,
        checked_at=result.checked_at,
    )


PartyOf = Callable[[Request], Awaitable[VerifyingParty | None]]
"""The caller of a request, by its ``Authorization`` header (``None``: anonymous). It raises for
a key it refuses (the app's exception handlers answer 401 or 429)."""


def verify_router(
    party_of: PartyOf | None = None, *, authorization: str = "The caller's API key"
) -> APIRouter:
    """A router with ``POST /verify``; its sources come from the ``VerifierContext`` the app put
    on ``app.state.verifier_context``, the caller from ``party_of`` (none: every caller is
    anonymous; the combined app authenticates relying parties by their API key there, refusing
    a bad key with 401), whose optional ``Authorization`` header is documented as
    ``authorization`` says.

    Both are read in the route itself, not through FastAPI dependencies: solving the party's
    dependency (and its own) was 22% of the CPU of an anonymous ``POST /verify`` in the app,
    cProfile, issue 11."""
    router = APIRouter(tags=["verifier"])
    openapi_extra: dict[str, Any] = dict(_OPENAPI_BODY)
    if party_of is not None:
        openapi_extra["parameters"] = [_authorization_parameter(authorization)]

    @router.post("/verify", openapi_extra=openapi_extra)
    async def verify(request: Request) -> Response:
        """Verify a licence QR payload or SD-JWT VC presentation (JSON) or a photo of a QR code
        (multipart `image`).

        Anonymous callers get the verdict and nothing is recorded. A relying party that signs
        in with its API key (`Authorization: Bearer erp_...`) and names one of its registered
        purposes (`verifier.purpose`, the purpose's code) gets the same verdict, and the check
        is listed in the holder's wallet under the party's registered name; a purpose that is
        not its own is refused (403) before anything is verified."""
        party = None
        if party_of is not None:
            party = await party_of(request)
        data = await _read_input(request)
        if isinstance(data, JSONResponse):
            return data
        return await _answer(request.app.state.verifier_context, data, party)

    return router


async def _answer(
    context: VerifierContext, data: _VerifyInput, party: VerifyingParty | None
) -> Response:
    """The verdict on ``data`` for ``party`` (recorded when it is one and names its purpose)."""
    purpose = party.admit(data.purpose) if party is not None else None
    text = data.payload
    if data.image is not None:
        try:
            text = await run_in_threadpool(read_qr_text, data.image)
        except ImageUnreadable as exc:
            return _error(422, exc.code, str(exc))
        if text is None:
            return _error(422, "no_qr_code", "no QR code found in the image")
    assert text is not None
    if context.prepare is not None:
        await context.prepare()
    result = verify_payload(
        text,
        trust=context.trust,
        status=context.status,
        now=context.now,
        policy=context.policy,
        challenge=data.challenge,
        audience=data.audience,
        credential_issuer=context.credential_issuer,
    )
    await _record(context, result, party, purpose)
    # orjson: the answer in 0.8 us where JSONResponse's json.dumps took 12 us, 2-3% of an
    # online POST /verify (issue 11)
    return Response(orjson.dumps(result.to_json()), media_type="application/json")


class AnonymousScans:
    """ASGI middleware: an anonymous scan (``POST /verify``, a JSON body, no ``Authorization``)
    is answered here, by the same ``_json_input`` and ``_answer`` as the route, without going
    through the framework's exception middleware, router and request handler. Everything else
    (a relying party's scan, an image, another content type) goes on to the route.

    Why: the counter's scan is the hottest request, and the framework's layers between this
    middleware and the route were about 100 us of the 500 us a scan cost a worker (py-spy of a
    served worker under 32 clients, issue 11). The OpenAPI document still comes from the route,
    and an error raised here still reaches the app's 500 handler (this is a user middleware,
    inside ``ServerErrorMiddleware``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != "/verify"
            or scope["method"] != "POST"
            or not _anonymous_json(scope["headers"])
        ):
            await self.app(scope, receive, send)
            return
        body = await _bounded_body(receive, MAX_JSON_BYTES + 1)
        data = _json_input(body)
        if isinstance(data, JSONResponse):
            response: Response = data
        else:
            response = await _answer(scope["app"].state.verifier_context, data, None)
        await response(scope, receive, send)


def _anonymous_json(headers: list[tuple[bytes, bytes]]) -> bool:
    media_type = ""
    for name, value in headers:
        if name == b"authorization":
            return False
        if name == b"content-type":
            media_type = _media_type(value.decode("latin-1"))
    return media_type == "application/json"


async def _bounded_body(receive: Receive, limit: int) -> bytes:
    """The request body, or its first ``limit`` bytes or more when it is longer (``_json_input``
    refuses those with 413): a huge body is not read whole."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            break
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit or not message.get("more_body", False):
            break
    return b"".join(chunks)


def create_app(
    bundle_dir: Path | str,
    *,
    policy: Policy | None = None,
    now: Callable[[], int] | None = None,
) -> FastAPI:
    """A standalone verifier app serving ``POST /verify`` from a synced bundle (offline: it
    records nothing). Raises ``BundleError`` when the bundle is missing or damaged."""
    bundle = Bundle.load(bundle_dir)
    app = FastAPI(title="e-licence verifier", version="1")
    app.state.verifier_context = VerifierContext(
        trust=bundle.trust,
        status=bundle.status,
        now=now or _wall_clock,
        policy=policy or Policy(),
        credential_issuer=bundle.credential_issuer,
    )
    app.include_router(verify_router())
    app.add_middleware(AnonymousScans)
    return app
