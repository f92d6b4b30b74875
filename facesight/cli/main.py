"""The ``facesight`` command line: parse -> call the library -> render.

No business logic lives here. Tables go to stdout for people, ``--json`` and
``--csv`` give the same rows for scripts; progress and per-file problems go
to stderr so stdout stays clean for pipes.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from facesight._version import __version__
from facesight.cli import conflicts as cli_conflicts
from facesight.cli import reports as cli_reports
from facesight.cli import review as cli_review
from facesight.cli import unknowns as cli_unknowns
from facesight.cli.common import (
    F,
    TextSafeGroup,
    candidate_row,
    console,
    decision_note,
    escape_log_records,
    failure_text,
    fmt_rate,
    on_error_option,
    open_library,
    output_options,
    print_rows,
    rate,
    report_failure,
    shorten_paths,
    shown,
    sighting_row,
    table_status,
    walked_past_line,
    when,
)
from facesight.config import ENV_LIBRARY, resolve_library_dir
from facesight.defaults import DEFAULT_MAX_PIXELS, DEFAULT_RATE_FPS, DEFAULT_TARGET_FPIR
from facesight.errors import MediaError, OutputError
from facesight.eval.described import DescriptorCache
from facesight.exports.embed_jsonl import embed_lines
from facesight.exports.frames import FrameWritten
from facesight.files import STDOUT, atomic_file, check_output
from facesight.library.directory import is_library
from facesight.library.facade import Library
from facesight.records import FaceHit, ScanEvent, ScanSummary
from facesight.timecode import format_timecode

__all__ = ["cli", "main"]


@click.group(cls=TextSafeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="facesight")
@click.option(
    "--library",
    type=click.Path(file_okay=False, path_type=Path),
    help=f"Library directory (database, crops, models). Default: ${ENV_LIBRARY}, "
    "else the per-user data directory.",
)
@click.option(
    "--target-fpir",
    type=click.FloatRange(1e-7, 0.5),
    default=DEFAULT_TARGET_FPIR,
    show_default=True,
    help="Decide matches so that at most this fraction of strangers is named as someone "
    "(false-positive identification rate), whatever the number of people enrolled.",
)
@click.option(
    "--max-distance",
    type=click.FloatRange(0.0, 2.0, min_open=True, max_open=True),
    help="Decide by a fixed descriptor distance instead of --target-fpir (lower: fewer "
    "false matches, more misses). Estimated rates are still shown.",
)
@click.option(
    "--max-pixels",
    type=click.IntRange(1),
    default=DEFAULT_MAX_PIXELS,
    show_default=True,
    help="Refuse images with more pixels than this (decompression-bomb guard).",
)
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="Where the networks run: auto = a GPU when one works, else the CPU; cuda = a GPU "
    "or an error, never a silent CPU fallback.",
)
@click.option(
    "--user",
    envvar="FACESIGHT_USER",
    help="The name you act under, for review decisions and the audit log, recorded as a "
    "claimed name beside the operating-system account (not checked). Default: "
    "$FACESIGHT_USER, else none: the account's name is used.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log model loading and providers.")
@click.pass_context
def cli(
    ctx: click.Context,
    library: Path | None,
    target_fpir: float,
    max_distance: float | None,
    max_pixels: int,
    device: str,
    user: str | None,
    verbose: bool,
) -> None:
    """Find known people in photo and video collections, with the evidence for every match.

    \b
    Example:
        facesight enroll "Barack Obama" obama1.jpg obama2.jpg
        facesight scan /archive
        facesight sightings --person "Barack Obama"
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr)
    escape_log_records()
    signal.signal(signal.SIGTERM, _terminated)
    ctx.obj = {
        "user": user,
        "library": library,
        "max_distance": max_distance,
        "target_fpir": target_fpir,
        "max_pixels": max_pixels,
        "device": device,
    }


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


def _terminated(signum: int, frame: object) -> None:
    """SIGTERM ends a command as Ctrl-C does: transactions roll back, the scan's worker
    pool shuts down (no "leaked semaphore" warning), the library closes; status 143."""
    raise SystemExit(128 + signum)


