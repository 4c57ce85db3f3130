"""``elicence department|licence-type|keys|audit ...``: the platform operator's commands.

Errors are a message on stderr and exit code 1, never a traceback.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Iterator, Sequence
from typing import Annotated

import typer
from pydantic import ValidationError
from sqlalchemy.orm import Session

from keys import PURPOSE_KEY_ENCRYPTION, derive_subkey
from registry.audit import verify_audit_chain
from registry.cli_support import cli_errors, load_settings, operator_actor
from registry.database import Database
from registry.settings import load_master_key

from .catalogue import service as catalogue_service
from .departments import service
from .departments.schemas import DepartmentCreate, KeyRotate, LicenceTypeCreate
from .imports.cli import export_command, import_command

department_app = typer.Typer(help="Departments and their API keys.", no_args_is_help=True)
licence_type_app = typer.Typer(help="Licence types of a department.", no_args_is_help=True)
keys_app = typer.Typer(
    help="Department signing keys: rotate, mark compromised.", no_args_is_help=True
)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)

_LICENCE_TYPE_OPTIONS = {
    "code": "CODE",
    "name": "--name",
    "fields": "--field",
    "validity_days": "--validity-days",
    "categories": "--categories",
    "catalogue_code": "--catalogue-code",
    "defining_body_name": "--defining-body",
}
_DEPARTMENT_OPTIONS = {
    "code": "CODE",
    "name": "--name",
    "credit_code": "--credit-code",
    "jurisdiction_code": "--jurisdiction",
    "alg": "--alg",
}
_ALG_HELP = "Signature algorithm of the signing key: ES256 (default), EdDSA or SM2."
# name:type[=choices][:required|optional][:label]; the label is the rest of the text (it may hold
# spaces and colons: "初次领证日期 First issued").
_FIELD = re.compile(
    r"^([a-z][a-z0-9_]*):(text|int|date|choice)(?:=([^:]+))?(?::(required|optional)(?=:|$))?+(?::(.+))?$",
    re.S,
)


def register(app: typer.Typer) -> None:
    """Add the issuer's command groups to the ``elicence`` command."""
    app.add_typer(department_app, name="department")
    app.add_typer(licence_type_app, name="licence-type")
    app.add_typer(keys_app, name="keys")
    app.add_typer(audit_app, name="audit")
    app.command("import")(import_command)
    app.command("export")(export_command)


@contextlib.contextmanager
def _transaction() -> Iterator[tuple[Session, bytes]]:
    """A write transaction committed at the end (rolled back on error), taken through the
    database's writer lock (so a running service's writers and this command take turns), and
    the key-encryption secret."""
    settings = load_settings()
    master = load_master_key(settings, create=False)
    with _database() as database, database.writing() as session:
        yield session, derive_subkey(master, PURPOSE_KEY_ENCRYPTION)


@contextlib.contextmanager
def _database() -> Iterator[Database]:
    """The deployment's database, closed at the end."""
    database = Database(load_settings().database_url)
    try:
        yield database
    finally:
        database.close()


@department_app.command("add")
def department_add(
    code: Annotated[str, typer.Argument(help="Upper-case code, e.g. TRANSPORT.")],
    name: Annotated[str, typer.Option("--name", help="Full name of the department.")],
    credit_code: Annotated[
        str | None,
        typer.Option("--credit-code", help="Its unified social credit code (GB 32100, 18)."),
    ] = None,
    jurisdiction: Annotated[
        str | None,
        typer.Option("--jurisdiction", help="Its 6-digit administrative division code."),
    ] = None,
    alg: Annotated[str, typer.Option("--alg", help=_ALG_HELP)] = "ES256",
) -> None:
    """Create a department and its first signing key.

    A malformed credit or jurisdiction code, or an unknown algorithm, exits 1 naming what is
    wrong; nothing is stored.
    """
    with cli_errors():
        try:
            body = DepartmentCreate(
                code=code,
                name=name,
                credit_code=credit_code,
                jurisdiction_code=jurisdiction,
                alg=alg,
            )
        except ValidationError as exc:
            raise _bad(exc, _DEPARTMENT_OPTIONS) from None
        with _transaction() as (session, key_secret):
            department = service.create_department(
                session=session,
                code=body.code,
                name=body.name,
                actor=operator_actor(),
                key_secret=key_secret,
                credit_code=body.credit_code,
                jurisdiction_code=body.jurisdiction_code,
                alg=body.alg,
            )
            key = service.active_signing_key(session=session, department_id=department.id)
            kid = f"{key.kid} ({key.alg})" if key else "-"
        typer.echo(f"created department {body.code} ({body.name}), signing key {kid}")


