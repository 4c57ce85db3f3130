"""Routes serving the three pages and their static assets.

Every asset is read from the package once, at import, into a fixed table: a request can only ever
name one of those files, so there is no path to traverse. Pages are sent with a strict Content
Security Policy that allows scripts, styles and connections to this origin only.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Final

from fastapi import APIRouter
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


def _page(name: str, *, camera: bool = False) -> Response:
    body, media_type = _ASSETS[name]
    headers = {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "Cache-Control": "no-cache",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Permissions-Policy": f"camera=({'self' if camera else ''}), microphone=()",
    }
    return Response(body, media_type=media_type, headers=headers)


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
