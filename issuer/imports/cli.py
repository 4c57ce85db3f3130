"""``elicence import DEPT TYPE FILE``: load a department's existing licences (存量证照) in bulk;
``elicence export DEPT``: stream them out.

Errors are a message on stderr and exit code 1, never a traceback. A progress bar (rows/s, ETA)
shows on a terminal only.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, cast

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from keys import PURPOSE_KEY_ENCRYPTION, derive_subkey
from registry.cli_support import cli_errors, fail, load_settings, operator_actor
from registry.database import Database
from registry.settings import load_master_key
from registry.vault import CitizenIdVault

from ..runtime import IssuerRuntime
from .pool import WorkerFailed, WorkerPool, default_workers
from .rejects import RejectsFile, default_rejects_path
from .schemas import ImportSummary
from .service import (
    ImportCrypto,
    ImportJob,
    ImportPool,
    columns_of,
    default_batch_size,
    find_target,
    import_licences,
    sign_batch,
)
from .source import FORMATS, SourceFormat, open_source, parse_mapping


class _RowsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} rows/s" if speed else "- rows/s", style="progress.data.speed")


@contextlib.contextmanager
def progress_bar(total: int, label: str) -> Iterator[Callable[[int], None]]:
    """``advance(rows)`` for a rich progress bar on stderr when it is a terminal; else a no-op
    (no bar in logs and pipes)."""
    if not sys.stderr.isatty():
        yield lambda _rows: None
        return
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RowsPerSecond(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    with progress:
        task = progress.add_task(label, total=total or None)
        yield lambda rows: progress.advance(task, rows)


@contextlib.contextmanager
def issuer_runtime() -> Iterator[IssuerRuntime]:
    """The deployment's database and what issuance needs of the master key, closed at the end."""

    settings = load_settings()
    master = load_master_key(settings, create=False)
    database = Database(settings.database_url)
    try:
        yield IssuerRuntime(
            settings=settings,
            database=database,
            vault=CitizenIdVault(master),
            key_secret=derive_subkey(master, PURPOSE_KEY_ENCRYPTION),
        )
    finally:
        database.close()


@contextlib.contextmanager
def import_runtime(workers: int) -> Iterator[tuple[IssuerRuntime, ImportPool | None]]:
    """``issuer_runtime`` with ``workers`` import worker processes (none for 0), forked before
    the database is opened: they hold the vault and key boxes as memory, no connection."""
    settings = load_settings()
    master = load_master_key(settings, create=False)
    vault = CitizenIdVault(master)
    key_secret = derive_subkey(master, PURPOSE_KEY_ENCRYPTION)
    with contextlib.ExitStack() as stack:
        pool: ImportPool | None = None
        if workers > 0:
            crypto = ImportCrypto(vault=vault, key_secret=key_secret)
            pool = stack.enter_context(WorkerPool(workers, crypto, sign_batch))
        database = Database(settings.database_url)
        stack.callback(database.close)
        yield (
            IssuerRuntime(settings=settings, database=database, vault=vault, key_secret=key_secret),
            pool,
        )


def _print_summary(summary: ImportSummary) -> None:
    verb = "would import" if summary.dry_run else "imported"
    typer.echo(
        f"{summary.department}/{summary.licence_type}: {summary.rows} rows: {verb} "
        f"{summary.imported}, already present {summary.already_present}, "
        f"rejected {summary.rejected}" + (" (dry run: nothing written)" if summary.dry_run else "")
    )
    if summary.rejected:
        reasons = ", ".join(f"{code} {n}" for code, n in summary.reject_reasons.items())
        typer.echo(f"rejected rows ({reasons}) are in {summary.rejects_file}")


