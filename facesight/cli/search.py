"""``facesight`` commands: finding people and faces (sightings, identify, search-face,
compare; parse, call the library, print).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from facesight.cli.common import (
    candidate_row,
    console,
    decision_note,
    failure_text,
    fmt_rate,
    limit,
    open_library,
    output_options,
    print_rows,
    rate,
    shorten_paths,
    shown,
    sighting_row,
    table_status,
    when,
)
from facesight.exports.frames import FrameWritten
from facesight.records import FaceHit

__all__ = ["COMMANDS"]


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


@click.command()
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


@click.command()
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
                f"{shown(c.reference_path)}" + ("  (uncalibrated)" if c.uncalibrated else "")
            )
        for reason in face.quality_reasons:
            console().print(f"    [yellow]quality[/yellow]: {reason}")


@click.command(name="search-face")
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
        "probe_max_distance": limit(hit.max_distance),
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


@click.command()
@click.argument("first", type=click.Path(path_type=Path))
@click.argument("second", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def compare(ctx: click.Context, first: Path, second: Path, as_json: bool) -> None:
    """Compare the largest face of two images (1:1), with the estimated false-match rate."""
    with open_library(ctx) as library:
        result = library.compare(first, second)
    if as_json:
        figures = {"fmr": rate(result.fmr), "max_distance": limit(result.max_distance)}
        click.echo(json.dumps(asdict(result) | figures, indent=2))
        return
    verdict = "same person" if result.same_person else "different people"
    if result.fmr != result.fmr:  # an uncalibrated model: no rate to state
        console().print(
            f"distance {result.distance:.3f}: the active model is uncalibrated, so it states no "
            "false-match rate"
            + (
                f"; {verdict} by --max-distance {result.max_distance:.3f}."
                if result.max_distance == result.max_distance
                else "; no decision without --max-distance."
            ),
            markup=False,
        )
        return
    console().print(
        f"distance {result.distance:.3f}: {verdict} ({result.strength} evidence). Strangers "
        f"come this close {fmt_rate(result.fmr)} of the time (est. FMR); the decision "
        f"threshold is {result.max_distance:.3f}."
    )


COMMANDS: list[click.Command] = [sightings, identify, search_face, compare]
