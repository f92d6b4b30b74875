"""``facesight`` commands: reports (parse, call the library, print)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from facesight.cli.common import console, decision_note, open_library
from facesight.exports.report import ReportSummary
from facesight.library.reports import SCOPE_NOTE, export_report, report_rows, report_title
from facesight.library.reports import export_xmp as export_sidecars
from facesight.text import printable

__all__ = ["COMMANDS"]

_FILE = click.Path(dir_okay=False, path_type=Path)


@click.command()
@click.option("--person", help="Report this person's sightings (the name as enrolled).")
@click.option("--all", "everyone", is_flag=True, help="Report everyone identified.")
@click.option("--html", "html_path", type=_FILE, help="Write a self-contained HTML page here.")
@click.option("--csv", "csv_path", type=_FILE, help="Write the rows as CSV here.")
@click.option("--json", "json_path", type=_FILE, help="Write the report as JSON here (schema 2).")
@click.option("--include-rejected", is_flag=True, help="Also list the faces a reviewer rejected.")
@click.pass_context
def report(
    ctx: click.Context,
    person: str | None,
    everyone: bool,
    html_path: Path | None,
    csv_path: Path | None,
    json_path: Path | None,
    include_rejected: bool,
) -> None:
    """Write a report of every sighting of a person (or of everyone identified).

    Each row has the face crop beside the nearest reference's crop, the file
    with its sha256, the time in a video, the box, the capture time and GPS
    position when known, the distance, the estimated false-match rate, the
    quality with its reasons, the decision (machine match, confirmed or
    manual identification), who made it, when, and their note; a header says
    who generated it, when, from which library, with which rule and models,
    and a summary comes first (counts, media files, first and last seen).
    Rows are the confirmed and the pending (not yet reviewed) matches; faces
    a reviewer rejected are left out unless --include-rejected (the summary
    counts them either way), and reference photos are never sightings. The
    HTML page embeds its images and opens offline; CSV and JSON hold the same
    rows. A manifest (<first output>.manifest.json) beside the outputs lists
    the sha256 of each file written. The export is recorded in the audit log.

    \b
    Example:
        facesight report --person "Barack Obama" --html obama.html --csv obama.csv
        facesight report --all --json everyone.json
    """
    if bool(person) == everyone:
        raise click.UsageError("give either --person NAME or --all")
    if not (html_path or csv_path or json_path):
        raise click.UsageError("give at least one output: --html FILE, --csv FILE or --json FILE")
    with open_library(ctx) as library:
        rows = report_rows(library, person, include_rejected=True)
        rule = f"{decision_note(library)}. {SCOPE_NOTE}"
        title = report_title(library, person)
        try:
            written = export_report(
                library,
                rows,
                html=html_path,
                csv=csv_path,
                json=json_path,
                title=title,
                rule=rule,
                include_rejected=include_rejected,
            )
        except OSError as error:
            raise click.ClickException(f"cannot write the report: {error}") from error
    summary = ReportSummary.from_rows(rows)
    console(stderr=True).print(
        f"{printable(title)}: {summary.sightings} "
        f"({summary.confirmed} confirmed, {summary.pending} pending, {summary.rejected} "
        f"rejected) in {summary.media} "
        f"media file(s); wrote {', '.join(map(printable, written))}",
        markup=False,
    )


@click.command(name="export-xmp")
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the sidecars into (created if missing).",
)
@click.option(
    "--confirmed-only",
    is_flag=True,
    help="Only faces a reviewer confirmed; by default pending matches are named too.",
)
@click.pass_context
def export_xmp(ctx: click.Context, output: Path, confirmed_only: bool) -> None:
    """Write XMP sidecars naming the identified faces, for photo managers to read.

    One sidecar per still image (photo.jpg -> photo.jpg.xmp), with a face
    region per identified person in the Metadata Working Group format
    (mwg-rs:Regions) that digiKam, Lightroom, Immich and ExifTool read; the
    names are also listed as IPTC "person shown". Copy a sidecar next to its
    photo for the catalogue to pick it up. Faces in videos are not exported
    (XMP regions describe still images). An image that is gone or changed
    since it was scanned is skipped (exit status 1): its regions could be
    wrong. A sidecar that another program wrote is never replaced. The export
    is recorded in the audit log.

    \b
    Example:
        facesight export-xmp --output sidecars/ --confirmed-only
    """
    with open_library(ctx) as library:
        try:
            result = export_sidecars(library, output, include_pending=not confirmed_only)
        except OSError as error:
            raise click.ClickException(f"cannot write the sidecars: {error}") from error
    err = console(stderr=True)
    if result.leftovers_removed:
        err.print(
            f"removed {result.leftovers_removed} temp file(s) left by an interrupted export "
            f"from {printable(output)}",
            markup=False,
        )
    for failure in result.skipped:
        err.print(
            f"skipped {printable(failure.path)}: {printable(failure.message)} ({failure.kind})",
            markup=False,
        )
    videos = (
        f"; {result.video_sightings} face(s) in videos not exported (XMP regions are for stills)"
        if result.video_sightings
        else ""
    )
    err.print(
        f"wrote {len(result.written)} sidecar(s) with {result.faces} face region(s) to "
        f"{printable(output)}; {len(result.skipped)} image(s) skipped{videos}",
        markup=False,
    )
    if result.skipped:
        sys.exit(1)


COMMANDS: list[click.Command] = [report, export_xmp]
