"""``facesight library copy``: a library copied between SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from facesight.cli.common import console
from facesight.config import resolve_library
from facesight.errors import FaceSightError
from facesight.library.backup import backup_library
from facesight.library.copy import copy_library
from facesight.location import is_postgres_url

__all__ = ["COMMANDS"]


def _location(value: str) -> str | Path:
    return value if is_postgres_url(value) else Path(value).expanduser()


@click.group()
def library() -> None:
    """Whole-library operations: copy a library between SQLite and PostgreSQL, back it up.

    \b
    Example:
        facesight library copy ~/cases/2025 postgresql://ana@db.example/cases2025
        facesight --library ~/cases/2025 library backup /backups/cases-2025-12-07
    """


@library.command("copy")
@click.argument("source", metavar="SRC")
@click.argument("destination", metavar="DST")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as one JSON object.")
@click.pass_context
def library_copy(ctx: click.Context, source: str, destination: str, as_json: bool) -> None:
    """Copy the library SRC into a new, empty library DST (folders or postgresql:// URLs).

    Every row and crop is copied in one transaction, ids and audit chain included;
    the copy gets one audit record of its own and is checked by counting every table
    on both sides and by verifying its audit chain. Give a password by PGPASSWORD or
    a service file, not in the URL (it is never printed either way).

    \b
    Example:
        facesight library copy ~/cases/2025 postgresql:///cases?service=facesight
        facesight library copy postgresql://ana@db/cases ~/cases/restored
    """
    try:
        report = copy_library(
            _location(source), _location(destination), actor=(ctx.obj or {}).get("user")
        )
    except FaceSightError as error:
        raise click.ClickException(str(error)) from error
    if as_json:
        click.echo(json.dumps({"destination": report.destination, **report.counts}, indent=2))
        return
    shown = ", ".join(f"{n} {table}" for table, n in report.counts.items() if n)
    console().print(f"copied {report.source} -> {report.destination}: {shown}", markup=False)
    console().print(
        f"audit verified: {report.audit.records} records, head {report.audit.head}", markup=False
    )


@library.command("backup")
@click.argument("destination", metavar="DEST", type=click.Path(path_type=Path))
@click.pass_context
def library_backup(ctx: click.Context, destination: Path) -> None:
    """Back up the library (--library) into the new folder DEST, even while it is served.

    The database is copied as one consistent snapshot (SQLite's online backup API;
    `facesight serve` keeps answering and writing), then the crops its rows name; the
    face index is rebuilt when the backup is first opened. DEST must not exist; it is
    private (folders 0700, files 0600). The backup is checked (integrity, audit chain)
    before this returns, and recorded in the audit log (action library.backup).
    Exit status 1 if a crop vanished meanwhile: back up again.
    A PostgreSQL library: use pg_dump.

    \b
    Example:
        facesight --library ~/cases/2025 library backup /backups/cases-2025-12-07
    """
    try:
        report = backup_library(
            resolve_library((ctx.obj or {}).get("library")),
            destination,
            actor=(ctx.obj or {}).get("user"),
        )
    except FaceSightError as error:
        raise click.ClickException(str(error)) from error
    console().print(
        f"backed up to {report.destination}: database {report.database_bytes:,} bytes, "
        f"{report.crops:,} crops; audit verified: {report.audit.records} records, "
        f"head {report.audit.head}",
        markup=False,
    )
    for stored in report.missing_crops:
        console().print(f"MISSING  {stored} (deleted after the snapshot)", markup=False)
    if report.missing_crops:
        sys.exit(1)


COMMANDS = [library]
