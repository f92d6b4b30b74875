"""``facesight`` commands: scanning media (scan, reindex, failures, embed; parse, call the
library, print).

Progress and per-file problems go to stderr so stdout stays clean for pipes.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from facesight.cli.common import (
    console,
    decision_note,
    failure_text,
    on_error_option,
    open_library,
    output_options,
    print_rows,
    report_failure,
    shown,
    walked_past_line,
)
from facesight.defaults import DEFAULT_RATE_FPS
from facesight.errors import MediaError, OutputError
from facesight.exports.embed_jsonl import embed_lines
from facesight.face_models import DLIB_MODEL
from facesight.files import STDOUT, atomic_file, check_output
from facesight.library.scanning import RayOptions
from facesight.records import ScanEvent, ScanStatus, ScanSummary
from facesight.timecode import format_timecode

__all__ = ["COMMANDS"]


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
        if event.status == ScanStatus.SEGMENT and event.part is not None:
            done, count = event.part
            name = shown(Path(event.path).name)
            self.progress.update(self.task, description=f"scanning ({name}: {done}/{count})")
            return
        self.progress.update(self.task, description="scanning")
        if event.failure is not None:
            failure = event.failure
            self.progress.console.print(f"[red]skipped[/red] {failure_text(failure)}")
        if event.status == ScanStatus.SCANNED:
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


workers_option = click.option(
    "--workers",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Analysing processes; 0 = one per core. Each uses one core and ~300 MB.",
)


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@on_error_option
@workers_option
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
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="local: processes on this machine. ray: actors on a Ray cluster (needs "
    "facesight[ray] and a PostgreSQL library; every node must see the media and the "
    "library folder at the same paths; run Ray on a private network only).",
)
@click.option(
    "--ray-address",
    default=None,
    metavar="auto|HOST:PORT",
    help="The Ray cluster: 'auto' (the one this machine joined with `ray start`) or its "
    "head's HOST:PORT. Default: a Ray of this machine alone.",
)
@click.option(
    "--ray-actors",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Scanning actors; 0 = one per CPU of the cluster.",
)
@click.option(
    "--ray-gpus",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    help="GPUs each actor reserves (e.g. 1, or 0.5 to share one between two).",
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
    executor: str,
    ray_address: str | None,
    ray_actors: int,
    ray_gpus: float,
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

    With --executor ray the files are split into chunks recorded in the
    library, and Ray actors (models loaded once each) analyse and store a
    chunk at a time; a chunk whose actor dies is taken again, and running the
    same scan again after any failure finishes it.

    \b
    Example:
        facesight scan /archive/2024 /archive/2025
        facesight scan /archive --executor ray --ray-address auto
    """
    ray = None
    if executor == "ray":
        ray = RayOptions(ray_address, ray_actors, gpus_per_actor=ray_gpus)
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
                ray=ray,
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


@click.command()
@click.option(
    "--model",
    help="Make this model the active one first (`facesight models`), so that everything "
    "is described again with it.",
)
@click.pass_context
def reindex(ctx: click.Context, model: str | None) -> None:
    """Describe references and media again after a model or descriptor upgrade.

    A library scanned by an older facesight, or with another model, keeps its faces,
    but they are left out of matching until they are described by the active model:
    references from their source images, media by scanning them again from their
    latest path (a file gone or changed is reported, and the rest goes on).

    
    Example:
        facesight reindex --model arcface
    """
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with (
        open_library(ctx) as library,
        Progress(*columns, console=console(stderr=True), transient=True) as bar,
    ):
        view = _ScanProgress(bar)
        result = library.reindex(model=model, on_start=view.start, on_event=view.event)
    for failure in result.failures:
        report_failure(failure)
    console().print(
        f"{result.references_updated} reference(s) described again, "
        f"{len(result.failures)} could not be; {result.media.media_scanned} media file(s) "
        f"scanned again, {len(result.media.failures)} could not be."
    )
    if result.failures or result.media.failures:
        sys.exit(1)


@click.command()
@output_options
@click.pass_context
def failures(ctx: click.Context, as_json: bool, as_csv: bool) -> None:
    """List files that scans could not use, with the problem for each."""
    with open_library(ctx) as library:
        rows = [asdict(f) for f in library.failures()]
    print_rows(rows, as_json, as_csv, "Files that could not be used")


@click.command()
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
@workers_option
@click.pass_context
def embed(
    ctx: click.Context, paths: tuple[Path, ...], output: Path, on_error: str, workers: int
) -> None:
    """Export every face found under PATHS as JSON Lines, one object per face.

    Each line has path, sha256, frame (null for stills), xyxy, kps5, score,
    embedding (length floats: 128 for dlib's model), model (the active model's
    name) and length. Files without faces give no line but are counted on stderr.
    Files are analysed as a scan analyses them (in worker processes, a few at a
    time) and written in the order found; nothing is stored in the library.

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
        model = library.model.name if library.model is not None else DLIB_MODEL
        for record in library.embed(paths, workers):
            counts["files"] += 1
            if record.failure is not None:
                counts["failed"] += 1
                report_failure(record.failure)
                if on_error == "stop":
                    raise click.ClickException(f"stopped at {record.path} (--on-error stop)")
                continue
            lines = embed_lines(record.path, record.sha256, record.faces, model=model)
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


COMMANDS: list[click.Command] = [scan, reindex, failures, embed]
