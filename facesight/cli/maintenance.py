"""``facesight`` commands: the library itself (init, doctor; parse, call the library, print)."""

from __future__ import annotations

import sys

import click

from facesight.cli.common import console, open_library
from facesight.config import resolve_library
from facesight.library.directory import is_library
from facesight.library.facade import Library

__all__ = ["COMMANDS"]


@click.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create an empty library (private to you: folders 0700, files 0600).

    Only init, enroll and scan create a library; every other command on a
    missing one says so, so a mistyped --library never makes an empty one.

    \b
    Example:
        facesight --library ~/cases/2025 init
    """
    directory = resolve_library(ctx.obj["library"])
    if isinstance(directory, str):  # a PostgreSQL URL: the database says
        with open_library(ctx, create=True) as library:
            console().print(f"the library is ready at {library.where}")
        return
    existed = is_library(directory, Library.DB_NAME)
    with open_library(ctx, create=True) as library:
        where = library.path
    console().print(f"{'the library already exists at' if existed else 'created'} {where}")


@click.command()
@click.pass_context
def doctor(ctx: click.Context) -> None:
    """Check the library and repair what is safe to repair.

    SQLite's integrity and foreign-key checks; every table, index and trigger
    present; crops named by rows present; crops and temp files no row names
    removed; cached models re-hashed (a damaged one is removed and rebuilt on
    next use). Exit status 1 when a problem is left.

    \b
    Example:
        facesight doctor
    """
    with open_library(ctx) as library:
        report = library.doctor()
    for line in report.checks:
        console().print(f"ok       {line}", markup=False)
    for line in report.repairs:
        console().print(f"repaired {line}", markup=False)
    for line in report.problems:
        console().print(f"PROBLEM  {line}", markup=False)
    if report.problems:
        sys.exit(1)


COMMANDS: list[click.Command] = [init, doctor]
