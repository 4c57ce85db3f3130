"""``elicence department|licence-type|keys|audit ...``: the platform operator's commands.

Errors are a message on stderr and exit code 1, never a traceback.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import re
from collections.abc import Iterator
from typing import Annotated

import typer
from pydantic import ValidationError
from sqlalchemy.orm import Session

from keys import PURPOSE_KEY_ENCRYPTION, derive_subkey
from registry.audit import verify_audit_chain
from registry.database import Database
from registry.settings import load_master_key

from .departments import service
from .departments.schemas import FieldSpec, LicenceTypeCreate
from .imports.cli import export_command, import_command

department_app = typer.Typer(help="Departments and their API keys.", no_args_is_help=True)
licence_type_app = typer.Typer(help="Licence types of a department.", no_args_is_help=True)
keys_app = typer.Typer(
    help="Department signing keys: rotate, mark compromised.", no_args_is_help=True
)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)

_FIELD = re.compile(
    r"^([a-z][a-z0-9_]*):(text|int|date|choice)(?:=([^:]+))?(?::(required|optional))?$"
)


def register(app: typer.Typer) -> None:
    """Add the issuer's command groups to the ``elicence`` command."""
    app.add_typer(department_app, name="department")
    app.add_typer(licence_type_app, name="licence-type")
    app.add_typer(keys_app, name="keys")
    app.add_typer(audit_app, name="audit")
    app.command("import")(import_command)
    app.command("export")(export_command)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:operator"


@contextlib.contextmanager
def _transaction() -> Iterator[tuple[Session, bytes]]:
    """A write transaction committed at the end (rolled back on error), taken through the
    database's writer lock (so a running service's writers and this command take turns), and
    the key-encryption secret."""
    from elicence.cli import load_settings

    settings = load_settings()
    master = load_master_key(settings, create=False)
    with _database() as database, database.writing() as session:
        yield session, derive_subkey(master, PURPOSE_KEY_ENCRYPTION)


@contextlib.contextmanager
def _database() -> Iterator[Database]:
    """The deployment's database, closed at the end."""
    from elicence.cli import load_settings

    database = Database(load_settings().database_url)
    try:
        yield database
    finally:
        database.close()


def _errors() -> contextlib.AbstractContextManager[None]:
    from elicence.cli import cli_errors

    return cli_errors()


@department_app.command("add")
def department_add(
    code: Annotated[str, typer.Argument(help="Upper-case code, e.g. TRANSPORT.")],
    name: Annotated[str, typer.Option("--name", help="Full name of the department.")],
) -> None:
    """Create a department and its first signing key."""
    with _errors():
        try:
            from .departments.schemas import DepartmentCreate

            body = DepartmentCreate(code=code, name=name)
        except ValidationError as exc:
            raise _bad(exc) from None
        with _transaction() as (session, key_secret):
            department = service.create_department(
                session=session,
                code=body.code,
                name=body.name,
                actor=_actor(),
                key_secret=key_secret,
            )
            kid = service.active_signing_key(session=session, department_id=department.id)
        typer.echo(
            f"created department {body.code} ({body.name}), signing key {kid.kid if kid else '-'}"
        )


@department_app.command("key")
def department_key(code: Annotated[str, typer.Argument(help="Department code.")]) -> None:
    """Make a new API key for the department and print it once (only its hash is kept)."""
    with _errors(), _transaction() as (session, _):
        department, key = service.create_api_key(
            session=session, department_code=code, actor=_actor()
        )
    typer.echo(f"API key for {department.code} (shown once, store it now):")
    typer.echo(key.text)


@department_app.command("keys")
def department_keys(code: Annotated[str, typer.Argument(help="Department code.")]) -> None:
    """List the department's API keys: prefix, when created, and "active" or when revoked.

    Only prefixes are shown (a key's secret is never stored); pass one to revoke-key.
    """
    with _errors(), _transaction() as (session, _):
        department, keys = service.list_api_keys(session=session, department_code=code)
        name = department.code
        rows = [
            (
                k.prefix,
                _when(k.created_at),
                f"revoked {_when(k.revoked_at)}" if k.revoked_at else "active",
            )
            for k in keys
        ]
    if not rows:
        typer.echo(f"{name} has no API keys (make one with: elicence department key {name})")
    for prefix, created, state in rows:
        typer.echo(f"{prefix}\tcreated {created}\t{state}")


@department_app.command("revoke-key")
def department_revoke_key(
    code: Annotated[str, typer.Argument(help="Department code.")],
    prefix: Annotated[
        str,
        typer.Argument(
            help="The key's prefix: the 8 characters after elk_ (see department keys CODE). "
            "Never the whole key.",
        ),
    ],
) -> None:
    """Revoke one of the department's API keys: it is refused from the next request on.

    Exit code 1 if the department has no key with this prefix or it is already revoked.
    """
    with _errors(), _transaction() as (session, _):
        key = service.revoke_api_key(
            session=session, department_code=code, prefix=prefix, actor=_actor()
        )
        revoked_at = _when(key.revoked_at)
    typer.echo(f"{code}: API key {prefix} revoked at {revoked_at}")