def import_command(
    department: Annotated[str, typer.Argument(help="Department code.")],
    licence_type: Annotated[str, typer.Argument(help="Licence type code.")],
    file: Annotated[
        Path, typer.Argument(help="CSV (UTF-8, header row) or JSON Lines file.", show_default=False)
    ],
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="COLUMN=FIELD: read the file's COLUMN as FIELD (COLUMN=- ignores it). "
            "Fields: record_key, id_number, holder_name, valid_from, valid_until, issued_at, "
            "categories, status, status_reason, identifier (电子证照标识, kept; empty: a fresh "
            "one) and the type's own fields. Repeatable.",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check every row, write nothing to the database.")
    ] = False,
    rejects: Annotated[
        Path | None,
        typer.Option(help="Where rejected rows go (default FILE.rejects.csv).", show_default=False),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="csv or jsonl (default: from the name, else the content)."),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=5000,
            help="Rows per transaction (and audit entry). Default: 1000 on SQLite (a batch holds "
            "its one write lock), 2000 on PostgreSQL.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=64,
            help="Worker processes that check, encrypt and sign the rows while this one writes "
            "them (0: all in this process; a dry run uses none). Default: one per CPU, 0 on a "
            "single CPU.",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Import licences the department already issued (存量证照), each row as issuance does it.

    Each row lands once (its record_key, the department's own licence number, is unique per
    type): run the same file again after an interruption and it finishes the file. Rejected rows
    go to the rejects file (mode 0600) with a reason; they do not stop the others.
    """

    with cli_errors():
        if fmt is not None and fmt not in FORMATS:
            raise fail(f"--format must be one of {', '.join(FORMATS)}")
        source_format = cast(SourceFormat | None, fmt)
        mapping = parse_mapping(map_ or [])
        if workers is None:
            workers = default_workers()
        with import_runtime(0 if dry_run else workers) as (runtime, pool):
            with runtime.database.reading() as session:
                target = find_target(
                    session=session, department_code=department, licence_type_code=licence_type
                )
            known, required = columns_of(target.licence_type)
            source = open_source(
                file, mapping=mapping, known=known, required=required, fmt=source_format
            )
            job = ImportJob(
                target=target,
                source=source,
                actor=operator_actor(),
                batch_size=batch_size or default_batch_size(runtime.database.dialect),
                dry_run=dry_run,
            )
            rejects_path = rejects or default_rejects_path(file)
            with (
                RejectsFile(rejects_path, source.header) as rejected,
                progress_bar(source.lines, f"{department}/{licence_type}") as advance,
            ):
                try:
                    summary = import_licences(
                        database=runtime.database,
                        runtime=runtime,
                        job=job,
                        rejects=rejected,
                        progress=advance,
                        pool=pool,
                    )
                except KeyboardInterrupt:
                    typer.echo(
                        "interrupted: the open batch was not stored; run the same command "
                        "again to finish the file",
                        err=True,
                    )
                    raise typer.Exit(1) from None
                except WorkerFailed as exc:
                    typer.echo(
                        f"{exc}: the open batch was not stored; run the same command again to "
                        "finish the file",
                        err=True,
                    )
                    raise typer.Exit(1) from None
    if as_json:
        typer.echo(summary.model_dump_json())
    else:
        _print_summary(summary)


def export_command(
    department: Annotated[str, typer.Argument(help="Department code.")],
    licence_type: Annotated[
        str | None, typer.Option("--type", help="Only this licence type.", show_default=False)
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(help="Only licences in this status: valid, suspended or revoked."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or jsonl.")] = "csv",
    output: Annotated[
        Path | None,
        typer.Option(help="Write to this file (mode 0600) instead of stdout.", show_default=False),
    ] = None,
    with_id_numbers: Annotated[
        bool,
        typer.Option(
            "--with-id-numbers",
            help="Full ID numbers instead of masked ones (written to the audit log).",
        ),
    ] = False,
    view: Annotated[
        str,
        typer.Option(
            "--view",
            help="default (the registry's names, as elicence import reads them) or gbt (the "
            "names of GB/T 36903/36904: 电子证照标识, 证照颁发机构代码, 持证主体代码, ...).",
        ),
    ] = "default",
) -> None:
    """Stream the department's licences as CSV or JSON Lines (ID numbers masked by default).

    With --type the type's fields are columns of their own, as elicence import reads them; with
    --view gbt the columns are the national standards' names. An unknown view exits 1.
    """
    from .export import ExportJob, export_licences

    with cli_errors():
        job = ExportJob(
            department_code=department,
            licence_type=licence_type,
            status=status,
            format=cast(SourceFormat, fmt),
            with_id_numbers=with_id_numbers,
            actor=operator_actor(),
            view=view,
        )
        with issuer_runtime() as runtime:
            if output is None:
                export_licences(database=runtime.database, runtime=runtime, job=job, out=sys.stdout)
                return
            fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, 0o600)  # an older file of the same name may have been looser
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
                count = export_licences(
                    database=runtime.database, runtime=runtime, job=job, out=out
                )
        typer.echo(f"exported {count} licences to {output}", err=True)
