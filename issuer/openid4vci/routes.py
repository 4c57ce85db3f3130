"""The OpenID4VCI 1.0 endpoints, at the root of the service (the credential issuer identifier is
the public base URL): metadata documents, and the token, nonce and credential endpoints. The
POST endpoints read their bodies by hand (``body``) and answer every refusal in the OAuth shape
``{"error", "error_description"}`` (``errors``)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from registry.errors import NotFound, error_responses
from registry.openid4vci import PRE_AUTHORIZED_GRANT

from ..runtime import IssuerRuntime, ReadSessionDep, RuntimeDep
from . import metadata, service
from .body import MAX_BODY_BYTES, read_body, read_form, read_json_object, refuse_query
from .errors import (
    INVALID_CREDENTIAL_REQUEST,
    INVALID_PROOF,
    INVALID_REQUEST,
    UNKNOWN_CREDENTIAL_CONFIGURATION,
    UNKNOWN_CREDENTIAL_IDENTIFIER,
    UNSUPPORTED_GRANT_TYPE,
    OAuthError,
    OAuthErrorBody,
)

router = APIRouter(tags=["OpenID4VCI"])

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_PUBLIC = {"Cache-Control": "public, max-age=300"}
# RFC 6749 would have unknown parameters ignored; the registry refuses them instead, except
# those that clients in use send: ``user_pin`` is the transaction code's name before OpenID4VCI
# draft 13, which @openid4vc/oauth2 still sends beside ``tx_code`` (the same value).
_TOKEN_PARAMETERS = frozenset(
    {"grant_type", "pre-authorized_code", "tx_code", "user_pin", "client_id", "resource"}
)
_CREDENTIAL_PARAMETERS = frozenset(
    {"credential_configuration_id", "credential_identifier", "proofs", "proof"}
)
_MEANINGS = {
    400: "Refused with the OAuth / OpenID4VCI error code (malformed, unknown parameter, ...)",
    401: "No, an unknown, a used or an expired access token (`WWW-Authenticate: Bearer`)",
    413: f"The body is larger than {MAX_BODY_BYTES} bytes",
    415: "The body is not of the media type the endpoint takes",
}


def _oauth_errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": OAuthErrorBody, "description": _MEANINGS[code]} for code in codes}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


@router.get("/.well-known/openid-credential-issuer")
def credential_issuer_metadata(session: ReadSessionDep, runtime: RuntimeDep) -> JSONResponse:
    """OpenID4VCI credential issuer metadata: one `dc+sd-jwt` configuration per licence type."""
    document = metadata.credential_issuer_metadata(
        session=session, base_url=runtime.settings.public_base_url
    )
    return JSONResponse(document, headers=_PUBLIC)


@router.get("/.well-known/oauth-authorization-server")
def authorization_server_metadata(runtime: RuntimeDep) -> JSONResponse:
    """OAuth authorization server metadata (RFC 8414) of the token endpoint."""
    document = metadata.authorization_server_metadata(runtime.settings.public_base_url)
    return JSONResponse(document, headers=_PUBLIC)


@router.get("/.well-known/jwt-vc-issuer")
def jwt_vc_issuer_metadata(session: ReadSessionDep, runtime: RuntimeDep) -> JSONResponse:
    """The keys that sign SD-JWT VCs (the departments' keys of the trust list), as a JWK set."""
    document = metadata.jwt_vc_issuer_metadata(
        session=session, base_url=runtime.settings.public_base_url
    )
    return JSONResponse(document, headers=_PUBLIC)


@router.get(
    "/vct/{department}/{licence_type}",
    responses=error_responses(422, described={404: "No such credential type"}),
)
def credential_type_metadata(
    department: Annotated[str, Path(max_length=64)],
    licence_type: Annotated[str, Path(max_length=64)],
    session: ReadSessionDep,
    runtime: RuntimeDep,
) -> JSONResponse:
    """SD-JWT VC type metadata of a licence type (the document its `vct` URL names)."""
    for offered in metadata.offered_types(
        session=session, base_url=runtime.settings.public_base_url
    ):
        if offered.department.code == department and offered.licence_type.code == licence_type:
            return JSONResponse(metadata.type_metadata(offered), headers=_PUBLIC)
    raise NotFound("no such credential type")


@router.post(
    metadata.TOKEN_PATH,
    responses={
        200: {"description": "`{access_token, token_type, expires_in}`"},
        **_oauth_errors(400, 413, 415),
    },
)
async def token(request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Token endpoint: a pre-authorized code and its transaction code for an access token, once
    (form-encoded, RFC 6749 section 4.1.3 with OpenID4VCI 1.0 section 6.1)."""
    refuse_query(request)
    form = await read_form(request, allowed=_TOKEN_PARAMETERS)
    grant_type = form.get("grant_type")
    if grant_type is None:
        raise OAuthError(INVALID_REQUEST, "grant_type is required")
    if grant_type != PRE_AUTHORIZED_GRANT:
        raise OAuthError(UNSUPPORTED_GRANT_TYPE, "only the pre-authorized code grant is served")
    code = form.get("pre-authorized_code")
    if code is None or len(code) > 128:
        raise OAuthError(INVALID_REQUEST, "pre-authorized_code is required")
    tx_code = form.get("tx_code")
    user_pin = form.get("user_pin")
    if tx_code is not None and user_pin is not None and user_pin != tx_code:
        raise OAuthError(INVALID_REQUEST, "tx_code and user_pin differ")
    tx_code = tx_code or user_pin
    if tx_code is not None and len(tx_code) > 32:
        raise OAuthError(INVALID_REQUEST, "tx_code is too long")
    resource = form.get("resource")
    if resource is not None and resource != runtime.settings.public_base_url:
        raise OAuthError(INVALID_REQUEST, "resource must be this credential issuer")
    now = _now()

    def redeem(session: Session) -> service.Redemption:
        return service.redeem_offer(
            session=session, pre_authorized_code=code, tx_code=tx_code, now=now
        )

    redemption = await runtime.database.write(redeem)
    if redemption.error is not None:
        raise redemption.error
    body = {
        "access_token": redemption.access_token,
        "token_type": "Bearer",
        "expires_in": service.ACCESS_TOKEN_LIFETIME,
    }
    return JSONResponse(body, headers=_NO_STORE)


@router.post(
    metadata.NONCE_PATH,
    responses={200: {"description": "`{c_nonce}`"}, **_oauth_errors(400, 413)},
)
async def nonce(request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Nonce endpoint: a fresh `c_nonce` for one key proof (OpenID4VCI 1.0 section 7)."""
    refuse_query(request)
    if await read_body(request, media_type=None):
        raise OAuthError(INVALID_REQUEST, "the nonce endpoint takes no body")
    c_nonce = service.new_nonce(runtime=runtime, now=int(time.time()))
    return JSONResponse({"c_nonce": c_nonce}, headers=_NO_STORE)


def _configuration_id(request_body: dict[str, Any]) -> str:
    if "credential_identifier" in request_body:
        raise OAuthError(
            UNKNOWN_CREDENTIAL_IDENTIFIER,
            "this issuer hands out no credential identifiers; use credential_configuration_id",
        )
    configuration_id = request_body.get("credential_configuration_id")
    if not isinstance(configuration_id, str) or not configuration_id:
        raise OAuthError(INVALID_CREDENTIAL_REQUEST, "credential_configuration_id is required")
    return configuration_id


def _jwt_proof(request_body: dict[str, Any]) -> Any:
    if "proof" in request_body:
        raise OAuthError(
            INVALID_CREDENTIAL_REQUEST, "send the key proof in proofs (OpenID4VCI 1.0), not proof"
        )
    proofs = request_body.get("proofs")
    if proofs is None:
        raise OAuthError(INVALID_PROOF, "a key proof (proofs.jwt) is required")
    if not isinstance(proofs, dict) or set(proofs) != {"jwt"}:
        raise OAuthError(INVALID_PROOF, "proofs must hold jwt key proofs only")
    jwts = proofs["jwt"]
    if not isinstance(jwts, list) or not jwts:
        raise OAuthError(INVALID_PROOF, "proofs.jwt must be a list of one key proof")
    if len(jwts) != 1:
        raise OAuthError(INVALID_CREDENTIAL_REQUEST, "one key proof per request (no batches)")
    return jwts[0]


def _check_token(runtime: IssuerRuntime, access_token: str) -> service.TokenGrant:
    with runtime.database.reading() as session:
        return service.live_token(session=session, access_token=access_token, now=_now())


@router.post(
    metadata.CREDENTIAL_PATH,
    responses={
        200: {"description": "`{credentials: [{credential: <SD-JWT VC>}]}`"},
        **_oauth_errors(400, 401, 413, 415),
    },
)
async def credential(request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Credential endpoint: the licence as an SD-JWT VC bound to the key the `jwt` proof shows
    (OpenID4VCI 1.0 section 8), for an access token from the token endpoint."""
    refuse_query(request)
    access_token = service.parse_bearer(request.headers.get("authorization"))
    request_body = await read_json_object(
        request, allowed=_CREDENTIAL_PARAMETERS, error=INVALID_CREDENTIAL_REQUEST
    )
    grant = await run_in_threadpool(_check_token, runtime, access_token)
    configuration_id = _configuration_id(request_body)
    if configuration_id != grant.configuration_id:
        raise OAuthError(
            UNKNOWN_CREDENTIAL_CONFIGURATION,
            "no such credential configuration for this access token",
        )
    proof = service.check_key_proof(
        _jwt_proof(request_body),
        runtime=runtime,
        credential_issuer=runtime.settings.public_base_url,
        now=int(time.time()),
    )
    now = _now()

    def issue(session: Session) -> str:
        return service.issue_sd_jwt_vc(
            session=session,
            runtime=runtime,
            access_token=access_token,
            configuration_id=configuration_id,
            proof=proof,
            now=now,
        )

    issued = await runtime.database.write(issue)
    return JSONResponse({"credentials": [{"credential": issued}]}, headers=_NO_STORE)
