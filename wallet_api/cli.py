"""``elicence dev-token [ID_NUMBER]``: print a development identity-provider token."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError

from credential.errors import CredentialError
from registry.errors import ServiceError
from registry.settings import get_settings

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
    try:
        get_settings.cache_clear()
        settings = get_settings()
        if not dev_idp_enabled(settings):
            typer.echo(
                "error: the development identity provider is off "
                "(set ELICENCE_DEV_IDP=1 in development)",
                err=True,
            )
            raise typer.Exit(1)
        typer.echo(issue_dev_token(settings, id_number, lifetime=lifetime))
    except (CredentialError, ServiceError) as exc:
        typer.echo(f"error: {exc.code}: {exc.detail}", err=True)
        raise typer.Exit(1) from None
    except ValidationError as exc:
        typer.echo(f"error: invalid settings: {exc.error_count()} problem(s)", err=True)
        raise typer.Exit(1) from None
    except OSError as exc:
        typer.echo(f"error: cannot use the dev key file: {exc.strerror}", err=True)
        raise typer.Exit(1) from None
