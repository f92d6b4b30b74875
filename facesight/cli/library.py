"""``facesight library copy``: a library copied between SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import click

from facesight.cli.common import console
from facesight.errors import FaceSightError
from facesight.library.copy import copy_library
from facesight.location import is_postgres_url

__all__ = ["COMMANDS"]


def _location(value: str) -> str | Path:
    return value if is_postgres_url(value) else Path(value).expanduser()


@click.group()
def library() -> None:
    """Whole-library operations: copy a library between SQLite and PostgreSQL.

    \b
    Example:
        facesight library copy ~/cases/2025 postgresql://ana@db.example/cases2025
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


COMMANDS = [library]