def _when(moment: dt.datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "-"


@department_app.command("list")
def department_list() -> None:
    """List the departments and their current signing keys."""
    with _errors(), _transaction() as (session, _):
        for department in service.list_departments(session=session):
            key = service.active_signing_key(session=session, department_id=department.id)
            typer.echo(f"{department.code}\t{department.name}\t{key.kid if key else '-'}")


def _bad(exc: ValidationError) -> typer.Exit:
    problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    typer.echo(f"error: {problems}", err=True)
    return typer.Exit(1)


def _field(text: str) -> FieldSpec:
    match = _FIELD.match(text)
    if match is None:
        typer.echo(
            f"error: --field {text!r}: use name:type[:required|optional] with type text, int, "
            "date or choice=A|B|C",
            err=True,
        )
        raise typer.Exit(1)
    name, kind, choices, required = match.groups()
    if (kind == "choice") != (choices is not None):
        typer.echo(f"error: --field {text!r}: only choice takes =A|B|C, and it needs it", err=True)
        raise typer.Exit(1)
    return FieldSpec.model_validate(
        {
            "name": name,
            "type": kind,
            "required": required != "optional",
            "choices": choices.split("|") if choices else None,
        }
    )


@licence_type_app.command("add")
def licence_type_add(
    department: Annotated[str, typer.Argument(help="Department code.")],
    code: Annotated[str, typer.Argument(help="Licence type code, e.g. DRIVING.")],
    name: Annotated[str, typer.Option("--name", help="Full name of the licence type.")],
    validity_days: Annotated[int, typer.Option("--validity-days", help="Default validity.")],
    field: Annotated[
        list[str] | None,
        typer.Option(
            "--field",
            help="name:type[:required|optional], type text, int, date or choice=A|B|C; "
            "fields are required unless marked optional. Repeat for each field.",
        ),
    ] = None,
    categories: Annotated[
        str | None, typer.Option("--categories", help="Allowed categories, comma separated.")
    ] = None,
) -> None:
    """Add a licence type with its fields and default validity to a department."""
    with _errors():
        fields = [_field(f) for f in field or []]
        try:
            body = LicenceTypeCreate(
                code=code,
                name=name,
                fields=fields,
                validity_days=validity_days,
                categories=[c.strip() for c in (categories or "").split(",") if c.strip()],
            )
        except ValidationError as exc:
            raise _bad(exc) from None
        with _transaction() as (session, _):
            service.create_licence_type(
                session=session, department_code=department, licence_type_in=body, actor=_actor()
            )
        typer.echo(f"added licence type {department}/{body.code} ({len(fields)} fields)")


@keys_app.command("rotate")
def keys_rotate(department: Annotated[str, typer.Argument(help="Department code.")]) -> None:
    """A new key signs from now on; the old one retires and still verifies what it signed."""
    with _errors(), _transaction() as (session, key_secret):
        key = service.rotate_key(
            session=session, department_code=department, actor=_actor(), key_secret=key_secret
        )
    typer.echo(f"{department}: new active key {key.kid}")


@keys_app.command("compromise")
def keys_compromise(
    department: Annotated[str, typer.Argument(help="Department code.")],
    kid: Annotated[str, typer.Argument(help="Key id (as in the trust list).")],
) -> None:
    """Mark a key compromised: verifiers reject everything it signed."""
    with _errors(), _transaction() as (session, key_secret):
        key, replacement = service.compromise_key(
            session=session,
            department_code=department,
            kid=kid,
            actor=_actor(),
            key_secret=key_secret,
        )
    typer.echo(f"{department}: key {key.kid} marked compromised")
    if replacement is not None:
        typer.echo(f"{department}: new active key {replacement.kid}")


@audit_app.command("verify")
def audit_verify(
    anchor: Annotated[
        list[str] | None,
        typer.Option(
            help="A head hash printed by an earlier run (repeatable): the chain must still hold "
            "it, which catches the newest rows being deleted.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Check the audit chain; exit 1 naming the first edited, deleted or reordered row.

    Prints the head hash: keep it somewhere else (a ticket, a log server) and pass it back
    with --anchor later, since a chain cut at its end still looks intact by itself.
    """
    with _errors(), _database() as database, database.reading() as session:
        report = verify_audit_chain(session, anchors=anchor or ())
    if report.ok:
        typer.echo(f"OK: {report.rows_checked} audit entries, chain intact")
        if report.head_hash is not None:
            typer.echo(f"head {report.head_hash}")
        return
    where = f"audit entry {report.first_bad_id}" if report.first_bad_id is not None else "the end"
    typer.echo(f"BROKEN at {where}: {report.problem}", err=True)
    raise typer.Exit(1)
