"""What every operator command shares: reading the settings afresh, and turning known errors
into one message on stderr and exit code 1, never a traceback (``with cli_errors():``)."""

from __future__ import annotations

import contextlib
import getpass
from collections.abc import Iterator

import typer
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from credential.errors import ElicenceError
from keys import KeyStoreError

from .settings import Settings, get_settings

EXIT_ERROR = 1


def fail(message: str, code: int = EXIT_ERROR) -> typer.Exit:
    """Print ``message`` on stderr and return the ``typer.Exit`` to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@contextlib.contextmanager
def cli_errors() -> Iterator[None]:
    """Turn known errors into a message and exit code 1 (no traceback)."""
    try:
        yield
    except ElicenceError as exc:
        raise fail(f"{exc.code}: {exc.detail}") from None
    except KeyStoreError as exc:
        raise fail(str(exc)) from None
    except ValidationError as exc:
        raise _invalid(exc) from None
    except SQLAlchemyError as exc:
        raise fail(f"database: {type(exc).__name__}: {exc.args[0] if exc.args else ''}") from None


def _invalid(exc: ValidationError) -> typer.Exit:
    """One line per problem; only a problem of the settings is called one, by its variable."""
    settings = exc.title == Settings.__name__
    prefix = str(Settings.model_config.get("env_prefix", ""))
    for problem in exc.errors():
        where = ".".join(str(part) for part in problem["loc"])
        if settings and where:
            where = f"{prefix}{where}".upper()
        typer.echo(
            f"error: {'invalid settings: ' if settings else ''}"
            f"{f'{where}: ' if where else ''}{problem['msg']}",
            err=True,
        )
    return typer.Exit(EXIT_ERROR)


def load_settings() -> Settings:
    """The settings, read afresh from the environment for this invocation."""
    get_settings.cache_clear()
    return get_settings()


def operator_actor() -> str:
    """The audit actor of an operator command: ``cli:<login name>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:operator"