@cli.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create an empty library (private to you: folders 0700, files 0600).

    Only init, enroll and scan create a library; every other command on a
    missing one says so, so a mistyped --library never makes an empty one.

    \b
    Example:
        facesight --library ~/cases/2025 init
    """
    directory = resolve_library_dir(ctx.obj["library"])
    existed = is_library(directory, Library.DB_NAME)
    with open_library(ctx, create=True) as library:
        where = library.path
    console().print(f"{'the library already exists at' if existed else 'created'} {where}")


@cli.command()
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


class _ScanProgress:
    """Renders scan events: a progress bar with rates, and one stderr line per bad file."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("scanning", total=None, rates="")
        self.counting = False  # problems met while listing folders are not in the total
        self.started = time.perf_counter()
        self.images = 0
        self.faces = 0

    def start(self, total: int) -> None:
        self.progress.update(self.task, total=total)
        self.counting = True
        self.started = time.perf_counter()

    def event(self, event: ScanEvent) -> None:
        if event.status == "segment" and event.part is not None:
            done, count = event.part
            name = shown(Path(event.path).name)
            self.progress.update(self.task, description=f"scanning ({name}: {done}/{count})")
            return
        self.progress.update(self.task, description="scanning")
        if event.failure is not None:
            failure = event.failure
            self.progress.console.print(f"[red]skipped[/red] {failure_text(failure)}")
        if event.status == "scanned":
            self.images += 1
            self.faces += event.faces
        if self.counting:
            seconds = max(time.perf_counter() - self.started, 1e-9)
            rates = f"{self.images / seconds:.1f} images/s, {self.faces / seconds:.1f} faces/s"
            self.progress.update(self.task, advance=1, rates=rates)


def _print_summary(summary: ScanSummary, note: str) -> None:
    images = summary.media_scanned - summary.videos_scanned
    videos = (
        f" and {summary.videos_scanned} video(s) ({format_timecode(summary.footage_s)} of footage)"
        if summary.videos_scanned
        else ""
    )
    speed = f", {summary.realtime_factor:.1f}x real time" if summary.videos_scanned else ""
    console().print(
        f"Scanned {images} image(s){videos}, skipped {summary.media_skipped} already "
        f"in the library, {len(summary.failures)} could not be used.\n"
        f"Found {summary.faces_found} face(s) ({summary.media_without_faces} file(s) without "
        f"faces; a video's faces are its face tracks); {summary.faces_matched} matched an"
        f" enrolled person.\n"
        f"{summary.seconds:.1f} s: {summary.images_per_s:.1f} files/s, "
        f"{summary.faces_per_s:.1f} faces/s{speed}.\n{note}"
    )
    if summary.walked_past:
        console().print(walked_past_line(summary.walked_past))
    if summary.library_skipped:
        console().print("Left out the library's own folder (its crops are not media).")
    if summary.failures:
        console().print("Files that could not be used:")
        for failure in summary.failures:
            console().print(f"  {failure_text(failure)}")


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@on_error_option
@click.option(
    "--workers",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Analysing processes; 0 = one per core. Each uses one core and ~300 MB.",
)
@click.option(
    "--video-fps",
    type=click.FloatRange(min=0.1),
    default=DEFAULT_RATE_FPS,
    show_default=True,
    help="Video frames analysed per second of footage, plus one after each scene cut.",
)
@click.option(
    "--no-follow-links",
    "no_follow_links",
    is_flag=True,
    help="Leave out symlinked files and folders met inside PATHS (PATHS themselves are "
    "followed). By default links are followed, each real folder once, never into the library.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def scan(
    ctx: click.Context,
    paths: tuple[Path, ...],
    on_error: str,
    workers: int,
    video_fps: float,
    no_follow_links: bool,
    as_json: bool,
) -> None:
    """Scan photos and videos (files or folders, recursively) for faces and match them.

    Content already scanned is recognised by its sha256 and skipped (renamed
    or copied files too), so an interrupted scan resumes where it stopped (a
    video interrupted part-way is analysed again from its start).

    In a video, each face is followed through the shot and stored once per
    track, with its time range, identified from its best frames. Videos are
    mp4, mov, m4v, mkv, webm, avi, mpg (whatever FFmpeg decodes).

    Stills are JPEG, PNG, WebP, BMP, TIFF (16-bit and float scaled to 8 bits),
    GIF (first frame) and HEIC/HEIF; camera RAW (.cr2 .nef .arw .dng ...) with
    `pip install 'facesight[raw]'`. Files in the folders that are not read are
    counted by kind in the summary.

    The library's own folder is never scanned, even when it lies inside PATHS
    or a link leads to it (the summary counts it); a PATH inside the library,
    or one that does not exist, is an error and nothing is scanned.

    \b
    Example:
        facesight scan /archive/2024 /archive/2025
    """
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rates]}"),
        TimeRemainingColumn(),
    )
    with (
        open_library(ctx, create=True) as library,
        Progress(*columns, console=console(stderr=True), transient=True) as bar,
    ):
        view = _ScanProgress(bar)
        try:
            summary = library.scan(
                paths,
                stop_on_error=on_error == "stop",
                workers=workers,
                video_fps=video_fps,
                follow_links=not no_follow_links,
                on_start=view.start,
                on_event=view.event,
            )
        except MediaError as error:
            raise click.ClickException(f"scan stopped (--on-error stop): {error}") from error
        note = decision_note(library)
    if as_json:
        rates = {
            "images_per_s": summary.images_per_s,
            "faces_per_s": summary.faces_per_s,
            "realtime_factor": summary.realtime_factor,
        }
        click.echo(json.dumps(asdict(summary) | rates, indent=2))
    else:
        _print_summary(summary, note)


