"""``facesight import-tags``: bring in the face tags other tools wrote (parse, import, print)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from facesight.cli.common import console, open_library, print_rows
from facesight.cli.evaluate import eval_group
from facesight.eval.tags import TagAgreement, TagPair, tag_agreement
from facesight.library.tag_import import TagConflict, TaggedFace, TagImport
from facesight.text import printable

__all__ = ["COMMANDS", "sidecars_option", "tag_problems"]

sidecars_option = click.option(
    "--sidecars",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A folder of XMP sidecars (searched recursively), paired with the images by the "
    "media sha256 export-xmp writes, else by file name (photo.jpg.xmp, photo.xmp). "
    "Sidecars beside the images are always read.",
)


@click.command(name="import-tags")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@sidecars_option
@click.option(
    "--as-references",
    is_flag=True,
    help="Make each tagged face one of its person's references (confirmed as them, as a "
    "manual identification). Default: an 'imported (unverified)' sighting to review.",
)
@click.option(
    "--force-region",
    is_flag=True,
    help="Enroll a tagged region with no detected face under it as a reference anyway, "
    "described from the region itself (landmarks placed by the mean face layout).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the whole result as JSON.")
@click.pass_context
def import_tags(
    ctx: click.Context,
    paths: tuple[Path, ...],
    sidecars: Path | None,
    as_references: bool,
    force_region: bool,
    as_json: bool,
) -> None:
    """Import face tags from digiKam, Lightroom, darktable, Windows and Picasa.

    Reads, for each image under PATHS: its XMP sidecar (photo.jpg.xmp or
    photo.xmp, beside it or under --sidecars), its embedded XMP, and its
    folder's .picasa.ini. Face regions in the MWG format (mwg-rs:Regions),
    Microsoft Photo regions (MP:RegionInfo) and Picasa's faces= rectangles
    are matched to the faces facesight detected (overlap IoU >= 0.5, EXIF
    orientation applied); images not scanned yet are scanned first.

    A tagged face becomes an 'imported (unverified)' sighting naming the tool
    and file it came from (confirm it with `facesight review`), or with
    --as-references a reference of that person. Faces already decided
    otherwise are listed as conflicts and left as they are; regions with no
    face under them are listed; unreadable or malformed tag files are listed
    one line each (exit status 1) and never stop the rest. The import is
    recorded in the audit log.

    \b
    Example:
        facesight import-tags ~/Pictures/2019
        facesight import-tags photos/ --sidecars exported-sidecars/ --json
    """
    with open_library(ctx, create=True) as library:
        result = library.import_tags(
            paths, sidecars=sidecars, as_references=as_references, force_region=force_region
        )
    if as_json:
        click.echo(json.dumps(_as_dict(result), indent=2, ensure_ascii=False))
    else:
        _print(result, as_references)
    tag_problems(result)
    if result.problems:
        sys.exit(1)


def _as_dict(result: TagImport) -> dict[str, Any]:
    found = asdict(result)
    found["scan"] = None if result.scan is None else {"media_scanned": result.scan.media_scanned}
    return found


def _face_row(tag: TaggedFace, why: str = "") -> dict[str, Any]:
    row: dict[str, Any] = {"face_id": tag.face_id, "person": tag.person, "path": tag.path}
    if why:
        row["stands as"] = why
    row["from"] = f"{tag.tool} {tag.source}"
    return row


def _print(result: TagImport, as_references: bool) -> None:
    if result.imported:
        what = "as references" if as_references else "imported (unverified)"
        print_rows([_face_row(t) for t in result.imported], False, False, f"Tagged faces {what}")
    if result.conflicts:
        rows = [_conflict_row(c) for c in result.conflicts]
        print_rows(rows, False, False, "Conflicts: left as they are")
    if result.unmatched:
        rows = [
            _face_row(t) | {"region_px": [round(v) for v in t.box_px]} for t in result.unmatched
        ]
        print_rows(rows, False, False, "Tagged regions with no detected face")


def _conflict_row(conflict: TagConflict) -> dict[str, Any]:
    return _face_row(conflict.tag, conflict.standing)


def tag_problems(result: TagImport) -> None:
    """The per-file problems and the counts, on stderr."""
    err = console(stderr=True)
    for problem in result.problems:
        err.print(f"problem: {printable(problem)}", markup=False)
    forced = f", {len(result.forced)} enrolled from the region" if result.forced else ""
    if result.unpaired:
        err.print(
            f"{len(result.unpaired)} sidecar(s) of --sidecars paired with no image under the "
            "paths given (see --json for the list)",
            markup=False,
        )
    err.print(
        f"{result.images} image(s), {result.tag_files} tag file(s), {result.regions} named "
        f"region(s): {len(result.imported)} imported, {len(result.agreed)} already so, "
        f"{len(result.conflicts)} conflict(s), {len(result.unmatched)} with no face"
        f"{forced}; {result.unnamed} unnamed region(s); {len(result.problems)} problem(s)",
        markup=False,
    )


@eval_group.command(name="tags")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@sidecars_option
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.pass_context
def eval_tags(
    ctx: click.Context, paths: tuple[Path, ...], sidecars: Path | None, as_json: bool
) -> None:
    """How well facesight's proposals agree with your own face tags.

    Your tags (read as import-tags reads them: MWG and Microsoft Photo XMP
    regions, Picasa) are the ground truth for the faces they name; the
    library's decision rule proposes a person for each of those faces
    (reviews and imported tags aside). Per person: precision (of the faces
    the rule names as them, the share tagged as them) and recall (of the faces
    tagged as them, the share the rule names), and the list of false matches
    (a tagged face the rule names as someone else). Untagged faces are not
    counted; reference photos are left out. Images not scanned yet are
    scanned; nothing else is written.

    \b
    Example:
        facesight eval tags ~/Pictures/2019 --sidecars digikam-sidecars/
    """
    with open_library(ctx) as library:
        truths, read = library.tag_ground_truth(paths, sidecars=sidecars)
        enrolled = [name for _, name in library.store.people_names()]
    pairs = [
        TagPair(t.face_id, t.path, t.tagged, t.proposed, t.fmr) for t in truths if not t.reference
    ]
    agreement = tag_agreement(pairs, enrolled)
    if as_json:
        click.echo(json.dumps(_agreement_dict(agreement, read), indent=2, ensure_ascii=False))
    else:
        _print_agreement(agreement)
    for problem in read.problems:
        console(stderr=True).print(f"problem: {printable(problem)}", markup=False)
    if read.unmatched:
        console(stderr=True).print(
            f"{len(read.unmatched)} tagged region(s) with no detected face: not counted",
            markup=False,
        )


def _agreement_dict(agreement: TagAgreement, read: TagImport) -> dict[str, Any]:
    return {
        "faces": agreement.faces,
        "named_by_nobody": agreement.unnamed,
        "people": [
            asdict(p) | {"precision": p.precision, "recall": p.recall} for p in agreement.people
        ],
        "false_matches": [asdict(p) for p in agreement.false_matches],
        "regions_without_face": len(read.unmatched),
        "problems": read.problems,
    }


def _print_agreement(agreement: TagAgreement) -> None:
    def share(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.1f} %"

    rows = [
        {
            "person": p.person,
            "tagged": p.tagged,
            "proposed": p.proposed,
            "agreed": p.agreed,
            "precision": share(p.precision),
            "recall": share(p.recall),
            "enrolled": "yes" if p.enrolled else "no",
        }
        for p in agreement.people
    ]
    print_rows(rows, False, False, f"Agreement with your tags ({agreement.faces} tagged faces)")
    if agreement.false_matches:
        false = [
            {
                "face_id": p.face_id,
                "tagged": p.tagged,
                "proposed": p.proposed,
                "fmr": p.fmr,
                "path": p.path,
            }
            for p in agreement.false_matches
        ]
        print_rows(false, False, False, "False matches (the rule names someone else)")
    console().print(f"{agreement.unnamed} tagged face(s) the rule names nobody", markup=False)


COMMANDS: list[click.Command] = [import_tags]
