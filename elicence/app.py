"""The web app: ``create_app()`` mounts every service; errors render as ``{"error", "detail"}``.

Services mount their routers here, one line each, in ``create_app``.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

from credential import errors
from issuer.imports.jobs import ImportRunner
from issuer.limits import BodySizeLimit
from issuer.openid4vci.errors import OAuthError, oauth_error_handler
from issuer.routes import public_router as issuer_public_router
from issuer.routes import router as issuer_router
from issuer.runtime import IssuerRuntime
from keys import PURPOSE_KEY_ENCRYPTION, derive_subkey
from pages import router as pages_router
from registry.database import Database
from registry.errors import ServiceError
from registry.settings import Settings, get_settings, load_master_key
from registry.vault import CitizenIdVault
from sharing.auth import AUTHORIZATION_DESCRIPTION, verifying_party
from sharing.profile import router as sharing_profile_router
from sharing.routes import admin_router as sharing_admin_router
from sharing.routes import router as sharing_router
from sharing.runtime import SharingRuntime
from verifier.api import AnonymousScans, VerifierContext, verify_router
from wallet_api.routes import router as wallet_router
from wallet_api.runtime import WalletRuntime

from .online import online_verifier_context

logger = logging.getLogger(__name__)

# Most specific first: the first matching class decides the status code.
ERROR_STATUS: list[tuple[type[errors.ElicenceError], int]] = [
    (errors.InvalidCode, 422),  # ID numbers, licence identifiers, credit codes
    (errors.MalformedPayload, 400),
    (errors.TrustError, 422),
    (errors.ValidityError, 422),
    (errors.StatusError, 422),
    (errors.PresentationError, 422),
    (errors.ElicenceError, 400),
]
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    429: "rate_limited",
}


def _error(status: int, code: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status)


def add_exception_handlers(app: FastAPI) -> None:
    """Render domain, service, HTTP and validation errors as ``{"error": code, "detail": msg}``.

    Request-validation messages name the field and the rule, never the submitted value (it may
    be an ID number); anything unexpected is a 500 with no traceback in the response.
    """

    async def domain_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, errors.ElicenceError)
        if isinstance(exc, ServiceError):
            response = _error(exc.status_code, exc.code, exc.detail)
            response.headers.update(exc.headers)
            return response
        status = next(s for cls, s in ERROR_STATUS if isinstance(exc, cls))
        return _error(status, exc.code, exc.detail)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        response = _error(exc.status_code, code, str(exc.detail))
        if exc.headers:
            response.headers.update(exc.headers)
        if exc.status_code == 405 and (allowed := allowed_methods(request)):
            response.headers["Allow"] = ", ".join(allowed)
        return response

    async def validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = [
            f"{'.'.join(str(p) for p in error.get('loc', ()))}: {error.get('msg', 'invalid')}"
            for error in exc.errors()
        ]
        return _error(422, "invalid_request", "; ".join(problems) or "invalid request")

    async def unexpected_error(_: Request, exc: Exception) -> JSONResponse:
        logger.error("unhandled %s", type(exc).__name__, exc_info=exc)
        return _error(500, "internal_error", "internal error")

    app.add_exception_handler(errors.ElicenceError, domain_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(OAuthError, oauth_error_handler)  # OpenID4VCI endpoints
    app.add_exception_handler(Exception, unexpected_error)


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at the request's path.

    Starlette's 405 names only the methods of the first route whose path matched, so
    ``OPTIONS /issuer/admin/departments`` said ``Allow: POST`` although ``GET`` is served there
    too. Each method is tried against the app's routes (mounted apps answer for themselves)."""
    routes = [r for r in request.app.router.routes if not isinstance(r, Mount)]
    return [
        method
        for method in _METHODS
        if any(r.matches({**request.scope, "method": method})[0] is Match.FULL for r in routes)
    ]


