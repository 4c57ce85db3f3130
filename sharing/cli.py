"""``elicence relying-party ...``: the platform operator registers relying parties, their API
keys and purposes (用证事由). Every act is in the audit log (actor ``cli:<login>``).

Errors are a message on stderr and exit code 1, never a traceback; nothing is stored then.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from registry.cli_support import cli_errors, load_settings, operator_actor
from registry.database import Database
from registry.models import RelyingPartyKind

from . import schemas, service

relying_party_app = typer.Typer(
    help="Relying parties (授权用证): their API keys and purposes.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add sharing's command group to the ``elicence`` command."""
    app.add_typer(relying_party_app, name="relying-party")


@contextlib.contextmanager
def _database() -> Iterator[Database]:
    database = Database(load_settings().database_url)
    try:
        yield database
    finally:
        database.close()


@contextlib.contextmanager
def _transaction() -> Iterator[Session]:
    """A write transaction through the database's writer lock, committed at the end."""
    with _database() as database, database.writing() as session:
        yield session


def _when(moment: dt.datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "-"


@relying_party_app.command("add")
def add(
    code: Annotated[str, typer.Argument(help="Upper-case code, e.g. CITY_BANK.")],
    name: Annotated[str, typer.Option("--name", help="Its registered name (citizens see it).")],
    kind: Annotated[RelyingPartyKind, typer.Option("--kind", help="What kind of body it is.")],
    contact: Annotated[str, typer.Option("--contact", help="Who answers for it.")],
) -> None:
    """Register a relying party."""
    with cli_errors():
        body = schemas.RelyingPartyCreate(code=code, name=name, kind=kind, contact=contact)
        with _transaction() as session:
            service.create_relying_party(session=session, party_in=body, actor=operator_actor())
    typer.echo(f"created relying party {body.code} ({body.name}, {body.kind.value})")


@relying_party_app.command("list")
def list_parties() -> None:
    """Every relying party: code, kind, name, contact."""
    with cli_errors(), _database() as database, database.reading() as session:
        rows = [
            (p.code, p.kind.value, p.name, p.contact)
            for p in service.list_relying_parties(session=session)
        ]
    if not rows:
        typer.echo("no relying parties (add one with: elicence relying-party add CODE ...)")
    for row in rows:
        typer.echo("\t".join(row))


@relying_party_app.command("key")
def key(code: Annotated[str, typer.Argument(help="The relying party's code.")]) -> None:
    """Make a new API key for the relying party and print it once (only its hash is kept)."""
    with cli_errors(), _transaction() as session:
        party, new_key = service.create_api_key(
            session=session, party_code=code, actor=operator_actor()
        )
    typer.echo(f"API key for {party.code} (shown once, store it now):")
    typer.echo(new_key.text)


@relying_party_app.command("keys")
def keys(code: Annotated[str, typer.Argument(help="The relying party's code.")]) -> None:
    """The party's API keys: prefix, when made, "active" or when revoked (never a secret)."""
    with cli_errors(), _database() as database, database.reading() as session:
        _, rows = service.list_api_keys(session=session, party_code=code)
        lines = [
            f"{k.prefix}\tcreated {_when(k.created_at)}\t"
            + (f"revoked {_when(k.revoked_at)}" if k.revoked_at else "active")
            for k in rows
        ]
    typer.echo("\n".join(lines) if lines else f"{code} has no API keys")


@relying_party_app.command("revoke-key")
def revoke_key(
    code: Annotated[str, typer.Argument(help="The relying party's code.")],
    prefix: Annotated[str, typer.Argument(help="The 8 characters after erp_ (never the key).")],
) -> None:
    """Revoke one of the party's API keys: refused from the next request on."""
    with cli_errors(), _transaction() as session:
        revoked = service.revoke_api_key(
            session=session,
            party_code=code,
            prefix=prefix,
            actor=operator_actor(),
            now=dt.datetime.now(dt.UTC),
        )
        revoked_at = _when(revoked.revoked_at)
    typer.echo(f"{code}: API key {prefix} revoked at {revoked_at}")


@relying_party_app.command("purpose")
def purpose(
    code: Annotated[str, typer.Argument(help="The relying party's code.")],
    purpose_code: Annotated[str, typer.Argument(help="The purpose id, e.g. ACCOUNT_OPENING.")],
    text_zh: Annotated[str, typer.Option("--zh", help="What it is for, in Chinese.")],
    text_en: Annotated[str, typer.Option("--en", help="What it is for, in English.")],
    licence_types: Annotated[
        list[str], typer.Option("--type", help="DEPARTMENT/TYPE it may ask for (repeat).")
    ],
    fields: Annotated[list[str], typer.Option("--field", help="A field it may ask for (repeat).")],
    max_days: Annotated[
        int, typer.Option("--max-days", help="The longest consent it may ask for, in days.")
    ],
) -> None:
    """Register a purpose (用证事由) of the relying party."""
    with cli_errors():
        body = schemas.PurposeCreate(
            code=purpose_code,
            text_zh=text_zh,
            text_en=text_en,
            licence_types=licence_types,
            fields=fields,
            max_days=max_days,
        )
        with _transaction() as session:
            service.create_purpose(
                session=session, party_code=code, purpose_in=body, actor=operator_actor()
            )
    typer.echo(f"{code}: purpose {body.code} registered ({', '.join(body.licence_types)})")


@relying_party_app.command("purposes")
def purposes(code: Annotated[str, typer.Argument(help="The relying party's code.")]) -> None:
    """The party's purposes: id, licence types, fields, longest consent, texts."""
    with cli_errors(), _database() as database, database.reading() as session:
        party = service.get_relying_party(session=session, code=code)
        lines = [
            f"{p.code}\t{','.join(p.licence_types)}\t{','.join(p.fields)}\t{p.max_days} days\t"
            f"{p.text_zh} / {p.text_en}"
            for p in service.list_purposes(session=session, relying_party_id=party.id)
        ]
    typer.echo("\n".join(lines) if lines else f"{code} has no purposes")