_TABLE_COLUMNS = (
    "face_id",
    "person",
    "status",
    "path",
    "when",
    "xyxy",
    "distance",
    "fmr",
    "quality",
    "reference",
    "captured_at",
)


@cli.command()
@click.option("--person", help="Only this person's sightings.")
@click.option("--all", "include_all", is_flag=True, help="Every stored face, matched or not.")
@click.option(
    "--frames",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write each sighting's best frame, with its box drawn, into this folder.",
)
@output_options
@click.pass_context
def sightings(
    ctx: click.Context,
    person: str | None,
    include_all: bool,
    frames: Path | None,
    as_json: bool,
    as_csv: bool,
) -> None:
    """List where enrolled people were seen, with the evidence for each match.

    A sighting in a video is a face track: its time range (HH:MM:SS.mmm from
    the start), its best frame's timecode and how many sampled frames it was
    seen in. Each row's category says how the face was named: machine match
    (not yet reviewed), confirmed, or manual identification (a reviewer named
    someone the rule did not propose). A person's own reference photos are
    not sightings (--all lists them with status "reference"). --frames also
    writes a manifest.json with the sha256 of each frame.

    \b
    Example:
        facesight sightings --person "Barack Obama" --csv > obama.csv
        facesight sightings --person "Barack Obama" --frames evidence/
    """
    with open_library(ctx) as library:
        found = library.sightings(person, include_unmatched=include_all)
        note = decision_note(library)
    if frames is not None:
        with open_library(ctx) as library:
            _report_frames(library.write_frames(found, frames), frames)
    rows = [sighting_row(s) for s in found]
    if not (as_json or as_csv):
        rows = [r | {"when": when(r), "status": table_status(r)} for r in rows]
        rows = shorten_paths([{k: r[k] for k in _TABLE_COLUMNS} for r in rows])
        rows = [
            r | {"xyxy": ",".join(f"{v:.0f}" for v in r["xyxy"]), "fmr": fmt_rate(r["fmr"])}
            for r in rows
        ]
        console(stderr=True).print(note)
    print_rows(rows, as_json, as_csv, f"Sightings{' of ' + person if person else ''}")


