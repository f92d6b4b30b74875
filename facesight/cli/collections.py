"""``facesight collections``: the roots the review workspace may scan (parse, call, print).

Roots are registered here only: the workspace (``facesight serve``) lists them and starts a
scan of one by its id, and no web request ever names a path on the server.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from facesight.cli.common import console, open_library, output_options, print_rows
from facesight.text import printable

__all__ = ["COMMANDS"]


@click.group(invoke_without_command=True)
@click.pass_context
def collections(ctx: click.Context) -> None:
    """Register the folders (collection roots) the review workspace may scan.

    An admin of the workspace starts a scan of a registered root on its
    Collections page (a background job, with progress, failures and cancel);
    a web request never names a path. Removing a root keeps what its scans
    stored. See docs/review-workspace.md.

    \b
    Examples:
        facesight collections add /srv/photos/2024
        facesight collections list --json
        facesight collections remove 3
    """
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


@collections.command("add")
@click.argument("path", type=click.Path(path_type=Path))
@click.pass_context
def collections_add(ctx: click.Context, path: Path) -> None:
    """Register the folder PATH (stored resolved: absolute, links followed).

    It must exist, be readable and listable, and lie outside the library.
    """
    with open_library(ctx) as library:
        added = library.collections.add(path)
    console().print(f"added collection {added.id}: {printable(added.path)}", markup=False)


@collections.command("list")
@output_options
@click.pass_context
def collections_list(ctx: click.Context, as_json: bool, as_csv: bool) -> None:
    """List the registered roots: id, path, when and by whom added."""
    with open_library(ctx) as library:
        rows = [asdict(c) for c in library.collections.list()]
    print_rows(rows, as_json, as_csv, "Collections")


@collections.command("remove")
@click.argument("collection_id", metavar="ID", type=click.IntRange(1))
@click.pass_context
def collections_remove(ctx: click.Context, collection_id: int) -> None:
    """Forget the root ID (see `facesight collections list`); its scanned media stay."""
    with open_library(ctx) as library:
        removed = library.collections.remove(collection_id)
    console().print(f"removed collection {removed.id}: {printable(removed.path)}", markup=False)


COMMANDS = (collections,)