@department_app.command("key")
def department_key(code: Annotated[str, typer.Argument(help="Department code.")]) -> None:
    """Make a new API key for the department and print it once (only its hash is kept)."""
    with cli_errors(), _transaction() as (session, _):
        department, key = service.create_api_key(
            session=session, department_code=code, actor=operator_actor()
        )
    typer.echo(f"API key for {department.code} (shown once, store it now):")
    typer.echo(key.text)


@department_app.command("keys")
def department_keys(code: Annotated[str, typer.Argument(help="Department code.")]) -> None:
    """List the department's API keys: prefix, when created, and "active" or when revoked.

    Only prefixes are shown (a key's secret is never stored); pass one to revoke-key.
    """
    with cli_errors(), _transaction() as (session, _):
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
    with cli_errors(), _transaction() as (session, _):
        key = service.revoke_api_key(
            session=session, department_code=code, prefix=prefix, actor=operator_actor()
        )
        revoked_at = _when(key.revoked_at)
    typer.echo(f"{code}: API key {prefix} revoked at {revoked_at}")


def _when(moment: dt.datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "-"


@department_app.command("list")
def department_list() -> None:
    """List the departments and their current signing keys."""
    with cli_errors(), _transaction() as (session, _):
        for department in service.list_departments(session=session):
            key = service.active_signing_key(session=session, department_id=department.id)
            typer.echo(f"{department.code}\t{department.name}\t{key.kid if key else '-'}")


def _shown(text: str, limit: int = 60) -> str:
    """An argument quoted for a message, cut short (a refused one may be 100 KB)."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _bad(
    exc: ValidationError, options: dict[str, str], field_args: Sequence[str] = ()
) -> typer.Exit:
    """One ``error:`` line per problem, named by the option or argument it came from.

    ``options`` maps a body attribute to its option (``validity_days`` to ``--validity-days``);
    a problem of the n-th field names the n-th ``--field`` as it was typed.
    """
    for error in exc.errors():
        loc = list(error["loc"])
        attribute = str(loc.pop(0)) if loc else ""
        where = options.get(attribute, attribute)
        if attribute == "fields" and loc and isinstance(index := loc[0], int):
            where, loc = f"--field {_shown(field_args[index])}", loc[1:]
        inner = "".join(f"{part}: " for part in loc)
        typer.echo(f"error: {where}: {inner}{error['msg']}", err=True)
    return typer.Exit(1)


def _field(text: str) -> dict[str, object] | None:
    """The ``--field`` text as a field spec to check, or ``None`` (and a message) if malformed."""
    match = _FIELD.match(text)
    if match is None:
        typer.echo(
            f"error: --field {_shown(text)}: use name:type[:required|optional] with type text, "
            "int, date or choice=A|B|C",
            err=True,
        )
        return None
    name, kind, choices, required, label = match.groups()
    spec: dict[str, object] = {"name": name, "type": kind, "required": required != "optional"}
    if choices is not None:
        spec["choices"] = choices.split("|")
    if label is not None:
        spec["label"] = label.strip()
    return spec


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
            help="name:type[:required|optional][:label], type text, int, date or "
            "choice=A|B|C; fields are required unless marked optional; the label is what the "
            "pages show (e.g. first_issued:date:optional:初次领证日期 First issued). "
            "Repeat for each field.",
        ),
    ] = None,
    categories: Annotated[
        str | None, typer.Option("--categories", help="Allowed categories, comma separated.")
    ] = None,
    catalogue_code: Annotated[
        str | None,
        typer.Option(
            "--catalogue-code",
            help="21-character licence type code (GB/T 36904): the defining body's credit code "
            "and a 3-digit serial. Its licences get identifiers.",
        ),
    ] = None,
    defining_body: Annotated[
        str | None,
        typer.Option("--defining-body", help="Name of the body that defined the type."),
    ] = None,
    single_valid: Annotated[
        bool,
        typer.Option(
            "--single-valid/--many-valid",
            help="Whether a holder may hold one valid licence of this type at most (a driving "
            "licence) or many (a qualification certificate); issuance and import refuse a "
            "second valid one of a single-valid type.",
        ),
    ] = False,
) -> None:
    """Add a licence type with its fields and default validity to a department.

    A malformed or unsound spec (a field named twice or like a built-in claim, a choice field
    without choices or with empty, repeated or overlong ones, ...) prints one line per problem
    and exits 1; nothing is stored.
    """
    with cli_errors():
        parsed = [(text, _field(text)) for text in field or []]
        well_formed = [(text, spec) for text, spec in parsed if spec is not None]
        try:
            body = LicenceTypeCreate.model_validate(
                {
                    "code": code,
                    "name": name,
                    "fields": [spec for _, spec in well_formed],
                    "validity_days": validity_days,
                    "categories": [c.strip() for c in (categories or "").split(",") if c.strip()],
                    "catalogue_code": catalogue_code,
                    "defining_body_name": defining_body,
                    "single_valid": single_valid,
                }
            )
        except ValidationError as exc:
            raise _bad(exc, _LICENCE_TYPE_OPTIONS, [text for text, _ in well_formed]) from None
        if len(well_formed) < len(parsed):
            raise typer.Exit(1)
        with _transaction() as (session, _):
            service.create_licence_type(
                session=session,
                department_code=department,
                licence_type_in=body,
                actor=operator_actor(),
            )
        policy = "one valid per holder" if body.single_valid else "many valid per holder"
        typer.echo(
            f"added licence type {department}/{body.code} ({len(body.fields)} fields, {policy})"
        )


@licence_type_app.command("list")
def licence_type_list() -> None:
    """The catalogue: every licence type with its catalogue code, name, defining body,
    holder-code type and issuing departments (as ``GET /catalogue/licence-types``)."""
    with cli_errors(), _database() as database, database.reading() as session:
        entries = catalogue_service.licence_catalogue(session=session)
    if not entries:
        typer.echo("no licence types")
    for entry in entries:
        body = entry.defining_body
        typer.echo(
            "\t".join(
                (
                    entry.catalogue_code or "-",
                    entry.name,
                    f"{body.name} ({body.credit_code})" if body else "-",
                    f"holder code {entry.holder_code_type}",
                    ", ".join(f"{d.code}/{d.licence_type}" for d in entry.issuing_departments),
                )
            )
        )


@keys_app.command("rotate")
def keys_rotate(
    department: Annotated[str, typer.Argument(help="Department code.")],
    alg: Annotated[str, typer.Option("--alg", help=_ALG_HELP)] = "ES256",
) -> None:
    """A new key signs from now on; the old one retires and still verifies what it signed.

    An unknown algorithm exits 1 naming it; nothing changes.
    """
    with cli_errors():
        try:
            chosen = KeyRotate(alg=alg)
        except ValidationError as exc:
            raise _bad(exc, {"alg": "--alg"}) from None
        with _transaction() as (session, key_secret):
            key = service.rotate_key(
                session=session,
                department_code=department,
                actor=operator_actor(),
                key_secret=key_secret,
                alg=chosen.alg,
            )
            kid, key_alg = key.kid, key.alg
        typer.echo(f"{department}: new active key {kid} ({key_alg})")


@keys_app.command("compromise")
def keys_compromise(
    department: Annotated[str, typer.Argument(help="Department code.")],
    kid: Annotated[str, typer.Argument(help="Key id (as in the trust list).")],
) -> None:
    """Mark a key compromised: verifiers reject everything it signed."""
    with cli_errors(), _transaction() as (session, key_secret):
        key, replacement = service.compromise_key(
            session=session,
            department_code=department,
            kid=kid,
            actor=operator_actor(),
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
    with cli_errors(), _database() as database, database.reading() as session:
        report = verify_audit_chain(session, anchors=anchor or ())
    if report.ok:
        typer.echo(f"OK: {report.rows_checked} audit entries, chain intact")
        if report.head_hash is not None:
            typer.echo(f"head {report.head_hash}")
        return
    where = f"audit entry {report.first_bad_id}" if report.first_bad_id is not None else "the end"
    typer.echo(f"BROKEN at {where}: {report.problem}", err=True)
    raise typer.Exit(1)
