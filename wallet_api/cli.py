"""``elicence dev-token [ID_NUMBER]``: print a development identity-provider token."""

from __future__ import annotations

from typing import Annotated

import typer

from registry.cli_support import cli_errors, fail, load_settings

from .dev_idp import dev_idp_enabled, issue_dev_token


def dev_token(
    id_number: Annotated[
        str | None,
        typer.Argument(
            help="The citizen's 18-character ID number. Leave it out to be asked for it (or pipe "
            "it in), so it stays out of shell history and the process list.",
            show_default=False,
        ),
    ] = None,
    lifetime: Annotated[int, typer.Option(min=60, max=86400, help="Seconds until expiry")] = 3600,
) -> None:
    """Print a bearer token from the built-in development identity provider."""
    if id_number is None:
        id_number = typer.prompt("ID number", hide_input=True, err=True)
    with cli_errors():
        settings = load_settings()
        if not dev_idp_enabled(settings):
            raise fail(
                "the development identity provider is off (set ELICENCE_DEV_IDP=1 in development)"
            )
        try:
            token = issue_dev_token(settings, id_number, lifetime=lifetime)
        except OSError as exc:
            raise fail(f"cannot use the dev key file: {exc.strerror}") from None
    typer.echo(token)
