"""The ``elicence`` command. Sub-commands of other packages are added here, one line each.

Errors are a message on stderr and a non-zero exit code, never a traceback: wrap command bodies
in ``with cli_errors():`` (``registry.cli_support``).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from credential import ALG_ES256, ALGORITHMS, b64url, jwk_thumbprint, jwk_to_public_key
from issuer.cli import register as register_issuer_commands
from keys import PURPOSE_KEY_ENCRYPTION, derive_subkey, generate_signing_key
from registry import migrate
from registry.cli_support import cli_errors, fail, load_settings
from registry.database import Database
from registry.settings import load_master_key
from registry.signing_keys import root_signing_key, store_signing_key
from sharing.cli import register as register_sharing_commands
from verifier.cli import verifier_app, verify_command
from wallet_api.cli import dev_token

app = typer.Typer(
    name="elicence",
    help="Electronic licence registry: issue, hold and verify e-licences.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.command()
def init(
    alg: Annotated[
        str | None,
        typer.Option(
            "--alg",
            help="Signature algorithm of the platform root key: ES256 (default), EdDSA or SM2.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Create the data directory, master key (development), schema and platform root key.

    An unknown ``--alg`` exits 1 naming it, before anything is made. Run again, it does what is
    left to do; an existing root key is kept (``--alg`` naming another algorithm exits 1).
    """
    if alg is not None and alg not in ALGORITHMS:
        raise fail(f"--alg: unknown signature algorithm {alg!r} (use {', '.join(ALGORITHMS)})")
    with cli_errors():
        settings = load_settings()
        done: list[str] = []
        if not settings.data_dir.exists():
            settings.data_dir.mkdir(parents=True)
            done.append(f"created data directory {settings.data_dir}")
        had_key_file = settings.master_key_path.exists()
        master = load_master_key(settings, create=settings.is_development)
        if settings.master_key is None and not had_key_file:
            done.append(f"created master key file {settings.master_key_path} (mode 0600)")
        if migrate.current_revision(settings.database_url) != migrate.head_revision():
            migrate.upgrade(settings.database_url)
            done.append(f"migrated the database to {migrate.head_revision()}")
        database = Database(settings.database_url)
        try:
            with database.writing() as session:
                root = root_signing_key(session)
                if root is not None and alg is not None and root.alg != alg:
                    raise fail(
                        f"the platform root key {root.kid} is {root.alg}, not {alg}: "
                        "init does not replace it"
                    )
                if root is None:
                    root = store_signing_key(
                        session,
                        private_key=generate_signing_key(alg or ALG_ES256),
                        key_secret=derive_subkey(master, PURPOSE_KEY_ENCRYPTION),
                        department_id=None,
                    )
                    done.append(f"created platform root key {root.kid} ({root.alg})")
                root_kid, root_alg = root.kid, root.alg
        finally:
            database.close()
        if done:
            for line in done:
                typer.echo(line)
        else:
            typer.echo(f"Nothing to do: already initialised (root key {root_kid}, {root_alg}).")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port.")] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Worker processes (one per core is a good start; SQLite writers take turns).",
        ),
    ] = 1,
    access_log: Annotated[
        bool,
        typer.Option(
            help="A line per request on standard output (method, path, status; never a body). "
            "Off behind a proxy that logs requests itself.",
        ),
    ] = True,
) -> None:
    """Serve every service over HTTP (uvicorn)."""
    from .serving import AddressTaken
    from .serving import serve as serve_app

    with cli_errors():
        settings = load_settings()
    host = host or settings.host
    port = port or settings.port
    base = f"http://{host}:{port}"
    typer.echo(f"Serving on {base}")
    for path, what in SERVED_PAGES:
        typer.echo(f"  {base}{path:<14} {what}")
    try:
        serve_app(host, port, workers, access_log=access_log)
    except AddressTaken as exc:
        raise fail(str(exc)) from None


SERVED_PAGES = (
    ("/counter", "counter page: scan and verify a licence QR"),
    ("/wallet", "citizen wallet page (dev sign-in when ELICENCE_DEV_IDP is on)"),
    ("/console", "department console (sign in with a department API key)"),
    ("/issuer", "department API (Bearer department API key)"),
    ("/wallet/", "citizen API under /wallet/licences (Bearer identity-provider token)"),
    ("/verify", "verification API (POST)"),
    ("/trust-list", "signed trust list; /status-lists/{id}, /root-key"),
    ("/docs", "OpenAPI documentation"),
    ("/healthz", "health check"),
)


@app.command("root-key")
def root_key(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Print the platform root public key (JWK) and its RFC 7638 thumbprint, for pinning."""
    with cli_errors():
        settings = load_settings()
        database = Database(settings.database_url)
        try:
            with database.reading() as session:
                root = root_signing_key(session)
        finally:
            database.close()
        if root is None:
            raise fail("no platform root key: run `elicence init` first")
        thumbprint = b64url(jwk_thumbprint(jwk_to_public_key(root.public_jwk)))
    if as_json:
        document = {"kid": root.kid, "thumbprint": thumbprint, "jwk": root.public_jwk}
        typer.echo(json.dumps(document, sort_keys=True))
        return
    typer.echo(f"kid:        {root.kid}")
    typer.echo(f"alg:        {root.alg}")
    typer.echo(f"thumbprint: {thumbprint}  (RFC 7638, SHA-256, base64url)")
    typer.echo(f"jwk:        {json.dumps(root.public_jwk, sort_keys=True)}")


# Sub-commands of other packages, one line each:
# app.add_typer(issuer_cli, name="departments")
register_issuer_commands(app)
register_sharing_commands(app)
app.command("dev-token")(dev_token)
app.command("verify")(verify_command)
app.add_typer(verifier_app, name="verifier")
