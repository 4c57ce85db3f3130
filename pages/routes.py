"""Routes serving the landing page, the four pages and their static assets.

Every asset is read from the package once, at import, into a fixed table: a request can only ever
name one of those files, so there is no path to traverse. Pages are sent with a strict Content
Security Policy that allows scripts, styles and connections to this origin only.

``GET /pages/verifier-policy`` tells the counter and wallet pages the tolerances of the verifier
that answers ``POST /verify`` on this server (how old a presentation or status information may
be), so the words they show match what the verifier does. It reads the ``VerifierContext`` the
app put on ``app.state.verifier_context`` (the combined app, or a counter serving its bundle) by
its attributes: pages import no other service.
"""

from __future__ import annotations

from html import escape
from importlib.resources import files
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

STATIC_PREFIX: Final = "/pages/static"

_MEDIA_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}

# Camera frames are drawn from a MediaStream; QR images arrive as blob: URLs made from fetched
# PNGs (an <img> cannot send the wallet's bearer token).
CONTENT_SECURITY_POLICY: Final = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob: mediastream:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "object-src 'none'",
        "frame-ancestors 'none'",
    ]
)


def _load_assets() -> dict[str, tuple[bytes, str]]:
    assets: dict[str, tuple[bytes, str]] = {}
    for entry in (files(__package__) / "static").iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1]
        if entry.is_file() and suffix in _MEDIA_TYPES:
            assets[entry.name] = (entry.read_bytes(), _MEDIA_TYPES[suffix])
    return assets


_ASSETS: Final = _load_assets()

router = APIRouter(include_in_schema=False)


def _page(name: str, *, camera: bool = False, body: bytes | None = None) -> Response:
    stored, media_type = _ASSETS[name]
    body = stored if body is None else body
    headers = {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "Cache-Control": "no-cache",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Permissions-Policy": f"camera=({'self' if camera else ''}), microphone=()",
    }
    return Response(body, media_type=media_type, headers=headers)


# Replaced in the landing page by where counters sync from.
_PUBLIC_BASE_URL_MARK: Final = "{{public_base_url}}"


def _public_base_url(request: Request) -> str:
    """``ELICENCE_PUBLIC_BASE_URL`` of the combined app; a counter serving pages from its bundle
    has no registry settings, so there it is the URL the page was asked for."""
    context: Any = getattr(request.app.state, "context", None)
    if context is not None:
        return str(context.settings.public_base_url)
    return str(request.base_url).rstrip("/")


@router.get("/")
def landing_page(request: Request) -> Response:
    """The landing page: links to the counter, wallet and console pages, the API docs and the
    health check, and the address offline counters sync from (``ELICENCE_PUBLIC_BASE_URL``)."""
    body, _ = _ASSETS["index.html"]
    url = escape(_public_base_url(request), quote=True)
    return _page("index.html", body=body.replace(_PUBLIC_BASE_URL_MARK.encode(), url.encode()))


@router.get("/pages/verifier-policy")
async def verifier_policy(request: Request) -> JSONResponse:
    """What the verifier behind ``POST /verify`` here tolerates, in seconds: how old a holder's
    presentation may be (``max_presentation_age``, so a screenshot works that long after the
    code was made), how far in the future (``presentation_future_skew``), how old status
    information may be before verification fails (``max_status_age``), and the status lists'
    ``status_ttl`` (the shortest ``ttl`` among the status lists it holds, else the trust
    list's; ``null`` when it has none)."""
    context: Any = getattr(request.app.state, "verifier_context", None)
    if context is None:
        return JSONResponse(
            {"error": "not_found", "detail": "this server verifies nothing"}, status_code=404
        )
    if context.prepare is not None:
        await context.prepare()
    policy = context.policy
    return JSONResponse(
        {
            "max_presentation_age": policy.max_presentation_age,
            "presentation_future_skew": policy.presentation_future_skew,
            "max_status_age": policy.max_status_age,
            "status_ttl": _status_ttl(context),
        },
        headers={"Cache-Control": "no-cache"},
    )


def _status_ttl(context: Any) -> int | None:
    trust_list = context.trust.trust_list()
    if trust_list is None:
        return None
    ttls = [
        snapshot.ttl
        for department in trust_list.departments
        for uri in department.status_lists
        if (snapshot := context.status.status_list(uri)) is not None and snapshot.ttl
    ]
    fallback: int | None = trust_list.ttl
    return min(ttls) if ttls else fallback


@router.get("/counter")
def counter_page() -> Response:
    """The counter page: scan a licence QR with the camera or from a photo."""
    return _page("counter.html", camera=True)


@router.get("/wallet")
@router.get("/wallet/")
def wallet_page() -> Response:
    """The citizen wallet page: my licences, a rotating QR, who checked it."""
    return _page("wallet.html")


@router.get("/console")
def console_page() -> Response:
    """The department console: issue, find, revoke, suspend and reinstate licences."""
    return _page("console.html")


@router.get("/desk")
def desk_page() -> Response:
    """The relying-party desk: sign in with the party's API key, ask a citizen for consent,
    follow the request, show the signed data received, redeem a citizen's 亮证 QR."""
    return _page("desk.html")


@router.get(STATIC_PREFIX + "/{name}")
def static_asset(name: str) -> Response:
    """One of the pages' scripts, styles or images."""
    asset = _ASSETS.get(name)
    if asset is None or name.endswith(".html"):
        return JSONResponse({"error": "not_found", "detail": "no such page asset"}, status_code=404)
    body, media_type = asset
    return Response(
        body,
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )
