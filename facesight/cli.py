"""The ``facesight`` command line: parse -> call the library -> render.

No business logic lives here. Tables go to stdout for people, ``--json`` and
``--csv`` give the same rows for scripts; progress and per-file problems go
to stderr so stdout stays clean for pipes.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from facesight.config import ENV_LIBRARY, resolve_library_dir
from facesight.errors import FaceSightError
from facesight.export import embed_lines
from facesight.library import Library
from facesight.match import DEFAULT_MAX_DISTANCE, THRESHOLD_NOTE
from facesight.media import DEFAULT_MAX_PIXELS
from facesight.records import MediaFailure, ScanSummary, Sighting
from facesight.scan import ScanEvent

__all__ = ["cli", "main"]

F = TypeVar("F", bound=Callable[..., Any])


def _console(stderr: bool = False) -> Console:
    """A console on stdout or stderr; pipes and files get 200 columns, not rich's 80."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 200
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=width)


def output_options(func: F) -> F:
    """``--json`` / ``--csv`` switches shared by listing commands."""
    func = click.option("--csv", "as_csv", is_flag=True, help="Print CSV rows.")(func)
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")(func)


def on_error_option(func: F) -> F:
    return click.option(
        "--on-error",
        type=click.Choice(["skip", "stop"]),
        default="skip",
        show_default=True,
        help="skip: report a bad file on stderr, record it and go on; stop: end at the first.",
    )(func)


@contextmanager
def _library(ctx: click.Context) -> Iterator[Library]:
    """Open the library; a FaceSightError raised inside the block becomes a ClickException."""
    opts = ctx.obj
    try:
        with Library(
            resolve_library_dir(opts["library"]),
            max_pixels=opts["max_pixels"],
            max_distance=opts["max_distance"],
        ) as library:
            yield library
    except FaceSightError as error:
        raise click.ClickException(str(error)) from error


def _threshold_note(ctx: click.Context) -> str:
    return THRESHOLD_NOTE.format(max_distance=ctx.obj["max_distance"])


def _print_rows(rows: list[dict[str, Any]], as_json: bool, as_csv: bool, title: str) -> None:
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    elif as_csv:
        buffer = io.StringIO()
        if rows:
            writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows({k: _cell(v) for k, v in r.items()} for r in rows)
        click.echo(buffer.getvalue(), nl=False)
    else:
        table = Table(title=title, title_justify="left")
        for column in rows[0] if rows else ["(none)"]:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(_cell(v) for v in row.values()))
        _console().print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, list | tuple | dict):
        return json.dumps(value)
    return str(value)


def _report_failure(failure: MediaFailure) -> None:
    _console(stderr=True).print(
        f"[red]skipped[/red] {failure.path}: {failure.message} ({failure.kind})", markup=True
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="facesight")
@click.option(
    "--library",
    type=click.Path(file_okay=False, path_type=Path),
    help=f"Library directory (database, crops, models). Default: ${ENV_LIBRARY}, "
    "else the per-user data directory.",
)
@click.option(
    "--max-distance",
    type=click.FloatRange(0.0, 2.0, min_open=True, max_open=True),
    default=DEFAULT_MAX_DISTANCE,
    show_default=True,
    help="Decision threshold on descriptor distance: lower means fewer false matches "
    "and more misses. 0.6 is customary for this descriptor, not calibrated.",
)
@click.option(
    "--max-pixels",
    type=click.IntRange(1),
    default=DEFAULT_MAX_PIXELS,
    show_default=True,
    help="Refuse images with more pixels than this (decompression-bomb guard).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log model loading and providers.")
@click.pass_context
def cli(
    ctx: click.Context, library: Path | None, max_distance: float, max_pixels: int, verbose: bool
) -> None:
    """Find known people in photo collections, with the evidence for every match.

    \b
    Example:
        facesight enroll "Barack Obama" obama1.jpg obama2.jpg
        facesight scan /archive
        facesight sightings --person "Barack Obama"
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr)
    ctx.obj = {"library": library, "max_distance": max_distance, "max_pixels": max_pixels}


@cli.command()
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
    with _library(ctx) as library:
        results = (
            library.enroll_folders(from_folders, limit=limit, largest=largest)
            if from_folders
            else [library.enroll(name or "", images, face=face, largest=largest)]
        )
    if as_json:
        click.echo(json.dumps([asdict(r) for r in results], indent=2, ensure_ascii=False))
    for result in results:
        for failure in result.failures:
            _report_failure(failure)
        for warning in result.warnings:
            _console(stderr=True).print(f"[yellow]warning[/yellow] {warning}")
        if not as_json:
            _console().print(
                f"{result.person}: {len(result.added)} reference(s) added, "
                f"{len(result.already_enrolled)} already enrolled, {len(result.failures)} refused"
            )
    if any(r.failures for r in results):
        sys.exit(1)


@cli.command()
@output_options
@click.pass_context
def people(ctx: click.Context, as_json: bool, as_csv: bool) -> None:
    """List enrolled people with their usable references and sightings."""
    with _library(ctx) as library:
        rows = [asdict(p) for p in library.people()]
    _print_rows(rows, as_json, as_csv, "Enrolled people")


class _ScanProgress:
    """Renders scan events: a progress bar, and one stderr line per bad file."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("scanning", total=None)
        self.counting = False  # problems met while listing folders are not in the total

    def start(self, total: int) -> None:
        self.progress.update(self.task, total=total)
        self.counting = True

    def event(self, event: ScanEvent) -> None:
        if event.failure is not None:
            failure = event.failure
            self.progress.console.print(
                f"[red]skipped[/red] {failure.path}: {failure.message} ({failure.kind})"
            )
        if self.counting:
            self.progress.advance(self.task)