@dataclass(frozen=True, slots=True)
class AppContext:
    """Everything the services share, made once at start-up: routes reach their part of it
    through their package's dependencies (``app.state.issuer``, ``app.state.wallet``,
    ``app.state.sharing``, ``app.state.verifier_context``, ``app.state.imports``), never by
    making something on first request."""

    settings: Settings
    database: Database
    vault: CitizenIdVault
    key_secret: bytes
    issuer: IssuerRuntime
    wallet: WalletRuntime
    sharing: SharingRuntime
    verifier: VerifierContext
    imports: ImportRunner

    def __repr__(self) -> str:  # key_secret must never reach a log
        return f"AppContext({self.database!r})"

    @classmethod
    def open(cls, settings: Settings) -> AppContext:
        """Load the master key, open the database and build each service's runtime."""
        master = load_master_key(settings, create=settings.is_development)
        vault = CitizenIdVault(master)
        key_secret = derive_subkey(master, PURPOSE_KEY_ENCRYPTION)
        database = open_database(settings)
        issuer = IssuerRuntime(
            settings=settings, database=database, vault=vault, key_secret=key_secret
        )
        wallet = WalletRuntime(
            settings=settings, database=database, vault=vault, key_secret=key_secret
        )
        sharing = SharingRuntime(
            settings=settings, database=database, vault=vault, key_secret=key_secret
        )
        verifier = online_verifier_context(database=database, runtime=issuer)
        imports = ImportRunner(runtime=issuer)
        return cls(
            settings, database, vault, key_secret, issuer, wallet, sharing, verifier, imports
        )

    def close(self) -> None:
        self.imports.close()  # the running import stops after its batch, before the database
        self.sharing.close()
        self.database.close()


def open_database(settings: Settings) -> Database:
    """The deployment's ``Database``. On PostgreSQL the change counter lives in the data
    directory (SQLite keeps it next to the database file)."""
    changes_path = None
    if not settings.database_url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        changes_path = settings.data_dir / "documents.changes"
    return Database(settings.database_url, changes_path=changes_path)


DOCS_ASSETS = "/docs/assets"


def add_api_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) with its script, style and icon served from the ``fastapi-offline``
    distribution under ``DOCS_ASSETS``: no CDN, so it works on a machine without internet.
    (FastAPI's own pages load them from a CDN; ReDoc is not served: even packaged, it loads its
    footer logo from its vendor's CDN.)"""
    app.mount(
        DOCS_ASSETS,
        StaticFiles(packages=[("fastapi_offline", "static")]),
        name="docs-assets",
    )
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title}: API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
            # No badge from the public validator service: nothing leaves the machine.
            swagger_ui_parameters={"validatorUrl": None},
        )


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app serving every service. ``settings`` defaults to ``get_settings()``.

    ``app.state.context`` after start-up is the ``AppContext``.
    """
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        context = AppContext.open(settings)
        app.state.context = context
        app.state.issuer = context.issuer
        app.state.wallet = context.wallet
        app.state.sharing = context.sharing
        app.state.verifier_context = context.verifier
        app.state.imports = context.imports
        context.imports.resume_unfinished()  # imports a crash or a stop left unfinished
        # What start-up made lives as long as the process: move it out of the collector's
        # way, so a full collection walks only what requests made (tens of ms less per pause).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            context.close()

    app = FastAPI(
        title="e-licence registry",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    add_exception_handlers(app)

    # Services mount here, one line each, e.g. app.include_router(issuer_router, prefix="/issuer")
    # Routes are matched one by one in this order, about 20 us each here (FastAPI 0.165 tries
    # every route of a router before the next, whatever its prefix), so the most used come first:
    # a counter's scan, then the citizen's phone, relying parties' fetches, the public documents,
    # the departments, administration, the API documentation and health check, pages last. (The
    # wallet after the issuer's 33 routes cost GET /wallet/licences 0.7 ms of event-loop CPU:
    # 2.2 ms -> 1.5 ms a request, issue 11.)
    app.include_router(verify_router(verifying_party, authorization=AUTHORIZATION_DESCRIPTION))
    app.include_router(wallet_router, prefix="/wallet")
    app.include_router(sharing_router, prefix="/sharing")
    app.include_router(issuer_public_router)
    app.include_router(issuer_router, prefix="/issuer")
    app.add_middleware(BodySizeLimit, paths=("/issuer", "/sharing"))
    app.include_router(sharing_admin_router, prefix="/sharing")
    app.include_router(sharing_profile_router, prefix="/sharing")
    add_api_docs(app)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    app.include_router(pages_router)
    app.add_middleware(AnonymousScans)  # outermost: a counter's anonymous scan stops there
    return app
