"""``facesight`` commands: who is enrolled (enroll, people, rename, forget; parse, call, print)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click

from facesight.cli.common import (
    console,
    open_library,
    output_options,
    print_rows,
    report_failure,
    shown,
)

__all__ = ["COMMANDS"]


@click.command()
@click.argument("name", required=False)
@click.argument("images", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--from-folders",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Enroll one person per sub-folder (folder name = person, '_' read as space).",
)
@click.option("--limit", type=click.IntRange(1), help="With --from-folders: at most N images each.")
@click.option("--face", type=click.IntRange(1), help="Use face N (1 = leftmost) of each image.")
@click.option("--largest", is_flag=True, help="Use the largest face when an image has several.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def enroll(
    ctx: click.Context,
    name: str | None,
    images: tuple[Path, ...],
    from_folders: Path | None,
    limit: int | None,
    face: int | None,
    largest: bool,
    as_json: bool,
) -> None:
    """Add reference photos of a known person.

    An image with no face, or several faces without --face/--largest, is
    refused with a message (exit status 1); the other images are still
    enrolled. Small or blurred faces are enrolled with a warning.

    \b
    Example:
        facesight enroll "Barack Obama" a.jpg b.jpg
        facesight enroll --from-folders people/ --limit 2
    """
    if bool(from_folders) == bool(name):
        raise click.UsageError("give either NAME IMAGES... or --from-folders DIR")
    if name and not images:
        raise click.UsageError("give at least one reference image after the name")
    with open_library(ctx, create=True) as library:
        results = (
            library.enroll_folders(from_folders, limit=limit, largest=largest)
            if from_folders
            else [library.enroll(name or "", images, face=face, largest=largest)]
        )
    if as_json:
        click.echo(json.dumps([asdict(r) for r in results], indent=2, ensure_ascii=False))
    for result in results:
        for failure in result.failures:
            report_failure(failure)
        for warning in result.warnings:
            console(stderr=True).print(f"[yellow]warning[/yellow] {shown(warning)}")
        for disagreement in result.disagreements:
            console(stderr=True).print(f"[yellow]disagrees[/yellow] {shown(disagreement)}")
        if not as_json:
            console().print(
                f"{shown(result.person)}: {len(result.added)} reference(s) added, "
                f"{len(result.already_enrolled)} already enrolled, {len(result.failures)} refused"
            )
    if any(r.failures for r in results):
        sys.exit(1)


@click.command()
@output_options
@click.pass_context
def people(ctx: click.Context, as_json: bool, as_csv: bool) -> None:
    """List enrolled people with their usable references and sightings."""
    with open_library(ctx) as library:
        rows = [asdict(p) for p in library.people()]
        references, media = library.stale()
    if references or media:
        console(stderr=True).print(
            f"[yellow]warning[/yellow] {references} reference(s) and {media} media file(s) "
            "were described by an older model and are left out of matching: run "
            "`facesight reindex`"
        )
    print_rows(rows, as_json, as_csv, "Enrolled people")


@click.command()
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--with-sightings",
    is_flag=True,
    help="Also erase the faces confirmed as this person in scanned media, with their "
    "descriptors and crops (otherwise they stay, as faces of nobody known).",
)
@click.pass_context
def forget(ctx: click.Context, name: str, yes: bool, with_sightings: bool) -> None:
    """Erase a person and everything derived from them (references, crops, matches).

    The audit log keeps that the erasure happened; its paths and notes that
    may hold the name, or one the person had before (renamed, merged), are
    blanked (the hash chain still verifies). Faces of
    the person in scanned media stay unless --with-sightings; see docs/review.md.
    """
    if not yes:
        what = " and their confirmed sightings" if with_sightings else ""
        click.confirm(f"Erase {name!r} and all their references and matches{what}?", abort=True)
    with open_library(ctx) as library:
        result = library.forget(name, with_sightings=with_sightings)
    console().print(
        f"Erased {shown(result.person)}: {result.references_removed} reference(s), "
        f"{result.candidates_removed} match record(s), {result.files_removed} crop file(s)"
        + (f", {result.faces_removed} confirmed face(s)" if with_sightings else "")
        + f"; {result.audit_records_erased} audit record(s) blanked."
    )


@click.command()
@click.argument("old")
@click.argument("new")
@click.pass_context
def rename(ctx: click.Context, old: str, new: str) -> None:
    """Call the enrolled person OLD by the name NEW from now on.

    References, review decisions and matches follow (they name the person by id).
    NEW follows the rules of an enrolled name; a name another person has is refused
    (merge them with `facesight conflicts merge` if they are one person). Audited.

    \b
    Example:
        facesight rename "Barry Obama" "Barack Obama"
    """
    with open_library(ctx) as library:
        result = library.rename(old, new)
    console().print(f"Renamed {shown(result.old)} to {shown(result.new)}.")


COMMANDS: list[click.Command] = [enroll, people, rename, forget]