def _report_frames(results: list[FrameWritten], directory: Path) -> None:
    written = 0
    for result in results:
        if result.failure is not None:
            failure = result.failure
            console(stderr=True).print(
                f"no frame for face {result.face_id}: {failure_text(failure)}"
            )
        else:
            written += 1
    console(stderr=True).print(f"wrote {written} frame(s) with boxes to {shown(directory)}")


@cli.command()
@click.argument("image", type=click.Path(path_type=Path))
@click.option(
    "--top-k",
    type=click.IntRange(1, 50),
    default=3,
    show_default=True,
    help="Candidates listed per face.",
)
@click.option(
    "--investigate",
    is_flag=True,
    help="List the top-K candidates for a person to judge, with no match decision.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
@click.pass_context
def identify(ctx: click.Context, image: Path, top_k: int, investigate: bool, as_json: bool) -> None:
    """Every face in one image with its most likely enrolled people (nothing is stored).

    Each candidate shows its distance, the estimated false-match rate (how
    often a stranger comes this close) and the reference that matched.
    """
    with open_library(ctx) as library:
        faces = library.identify(image, top_k=top_k)
        note = decision_note(library)
    if as_json:
        rows = [
            {
                "index": f.index,
                "xyxy": [round(v, 1) for v in f.xyxy],
                "score": round(f.score, 4),
                "quality": round(f.quality, 3),
                "quality_reasons": f.quality_reasons,
                "warnings": f.warnings,
                "mode": "investigate" if investigate else "identify",
                "match": None if investigate else (f.match.person if f.match else None),
                "candidates": [candidate_row(c, not investigate) for c in f.candidates],
            }
            for f in faces
        ]
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    mode = "investigate: candidates only, no decision" if investigate else note
    console().print(f"{shown(image)}: {len(faces)} face(s); {mode}")
    for face in faces:
        box = ", ".join(f"{v:.0f}" for v in face.xyxy)
        if investigate:
            verdict = ""
        elif face.match:
            verdict = f": [bold]{face.match.person}[/bold]"
        else:
            verdict = ": no enrolled match"
        console().print(
            f"face {face.index} at [{box}] (quality {face.quality:.2f}, "
            f"detector {face.score:.2f}){verdict}"
        )
        for c in face.candidates:
            console().print(
                f"    {shown(c.person):<28} distance {c.distance:.3f}  est. FMR "
                f"{fmt_rate(c.fmr):>7}  nearest reference {c.reference_distance:.3f}: "
                f"{shown(c.reference_path)}"
            )
        for reason in face.quality_reasons:
            console().print(f"    [yellow]quality[/yellow]: {reason}")


@cli.command(name="search-face")
@click.argument("image", type=click.Path(path_type=Path))
@click.option("--face", type=click.IntRange(1), help="Face N of the image (1 = leftmost).")
@click.option(
    "--top-k",
    type=click.IntRange(1, 10_000),
    default=20,
    show_default=True,
    help="Stored faces to list, nearest first.",
)
@output_options
@click.pass_context
def search_face(
    ctx: click.Context, image: Path, face: int | None, top_k: int, as_json: bool, as_csv: bool
) -> None:
    """Where else does this face appear? Stored faces nearest to a face in IMAGE.

    Searches every scanned face, enrolled or not, nearest first. Each row
    answers two different questions, labelled apart:

    \b
    probe_*     the face in IMAGE against this one stored face: distance,
                est. FMR, and probe_same_person, under the threshold that
                keeps the whole search's false-positive rate at
                --target-fpir for this many stored faces;
    sighting_*  the stored face's own decision, exactly as `sightings`
                shows it: who it is named as (against the enrolled
                people's templates), its est. FMR, status and category.

    Faces in videos carry their timecode and track span. The largest face of
    IMAGE is used unless --face says otherwise.

    \b
    Example:
        facesight search-face suspect.jpg --top-k 50 --csv > where.csv
    """
    with open_library(ctx) as library:
        hits = library.search_face(image, face=face, top_k=top_k)
    rows: list[dict[str, Any]] = [_search_row(h) for h in hits]
    if not (as_json or as_csv):
        if hits:
            console(stderr=True).print(
                f"probe: the face in {image.name} against each stored face; same = distance "
                f"<= {hits[0].max_distance:.3f} (est. FPIR <= {ctx.obj['target_fpir']:g} over "
                "the stored faces). own: the stored face's own sighting decision, as "
                "`sightings` shows it (against the enrolled people).",
                markup=False,
            )
        rows = shorten_paths(
            [
                {
                    "probe: same": r["probe_same_person"],
                    "probe: dist.": r["probe_distance"],
                    "probe: FMR": fmt_rate(r["probe_fmr"]),
                    "own: person": r["sighting_person"],
                    "own: FMR": fmt_rate(r["sighting_fmr"]),
                    "own: status": r["sighting_status"],
                    "path": r["path"],
                    "when": r["timecode"] or "",
                    "xyxy": ",".join(f"{v:.0f}" for v in r["xyxy"]),
                    "quality": r["quality"],
                }
                for r in rows
            ]
        )
    print_rows(rows, as_json, as_csv, f"Stored faces like the one in {image.name}")


def _search_row(hit: FaceHit) -> dict[str, Any]:
    """One search-face row: the probe's figures, then the stored face's own decision."""
    own = sighting_row(hit.sighting)
    return {
        "face_id": own["face_id"],
        "probe_distance": round(hit.distance, 4),
        "probe_fmr": rate(hit.fmr),
        "probe_same_person": hit.same_person,
        "probe_max_distance": round(hit.max_distance, 4),
        "sighting_person": own["person"],
        "sighting_fmr": own["fmr"],
        "sighting_status": own["status"],
        "sighting_category": own["category"],
        "path": own["path"],
        "kind": own["kind"],
        "frame": own["frame"],
        "time_s": own["time_s"],
        "timecode": own["timecode"],
        "start_s": own["start_s"],
        "end_s": own["end_s"],
        "start": own["start"],
        "end": own["end"],
        "xyxy": own["xyxy"],
        "quality": own["quality"],
        "crop": own["crop"],
        "sha256": own["sha256"],
    }


@cli.command()
@click.argument("first", type=click.Path(path_type=Path))
@click.argument("second", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def compare(ctx: click.Context, first: Path, second: Path, as_json: bool) -> None:
    """Compare the largest face of two images (1:1), with the estimated false-match rate."""
    with open_library(ctx) as library:
        result = library.compare(first, second)
    if as_json:
        click.echo(json.dumps(asdict(result) | {"fmr": rate(result.fmr)}, indent=2))
        return
    verdict = "same person" if result.same_person else "different people"
    console().print(
        f"distance {result.distance:.3f}: {verdict} ({result.strength} evidence). Strangers "
        f"come this close {fmt_rate(result.fmr)} of the time (est. FMR); the decision "
        f"threshold is {result.max_distance:.3f}."
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
    try:
        if str(output) != STDOUT:
            check_output(output, make_parents=False)  # before any work
    except OutputError as error:
        raise click.ClickException(str(error)) from error
    with (
        open_library(ctx) as library,
        atomic_file(output, "w", make_parents=False, encoding="utf-8") as sink,
    ):
        for record in library.embed(paths):
            counts["files"] += 1
            if record.failure is not None:
                counts["failed"] += 1
                report_failure(record.failure)
                if on_error == "stop":
                    raise click.ClickException(f"stopped at {record.path} (--on-error stop)")
                continue
            lines = embed_lines(record.path, record.sha256, record.faces)
            counts["faces"] += len(lines)
            if not lines:
                counts["without_faces"] += 1
                console(stderr=True).print(f"no face: {shown(record.path)}")
            for line in lines:
                sink.write(line + "\n")
    console(stderr=True).print(
        f"{counts['files']} file(s): {counts['faces']} face(s) written, "
        f"{counts['without_faces']} without faces, {counts['failed']} could not be used"
    )


@cli.command()
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
    may hold the name are blanked (the hash chain still verifies). Faces of
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


@cli.command()
@click.pass_context
def reindex(ctx: click.Context) -> None:
    """Describe references and media again after a model or descriptor upgrade.

    A library scanned by an older facesight keeps its faces, but they are
    left out of matching until they are described by the current models:
    references from their source images, media by scanning them again.
    """
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with (
        open_library(ctx) as library,
        Progress(*columns, console=console(stderr=True), transient=True) as bar,
    ):
        view = _ScanProgress(bar)
        result = library.reindex(on_start=view.start, on_event=view.event)
    for failure in result.failures:
        report_failure(failure)
    console().print(
        f"{result.references_updated} reference(s) described again, "
        f"{len(result.failures)} could not be; {result.media.media_scanned} media file(s) "
        f"scanned again, {len(result.media.failures)} could not be."
    )
    if result.failures or result.media.failures:
        sys.exit(1)


@cli.command()
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


@cli.command()
@output_options
@click.pass_context
def failures(ctx: click.Context, as_json: bool, as_csv: bool) -> None:
    """List files that scans could not use, with the problem for each."""
    with open_library(ctx) as library:
        rows = [asdict(f) for f in library.failures()]
    print_rows(rows, as_json, as_csv, "Files that could not be used")


@cli.group(name="eval")
def eval_group() -> None:
    """Measure accuracy on labelled data you have (LFW-style pairs, a folder per person).

    Descriptors are cached in the library's cache/ folder, so a second run of
    the same data takes seconds.
    """


def _eval_progress() -> Progress:
    columns = (
        TextColumn("describing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    return Progress(*columns, console=console(stderr=True), transient=True)


EvalRun = Callable[[Library, DescriptorCache, Callable[[int, int], None]], dict[str, Any]]


def _run_evaluation(ctx: click.Context, run: EvalRun, as_json: bool) -> dict[str, Any] | None:
    """Run an evaluation with the library's descriptor cache and a progress bar.

    Prints the figures as JSON and returns None when ``as_json``; else returns them.
    """
    with open_library(ctx) as library, _eval_progress() as bar:
        cache = DescriptorCache(library.path / "cache" / "eval-descriptors.db")
        task = bar.add_task("describing", total=None)
        try:
            result = run(
                library, cache, lambda done, total: bar.update(task, completed=done, total=total)
            )
        finally:
            cache.close()
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return None
    return result


def det_option(default: str) -> Callable[[F], F]:
    """``--det FILE``: where an evaluation writes its DET curve."""
    return click.option(
        "--det",
        "det_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=default,
        show_default=True,
        help="Where to write the DET curve (PNG).",
    )


json_figures_option = click.option(
    "--json", "as_json", is_flag=True, help="Print every figure as one JSON object."
)


@eval_group.command(name="pairs")
@click.argument("pairs_file", metavar="PAIRS", type=click.Path(exists=True, path_type=Path))
@click.argument("images", type=click.Path(exists=True, file_okay=False, path_type=Path))
@det_option("facesight-det-pairs.png")
@json_figures_option
@click.pass_context
def eval_pairs(
    ctx: click.Context, pairs_file: Path, images: Path, det_path: Path, as_json: bool
) -> None:
    """1:1 verification on an LFW-style pair list (IMAGES/Name/Name_0001.jpg).

    Reports k-fold cross-validated accuracy (k = the folds of the file), TAR
    at FAR 1e-2 and 1e-3, faces not found, accuracy by quality band, and how
    the estimated false-match rate compares with the observed one.

    \b
    Example:
        facesight eval pairs lfw/pairs.txt lfw/people --json
    """
    from facesight.eval.runs import run_pairs  # evaluation code: only when evaluating

    result = _run_evaluation(
        ctx,
        lambda library, cache, progress: run_pairs(
            pairs_file,
            images,
            pipeline=library.pipeline,
            reference=library.reference_calibration,
            cache=cache,
            det_path=det_path,
            progress=progress,
        ),
        as_json,
    )
    if result is None:
        return
    out = console()
    out.print(
        f"{result['pairs']} pairs ({result['same_pairs']} same), {result['images']} images, "
        f"{result['faces_not_found']} without a face found"
    )
    out.print(
        f"accuracy {100 * result['mean_accuracy']:.2f} % +- {100 * result['std_accuracy']:.2f} "
        f"({result['folds']}-fold cross-validated)"
    )
    for far, tar in result["tar_at_far"].items():
        out.print(
            f"TAR at FAR {far}: {100 * tar:.2f} % "
            f"(over {result['impostor_comparisons']} impostor comparisons)"
        )
    honesty = result["estimated_vs_observed_fmr"]
    for level in ("0.01", "0.001"):
        out.print(
            f"est. FMR {level} (distance {honesty['distance_at_' + level]:.3f}): "
            f"observed {honesty['observed_at_' + level]:.2e}"
        )
    for band, figures in result["accuracy_by_quality"].items():
        out.print(
            f"quality {band}: accuracy {100 * figures['accuracy']:.2f} % over "
            f"{int(figures['pairs'])} pairs"
        )
    out.print(f"DET curve: {shown(result['det_curve'])}; {result['seconds']:.0f} s")


@eval_group.command(name="identify")
@click.argument(
    "root", metavar="DIR", type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option(
    "--references",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Reference images per enrolled person (the first K, by name).",
)
@click.option(
    "--probes-from",
    type=click.IntRange(1),
    help="Probe with images from the (M+1)-th on and enroll people with more than M "
    "images (default: K), to compare different --references on the same probes.",
)
@det_option("facesight-det-identify.png")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default="facesight-identify.html",
    show_default=True,
    help="Where to write the one-page HTML report.",
)
@json_figures_option
@click.pass_context
def eval_identify(
    ctx: click.Context,
    root: Path,
    references: int,
    probes_from: int | None,
    det_path: Path,
    html_path: Path,
    as_json: bool,
) -> None:
    """1:N identification on a folder per person.

    Enrolled: people with at least 2 images (K+1 with --references K); their
    first K images are references. Mated probes: their other images.
    Non-mated probes: people with a single image. Reports closed-set rank-1,
    FNIR at FPIR 1e-2 and 1e-3, failure to detect, and the FPIR observed at
    the library's default decision (--target-fpir).

    \b
    Example:
        facesight eval identify lfw/people --references 3 --json
    """
    from facesight.eval.runs import run_identification  # only when evaluating

    result = _run_evaluation(
        ctx,
        lambda library, cache, progress: run_identification(
            root,
            pipeline=library.pipeline,
            reference=library.reference_calibration,
            references=references,
            probes_from=probes_from,
            target_fpir=library.target_fpir,
            cache=cache,
            det_path=det_path,
            html_path=html_path,
            progress=progress,
        ),
        as_json,
    )
    if result is None:
        return
    out = console()
    out.print(
        f"{result['enrolled']} enrolled ({result['references_per_person']} reference(s) each, "
        f"centroid template), {result['mated_probes']} mated and "
        f"{result['nonmated_probes']} non-mated probes; failure to detect "
        f"{100 * result['failure_to_detect_rate']:.2f} %"
    )
    out.print(f"rank-1 accuracy {100 * result['rank1_accuracy']:.2f} %")
    for level, fnir in result["fnir_at_fpir"].items():
        out.print(f"FNIR at FPIR {level}: {100 * fnir:.2f} %")
    out.print(
        f"default decision (target FPIR {result['default_target_fpir']:g}): observed FPIR "
        f"{result['default_observed_fpir']:.4f} ({result['default_false_positives']} of "
        f"{result['nonmated_probes']}), FNIR {100 * result['default_fnir']:.2f} %"
    )
    for band, figures in result["fnir_by_quality"].items():
        out.print(
            f"quality {band}: FNIR {100 * figures['fnir']:.2f} % over {int(figures['probes'])}"
        )
    out.print(f"DET curve: {shown(result['det_curve'])}; report: {shown(result['html_report'])}")


for _command in (
    *cli_review.COMMANDS,
    *cli_unknowns.COMMANDS,
    *cli_conflicts.COMMANDS,
    *cli_reports.COMMANDS,
):
    cli.add_command(_command)


def main() -> None:
    """Entry point of the ``facesight`` console script."""
    cli(prog_name="facesight")