def _print_summary(summary: ScanSummary, note: str) -> None:
    _console().print(
        f"Scanned {summary.media_scanned} image(s), skipped {summary.media_skipped} already "
        f"in the library, {len(summary.failures)} could not be used.\n"
        f"Found {summary.faces_found} face(s) ({summary.media_without_faces} image(s) without "
        f"faces); {summary.faces_matched} matched an enrolled person.\n"
        f"{summary.seconds:.1f} s, {summary.images_per_s:.1f} images/s. {note.capitalize()}."
    )
    if summary.failures:
        _console().print("Files that could not be used:")
        for failure in summary.failures:
            _console().print(f"  {failure.path}: {failure.message} ({failure.kind})")


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@on_error_option
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def scan(ctx: click.Context, paths: tuple[Path, ...], on_error: str, as_json: bool) -> None:
    """Scan photos (files or folders, recursively) for faces and match them.

    Content already scanned is recognised by its sha256 and skipped (renamed
    or copied files too), so an interrupted scan resumes where it stopped.

    \b
    Example:
        facesight scan /archive/2024 /archive/2025
    """
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with (
        _library(ctx) as library,
        Progress(*columns, console=_console(stderr=True), transient=True) as bar,
    ):
        view = _ScanProgress(bar)
        try:
            summary = library.scan(
                paths, stop_on_error=on_error == "stop", on_start=view.start, on_event=view.event
            )
        except FaceSightError as error:
            raise click.ClickException(f"scan stopped (--on-error stop): {error}") from error
    if as_json:
        click.echo(json.dumps(asdict(summary) | {"images_per_s": summary.images_per_s}, indent=2))
    else:
        _print_summary(summary, _threshold_note(ctx))


def _sighting_row(s: Sighting) -> dict[str, Any]:
    best = s.candidates[0] if s.candidates else None
    return {
        "person": best.person if s.match and best else None,
        "path": s.path,
        "frame": s.frame,
        "xyxy": [round(v, 1) for v in s.xyxy],
        "score": round(s.score, 4),
        "distance": round(best.distance, 4) if best else None,
        "match": bool(s.match),
        "nearest": best.person if best else None,
        "reference": best.reference_path if best else None,
        "captured_at": s.captured_at,
        "gps": list(s.gps) if s.gps else None,
        "crop": s.crop_path,
        "sha256": s.sha256,
        "image_size": [s.width_px, s.height_px],
        "kps5": [[round(x, 1), round(y, 1)] for x, y in s.kps5],
        "candidates": [
            {
                "person": c.person,
                "distance": round(c.distance, 4),
                "reference": c.reference_path,
                "match": c.is_match,
            }
            for c in s.candidates
        ],
        "detector": s.detector,
        "embedder": s.embedder,
    }


