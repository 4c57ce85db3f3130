"""HTTP API: ``POST /verify`` (JSON or an uploaded image), its sources from a ``VerifierContext``.

The combined app sets ``app.state.verifier_context`` (online sources and a ``record_check``);
``create_app(bundle_dir)`` serves from a synced bundle and records nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from ._sources import StatusSource, TrustSource
from ._verify import Policy, VerificationResult, verify_payload
from .bundle import Bundle
from .image import MAX_IMAGE_BYTES, ImageUnreadable, read_qr_text

MAX_JSON_BYTES = 64 * 1024
_MAX_NAME = 200


class RecordCheck(Protocol):
    """Records an online check for the citizen's "who checked my licence" list."""

    async def __call__(
        self,
        *,
        credential_id: str,
        licence_number: str,
        department: str,
        verifier_name: str,
        purpose: str | None,
        outcome: str,
        checked_at: int,
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class VerifierContext:
    """Everything ``POST /verify`` needs. ``record_check`` is ``None`` offline; ``prepare``,
    when set, is awaited before each verification (the online sources make their documents
    current there, so verifying itself never waits for I/O)."""

    trust: TrustSource
    status: StatusSource
    now: Callable[[], int] = field(default=lambda: _wall_clock())
    policy: Policy = field(default_factory=Policy)
    record_check: RecordCheck | None = None
    prepare: Callable[[], Awaitable[None]] | None = None


def _wall_clock() -> int:
    return int(time.time())


async def get_verifier_context(request: Request) -> VerifierContext:
    """Dependency: the context the app put on ``app.state.verifier_context``.

    ``async`` so FastAPI does not hop to a worker thread for it on every request."""
    context: VerifierContext = request.app.state.verifier_context
    return context


def _error(status: int, code: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status)


@dataclass(frozen=True, slots=True)
class _VerifyInput:
    payload: str | None
    image: bytes | None
    challenge: str | None
    verifier_name: str | None
    purpose: str | None


def _opt_text(value: Any, what: str, limit: int) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise ValueError(f"{what} must be text of at most {limit} characters")
    return value


def _verify_input(
    *, payload: str | None, image: bytes | None, challenge: Any, verifier_name: Any, purpose: Any
) -> _VerifyInput | JSONResponse:
    """The request's input with its optional texts checked (422 naming the bad one)."""
    try:
        return _VerifyInput(
            payload=payload,
            image=image,
            challenge=_opt_text(challenge, "challenge", 64),
            verifier_name=_opt_text(verifier_name, "verifier name", _MAX_NAME),
            purpose=_opt_text(purpose, "verifier purpose", _MAX_NAME),
        )
    except ValueError as exc:
        return _error(422, "invalid_request", str(exc))


async def _read_input(request: Request) -> _VerifyInput | JSONResponse:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        body = await request.body()
        if len(body) > MAX_JSON_BYTES:
            return _error(413, "too_large", f"JSON body larger than {MAX_JSON_BYTES} bytes")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return _error(400, "bad_json", "the body is not valid JSON")
        if not isinstance(data, dict):
            return _error(422, "invalid_request", "the body must be a JSON object")
        payload = data.get("payload")
        if not isinstance(payload, str) or not payload:
            return _error(422, "invalid_request", "payload (text) is required")
        verifier = data.get("verifier") or {}
        if not isinstance(verifier, dict):
            return _error(422, "invalid_request", "verifier must be an object")
        return _verify_input(
            payload=payload,
            image=None,
            challenge=data.get("challenge"),
            verifier_name=verifier.get("name"),
            purpose=verifier.get("purpose"),
        )
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
            verifier_name=form.get("verifier_name"),
            purpose=form.get("verifier_purpose"),
        )
    return _error(415, "unsupported_media_type", "send application/json or multipart/form-data")


_OPENAPI_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["payload"],
                    "properties": {
                        "payload": {"type": "string", "description": "QR text, EL1:/EP1:"},
                        "challenge": {"type": "string", "maxLength": 64},
                        "verifier": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string"},
                                "purpose": {"type": "string"},
                            },
                        },
                    },
                }
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["image"],
                    "properties": {
                        "image": {"type": "string", "format": "binary"},
                        "challenge": {"type": "string"},
                        "verifier_name": {"type": "string"},
                        "verifier_purpose": {"type": "string"},
                    },
                }
            },
        },
    }
}


async def _record(context: VerifierContext, result: VerificationResult, data: _VerifyInput) -> None:
    # Only a credential whose issuer signature verified names a real licence; a forgery must
    # not write into some citizen's "who checked my licence" list.
    if context.record_check is None or data.verifier_name is None:
        return
    if result.licence is None or result.credential_id is None:
        return
    await context.record_check(
        credential_id=result.credential_id,
        licence_number=result.licence.number,
        department=result.licence.department_code,
        verifier_name=data.verifier_name,
        purpose=data.purpose,
        outcome=result.outcome,
        checked_at=result.checked_at,
    )


def verify_router(
    context_dependency: Callable[..., Awaitable[VerifierContext] | VerifierContext] = (
        get_verifier_context
    ),
) -> APIRouter:
    """A router with ``POST /verify``; its sources come from ``context_dependency``."""
    router = APIRouter(tags=["verifier"])

    @router.post("/verify", openapi_extra=_OPENAPI_BODY)
    async def verify(
        request: Request, context: VerifierContext = Depends(context_dependency)
    ) -> JSONResponse:
        """Verify a licence QR payload (JSON) or a photo of the QR code (multipart `image`)."""
        data = await _read_input(request)
        if isinstance(data, JSONResponse):
            return data
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
        )
        await _record(context, result, data)
        return JSONResponse(result.to_json())

    return router


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
    )
    app.include_router(verify_router())
    return app