def _shorten_paths(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For tables: paths relative to the folder all of them share, named once on stderr."""
    paths = [r[k] for r in rows for k in ("path", "reference") if r.get(k)]
    if len(paths) < 2:
        return rows
    root = os.path.commonpath([os.path.dirname(p) for p in paths])
    if root in ("", os.sep):
        return rows
    _console(stderr=True).print(f"paths relative to {root}")
    return [
        r | {k: os.path.relpath(r[k], root) for k in ("path", "reference") if r.get(k)}
        for r in rows
    ]


_TABLE_COLUMNS = ("person", "path", "xyxy", "distance", "reference", "captured_at")


@cli.command()
@click.option("--person", help="Only this person's sightings.")
@click.option("--all", "include_all", is_flag=True, help="Every stored face, matched or not.")
@output_options
@click.pass_context
def sightings(
    ctx: click.Context, person: str | None, include_all: bool, as_json: bool, as_csv: bool
) -> None:
    """List where enrolled people were seen, with the evidence for each match.

    \b
    Example:
        facesight sightings --person "Barack Obama" --csv > obama.csv
    """
    with _library(ctx) as library:
        found = library.sightings(person, include_unmatched=include_all)
    rows = [_sighting_row(s) for s in found]
    if not (as_json or as_csv):
        rows = _shorten_paths([{k: r[k] for k in _TABLE_COLUMNS} for r in rows])
        rows = [r | {"xyxy": ",".join(f"{v:.0f}" for v in r["xyxy"])} for r in rows]
        _console(stderr=True).print(_threshold_note(ctx))
    _print_rows(rows, as_json, as_csv, f"Sightings{' of ' + person if person else ''}")


@cli.command()
@click.argument("image", type=click.Path(path_type=Path))
@click.option(
    "--top-k",
    type=click.IntRange(1, 50),
    default=3,
    show_default=True,
    help="Candidates listed per face.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
@click.pass_context
def identify(ctx: click.Context, image: Path, top_k: int, as_json: bool) -> None:
    """Every face in one image with its nearest enrolled people (nothing is stored)."""
    with _library(ctx) as library:
        faces = library.identify(image, top_k=top_k)
    if as_json:
        rows = [asdict(f) | {"match": f.match.person if f.match else None} for f in faces]
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    _console().print(f"{image}: {len(faces)} face(s); {_threshold_note(ctx)}")
    for face in faces:
        verdict = f"[bold]{face.match.person}[/bold]" if face.match else "no enrolled match"
        box = ", ".join(f"{v:.0f}" for v in face.xyxy)
        _console().print(f"face {face.index} at [{box}] (score {face.score:.2f}): {verdict}")
        for c in face.candidates:
            _console().print(
                f"    {c.person:<30} distance {c.distance:.3f}  via {c.reference_path}"
            )
        for warning in face.warnings:
            _console().print(f"    [yellow]warning[/yellow]: {warning}")


@cli.command()
@click.argument("first", type=click.Path(path_type=Path))
@click.argument("second", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def compare(ctx: click.Context, first: Path, second: Path, as_json: bool) -> None:
    """Compare the largest face of two images (1:1)."""
    with _library(ctx) as library:
        result = library.compare(first, second)
    if as_json:
        click.echo(json.dumps(asdict(result), indent=2))
        return
    verdict = "same person" if result.same_person else "different people"
    _console().print(
        f"distance {result.distance:.3f}: {verdict} ({result.strength} evidence; "
        f"{_threshold_note(ctx)})"
    )


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--output",
    "-o",
    type=click.Path(allow_dash=True, dir_okay=False, path_type=Path),
    default="-",
    show_default=True,
    help="JSON Lines file to write ('-' for stdout).",
)
@on_error_option
@click.pass_context
def embed(ctx: click.Context, paths: tuple[Path, ...], output: Path, on_error: str) -> None:
    """Export every face found under PATHS as JSON Lines, one object per face.

    Each line has path, sha256, frame (null for stills), xyxy, kps5, score
    and embedding (128 floats). Files without faces give no line but are
    counted on stderr.

    \b
    Example:
        facesight embed photos/ --output faces.jsonl
    """
    counts = {"files": 0, "faces": 0, "without_faces": 0, "failed": 0}
    with _library(ctx) as library, click.open_file(str(output), "w") as sink:
        for record in library.embed(paths):
            counts["files"] += 1
            if record.failure is not None:
                counts["failed"] += 1
                _report_failure(record.failure)
                if on_error == "stop":
                    raise click.ClickException(f"stopped at {record.path} (--on-error stop)")
                continue
            lines = embed_lines(record.path, record.sha256, record.faces)
            counts["faces"] += len(lines)
            if not lines:
                counts["without_faces"] += 1
                _console(stderr=True).print(f"no face: {record.path}")
            for line in lines:
                sink.write(line + "\n")
    _console(stderr=True).print(
        f"{counts['files']} file(s): {counts['faces']} face(s) written, "
        f"{counts['without_faces']} without faces, {counts['failed']} could not be used"
    )


@cli.command()
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def forget(ctx: click.Context, name: str, yes: bool) -> None:
    """Erase a person and everything derived from them (references, crops, matches)."""
    if not yes:
        click.confirm(f"Erase {name!r} and all their references and matches?", abort=True)
    with _library(ctx) as library:
        result = library.forget(name)
    _console().print(
        f"Erased {result.person}: {result.references_removed} reference(s), "
        f"{result.candidates_removed} match record(s), {result.files_removed} crop file(s)."
    )


@cli.command()
@output_options
@click.pass_context
def failures(ctx: click.Context, as_json: bool, as_csv: bool) -> None:
    """List files that scans could not use, with the problem for each."""
    with _library(ctx) as library:
        rows = [asdict(f) for f in library.failures()]
    _print_rows(rows, as_json, as_csv, "Files that could not be used")


def main() -> None:
    """Entry point of the ``facesight`` console script."""
    cli(prog_name="facesight")
